"""Benchmark: agent-steps per second of the PettingZoo environment, against a null ceiling.

Measures, in one run: a null ``ParallelEnv`` with the same agents and spaces that does nothing
but build its return dicts (the ceiling any ParallelEnv can reach in Python), the demonstration
community (30 agents), 64 demonstration communities through the batched VecEnv (on one CPU, and
with their blocks hashed on a second) and the generated communities of 200, 2,000 and 20,000
homes (whole days: a step's cost follows the time of day), the demonstration and the largest
community with brief infos and the largest as a VecEnv.
Actions are drawn before timing; ledgers are in memory. Reported as agent-steps per second and
as the ratio to the null rate measured in the same run, so the figures survive a noisy machine.
The measurements are those of ``p2p-gym bench`` (:mod:`p2p_env.benchmark`), which also times
clearing and verification.

    python experiments/bench_env.py            # every community, about a minute (data cached)
    python experiments/bench_env.py --quick    # shorter runs, under a minute
"""

from __future__ import annotations

import argparse

from p2p_env.benchmark import run_bench


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs, under a minute")
    args = parser.parse_args()
    figures = run_bench(args.quick, lambda message: print(f"bench: {message}", flush=True))
    null = figures["null_agent_steps_per_s"]
    rows = [
        ("null ParallelEnv", 30, null),
        ("demonstration", 30, figures["demo_agent_steps_per_s"]),
        ("demonstration, brief infos", 30, figures["demo_brief_infos_agent_steps_per_s"]),
        ("batched, B = 64, one CPU", 64 * 30, figures["batched_agent_steps_per_s"]),
        ("  hashed on a second CPU", 64 * 30, figures["batched_two_cpus_agent_steps_per_s"]),
    ]
    rows += [
        (c["config"], c["agents"], figures[f"{c['config']}_agent_steps_per_s"])
        for c in figures["curve"][1:]
    ]
    print(f"{'case':32} {'agents':>7} {'agent-steps/s':>15} {'slots/s':>10} {'/ null':>8}")
    for name, agents, rate in rows:
        print(f"{name:32} {agents:7d} {rate:15,.0f} {rate / agents:10,.1f} {rate / null:8.2%}")
    for label, key in (("brief infos", "brief_infos"), ("as a VecEnv (B = 1)", "vec")):
        print(f"homes_20000 {label}: {figures[f'homes_20000_{key}_slots_per_s']:,.1f} slots/s")
    shares = figures["demo_phase_shares"]
    print(
        f"demonstration step: clearing {shares['market']:.0%}, "
        f"ledger block {shares['ledger']:.0%}, rest {shares['rest']:.0%}"
    )
    for what, key in (
        ("ledger hashing as appended", "hash_floor"),
        ("SHA-256 at peak", "sha256_peak_floor"),
    ):
        demo = figures[f"higashifuji_demo_{key}_slots_per_s"]
        print(
            f"{what}: at most {demo * 30:,.0f} agent-steps/s ({demo * 30 / null:.2%} of null); "
            f"homes_20000 at most {figures[f'homes_20000_{key}_slots_per_s']:,.1f} slots/s"
        )
    print(
        f"(a demo slot: {figures['demo_hashes_per_slot']:.0f} SHA-256, "
        f"{figures['demo_sha256_compressions_per_slot']:.0f} compressions; hashing backend: "
        f"{figures['hash_backend']}; SHA-256 peak {figures['sha256_peak_mb_per_s']:,.0f} MB/s)"
    )


if __name__ == "__main__":
    main()
