"""``p2p-gym data``: look at a config's time series, import your own."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from p2p_env.cli._common import (
    EXIT_USAGE,
    SET_OPTION_HELP,
    console,
    fail,
    load_config_or_exit,
)
from p2p_env.config import DEFAULT_CONFIG, GymConfig

app = typer.Typer(
    help="Time series: import your own, look at the generated ones.", no_args_is_help=True
)


def _pv_capacity(config: GymConfig, home_ids: tuple[str, ...]) -> dict[str, float]:
    from p2p_env.data.generate import community_layout

    layout = community_layout(config.community)
    capacity = {
        home: pv.capacity_kw for home, pv in zip(layout.home_ids, layout.pv, strict=True) if pv
    }
    office = config.community.office
    if office is not None and office.pv is not None:
        capacity["office"] = office.pv.capacity_kw
    return {k: v for k, v in capacity.items() if k in home_ids or k == "office"}


def _fmt(value: float | None, digits: int = 0) -> str:
    return "" if value is None else f"{value:,.{digits}f}"


@app.command("show")
def show(
    config: str = typer.Argument(DEFAULT_CONFIG, help="Config name or path."),
    overrides: list[str] = typer.Option([], "--set", help=SET_OPTION_HELP),
    out: Path | None = typer.Option(
        None,
        "--out",
        help="PNG to write (a summer and a winter week of load, PV and PHVs); "
        "default: <config name>-data.png in the current folder.",
    ),
    no_plot: bool = typer.Option(False, "--no-plot", help="Only print the statistics."),
    refresh: bool = typer.Option(False, "--refresh", help="Regenerate, ignoring the cache."),
    max_rows: int = typer.Option(60, "--max-rows", min=1, help="Entities listed at most."),
) -> None:
    """Print per-entity statistics of a config's time series and plot a summer and a winter week."""
    from p2p_env.data import load_dataset
    from p2p_env.data.byo import DataImportError
    from p2p_env.data.cache import synthetic_path
    from p2p_env.data.summary import entity_stats, plot_weeks

    cfg = load_config_or_exit(config, overrides)
    began = time.perf_counter()
    try:
        dataset = load_dataset(cfg, refresh=refresh)
    except (FileNotFoundError, ValueError, DataImportError) as exc:
        fail(str(exc))
    seconds = time.perf_counter() - began
    capacity = _pv_capacity(cfg, dataset.home_ids)
    stats = entity_stats(dataset, capacity)

    where = f"cache {synthetic_path(cfg)}" if dataset.source == "synthetic" else "imported data set"
    dates = dataset.calendar.dates
    console.print(
        f"[bold]{cfg.name}[/]: source [bold]{dataset.source}[/] ({where}), "
        f"{dates[0]} .. {dates[-1]}, {dataset.n_slots} slots of {dataset.slot_minutes} min, "
        f"{dataset.n_homes} homes, {dataset.n_phv} PHVs"
        f"{', office' if dataset.has_office else ''}; loaded in {seconds:.2f} s",
        highlight=False,
    )
    table = Table(
        title="Per entity (annualised over the span; PHVs: owner home)", title_justify="left"
    )
    for name, justify in (
        ("entity", "left"),
        ("group", "left"),
        ("kWh/a", "right"),
        ("peak kW", "right"),
        ("PV kWh/a", "right"),
        ("kWh/kWp", "right"),
        ("km/day", "right"),
        ("home %", "right"),
        ("office %", "right"),
    ):
        table.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for row in stats[:max_rows]:
        table.add_row(
            row.entity_id,
            row.group,
            _fmt(row.load_kwh_per_year),
            _fmt(row.peak_kw, 2),
            _fmt(row.pv_kwh_per_year),
            _fmt(row.pv_kwh_per_kwp),
            _fmt(row.km_per_day, 1),
            _fmt(None if row.share_home is None else 100 * row.share_home, 1),
            _fmt(None if row.share_office is None else 100 * row.share_office, 1),
        )
    if len(stats) > max_rows:
        table.caption = f"{len(stats) - max_rows} more entities not listed (--max-rows)"
    # Off a terminal rich assumes 80 columns and would truncate every cell: print wider.
    (console if console.is_terminal else Console(width=120)).print(table)
    homes = [s.load_kwh_per_year for s in stats if s.kind == "home" and s.load_kwh_per_year]
    yields = [s.pv_kwh_per_kwp for s in stats if s.pv_kwh_per_kwp is not None]
    kms = [s.km_per_day for s in stats if s.km_per_day is not None]
    if homes:
        console.print(f"homes: mean {sum(homes) / len(homes):,.0f} kWh/a", highlight=False)
    if yields:
        console.print(f"PV: mean {sum(yields) / len(yields):,.0f} kWh/kWp a year", highlight=False)
    if kms:
        console.print(f"PHVs: mean {sum(kms) / len(kms):.1f} km/day", highlight=False)
    if not no_plot:
        out = out if out is not None else Path(f"{cfg.name}-data.png")
        titles = plot_weeks(dataset, capacity, out)
        console.print(f"wrote {out} ({'; '.join(titles)})", highlight=False)


@app.command("import")
def import_(
    file: Path = typer.Argument(..., help="CSV or Parquet file in the documented long schema."),
    name: str = typer.Option(..., "--as", help="Name that configs give as data.source."),
    config: str = typer.Option(
        DEFAULT_CONFIG, "--config", help="Config whose site time zone the timestamps must use."
    ),
) -> None:
    """Validate FILE and store it as data set NAME (use it with data.source: NAME)."""
    from p2p_env.data.byo import DataImportError, import_file
    from p2p_env.data.cache import imported_path

    cfg = load_config_or_exit(config)
    try:
        imported = import_file(
            file,
            name,
            timezone=cfg.community.site.timezone,
            slot_minutes=cfg.data.slot_minutes,
        )
    except DataImportError as exc:
        fail(str(exc), EXIT_USAGE)
    except ValueError as exc:
        fail(str(exc), EXIT_USAGE)
    counts = ", ".join(f"{len(ids)} {kind}" for kind, ids in imported.entities.items() if ids)
    console.print(
        f"imported {file} as [bold]{name}[/]: {imported.n_slots} slots, {counts} series "
        f"-> {imported_path(name)}\nuse it with: --set data.source={name}",
        highlight=False,
    )
