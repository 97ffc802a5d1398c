"""The MPC baseline: feasible plans, trips kept electric, cheaper than grid only, every config."""

from __future__ import annotations

import numpy as np
import pytest

import p2p_env
from agents.mpc import MAX_STORAGE_UNITS, MPCPolicy, check_storage_units
from p2p_env.config import available_configs, load_config
from p2p_env.policy import make_policy
from p2p_env.rollout import Episode, run_episode
from p2p_env.sim.community import Community

OPTIONS = {"start": "2020-08-03", "days": 2}


@pytest.fixture(scope="module")
def mpc_run() -> tuple[MPCPolicy, Episode]:
    env = p2p_env.parallel_env(period="test")
    policy = MPCPolicy()
    episode = run_episode(env, policy, seed=2, options=OPTIONS)
    env.close()
    return policy, episode


def test_orders_and_storage_are_feasible(mpc_run: tuple[MPCPolicy, Episode]) -> None:
    policy, episode = mpc_run
    assert episode.n_rejected.sum() == 0
    assert episode.bad_actions.sum() == 0
    c = Community.from_config(load_config("higashifuji_demo"))
    soc = episode.soc[~np.isnan(episode.soc)]
    assert np.all((soc >= 0.0) & (soc <= 1.0))
    phv_soc = episode.soc[:, c.kind == 1]
    assert np.all(phv_soc >= c.phvs.soc_min - 1e-9)
    cannot_sell = np.asarray([tag is None for tag in c.sell_tag])
    assert episode.p2p_sold_wh[:, cannot_sell].sum() == 0
    # One programme per agent type with storage and slot: homes and PHVs.
    assert policy.lp_solves == 2 * episode.n_slots


def test_plans_beat_grid_only_and_keep_trips_electric(mpc_run: tuple[MPCPolicy, Episode]) -> None:
    _, episode = mpc_run
    env = p2p_env.parallel_env(period="test")
    grid = run_episode(env, make_policy("grid_only"), seed=2, options=OPTIONS)
    idle = run_episode(env, make_policy("idle"), seed=2, options=OPTIONS)
    env.close()
    households = episode.kind != 2
    assert episode.bill_sen()[households].sum() < grid.bill_sen()[households].sum()
    assert episode.cost_sen.sum() < grid.cost_sen.sum()
    assert episode.gasoline_sen.sum() <= 0.25 * idle.gasoline_sen.sum()
    assert episode.p2p_bought_wh.sum() > 0


def test_refuses_an_episode_without_forecast_history() -> None:
    env = p2p_env.parallel_env(period="span")
    with pytest.raises(ValueError, match="history"):
        run_episode(env, MPCPolicy(), seed=0, options={"start": "2019-06-02", "days": 1})
    env.close()


def _configs() -> list[object]:
    """Every config; those with more than 100 agents (seconds per day) are marked slow."""
    out: list[object] = []
    for name in available_configs():
        large = Community.from_config(load_config(name)).n_agents > 100
        out.append(pytest.param(name, marks=pytest.mark.slow) if large else name)
    return out


@pytest.mark.parametrize("config", _configs())
def test_runs_on_every_config_or_refuses_clearly(config: str) -> None:
    community = Community.from_config(load_config(config))
    if community.batteries.n + community.n_phv > MAX_STORAGE_UNITS:
        with pytest.raises(ValueError, match="at most"):
            check_storage_units(community)
        return
    env = p2p_env.parallel_env(config=config, period="test")
    episode = run_episode(env, MPCPolicy(), seed=0, options={"days": 1})
    assert episode.n_rejected.sum() == 0
    assert episode.bad_actions.sum() == 0
    env.close()


def test_near_term_choice_is_validated_and_used() -> None:
    with pytest.raises(ValueError, match="near_term"):
        MPCPolicy(near_term="psychic")
    env = p2p_env.parallel_env(period="test")
    options = {"start": "2020-08-05", "days": 1}
    a = run_episode(env, MPCPolicy(near_term="model"), seed=1, options=options)
    b = run_episode(env, MPCPolicy(near_term="observation"), seed=1, options=options)
    env.close()
    assert a.n_rejected.sum() == 0
    # Different forecasts of the coming slot: different orders.
    assert not np.array_equal(a.p2p_bought_wh, b.p2p_bought_wh)


def test_office_pays_no_premium_for_its_peak(mpc_run: tuple[MPCPolicy, Episode]) -> None:
    """The demand charge is on the office's physical import, which trading cannot lower: the
    office never pays more on the exchange than its grid energy price."""
    _, episode = mpc_run
    config = load_config("higashifuji_demo")
    office = episode.kind == 2
    bought = episode.p2p_bought_wh[:, office].sum()
    assert bought > 0
    energy_price = (
        config.tariffs.office.energy_price_jpy_per_kwh
        + config.tariffs.office.renewable_surcharge_jpy_per_kwh
    )
    # sen per Wh = JPY/kWh / 10; one sen of rounding per trade slot.
    paid = episode.p2p_paid_sen[:, office].sum()
    assert paid <= bought * energy_price / 10 + episode.n_slots
