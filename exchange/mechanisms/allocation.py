"""Who trades how much with whom when each tag clears at once (``call`` and ``midpoint``).

**One book per tag.** In a book, buy legs rank by price (highest first), then arrival; sell
orders by price (lowest first), then arrival. The book trades its *maximum crossing volume*
``V = max over prices p of min(demand at or above p, supply at or below p)``: the best ``V`` Wh
of each side, in rank order. Unit by unit, the v-th best buyer's Wh meets the v-th cheapest
seller's Wh, so every traded unit crosses and no unfilled buy leg can still trade with an
unfilled sell order of the book. At the margin the earlier arrival is filled first (time
priority, with the seeded arrival order of :mod:`exchange.book`).

**Remainders move across tags.** A buyer offers its whole quantity on its first leg; what that
book does not fill is offered on its next leg, and so on (:data:`~exchange.params.TagOrder`).
A book that receives more demand may then fill more of its higher-priority buyers and displace
lower-priority ones, whose remainder in turn moves on. The books are re-cleared until nothing
changes (a *buyer-proposing deferred acceptance*): with the offers of all legs starting at their
lowest and the quantity a book refuses to each leg never shrinking when other offers grow (a
book fills in a fixed rank order up to a volume that grows by at most the added offer), the
offers only rise, are bounded integers, and the loop stops at the least fixed point. The result
is one clearing per book, on its final offers. Each round is a few O(n) numpy passes over
books ranked once (O(n log n)); with ``config`` order the books settle in at most one round per
tag, and with ``price`` order random books of 10 to 10^5 orders settled in 2-5 rounds with
three tags (8 at most with five), independently of the number of orders.

Pairs are formed within each tag by walking both ranked lists unit by unit, so each trade is
one (buy leg, sell order) pair with the Wh they share.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from exchange.book import Book
from exchange.units import MAX_PRICE_TICKS, Int64Array

_NONE = -1


@dataclass(frozen=True, slots=True, eq=False)
class Allocation:
    """The cleared books, ranked within each tag.

    Attributes:
        leg: Book leg index of each ranked buy leg (grouped by tag).
        leg_tag: Tag code per ranked leg.
        leg_price: Limit price per ranked leg.
        leg_fill: Wh filled per ranked leg.
        leg_left: Wh the ranked leg was offered but not filled (moved on or unfilled).
        sell: Book sell index (into ``book.sell_*``) of each ranked sell order.
        sell_tag: Tag code per ranked sell order.
        sell_price: Limit price per ranked sell order.
        sell_fill: Wh filled per ranked sell order.
        sell_left: Wh unsold per ranked sell order.
        volume: Wh traded per tag code.
        rounds: Clearing rounds until the books stopped changing.
    """

    leg: Int64Array
    leg_tag: Int64Array
    leg_price: Int64Array
    leg_fill: Int64Array
    leg_left: Int64Array
    sell: Int64Array
    sell_tag: Int64Array
    sell_price: Int64Array
    sell_fill: Int64Array
    sell_left: Int64Array
    volume: Int64Array
    rounds: int


def allocate(book: Book) -> Allocation:
    """Clear every tag's book at once, moving buyers' remainders across tags to a fixed point."""
    n_tags = len(book.tags)
    tag_codes = np.arange(n_tags, dtype=np.int64)

    # Sell side: ranked once; supply never moves between books.
    sell_qty_all = book.quantity[book.sell_order]
    s_rank = np.lexsort((book.arrival[book.sell_order], book.sell_price, book.sell_tag))
    s_tag = book.sell_tag[s_rank]
    s_price = book.sell_price[s_rank]
    s_qty = sell_qty_all[s_rank]
    s_cum0 = np.concatenate(([0], np.cumsum(s_qty)))
    s_base = s_cum0[np.searchsorted(s_tag, tag_codes, side="left")]

    # Buy legs ranked per tag: price descending, then arrival.
    l_rank = np.lexsort((book.arrival[book.leg_order], -book.leg_price, book.leg_tag))
    t_tag = book.leg_tag[l_rank]
    t_price = book.leg_price[l_rank]
    # Supply at or below each leg's price in its own book, by one search over (tag, price) keys.
    stride = MAX_PRICE_TICKS + 1
    s_key = s_tag * stride + s_price
    supply_le = (
        s_cum0[np.searchsorted(s_key, t_tag * stride + t_price, side="right")] - s_base[t_tag]
    )
    l_starts_all = np.searchsorted(t_tag, tag_codes, side="left")
    l_ends_all = np.searchsorted(t_tag, tag_codes, side="right")
    busy = l_ends_all > l_starts_all
    l_starts = l_starts_all[busy]

    n_legs = book.leg_order.shape[0]
    first = book.leg_first
    follows = ~first[1:]  # leg k+1 takes over leg k's remainder
    offer = np.zeros(n_legs, dtype=np.int64)
    offer[first] = book.quantity[book.leg_order[first]]

    volume = np.zeros(n_tags, dtype=np.int64)
    rounds = 0
    while True:
        rounds += 1
        xt = offer[l_rank]
        c0 = np.concatenate(([0], np.cumsum(xt)))
        cum = c0[1:] - c0[l_starts_all[t_tag]]
        volume[:] = 0
        if l_starts.size:
            volume[busy] = np.maximum.reduceat(np.minimum(cum, supply_le), l_starts)
        fill_t = np.minimum(np.maximum(volume[t_tag] - (cum - xt), 0), xt)
        left = np.empty(n_legs, dtype=np.int64)
        left[l_rank] = xt - fill_t
        moved = left[:-1][follows]
        if np.array_equal(moved, offer[1:][follows]):
            break
        offer[1:][follows] = moved

    s_before = s_cum0[:-1] - s_base[s_tag]
    s_fill = np.minimum(np.maximum(volume[s_tag] - s_before, 0), s_qty)
    return Allocation(
        leg=l_rank.astype(np.int64),
        leg_tag=t_tag,
        leg_price=t_price,
        leg_fill=fill_t,
        leg_left=xt - fill_t,
        sell=s_rank.astype(np.int64),
        sell_tag=s_tag,
        sell_price=s_price,
        sell_fill=s_fill,
        sell_left=s_qty - s_fill,
        volume=volume.copy(),
        rounds=rounds,
    )


def pair_units(alloc: Allocation) -> tuple[Int64Array, Int64Array, Int64Array]:
    """Pair filled buy legs with filled sell orders unit by unit, in rank order, per tag.

    Returns:
        Per trade: the ranked-leg position, the ranked-sell position and the Wh.
    """
    legs = np.flatnonzero(alloc.leg_fill > 0)
    sells = np.flatnonzero(alloc.sell_fill > 0)
    if legs.size == 0:
        none = np.zeros(0, dtype=np.int64)
        return none, none, none
    # Both sides fill the same volume in every tag and tags come in the same order, so the
    # running totals of both sides meet at every tag boundary: one merge pairs all tags.
    b_cum = np.cumsum(alloc.leg_fill[legs])
    s_cum = np.cumsum(alloc.sell_fill[sells])
    ends = np.union1d(b_cum, s_cum)
    starts = np.concatenate(([0], ends[:-1]))
    leg_pos = legs[np.searchsorted(b_cum, starts, side="right")]
    sell_pos = sells[np.searchsorted(s_cum, starts, side="right")]
    return leg_pos, sell_pos, (ends - starts).astype(np.int64)


def uniform_prices(alloc: Allocation) -> Int64Array:
    """Clearing price per tag code (``-1`` where the tag did not trade).

    Any price in the *crossing range* ``[lo, hi]`` clears the book at its volume ``V``:
    ``lo = max(a(V), b(V+1))`` and ``hi = min(b(V), a(V+1))``, where ``b(v)`` is the v-th best
    buyer's limit for a Wh and ``a(v)`` the v-th cheapest seller's (terms missing beyond the
    book's end are dropped). The price is the middle of the range, rounded half to even to a
    tick: both sides share the surplus of the marginal units, and the price does not depend on
    which side is long.
    """
    n_tags = alloc.volume.shape[0]
    prices = np.full(n_tags, _NONE, dtype=np.int64)
    for code in np.flatnonzero(alloc.volume > 0).tolist():
        legs = alloc.leg_tag == code
        sells = alloc.sell_tag == code
        b_v = int(alloc.leg_price[legs & (alloc.leg_fill > 0)][-1])
        a_v = int(alloc.sell_price[sells & (alloc.sell_fill > 0)][-1])
        lo, hi = a_v, b_v
        rejected = alloc.leg_price[legs & (alloc.leg_left > 0)]
        if rejected.size:
            lo = max(lo, int(rejected[0]))
        unsold = alloc.sell_price[sells & (alloc.sell_left > 0)]
        if unsold.size:
            hi = min(hi, int(unsold[0]))
        total = lo + hi
        half = total // 2
        prices[code] = half + (1 if total % 2 and half % 2 else 0)
    return prices
