"""Diagnostic: what Python's cyclic garbage collector costs a long batched run, and
``gc.freeze()``.

``p2p-gym bench`` starts every measurement from a fresh collector (``gc.collect()``), so that a
full collection does not land in one round and not in another by chance. A long run has no such
luck: CPython's full (generation 2) collection walks every tracked object of the process, some
370,000 once torch, numba and stable-baselines3 are imported, and it runs whenever the objects
that survived the younger collections since the last one reach a quarter of those. The batched
VecEnv keeps about 1,600 tracked objects alive from one step to the next (each community's
``SlotResult`` and what it holds, the blocks waiting for their hashes), and its step allocates
about 2,600 (1,920 of them the ``infos`` dicts SB3 asks for), so a full collection comes every
150 steps or so.

This script steps 64 demonstration communities through the batched VecEnv (its default: blocks
hashed on a second CPU) without collecting between rounds, alternating two ways:

- ``as is``: the collector as the process has it;
- ``frozen``: ``gc.freeze()`` before the round (every object the process holds then, the
  libraries' included, moved where no collection walks it), ``gc.unfreeze()`` after.

Each round reports agent-steps per second, the collections of each generation and the share of
the round they took (timed with ``gc.callbacks``).

    python experiments/bench_gc.py             # about 25 s with compiled kernels cached
    python experiments/bench_gc.py --quick     # a few steps, rough
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from p2p_env.benchmark import batched_rate, batched_vec

WAYS = ("as is", "frozen")


class CollectorClock:
    """Counts and times the collections of each generation while it is entered (through
    ``gc.callbacks``, removed on the way out)."""

    def __init__(self) -> None:
        self.counts = [0, 0, 0]
        self.seconds = [0.0, 0.0, 0.0]
        self._started = 0.0

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            generation = info["generation"]
            self.counts[generation] += 1
            self.seconds[generation] += time.perf_counter() - self._started

    def __enter__(self) -> CollectorClock:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._callback)


@contextmanager
def collector(way: str) -> Iterator[None]:
    """The collector of ``way`` (:data:`WAYS`) for the duration, as it was after."""
    if way not in WAYS:
        raise ValueError(f"way must be one of {WAYS}, got {way!r}")
    if way == "frozen":
        gc.freeze()
    try:
        yield
    finally:
        if way == "frozen":
            gc.unfreeze()


def measure(vec: Any, way: str, steps: int) -> dict[str, Any]:
    """One round of ``steps`` batched steps with the collector of ``way``."""
    tracked = len(gc.get_objects())  # what a full collection walks, frozen ones included
    with collector(way), CollectorClock() as clock:
        started = time.perf_counter()
        rate = batched_rate(vec, steps)
        elapsed = time.perf_counter() - started
    return {
        "way": way,
        "tracked_objects": tracked,
        "agent_steps_per_s": rate,
        "collections": clock.counts,
        "collector_share": [s / elapsed for s in clock.seconds],
    }


def run(communities: int, steps: int, rounds: int) -> list[dict[str, Any]]:
    """``rounds`` alternating rounds of each way, after an untimed warm-up round."""
    vec = batched_vec(background=True, n_communities=communities)
    try:
        batched_rate(vec, min(steps, 48))  # untimed: kernels loaded, buffers grown
        return [measure(vec, way, steps) for _ in range(rounds) for way in WAYS]
    finally:
        vec.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few steps (rough)")
    parser.add_argument("--communities", type=int, default=64, help="B (default 64)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each way (default 3)")
    args = parser.parse_args()
    steps = 20 if args.quick else 480
    rows = run(args.communities, steps, args.rounds)
    print(
        f"B = {args.communities}, {steps} steps a round, "
        f"{rows[0]['tracked_objects']:,} tracked objects at the first round"
    )
    print(f"{'way':<8} {'agent-steps/s':>14} {'collections (gen 0/1/2)':>24} {'share 0/1/2':>20}")
    for row in rows:
        counts = "/".join(str(c) for c in row["collections"])
        shares = "/".join(f"{s:.1%}" for s in row["collector_share"])
        print(f"{row['way']:<8} {row['agent_steps_per_s']:>14,.0f} {counts:>24} {shares:>20}")


if __name__ == "__main__":
    main()
