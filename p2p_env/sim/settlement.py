"""Settlement of one slot: P2P at trade prices, the rest with the grid, in integer sen.

P2P trades are contracts: each agent pays (or receives) the trade money for what it bought (or
sold) on the exchange, whatever then happens physically. The meter decides the rest: the
**imbalance** ``i = metered - (bought - sold)`` is settled with the utility, the grid backstop:

* **undelivered sales**: the part of a positive imbalance up to what the agent sold
  (``min(i, sold)``: energy it sold and did not have) is bought at the **imbalance price**, the
  market's price ceiling (50 JPY/kWh by default). No sale can then profit from energy the seller
  does not have, whatever its tariff: without this rule an agent on a cheap tariff (the office,
  a first-block home) could sell "paper" energy and let the grid supply it, reselling retail;
* the rest of a positive imbalance is bought at **retail**: a monthly block tariff for homes and
  PHVs, the business energy price for the office;
* a negative imbalance is sold at **buyback**: the agent's own price (FIT or post-FIT) for what
  its own meter physically exported, and the lowest buyback price of the tariffs (the post-FIT
  price) for contract energy it bought and did not use. A FIT pays only for the home's own
  surplus, so buying P2P energy to export it at FIT earns nothing;
* the office's **demand charge** applies to its physical 30-minute import (``max(metered, 0)``),
  as the utility's meter measures it: paper trades cannot shave it, but V2B discharge, PV and
  a lower load can.

A home that sells its forecast surplus and falls short pays the imbalance price for the gap:
honest forecasting pays. Units: Wh, ticks of 0.01 JPY/kWh and sen (0.01 JPY), all integers; P2P
money comes from the exchange's trades and is conserved exactly among participants.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

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
    """Per agent, the price the utility pays for its own exported energy."""
    is_office: BoolArray
    office_index: IntArray
    """Indices of the office accounts (those with a demand charge)."""
    resale_ticks: int
    """Price of contract energy bought and not used: the lowest buyback price of the tariffs."""
    imbalance_ticks: int
    """Price of energy sold and not delivered: the market's price ceiling."""

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
            office_index=np.flatnonzero(community.kind == AgentKind.OFFICE),
            resale_ticks=ticks(min(buyback.values())),
            imbalance_ticks=ticks(config.market.price_max_jpy_per_kwh),
        )


@dataclass
class MonthState:
    """What the tariffs remember within a month (reset at each month's first slot)."""

    grid_bought_wh: IntArray
    """Per agent, retail grid purchases so far this month (block tariff position)."""
    peak_import_wh: IntArray
    """Per agent, the largest physical slot import this month (demand charge)."""
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
    """Energy bought from the grid: at retail plus the undelivered sales."""
    grid_sold_wh: IntArray
    grid_cost_sen: IntArray
    """Energy charge for grid purchases at retail (block tariff or office energy price)."""
    grid_revenue_sen: IntArray
    demand_charge_sen: IntArray
    undelivered_wh: IntArray
    """Energy sold on the exchange and not delivered (part of ``grid_bought_wh``)."""
    imbalance_penalty_sen: IntArray
    """What the undelivered energy cost at the imbalance price."""
    net_cost_sen: IntArray = field(init=False)

    def row(self, b: int) -> Settlement:
        """Community ``b`` of a batch settled at once (arrays with a leading ``B`` axis)."""
        row = object.__new__(Settlement)
        for name in _SETTLEMENT_ARRAYS:
            object.__setattr__(row, name, getattr(self, name)[b])
        return row

    @classmethod
    def computed(cls, net_cost_sen: IntArray, **arrays: IntArray) -> Settlement:
        """A settlement whose ``net_cost_sen`` was computed with it (by the compiled step,
        :mod:`p2p_env.sim._step_kernel`: the sum :meth:`__post_init__` takes, in the same
        order); ``arrays`` are the other fields."""
        if arrays.keys() != _GIVEN_ARRAYS:
            raise TypeError(
                f"Settlement.computed takes the fields {sorted(_GIVEN_ARRAYS)}, "
                f"got {sorted(arrays)}"
            )
        settled = object.__new__(cls)
        for name, value in arrays.items():
            object.__setattr__(settled, name, value)
        object.__setattr__(settled, "net_cost_sen", net_cost_sen)
        return settled

    def __post_init__(self) -> None:
        object.__setattr__(
            self,
            "net_cost_sen",
            self.p2p_paid_sen
            - self.p2p_received_sen
            + self.grid_cost_sen
            - self.grid_revenue_sen
            + self.demand_charge_sen
            + self.imbalance_penalty_sen,
        )


_SETTLEMENT_ARRAYS = tuple(f.name for f in fields(Settlement))
_GIVEN_ARRAYS = frozenset(_SETTLEMENT_ARRAYS) - {"net_cost_sen"}
"""The fields of a settlement other than the one it computes (:meth:`Settlement.computed`)."""


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
        metered_wh: Net import at each agent's meter (negative: export); every array may
            carry a leading batch axis (``B x agents``: ``B`` communities at once).
        p2p_bought_wh: Energy each agent bought on the exchange this slot.
        p2p_sold_wh: Energy each agent sold on the exchange this slot.
        p2p_paid_sen: Money each agent paid for its P2P purchases.
        p2p_received_sen: Money each agent received for its P2P sales.
        tariffs: Grid prices.
        state: The month's tariff memory, updated in place.
    """
    imbalance = metered_wh - (p2p_bought_wh - p2p_sold_wh)
    shortage = np.maximum(imbalance, 0)
    undelivered = np.minimum(shortage, p2p_sold_wh)
    retail = shortage - undelivered
    exported = np.maximum(-imbalance, 0)
    own_export = np.minimum(exported, np.maximum(-metered_wh, 0))
    resold = exported - own_export
    office = tariffs.is_office
    block = tariffs.residential.charge_milli_sen(state.grid_bought_wh, retail)
    # Every charge is exact in 1/1000 sen and rounded to sen once, per charge and agent: the
    # three are rounded together (one call instead of three; the same values).
    milli = np.stack(
        (
            np.where(office, retail * tariffs.office_energy_ticks, block),
            own_export * tariffs.buyback_ticks + resold * tariffs.resale_ticks,
            undelivered * tariffs.imbalance_ticks,
        )
    )
    grid_cost, revenue, penalty = to_sen(milli)
    physical_import = np.maximum(metered_wh, 0)
    demand = np.zeros_like(metered_wh)
    if tariffs.office_index.size:
        o = tariffs.office_index
        demand[..., o] = tariffs.office_demand.charge_sen(
            state.peak_import_wh[..., o], physical_import[..., o]
        )
    state.grid_bought_wh += retail
    np.maximum(state.peak_import_wh, physical_import, out=state.peak_import_wh)
    return Settlement(
        p2p_bought_wh=p2p_bought_wh,
        p2p_sold_wh=p2p_sold_wh,
        p2p_paid_sen=p2p_paid_sen,
        p2p_received_sen=p2p_received_sen,
        grid_bought_wh=retail + undelivered,
        grid_sold_wh=exported,
        grid_cost_sen=grid_cost,
        grid_revenue_sen=revenue,
        demand_charge_sen=demand,
        undelivered_wh=undelivered,
        imbalance_penalty_sen=penalty,
    )
