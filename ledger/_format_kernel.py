"""The numba kernel behind :meth:`ledger.fast.RowTemplates.encode_joined` (imported only there).

It writes a %-format of literal chunks and ``%d`` fields: chunk, integer, chunk, integer, ...,
chunk, with every integer in Python's ``%d`` form (optional ``-``, decimal digits).
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

# Chunks are copied by memcpy (a byte loop costs about 1 ns a byte); numba itself only writes
# into ``out`` and never reads what memcpy wrote, so it needs to know nothing about it.
_memcpy: Any = numba.types.ExternalFunction(
    "memcpy", numba.types.voidptr(numba.types.voidptr, numba.types.voidptr, numba.types.uintp)
)


@numba.njit(cache=True, nogil=True, inline="always")
def _copy(out: Any, pos: int, chunks: Any, starts: Any, chunk: int) -> int:
    first: int = starts[chunk]
    size: int = starts[chunk + 1] - first
    _memcpy(np.int64(out.ctypes.data) + pos, np.int64(chunks.ctypes.data) + first, size)
    return pos + size


@numba.njit(cache=True, nogil=True, inline="always")
def _decimal(out: Any, pos: int, value: Any) -> int:
    """Write int64 ``value`` as Python's ``%d`` does at ``out[pos:]``; return the end."""
    if value < 0:
        out[pos] = 45  # "-"
        pos += 1
        # -(value + 1) + 1 in uint64: exact for the lowest int64 too.
        rest = np.uint64(-(value + 1)) + np.uint64(1)
    else:
        rest = np.uint64(value)
    digits = 1
    probe = rest
    while probe >= 10:
        probe //= np.uint64(10)
        digits += 1
    at = pos + digits - 1
    while True:
        out[at] = 48 + rest % np.uint64(10)
        rest //= np.uint64(10)
        at -= 1
        if rest == 0:
            break
    return pos + digits


@numba.njit(cache=True, nogil=True, inline="always")
def _fill_at(chunks: Any, starts: Any, ids: Any, values: Any, out: Any, pos: int) -> int:
    pos = _copy(out, pos, chunks, starts, ids[0])
    for i in range(values.shape[0]):
        pos = _decimal(out, pos, values[i])
        pos = _copy(out, pos, chunks, starts, ids[i + 1])
    return pos


@numba.njit(cache=True, nogil=True)
def fill(chunks: Any, starts: Any, ids: Any, values: Any, out: Any) -> int:
    """Write chunk ``ids[0]``, then per value ``i`` its decimal digits and chunk ``ids[i + 1]``
    into ``out``; return the bytes written.

    ``chunks[starts[c]:starts[c + 1]]`` is chunk ``c``; ``out`` holds at least the chunks plus
    20 bytes a value (the longest int64, ``-9223372036854775808``).
    """
    return _fill_at(chunks, starts, ids, values, out, 0)


@numba.njit(cache=True, nogil=True)
def fill_tables(chunks: Any, starts: Any, ids: Any, values: Any, out: Any, ends: Any) -> int:
    """:func:`fill` of each row of ``values`` (``tables x values``), one after the other into
    ``out``; ``ends[t]`` is where table ``t``'s bytes end. Returns the bytes written."""
    pos = 0
    for t in range(values.shape[0]):
        pos = _fill_at(chunks, starts, ids, values[t], out, pos)
        ends[t] = pos
    return pos
