"""``p2p-gym compile`` leaves nothing for a rollout to compile.

A subprocess compiles every kernel into an empty numba cache with ``p2p-gym compile``; a second
one, on that cache, runs what the bench and the tests run (the demonstration with the continuous
double auction and with the call auction, 200 homes, a batch of communities, the hashing's
threaded path, a ledger's verification) with numba's cache reporting on: it must load every
kernel from the cache and save none.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from p2p_env.kernels import backends, compile_kernels

WORKLOAD = r"""
import numpy as np
import p2p_env
from exchange import ClearingParams, Order, clear
from ledger import hashing
from p2p_env.envs.batched import BatchedCommunityVecEnv
from p2p_env.sim.exchange_market import replay

hashing.set_threshold(64)  # demonstration blocks go the threaded way too
for config, mechanism in (("higashifuji_demo", "cda"), ("higashifuji_demo", "call"),
                          ("homes_200", "cda")):
    env = p2p_env.parallel_env(config=config, seed=1, **{"market.mechanism": mechanism})
    env.reset(seed=1)
    rng = np.random.default_rng(2)
    for _ in range(6):
        env.step({a: rng.uniform(-1.2, 1.2, env.action_space(a).shape).astype(np.float32)
                  for a in env.agents})
    assert env.sim.recorder.ledger.verify(replay=replay).ok
vec = BatchedCommunityVecEnv(n_communities=3, seed=1)
vec.reset()
vec.step(np.zeros((vec.num_envs, vec.batch.action_size)))
params = ClearingParams(mechanism="cda", tags=("pv", "grid"))
clear([Order.sell("s", "a", 5, "pv", 10), Order.buy("b", "b", 9, {"pv": 20, "grid": 30})], params)
print("workload done")
"""


def test_compile_kernels_reports_the_compiled_paths() -> None:
    got = compile_kernels()
    assert got == backends()
    assert set(got) == {
        "step",
        "clearing",
        "order rows",
        "certificates",
        "settlement rows",
        "hashing",
    }
    assert got["clearing"] == "numba"
    assert got["hashing"].startswith("openssl (compiled")
    assert {got[p] for p in ("step", "order rows", "certificates", "settlement rows")} == {
        "compiled"
    }


def _python(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, *args], env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return done


@pytest.mark.slow
def test_after_compile_a_rollout_compiles_nothing(tmp_path: Path) -> None:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    done = _python(["-c", "from p2p_env.cli import app; app()", "compile"], env)
    assert "kernels ready in" in done.stdout
    assert "hashing: openssl (compiled" in done.stdout
    saved = list(tmp_path.rglob("*.nbi"))
    assert len(saved) >= 6  # one index per kernel file at least
    done = _python(["-c", WORKLOAD], {**env, "NUMBA_DEBUG_CACHE": "1"})
    assert "workload done" in done.stdout
    log = done.stdout + done.stderr
    assert "[cache] index loaded" in log  # the reporting is on, and the cache was read
    assert "[cache] data saved" not in log, [line for line in log.splitlines() if "saved" in line]
