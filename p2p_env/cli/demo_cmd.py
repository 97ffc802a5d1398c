"""``p2p-gym demo``: the main job on the embedded default community (what ``make demo`` runs)."""

from __future__ import annotations

import typer
from rich.table import Table

from p2p_env.cli._common import SET_OPTION_HELP, console, load_config_or_exit
from p2p_env.config import DEFAULT_CONFIG, GymConfig


def demo(
    config: str = typer.Option(DEFAULT_CONFIG, "--config", "-c", help="Config name or path."),
    set_: list[str] = typer.Option([], "--set", help=SET_OPTION_HELP),
) -> None:
    """Run the demonstration community end to end and print what it found."""
    resolved = load_config_or_exit(config, set_)
    console.print(community_table(resolved))


def community_table(config: GymConfig) -> Table:
    """The community by home group: counts, equipment and buyback price."""
    community = config.community
    table = Table(
        title=f"{config.name}: {community.n_homes} homes, {community.n_phv} PHVs, "
        f"{'1 office' if community.office else 'no office'}"
    )
    for column in ("group", "homes", "kind", "PV kWp", "battery kWh", "PHV", "buyback JPY/kWh"):
        table.add_column(column, justify="left" if column in ("group", "kind") else "right")
    buyback = config.tariffs.buyback_jpy_per_kwh
    for group in community.home_groups:
        table.add_row(
            group.name,
            str(group.count * community.scale),
            "prosumer" if group.is_prosumer else "consumer",
            f"{group.pv.capacity_kw:.1f}" if group.pv else "-",
            f"{group.battery.capacity_kwh:.1f}" if group.battery else "-",
            "yes" if group.phv else "-",
            f"{buyback[group.buyback]:.2f}" if group.is_prosumer else "-",
        )
    if community.office:
        office = community.office
        table.add_row(
            "office",
            "1",
            "office",
            f"{office.pv.capacity_kw:.1f}" if office.pv else "-",
            "-",
            f"{office.chargers} chargers",
            "-",
        )
    return table
