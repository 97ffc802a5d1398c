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
    across tags it does not accept, or outside its limit price (the exchange checks the trades
    of every mechanism that is not built in: :func:`check_matches`). Register one with
    :func:`exchange.mechanisms.registry.register`, or declare it in the ``p2p_gym.mechanisms``
    entry-point group of an installed package, to make it selectable by name.
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


def check_matches(book: Book, matches: Matches, name: str) -> None:
    """Check a mechanism's trades against the rules every mechanism must keep.

    The exchange runs this on the trades of mechanisms that are not built in (a registered or
    installed plugin), so that foreign code cannot hand the environment trades its physics and
    settlement would take on trust: an order traded beyond its quantity, a tag the buyer does not
    accept or the seller does not sell, a price outside either limit. (The built-in mechanisms
    are proven against these rules by the test suite.)

    Raises:
        ValueError: On the first rule broken, naming the mechanism, the trade and the orders.
    """
    columns = ("buy", "sell", "tag", "quantity", "price")
    arrays = [getattr(matches, column) for column in columns]
    n_trades = arrays[0].shape[0] if isinstance(arrays[0], np.ndarray) else -1
    for column, values in zip(columns, arrays, strict=True):
        if (
            not isinstance(values, np.ndarray)
            or values.dtype != np.int64
            or values.shape != (n_trades,)
        ):
            raise ValueError(
                f"mechanism {name!r}: Matches.{column} must be a 1-d int64 array as long as "
                f"Matches.buy, got {values!r}"
            )
    buy, sell, tag, quantity, price = arrays
    n, n_tags = book.n_orders, len(book.tags)

    def broken(mask: np.ndarray, rule: str) -> None:
        if mask.any():
            k = int(np.flatnonzero(mask)[0])
            raise ValueError(
                f"mechanism {name!r} broke the exchange's rules: trade {k} (buy order "
                f"{int(buy[k])}, sell order {int(sell[k])}, tag code {int(tag[k])}, "
                f"{int(quantity[k])} Wh at {int(price[k])} ticks): {rule}"
            )

    broken((buy < 0) | (buy >= n) | (sell < 0) | (sell >= n), "an order index out of the book")
    broken(~book.is_buy[buy] | book.is_buy[sell], "the buy is not a buy or the sell not a sell")
    broken((tag < 0) | (tag >= n_tags), "a tag code out of the book's tags")
    broken(quantity <= 0, "a trade must move a positive quantity")
    sell_row = np.full(n, -1, dtype=np.int64)
    sell_row[book.sell_order] = np.arange(book.sell_order.shape[0], dtype=np.int64)
    broken(book.sell_tag[sell_row[sell]] != tag, "the seller does not sell this tag")
    broken(price < book.sell_price[sell_row[sell]], "the price is below the seller's limit")
    limit = np.full((n, n_tags), -1, dtype=np.int64)
    limit[book.leg_order, book.leg_tag] = book.leg_price
    buyer_limit = limit[buy, tag]
    broken(buyer_limit < 0, "the buyer does not accept this tag")
    broken(price > buyer_limit, "the price is above the buyer's limit")
    uniform = matches.uniform_prices
    if uniform is not None and (
        not isinstance(uniform, dict)
        or any(not isinstance(k, int) or not 0 <= k < n_tags for k in uniform)
        or any(not isinstance(v, int) or v < 0 for v in uniform.values())
    ):
        raise ValueError(
            f"mechanism {name!r}: Matches.uniform_prices must map tag codes (0..{n_tags - 1}) "
            f"to prices in ticks (ints >= 0), got {uniform!r}"
        )
    for side, orders in (("buy", buy), ("sell", sell)):
        total = np.zeros(n, dtype=np.int64)
        np.add.at(total, orders, quantity)
        over = total > book.quantity
        if over.any():
            order = int(np.flatnonzero(over)[0])
            raise ValueError(
                f"mechanism {name!r} broke the exchange's rules: {side} order {order} traded "
                f"{int(total[order])} Wh of its {int(book.quantity[order])} Wh"
            )
