"""Diagnostic: what the ledger costs a rollout, and what fresh memory costs on this machine.

Not a mode of the gym (every slot of a rollout appends its block): the same rollouts as
``p2p-gym bench`` measured three ways in one process, alternating, so that the figures compare:

- ``as is``: the ledger in memory, as the bench runs it;
- ``no hashing``: the block's envelopes, leaf hashes and Merkle root skipped (the chain appends a
  block with an empty record list and a zero root; the certificates, settlement records and the
  header are still made);
- ``no ledger``: no ledger stage at all (no certificates, no records, no block).

for the demonstration (full and brief infos) and 64 demonstration communities through the
batched VecEnv. Each is reported as agent-steps per second and as the ratio to the null
ParallelEnv measured just before.

``--memory`` adds two figures about the machine, not the gym: the time to touch memory the
process never used against memory it freed and takes again, with numpy's huge-page advice off
and on (where huge pages come from memory the host took back, as on this project's VMs, the
first is far dearer with the advice: :mod:`p2p_env.hugepages`), and a day of 20,000 homes as a
VecEnv with the records kept and with ``keep_records=False``, with the system time of each
(about 30 s more; numpy's advice as the process has it, on unless ``NUMPY_MADVISE_HUGEPAGE=0``).

    python experiments/bench_ledger_cost.py             # about 15 s with compiled kernels cached
    python experiments/bench_ledger_cost.py --quick     # fewer slots, rough
    python experiments/bench_ledger_cost.py --memory
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

import ledger.chain
import ledger.hashing
from p2p_env.benchmark import batched_rate, batched_vec, null_env_class, parallel_rate
from p2p_env.envs.batched import BatchedCommunityVecEnv
from p2p_env.envs.parallel import P2PCommunityEnv
from p2p_env.hugepages import numpy_hugepages, set_numpy_hugepages

MODES = ("as is", "no hashing", "no ledger")


_ENCODERS = ("encode_block", "encode_blocks", "encode_blocks_in_background")
"""The functions through which ``ledger.chain`` writes and hashes a block's records."""


def _no_hashing(name: str) -> Any:
    """``name`` of :data:`_ENCODERS` without the records: no record, no leaf, a zero root."""
    empty: tuple[list[bytes], bytes, bytes] = ([], b"", bytes(32))
    if name == "encode_block":
        return lambda height, groups: empty
    if name == "encode_blocks":
        return lambda heights, blocks: [empty for _ in blocks]
    return lambda heights, blocks: ledger.hashing.BlocksJob([empty for _ in blocks])


@contextmanager
def ledger_mode(mode: str, envs: list[P2PCommunityEnv]) -> Iterator[None]:
    """Run ``envs`` with the ledger ``mode`` (one of :data:`MODES`) inside the block."""
    encoders = {name: getattr(ledger.chain, name) for name in _ENCODERS}
    recorders = [env.sim.recorder for env in envs]
    if mode == "no hashing":  # the single community's path, and the batches' (at once or not)
        for name in _ENCODERS:
            setattr(ledger.chain, name, _no_hashing(name))
    elif mode == "no ledger":
        for env in envs:
            env.sim.recorder = None
    try:
        yield
    finally:
        for name, encoder in encoders.items():
            setattr(ledger.chain, name, encoder)
        for env, recorder in zip(envs, recorders, strict=True):
            env.sim.recorder = recorder


def ledger_costs(rounds: int, days: int) -> dict[str, dict[str, float]]:
    """Median agent-steps per second of each case in each mode (see the module docstring)."""
    overrides: dict[str, Any] = {"env.episode_days": days}  # a dotted key: not an argument
    demo = P2PCommunityEnv(seed=0, **overrides)
    null = null_env_class()(demo)
    vec = batched_vec(background=True)  # the VecEnv's default: blocks hashed on a second CPU
    parallel_rate(demo, 48)  # compiled, cached, warm
    batched_rate(vec, 4)

    def batched() -> float:
        vec.seed(0)  # the same days in every mode (the ParallelEnv's rate resets with seed 0)
        return batched_rate(vec, 48)

    cases: dict[str, Callable[[], float]] = {
        "demonstration": lambda: parallel_rate(demo, 48 * days)[0],
        "demonstration, brief infos": lambda: parallel_rate(demo, 48 * days)[0],
        "batched, B = 64": batched,
    }
    seen: dict[str, dict[str, list[float]]] = {m: {c: [] for c in cases} for m in MODES}
    nulls: list[float] = []
    for _ in range(rounds):
        for mode in MODES:
            nulls.append(parallel_rate(null, 13_000)[0])
            with ledger_mode(mode, [demo, *vec.envs]):
                for case, rate in cases.items():
                    demo.full_infos = case == "demonstration"
                    # Each from a fresh collector: a full collection of the process's some
                    # 350,000 tracked objects costs about 0.2 s, a quarter of a batched run.
                    gc.collect()
                    seen[mode][case].append(rate())
    demo.full_infos = True
    vec.close()
    demo.close()
    out = {m: {c: float(np.median(v)) for c, v in by.items()} for m, by in seen.items()}
    out["null"] = {"null ParallelEnv": float(np.median(nulls))}
    return out


def touch_cost(mb: int = 256, advice: bool = False) -> tuple[float, float]:
    """Seconds per MB to write memory the process never used, and memory it freed just before,
    allocated with numpy's huge-page advice on or off (:mod:`p2p_env.hugepages`; the process's
    setting is restored afterwards)."""
    n = mb << 20
    before = set_numpy_hugepages(advice)
    try:
        t = time.perf_counter()
        first = np.empty(n, np.uint8)
        first.fill(1)
        fresh = time.perf_counter() - t
        del first
        t = time.perf_counter()
        again = np.empty(n, np.uint8)
        again.fill(1)
        reused = time.perf_counter() - t
        del again
    finally:
        if before is not None:
            set_numpy_hugepages(before)
    return fresh / mb, reused / mb


def homes_20000_memory() -> dict[str, tuple[float, float]]:
    """A day of 20,000 homes as a VecEnv, records kept or not: (wall, system) seconds a slot."""
    out = {}
    for keep in (True, False):
        vec = BatchedCommunityVecEnv("homes_20000", n_communities=1, seed=0, keep_records=keep)
        batched_rate(vec, 2)  # untimed: kernels loaded
        usage: dict[str, float] = {}
        rate = batched_rate(vec, 46, usage=usage)  # from the day's start again, 46 slots timed
        system = usage["system_s"] / 46
        out["records kept" if keep else "keep_records=False"] = (vec.num_envs / rate, system)
        vec.close()
        del vec
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one round of one day, rough")
    parser.add_argument("--memory", action="store_true", help="also the fresh-memory figures")
    args = parser.parse_args()
    figures: dict[str, Any] = ledger_costs(1 if args.quick else 3, 1 if args.quick else 7)
    null = figures["null"]["null ParallelEnv"]
    print(f"null ParallelEnv: {null:,.0f} agent-steps/s")
    print(f"{'case':28}" + "".join(f"{mode:>22}" for mode in MODES))
    for case in figures["as is"]:
        cells = [figures[mode][case] for mode in MODES]
        print(f"{case:28}" + "".join(f"{r:>13,.0f} ({r / null:5.2%})" for r in cells))
    if args.memory:
        for advice in (False, True):
            fresh, reused = touch_cost(advice=advice)
            print(
                f"touching memory, numpy's huge-page advice {'on' if advice else 'off'}: never "
                f"used {fresh * 1e3:.2f} ms/MB, freed and reused {reused * 1e3:.2f} ms/MB"
            )
        print(f"the VecEnv days below: numpy's huge-page advice {numpy_hugepages()}")
        for label, (wall, system) in homes_20000_memory().items():
            print(
                f"homes_20000 as a VecEnv, {label}: {wall * 1e3:.1f} ms a slot "
                f"({system * 1e3:.1f} ms of it system time)"
            )


if __name__ == "__main__":
    main()
