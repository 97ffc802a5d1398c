"""Diagnostic: a large community's first day against what its memory costs, in fresh processes.

A first day of 20,000 homes writes about 1 GB of ledger records into memory its process has
never used, and what that costs is the machine's. Two comparisons (``--compare``):

- ``advice`` (the default): numpy's huge-page advice on and off. numpy advises transparent huge
  pages (``madvise(MADV_HUGEPAGE)``) for every array of 4 MiB or more, and the advice stays on
  memory numpy has freed (:mod:`p2p_env.hugepages`). ``p2p-gym`` turns the advice off; this
  shows why.
- ``records``: the records kept in memory (the default) against ``keep_records=False``
  (headers and hashes only), both with the advice off: the same steps, with and without the
  memory the records take.

It starts fresh Python processes in pairs, one per setting, alternating which goes first. Each
process steps one community as a VecEnv (``B = 1``) over its first day and then over the same
day again (reseeded: the memory its ledger used before), as the bench's ``homes_20000_vec``
figures do. It prints slots/s, the process's user and system CPU seconds and minor page faults
over the timed steps, and the machine's transparent huge-page settings.

The processes of one run find the machine in the same state. Between runs the first day moves
with what ran just before: on a VM that hands memory freed in the guest back to its host (free
page reporting, as on this project's machines), a page fault costs more when the memory it gets
was given back, and work that ran just before, in any process, can leave little else.

    python experiments/bench_first_day.py                        # 20,000 homes, 2 pairs: ~70 s
    python experiments/bench_first_day.py --compare records      # the same, records or not
    python experiments/bench_first_day.py --config homes_2000    # about 30 s
    python experiments/bench_first_day.py --quick                # homes_2000, 1 pair, 12 slots
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from statistics import median
from typing import Any, NamedTuple

from p2p_env.benchmark import DAY, vec_days
from p2p_env.hugepages import VARIABLE, numpy_hugepages

SETTINGS = Path("/sys/kernel/mm/transparent_hugepage")


class Setting(NamedTuple):
    """What one fresh process runs with."""

    label: str
    advice: bool
    """numpy's huge-page advice (``NUMPY_MADVISE_HUGEPAGE``)."""
    keep_records: bool
    """The ledger keeps the records in memory (else headers and hashes only)."""


COMPARISONS: dict[str, tuple[Setting, Setting]] = {
    "advice": (Setting("advice on", True, True), Setting("advice off", False, True)),
    "records": (Setting("records", False, True), Setting("hashes", False, False)),
}
"""The two settings of each comparison; the first goes first in the first pair."""


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


def child(config: str, steps: int, keep_records: bool = True) -> dict[str, Any]:
    """In this process: ``config`` as a VecEnv of one community (seed 0), ``steps`` timed steps
    from its first day's start, then the same again (:func:`p2p_env.benchmark.vec_days`).
    Reports numpy's advice and whether the ledger kept the records, as the process found them."""
    from p2p_env.envs.batched import BatchedCommunityVecEnv
    from p2p_env.sim.ledger_recorder import LedgerRecorder

    vec = BatchedCommunityVecEnv(config, n_communities=1, seed=0, keep_records=keep_records)
    try:
        days = vec_days(vec, steps)
        recorder = vec.envs[0].sim.recorder
        if not isinstance(recorder, LedgerRecorder):  # the VecEnv gives each community one
            raise TypeError(f"expected the VecEnv's LedgerRecorder, got {type(recorder).__name__}")
        kept = recorder.ledger is not None and recorder.ledger.store.keeps_records
    finally:
        vec.close()
    return {"numpy_madvise_hugepage": numpy_hugepages(), "keep_records": kept, "days": days}


def fresh_process(setting: Setting, config: str, steps: int) -> dict[str, Any]:
    """:func:`child` in a new Python process with ``setting``."""
    environ = {**os.environ, VARIABLE: "1" if setting.advice else "0"}
    command = [sys.executable, __file__, "--child", "--config", config, "--steps", str(steps)]
    if not setting.keep_records:
        command.append("--hashes-only")
    done = subprocess.run(command, env=environ, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the {config} process failed (exit {done.returncode}):\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def run(
    settings: tuple[Setting, Setting], config: str, pairs: int, steps: int
) -> list[dict[str, Any]]:
    """``pairs`` pairs of fresh processes, one per setting, the first of each pair alternating;
    one row per process (``setting`` the one asked for, ``numpy_madvise_hugepage`` and
    ``keep_records`` what the process took)."""
    rows = []
    for pair in range(pairs):
        for setting in settings if pair % 2 == 0 else settings[::-1]:
            rows.append({"setting": setting, **fresh_process(setting, config, steps)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", help="community (default homes_20000; homes_2000 --quick)")
    parser.add_argument(
        "--compare", choices=sorted(COMPARISONS), default="advice", help="default: advice"
    )
    parser.add_argument("--pairs", type=int, help="pairs of processes (default 2; --quick 1)")
    parser.add_argument("--steps", type=int, help=f"timed steps a day (default {DAY}; --quick 12)")
    parser.add_argument("--quick", action="store_true", help="rough: the defaults of --quick")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--hashes-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    quick = {"config": "homes_2000", "pairs": 1, "steps": 12}
    full = {"config": "homes_20000", "pairs": 2, "steps": DAY}
    for name, value in (quick if args.quick else full).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.child:
        print(json.dumps(child(args.config, args.steps, keep_records=not args.hashes_only)))
        return
    settings = COMPARISONS[args.compare]
    rows = run(settings, args.config, args.pairs, args.steps)
    thp = transparent_hugepage_settings()
    print(
        f"{args.config} as a VecEnv, {args.steps} steps a day, fresh processes; "
        f"transparent_hugepage enabled={thp['enabled'] or '?'} defrag={thp['defrag'] or '?'}"
    )
    print(f"{'setting':<10} {'day':>3} {'slots/s':>8} {'user s':>7} {'system s':>9} {'faults':>9}")
    for row in rows:
        for day, figures in enumerate(row["days"]):
            print(
                f"{row['setting'].label:<10} {day + 1:>3} "
                f"{figures['slots_per_s']:>8.2f} {figures['user_s']:>7.2f} "
                f"{figures['system_s']:>9.2f} {figures['minor_faults']:>9,.0f}"
            )
    for setting in settings:
        firsts = [r["days"][0]["slots_per_s"] for r in rows if r["setting"] == setting]
        print(f"median first day, {setting.label}: {median(firsts):.2f} slots/s")


if __name__ == "__main__":
    main()
