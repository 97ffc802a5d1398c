"""A stable-baselines3 ``VecEnv`` over the agents of one type: parameter sharing.

:class:`AgentTypeVecEnv` turns one :class:`~p2p_env.envs.parallel.P2PCommunityEnv` into a
``VecEnv`` whose sub-environments are the agents of one type (``home``, ``phv`` or ``office``):
one network acts for all of them and learns from all their transitions. The agents of the other
types act through a fixed policy (``"rule"`` by default). Every sub-environment ends its episode
at the same step (the community's day), which SB3 sees as ``num_envs`` simultaneous episode ends.

Why not SuperSuit's ``pettingzoo_env_to_vec_env_v1``: it crashes under ``PPO(seed=...)`` (its
``seed`` signature predates SB3's) and never marks the horizon as a time-limit truncation, so
SB3 would treat the end of every day as terminal and never bootstrap the value there. Here, on
the last step of an episode, every sub-environment's info carries
``"TimeLimit.truncated": True`` (the horizon is always a truncation in this environment) and
``"terminal_observation"``, and the returned observation is already the next episode's first.

With ``residual`` set to a policy, the learned action is added to that policy's action and
clipped to the action space (residual policy learning: Silver et al. 2018, arXiv:1812.06298;
Johannink et al., ICRA 2019): a freshly initialised network, whose mean action is close to 0,
starts out as the base policy and learns corrections to it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from numpy.typing import NDArray
from stable_baselines3.common.vec_env import VecEnv
from stable_baselines3.common.vec_env.base_vec_env import (
    VecEnvIndices,
    VecEnvObs,
    VecEnvStepReturn,
)

from p2p_env.envs.parallel import P2PCommunityEnv
from p2p_env.policy import AGENT_TYPES, Policy, make_policy

FloatArray = NDArray[np.float32]


def type_agents(env: P2PCommunityEnv, agent_type: str) -> list[str]:
    """The agents of ``agent_type`` in the environment's agent order."""
    if agent_type not in AGENT_TYPES:
        raise ValueError(f"agent_type must be one of {AGENT_TYPES}, got {agent_type!r}")
    return [a for a in env.possible_agents if env.agent_type[a] == agent_type]


def combine_residual(base: FloatArray, learned: FloatArray) -> FloatArray:
    """``base + learned`` clipped to the action space [-1, 1] (the residual composition)."""
    combined: FloatArray = np.clip(base + learned, -1.0, 1.0).astype(np.float32)
    return combined


class AgentTypeVecEnv(VecEnv):
    """All agents of one type as the sub-environments of an SB3 ``VecEnv`` (module docstring).

    Args:
        env: The community environment (owned by the adapter from now on; closed by ``close``).
        agent_type: The learning type: ``home``, ``phv`` or ``office``.
        others: Policy of the agents of the other types: a name or a policy object.
        residual: If given, the learned action is a correction added to this policy's action.
        reset_options: Passed to every ``env.reset`` (e.g. a fixed ``start`` and ``days``).
    """

    def __init__(
        self,
        env: P2PCommunityEnv,
        agent_type: str = "home",
        others: str | Policy = "rule",
        *,
        residual: str | Policy | None = None,
        reset_options: dict[str, Any] | None = None,
    ) -> None:
        self.env = env
        self.agent_type = agent_type
        self.learners = type_agents(env, agent_type)
        if not self.learners:
            raise ValueError(f"agent_type {agent_type!r}: the community has no agent of that type")
        self.others = make_policy(others)
        self.residual = None if residual is None else make_policy(residual)
        agents = env.possible_agents
        self._rows = np.array([agents.index(a) for a in self.learners])
        self._other_groups = {
            kind: [a for a in agents if env.agent_type[a] == kind]
            for kind in AGENT_TYPES
            if kind != agent_type
        }
        self._other_groups = {k: ids for k, ids in self._other_groups.items() if ids}
        self._fixed_options = dict(reset_options or {})
        self._obs_all: FloatArray | None = None
        self._actions: FloatArray | None = None
        self._policy_rng = np.random.default_rng()
        first = self.learners[0]
        super().__init__(len(self.learners), env.observation_space(first), env.action_space(first))

    # ----------------------------------------------------------------------------------------
    # VecEnv API
    # ----------------------------------------------------------------------------------------

    def reset(self) -> VecEnvObs:
        # All sub-environments share one community, so one seed drives it: the first one set
        # through VecEnv.seed (SB3's set_random_seed), then None (the env's generator moves on).
        seed = self._seeds[0]
        if seed is not None:
            self._policy_rng = np.random.default_rng(seed)
        options = {**self._fixed_options, **self._options[0]}
        obs = self._reset_env(seed, options or None)
        self._reset_seeds()
        self._reset_options()
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions, dtype=np.float32).reshape(self.num_envs, -1)

    def step_wait(self) -> VecEnvStepReturn:
        if self._obs_all is None or self._actions is None:
            raise RuntimeError("step_wait() called before reset() and step_async()")
        env = self.env
        learned = self._actions
        if self.residual is not None:
            base = np.asarray(
                self.residual.act(self.agent_type, self.learners, self._obs_all[self._rows]),
                dtype=np.float32,
            )
            learned = combine_residual(base, learned)
        actions: dict[str, FloatArray] = dict(zip(self.learners, learned, strict=True))
        actions.update(self._other_actions())
        obs, rewards, terminations, truncations, infos = env.step(actions)
        self._actions = None
        all_obs = np.stack([obs[a] for a in env.possible_agents])
        learner_obs = all_obs[self._rows]
        reward = np.array([rewards[a] for a in self.learners], dtype=np.float32)
        terminated = np.array([terminations[a] for a in self.learners], dtype=np.bool_)
        truncated = np.array([truncations[a] for a in self.learners], dtype=np.bool_)
        dones = terminated | truncated
        out_infos: list[dict[str, Any]] = [dict(infos[a]) for a in self.learners]
        if dones.any():
            if not dones.all():  # one community: every agent's episode ends at the same step
                raise RuntimeError(
                    "agents of one community ended their episodes at different steps"
                )
            for i, info in enumerate(out_infos):
                info["terminal_observation"] = learner_obs[i].copy()
                info["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
            learner_obs = self._reset_env(None, self._fixed_options or None)
        else:
            self._obs_all = all_obs
        return learner_obs, reward, dones, out_infos

    def close(self) -> None:
        self.env.close()

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        # Attributes are the shared community env's (render_mode, config...), one per index.
        value = getattr(self.env, attr_name)
        return [value for _ in self._indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        setattr(self.env, attr_name, value)

    def env_method(
        self,
        method_name: str,
        *method_args: Any,
        indices: VecEnvIndices = None,
        **method_kwargs: Any,
    ) -> list[Any]:
        # One shared env: call it once and give every index the result.
        result = getattr(self.env, method_name)(*method_args, **method_kwargs)
        return [result for _ in self._indices(indices)]

    def env_is_wrapped(
        self, wrapper_class: type[gym.Wrapper[Any, Any, Any, Any]], indices: VecEnvIndices = None
    ) -> list[bool]:
        # The community env is a PettingZoo env, never wrapped in a gymnasium.Wrapper.
        return [False for _ in self._indices(indices)]

    # ----------------------------------------------------------------------------------------
    # Helpers
    # ----------------------------------------------------------------------------------------

    def _indices(self, indices: VecEnvIndices) -> Sequence[int]:
        if indices is None:
            return range(self.num_envs)
        if isinstance(indices, int):
            return [indices]
        return list(indices)

    def _reset_env(self, seed: int | None, options: dict[str, Any] | None) -> FloatArray:
        obs, infos = self.env.reset(seed=seed, options=options)
        policy_seed = int(self._policy_rng.integers(0, 2**63))
        self.others.reset(self.env.context, seed=policy_seed)
        if self.residual is not None:
            self.residual.reset(self.env.context, seed=policy_seed + 1)
        self.reset_infos = [dict(infos[a]) for a in self.learners]
        self._obs_all = np.stack([obs[a] for a in self.env.possible_agents])
        learner_obs: FloatArray = self._obs_all[self._rows].copy()
        return learner_obs

    def _other_actions(self) -> dict[str, FloatArray]:
        assert self._obs_all is not None
        out: dict[str, FloatArray] = {}
        index = {a: i for i, a in enumerate(self.env.possible_agents)}
        for kind, ids in self._other_groups.items():
            rows = [index[a] for a in ids]
            chosen = np.asarray(self.others.act(kind, ids, self._obs_all[rows]), dtype=np.float32)
            out.update(zip(ids, chosen, strict=True))
        return out


def make_vec_env(
    env_factory: Callable[[], P2PCommunityEnv],
    agent_type: str = "home",
    others: str | Policy = "rule",
    residual: str | Policy | None = None,
) -> AgentTypeVecEnv:
    """Build the adapter from a factory (convenience for scripts and tests)."""
    return AgentTypeVecEnv(env_factory(), agent_type, others, residual=residual)
