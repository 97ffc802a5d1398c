"""``p2p-gym evaluate`` and ``p2p-gym report``: the demonstration's result table for any policy.

The work is done by :mod:`agents.evaluation` and :mod:`agents.report`, imported inside the
commands (the CLI is the composition root; ``p2p_env`` itself never imports ``agents``).
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from p2p_env.cli._common import (
    EXIT_FAILURE,
    SET_OPTION_HELP,
    console,
    err_console,
    fail,
    load_config_or_exit,
    progress_counter,
)
from p2p_env.config import DEFAULT_CONFIG
from p2p_env.policy import Policy


def evaluate(
    config: str = typer.Option(DEFAULT_CONFIG, "--config", "-c", help="Config name or path."),
    policy: str = typer.Option(
        "rule", "--policy", "-p", help="grid_only, rule, zi, mpc, oracle, random, or a checkpoint."
    ),
    period: str = typer.Option(
        "test",
        "--period",
        help="A month (2020-08), a range (2020-08-01:2020-08-10) or train, validation, test.",
    ),
    seeds: int = typer.Option(5, "--seeds", min=1, max=100, help="Seeds 0..N-1."),
    out: Path | None = typer.Option(None, "--out", help="Write the report folder here."),
    json_out: Path | None = typer.Option(None, "--json", help="Write the summary JSON here."),
    set_: list[str] = typer.Option([], "--set", help=SET_OPTION_HELP),
) -> None:
    """Score a policy against grid_only: bill improvement per group, community figures, ledger."""
    from agents.evaluation import EvaluationError, parse_period
    from agents.evaluation import evaluate as run_evaluation
    from agents.report import community_table, result_table, write_outputs
    from p2p_env.policy import available_policies

    resolved = load_config_or_exit(config, set_)
    try:
        chosen_period = parse_period(period, resolved)
    except EvaluationError as exc:
        fail(f"--period: {exc}")
    if policy not in available_policies():
        path = Path(policy)
        if not path.exists():
            fail(
                f"--policy {policy!r} is neither a policy name ({', '.join(available_policies())})"
                " nor an existing checkpoint path"
            )
        from agents.rl.checkpoint import CheckpointError, load_checkpoint_policy

        try:
            chosen_policy: str | Policy = load_checkpoint_policy(path)
        except CheckpointError as exc:
            fail(f"--policy: {exc}")
    else:
        chosen_policy = policy
    days = (chosen_period.end - chosen_period.start).days + 1
    total = 2 * seeds * days * 48
    ledger_dir = out
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    with progress_counter(total, f"evaluating {policy}") as tick:
        try:
            evaluation = run_evaluation(
                resolved,
                chosen_policy,
                chosen_period,
                list(range(seeds)),
                ledger_dir=ledger_dir,
                policy_name=policy,
                on_slot=tick,
            )
        except EvaluationError as exc:
            fail(str(exc))
    summary = write_outputs(evaluation, out) if out is not None else evaluation.to_dict()
    console.print(result_table(summary))
    console.print(community_table(summary))
    if json_out is not None:
        json_out.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    if out is not None or json_out is not None:
        err_console.print(f"wrote {', '.join(str(p) for p in (out, json_out) if p is not None)}")
    if not summary["ledger"]["verified"]:
        raise typer.Exit(EXIT_FAILURE)


def report(
    folders: list[Path] = typer.Argument(..., help="Evaluation folders (written by --out)."),
    figure: Path | None = typer.Option(None, "--figure", help="Write the comparison PNG here."),
) -> None:
    """Compare evaluated policies side by side in one table and one figure."""
    from agents.report import compare_figure, compare_table

    summaries = []
    for folder in folders:
        path = folder / "summary.json"
        if not path.is_file():
            fail(f"{folder} holds no summary.json: run p2p-gym evaluate --out {folder} first")
        try:
            summaries.append(json.loads(path.read_text(encoding="utf-8")))
        except json.JSONDecodeError as exc:
            fail(f"{path} is not valid JSON: {exc}")
    console.print(compare_table(summaries))
    target = figure or folders[0].parent / "comparison.png"
    compare_figure(summaries, target)
    err_console.print(f"wrote {target}")
