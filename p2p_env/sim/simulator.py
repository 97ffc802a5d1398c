"""The community simulator: one 30-minute slot end to end, vectorised over agents.

Per :meth:`CommunitySimulator.step` (the design's "one slot, end to end"):

1. decode every agent's action into an order and a storage set-point (:mod:`.actions`);
2. clear the orders on the exchange (:class:`~p2p_env.sim.market.Market`);
3. physics: the slot's load and PV are revealed, batteries and PHVs move within their limits,
   PHVs drive (on gasoline once the battery is empty);
4. settlement: P2P at trade prices, the imbalance with the grid (:mod:`.settlement`);
5. certificates and the slot's ledger block (:class:`~p2p_env.sim.market.Recorder`);
6. rewards: minus each agent's net cost in JPY times ``env.reward_scale``, plus the configured
   extras; the cost breakdown goes to :class:`SlotResult`.

No RL library is imported here; :mod:`p2p_env.envs` wraps this in PettingZoo and Gymnasium.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from p2p_env.config import GymConfig
from p2p_env.sim.actions import DecodedActions, action_size, decode
from p2p_env.sim.community import AgentKind, Community
from p2p_env.sim.exchange_market import ExchangeMarket
from p2p_env.sim.market import Market, MarketOutcome, Recorder, SlotFlows
from p2p_env.sim.series import AT_HOME, AT_OFFICE, SlotSeries
from p2p_env.sim.settlement import GridTariffs, MonthState, Settlement, settle
from p2p_env.sim.storage import StorageBank
from p2p_env.sim.tariffs import ticks

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class SlotResult:
    """What one slot did, per agent (arrays in agent order)."""

    slot: int
    rewards: FloatArray
    cost_jpy: FloatArray
    """Net cost of the slot including gasoline, JPY."""
    settlement: Settlement
    gasoline_sen: IntArray
    gasoline_l: FloatArray
    phv_shortfall_wh: FloatArray
    """Per agent (PHVs), trip energy the battery could not supply."""
    storage_curtailed_wh: FloatArray
    """Per agent, the part of its storage set-point that the limits did not allow."""
    decoded: DecodedActions
    outcome: MarketOutcome
    flows: SlotFlows
    block_hash: str
    soc: FloatArray
    """Per agent, state of charge as a fraction of capacity (NaN: no storage)."""


class CommunitySimulator:
    """A community stepping through slots of a :class:`SlotSeries`.

    Args:
        config: The run's config (community, market, tariffs, env).
        series: The time series, in the community's agent order.
        market: Clears each slot's orders; ``None``: the tagged exchange
            (:class:`~p2p_env.sim.exchange_market.ExchangeMarket`).
        recorder: Writes each slot's block; ``None`` records nothing (``block_hash`` is ``""``).
    """

    def __init__(
        self,
        config: GymConfig,
        series: SlotSeries,
        market: Market | None = None,
        recorder: Recorder | None = None,
    ) -> None:
        self.config = config
        self.community = Community.from_config(config)
        self.series = series
        self.market: Market = market or ExchangeMarket(config, self.community)
        self.recorder = recorder
        c = self.community
        if series.home_load_wh.shape[1] != c.n_homes or series.phv_location.shape[1] != c.n_phv:
            raise ValueError(
                f"series has {series.home_load_wh.shape[1]} homes and "
                f"{series.phv_location.shape[1]} PHVs; the community has {c.n_homes} and {c.n_phv}"
            )
        self.tags = tuple(config.market.tags)
        self.price_min = ticks(config.market.price_min_jpy_per_kwh)
        self.price_max = ticks(config.market.price_max_jpy_per_kwh)
        self.sell_tag_index = np.asarray(
            [self.tags.index(t) if t in self.tags else -1 for t in c.sell_tag], dtype=np.int64
        )
        self.tariffs = GridTariffs.from_config(config, c)
        self.homes = c.index(AgentKind.HOME)
        self.phvs = c.index(AgentKind.PHV)
        self.office = c.index(AgentKind.OFFICE)
        self._plugged_slot, self._plugged = -1, np.zeros(0, dtype=np.bool_)
        self.slot_hours = series.slot_minutes / 60
        phv = config.community.phv
        self.litres_per_wh = phv.km_per_kwh / 1000 / phv.fuel_km_per_l
        self.gasoline_sen_per_wh = self.litres_per_wh * config.tariffs.gasoline_jpy_per_l * 100
        times = series.start + np.arange(series.n_slots) * np.timedelta64(series.slot_minutes, "m")
        months = times.astype("datetime64[M]").astype(np.int64)
        self.month_of_slot = months
        self.action_size = action_size(len(self.tags))
        # Every storage unit, batteries then PHVs, as one bank (see :meth:`step`).
        self.storage = StorageBank.concat((c.batteries, c.phvs))
        self._storage_agents = np.concatenate((self.homes[c.battery_home], self.phvs))
        self._available = np.ones(self.storage.n, dtype=np.bool_)
        self._phv_floor_wh = c.phvs.min_wh
        self._homes = contiguous(self.homes)
        self._phvs = contiguous(self.phvs)
        # State, set by reset().
        self.slot = 0
        self.storage_soc_wh = np.zeros(self.storage.n)
        self.month = MonthState.zeros(c.n_agents)
        self.last_price = np.full(len(self.tags), -1, dtype=np.int64)
        self.last_volume = np.zeros(len(self.tags), dtype=np.int64)

    def reset(self, slot: int, phv_initial_soc: FloatArray | None = None, seed: int = 0) -> None:
        """Start at ``slot`` with batteries at their initial state and PHVs at ``phv_initial_soc``.

        ``seed`` seeds the market's clearing randomness for the episode.

        Tariff memory starts the month afresh: the block tariff's position and the office's peak
        are those of the month's first slot (an episode that starts mid-month is billed as if
        the month began with it).
        """
        if not 0 <= slot < self.series.n_slots:
            raise ValueError(f"slot {slot} outside the series (0..{self.series.n_slots - 1})")
        c = self.community
        self.slot = slot
        self.market.reset(seed)
        if self.recorder is not None:
            self.recorder.reset()
        phv_soc = np.full(c.n_phv, 0.5) if phv_initial_soc is None else phv_initial_soc
        self.storage_soc_wh = np.concatenate(
            (
                c.batteries.capacity_wh * c.battery_initial_soc,
                c.phvs.capacity_wh * np.clip(phv_soc, c.phvs.soc_min, c.phvs.soc_max),
            )
        )
        self.month = MonthState.zeros(c.n_agents)
        self.month.roll(int(self.month_of_slot[slot]))
        initial = ticks(self.config.market.initial_price_jpy_per_kwh)
        self.last_price = np.full(len(self.tags), initial, dtype=np.int64)
        self.last_volume = np.zeros(len(self.tags), dtype=np.int64)

    def plugged(self, slot: int) -> NDArray[np.bool_]:
        """PHVs that can charge in ``slot``: at home, or at the office while a charger is free.

        Office chargers go to the PHVs in index order (the first to arrive on a workday).
        """
        if self._plugged_slot == slot:
            return self._plugged
        location = self.series.phv_location[slot]
        at_office = location == AT_OFFICE
        charger_free = np.cumsum(at_office) <= self.community.office_chargers
        plugged: NDArray[np.bool_] = (location == AT_HOME) | (at_office & charger_free)
        plugged.flags.writeable = False  # shared by the step and the observations of a slot
        self._plugged_slot, self._plugged = slot, plugged
        return plugged

    def step(self, actions: NDArray[np.floating]) -> SlotResult:
        """Advance one slot with ``actions`` (``agents x action_size``, any float values)."""
        c, s, t = self.community, self.series, self.slot
        if t >= s.n_slots:
            raise RuntimeError("the series has no slot left: reset the simulator")
        self.month.roll(int(self.month_of_slot[t]))
        decoded = decode(actions, c, self.price_min, self.price_max, self.sell_tag_index)
        outcome = self.market.clear(t, decoded)

        # Physics.
        n = c.n_agents
        consumption = np.zeros(n)
        generation = np.zeros(n)
        consumption[self._homes] = s.home_load_wh[t]
        generation[self._homes] = s.home_pv_wh[t]
        if self.office.size:
            consumption[self.office] = s.office_load_wh[t]
            generation[self.office] = s.office_pv_wh[t]
        # Home batteries and PHVs move as one bank (batteries first): one vectorised step.
        units = self._storage_agents
        available = self._available
        if c.n_phv:
            available[c.batteries.n :] = self.plugged(t)
        step = self.storage.step(
            self.storage_soc_wh, decoded.setpoint_w[units], available, self.slot_hours
        )
        charge = np.zeros(n)
        discharge = np.zeros(n)
        curtailed = np.zeros(n)
        drawn_internally = np.zeros(n)
        charge[units] = step.charged_wh
        discharge[units] = step.discharged_wh
        curtailed[units] = step.curtailed_wh
        drawn_internally[units] = step.losses_wh
        shortfall = np.zeros(n)
        if c.n_phv:
            # Trips: the battery supplies what it can above its floor, gasoline the rest.
            need = s.phv_drive_wh[t]
            phv_soc = self.phv_soc_wh  # a view: updated in place
            drawn = np.minimum(need, np.maximum(phv_soc - self._phv_floor_wh, 0.0))
            phv_soc -= drawn
            shortfall[self._phvs] = need - drawn
            drawn_internally[self._phvs] += drawn
        metered = np.rint(consumption - generation + charge - discharge).astype(np.int64)

        settlement = settle(
            metered,
            outcome.bought_wh,
            outcome.sold_wh,
            outcome.paid_sen,
            outcome.received_sen,
            self.tariffs,
            self.month,
        )
        gasoline_sen = np.rint(shortfall * self.gasoline_sen_per_wh).astype(np.int64)
        cost_sen = settlement.net_cost_sen + gasoline_sen
        cost_jpy = cost_sen / 100.0
        env = self.config.env
        extras = (
            env.phv_unmet_departure_penalty_jpy_per_kwh * shortfall / 1000
            - env.green_preference_jpy_per_kwh * self._green_kwh(outcome)
        )
        rewards = -(cost_jpy + extras) * env.reward_scale

        flows = SlotFlows(
            slot=t,
            generation_wh=np.rint(generation).astype(np.int64),
            storage_discharge_wh=np.rint(discharge).astype(np.int64),
            storage_charge_wh=np.rint(charge).astype(np.int64),
            storage_drawn_wh=np.rint(drawn_internally).astype(np.int64),
            consumption_wh=np.rint(consumption).astype(np.int64),
            metered_wh=metered,
        )
        block_hash = self.recorder.record(flows, outcome, settlement) if self.recorder else ""
        traded = outcome.price_ticks >= 0
        self.last_price = np.where(traded, outcome.price_ticks, self.last_price)
        self.last_volume = outcome.volume_wh
        self.slot = t + 1
        return SlotResult(
            slot=t,
            rewards=rewards,
            cost_jpy=cost_jpy,
            settlement=settlement,
            gasoline_sen=gasoline_sen,
            gasoline_l=shortfall * self.litres_per_wh,
            phv_shortfall_wh=shortfall,
            storage_curtailed_wh=curtailed,
            decoded=decoded,
            outcome=outcome,
            flows=flows,
            block_hash=block_hash,
            soc=self.soc_fraction(),
        )

    def _green_kwh(self, outcome: MarketOutcome) -> FloatArray:
        if "pv" not in self.tags:
            return np.zeros(self.community.n_agents)
        green: FloatArray = outcome.bought_by_tag_wh[:, self.tags.index("pv")] / 1000.0
        return green

    @property
    def battery_soc_wh(self) -> FloatArray:
        """Stored energy of each home battery, Wh (a view of the storage state)."""
        return self.storage_soc_wh[: self.community.batteries.n]

    @property
    def phv_soc_wh(self) -> FloatArray:
        """Stored energy of each PHV, Wh (a view of the storage state)."""
        return self.storage_soc_wh[self.community.batteries.n :]

    def soc_fraction(self, missing: float = np.nan) -> FloatArray:
        """Per agent, stored energy as a fraction of capacity (``missing``, NaN by default, for
        agents without storage)."""
        c = self.community
        soc = np.full(c.n_agents, missing)
        soc[self._storage_agents] = self.storage_soc_wh / self.storage.capacity_wh
        return soc


def contiguous(index: IntArray) -> slice | IntArray:
    """``index`` as an equal slice when it is a contiguous ascending range, else unchanged
    (assigning through a slice is a view, through an index array a scatter)."""
    if index.size and np.array_equal(index, np.arange(index[0], index[0] + index.size)):
        return slice(int(index[0]), int(index[0]) + index.size)
    return index
