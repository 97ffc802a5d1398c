"""Benchmarks of the gym: the measurements behind ``p2p-gym bench`` and ``experiments/``.

Measured in one run, actions drawn before timing, ledgers in memory, on one core except the
hashing of blocks of 4,096 records or more (the 2,000- and 20,000-home communities), which
:mod:`ledger.hashing` spreads over the CPUs the process may use (``P2P_GYM_HASH_THREADS=1``
keeps it on one), and the batched VecEnvs' background hashing (the second batched figure and
the 20,000-home VecEnv), which hashes each slot's blocks on a second CPU:

* ``null``: a PettingZoo ``ParallelEnv`` with the demonstration's agents and spaces whose step
  only builds its return dicts (the ceiling any ParallelEnv reaches in Python);
* the demonstration community (30 agents) through the ParallelEnv;
* ``B = 64`` demonstration communities through the batched VecEnv
  (:mod:`p2p_env.envs.batched`): on one CPU (``batched_*``, every block hashed within the
  step: the issue's "one core") and with the blocks hashed on a second CPU while the next slot
  runs (``batched_two_cpus_*``, the VecEnv's default);
* generated communities of 200, 2,000 and 20,000 homes (``configs/homes_*.yaml``) through the
  ParallelEnv: agent-steps/s and slots/s, and the time per step against the number of agents
  (a log-log PNG with an ``n log n`` reference through the smallest community);
* exchange clearing: orders/s of one ``call`` auction of 100,000 orders;
* ledger verification: records/s of ``Ledger.verify`` over the demonstration run's ledger;
* where a demonstration step's time goes: the shares of clearing (``market``), the ledger block
  (``ledger``: certificates, encoding, hashing) and the rest (decoding, physics, settlement,
  observations, infos);
* the demonstration and the largest community again with brief infos (``full_infos=False``:
  no per-agent cost breakdown dicts), the largest also as a VecEnv (the batched form with
  ``B = 1``: arrays in and out, no per-agent dicts at all), over its first day and over the same
  day again (:func:`vec_days`: the first day pays for the memory its ledger touches first, which
  on a VM that hands freed memory back to its host can cost more than the stepping);
* the ledger's hashing floor: the SHA-256 work alone of a block (RFC 9162 leaves, interior
  nodes, header and parameters) timed over the run's own records as an append hashes them
  (threads included), and the same work counted in SHA-256 compressions at one core's peak
  rate: the stepping rates they allow at most (a step cannot be faster than hashing its block);
* peak resident memory of the process;
* whether numpy advised huge pages for its large arrays (``numpy_madvise_hugepage``; the
  ``p2p-gym`` command turns that off, see :mod:`p2p_env.hugepages`).

Absolute figures depend on the machine and on what else runs on it; ratios to the null rate
measured in the same run are the figures to compare between machines. The full run measures the
null ceiling, the demonstration and the batched communities in alternating rounds
(:data:`ROUNDS`) and reports medians, each ratio the median of the rounds' ratios to the null
rate measured just before them (the rounds' ratios are in the JSON too).
"""

from __future__ import annotations

import gc
import hashlib
import math
import resource
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

SCALE_CONFIGS = ("homes_200", "homes_2000", "homes_20000")
DAY = 48
"""Slots in a day. A step's cost follows the time of day (around noon the PV trades, and a
block holds several times the records of a night slot), so the full run times whole days:
20 a round for the demonstration, one a round for the batched communities, one or four for the
generated ones. ``--quick`` times the first slots after a reset (night): rough figures."""


def null_env_class() -> type:
    """The null ``ParallelEnv`` class: built from a community env (``cls(env)``), it has that
    env's agents and spaces and does nothing but build its return dicts, handing back the same
    observation array of each agent at every step (the bench's ceiling)."""
    from gymnasium import spaces
    from pettingzoo import ParallelEnv

    class NullParallelEnv(ParallelEnv):  # type: ignore[misc]
        """Same agents and spaces as a community; ``step`` only returns fresh dicts."""

        metadata = {"name": "null_v0"}  # noqa: RUF012 - the class attribute PettingZoo reads

        def __init__(self, like: Any) -> None:
            self.possible_agents = list(like.possible_agents)
            self._obs = {a: like.observation_space(a).sample() for a in self.possible_agents}
            self._spaces = {a: like.observation_space(a) for a in self.possible_agents}
            self._actions = {a: like.action_space(a) for a in self.possible_agents}
            self.agents: list[str] = []

        def observation_space(self, agent: str) -> spaces.Box:
            space: spaces.Box = self._spaces[agent]
            return space

        def action_space(self, agent: str) -> spaces.Box:
            space: spaces.Box = self._actions[agent]
            return space

        def reset(self, seed: int | None = None, options: Any = None) -> tuple[dict, dict]:  # type: ignore[type-arg]
            self.agents = self.possible_agents[:]
            return dict(self._obs), {a: {} for a in self.agents}

        def step(self, actions: dict) -> tuple[dict, dict, dict, dict, dict]:  # type: ignore[type-arg]
            agents = self.agents
            return (
                {a: self._obs[a] for a in agents},
                dict.fromkeys(agents, 0.0),
                dict.fromkeys(agents, False),
                dict.fromkeys(agents, False),
                {a: {} for a in agents},
            )

    return NullParallelEnv


def parallel_rate(env: Any, steps: int, seed: int = 0) -> tuple[float, float]:
    """Step a ParallelEnv ``steps`` slots with pre-drawn actions (resetting at episode ends).

    Returns:
        Agent-steps per second and seconds per step.
    """
    rng = np.random.default_rng(seed)
    agents = env.possible_agents
    n_actions = env.action_space(agents[0]).shape[0]
    pool = [
        dict(
            zip(
                agents, rng.uniform(-1, 1, (len(agents), n_actions)).astype(np.float32), strict=True
            )
        )
        for _ in range(min(steps, 64))
    ]
    env.reset(seed=seed)
    # One step untimed: the first loads the compiled kernels (numba's import and cache).
    env.step(pool[-1])
    if not env.agents:
        env.reset()
    start = time.perf_counter()
    for i in range(steps):
        env.step(pool[i % len(pool)])
        if not env.agents:
            env.reset()
    elapsed = time.perf_counter() - start
    return steps * len(agents) / elapsed, elapsed / steps


def batched_rate(
    vec: Any, steps: int, seed: int = 0, usage: dict[str, float] | None = None
) -> float:
    """Agent-steps per second of a VecEnv over ``steps`` batched steps (pre-drawn actions).

    ``usage``, if given, receives the process's CPU seconds (``user_s``, ``system_s``, all
    threads) and minor page faults (``minor_faults``) over the timed steps.
    """
    rng = np.random.default_rng(seed)
    shape = (vec.num_envs, vec.action_space.shape[0])
    pool = [rng.uniform(-1, 1, shape).astype(np.float32) for _ in range(min(steps, 8))]
    vec.reset()
    vec.step(pool[-1])  # untimed: the first step loads the compiled kernels
    before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    for i in range(steps):
        vec.step(pool[i % len(pool)])
    rate: float = steps * vec.num_envs / (time.perf_counter() - start)
    if usage is not None:
        after = resource.getrusage(resource.RUSAGE_SELF)
        usage["user_s"] = after.ru_utime - before.ru_utime
        usage["system_s"] = after.ru_stime - before.ru_stime
        usage["minor_faults"] = after.ru_minflt - before.ru_minflt
    return rate


BATCH = 64
"""The batched communities' ``B``."""


def batched_vec(*, background: bool, n_communities: int = BATCH) -> Any:
    """The bench's batched demonstration communities (seed 0, hashes-only ledgers).

    ``background=False``: every block written and hashed within the step, on the stepping
    thread (blocks of about a hundred records stay below the threaded hashing's threshold):
    the whole step on one CPU, the issue's "on one core". ``background=True`` (the VecEnv's
    default): the blocks hashed on the ledgers' background thread, on a second CPU, while the
    next slot is computed.
    """
    from p2p_env.envs.batched import BatchedCommunityVecEnv

    return BatchedCommunityVecEnv(
        n_communities=n_communities, seed=0, keep_records=False, background_ledger=background
    )


def vec_days(vec: Any, steps: int, seed: int = 0) -> list[dict[str, float]]:
    """:func:`batched_rate` of the same slots twice: from the VecEnv's seeds as made with
    ``seed``, then reseeded with ``seed`` (:meth:`~p2p_env.envs.batched.BatchedCommunityVecEnv.
    seed`), so the second run steps the same days with the same actions, on memory the first
    run's ledgers used and freed. Each run's ``slots_per_s`` (VecEnv steps a second over the
    communities) with its CPU seconds and minor page faults (:func:`batched_rate`'s ``usage``).

    The first figure is what a run gets on its first day, when the growing ledgers touch memory
    the process never used; the second is what a long run gets on every later day. On a VM that
    hands memory freed in the guest back to its host (free page reporting, as on this project's
    machines), the first depends on what ran on the machine just before as much as on the step.

    Raises:
        RuntimeError: If the two runs did not end with the same block hashes.
    """

    def day() -> dict[str, float]:
        usage: dict[str, float] = {}
        rate = batched_rate(vec, steps, seed, usage=usage)
        return {"slots_per_s": rate / vec.num_envs, **usage}

    def hashes() -> list[str]:
        return [result.block_hash for result in vec.last.results]

    first = day()
    first_hashes = hashes()
    vec.seed(seed)
    again = day()
    if hashes() != first_hashes:
        raise RuntimeError("the second run did not step the same slots as the first")
    return [first, again]


def phase_shares(env: Any, steps: int, seed: int = 0) -> dict[str, float]:
    """Shares of a ParallelEnv step spent clearing (``market``), writing the ledger block
    (``ledger``) and in the rest of the step, over ``steps`` steps with pre-drawn actions."""
    from p2p_env.sim import simulator

    sim = env.sim
    spent = {"market": 0.0, "ledger": 0.0}
    clear, record = simulator.clear_communities, sim.recorder.record

    def timed(name: str, call: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any) -> Any:
            start = time.perf_counter()
            try:
                return call(*args)
            finally:
                spent[name] += time.perf_counter() - start

        return wrapper

    simulator.clear_communities = timed("market", clear)
    sim.recorder.record = timed("ledger", record)
    try:
        _, seconds_per_step = parallel_rate(env, steps, seed)
    finally:
        simulator.clear_communities = clear
        del sim.recorder.record  # back to the method
    total = seconds_per_step * steps
    shares = {name: value / total for name, value in spent.items()}
    shares["rest"] = 1.0 - shares["market"] - shares["ledger"]
    return shares


def ledger_hash_floor(ledger: Any, blocks: int = 500) -> dict[str, float]:
    """The SHA-256 work of the last ``blocks`` blocks of ``ledger`` (which keeps its records),
    done again as an append does it: every record's leaf and the Merkle tree's interior nodes
    (:func:`ledger.hashing.leaves_and_root`, on the backend in use), the header and the
    parameters.

    Returns:
        Per block (means): ``hashes``, ``seconds`` (that hashing, timed), and ``sha_blocks``: the
        64-byte SHA-256 compressions it needs (padding included), which any implementation of
        this ledger must compute; :func:`sha256_seconds_per_compression` turns them into time.
    """
    from ledger.hashing import leaves_and_root

    store = ledger.store
    heights = range(max(len(store) - blocks, 0), len(store))
    records = [store.records(h) for h in heights]
    if not records or records[0] is None:
        raise ValueError("ledger_hash_floor needs a ledger that keeps its records")
    header = store.header(len(store) - 1)
    sha = hashlib.sha256
    start = time.perf_counter()
    for data in records:
        leaves_and_root(data)
        sha(header).digest()
        sha(header).digest()  # the parameters' hash: a body of about a header's size
    seconds = (time.perf_counter() - start) / len(records)

    def compressions(size: int) -> int:
        return (size + 9 + 63) // 64  # the 0x80 byte and the 8-byte length pad the message

    hashes = sha_blocks = 0
    for data in records:
        hashes += 2 * len(data) - 1 + 2
        sha_blocks += sum(compressions(1 + len(d)) for d in data)  # leaves: 0x00 || record
        sha_blocks += compressions(65) * (len(data) - 1) + 2 * compressions(len(header))
    return {
        "hashes": hashes / len(records),
        "seconds": seconds,
        "sha_blocks": sha_blocks / len(records),
    }


def sha256_seconds_per_compression(size: int = 8 << 20, repeats: int = 5) -> float:
    """Seconds per 64-byte SHA-256 compression at this machine's peak: one ``hashlib`` call
    over ``size`` bytes (OpenSSL, with the CPU's SHA extensions where it has them), best of
    ``repeats``. The cheapest any code on this core can hash."""
    data = bytes(size)
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        hashlib.sha256(data).digest()
        best = min(best, time.perf_counter() - start)
    return best / (size / 64)


def clearing_rate(n_orders: int, seed: int = 0) -> float:
    """Orders per second of one ``call`` clearing of ``n_orders`` random orders."""
    from exchange import ClearingParams, Order, clear

    rng = np.random.default_rng(seed)
    tags = ("pv", "battery", "phv")
    sell = (rng.random(n_orders) < 0.5).tolist()
    qty = rng.integers(100, 5000, n_orders).tolist()
    tag = rng.choice(3, n_orders, p=[0.6, 0.25, 0.15]).tolist()
    price = rng.integers(1500, 3000, n_orders).tolist()
    orders = [
        Order.sell(f"o{i}", f"a{i % 997}", qty[i], tags[tag[i]], price[i])
        if sell[i]
        else Order.buy(f"o{i}", f"a{i % 997}", qty[i], dict.fromkeys(tags[: 1 + i % 3], price[i]))
        for i in range(n_orders)
    ]
    params = ClearingParams(mechanism="call", seed=seed)
    start = time.perf_counter()
    clear(orders, params)
    return n_orders / (time.perf_counter() - start)


def peak_rss_mib() -> float:
    """Peak resident memory of this process, MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # ru_maxrss is in kilobytes on Linux, bytes on macOS.
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


ROUNDS = 3
"""The full bench measures the null ceiling and the demonstration (and the batched communities)
in this many alternating rounds, and reports medians: a machine that slows down for a while
shifts both sides of a round's ratio alike."""


def interleaved(
    null_rate: Callable[[], float], rate: Callable[[], float], rounds: int
) -> tuple[list[float], list[float], list[float]]:
    """``rounds`` alternating measurements, null first: each round's rate, its ratio to the null
    rate measured just before it, and that null rate.

    Each measurement starts from a fresh cyclic garbage collector (``gc.collect()``): a full
    collection walks every tracked object of the process (some 350,000 here, most of them from
    the imported libraries) and takes about 0.2 s, which would land in a round or not by
    chance (a batched round of 48 steps measured 121,000 or 285,000 agent-steps/s by it)."""
    rates, ratios, ceilings = [], [], []
    for _ in range(rounds):
        gc.collect()
        ceiling = null_rate()
        gc.collect()
        measured = rate()
        rates.append(measured)
        ratios.append(measured / ceiling)
        ceilings.append(ceiling)
    return rates, ratios, ceilings


def _median(values: list[float]) -> float:
    return float(np.median(values))


def run_bench(quick: bool, log: Callable[[str], None]) -> dict[str, Any]:
    """Run every measurement (see the module docstring) and return the figures."""
    import p2p_env
    from p2p_env.envs.batched import BatchedCommunityVecEnv
    from p2p_env.hugepages import numpy_hugepages

    # The process's numpy huge-page advice (p2p-gym turns it off): it moves the largest
    # community's first day (p2p_env.hugepages), so the figures say which it was.
    out: dict[str, Any] = {"quick": quick, "numpy_madvise_hugepage": numpy_hugepages()}
    rounds = 1 if quick else ROUNDS
    log("demonstration community")
    demo = p2p_env.parallel_env(seed=0, **{"env.episode_days": 7})
    null = null_env_class()(demo)
    null_steps = (5_000 if quick else 40_000) // rounds

    def null_rate() -> float:
        return parallel_rate(null, null_steps)[0]

    def demo_rate() -> float:
        return parallel_rate(demo, 300 if quick else 20 * DAY)[0]

    demo_rates, demo_ratios, ceilings = interleaved(null_rate, demo_rate, rounds)
    out["demo_agent_steps_per_s"] = _median(demo_rates)
    out["demo_ratio_to_null"] = _median(demo_ratios)
    out["demo_ratio_to_null_rounds"] = demo_ratios
    n_demo = len(demo.possible_agents)
    demo_step_s = n_demo / out["demo_agent_steps_per_s"]
    curve: list[tuple[str, int, float]] = [("higashifuji_demo", n_demo, demo_step_s)]

    log("ledger verification")
    ledger = demo.sim.recorder.ledger  # type: ignore[union-attr]
    report = ledger.verify()
    if not report.ok:
        raise RuntimeError(f"the benchmark's ledger does not verify: {report.summary()}")
    out["ledger_verify_records_per_s"] = report.records / report.seconds
    from p2p_env.kernels import backends

    compression_s = sha256_seconds_per_compression()
    # Which code the figures ran: each kernel's or its reference's (with the reason).
    ran = backends()
    out["hash_backend"] = ran["hashing"]
    out["step_backend"] = ran["step"]
    out["clearing_backend"] = ran["clearing"]
    out["certificates_backend"] = ran["certificates"]
    out["sha256_peak_mb_per_s"] = 64 / compression_s / 1e6
    floor = ledger_hash_floor(ledger)
    out["demo_hashes_per_slot"] = floor["hashes"]
    out["demo_sha256_compressions_per_slot"] = floor["sha_blocks"]
    out["demo_hash_floor_agent_steps_per_s"] = n_demo / floor["seconds"]
    out["higashifuji_demo_hash_floor_slots_per_s"] = 1 / floor["seconds"]
    peak_s = floor["sha_blocks"] * compression_s
    out["higashifuji_demo_sha256_peak_floor_slots_per_s"] = 1 / peak_s
    out["demo_sha256_peak_floor_agent_steps_per_s"] = n_demo / peak_s
    log("where a demonstration step's time goes")
    out["demo_phase_shares"] = phase_shares(demo, 300 if quick else 2_000)
    log("demonstration community with brief infos")
    demo.full_infos = False  # no cost-breakdown dict of 24 keys per agent and step
    brief_rates, brief_ratios, _ = interleaved(null_rate, demo_rate, rounds)
    out["demo_brief_infos_agent_steps_per_s"] = _median(brief_rates)
    out["demo_brief_infos_ratio_to_null"] = _median(brief_ratios)
    demo.close()

    out["batched_communities"] = BATCH
    for key, background, cpus in (
        ("batched", False, "1 CPU"),
        ("batched_two_cpus", True, "2 CPUs"),
    ):
        log(f"batched communities (B = {BATCH}, {cpus})")
        vec = batched_vec(background=background)
        batched_rates, batched_ratios, batched_ceilings = interleaved(
            null_rate, partial(batched_rate, vec, 4 if quick else DAY), rounds
        )
        vec.close()
        # Freed before the next case, as each generated community below is: alive, the 64
        # communities slowed the 20,000-home VecEnv's first day by a fifth to a quarter (the
        # same page faults, two to three times the system time; performance log, 11th session).
        del vec
        gc.collect()
        out[f"{key}_agent_steps_per_s"] = _median(batched_rates)
        out[f"{key}_ratio_to_null"] = _median(batched_ratios)
        out[f"{key}_ratio_to_null_rounds"] = batched_ratios
        ceilings += batched_ceilings
    out["null_agent_steps_per_s"] = _median(ceilings)

    # Whole days in the full run (quick: the first slots of a day, at night, when few trade).
    steps = {"homes_200": (20, 4 * DAY), "homes_2000": (4, DAY), "homes_20000": (2, DAY)}
    for name in SCALE_CONFIGS:
        log(f"{name}: building (data are generated once and cached)")
        env = p2p_env.parallel_env(config=name, seed=0)
        log(f"{name}: stepping")
        rate, step_s = parallel_rate(env, steps[name][0 if quick else 1])
        n = len(env.possible_agents)
        out[f"{name}_agent_steps_per_s"] = rate
        out[f"{name}_slots_per_s"] = 1 / step_s
        floor = ledger_hash_floor(env.sim.recorder.ledger)  # type: ignore[union-attr]
        out[f"{name}_hash_floor_slots_per_s"] = 1 / floor["seconds"]
        out[f"{name}_sha256_peak_floor_slots_per_s"] = 1 / (floor["sha_blocks"] * compression_s)
        if name == SCALE_CONFIGS[-1]:
            # The same community without 29,000 info dicts of 24 keys (full_infos=False).
            env.full_infos = False
            _, brief_step_s = parallel_rate(env, steps[name][0 if quick else 1])
            out[f"{name}_brief_infos_slots_per_s"] = 1 / brief_step_s
        curve.append((name, n, step_s))
        env.close()
        del env
        gc.collect()  # the next, larger community should not share the peak with this one
        if name == SCALE_CONFIGS[-1]:
            # The same community through the batched VecEnv (B = 1): actions, observations
            # and rewards as arrays, empty infos; the same step, clearing and ledger.
            log(f"{name}: stepping as a VecEnv")
            one = BatchedCommunityVecEnv(name, n_communities=1, seed=0)
            # With each day's system time and page faults: on a VM, what the memory a first
            # day's ledger takes costs moves with the host (vec_days), and these say how much.
            days = vec_days(one, 3 if quick else DAY)
            for key, day in zip(("vec", "vec_again"), days, strict=True):
                out[f"{name}_{key}_slots_per_s"] = day["slots_per_s"]
                out[f"{name}_{key}_system_s"] = day["system_s"]
                out[f"{name}_{key}_minor_faults"] = day["minor_faults"]
            one.close()
            del one
            gc.collect()

    log("exchange clearing (call, 100,000 orders)")
    out["call_orders_per_s_100k"] = clearing_rate(100_000)

    out["curve"] = [{"config": c, "agents": n, "seconds_per_step": s} for c, n, s in curve]
    agents = np.log([n for _, n, _ in curve])
    seconds = np.log([s for _, _, s in curve])
    out["time_per_step_exponent"] = float(np.polyfit(agents, seconds, 1)[0])
    out["peak_rss_mib"] = peak_rss_mib()
    return out


def write_plot(figures: dict[str, Any], path: Path) -> None:
    """Time per step against agents, log-log, with an ``n log n`` reference."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curve = figures["curve"]
    n = np.asarray([c["agents"] for c in curve], dtype=float)
    t = np.asarray([c["seconds_per_step"] for c in curve]) * 1000
    ref = t[0] * (n * np.log(n)) / (n[0] * math.log(n[0]))
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    ax.loglog(n, t, "o-", label="measured (ParallelEnv step)")
    ax.loglog(n, ref, "--", color="grey", label="n log n through the smallest")
    for key, style, color, label in (
        (
            "hash_floor",
            "s:",
            "tab:orange",
            "ledger hashing alone, as appended (threads: large blocks)",
        ),
        ("sha256_peak_floor", "^:", "tab:green", "the same SHA-256 work at one core's peak"),
    ):
        floor = [figures.get(f"{c['config']}_{key}_slots_per_s") for c in curve]
        if all(f is not None for f in floor):
            ax.loglog(n, 1000 / np.asarray(floor, dtype=float), style, color=color, label=label)
    largest = curve[-1]["config"]
    for key, style, color, label in (
        ("vec", "D", "tab:purple", f"{largest} as a VecEnv (B = 1)"),
        ("vec_again", "d", "tab:pink", "the same VecEnv, the same day again (memory used before)"),
    ):
        rate = figures.get(f"{largest}_{key}_slots_per_s")
        if rate is not None:
            ax.loglog([n[-1]], [1000 / rate], style, color=color, label=label)
    ax.axhline(50.0, color="tab:red", lw=0.8, ls=":", label="20 slots/s (issue 9 target)")
    for c, x, y in zip(curve, n, t, strict=True):
        ax.annotate(c["config"], (x, y), textcoords="offset points", xytext=(5, -12), fontsize=8)
    ax.set_xlabel("agents")
    ax.set_ylabel("ms per step (one slot)")
    ax.set_title(f"time per step, exponent {figures['time_per_step_exponent']:.2f}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="upper left", fontsize=7)  # the empty corner: time grows with agents
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
