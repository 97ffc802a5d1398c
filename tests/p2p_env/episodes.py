"""A whole episode as one digest, for tests that compare two ways of running it."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np


def episode_digest(env: Any, seed: int) -> tuple[str, str]:
    """Reset ``env`` with ``seed`` and step it to the episode's end with random actions, some
    NaN, some -inf and some out of range: the SHA-256 of every observation, reward and info
    (in agent order), and the ledger head. ``env`` is closed afterwards."""
    obs, _ = env.reset(seed=seed)
    rng = np.random.default_rng(seed + 1)
    digest = hashlib.sha256()
    for agent in sorted(obs):
        digest.update(obs[agent].tobytes())
    while env.agents:
        actions = {}
        for agent in env.agents:
            action = rng.uniform(-1.3, 1.3, env.action_space(agent).shape)
            draw = rng.random()
            if draw < 0.03:
                action[0] = np.nan
            elif draw < 0.06:
                action[-1] = -np.inf
            actions[agent] = action.astype(np.float32)
        obs, rewards, _, _, infos = env.step(actions)
        for agent in sorted(obs):
            digest.update(obs[agent].tobytes())
            digest.update(repr(rewards[agent]).encode())
            digest.update(json.dumps(infos[agent], sort_keys=True, default=repr).encode())
    head = env.unwrapped.sim.recorder.head_hash
    env.close()
    return digest.hexdigest(), head
