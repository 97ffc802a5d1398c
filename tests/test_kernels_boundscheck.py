"""Every compiled kernel, run with numba's bounds checking on, over whole episodes.

numba does not check array indices by default: a kernel that reads or writes past an array
corrupts memory instead of raising. Here a subprocess compiles every kernel afresh with
``NUMBA_BOUNDSCHECK=1`` (its own cache directory, so no unchecked build is loaded) and steps
short episodes through them: the simulator's step and observations (a batch of three
communities too: their clearing, settlement rows and blocks in one call each), the cda slot and
its records, the call auction's records, the certificate events, the settlement rows and the
block hashing, threaded path included (its threshold lowered so that a demonstration block of
the single environments takes it). An index out of bounds raises there
and fails this test; the ledger heads must equal the ones this process computes unchecked.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

SCRIPT = r"""
import hashlib, json, sys
import numpy as np
import p2p_env
from exchange.arrays import rows_backend
from exchange.mechanisms import cda
from ledger import hashing, slot_events
from ledger.fast import formatting_backend
from p2p_env.envs.batched import BatchedCommunityVecEnv
from p2p_env.sim import compiled

hashing.set_threshold(64)  # demonstration blocks (about 100 records) go the threaded way too
hashing.set_threads(2)
heads = {}
for config, mechanism in (("higashifuji_demo", "cda"), ("higashifuji_demo", "call"),
                          ("homes_200", "cda")):
    env = p2p_env.parallel_env(config=config, seed=1, **{"market.mechanism": mechanism})
    env.reset(seed=1)
    rng = np.random.default_rng(2)
    for _ in range(24):
        actions = {a: rng.uniform(-1.2, 1.2, env.action_space(a).shape).astype(np.float32)
                   for a in env.agents}
        env.step(actions)
    heads[f"{config}/{mechanism}"] = env.sim.recorder.ledger.head_hash.hex()
# The batch's blocks below the threshold again: written and hashed in one call (encode_blocks).
hashing.set_threshold(None)
vec = BatchedCommunityVecEnv(n_communities=3, seed=1)  # the step kernels over B = 3 rows
rng = np.random.default_rng(3)
seen = [vec.reset()]
for _ in range(12):
    seen += vec.step(rng.uniform(-1.2, 1.2, (vec.num_envs, vec.batch.action_size)))[:2]
heads["batched"] = vec.head_hashes
heads["batched/steps"] = hashlib.sha256(b"".join(a.tobytes() for a in seen)).hexdigest()
backends = [hashing.backend(), slot_events.events_backend(), cda.backend(), formatting_backend(),
            rows_backend(), compiled.backend()]
print(json.dumps({"heads": heads, "backends": backends}))
"""


def _run(env: dict[str, str]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stderr[-4000:]
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.slow
def test_kernels_stay_in_bounds_over_episodes(tmp_path: Path) -> None:
    checked = _run({**os.environ, "NUMBA_BOUNDSCHECK": "1", "NUMBA_CACHE_DIR": str(tmp_path)})
    # Every kernel ran compiled (a probe failing under bounds checking would fall back quietly).
    backends: list[str] = checked["backends"]
    hashing_backend, *others = backends
    assert hashing_backend.startswith("openssl (compiled; 2 threads")
    assert others == ["compiled", "numba", "compiled", "compiled", "compiled"]
    unchecked = _run(dict(os.environ))
    assert checked["heads"] == unchecked["heads"]
