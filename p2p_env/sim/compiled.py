"""The simulator's per-agent arithmetic in three compiled calls a slot, where numba runs.

:func:`step_of` gives a simulator's :class:`CompiledStep`: decoding
(:func:`p2p_env.sim.actions.decode`) and everything after the clearing
(:func:`p2p_env.sim.simulator.after_clearing`: storage, trips, meter, settlement, gasoline,
rewards, the infos' numbers) as :mod:`p2p_env.sim._step_kernel` computes them, value for value.
Before a simulator uses it, the compiled step is proven against the numpy code on that
simulator's own layout (a day of slots: some milliseconds for the demonstration, 0.7 s for
20,000 homes, once); :class:`~p2p_env.sim.observations.ObservationBuilder` proves its kernel
on its first build. Where numba is missing or a proof fails, :func:`step_of` and
:func:`kernels` give ``None`` and the numpy code runs. :func:`backend` says which and why;
:func:`use_python` forces the numpy code (tests and benchmarks compare the two).
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from p2p_env.sim import _step_layout as L
from p2p_env.sim.actions import DecodedActions, decode

if TYPE_CHECKING:
    from p2p_env.sim.simulator import CommunitySimulator, MarketArrays, SimState

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

_kernels: ModuleType | None = None
_backend: str | None = None


def backend() -> str:
    """``"compiled"``, or ``"python"`` with the reason the kernels do not run."""
    _load()
    assert _backend is not None
    return _backend


def use_python(python: bool = True) -> None:
    """Make every simulator run the numpy code (``False``: use the kernels again where they
    load). Simulators already proven keep their :class:`CompiledStep` but no longer use it."""
    global _kernels, _backend
    _kernels, _backend = (None, "python (chosen by use_python)") if python else (None, None)


def step_of(sim: CommunitySimulator) -> CompiledStep | None:
    """``sim``'s compiled step, built and proven on first use; ``None``: run the numpy code."""
    if _load() is None:
        return None
    step = sim._compiled_step
    if step is None:
        step = CompiledStep(sim)
        if not step.proven():
            disprove("the compiled step")
            return None
        sim._compiled_step = step
    return step


def kernels() -> ModuleType | None:
    """The kernels module (:mod:`p2p_env.sim._step_kernel`), or ``None``: run the numpy code."""
    return _load()


def disprove(what: str) -> None:
    """Record that ``what`` gave other values than the numpy code: every simulator and
    observation builder runs the numpy code from now on (:func:`backend` says why)."""
    global _kernels, _backend
    _kernels, _backend = None, f"python ({what} differed from the numpy code)"


def _load() -> ModuleType | None:
    global _kernels, _backend
    if _backend is None:
        try:
            from p2p_env.sim import _step_kernel

            _kernels, _backend = _step_kernel, "compiled"
        except Exception as exc:  # numba missing or unusable: the numpy code, and say why
            _kernels, _backend = None, f"python (kernels unavailable: {exc!r})"
    return _kernels


class CompiledStep:
    """The kernels' arguments that do not change between slots, for one simulator's layout."""

    def __init__(self, sim: CommunitySimulator) -> None:
        c, s = sim.community, sim.series
        self.sim = sim
        self.n_agents = c.n_agents
        self.action_size = sim.action_size
        self.trade_limit_wh = np.ascontiguousarray(c.trade_limit_wh, dtype=np.float64)
        self.storage_power_w = np.ascontiguousarray(c.storage_power_w, dtype=np.float64)
        self.sell_tag_index = np.ascontiguousarray(sim.sell_tag_index, dtype=np.int64)
        self.series = (
            s.home_load_wh,
            s.home_pv_wh,
            s.office_load_wh,
            s.office_pv_wh,
            s.phv_drive_wh,
        )
        self.homes = np.ascontiguousarray(sim.homes, dtype=np.int64)
        self.office = np.ascontiguousarray(sim.office, dtype=np.int64)
        self.phvs = np.ascontiguousarray(sim.phvs, dtype=np.int64)
        self.units = np.ascontiguousarray(sim._storage_agents, dtype=np.int64)
        bank = sim.storage
        rows = {
            L.B_CAPACITY: bank.capacity_wh,
            L.B_CHARGE_W: bank.charge_power_w,
            L.B_DISCHARGE_W: bank.discharge_power_w,
            L.B_ETA_CHARGE: bank.eta_charge,
            L.B_ETA_DISCHARGE: bank.eta_discharge,
            L.B_MIN_WH: bank.min_wh,
            L.B_MAX_WH: bank.max_wh,
        }
        self.bank = np.stack([rows[i] for i in range(len(rows))]).astype(np.float64)
        tariffs = sim.tariffs
        residential = tariffs.residential
        self.bounds = np.ascontiguousarray(residential.bounds_wh, dtype=np.int64)
        self.blocks = np.stack(residential._blocks).astype(np.int64)
        scalars = [0] * 6
        scalars[L.T_SURCHARGE] = residential.surcharge_ticks
        scalars[L.T_OFFICE_ENERGY] = tariffs.office_energy_ticks
        scalars[L.T_RESALE] = tariffs.resale_ticks
        scalars[L.T_IMBALANCE] = tariffs.imbalance_ticks
        scalars[L.T_DEMAND_SEN_PER_KW] = tariffs.office_demand.sen_per_kw_month
        scalars[L.T_DEMAND_DENOMINATOR] = round(1000 * tariffs.office_demand.slot_hours)
        self.tariff = np.asarray(scalars, dtype=np.int64)
        self.is_office = np.ascontiguousarray(tariffs.is_office, dtype=np.bool_)
        self.buyback_ticks = np.ascontiguousarray(tariffs.buyback_ticks, dtype=np.int64)
        env = sim.config.env
        money = [0.0] * 5
        money[L.M_GASOLINE_SEN_PER_WH] = sim.gasoline_sen_per_wh
        money[L.M_LITRES_PER_WH] = sim.litres_per_wh
        money[L.M_PENALTY_PER_KWH] = env.phv_unmet_departure_penalty_jpy_per_kwh
        money[L.M_GREEN_PER_KWH] = env.green_preference_jpy_per_kwh
        money[L.M_REWARD_SCALE] = env.reward_scale
        self.money = np.asarray(money, dtype=np.float64)
        self.pv_tag = sim.tags.index("pv") if "pv" in sim.tags else -1

    def decode(self, actions: NDArray[np.floating]) -> DecodedActions:
        """:func:`~p2p_env.sim.actions.decode` of ``B x agents x action_size`` actions (other
        shapes go to it, for its errors)."""
        sim = self.sim
        array = np.asarray(actions, dtype=np.float64)
        if array.ndim != 3 or array.shape[1:] != (self.n_agents, self.action_size):
            return decode(array, sim.community, sim.price_min, sim.price_max, sim.sell_tag_index)
        batch, n, _ = array.shape
        decoded = DecodedActions(
            side=np.empty((batch, n), np.int8),
            quantity_wh=np.empty((batch, n), np.int64),
            prices=np.empty((batch, n, self.action_size - 2), np.int64),
            setpoint_w=np.empty((batch, n)),
            nonfinite=np.empty((batch, n), np.int16),
            clipped=np.empty((batch, n), np.int16),
            unsellable=np.empty((batch, n), np.bool_),
        )
        assert _kernels is not None
        _kernels.decode_slot(
            array,
            self.trade_limit_wh,
            self.storage_power_w,
            self.sell_tag_index,
            sim.price_min,
            sim.price_max,
            decoded.side,
            decoded.quantity_wh,
            decoded.prices,
            decoded.setpoint_w,
            decoded.nonfinite,
            decoded.clipped,
            decoded.unsellable,
        )
        return decoded

    def after_clearing(
        self,
        t: IntArray,
        decoded: DecodedActions,
        market: MarketArrays,
        state: SimState,
    ) -> tuple[FloatArray, IntArray, FloatArray]:
        """:func:`~p2p_env.sim.simulator.after_clearing` as the kernel's output rows (``floats``,
        ``ints``, ``info``; :mod:`p2p_env.sim._step_layout` names them); ``state`` is updated
        in place."""
        batch = t.size
        floats = np.empty((L.N_FLOATS, batch, self.n_agents))
        ints = np.empty((L.N_INTS, batch, self.n_agents), np.int64)
        info = np.empty((L.N_INFO, batch, self.n_agents))
        if self.pv_tag >= 0:
            green = market.bought_by_tag_wh[..., self.pv_tag]
        else:
            green = np.zeros((batch, self.n_agents), np.int64)
        assert _kernels is not None
        _kernels.settle_slot(
            t,
            *self.series,
            self.homes,
            self.office,
            self.phvs,
            self.units,
            self.sim.community.batteries.n,
            self.bank,
            self.sim.slot_hours,
            self.sim.series.phv_location,
            self.sim.community.office_chargers,
            decoded.setpoint_w,
            state.storage_soc_wh,
            market.bought_wh,
            market.sold_wh,
            market.paid_sen,
            market.received_sen,
            green,
            self.bounds,
            self.blocks,
            self.tariff,
            self.is_office,
            self.buyback_ticks,
            state.grid_bought_wh,
            state.peak_import_wh,
            self.money,
            floats,
            ints,
            info,
        )
        return floats, ints, info

    def proven(self) -> bool:
        """Whether the kernels give the numpy code's values on this layout: every slot of the
        series' first day (the PHVs' trips and plug states with it), from copies of the
        simulator's state, actions that reach every limit (NaN, inf and out-of-range ones too)
        and made-up trades."""
        from p2p_env.sim.simulator import (
            MarketArrays,
            SimState,
            SlotArrays,
            after_clearing,
            storage_available,
        )

        sim = self.sim
        rng = np.random.default_rng(0)
        n, width = self.n_agents, self.action_size
        state = sim.state
        ours = SimState(*(np.array(a, copy=True) for a in _fields(state)))
        theirs = SimState(*(np.array(a, copy=True) for a in _fields(state)))
        for slot in range(min(sim.series.n_slots, 48)):
            actions = rng.uniform(-1.5, 1.5, (1, n, width))
            actions[rng.random((1, n, width)) < 0.05] = np.nan
            actions[rng.random((1, n, width)) < 0.02] = np.inf
            compiled = self.decode(actions)
            reference = decode(
                actions, sim.community, sim.price_min, sim.price_max, sim.sell_tag_index
            )
            if not _same(compiled, reference):
                return False
            bought = rng.integers(0, 3000, (1, n))
            sold = rng.integers(0, 3000, (1, n))
            market = MarketArrays(
                bought_wh=bought,
                sold_wh=sold,
                paid_sen=bought * rng.integers(0, 50, (1, n)) // 10,
                received_sen=sold * rng.integers(0, 50, (1, n)) // 10,
                bought_by_tag_wh=np.repeat(bought[..., None], len(sim.tags), axis=-1),
                price_ticks=np.full((1, len(sim.tags)), -1, np.int64),
                volume_wh=np.zeros((1, len(sim.tags)), np.int64),
            )
            t = np.asarray([slot], np.int64)
            available = storage_available(sim, sim.plugged_many(t))
            mine = SlotArrays.of(self.after_clearing(t, reference, market, ours), market)
            expected = after_clearing(sim, t, reference, market, theirs, available)
            if not (_same(mine, expected) and _same(ours, theirs)):
                return False
        return True


def _fields(value: object) -> list[object]:
    return [getattr(value, name) for name in value.__dataclass_fields__]  # type: ignore[attr-defined]


def _same(a: Any, b: Any) -> bool:
    """Equal dataclasses of arrays (dicts, nested dataclasses): same dtype, shape and bytes (a
    -0.0 is not a 0.0)."""
    if hasattr(a, "__dataclass_fields__"):
        return all(_same(x, y) for x, y in zip(_fields(a), _fields(b), strict=True))
    if isinstance(a, dict):
        return bool(a.keys() == b.keys()) and all(_same(a[k], b[k]) for k in a)
    x, y = np.asarray(a), np.asarray(b)
    return x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes()
