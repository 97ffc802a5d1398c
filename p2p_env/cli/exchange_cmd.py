"""``p2p-gym exchange``: clear order sets without the environment."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer

from exchange import ClearingParams, OrderFormatError, clear, orders_from_dicts
from p2p_env.cli._common import fail

app = typer.Typer(
    help="The tagged exchange: clear order sets without the environment.", no_args_is_help=True
)

_PARAM_KEYS = ("mechanism", "price_bounds", "tags", "tag_order", "seed", "agents")
_FILE_KEYS = frozenset({"orders", *_PARAM_KEYS})


class TagOrderName(StrEnum):
    """The buyer tag-order rules."""

    price = "price"
    config = "config"


@app.command("clear")
def clear_orders(
    file: str = typer.Argument(
        ...,
        help=(
            # Backslashes: the help is rich markup, where "[...]" is a style tag.
            'JSON file ("-" reads stdin): {"orders": \\[...]} and optionally "price_bounds" '
            '\\[min, max] in ticks of 0.01 JPY/kWh, "tags", "tag_order", "mechanism", "seed", '
            '"agents" {agent: \\[tags it may sell]}.'
        ),
        show_default=False,
        metavar="FILE.json",
    ),
    mechanism: str | None = typer.Option(
        None,
        "--mechanism",
        "-m",
        help="Overrides the file's mechanism (default there: cda): call, cda, midpoint, or one "
        "an installed package provides.",
    ),
    seed: int | None = typer.Option(
        None, "--seed", min=0, help="Seed of the arrival order; overrides the file's (default 0)."
    ),
    tag_order: TagOrderName | None = typer.Option(
        None, "--tag-order", help="Buyer tag-order rule; overrides the file's (default price)."
    ),
) -> None:
    """Clear an order set and print the result as JSON (trades, prices, rejections, unfilled)."""
    data = _read_json(file)
    if not isinstance(data, dict):
        fail(f"{file}: expected a JSON object with an 'orders' list, got {type(data).__name__}")
    unknown = sorted(set(data) - _FILE_KEYS)
    if unknown:
        fail(f"{file}: unknown key {unknown[0]!r} (keys: {', '.join(sorted(_FILE_KEYS))})")
    if "orders" not in data or not isinstance(data["orders"], list):
        fail(f"{file}: 'orders' must be a list of order objects")
    raw_params: dict[str, Any] = {key: data[key] for key in _PARAM_KEYS if key in data}
    if mechanism is not None:
        raw_params["mechanism"] = mechanism
    if seed is not None:
        raw_params["seed"] = seed
    if tag_order is not None:
        raw_params["tag_order"] = tag_order.value
    try:
        params = ClearingParams.from_dict(raw_params)
    except ValueError as exc:
        fail(f"{file}: {exc}")
    try:
        orders = orders_from_dicts(data["orders"])
    except OrderFormatError as exc:
        fail(f"{file}: {exc}")
    result = clear(orders, params)
    typer.echo(json.dumps({"params": params.to_dict(), **result.to_dict()}, indent=2))


def _read_json(file: str) -> Any:
    try:
        text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror or exc}")
    except UnicodeDecodeError as exc:
        fail(f"{file} is not UTF-8 text: {exc.reason} at byte {exc.start}")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"{file}: malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}")
