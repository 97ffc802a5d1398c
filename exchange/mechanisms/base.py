"""The interface every clearing mechanism implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from exchange.book import Book
from exchange.units import Int64Array


@dataclass(frozen=True, slots=True, eq=False)
class Matches:
    """What a mechanism decided, as arrays in trade sequence (one entry per trade).

    Attributes:
        buy: Admitted index of each trade's buy order.
        sell: Admitted index of each trade's sell order.
        tag: Tag code of each trade.
        quantity: Wh of each trade (positive).
        price: Price of each trade, ticks.
        uniform_prices: For uniform-price mechanisms, the clearing price of every tag that
            traded (tag code -> ticks); ``None`` where each trade has its own price.
    """

    buy: Int64Array
    sell: Int64Array
    tag: Int64Array
    quantity: Int64Array
    price: Int64Array
    uniform_prices: dict[int, int] | None = None

    @classmethod
    def empty(cls) -> Matches:
        """No trades."""
        none = np.zeros(0, dtype=np.int64)
        return cls(none, none, none, none, none, {})


class ClearingMechanism(ABC):
    """A way of turning one slot's order books into trades.

    Implementations must be deterministic functions of the :class:`~exchange.book.Book` (which
    already carries the seeded arrival order) and must never trade an order beyond its quantity,
    across tags it does not accept, or outside its limit price. Register one with
    :func:`exchange.mechanisms.registry.register` to make it selectable by name.
    """

    name: ClassVar[str]
    """The name configs and :class:`~exchange.params.ClearingParams` select it by."""

    @abstractmethod
    def match(self, book: Book) -> Matches:
        """Clear ``book`` into trades.

        Args:
            book: The admitted orders of one slot.

        Returns:
            The trades, in the mechanism's trade sequence.
        """
