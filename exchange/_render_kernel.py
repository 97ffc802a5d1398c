"""Records written from bytes %-format fragments in one compiled pass (:mod:`exchange.arrays`).

``b"".join(fragments[codes]) % tuple(values)`` with the NUL bytes replaced by a suffix: what
:func:`exchange.arrays._render` computes with Python's bytes formatting, where each integer
costs a Python object and a conversion (a 20,000-home slot writes some 90,000 of them). The
fragments arrive parsed (:func:`exchange.arrays._parse_fragments`) into operations: copy a
literal, write the next value in decimal (``%d``), write the suffix (a NUL).

Imported on first use; ``cache=True``, and numba invalidates that cache only when this file
changes, so the kernel reads nothing from other modules (the operation codes are arguments).
"""

from __future__ import annotations

import numba
import numpy as np

from exchange.units import Int64Array

_INT64_MIN = -(2**63)


@numba.njit(cache=True, nogil=True)
def render(
    literals: np.ndarray,
    op_kind: Int64Array,
    op_start: Int64Array,
    op_end: Int64Array,
    fragment_ops: Int64Array,
    codes: Int64Array,
    values: Int64Array,
    suffix: np.ndarray,
    value_op: int,
    suffix_op: int,
) -> tuple[bool, np.ndarray]:
    """The bytes of fragments ``codes``, one after the other.

    Args:
        literals: The fragments' literal bytes, one after the other (uint8).
        op_kind: Per operation: ``value_op``, ``suffix_op`` or anything else (a literal).
        op_start: A literal operation copies ``literals[op_start:op_end]``.
        op_end: See ``op_start``.
        fragment_ops: Fragment ``f``'s operations are ``fragment_ops[f]:fragment_ops[f + 1]``.
        codes: The fragments to write, in order.
        values: The integers the value operations write, in order.
        suffix: The bytes of a suffix operation (uint8).
        value_op: The kind of a value operation.
        suffix_op: The kind of a suffix operation.

    Returns:
        Whether the values were exactly as many as the value operations and none was the
        least int64 (if not, the caller formats in Python, which raises or writes it as Python
        does), and the bytes (uint8).
    """
    size = 0
    n_values = 0
    n_suffixes = 0
    for c in codes:
        for op in range(fragment_ops[c], fragment_ops[c + 1]):
            kind = op_kind[op]
            if kind == value_op:
                n_values += 1
            elif kind == suffix_op:
                n_suffixes += 1
            else:
                size += op_end[op] - op_start[op]
    if n_values != values.shape[0]:
        return False, np.empty(0, dtype=np.uint8)
    # A value takes at most 20 bytes (a sign and 19 digits, or 20 digits).
    out = np.empty(size + 20 * n_values + suffix.shape[0] * n_suffixes, dtype=np.uint8)
    digits = np.empty(20, dtype=np.uint8)
    at = 0
    used = 0
    for c in codes:
        for op in range(fragment_ops[c], fragment_ops[c + 1]):
            kind = op_kind[op]
            if kind == value_op:
                value = values[used]
                used += 1
                if value < 0:
                    if value == _INT64_MIN:  # no int64 magnitude: Python's formatting then
                        return False, np.empty(0, dtype=np.uint8)
                    out[at] = 45  # b"-"
                    at += 1
                    value = -value
                n_digits = 0
                while True:
                    digits[n_digits] = 48 + value % 10
                    n_digits += 1
                    value //= 10
                    if value == 0:
                        break
                for k in range(n_digits - 1, -1, -1):
                    out[at] = digits[k]
                    at += 1
            elif kind == suffix_op:
                # Loops rather than slice assignments: numba's check for overlapping operands
                # costs more than copying a few bytes.
                for k in range(suffix.shape[0]):
                    out[at] = suffix[k]
                    at += 1
            else:
                for k in range(op_start[op], op_end[op]):
                    out[at] = literals[k]
                    at += 1
    return True, out[:at]
