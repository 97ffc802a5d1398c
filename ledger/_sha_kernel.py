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


@numba.njit(cache=True, nogil=True)
def block_kernel(buf: Any, offsets: Any, leaves: Any, root: Any, scratch: Any) -> None:
    """Leaf hashes of ``buf[offsets[i]:offsets[i + 1]]`` (each starting with its 0x00) into
    ``leaves`` (``n x 32``) and the RFC 9162 Merkle root over them into ``root`` (``n >= 1``).

    ``scratch`` is uint8 of at least ``256 + 32 n`` bytes with ``scratch[0] == 1``. The caller
    owns it because numba frees an array after its last *indexed* use: one allocated here and
    used only through its address could be freed while the external calls still write to it.
    Addresses are int64 throughout (uint64 plus int64 would be a float in numba).
    """
    n = offsets.shape[0] - 1
    prefix = np.int64(scratch.ctypes.data)  # the interior-node prefix 0x01
    ctx = prefix + 64  # SHA256_CTX, 112 bytes
    level = prefix + 256  # the tree's levels above the leaves, n x 32 bytes
    base = np.int64(buf.ctypes.data)
    out = np.int64(leaves.ctypes.data)
    for i in range(n):
        _init(ctx)
        _update(ctx, base + offsets[i], offsets[i + 1] - offsets[i])
        _final(out + 32 * i, ctx)
    # The tree bottom-up as ledger.merkle.merkle_root builds it: pair neighbours, carry an
    # unpaired last node up unchanged. Level 1 reads the leaves, later levels work in place
    # (node k of a level is written after nodes 2k and 2k + 1 of the level below are read).
    src = out
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
