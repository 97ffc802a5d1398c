"""``p2p-gym ledger``: verify, show and trace a SQLite ledger file.

Exit codes of ``verify``: 0 valid, 1 invalid (the report names the first bad block and record),
2 not a ledger (missing, foreign, truncated beyond reading, or another schema version) or, with
``--replay``, a ledger cleared by a mechanism that is not installed here (it cannot be replayed
in this process, which says nothing against the ledger).
"""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.table import Table

from ledger import Ledger, LedgerError, LedgerFormatError, ReplayHook
from ledger.origin import (
    FLOWS,
    SlotBound,
    consumption_by_origin,
    device_flows,
    matched_share,
    producer_destinations,
)
from p2p_env.cli._common import EXIT_FAILURE, EXIT_USAGE, console, fail

app = typer.Typer(help="The hash-chained ledger: verify, show, trace.", no_args_is_help=True)

_PATH_HELP = "A ledger file (SQLite) written by p2p-gym."


def _open(path: str) -> Ledger:
    try:
        return Ledger.open(path, read_only=True)
    except LedgerFormatError as exc:
        fail(str(exc), EXIT_USAGE)


def _exchange_replay(missing: list[str]) -> ReplayHook:
    """Re-clear with p2p-gym's exchange, as the environment recorded each slot. The name of a
    recorded mechanism that is not installed here is appended to ``missing`` (the replay of its
    block then fails, and the caller says why)."""
    from exchange import available_mechanisms
    from p2p_env.sim.exchange_market import replay

    known = frozenset(available_mechanisms())  # installed ones are named before they load

    def hook(params: dict[str, Any], orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
        name = params.get("mechanism")
        if isinstance(name, str) and name not in known:
            missing.append(name)
        return replay(params, orders)

    return hook


@app.command("verify")
def verify_cmd(
    path: str = typer.Argument(..., help=_PATH_HELP, show_default=False),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    head: str | None = typer.Option(
        None, "--head", help="Expected head hash (hex): the ledger must end exactly there."
    ),
    certificates: bool = typer.Option(
        True, "--certificates/--no-certificates", help="Check certificate conservation."
    ),
    replay: bool = typer.Option(
        False, "--replay", help="Re-clear every block's orders with the exchange and compare."
    ),
) -> None:
    """Recompute every hash, Merkle root and chain link; exit 0 valid, 1 invalid, 2 not a ledger."""
    expected = None
    if head is not None:
        try:
            expected = bytes.fromhex(head)
        except ValueError:
            fail(f"--head must be a hex hash, got {head!r}")
        if len(expected) != 32:
            fail(f"--head must be 64 hex digits (SHA-256), got {len(head)}")
    missing: list[str] = []
    with _open(path) as ledger:
        report = ledger.verify(
            replay=_exchange_replay(missing) if replay else None,
            check_certificates=certificates,
            expected_head=expected,
        )
    if missing and report.failure is not None and report.failure.check == "replay":
        fail(
            f"{path}: cannot replay block {report.failure.height}: it was cleared with mechanism "
            f"{missing[0]!r}, which is not installed here (a package provides it through the "
            f"'p2p_gym.mechanisms' entry-point group). The {report.blocks} blocks before it "
            "verified; without --replay every block's hashes, links and certificates are checked."
        )
    if as_json:
        typer.echo(json.dumps({"path": path, **report.to_dict()}, indent=2))
    elif report.ok:
        console.print(f"[green]{path}: {report.summary()}[/]", highlight=False, soft_wrap=True)
    else:
        console.print(f"[red]{path}: {report.summary()}[/]", highlight=False, soft_wrap=True)
    if not report.ok:
        raise typer.Exit(EXIT_FAILURE)


@app.command("show")
def show_cmd(
    path: str = typer.Argument(..., help=_PATH_HELP, show_default=False),
    block: int | None = typer.Option(None, "--block", "-b", help="Show this block in full."),
) -> None:
    """Summarise a ledger, or print one block's header and records."""
    with _open(path) as ledger:
        try:
            if block is None:
                _show_summary(path, ledger)
            else:
                _show_block(ledger, block)
        except (LedgerError, IndexError) as exc:
            fail(str(exc).strip("'\""))


def _show_summary(path: str, ledger: Ledger) -> None:
    table = Table(title=path, show_header=False)
    table.add_column("field")
    table.add_column("value", overflow="fold")
    n = len(ledger)
    table.add_row("blocks", str(n))
    if n:
        first, last = ledger.header(0), ledger.header(n - 1)
        totals = dict.fromkeys(first.counts, 0)
        for header in ledger.blocks():
            for kind, count in header.counts.items():
                totals[kind] += count
        table.add_row("slots", f"{first.slot} .. {last.slot}")
        if first.start or last.start:
            table.add_row("start", f"{first.start} .. {last.start}")
        table.add_row("records", ", ".join(f"{k} {v}" for k, v in totals.items()))
        table.add_row("head hash", ledger.head_hash.hex())
        table.add_row("history root", ledger.history_root().hex())
    console.print(table)


def _show_block(ledger: Ledger, height: int) -> None:
    header = ledger.header(height)
    table = Table(title=f"block {height}", show_header=False)
    table.add_column("field")
    table.add_column("value", overflow="fold")
    for key, value in header.to_dict().items():
        table.add_row(key, json.dumps(value) if isinstance(value, dict) else str(value))
    table.add_row("hash", ledger.block_hash(height).hex())
    table.add_row("params", json.dumps(ledger.params(height), sort_keys=True))
    console.print(table)
    records = Table(title=f"records of block {height}")
    for column in ("#", "kind", "leaf hash", "body"):
        records.add_column(column, overflow="fold")
    for record in ledger.records(height):
        records.add_row(
            str(record.index),
            record.kind.label,
            record.leaf_hash.hex()[:16],
            json.dumps(record.body, sort_keys=True, ensure_ascii=False),
        )
    console.print(records)


def _bound(value: str | None, name: str) -> SlotBound:
    if value is None:
        return None
    if value.isdigit():
        return int(value)
    from datetime import datetime

    try:
        datetime.fromisoformat(value)
    except ValueError:
        fail(f"{name} must be a slot index or an ISO 8601 timestamp, got {value!r}")
    return value


@app.command("trace")
def trace_cmd(
    path: str = typer.Argument(..., help=_PATH_HELP, show_default=False),
    consumer: str | None = typer.Option(None, "--consumer", help="Where its energy came from."),
    producer: str | None = typer.Option(None, "--producer", help="Where its energy went."),
    device: str | None = typer.Option(
        None,
        "--device",
        help="What a storage device (phv_01/battery) took in and gave out: a PHV's charging "
        "and driving.",
    ),
    start: str | None = typer.Option(
        None, "--from", help="First slot: index or ISO 8601 timestamp (inclusive)."
    ),
    end: str | None = typer.Option(None, "--to", help="Last slot (inclusive)."),
) -> None:
    """Trace energy by its certificates: a consumer's origins, a producer's destinations, or a
    storage device's flows."""
    if sum(x is not None for x in (consumer, producer, device)) != 1:
        fail("give exactly one of --consumer ID, --producer ID or --device DEVICE")
    first, last = _bound(start, "--from"), _bound(end, "--to")
    with _open(path) as ledger:
        try:
            if consumer is not None:
                _trace_consumer(ledger, consumer, first, last)
            elif producer is not None:
                _trace_producer(ledger, producer, first, last)
            else:
                assert device is not None
                _trace_device(ledger, device, first, last)
        except LedgerError as exc:
            fail(str(exc))


def _trace_consumer(ledger: Ledger, consumer: str, first: SlotBound, last: SlotBound) -> None:
    origins = consumption_by_origin(ledger, consumer, first, last)
    shares = matched_share(ledger, consumer, first, last)
    consumed = int(shares["consumed_wh"].sum())
    certified = int(shares["certified_wh"].sum())
    same = int(shares["same_slot_wh"].sum())
    table = Table(title=f"{consumer}: consumption by origin")
    for column in ("producer", "origin tag", "delivered as", "Wh", "share of consumption"):
        table.add_column(column, justify="right" if column[0] in "Ws" else "left")
    if len(origins):
        grouped = origins.groupby(["producer", "origin_tag", "tag", "storage"], as_index=False)[
            "wh"
        ].sum()
        for row in grouped.itertuples(index=False):
            via = f"{row.tag} (storage)" if row.storage else str(row.tag)
            share = f"{row.wh / consumed:.1%}" if consumed else "-"
            table.add_row(str(row.producer), str(row.origin_tag), via, str(row.wh), share)
    console.print(table)
    if consumed:
        console.print(
            f"slots {len(shares)}, consumed {consumed} Wh; matched by certified local generation "
            f"{certified} Wh ({certified / consumed:.1%}), of which generated in the same slot "
            f"{same} Wh ({same / consumed:.1%})",
            highlight=False,
        )
    else:
        console.print(f"no metered consumption of {consumer!r} in this period", highlight=False)
        battery = f"{consumer}/battery"
        if len(device_flows(ledger, battery, first, last)):
            console.print(
                f"its storage took in and gave out energy (a PHV's charging and driving): "
                f"--device {battery}",
                highlight=False,
            )


def _trace_producer(ledger: Ledger, producer: str, first: SlotBound, last: SlotBound) -> None:
    rows = producer_destinations(ledger, producer, first, last)
    table = Table(title=f"{producer}: where its certified generation went")
    for column in ("fate", "to", "delivered as", "Wh"):
        table.add_column(column, justify="right" if column == "Wh" else "left")
    if len(rows):
        grouped = rows.groupby(["fate", "to", "tag", "storage"], as_index=False)["wh"].sum()
        for row in grouped.itertuples(index=False):
            via = f"{row.tag} (storage)" if row.storage else str(row.tag)
            table.add_row(str(row.fate), str(row.to), via, str(row.wh))
    console.print(table)
    final = rows[rows["fate"] != "stored"]["wh"].sum() if len(rows) else 0
    console.print(f"{int(final)} Wh reached a final destination", highlight=False)


def _trace_device(ledger: Ledger, device: str, first: SlotBound, last: SlotBound) -> None:
    flows = device_flows(ledger, device, first, last)
    table = Table(title=f"{device}: energy stored and taken out, by origin")
    for column in ("flow", "producer", "origin tag", "Wh"):
        table.add_column(column, justify="right" if column == "Wh" else "left")
    if len(flows):
        grouped = flows.groupby(["flow", "producer", "origin_tag"], as_index=False)["wh"].sum()
        for row in grouped.itertuples(index=False):
            table.add_row(str(row.flow), str(row.producer), str(row.origin_tag), str(row.wh))
    console.print(table)
    totals = {flow: int(flows.loc[flows["flow"] == flow, "wh"].sum()) for flow in FLOWS}
    console.print(
        f"stored {totals['stored']} Wh of certified energy; lost (conversion losses, a PHV's "
        f"driving) {totals['lost']} Wh; discharged {totals['discharged']} Wh",
        highlight=False,
    )
