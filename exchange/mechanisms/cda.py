"""``cda``: a continuous double auction with price-then-time priority (the demonstration's market).

Orders arrive one at a time in the seeded arrival order (:mod:`exchange.book`), as if submitted
continuously during the slot (Kuno, Tanaka, Yamada, Energies 15(12):4218, 2022: 30-minute
products, price then time priority, partial fills). Each tag has its own book.

* An arriving **sell** order of tag ``t`` at ask ``a`` trades with the resting bids of book ``t``
  whose limit for ``t`` is at least ``a``, best price first, earlier arrival first among equal
  prices; its remainder rests in book ``t``.
* An arriving **buy** order visits its tags in its tag order (:data:`~exchange.params.TagOrder`):
  in each book it trades with the resting asks at or below its limit for that tag, cheapest
  first, earlier arrival first among equal prices, and the remainder moves on to the next tag.
  What is left after the last tag rests in *every* book it accepts, at its limit for each, with
  one shared remaining quantity: a later seller of any of those tags can fill it.
* A trade is at the **resting** order's price (the arriving order takes the quoted price).

Each book is therefore uncrossed after every arrival, so at the end no unfilled buy can trade
with an unfilled sell of a tag it accepts. The matching is sequential by nature; it uses one
heap per book side (``O(n log n)``) with lazy removal of buy orders filled in another book.
"""

from __future__ import annotations

import heapq
from typing import ClassVar

import numpy as np

from exchange.book import Book
from exchange.mechanisms.base import ClearingMechanism, Matches
from exchange.mechanisms.registry import register


class ContinuousDoubleAuction(ClearingMechanism):
    """Continuous double auction; see the module docstring for the rules."""

    name: ClassVar[str] = "cda"

    def match(self, book: Book) -> Matches:
        """Feed the orders in arrival order into per-tag books (see the module docstring)."""
        n_tags = len(book.tags)
        remaining = book.quantity.tolist()
        arrival = book.arrival.tolist()
        # Per order: ("sell", tag, price) or the buy legs [(tag, price), ...] in tag order.
        sells: dict[int, tuple[int, int]] = dict(
            zip(
                book.sell_order.tolist(),
                zip(book.sell_tag.tolist(), book.sell_price.tolist(), strict=True),
                strict=True,
            )
        )
        legs: dict[int, list[tuple[int, int]]] = {}
        for order, tag, price in zip(
            book.leg_order.tolist(), book.leg_tag.tolist(), book.leg_price.tolist(), strict=True
        ):
            legs.setdefault(order, []).append((tag, price))

        asks: list[list[tuple[int, int, int]]] = [[] for _ in range(n_tags)]
        bids: list[list[tuple[int, int, int]]] = [[] for _ in range(n_tags)]
        t_buy: list[int] = []
        t_sell: list[int] = []
        t_tag: list[int] = []
        t_qty: list[int] = []
        t_price: list[int] = []
        heappush, heappop = heapq.heappush, heapq.heappop

        for order in np.argsort(book.arrival, kind="stable").tolist():
            left = remaining[order]
            if order in sells:
                tag, ask = sells[order]
                bid_heap = bids[tag]
                while left and bid_heap:
                    neg_bid, _, buyer = bid_heap[0]
                    have = remaining[buyer]
                    if have == 0:  # filled in another book since it rested here
                        heappop(bid_heap)
                        continue
                    if -neg_bid < ask:
                        break
                    qty = left if left < have else have
                    t_buy.append(buyer)
                    t_sell.append(order)
                    t_tag.append(tag)
                    t_qty.append(qty)
                    t_price.append(-neg_bid)
                    left -= qty
                    remaining[buyer] = have - qty
                    if have == qty:
                        heappop(bid_heap)
                remaining[order] = left
                if left:
                    heappush(asks[tag], (ask, arrival[order], order))
                continue
            my_legs = legs[order]
            for tag, bid in my_legs:
                ask_heap = asks[tag]
                while left and ask_heap:
                    ask, _, seller = ask_heap[0]
                    if ask > bid:
                        break
                    have = remaining[seller]
                    qty = left if left < have else have
                    t_buy.append(order)
                    t_sell.append(seller)
                    t_tag.append(tag)
                    t_qty.append(qty)
                    t_price.append(ask)
                    left -= qty
                    remaining[seller] = have - qty
                    if have == qty:
                        heappop(ask_heap)
                if not left:
                    break
            remaining[order] = left
            if left:
                for tag, bid in my_legs:
                    heappush(bids[tag], (-bid, arrival[order], order))

        def array(values: list[int]) -> np.ndarray:
            return np.asarray(values, dtype=np.int64)

        return Matches(array(t_buy), array(t_sell), array(t_tag), array(t_qty), array(t_price))


register(ContinuousDoubleAuction())
