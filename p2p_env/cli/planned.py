"""Subcommands whose implementation lands with a later issue.

Each is registered so that ``p2p-gym --help`` shows the whole tool; running one says which issue
tracks it and exits 1. An issue that implements a command gives it a module of its own and
registers that in ``p2p_env/cli/__init__.py``.
"""

from __future__ import annotations

from collections.abc import Callable

import typer

from p2p_env.cli._common import not_yet_available

_ANY_ARGS = {"allow_extra_args": True, "ignore_unknown_options": True}

COMMANDS: dict[str, tuple[str, int]] = {
}


def register(app: typer.Typer) -> None:
    """Add the planned top-level commands to ``app``."""
    for name, (help_text, issue) in COMMANDS.items():
        _add(app, name, f"{help_text} (not available yet: issue {issue})", name, issue)


def _add(app: typer.Typer, name: str, help_text: str, full_name: str, issue: int) -> None:
    app.command(name, help=help_text, context_settings=_ANY_ARGS)(_placeholder(full_name, issue))


def _placeholder(full_name: str, issue: int) -> Callable[[typer.Context], None]:
    def command(ctx: typer.Context) -> None:
        not_yet_available(full_name, issue)

    return command
