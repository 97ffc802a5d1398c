"""``midpoint``: the highest bid meets the lowest ask, at the pair's mean price (TREX-Core style).

Each tag's book is sorted (bids by price descending, asks ascending, ties by the seeded arrival
order) and walked pair by pair while the bid is at least the ask; each pair trades the smaller
remaining quantity at ``(bid + ask) / 2``, rounded half to even to a tick. Walking to the end
trades exactly the book's maximum crossing volume, so who trades with whom and how much is the
``call`` allocation (:mod:`exchange.mechanisms.allocation`, including how a buyer's remainder
moves across tags); only the prices differ: each pair splits its own surplus instead of all
trades sharing one price.
"""

from __future__ import annotations

from typing import ClassVar

from exchange.book import Book
from exchange.mechanisms.allocation import allocate, pair_units
from exchange.mechanisms.base import ClearingMechanism, Matches
from exchange.mechanisms.registry import register
from exchange.units import mean_half_even_array


class MidpointMatching(ClearingMechanism):
    """Pairwise matching at the mean of bid and ask; see the module docstring."""

    name: ClassVar[str] = "midpoint"

    def match(self, book: Book) -> Matches:
        """Pair the best bids with the best asks per tag (see the module docstring)."""
        alloc = allocate(book)
        leg_pos, sell_pos, quantity = pair_units(alloc)
        return Matches(
            buy=book.leg_order[alloc.leg[leg_pos]],
            sell=book.sell_order[alloc.sell[sell_pos]],
            tag=alloc.leg_tag[leg_pos],
            quantity=quantity,
            price=mean_half_even_array(alloc.leg_price[leg_pos], alloc.sell_price[sell_pos]),
        )


register(MidpointMatching())
