"""B communities as one stable-baselines3 ``VecEnv`` (parameter sharing over every agent).

``BatchedCommunityVecEnv(config, n_communities=64)`` steps ``B`` independent communities of the
same config as one batch (:class:`~p2p_env.sim.batched.BatchedSimulator`). Every agent of every
community is one sub-environment, in community-major order: ``num_envs = B * agents`` and row
``b * agents + i`` is agent ``i`` (``possible_agents[i]``) of community ``b``. All agent types
share one observation and one action space (the ParallelEnv's), so one policy can be trained over
all of them, as SuperSuit's PettingZoo-to-VecEnv conversion does.

Semantics are those of ``B`` separate :class:`~p2p_env.envs.parallel.P2PCommunityEnv` objects:
community ``b`` is such an env, seeded ``seed + b`` by :meth:`seed` (SB3's convention), reset
at the end of each episode without a new seed, exactly as a training loop resets one env; the
trades, rewards and ledger of each community are the separate env's (tested). An episode end
is a truncation: ``dones`` is true for every agent of that community, ``infos`` carries
``terminal_observation`` and ``TimeLimit.truncated`` (SB3's convention) and the returned
observation is the next episode's first.

``infos``: by default only the SB3 keys above, to keep the step cheap; ``full_infos=True`` adds
each agent's ParallelEnv info (the cost breakdown and ``block_hash``, :mod:`p2p_env.envs.info`).
Each community keeps its ledger in memory (``keep_records=False`` keeps hashes only; every slot
still appends a block).

Without full infos the blocks are written and hashed on the ledgers' background thread
(``background_ledger=True``, the default): the step returns once the blocks are prepared, and
the hashing runs while the caller computes the next actions and the next step runs. Each ledger
appends its block when next read or written (its next block included), and each result's
``block_hash`` in :attr:`last` waits for its block when read: the same blocks and hashes, off
the step's path. Where only one CPU is free (``P2P_GYM_HASH_THREADS=1``) the blocks are hashed
at once.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from stable_baselines3.common.vec_env import VecEnv
from stable_baselines3.common.vec_env.base_vec_env import VecEnvStepReturn

from p2p_env.config import DEFAULT_CONFIG, GymConfig
from p2p_env.data import load_dataset
from p2p_env.envs.info import agent_infos
from p2p_env.envs.parallel import P2PCommunityEnv, PeriodName, resolve_config
from p2p_env.sim.batched import BatchedSimulator, BatchResult
from p2p_env.sim.community import Community
from p2p_env.sim.ledger_recorder import LedgerRecorder
from p2p_env.sim.series import from_dataset


class BatchedCommunityVecEnv(VecEnv):
    """``n_communities`` communities of ``config`` as one SB3 ``VecEnv`` (module docstring).

    Args:
        config: Config name, YAML path or :class:`~p2p_env.config.GymConfig`.
        n_communities: ``B``, the number of independent communities.
        seed: Seeds community ``b`` with ``seed + b`` at the first reset (``None``: unseeded).
        period: Where episodes start (as the ParallelEnv's ``period``).
        keep_records: Keep ledger records in memory (``False``: headers and hashes only).
        full_infos: Put each agent's ParallelEnv info in ``infos`` (slower).
        background_ledger: Hash the blocks in the background while the next step runs (module
            docstring); with ``full_infos`` (which carry each block's hash) they are hashed at
            once.
        **overrides: Dotted config overrides, e.g. ``**{"market.mechanism": "call"}``.
    """

    def __init__(
        self,
        config: str | os.PathLike[str] | GymConfig = DEFAULT_CONFIG,
        n_communities: int = 64,
        seed: int | None = None,
        *,
        period: PeriodName = "train",
        keep_records: bool = True,
        full_infos: bool = False,
        background_ledger: bool = True,
        **overrides: Any,
    ) -> None:
        if type(n_communities) is not int or n_communities < 1:
            raise ValueError(f"n_communities must be a positive integer, got {n_communities!r}")
        resolved = resolve_config(config, overrides)
        dataset = load_dataset(resolved)  # one data set (and series memory) for the batch
        series = from_dataset(dataset)
        community = Community.from_config(resolved)
        self.envs = [
            P2PCommunityEnv(
                resolved,
                period=period,
                dataset=dataset,
                recorder=LedgerRecorder(
                    community, keep_records=keep_records, tags=resolved.market.tags
                ),
                series=series,
            )
            for _ in range(n_communities)
        ]
        self.batch = BatchedSimulator([env.sim for env in self.envs])
        first = self.envs[0]
        self.possible_agents = list(first.possible_agents)
        self.n_agents = len(self.possible_agents)
        self.n_communities = n_communities
        self.full_infos = full_infos
        self.background_ledger = background_ledger
        agent = self.possible_agents[0]
        super().__init__(
            n_communities * self.n_agents, first.observation_space(agent), first.action_space(agent)
        )
        self._community_seeds: list[int | None] = (
            [None] * n_communities if seed is None else [seed + b for b in range(n_communities)]
        )
        self._actions: NDArray[np.float64] | None = None
        self.last: BatchResult | None = None
        """The last step's per-community results (trades, cost breakdown, block hashes)."""
        obs_size = first.observations_builder.size
        self._obs = np.zeros((n_communities, self.n_agents, obs_size), dtype=np.float32)

    # -- VecEnv API -------------------------------------------------------------------------------

    def seed(self, seed: int | None = None) -> Sequence[int | None]:
        """Seed community ``b`` with ``seed + b`` at the next reset (SB3's convention)."""
        if seed is None:
            seed = int(np.random.default_rng().integers(0, 2**31 - 1))
        self._community_seeds = [seed + b for b in range(self.n_communities)]
        return [seed + b for b in range(self.n_communities) for _ in range(self.n_agents)]

    def reset(self) -> NDArray[np.float32]:
        """Reset every community (with the seeds given to :meth:`seed` or the constructor)."""
        self.reset_infos = []
        # A fresh array: the last step returned the previous one to the caller.
        self._obs = np.empty_like(self._obs)
        for b, env in enumerate(self.envs):
            options = self._options[b * self.n_agents] or None
            obs, infos = env.reset(seed=self._community_seeds[b], options=options)
            self._obs[b] = np.stack(list(obs.values()))
            self.reset_infos += [infos[a] for a in self.possible_agents]
        self._community_seeds = [None] * self.n_communities
        self._reset_seeds()
        self._reset_options()
        return self._obs.reshape(self.num_envs, -1)

    def step_async(self, actions: NDArray[np.floating]) -> None:
        """Take one action row per sub-environment (``num_envs x action_size``)."""
        array = np.asarray(actions, dtype=np.float64)
        expected = (self.num_envs, self.batch.action_size)
        if array.shape != expected and array.size == self.num_envs * self.batch.action_size:
            array = array.reshape(expected)
        if array.shape != expected:
            raise ValueError(f"actions must have shape {expected}, got {np.shape(actions)}")
        self._actions = array.reshape(self.n_communities, self.n_agents, -1)

    def step_wait(self) -> VecEnvStepReturn:
        """Step every community one slot; reset those whose episode ended."""
        if self._actions is None:
            raise RuntimeError("step_wait() without step_async()")
        batch = self.batch.step(
            self._actions, background_ledger=self.background_ledger and not self.full_infos
        )
        self.last = batch
        self._actions = None
        n = self.n_agents
        dones = np.zeros((self.n_communities, n), dtype=np.bool_)
        infos: list[dict[str, Any]] = []
        # Every community's observation in one array program (each its own noise stream): a
        # fresh array each step, returned as it is (no copy to keep it from the next step).
        self._obs = self.envs[0].observations_builder.build_many(
            self.batch.simulators, [env._forecast_rng for env in self.envs], self.batch.state
        )
        if not self.full_infos:
            infos = [{} for _ in range(self.num_envs)]
        for b, (env, result) in enumerate(zip(self.envs, batch.results, strict=True)):
            env.last = result
            if self.full_infos:
                by_agent = agent_infos(env, result, ())
                infos += [by_agent[a] for a in self.possible_agents]
            if env.sim.slot >= env._end_slot:
                dones[b] = True
                for i in range(n):
                    info = infos[b * n + i]
                    info["terminal_observation"] = self._obs[b, i].copy()
                    info["TimeLimit.truncated"] = True
                obs, _ = env.reset()
                self._obs[b] = np.stack(list(obs.values()))
        return (
            self._obs.reshape(self.num_envs, -1),
            batch.rewards.reshape(-1).astype(np.float32),
            dones.reshape(-1),
            infos,
        )

    def close(self) -> None:
        """Close every community's ledger."""
        for env in self.envs:
            env.close()

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        """``attr_name`` of the community env behind each sub-environment in ``indices``."""
        return [getattr(self.envs[i // self.n_agents], attr_name) for i in self._indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        """Set ``attr_name`` on the community env behind each sub-environment in ``indices``."""
        for i in self._indices(indices):
            setattr(self.envs[i // self.n_agents], attr_name, value)

    def env_method(
        self, method_name: str, *method_args: Any, indices: Any = None, **method_kwargs: Any
    ) -> list[Any]:
        """Call ``method_name`` on the community env behind each sub-environment."""
        return [
            getattr(self.envs[i // self.n_agents], method_name)(*method_args, **method_kwargs)
            for i in self._indices(indices)
        ]

    def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
        """No sub-environment is wrapped (they are agents of community envs)."""
        return [False for _ in self._indices(indices)]

    # -- helpers ------------------------------------------------------------------------------

    @property
    def head_hashes(self) -> list[str]:
        """Each community's ledger head (hex), in community order."""
        return [
            env.sim.recorder.head_hash if isinstance(env.sim.recorder, LedgerRecorder) else ""
            for env in self.envs
        ]

    def _indices(self, indices: Any) -> Iterable[int]:
        if indices is None:
            return range(self.num_envs)
        if isinstance(indices, int):
            return [indices]
        return list(indices)
