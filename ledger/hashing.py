"""A block's leaf hashes and Merkle root in one call, compiled where the machine allows.

Writing a block hashes every record (``SHA-256(0x00 || record)``) and every interior node of the
RFC 9162 tree over them (``SHA-256(0x01 || left || right)``): about two hashes a record. From
Python each is a ``hashlib`` call of about 0.4 us, most of it the call, not the hashing (SHA-256
itself runs at about 1.8 GB/s here). :func:`leaves_and_root` does the whole block in one compiled
loop instead: a numba kernel that calls OpenSSL's ``SHA256_Init/Update/Final`` (the library
CPython's ``hashlib`` uses) directly, with no Python object per hash.

The compiled path is used when numba imports and the process can load ``libcrypto`` with those
symbols; otherwise :func:`leaves_and_root` falls back to ``hashlib``, the reference it is tested
against (:func:`python_leaves_and_root`). Both give the same bytes; :func:`backend` says which one
runs. The kernel is compiled once per machine and cached next to this file (numba's
``cache=True``), so a new process only loads it.

numba is imported only when the first block is hashed, so importing :mod:`ledger` stays light.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Final

import numpy as np

from ledger.merkle import EMPTY_ROOT, merkle_root

HASH_SIZE: Final = 32

_Kernel = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray], None]
_kernel: _Kernel | None = None
_backend: str | None = None


def python_leaves_and_root(records: Sequence[bytes]) -> tuple[bytes, bytes]:
    """The reference: concatenated leaf hashes and Merkle root through ``hashlib``."""
    sha = hashlib.sha256
    leaves = [sha(b"\x00" + r).digest() for r in records]
    return b"".join(leaves), merkle_root(leaves)


def leaves_and_root(records: Sequence[bytes]) -> tuple[bytes, bytes]:
    """The leaf hashes of ``records`` (concatenated, 32 bytes each) and their Merkle root.

    Equal to :func:`python_leaves_and_root`; compiled when :func:`backend` says so.
    """
    kernel = _kernel if _backend is not None else _load()
    n = len(records)
    if kernel is None or n == 0:
        return python_leaves_and_root(records)
    # Each record preceded by its 0x00 domain byte, all in one buffer: record i is
    # buf[offsets[i]:offsets[i + 1]], its 0x00 included.
    buf = np.frombuffer(b"\x00" + b"\x00".join(records), dtype=np.uint8)
    offsets = np.empty(n + 1, dtype=np.int64)
    offsets[0] = 0
    np.cumsum(np.fromiter(map(len, records), dtype=np.int64, count=n) + 1, out=offsets[1:])
    leaves = np.empty((n, HASH_SIZE), dtype=np.uint8)
    root = np.empty(HASH_SIZE, dtype=np.uint8)
    scratch = np.empty(256 + HASH_SIZE * n, dtype=np.uint8)
    scratch[0] = 1
    kernel(buf, offsets, leaves, root, scratch)
    return leaves.tobytes(), root.tobytes()


def backend() -> str:
    """Which path :func:`leaves_and_root` takes: ``"openssl (compiled)"``, or ``"hashlib"`` with
    the reason the compiled one is unavailable."""
    _load()
    assert _backend is not None
    return _backend


def use_python(python: bool = True) -> None:
    """Force the ``hashlib`` path (``True``) or go back to the best available (``False``).

    For tests and benchmarks that compare the two paths; the bytes are the same either way.
    """
    global _kernel, _backend
    if python:
        _kernel, _backend = None, "hashlib (forced)"
    else:
        _kernel, _backend = None, None
        _load()


def _load() -> _Kernel | None:
    global _kernel, _backend
    if _backend is not None:
        return _kernel
    try:
        _kernel = _compile()
    except Exception as exc:  # any failure means: use hashlib, and say why
        _kernel, _backend = None, f"hashlib (compiled path unavailable: {exc})"
        return None
    # Prove the kernel on a block of every shape class (1, 2, odd, even) before trusting it.
    for n in (1, 2, 3, 8):
        block = [bytes([i]) * (i * 7) for i in range(n)]
        if _run(_kernel, block) != python_leaves_and_root(block):
            _kernel, _backend = None, "hashlib (compiled path gave different hashes)"
            return None
    _backend = "openssl (compiled)"
    return _kernel


def _run(kernel: _Kernel, records: Sequence[bytes]) -> tuple[bytes, bytes]:
    global _kernel, _backend
    saved = _kernel, _backend
    _kernel, _backend = kernel, "probe"
    try:
        return leaves_and_root(records)
    finally:
        _kernel, _backend = saved


def _compile() -> _Kernel:
    """numba kernel over OpenSSL's SHA-256 (raises if either is missing)."""
    import ctypes
    import ctypes.util

    import llvmlite.binding as llvm

    name = ctypes.util.find_library("crypto")
    if name is None:
        raise OSError("libcrypto not found")
    library = ctypes.CDLL(name)
    for symbol in ("SHA256_Init", "SHA256_Update", "SHA256_Final"):
        getattr(library, symbol)  # AttributeError if this OpenSSL lacks it
    # Load it for numba's linker: the kernel calls the symbols by name, which is what lets
    # numba cache the compiled code (a ctypes pointer would be a per-process constant).
    llvm.load_library_permanently(name)
    from ledger import _sha_kernel  # compiles on first use, or loads numba's cache

    kernel: _Kernel = _sha_kernel.block_kernel
    return kernel


__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "backend",
    "leaves_and_root",
    "python_leaves_and_root",
    "use_python",
]
