"""Observations of every agent, built as one ``agents x features`` float32 array per slot.

All agent types share one layout (``5 + 2H + 4 + 2T + 2`` features for forecast horizon ``H`` and
``T`` tags; 33 by default); a feature that does not apply to a type is 0.

===============  =============================================================  ============
features         meaning                                                        bounds
===============  =============================================================  ============
0, 1             time of day, sin / cos                                         [-1, 1]
2, 3             day of year, sin / cos                                         [-1, 1]
4                weekend                                                        [0, 1]
5 .. 5+H-1       own consumption forecast, next H slots, / trade limit          [0, 10]
                 (homes and office: load; PHVs: trip energy)
5+H .. 5+2H-1    own PV forecast, next H slots, / trade limit                   [0, 10]
then 4           state of charge (fraction), plugged in, slots until the next   [0, 1] x 3,
                 departure / 48 (1: none within a day), next trip energy /      [0, 10]
                 battery capacity
then T           last clearing price per tag, (p - p_min) / (p_max - p_min)    [0, 1]
then T           last traded volume per tag / the community's trade limit      [0, 1]
then 2           marginal retail price, buyback price, / p_max                  [0, 10]
===============  =============================================================  ============

Forecasts are the realised series with a seeded multiplicative error whose standard deviation
grows with the lead time (``env.forecast_error_std * sqrt(lead)``): a noisy oracle, so policies
cannot see the future exactly. Values are clipped into their bounds, so every observation lies
inside its space. The error's normals are ``Generator.standard_normal``'s from each community's
own generator, drawn by numba's implementation of the same algorithm where the kernels run (the
same values, proven on first use).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from p2p_env.sim import compiled
from p2p_env.sim.community import AgentKind
from p2p_env.sim.simulator import (
    CommunitySimulator,
    SimState,
    contiguous,
    plugged_rows,
    stack_rows,
)

FloatArray = NDArray[np.float64]

SLOTS_PER_DAY_NORM = 48.0


class ObservationBuilder:
    """Builds the observation array of a :class:`CommunitySimulator` (see the module table)."""

    def __init__(self, sim: CommunitySimulator, horizon: int, forecast_error_std: float) -> None:
        self.sim = sim
        self.horizon = horizon
        self.error_std = forecast_error_std
        c, s = sim.community, sim.series
        n_tags = len(sim.tags)
        self.size = 5 + 2 * horizon + 4 + 2 * n_tags + 2
        low = np.zeros(self.size, dtype=np.float32)
        high = np.ones(self.size, dtype=np.float32)
        low[:4] = -1.0
        forecast = slice(5, 5 + 2 * horizon)
        high[forecast] = 10.0
        base = 5 + 2 * horizon
        high[base + 3] = 10.0
        high[-2:] = 10.0
        self.low, self.high = low, high
        # Calendar features of every slot, once per series.
        minutes = np.arange(s.n_slots) * s.slot_minutes
        times = s.start + minutes.astype("timedelta64[m]")
        day_minutes = (times - times.astype("datetime64[D]")).astype(np.int64)
        doy = (times.astype("datetime64[D]") - times.astype("datetime64[Y]")).astype(np.int64)
        weekday = (times.astype("datetime64[D]").astype(np.int64) + 3) % 7  # 0 = Monday
        angle_day = 2 * np.pi * day_minutes / 1440.0
        angle_year = 2 * np.pi * doy / 365.25
        self.calendar = np.stack(
            [
                np.sin(angle_day),
                np.cos(angle_day),
                np.sin(angle_year),
                np.cos(angle_year),
                (weekday >= 5).astype(np.float64),
            ],
            axis=1,
        )
        # Own consumption and PV per agent are read from the series one window at a time
        # (:meth:`_windows`): a copy per agent and slot would double the memory of a large
        # community (about 1 GB for 2,000 homes over the demonstration's 15 months).
        n = c.n_agents
        self._buffers: dict[int, FloatArray] = {}
        self.scale = 1.0 / np.maximum(c.trade_limit_wh, 1.0)
        self._lead_std = forecast_error_std * np.sqrt(np.arange(1, horizon + 1))
        # Agents of a type are contiguous in the default layout: a slice is a view (cheap to
        # assign through), an index array a gather.
        self._homes = contiguous(sim.homes)
        self._phvs = contiguous(sim.phvs)
        self._buyback = sim.tariffs.buyback_ticks / sim.price_max
        # Per PHV and slot: slots until the next trip starts, and that trip's energy.
        self.next_departure, self.next_trip_wh = _next_trips(s.phv_drive_wh)
        self.volume_scale = 1.0 / max(float(c.trade_limit_wh.sum()), 1.0)
        self.storage_capacity = np.zeros(n)
        self.storage_capacity[sim.phvs] = c.phvs.capacity_wh
        self.storage_capacity[sim.homes[c.battery_home]] = c.batteries.capacity_wh
        self.is_office = c.kind == AgentKind.OFFICE
        # The compiled build's arguments, made on first use, and whether it was proven.
        self._static: tuple[NDArray[Any], ...] | None = None
        self._proven = False
        self._noise_proven = False
        self._generators: list[np.random.Generator] = []
        self._generator_list: Any = None

    def __getstate__(self) -> dict[str, Any]:
        """A copy lists its own generators anew (a copied typed list would hold others)."""
        return {**self.__dict__, "_generators": [], "_generator_list": None}

    def build(self, rng: np.random.Generator) -> NDArray[np.float32]:
        """Observations of every agent at the simulator's current slot."""
        obs: NDArray[np.float32] = self.build_many((self.sim,), (rng,), self.sim.state)[0]
        return obs

    def build_many(
        self,
        sims: Sequence[CommunitySimulator],
        rngs: Sequence[np.random.Generator],
        state: SimState,
    ) -> NDArray[np.float32]:
        """Observations of ``B`` communities of this builder's layout at their current slots,
        ``B x agents x features``: community ``b`` gets what its own builder's :meth:`build`
        with ``rngs[b]`` gives (each community draws its forecast noise from its own stream).

        Args:
            sims: The communities (their slots).
            rngs: Each community's forecast-noise generator.
            state: The communities' state, row ``b`` being ``sims[b].state``.
        """
        sim, h = self.sim, self.horizon
        c, n_slots = sim.community, sim.series.n_slots
        n, batch = c.n_agents, len(sims)
        t = np.fromiter((min(x.slot, n_slots - 1) for x in sims), np.int64, batch)
        # Consumption and PV forecasts: one draw of noise for both (the same stream as two).
        noise = self._noise(rngs, (2, n, h))
        step = compiled.step_of(sim)
        if step is None:
            return self._numpy(t, noise, plugged_rows(sims, t), state)
        obs = self._compiled(step, t, noise, state)
        if not self._proven:
            # The first build of every builder is also made by the numpy code, and compared.
            expected = self._numpy(t, noise.copy(), plugged_rows(sims, t), state)
            if obs.tobytes() != expected.tobytes():
                compiled.disprove("the compiled observations")
                return expected
            self._proven = True
        return obs

    def _noise(
        self, rngs: Sequence[np.random.Generator], shape: tuple[int, int, int]
    ) -> FloatArray:
        """``B x shape``: row ``b`` is ``rngs[b].standard_normal(shape)``, drawn compiled
        (:func:`p2p_env.sim._step_kernel.standard_normals`: the same values in a third of the
        time, and none of numpy's per-call cost) once proven on this builder's first draw
        against numpy's values and the generators' states; else by numpy."""
        kernels = compiled.kernels()
        if kernels is None:
            return stack_rows([rng.standard_normal(shape) for rng in rngs])
        noise = np.empty((len(rngs), *shape))
        if self._noise_proven:
            kernels.standard_normals(self._typed_generators(rngs), noise)
            return noise
        # numpy's draws from copies (one per distinct generator: communities may share one,
        # whose draws then follow each other), against the kernel's from the generators.
        copies: dict[int, tuple[np.random.Generator, np.random.Generator]] = {}
        for rng in rngs:
            if id(rng) not in copies:
                numpy_rng = np.random.Generator(type(rng.bit_generator)())
                numpy_rng.bit_generator.state = rng.bit_generator.state
                copies[id(rng)] = (rng, numpy_rng)
        expected = np.stack([copies[id(rng)][1].standard_normal(shape) for rng in rngs])
        kernels.standard_normals(self._typed_generators(rngs), noise)
        if expected.tobytes() == noise.tobytes() and all(
            rng.bit_generator.state == numpy_rng.bit_generator.state
            for rng, numpy_rng in copies.values()
        ):
            self._noise_proven = True
            return noise
        compiled.disprove("the compiled forecast noise")
        for rng, numpy_rng in copies.values():
            rng.bit_generator.state = numpy_rng.bit_generator.state
        return expected

    def _typed_generators(self, rngs: Sequence[np.random.Generator]) -> Any:
        """``rngs`` as a ``numba.typed.List`` (each generator unboxed once), kept until a
        community gets a new generator (a reset). The list holds a reference to each
        generator, so none is freed (nor its address reused) while it is kept."""
        kept = self._generators
        if len(kept) != len(rngs) or any(a is not b for a, b in zip(kept, rngs, strict=True)):
            from numba.typed import List  # here: the kernels run, so numba is there

            self._generators = list(rngs)
            self._generator_list = List(rngs)
        return self._generator_list

    def _numpy(
        self,
        t: NDArray[np.int64],
        noise: FloatArray,
        plugged: NDArray[np.bool_],
        state: SimState,
    ) -> NDArray[np.float32]:
        """:meth:`build_many` in numpy (the reference) from the drawn ``noise`` (scaled in
        place) and the PHVs' plug state (``B x PHVs``)."""
        sim, h = self.sim, self.horizon
        c = sim.community
        n, batch = c.n_agents, t.size
        obs = self._buffers.get(batch)
        if obs is None:
            # Reused between calls: every feature below is rewritten each time, and the ones
            # an agent type does not have stay 0.
            obs = self._buffers[batch] = np.zeros((batch, n, self.size))
        obs[:, :, :5] = self.calendar[t][:, None, :]
        windows = self._windows(t)
        windows *= self.scale
        noise *= self._lead_std
        noise += 1.0
        np.maximum(noise, 0.0, out=noise)
        obs[:, :, 5 : 5 + h] = windows[:, 0].transpose(0, 2, 1) * noise[:, 0]
        obs[:, :, 5 + h : 5 + 2 * h] = windows[:, 1].transpose(0, 2, 1) * noise[:, 1]
        base = 5 + 2 * h
        obs[:, sim._storage_agents, base] = state.storage_soc_wh / sim.storage.capacity_wh
        if c.n_phv:
            phvs = self._phvs
            obs[:, phvs, base + 1] = plugged
            obs[:, phvs, base + 2] = self.next_departure[t] / SLOTS_PER_DAY_NORM
            obs[:, phvs, base + 3] = self.next_trip_wh[t] / c.phvs.capacity_wh
        tags = len(sim.tags)
        span = sim.price_max - sim.price_min
        prices = (state.last_price - sim.price_min) / span
        obs[:, :, base + 4 : base + 4 + tags] = prices[:, None, :]
        volumes = state.last_volume * self.volume_scale
        obs[:, :, base + 4 + tags : base + 4 + 2 * tags] = volumes[:, None, :]
        obs[:, :, -2] = self._retail_ticks(state.grid_bought_wh) / sim.price_max
        obs[:, :, -1] = self._buyback
        # np.maximum and np.minimum: the same as np.clip, at a third of its call overhead.
        np.maximum(obs, self.low, out=obs)
        np.minimum(obs, self.high, out=obs)
        return obs.astype(np.float32)

    def _compiled(
        self,
        step: compiled.CompiledStep,
        t: NDArray[np.int64],
        noise: FloatArray,
        state: SimState,
    ) -> NDArray[np.float32]:
        """:meth:`_numpy` in one call of :func:`p2p_env.sim._step_kernel.observe_slot`, with the
        layout arrays of the simulator's compiled ``step`` and the observations' own."""
        sim = self.sim
        if self._static is None:
            c = sim.community
            unit_of = np.full(c.n_agents, -1, np.int64)
            unit_of[sim._storage_agents] = np.arange(sim.storage.n)
            phv_of = np.full(c.n_agents, -1, np.int64)
            phv_of[sim.phvs] = np.arange(c.n_phv)
            tariff = sim.tariffs.residential
            self._static = (
                unit_of,
                phv_of,
                np.ascontiguousarray(self.scale, dtype=np.float64),
                np.ascontiguousarray(self._lead_std, dtype=np.float64),
                self.next_departure / SLOTS_PER_DAY_NORM,
                self.next_trip_wh / c.phvs.capacity_wh,
                (tariff.prices_ticks + tariff.surcharge_ticks).astype(np.int64),
                np.ascontiguousarray(self._buyback, dtype=np.float64),
                self.low.astype(np.float64),
                self.high.astype(np.float64),
            )
        (unit_of, phv_of, scale, lead_std, departure, trip, tiers, buyback, low,
         high) = self._static  # fmt: skip
        kernels = compiled.kernels()
        assert kernels is not None
        out = np.empty((t.size, sim.community.n_agents, self.size), np.float32)
        kernels.observe_slot(
            t,
            self.calendar,
            *step.series,
            step.homes,
            step.office,
            step.phvs,
            unit_of,
            phv_of,
            scale,
            noise,
            lead_std,
            state.storage_soc_wh,
            sim.storage.capacity_wh,
            sim.series.phv_location,
            sim.community.office_chargers,
            departure,
            trip,
            state.last_price,
            state.last_volume,
            sim.price_min,
            sim.price_max,
            self.volume_scale,
            state.grid_bought_wh,
            step.bounds,
            tiers,
            step.is_office,
            sim.tariffs.office_energy_ticks,
            buyback,
            low,
            high,
            out,
        )
        return out

    def _windows(self, t: NDArray[np.int64]) -> FloatArray:
        """Consumption and PV of every agent for slots ``t .. t + horizon - 1`` of each
        community (zeros past the end of the series), ``B x 2 x horizon x agents``."""
        sim, s, h = self.sim, self.sim.series, self.horizon
        if t.size == 1 and t[0] + h <= s.n_slots:
            # A lone community inside the series: a slice of each series, no gather.
            first = int(t[0])

            def window_of(values: FloatArray) -> FloatArray:
                rows: FloatArray = values[None, first : first + h]
                return rows

        else:
            slots = t[:, None] + np.arange(h)
            inside = (slots < s.n_slots)[..., None]
            clamped = np.minimum(slots, s.n_slots - 1)

            def window_of(values: FloatArray) -> FloatArray:
                mask = inside if values.ndim == 2 else inside[..., 0]
                rows: FloatArray = np.where(mask, values[clamped], 0.0)
                return rows

        window = np.zeros((t.size, 2, h, sim.community.n_agents))
        consumption, pv = window[:, 0], window[:, 1]
        consumption[..., self._homes] = window_of(s.home_load_wh)
        pv[..., self._homes] = window_of(s.home_pv_wh)
        consumption[..., self._phvs] = window_of(s.phv_drive_wh)
        if sim.office.size:
            office = sim.office[0]
            consumption[..., office] = window_of(s.office_load_wh)
            pv[..., office] = window_of(s.office_pv_wh)
        return window

    def _retail_ticks(self, grid_bought_wh: NDArray[np.int64]) -> FloatArray:
        """Per agent, the grid price of its next kWh this month (block tier or office price)."""
        tariff = self.sim.tariffs.residential
        tier = np.searchsorted(tariff.bounds_wh, grid_bought_wh, side="right")
        price = tariff.prices_ticks[tier] + tariff.surcharge_ticks
        office_price = self.sim.tariffs.office_energy_ticks
        return np.where(self.is_office, office_price, price).astype(np.float64)


def _next_trips(drive_wh: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Per slot and PHV: slots until the next trip starts (capped at 48) and its energy."""
    n_slots, n_phv = drive_wh.shape
    index = np.where(drive_wh > 0, np.arange(n_slots)[:, None], n_slots + 10**6)
    next_slot = np.minimum.accumulate(index[::-1], axis=0)[::-1]
    until = np.minimum(next_slot - np.arange(n_slots)[:, None], SLOTS_PER_DAY_NORM)
    found = next_slot < n_slots
    energy = np.zeros((n_slots, n_phv))
    rows = np.where(found, next_slot, 0)
    energy = np.where(found, np.take_along_axis(drive_wh, rows, axis=0), 0.0)
    return until.astype(np.float64), energy
