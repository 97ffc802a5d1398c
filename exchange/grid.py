"""The grid backstop: the utility is not a market participant, it settles what P2P did not.

After P2P clearing (and, in the environment, after metering), each agent's residual demand is
bought from the utility at the retail price and its residual supply sold to it at the buyback
price. Both prices are parameters (ticks of 0.01 JPY/kWh), either one figure for everyone or one
per agent (homes and the office have different tariffs; FIT and post-FIT homes different buyback
prices). Money follows the exchange's one rule (:func:`exchange.units.money`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from exchange.results import ClearingResult
from exchange.units import money

PriceSpec = int | Mapping[str, int]
"""One price in ticks for every agent, or a price per agent."""


@dataclass(frozen=True, slots=True)
class GridSettlement:
    """One agent's exchange with the utility in a slot.

    Attributes:
        agent: The agent.
        import_wh: Residual demand supplied by the utility, Wh.
        export_wh: Residual supply bought by the utility, Wh.
        retail_price: Ticks charged per kWh imported.
        buyback_price: Ticks paid per kWh exported.
        cost: Money the agent pays the utility, 0.01 JPY.
        revenue: Money the utility pays the agent, 0.01 JPY.
    """

    agent: str
    import_wh: int
    export_wh: int
    retail_price: int
    buyback_price: int
    cost: int
    revenue: int

    @property
    def net_cost(self) -> int:
        """``cost - revenue``, 0.01 JPY."""
        return self.cost - self.revenue

    def to_dict(self) -> dict[str, Any]:
        """The JSON-compatible form."""
        return {
            "agent": self.agent,
            "import_wh": self.import_wh,
            "export_wh": self.export_wh,
            "retail_price": self.retail_price,
            "buyback_price": self.buyback_price,
            "cost": self.cost,
            "revenue": self.revenue,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GridSettlement:
        """Read :meth:`to_dict`'s form back."""
        return cls(
            agent=str(data["agent"]),
            import_wh=int(data["import_wh"]),
            export_wh=int(data["export_wh"]),
            retail_price=int(data["retail_price"]),
            buyback_price=int(data["buyback_price"]),
            cost=int(data["cost"]),
            revenue=int(data["revenue"]),
        )


def residuals(result: ClearingResult) -> tuple[dict[str, int], dict[str, int]]:
    """Per agent, the Wh of its unfilled buy orders and of its unfilled sell orders.

    The two are kept apart (an agent may have both): netting them would be a trade with itself
    the exchange never made.
    """
    demand: dict[str, int] = {}
    supply: dict[str, int] = {}
    for item in result.unfilled:
        side = demand if item.side == "buy" else supply
        side[item.agent] = side.get(item.agent, 0) + item.quantity_wh
    return demand, supply


def grid_backstop(
    demand_wh: Mapping[str, int],
    supply_wh: Mapping[str, int],
    retail_price: PriceSpec,
    buyback_price: PriceSpec,
) -> dict[str, GridSettlement]:
    """Settle residual demand and supply with the utility.

    Args:
        demand_wh: Per agent, residual demand in Wh (non-negative).
        supply_wh: Per agent, residual supply in Wh (non-negative).
        retail_price: Ticks per kWh the utility charges; an int or a price per agent.
        buyback_price: Ticks per kWh the utility pays; an int or a price per agent.

    Returns:
        One :class:`GridSettlement` per agent named in either mapping, sorted by agent.

    Raises:
        ValueError: On a negative or non-integer quantity or price, or an agent with no price.
    """
    settlements: dict[str, GridSettlement] = {}
    for agent in sorted(set(demand_wh) | set(supply_wh)):
        imported = _quantity(demand_wh.get(agent, 0), "demand_wh", agent)
        exported = _quantity(supply_wh.get(agent, 0), "supply_wh", agent)
        retail = _price(retail_price, "retail_price", agent) if imported else 0
        buyback = _price(buyback_price, "buyback_price", agent) if exported else 0
        settlements[agent] = GridSettlement(
            agent=agent,
            import_wh=imported,
            export_wh=exported,
            retail_price=retail,
            buyback_price=buyback,
            cost=money(imported, retail),
            revenue=money(exported, buyback),
        )
    return settlements


def _quantity(value: object, field: str, agent: str) -> int:
    if type(value) is not int or value < 0:
        raise ValueError(f"{field}[{agent!r}] must be a non-negative integer Wh, got {value!r}")
    return value


def _price(spec: PriceSpec, field: str, agent: str) -> int:
    if isinstance(spec, Mapping):
        if agent not in spec:
            raise ValueError(f"{field} has no price for agent {agent!r}")
        value: object = spec[agent]
        where = f"{field}[{agent!r}]"
    else:
        value = spec
        where = field
    if type(value) is not int or value < 0:
        raise ValueError(f"{where} must be a non-negative integer number of ticks, got {value!r}")
    return value
