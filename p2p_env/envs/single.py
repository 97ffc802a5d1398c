"""A Gymnasium single-agent view of the community: one agent learns, the others follow a policy.

``gymnasium.make("p2p_env/SingleAgent-v0", agent="home_00", others="rule")``: the observation,
action and reward are those of ``agent`` in :class:`~p2p_env.envs.parallel.P2PCommunityEnv`; every
other agent acts through ``others``, a policy name (``"rule"`` and the other baselines come from
``agents``; ``"idle"`` and ``"random"`` are built in) or any :class:`~p2p_env.policy.Policy`.
The episode's end is a truncation, as in the parallel environment.
"""

from __future__ import annotations

import os
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from numpy.typing import NDArray

from p2p_env.config import DEFAULT_CONFIG, GymConfig
from p2p_env.envs.parallel import RENDER_MODES, P2PCommunityEnv
from p2p_env.policy import AGENT_TYPES, Policy, make_policy


class SingleAgentEnv(gym.Env[NDArray[np.float32], NDArray[np.float32]]):
    """One agent of the community as a ``gymnasium.Env`` (see the module docstring).

    Args:
        agent: The learning agent's id (``home_00``, ``phv_03``, ``office``...).
        others: Policy of every other agent: a name or a policy object.
        config: Config name, path or object.
        render_mode: As the parallel environment's.
        **kwargs: Passed to :class:`P2PCommunityEnv` (``period``, ``ledger_path``, overrides).
    """

    metadata = {"render_modes": list(RENDER_MODES), "render_fps": 4}  # noqa: RUF012

    def __init__(
        self,
        agent: str = "home_00",
        others: str | Policy = "rule",
        config: str | os.PathLike[str] | GymConfig = DEFAULT_CONFIG,
        render_mode: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.parallel = P2PCommunityEnv(config, render_mode=render_mode, **kwargs)
        if agent not in self.parallel.possible_agents:
            raise ValueError(
                f"agent {agent!r} is not in the community; agents are "
                f"{', '.join(self.parallel.possible_agents[:5])}, ... "
                f"({len(self.parallel.possible_agents)} in all)"
            )
        self.agent = agent
        self.render_mode = render_mode
        self.others = make_policy(others)
        self.observation_space: spaces.Box = self.parallel.observation_space(agent)
        self.action_space: spaces.Box = self.parallel.action_space(agent)
        agents = self.parallel.possible_agents
        self._index = agents.index(agent)
        types = self.parallel.agent_type
        self._groups = {
            kind: [i for i, a in enumerate(agents) if types[a] == kind and a != agent]
            for kind in AGENT_TYPES
        }
        self._obs: NDArray[np.float32] | None = None

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[NDArray[np.float32], dict[str, Any]]:
        super().reset(seed=seed)
        # The parallel env draws from its own generator, seeded from ours so that
        # gymnasium's seeding contract (reset(seed) -> same episode) holds.
        parallel_seed = int(self.np_random.integers(0, 2**63))
        obs, infos = self.parallel.reset(seed=parallel_seed, options=options)
        self.others.reset(self.parallel.context, seed=int(self.np_random.integers(0, 2**63)))
        self._obs = np.stack([obs[a] for a in self.parallel.possible_agents])
        return obs[self.agent], infos[self.agent]

    def step(
        self, action: NDArray[np.float32]
    ) -> tuple[NDArray[np.float32], float, bool, bool, dict[str, Any]]:
        if self._obs is None:
            raise RuntimeError("step() called before reset()")
        agents = self.parallel.possible_agents
        actions: dict[str, NDArray[np.float32]] = {self.agent: np.asarray(action)}
        for kind, rows in self._groups.items():
            if not rows:
                continue
            ids = [agents[i] for i in rows]
            chosen = self.others.act(kind, ids, self._obs[rows])
            actions.update(zip(ids, chosen, strict=True))
        obs, rewards, terminations, truncations, infos = self.parallel.step(actions)
        self._obs = np.stack([obs[a] for a in agents])
        return (
            obs[self.agent],
            rewards[self.agent],
            terminations[self.agent],
            truncations[self.agent],
            infos[self.agent],
        )

    def render(self) -> Any:
        return self.parallel.render()

    def close(self) -> None:
        self.parallel.close()
