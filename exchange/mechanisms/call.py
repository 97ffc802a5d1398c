"""``call``: a uniform-price call auction per tag (JEPX day-ahead style, *itayose*).

All orders of the slot are collected, then each tag's book clears at once at one price:

* **volume**: the maximum crossing volume of the book (:mod:`exchange.mechanisms.allocation`),
  with buyers' remainders moving across their tags until the books stop changing;
* **price**: the middle of the crossing range, rounded half to even to a tick
  (:func:`~exchange.mechanisms.allocation.uniform_prices`); every trade of the tag is at it;
* **rationing at the margin**: time priority (the seeded arrival order), so at most one buy leg
  and one sell order per book are partly filled;
* **pairs**: the best-ranked buyer's Wh meet the best-ranked seller's Wh, unit by unit.

Every buyer pays at most its limit for the tag and every seller receives at least its limit;
no unfilled buy leg can trade with an unfilled sell order of the same tag at any price.
"""

from __future__ import annotations

from typing import ClassVar

from exchange.book import Book
from exchange.mechanisms.allocation import allocate, pair_units, uniform_prices
from exchange.mechanisms.base import ClearingMechanism, Matches
from exchange.mechanisms.registry import register


class CallAuction(ClearingMechanism):
    """Uniform-price call auction per tag; see the module docstring for the rules."""

    name: ClassVar[str] = "call"

    def match(self, book: Book) -> Matches:
        """Clear every tag's book at one price (see the module docstring)."""
        alloc = allocate(book)
        leg_pos, sell_pos, quantity = pair_units(alloc)
        prices = uniform_prices(alloc)
        tag = alloc.leg_tag[leg_pos]
        return Matches(
            buy=book.leg_order[alloc.leg[leg_pos]],
            sell=book.sell_order[alloc.sell[sell_pos]],
            tag=tag,
            quantity=quantity,
            price=prices[tag],
            uniform_prices={code: int(p) for code, p in enumerate(prices.tolist()) if p >= 0},
        )


register(CallAuction())
