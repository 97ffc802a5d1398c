"""One array program over B communities gives what B separate simulators give, field by field."""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pytest

from p2p_env.config import GymConfig, load_config
from p2p_env.data import load_dataset
from p2p_env.sim.batched import BatchedSimulator
from p2p_env.sim.ledger_recorder import LedgerRecorder
from p2p_env.sim.observations import ObservationBuilder
from p2p_env.sim.series import SlotSeries, from_dataset
from p2p_env.sim.simulator import CommunitySimulator, SlotResult


def _sims(config: GymConfig, series: SlotSeries, n: int) -> list[CommunitySimulator]:
    return [
        CommunitySimulator(config, series, recorder=LedgerRecorder.open(config, None))
        for _ in range(n)
    ]


def _starts(series: SlotSeries) -> list[int]:
    """Slots that put the communities in different places: the last evening of a month (the
    tariff memory rolls over mid-run), a weekday morning, a weekend noon, near the series end."""
    month_end = series.slot_of(np.datetime64("2020-07-31")) + 40
    return [month_end, 5 * 48 + 14, 12 * 48 + 24, series.n_slots - 70]


def _assert_same(batched: SlotResult, alone: SlotResult) -> None:
    assert batched.slot == alone.slot
    assert batched.block_hash == alone.block_hash != ""
    assert tuple(batched.outcome.trades) == tuple(alone.outcome.trades)
    for name in (
        "rewards",
        "cost_jpy",
        "gasoline_sen",
        "gasoline_l",
        "phv_shortfall_wh",
        "storage_curtailed_wh",
        "soc",
    ):
        np.testing.assert_array_equal(getattr(batched, name), getattr(alone, name), err_msg=name)
    for part in ("settlement", "flows", "decoded"):
        for field in fields(getattr(alone, part)):
            np.testing.assert_array_equal(
                getattr(getattr(batched, part), field.name),
                getattr(getattr(alone, part), field.name),
                err_msg=f"{part}.{field.name}",
            )


@pytest.mark.parametrize("mechanism", ["cda", "call"])
def test_batch_equals_separate_simulators(mechanism: str) -> None:
    config = load_config("higashifuji_demo", [f"market.mechanism={mechanism}"])
    series = from_dataset(load_dataset(config))
    starts = _starts(series)
    batch_sims, alone = _sims(config, series, 4), _sims(config, series, 4)
    rng = np.random.default_rng(9)
    for b, (x, y) in enumerate(zip(batch_sims, alone, strict=True)):
        phv_soc = rng.uniform(0.2, 0.9, x.community.n_phv)
        x.reset(starts[b], phv_initial_soc=phv_soc, seed=100 + b)
        y.reset(starts[b], phv_initial_soc=phv_soc, seed=100 + b)
    batch = BatchedSimulator(batch_sims)
    builders = [ObservationBuilder(s, 4, 0.1) for s in (*batch_sims, *alone)]
    n, size = batch_sims[0].community.n_agents, batch_sims[0].action_size
    for step in range(60):
        actions = rng.uniform(-1.3, 1.3, (4, n, size))
        actions[rng.random((4, n, size)) < 0.02] = np.nan
        actions[0, 0, 0] = np.inf if step % 2 else -np.inf
        results = batch.step(actions)
        for b, sim in enumerate(alone):
            alone_result = sim.step(actions[b])
            _assert_same(results.results[b], alone_result)
            np.testing.assert_array_equal(alone_result.soc, sim.soc_fraction())
            np.testing.assert_array_equal(results.rewards[b], results.results[b].rewards)
        # Observations of the whole batch at once equal each community's own.
        seeds = [int(s) for s in rng.integers(0, 2**32, 4)]
        together = builders[0].build_many(
            batch_sims, [np.random.default_rng(s) for s in seeds], batch.state
        )
        for b in range(4):
            own = builders[4 + b].build(np.random.default_rng(seeds[b]))
            np.testing.assert_array_equal(together[b], own)
    for x, y in zip(batch_sims, alone, strict=True):
        np.testing.assert_array_equal(x.storage_soc_wh, y.storage_soc_wh)
        np.testing.assert_array_equal(x.month.grid_bought_wh, y.month.grid_bought_wh)
        np.testing.assert_array_equal(x.month.peak_import_wh, y.month.peak_import_wh)
        np.testing.assert_array_equal(x.last_price, y.last_price)
    # The month rolled over inside the run for the first community: its tariff memory restarted.
    assert batch_sims[0].month.month != int(batch_sims[0].month_of_slot[starts[0]])


def test_a_simulator_keeps_its_state_when_it_joins_a_batch() -> None:
    config = load_config("higashifuji_demo")
    series = from_dataset(load_dataset(config))
    sims = _sims(config, series, 2)
    for b, sim in enumerate(sims):
        sim.reset(200 + 48 * b, seed=b)
        sim.step(np.zeros((sim.community.n_agents, sim.action_size)))
    before = [sim.storage_soc_wh.copy() for sim in sims]
    batch = BatchedSimulator(sims)
    for b, sim in enumerate(sims):
        np.testing.assert_array_equal(sim.storage_soc_wh, before[b])
        # The simulator's state is now a row of the batch's: one array, two views.
        assert np.shares_memory(sim.storage_soc_wh, batch.state.storage_soc_wh)


def test_a_batch_refuses_other_layouts_and_series() -> None:
    config = load_config("higashifuji_demo")
    series = from_dataset(load_dataset(config))
    other = load_config("homes_200")
    with pytest.raises(ValueError, match="one community layout"):
        BatchedSimulator(
            [
                CommunitySimulator(config, series),
                CommunitySimulator(other, from_dataset(load_dataset(other))),
            ]
        )
    shifted = SlotSeries(
        **{
            f.name: getattr(series, f.name)
            for f in fields(SlotSeries)
            if f.init and f.name not in ("start", "start_utc")
        },
        start=series.start + np.timedelta64(30, "m"),
        start_utc=series.start_utc + np.timedelta64(30, "m"),
    )
    with pytest.raises(ValueError, match="another config or series"):
        BatchedSimulator([CommunitySimulator(config, series), CommunitySimulator(config, shifted)])
    with pytest.raises(ValueError, match="at least one"):
        BatchedSimulator([])


def test_a_community_past_the_end_of_the_series_stops_the_batch_untouched() -> None:
    config = load_config("higashifuji_demo")
    series = from_dataset(load_dataset(config))
    sims = _sims(config, series, 2)
    sims[0].reset(100, seed=0)
    sims[1].reset(series.n_slots - 1, seed=1)
    batch = BatchedSimulator(sims)
    actions = np.zeros((2, sims[0].community.n_agents, sims[0].action_size))
    batch.step(actions)  # the last slot of the series for community 1
    state = [getattr(batch.state, f.name).copy() for f in fields(batch.state)]
    with pytest.raises(RuntimeError, match="no slot left"):
        batch.step(actions)
    # Nothing moved: not the other community's slot, state or ledger.
    assert [sim.slot for sim in sims] == [101, series.n_slots]
    for before, f in zip(state, fields(batch.state), strict=True):
        np.testing.assert_array_equal(before, getattr(batch.state, f.name))
    with pytest.raises(RuntimeError, match="no slot left"):
        sims[1].step(actions[1])


def test_forecast_windows_by_slice_and_by_gather_agree_up_to_the_series_end() -> None:
    config = load_config("higashifuji_demo")
    series = from_dataset(load_dataset(config))
    sims = _sims(config, series, 2)
    sims[0].reset(series.n_slots - 2, seed=0)  # the window runs past the end of the series
    sims[1].reset(1000, seed=1)  # inside: a lone community reads it as a slice
    batch = BatchedSimulator(sims)
    horizon = 4
    builder = ObservationBuilder(sims[0], horizon, 0.0)  # no noise: the realised series
    together = builder.build_many(sims, [np.random.default_rng(0)] * 2, batch.state)
    for b, sim in enumerate(sims):
        alone = ObservationBuilder(sim, horizon, 0.0).build(np.random.default_rng(0))
        np.testing.assert_array_equal(together[b], alone)
    # home_00's consumption forecast: the last two slots of the series, then zeros.
    scale = 1.0 / max(sims[0].community.trade_limit_wh[0], 1.0)
    expected = np.concatenate((series.home_load_wh[-2:, 0] * scale, [0.0, 0.0]))
    np.testing.assert_allclose(together[0, 0, 5 : 5 + horizon], expected, rtol=1e-6)
