"""The continuous double auction's matching loop, and a whole cda slot, compiled with numba.

:func:`match_orders` is the loop of :func:`exchange.mechanisms.cda.match_python` written over
int64 arrays: the same arrivals, the same (price, arrival slot) heap keys, the same lazy removal
of bids whose buyer was filled in another book, so it gives the same trades in the same order.
Heap keys are unique within a heap (a slot is pushed at most once per heap), so every correct
binary heap pops them in the same order as :mod:`heapq`.

:func:`clear_slot` clears the usual slot of :class:`exchange.arrays.ArrayExchange` (every order
admitted) in one call around that loop: validation, book, matching, money, prices, per-agent
totals and the records' canonical JSON (:func:`render`). It lives in this file because it calls
:func:`match_orders` (see the caching note below).

Imported lazily by :meth:`~exchange.mechanisms.cda.ContinuousDoubleAuction.match` (numba's own
import costs a few tenths of a second). ``cache=True`` keeps the machine code in ``__pycache__``
across processes; numba invalidates that cache only when *this* file changes, so everything the
kernel depends on lives here or arrives as an argument (the price ceiling is an argument for that
reason, not an import from :mod:`exchange.units`).
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

from exchange.units import Int64Array

# The key packing of exchange.mechanisms.cda: arrival slots below 2**32 in the low bits.
_SHIFT = 32
_SLOT_MASK = (1 << _SHIFT) - 1


# SplitMix64's constants (exchange.book), as uint64: numba turns uint64 mixed with int64 into
# float64, so every operand below is a uint64.
_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_MUL1 = np.uint64(0xBF58476D1CE4E5B9)
_MUL2 = np.uint64(0x94D049BB133111EB)
_U27, _U30, _U31 = np.uint64(27), np.uint64(30), np.uint64(31)


@numba.njit(cache=True, nogil=True)
def arrival_keys(n: int, start: np.uint64) -> np.ndarray:
    """:func:`exchange.book.arrival_keys` of ``n`` positions, from ``start = (seed + GAMMA) mod
    2**64`` (a ``np.uint64``): the states ``start + i * GAMMA`` by wrapping additions, each
    through SplitMix64's output function."""
    keys = np.empty(n, np.uint64)
    state = start
    for i in range(n):
        z = state
        z = (z ^ (z >> _U30)) * _MUL1
        z = (z ^ (z >> _U27)) * _MUL2
        keys[i] = z ^ (z >> _U31)
        state += _GAMMA
    return keys


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


# ---------------------------------------------------------------------------------------------
# A whole slot in one call: validation, book, matching, money, prices, totals, records
# ---------------------------------------------------------------------------------------------
# Here, not in a module of its own: the slot kernel calls match_orders, and numba's on-disk
# cache of a caller is invalidated only when the caller's own file changes, so the two must
# share a file or an edit to the loop would leave a stale slot kernel in the cache.

_INT64_MIN = -(2**63)

# Literals are copied by memcpy (a byte loop costs about 2 ns a byte, a slice assignment more:
# numba checks its operands for overlap); numba itself only writes into the output and never
# reads what memcpy wrote there, so it needs to know nothing about those bytes.
_memcpy: Any = numba.types.ExternalFunction(
    "memcpy", numba.types.voidptr(numba.types.voidptr, numba.types.voidptr, numba.types.uintp)
)

# memchr's result is a pointer, taken as an integer address (never 0 here: see clear_tables).
_memchr: Any = numba.types.ExternalFunction(
    "memchr", numba.types.int64(numba.types.voidptr, numba.types.int32, numba.types.uintp)
)

SLOT_OK = 0
"""Every order admitted: the slot kernel's outputs are the clearing."""
SLOT_REFERENCE = 1
"""Something to reject, a malformed column or an int64 bound in reach: clear on the reference
path (which rejects, raises or computes in Python ints), the outputs are empty."""


@numba.njit(cache=True, nogil=True)
def _half_even(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded half to even, for ``denominator > 0``: the money of a
    trade (:func:`exchange.units.money_array`) and a volume-weighted price
    (:func:`exchange.clearing.tag_prices`) round so."""
    quotient = numerator // denominator
    twice = 2 * (numerator - quotient * denominator)
    if twice > denominator or (twice == denominator and quotient % 2 == 1):
        quotient += 1
    return quotient


@numba.njit(cache=True, nogil=True)
def clear_slot(
    agent: Int64Array,
    is_buy: np.ndarray,
    quantity: Int64Array,
    prices: Int64Array,
    sell_tag: Int64Array,
    sell_price: Int64Array,
    keys: np.ndarray,
    allowed: np.ndarray,
    agent_ok: np.ndarray,
    sorted_codes: Int64Array,
    lo: int,
    hi: int,
    max_quantity: int,
    safe_total: int,
    by_price: bool,
    top: int,
    money_divisor: int,
    literals: np.ndarray,
    op_kind: Int64Array,
    op_start: Int64Array,
    op_end: Int64Array,
    fragment_ops: Int64Array,
    suffix: np.ndarray,
    value_op: int,
    suffix_op: int,
) -> tuple[int, Int64Array, Int64Array, Int64Array, Int64Array, Int64Array, np.ndarray]:
    """Clear one slot of order columns with the cda when every order is admitted.

    The numeric path of :meth:`exchange.arrays.ArrayExchange.clear` for its usual slot, fused
    so that a 30-order slot costs one call instead of a hundred numpy calls. Constants arrive
    as arguments (see the module docstring on caching).

    Args:
        agent: Per order, its agent's index (rows of ``allowed``).
        is_buy: Per order.
        quantity: Per order, Wh.
        prices: ``orders x tags``: a buy's limit per tag code.
        sell_tag: A sell's tag code.
        sell_price: A sell's limit, ticks.
        keys: Per order, its arrival key (:func:`exchange.book.arrival_keys`, uint64; drawn
            there, in numpy, so that the one definition of the arrival order stays there).
        allowed: ``agents x tags``: the tags each agent may sell.
        agent_ok: Per agent, whether its orders are admissible at all (known, named).
        sorted_codes: The tag codes in the order of the tags' names (a buy record's
            ``prices`` object lists them so).
        lo: Lowest admissible price, ticks.
        hi: Highest admissible price, ticks.
        max_quantity: Largest admissible quantity, Wh.
        safe_total: The bound on the admitted orders' total Wh (``match_book`` raises above).
        by_price: The ``price`` tag-order rule (else ``config``).
        top: The price ceiling of the cda's bid keys.
        money_divisor: :data:`exchange.units.MONEY_DIVISOR`.
        literals: The record fragments' operations (:func:`render`): literal bytes, ...
        op_kind: ... the kind of each operation, ...
        op_start: ... where a literal starts in ``literals``, ...
        op_end: ... and ends, ...
        fragment_ops: ... and each fragment's operations.
        suffix: The orders' id suffix as JSON text (uint8).
        value_op: The kind of a value operation.
        suffix_op: The kind of a suffix operation.

    Returns:
        ``status`` (:data:`SLOT_OK` or :data:`SLOT_REFERENCE`), then, on :data:`SLOT_OK`:

        * ``trades``: ``8 x trades``: buy row, sell row, buyer, seller, tag, Wh, price, amount;
        * ``clearing_prices`` and ``volume`` per tag code (``-1``: the tag did not trade);
        * ``totals``: ``4 x agents``: Wh bought, Wh sold, money paid, money received;
        * ``by_tag``: ``agents x tags``: Wh bought per tag;
        * the JSON of the orders, then of the trades (uint8; :func:`render_records`).
    """
    n = agent.shape[0]
    n_agents = allowed.shape[0]
    n_tags = allowed.shape[1]
    empty = np.empty(0, dtype=np.int64)
    empty2 = np.empty((0, 0), dtype=np.int64)
    reference = (SLOT_REFERENCE, empty2, empty, empty, empty2, empty2, np.empty(0, np.uint8))

    # Validation: every rule of exchange.validation that columns can break, per row. One
    # failure sends the slot to the reference path, which names the reasons (or raises on a
    # malformed column), so only the all-admitted slot is cleared here.
    seen = np.zeros(n_agents, dtype=np.bool_)
    n_buys = 0
    total = 0
    for i in range(n):
        a = agent[i]
        if a < 0 or a >= n_agents:
            return reference
        if seen[a] or not agent_ok[a]:
            return reference
        seen[a] = True
        q = quantity[i]
        if q <= 0 or q > max_quantity:
            return reference
        total += q
        if total > safe_total:
            return reference
        if is_buy[i]:
            n_buys += 1
            for t in range(n_tags):
                p = prices[i, t]
                if p < lo or p > hi:
                    return reference
        else:
            t = sell_tag[i]
            if t < 0 or t >= n_tags:
                return reference
            if not allowed[a, t]:
                return reference
            p = sell_price[i]
            if p < lo or p > hi:
                return reference

    # Arrival ranks: ascending key, earlier arrival (exchange.book.arrival_ranks). Keys are
    # distinct (SplitMix64 is a bijection of distinct states), so any sort gives these ranks.
    arrival = np.empty(n, dtype=np.int64)
    order_by_key = np.argsort(keys, kind="mergesort")
    for r in range(n):
        arrival[order_by_key[r]] = r

    # The book: sells in row order; each buy's legs ranked by the tag-order rule (price
    # descending, ties in tag-code order; or tag-code order), as exchange.book ranks them.
    n_sells = n - n_buys
    sell_order = np.empty(n_sells, dtype=np.int64)
    book_sell_tag = np.empty(n_sells, dtype=np.int64)
    book_sell_price = np.empty(n_sells, dtype=np.int64)
    n_legs = n_buys * n_tags
    leg_order = np.empty(n_legs, dtype=np.int64)
    leg_tag = np.empty(n_legs, dtype=np.int64)
    leg_price = np.empty(n_legs, dtype=np.int64)
    s = 0
    leg = 0
    for i in range(n):
        if is_buy[i]:
            first = leg
            for t in range(n_tags):
                p = prices[i, t]
                leg_order[leg] = i
                # Insertion sort, stable: equal prices keep tag-code order.
                k = leg
                if by_price:
                    while k > first and leg_price[k - 1] < p:
                        leg_tag[k] = leg_tag[k - 1]
                        leg_price[k] = leg_price[k - 1]
                        k -= 1
                leg_tag[k] = t
                leg_price[k] = p
                leg += 1
        else:
            sell_order[s] = i
            book_sell_tag[s] = sell_tag[i]
            book_sell_price[s] = sell_price[i]
            s += 1

    if n == 0:
        buy_row = empty
        sell_row = empty
        tag = empty
        traded = empty
        price = empty
    else:
        buy_row, sell_row, tag, traded, price = match_orders(
            arrival,
            quantity,
            sell_order,
            book_sell_tag,
            book_sell_price,
            leg_order,
            leg_tag,
            leg_price,
            n_tags,
            top,
        )

    # Money (exchange.units.money_array), volumes and volume-weighted prices per tag
    # (exchange.clearing.tag_prices), totals per agent, the trades' JSON.
    k = traded.shape[0]
    trades = np.empty((8, k), dtype=np.int64)
    volume = np.zeros(n_tags, dtype=np.int64)
    value = np.zeros(n_tags, dtype=np.int64)
    totals = np.zeros((4, n_agents), dtype=np.int64)
    by_tag = np.zeros((n_agents, n_tags), dtype=np.int64)
    volume_sum = 0
    highest = 0
    for j in range(k):
        q = traded[j]
        p = price[j]
        # At most 10**12 Wh x 10**6 ticks: inside int64.
        quotient = _half_even(q * p, money_divisor)
        b = agent[buy_row[j]]
        v = agent[sell_row[j]]
        t = tag[j]
        trades[0, j] = buy_row[j]
        trades[1, j] = sell_row[j]
        trades[2, j] = b
        trades[3, j] = v
        trades[4, j] = t
        trades[5, j] = q
        trades[6, j] = p
        trades[7, j] = quotient
        volume[t] += q
        volume_sum += q
        if p > highest:
            highest = p
        totals[0, b] += q
        totals[1, v] += q
        totals[2, b] += quotient
        totals[3, v] += quotient
        by_tag[b, t] += q
    # tag_prices sums quantity x price per tag in int64 only below this bound (else in Python
    # ints): the reference path handles what would overflow here.
    if volume_sum > 0 and highest > (2**63 - 1) // volume_sum:
        return reference
    for j in range(k):
        value[tag[j]] += traded[j] * price[j]
    clearing_prices = np.full(n_tags, -1, dtype=np.int64)
    for t in range(n_tags):
        if volume[t]:
            clearing_prices[t] = _half_even(value[t], volume[t])

    ok, text = render_records(
        agent,
        is_buy,
        quantity,
        prices,
        sell_tag,
        sell_price,
        sorted_codes,
        n_agents,
        trades[2],
        trades[3],
        trades[4],
        trades[5],
        trades[6],
        trades[7],
        literals,
        op_kind,
        op_start,
        op_end,
        fragment_ops,
        suffix,
        value_op,
        suffix_op,
    )
    if not ok:  # pragma: no cover - validated values are never the least int64
        return reference
    return (SLOT_OK, trades, clearing_prices, volume, totals, by_tag, text)


@numba.njit(cache=True, nogil=True)
def render_records(
    agent: Int64Array,
    is_buy: np.ndarray,
    quantity: Int64Array,
    prices: Int64Array,
    sell_tag: Int64Array,
    sell_price: Int64Array,
    sorted_codes: Int64Array,
    n_agents: int,
    buyer: Int64Array,
    seller: Int64Array,
    tag: Int64Array,
    traded: Int64Array,
    price: Int64Array,
    amount: Int64Array,
    literals: np.ndarray,
    op_kind: Int64Array,
    op_start: Int64Array,
    op_end: Int64Array,
    fragment_ops: Int64Array,
    suffix: np.ndarray,
    value_op: int,
    suffix_op: int,
) -> tuple[bool, np.ndarray]:
    """The canonical JSON of a slot's orders, then of its trades, each record after a newline.

    Each record is written from fragments (:class:`exchange.arrays.ArrayExchange` lists them):
    per order its agent's head ``a`` then ``A`` for a buy's tail or ``A + 1 + tag`` for a
    sell's; per trade ``F``, ``F + 1 + buyer``, ``F + 1 + A + seller``, ``F + 1 + 2A + tag``,
    where ``A`` is the number of agents and ``F = A + 1 + tags``; the integers in record order
    (a buy's prices by tag name and its Wh; a sell's price and Wh; a trade's amount, price and
    Wh).

    Args:
        agent: Per order, its agent's index (below ``n_agents``).
        is_buy: Per order.
        quantity: Per order, Wh.
        prices: ``orders x tags``: a buy's limit per tag code.
        sell_tag: A sell's tag code (read on sell rows only).
        sell_price: A sell's limit, ticks.
        sorted_codes: The tag codes in the order of the tags' names.
        n_agents: ``A``.
        buyer: Per trade, the buyer's agent index.
        seller: Per trade, the seller's agent index.
        tag: Per trade, the tag code.
        traded: Per trade, Wh.
        price: Per trade, ticks.
        amount: Per trade, money.
        literals: The fragments' operations, as :func:`render` takes them.
        op_kind: See ``literals``.
        op_start: See ``literals``.
        op_end: See ``literals``.
        fragment_ops: See ``literals``.
        suffix: The orders' id suffix as JSON text (uint8).
        value_op: The kind of a value operation.
        suffix_op: The kind of a suffix operation.

    Returns:
        :func:`render`'s flag and bytes.
    """
    n = agent.shape[0]
    k = traded.shape[0]
    n_tags = prices.shape[1]
    n_buys = 0
    for i in range(n):
        if is_buy[i]:
            n_buys += 1
    n_fragments = n_agents + 1 + n_tags
    codes = np.empty(2 * n + 4 * k, dtype=np.int64)
    values = np.empty(n_buys * (n_tags + 1) + 2 * (n - n_buys) + 3 * k, dtype=np.int64)
    at = 0
    for i in range(n):
        codes[2 * i] = agent[i]
        if is_buy[i]:
            codes[2 * i + 1] = n_agents
            for c in range(n_tags):
                values[at] = prices[i, sorted_codes[c]]
                at += 1
        else:
            codes[2 * i + 1] = n_agents + 1 + sell_tag[i]
            values[at] = sell_price[i]
            at += 1
        values[at] = quantity[i]
        at += 1
    for j in range(k):
        codes[2 * n + 4 * j] = n_fragments
        codes[2 * n + 4 * j + 1] = n_fragments + 1 + buyer[j]
        codes[2 * n + 4 * j + 2] = n_fragments + 1 + n_agents + seller[j]
        codes[2 * n + 4 * j + 3] = n_fragments + 1 + 2 * n_agents + tag[j]
        values[at] = amount[j]
        values[at + 1] = price[j]
        values[at + 2] = traded[j]
        at += 3
    return render(
        literals,
        op_kind,
        op_start,
        op_end,
        fragment_ops,
        codes,
        values,
        suffix,
        value_op,
        suffix_op,
    )


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
                for k in range(suffix.shape[0]):  # a few bytes: a call would cost more
                    out[at] = suffix[k]
                    at += 1
            else:
                a = op_start[op]
                n = op_end[op] - a
                _memcpy(np.int64(out.ctypes.data) + at, np.int64(literals.ctypes.data) + a, n)
                at += n
    return True, out[:at]


@numba.njit(cache=True, nogil=True)
def clear_tables(
    side: np.ndarray,
    buy: int,
    quantity: Int64Array,
    prices: Int64Array,
    sell_tag: Int64Array,
    starts: np.ndarray,
    allowed: np.ndarray,
    agent_ok: np.ndarray,
    sorted_codes: Int64Array,
    lo: int,
    hi: int,
    max_quantity: int,
    safe_total: int,
    by_price: bool,
    top: int,
    money_divisor: int,
    literals: np.ndarray,
    op_kind: Int64Array,
    op_start: Int64Array,
    op_end: Int64Array,
    fragment_ops: Int64Array,
    suffixes: np.ndarray,
    suffix_offsets: Int64Array,
    value_op: int,
    suffix_op: int,
) -> tuple[Int64Array, Int64Array, Int64Array, Int64Array, Int64Array, Int64Array, np.ndarray]:
    """Clear the per-agent order tables of ``B`` communities of one exchange in one call.

    For each community ``b``: its orders (one row per agent whose ``side`` is not 0, in agent
    order, as :func:`exchange._rows_kernel.table_rows` lists them), their arrival keys
    (:func:`arrival_keys` from ``starts[b]``) and :func:`clear_slot`, with the outputs of all
    communities one after the other (a few arrays: each array returned costs the caller more
    than the copies). A community whose table has a sell tag outside ``[0, tags)``, or whose
    slot :func:`clear_slot` sends to the reference path, gets status :data:`SLOT_REFERENCE`
    and no rows, trades or text: the caller clears it alone.

    Args:
        side: ``B x agents``: 0 (no order), ``buy`` or any other value (a sell).
        buy: The ``side`` value of a buy.
        quantity: ``B x agents``: Wh.
        prices: ``B x agents x tags``: each agent's limit per tag code.
        sell_tag: Per agent, the tag code it sells (the same in every community).
        starts: Per community, its arrival keys' start (uint64; :func:`exchange.book.
            arrival_start` of its seed).
        allowed: As :func:`clear_slot` takes them, down to ``fragment_ops``.
        agent_ok: See ``allowed``.
        sorted_codes: See ``allowed``.
        lo: See ``allowed``.
        hi: See ``allowed``.
        max_quantity: See ``allowed``.
        safe_total: See ``allowed``.
        by_price: See ``allowed``.
        top: See ``allowed``.
        money_divisor: See ``allowed``.
        literals: See ``allowed``.
        op_kind: See ``allowed``.
        op_start: See ``allowed``.
        op_end: See ``allowed``.
        fragment_ops: See ``allowed``.
        suffixes: The communities' id suffixes as JSON text, one after the other (uint8).
        suffix_offsets: Community ``b``'s suffix is ``suffixes[suffix_offsets[b]:
            suffix_offsets[b + 1]]``.
        value_op: The kind of a value operation.
        suffix_op: The kind of a suffix operation.

    Returns:
        * ``index``, ``5 x (B + 1)``: the offsets of each community's order rows (row 0),
          trades (row 1) and text (row 2), its status (row 3) and where its first trade
          record's newline lies in its text (row 4; the text's length without trades);
          community ``b``'s rows are ``[index[0, b]:index[0, b + 1]]``, and so on;
        * ``orders``, ``(5 + tags) x rows``: agent, buy (1) or sell (0), Wh, sell tag, sell
          price, then the price per tag code;
        * ``trades``, ``8 x trades``: buy row, sell row, buyer, seller, tag, Wh, **amount,
          price** (the amount before the price, unlike :func:`clear_slot`: rows 2 to 6 are
          the certificates' trade columns);
        * ``market``, ``2 x B x tags``: the clearing prices (``-1``: no trade) and volumes;
        * ``totals``, ``4 x B x agents``: Wh bought, Wh sold, money paid, money received;
        * ``by_tag``, ``B x agents x tags``: Wh bought per tag code;
        * ``text``: each community's records as :func:`clear_slot` writes them (uint8).
    """
    n_batch = side.shape[0]
    n_agents = side.shape[1]
    n_tags = prices.shape[2]
    index = np.zeros((5, n_batch + 1), dtype=np.int64)
    usable = np.ones(n_batch, dtype=np.bool_)
    for b in range(n_batch):
        count = 0
        for a in range(n_agents):
            if side[b, a] != 0:
                count += 1
                if sell_tag[a] < 0 or sell_tag[a] >= n_tags:
                    usable[b] = False
        index[0, b + 1] = index[0, b] + (count if usable[b] else 0)
        index[3, b] = SLOT_REFERENCE
    n_rows = index[0, n_batch]
    # The rows' int64 columns are rows of ``orders`` (returned); clear_slot also takes the
    # buy flags as booleans and the prices row by row (``rows x tags``).
    orders = np.empty((5 + n_tags, n_rows), dtype=np.int64)
    is_buy = np.empty(n_rows, dtype=np.bool_)
    row_prices = np.empty((n_rows, n_tags), dtype=np.int64)
    i = 0
    for b in range(n_batch):
        for a in range(n_agents if usable[b] else 0):
            if side[b, a] != 0:
                is_buy[i] = side[b, a] == buy
                for t in range(n_tags):
                    row_prices[i, t] = prices[b, a, t]
                    orders[5 + t, i] = prices[b, a, t]
                orders[0, i] = a
                orders[1, i] = 1 if is_buy[i] else 0
                orders[2, i] = quantity[b, a]
                orders[3, i] = sell_tag[a]
                orders[4, i] = prices[b, a, sell_tag[a]]
                i += 1

    market = np.empty((2, n_batch, n_tags), dtype=np.int64)
    market[0] = -1
    market[1] = 0
    totals = np.zeros((4, n_batch, n_agents), dtype=np.int64)
    by_tag = np.zeros((n_batch, n_agents, n_tags), dtype=np.int64)
    trade_parts = [np.empty((8, 0), dtype=np.int64)]
    text_parts = [np.empty(0, dtype=np.uint8)]
    for b in range(n_batch):
        index[1, b + 1] = index[1, b]
        index[2, b + 1] = index[2, b]
        if not usable[b]:
            continue
        r0, r1 = index[0, b], index[0, b + 1]
        result = clear_slot(
            orders[0, r0:r1],
            is_buy[r0:r1],
            orders[2, r0:r1],
            row_prices[r0:r1],
            orders[3, r0:r1],
            orders[4, r0:r1],
            arrival_keys(r1 - r0, starts[b]),
            allowed,
            agent_ok,
            sorted_codes,
            lo,
            hi,
            max_quantity,
            safe_total,
            by_price,
            top,
            money_divisor,
            literals,
            op_kind,
            op_start,
            op_end,
            fragment_ops,
            suffixes[suffix_offsets[b] : suffix_offsets[b + 1]],
            value_op,
            suffix_op,
        )
        if result[0] != SLOT_OK:
            continue
        index[3, b] = SLOT_OK
        trades, text = result[1], result[6]
        for t in range(n_tags):
            market[0, b, t] = result[2][t]
            market[1, b, t] = result[3][t]
        for row in range(4):
            for a in range(n_agents):
                totals[row, b, a] = result[4][row, a]
        by_tag[b] = result[5]
        trade_parts.append(trades)
        text_parts.append(text)
        index[1, b + 1] += trades.shape[1]
        index[2, b + 1] += text.shape[0]
        # Every record starts with a newline (canonical JSON holds none unescaped), the
        # orders' first: the (r1 - r0 + 1)-th newline starts the first trade record.
        split = text.shape[0]
        if trades.shape[1]:
            base = np.int64(text.ctypes.data)
            at = base
            end = base + text.shape[0]
            for _ in range(r1 - r0 + 1):
                at = _memchr(at, 10, end - at)
                at += 1  # past it (memchr finds one: every record starts with one)
            split = at - 1 - base
        index[4, b] = split

    all_trades = np.empty((8, index[1, n_batch]), dtype=np.int64)
    all_text = np.empty(index[2, n_batch], dtype=np.uint8)
    k = 0
    written = 0
    for part in range(1, len(trade_parts)):
        trades = trade_parts[part]
        for j in range(trades.shape[1]):
            for row in range(6):
                all_trades[row, k + j] = trades[row, j]
            all_trades[6, k + j] = trades[7, j]  # amount
            all_trades[7, k + j] = trades[6, j]  # price
        k += trades.shape[1]
        text = text_parts[part]
        _memcpy(np.int64(all_text.ctypes.data) + written, np.int64(text.ctypes.data), text.shape[0])
        written += text.shape[0]
    return index, orders, all_trades, market, totals, by_tag, all_text
