"""Reward = -(net cost) x scale, minus the configured extras; each extra moves it as documented."""

from __future__ import annotations

import numpy as np

import p2p_env
from p2p_env.policy import make_policy
from p2p_env.rollout import run_episode

OPTIONS = {"start": "2020-08-03", "days": 1}


def _episode(**overrides: object) -> object:
    env = p2p_env.parallel_env(period="test", **overrides)
    return run_episode(env, make_policy("rule"), seed=0, options=OPTIONS)


def test_reward_is_minus_scaled_cost_by_default() -> None:
    ep = _episode()
    np.testing.assert_allclose(ep.rewards, -ep.cost_sen / 100 * 0.01, rtol=1e-12)  # type: ignore[attr-defined]


def test_reward_scale() -> None:
    base, scaled = _episode(), _episode(**{"env.reward_scale": 1.0})
    np.testing.assert_allclose(scaled.rewards, base.rewards * 100, rtol=1e-9)  # type: ignore[attr-defined]


def test_green_preference_rewards_solar_purchases() -> None:
    base = _episode()
    green = _episode(**{"env.green_preference_jpy_per_kwh": 5.0})
    bought_pv_kwh = base.p2p_bought_wh / 1000  # type: ignore[attr-defined]
    # Only pv trades happen in the demonstration community (no V2B, no battery-only homes).
    assert float(bought_pv_kwh.sum()) > 0
    np.testing.assert_allclose(
        green.rewards - base.rewards,
        5.0 * bought_pv_kwh * 0.01,
        atol=1e-9,  # type: ignore[attr-defined]
    )


def test_unmet_departure_penalty_applies_to_gasoline_trips() -> None:
    env = p2p_env.parallel_env(
        period="test", **{"env.phv_unmet_departure_penalty_jpy_per_kwh": 100.0}
    )
    # Never charging, the PHVs run out within a few days and drive on gasoline.
    days = {"start": "2020-08-03", "days": 4}
    idle = run_episode(env, make_policy("idle"), seed=0, options=days)
    env0 = p2p_env.parallel_env(period="test")
    idle0 = run_episode(env0, make_policy("idle"), seed=0, options=days)
    assert (idle.gasoline_sen > 0).any()
    assert float(idle.rewards.sum()) < float(idle0.rewards.sum())
    np.testing.assert_array_equal(idle.cost_sen, idle0.cost_sen)  # a penalty, not a cost
