"""Benchmark: agent-steps per second of the PettingZoo environment, against a null ceiling.

Measures, in one run: a null ``ParallelEnv`` with the same agents and spaces that does nothing
but build its return dicts (the ceiling any ParallelEnv can reach in Python), the demonstration
community (30 agents), 64 demonstration communities through the batched VecEnv
(:mod:`p2p_env.envs.batched`) and the generated communities ``configs/homes_200.yaml`` and
``configs/homes_2000.yaml``. Actions are drawn before timing; the ledger is in memory. Reported
as agent-steps per second and as the ratio to the null rate measured in the same run, so the
figures survive a noisy machine. ``p2p-gym bench`` runs the full set (20,000 homes, clearing and
ledger throughput, peak memory, the scaling PNG).

    python experiments/bench_env.py            # demo, batched, 200 and 2,000 homes
    python experiments/bench_env.py --quick    # demo, batched and 200 homes, shorter runs
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

import p2p_env
from p2p_env.envs.batched import BatchedCommunityVecEnv
from p2p_env.envs.parallel import P2PCommunityEnv


class NullParallelEnv(ParallelEnv):  # type: ignore[misc]
    """Same agents and spaces as a community; ``step`` does nothing but return fresh dicts."""

    metadata = {"name": "null_v0"}  # noqa: RUF012

    def __init__(self, like: P2PCommunityEnv) -> None:
        self.possible_agents = list(like.possible_agents)
        self._obs = {a: like.observation_space(a).sample() for a in self.possible_agents}
        self._spaces = {a: like.observation_space(a) for a in self.possible_agents}
        self._actions = {a: like.action_space(a) for a in self.possible_agents}
        self.agents: list[str] = []

    def observation_space(self, agent: str) -> spaces.Box:
        return self._spaces[agent]

    def action_space(self, agent: str) -> spaces.Box:
        return self._actions[agent]

    def reset(self, seed: int | None = None, options: Any = None) -> tuple[dict, dict]:
        self.agents = self.possible_agents[:]
        return dict(self._obs), {a: {} for a in self.agents}

    def step(self, actions: dict) -> tuple[dict, dict, dict, dict, dict]:
        agents = self.agents
        return (
            {a: self._obs[a] for a in agents},
            dict.fromkeys(agents, 0.0),
            dict.fromkeys(agents, False),
            dict.fromkeys(agents, False),
            {a: {} for a in agents},
        )


def agent_steps_per_second(env: Any, steps: int, seed: int = 0) -> float:
    """Step ``env`` for ``steps`` slots (resetting at episode ends) with pre-drawn actions."""
    rng = np.random.default_rng(seed)
    agents = env.possible_agents
    n_actions = env.action_space(agents[0]).shape[0]
    pool = [
        dict(
            zip(
                agents, rng.uniform(-1, 1, (len(agents), n_actions)).astype(np.float32), strict=True
            )
        )
        for _ in range(min(steps, 256))
    ]
    env.reset(seed=seed)
    start = time.perf_counter()
    for i in range(steps):
        env.step(pool[i % len(pool)])
        if not env.agents:
            env.reset()
    elapsed = time.perf_counter() - start
    return steps * len(agents) / elapsed


def batched_rate(vec: BatchedCommunityVecEnv, steps: int, seed: int = 0) -> float:
    """Agent-steps per second of the batched VecEnv over ``steps`` batched steps."""
    rng = np.random.default_rng(seed)
    shape = (vec.num_envs, vec.batch.action_size)
    pool = [rng.uniform(-1, 1, shape).astype(np.float32) for _ in range(4)]
    vec.reset()
    start = time.perf_counter()
    for i in range(steps):
        vec.step(pool[i % len(pool)])
    return steps * vec.num_envs / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs, no 2,000 homes")
    args = parser.parse_args()
    steps = 200 if args.quick else 1000
    cases = [("demo (30 agents)", "higashifuji_demo"), ("200 homes", "homes_200")]
    if not args.quick:
        cases.append(("2,000 homes", "homes_2000"))
    rows = []
    null_rate = None
    for name, config in cases:
        env = p2p_env.parallel_env(config=config, seed=0, **{"env.episode_days": 7})
        if null_rate is None:
            null_rate = agent_steps_per_second(NullParallelEnv(env), steps * 20)
            rows.append(("null ParallelEnv (30 agents)", len(env.possible_agents), null_rate))
        n_steps = max(steps // max(len(env.possible_agents) // 30, 1), 20)
        rows.append((name, len(env.possible_agents), agent_steps_per_second(env, n_steps)))
        env.close()
        if config == "higashifuji_demo":
            vec = BatchedCommunityVecEnv(n_communities=64, seed=0, keep_records=False)
            rows.append(("batched demo, B = 64", vec.num_envs, batched_rate(vec, steps // 20)))
            vec.close()
    assert null_rate is not None
    print(f"{'case':32} {'agents':>7} {'agent-steps/s':>15} {'slots/s':>10} {'/ null':>8}")
    for name, agents, rate in rows:
        print(f"{name:32} {agents:7d} {rate:15,.0f} {rate / agents:10,.1f} {rate / null_rate:8.2%}")


if __name__ == "__main__":
    main()
