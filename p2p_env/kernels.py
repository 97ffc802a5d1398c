"""Compile every numba kernel of the gym now, rather than in the first environment's first steps.

The kernels (``exchange/mechanisms/_cda_kernel.py``, ``exchange/_rows_kernel.py``,
``ledger/_sha_kernel.py``, ``ledger/_cert_kernel.py``, ``ledger/_format_kernel.py``,
``p2p_env/sim/_step_kernel.py``) are compiled on their first call and cached by numba
(``cache=True``: in ``__pycache__`` beside their sources, or under ``NUMBA_CACHE_DIR``). A process
that finds them cached loads them in about a second; the first one compiles them, about 30 s on
these 2-core machines, spread over its first clearing, block and step. :func:`compile_kernels`
does that once up front (``p2p-gym compile``; the Makefile runs it when it builds the
environment) by running each path on a little work: a few slots of the demonstration community
with the continuous double auction and with the call auction (a community's slot cleared alone
too, as a batch leaves a slot it cannot clear to its market), a batch of two communities, one
clearing through the order book, and the proofs the loaders run (the hashing's threaded path
included where there are threads to use it).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from exchange import ClearingParams, Order, clear
from exchange.arrays import rows_backend
from exchange.mechanisms import cda
from ledger import hashing, slot_events
from ledger.fast import formatting_backend
from p2p_env.envs.parallel import P2PCommunityEnv
from p2p_env.sim import compiled


def backends() -> dict[str, str]:
    """Which code each compiled part runs: ``"compiled"``, ``"numba"``, ``"openssl
    (compiled; ...)"``, or the fallback with the reason (loading the kernels if not yet)."""
    return {
        "step": compiled.backend(),
        "clearing": cda.backend(),
        "order rows": rows_backend(),
        "certificates": slot_events.events_backend(),
        "settlement rows": formatting_backend(),
        "hashing": hashing.backend(),
    }


def compile_kernels() -> dict[str, str]:
    """Run every compiled path once (compiling, or loading numba's cache); :func:`backends`."""
    for mechanism in ("cda", "call"):
        overrides: dict[str, Any] = {"market.mechanism": mechanism}
        env = P2PCommunityEnv(seed=0, **overrides)
        env.reset(seed=0)
        rng = np.random.default_rng(0)
        for _ in range(3):
            env.step(
                {
                    agent: rng.uniform(-1.0, 1.0, env.action_space(agent).shape).astype(np.float32)
                    for agent in env.agents
                }
            )
        # One community's slot alone (the path of a slot that a batch's one clearing call
        # leaves to its market, and of ArrayExchange.clear): its order rows and its slot.
        assert env.last is not None
        env.sim.market.clear(env.last.slot, env.last.decoded)
        env.close()
    # A batch of communities: its certificate events in one call (the rest it shares with a
    # lone community).
    from p2p_env.envs.batched import BatchedCommunityVecEnv

    vec = BatchedCommunityVecEnv(n_communities=2, seed=0)
    vec.reset()
    rng = np.random.default_rng(0)
    for _ in range(2):
        vec.step(rng.uniform(-1.0, 1.0, (vec.num_envs, vec.batch.action_size)))
    vec.close()
    # The matching loop the order book runs for slots the whole-slot kernel does not clear.
    params = ClearingParams(mechanism="cda", price_min=1, price_max=100, tags=("pv",))
    clear(
        [Order.sell("s@0", "a", 5, "pv", 10), Order.buy("b@0", "b", 3, {"pv": 20})],
        params,
    )
    return backends()
