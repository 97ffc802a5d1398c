"""``p2p-gym config``: inspect resolved configurations."""

from __future__ import annotations

import typer
from rich.syntax import Syntax

from p2p_env.cli._common import SET_OPTION_HELP, console, load_config_or_exit
from p2p_env.config import DEFAULT_CONFIG, available_configs, dump_config

app = typer.Typer(help="Inspect configurations.", no_args_is_help=True)


@app.command("show")
def show(
    config: str = typer.Argument(
        DEFAULT_CONFIG, help="Config name in configs/ or path to a YAML file."
    ),
    set_: list[str] = typer.Option([], "--set", help=SET_OPTION_HELP),
) -> None:
    """Print the fully resolved config (defaults, extends and overrides applied) as YAML."""
    resolved = load_config_or_exit(config, set_)
    text = dump_config(resolved)
    if console.is_terminal:
        console.print(Syntax(text, "yaml"))
    else:
        typer.echo(text, nl=False)


@app.command("list")
def list_() -> None:
    """List the configs that can be named: --config NAME (simulate, evaluate, train, ...), or
    NAME as the argument of config show and data show."""
    for name in available_configs():
        typer.echo(name)
