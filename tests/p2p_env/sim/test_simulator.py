"""The simulator over whole runs: limits, conservation and determinism."""

from __future__ import annotations

import numpy as np
import pytest

from p2p_env.config import GymConfig, load_config
from p2p_env.sim.community import AgentKind
from p2p_env.sim.exchange_market import replay
from p2p_env.sim.observations import ObservationBuilder
from p2p_env.sim.simulator import CommunitySimulator, SlotResult

from .conftest import simple_series


def _run(config: GymConfig, seed: int, days: int = 2) -> list[SlotResult]:
    series = simple_series(config, days=days)
    sim = CommunitySimulator(config, series)
    sim.reset(0, seed=seed)
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(series.n_slots):
        actions = rng.uniform(-1.2, 1.2, (sim.community.n_agents, sim.action_size))
        out.append(sim.step(actions))
    return out


@pytest.mark.parametrize("mechanism", ["cda", "call", "midpoint"])
def test_conservation_and_limits_over_a_run(demo_config: GymConfig, mechanism: str) -> None:
    config = load_config("higashifuji_demo", [f"market.mechanism={mechanism}"])
    results = _run(config, seed=3)
    traded = 0
    for r in results:
        s = r.settlement
        # P2P money and energy are conserved exactly among participants.
        assert s.p2p_paid_sen.sum() == s.p2p_received_sen.sum()
        assert s.p2p_bought_wh.sum() == s.p2p_sold_wh.sum()
        traded += int(s.p2p_bought_wh.sum())
        # The grid settles exactly the imbalance, one way per agent.
        imbalance = r.flows.metered_wh - (s.p2p_bought_wh - s.p2p_sold_wh)
        np.testing.assert_array_equal(s.grid_bought_wh - s.grid_sold_wh, imbalance)
        assert np.all(s.grid_bought_wh * s.grid_sold_wh == 0)
        # Metered = consumption - generation + storage charge - discharge (to the Wh rounding).
        f = r.flows
        balance = f.consumption_wh - f.generation_wh + f.storage_charge_wh - f.storage_discharge_wh
        assert np.all(np.abs(f.metered_wh - balance) <= 2)
        soc = r.soc[~np.isnan(r.soc)]
        assert np.all((soc >= -1e-9) & (soc <= 1 + 1e-9))
        np.testing.assert_allclose(r.rewards, -(r.cost_jpy * config.env.reward_scale), rtol=1e-12)
        # Nobody sells a tag it cannot have: the exchange rejects such orders and none are made.
        assert r.outcome.n_rejected == 0
    assert traded > 0, "random actions over two days should trade something"


def test_same_seed_same_run_and_different_seed_differs(demo_config: GymConfig) -> None:
    a, b, c = _run(demo_config, 7), _run(demo_config, 7), _run(demo_config, 8)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x.rewards, y.rewards)
        assert x.outcome.records == y.outcome.records
    assert any(not np.array_equal(x.rewards, z.rewards) for x, z in zip(a, c, strict=True))


def test_recorded_slots_replay_to_the_same_trades(demo_config: GymConfig) -> None:
    for r in _run(demo_config, 5, days=1):
        records = r.outcome.records
        assert replay(records["params"], records["orders"]) == records["trades"]


def test_phv_drives_on_gasoline_when_empty(demo_config: GymConfig) -> None:
    series = simple_series(demo_config, days=1)
    sim = CommunitySimulator(demo_config, series)
    sim.reset(0, phv_initial_soc=np.zeros(sim.community.n_phv))
    idle = np.zeros((sim.community.n_agents, sim.action_size))
    gasoline = 0.0
    for _ in range(series.n_slots):
        r = sim.step(idle)  # never charge
        gasoline += float(r.gasoline_sen.sum())
        phvs = sim.community.index(AgentKind.PHV)
        assert np.all(r.gasoline_sen[phvs] >= 0)
    # 9 PHVs x 2 trips x 1.5 kWh on gasoline: km = 1.5 x 10.54, litres = km / 30.8, x 135 JPY.
    expected = 9 * 2 * 1.5 * 10.54 / 30.8 * 135 * 100
    assert gasoline == pytest.approx(expected, abs=20)


def test_observations_stay_in_bounds(demo_config: GymConfig) -> None:
    series = simple_series(demo_config, days=1)
    sim = CommunitySimulator(demo_config, series)
    sim.reset(0)
    builder = ObservationBuilder(sim, horizon=8, forecast_error_std=0.5)
    rng = np.random.default_rng(0)
    for _ in range(series.n_slots):
        obs = builder.build(rng)
        assert obs.dtype == np.float32
        assert obs.shape == (sim.community.n_agents, builder.size)
        assert np.all(obs >= builder.low)
        assert np.all(obs <= builder.high)
        sim.step(rng.uniform(-1, 1, (sim.community.n_agents, sim.action_size)))
