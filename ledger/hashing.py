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

**Threads.** A block of at least :data:`PARALLEL_THRESHOLD` records (a 20,000-home community's)
is cut in contiguous chunks, one a thread: each thread writes and hashes its chunk's records and
builds the lowest levels of the Merkle tree over them (the chunks but the last hold a multiple of
``2 ** levels`` records, so these are exactly the block tree's nodes), and the calling thread
finishes the tree. The kernels release the GIL; the bytes are those of one thread. Smaller blocks
(a demonstration community's, about a hundred records) stay on the calling thread, where threads
would cost more than they save. The thread count is, first to last:

* :func:`set_threads` (``None`` goes back to the default);
* the environment variable ``P2P_GYM_HASH_THREADS``, an integer >= 1 (read at the first block,
  or at ``set_threads(None)``; anything else raises :class:`ValueError`);
* the CPUs this process may run on (``os.sched_getaffinity``, else ``os.cpu_count``).

A block is cut in at most that many chunks, each of at least half the threshold. Where every
CPU is already busy (several simulations side by side, one a CPU), the threads only take turns:
set ``P2P_GYM_HASH_THREADS=1`` there. :func:`set_threshold` moves the threshold (tests force
small blocks through the threaded path with it); :func:`backend` says both. The threads' kernels
are loaded and proven against the references at the first block past the threshold; should they
fail, large blocks stay on the calling thread and :func:`backend` says why. A forked child starts
threads of its own.

**In the background.** :func:`encode_blocks_in_background` runs :func:`encode_blocks`'s one
compiled call on a thread of its own (one, started when first needed) and returns at once: the
caller (the batched communities' next slot) runs on one CPU while the blocks are hashed on the
other (:meth:`ledger.Ledger.append_encoded_many_in_background` appends them when a ledger is
next used). A fork waits for that thread's work first, so a child finds it done.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from itertools import accumulate
from typing import Final

import numpy as np

from ledger.canonical import SCHEMA_VERSION
from ledger.errors import RecordError
from ledger.merkle import EMPTY_ROOT, merkle_root
from ledger.records import ENVELOPE
from ledger.store import RecordBlob

HASH_SIZE: Final = 32
_SCRATCH_HEAD: Final = 256  # _sha_kernel.SCRATCH_HEAD (not imported: it would load numba)
_CONTEXT_SIZE: Final = 256  # _sha_kernel.CONTEXT_SIZE

THREADS_VARIABLE: Final = "P2P_GYM_HASH_THREADS"
"""The environment variable that sets the thread count (see the module's docstring)."""

PARALLEL_THRESHOLD: Final = 4096
"""Records from which a block is hashed on several threads (:func:`set_threshold` moves it).

Measured on two cores, records of 200 bytes, :func:`encode_block` on one thread and on two:
1,024 records 0.28 and 0.24 ms (no gain in the median), 2,048 0.62 and 0.50 ms, 4,096 1.19
and 0.78 ms, 100,000 28 and 18 ms. From 4,096 records two threads take a third off, with room
left for the start-up of more threads and for a busier machine."""


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

_Encoded = tuple[Sequence[bytes], bytes, bytes]
"""A block's records, leaf hashes and root, as :func:`encode_block` gives them."""


@dataclass(frozen=True)
class _Kernels:
    leaves: Callable[..., None]
    """``_sha_kernel.block_kernel``."""
    encode: Callable[..., bool]
    """``_sha_kernel.encoded_block_kernel``."""
    blocks: Callable[..., np.ndarray]
    """``_sha_kernel.encoded_blocks_kernel``."""


@dataclass(frozen=True)
class _ChunkKernels:
    split: Callable[..., bool]
    """``_sha_kernel.split_kernel``."""
    leaves: Callable[..., None]
    """``_sha_kernel.leaves_chunk_kernel``."""
    encode: Callable[..., None]
    """``_sha_kernel.encoded_chunk_kernel``."""
    top: Callable[..., None]
    """``_sha_kernel.top_kernel``."""


_kernels: _Kernels | None = None
_backend: str | None = None
_chunk_kernels: _ChunkKernels | None = None
_chunk_state: str | None = None
"""``None`` until the chunk kernels are loaded, then "" or why they cannot be used."""

_thread_count: int | None = None  # set_threads's
_default_threads: int | None = None  # the environment's or the CPUs', once read
_threshold = PARALLEL_THRESHOLD


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
    return _compiled_leaves_and_root(kernels, records, _plan(len(records)))


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
    if kernels is None:
        return python_encode_block(height, groups)
    n = sum(len(bodies) for _, bodies in groups)
    if not n:
        return python_encode_block(height, groups)
    return _compiled_encode_block(kernels, height, groups, _plan(n))


def encode_blocks(
    heights: Sequence[int], blocks: Sequence[Groups]
) -> list[tuple[Sequence[bytes], bytes, bytes]]:
    """:func:`encode_block` of each block (``heights[k]``, ``blocks[k]``), the usual ones
    (their groups of the same kinds, at least one record, below the threaded hashing's
    threshold) written and hashed in one compiled call: the same records, leaves and roots.

    Raises:
        ValueError: If ``heights`` and ``blocks`` differ in length.
    """
    kernels, usual = _one_call(heights, blocks, any_size=False)
    out = _alone(heights, blocks, usual)
    if usual:
        assert kernels is not None
        done = _compiled_encode_blocks(
            kernels, [heights[k] for k in usual], [blocks[k] for k in usual]
        )
        for k, encoded in zip(usual, done, strict=True):
            out[k] = encoded
    return _complete(out)


def _one_call(
    heights: Sequence[int], blocks: Sequence[Groups], *, any_size: bool
) -> tuple[_Kernels | None, list[int]]:
    """The compiled kernels and the blocks one call of the blocks kernel takes: those of at
    least one record whose groups are of the first block's kinds and, unless ``any_size``,
    below the threaded hashing's threshold.

    Raises:
        ValueError: If ``heights`` and ``blocks`` differ in length.
    """
    if len(heights) != len(blocks):
        raise ValueError(f"encode_blocks: {len(heights)} heights for {len(blocks)} blocks")
    kernels = _kernels if _backend is not None else _load()
    usual: list[int] = []
    if kernels is not None and blocks:
        kinds = [kind for kind, _ in blocks[0]]
        for k, groups in enumerate(blocks):
            n = sum(len(bodies) for _, bodies in groups)
            if n and (any_size or _plan(n) is None) and [kind for kind, _ in groups] == kinds:
                usual.append(k)
    return kernels, usual


def _alone(
    heights: Sequence[int], blocks: Sequence[Groups], usual: Sequence[int]
) -> list[_Encoded | None]:
    """:func:`encode_block` of each block but the ``usual`` ones (``None`` in their places)."""
    taken = set(usual)
    return [None if k in taken else encode_block(heights[k], blocks[k]) for k in range(len(blocks))]


def _complete(out: list[_Encoded | None]) -> list[_Encoded]:
    """``out`` once every block is in it."""
    if any(encoded is None for encoded in out):
        raise AssertionError("a block was left unencoded")
    return out  # type: ignore[return-value]


class BlocksJob:
    """:func:`encode_blocks` of some blocks, started by :func:`encode_blocks_in_background`:
    :meth:`result` waits for it and gives exactly what :func:`encode_blocks` gives."""

    def __init__(
        self,
        done: list[_Encoded | None],
        work: _BlocksWork | None = None,
        usual: Sequence[int] = (),
        future: Future[list[bool]] | None = None,
    ) -> None:
        self._done = done
        self._work, self._usual, self._future = work, usual, future
        self._result: list[_Encoded] | None = None

    def result(self) -> list[_Encoded]:
        """Each block's records, leaves and root (waits for the background thread).

        Raises:
            Exception: What the kernel's call raised, on every call.
        """
        if self._result is None:
            if self._work is not None:
                assert self._future is not None
                ok = self._future.result()
                for k, encoded in zip(self._usual, self._work.finish(ok), strict=True):
                    self._done[k] = encoded
                self._work = self._future = None  # the buffers go with the blocks
            self._result = _complete(self._done)
        return self._result


def encode_blocks_in_background(heights: Sequence[int], blocks: Sequence[Groups]) -> BlocksJob:
    """:func:`encode_blocks`, its one compiled call run on the ledger's background thread, so
    that the caller goes on while the blocks are written and hashed (the next slot of the
    communities, say): :meth:`BlocksJob.result` gives the same records, leaves and roots.

    The buffers are made on the calling thread, which hands the background thread only the
    compiled call (it holds no GIL while it hashes). Blocks of every size go there in the one
    call, on the one thread: the calling thread is the other CPU's work. Blocks the call does
    not take (empty ones, other kinds), and all of them where the compiled path is unavailable
    or :func:`threads` is 1 (``P2P_GYM_HASH_THREADS=1``: no thread besides the caller's), are
    encoded here, before this returns.

    Raises:
        ValueError: If ``heights`` and ``blocks`` differ in length.
    """
    kernels, usual = _one_call(heights, blocks, any_size=True)
    if not usual or threads() == 1:
        return BlocksJob(list(encode_blocks(heights, blocks)))
    assert kernels is not None
    work = _BlocksWork(kernels, [heights[k] for k in usual], [blocks[k] for k in usual])
    done = _alone(heights, blocks, usual)
    return BlocksJob(done, work, usual, _submit_background(work.run))


def backend() -> str:
    """Which path the functions here take: ``"openssl (compiled; ...)"`` with the thread count
    and the threshold (``"openssl (compiled; 4 threads from 4,096 records)"``), or
    ``"hashlib"`` with the reason the compiled one is unavailable.

    Raises:
        ValueError: If ``P2P_GYM_HASH_THREADS`` is not an integer >= 1.
    """
    _load()
    assert _backend is not None
    if _kernels is None:
        return _backend
    count = threads()
    if count == 1:
        return f"{_backend[:-1]}; 1 thread)"
    if _load_chunks() is None:
        return f"{_backend[:-1]}; 1 thread: {_chunk_state})"
    return f"{_backend[:-1]}; {count} threads from {_threshold:,} records)"


def threads() -> int:
    """The threads a block of at least :func:`threshold` records is hashed on.

    Raises:
        ValueError: If ``P2P_GYM_HASH_THREADS`` is set to anything but an integer >= 1.
    """
    global _default_threads
    if _thread_count is not None:
        return _thread_count
    if _default_threads is None:
        _default_threads = _environment_threads()
    return _default_threads


def set_threads(count: int | None) -> None:
    """Hash large blocks on ``count`` threads (1: always on the calling thread), or, with
    ``None``, on the default: ``P2P_GYM_HASH_THREADS`` (read again now), else the CPUs.

    Raises:
        ValueError: If ``count`` is not an integer >= 1, or (``None``) if the environment
            variable is not.
    """
    global _thread_count, _default_threads
    if count is None:
        _thread_count = None
        _default_threads = _environment_threads()
        return
    if type(count) is not int or count < 1:
        raise ValueError(f"the hashing thread count must be an integer >= 1, got {count!r}")
    _thread_count = count


def threshold() -> int:
    """Records from which a block is hashed on :func:`threads` threads (when there are two or
    more)."""
    return _threshold


def set_threshold(records: int | None) -> None:
    """Hash blocks of at least ``records`` records on several threads; ``None`` restores
    :data:`PARALLEL_THRESHOLD`. A low threshold sends small blocks through the threaded path
    (tests); the bytes are the same either way.

    Raises:
        ValueError: If ``records`` is not an integer >= 1.
    """
    global _threshold
    if records is None:
        _threshold = PARALLEL_THRESHOLD
        return
    if type(records) is not int or records < 1:
        raise ValueError(f"the threaded hashing threshold must be an integer >= 1, got {records!r}")
    _threshold = records


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


_Plan = tuple[_ChunkKernels, int, list[int]]
"""How a block is cut for several threads: the chunk kernels, the tree levels each chunk
builds, and the chunks' bounds (``bounds[c] .. bounds[c + 1] - 1`` are chunk ``c``'s records)."""


def _plan(n: int) -> _Plan | None:
    """The threaded plan for a block of ``n`` records, or ``None`` to hash it on this thread."""
    if n < _threshold:
        return None
    # Each chunk at least half the threshold: a thread costs tens of microseconds to wake,
    # worth it only for a chunk of some hundreds of microseconds.
    count = min(threads(), n // max(1, _threshold // 2))
    if count < 2:
        return None
    kernels = _chunk_kernels if _chunk_state is not None else _load_chunks()
    if kernels is None:
        return None
    levels, bounds = _chunks(n, count)
    return (kernels, levels, bounds) if len(bounds) > 2 else None


def _chunks(n: int, count: int) -> tuple[int, list[int]]:
    """``n >= 1`` records cut in at most ``count`` contiguous chunks of about equal size, each
    but the last a multiple of ``2 ** levels`` records: ``(levels, bounds)``.

    ``2 ** levels`` is at most a sixteenth of ``n / count``, so rounding the chunks up to it
    makes the largest at most a sixteenth longer, while the tree left above the chunks (on the
    calling thread) has at most ``32 count`` nodes at its bottom.
    """
    per = -(-n // count)
    levels = max(0, per.bit_length() - 5)
    unit = 1 << levels
    size = -(-per // unit) * unit
    return levels, [*range(0, n, size), n]


def _tops(n: int, levels: int) -> np.ndarray:
    """Room for the tree's nodes of level ``levels`` over ``n`` leaves."""
    return np.empty(((n + (1 << levels) - 1) >> levels, HASH_SIZE), dtype=np.uint8)


def _compiled_leaves_and_root(
    kernels: _Kernels, records: Sequence[bytes], plan: _Plan | None
) -> tuple[bytes, bytes]:
    n = len(records)
    # Each record preceded by its 0x00 domain byte, all in one buffer: record i is
    # buf[offsets[i]:offsets[i + 1]], its 0x00 included.
    buf = np.frombuffer(b"\x00" + b"\x00".join(records), dtype=np.uint8)
    offsets = _offsets(records)
    leaves = np.empty((n, HASH_SIZE), dtype=np.uint8)
    root = np.empty(HASH_SIZE, dtype=np.uint8)
    scratch = _scratch(n)
    if plan is None:
        kernels.leaves(buf, offsets, leaves, root, scratch)
    else:
        chunks, levels, bounds = plan
        tops = _tops(n, levels)

        def work(lo: int, hi: int, ctx: np.ndarray) -> None:
            chunks.leaves(buf, offsets, lo, hi, levels, leaves, scratch, ctx, tops)

        _run(work, bounds)
        chunks.top(tops, tops.shape[0], root, scratch)
    return leaves.tobytes(), root.tobytes()


def _compiled_encode_block(
    kernels: _Kernels, height: int, groups: Groups, plan: _Plan | None
) -> tuple[Sequence[bytes], bytes, bytes]:
    joined = _joined_bodies(groups)
    sizes = [len(group) for _, group in groups]
    counts = np.array(sizes, dtype=np.int64)
    n = sum(sizes)
    bodies = np.frombuffer(joined, dtype=np.uint8)
    kinds = np.array([kind for kind, _ in groups], dtype=np.uint8)
    records = np.empty(_records_size(joined, n), dtype=np.uint8)
    record_offsets = np.empty(n + 1, dtype=np.int64)
    leaves = np.empty((n, HASH_SIZE), dtype=np.uint8)
    root = np.empty(HASH_SIZE, dtype=np.uint8)
    scratch = _scratch(n)
    if plan is None:
        split = kernels.encode(
            bodies,
            counts,
            kinds,
            SCHEMA_VERSION,
            height,
            records,
            record_offsets,
            leaves,
            root,
            scratch,
        )
    else:
        chunks, levels, bounds = plan
        split = chunks.split(bodies, counts, record_offsets)
        if split:
            tops = _tops(n, levels)

            def work(lo: int, hi: int, ctx: np.ndarray) -> None:
                chunks.encode(
                    bodies,
                    counts,
                    kinds,
                    SCHEMA_VERSION,
                    height,
                    records,
                    record_offsets,
                    lo,
                    hi,
                    levels,
                    leaves,
                    scratch,
                    ctx,
                    tops,
                )

            _run(work, bounds)
            chunks.top(tops, tops.shape[0], root, scratch)
    if not split:  # a body with a raw newline: not canonical JSON, but the same bytes anyway
        return python_encode_block(height, groups)
    return RecordBlob(records, record_offsets), leaves.tobytes(), root.tobytes()


def _joined_bodies(groups: Groups) -> bytes:
    """A block's bodies joined by newlines, which canonical JSON never holds unescaped: the
    kernels find the boundaries themselves (no length per body from Python), and say if they
    cannot."""
    return b"\n".join(
        [
            group.text if isinstance(group, JoinedBodies) else b"\n".join(group)
            for _, group in groups
            if len(group)
        ]
    )


def _records_size(joined: bytes, n: int) -> int:
    """The bytes of a block's ``n >= 1`` records: its joined bodies less the newlines between
    them, plus an envelope each."""
    return len(joined) - (n - 1) + ENVELOPE.size * n


def _compiled_encode_blocks(
    kernels: _Kernels, heights: Sequence[int], blocks: Sequence[Groups]
) -> list[tuple[Sequence[bytes], bytes, bytes]]:
    """:func:`_compiled_encode_block` of blocks of at least one record each, groups of the
    same kinds, in one call (:func:`ledger._sha_kernel.encoded_blocks_kernel`)."""
    work = _BlocksWork(kernels, heights, blocks)
    return work.finish(work.run())


class _BlocksWork:
    """One call of the blocks kernel: the buffers made (on the calling thread), the kernel run
    (:meth:`run`, on any thread: it holds the GIL only to enter and leave the compiled code),
    and the records, leaves and roots cut from the buffers (:meth:`finish`)."""

    def __init__(self, kernels: _Kernels, heights: Sequence[int], blocks: Sequence[Groups]) -> None:
        texts = [_joined_bodies(groups) for groups in blocks]
        sizes = [[len(group) for _, group in groups] for groups in blocks]
        counts = [sum(block) for block in sizes]
        record_sizes = [_records_size(text, n) for text, n in zip(texts, counts, strict=True)]
        body_starts = [0, *accumulate(len(text) for text in texts)]
        self.record_starts = record_starts = [0, *accumulate(record_sizes)]
        self.leaf_starts = leaf_starts = [0, *accumulate(counts)]
        n_blocks, n_records = len(blocks), leaf_starts[-1]
        self.heights, self.blocks = heights, blocks
        self.records = np.empty(record_starts[-1], dtype=np.uint8)
        self.record_offsets = np.empty(n_records + n_blocks, dtype=np.int64)
        self.leaves = np.empty((n_records, HASH_SIZE), dtype=np.uint8)
        self.roots = np.empty((n_blocks, HASH_SIZE), dtype=np.uint8)
        # Every argument held here until the kernel is done (it reaches some by address).
        self.kernel = kernels.blocks
        self.args = (
            np.frombuffer(b"".join(texts), dtype=np.uint8),
            np.array(body_starts, dtype=np.int64),
            np.array(sizes, dtype=np.int64),
            np.array([kind for kind, _ in blocks[0]], dtype=np.uint8),
            SCHEMA_VERSION,
            np.array(heights, dtype=np.int64),
            self.records,
            np.array(record_starts, dtype=np.int64),
            self.record_offsets,
            np.array(leaf_starts, dtype=np.int64),
            self.leaves,
            self.roots,
            _scratch(max(counts)),
        )

    def run(self) -> list[bool]:
        """The kernel: per block, whether its bodies split as counted."""
        ok: list[bool] = self.kernel(*self.args).tolist()
        return ok

    def finish(self, ok: list[bool]) -> list[tuple[Sequence[bytes], bytes, bytes]]:
        """Each block's records, leaves and root once :meth:`run` gave ``ok``."""
        records, record_offsets = self.records, self.record_offsets
        record_starts, leaf_starts = self.record_starts, self.leaf_starts
        leaf_bytes, root_bytes = self.leaves.tobytes(), self.roots.tobytes()
        out: list[tuple[Sequence[bytes], bytes, bytes]] = []
        for b, (height, groups) in enumerate(zip(self.heights, self.blocks, strict=True)):
            if not ok[b]:  # a body with a raw newline: not canonical JSON, the same bytes anyway
                out.append(python_encode_block(height, groups))
                continue
            first, last = leaf_starts[b], leaf_starts[b + 1]
            blob = RecordBlob(
                records[record_starts[b] : record_starts[b + 1]],
                record_offsets[first + b : last + b + 1],
            )
            out.append(
                (
                    blob,
                    leaf_bytes[HASH_SIZE * first : HASH_SIZE * last],
                    root_bytes[HASH_SIZE * b : HASH_SIZE * (b + 1)],
                )
            )
        return out


# --- the threads --------------------------------------------------------------------------------

_executor: ThreadPoolExecutor | None = None
_executor_workers = 0
_executor_lock = threading.Lock()


def _run(work: Callable[[int, int, np.ndarray], None], bounds: list[int]) -> None:
    """``work(lo, hi, ctx)`` for every chunk, the first on this thread and the others on the
    pool's; returns when all are done. ``ctx`` is the chunk's own SHA256_CTX buffer (all of
    them rows of one array that this frame holds until every chunk is done)."""
    chunks = len(bounds) - 1
    contexts = np.empty((chunks, _CONTEXT_SIZE), dtype=np.uint8)
    pool = _pool(chunks - 1)
    futures = [pool.submit(work, bounds[c], bounds[c + 1], contexts[c]) for c in range(1, chunks)]
    try:
        work(bounds[0], bounds[1], contexts[0])
    finally:
        for future in futures:
            future.result()


def _pool(workers: int) -> ThreadPoolExecutor:
    """The hashing threads, at least ``workers`` of them (started when first needed)."""
    global _executor, _executor_workers
    with _executor_lock:
        if _executor is None or _executor_workers < workers:
            old = _executor
            _executor = ThreadPoolExecutor(workers, thread_name_prefix="p2p-gym-hash")
            _executor_workers = workers
            if old is not None:
                old.shutdown(wait=False)  # what it was given still runs
        return _executor


def _forget_pool() -> None:
    """After ``fork``: the child has none of the parent's threads, so none of its pool."""
    global _executor, _executor_workers, _executor_lock
    _executor, _executor_workers, _executor_lock = None, 0, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


_background: ThreadPoolExecutor | None = None
_background_lock = threading.Lock()
_in_flight: set[Future[list[bool]]] = set()
"""The background thread's calls not yet done (a fork waits for them)."""


def _submit_background(call: Callable[[], list[bool]]) -> Future[list[bool]]:
    """``call`` on the ledger's background thread (one, started when first needed)."""
    global _background
    with _background_lock:
        if _background is None:
            _background = ThreadPoolExecutor(1, thread_name_prefix="p2p-gym-ledger")
        future = _background.submit(call)
        _in_flight.add(future)
    future.add_done_callback(_in_flight.discard)
    return future


def _finish_in_flight() -> None:
    """Before ``fork``: every background call done, so that the child, which has no such
    thread, finds each of its jobs finished."""
    for future in list(_in_flight):
        future.exception()  # waits; the job's result() raises it, if any


def _forget_background() -> None:
    global _background, _background_lock
    _background, _background_lock = None, threading.Lock()
    _in_flight.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_finish_in_flight, after_in_child=_forget_background)


def _environment_threads() -> int:
    """``P2P_GYM_HASH_THREADS`` if set (not empty), else the CPUs this process may run on."""
    value = os.environ.get(THREADS_VARIABLE, "").strip()
    if not value:
        if hasattr(os, "sched_getaffinity"):
            return max(1, len(os.sched_getaffinity(0)))
        return os.cpu_count() or 1
    try:
        count = int(value)
    except ValueError:
        count = 0
    if count < 1:
        raise ValueError(
            f"{THREADS_VARIABLE} must be an integer >= 1 (the threads that hash large ledger "
            f"blocks), got {os.environ[THREADS_VARIABLE]!r}"
        )
    return count


# --- loading ------------------------------------------------------------------------------------


def _load() -> _Kernels | None:
    global _kernels, _backend
    if _backend is not None:
        return _kernels
    threads()  # a bad P2P_GYM_HASH_THREADS is an error, not a reason to fall back
    try:
        kernels = _compile()
        # Prove the kernels on blocks of every shape class (1, 2, odd, even) before trusting
        # them (this also compiles them, or loads numba's cache, now rather than mid-block).
        for n in (1, 2, 3, 8):
            block = [bytes([i]) * (i * 7) for i in range(n)]
            if not _agrees(kernels, block, [(1, block[:1]), (2, block[1:])], None):
                _kernels, _backend = None, "hashlib (compiled path gave different hashes)"
                return None
        # And several blocks in one call (of 1, 3 and 2 records; one body with a raw newline).
        blocks = [
            [(1, [b"a"]), (2, [])],
            [(1, [b"b", b"cc"]), (2, [b"d"])],
            [(1, [b"e\nf", b"g"]), (2, [])],
        ]
        together = _compiled_encode_blocks(kernels, [3, 4, 5], blocks)
        if [(list(r), leaves, root) for r, leaves, root in together] != [
            (list(r), leaves, root)
            for r, leaves, root in map(python_encode_block, [3, 4, 5], blocks)
        ] or not all(isinstance(r, RecordBlob) for r, _, _ in together[:2]):
            _kernels, _backend = None, "hashlib (compiled path gave different hashes)"
            return None
    except Exception as exc:  # any failure means: use hashlib, and say why
        _kernels, _backend = None, f"hashlib (compiled path unavailable: {exc!r})"
        return None
    _kernels, _backend = kernels, "openssl (compiled)"
    return kernels


def _load_chunks() -> _ChunkKernels | None:
    """The chunk kernels, proven against the references when first needed (the first block
    past the threshold): a demonstration never loads them. If they fail, large blocks stay on
    the calling thread and :func:`backend` says why."""
    global _chunk_kernels, _chunk_state
    if _chunk_state is not None:
        return _chunk_kernels
    kernels = _load()
    if kernels is None:
        return None
    try:
        from ledger import _sha_kernel  # already imported by _compile

        chunks = _ChunkKernels(
            _sha_kernel.split_kernel,
            _sha_kernel.leaves_chunk_kernel,
            _sha_kernel.encoded_chunk_kernel,
            _sha_kernel.top_kernel,
        )
        # Chunks of one and of several records, tree levels 0 to 2, carried nodes inside the
        # last chunk, an empty group: against the references, as _load proves its kernels.
        for n, count in ((3, 2), (33, 2), (100, 3)):
            plan = (chunks, *_chunks(n, count))
            block = [b"r%d" % i * (i % 5) for i in range(n)]
            if not _agrees(kernels, block, [(1, block[:1]), (2, []), (3, block[1:])], plan):
                _chunk_kernels, _chunk_state = None, "threaded path gave different hashes"
                return None
    except Exception as exc:  # the calling thread's kernels still serve
        _chunk_kernels, _chunk_state = None, f"threaded path unavailable: {exc!r}"
        return None
    _chunk_kernels, _chunk_state = chunks, ""
    return chunks


def _agrees(kernels: _Kernels, block: list[bytes], groups: Groups, plan: _Plan | None) -> bool:
    """Whether the compiled path (on ``plan``'s threads, or this one) gives the references'
    leaves and root of ``block`` and records, leaves and root of the encoded ``groups``."""
    blob, leaves, root = _compiled_encode_block(kernels, 5, groups, plan)
    return (
        isinstance(blob, RecordBlob)
        and _compiled_leaves_and_root(kernels, block, plan) == python_leaves_and_root(block)
        and (blob.tolist(), leaves, root) == python_encode_block(5, groups)
    )


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

    return _Kernels(
        _sha_kernel.block_kernel,
        _sha_kernel.encoded_block_kernel,
        _sha_kernel.encoded_blocks_kernel,
    )


__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "PARALLEL_THRESHOLD",
    "THREADS_VARIABLE",
    "BlocksJob",
    "Bodies",
    "Groups",
    "JoinedBodies",
    "backend",
    "encode_block",
    "encode_blocks",
    "encode_blocks_in_background",
    "leaves_and_root",
    "python_encode_block",
    "python_leaves_and_root",
    "set_threads",
    "set_threshold",
    "threads",
    "threshold",
    "use_python",
]
