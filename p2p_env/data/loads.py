"""Household and office loads: BDEW 2025 standard load profiles rescaled to Japan.

Shapes: the BDEW 2025 standard load profiles H25 (households) and G25 (commerce), as shipped
with demandlib (MIT; values per month, day type WT/SA/FT and quarter hour). They are read from
demandlib's CSV files directly: demandlib's ``H25``/``G25`` classes use pandas calls deprecated in
pandas 3.1, and we only need the table. Quarter hours are averaged into 30-minute slots and the
clock is read as the site's local time.

Level and season: each month's day shapes are normalised to mean 1 (weighting the day types by
their share of the span's days) and then multiplied by Japanese monthly factors
(:data:`HOUSEHOLD_MONTHLY_FACTORS`, :data:`OFFICE_MONTHLY_FACTORS`), interpolated between
mid-month values, so the German seasonal level of BDEW is replaced by the Japanese one while the
daily shapes and the weekday/weekend contrast stay BDEW's.

Households differ (all drawn per home, seeded): an annual size factor (lognormal, normalised so
each group's mean is the config's ``annual_kwh``), a time shift of the daily shape (whole slots),
a share of the "at home" Saturday shape mixed into workdays (occupants at home in the daytime), a
day-level factor (AR(1) over days) and slot-level noise (AR(1) over slots), both lognormal with
mean 1. A community-wide day factor (weather-driven heating and cooling) is shared by all homes.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from p2p_env.data.calendar import Calendar
from p2p_env.data.solar import ar1, interpolate_monthly

FloatArray = NDArray[np.float64]

HOUSEHOLD_MONTHLY_FACTORS: tuple[float, ...] = (
    1.30, 1.27, 1.10, 0.93, 0.80, 0.78, 0.88, 1.12, 1.00, 0.82, 0.88, 1.12,
)  # fmt: skip
"""Household consumption by month relative to the annual mean, Jan..Dec (mean 1).

An assumption shaped after Japanese household metering: consumption peaks in January-February
(heating, short days), rises again in August (cooling) and is lowest in May-June and October
(e.g. the Fukuoka 'eco-family' monthly readings of FY2010-2011 show 'a peak in January and a
rise in August' for every household size)."""

OFFICE_MONTHLY_FACTORS: tuple[float, ...] = (
    1.05, 1.03, 0.97, 0.92, 0.93, 1.00, 1.10, 1.15, 1.07, 0.95, 0.92, 1.00,
)  # fmt: skip
"""Office consumption by month relative to the mean, Jan..Dec (normalised to mean 1 in use).

An assumption: Japanese office buildings peak in summer (air conditioning) with a smaller winter
rise."""

DayType = Literal["WT", "SA", "FT"]
_DAY_TYPES: tuple[DayType, ...] = ("WT", "SA", "FT")
_MONTHS_DE = (
    "Januar", "Februar", "März", "April", "Mai", "Juni",
    "Juli", "August", "September", "Oktober", "November", "Dezember",
)  # fmt: skip

HOME_MAX_KW = 6.0
"""Largest 30-minute mean household load, kW: 60 A at 100 V, the largest ampere contract of TEPCO's
meter-rate lighting B (larger homes switch to kVA contracts). Clips the rare product of a large
home, an evening peak and two noise terms; it removes a negligible amount of energy."""

MAX_SHIFT_SLOTS = 4
"""Largest time shift of a home's daily shape, slots."""

COMMUNITY_DAY_SIGMA = 0.08
"""Community-wide day factor: lognormal sigma (shared weather-driven variation)."""
COMMUNITY_DAY_RHO = 0.8
HOME_DAY_RHO = 0.6
HOME_SLOT_RHO = 0.5
OFFICE_DAY_SIGMA = 0.05
OFFICE_SLOT_RHO = 0.7

CHUNK_HOMES = 256
"""Homes generated per batch: bounds memory for large communities (the batch size is fixed, so
results depend only on the config and the seed)."""


@cache
def bdew_table(profile: Literal["h25", "g25"]) -> FloatArray:
    """BDEW 2025 profile as ``(12 months, 3 day types WT/SA/FT, 48 half hours)``, kW per 1 MWh/a.

    Read from the CSV shipped with demandlib (``demandlib/bdew/bdew_data``).
    """
    text = (resources.files("demandlib.bdew") / "bdew_data" / f"{profile}.csv").read_text(
        encoding="utf-8"
    )
    rows = list(csv.reader(text.splitlines()))
    months, day_types = rows[0][1:], rows[1][1:]
    values = np.array([[float(x) for x in row[1:]] for row in rows[2:]], dtype=np.float64)
    if values.shape != (96, 36):
        raise ValueError(f"unexpected BDEW table shape {values.shape} in demandlib's {profile}.csv")
    table = np.empty((12, 3, 48))
    for col, (month, day_type) in enumerate(zip(months, day_types, strict=True)):
        m = _MONTHS_DE.index(month)
        d = [str(x) for x in _DAY_TYPES].index(day_type)
        # kWh per quarter hour -> mean kW over each half hour.
        table[m, d] = values[:, col].reshape(48, 2).sum(axis=1) * 2
    return table


def _monthly_normalised(table: FloatArray, weights: dict[DayType, float]) -> FloatArray:
    """Scale each month so that its week-weighted mean over day types and slots is 1."""
    w = np.array([weights[d] for d in _DAY_TYPES])
    mean = np.einsum("mds,d->m", table, w) / table.shape[2]
    return np.asarray(table / mean[:, None, None], dtype=np.float64)


def _year_normaliser(monthly: tuple[float, ...]) -> float:
    """Mean over a 365-day year of the interpolated monthly factors (to rescale to mean 1)."""
    return float(interpolate_monthly(monthly, np.arange(1, 366) + 0.5).mean())


def _day_type_weights(day_type: NDArray[np.int64]) -> dict[DayType, float]:
    """Share of slots of each day type: normalising with it makes the span's mean exactly 1."""
    counts = np.bincount(day_type, minlength=3) / max(day_type.shape[0], 1)
    return {d: float(counts[i]) for i, d in enumerate(_DAY_TYPES)}


def _day_type_index(calendar: Calendar, *, saturday_is_off: bool) -> NDArray[np.int64]:
    """0 = WT, 1 = SA, 2 = FT per slot: workdays WT; Saturdays SA; Sundays and holidays FT."""
    off = ~calendar.workday
    saturday = (calendar.day_of_week == 5) & ~calendar.holiday
    if saturday_is_off:
        return np.where(off, 2, 0).astype(np.int64)
    return np.where(~off, 0, np.where(saturday, 1, 2)).astype(np.int64)


def _season(calendar: Calendar, monthly: tuple[float, ...]) -> FloatArray:
    doy = calendar.day_of_year.astype(np.float64) + (calendar.slot_of_day + 0.5) / 48.0
    return np.asarray(interpolate_monthly(monthly, doy) / _year_normaliser(monthly))


def _lognormal(z: FloatArray, sigma: float) -> FloatArray:
    """Mean-one lognormal factor from standard normal ``z``."""
    return np.asarray(np.exp(sigma * z - 0.5 * sigma * sigma), dtype=np.float64)


@dataclass(frozen=True)
class HouseholdParams:
    """Per-home variation of household loads (from :class:`~p2p_env.config.DataConfig`)."""

    size_sigma: float
    shift_std_slots: float
    daytime_share_max: float
    day_sigma: float
    slot_sigma: float


def household_loads(
    rng: np.random.Generator,
    calendar: Calendar,
    annual_kwh: FloatArray,
    group_index: NDArray[np.int64],
    params: HouseholdParams,
    slot_minutes: int,
) -> NDArray[np.float32]:
    """Household consumption per slot, kWh (slots x homes).

    Args:
        rng: The households' random stream.
        calendar: Calendar of the slots.
        annual_kwh: Mean annual consumption of each home's group, kWh.
        group_index: Group of each home (size factors are normalised within a group).
        params: Per-home variation.
        slot_minutes: Slot length.

    Returns:
        float32 array, slots x homes.
    """
    n_slots, n_homes = calendar.slot_of_day.shape[0], annual_kwh.shape[0]
    day_type = _day_type_index(calendar, saturday_is_off=False)
    table = _monthly_normalised(bdew_table("h25"), _day_type_weights(day_type))
    month = calendar.month.astype(np.int64) - 1
    slot = calendar.slot_of_day.astype(np.int64)
    season = _season(calendar, HOUSEHOLD_MONTHLY_FACTORS)
    shape_day = table[month, day_type, slot] * season
    # The "at home" variant of a workday: that month's Saturday shape, rescaled to the workday's
    # daily energy (it moves consumption into the daytime without adding to it).
    at_home = table[:, 1, :] * (table[:, 0, :].sum(axis=1) / table[:, 1, :].sum(axis=1))[:, None]
    shape_home = np.where(day_type == 0, at_home[month, slot], table[month, day_type, slot])
    shape_home = shape_home * season

    size = _lognormal(rng.standard_normal(size=(n_homes,)), params.size_sigma)
    for g in np.unique(group_index):
        members = group_index == g
        size[members] /= size[members].mean()
    shift = np.clip(
        np.rint(rng.normal(0.0, params.shift_std_slots, n_homes)), -MAX_SHIFT_SLOTS, MAX_SHIFT_SLOTS
    ).astype(np.int64)
    home_share = rng.uniform(0.0, params.daytime_share_max, size=(n_homes,))

    n_days = calendar.n_days
    community_day = _lognormal(
        ar1(rng.standard_normal((n_days, 1)), COMMUNITY_DAY_RHO)[:, 0], COMMUNITY_DAY_SIGMA
    )[calendar.day_index]
    mean_kwh_per_slot = annual_kwh * size / (365.0 * 24.0 * 60.0 / slot_minutes)

    # Work in homes x slots float32 (time contiguous): the hot path for large communities.
    # Shifts take few values, so shift the two base shapes once per value and pick rows.
    t = np.arange(n_slots)
    shifts = np.arange(-MAX_SHIFT_SLOTS, MAX_SHIFT_SLOTS + 1)
    shifted = np.clip(t[None, :] - shifts[:, None], 0, n_slots - 1)
    day_by_shift = shape_day[shifted].astype(np.float32)
    home_by_shift = shape_home[shifted].astype(np.float32)
    community32 = community_day.astype(np.float32)
    day_index = calendar.day_index
    sigma = np.float32(params.slot_sigma)
    out = np.empty((n_slots, n_homes), dtype=np.float32)
    for lo in range(0, n_homes, CHUNK_HOMES):
        hi = min(lo + CHUNK_HOMES, n_homes)
        k = hi - lo
        row = shift[lo:hi] + MAX_SHIFT_SLOTS
        w = home_share[lo:hi, None].astype(np.float32)
        rel = (1 - w) * day_by_shift[row] + w * home_by_shift[row]
        day = ar1(rng.standard_normal((n_days, k)), HOME_DAY_RHO)
        rel *= _lognormal(day, params.day_sigma).astype(np.float32).T[:, day_index]
        slot_noise = ar1(rng.standard_normal((k, n_slots), dtype=np.float32), HOME_SLOT_RHO, axis=1)
        rel *= np.exp(sigma * slot_noise - np.float32(0.5) * sigma * sigma)
        rel *= community32[None, :] * mean_kwh_per_slot[lo:hi, None].astype(np.float32)
        np.minimum(rel, np.float32(HOME_MAX_KW * slot_minutes / 60), out=rel)
        out[:, lo:hi] = rel.T
    return out


def office_load(
    rng: np.random.Generator,
    calendar: Calendar,
    annual_kwh: float,
    slot_sigma: float,
    slot_minutes: int,
) -> NDArray[np.float32]:
    """Office consumption per slot, kWh: BDEW G25, workdays WT, every day off FT.

    Japanese offices (and the demonstration's research site) close on Saturdays, so Saturdays,
    Sundays, public and company holidays all take G25's Sunday/holiday shape.
    """
    day_type = _day_type_index(calendar, saturday_is_off=True)
    table = _monthly_normalised(bdew_table("g25"), _day_type_weights(day_type))
    month = calendar.month.astype(np.int64) - 1
    slot = calendar.slot_of_day.astype(np.int64)
    rel = table[month, day_type, slot] * _season(calendar, OFFICE_MONTHLY_FACTORS)
    n_slots = rel.shape[0]
    day = ar1(rng.standard_normal((calendar.n_days, 1)), 0.7)[:, 0]
    rel = rel * _lognormal(day, OFFICE_DAY_SIGMA)[calendar.day_index]
    noise = ar1(rng.standard_normal((n_slots, 1)), OFFICE_SLOT_RHO)[:, 0]
    rel = rel * _lognormal(noise, slot_sigma)
    mean_kwh_per_slot = annual_kwh / (365.0 * 24.0 * 60.0 / slot_minutes)
    return (rel * mean_kwh_per_slot).astype(np.float32)
