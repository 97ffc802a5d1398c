"""The Gymnasium single-agent view: registered id, conformance checkers, policies for the others."""

from __future__ import annotations

from collections.abc import Sequence

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from numpy.typing import NDArray
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import p2p_env  # noqa: F401  (registers the ids)
from p2p_env.policy import PolicyContext, available_policies, make_policy


def test_registered_and_checked_by_gymnasium() -> None:
    env = gymnasium.make("p2p_env/SingleAgent-v0", agent="home_12", others="random")
    gym_check_env(env.unwrapped)
    env.close()


def test_stable_baselines3_checker() -> None:
    env = gymnasium.make("p2p_env/SingleAgent-v0", agent="phv_00", others="idle")
    sb3_check_env(env.unwrapped)
    env.close()


def test_episode_and_seeding() -> None:
    def rollout(seed: int) -> list[float]:
        env = gymnasium.make("p2p_env/SingleAgent-v0", agent="office", others="random")
        env.reset(seed=seed)
        env.action_space.seed(seed)
        rewards, truncated = [], False
        while not truncated:
            _, reward, terminated, truncated, info = env.step(env.action_space.sample())
            assert not terminated
            assert "block_hash" in info
            rewards.append(float(reward))
        env.close()
        return rewards

    first = rollout(4)
    assert len(first) == 48
    assert first == rollout(4)


class Recording:
    """A policy object that remembers what it was asked."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []
        self.size = 0

    def reset(self, context: PolicyContext, seed: int | None = None) -> None:
        self.size = context.action_size

    def act(
        self, agent_type: str, agent_ids: Sequence[str], observations: NDArray[np.float32]
    ) -> NDArray[np.float32]:
        self.calls.append((agent_type, len(agent_ids)))
        assert observations.shape[0] == len(agent_ids)
        return np.zeros((len(agent_ids), self.size), np.float32)


def test_any_policy_object_drives_the_others() -> None:
    policy = Recording()
    env = gymnasium.make("p2p_env/SingleAgent-v0", agent="home_00", others=policy)
    env.reset(seed=0)
    env.step(env.action_space.sample())
    assert sorted(policy.calls) == [("home", 19), ("office", 1), ("phv", 9)]
    env.close()


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="agent 'home_99' is not in the community"):
        gymnasium.make("p2p_env/SingleAgent-v0", agent="home_99", others="idle")
    with pytest.raises(ValueError, match=r"unknown policy 'nope'; available: .*idle"):
        make_policy("nope")
    with pytest.raises(TypeError, match="policy must be a name or an object"):
        make_policy(42)  # type: ignore[arg-type]
    assert {"idle", "random"} <= set(available_policies())
