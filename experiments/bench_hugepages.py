"""Diagnostic: numpy's huge-page advice against a large community's first day, in fresh processes.

numpy advises transparent huge pages (``madvise(MADV_HUGEPAGE)``) for every array of 4 MiB or
more, and the advice stays on memory numpy has freed (:mod:`p2p_env.hugepages`). ``p2p-gym``
turns the advice off; this script shows why.

It starts fresh Python processes in pairs, one with ``NUMPY_MADVISE_HUGEPAGE=1`` (numpy's
default) and one with ``0``, alternating which goes first. Each process steps one community as
a VecEnv (``B = 1``) over its first day and then over the same day again (reseeded: the memory
its ledger used before), as the bench's ``homes_20000_vec`` figures do. It prints slots/s, the
process's user and system CPU seconds and minor page faults over the timed steps, and the
machine's transparent huge-page settings.

The processes of one run find the machine in the same state. Between runs the first day moves
with what ran just before: on a VM that hands memory freed in the guest back to its host (free
page reporting, as on this project's machines), a page fault costs more when the memory it gets
was given back, and work that ran just before, in any process, can leave little else.

    python experiments/bench_hugepages.py                        # 20,000 homes, 2 pairs: ~70 s
    python experiments/bench_hugepages.py --config homes_2000    # about 30 s
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from statistics import median
from typing import Any

from p2p_env.benchmark import DAY, vec_days
from p2p_env.hugepages import VARIABLE, numpy_hugepages

SETTINGS = Path("/sys/kernel/mm/transparent_hugepage")


def transparent_hugepage_settings() -> dict[str, str]:
    """The kernel's ``enabled`` and ``defrag`` settings, the chosen value of each (empty where
    the machine has none)."""
    out = {}
    for name in ("enabled", "defrag"):
        try:
            text = (SETTINGS / name).read_text()
        except OSError:
            out[name] = ""
            continue
        chosen = [word[1:-1] for word in text.split() if word.startswith("[")]
        out[name] = chosen[0] if chosen else text.strip()
    return out


def child(config: str, steps: int) -> dict[str, Any]:
    """In this process: ``config`` as a VecEnv of one community (seed 0), ``steps`` timed steps
    from its first day's start, then the same again (:func:`p2p_env.benchmark.vec_days`)."""
    from p2p_env.envs.batched import BatchedCommunityVecEnv

    vec = BatchedCommunityVecEnv(config, n_communities=1, seed=0)
    try:
        days = vec_days(vec, steps)
    finally:
        vec.close()
    return {"numpy_madvise_hugepage": numpy_hugepages(), "days": days}


def fresh_process(advice: bool, config: str, steps: int) -> dict[str, Any]:
    """:func:`child` in a new Python process with numpy's advice on or off."""
    environ = {**os.environ, VARIABLE: "1" if advice else "0"}
    command = [sys.executable, __file__, "--child", "--config", config, "--steps", str(steps)]
    done = subprocess.run(command, env=environ, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the {config} process failed (exit {done.returncode}):\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def run(config: str, pairs: int, steps: int) -> list[dict[str, Any]]:
    """``pairs`` pairs of fresh processes, advice on and off, the first of each pair
    alternating; one row per process (``advice`` the setting asked for,
    ``numpy_madvise_hugepage`` the one the process's numpy took)."""
    rows = []
    for pair in range(pairs):
        for advice in (True, False) if pair % 2 == 0 else (False, True):
            rows.append({"advice": advice, **fresh_process(advice, config, steps)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="homes_20000", help="community (default homes_20000)")
    parser.add_argument("--pairs", type=int, default=2, help="pairs of processes (default 2)")
    parser.add_argument("--steps", type=int, default=DAY, help="timed steps a day (default 48)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.config, args.steps)))
        return
    rows = run(args.config, args.pairs, args.steps)
    thp = transparent_hugepage_settings()
    print(
        f"{args.config} as a VecEnv, {args.steps} steps a day, fresh processes; "
        f"transparent_hugepage enabled={thp['enabled'] or '?'} defrag={thp['defrag'] or '?'}"
    )
    print(f"{'advice':<7} {'day':>3} {'slots/s':>8} {'user s':>7} {'system s':>9} {'faults':>9}")
    for row in rows:
        for day, figures in enumerate(row["days"]):
            print(
                f"{'on' if row['advice'] else 'off':<7} {day + 1:>3} "
                f"{figures['slots_per_s']:>8.2f} {figures['user_s']:>7.2f} "
                f"{figures['system_s']:>9.2f} {figures['minor_faults']:>9,.0f}"
            )
    for advice in (True, False):
        firsts = [r["days"][0]["slots_per_s"] for r in rows if r["advice"] is advice]
        print(f"median first day, advice {'on' if advice else 'off'}: {median(firsts):.2f} slots/s")


if __name__ == "__main__":
    main()
