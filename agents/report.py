"""Tables, files and figures of an evaluation, and the side-by-side comparison of several.

:func:`write_outputs` fills an evaluation folder::

    summary.json         the JSON summary (Evaluation.to_dict)
    per_slot.parquet     seed, slot start, price and volume per tag, community grid import/export
    per_agent.parquet    seed, agent, kind, group, bills with the policy and with grid_only
    prices.png flows.png soc.png savings.png
    tensorboard/         scalars under eval/ (bill improvement per group, community figures)
    ledger_seed<N>.sqlite  the policies' ledgers (written during the evaluation)
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from rich.table import Table

from agents.evaluation import DEMONSTRATION, GROUPS, Evaluation

GROUP_LABELS = {
    "all_households": "all households",
    "consumers": "consumers",
    "prosumers": "prosumers",
    "phv": "PHVs",
    "office": "office",
}


def _pct(value: float | None, scale: float = 1.0) -> str:
    """A percentage, or "-" for a missing value (None or NaN)."""
    if value is None or math.isnan(value):
        return "-"
    return f"{value * scale:.1f} %"


def result_table(summary: dict[str, Any]) -> Table:
    """The demonstration's table: bill improvement per group against grid_only."""
    seeds = len(summary["seeds"])
    period = summary["period"]
    table = Table(
        title=f"{summary['config']}: bill improvement of '{summary['policy']}' against "
        f"grid_only, {period['start']}..{period['end']}, {seeds} seed(s)"
    )
    for column in (
        "group",
        "improvement",
        "95 % interval",
        "bill JPY",
        "grid_only JPY",
        "demonstration (Aug 2020)",
    ):
        table.add_column(column, justify="left" if column == "group" else "right")
    for group in GROUPS:
        row = summary["groups"].get(group)
        if row is None:
            continue
        low, high = row["ci95_pct"]
        interval = "-" if low is None else f"{low:.1f} .. {high:.1f}"
        table.add_row(
            GROUP_LABELS[group],
            _pct(row["improvement_pct"]),
            interval,
            f"{row['bill_jpy']:,.0f}",
            f"{row['grid_only_bill_jpy']:,.0f}",
            _pct(DEMONSTRATION.get(group)),
        )
    return table


def community_table(summary: dict[str, Any]) -> Table:
    """Community figures of the policy, and the ledger check."""
    c = summary["community"]
    table = Table(title="community (mean over seeds)")
    table.add_column("figure")
    table.add_column("value", justify="right")
    rows = [
        ("self-sufficiency", _pct(c["self_sufficiency"], 100)),
        ("P2P share of consumption", _pct(c["p2p_share"], 100)),
        (
            "consumption matched by local certified PV, same slot",
            _pct(c["solar_matched_share"], 100),
        ),
        ("peak community grid import", f"{c['peak_grid_import_kw']:.1f} kW"),
        ("grid import / export", f"{c['grid_import_kwh']:,.0f} / {c['grid_export_kwh']:,.0f} kWh"),
        (
            "total community cost (grid_only)",
            f"{c['total_cost_jpy']:,.0f} ({c['grid_only_total_cost_jpy']:,.0f}) JPY",
        ),
        ("orders / rejected", f"{c['orders']:,.0f} / {c['rejected_orders']:,.0f}"),
    ]
    for key, value in c.items():
        if key.startswith("mean_price_"):
            rows.append(
                (
                    f"mean P2P price, {key.removeprefix('mean_price_')}",
                    "-" if value is None else f"{value:.2f} JPY/kWh",
                )
            )
    ledger = summary["ledger"]
    verdict = "yes" if ledger["verified"] else "NO: " + "; ".join(ledger["failures"])
    rows.append(
        ("ledger verified (replay of every clearing)", f"{verdict} (head {ledger['head'][:16]}...)")
    )
    for name, value in rows:
        table.add_row(name, value)
    return table


def write_outputs(evaluation: Evaluation, out: Path) -> dict[str, Any]:
    """Write the evaluation folder (see the module docstring); return the summary."""
    import pandas as pd

    out.mkdir(parents=True, exist_ok=True)
    summary = evaluation.to_dict()
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    masks = evaluation.group_masks()
    slot_rows: list[dict[str, Any]] = []
    agent_rows: list[dict[str, Any]] = []
    for run in evaluation.runs:
        ep = run.episode
        net = ep.metered_wh.sum(axis=1)
        for t, start in enumerate(ep.slot_start):
            row: dict[str, Any] = {
                "seed": run.seed,
                "slot_start": start,
                "grid_import_kwh": max(int(net[t]), 0) / 1000,
                "grid_export_kwh": max(-int(net[t]), 0) / 1000,
                "p2p_kwh": int(ep.p2p_bought_wh[t].sum()) / 1000,
            }
            for i, tag in enumerate(ep.tags):
                price = int(ep.price_ticks[t, i])
                row[f"price_{tag}_jpy_per_kwh"] = price / 100 if price >= 0 else None
                row[f"volume_{tag}_kwh"] = int(ep.volume_wh[t, i]) / 1000
            slot_rows.append(row)
        bills, ref = ep.bill_sen() / 100, run.reference.bill_sen() / 100
        for i, agent in enumerate(ep.agents):
            groups = [g for g, m in masks.items() if m[i] and g != "all_households"]
            agent_rows.append(
                {
                    "seed": run.seed,
                    "agent": agent,
                    "group": groups[0] if groups else "",
                    "bill_jpy": float(bills[i]),
                    "grid_only_bill_jpy": float(ref[i]),
                }
            )
    pd.DataFrame(slot_rows).to_parquet(out / "per_slot.parquet", index=False)
    pd.DataFrame(agent_rows).to_parquet(out / "per_agent.parquet", index=False)
    _plots(evaluation, summary, out)
    _tensorboard(summary, out / "tensorboard")
    return summary


def _plots(evaluation: Evaluation, summary: dict[str, Any], out: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    ep = evaluation.runs[0].episode
    hours = np.arange(ep.n_slots) / 2

    def save(fig: Figure, name: str) -> None:
        fig.tight_layout()
        FigureCanvasAgg(fig).print_png(str(out / name))  # type: ignore[no-untyped-call]

    fig = Figure(figsize=(10, 3.5), dpi=100)
    ax = fig.subplots()
    for i, tag in enumerate(ep.tags):
        prices = np.where(ep.price_ticks[:, i] >= 0, ep.price_ticks[:, i] / 100, np.nan)
        ax.plot(hours, prices, lw=0.8, label=tag)
    ax.set(
        xlabel="hours from the start",
        ylabel="JPY/kWh",
        title=f"P2P price per tag (seed {evaluation.runs[0].seed})",
    )
    ax.legend()
    save(fig, "prices.png")

    fig = Figure(figsize=(10, 3.5), dpi=100)
    ax = fig.subplots()
    net = ep.metered_wh.sum(axis=1) / 1000
    ax.plot(hours, np.maximum(net, 0), lw=0.8, label="community grid import")
    ax.plot(hours, np.maximum(-net, 0), lw=0.8, label="community grid export")
    ax.plot(hours, ep.p2p_bought_wh.sum(axis=1) / 1000, lw=0.8, label="P2P traded")
    ax.set(xlabel="hours from the start", ylabel="kWh per slot", title="flows")
    ax.legend()
    save(fig, "flows.png")

    fig = Figure(figsize=(10, 3.5), dpi=100)
    ax = fig.subplots()
    for i, agent in enumerate(ep.agents):
        if not np.all(np.isnan(ep.soc[:, i])):
            ax.plot(hours, ep.soc[:, i], lw=0.6, label=agent)
    ax.set(
        xlabel="hours from the start",
        ylabel="state of charge",
        ylim=(0, 1),
        title="batteries and PHVs",
    )
    ax.legend(ncol=7, fontsize=6)
    save(fig, "soc.png")

    fig = Figure(figsize=(7, 3.5), dpi=100)
    ax = fig.subplots()
    groups = [g for g in GROUPS if g in summary["groups"]]
    means = [summary["groups"][g]["improvement_pct"] for g in groups]
    bounds = [summary["groups"][g]["ci95_pct"] for g in groups]
    errors = np.array(
        [
            [m - (lo if lo is not None else m), (hi if hi is not None else m) - m]
            for (lo, hi), m in zip(bounds, means, strict=True)
        ]
    ).T
    x = np.arange(len(groups))
    ax.bar(x - 0.2, means, 0.4, yerr=errors, capsize=3, label=summary["policy"])
    demo = [DEMONSTRATION.get(g, np.nan) for g in groups]
    ax.bar(x + 0.2, demo, 0.4, label="demonstration (Aug 2020)")
    ax.set_xticks(x, [GROUP_LABELS[g] for g in groups])
    ax.set(ylabel="bill improvement vs grid_only, %", title="savings by group (95 % interval)")
    ax.axhline(0, color="black", lw=0.5)
    ax.legend()
    save(fig, "savings.png")


def _tensorboard(summary: dict[str, Any], folder: Path) -> None:
    """Scalars under ``eval/``; skipped (said in summary) when the RL extra is not installed."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # pragma: no cover - the Makefile installs the rl extra
        return
    writer = SummaryWriter(log_dir=str(folder))
    try:
        for group, row in summary["groups"].items():
            writer.add_scalar(f"eval/improvement_pct/{group}", row["improvement_pct"], 0)
        for key, value in summary["community"].items():
            if isinstance(value, float) and math.isfinite(value):
                writer.add_scalar(f"eval/community/{key}", value, 0)
        writer.add_text("eval/summary", "```\n" + json.dumps(summary, indent=2) + "\n```", 0)
    finally:
        writer.close()


def compare_table(summaries: Sequence[dict[str, Any]]) -> Table:
    """Several evaluations side by side: improvement per group and key community figures."""
    table = Table(title="policies compared (bill improvement against grid_only)")
    table.add_column("figure")
    for summary in summaries:
        table.add_column(f"{summary['policy']}\n{summary['period']['start']}", justify="right")
    for group in GROUPS:
        cells = [_pct(s["groups"].get(group, {}).get("improvement_pct")) for s in summaries]
        table.add_row(GROUP_LABELS[group], *cells)
    for key, label in (
        ("self_sufficiency", "self-sufficiency"),
        ("p2p_share", "P2P share"),
        ("solar_matched_share", "solar matched, same slot"),
    ):
        table.add_row(label, *[_pct(s["community"][key], 100) for s in summaries])
    table.add_row(
        "total cost JPY", *[f"{s['community']['total_cost_jpy']:,.0f}" for s in summaries]
    )
    table.add_row(
        "ledger verified", *["yes" if s["ledger"]["verified"] else "NO" for s in summaries]
    )
    return table


def compare_figure(summaries: Sequence[dict[str, Any]], path: Path) -> None:
    """Bar chart of the improvement per group for each evaluation."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4), dpi=100)
    ax = fig.subplots()
    groups = list(GROUPS)
    width = 0.8 / max(len(summaries), 1)
    x = np.arange(len(groups))
    for k, summary in enumerate(summaries):
        values = [summary["groups"].get(g, {}).get("improvement_pct", np.nan) for g in groups]
        ax.bar(x + k * width - 0.4 + width / 2, values, width, label=summary["policy"])
    ax.set_xticks(x, [GROUP_LABELS[g] for g in groups])
    ax.set(ylabel="bill improvement vs grid_only, %")
    ax.axhline(0, color="black", lw=0.5)
    ax.legend()
    fig.tight_layout()
    FigureCanvasAgg(fig).print_png(str(path))  # type: ignore[no-untyped-call]
