"""``p2p-gym simulate``: run a community with one policy and print a short summary."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import typer
from rich.table import Table

from p2p_env.cli._common import (
    EXIT_FAILURE,
    SET_OPTION_HELP,
    console,
    err_console,
    fail,
    load_config_or_exit,
)
from p2p_env.config import DEFAULT_CONFIG


def simulate(
    config: str = typer.Option(DEFAULT_CONFIG, "--config", "-c", help="Config name or path."),
    policy: str = typer.Option(
        "random", "--policy", "-p", help="Policy name: random, idle, rule..."
    ),
    days: int = typer.Option(1, "--days", "-d", min=1, max=366, help="Days to simulate."),
    period: str = typer.Option("test", "--period", help="train, validation, test or span."),
    start: str | None = typer.Option(None, "--start", help="First day (ISO date) in the period."),
    seed: int = typer.Option(0, "--seed", min=0, help="Episode seed."),
    ledger: Path | None = typer.Option(None, "--ledger", help="Write the SQLite ledger here."),
    json_out: Path | None = typer.Option(None, "--json", help="Write the summary as JSON here."),
    set_: list[str] = typer.Option([], "--set", help=SET_OPTION_HELP),
) -> None:
    """Run the community for N days with one policy for every agent; print bills and flows."""
    from p2p_env.envs.parallel import PERIODS, P2PCommunityEnv
    from p2p_env.policy import make_policy
    from p2p_env.rollout import community_figures, run_episode
    from p2p_env.sim.exchange_market import replay

    resolved = load_config_or_exit(config, set_)
    if period not in PERIODS:
        fail(f"--period must be one of {', '.join(PERIODS)}, got {period!r}")
    if ledger is not None and ledger.exists():
        fail(f"--ledger {ledger} exists: choose a new path")
    try:
        chosen = make_policy(policy)
    except ValueError as exc:
        fail(f"--policy: {exc}")
    env = P2PCommunityEnv(resolved, period=period, ledger_path=ledger)
    options: dict[str, object] = {"days": days}
    if start is not None:
        options["start"] = start
    try:
        episode = run_episode(env, chosen, seed=seed, options=options)
    except ValueError as exc:
        env.close()
        fail(str(exc))
    recorder = env.sim.recorder
    report = recorder.ledger.verify(replay=replay)  # type: ignore[union-attr]
    env.close()

    figures = community_figures(episode)
    bills = episode.bill_sen() / 100
    summary = {
        "config": resolved.name,
        "policy": policy,
        "seed": seed,
        "first_slot": episode.slot_start[0],
        "slots": episode.n_slots,
        "community": figures,
        "bills_jpy": dict(zip(episode.agents, bills.tolist(), strict=True)),
        "ledger": {"verified": report.ok, "head": episode.head_hash, "blocks": report.blocks},
    }
    table = Table(
        title=f"{resolved.name}: {policy} policy, {episode.n_slots} slots "
        f"from {episode.slot_start[0]}"
    )
    table.add_column("figure")
    table.add_column("value", justify="right")
    for name, value in figures.items():
        table.add_row(name, "-" if np.isnan(value) else f"{value:,.3f}")
    for kind, label in ((0, "homes"), (1, "PHVs"), (2, "office")):
        mask = episode.kind == kind
        if mask.any():
            table.add_row(f"bill, {label} (JPY)", f"{bills[mask].sum():,.2f}")
    verdict = "yes" if report.ok else f"NO: {report.failure}"
    table.add_row("ledger verified (with replay)", f"{verdict} (head {episode.head_hash[:16]}...)")
    console.print(table)
    if json_out is not None:
        json_out.write_text(json.dumps(summary, indent=2, allow_nan=True) + "\n", encoding="utf-8")
        err_console.print(f"wrote {json_out}")
    if not report.ok:
        raise typer.Exit(EXIT_FAILURE)
