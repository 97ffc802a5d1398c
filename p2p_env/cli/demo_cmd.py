"""``p2p-gym demo``: the main job on the embedded default community (what ``make demo`` runs).

Prints the community, then evaluates the ``rule`` baseline against ``grid_only`` over the month
of the demonstration's published result (August 2020) and prints the demonstration's table; the
report folder (JSON, Parquet, PNG, TensorBoard, SQLite ledgers) goes to ``--out``.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from p2p_env.cli._common import SET_OPTION_HELP, console
from p2p_env.cli.evaluate_cmd import evaluate
from p2p_env.config import DEFAULT_CONFIG, GymConfig


def demo(
    config: str = typer.Option(DEFAULT_CONFIG, "--config", "-c", help="Config name or path."),
    policy: str = typer.Option("rule", "--policy", "-p", help="Policy scored against grid_only."),
    period: str = typer.Option("2020-08", "--period", help="Evaluation period."),
    seeds: int = typer.Option(3, "--seeds", min=1, max=100, help="Seeds 0..N-1."),
    out: Path = typer.Option(Path("reports/demo"), "--out", help="Report folder."),
    set_: list[str] = typer.Option([], "--set", help=SET_OPTION_HELP),
) -> None:
    """Run the demonstration community with its baselines and print the result table."""
    from p2p_env.cli._common import load_config_or_exit

    console.print(community_table(load_config_or_exit(config, set_)))
    evaluate(
        config=config, policy=policy, period=period, seeds=seeds, out=out, json_out=None, set_=set_
    )


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
