"""Per-entity summary statistics and a picture of a summer and a winter week."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from p2p_env.data.dataset import Dataset, Location


@dataclass(frozen=True)
class EntityStats:
    """Statistics of one entity; ``None`` where a figure does not apply.

    Yearly figures are annualised over the data set's days (``total * 365 / days``), so a span
    with two summers reads a little higher than a calendar year would.
    """

    entity_id: str
    kind: str
    group: str
    load_kwh_per_year: float | None = None
    peak_kw: float | None = None
    pv_kwh_per_year: float | None = None
    pv_kwh_per_kwp: float | None = None
    km_per_day: float | None = None
    share_home: float | None = None
    share_office: float | None = None


def entity_stats(dataset: Dataset, pv_capacity_kw: dict[str, float]) -> list[EntityStats]:
    """Statistics per entity, in agent order.

    Args:
        dataset: The data set.
        pv_capacity_kw: kWp per entity id (homes with PV, office) for the yield per kWp.
    """
    days = max(dataset.calendar.n_days, 1)
    per_year = 365.0 / days
    to_kw = 1.0 / dataset.slot_hours
    rows: list[EntityStats] = []

    def energy(entity: str, kind: str, group: str, load: np.ndarray, pv: np.ndarray) -> EntityStats:
        pv_total = float(pv.astype(np.float64).sum()) * per_year
        capacity = pv_capacity_kw.get(entity, 0.0)
        return EntityStats(
            entity_id=entity,
            kind=kind,
            group=group,
            load_kwh_per_year=float(load.astype(np.float64).sum()) * per_year,
            peak_kw=float(load.max(initial=0.0)) * to_kw,
            pv_kwh_per_year=pv_total if capacity > 0 else None,
            pv_kwh_per_kwp=pv_total / capacity if capacity > 0 else None,
        )

    for i, home in enumerate(dataset.home_ids):
        rows.append(
            energy(
                home,
                "home",
                dataset.home_groups[i],
                dataset.home_load_kwh[:, i],
                dataset.home_pv_kwh[:, i],
            )
        )
    for j, vehicle in enumerate(dataset.phv_ids):
        location = dataset.phv_location[:, j]
        rows.append(
            EntityStats(
                entity_id=vehicle,
                kind="phv",
                group=dataset.home_ids[int(dataset.phv_home[j])],
                km_per_day=float(dataset.phv_km[:, j].astype(np.float64).sum()) / days,
                share_home=float(np.mean(location == Location.HOME)),
                share_office=float(np.mean(location == Location.OFFICE)),
            )
        )
    if dataset.has_office:
        rows.append(
            energy("office", "office", "office", dataset.office_load_kwh, dataset.office_pv_kwh)
        )
    return rows


def pick_week(dataset: Dataset, months: tuple[int, ...]) -> slice | None:
    """The last whole Monday-to-Sunday week starting in ``months[0]`` (else ``months[1]``...).

    Returns None when the data set holds no such week.
    """
    dates = dataset.calendar.dates
    for month in months:
        for i in range(len(dates) - 7, -1, -1):
            if dates[i].weekday() == 0 and dates[i].month == month:
                return dataset.day_slots(dates[i], dates[i] + dt.timedelta(days=6))
    return None


def plot_weeks(dataset: Dataset, pv_capacity_kw: dict[str, float], path: Path) -> list[str]:
    """Write a PNG: a summer and a winter week of load, PV and PHVs at home (matplotlib Agg).

    Returns:
        The titles of the weeks drawn (a span without such a week draws its first week).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    weeks: list[tuple[str, slice]] = []
    for title, months in (("summer", (8, 7)), ("winter", (1, 2, 12))):
        week = pick_week(dataset, months)
        if week is not None:
            weeks.append((title, week))
    if not weeks:
        weeks.append(("first week", slice(0, min(dataset.n_slots, 7 * 48))))

    figure = Figure(figsize=(7.5 * len(weeks), 9), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(3, len(weeks), squeeze=False, sharey="row")
    to_kw = 1.0 / dataset.slot_hours
    pv_homes = [i for i, h in enumerate(dataset.home_ids) if pv_capacity_kw.get(h, 0) > 0]
    titles: list[str] = []
    for col, (title, week) in enumerate(weeks):
        dates = dataset.calendar.dates
        first = dates[int(dataset.calendar.day_index[week.start])]
        label = f"{title}: week of {first.isoformat()}"
        titles.append(label)
        x = (np.arange(week.stop - week.start)) * dataset.slot_hours / 24.0
        load = dataset.home_load_kwh[week].astype(np.float64) * to_kw
        ax = axes[0, col]
        if dataset.n_homes:
            ax.fill_between(
                x,
                np.percentile(load, 10, axis=1),
                np.percentile(load, 90, axis=1),
                alpha=0.3,
                label="homes, 10-90 %",
            )
            ax.plot(x, load.mean(axis=1), lw=1.2, label="homes, mean")
        ax.set_ylabel("household load, kW")
        ax.set_title(label)
        if dataset.has_office:
            twin = ax.twinx()
            twin.plot(
                x,
                dataset.office_load_kwh[week] * to_kw,
                color="tab:red",
                lw=0.9,
                label="office (right axis)",
            )
            twin.set_ylabel("office load, kW")
            twin.legend(loc="upper right", fontsize=8)
        ax.legend(loc="upper left", fontsize=8)

        ax = axes[1, col]
        if pv_homes:
            home = pv_homes[0]
            capacity = pv_capacity_kw[dataset.home_ids[home]]
            ax.plot(
                x,
                dataset.home_pv_kwh[week, home] * to_kw / capacity,
                lw=1.0,
                label=f"{dataset.home_ids[home]} ({capacity:g} kWp)",
            )
        if dataset.has_office and pv_capacity_kw.get("office", 0) > 0:
            ax.plot(
                x,
                dataset.office_pv_kwh[week] * to_kw / pv_capacity_kw["office"],
                lw=1.0,
                ls="--",
                label=f"office ({pv_capacity_kw['office']:g} kWp)",
            )
        ax.set_ylabel("PV output, kW per kWp")
        ax.legend(loc="upper right", fontsize=8)

        ax = axes[2, col]
        location = dataset.phv_location[week]
        ax.step(x, (location == Location.HOME).sum(axis=1), where="post", label="at home")
        ax.step(x, (location == Location.OFFICE).sum(axis=1), where="post", label="at the office")
        ax.set_ylabel(f"PHVs (of {dataset.n_phv})")
        ax.set_xlabel("days from Monday 00:00")
        ax.legend(loc="upper right", fontsize=8)
        for row in axes[:, col]:
            row.set_xlim(0, 7)
            row.grid(alpha=0.3)
    figure.suptitle(
        f"p2p-gym data: {dataset.source} ({dataset.n_homes} homes, {dataset.n_phv} PHVs)"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    return titles
