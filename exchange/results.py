"""What clearing returns: trades, prices per tag, rejections and unfilled remainders.

Every type has a JSON-compatible ``to_dict`` and a ``from_dict`` that reads it back to an equal
object, so a ledger can store a result and compare it with a replay byte for byte
(:meth:`ClearingResult.canonical_json`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

from exchange.orders import Side
from exchange.validation import Rejection


@dataclass(frozen=True, slots=True)
class Trade:
    """Energy of one tag passing from one sell order to one buy order.

    Attributes:
        buy: Id of the buy order.
        sell: Id of the sell order.
        buyer: Agent of the buy order.
        seller: Agent of the sell order.
        tag: Origin tag of the energy.
        quantity_wh: Energy, Wh (positive).
        price: Price, ticks of 0.01 JPY/kWh.
        amount: Money the buyer pays and the seller receives, 0.01 JPY
            (:func:`exchange.units.money`: ``quantity_wh * price / 1000`` rounded half to even).
    """

    buy: str
    sell: str
    buyer: str
    seller: str
    tag: str
    quantity_wh: int
    price: int
    amount: int

    def to_dict(self) -> dict[str, Any]:
        """The JSON-compatible form."""
        return {
            "buy": self.buy,
            "sell": self.sell,
            "buyer": self.buyer,
            "seller": self.seller,
            "tag": self.tag,
            "quantity_wh": self.quantity_wh,
            "price": self.price,
            "amount": self.amount,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Read :meth:`to_dict`'s form back."""
        return cls(
            data["buy"],
            data["sell"],
            data["buyer"],
            data["seller"],
            data["tag"],
            int(data["quantity_wh"]),
            int(data["price"]),
            int(data["amount"]),
        )


@dataclass(frozen=True, slots=True)
class Unfilled:
    """What remains of an admitted order after clearing (partly filled or not at all).

    Attributes:
        id: The order's id.
        agent: Its agent.
        side: ``"buy"`` or ``"sell"``.
        quantity_wh: Wh left unfilled (positive).
    """

    id: str
    agent: str
    side: Side
    quantity_wh: int

    def to_dict(self) -> dict[str, Any]:
        """The JSON-compatible form."""
        return {
            "id": self.id,
            "agent": self.agent,
            "side": self.side,
            "quantity_wh": self.quantity_wh,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Read :meth:`to_dict`'s form back."""
        side: Side = "buy" if data["side"] == "buy" else "sell"
        return cls(data["id"], data["agent"], side, int(data["quantity_wh"]))


@dataclass(frozen=True, slots=True)
class AgentTotals:
    """One agent's P2P position in a slot (energy in Wh, money in 0.01 JPY)."""

    bought_wh: int = 0
    sold_wh: int = 0
    paid: int = 0
    received: int = 0


@dataclass(frozen=True, slots=True)
class ClearingResult:
    """The outcome of clearing one order set.

    Attributes:
        mechanism: The mechanism that cleared it.
        trades: In the mechanism's trade sequence (``call``/``midpoint``: by tag in the
            parameters' tag order, then best-ranked pairs first; ``cda``: execution order).
        clearing_prices: Per tag that traded, ticks: the uniform price for ``call``; for ``cda``
            and ``midpoint`` the volume-weighted mean trade price rounded half to even.
        volumes_wh: Wh traded per tag, every known tag (0 where none).
        rejected: Every rejected order with its reason, in submission order.
        unfilled: Every admitted order with Wh left, in submission order.
    """

    mechanism: str
    trades: tuple[Trade, ...]
    clearing_prices: dict[str, int]
    volumes_wh: dict[str, int]
    rejected: tuple[Rejection, ...]
    unfilled: tuple[Unfilled, ...]

    def agent_totals(self) -> dict[str, AgentTotals]:
        """Per agent that traded: Wh bought and sold, money paid and received."""
        acc: dict[str, list[int]] = {}
        for trade in self.trades:
            buyer = acc.setdefault(trade.buyer, [0, 0, 0, 0])
            buyer[0] += trade.quantity_wh
            buyer[2] += trade.amount
            seller = acc.setdefault(trade.seller, [0, 0, 0, 0])
            seller[1] += trade.quantity_wh
            seller[3] += trade.amount
        return {agent: AgentTotals(*values) for agent, values in acc.items()}

    def to_dict(self) -> dict[str, Any]:
        """The JSON-compatible form."""
        return {
            "mechanism": self.mechanism,
            "trades": [t.to_dict() for t in self.trades],
            "clearing_prices": dict(self.clearing_prices),
            "volumes_wh": dict(self.volumes_wh),
            "rejected": [r.to_dict() for r in self.rejected],
            "unfilled": [u.to_dict() for u in self.unfilled],
        }

    def canonical_json(self) -> bytes:
        """UTF-8 JSON of :meth:`to_dict`, sorted keys, no spaces: equal results, equal bytes."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Read :meth:`to_dict`'s form back."""
        return cls(
            mechanism=data["mechanism"],
            trades=tuple(Trade.from_dict(t) for t in data["trades"]),
            clearing_prices={str(k): int(v) for k, v in data["clearing_prices"].items()},
            volumes_wh={str(k): int(v) for k, v in data["volumes_wh"].items()},
            rejected=tuple(Rejection.from_dict(r) for r in data["rejected"]),
            unfilled=tuple(Unfilled.from_dict(u) for u in data["unfilled"]),
        )
