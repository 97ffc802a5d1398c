"""The numba kernels behind :mod:`ledger.hashing` (imported only from there).

They call OpenSSL's ``SHA256_Init/Update/Final`` by name; :func:`ledger.hashing._compile` loads
``libcrypto`` for numba's linker before importing this module.

Two ways through a block. :func:`block_kernel` and :func:`encoded_block_kernel` do a whole block
in one call on the calling thread. For large blocks the work is cut in contiguous chunks of
records, one a thread: :func:`split_kernel` finds where every record goes (one pass, on the
calling thread), :func:`leaves_chunk_kernel` or :func:`encoded_chunk_kernel` write and hash one
chunk's records and build the lowest ``levels`` levels of the Merkle tree over them (on any
thread: they hold no lock and touch only their chunk's bytes and their own SHA-256 context), and
:func:`top_kernel` finishes the tree. The chunks but the last hold a multiple of ``2 ** levels``
records, so each chunk's subtrees are exactly the block tree's nodes of those levels and the
result is the same bytes.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
from numba import types

_init: Any = types.ExternalFunction("SHA256_Init", types.int32(types.voidptr))
_update: Any = types.ExternalFunction(
    "SHA256_Update", types.int32(types.voidptr, types.voidptr, types.uintp)
)
_final: Any = types.ExternalFunction("SHA256_Final", types.int32(types.voidptr, types.voidptr))


# numba does not see what the external calls read and write. So the kernels reach the hashed
# bytes only through raw addresses (never reading them back by numpy indexing), and every buffer
# they write belongs to the caller (see block_kernel).
_memmove: Any = types.ExternalFunction(
    "memmove", types.voidptr(types.voidptr, types.voidptr, types.uintp)
)
# memchr's result is a pointer (0 when not found), taken as an integer address.
_memchr: Any = types.ExternalFunction(
    "memchr", types.int64(types.voidptr, types.int32, types.uintp)
)


SCRATCH_HEAD = 256
"""Bytes of ``scratch`` before the tree levels: 0x01 (node prefix) at 0, 0x00 (leaf prefix) at 1,
the calling thread's SHA256_CTX (112 bytes) at 64."""

CONTEXT_SIZE = 256
"""Bytes of a chunk's ``ctx`` (a SHA256_CTX is 112): the contexts of the chunks, rows of one
array, share no cache line."""

ENVELOPE_SIZE = 14
"""``ledger.records.ENVELOPE.size``: kind, version, height (8 bytes) and index (4 bytes)."""


@numba.njit(cache=True, nogil=True)
def _reduce(prefix: Any, ctx: Any, src: Any, m: Any, work: Any, levels: Any, out: Any) -> Any:
    """Up to ``levels`` levels of the RFC 9162 tree over the ``m >= 1`` nodes at ``src``;
    the nodes of the last level built are copied to ``out`` and their count returned.

    Bottom-up as ledger.merkle.merkle_root builds it: pair neighbours, carry an unpaired last
    node up unchanged; it stops early at a single node. The first level reads ``src``, later
    levels work in place at ``work`` (node k of a level is written after nodes 2k and 2k + 1 of
    the level below are read), which holds ``32 * m`` bytes. ``prefix`` is the address of a
    0x01 byte, ``ctx`` of a SHA256_CTX; all addresses are int64.
    """
    level = 0
    while m > 1 and level < levels:
        k = 0
        for i in range(0, m - 1, 2):
            _init(ctx)
            _update(ctx, prefix, 1)
            _update(ctx, src + 32 * i, 64)
            _final(work + 32 * k, ctx)
            k += 1
        if m & 1:
            _memmove(work + 32 * k, src + 32 * (m - 1), 32)
            k += 1
        src = work
        m = k
        level += 1
    _memmove(out, src, 32 * m)
    return m


@numba.njit(cache=True, nogil=True)
def _hash_records(ctx: Any, base: Any, offsets: Any, lo: Any, hi: Any, out: Any) -> None:
    """Leaf hashes of records ``lo .. hi - 1`` at ``base + offsets[i]`` (each starting with its
    0x00) into ``out + 32 * i``."""
    for i in range(lo, hi):
        _init(ctx)
        _update(ctx, base + offsets[i], offsets[i + 1] - offsets[i])
        _final(out + 32 * i, ctx)


@numba.njit(cache=True, nogil=True)
def _envelope(records: Any, pos: Any, kind: Any, version: Any, height: Any, i: Any) -> None:
    """Record ``i``'s 14-byte envelope at ``records[pos]``: kind, version, height as 8 bytes
    and ``i`` as 4 bytes, big-endian (``ledger.records.ENVELOPE``)."""
    records[pos] = kind
    records[pos + 1] = version
    value = height
    for j in range(9, 1, -1):
        records[pos + j] = value & 0xFF
        value >>= 8
    value = i
    for j in range(13, 9, -1):
        records[pos + j] = value & 0xFF
        value >>= 8


@numba.njit(cache=True, nogil=True)
def _leaf(ctx: Any, zero: Any, record: Any, size: Any, out: Any) -> None:
    """``SHA-256(0x00 || record)`` into ``out``; ``zero`` is the address of a 0x00 byte."""
    _init(ctx)
    _update(ctx, zero, 1)
    _update(ctx, record, size)
    _final(out, ctx)


@numba.njit(cache=True, nogil=True, inline="always")
def _body_end(source: Any, first: Any, size: Any, i: Any, n: Any) -> Any:
    """Where body ``i`` of ``n``, starting at ``first`` of the ``size`` bytes at address
    ``source``, ends (its newline, or ``size`` for the last body); -1 if the newlines do not
    make ``n`` bodies (fewer, or one inside the last)."""
    if first > size:  # fewer bodies than counted
        return -1
    found = _memchr(source + first, 10, size - first)  # the next newline, 0 if none
    if found == 0:
        return size if i == n - 1 else -1
    return -1 if i == n - 1 else found - source


@numba.njit(cache=True, nogil=True)
def _split(bodies: Any, counts: Any, record_offsets: Any) -> bool:
    """Where each record of an encoded block goes: ``record_offsets`` (``n + 1``) from the
    newlines between the bodies. False if they are not ``n = sum(counts)`` bodies.

    Record ``i`` is its envelope and body ``i``, so its body starts at
    ``record_offsets[i] - 13 * i`` in ``bodies`` (14 bytes of envelope a record before it, one
    newline a body before it) and is ``record_offsets[i + 1] - record_offsets[i] - 14`` long.
    """
    n = 0
    for k in range(counts.shape[0]):
        n += counts[k]
    size = bodies.shape[0]
    source = np.int64(bodies.ctypes.data)
    pos = 0  # in records
    first = 0  # in bodies
    for i in range(n):
        last = _body_end(source, first, size, i, n)
        if last < 0:
            return False
        record_offsets[i] = pos
        pos += ENVELOPE_SIZE + last - first
        first = last + 1
    record_offsets[n] = pos
    return True


@numba.njit(cache=True, nogil=True)
def _write_records(
    bodies: Any,
    counts: Any,
    kinds: Any,
    version: Any,
    height: Any,
    records: Any,
    record_offsets: Any,
    lo: Any,
    hi: Any,
    zero: Any,
    ctx: Any,
    out: Any,
) -> None:
    """Records ``lo .. hi - 1`` of an encoded block written at ``record_offsets`` (from
    :func:`_split`) and their leaf hashes into ``out + 32 * i``; ``zero`` is the address of a
    0x00 byte. Each record is hashed as soon as it is written, while it is in the cache."""
    source = np.int64(bodies.ctypes.data)
    target = np.int64(records.ctypes.data)
    group = 0
    end = counts[0]  # of the group's records
    while end <= lo:
        group += 1
        end += counts[group]
    for i in range(lo, hi):
        while end <= i:
            group += 1
            end += counts[group]
        pos = record_offsets[i]
        size = record_offsets[i + 1] - pos
        _envelope(records, pos, kinds[group], version, height, i)
        _memmove(target + pos + ENVELOPE_SIZE, source + pos - 13 * i, size - ENVELOPE_SIZE)
        _leaf(ctx, zero, target + pos, size, out + 32 * i)


@numba.njit(cache=True, nogil=True)
def block_kernel(buf: Any, offsets: Any, leaves: Any, root: Any, scratch: Any) -> None:
    """Leaf hashes of ``buf[offsets[i]:offsets[i + 1]]`` (each starting with its 0x00) into
    ``leaves`` (``n x 32``) and the Merkle root over them into ``root`` (``n >= 1``).

    ``scratch`` is uint8 of at least ``SCRATCH_HEAD + 32 n`` bytes, ``scratch[0] == 1`` and
    ``scratch[1] == 0``. The caller owns every buffer because numba frees an array after its
    last *indexed* use: one allocated here and used only through its address could be freed
    while the external calls still write to it. Addresses are int64 throughout (uint64 plus
    int64 would be a float in numba).
    """
    n = offsets.shape[0] - 1
    prefix = np.int64(scratch.ctypes.data)
    out = np.int64(leaves.ctypes.data)
    _hash_records(prefix + 64, np.int64(buf.ctypes.data), offsets, 0, n, out)
    _reduce(prefix, prefix + 64, out, n, prefix + SCRATCH_HEAD, 64, np.int64(root.ctypes.data))


@numba.njit(cache=True, nogil=True)
def encoded_block_kernel(
    bodies: Any,
    counts: Any,
    kinds: Any,
    version: Any,
    height: Any,
    records: Any,
    record_offsets: Any,
    leaves: Any,
    root: Any,
    scratch: Any,
) -> bool:
    """A block's records from their bodies, with their leaf hashes and Merkle root.

    ``bodies`` are the block's bodies joined by newlines (canonical JSON has none): the first
    ``counts[0]`` of kind ``kinds[0]``, then ``counts[1]`` of ``kinds[1]``, and so on.
    Record ``i`` is its 14-byte envelope (kind, ``version``, ``height`` as 8 bytes and ``i`` as
    4 bytes, big-endian: ``ledger.records.ENVELOPE``) followed by body ``i``; it is written to
    ``records`` (``14 n`` plus the bodies' bytes) at ``record_offsets[i]``, and its leaf hash
    is ``SHA-256(0x00 || record)``. Buffers as in :func:`block_kernel` (``n >= 1``).

    Returns:
        False if the newlines do not split ``bodies`` into exactly ``sum(counts)`` bodies (a
        body held a raw newline): the caller takes another path and drops what was written.
    """
    n = 0
    for k in range(counts.shape[0]):
        n += counts[k]
    size = bodies.shape[0]
    source = np.int64(bodies.ctypes.data)
    target = np.int64(records.ctypes.data)
    prefix = np.int64(scratch.ctypes.data)
    out = np.int64(leaves.ctypes.data)
    # One pass, as _split and _write_records in one: each body is found, copied behind its
    # envelope and hashed while it is in the cache.
    pos = 0  # in records
    first = 0  # in bodies
    i = 0
    for group in range(counts.shape[0]):
        kind = kinds[group]
        for _ in range(counts[group]):
            last = _body_end(source, first, size, i, n)
            if last < 0:
                return False
            record_offsets[i] = pos
            _envelope(records, pos, kind, version, height, i)
            _memmove(target + pos + ENVELOPE_SIZE, source + first, last - first)
            _leaf(prefix + 64, prefix + 1, target + pos, ENVELOPE_SIZE + last - first, out + 32 * i)
            pos += ENVELOPE_SIZE + last - first
            first = last + 1
            i += 1
    record_offsets[n] = pos
    _reduce(prefix, prefix + 64, out, n, prefix + SCRATCH_HEAD, 64, np.int64(root.ctypes.data))
    return True


@numba.njit(cache=True, nogil=True)
def encoded_blocks_kernel(
    bodies: Any,
    body_starts: Any,
    counts: Any,
    kinds: Any,
    version: Any,
    heights: Any,
    records: Any,
    record_starts: Any,
    record_offsets: Any,
    leaf_starts: Any,
    leaves: Any,
    roots: Any,
    scratch: Any,
) -> Any:
    """:func:`encoded_block_kernel` of ``B`` blocks, one after the other, in one call.

    Block ``b``'s bodies are ``bodies[body_starts[b]:body_starts[b + 1]]`` (``counts[b]`` per
    group, the groups of kinds ``kinds``); its records go to ``records[record_starts[b]:
    record_starts[b + 1]]`` with their offsets (relative to that start) at
    ``record_offsets[leaf_starts[b] + b:leaf_starts[b + 1] + b + 1]``, its leaf hashes to
    ``leaves[leaf_starts[b]:leaf_starts[b + 1]]`` and its root to ``roots[b]``; ``scratch``
    holds the largest block's. Every block has at least one record.

    Returns:
        Per block, whether its bodies split as counted (if not, the caller takes another path
        for that block).
    """
    n_blocks = heights.shape[0]
    ok = np.empty(n_blocks, dtype=np.bool_)
    for b in range(n_blocks):
        first, last = leaf_starts[b], leaf_starts[b + 1]
        ok[b] = encoded_block_kernel(
            bodies[body_starts[b] : body_starts[b + 1]],
            counts[b],
            kinds,
            version,
            heights[b],
            records[record_starts[b] : record_starts[b + 1]],
            record_offsets[first + b : last + b + 1],
            leaves[first:last],
            roots[b],
            scratch,
        )
    return ok


# --- the same in chunks, for several threads -----------------------------------------------


@numba.njit(cache=True, nogil=True)
def split_kernel(bodies: Any, counts: Any, record_offsets: Any) -> bool:
    """``record_offsets`` of an encoded block, before its chunks are written (see
    :func:`encoded_block_kernel`): False if a body held a raw newline."""
    return _split(bodies, counts, record_offsets)


@numba.njit(cache=True, nogil=True)
def _chunk_tree(
    prefix: Any, context: Any, out: Any, lo: Any, hi: Any, levels: Any, tops: Any
) -> None:
    """The block tree's nodes of level ``levels`` above the leaf hashes ``lo .. hi - 1`` (at
    address ``out``) into ``tops`` from node ``lo >> levels``, built in the chunk's own part of
    the scratch (address ``prefix``) with the chunk's SHA256_CTX (address ``context``)."""
    _reduce(
        prefix,
        context,
        out + 32 * lo,
        hi - lo,
        prefix + SCRATCH_HEAD + 32 * lo,
        levels,
        np.int64(tops.ctypes.data) + 32 * (lo >> levels),
    )


@numba.njit(cache=True, nogil=True)
def leaves_chunk_kernel(
    buf: Any,
    offsets: Any,
    lo: Any,
    hi: Any,
    levels: Any,
    leaves: Any,
    scratch: Any,
    ctx: Any,
    tops: Any,
) -> None:
    """:func:`block_kernel` for records ``lo .. hi - 1`` (``lo`` a multiple of
    ``2 ** levels``): their leaf hashes, and the nodes of the block tree's level ``levels``
    above them into ``tops`` from node ``lo >> levels``.

    The levels are built in ``scratch`` at ``SCRATCH_HEAD + 32 lo``, the chunk's own part;
    ``ctx`` is the chunk's SHA256_CTX (``CONTEXT_SIZE`` bytes).
    """
    prefix = np.int64(scratch.ctypes.data)
    context = np.int64(ctx.ctypes.data)
    out = np.int64(leaves.ctypes.data)
    _hash_records(context, np.int64(buf.ctypes.data), offsets, lo, hi, out)
    _chunk_tree(prefix, context, out, lo, hi, levels, tops)


@numba.njit(cache=True, nogil=True)
def encoded_chunk_kernel(
    bodies: Any,
    counts: Any,
    kinds: Any,
    version: Any,
    height: Any,
    records: Any,
    record_offsets: Any,
    lo: Any,
    hi: Any,
    levels: Any,
    leaves: Any,
    scratch: Any,
    ctx: Any,
    tops: Any,
) -> None:
    """:func:`encoded_block_kernel` for records ``lo .. hi - 1``, after :func:`split_kernel`:
    the records, their leaf hashes and the tree's nodes of level ``levels`` above them, as in
    :func:`leaves_chunk_kernel`."""
    prefix = np.int64(scratch.ctypes.data)
    context = np.int64(ctx.ctypes.data)
    out = np.int64(leaves.ctypes.data)
    _write_records(
        bodies,
        counts,
        kinds,
        version,
        height,
        records,
        record_offsets,
        lo,
        hi,
        prefix + 1,
        context,
        out,
    )
    _chunk_tree(prefix, context, out, lo, hi, levels, tops)


@numba.njit(cache=True, nogil=True)
def top_kernel(tops: Any, m: Any, root: Any, scratch: Any) -> None:
    """The root over the ``m >= 1`` nodes of ``tops`` (one level of the tree, from the chunks),
    built in ``scratch`` once every chunk is done."""
    prefix = np.int64(scratch.ctypes.data)
    _reduce(
        prefix,
        prefix + 64,
        np.int64(tops.ctypes.data),
        m,
        prefix + SCRATCH_HEAD,
        64,
        np.int64(root.ctypes.data),
    )
