"""Diagnostic: how much of a slot runs in the compiled kernels, against what the targets allow.

The throughput targets of issues 6 and 9 set a time budget per community slot: 30 agents at
100,000 agent-steps/s leave 300 us for a demonstration slot, and at 1,000,000 agent-steps/s
(the batched communities) 30 us. This script measures, for the same rollouts as ``p2p-gym
bench`` (the demonstration with full infos; 64 demonstration communities through the batched
VecEnv, ``keep_records=False``), how long a community slot takes and how much of it is spent
inside the numba kernels (decoding, clearing, the order and trade rows, settlement, certificate
events, settlement rows, envelopes and hashing, observations). The rest is Python: the glue
between the kernels, the results' objects, the PettingZoo dicts and the infos.

If the kernels alone take more than the budget, no amount of work on the Python around them can
meet the target; only faster kernels (or less work in them) can.

For the demonstration the script also measures what its API asks of any ParallelEnv beyond the
kernels (:func:`api_floor`): turning the action dict into an array, and building the
observation, reward, termination, truncation and info dicts of a step, with the environment's
own functions, timed on their own. The kernels plus these are the least a slot could take with
every line of Python between today's kernels gone (one compiled call from actions to
observations and block hash; kernels fused into one call might themselves run faster). Set
beside it is the budget of issue 6's ratio target, 4 % of the null ParallelEnv's rate measured
in the same process (:func:`p2p_env.benchmark.null_env_class`).

Beside them, the SHA-256 floor of a demonstration block as ``p2p-gym bench`` computes it
(:func:`p2p_env.benchmark.ledger_hash_floor`: the block's compressions at this machine's peak), the
part of the kernels' time no implementation of this ledger format can save.

Each case is run twice in one process:

- plain, for the time per community slot;
- under :mod:`cProfile`, for the kernels' own time. cProfile records a call into a numba
  dispatcher as a call of the kernel's Python function; its own time is the compiled code's,
  with the dispatch and the unboxing of its arguments (a slight overestimate of the kernels).

    python experiments/bench_kernel_share.py            # about 20 s with compiled kernels cached
    python experiments/bench_kernel_share.py --quick    # fewer slots, rough
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import importlib.util
import pstats
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from p2p_env.benchmark import (
    batched_rate,
    batched_vec,
    ledger_hash_floor,
    null_env_class,
    parallel_rate,
    sha256_seconds_per_compression,
)
from p2p_env.envs.info import agent_infos, brief_infos
from p2p_env.envs.parallel import P2PCommunityEnv
from p2p_env.kernels import backends

KERNEL_MODULES = (
    "exchange.mechanisms._cda_kernel",
    "exchange._rows_kernel",
    "ledger._sha_kernel",
    "ledger._cert_kernel",
    "ledger._format_kernel",
    "p2p_env.sim._step_kernel",
)
"""The modules of the gym's numba kernels (as :mod:`p2p_env.kernels` lists them)."""

TARGETS = {"demonstration": 100_000.0, "batched": 1_000_000.0}
"""Agent-steps per second each case's issue asks for (6; 9, for B = 64)."""

RATIO_TARGET = 0.04
"""The single community's other target (issue 6): this share of the null ParallelEnv's rate."""


def kernel_files() -> dict[str, str]:
    """Each kernel module's source file (found without importing it) -> the module's name."""
    files = {}
    for name in KERNEL_MODULES:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            raise RuntimeError(f"kernel module {name} not found")
        files[str(Path(spec.origin).resolve())] = name
    return files


def kernel_seconds(call: Callable[[], object]) -> dict[str, float]:
    """Run ``call`` under cProfile: the own seconds of each kernel called (``module.function``)."""
    profile = cProfile.Profile()
    profile.enable()
    try:
        call()
    finally:
        profile.disable()
    files = kernel_files()
    spent: dict[str, float] = {}
    stats: dict[Any, Any] = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    for (filename, _, function), (_, _, own, _, _) in stats.items():
        module = files.get(str(Path(filename).resolve())) if filename.endswith(".py") else None
        if module is not None:
            key = f"{module.rsplit('.', 1)[-1]}.{function}"
            spent[key] = spent.get(key, 0.0) + own
    return spent


def api_floor(
    env: P2PCommunityEnv, number: int = 2000, repeats: int = 7, *, full_infos: bool = True
) -> dict[str, float]:
    """Microseconds per slot of each part of ``env``'s ``step`` that the PettingZoo API asks for
    beyond the kernels, timed alone (best of ``repeats`` runs of ``number`` calls) on the
    result of a step ``env`` has taken: the action dict made an array and the info dicts by
    ``env``'s own functions, the other dicts as its ``step`` writes them (the observations as
    views of one array; making that array is the observation kernel's work). The info dicts
    are full ones or, with ``full_infos=False``, brief ones
    (:func:`p2p_env.envs.info.brief_infos`). ``env`` is left as it was: nothing is drawn from
    its generators.
    """
    result = env.last
    if result is None:
        raise ValueError("api_floor needs an env that has stepped: step it once first")
    agents = env.possible_agents
    rng = np.random.default_rng(0)
    size = env.action_space(agents[0]).shape[0]
    drawn = rng.uniform(-1, 1, (len(agents), size)).astype(np.float32)
    actions = dict(zip(agents, drawn, strict=True))
    # An array of the observations' shape: building the dict does not read the values, and
    # env.observe_all() would draw forecast noise from env's generator.
    observations = np.zeros((len(agents), env.observations_builder.size), dtype=np.float32)
    parts: dict[str, Callable[[], object]] = {
        "action dict to array": lambda: env._action_array(actions),
        "observation dict": lambda: dict(zip(agents, observations, strict=True)),
        "reward dict": lambda: dict(zip(agents, result.rewards.tolist(), strict=True)),
        "termination and truncation dicts": lambda: (
            dict.fromkeys(agents, False),
            dict.fromkeys(agents, False),
        ),
        "info dicts": (
            (lambda: agent_infos(env, result, ()))
            if full_infos
            else (lambda: brief_infos(env, result, ()))
        ),
    }
    return {
        name: min(timeit.repeat(call, number=number, repeat=repeats)) / number * 1e6
        for name, call in parts.items()
    }


def null_us_per_slot(like: P2PCommunityEnv, steps: int) -> float:
    """Microseconds per slot of the null ParallelEnv with ``like``'s agents and spaces."""
    null = null_env_class()(like)
    gc.collect()
    return parallel_rate(null, steps)[1] * 1e6


def kernel_share(days: int, batched_steps: int, communities: int = 64) -> dict[str, dict[str, Any]]:
    """Per case: agents, microseconds per community slot (total, in kernels, the rest), each
    kernel's microseconds, the budget its target leaves and the SHA-256 floor of a block."""
    overrides: dict[str, Any] = {"env.episode_days": days}  # a dotted key: not an argument
    demo = P2PCommunityEnv(seed=0, **overrides)
    # The blocks hashed on the stepping thread (not in the background, as the VecEnv does by
    # default), so that cProfile sees every kernel of a slot.
    vec = batched_vec(background=False, n_communities=communities)
    parallel_rate(demo, 48)  # compiled, cached, warm
    batched_rate(vec, 4)
    demo_steps = 48 * days
    cases: dict[str, tuple[int, int, Callable[[], float]]] = {
        # name: (agents, community slots a run steps, run -> agent-steps per second); each run
        # steps one untimed slot first (parallel_rate, batched_rate) and the same slots every
        # time (each resets with seed 0).
        "demonstration": (
            len(demo.possible_agents),
            demo_steps + 1,
            lambda: parallel_rate(demo, demo_steps)[0],
        ),
        "batched": (
            vec.n_agents,
            communities * (batched_steps + 1),
            lambda: batched_rate(vec, batched_steps),
        ),
    }
    out: dict[str, dict[str, Any]] = {}
    for case, (agents, slots, run) in cases.items():
        # Each from a fresh collector, as p2p-gym bench measures: a full collection walks the
        # process's 370,000 objects in about 0.13 s, a third of a batched run of 48 steps.
        gc.collect()
        per_slot = agents / run() * 1e6
        gc.collect()
        kernels = {name: s / slots * 1e6 for name, s in kernel_seconds(run).items()}
        in_kernels = sum(kernels.values())
        out[case] = {
            "agents": agents,
            "communities": 1 if case == "demonstration" else communities,
            "us_per_slot": per_slot,
            "us_in_kernels": in_kernels,
            "us_rest": per_slot - in_kernels,
            "us_budget": agents / TARGETS[case] * 1e6,
            "target_agent_steps_per_s": TARGETS[case],
            "kernels_us": dict(sorted(kernels.items(), key=lambda kv: -kv[1])),
        }
    # The demonstration's floor: its kernels and what its API asks for, against 4 % of the null.
    f = out["demonstration"]
    number = 200 if days == 1 else 2000
    f["api_us"] = api_floor(demo, number)
    f["us_api"] = sum(f["api_us"].values())
    f["us_floor"] = f["us_in_kernels"] + f["us_api"]
    # The same with brief infos (the kernels are the same: brief infos only build less).
    f["us_api_brief"] = sum(api_floor(demo, number, full_infos=False).values())
    f["us_floor_brief"] = f["us_in_kernels"] + f["us_api_brief"]
    f["null_us_per_slot"] = null_us_per_slot(demo, 20_000 if days == 1 else 200_000)
    f["us_budget_ratio"] = f["null_us_per_slot"] / RATIO_TARGET
    f["floor_ratio_to_null"] = f["null_us_per_slot"] / f["us_floor"]
    f["floor_brief_ratio_to_null"] = f["null_us_per_slot"] / f["us_floor_brief"]
    per_block = ledger_hash_floor(demo.sim.recorder.ledger)["sha_blocks"]  # type: ignore[union-attr]
    seconds = sha256_seconds_per_compression()
    for f in out.values():
        f["sha256_compressions_per_block"] = per_block
        f["sha256_floor_us"] = per_block * seconds * 1e6
    vec.close()
    demo.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one day, 12 batched steps")
    args = parser.parse_args()
    for part, backend in backends().items():
        if not backend.startswith(("compiled", "numba", "openssl")):
            print(f"note: {part} runs {backend}: the kernels' share below is not theirs")
    figures = kernel_share(1 if args.quick else 7, 12 if args.quick else 48)
    print(
        f"{'us per community slot':24}{'total':>9}{'kernels':>9}{'rest':>9}{'SHA-256':>9}"
        f"{'budget':>9}  (target)"
    )
    for case, f in figures.items():
        label = case if case == "demonstration" else f"{case}, B = {f['communities']}"
        print(
            f"{label:24}{f['us_per_slot']:9.1f}{f['us_in_kernels']:9.1f}{f['us_rest']:9.1f}"
            f"{f['sha256_floor_us']:9.1f}{f['us_budget']:9.1f}"
            f"  ({f['target_agent_steps_per_s']:,.0f} agent-steps/s)"
        )
    f = next(iter(figures.values()))
    print(
        f"SHA-256: {f['sha256_compressions_per_block']:.0f} compressions per demonstration "
        "block at this machine's peak (a floor for the ledger, inside the kernels' time)"
    )
    f = figures["demonstration"]
    print(
        f"\ndemonstration with no Python between the kernels: at least {f['us_floor']:.1f} us a "
        f"slot (kernels {f['us_in_kernels']:.1f} + the API's dicts {f['us_api']:.1f}), "
        f"{100 * f['floor_ratio_to_null']:.2f} % of the null rate; "
        f"{100 * RATIO_TARGET:.0f} % of the null leaves {f['us_budget_ratio']:.1f} us "
        f"(null {f['null_us_per_slot']:.2f} us a slot)"
    )
    for name, us in f["api_us"].items():
        print(f"  {name:40}{us:8.1f}")
    print(
        f"  with brief infos: the API's dicts {f['us_api_brief']:.1f} us, at least "
        f"{f['us_floor_brief']:.1f} us a slot, {100 * f['floor_brief_ratio_to_null']:.2f} % "
        "of the null rate"
    )
    for case, f in figures.items():
        print(f"\n{case}, kernels (us per community slot):")
        for name, us in f["kernels_us"].items():
            print(f"  {name:40}{us:8.1f}")


if __name__ == "__main__":
    main()
