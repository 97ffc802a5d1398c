"""Japanese public holidays and the per-slot calendar."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from p2p_env.data.calendar import build_calendar, japanese_holidays

# Published by the Cabinet Office (国民の祝日について), substitute and special days included.
HOLIDAYS_2019 = [
    "01-01", "01-14", "02-11", "03-21", "04-29", "04-30", "05-01", "05-02", "05-03", "05-04",
    "05-05", "05-06", "07-15", "08-11", "08-12", "09-16", "09-23", "10-14", "10-22", "11-03",
    "11-04", "11-23",
]  # fmt: skip
HOLIDAYS_2020 = [
    "01-01", "01-13", "02-11", "02-23", "02-24", "03-20", "04-29", "05-03", "05-04", "05-05",
    "05-06", "07-23", "07-24", "08-10", "09-21", "09-22", "11-03", "11-23",
]  # fmt: skip


@pytest.mark.parametrize(("year", "days"), [(2019, HOLIDAYS_2019), (2020, HOLIDAYS_2020)])
def test_holidays_match_the_published_calendar(year: int, days: list[str]) -> None:
    expected = {dt.date.fromisoformat(f"{year}-{d}") for d in days}
    assert japanese_holidays(year) == expected


def test_silver_week_sandwiched_day_2015() -> None:
    # 21 Sep 2015 (Respect for the Aged) and 23 Sep (equinox) make 22 Sep a citizens' holiday.
    assert dt.date(2015, 9, 22) in japanese_holidays(2015)


def test_year_outside_the_rules_is_refused() -> None:
    with pytest.raises(ValueError, match="2000-2099"):
        japanese_holidays(1999)


def test_calendar_of_a_japanese_week() -> None:
    # 2020-05-04 (Mon, holiday) 00:00 JST = 2020-05-03 15:00 UTC; three days of 48 slots.
    start = np.datetime64("2020-05-03T15:00", "s")
    cal = build_calendar(start, 3 * 48, 30, "Asia/Tokyo")
    assert cal.dates == (dt.date(2020, 5, 4), dt.date(2020, 5, 5), dt.date(2020, 5, 6))
    assert cal.slot_of_day[:3].tolist() == [0, 1, 2]
    assert cal.slot_of_day[47] == 47
    assert cal.slot_of_day[48] == 0
    assert cal.day_of_week[0] == 0  # Monday
    assert not cal.workday.any()  # all three are public holidays (the 6th is a substitute)
    assert cal.holiday.all()
    assert cal.month[0] == 5
    assert cal.day_of_year[0] == 125


def test_company_holidays_are_days_off_but_not_public_holidays() -> None:
    start = np.datetime64("2019-08-12T15:00", "s")  # 13 Aug 2019 00:00 JST, a Tuesday
    cal = build_calendar(start, 48, 30, "Asia/Tokyo")
    assert not cal.workday.any()
    assert not cal.holiday.any()


def test_outside_japan_only_weekends_and_company_days_are_off() -> None:
    start = np.datetime64("2020-05-04T00:00", "s")  # a Monday in UTC
    cal = build_calendar(start, 48, 30, "UTC")
    assert cal.workday.all()
