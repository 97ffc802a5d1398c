"""The numba kernel behind :func:`ledger.hashing.leaves_and_root` (imported only from there).

It calls OpenSSL's ``SHA256_Init/Update/Final`` by name; :func:`ledger.hashing._compile` loads
``libcrypto`` for numba's linker before importing this module.
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


# numba does not see what the external calls read and write. So the kernel reaches the hashed
# bytes only through raw addresses (never mixing them with numpy indexing on the same bytes), and
# every buffer it writes belongs to the caller (see block_kernel).
_memmove: Any = types.ExternalFunction(
    "memmove", types.voidptr(types.voidptr, types.voidptr, types.uintp)
)
# memchr's result is a pointer (0 when not found), taken as an integer address.
_memchr: Any = types.ExternalFunction(
    "memchr", types.int64(types.voidptr, types.int32, types.uintp)
)


SCRATCH_HEAD = 256
"""Bytes of ``scratch`` before the tree levels: 0x01 (node prefix) at 0, 0x00 (leaf prefix) at 1,
the SHA256_CTX (112 bytes) at 64."""


@numba.njit(cache=True, nogil=True)
def _tree(scratch: Any, leaves: Any, n: Any, root: Any) -> None:
    """The RFC 9162 root over ``n >= 1`` leaf hashes at address ``leaves`` into ``root``.

    Bottom-up as ledger.merkle.merkle_root builds it: pair neighbours, carry an unpaired last
    node up unchanged. Level 1 reads the leaves; later levels work in place in ``scratch`` (node
    k of a level is written after nodes 2k and 2k + 1 of the level below are read).
    """
    prefix = np.int64(scratch.ctypes.data)
    ctx = prefix + 64
    level = prefix + SCRATCH_HEAD
    src = leaves
    m = n
    while m > 1:
        k = 0
        for i in range(0, m - 1, 2):
            _init(ctx)
            _update(ctx, prefix, 1)
            _update(ctx, src + 32 * i, 64)
            _final(level + 32 * k, ctx)
            k += 1
        if m & 1:
            _memmove(level + 32 * k, src + 32 * (m - 1), 32)
            k += 1
        src = level
        m = k
    _memmove(np.int64(root.ctypes.data), src, 32)


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
    ctx = np.int64(scratch.ctypes.data) + 64
    base = np.int64(buf.ctypes.data)
    out = np.int64(leaves.ctypes.data)
    for i in range(n):
        _init(ctx)
        _update(ctx, base + offsets[i], offsets[i + 1] - offsets[i])
        _final(out + 32 * i, ctx)
    _tree(scratch, out, n, root)


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
        False, with nothing hashed, if the newlines do not split ``bodies`` into exactly
        ``sum(counts)`` bodies (a body held a raw newline): the caller takes another path.
    """
    n = 0
    for k in range(counts.shape[0]):
        n += counts[k]
    size = bodies.shape[0]
    source = np.int64(bodies.ctypes.data)
    target = np.int64(records.ctypes.data)
    pos = 0  # in records
    first = 0  # in bodies
    i = 0
    for group in range(counts.shape[0]):
        kind = kinds[group]
        for _ in range(counts[group]):
            if first > size:  # fewer bodies than counted
                return False
            found = _memchr(source + first, 10, size - first)  # the next newline, 0 if none
            last = size if found == 0 else found - source
            if found == 0 and i != n - 1:
                return False
            if found != 0 and i == n - 1:  # a newline inside the last body
                return False
            record_offsets[i] = pos
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
            _memmove(target + pos + 14, source + first, last - first)
            pos += 14 + last - first
            first = last + 1
            i += 1
    record_offsets[n] = pos
    ctx = np.int64(scratch.ctypes.data) + 64
    zero = np.int64(scratch.ctypes.data) + 1
    out = np.int64(leaves.ctypes.data)
    for i in range(n):
        _init(ctx)
        _update(ctx, zero, 1)
        _update(ctx, target + record_offsets[i], record_offsets[i + 1] - record_offsets[i])
        _final(out + 32 * i, ctx)
    _tree(scratch, out, n, root)
    return True
