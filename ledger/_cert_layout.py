"""The layout shared by :mod:`ledger.slot_events` and its kernel :mod:`ledger._cert_kernel`
(kept apart so that the writer's module names it without importing numba)."""

from __future__ import annotations

# Columns of a lot: certificate id (slot, serial), the range [start, end) of it this lot holds,
# its tag, its origin (producer, slot, tag) and the next lot of its list (-1: last).
CSLOT, CSERIAL, START, END, TAG, OPRODUCER, OSLOT, OTAG, NEXT = range(9)
LOT_FIELDS = 9

# Rows of ``heads``: per holder, the first and last lot held and stored (-1: none).
HELD_HEAD, HELD_TAIL, STORE_HEAD, STORE_TAIL = range(4)

# ``meta``: the first free lot of the pool (-1: none), how many rows were ever used, how many
# lots are live (held or stored) and how many of them are stored.
FREE, USED, LIVE, STORED = range(4)

# Columns of an event row: its template, then its arguments in the template's field order (a
# certificate id takes two, an origin three).
EVENT_FIELDS = 16

# Field kinds of a template; a text kind is also its row of ``bases`` (first text of the kind).
INT, CERT, NAME, DEVICE, GENERATION_DEVICE, TAG_TEXT, ORIGIN = range(7)

# Templates (rows of ``chunk_of``, ``kind_of``, ``nfields``).
ISSUE, ISSUE_STORED, TRANSFER, STORE, LOSE, CONSUME, CANCEL, EXPORT, EXPIRE, ORIGIN_OF = range(10)

# Rows of ``amounts``.
AMOUNT_ROWS = ("generation", "discharge", "charge", "drawn", "consumption")

# Status of a call: anything but OK changed nothing. ``what``: which input (below), ``index``:
# which holder or trade; for NEED_LOTS, ``index`` is how many lots the pool must hold.
OK, NEGATIVE, NO_DEVICE, SAME_HOLDER, BAD_INDEX, NEED_LOTS = range(6)
GENERATION, DISCHARGE, TRADE, CHARGE, DRAWN, CONSUMPTION, EXPORTED, TRADE_TAG, TRADE_HOLDER = range(
    9
)
