"""Synthetic data for a community: PV, household and office loads, PHV trips, from a seed.

One random stream per component (weather, homes, PV spread, office, PHVs), each derived from
``(data.seed, component)``: changing the number of homes leaves the weather, and so every PV
profile, unchanged; changing the trips leaves the loads unchanged.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray

from p2p_env.config import CommunityConfig, GymConfig, PVConfig
from p2p_env.data import solar
from p2p_env.data.calendar import Calendar, build_calendar
from p2p_env.data.dataset import Dataset
from p2p_env.data.loads import HouseholdParams, household_loads, office_load
from p2p_env.data.phv import phv_trips

GENERATOR_VERSION = 2
"""Bump whenever generated numbers change for the same config and seed (invalidates caches)."""

_STREAMS = {"weather": 1, "homes": 2, "pv_spread": 3, "office": 4, "phv": 5}


def agent_ids(prefix: str, n: int) -> tuple[str, ...]:
    """``prefix_00``... as the environment names its agents (2 digits at least, more if needed)."""
    width = max(2, len(str(max(n - 1, 0))))
    return tuple(f"{prefix}_{i:0{width}d}" for i in range(n))


@dataclass(frozen=True)
class Layout:
    """Homes and PHVs of a community, in agent order."""

    home_ids: tuple[str, ...]
    home_groups: tuple[str, ...]
    group_index: NDArray[np.int64]
    annual_kwh: NDArray[np.float64]
    pv: tuple[PVConfig | None, ...]
    phv_ids: tuple[str, ...]
    phv_home: NDArray[np.int64]


def community_layout(community: CommunityConfig) -> Layout:
    """Homes numbered through ``home_groups`` (``count * scale`` each), PHVs through their homes."""
    groups: list[str] = []
    group_index: list[int] = []
    annual: list[float] = []
    pv: list[PVConfig | None] = []
    phv_home: list[int] = []
    for g, group in enumerate(community.home_groups):
        for _ in range(group.count * community.scale):
            if group.phv:
                phv_home.append(len(groups))
            groups.append(group.name)
            group_index.append(g)
            annual.append(group.annual_kwh)
            pv.append(group.pv)
    return Layout(
        home_ids=agent_ids("home", len(groups)),
        home_groups=tuple(groups),
        group_index=np.asarray(group_index, dtype=np.int64),
        annual_kwh=np.asarray(annual, dtype=np.float64),
        pv=tuple(pv),
        phv_ids=agent_ids("phv", len(phv_home)),
        phv_home=np.asarray(phv_home, dtype=np.int64),
    )


def span_start_and_slots(
    start: dt.date, end: dt.date, timezone: str, slot_minutes: int
) -> tuple[np.datetime64, int]:
    """UTC start of local midnight of ``start`` and the number of slots to the end of ``end``."""
    zone = ZoneInfo(timezone)
    first = dt.datetime.combine(start, dt.time(), tzinfo=zone)
    stop = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=zone)
    seconds = int(first.timestamp())
    n_slots = (int(stop.timestamp()) - seconds) // (slot_minutes * 60)
    return np.datetime64(seconds, "s"), n_slots


def _rng(seed: int, stream: str) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, _STREAMS[stream]]))


def generate_dataset(config: GymConfig, *, key: str = "") -> Dataset:
    """Generate the community's time series over ``data.span`` (nothing is downloaded).

    Args:
        config: The run's config (community and data sections are used).
        key: Content key recorded in the data set (the cache key).

    Returns:
        The synthetic :class:`Dataset`.
    """
    community, data = config.community, config.data
    site = community.site
    layout = community_layout(community)
    start, n_slots = span_start_and_slots(
        data.span.start, data.span.end, site.timezone, data.slot_minutes
    )
    calendar = build_calendar(start, n_slots, data.slot_minutes, site.timezone)

    home_pv, office_pv = _pv(config, layout, start, n_slots, calendar)
    params = HouseholdParams(
        size_sigma=data.home_size_sigma,
        shift_std_slots=data.home_shift_std_slots,
        daytime_share_max=data.home_daytime_share_max,
        day_sigma=data.home_day_sigma,
        slot_sigma=data.home_slot_sigma,
    )
    home_load = household_loads(
        _rng(data.seed, "homes"),
        calendar,
        layout.annual_kwh,
        layout.group_index,
        params,
        data.slot_minutes,
    )
    office = community.office
    if office is not None:
        office_kwh = office_load(
            _rng(data.seed, "office"),
            calendar,
            office.annual_kwh,
            data.office_slot_sigma,
            data.slot_minutes,
        )
    else:
        office_kwh = np.zeros(n_slots, dtype=np.float32)
    trips = phv_trips(
        _rng(data.seed, "phv"), calendar, len(layout.phv_ids), community.trips, data.slot_minutes
    )
    return Dataset(
        start_utc=start,
        slot_minutes=data.slot_minutes,
        timezone=site.timezone,
        home_ids=layout.home_ids,
        home_groups=layout.home_groups,
        phv_ids=layout.phv_ids,
        phv_home=layout.phv_home,
        has_office=office is not None,
        home_load_kwh=home_load,
        home_pv_kwh=home_pv,
        office_load_kwh=office_kwh,
        office_pv_kwh=office_pv,
        phv_location=trips.location,
        phv_km=trips.km,
        phv_km_per_kwh=community.phv.km_per_kwh,
        source="synthetic",
        key=key,
    )


def _pv(
    config: GymConfig,
    layout: Layout,
    start: np.datetime64,
    n_slots: int,
    calendar: Calendar,
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """PV per slot, kWh, for the homes (slots x homes) and the office (slots)."""
    community, data = config.community, config.data
    site = community.site
    office_spec = community.office.pv if community.office is not None else None
    specs = sorted(
        {_spec(p) for p in (*layout.pv, office_spec) if p is not None}
    )  # one pvlib evaluation per distinct orientation and loss
    home_pv = np.zeros((n_slots, len(layout.home_ids)), dtype=np.float32)
    office_pv = np.zeros(n_slots, dtype=np.float32)
    if not specs or n_slots == 0:
        return home_pv, office_pv

    slot_s = data.slot_minutes * 60
    base = float(start.astype("datetime64[s]").astype(np.int64))
    instants = (
        base
        + np.arange(n_slots, dtype=np.float64)[:, None] * slot_s
        + np.asarray(solar.SUBSTEP_FRACTIONS)[None, :] * slot_s
    )
    altitude = solar.site_altitude(site.latitude_deg, site.longitude_deg, site.altitude_m)
    sky = solar.clear_sky(instants, site.latitude_deg, site.longitude_deg, altitude)
    weather = _rng(data.seed, "weather")
    day_doy = np.array([d.timetuple().tm_yday for d in calendar.dates], dtype=np.float64)
    monthly = data.clear_sky_index_monthly or solar.CENTRAL_JAPAN_CLEAR_SKY_INDEX
    kc_day = solar.daily_clear_sky_index(weather, day_doy, monthly, data.cloud_persistence)
    kc = solar.slot_clear_sky_index(
        weather, kc_day, calendar.day_index, sky.ghi.mean(axis=1), data.cloud_intraday_sigma
    )
    local_hour = (calendar.slot_of_day[:, None] + np.asarray(solar.SUBSTEP_FRACTIONS)[None, :]) * (
        data.slot_minutes / 60
    )
    temp = solar.ambient_temperature(weather, sky.day_of_year, local_hour, kc[:, None], altitude)
    slot_h = data.slot_minutes / 60
    per_kwp = {
        spec: (solar.pv_ac_per_kwp(sky, kc[:, None], temp, *spec) * slot_h).astype(np.float32)
        for spec in specs
    }

    spread = _rng(data.seed, "pv_spread")
    derate = np.clip(
        1.0 + data.pv_derate_std * spread.standard_normal(len(layout.home_ids)), 0.5, 1.2
    )
    for spec in specs:
        cols = [i for i, p in enumerate(layout.pv) if p is not None and _spec(p) == spec]
        if cols:
            capacity = np.array([layout.pv[i].capacity_kw for i in cols])  # type: ignore[union-attr]
            factor = (capacity * derate[cols]).astype(np.float32)
            home_pv[:, cols] = per_kwp[spec][:, None] * factor[None, :]
    if office_spec is not None:
        office_pv[:] = per_kwp[_spec(office_spec)] * np.float32(office_spec.capacity_kw)
    return home_pv, office_pv


def _spec(pv: PVConfig) -> tuple[float, float, float]:
    return (pv.tilt_deg, pv.azimuth_deg, pv.system_losses_pct)
