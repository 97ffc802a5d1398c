"""The compiled step (:mod:`p2p_env.sim.compiled`) gives the numpy code's values exactly."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import p2p_env
from p2p_env.config import GymConfig
from p2p_env.envs.batched import BatchedCommunityVecEnv
from p2p_env.sim import _step_kernel, compiled
from p2p_env.sim.actions import decode
from p2p_env.sim.observations import ObservationBuilder
from p2p_env.sim.simulator import (
    CommunitySimulator,
    MarketArrays,
    SimState,
    SlotArrays,
    after_clearing,
    storage_available,
)

from ..episodes import episode_digest
from .conftest import simple_series


@pytest.fixture
def numpy_code() -> Iterator[None]:
    """Run the numpy code for the test's duration (and probe the kernels again after)."""
    compiled.use_python()
    try:
        yield
    finally:
        compiled.use_python(False)


def _episode_digest(seed: int, **overrides: Any) -> tuple[str, str]:
    """One day of the demonstration (:func:`episode_digest`)."""
    return episode_digest(p2p_env.parallel_env(config="higashifuji_demo", **overrides), seed)


EPISODES = [
    {},
    {"market.mechanism": "call"},
    # The pv tag elsewhere, a dearer gasoline penalty, a larger reward scale.
    {
        "market.tags": ["phv", "pv", "battery"],
        "env.phv_unmet_departure_penalty_jpy_per_kwh": 30.0,
        "env.reward_scale": 3.0,
    },
    {"env.green_preference_jpy_per_kwh": 2.5, "env.episode_days": 2},
    # A forecast of 72 slots: 4,320 noise values a slot.
    {"env.forecast_horizon_slots": 72},
]


@pytest.mark.parametrize("overrides", EPISODES)
def test_episode_equal_compiled_and_numpy(overrides: dict[str, Any]) -> None:
    assert compiled.backend() == "compiled"
    fast = _episode_digest(5, **overrides)
    assert compiled.backend() == "compiled"  # proven on this layout, and used
    compiled.use_python()
    try:
        assert compiled.backend().startswith("python")
        assert _episode_digest(5, **overrides) == fast
    finally:
        compiled.use_python(False)


def test_batched_equal_compiled_and_numpy() -> None:
    def run() -> tuple[list[bytes], list[str]]:
        vec = BatchedCommunityVecEnv(n_communities=3, seed=4, **{"env.episode_days": 1})
        seen = [vec.reset().tobytes()]
        rng = np.random.default_rng(2)
        for _ in range(60):  # past the first episode's end: auto-reset included
            actions = rng.uniform(-1.2, 1.2, (vec.num_envs, vec.batch.action_size))
            actions[rng.random(actions.shape) < 0.01] = np.nan
            obs, rewards, dones, _ = vec.step(actions.astype(np.float32))
            seen += [obs.tobytes(), rewards.tobytes(), dones.tobytes()]
        heads = list(vec.head_hashes)
        vec.close()
        return seen, heads

    fast = run()
    compiled.use_python()
    try:
        assert run() == fast
    finally:
        compiled.use_python(False)


def _random_state(sim: CommunitySimulator, rng: np.random.Generator, batch: int) -> SimState:
    bank = sim.storage
    return SimState(
        storage_soc_wh=rng.uniform(bank.min_wh, bank.max_wh, (batch, bank.n)),
        # Across the block tariff's tiers (120 and 300 kWh).
        grid_bought_wh=rng.integers(0, 400_000, (batch, sim.community.n_agents)),
        peak_import_wh=rng.integers(0, 60_000, (batch, sim.community.n_agents)),
        # Past the price ceiling and the volume scale too: the observations' clipping.
        last_price=rng.integers(-1, 12_000, (batch, len(sim.tags))),
        last_volume=rng.integers(0, 10**7, (batch, len(sim.tags))),
    )


def _copy(state: SimState) -> SimState:
    return SimState(*(np.array(getattr(state, f)) for f in state.__dataclass_fields__))


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), batch=st.integers(1, 3), edge=st.sampled_from([0.0, 0.3]))
def test_kernels_equal_numpy_on_random_slots(
    demo_config: GymConfig, seed: int, batch: int, edge: float
) -> None:
    """Decoding, the slot after clearing and the observations, on random states (every SoC,
    tariff tier and price), random trades and actions that hit every limit (``edge``: the
    share of exact -1, 0, 1, NaN and inf values), for ``batch`` communities at random slots."""
    rng = np.random.default_rng(seed)
    series = simple_series(demo_config, days=2, seed=seed % 7)
    sim = CommunitySimulator(demo_config, series)
    step = compiled.step_of(sim)
    assert step is not None
    n, tags = sim.community.n_agents, len(sim.tags)
    actions = rng.uniform(-2, 2, (batch, n, sim.action_size))
    special = rng.random(actions.shape) < edge
    actions[special] = rng.choice([-1.0, 0.0, 1.0, np.nan, np.inf, -np.inf], special.sum())
    decoded = step.decode(actions)
    expected = decode(actions, sim.community, sim.price_min, sim.price_max, sim.sell_tag_index)
    assert compiled._same(decoded, expected)

    t = rng.integers(0, series.n_slots, batch)
    bought = rng.integers(0, 4000, (batch, n))
    sold = rng.integers(0, 4000, (batch, n))
    split = rng.integers(0, 2, (batch, n, tags))
    market = MarketArrays(
        bought_wh=bought,
        sold_wh=sold,
        paid_sen=bought * rng.integers(0, 50, (batch, n)) // 10,
        received_sen=sold * rng.integers(0, 50, (batch, n)) // 10,
        bought_by_tag_wh=bought[..., None] * split,
        price_ticks=rng.integers(-1, 5000, (batch, tags)),
        volume_wh=rng.integers(0, 9000, (batch, tags)),
    )
    plugged = sim.plugged_many(t)
    available = storage_available(sim, plugged)
    state = _random_state(sim, rng, batch)
    ours, theirs = _copy(state), _copy(state)
    mine = SlotArrays.of(step.after_clearing(t, expected, market, ours), market)
    reference = after_clearing(sim, t, expected, market, theirs, available)
    assert compiled._same(mine, reference)
    assert compiled._same(ours, theirs)

    builder = ObservationBuilder(sim, horizon=6, forecast_error_std=0.2)
    noise = rng.standard_normal((batch, 2, n, 6))
    obs = builder._compiled(step, t, noise, ours)
    assert obs.tobytes() == builder._numpy(t, noise, plugged, ours).tobytes()


def test_wrong_kernel_is_caught_and_the_numpy_code_runs(
    monkeypatch: pytest.MonkeyPatch, demo_config: GymConfig
) -> None:
    settle = _step_kernel.settle_slot

    def off_by_one(*args: Any) -> None:
        settle(*args)
        args[-1][0, 0, 0] += 1  # the first agent's meter reading

    monkeypatch.setattr(_step_kernel, "settle_slot", off_by_one)
    try:
        sim = CommunitySimulator(demo_config, simple_series(demo_config))
        assert compiled.step_of(sim) is None
        assert "compiled step differed" in compiled.backend()
        # The simulator steps on with the numpy code.
        sim.reset(0)
        sim.step(np.zeros((sim.community.n_agents, sim.action_size)))
    finally:
        compiled.use_python(False)
    monkeypatch.undo()
    assert compiled.backend() == "compiled"


def test_wrong_observations_are_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    observe = _step_kernel.observe_slot

    def shifted(*args: Any) -> None:
        observe(*args)
        args[-1][0, 0, 0] = 0.5

    monkeypatch.setattr(_step_kernel, "observe_slot", shifted)
    try:
        env = p2p_env.parallel_env(config="higashifuji_demo", seed=0)
        obs, _ = env.reset(seed=0)
        assert "compiled observations differed" in compiled.backend()
        compiled.use_python()
        expected, _ = p2p_env.parallel_env(config="higashifuji_demo", seed=0).reset(seed=0)
        assert all(obs[agent].tobytes() == expected[agent].tobytes() for agent in expected)
        env.step({agent: env.action_space(agent).sample() for agent in env.agents})
        env.close()
    finally:
        compiled.use_python(False)


def _counted(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, ...]]:
    """Record the shape of each call of the compiled noise kernel."""
    calls: list[tuple[int, ...]] = []
    kernel = _step_kernel.standard_normals

    def counted(generators: Any, out: np.ndarray) -> None:
        calls.append(out.shape)
        kernel(generators, out)

    monkeypatch.setattr(_step_kernel, "standard_normals", counted)
    return calls


@pytest.mark.parametrize("batch", [1, 3])
def test_forecast_noise_is_numpys_drawn_compiled(
    monkeypatch: pytest.MonkeyPatch, batch: int
) -> None:
    env = p2p_env.parallel_env(config="higashifuji_demo", seed=0)
    builder = env.observations_builder
    calls = _counted(monkeypatch)
    rngs = [np.random.default_rng(seed) for seed in range(batch)]
    expected_rngs = [np.random.default_rng(seed) for seed in range(batch)]
    kept = None
    for shape in [(2, 30, 8), (2, 30, 8), (2, 300, 20)]:  # proven on the first draw
        got = builder._noise(rngs, shape)
        expected = np.stack([rng.standard_normal(shape) for rng in expected_rngs])
        assert got.tobytes() == expected.tobytes()
        assert [r.bit_generator.state for r in rngs] == [
            r.bit_generator.state for r in expected_rngs
        ]
        assert builder._noise_proven
        # One typed list of the generators, kept while they are the same.
        kept = kept or builder._generator_list
        assert builder._generator_list is kept
    assert calls == [(batch, 2, 30, 8), (batch, 2, 30, 8), (batch, 2, 300, 20)]
    # A new generator (a reset): a new list, with its values.
    rngs[-1] = np.random.default_rng(99)
    got = builder._noise(rngs, (2, 30, 8))
    assert builder._generator_list is not kept
    assert got[-1].tobytes() == np.random.default_rng(99).standard_normal((2, 30, 8)).tobytes()
    env.close()


def test_forecast_noise_from_a_shared_generator_is_numpys() -> None:
    """Communities may share a generator: numpy then draws their noise one after the other,
    and so does the kernel (the proof must expect that, not fail on it)."""
    env = p2p_env.parallel_env(config="higashifuji_demo", seed=0)
    builder = env.observations_builder
    shared, own = np.random.default_rng(5), np.random.default_rng(6)
    twin_shared, twin_own = np.random.default_rng(5), np.random.default_rng(6)
    for _ in range(2):
        got = builder._noise([shared, own, shared], (2, 30, 8))
        expected = np.stack(
            [r.standard_normal((2, 30, 8)) for r in (twin_shared, twin_own, twin_shared)]
        )
        assert got.tobytes() == expected.tobytes()
        assert shared.bit_generator.state == twin_shared.bit_generator.state
        assert own.bit_generator.state == twin_own.bit_generator.state
    assert builder._noise_proven
    assert compiled.backend() == "compiled"
    # A copy of a builder lists its own generators anew.
    copied = copy.copy(builder)
    assert (copied._generators, copied._generator_list) == ([], None)
    assert builder._generator_list is not None
    env.close()


def test_wrong_forecast_noise_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    kernel = _step_kernel.standard_normals

    def shifted(generators: Any, out: np.ndarray) -> None:
        kernel(generators, out)
        out[-1, 0, 0, 0] += 1.0

    monkeypatch.setattr(_step_kernel, "standard_normals", shifted)
    env = p2p_env.parallel_env(config="higashifuji_demo", seed=0)
    builder = env.observations_builder
    rngs = [np.random.default_rng(7), np.random.default_rng(8)]
    expected_rngs = [np.random.default_rng(7), np.random.default_rng(8)]
    try:
        got = builder._noise(rngs, (2, 30, 8))
        assert "compiled forecast noise differed" in compiled.backend()
        # numpy's values, and each generator where numpy's draw leaves it.
        expected = np.stack([rng.standard_normal((2, 30, 8)) for rng in expected_rngs])
        assert got.tobytes() == expected.tobytes()
        assert [r.bit_generator.state for r in rngs] == [
            r.bit_generator.state for r in expected_rngs
        ]
        assert not builder._noise_proven
    finally:
        compiled.use_python(False)
        env.close()


def test_numpy_code_runs_when_chosen(numpy_code: None, demo_config: GymConfig) -> None:
    sim = CommunitySimulator(demo_config, simple_series(demo_config))
    assert compiled.step_of(sim) is None
    assert compiled.kernels() is None
    assert compiled.backend() == "python (chosen by use_python)"
