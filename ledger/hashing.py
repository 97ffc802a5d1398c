"""A block's leaf hashes and Merkle root in one call, compiled where the machine allows.

Writing a block hashes every record (``SHA-256(0x00 || record)``) and every interior node of the
RFC 9162 tree over them (``SHA-256(0x01 || left || right)``): about two hashes a record. From
Python each is a ``hashlib`` call of about 0.4 us, most of it the call, not the hashing (SHA-256
itself runs at about 1.8 GB/s here). The functions here do a whole block in one compiled loop
instead: numba kernels (:mod:`ledger._sha_kernel`) that call OpenSSL's
``SHA256_Init/Update/Final`` (the library CPython's ``hashlib`` uses) directly, with no Python
object per hash:

* :func:`leaves_and_root`: the leaf hashes and root of records (verification, ``append_block``);
* :func:`encode_block`: a block's records from their bodies (envelope + body, written into one
  :class:`~ledger.store.RecordBlob`) with their hashes and root (``Ledger.append_encoded``).

The compiled path is used when numba imports and the process can load ``libcrypto`` with those
symbols; otherwise the functions fall back to ``hashlib``, the references they are tested against
(:func:`python_leaves_and_root`, :func:`python_encode_block`). Both give the same bytes;
:func:`backend` says which one runs. The kernels are compiled once per machine and cached next to
their file (numba's ``cache=True``), so a new process only loads them.

numba is imported only when the first block is hashed, so importing :mod:`ledger` stays light.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np

from ledger.canonical import SCHEMA_VERSION
from ledger.errors import RecordError
from ledger.merkle import EMPTY_ROOT, merkle_root
from ledger.records import ENVELOPE
from ledger.store import RecordBlob

HASH_SIZE: Final = 32
_SCRATCH_HEAD: Final = 256  # _sha_kernel.SCRATCH_HEAD (not imported: it would load numba)


@dataclass(frozen=True)
class JoinedBodies:
    """``count`` record bodies joined by newlines into ``text`` (canonical JSON holds none), as
    :meth:`ledger.fast.RowTemplates.encode_joined` writes them: a block's bodies of one kind
    without a ``bytes`` object each."""

    text: bytes
    count: int

    def __post_init__(self) -> None:
        if type(self.count) is not int or self.count < 0 or (not self.count and self.text):
            raise RecordError(
                f"joined bodies: count must be a non-negative int, and 0 only for empty text; "
                f"got {self.count!r} for {len(self.text)} bytes"
            )

    def __len__(self) -> int:
        return self.count

    def split(self) -> list[bytes]:
        """The bodies one by one.

        Raises:
            RecordError: If ``text`` does not hold ``count`` bodies.
        """
        bodies = self.text.split(b"\n") if self.count else []
        if len(bodies) != self.count:
            raise RecordError(
                f"joined bodies: {len(bodies)} bodies in the text, count says {self.count}"
            )
        return bodies


Bodies = Sequence[bytes] | JoinedBodies
"""One kind's bodies of a block: each as bytes, or joined."""

Groups = Sequence[tuple[int, Bodies]]
"""A block's bodies: ``(kind, bodies)`` pairs in block order."""


@dataclass(frozen=True)
class _Kernels:
    leaves: Callable[..., None]
    """``_sha_kernel.block_kernel``."""
    encode: Callable[..., bool]
    """``_sha_kernel.encoded_block_kernel``."""


_kernels: _Kernels | None = None
_backend: str | None = None


def python_leaves_and_root(records: Sequence[bytes]) -> tuple[bytes, bytes]:
    """The reference: concatenated leaf hashes and Merkle root through ``hashlib``."""
    sha = hashlib.sha256
    leaves = [sha(b"\x00" + r).digest() for r in records]
    return b"".join(leaves), merkle_root(leaves)


def python_encode_block(height: int, groups: Groups) -> tuple[list[bytes], bytes, bytes]:
    """The reference of :func:`encode_block`: envelopes by ``struct``, hashes by ``hashlib``."""
    records: list[bytes] = []
    for kind, group in groups:
        bodies = group.split() if isinstance(group, JoinedBodies) else group
        if bodies:
            # The envelope is kind, version and height (the same for the kind's records)
            # followed by the record's index: two concatenations a record.
            head = ENVELOPE.pack(kind, SCHEMA_VERSION, height, 0)[:-4]
            index = _indices(len(records), len(bodies))
            records += [head + i + b for i, b in zip(index, bodies, strict=True)]
    leaves, root = python_leaves_and_root(records)
    return records, leaves, root


def leaves_and_root(records: Sequence[bytes]) -> tuple[bytes, bytes]:
    """The leaf hashes of ``records`` (concatenated, 32 bytes each) and their Merkle root.

    Equal to :func:`python_leaves_and_root`; compiled when :func:`backend` says so.
    """
    kernels = _kernels if _backend is not None else _load()
    if kernels is None or not records:
        return python_leaves_and_root(records)
    return _compiled_leaves_and_root(kernels, records)


def encode_block(height: int, groups: Groups) -> tuple[Sequence[bytes], bytes, bytes]:
    """A block's records from their bodies, with the leaf hashes and the Merkle root.

    Args:
        height: The block's height (in every envelope).
        groups: ``(kind, bodies)`` in block order: each body (canonical JSON) becomes the record
            ``ENVELOPE(kind, SCHEMA_VERSION, height, index) + body``, ``index`` counting from 0
            over the whole block.

    Returns:
        The records (a :class:`~ledger.store.RecordBlob` on the compiled path, a list
        otherwise: the same bytes), their leaf hashes concatenated, and the root. Equal to
        :func:`python_encode_block`.
    """
    kernels = _kernels if _backend is not None else _load()
    if kernels is None or not any(len(bodies) for _, bodies in groups):
        return python_encode_block(height, groups)
    return _compiled_encode_block(kernels, height, groups)


def backend() -> str:
    """Which path the functions here take: ``"openssl (compiled)"``, or ``"hashlib"`` with the
    reason the compiled one is unavailable."""
    _load()
    assert _backend is not None
    return _backend


def use_python(python: bool = True) -> None:
    """Force the ``hashlib`` path (``True``) or go back to the best available (``False``).

    For tests and benchmarks that compare the two paths; the bytes are the same either way.
    """
    global _kernels, _backend
    _kernels = None
    _backend = "hashlib (forced)" if python else None
    if not python:
        _load()


# ---------------------------------------------------------------------------------------------


_INDEX_CACHE = 1 << 16
_index_bytes: list[bytes] = []


def _indices(first: int, count: int) -> list[bytes]:
    """The 4-byte big-endian record indices ``first .. first + count - 1`` of the envelopes.

    The first 65,536 come from a table that grows by doubling; it is rebuilt whole and rebound,
    never extended in place, so that a reader in another thread sees a complete table.
    """
    global _index_bytes
    end = first + count
    table = _index_bytes
    if end > len(table) and len(table) < _INDEX_CACHE:
        size = min(max(end, 2 * len(table), 256), _INDEX_CACHE)
        table = _index_bytes = [i.to_bytes(4, "big") for i in range(size)]
    if end <= len(table):
        return table[first:end]
    return [i.to_bytes(4, "big") for i in range(first, end)]


def _offsets(items: Sequence[bytes]) -> np.ndarray:
    """``n + 1`` offsets of the items back to back, each behind its one-byte prefix."""
    n = len(items)
    offsets = np.empty(n + 1, dtype=np.int64)
    offsets[0] = 0
    np.cumsum(np.fromiter(map(len, items), dtype=np.int64, count=n) + 1, out=offsets[1:])
    return offsets


def _scratch(n: int) -> np.ndarray:
    scratch = np.empty(_SCRATCH_HEAD + HASH_SIZE * n, dtype=np.uint8)
    scratch[0] = 1  # interior-node prefix
    scratch[1] = 0  # leaf prefix
    return scratch


def _compiled_leaves_and_root(kernels: _Kernels, records: Sequence[bytes]) -> tuple[bytes, bytes]:
    n = len(records)
    # Each record preceded by its 0x00 domain byte, all in one buffer: record i is
    # buf[offsets[i]:offsets[i + 1]], its 0x00 included.
    buf = np.frombuffer(b"\x00" + b"\x00".join(records), dtype=np.uint8)
    leaves = np.empty((n, HASH_SIZE), dtype=np.uint8)
    root = np.empty(HASH_SIZE, dtype=np.uint8)
    kernels.leaves(buf, _offsets(records), leaves, root, _scratch(n))
    return leaves.tobytes(), root.tobytes()


def _compiled_encode_block(
    kernels: _Kernels, height: int, groups: Groups
) -> tuple[Sequence[bytes], bytes, bytes]:
    # The bodies joined by newlines, which canonical JSON never holds unescaped: the kernel
    # finds the boundaries itself (no length per body from Python), and says if it cannot.
    joined = b"\n".join(
        [
            group.text if isinstance(group, JoinedBodies) else b"\n".join(group)
            for _, group in groups
            if len(group)
        ]
    )
    sizes = [len(group) for _, group in groups]
    counts = np.array(sizes, dtype=np.int64)
    n = sum(sizes)
    records = np.empty(len(joined) - (n - 1) + ENVELOPE.size * n, dtype=np.uint8)
    record_offsets = np.empty(n + 1, dtype=np.int64)
    leaves = np.empty((n, HASH_SIZE), dtype=np.uint8)
    root = np.empty(HASH_SIZE, dtype=np.uint8)
    split = kernels.encode(
        np.frombuffer(joined, dtype=np.uint8),
        counts,
        np.array([kind for kind, _ in groups], dtype=np.uint8),
        SCHEMA_VERSION,
        height,
        records,
        record_offsets,
        leaves,
        root,
        _scratch(n),
    )
    if not split:  # a body with a raw newline: not canonical JSON, but the same bytes anyway
        return python_encode_block(height, groups)
    return RecordBlob(records, record_offsets), leaves.tobytes(), root.tobytes()


def _load() -> _Kernels | None:
    global _kernels, _backend
    if _backend is not None:
        return _kernels
    try:
        kernels = _compile()
        # Prove the kernels on blocks of every shape class (1, 2, odd, even) before trusting
        # them (this also compiles them, or loads numba's cache, now rather than mid-block).
        for n in (1, 2, 3, 8):
            block = [bytes([i]) * (i * 7) for i in range(n)]
            groups = [(1, block[:1]), (2, block[1:])]
            blob, leaves, root = _compiled_encode_block(kernels, 5, groups)
            if (
                not isinstance(blob, RecordBlob)
                or _compiled_leaves_and_root(kernels, block) != python_leaves_and_root(block)
                or (blob.tolist(), leaves, root) != python_encode_block(5, groups)
            ):
                _kernels, _backend = None, "hashlib (compiled path gave different hashes)"
                return None
    except Exception as exc:  # any failure means: use hashlib, and say why
        _kernels, _backend = None, f"hashlib (compiled path unavailable: {exc!r})"
        return None
    _kernels, _backend = kernels, "openssl (compiled)"
    return kernels


def _compile() -> _Kernels:
    """The numba kernels over OpenSSL's SHA-256 (raises if either is missing)."""
    import ctypes
    import ctypes.util

    import llvmlite.binding as llvm

    name = ctypes.util.find_library("crypto")
    if name is None:
        raise OSError("libcrypto not found")
    library = ctypes.CDLL(name)
    for symbol in ("SHA256_Init", "SHA256_Update", "SHA256_Final"):
        getattr(library, symbol)  # AttributeError if this OpenSSL lacks it
    # Load it for numba's linker: the kernels call the symbols by name, which is what lets
    # numba cache the compiled code (a ctypes pointer would be a per-process constant).
    llvm.load_library_permanently(name)
    from ledger import _sha_kernel  # compiles on first use, or loads numba's cache

    return _Kernels(_sha_kernel.block_kernel, _sha_kernel.encoded_block_kernel)


__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "Bodies",
    "Groups",
    "JoinedBodies",
    "backend",
    "encode_block",
    "leaves_and_root",
    "python_encode_block",
    "python_leaves_and_root",
    "use_python",
]
