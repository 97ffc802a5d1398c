"""The numba kernel behind :class:`ledger.slot_events.CompiledCertificateWriter` (imported only
from there).

One call writes one slot's certificate events, in the order and with the bytes of
:class:`ledger.fast.SlotCertificateWriter` (its reference). Certificates are *lots*: rows of an
int64 pool (``LOT_FIELDS`` columns), each in one singly linked list, a holder's held lots (this
slot) or a device's stored lots (persistent), first in, first out. The events are written from
the reference's %-formats cut into literal chunks (see ``slot_events``): a template is chunk,
field, chunk, ..., field, chunk, each field an integer, a certificate id, a text (holder, device
or tag, as JSON) or an origin (itself a template).
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

from ledger._cert_layout import (
    BAD_INDEX,
    CANCEL,
    CERT,
    CONSUME,
    CSERIAL,
    CSLOT,
    END,
    EVENT_FIELDS,
    EXPIRE,
    EXPORT,
    EXPORTED,
    FREE,
    HELD_HEAD,
    HELD_TAIL,
    INT,
    ISSUE,
    ISSUE_STORED,
    LIVE,
    LOSE,
    NAME,
    NEED_LOTS,
    NEGATIVE,
    NEXT,
    NO_DEVICE,
    OK,
    OPRODUCER,
    ORIGIN,
    ORIGIN_OF,
    OSLOT,
    OTAG,
    SAME_HOLDER,
    START,
    STORE,
    STORE_HEAD,
    STORED,
    TAG,
    TAG_TEXT,
    TRADE,
    TRADE_HOLDER,
    TRADE_TAG,
    TRANSFER,
    USED,
)
from ledger._format_kernel import _copy, _decimal

# Speed notes (measured on 29,001 holders). Helpers are inlined ("always") and none returns a
# tuple holding an array. No array is replaced inside a loop: a growing table reassigned in a
# loop costs reference counting on every iteration, even those that write nothing (it made an
# empty slot 20 times slower). So the caller sizes the lot pool (NEED_LOTS); each phase is a
# function of its own, and before it the event table is made large enough for the most events
# the phase can write (transfers: before each trade); the text is written into a buffer sized
# once from the events.


@numba.njit(cache=True, nogil=True, inline="always")
def _emit(out: Any, pos: int, events: Any, e: int, tables: Any) -> int:
    """Write event row ``e`` at ``out[pos:]`` from its template's chunks; return the end."""
    chunk_of, kind_of, nfields, text, starts, bases = tables
    t = events[e, 0]
    pos = _copy(out, pos, text, starts, chunk_of[t, 0])
    k = 1
    for j in range(nfields[t]):
        kind = kind_of[t, j]
        if kind == INT:
            pos = _decimal(out, pos, events[e, k])
            k += 1
        elif kind == CERT:
            pos = _decimal(out, pos, events[e, k])
            out[pos] = 45  # "-"
            pos = _decimal(out, pos + 1, events[e, k + 1])
            k += 2
        elif kind == ORIGIN:  # the origin template's fields: NAME, INT, TAG_TEXT
            pos = _copy(out, pos, text, starts, chunk_of[ORIGIN_OF, 0])
            pos = _copy(out, pos, text, starts, bases[NAME] + events[e, k])
            pos = _copy(out, pos, text, starts, chunk_of[ORIGIN_OF, 1])
            pos = _decimal(out, pos, events[e, k + 1])
            pos = _copy(out, pos, text, starts, chunk_of[ORIGIN_OF, 2])
            pos = _copy(out, pos, text, starts, bases[TAG_TEXT] + events[e, k + 2])
            pos = _copy(out, pos, text, starts, chunk_of[ORIGIN_OF, 3])
            k += 3
        else:  # a text: name, device, generation device or tag
            pos = _copy(out, pos, text, starts, bases[kind] + events[e, k])
            k += 1
        pos = _copy(out, pos, text, starts, chunk_of[t, j + 1])
    return pos


@numba.njit(cache=True, nogil=True)
def _fit(table: Any, used: int, rows: int) -> Any:
    """``table`` if it has ``rows`` rows, else a larger copy of its first ``used`` rows."""
    if rows <= table.shape[0]:
        return table
    shape = (max(rows, 2 * table.shape[0]),) + table.shape[1:]  # noqa: RUF005 (numba)
    bigger = np.empty(shape, dtype=table.dtype)
    bigger[:used] = table[:used]
    return bigger


@numba.njit(cache=True, nogil=True, inline="always")
def _record(events: Any, count: int, t: int, a: Any, fields: int) -> None:
    """Row ``count``: template ``t`` and the first ``fields`` arguments of ``a``."""
    events[count, 0] = t
    for j in range(fields):
        events[count, 1 + j] = a[j]


@numba.njit(cache=True, nogil=True, inline="always")
def _alloc(lots: Any, meta: Any) -> Any:
    """A free row of the pool (the caller sized the pool: see NEED_LOTS)."""
    meta[LIVE] += 1
    free = meta[FREE]
    if free >= 0:
        meta[FREE] = lots[free, NEXT]
        return free
    meta[USED] += 1
    return meta[USED] - 1


@numba.njit(cache=True, nogil=True, inline="always")
def _release(lots: Any, meta: Any, row: int) -> None:
    lots[row, NEXT] = meta[FREE]
    meta[FREE] = row
    meta[LIVE] -= 1


@numba.njit(cache=True, nogil=True, inline="always")
def _append(lots: Any, heads: Any, meta: Any, head: int, holder: int, row: int) -> None:
    """Append lot ``row`` to the list of ``holder`` whose head is row ``head`` of ``heads``."""
    if head == STORE_HEAD:
        meta[STORED] += 1
    lots[row, NEXT] = -1
    tail = heads[head + 1, holder]
    if tail < 0:
        heads[head, holder] = row
    else:
        lots[tail, NEXT] = row
    heads[head + 1, holder] = row


@numba.njit(cache=True, nogil=True, inline="always")
def _pop(lots: Any, heads: Any, meta: Any, head: int, holder: int) -> None:
    """Drop the first lot of ``holder``'s list (``head`` as in :func:`_append`)."""
    if head == STORE_HEAD:
        meta[STORED] -= 1
    row = heads[head, holder]
    heads[head, holder] = lots[row, NEXT]
    if heads[head, holder] < 0:
        heads[head + 1, holder] = -1
    _release(lots, meta, row)


@numba.njit(cache=True, nogil=True, inline="always")
def _lot(lots: Any, row: int, source: int, start: int, end: int, tag: int) -> None:
    """Fill ``row``: range ``[start, end)`` of ``source``'s certificate, with its origin."""
    lots[row, CSLOT] = lots[source, CSLOT]
    lots[row, CSERIAL] = lots[source, CSERIAL]
    lots[row, START] = start
    lots[row, END] = end
    lots[row, TAG] = tag
    lots[row, OPRODUCER] = lots[source, OPRODUCER]
    lots[row, OSLOT] = lots[source, OSLOT]
    lots[row, OTAG] = lots[source, OTAG]


@numba.njit(cache=True, nogil=True, inline="always")
def _cert(a: Any, at: int, lots: Any, row: int) -> None:
    a[at] = lots[row, CSLOT]
    a[at + 1] = lots[row, CSERIAL]


@numba.njit(cache=True, nogil=True, inline="always")
def _origin(a: Any, at: int, lots: Any, row: int) -> None:
    a[at] = lots[row, OPRODUCER]
    a[at + 1] = lots[row, OSLOT]
    a[at + 2] = lots[row, OTAG]


@numba.njit(cache=True, nogil=True, inline="always")
def _list(listed: Any, order: Any, n_order: int, holder: int) -> int:
    """Note that ``holder`` holds lots this slot (the end of slot goes in this order)."""
    if listed[holder]:
        return n_order
    listed[holder] = 1
    order[n_order] = holder
    return n_order + 1


@numba.njit(cache=True, nogil=True)
def _check(
    amounts: Any,
    buyer: Any,
    seller: Any,
    tag: Any,
    wh: Any,
    exported: Any,
    export_all: bool,
    dtag: Any,
    n_tags: int,
) -> tuple[int, int, int, int]:
    """``(status, what, index, lots needed)``: the first invalid input (``status`` not OK),
    else OK and how many new lots the slot may need at most (see ``write_slot``)."""
    n = amounts.shape[1]
    need = 1
    for i in range(n):
        for row in range(5):  # generation, discharge, charge, drawn, consumption
            amount = amounts[row, i]
            if amount < 0:
                return NEGATIVE, row if row < TRADE else row + 1, i, 0
            if amount and 1 <= row <= 3 and dtag[i] < 0:
                return NO_DEVICE, row if row < TRADE else row + 1, i, 0
            if amount and row <= 2:
                need += 1
        if not export_all and exported[i] < 0:
            return NEGATIVE, EXPORTED, i, 0
    for k in range(wh.shape[0]):
        if buyer[k] < 0 or buyer[k] >= n or seller[k] < 0 or seller[k] >= n:
            return BAD_INDEX, TRADE_HOLDER, k, 0
        if tag[k] < 0 or tag[k] >= n_tags:
            return BAD_INDEX, TRADE_TAG, k, 0
        if buyer[k] == seller[k]:
            return SAME_HOLDER, TRADE, k, 0
        if wh[k] < 0:
            return NEGATIVE, TRADE, k, 0
        need += 2
    return OK, 0, 0, need


@numba.njit(cache=True, nogil=True)
def _issue(
    slot: int,
    amounts: Any,
    issue_tag: int,
    lots: Any,
    heads: Any,
    meta: Any,
    listed: Any,
    order: Any,
    n_order: int,
    events: Any,
    count: int,
) -> tuple[int, int, int]:
    """Metered generation issues certificates: ``(count, serial, n_order)`` after it."""
    a = np.zeros(EVENT_FIELDS, dtype=np.int64)
    serial = 0
    for i in range(amounts.shape[1]):
        amount = amounts[0, i]
        if amount == 0:
            continue
        row = _alloc(lots, meta)
        lots[row, CSLOT] = slot
        lots[row, CSERIAL] = serial
        lots[row, START] = 0
        lots[row, END] = amount
        lots[row, TAG] = issue_tag
        lots[row, OPRODUCER] = i
        lots[row, OSLOT] = slot
        lots[row, OTAG] = issue_tag
        _cert(a, 0, lots, row)
        a[2] = i
        a[3] = i
        _origin(a, 4, lots, row)
        a[7] = slot
        a[8] = issue_tag
        a[9] = amount
        _record(events, count, ISSUE, a, 10)
        count += 1
        serial += 1
        n_order = _list(listed, order, n_order, i)
        _append(lots, heads, meta, HELD_HEAD, i, row)
    return count, serial, n_order


@numba.njit(cache=True, nogil=True)
def _discharge(
    slot: int,
    amounts: Any,
    dtag: Any,
    lots: Any,
    heads: Any,
    meta: Any,
    listed: Any,
    order: Any,
    n_order: int,
    events: Any,
    count: int,
    serial: int,
) -> tuple[int, int, int]:
    """Storage discharge: stored lots, first in first out, issue certificates of the device's
    tag. ``(count, serial, n_order)`` after it."""
    a = np.zeros(EVENT_FIELDS, dtype=np.int64)
    for i in range(amounts.shape[1]):
        amount = amounts[1, i]
        if amount == 0 or heads[STORE_HEAD, i] < 0:
            continue
        n_order = _list(listed, order, n_order, i)
        while amount and heads[STORE_HEAD, i] >= 0:
            stored = heads[STORE_HEAD, i]
            start = lots[stored, START]
            size = lots[stored, END] - start
            take = size if size < amount else amount
            row = _alloc(lots, meta)
            _lot(lots, row, stored, 0, take, dtag[i])
            lots[row, CSLOT] = slot
            lots[row, CSERIAL] = serial
            _cert(a, 0, lots, row)
            a[2] = i
            a[3] = i
            _origin(a, 4, lots, stored)
            a[7] = slot
            _cert(a, 8, lots, stored)
            a[10] = start
            a[11] = take
            a[12] = dtag[i]
            a[13] = take
            _record(events, count, ISSUE_STORED, a, 14)
            count += 1
            serial += 1
            _append(lots, heads, meta, HELD_HEAD, i, row)
            if take == size:
                _pop(lots, heads, meta, STORE_HEAD, i)
            else:
                lots[stored, START] = start + take
            amount -= take
    return count, serial, n_order


@numba.njit(cache=True, nogil=True)
def _transfer(
    slot: int,
    first: int,
    buyer: Any,
    seller: Any,
    tag: Any,
    wh: Any,
    market_tags: Any,
    dtag: Any,
    lots: Any,
    heads: Any,
    meta: Any,
    listed: Any,
    order: Any,
    n_order: int,
    events: Any,
    count: int,
) -> tuple[int, int, int]:
    """Trades from ``first`` on move the seller's lots of the trade's tag, then of its
    discharge tag, until the next trade might not fit in ``events`` (a trade writes at most
    one event per lot held). ``(next trade, count, n_order)``."""
    a = np.zeros(EVENT_FIELDS, dtype=np.int64)
    for k in range(first, wh.shape[0]):
        if count + (meta[LIVE] - meta[STORED]) + 2 > events.shape[0]:
            return k, count, n_order
        amount = wh[k]
        if amount == 0:
            continue
        b, s = buyer[k], seller[k]
        want_tag = market_tags[tag[k]]
        left = amount
        for attempt in range(2):
            if attempt == 1:
                rest = dtag[s]
                if left == 0 or rest < 0 or rest == market_tags[tag[k]]:
                    break
                want_tag = rest
            previous = -1
            row = heads[HELD_HEAD, s]
            while row >= 0 and left:
                following = lots[row, NEXT]
                if lots[row, TAG] != want_tag:
                    previous = row
                    row = following
                    continue
                start = lots[row, START]
                size = lots[row, END] - start
                take = size if size < left else left
                n_order = _list(listed, order, n_order, b)
                _cert(a, 0, lots, row)
                a[2] = s
                a[3] = slot
                a[4] = start
                a[5] = b
                a[6] = k
                a[7] = take
                _record(events, count, TRANSFER, a, 8)
                count += 1
                moved = _alloc(lots, meta)
                _lot(lots, moved, row, start, start + take, want_tag)
                _append(lots, heads, meta, HELD_HEAD, b, moved)
                left -= take
                if take < size:
                    lots[row, START] = start + take
                    previous = row
                else:  # unlink the emptied lot
                    if previous < 0:
                        heads[HELD_HEAD, s] = following
                    else:
                        lots[previous, NEXT] = following
                    if heads[HELD_TAIL, s] == row:
                        heads[HELD_TAIL, s] = previous
                    _release(lots, meta, row)
                row = following
    return wh.shape[0], count, n_order


@numba.njit(cache=True, nogil=True)
def _charge(
    slot: int, amounts: Any, lots: Any, heads: Any, meta: Any, events: Any, count: int
) -> int:
    """Storage charging stores held lots, first in first out, in the device."""
    a = np.zeros(EVENT_FIELDS, dtype=np.int64)
    for i in range(amounts.shape[1]):
        amount = amounts[2, i]
        while amount and heads[HELD_HEAD, i] >= 0:
            row = heads[HELD_HEAD, i]
            start = lots[row, START]
            size = lots[row, END] - start
            take = size if size < amount else amount
            _cert(a, 0, lots, row)
            a[2] = i
            a[3] = i
            a[4] = slot
            a[5] = start
            a[6] = take
            _record(events, count, STORE, a, 7)
            count += 1
            stored = _alloc(lots, meta)
            _lot(lots, stored, row, start, start + take, lots[row, TAG])
            _append(lots, heads, meta, STORE_HEAD, i, stored)
            amount -= take
            if take < size:
                lots[row, START] = start + take
                break
            _pop(lots, heads, meta, HELD_HEAD, i)
    return count


@numba.njit(cache=True, nogil=True)
def _lose(
    slot: int, amounts: Any, lots: Any, heads: Any, meta: Any, events: Any, count: int
) -> int:
    """Conversion losses and driving take stored lots out of the device."""
    a = np.zeros(EVENT_FIELDS, dtype=np.int64)
    for i in range(amounts.shape[1]):
        amount = amounts[3, i]
        while amount and heads[STORE_HEAD, i] >= 0:
            row = heads[STORE_HEAD, i]
            start = lots[row, START]
            size = lots[row, END] - start
            take = size if size < amount else amount
            _cert(a, 0, lots, row)
            a[2] = i
            a[3] = slot
            a[4] = start
            a[5] = take
            _record(events, count, LOSE, a, 6)
            count += 1
            if take == size:
                _pop(lots, heads, meta, STORE_HEAD, i)
            else:
                lots[row, START] = start + take
            amount -= take
    return count


@numba.njit(cache=True, nogil=True)
def _consume(
    slot: int, amounts: Any, lots: Any, heads: Any, meta: Any, events: Any, count: int
) -> int:
    """Metered consumption is recorded and cancels held lots."""
    a = np.zeros(EVENT_FIELDS, dtype=np.int64)
    for i in range(amounts.shape[1]):
        amount = amounts[4, i]
        if amount == 0:
            continue
        a[0] = i
        a[1] = slot
        a[2] = amount
        _record(events, count, CONSUME, a, 3)
        count += 1
        while amount and heads[HELD_HEAD, i] >= 0:
            row = heads[HELD_HEAD, i]
            start = lots[row, START]
            size = lots[row, END] - start
            take = size if size < amount else amount
            _cert(a, 0, lots, row)
            a[2] = i
            a[3] = slot
            a[4] = start
            a[5] = take
            _record(events, count, CANCEL, a, 6)
            count += 1
            amount -= take
            if take < size:
                lots[row, START] = start + take
                break
            _pop(lots, heads, meta, HELD_HEAD, i)
    return count


@numba.njit(cache=True, nogil=True)
def _end(
    slot: int,
    exported: Any,
    export_all: bool,
    lots: Any,
    heads: Any,
    meta: Any,
    listed: Any,
    order: Any,
    n_order: int,
    events: Any,
    count: int,
) -> int:
    """What is still held is exported up to the metered export, the rest expires; every
    holder that held lots this slot, in the order it first did."""
    a = np.zeros(EVENT_FIELDS, dtype=np.int64)
    for m in range(n_order):
        i = order[m]
        cap = exported[i] if not export_all else 0
        row = heads[HELD_HEAD, i]
        while row >= 0:
            start = lots[row, START]
            size = lots[row, END] - start
            done = size if export_all or cap > size else cap
            if not export_all:
                cap -= done
            _cert(a, 0, lots, row)
            a[2] = i
            a[3] = slot
            if done:
                a[4] = start
                a[5] = done
                _record(events, count, EXPORT, a, 6)
                count += 1
            if done < size:
                a[4] = start + done
                a[5] = size - done
                _record(events, count, EXPIRE, a, 6)
                count += 1
            following = lots[row, NEXT]
            _release(lots, meta, row)
            row = following
        heads[HELD_HEAD, i] = -1
        heads[HELD_TAIL, i] = -1
        listed[i] = 0
    return count


@numba.njit(cache=True, nogil=True)
def _render(out: Any, events: Any, count: int, tables: Any) -> int:
    """The ``count`` event rows as text joined by newlines into ``out``; return its length."""
    pos = 0
    for e in range(count):
        if e:
            out[pos] = 10
            pos += 1
        pos = _emit(out, pos, events, e, tables)
    return pos


@numba.njit(cache=True, nogil=True)
def write_slot(
    slot: int,
    amounts: Any,
    trades: Any,
    exported: Any,
    export_all: bool,
    market_tags: Any,
    issue_tag: int,
    dtag: Any,
    lots: Any,
    heads: Any,
    meta: Any,
    listed: Any,
    order: Any,
    tables: Any,
    room: Any,
    events: Any,
    out: Any,
) -> Any:
    """One slot's events; returns ``(status, what, index, events, out, size, count)``.

    ``amounts`` is ``5 x holders`` int64 (generation, discharge, charge, drawn, consumption Wh;
    0 means no call for that holder), ``trades`` is ``4 x trades`` int64 (buyer, seller, tag,
    Wh; tag: an index into ``market_tags``, the tags' ids), ``exported`` the metered export per
    holder (unused if ``export_all``). ``dtag`` is each holder's discharge tag id (-1: no
    device). ``lots``, ``heads``, ``meta`` are the state (``listed`` and ``order`` are scratch
    of ``holders`` each, ``listed`` all zero). ``room[t]`` bounds the bytes of an event of
    template ``t`` and its newline. ``events`` (``rows x EVENT_FIELDS``) and ``out`` are
    buffers, returned larger when they were too small: ``out[:size]`` holds the ``count``
    events joined by newlines.

    A status other than OK changes nothing: an invalid input (:func:`_check`), or NEED_LOTS
    when the pool has fewer than ``index`` rows (each issue, discharge and charge call and each
    trade's two transfers add at most one lot, and one more may exist for a moment).
    """
    buyer, seller, tag, wh = trades[0], trades[1], trades[2], trades[3]
    status, what, index, need = _check(
        amounts, buyer, seller, tag, wh, exported, export_all, dtag, market_tags.shape[0]
    )
    if status != OK:
        return status, what, index, events, out, 0, 0
    if meta[LIVE] + need > lots.shape[0]:
        return NEED_LOTS, 0, meta[LIVE] + need, events, out, 0, 0
    n = amounts.shape[1]
    # Before each phase, room for the most events it can write: one per issuing holder; one
    # per stored lot (discharge, lose); one per held lot (charge, each trade); one per
    # consuming holder and per held lot (consume); two per held lot (export and expire).
    events = _fit(events, 0, n)
    count, serial, n_order = _issue(
        slot, amounts, issue_tag, lots, heads, meta, listed, order, 0, events, 0
    )
    events = _fit(events, count, count + meta[STORED])
    count, serial, n_order = _discharge(
        slot, amounts, dtag, lots, heads, meta, listed, order, n_order, events, count, serial
    )
    k = 0
    while k < wh.shape[0]:
        events = _fit(events, count, count + meta[LIVE] - meta[STORED] + 2)
        k, count, n_order = _transfer(
            slot,
            k,
            buyer,
            seller,
            tag,
            wh,
            market_tags,
            dtag,
            lots,
            heads,
            meta,
            listed,
            order,
            n_order,
            events,
            count,
        )
    events = _fit(events, count, count + meta[LIVE] - meta[STORED])
    count = _charge(slot, amounts, lots, heads, meta, events, count)
    events = _fit(events, count, count + meta[STORED])
    count = _lose(slot, amounts, lots, heads, meta, events, count)
    events = _fit(events, count, count + n + meta[LIVE] - meta[STORED])
    count = _consume(slot, amounts, lots, heads, meta, events, count)
    events = _fit(events, count, count + 2 * (meta[LIVE] - meta[STORED]))
    count = _end(
        slot, exported, export_all, lots, heads, meta, listed, order, n_order, events, count
    )
    size = 0
    for e in range(count):
        size += room[events[e, 0]]
    out = _fit(out, 0, size)
    return OK, 0, 0, events, out, _render(out, events, count, tables), count


@numba.njit(cache=True, nogil=True)
def write_slots(
    first: int,
    slots: Any,
    amounts: Any,
    trades: Any,
    trade_starts: Any,
    exported: Any,
    export_all: bool,
    market_tags: Any,
    issue_tag: int,
    dtag: Any,
    lots: Any,
    heads: Any,
    meta: Any,
    listed: Any,
    order: Any,
    tables: Any,
    room: Any,
    events: Any,
    out: Any,
    text: Any,
    ends: Any,
    counts: Any,
) -> Any:
    """:func:`write_slot` of writers ``first``, ``first + 1``, ... of a batch (one community
    each), one slot each; returns ``(stop, status, what, index, events, out, text)``.

    Writer ``b`` has its own state ``lots[b]``, ``heads[b]`` and ``meta[b]`` (typed lists) and
    takes ``amounts[b]`` (``5 x holders``), the trades ``trades[:, trade_starts[b]:
    trade_starts[b + 1]]`` and ``exported[b]``; the rest is the batch's (one community layout,
    one tag table). Writer ``b``'s events are ``text[ends[b - 1]:ends[b]]`` (from 0 for the
    first), ``counts[b]`` of them joined by newlines; ``text`` is returned larger when it was
    too small. ``stop`` is the number of writers done: where it is below the batch's size,
    writer ``stop`` returned ``status`` (its state unchanged: grow its pool on NEED_LOTS and
    call again from it, or raise its error).
    """
    at = 0 if first == 0 else ends[first - 1]
    for b in range(first, slots.shape[0]):
        status, what, index, events, out, size, count = write_slot(
            slots[b],
            amounts[b],
            trades[:, trade_starts[b] : trade_starts[b + 1]],
            exported[b],
            export_all,
            market_tags,
            issue_tag,
            dtag,
            lots[b],
            heads[b],
            meta[b],
            listed,
            order,
            tables,
            room,
            events,
            out,
        )
        if status != OK:
            return b, status, what, index, events, out, text
        text = _fit(text, at, at + size)
        for k in range(size):
            text[at + k] = out[k]
        at += size
        ends[b] = at
        counts[b] = count
    return slots.shape[0], OK, 0, 0, events, out, text
