"""``oracle``: perfect foresight, one community-wide programme over the whole episode.

The oracle reads the episode's realised series (``context.series``: every load, PV output and
PHV trip) and solves one programme that minimises the **community's total cost** exactly as the
simulator bills it (:mod:`p2p_env.sim.settlement` plus gasoline in
:mod:`p2p_env.sim.simulator`). P2P money moves between members and nets out, so the objective
is what the community pays outside itself:

* retail grid purchases of homes and PHVs at the monthly block tariff (convex: one variable per
  tier and month, so the tiers fill in price order; only retail counts for the block position)
  plus the renewable surcharge; the office's retail purchases at its energy price;
* undelivered sales at the imbalance price (the market's price ceiling);
* the office's demand charge on its monthly peak **physical** import (a peak variable per
  month): trades cannot shave it;
* minus buyback revenue: the agent's own buyback price for its own physical export, the resale
  price (the lowest buyback) for contract energy it bought and did not use;
* gasoline for the trip energy a PHV battery cannot supply.

Decisions per slot: battery and PHV charge/discharge (power limits, efficiencies, SoC bounds,
availability: a PHV charges at home, or at the office while one of its chargers is free, the
simulator's rule), the P2P energy each agent buys or sells in the community pool (the pool
balances in every slot; orders within each agent's trade limit; agents without a sell tag never
sell) and the settlement of each agent's imbalance (metered net minus P2P net) as retail,
undelivered, own export and resale.

Each agent's meter is split into physical import and export. Sales plus the own export credited
at the agent's buyback are at most its physical export plus its undelivered energy: a sale
beyond the physical export is undelivered (and with the imbalance price above every other price
an optimum plans none), and a FIT is paid only on what is left of the agent's own export, so
buying or selling on paper earns nothing. Retail purchase and export in one slot are then never
profitable (resale pays less than any retail price), so the programme nets them as the meter
does. For agents without storage the meter is data and the model is exact. For storage agents
(batteries, PHVs) the meter's direction depends on the schedule, and the split is exact only if
import and export are not both positive: the programme is solved twice, first as a relaxation
(both allowed, with the valid cuts export <= PV surplus + discharge and import <= deficit +
charge), whose cost :attr:`Plan.bound_sen` is a lower bound on any policy's cost, then with each
storage agent-slot's direction fixed to the relaxation's metered sign. The relaxation's storage
schedule meets those directions, so the second programme is feasible, and its cost
:attr:`Plan.cost_sen` is what the simulator bills (to Wh and sen rounding); the two differ by
the price of fixing the directions (a fraction of a percent in the demonstration).

The plan becomes actions that make the exchange realise exactly the planned trades: sellers ask
``price_min`` on their own tag and buyers bid ``price_max`` on every tag, with the quantities
rounded to Wh and balanced per slot, so every order fills whatever the mechanism (a buyer's
remainder flows on to the next tag). The initial PHV states of charge are drawn by the
environment at reset and are not in the :class:`~p2p_env.policy.PolicyContext`: the first plan
assumes 0.6, and the first PHV observation triggers a re-plan with the decisions already sent
for the first slot held fixed (it costs at most that slot's re-optimisation).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from agents._lp import LinearProgram, LPError
from agents.base import ActionWriter, ObsView, TypedPolicy
from p2p_env.policy import PolicyContext
from p2p_env.sim.community import AgentKind, Community
from p2p_env.sim.series import AT_HOME, AT_OFFICE, SlotSeries
from p2p_env.sim.settlement import GridTariffs

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

ASSUMED_PHV_SOC = 0.6
"""Initial PHV state of charge assumed until the PHVs' first observation (the environment draws
it uniformly in [0.3, 0.9])."""
VARIABLES_PER_AGENT_SLOT = 12
"""Variables of the programme per agent and slot (trades, meter, settlement, storage, fuel)."""
MAX_VARIABLES = 4_000_000
"""Largest programme the oracle builds (a month of a 200-agent community is ~3.6 million)."""
PHYSICAL_EPS_WH = 1e-6
"""Metered export (Wh) above which the relaxation's slot counts as exporting for a storage agent."""


def check_size(n_agents: int, n_slots: int) -> None:
    """Refuse a programme above :data:`MAX_VARIABLES` (see :data:`VARIABLES_PER_AGENT_SLOT`).

    Raises:
        ValueError: naming the size and the limit.
    """
    n_vars = n_slots * n_agents * VARIABLES_PER_AGENT_SLOT
    if n_vars > MAX_VARIABLES:
        raise ValueError(
            f"the oracle's programme for {n_agents} agents over {n_slots} slots would have "
            f"about {n_vars:,} variables; at most {MAX_VARIABLES:,} are supported "
            "(use a shorter episode or a smaller community)"
        )


def phv_available(series: SlotSeries, community: Community, slots: slice) -> BoolArray:
    """Per slot and PHV, whether it can charge: the simulator's ``plugged`` rule, vectorised."""
    location = series.phv_location[slots]
    at_office = location == AT_OFFICE
    charger_free = np.cumsum(at_office, axis=1) <= community.office_chargers
    available: BoolArray = (location == AT_HOME) | (at_office & charger_free)
    return available


def month_segments(series: SlotSeries, start: int, n_slots: int) -> list[slice]:
    """Episode-relative slot ranges of each calendar month the episode touches."""
    times = series.start + (start + np.arange(n_slots)) * np.timedelta64(series.slot_minutes, "m")
    months = times.astype("datetime64[M]").astype(np.int64)
    edges = np.flatnonzero(np.diff(months)) + 1
    bounds = [0, *edges.tolist(), n_slots]
    return [slice(a, b) for a, b in itertools.pairwise(bounds)]


def gasoline_sen_per_wh(context: PolicyContext) -> float:
    """Gasoline cost of one Wh of trip energy the battery cannot supply (the simulator's rule)."""
    phv = context.config.community.phv
    gasoline = context.config.tariffs.gasoline_jpy_per_l
    return float(phv.km_per_kwh / 1000 / phv.fuel_km_per_l * gasoline * 100)


@dataclass(frozen=True)
class Plan:
    """The oracle's decisions, ``slots x agents`` (Wh; trades are balanced integers)."""

    trade_wh: IntArray
    """P2P net per slot and agent: positive buys, negative sells."""
    charge_wh: FloatArray
    discharge_wh: FloatArray
    grid_bought_wh: FloatArray
    """Retail grid purchases (the positive imbalance; undelivered sales are never planned)."""
    grid_sold_wh: FloatArray
    """Negative imbalance: own export at the agent's buyback plus resold contract energy."""
    physical_import_wh: FloatArray
    physical_export_wh: FloatArray
    shortfall_wh: FloatArray
    """PHV trip energy left to gasoline."""
    cost_sen: float
    """The programme's community cost (what the simulator should bill, to rounding)."""
    bound_sen: float
    """The linear relaxation's cost: no policy runs the episode for less (to rounding)."""
    final: bool
    """False for a preliminary plan (the relaxation, made before every state was known)."""
    overlap_wh: float
    """Simultaneous retail purchase and export in the plan: never profitable under the
    settlement (resale pays less than any retail price), so zero to solver tolerance."""


class CommunityModel:
    """The community programme of one episode (see the module docstring)."""

    def __init__(self, context: PolicyContext) -> None:
        c, s = context.community, context.series
        self.context = context
        self.community = c
        t0, n_slots = context.episode_start, context.episode_slots
        window = slice(t0, t0 + n_slots)
        self.n_slots, self.n_agents = n_slots, c.n_agents
        check_size(c.n_agents, n_slots)
        self.homes, self.phvs = c.index(AgentKind.HOME), c.index(AgentKind.PHV)
        self.office = c.index(AgentKind.OFFICE)
        hours = s.slot_minutes / 60
        self.hours = hours
        # Constant part of each agent's meter: load minus PV (PHVs: nothing but charging).
        load, pv = np.zeros((n_slots, c.n_agents)), np.zeros((n_slots, c.n_agents))
        load[:, self.homes], pv[:, self.homes] = s.home_load_wh[window], s.home_pv_wh[window]
        if self.office.size:
            load[:, self.office[0]] = s.office_load_wh[window]
            pv[:, self.office[0]] = s.office_pv_wh[window]
        self.consumption_wh, self.generation_wh = load, pv
        self.net_wh = load - pv
        # Storage per agent (zeros without): batteries, then PHVs.
        n = c.n_agents
        self.capacity = np.zeros(n)
        self.charge_w, self.discharge_w = np.zeros(n), np.zeros(n)
        self.eta_c, self.eta_d = np.ones(n), np.ones(n)
        self.soc_min, self.soc_max = np.zeros(n), np.zeros(n)
        self.available = np.zeros((n_slots, n), dtype=np.bool_)
        self.drive_wh = np.zeros((n_slots, n))
        self.storage = np.concatenate([self.homes[c.battery_home], self.phvs])
        for rows, bank in ((self.homes[c.battery_home], c.batteries), (self.phvs, c.phvs)):
            self.capacity[rows] = bank.capacity_wh
            self.charge_w[rows] = bank.charge_power_w
            self.discharge_w[rows] = bank.discharge_power_w
            self.eta_c[rows] = bank.eta_charge
            self.eta_d[rows] = bank.eta_discharge
            self.soc_min[rows] = bank.soc_min
            self.soc_max[rows] = bank.soc_max
        self.available[:, self.homes[c.battery_home]] = True
        if c.n_phv:
            self.available[:, self.phvs] = phv_available(s, c, window)
            self.drive_wh[:, self.phvs] = s.phv_drive_wh[window]
        self.initial_wh = np.zeros(n)
        self.initial_wh[self.homes[c.battery_home]] = c.batteries.capacity_wh * np.clip(
            c.battery_initial_soc, c.batteries.soc_min, c.batteries.soc_max
        )
        self.initial_wh[self.phvs] = c.phvs.capacity_wh * np.clip(
            ASSUMED_PHV_SOC, c.phvs.soc_min, c.phvs.soc_max
        )
        self.tariffs = GridTariffs.from_config(context.config, c)
        prices = self.tariffs.residential.prices_ticks
        if np.any(np.diff(prices) < 0):
            raise ValueError(
                f"the oracle needs a block tariff whose prices do not fall with use (convex), "
                f"got tier prices {prices.tolist()} ticks"
            )
        self.months = month_segments(s, t0, n_slots)
        self.gasoline = gasoline_sen_per_wh(context)
        self.can_sell = np.asarray([tag is not None for tag in c.sell_tag])

    def solve(
        self,
        fixed: dict[int, tuple[float, float, float]] | None = None,
        idle: IntArray | None = None,
        final: bool = True,
    ) -> Plan:
        """Solve the programme: the relaxation, then the plan with storage meter directions fixed.

        Args:
            fixed: Per agent, ``(trade_wh, charge_wh, discharge_wh)`` of the first slot, already
                sent to the environment.
            idle: Agents held idle (no trade, no storage) in the first slot: those whose state
                of charge is not known yet, so that a re-plan can always keep what was sent.
            final: False marks a preliminary plan (some states of charge not known yet).

        The relaxation is solved first; each storage agent's meter direction is then fixed from
        it and the programme re-solved, so that the plan's cost is what the simulator bills
        (see the module docstring). Preliminary plans are exact too: their first-slot decisions
        are kept by later plans and must meet the same rules.
        """
        relaxed = self._solve(fixed, idle, None)
        # The relaxation's storage schedule meets its own meter directions, so the second
        # programme is feasible (with no trades at worst) and costs at least the bound.
        metered = relaxed.physical_import_wh - relaxed.physical_export_wh
        plan = self._solve(fixed, idle, metered < -PHYSICAL_EPS_WH)
        return dataclasses.replace(plan, bound_sen=relaxed.cost_sen, final=final)

    def _solve(
        self,
        fixed: dict[int, tuple[float, float, float]] | None,
        idle: IntArray | None,
        exporting: BoolArray | None,
    ) -> Plan:
        """One programme; ``exporting`` (slots x agents) fixes storage agents' meter direction.

        Without ``exporting`` the physical import and export of a storage agent may overlap (a
        relaxation: its cost is a lower bound on any policy's cost).
        """
        lp = LinearProgram()
        n_slots, n = self.n_slots, self.n_agents
        limit = self.community.trade_limit_wh
        h = self.hours
        has_storage = self.capacity > 0
        # Physical meter: import and export parts. Without storage the meter is data.
        fixed_import = np.maximum(self.net_wh, 0.0)
        fixed_export = np.maximum(-self.net_wh, 0.0)
        imp_lb = np.where(has_storage, 0.0, fixed_import)
        imp_ub = np.where(has_storage, np.inf, fixed_import)
        exp_lb = np.where(has_storage, 0.0, fixed_export)
        exp_ub = np.where(has_storage, np.inf, fixed_export)
        if exporting is not None:
            imp_ub = np.where(has_storage & exporting, 0.0, imp_ub)
            exp_ub = np.where(has_storage & ~exporting, 0.0, exp_ub)
        phys_in = lp.variables((n_slots, n), imp_lb, imp_ub)
        phys_out = lp.variables((n_slots, n), exp_lb, exp_ub)
        buy = lp.variables((n_slots, n), 0.0, limit)
        sell = lp.variables((n_slots, n), 0.0, np.where(self.can_sell, limit, 0.0))
        is_office = self.tariffs.is_office
        office_ticks = float(self.tariffs.office_energy_ticks)
        retail = lp.variables((n_slots, n), cost=np.where(is_office, office_ticks / 1000, 0.0))
        undelivered = lp.variables((n_slots, n), cost=self.tariffs.imbalance_ticks / 1000)
        own_export = lp.variables((n_slots, n), cost=-self.tariffs.buyback_ticks / 1000)
        resold = lp.variables((n_slots, n), cost=-self.tariffs.resale_ticks / 1000)
        charge = lp.variables((n_slots, n), 0.0, self.charge_w * h * self.available)
        discharge = lp.variables((n_slots, n), 0.0, self.discharge_w * h * self.available)
        energy = lp.variables(
            (n_slots, n), self.soc_min * self.capacity, self.soc_max * self.capacity
        )
        shortfall = lp.variables((n_slots, n), 0.0, self.drive_wh, cost=self.gasoline)
        # Meter: physical import - export = load - PV + charge - discharge.
        lp.equal(
            [(1, phys_in), (-1, phys_out), (-1, charge), (1, discharge)],
            self.net_wh,
        )
        # Valid cuts for the relaxation: an agent exports at most its PV surplus plus its
        # discharge, and imports at most its load deficit plus its charge.
        lp.at_most([(1, phys_out), (-1, discharge)], fixed_export)
        lp.at_most([(1, phys_in), (-1, charge)], fixed_import)
        # Imbalance (metered - P2P net) = retail + undelivered - exported.
        lp.equal(
            [
                (1, phys_in),
                (-1, phys_out),
                (-1, buy),
                (1, sell),
                (-1, retail),
                (-1, undelivered),
                (1, own_export),
                (1, resold),
            ],
            0.0,
        )
        # What an agent sells beyond its physical export is undelivered (bought at the imbalance
        # price), and the energy credited at its own buyback is what is left of its physical
        # export after its sales: sales + own export <= physical export + undelivered. With the
        # imbalance price above every retail and buyback price an optimum plans undelivered
        # energy only where decisions already sent force it (Wh rounding of the first slot).
        lp.at_most([(1, sell), (1, own_export), (-1, phys_out), (-1, undelivered)], 0.0)
        # Storage: energy after the slot = before + stored - drawn - driven (gasoline covers
        # the shortfall); the level before driving is bounded too (the simulator clips there).
        st = self.storage
        if st.size:
            before = np.concatenate([np.full((1, st.size), -1), energy[:-1, st]])
            eta_c, eta_d = self.eta_c[st], self.eta_d[st]
            first = np.zeros((n_slots, st.size))
            first[0] = self.initial_wh[st]
            terms = [(1, energy[:, st]), (-eta_c, charge[:, st]), (1 / eta_d, discharge[:, st])]
            terms.append((-1, shortfall[:, st]))
            later = (before >= 0).astype(np.float64)
            lp.equal([*terms, (-later, np.maximum(before, 0))], first - self.drive_wh[:, st])
            driving = self.drive_wh[:, st] > 0
            if driving.any():
                rows = np.nonzero(driving)
                cols = st[rows[1]]
                lp.at_most(
                    [(1, energy[rows[0], cols]), (-1, shortfall[rows[0], cols])],
                    (self.soc_max * self.capacity)[cols] - self.drive_wh[rows[0], cols],
                )
        # The community pool balances in every slot.
        lp.equal_sums([(1, buy), (-1, sell)], np.zeros(n_slots))
        # Tariffs per month: residential tiers on retail purchases, the office's demand charge
        # on its physical import.
        residential = np.flatnonzero(~is_office)
        tariff = self.tariffs.residential
        lower = np.concatenate(([0], tariff.bounds_wh)).astype(np.float64)
        width = np.concatenate((np.diff(lower), [np.inf]))
        tier_cost = (tariff.prices_ticks + tariff.surcharge_ticks) / 1000
        rate = self.tariffs.office_demand.sen_per_kw_month / (1000 * h)
        for month in self.months:
            if residential.size:
                tiers = lp.variables((residential.size, width.size), 0.0, width, cost=tier_cost)
                lp.equal_sums(
                    [(1, tiers), (-1, retail[month][:, residential].T)],
                    np.zeros(residential.size),
                )
            if self.office.size:
                peak = lp.variables((1,), cost=rate)
                lp.at_most([(1, phys_in[month, self.office[0]]), (-1, peak)], 0.0)
        if fixed:
            agents = np.asarray(list(fixed), dtype=np.int64)
            values = np.asarray(list(fixed.values()), dtype=np.float64)
            lp.fix(buy[0, agents], np.maximum(values[:, 0], 0.0))
            lp.fix(sell[0, agents], np.maximum(-values[:, 0], 0.0))
            lp.fix(charge[0, agents], values[:, 1])
            lp.fix(discharge[0, agents], values[:, 2])
        if idle is not None and idle.size:
            for block in (buy, sell, charge, discharge):
                lp.fix(block[0, idle], 0.0)
        solution = lp.solve(time_limit_s=600.0)
        grid_in, exported = solution[retail], solution[own_export] + solution[resold]
        overlap = np.minimum(grid_in, exported)
        trade = solution[buy] - solution[sell]
        keep = np.zeros(n, dtype=np.bool_)
        if fixed:
            keep[list(fixed)] = True
        return Plan(
            trade_wh=balanced_trades(trade, keep),
            charge_wh=solution[charge],
            discharge_wh=solution[discharge],
            grid_bought_wh=grid_in,
            grid_sold_wh=exported,
            physical_import_wh=solution[phys_in],
            physical_export_wh=solution[phys_out],
            shortfall_wh=solution[shortfall],
            cost_sen=solution.objective,
            bound_sen=solution.objective,
            final=exporting is not None,
            overlap_wh=float(overlap.sum()),
        )


def balanced_trades(trade_wh: FloatArray, keep: BoolArray) -> IntArray:
    """Round P2P nets to Wh so that each slot's purchases equal its sales exactly.

    The rounding surplus of a slot is taken off the largest orders on the long side; agents in
    ``keep`` (orders already sent for the first slot) are never changed in the first slot.
    """
    q = np.rint(trade_wh).astype(np.int64)
    for t in np.flatnonzero(q.sum(axis=1) != 0):
        row = q[t]
        excess = int(row.sum())
        side = 1 if excess > 0 else -1
        movable = ~keep if t == 0 else np.ones_like(keep)
        candidates = np.flatnonzero((np.sign(row) == side) & movable)
        for i in candidates[np.argsort(-np.abs(row[candidates]))]:
            take = min(abs(excess), abs(int(row[i])))
            row[i] -= side * take
            excess -= side * take
            if excess == 0:
                break
        if excess != 0:
            raise LPError(f"cannot balance the planned trades of slot {t} to the Wh")
    return q


class OraclePolicy(TypedPolicy):
    """Perfect-foresight community optimum (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self.model: CommunityModel | None = None
        self.plan: Plan | None = None
        self.steps: dict[str, int] = {}
        self.sent: dict[int, tuple[float, float, float]] = {}
        self.replans = 0
        self.slot = 0
        self.unknown = np.zeros(0, dtype=np.int64)
        """PHVs whose initial state of charge the oracle has not observed yet."""

    def reset(self, context: PolicyContext, seed: int | None = None) -> None:
        super().reset(context, seed)
        self.model = CommunityModel(context)
        self.plan = None
        self.steps = {}
        self.sent = {}
        self.replans = 0
        self.unknown = self.model.phvs.copy()

    @property
    def planned_cost_sen(self) -> float:
        """The community cost of the current plan, sen (NaN before the first action)."""
        return self.plan.cost_sen if self.plan is not None else float("nan")

    def act(
        self, agent_type: str, agent_ids: Sequence[str], observations: NDArray[np.float32]
    ) -> NDArray[np.float32]:
        self.slot = self.steps.get(agent_type, 0)
        self.steps[agent_type] = self.slot + 1
        return super().act(agent_type, agent_ids, observations)

    def _plan_for(self, rows: IntArray, obs: ObsView) -> Plan:
        """The plan; in the first slot, re-solved when storage turns out to differ from it."""
        model = self.model
        if model is None:
            raise RuntimeError("the oracle was not reset with a context")
        if self.slot == 0:
            has_storage = model.capacity[rows] > 0
            observed = obs.soc * model.capacity[rows]
            stale = has_storage & (
                np.abs(observed - model.initial_wh[rows]) > 1e-3 * model.capacity[rows]
            )
            self.unknown = np.setdiff1d(self.unknown, rows)
            final = self.unknown.size == 0
            preliminary = self.plan is not None and not self.plan.final
            if stale.any() or self.plan is None or (final and preliminary):
                model.initial_wh[rows[has_storage]] = observed[has_storage]
                if self.plan is not None:
                    self.replans += 1
                # While some states of charge are unknown the plan only decides the first slot
                # of the agents acting now; it is re-solved once everything is known.
                self.plan = model.solve(fixed=dict(self.sent), idle=self.unknown, final=final)
        if self.plan is None:
            raise RuntimeError("the oracle acted after the first slot without a plan")
        return self.plan

    def _write(self, rows: IntArray, obs: ObsView, out: ActionWriter) -> None:
        plan = self._plan_for(rows, obs)
        t = self.slot
        if t >= plan.trade_wh.shape[0]:
            raise RuntimeError(f"slot {t} is past the oracle's episode of {plan.trade_wh.shape[0]}")
        trade = plan.trade_wh[t, rows]
        charge, discharge = plan.charge_wh[t, rows], plan.discharge_wh[t, rows]
        out.trade(trade.astype(np.float64))
        out.prices(np.where(trade > 0, float(out.pmax), float(out.pmin)))
        out.storage((charge - discharge) / self.model_hours)
        if t == 0:
            for i, q, c, d in zip(rows.tolist(), trade.tolist(), charge, discharge, strict=True):
                self.sent[i] = (float(q), float(c), float(d))

    @property
    def model_hours(self) -> float:
        if self.model is None:
            raise RuntimeError("the oracle was not reset with a context")
        return self.model.hours

    def act_home(self, rows: IntArray, obs: ObsView, out: ActionWriter) -> None:
        self._write(rows, obs, out)

    def act_phv(self, rows: IntArray, obs: ObsView, out: ActionWriter) -> None:
        self._write(rows, obs, out)

    def act_office(self, rows: IntArray, obs: ObsView, out: ActionWriter) -> None:
        self._write(rows, obs, out)
