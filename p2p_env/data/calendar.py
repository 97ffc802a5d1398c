"""The calendar of the time series: Japanese public holidays, company holidays and slot features.

Households and the office behave differently on workdays and days off, and commuters only drive to
the office on workdays. Japanese public holidays follow the Act on National Holidays
(国民の祝日に関する法律) as amended up to 2021, computed by rule for 2000-2099, with the one-off
changes of 2019 (the enthronement: 30 April to 2 May and 22 October) and of the Tokyo Olympics
(2020 and 2021: Marine Day, Sports Day and Mountain Day moved). Equinox days use the usual
approximation of the National Astronomical Observatory's dates (valid 1980-2099). No holiday
package is installed, so the rules live here and the tests check them against the published
calendars of 2019 and 2020.

Company holidays (``COMPANY_HOLIDAYS``) are an assumption: Japanese manufacturers, Toyota among
them, close over New Year (29 December - 3 January) and Obon (13-16 August); the office is closed
and commuters stay home on those days.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray

JAPAN_TIMEZONE = "Asia/Tokyo"

COMPANY_HOLIDAYS: tuple[tuple[int, int], ...] = (
    (12, 29),
    (12, 30),
    (12, 31),
    (1, 2),
    (1, 3),
    (8, 13),
    (8, 14),
    (8, 15),
    (8, 16),
)
"""(month, day) closed at the office besides weekends and public holidays (assumption)."""

_FIRST_YEAR, _LAST_YEAR = 2000, 2099

# One-off moves and additions (Cabinet Office announcements).
_SPECIAL_ADD: dict[int, tuple[tuple[int, int], ...]] = {
    2019: ((4, 30), (5, 1), (5, 2), (10, 22)),
    2020: ((7, 23), (7, 24), (8, 10)),
    2021: ((7, 22), (7, 23), (8, 8)),
}
_MOVED_IN = frozenset({2020, 2021})  # Marine, Sports and Mountain Day moved for the Olympics


def _nth_monday(year: int, month: int, n: int) -> dt.date:
    first = dt.date(year, month, 1)
    offset = (7 - first.weekday()) % 7  # days to the first Monday
    return first + dt.timedelta(days=offset + 7 * (n - 1))


def _equinox_days(year: int) -> tuple[dt.date, dt.date]:
    """Vernal and autumnal equinox days (approximation valid 1980-2099)."""
    y = year - 1980
    spring = int(20.8431 + 0.242194 * y - y // 4)
    autumn = int(23.2488 + 0.242194 * y - y // 4)
    return dt.date(year, 3, spring), dt.date(year, 9, autumn)


@cache
def japanese_holidays(year: int) -> frozenset[dt.date]:
    """Japanese public holidays of ``year``, substitute and sandwiched days included.

    Args:
        year: 2000 to 2099.

    Returns:
        The set of dates that are public holidays.

    Raises:
        ValueError: ``year`` outside the supported range.
    """
    if not _FIRST_YEAR <= year <= _LAST_YEAR:
        raise ValueError(
            f"Japanese holidays are computed for {_FIRST_YEAR}-{_LAST_YEAR}, got year {year}"
        )
    spring, autumn = _equinox_days(year)
    days = {
        dt.date(year, 1, 1),
        _nth_monday(year, 1, 2),  # Coming of Age Day
        dt.date(year, 2, 11),  # National Foundation Day
        spring,
        dt.date(year, 4, 29),  # Showa Day (Greenery Day before 2007)
        dt.date(year, 5, 3),
        dt.date(year, 5, 4),
        dt.date(year, 5, 5),
        _nth_monday(year, 9, 3),  # Respect for the Aged Day
        autumn,
        dt.date(year, 11, 3),  # Culture Day
        dt.date(year, 11, 23),  # Labour Thanksgiving Day
    }
    if year <= 2018:
        days.add(dt.date(year, 12, 23))  # the Heisei Emperor's birthday
    if year >= 2020:
        days.add(dt.date(year, 2, 23))  # the Reiwa Emperor's birthday
    if year not in _MOVED_IN:
        days.add(_nth_monday(year, 7, 3) if year >= 2003 else dt.date(year, 7, 20))  # Marine Day
        days.add(_nth_monday(year, 10, 2))  # Health and Sports Day
        if year >= 2016:
            days.add(dt.date(year, 8, 11))  # Mountain Day
    days.update(dt.date(year, m, d) for m, d in _SPECIAL_ADD.get(year, ()))

    # A day between two holidays becomes a holiday ("citizens' holiday"), unless it is a Sunday.
    for day in sorted(days):
        gap = day + dt.timedelta(days=2)
        middle = day + dt.timedelta(days=1)
        if gap in days and middle not in days and middle.weekday() != 6:
            days.add(middle)
    # A holiday on a Sunday moves to the next day that is not a holiday (since 2007).
    for day in sorted(days):
        if day.weekday() == 6:
            substitute = day + dt.timedelta(days=1)
            while substitute in days:
                substitute += dt.timedelta(days=1)
            days.add(substitute)
    return frozenset(days)


def is_company_holiday(day: dt.date) -> bool:
    """Whether ``day`` is one of :data:`COMPANY_HOLIDAYS`."""
    return (day.month, day.day) in COMPANY_HOLIDAYS


@dataclass(frozen=True, eq=False)
class Calendar:
    """Per-slot calendar features, all local time of the site (arrays of length ``n_slots``).

    ``day_index`` numbers the local calendar days of the span from 0; ``workday`` is Monday to
    Friday outside public and company holidays; ``holiday`` marks public holidays only.
    """

    slot_of_day: NDArray[np.int16]
    day_index: NDArray[np.int32]
    day_of_week: NDArray[np.int8]
    """0 = Monday ... 6 = Sunday."""
    month: NDArray[np.int8]
    day_of_year: NDArray[np.int16]
    workday: NDArray[np.bool_]
    holiday: NDArray[np.bool_]
    dates: tuple[dt.date, ...]
    """The local dates of the span, indexed by ``day_index``."""

    workday_by_day: NDArray[np.bool_]
    """Workday flag per local day (length ``n_days``)."""

    @property
    def n_days(self) -> int:
        return len(self.dates)


def _is_workday(day: dt.date, japanese: bool) -> bool:
    if day.weekday() >= 5 or is_company_holiday(day):
        return False
    return not (japanese and day in japanese_holidays(day.year))


def build_calendar(
    start_utc: np.datetime64, n_slots: int, slot_minutes: int, timezone: str
) -> Calendar:
    """Calendar features of ``n_slots`` slots starting at ``start_utc`` (slot starts).

    Japanese public holidays apply when ``timezone`` is ``Asia/Tokyo``; elsewhere only weekends and
    company holidays are days off (the gym models a Japanese community).

    Args:
        start_utc: First slot start, ``datetime64`` in UTC.
        n_slots: Number of slots.
        slot_minutes: Slot length in minutes.
        timezone: IANA time zone of the site.

    Returns:
        The per-slot :class:`Calendar`.
    """
    zone = ZoneInfo(timezone)
    japanese = timezone == JAPAN_TIMEZONE
    step = np.timedelta64(slot_minutes, "m")
    starts = start_utc.astype("datetime64[s]") + np.arange(n_slots) * step
    # Local offsets: only a handful of distinct offsets (DST), so convert per day boundary.
    seconds = starts.astype(np.int64)
    offsets = _utc_offsets(seconds, zone)
    local = seconds + offsets
    local_days = local // 86_400
    slot_of_day = ((local % 86_400) // (slot_minutes * 60)).astype(np.int16)
    first_day = int(local_days[0])
    day_index = (local_days - first_day).astype(np.int32)
    n_days = int(day_index[-1]) + 1 if n_slots else 0
    epoch = dt.date(1970, 1, 1)
    dates = tuple(epoch + dt.timedelta(days=first_day + i) for i in range(n_days))
    per_day_dow = np.array([d.weekday() for d in dates], dtype=np.int8)
    per_day_month = np.array([d.month for d in dates], dtype=np.int8)
    per_day_doy = np.array([d.timetuple().tm_yday for d in dates], dtype=np.int16)
    per_day_holiday = np.array(
        [japanese and d in japanese_holidays(d.year) for d in dates], dtype=bool
    )
    per_day_work = np.array([_is_workday(d, japanese) for d in dates], dtype=bool)
    return Calendar(
        slot_of_day=slot_of_day,
        day_index=day_index,
        day_of_week=per_day_dow[day_index],
        month=per_day_month[day_index],
        day_of_year=per_day_doy[day_index],
        workday=per_day_work[day_index],
        holiday=per_day_holiday[day_index],
        dates=dates,
        workday_by_day=per_day_work,
    )


def _utc_offsets(seconds: NDArray[np.int64], zone: ZoneInfo) -> NDArray[np.int64]:
    """UTC offset in seconds of each instant (vectorised over the hours where it may change)."""
    if seconds.size == 0:
        return np.zeros(0, dtype=np.int64)
    hours = np.unique(seconds // 3600)
    table = np.array(
        [_offset_seconds(dt.datetime.fromtimestamp(int(h) * 3600, tz=dt.UTC), zone) for h in hours],
        dtype=np.int64,
    )
    return table[np.searchsorted(hours, seconds // 3600)]


def _offset_seconds(instant: dt.datetime, zone: ZoneInfo) -> int:
    offset = instant.astimezone(zone).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0
