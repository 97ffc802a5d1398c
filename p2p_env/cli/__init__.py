"""The ``p2p-gym`` command line: the composition root that wires the packages together.

Nothing imports this package. It reaches ``agents`` only inside command functions, so that
``p2p_env`` itself never depends on ``agents`` at import time.
"""

from __future__ import annotations

import typer

from p2p_env import hugepages
from p2p_env.cli import config_cmd, data_cmd, exchange_cmd, ledger_cmd
from p2p_env.cli.bench_cmd import bench
from p2p_env.cli.compile_cmd import compile_
from p2p_env.cli.demo_cmd import demo
from p2p_env.cli.evaluate_cmd import evaluate, report
from p2p_env.cli.simulate_cmd import simulate
from p2p_env.cli.sweep_cmd import sweep
from p2p_env.cli.train_cmd import train

app = typer.Typer(
    name="p2p-gym",
    help="A research gym for peer-to-peer electricity trading (Higashi-Fuji demonstration).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _before_any_command() -> None:
    # Process-wide settings of the command (the library leaves them to its users): numpy's
    # huge-page advice off unless NUMPY_MADVISE_HUGEPAGE says otherwise (p2p_env.hugepages).
    hugepages.command_line_default()


app.command("demo")(demo)
app.command("simulate")(simulate)
app.command("evaluate")(evaluate)
app.command("report")(report)
app.command("train")(train)
app.command("sweep")(sweep)
app.command("bench")(bench)
app.command("compile")(compile_)
app.add_typer(config_cmd.app, name="config")
app.add_typer(exchange_cmd.app, name="exchange")
app.add_typer(ledger_cmd.app, name="ledger")
app.add_typer(data_cmd.app, name="data")


def main() -> None:
    """Console-script entry point."""
    app()
