"""Shared pieces of the ``p2p-gym`` commands: consoles, errors, config loading, progress bars."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import NoReturn, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from p2p_env.config import ConfigError, GymConfig, load_config

T = TypeVar("T")

# Off a terminal rich would wrap tables at 80 columns; logs and pipes get a wider page.
console = Console(width=None if sys.stdout.isatty() else 120)
err_console = Console(stderr=True)

EXIT_FAILURE = 1
"""The command ran and found a problem (e.g. a ledger that does not verify)."""
EXIT_USAGE = 2
"""Bad arguments or input: nothing ran (same code as click's usage errors)."""

SET_OPTION_HELP = (
    "Override a config value: dotted.path=value (repeatable), e.g. market.mechanism=cda"
)


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """Print ``message`` to stderr and exit with ``code``."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def load_config_or_exit(name_or_path: str, overrides: Sequence[str] = ()) -> GymConfig:
    """Load a config; on any config error print its message and exit 2 before anything runs."""
    try:
        return load_config(name_or_path, overrides)
    except ConfigError as exc:
        fail(str(exc))


def _bar() -> Progress:
    """The CLI's progress bar: description, bar, done/total, time left (off a terminal: none)."""
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    return Progress(*columns, console=err_console, disable=not err_console.is_terminal)


def progress(items: Iterable[T], *, total: int | None = None, description: str = "") -> Iterator[T]:
    """Iterate with a rich progress bar on a terminal; silent when output is not a terminal."""
    with _bar() as bar:
        yield from bar.track(items, total=total, description=description)


@contextmanager
def progress_counter(total: int, description: str) -> Iterator[Callable[[], None]]:
    """A rich progress bar advanced by calling the yielded function; silent off a terminal."""
    with _bar() as bar:
        task = bar.add_task(description, total=total)
        yield lambda: bar.advance(task)
