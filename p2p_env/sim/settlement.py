"""Settlement of one slot: P2P at trade prices, the rest with the grid, in integer sen.

P2P trades are contracts: each agent pays (or receives) the trade money for what it bought (or
sold) on the exchange, whatever then happens physically. The meter decides the rest: the
**imbalance** ``metered - (bought - sold)`` is settled with the utility, the grid backstop: a
positive imbalance is bought at the retail tariff (a monthly block tariff for homes and PHVs; the
business energy price plus a demand charge on the month's peak import for the office), a negative
one sold at the agent's buyback price. A home that sold energy it then did not have buys the
shortfall at retail: over-selling costs money, so honest forecasting pays.

Units: Wh, ticks of 0.01 JPY/kWh and sen (0.01 JPY), all integers; P2P money comes from the
exchange's trades and is conserved exactly among participants.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from p2p_env.config import GymConfig
from p2p_env.sim.community import AgentKind, Community
from p2p_env.sim.tariffs import BlockTariff, DemandCharge, ticks, to_sen

IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]


@dataclass(frozen=True)
class GridTariffs:
    """The grid backstop's prices for every agent of a community."""

    residential: BlockTariff
    """Homes and PHVs (each PHV is its own account)."""
    office_energy_ticks: int
    """Office energy price including its surcharge."""
    office_demand: DemandCharge
    buyback_ticks: IntArray
    """Per agent, the price the utility pays for exported energy."""
    is_office: BoolArray

    @classmethod
    def from_config(cls, config: GymConfig, community: Community) -> GridTariffs:
        """Prices for ``community``: each home's buyback from its group, PHVs and the office at
        the post-FIT price when the config has one (else the lowest buyback price)."""
        tariffs = config.tariffs
        residential = tariffs.residential
        buyback = tariffs.buyback_jpy_per_kwh
        groups = {g.name: g for g in config.community.home_groups}
        default = buyback.get("post_fit", min(buyback.values()))
        per_agent = [buyback[groups[name].buyback] for name in community.home_group]
        per_agent += [default] * (community.n_agents - community.n_homes)
        slot_hours = config.data.slot_minutes / 60
        return cls(
            residential=BlockTariff.from_kwh(
                [(t.up_to_kwh, t.price_jpy_per_kwh) for t in residential.tiers],
                residential.renewable_surcharge_jpy_per_kwh,
            ),
            office_energy_ticks=ticks(
                tariffs.office.energy_price_jpy_per_kwh
                + tariffs.office.renewable_surcharge_jpy_per_kwh
            ),
            office_demand=DemandCharge(
                sen_per_kw_month=round(tariffs.office.demand_charge_jpy_per_kw_month * 100),
                slot_hours=slot_hours,
            ),
            buyback_ticks=np.asarray([ticks(p) for p in per_agent], dtype=np.int64),
            is_office=community.kind == AgentKind.OFFICE,
        )


@dataclass
class MonthState:
    """What the tariffs remember within a month (reset at each month's first slot)."""

    grid_bought_wh: IntArray
    """Per agent, grid purchases so far this month (block tariff position)."""
    peak_import_wh: IntArray
    """Per agent, the largest slot import from the grid this month (demand charge)."""
    month: int = -1

    @classmethod
    def zeros(cls, n_agents: int) -> MonthState:
        return cls(np.zeros(n_agents, np.int64), np.zeros(n_agents, np.int64))

    def roll(self, month: int) -> None:
        """Start a new month if ``month`` (any integer that changes monthly) has changed."""
        if month != self.month:
            self.grid_bought_wh[:] = 0
            self.peak_import_wh[:] = 0
            self.month = month


@dataclass(frozen=True)
class Settlement:
    """One slot's money per agent, in sen (positive = the agent pays)."""

    p2p_bought_wh: IntArray
    p2p_sold_wh: IntArray
    p2p_paid_sen: IntArray
    p2p_received_sen: IntArray
    grid_bought_wh: IntArray
    grid_sold_wh: IntArray
    grid_cost_sen: IntArray
    """Energy charge for grid purchases (block tariff or office energy price)."""
    grid_revenue_sen: IntArray
    demand_charge_sen: IntArray
    net_cost_sen: IntArray = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self,
            "net_cost_sen",
            self.p2p_paid_sen
            - self.p2p_received_sen
            + self.grid_cost_sen
            - self.grid_revenue_sen
            + self.demand_charge_sen,
        )


def settle(
    metered_wh: IntArray,
    p2p_bought_wh: IntArray,
    p2p_sold_wh: IntArray,
    p2p_paid_sen: IntArray,
    p2p_received_sen: IntArray,
    tariffs: GridTariffs,
    state: MonthState,
) -> Settlement:
    """Settle one slot for every agent and advance ``state``.

    Args:
        metered_wh: Net import at each agent's meter (negative: export).
        p2p_bought_wh: Energy each agent bought on the exchange this slot.
        p2p_sold_wh: Energy each agent sold on the exchange this slot.
        p2p_paid_sen: Money each agent paid for its P2P purchases.
        p2p_received_sen: Money each agent received for its P2P sales.
        tariffs: Grid prices.
        state: The month's tariff memory, updated in place.
    """
    imbalance = metered_wh - (p2p_bought_wh - p2p_sold_wh)
    grid_bought = np.maximum(imbalance, 0)
    grid_sold = np.maximum(-imbalance, 0)
    office = tariffs.is_office
    block = tariffs.residential.charge_sen(state.grid_bought_wh, grid_bought)
    office_energy = to_sen(grid_bought * tariffs.office_energy_ticks)
    grid_cost = np.where(office, office_energy, block)
    demand = np.where(
        office, tariffs.office_demand.charge_sen(state.peak_import_wh, grid_bought), 0
    )
    revenue = to_sen(grid_sold * tariffs.buyback_ticks)
    state.grid_bought_wh += grid_bought
    np.maximum(state.peak_import_wh, grid_bought, out=state.peak_import_wh)
    return Settlement(
        p2p_bought_wh=p2p_bought_wh,
        p2p_sold_wh=p2p_sold_wh,
        p2p_paid_sen=p2p_paid_sen,
        p2p_received_sen=p2p_received_sen,
        grid_bought_wh=grid_bought,
        grid_sold_wh=grid_sold,
        grid_cost_sen=grid_cost,
        grid_revenue_sen=revenue,
        demand_charge_sen=demand,
    )
