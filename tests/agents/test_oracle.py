"""The oracle: its programme models the simulator faithfully, the exchange realises its trades,
and no other policy runs the community for less."""

from __future__ import annotations

import numpy as np
import pytest

import p2p_env
from agents.mpc import MPCPolicy
from agents.oracle import (
    MAX_VARIABLES,
    VARIABLES_PER_AGENT_SLOT,
    OraclePolicy,
    balanced_trades,
    check_size,
)
from p2p_env.config import available_configs, load_config
from p2p_env.policy import make_policy
from p2p_env.rollout import Episode, run_episode
from p2p_env.sim.community import Community

OPTIONS = {"start": "2020-08-03", "days": 2}
# Rounding to the Wh (meters, orders) and to the sen per slot and agent: a few JPY in two days.
TOLERANCE_SEN = 1500


@pytest.fixture(scope="module")
def oracle_run() -> tuple[OraclePolicy, Episode]:
    env = p2p_env.parallel_env(period="test")
    oracle = OraclePolicy()
    episode = run_episode(env, oracle, seed=3, options=OPTIONS)
    env.close()
    return oracle, episode


def test_realised_cost_is_the_planned_cost(oracle_run: tuple[OraclePolicy, Episode]) -> None:
    oracle, episode = oracle_run
    assert oracle.plan is not None
    assert abs(episode.cost_sen.sum() - oracle.planned_cost_sen) < TOLERANCE_SEN
    # Every planned trade happens, as planned, and nothing is rejected or sanitised.
    np.testing.assert_array_equal(episode.p2p_bought_wh, np.maximum(oracle.plan.trade_wh, 0))
    np.testing.assert_array_equal(episode.p2p_sold_wh, np.maximum(-oracle.plan.trade_wh, 0))
    assert episode.n_rejected.sum() == 0
    assert episode.bad_actions.sum() == 0
    # Storage moves as planned (Wh rounding of the meter).
    assert np.abs(episode.storage_charge_wh - oracle.plan.charge_wh).max() <= 1.0
    # The plan never retails and exports at once, and fixing the storage meters' directions
    # costs within 0.1 % of the relaxation's bound.
    assert oracle.plan.overlap_wh <= 1.0
    assert oracle.plan.bound_sen <= oracle.plan.cost_sen <= 1.001 * oracle.plan.bound_sen + 1


def test_plan_follows_the_settlement_rules(oracle_run: tuple[OraclePolicy, Episode]) -> None:
    """No paper trades: sales come from physical export (a Wh of rounding at most), the meter
    the plan expects is the simulator's, and the office's demand charge is on that meter."""
    oracle, episode = oracle_run
    plan = oracle.plan
    assert plan is not None
    assert episode.undelivered_wh.max() <= 1
    assert episode.imbalance_penalty_sen.sum() <= 10 * episode.cost_sen.shape[0]
    planned_meter = plan.physical_import_wh - plan.physical_export_wh
    assert np.abs(episode.metered_wh - planned_meter).max() <= 1.0
    # Retail and export never overlap in a slot, in the plan or at the meter.
    assert plan.overlap_wh <= 1.0
    # What the plan expects to retail is what the simulator bills at retail (Wh rounding).
    retail = episode.grid_bought_wh - episode.undelivered_wh
    assert np.abs(retail - plan.grid_bought_wh).max() <= 2.0
    assert np.abs(episode.grid_sold_wh - plan.grid_sold_wh).max() <= 2.0


def test_constraints_hold(oracle_run: tuple[OraclePolicy, Episode]) -> None:
    _, episode = oracle_run
    c = Community.from_config(load_config("higashifuji_demo"))
    soc = episode.soc[~np.isnan(episode.soc)]
    assert np.all((soc >= 0.0) & (soc <= 1.0))
    phv = c.kind == 1
    phv_soc = episode.soc[:, phv]
    assert np.all(phv_soc >= c.phvs.soc_min - 1e-9)
    assert np.all(phv_soc <= c.phvs.soc_max + 1e-9)
    limit = c.trade_limit_wh
    assert np.all(episode.p2p_bought_wh <= limit + 0.5)
    assert np.all(episode.p2p_sold_wh <= limit + 0.5)
    cannot_sell = np.asarray([tag is None for tag in c.sell_tag])
    assert episode.p2p_sold_wh[:, cannot_sell].sum() == 0
    np.testing.assert_array_equal(episode.p2p_bought_wh.sum(axis=1), episode.p2p_sold_wh.sum(1))


@pytest.mark.slow
def test_no_policy_beats_the_oracle(oracle_run: tuple[OraclePolicy, Episode]) -> None:
    _, episode = oracle_run
    env = p2p_env.parallel_env(period="test")
    oracle_cost = int(episode.cost_sen.sum())
    for name in ("grid_only", "rule", "zi", "random", "idle"):
        other = run_episode(env, make_policy(name), seed=3, options=OPTIONS)
        assert oracle_cost <= other.cost_sen.sum() + TOLERANCE_SEN, name
    mpc = run_episode(env, MPCPolicy(), seed=3, options=OPTIONS)
    assert oracle_cost <= mpc.cost_sen.sum() + TOLERANCE_SEN
    env.close()


def test_month_boundary_restarts_the_block_tariff() -> None:
    """An episode across 31 July / 1 August: two months of tiers, billed as the simulator does."""
    env = p2p_env.parallel_env(period="span")
    oracle = OraclePolicy()
    episode = run_episode(env, oracle, seed=1, options={"start": "2020-07-31", "days": 2})
    assert oracle.model is not None
    assert len(oracle.model.months) == 2
    assert abs(episode.cost_sen.sum() - oracle.planned_cost_sen) < TOLERANCE_SEN
    env.close()


def test_balanced_trades_round_to_equal_sides() -> None:
    rng = np.random.default_rng(0)
    raw = rng.uniform(-3000, 3000, (50, 7))
    raw[:, -1] = -raw[:, :-1].sum(axis=1)  # balanced before rounding
    keep = np.zeros(7, dtype=np.bool_)
    keep[0] = True
    q = balanced_trades(raw, keep)
    assert np.all(q.sum(axis=1) == 0)
    assert np.all(np.abs(q - raw) < 7)
    assert q[0, 0] == np.rint(raw[0, 0])


@pytest.mark.parametrize("config", available_configs())
def test_runs_on_every_config_or_refuses_clearly(config: str) -> None:
    n_agents = Community.from_config(load_config(config)).n_agents
    if n_agents * 48 * VARIABLES_PER_AGENT_SLOT > MAX_VARIABLES:
        with pytest.raises(ValueError, match="variables"):
            check_size(n_agents, 48)
        return
    if n_agents > 400:
        pytest.skip("a day of 2,000 homes is a 1-million-variable programme: not a unit test")
    env = p2p_env.parallel_env(config=config, period="test")
    episode = run_episode(env, OraclePolicy(), seed=0, options={"days": 1})
    assert episode.n_rejected.sum() == 0
    assert episode.bad_actions.sum() == 0
    env.close()


@pytest.mark.parametrize("mechanism", ["call", "cda", "midpoint"])
def test_every_mechanism_fills_the_planned_trades(mechanism: str) -> None:
    env = p2p_env.parallel_env(period="test", market__mechanism=mechanism)
    oracle = OraclePolicy()
    episode = run_episode(env, oracle, seed=5, options={"start": "2020-08-10", "days": 1})
    env.close()
    assert oracle.plan is not None
    np.testing.assert_array_equal(episode.p2p_bought_wh, np.maximum(oracle.plan.trade_wh, 0))
    np.testing.assert_array_equal(episode.p2p_sold_wh, np.maximum(-oracle.plan.trade_wh, 0))
    assert abs(episode.cost_sen.sum() - oracle.planned_cost_sen) < TOLERANCE_SEN
