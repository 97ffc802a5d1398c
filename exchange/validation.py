"""Validation: every submitted order is either admitted to the books or rejected with a reason.

Checks run in a fixed order and the first failing one is the order's single reason:

1. ``invalid_id`` (not a non-empty string), ``duplicate_id`` (every order sharing an id is
   rejected: which one was meant is ambiguous), ``invalid_side``;
2. ``invalid_agent`` (not a non-empty string), ``unknown_agent`` (only when
   :attr:`ClearingParams.agents` is set);
3. ``non_integer_quantity`` (a float, even ``800.0``), ``non_positive_quantity``,
   ``quantity_too_large`` (over :data:`~exchange.units.MAX_QUANTITY_WH`);
4. sells: ``inconsistent_fields`` (a sell with ``prices``), ``sell_without_tag``,
   ``sell_without_price``, ``unknown_tag``, ``tag_not_allowed`` (the agent cannot have energy of
   that tag), ``non_integer_price``, ``price_out_of_bounds``;
5. buys: ``inconsistent_fields`` (a buy with ``tag`` or ``price``), ``buy_without_prices``,
   ``duplicate_tag``, then per listed tag ``unknown_tag``, ``non_integer_price``,
   ``price_out_of_bounds`` (one bad price rejects the whole order: a buyer's tag preferences
   are read as a whole).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Self

from exchange.orders import Order
from exchange.params import ClearingParams
from exchange.units import MAX_QUANTITY_WH


class RejectReason(StrEnum):
    """Why an order was not admitted; the value is the stable code written to JSON."""

    INVALID_ID = "invalid_id"
    DUPLICATE_ID = "duplicate_id"
    INVALID_SIDE = "invalid_side"
    INVALID_AGENT = "invalid_agent"
    UNKNOWN_AGENT = "unknown_agent"
    NON_INTEGER_QUANTITY = "non_integer_quantity"
    NON_POSITIVE_QUANTITY = "non_positive_quantity"
    QUANTITY_TOO_LARGE = "quantity_too_large"
    INCONSISTENT_FIELDS = "inconsistent_fields"
    SELL_WITHOUT_TAG = "sell_without_tag"
    SELL_WITHOUT_PRICE = "sell_without_price"
    BUY_WITHOUT_PRICES = "buy_without_prices"
    DUPLICATE_TAG = "duplicate_tag"
    UNKNOWN_TAG = "unknown_tag"
    TAG_NOT_ALLOWED = "tag_not_allowed"
    NON_INTEGER_PRICE = "non_integer_price"
    PRICE_OUT_OF_BOUNDS = "price_out_of_bounds"


@dataclass(frozen=True, slots=True)
class Rejection:
    """An order that was not admitted.

    Attributes:
        id: The order's id as submitted.
        agent: The submitting agent.
        reason: The machine-readable reason.
        detail: A sentence naming the field, the value and what was expected.
    """

    id: str
    agent: str
    reason: RejectReason
    detail: str

    def to_dict(self) -> dict[str, Any]:
        """The JSON-compatible form."""
        return {
            "id": self.id,
            "agent": self.agent,
            "reason": str(self.reason),
            "detail": self.detail,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Read :meth:`to_dict`'s form back."""
        return cls(
            str(data["id"]), str(data["agent"]), RejectReason(data["reason"]), data["detail"]
        )


def validate(orders: Sequence[Order], params: ClearingParams) -> tuple[list[int], list[Rejection]]:
    """Split ``orders`` into the admitted and the rejected.

    Args:
        orders: The submitted orders, in submission order.
        params: Bounds, tags and (optionally) agents to check against.

    Returns:
        The input positions of admitted orders (ascending) and one :class:`Rejection` per
        rejected order, in input order.
    """
    counts = Counter(order.id for order in orders)
    duplicated = {key for key, n in counts.items() if n > 1}
    tags = frozenset(params.tags)
    allowed = None if params.agents is None else {a: frozenset(t) for a, t in params.agents}
    lo, hi = params.price_min, params.price_max
    admitted: list[int] = []
    rejected: list[Rejection] = []
    for position, order in enumerate(orders):
        problem = check_order(order, duplicated, tags, allowed, lo, hi)
        if problem is None:
            admitted.append(position)
        else:
            reason, detail = problem
            rejected.append(Rejection(str(order.id), str(order.agent), reason, detail))
    return admitted, rejected


def check_order(
    order: Order,
    duplicated: set[str],
    tags: frozenset[str],
    allowed: dict[str, frozenset[str]] | None,
    lo: int,
    hi: int,
) -> tuple[RejectReason, str] | None:
    """Why ``order`` is rejected, or ``None`` if it is admitted (the rules of :func:`validate`).

    Args:
        order: The order.
        duplicated: Order ids that occur more than once in the slot.
        tags: The market's tags.
        allowed: Per known agent, the tags it may sell (``None``: agents are not checked).
        lo: Lowest allowed price, ticks.
        hi: Highest allowed price, ticks.
    """
    if not isinstance(order.id, str) or not order.id:
        return RejectReason.INVALID_ID, f"id must be a non-empty string, got {order.id!r}"
    if order.id in duplicated:
        return RejectReason.DUPLICATE_ID, f"id {order.id!r} is used by more than one order"
    if order.side not in ("buy", "sell"):
        return RejectReason.INVALID_SIDE, f"side must be 'buy' or 'sell', got {order.side!r}"
    if not isinstance(order.agent, str) or not order.agent:
        return RejectReason.INVALID_AGENT, f"agent must be a non-empty string, got {order.agent!r}"
    if allowed is not None and order.agent not in allowed:
        return RejectReason.UNKNOWN_AGENT, f"agent {order.agent!r} is not a known agent"
    quantity = order.quantity_wh
    if type(quantity) is not int:
        return (
            RejectReason.NON_INTEGER_QUANTITY,
            f"quantity_wh must be an integer number of Wh, got {quantity!r}",
        )
    if quantity <= 0:
        return RejectReason.NON_POSITIVE_QUANTITY, f"quantity_wh must be positive, got {quantity}"
    if quantity > MAX_QUANTITY_WH:
        return (
            RejectReason.QUANTITY_TOO_LARGE,
            f"quantity_wh {quantity} exceeds the limit of {MAX_QUANTITY_WH} Wh",
        )
    if order.side == "sell":
        return _check_sell(order, tags, allowed, lo, hi)
    return _check_buy(order, tags, lo, hi)


def _check_sell(
    order: Order,
    tags: frozenset[str],
    allowed: dict[str, frozenset[str]] | None,
    lo: int,
    hi: int,
) -> tuple[RejectReason, str] | None:
    if order.prices:
        return RejectReason.INCONSISTENT_FIELDS, "a sell order has one tag and price, not prices"
    if order.tag is None:
        return RejectReason.SELL_WITHOUT_TAG, "a sell order must name the origin tag of its energy"
    if order.price is None:
        return RejectReason.SELL_WITHOUT_PRICE, "a sell order must have a limit price"
    if order.tag not in tags:
        return RejectReason.UNKNOWN_TAG, f"tag {order.tag!r} is not one of {sorted(tags)}"
    if allowed is not None and order.tag not in allowed[order.agent]:
        return (
            RejectReason.TAG_NOT_ALLOWED,
            f"agent {order.agent!r} cannot sell {order.tag!r} energy "
            f"(it may sell {sorted(allowed[order.agent])})",
        )
    return _check_price(order.price, "price", lo, hi)


def _check_buy(
    order: Order, tags: frozenset[str], lo: int, hi: int
) -> tuple[RejectReason, str] | None:
    if order.tag is not None or order.price is not None:
        return (
            RejectReason.INCONSISTENT_FIELDS,
            "a buy order gives a price per tag in prices, not tag and price",
        )
    if not order.prices:
        return RejectReason.BUY_WITHOUT_PRICES, "a buy order must give at least one tag's price"
    seen: set[str] = set()
    for tag, price in order.prices:
        if tag in seen:
            return RejectReason.DUPLICATE_TAG, f"tag {tag!r} appears twice in prices"
        seen.add(tag)
        if tag not in tags:
            return RejectReason.UNKNOWN_TAG, f"prices names tag {tag!r}, not one of {sorted(tags)}"
        problem = _check_price(price, f"prices.{tag}", lo, hi)
        if problem is not None:
            return problem
    return None


def _check_price(price: object, field: str, lo: int, hi: int) -> tuple[RejectReason, str] | None:
    if type(price) is not int:
        return (
            RejectReason.NON_INTEGER_PRICE,
            f"{field} must be an integer number of ticks (0.01 JPY/kWh), got {price!r}",
        )
    if not lo <= price <= hi:
        return (
            RejectReason.PRICE_OUT_OF_BOUNDS,
            f"{field} {price} lies outside the price bounds [{lo}, {hi}] ticks",
        )
    return None
