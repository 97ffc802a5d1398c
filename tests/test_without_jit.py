"""The gym with numba's compiler switched off (``NUMBA_DISABLE_JIT=1``, as one debugs a kernel).

The kernels then run as plain Python. Those that cannot (they call C functions: OpenSSL's
SHA-256, ``memcpy``) must be refused by their loaders or caught by their probes, so that the
reference paths run; the others give their usual values, slowly. Either way an episode must
give the ledger head of the compiled run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

SCRIPT = r"""
import json
import numpy as np
import p2p_env
from exchange.mechanisms import cda
from ledger import hashing, slot_events
from ledger.fast import formatting_backend
from p2p_env.sim import compiled

env = p2p_env.parallel_env(config="higashifuji_demo", seed=4)
env.reset(seed=4)
rng = np.random.default_rng(1)
for _ in range(6):
    env.step({a: rng.uniform(-1.2, 1.2, 5).astype(np.float32) for a in env.agents})
print(json.dumps({
    "head": env.sim.recorder.head_hash,
    "backends": [cda.backend(), hashing.backend(), slot_events.events_backend(),
                 formatting_backend(), compiled.backend()],
}))
"""


def _run(env: dict[str, str]) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-4000:]
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.slow
def test_an_episode_without_the_compiler_gives_the_compiled_ledger() -> None:
    plain = _run({**os.environ, "NUMBA_DISABLE_JIT": "1"})
    compiled = _run(dict(os.environ))
    assert plain["head"] == compiled["head"]
    cda, hashing, events, formatting, step = plain["backends"]  # type: ignore[misc]
    assert cda == "python (NUMBA_DISABLE_JIT is set)"
    assert hashing.startswith("hashlib")
    assert events.startswith("python (")
    assert formatting.startswith("%-format")
    # The simulator's kernels are plain numpy-compatible Python: proven, and used.
    assert step == "compiled"
    assert compiled["backends"][0] == "numba"  # type: ignore[index]
