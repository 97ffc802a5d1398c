"""``p2p-gym bench``: stepping, clearing and ledger throughput, with ratios to a null ceiling.

What is measured, and how (one run, one core but for the hashing of large blocks and the
batched VecEnvs' background hashing, alternating rounds for the null ceiling and the
demonstration communities): :mod:`p2p_env.benchmark`.
Absolute figures depend on the machine and on what else runs on it; ratios to the null rate
measured in the same run are the figures to compare between machines.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from p2p_env.benchmark import run_bench, write_plot
from p2p_env.cli._common import console, err_console


def _table(figures: dict[str, Any]) -> Table:
    null = figures["null_agent_steps_per_s"]
    table = Table(
        title="p2p-gym bench (one core but where a row says otherwise, large blocks hashed on "
        "threads; ratios are to the null ParallelEnv)"
    )
    table.add_column("case")
    table.add_column("agent-steps/s", justify="right")
    table.add_column("slots/s", justify="right")
    table.add_column("/ null", justify="right")
    demo, batched = figures["demo_agent_steps_per_s"], figures["batched_agent_steps_per_s"]
    rows = [
        ("null ParallelEnv (30 agents)", null, null / 30, 1.0),
        ("demonstration (30 agents)", demo, demo / 30, figures["demo_ratio_to_null"]),
        (
            "  the same, full_infos=False",
            figures["demo_brief_infos_agent_steps_per_s"],
            figures["demo_brief_infos_agent_steps_per_s"] / 30,
            figures["demo_brief_infos_ratio_to_null"],
        ),
        (
            "batched, B = 64 (1,920 agents), one CPU",
            batched,
            batched / 1920,
            figures["batched_ratio_to_null"],
        ),
        (
            "  the same, blocks hashed on a second CPU",
            figures["batched_two_cpus_agent_steps_per_s"],
            figures["batched_two_cpus_agent_steps_per_s"] / 1920,
            figures["batched_two_cpus_ratio_to_null"],
        ),
    ]
    for c in figures["curve"][1:]:
        rate = figures[f"{c['config']}_agent_steps_per_s"]
        name = f"{c['config']} ({c['agents']:,} agents)"
        rows.append((name, rate, 1 / c["seconds_per_step"], rate / null))
    for name, rate, slots, ratio in rows:
        table.add_row(name, f"{rate:,.0f}", f"{slots:,.1f}", f"{ratio:.2%}")
    table.add_section()
    table.add_row(
        "call clearing, 10^5 orders", f"{figures['call_orders_per_s_100k']:,.0f} orders/s"
    )
    table.add_row("ledger verify", f"{figures['ledger_verify_records_per_s']:,.0f} records/s")
    shares = figures["demo_phase_shares"]
    table.add_row(
        "demo step: clearing / ledger / rest",
        " / ".join(f"{shares[k]:.0%}" for k in ("market", "ledger", "rest")),
    )
    for label, key in (
        (
            f"ledger hashing as appended ({figures['demo_hashes_per_slot']:.0f} SHA-256 a slot)",
            "hash_floor",
        ),
        (
            f"SHA-256 at its peak ({figures['demo_sha256_compressions_per_slot']:.0f} "
            f"compressions a slot, {figures['sha256_peak_mb_per_s']:,.0f} MB/s)",
            "sha256_peak_floor",
        ),
    ):
        demo = figures[f"higashifuji_demo_{key}_slots_per_s"]
        table.add_row(label, f"{demo * 30:,.0f}", f"{demo:,.1f}", f"{demo * 30 / null:.2%}")
        table.add_row(
            "  the same, homes_20000", "", f"{figures[f'homes_20000_{key}_slots_per_s']:,.1f}"
        )
    table.add_row(
        "homes_20000 with full_infos=False",
        "",
        f"{figures['homes_20000_brief_infos_slots_per_s']:,.1f}",
    )
    for key, label in (
        ("vec", "homes_20000 as a VecEnv (B = 1; blocks hashed in the background)"),
        ("vec_again", "  the same day again (memory used before)"),
    ):
        table.add_row(label, "", f"{figures[f'homes_20000_{key}_slots_per_s']:,.1f}")
        table.add_row(
            "    its system time, minor page faults",
            f"{figures[f'homes_20000_{key}_system_s']:.2f} s, "
            f"{figures[f'homes_20000_{key}_minor_faults']:,.0f}",
        )
    table.add_row("time per step ~ agents^k", f"k = {figures['time_per_step_exponent']:.2f}")
    table.add_row("peak RSS", f"{figures['peak_rss_mib']:,.0f} MiB")
    advice = {True: "on", False: "off", None: "unknown"}[figures["numpy_madvise_hugepage"]]
    table.add_row("numpy's huge-page advice", advice)
    return table


def bench(
    json_: bool = typer.Option(False, "--json", help="Print one JSON object instead of a table."),
    quick: bool = typer.Option(False, "--quick", help="Fewer steps: the whole run under a minute."),
    plot: Path = typer.Option(
        Path("reports/bench_scaling.png"),
        "--plot",
        help="Write the time-per-step curve (PNG) here.",
    ),
    no_plot: bool = typer.Option(False, "--no-plot", help="Do not write the PNG."),
) -> None:
    """Measure stepping, clearing and ledger throughput against a null ParallelEnv ceiling."""
    started = time.perf_counter()
    figures = run_bench(quick, lambda msg: err_console.print(f"[dim]bench: {msg}[/]"))
    figures["seconds"] = time.perf_counter() - started
    if not no_plot:
        write_plot(figures, plot)
        figures["plot"] = str(plot)
    if json_:
        sys.stdout.write(json.dumps(figures) + "\n")
        return
    console.print(_table(figures))
    if not no_plot:
        console.print(f"time per step against agents: {plot}")
