"""``p2p-gym sweep SWEEP.yaml``: seeds and hyperparameters with Ray Tune (see
:mod:`agents.rl.sweep` for the file's keys)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from p2p_env.cli._common import EXIT_FAILURE, console, err_console, fail


def sweep(
    spec_file: Path = typer.Argument(..., help="The sweep YAML (keys: see agents/rl/sweep.py)."),
) -> None:
    """Sweep seeds and hyperparameters with Ray Tune; one TensorBoard run folder per trial."""
    from agents.rl.sweep import load_sweep, run_sweep
    from agents.rl.train import TrainingError

    try:
        spec = load_sweep(spec_file)
    except TrainingError as exc:
        fail(str(exc))
    rows = run_sweep(spec)
    table = Table(title=f"sweep {spec.name}: best validation all-households improvement")
    for column in ("score %", "seed", "hyperparameters", "run folder"):
        table.add_column(column)
    for row in rows:
        score = row["score"]
        table.add_row(
            "failed" if row["error"] else f"{score:.2f}",
            str(row["seed"]),
            ", ".join(f"{k}={v}" for k, v in row["hyperparameters"].items()),
            row["run_dir"],
        )
    console.print(table)
    err_console.print(f"tensorboard --logdir {spec.runs_root / spec.name}")
    if any(row["error"] for row in rows):
        raise typer.Exit(EXIT_FAILURE)
