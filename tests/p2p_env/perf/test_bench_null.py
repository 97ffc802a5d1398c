"""``experiments/bench_null.py``: the fresh null hands back fresh, equal observations; the rounds
report the demonstration against both nulls."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import numpy as np
import pytest

import p2p_env
from p2p_env.benchmark import null_env_class


@pytest.fixture(scope="module")
def script(experiment: Callable[[str], ModuleType]) -> ModuleType:
    return experiment("bench_null")


def test_the_fresh_null_copies_what_the_null_returns(script: ModuleType) -> None:
    like = p2p_env.parallel_env(seed=0)
    null, fresh = null_env_class()(like), script.fresh_null_class()(like)
    null.reset(seed=0)
    fresh.reset(seed=0)
    actions = {a: like.action_space(a).sample() for a in like.possible_agents}
    same_first, same_second = null.step(actions)[0], null.step(actions)[0]
    first, second = fresh.step(actions)[0], fresh.step(actions)[0]
    assert list(first) == list(same_first) == like.possible_agents
    assert fresh.agents == like.possible_agents
    for agent in like.possible_agents:
        assert same_first[agent] is same_second[agent]  # the bench's null: the same array
        assert first[agent] is not second[agent]  # the fresh null: a new one each step
        assert not np.shares_memory(first[agent], fresh._obs[agent])
        np.testing.assert_array_equal(first[agent], fresh._obs[agent])  # what the null holds
        assert first[agent].dtype == like.observation_space(agent).dtype
        assert like.observation_space(agent).contains(first[agent])
    like.close()


def test_each_round_divides_the_demonstration_by_both_nulls(script: ModuleType) -> None:
    rows = script.run(rounds=2, null_steps=200, demo_steps=20)
    assert len(rows) == 2
    for row in rows:
        assert row["null_agent_steps_per_s"] > 0
        assert row["fresh_null_agent_steps_per_s"] > 0
        assert row["demo_agent_steps_per_s"] > 0
        assert row["demo_ratio_to_null"] == pytest.approx(
            row["demo_agent_steps_per_s"] / row["null_agent_steps_per_s"]
        )
        assert row["demo_ratio_to_fresh_null"] == pytest.approx(
            row["demo_agent_steps_per_s"] / row["fresh_null_agent_steps_per_s"]
        )
