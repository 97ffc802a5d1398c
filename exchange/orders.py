"""Orders: what an agent submits for one delivery slot, and their JSON-compatible form.

A **sell** order offers ``quantity_wh`` of energy of one origin ``tag`` (``pv``, ``battery``,
``phv``, ...) at or above one limit ``price``. A **buy** order asks for ``quantity_wh`` and names
every tag it accepts with a limit price for each (``prices={"pv": 2300, "battery": 2100}``): a
buyer who prefers local solar says so with a higher price, not with a flag. Prices are integer
ticks of 0.01 JPY/kWh, quantities integer Wh (see :mod:`exchange.units`).

An :class:`Order` holds whatever was submitted: a quantity of ``1.5`` or a price outside the bounds
is a *valid object* that clearing then rejects with a reason (:mod:`exchange.validation`), so
nothing is dropped silently. Only input that cannot be read as an order at all (a missing id,
a string where a number belongs, an unknown field) raises :class:`OrderFormatError` from
:meth:`Order.from_dict`, naming the order and the field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Self

Side = Literal["buy", "sell"]
Number = int | float
"""A submitted quantity or price. Only ``int`` clears; a ``float`` is rejected with a reason."""

_SIDES: tuple[Side, ...] = ("buy", "sell")
_FIELDS = frozenset({"id", "agent", "side", "quantity_wh", "tag", "price", "prices"})


class OrderFormatError(ValueError):
    """Input that cannot be read as an order; the message names the order and the field."""


@dataclass(frozen=True, slots=True)
class Order:
    """One order for one delivery slot.

    Attributes:
        id: Unique within the slot's order set.
        agent: The agent that submitted it.
        side: ``"buy"`` or ``"sell"``.
        quantity_wh: Energy in Wh; must be a positive ``int`` to clear.
        tag: Sell orders: the origin of the energy. ``None`` on buy orders.
        price: Sell orders: the limit price in ticks (lowest acceptable). ``None`` on buy orders.
        prices: Buy orders: ``(tag, limit price)`` pairs, the highest price the buyer pays for
            each acceptable tag, in the order given. Empty on sell orders.
    """

    id: str
    agent: str
    side: Side
    quantity_wh: Number
    tag: str | None = None
    price: Number | None = None
    prices: tuple[tuple[str, Number], ...] = ()

    @classmethod
    def sell(cls, id: str, agent: str, quantity_wh: Number, tag: str, price: Number) -> Self:
        """A sell order of ``quantity_wh`` of ``tag`` energy at ``price`` ticks or more."""
        return cls(id, agent, "sell", quantity_wh, tag=tag, price=price)

    @classmethod
    def buy(cls, id: str, agent: str, quantity_wh: Number, prices: Mapping[str, Number]) -> Self:
        """A buy order of ``quantity_wh`` accepting each tag of ``prices`` up to its price."""
        return cls(id, agent, "buy", quantity_wh, prices=tuple(prices.items()))

    def to_dict(self) -> dict[str, Any]:
        """The JSON-compatible form; :meth:`from_dict` reads it back to an equal order."""
        out: dict[str, Any] = {
            "id": self.id,
            "agent": self.agent,
            "side": self.side,
            "quantity_wh": self.quantity_wh,
        }
        if self.tag is not None:
            out["tag"] = self.tag
        if self.price is not None:
            out["price"] = self.price
        if self.prices or self.side == "buy":
            out["prices"] = dict(self.prices)
        return out

    @classmethod
    def from_dict(cls, data: Any, index: int | None = None) -> Self:
        """Read an order from its JSON-compatible form.

        Args:
            data: A mapping with ``id``, ``agent``, ``side``, ``quantity_wh`` and either ``tag`` and
                ``price`` (sell) or ``prices`` (buy). Numbers may be ints or floats (floats are
                rejected later, with a reason, when the order set is cleared).
            index: Position of the order in its list, used in error messages.

        Returns:
            The order.

        Raises:
            OrderFormatError: If ``data`` is not a mapping, a field is missing, unknown or of the
                wrong type, or ``side`` is not ``"buy"``/``"sell"``. The message names the order
                (index and id) and the field.
        """
        where = "order" if index is None else f"order {index}"
        if not isinstance(data, Mapping):
            raise OrderFormatError(f"{where}: expected an object, got {_describe(data)}")
        raw_id = data.get("id")
        if isinstance(raw_id, str):
            where = f"{where} (id {raw_id!r})"
        unknown = sorted(str(key) for key in data if key not in _FIELDS)
        if unknown:
            raise OrderFormatError(
                f"{where}: unknown field {unknown[0]!r} (fields: {', '.join(sorted(_FIELDS))})"
            )
        order_id = _string(data, "id", where)
        agent = _string(data, "agent", where)
        side = _string(data, "side", where)
        if side not in _SIDES:
            raise OrderFormatError(f"{where}: field 'side' must be 'buy' or 'sell', got {side!r}")
        side_value: Side = "buy" if side == "buy" else "sell"
        quantity = _number(data.get("quantity_wh", _MISSING), "quantity_wh", where)
        tag = None
        if "tag" in data and data["tag"] is not None:
            tag = _string(data, "tag", where)
        price = None
        if "price" in data and data["price"] is not None:
            price = _number(data["price"], "price", where)
        prices: tuple[tuple[str, Number], ...] = ()
        raw_prices = data.get("prices")
        if raw_prices is not None:
            if not isinstance(raw_prices, Mapping):
                raise OrderFormatError(
                    f"{where}: field 'prices' must be an object mapping tag to price, "
                    f"got {_describe(raw_prices)}"
                )
            pairs: list[tuple[str, Number]] = []
            for key, value in raw_prices.items():
                if not isinstance(key, str):
                    raise OrderFormatError(f"{where}: field 'prices' has a non-string tag {key!r}")
                pairs.append((key, _number(value, f"prices.{key}", where)))
            prices = tuple(pairs)
        return cls(order_id, agent, side_value, quantity, tag=tag, price=price, prices=prices)


def orders_from_dicts(items: Sequence[Any]) -> list[Order]:
    """Read a list of orders (see :meth:`Order.from_dict`), naming the first bad one."""
    return [Order.from_dict(item, index) for index, item in enumerate(items)]


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING = _Missing()


def _describe(value: Any) -> str:
    return f"{type(value).__name__} {value!r}" if value is not None else "null"


def _string(data: Mapping[str, Any], field: str, where: str) -> str:
    if field not in data:
        raise OrderFormatError(f"{where}: missing field {field!r}")
    value = data[field]
    if not isinstance(value, str):
        raise OrderFormatError(f"{where}: field {field!r} must be a string, got {_describe(value)}")
    if not value:
        raise OrderFormatError(f"{where}: field {field!r} must not be empty")
    return value


def _number(value: Any, field: str, where: str) -> Number:
    if value is _MISSING:
        raise OrderFormatError(f"{where}: missing field {field!r}")
    # bool is an int subclass in Python; true/false in JSON is a type error, not the number 1/0.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise OrderFormatError(f"{where}: field {field!r} must be a number, got {_describe(value)}")
    return value
