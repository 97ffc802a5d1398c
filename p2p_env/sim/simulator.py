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

Steps 1, 3, 4 and 6 are the numpy code below (:func:`decode`, :func:`after_clearing`), the
documented behaviour; where numba runs, :mod:`p2p_env.sim.compiled` computes the same values in
one call each (proven against this code before use, tested equal).

No RL library is imported here; :mod:`p2p_env.envs` wraps this in PettingZoo and Gymnasium.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from numpy.typing import NDArray

from p2p_env.config import GymConfig
from p2p_env.sim import _step_layout as K
from p2p_env.sim import compiled
from p2p_env.sim.actions import DecodedActions, action_size, decode
from p2p_env.sim.community import AgentKind, Community
from p2p_env.sim.exchange_market import ExchangeMarket
from p2p_env.sim.ledger_recorder import LedgerRecorder
from p2p_env.sim.market import Market, MarketOutcome, Recorder, SlotFlows
from p2p_env.sim.series import AT_HOME, AT_OFFICE, SlotSeries
from p2p_env.sim.settlement import GridTariffs, MonthState, Settlement, settle
from p2p_env.sim.storage import StorageBank
from p2p_env.sim.tariffs import ticks

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


class _BlockHash:
    """:attr:`SlotResult.block_hash`: given as the hash, or as a function that waits for it
    (a block hashed in the background, :meth:`LedgerRecorder.record_many`), called on the
    first read and then kept. A data descriptor set on the class after the dataclass is made,
    so that the frozen dataclass's ``__init__`` sets the field through :meth:`__set__`."""

    _key = "_block_hash"

    def __get__(self, obj: object, owner: type | None = None) -> str:
        if obj is None:
            raise AttributeError("block_hash is read from a SlotResult")
        value: str | Callable[[], str] = obj.__dict__[self._key]
        if not isinstance(value, str):
            value = obj.__dict__[self._key] = value()
        return value

    def __set__(self, obj: object, value: str | Callable[[], str]) -> None:
        obj.__dict__[self._key] = value


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
    """The hash (hex) of the slot's ledger block ("" without a ledger). The constructor also
    takes a function that waits for the hash (see :class:`_BlockHash`)."""
    soc: FloatArray
    """Per agent, state of charge as a fraction of capacity (NaN: no storage)."""
    info_columns: FloatArray
    """The numbers of the agents' infos, one row per key of
    :data:`p2p_env.sim._step_layout.INFO_KEYS` (``keys x agents``; :func:`info_columns`)."""

    def __getstate__(self) -> dict[str, Any]:
        """A pickle or copy holds the block's hash, not the function that waits for it."""
        _ = self.block_hash
        return self.__dict__


SlotResult.block_hash = _BlockHash()  # type: ignore[assignment]


@dataclass(frozen=True)
class SimState:
    """The state that carries between slots, for ``B`` communities (leading axis ``B``).

    A lone :class:`CommunitySimulator` holds a state of ``B = 1``; a batch
    (:class:`~p2p_env.sim.batched.BatchedSimulator`) holds one of ``B`` rows and gives each of
    its simulators a one-row view, so the batch steps every community with one array program
    while each simulator still reads (and resets) its own row. Everything is updated in place.
    """

    storage_soc_wh: FloatArray
    """``B x units``: stored energy of every battery, then every PHV."""
    grid_bought_wh: IntArray
    """``B x agents``: retail grid purchases so far this month (block tariff position)."""
    peak_import_wh: IntArray
    """``B x agents``: the month's largest physical slot import (demand charge)."""
    last_price: IntArray
    """``B x tags``: the last clearing price per tag, ticks."""
    last_volume: IntArray
    """``B x tags``: the last slot's traded volume per tag, Wh."""

    @classmethod
    def zeros(cls, batch: int, units: int, agents: int, tags: int) -> SimState:
        return cls(
            storage_soc_wh=np.zeros((batch, units)),
            grid_bought_wh=np.zeros((batch, agents), np.int64),
            peak_import_wh=np.zeros((batch, agents), np.int64),
            last_price=np.full((batch, tags), -1, np.int64),
            last_volume=np.zeros((batch, tags), np.int64),
        )

    def rows(self, start: int, stop: int) -> SimState:
        """A view of communities ``start .. stop - 1`` (writes go to this state)."""
        return SimState(
            storage_soc_wh=self.storage_soc_wh[start:stop],
            grid_bought_wh=self.grid_bought_wh[start:stop],
            peak_import_wh=self.peak_import_wh[start:stop],
            last_price=self.last_price[start:stop],
            last_volume=self.last_volume[start:stop],
        )


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
        self._phv_floor_wh = c.phvs.min_wh
        self._homes = contiguous(self.homes)
        self._phvs = contiguous(self.phvs)
        self._compiled_step: compiled.CompiledStep | None = None
        """This layout's compiled step, once :func:`p2p_env.sim.compiled.step_of` proved it."""
        # State, set by reset().
        self.slot = 0
        self.month = MonthState.zeros(c.n_agents)
        self.bind(SimState.zeros(1, self.storage.n, c.n_agents, len(self.tags)))

    def bind(self, state: SimState) -> None:
        """Keep this simulator's state in ``state`` (one row; a batch passes a view of its own
        state). The values are not copied: reset the simulator afterwards."""
        if state.storage_soc_wh.shape != (1, self.storage.n):
            raise ValueError(
                f"state rows have shape {state.storage_soc_wh.shape}, "
                f"expected (1, {self.storage.n})"
            )
        self.state = state
        self.month = MonthState(state.grid_bought_wh[0], state.peak_import_wh[0], self.month.month)

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
        # In place: the state may be a row of a batch's arrays.
        self.battery_soc_wh[:] = c.batteries.capacity_wh * c.battery_initial_soc
        self.phv_soc_wh[:] = c.phvs.capacity_wh * np.clip(phv_soc, c.phvs.soc_min, c.phvs.soc_max)
        self.month.month = -1
        self.month.roll(int(self.month_of_slot[slot]))
        self.last_price[:] = ticks(self.config.market.initial_price_jpy_per_kwh)
        self.last_volume[:] = 0

    def plugged(self, slot: int) -> NDArray[np.bool_]:
        """PHVs that can charge in ``slot``: at home, or at the office while a charger is free.

        Office chargers go to the PHVs in index order (the first to arrive on a workday).
        """
        if self._plugged_slot == slot:
            return self._plugged
        plugged: NDArray[np.bool_] = self.plugged_many(np.asarray([slot]))[0]
        plugged.flags.writeable = False  # shared by the step and the observations of a slot
        self._plugged_slot, self._plugged = slot, plugged
        return plugged

    def plugged_many(self, slots: IntArray) -> NDArray[np.bool_]:
        """:meth:`plugged` of several slots at once, ``len(slots) x PHVs``."""
        location = self.series.phv_location[slots]
        at_office = location == AT_OFFICE
        charger_free = np.cumsum(at_office, axis=-1) <= self.community.office_chargers
        plugged: NDArray[np.bool_] = (location == AT_HOME) | (at_office & charger_free)
        return plugged

    def step(self, actions: NDArray[np.floating]) -> SlotResult:
        """Advance one slot with ``actions`` (``agents x action_size``, any float values)."""
        array = np.asarray(actions)
        n = self.community.n_agents
        if array.ndim != 2 or array.shape[0] != n:
            raise ValueError(f"actions must have shape ({n}, T + 2), got {tuple(array.shape)}")
        return step_communities((self,), array[None], self.state)[0]

    @property
    def storage_soc_wh(self) -> FloatArray:
        """Stored energy of every battery, then every PHV, Wh (a view of the state)."""
        soc: FloatArray = self.state.storage_soc_wh[0]
        return soc

    @property
    def battery_soc_wh(self) -> FloatArray:
        """Stored energy of each home battery, Wh (a view of the state)."""
        return self.state.storage_soc_wh[0, : self.community.batteries.n]

    @property
    def phv_soc_wh(self) -> FloatArray:
        """Stored energy of each PHV, Wh (a view of the state)."""
        return self.state.storage_soc_wh[0, self.community.batteries.n :]

    @property
    def last_price(self) -> IntArray:
        """Per tag, the last clearing price, ticks (the initial price before any trade)."""
        price: IntArray = self.state.last_price[0]
        return price

    @property
    def last_volume(self) -> IntArray:
        """Per tag, the volume traded in the last slot, Wh."""
        volume: IntArray = self.state.last_volume[0]
        return volume

    def soc_fraction(self) -> FloatArray:
        """Per agent, stored energy as a fraction of capacity (NaN for agents without storage)."""
        soc: FloatArray = soc_rows(self, self.state.storage_soc_wh)[0]
        return soc


def step_communities(
    sims: Sequence[CommunitySimulator],
    actions: NDArray[np.floating],
    state: SimState,
    *,
    background_ledger: bool = False,
) -> list[SlotResult]:
    """Advance ``B`` communities of one layout one slot each, as one array program.

    Decoding, physics, settlement and rewards run once over ``B x agents`` arrays (compiled
    where :func:`p2p_env.sim.compiled.step_of` gives a step), and so do the clearing of every
    community's own orders (:func:`clear_communities`) and the writing and hashing of every
    community's block (:meth:`LedgerRecorder.record_many`), each appended to its community's
    own chain. Each community may be at its own slot of the shared series.
    Community ``b`` gets exactly what ``sims[b].step(actions[b])`` alone would give (tested).

    Args:
        sims: The communities, all with ``sims[0]``'s config, community and series.
        actions: ``B x agents x action_size``.
        state: The communities' state, row ``b`` being ``sims[b].state`` (updated in place).
        background_ledger: Write and hash the blocks on the ledgers' background thread
            (:meth:`LedgerRecorder.record_many`), while the caller goes on: each ledger appends
            its block when next used, and each result's ``block_hash`` waits for its block when
            first read. For a caller that does not read the hash at once (the batched VecEnv
            without full infos): it takes the hashing off the step's path.
    """
    lead = sims[0]
    c, s = lead.community, lead.series
    t = np.fromiter((sim.slot for sim in sims), np.int64, len(sims))
    if t.max() >= s.n_slots:
        raise RuntimeError("the series has no slot left: reset the simulator")
    for sim, slot in zip(sims, t.tolist(), strict=True):
        sim.month.roll(int(lead.month_of_slot[slot]))
    fast = compiled.step_of(lead)
    if fast is None:
        decoded = decode(actions, c, lead.price_min, lead.price_max, lead.sell_tag_index)
    else:
        decoded = fast.decode(actions)
    rows = [decoded.row(b) for b in range(len(sims))]
    outcomes, market = clear_communities(sims, t.tolist(), decoded, rows)
    if fast is None:
        available = storage_available(lead, plugged_rows(sims, t))
        done = after_clearing(lead, t, decoded, market, state, available)
    else:
        done = SlotArrays.of(fast.after_clearing(t, decoded, market, state), market)
    traded = market.price_ticks >= 0
    np.copyto(state.last_price, market.price_ticks, where=traded)
    state.last_volume[:] = market.volume_wh

    slots = t.tolist()
    flows = [
        SlotFlows(
            slot=slot,
            metered_wh=done.metered_wh[b],
            start=sim.series.slot_start_iso(slot),
            **{k: v[b] for k, v in done.flows.items()},
        )
        for b, (sim, slot) in enumerate(zip(sims, slots, strict=True))
    ]
    settled = [done.settlement.row(b) for b in range(len(sims))]
    ledgers = [sim.recorder for sim in sims if type(sim.recorder) is LedgerRecorder]
    hashes: list[str | Callable[[], str]]
    if len(ledgers) == len(sims) and (len(sims) > 1 or background_ledger):
        # Every community's settlement records, certificate events and block in one call each.
        f = done.flows
        amounts = np.stack(
            (
                f["generation_wh"],
                f["storage_discharge_wh"],
                f["storage_charge_wh"],
                f["storage_drawn_wh"],
                f["consumption_wh"],
            ),
            axis=1,
        )
        hashes = LedgerRecorder.record_many(
            ledgers,
            flows,
            outcomes,
            settled,
            LedgerRecorder.settlements_many(ledgers, done.metered_wh, done.settlement),
            amounts=amounts,
            exported=np.maximum(-done.metered_wh, 0),
            background=background_ledger,
        )
    else:
        hashes = [
            sim.recorder.record(f, outcome, s) if sim.recorder else ""
            for sim, f, outcome, s in zip(sims, flows, outcomes, settled, strict=True)
        ]
    results = []
    for b, (sim, slot, outcome) in enumerate(zip(sims, slots, outcomes, strict=True)):
        block_hash = hashes[b]
        sim.slot = slot + 1
        results.append(
            SlotResult(
                slot=slot,
                rewards=done.rewards[b],
                cost_jpy=done.cost_jpy[b],
                settlement=settled[b],
                gasoline_sen=done.gasoline_sen[b],
                gasoline_l=done.gasoline_l[b],
                phv_shortfall_wh=done.shortfall_wh[b],
                storage_curtailed_wh=done.curtailed_wh[b],
                decoded=rows[b],
                outcome=outcome,
                flows=flows[b],
                # A str, or (blocks hashed in the background) a function that gives it.
                block_hash=block_hash,  # type: ignore[arg-type]
                soc=done.soc[b],
                info_columns=done.info_columns[:, b],
            )
        )
    return results


def clear_communities(
    sims: Sequence[CommunitySimulator],
    slots: list[int],
    decoded: DecodedActions,
    rows: Sequence[DecodedActions],
) -> tuple[list[MarketOutcome], MarketArrays]:
    """Clear community ``b``'s slot ``slots[b]`` on its market with its decoded actions
    (``rows[b]``, the row ``b`` of ``decoded``): every slot in one call where every market is
    the exchange's (:meth:`ExchangeMarket.clear_many`), else one market after the other."""
    if all(type(sim.market) is ExchangeMarket for sim in sims):
        batch = ExchangeMarket.clear_many(
            [sim.market for sim in sims],  # type: ignore[misc]
            slots,
            decoded,
        )
        if batch is not None:
            outcomes, tables = batch
            if tables is None:  # a slot cleared alone: its arrays are its outcome's
                return outcomes, MarketArrays.stack(outcomes)
            totals = tables.totals
            return outcomes, MarketArrays(
                bought_wh=totals[0],
                sold_wh=totals[1],
                paid_sen=totals[2],
                received_sen=totals[3],
                bought_by_tag_wh=tables.by_tag,
                price_ticks=tables.market[0],
                volume_wh=tables.market[1],
            )
    outcomes = [
        sim.market.clear(slot, row) for sim, slot, row in zip(sims, slots, rows, strict=True)
    ]
    return outcomes, MarketArrays.stack(outcomes)


def after_clearing(
    lead: CommunitySimulator,
    t: IntArray,
    decoded: DecodedActions,
    market: MarketArrays,
    state: SimState,
    available: NDArray[np.bool_],
) -> SlotArrays:
    """Physics, settlement, rewards and the infos' numbers of ``B`` communities at slots
    ``t``, once cleared.

    The reference in numpy of what :class:`p2p_env.sim.compiled.CompiledStep` computes in one
    call (tested equal). ``available`` says which storage units may move (``B x units``);
    ``state`` is updated in place.
    """
    c, s = lead.community, lead.series
    n = c.n_agents
    batch = t.size
    consumption = np.zeros((batch, n))
    generation = np.zeros((batch, n))
    consumption[:, lead._homes] = s.home_load_wh[t]
    generation[:, lead._homes] = s.home_pv_wh[t]
    if lead.office.size:
        consumption[:, lead.office] = s.office_load_wh[t][:, None]
        generation[:, lead.office] = s.office_pv_wh[t][:, None]
    # Home batteries and PHVs move as one bank (batteries first): one vectorised step.
    units = lead._storage_agents
    step = lead.storage.step(
        state.storage_soc_wh, decoded.setpoint_w[:, units], available, lead.slot_hours
    )
    charge = np.zeros((batch, n))
    discharge = np.zeros((batch, n))
    curtailed = np.zeros((batch, n))
    drawn_internally = np.zeros((batch, n))
    charge[:, units] = step.charged_wh
    discharge[:, units] = step.discharged_wh
    curtailed[:, units] = step.curtailed_wh
    drawn_internally[:, units] = step.losses_wh
    shortfall = np.zeros((batch, n))
    if c.n_phv:
        # Trips: the battery supplies what it can above its floor, gasoline the rest.
        need = s.phv_drive_wh[t]
        phv_soc = state.storage_soc_wh[:, c.batteries.n :]  # a view: updated in place
        drawn = np.minimum(need, np.maximum(phv_soc - lead._phv_floor_wh, 0.0))
        phv_soc -= drawn
        shortfall[:, lead._phvs] = need - drawn
        drawn_internally[:, lead._phvs] += drawn
    metered = np.rint(consumption - generation + charge - discharge).astype(np.int64)

    settlement = settle(
        metered,
        market.bought_wh,
        market.sold_wh,
        market.paid_sen,
        market.received_sen,
        lead.tariffs,
        MonthState(state.grid_bought_wh, state.peak_import_wh),
    )
    gasoline_sen = np.rint(shortfall * lead.gasoline_sen_per_wh).astype(np.int64)
    cost_sen = settlement.net_cost_sen + gasoline_sen
    cost_jpy = cost_sen / 100.0
    env = lead.config.env
    if "pv" in lead.tags:
        green = market.bought_by_tag_wh[..., lead.tags.index("pv")] / 1000.0
    else:
        green = np.zeros((batch, n))
    extras = (
        env.phv_unmet_departure_penalty_jpy_per_kwh * shortfall / 1000
        - env.green_preference_jpy_per_kwh * green
    )
    gasoline_l = shortfall * lead.litres_per_wh
    return SlotArrays(
        rewards=-(cost_jpy + extras) * env.reward_scale,
        cost_jpy=cost_jpy,
        gasoline_sen=gasoline_sen,
        gasoline_l=gasoline_l,
        shortfall_wh=shortfall,
        curtailed_wh=curtailed,
        soc=soc_rows(lead, state.storage_soc_wh),
        metered_wh=metered,
        flows={
            "generation_wh": np.rint(generation).astype(np.int64),
            "storage_discharge_wh": np.rint(discharge).astype(np.int64),
            "storage_charge_wh": np.rint(charge).astype(np.int64),
            "storage_drawn_wh": np.rint(drawn_internally).astype(np.int64),
            "consumption_wh": np.rint(consumption).astype(np.int64),
        },
        settlement=settlement,
        info_columns=info_columns(
            settlement, gasoline_sen, gasoline_l, cost_jpy, curtailed, shortfall
        ),
    )


def info_columns(
    s: Settlement,
    gasoline_sen: IntArray,
    gasoline_l: FloatArray,
    cost_jpy: FloatArray,
    curtailed_wh: FloatArray,
    shortfall_wh: FloatArray,
) -> FloatArray:
    """The numbers of the agents' infos in JPY, kWh and litres, one row per key of
    :data:`p2p_env.sim._step_layout.INFO_KEYS` (arrays of any shape; ``keys x ...``)."""
    return np.stack(
        (
            s.p2p_bought_wh / 1000,
            s.p2p_sold_wh / 1000,
            s.p2p_paid_sen / 100,
            s.p2p_received_sen / 100,
            s.grid_bought_wh / 1000,
            s.grid_sold_wh / 1000,
            s.grid_cost_sen / 100,
            s.grid_revenue_sen / 100,
            s.demand_charge_sen / 100,
            s.undelivered_wh / 1000,
            s.imbalance_penalty_sen / 100,
            gasoline_sen / 100,
            gasoline_l,
            cost_jpy,
            (s.grid_bought_wh - s.grid_sold_wh) / 1000,
            curtailed_wh / 1000,
            shortfall_wh / 1000,
        )
    )


@dataclass(frozen=True)
class SlotArrays:
    """What :func:`after_clearing` gives: ``B x agents`` arrays of the slot's outcome."""

    rewards: FloatArray
    cost_jpy: FloatArray
    gasoline_sen: IntArray
    gasoline_l: FloatArray
    shortfall_wh: FloatArray
    curtailed_wh: FloatArray
    soc: FloatArray
    metered_wh: IntArray
    flows: dict[str, IntArray]
    """:class:`~p2p_env.sim.market.SlotFlows`' arrays other than the meter, by field name."""
    settlement: Settlement
    info_columns: FloatArray
    """``keys x B x agents``: :func:`info_columns`."""

    @classmethod
    def of(
        cls, computed: tuple[FloatArray, IntArray, FloatArray], market: MarketArrays
    ) -> SlotArrays:
        """From the compiled step's output rows (:mod:`p2p_env.sim._step_kernel`'s layout)."""
        floats, ints, info = computed
        return cls(
            rewards=floats[K.F_REWARD],
            cost_jpy=floats[K.F_COST_JPY],
            gasoline_sen=ints[K.I_GASOLINE_SEN],
            gasoline_l=floats[K.F_GASOLINE_L],
            shortfall_wh=floats[K.F_SHORTFALL],
            curtailed_wh=floats[K.F_CURTAILED],
            soc=floats[K.F_SOC],
            metered_wh=ints[K.I_METERED],
            flows={
                "generation_wh": ints[K.I_GENERATION],
                "storage_discharge_wh": ints[K.I_DISCHARGE],
                "storage_charge_wh": ints[K.I_CHARGE],
                "storage_drawn_wh": ints[K.I_DRAWN],
                "consumption_wh": ints[K.I_CONSUMPTION],
            },
            settlement=Settlement.computed(
                p2p_bought_wh=market.bought_wh,
                p2p_sold_wh=market.sold_wh,
                p2p_paid_sen=market.paid_sen,
                p2p_received_sen=market.received_sen,
                grid_bought_wh=ints[K.I_GRID_BOUGHT],
                grid_sold_wh=ints[K.I_GRID_SOLD],
                grid_cost_sen=ints[K.I_GRID_COST],
                grid_revenue_sen=ints[K.I_GRID_REVENUE],
                demand_charge_sen=ints[K.I_DEMAND],
                undelivered_wh=ints[K.I_UNDELIVERED],
                imbalance_penalty_sen=ints[K.I_PENALTY],
                net_cost_sen=ints[K.I_NET_COST],
            ),
            info_columns=info,
        )


@dataclass(frozen=True)
class MarketArrays:
    """The per-agent arrays of ``B`` communities' :class:`MarketOutcome` s, stacked."""

    bought_wh: IntArray
    sold_wh: IntArray
    paid_sen: IntArray
    received_sen: IntArray
    bought_by_tag_wh: IntArray
    price_ticks: IntArray
    volume_wh: IntArray

    @classmethod
    def stack(cls, outcomes: Sequence[MarketOutcome]) -> MarketArrays:
        return cls(*(stack_rows([getattr(o, name) for o in outcomes]) for name in _MARKET_FIELDS))


_MARKET_FIELDS = tuple(f.name for f in fields(MarketArrays))


def soc_rows(layout: CommunitySimulator, storage_soc_wh: FloatArray) -> FloatArray:
    """``B x agents`` state of charge as a fraction of capacity, from ``B x units`` stored
    energy (NaN for agents without storage)."""
    soc = np.full((storage_soc_wh.shape[0], layout.community.n_agents), np.nan)
    soc[:, layout._storage_agents] = storage_soc_wh / layout.storage.capacity_wh
    return soc


def storage_available(layout: CommunitySimulator, plugged: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """``B x units``: which storage units may move, from the PHVs' plug state (``B x PHVs``);
    home batteries are always connected."""
    c = layout.community
    available = np.empty((plugged.shape[0], layout.storage.n), dtype=np.bool_)
    available[:, : c.batteries.n] = True
    available[:, c.batteries.n :] = plugged
    return available


def plugged_rows(sims: Sequence[CommunitySimulator], t: IntArray) -> NDArray[np.bool_]:
    """Which PHVs can charge, ``B x PHVs``, for community ``b`` at slot ``t[b]``."""
    if len(sims) == 1:  # a lone community: its cached row (the step and the observations share it)
        return sims[0].plugged(int(t[0]))[None]
    return sims[0].plugged_many(t)


def stack_rows(rows: Sequence[NDArray[Any]]) -> NDArray[Any]:
    """``np.stack(rows)``; a view for one row (a lone community pays no copy)."""
    return rows[0][None] if len(rows) == 1 else np.stack(rows)


def contiguous(index: IntArray) -> slice | IntArray:
    """``index`` as an equal slice when it is a contiguous ascending range, else unchanged
    (assigning through a slice is a view, through an index array a scatter)."""
    if index.size and np.array_equal(index, np.arange(index[0], index[0] + index.size)):
        return slice(int(index[0]), int(index[0]) + index.size)
    return index
