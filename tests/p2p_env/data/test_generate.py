"""Synthetic data: statistics within the documented ranges, layout, determinism.

Documented ranges (README, Data): households 4,047 kWh/a on average (FY2019 national average),
each home between 1,500 and 10,000 kWh/a; January and August above May, June and October; PV
1,100-1,300 kWh/kWp/a at the site; PHVs 5-40 km a day on average.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from p2p_env.config import GymConfig, load_config
from p2p_env.data import Dataset, Location, generate_dataset
from p2p_env.sim.community import Community

from .conftest import SHORT_SPAN

YEAR = (dt.date(2019, 7, 1), dt.date(2020, 6, 30))


def _year(ds: Dataset) -> slice:
    return ds.day_slots(*YEAR)


def test_ids_follow_the_environment_agents(demo_config: GymConfig, demo_dataset: Dataset) -> None:
    community = Community.from_config(demo_config)
    assert demo_dataset.entity_ids == community.agents
    assert demo_dataset.home_groups == community.home_group
    np.testing.assert_array_equal(demo_dataset.phv_home, community.phv_home)
    assert demo_dataset.n_homes == 20
    assert demo_dataset.n_phv == 9


def test_span_is_whole_local_days(demo_config: GymConfig, demo_dataset: Dataset) -> None:
    span = demo_config.data.span
    days = (span.end - span.start).days + 1
    assert demo_dataset.n_slots == days * 48
    assert demo_dataset.local_start() == dt.datetime(
        2019, 6, 1, tzinfo=demo_dataset.local_start().tzinfo
    )
    assert demo_dataset.calendar.dates[0] == span.start
    assert demo_dataset.calendar.dates[-1] == span.end


def test_household_annual_consumption(demo_dataset: Dataset) -> None:
    annual = demo_dataset.home_load_kwh[_year(demo_dataset)].astype(np.float64).sum(axis=0)
    assert 4047 * 0.95 < annual.mean() < 4047 * 1.05
    assert annual.min() > 1500
    assert annual.max() < 10_000
    assert annual.std() / annual.mean() > 0.1, "homes should differ in size"
    assert np.all(demo_dataset.home_load_kwh >= 0)


def test_household_seasonality_peaks_in_winter_and_august(demo_dataset: Dataset) -> None:
    sl = _year(demo_dataset)
    month = demo_dataset.calendar.month[sl]
    daily = demo_dataset.home_load_kwh[sl].astype(np.float64).mean(axis=1)
    per_month = {m: daily[month == m].mean() for m in range(1, 13)}
    for peak in (1, 8):
        for low in (5, 6, 10):
            assert per_month[peak] > per_month[low] * 1.15, (peak, low, per_month)


def test_homes_are_not_identical(demo_dataset: Dataset) -> None:
    loads = demo_dataset.home_load_kwh[: 48 * 28].astype(np.float64)
    corr = np.corrcoef(loads.T)
    off_diagonal = corr[~np.eye(corr.shape[0], dtype=bool)]
    assert off_diagonal.max() < 0.9
    assert off_diagonal.mean() > 0.1, "homes still share daily rhythm and weather"


def test_evening_peak_and_night_trough(demo_dataset: Dataset) -> None:
    cal = demo_dataset.calendar
    mean = demo_dataset.home_load_kwh.astype(np.float64).mean(axis=1)
    by_slot = np.bincount(cal.slot_of_day, weights=mean) / np.bincount(cal.slot_of_day)
    assert by_slot[36:44].mean() > 1.5 * by_slot[4:10].mean()  # 18-22h vs 2-5h


def test_pv_yield_per_kwp(demo_config: GymConfig, demo_dataset: Dataset) -> None:
    community = Community.from_config(demo_config)
    sl = _year(demo_dataset)
    pv = demo_dataset.home_pv_kwh[sl].astype(np.float64).sum(axis=0)
    has_pv = community.home_pv_kw > 0
    assert np.all(pv[~has_pv] == 0)
    per_kwp = pv[has_pv] / community.home_pv_kw[has_pv]
    assert np.all((per_kwp > 1100) & (per_kwp < 1300)), per_kwp
    office = demo_dataset.office_pv_kwh[sl].astype(np.float64).sum() / community.office_pv_kw
    assert 1100 < office < 1300


def test_pv_is_zero_at_night_and_bounded(demo_config: GymConfig, demo_dataset: Dataset) -> None:
    cal = demo_dataset.calendar
    night = (cal.slot_of_day < 8) | (cal.slot_of_day >= 40)  # before 04:00, after 20:00
    assert np.all(demo_dataset.home_pv_kwh[night] == 0)
    capacity = Community.from_config(demo_config).home_pv_kw
    assert np.all(demo_dataset.home_pv_kwh <= capacity * 0.5 + 1e-6)  # kWh per 30 min


def test_pv_summer_beats_rainy_season_per_clear_day(demo_dataset: Dataset) -> None:
    # Cloudiness: June (tsuyu) has fewer sunny days than January at the site.
    cal, pv = demo_dataset.calendar, demo_dataset.home_pv_kwh[:, 12].astype(np.float64)
    daily = np.bincount(cal.day_index, weights=pv)
    clear_potential = {m: daily[np.array([d.month == m for d in cal.dates])].max() for m in (1, 6)}
    ratio = {m: daily[np.array([d.month == m for d in cal.dates])].mean() / clear_potential[m]
             for m in (1, 6)}  # fmt: skip
    assert ratio[6] < ratio[1]


def test_office_load(demo_config: GymConfig, demo_dataset: Dataset) -> None:
    sl = _year(demo_dataset)
    office = demo_dataset.office_load_kwh[sl].astype(np.float64)
    annual = demo_config.community.office
    assert annual is not None
    assert abs(office.sum() / annual.annual_kwh - 1) < 0.05
    cal = demo_dataset.calendar
    work = cal.workday[sl] & (cal.slot_of_day[sl] >= 20) & (cal.slot_of_day[sl] < 32)
    off = ~cal.workday[sl] & (cal.slot_of_day[sl] >= 20) & (cal.slot_of_day[sl] < 32)
    assert office[work].mean() > 1.8 * office[off].mean()


def test_phv_daily_km_and_places(demo_dataset: Dataset) -> None:
    ds = demo_dataset
    cal = ds.calendar
    km_per_day = ds.phv_km.astype(np.float64).sum(axis=0) / cal.n_days
    assert np.all((km_per_day > 5) & (km_per_day < 40)), km_per_day
    # Everyone is home at 03:00.
    assert np.all(ds.phv_location[cal.slot_of_day == 6] == Location.HOME)
    # The office only on workdays, in the daytime.
    at_office = (ds.phv_location == Location.OFFICE).any(axis=1)
    assert not np.any(at_office & ~cal.workday)
    assert np.all((cal.slot_of_day[at_office] >= 12) & (cal.slot_of_day[at_office] < 44))
    # Km are booked only in slots the car is away.
    assert np.all(ds.phv_km[ds.phv_location != Location.AWAY] == 0)
    # Workdays: most cars drive; about 80 % of the commuters park at the office.
    workday_km = np.bincount(cal.day_index, weights=ds.phv_km.sum(axis=1))[cal.workday_by_day]
    assert np.median(workday_km) > 9 * 2 * 12 * 0.6
    office_days = np.zeros((cal.n_days, ds.n_phv), dtype=bool)
    np.logical_or.at(office_days, cal.day_index, ds.phv_location == Location.OFFICE)
    share = office_days[cal.workday_by_day].mean()
    assert 0.55 < share < 0.85


def test_phv_helpers_agree_with_trips(demo_dataset: Dataset) -> None:
    ds = demo_dataset
    kwh = ds.phv_trip_kwh.astype(np.float64)
    np.testing.assert_allclose(kwh * ds.phv_km_per_kwh, ds.phv_km, rtol=1e-5)
    # Summed over a parked car's next stint, the energy equals what the stint books.
    parked = ds.phv_location != Location.AWAY
    assert np.all(ds.phv_slots_to_departure[parked] > 0)
    assert np.all(ds.phv_slots_to_departure[~parked] == 0)
    assert np.all(ds.phv_kwh_to_next_plug >= -1e-6)


def test_generation_is_deterministic_per_seed(short_config: GymConfig) -> None:
    a = generate_dataset(short_config)
    b = generate_dataset(short_config)
    assert a.equals(b)
    other = generate_dataset(load_config("higashifuji_demo", (*SHORT_SPAN, "data.seed=1")))
    assert not np.array_equal(a.home_load_kwh, other.home_load_kwh)
    assert not np.array_equal(a.home_pv_kwh, other.home_pv_kwh)
    assert not np.array_equal(a.phv_km, other.phv_km)


def test_weather_does_not_depend_on_the_number_of_homes() -> None:
    small = generate_dataset(load_config("higashifuji_demo", SHORT_SPAN))
    big = generate_dataset(load_config("higashifuji_demo", (*SHORT_SPAN, "community.scale=3")))
    assert big.n_homes == 60
    assert big.n_phv == 27
    np.testing.assert_array_equal(small.office_pv_kwh, big.office_pv_kwh)


def test_large_community_scales(short_config: GymConfig) -> None:
    cfg = load_config("higashifuji_demo", (*SHORT_SPAN, "community.scale=100"))
    ds = generate_dataset(cfg)
    assert ds.home_load_kwh.shape == (4 * 48, 2000)
    assert ds.home_load_kwh.dtype == np.float32
    assert ds.entity_ids[0] == "home_0000"
    assert ds.phv_ids[-1] == "phv_899"
    assert np.isfinite(ds.home_load_kwh).all()


@pytest.mark.parametrize("field", ["home_size_sigma", "home_slot_sigma", "home_day_sigma"])
def test_zero_variation_makes_homes_of_a_group_equal(field: str) -> None:
    overrides = (
        *SHORT_SPAN,
        "data.home_size_sigma=0",
        "data.home_shift_std_slots=0",
        "data.home_daytime_share_max=0",
        "data.home_day_sigma=0",
        "data.home_slot_sigma=0",
    )
    ds = generate_dataset(load_config("higashifuji_demo", overrides))
    np.testing.assert_allclose(ds.home_load_kwh[:, 0], ds.home_load_kwh[:, 5], rtol=1e-6)
    varied = generate_dataset(load_config("higashifuji_demo", (*overrides, f"data.{field}=0.3")))
    assert not np.allclose(varied.home_load_kwh[:, 0], varied.home_load_kwh[:, 5])


def test_household_load_stays_within_the_largest_ampere_contract() -> None:
    # Seed 3 draws a large home whose evening peak would exceed 6 kW without the cap.
    ds = generate_dataset(load_config("higashifuji_demo", ["data.seed=3"]))
    peak_kw = ds.home_load_kwh.max() / ds.slot_hours
    assert peak_kw == pytest.approx(6.0)
    assert (ds.home_load_kwh / ds.slot_hours >= 5.99).sum() < 10
