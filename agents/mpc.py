"""``mpc``: forecast + a rolling linear programme per agent (receding horizon, HiGHS).

Every slot each agent forecasts its next day and plans it with a linear programme over the next
:data:`HORIZON` slots (cut at the episode's end); only the first slot of the plan is acted on,
and the plan is made again at the next slot. The agents with storage are planned together in one
block-diagonal sparse programme per agent type and slot (one ``scipy.optimize.linprog`` call with
``method="highs"``; the blocks do not interact): a month of the demonstration is 2,976 solves of
about 8 ms. Agents without storage have nothing to optimise and trade their forecast net.

Prices the plans use (ticks of 0.01 JPY/kWh; ``ref`` is the lowest buyback of the tariffs, what a
typical seller gets, and ``retail`` the agent's marginal grid price from its observation):

* **bid** ``= ref + 65 % (retail - ref)`` on every tag; **ask** ``= max(buyback, buyback + 35 %
  (retail - buyback))`` on the agent's own tag (a FIT home never sells below its FIT price) —
  the rule baseline's prices, so the two differ only in planning;
* the **expected buy price** of a slot is the bid where the community forecast (every home's and
  the office's load and PV, forecast by the same model: a public forecast, like the weather) has
  a surplus, else ``retail``; the **expected sale value** is the ask where the community has a
  deficit, else the buyback; a value above the slot's buy price is capped at it (one meter cannot
  buy and sell in the same slot, and the cap keeps the programme bounded);
* stored energy left at the end of a full horizon is worth the mean sale value (without it the
  plan would empty every store at the horizon's end).

Per type:

* **home with battery**: charge/discharge within power, efficiency and SoC limits; import and
  export priced as above;
* **PHV**: charges when its own schedule has it at home or at the office (a driver knows her
  commute plan: :attr:`SlotSeries.phv_location` and :attr:`SlotSeries.phv_drive_wh` of *its own*
  car, and nothing of the other cars: when all office chargers are taken the simulator curtails
  the charge and the next plan sees it); trips draw their energy, and gasoline
  (``gasoline_jpy_per_l``) covers what the battery lacks; V2B discharge when the config allows it;
* **home without battery, office**: the order is the forecast net of the slot; the office bids
  its grid energy price and offers a surplus at the ask. Its demand charge is on its physical
  import (:mod:`p2p_env.sim.settlement`), which trading cannot lower and the office has no
  storage to shave, so it pays no premium at predicted peaks.

Forecasts: the observation carries the agent's own forecast of the next few slots
(``env.forecast_horizon_slots``, 8 by default; the environment's forecast, whose error
``env.forecast_error_std`` is a config knob, the same the rule baseline reads); the rest of the
day comes from :class:`~agents.forecast.LagForecaster` (ridge on lags and calendar, trained on the
config's training period), as does the community forecast above. ``MPCPolicy(near_term="model")``
takes every slot from the forecaster (measured on August 2020: see the README). The forecaster is
fitted once per data set and process (in memory; nothing is written to disk).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from agents._lp import LinearProgram
from agents.base import ActionWriter, ObsView, TypedPolicy
from agents.forecast import HISTORY, Forecast, LagForecaster
from agents.oracle import gasoline_sen_per_wh
from p2p_env.data import Dataset, load_dataset
from p2p_env.policy import PolicyContext
from p2p_env.sim.community import AgentKind, Community
from p2p_env.sim.series import AT_HOME, AT_OFFICE

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

HORIZON = 48
SELL_SHARE = 0.35
BUY_SHARE = 0.65

NEAR_TERM = ("observation", "model")
MAX_STORAGE_UNITS = 1000
"""Most batteries and PHVs the MPC plans (a slot's programme has ~6 x 48 variables per unit; the
200-home community's 130 units take ~0.1 s a slot)."""

_FORECASTERS: dict[tuple[str, int], LagForecaster] = {}


def check_storage_units(community: Community) -> None:
    """Refuse communities with more than :data:`MAX_STORAGE_UNITS` batteries and PHVs.

    Raises:
        ValueError: naming the count and the limit.
    """
    units = community.batteries.n + community.n_phv
    if units > MAX_STORAGE_UNITS:
        raise ValueError(
            f"the MPC plans every battery and PHV each slot; this community has {units} "
            f"(at most {MAX_STORAGE_UNITS} are supported: a day would take hours)"
        )


def fitted_forecaster(dataset: Dataset, context: PolicyContext) -> LagForecaster:
    """The :class:`LagForecaster` of ``dataset``, trained on the config's training period once
    per process."""
    key = (dataset.key, HORIZON)
    if key not in _FORECASTERS:
        train = context.config.data.train
        _FORECASTERS[key] = LagForecaster(HORIZON).fit(dataset, train.start, train.end)
    return _FORECASTERS[key]


class MPCPolicy(TypedPolicy):
    """Forecast + receding-horizon linear programme per agent (see the module docstring).

    Args:
        near_term: ``observation``: the slots the observation forecasts (``env.
            forecast_horizon_slots``) come from it, the rest of the day from the forecaster;
            ``model``: every slot from the forecaster.
    """

    def __init__(self, near_term: str = "observation") -> None:
        super().__init__()
        if near_term not in NEAR_TERM:
            raise ValueError(f"near_term must be one of {', '.join(NEAR_TERM)}, got {near_term!r}")
        self.near_term = near_term
        self.forecaster: LagForecaster | None = None
        self.steps: dict[str, int] = {}
        self.slot = 0
        self.cache: tuple[int, Forecast] | None = None
        self.lp_seconds = 0.0
        self.lp_solves = 0

    def reset(self, context: PolicyContext, seed: int | None = None) -> None:
        super().reset(context, seed)
        check_storage_units(context.community)
        dataset = load_dataset(context.config)
        if dataset.n_slots != context.series.n_slots:
            raise ValueError(
                f"the config's data set has {dataset.n_slots} slots but the environment's series "
                f"has {context.series.n_slots}: the MPC forecasts the config's data set"
            )
        if context.episode_start < HISTORY:
            raise ValueError(
                f"the MPC's forecaster needs {HISTORY} slots of history before the episode, "
                f"which starts at slot {context.episode_start}"
            )
        self.forecaster = fitted_forecaster(dataset, context)
        self.steps = {}
        self.cache = None
        c = context.community
        self.phv_rows = c.index(AgentKind.PHV)
        self.battery_rows = c.index(AgentKind.HOME)[c.battery_home]
        self.homes = c.index(AgentKind.HOME)
        self.office = c.index(AgentKind.OFFICE)
        self.hours = context.series.slot_minutes / 60
        self.gasoline = gasoline_sen_per_wh(context)
        self.ref_buyback = min(context.config.tariffs.buyback_jpy_per_kwh.values()) * 100

    def act(
        self, agent_type: str, agent_ids: Sequence[str], observations: NDArray[np.float32]
    ) -> NDArray[np.float32]:
        self.slot = self.context.episode_start + self.steps.get(agent_type, 0)
        self.steps[agent_type] = self.steps.get(agent_type, 0) + 1
        return super().act(agent_type, agent_ids, observations)

    # Forecasts and prices ----------------------------------------------------------------------

    def horizon(self) -> int:
        ctx = self.context
        return min(HORIZON, ctx.episode_start + ctx.episode_slots - self.slot)

    def forecast(self) -> Forecast:
        """This slot's forecast (made once per slot, shared by the agent types)."""
        if self.forecaster is None:
            raise RuntimeError("the MPC was not reset with a context")
        if self.cache is None or self.cache[0] != self.slot:
            h = min(HORIZON, self.context.series.n_slots - self.slot)
            self.cache = (self.slot, self.forecaster.predict(self.slot, h))
        return self.cache[1]

    def agent_forecast(self, rows: IntArray, obs: ObsView) -> tuple[FloatArray, FloatArray]:
        """Load and PV forecasts (Wh, ``agents x horizon``) of homes or the office."""
        f = self.forecast()
        h = self.horizon()
        load = np.zeros((rows.size, h))
        pv = np.zeros((rows.size, h))
        position = {int(a): i for i, a in enumerate(self.homes)}
        for j, row in enumerate(rows.tolist()):
            if row in position:
                load[j] = f.home_load_kwh[position[row], :h] * 1000
                pv[j] = f.home_pv_kwh[position[row], :h] * 1000
            else:
                load[j] = f.office_load_kwh[:h] * 1000
                pv[j] = f.office_pv_kwh[:h] * 1000
        if self.near_term == "observation":
            near = min(h, obs.consumption_wh.shape[1])
            load[:, :near] = obs.consumption_wh[:, :near]
            pv[:, :near] = obs.pv_wh[:, :near]
        return load, pv

    def community_surplus(self) -> FloatArray:
        """Forecast community PV minus load per slot of the horizon, Wh."""
        f = self.forecast()
        h = self.horizon()
        surplus: FloatArray = (
            f.home_pv_kwh[:, :h].sum(axis=0)
            - f.home_load_kwh[:, :h].sum(axis=0)
            + f.office_pv_kwh[:h]
            - f.office_load_kwh[:h]
        ) * 1000
        return surplus

    def bid(self, obs: ObsView) -> FloatArray:
        spread = np.maximum(obs.retail_ticks - self.ref_buyback, 0.0)
        bid: FloatArray = self.ref_buyback + BUY_SHARE * spread
        return bid

    @staticmethod
    def ask(obs: ObsView) -> FloatArray:
        spread = np.maximum(obs.retail_ticks - obs.buyback_ticks, 0.0)
        ask: FloatArray = obs.buyback_ticks + SELL_SHARE * spread
        return ask

    def expected_prices(self, obs: ObsView) -> tuple[FloatArray, FloatArray]:
        """Per agent and slot, the expected buy price and sale value, ticks (module docstring)."""
        surplus = self.community_surplus()[None, :] > 0
        bid, ask = self.bid(obs)[:, None], self.ask(obs)[:, None]
        retail, buyback = obs.retail_ticks[:, None], obs.buyback_ticks[:, None]
        buy = np.where(surplus, np.minimum(bid, retail), retail)
        sell = np.where(surplus, buyback, np.maximum(ask, buyback))
        return buy, np.minimum(sell, buy)

    # Orders ------------------------------------------------------------------------------------

    def write_trade(self, rows: IntArray, obs: ObsView, out: ActionWriter, net: FloatArray) -> None:
        """Order ``net`` Wh (positive buys) at the bid or ask; no sell order without a tag."""
        can_sell = np.asarray([self.community.sell_tag[r] is not None for r in rows.tolist()])
        net = np.where((net < 0) & ~can_sell, 0.0, net)
        out.trade(net)
        out.prices(np.where(net > 0, self.bid(obs), self.ask(obs)))

    # Agents ------------------------------------------------------------------------------------

    def act_home(self, rows: IntArray, obs: ObsView, out: ActionWriter) -> None:
        load, pv = self.agent_forecast(rows, obs)
        net = load[:, 0] - pv[:, 0]
        storage = self.community.storage_capacity_wh()[rows] > 0
        if storage.any():
            sub = rows[storage]
            charge, discharge = self.plan_batteries(sub, obs, storage, load[storage], pv[storage])
            setpoint = np.zeros(rows.size)
            setpoint[storage] = charge - discharge
            out.storage(setpoint / self.hours)
            net = net + setpoint
        self.write_trade(rows, obs, out, net)

    def act_office(self, rows: IntArray, obs: ObsView, out: ActionWriter) -> None:
        load, pv = self.agent_forecast(rows, obs)
        net = load - pv
        now = net[:, 0]
        self.write_trade(rows, obs, out, now)
        out.prices(np.where(now > 0, obs.retail_ticks, self.ask(obs)))

    def act_phv(self, rows: IntArray, obs: ObsView, out: ActionWriter) -> None:
        charge, discharge = self.plan_phvs(rows, obs)
        out.storage((charge - discharge) / self.hours)
        self.write_trade(rows, obs, out, charge - discharge)

    # Programmes --------------------------------------------------------------------------------

    def plan_batteries(
        self,
        rows: IntArray,
        obs: ObsView,
        mask: NDArray[np.bool_],
        load: FloatArray,
        pv: FloatArray,
    ) -> tuple[FloatArray, FloatArray]:
        """First-slot charge and discharge (Wh) of each battery home's plan."""
        c = self.community
        unit = np.searchsorted(self.battery_rows, rows)
        bank = c.batteries
        buy, sell = self.expected_prices(obs)
        soc = obs.soc[mask] * bank.capacity_wh[unit]
        return self._solve(
            soc_wh=soc,
            capacity=bank.capacity_wh[unit],
            soc_min=bank.soc_min[unit],
            soc_max=bank.soc_max[unit],
            charge_wh=np.broadcast_to(
                (bank.charge_power_w[unit] * self.hours)[:, None], load.shape
            ),
            discharge_wh=np.broadcast_to(
                (bank.discharge_power_w[unit] * self.hours)[:, None], load.shape
            ),
            eta_c=bank.eta_charge[unit],
            eta_d=bank.eta_discharge[unit],
            net_wh=load - pv,
            drive_wh=np.zeros_like(load),
            buy=buy[mask],
            sell=sell[mask],
        )

    def plan_phvs(self, rows: IntArray, obs: ObsView) -> tuple[FloatArray, FloatArray]:
        """First-slot charge and discharge (Wh) of each PHV's plan."""
        s, c = self.context.series, self.community
        h = self.horizon()
        unit = np.searchsorted(self.phv_rows, rows)
        window = slice(self.slot, self.slot + h)
        location = s.phv_location[window][:, unit].T
        available = (location == AT_HOME) | (location == AT_OFFICE)
        available[:, 0] = obs.plugged
        bank = c.phvs
        power = np.where(available, (bank.charge_power_w[unit] * self.hours)[:, None], 0.0)
        out_power = np.where(available, (bank.discharge_power_w[unit] * self.hours)[:, None], 0.0)
        buy, sell = self.expected_prices(obs)
        return self._solve(
            soc_wh=obs.soc * bank.capacity_wh[unit],
            capacity=bank.capacity_wh[unit],
            soc_min=bank.soc_min[unit],
            soc_max=bank.soc_max[unit],
            charge_wh=power,
            discharge_wh=out_power,
            eta_c=bank.eta_charge[unit],
            eta_d=bank.eta_discharge[unit],
            net_wh=np.zeros((rows.size, h)),
            drive_wh=s.phv_drive_wh[window][:, unit].T,
            buy=buy,
            sell=sell,
        )

    def _solve(
        self,
        *,
        soc_wh: FloatArray,
        capacity: FloatArray,
        soc_min: FloatArray,
        soc_max: FloatArray,
        charge_wh: FloatArray,
        discharge_wh: FloatArray,
        eta_c: FloatArray,
        eta_d: FloatArray,
        net_wh: FloatArray,
        drive_wh: FloatArray,
        buy: FloatArray,
        sell: FloatArray,
    ) -> tuple[FloatArray, FloatArray]:
        """One block-diagonal programme for ``n`` storage units over the horizon.

        Per unit and slot: ``import - export = net + charge - discharge``; energy after the
        slot ``= before + eta_c charge - discharge / eta_d - drive + shortfall``; cost
        ``buy x import - sell x export + gasoline x shortfall - terminal value x energy``.
        """
        n, h = net_wh.shape
        lp = LinearProgram()
        lo, hi = (soc_min * capacity)[:, None], (soc_max * capacity)[:, None]
        start = np.clip(soc_wh, lo[:, 0], hi[:, 0])
        charge = lp.variables((n, h), 0.0, charge_wh)
        discharge = lp.variables((n, h), 0.0, discharge_wh)
        terminal = np.zeros((n, h))
        if self.horizon() == HORIZON:
            terminal[:, -1] = sell.mean(axis=1) / 1000
        energy = lp.variables((n, h), lo, hi, cost=-terminal)
        imports = lp.variables((n, h), cost=buy / 1000)
        exports = lp.variables((n, h), cost=-sell / 1000)
        shortfall = lp.variables((n, h), 0.0, drive_wh, cost=self.gasoline)
        lp.equal([(1, imports), (-1, exports), (-1, charge), (1, discharge)], net_wh)
        previous = np.concatenate([energy[:, :1], energy[:, :-1]], axis=1)
        has_previous = np.ones((n, h))
        has_previous[:, 0] = 0.0
        rhs = -drive_wh.copy()
        rhs[:, 0] += start
        lp.equal(
            [
                (1, energy),
                (-has_previous, previous),
                (-eta_c[:, None], charge),
                (1 / eta_d[:, None], discharge),
                (-1, shortfall),
            ],
            rhs,
        )
        began = time.perf_counter()
        solution = lp.solve()
        self.lp_seconds += time.perf_counter() - began
        self.lp_solves += 1
        return solution[charge[:, 0]], solution[discharge[:, 0]]
