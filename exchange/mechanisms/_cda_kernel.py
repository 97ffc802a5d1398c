"""The continuous double auction's matching loop, compiled with numba.

This is the loop of :func:`exchange.mechanisms.cda.match_python` written over int64 arrays:
the same arrivals, the same (price, arrival slot) heap keys, the same lazy removal of bids whose
buyer was filled in another book, so it gives the same trades in the same order. Heap keys are
unique within a heap (a slot is pushed at most once per heap), so every correct binary heap pops
them in the same order as :mod:`heapq`.

Imported lazily by :meth:`~exchange.mechanisms.cda.ContinuousDoubleAuction.match` (numba's own
import costs a few tenths of a second). ``cache=True`` keeps the machine code in ``__pycache__``
across processes; numba invalidates that cache only when *this* file changes, so everything the
kernel depends on lives here or arrives as an argument (the price ceiling is an argument for that
reason, not an import from :mod:`exchange.units`).
"""

from __future__ import annotations

import numba
import numpy as np

from exchange.units import Int64Array

# The key packing of exchange.mechanisms.cda: arrival slots below 2**32 in the low bits.
_SHIFT = 32
_SLOT_MASK = (1 << _SHIFT) - 1


@numba.njit(cache=True, nogil=True)
def _push(heap: Int64Array, start: int, size: int, key: int) -> None:
    """Add ``key`` to the min-heap ``heap[start:start + size]`` (the caller counts it)."""
    i = size
    while i > 0:
        parent = (i - 1) >> 1
        above = heap[start + parent]
        if above <= key:
            break
        heap[start + i] = above
        i = parent
    heap[start + i] = key


@numba.njit(cache=True, nogil=True)
def _pop(heap: Int64Array, start: int, size: int) -> None:
    """Remove the least key of the non-empty min-heap ``heap[start:start + size]``."""
    n = size - 1
    if n == 0:
        return
    last = heap[start + n]
    i = 0
    child = 1
    while child < n:
        if child + 1 < n and heap[start + child + 1] < heap[start + child]:
            child += 1
        below = heap[start + child]
        if below >= last:
            break
        heap[start + i] = below
        i = child
        child = 2 * i + 1
    heap[start + i] = last


@numba.njit(cache=True, nogil=True)
def match_orders(
    arrival: Int64Array,
    quantity: Int64Array,
    sell_order: Int64Array,
    sell_tag: Int64Array,
    sell_price: Int64Array,
    leg_order: Int64Array,
    leg_tag: Int64Array,
    leg_price: Int64Array,
    n_tags: int,
    top: int,
) -> tuple[Int64Array, Int64Array, Int64Array, Int64Array, Int64Array]:
    """The loop of :func:`~exchange.mechanisms.cda.match_python`, compiled.

    Takes the :class:`~exchange.book.Book`'s arrays as they are (one call from Python: numpy's
    per-call overheads would cost more than the whole loop on a 30-order book).

    Args:
        arrival: Per admitted order, its arrival rank (unique).
        quantity: Per admitted order, Wh (not modified).
        sell_order: Admitted index of each sell order.
        sell_tag: Tag code of each sell order, below ``n_tags``.
        sell_price: Limit price of each sell order, ticks.
        leg_order: Per buy leg, the admitted index of its order: grouped by order, ascending,
            each order's legs in its tag order.
        leg_tag: Tag code of each buy leg, below ``n_tags``.
        leg_price: The buyer's limit for that tag, ticks, at most ``top``.
        n_tags: Number of tags.
        top: The price ceiling the bid keys count down from (``MAX_PRICE_TICKS``).

    Returns:
        The trades' buy order, sell order, tag, quantity and price, in trade sequence.
    """
    n = quantity.shape[0]
    order_at = _arrival_order(arrival)
    remaining = quantity.copy()  # the loop spends it
    # Per order: a sell's tag (-1 for buys) and price; a buy's legs are
    # leg_tag/leg_price[leg_start[order]:leg_start[order + 1]].
    tag_of = np.full(n, -1, dtype=np.int64)
    price_of = np.zeros(n, dtype=np.int64)
    for i in range(sell_order.shape[0]):
        tag_of[sell_order[i]] = sell_tag[i]
        price_of[sell_order[i]] = sell_price[i]
    leg_start = np.zeros(n + 1, dtype=np.int64)
    for leg in range(leg_order.shape[0]):
        leg_start[leg_order[leg] + 1] += 1
    for order in range(n):
        leg_start[order + 1] += leg_start[order]

    # Heap h < n_tags holds the asks of tag h, heap n_tags + t the bids of tag t, all in one
    # flat array: heap h is heap[start[h]:start[h] + size[h]]. A heap's capacity is the number
    # of sells (or buy legs) of its tag, since each order rests at most once per book.
    n_heaps = 2 * n_tags
    start = np.zeros(n_heaps + 1, dtype=np.int64)
    for i in range(sell_tag.shape[0]):
        start[sell_tag[i] + 1] += 1
    for leg in range(leg_tag.shape[0]):
        start[n_tags + leg_tag[leg] + 1] += 1
    for h in range(n_heaps):
        start[h + 1] += start[h]
    heap = np.empty(start[n_heaps], dtype=np.int64)
    size = np.zeros(n_heaps, dtype=np.int64)

    # Rows: buy, sell, tag, quantity, price. Every trade empties its arriving or its resting
    # order, and an order empties once, so valid books (positive quantities) make at most n
    # trades; the buffer still grows if a book breaks that, rather than write past its end.
    out = np.empty((5, max(n, 1)), dtype=np.int64)
    count = 0

    for slot in range(n):
        order = order_at[slot]
        left = remaining[order]
        tag = tag_of[order]
        if tag >= 0:
            ask = price_of[order]
            h = n_tags + tag
            base = start[h]
            while left != 0 and size[h] > 0:
                key = heap[base]
                buyer = order_at[key & _SLOT_MASK]
                have = remaining[buyer]
                if have == 0:  # filled in another book since it rested here
                    _pop(heap, base, size[h])
                    size[h] -= 1
                    continue
                bid = top - (key >> _SHIFT)
                if bid < ask:
                    break
                qty = left if left < have else have
                if count == out.shape[1]:
                    out = _grown(out)
                out[0, count] = buyer
                out[1, count] = order
                out[2, count] = tag
                out[3, count] = qty
                out[4, count] = bid
                count += 1
                left -= qty
                remaining[buyer] = have - qty
                if have == qty:
                    _pop(heap, base, size[h])
                    size[h] -= 1
            remaining[order] = left
            if left != 0:
                _push(heap, start[tag], size[tag], (ask << _SHIFT) | slot)
                size[tag] += 1
            continue
        first = leg_start[order]
        last = leg_start[order + 1]
        for leg in range(first, last):
            tag = leg_tag[leg]
            bid = leg_price[leg]
            base = start[tag]
            while left != 0 and size[tag] > 0:
                key = heap[base]
                ask = key >> _SHIFT
                if ask > bid:
                    break
                seller = order_at[key & _SLOT_MASK]
                have = remaining[seller]
                qty = left if left < have else have
                if count == out.shape[1]:
                    out = _grown(out)
                out[0, count] = order
                out[1, count] = seller
                out[2, count] = tag
                out[3, count] = qty
                out[4, count] = ask
                count += 1
                left -= qty
                remaining[seller] = have - qty
                if have == qty:
                    _pop(heap, base, size[tag])
                    size[tag] -= 1
            if left == 0:
                break
        remaining[order] = left
        if left != 0:
            for leg in range(first, last):
                h = n_tags + leg_tag[leg]
                _push(heap, start[h], size[h], ((top - leg_price[leg]) << _SHIFT) | slot)
                size[h] += 1
    # Copies, so each column owns its memory as the Python loop's arrays do.
    return (
        out[0, :count].copy(),
        out[1, :count].copy(),
        out[2, :count].copy(),
        out[3, :count].copy(),
        out[4, :count].copy(),
    )


@numba.njit(cache=True, nogil=True)
def _arrival_order(arrival: Int64Array) -> Int64Array:
    """``order_at[s]``: the order arriving in slot ``s``, i.e. ``arrival.argsort()``.

    Arrival ranks are unique and below the number of submitted orders, a few more than the
    admitted ones, so a counting pass (linear) replaces the sort; a book breaking that (ranks
    repeated or sparse) is sorted, stably, as the Python loop does.
    """
    n = arrival.shape[0]
    if n == 0:
        return np.empty(0, dtype=np.int64)
    low = arrival.min()
    span = arrival.max() - low + 1
    if span <= 4 * n + 64:
        order_of = np.full(span, -1, dtype=np.int64)
        unique = True
        for order in range(n):
            rank = arrival[order] - low
            if order_of[rank] >= 0:
                unique = False
                break
            order_of[rank] = order
        if unique:
            order_at = np.empty(n, dtype=np.int64)
            slot = 0
            for rank in range(span):
                if order_of[rank] >= 0:
                    order_at[slot] = order_of[rank]
                    slot += 1
            return order_at
    return np.argsort(arrival, kind="mergesort").astype(np.int64)


@numba.njit(cache=True, nogil=True)
def _grown(out: Int64Array) -> Int64Array:
    """``out`` with twice the columns (the first ``out.shape[1]`` copied)."""
    bigger = np.empty((out.shape[0], 2 * out.shape[1]), dtype=np.int64)
    bigger[:, : out.shape[1]] = out
    return bigger
