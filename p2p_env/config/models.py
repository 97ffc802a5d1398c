"""Typed configuration of a p2p-gym run.

Config is data: every YAML file in ``configs/`` is validated into :class:`GymConfig` before anything
runs. Units are human units named in the field (``_kw``, ``_kwh``, ``_jpy_per_kwh``); the exchange
and ledger convert them once into their exact integer units. Unknown keys are errors
(``extra="forbid"``), never ignored.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from typing import Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from exchange import available_mechanisms

_TAG_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


class StrictModel(BaseModel):
    """Base of every config model: unknown keys rejected, values immutable once validated."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


# --------------------------------------------------------------------------------------------
# Community
# --------------------------------------------------------------------------------------------


class SiteConfig(StrictModel):
    """Where the community is: drives the PV model and the calendar."""

    name: str = "Higashi-Fuji, Susono, Shizuoka"
    latitude_deg: float = Field(35.2, ge=-90, le=90)
    longitude_deg: float = Field(138.9, ge=-180, le=180)
    timezone: str = "Asia/Tokyo"
    altitude_m: float | None = Field(
        None, ge=-500, le=9000, description="None: looked up from pvlib's shipped altitude map."
    )

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {value!r} (e.g. 'Asia/Tokyo')") from exc
        return value


class PVConfig(StrictModel):
    """A rooftop PV system (PVWatts-style model)."""

    capacity_kw: float = Field(gt=0, le=10_000, description="DC nameplate, kWp")
    tilt_deg: float = Field(30.0, ge=0, le=90)
    azimuth_deg: float = Field(180.0, ge=0, lt=360, description="180 = due south")
    system_losses_pct: float = Field(14.0, ge=0, lt=100, description="PVWatts default 14 %")


class BatteryConfig(StrictModel):
    """A stationary home battery."""

    capacity_kwh: float = Field(gt=0, le=10_000)
    power_kw: float = Field(gt=0, le=10_000, description="max charge and discharge power")
    round_trip_efficiency: float = Field(0.9, gt=0, le=1)
    soc_min: float = Field(0.1, ge=0, lt=1, description="fraction of capacity")
    soc_max: float = Field(0.95, gt=0, le=1, description="fraction of capacity")
    initial_soc: float = Field(0.5, ge=0, le=1)

    @model_validator(mode="after")
    def _soc_order(self) -> Self:
        if not self.soc_min < self.soc_max:
            raise ValueError(f"soc_min ({self.soc_min}) must be below soc_max ({self.soc_max})")
        if not self.soc_min <= self.initial_soc <= self.soc_max:
            raise ValueError(
                f"initial_soc ({self.initial_soc}) must lie in [soc_min, soc_max] = "
                f"[{self.soc_min}, {self.soc_max}]"
            )
        return self


class PHVConfig(StrictModel):
    """The vehicle every PHV agent drives (default: Toyota Prius PHV, 2017)."""

    model: str = "Toyota Prius PHV (2017)"
    battery_kwh: float = Field(8.8, gt=0, le=200)
    charge_power_kw: float = Field(3.8, gt=0, le=350)
    charge_efficiency: float = Field(0.92, gt=0, le=1)
    discharge_power_kw: float = Field(
        0.0, ge=0, le=350, description="0 disables vehicle-to-building discharge"
    )
    km_per_kwh: float = Field(10.54, gt=0)
    fuel_km_per_l: float = Field(30.8, gt=0, description="hybrid mode once the battery is empty")
    soc_min: float = Field(0.0, ge=0, lt=1)
    soc_max: float = Field(1.0, gt=0, le=1)

    @model_validator(mode="after")
    def _soc_order(self) -> Self:
        if not self.soc_min < self.soc_max:
            raise ValueError(f"soc_min ({self.soc_min}) must be below soc_max ({self.soc_max})")
        return self


class TripConfig(StrictModel):
    """Commute pattern from which each PHV's daily trips are drawn (seeded)."""

    departure_hour_mean: float = Field(7.5, ge=0, lt=24)
    departure_hour_std: float = Field(0.5, ge=0, le=6)
    return_hour_mean: float = Field(18.5, ge=0, lt=24)
    return_hour_std: float = Field(1.0, ge=0, le=6)
    commute_km_mean: float = Field(12.0, ge=0, le=500, description="one way")
    commute_km_std: float = Field(4.0, ge=0, le=500)
    share_parked_at_office: float = Field(
        0.8, ge=0, le=1, description="workdays the car is parked at the office chargers"
    )
    weekend_trip_probability: float = Field(0.5, ge=0, le=1)
    weekend_km_mean: float = Field(30.0, ge=0, le=1000)
    days_off_per_year: int = Field(20, ge=0, le=260, description="workdays without a commute")

    @model_validator(mode="after")
    def _return_after_departure(self) -> Self:
        if not self.departure_hour_mean < self.return_hour_mean:
            raise ValueError(
                f"return_hour_mean ({self.return_hour_mean}) must be after "
                f"departure_hour_mean ({self.departure_hour_mean})"
            )
        return self


class HomeGroupConfig(StrictModel):
    """Homes that share equipment; the community is a list of such groups."""

    name: str = Field(min_length=1, max_length=64)
    count: int = Field(ge=0, le=1_000_000)
    annual_kwh: float = Field(4047.0, gt=0, le=100_000, description="mean household consumption")
    pv: PVConfig | None = None
    battery: BatteryConfig | None = None
    phv: bool = False
    buyback: str = Field("fit_fy2020", description="key into tariffs.buyback_jpy_per_kwh")

    @property
    def is_prosumer(self) -> bool:
        """Prosumers generate (PV); consumers only consume, as in the demonstration's groups."""
        return self.pv is not None


class OfficeConfig(StrictModel):
    """The office (demonstration: Toyota's Higashi-Fuji site): load, PV and PHV chargers."""

    annual_kwh: float = Field(gt=0, le=1e9)
    pv: PVConfig | None = None
    chargers: int = Field(ge=0, le=100_000)
    charger_power_kw: float = Field(3.8, gt=0, le=350)
    working_hours: tuple[float, float] = (8.5, 17.5)

    @field_validator("working_hours")
    @classmethod
    def _hours_in_order(cls, value: tuple[float, float]) -> tuple[float, float]:
        start, end = value
        if not 0 <= start < end <= 24:
            raise ValueError(f"working_hours must satisfy 0 <= start < end <= 24, got {value}")
        return value


class CommunityConfig(StrictModel):
    """Who trades: homes (grouped by equipment), their PHVs and the office."""

    name: str = Field(min_length=1)
    site: SiteConfig = SiteConfig()
    home_groups: list[HomeGroupConfig] = Field(min_length=1)
    office: OfficeConfig | None = None
    phv: PHVConfig = PHVConfig()
    trips: TripConfig = TripConfig()
    scale: int = Field(
        1, ge=1, le=100_000, description="multiplies every group's count (generated communities)"
    )

    @field_validator("home_groups")
    @classmethod
    def _unique_group_names(cls, groups: list[HomeGroupConfig]) -> list[HomeGroupConfig]:
        seen: set[str] = set()
        for group in groups:
            if group.name in seen:
                raise ValueError(f"home group name {group.name!r} is used twice")
            seen.add(group.name)
        return groups

    @property
    def n_homes(self) -> int:
        return self.scale * sum(g.count for g in self.home_groups)

    @property
    def n_phv(self) -> int:
        """Home PHVs: one per home in a group with ``phv: true``; each is its own agent."""
        return self.scale * sum(g.count for g in self.home_groups if g.phv)


# --------------------------------------------------------------------------------------------
# Tariffs
# --------------------------------------------------------------------------------------------


class RetailTier(StrictModel):
    """One step of a block tariff: the price of each kWh up to ``up_to_kwh`` in the month."""

    up_to_kwh: float | None = Field(gt=0, description="None: no upper limit (the last tier)")
    price_jpy_per_kwh: float = Field(ge=0, le=1000)


class ResidentialTariff(StrictModel):
    """Meter-rate tariff with monthly tiers (TEPCO meter-rate lighting B)."""

    name: str = "TEPCO meter-rate lighting B"
    basic_charge_jpy_per_month: float = Field(ge=0)
    tiers: list[RetailTier] = Field(min_length=1)
    renewable_surcharge_jpy_per_kwh: float = Field(0.0, ge=0, le=100)

    @field_validator("tiers")
    @classmethod
    def _tiers_increase(cls, tiers: list[RetailTier]) -> list[RetailTier]:
        bounds = [t.up_to_kwh for t in tiers]
        if bounds[-1] is not None:
            raise ValueError("the last tier must have up_to_kwh: null (no upper limit)")
        finite = [b for b in bounds[:-1] if b is not None]
        if len(finite) != len(bounds) - 1:
            raise ValueError("only the last tier may have up_to_kwh: null")
        if finite != sorted(finite) or len(set(finite)) != len(finite):
            raise ValueError(f"tier limits must strictly increase, got {finite}")
        return tiers


class DemandTariff(StrictModel):
    """Business tariff with a demand charge on the month's maximum 30-minute import."""

    name: str = "business, high voltage"
    demand_charge_jpy_per_kw_month: float = Field(ge=0)
    energy_price_jpy_per_kwh: float = Field(ge=0, le=1000)
    renewable_surcharge_jpy_per_kwh: float = Field(0.0, ge=0, le=100)


class TariffsConfig(StrictModel):
    """Grid prices: the backstop every P2P trade is measured against."""

    residential: ResidentialTariff
    office: DemandTariff
    buyback_jpy_per_kwh: dict[str, float] = Field(min_length=1)
    gasoline_jpy_per_l: float = Field(gt=0, le=1000)

    @field_validator("buyback_jpy_per_kwh")
    @classmethod
    def _non_negative(cls, prices: dict[str, float]) -> dict[str, float]:
        for key, price in prices.items():
            if not 0 <= price <= 1000:
                raise ValueError(f"buyback price {key!r} = {price} must lie in [0, 1000] JPY/kWh")
        return prices


# --------------------------------------------------------------------------------------------
# Market
# --------------------------------------------------------------------------------------------


class MarketConfig(StrictModel):
    """The tagged exchange (see ``exchange/``)."""

    mechanism: str = Field(
        "cda",
        description="the exchange's clearing mechanism: 'call', 'cda', 'midpoint', or one an "
        "installed package provides (the 'p2p_gym.mechanisms' entry-point group)",
    )
    tags: list[str] = Field(["pv", "battery", "phv"], min_length=1)
    price_min_jpy_per_kwh: float = Field(0.0, ge=0)
    price_max_jpy_per_kwh: float = Field(50.0, gt=0, le=10_000)
    initial_price_jpy_per_kwh: float = Field(25.0, ge=0)
    buyer_tag_order: Literal["price", "config"] = Field(
        "price",
        description="where a buyer's unfilled remainder goes next: 'price' = its acceptable tags "
        "by its own limit price, highest first (ties in the order of tags); 'config' = the "
        "order of tags",
    )

    @field_validator("mechanism")
    @classmethod
    def _known_mechanism(cls, name: str) -> str:
        # The exchange's registry decides: built-ins, registered and installed mechanisms.
        known = available_mechanisms()
        if name not in known:
            names = [repr(n) for n in known]
            choices = f"{', '.join(names[:-1])} or {names[-1]}" if len(names) > 1 else names[0]
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(
                f"input should be {choices}{hint}; an installed package can provide more "
                "through the 'p2p_gym.mechanisms' entry-point group"
            )
        return name

    @field_validator("price_min_jpy_per_kwh", "price_max_jpy_per_kwh", "initial_price_jpy_per_kwh")
    @classmethod
    def _whole_ticks(cls, value: float) -> float:
        # The exchange prices in integer ticks of 0.01 JPY/kWh; a finer price cannot be honoured.
        ticks = value * 100
        if abs(ticks - round(ticks)) > 1e-6:
            raise ValueError(f"{value} JPY/kWh is not a whole number of ticks (0.01 JPY/kWh)")
        return value

    @field_validator("tags")
    @classmethod
    def _valid_tags(cls, tags: list[str]) -> list[str]:
        for tag in tags:
            if not _TAG_RE.match(tag):
                raise ValueError(
                    f"tag {tag!r} must be lower-case letters, digits or '_', starting with a letter"
                )
        if len(set(tags)) != len(tags):
            raise ValueError(f"tags must be unique, got {tags}")
        return tags

    @model_validator(mode="after")
    def _bounds_in_order(self) -> Self:
        if not self.price_min_jpy_per_kwh < self.price_max_jpy_per_kwh:
            raise ValueError(
                f"price_min_jpy_per_kwh ({self.price_min_jpy_per_kwh}) must be below "
                f"price_max_jpy_per_kwh ({self.price_max_jpy_per_kwh})"
            )
        if not (
            self.price_min_jpy_per_kwh
            <= self.initial_price_jpy_per_kwh
            <= self.price_max_jpy_per_kwh
        ):
            raise ValueError(
                f"initial_price_jpy_per_kwh ({self.initial_price_jpy_per_kwh}) must lie within "
                "the price bounds"
            )
        return self


# --------------------------------------------------------------------------------------------
# Data, environment, training
# --------------------------------------------------------------------------------------------


class Period(StrictModel):
    """An inclusive range of calendar days."""

    start: dt.date
    end: dt.date

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end < self.start:
            raise ValueError(f"end ({self.end}) is before start ({self.start})")
        return self

    def overlaps(self, other: Period) -> bool:
        return self.start <= other.end and other.start <= self.end

    def contains(self, other: Period) -> bool:
        return self.start <= other.start and other.end <= self.end


class DataConfig(StrictModel):
    """Where the time series come from and which days train, validate and test."""

    source: str = Field(
        "synthetic", description="'synthetic' (generated offline) or the name of an imported set"
    )
    seed: int = Field(0, ge=0)
    span: Period = Period(start=dt.date(2019, 6, 1), end=dt.date(2020, 8, 31))
    train: Period = Period(start=dt.date(2019, 6, 17), end=dt.date(2020, 6, 30))
    validation: Period = Period(start=dt.date(2020, 7, 1), end=dt.date(2020, 7, 31))
    test: Period = Period(start=dt.date(2020, 8, 1), end=dt.date(2020, 8, 31))
    slot_minutes: Literal[30] = 30
    cache_dir: str | None = Field(
        None,
        description="where generated data sets are cached; None: $P2P_GYM_CACHE, else "
        "$XDG_CACHE_HOME/p2p-gym, else ~/.cache/p2p-gym",
    )
    # Synthetic generator (p2p_env/data; sources in its docstrings and the README's Data section).
    home_size_sigma: float = Field(
        0.3, ge=0, le=2, description="lognormal sigma of each home's annual consumption factor"
    )
    home_shift_std_slots: float = Field(
        1.0, ge=0, le=4, description="std of each home's daily-shape shift, slots"
    )
    home_daytime_share_max: float = Field(
        0.5, ge=0, le=1, description="largest share of the at-home shape mixed into a workday"
    )
    home_day_sigma: float = Field(0.15, ge=0, le=2, description="day-to-day lognormal sigma")
    home_slot_sigma: float = Field(0.4, ge=0, le=2, description="slot-to-slot lognormal sigma")
    office_slot_sigma: float = Field(0.08, ge=0, le=2, description="office slot lognormal sigma")
    pv_derate_std: float = Field(
        0.03, ge=0, le=0.3, description="per-home PV output factor std (shading, soiling)"
    )
    clear_sky_index_monthly: tuple[float, ...] | None = Field(
        None,
        description="12 monthly mean daily clear-sky indices, Jan..Dec; None: central Japan",
    )
    cloud_persistence: float = Field(
        0.4, ge=0, lt=1, description="lag-1 correlation of the daily clear-sky index"
    )
    cloud_intraday_sigma: float = Field(
        0.3, ge=0, le=1, description="intra-day variability of the clear-sky index"
    )

    @field_validator("source")
    @classmethod
    def _source_name(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", value):
            raise ValueError(
                f"source {value!r} must be 'synthetic' or a data set name of letters, digits, "
                "'_', '.' or '-' (as given to `p2p-gym data import FILE --as NAME`)"
            )
        return value

    @field_validator("clear_sky_index_monthly")
    @classmethod
    def _twelve_indices(cls, value: tuple[float, ...] | None) -> tuple[float, ...] | None:
        if value is None:
            return value
        if len(value) != 12:
            raise ValueError(f"needs 12 monthly values (Jan..Dec), got {len(value)}")
        for month, k in enumerate(value, start=1):
            if not 0.05 < k < 1.0:
                raise ValueError(f"month {month}: clear-sky index {k} must lie in (0.05, 1.0)")
        return value

    @model_validator(mode="after")
    def _periods_apart(self) -> Self:
        named = {"train": self.train, "validation": self.validation, "test": self.test}
        for name, period in named.items():
            if not self.span.contains(period):
                raise ValueError(
                    f"{name} period {period.start}..{period.end} lies outside span "
                    f"{self.span.start}..{self.span.end}"
                )
        items = list(named.items())
        for i, (name_a, a) in enumerate(items):
            for name_b, b in items[i + 1 :]:
                if a.overlaps(b):
                    raise ValueError(f"{name_a} and {name_b} periods overlap: keep them apart")
        return self


class EnvConfig(StrictModel):
    """Episode and reward settings of the environment."""

    episode_days: int = Field(1, ge=1, le=366)
    forecast_horizon_slots: int = Field(8, ge=1, le=96)
    forecast_error_std: float = Field(
        0.1, ge=0, le=2, description="relative forecast error one slot ahead; grows with sqrt(lead)"
    )
    reward_scale: float = Field(0.01, gt=0, description="reward = -cost_jpy * reward_scale")
    phv_unmet_departure_penalty_jpy_per_kwh: float = Field(0.0, ge=0)
    green_preference_jpy_per_kwh: float = Field(0.0, ge=0)


class TrainingConfig(StrictModel):
    """Defaults for ``p2p-gym train``; every field can be overridden on the command line."""

    backend: Literal["sb3", "rllib"] = "sb3"
    algo: Literal["ppo", "sac"] = "ppo"
    total_timesteps: int = Field(200_000, ge=1)
    seed: int = Field(0, ge=0)
    run_dir: str = "runs"
    eval_every_steps: int = Field(20_000, ge=1)
    num_env_runners: int = Field(1, ge=0, le=1024)
    hyperparameters: dict[str, float | int | str | bool] = {}


class GymConfig(StrictModel):
    """A whole run: community, market, tariffs, data, environment and training."""

    config_version: Literal[1] = 1
    name: str = Field(min_length=1)
    description: str = ""
    community: CommunityConfig
    market: MarketConfig = MarketConfig()
    tariffs: TariffsConfig
    data: DataConfig = DataConfig()
    env: EnvConfig = EnvConfig()
    training: TrainingConfig = TrainingConfig()

    @model_validator(mode="after")
    def _cross_references(self) -> Self:
        known = self.tariffs.buyback_jpy_per_kwh
        for i, group in enumerate(self.community.home_groups):
            if group.buyback not in known:
                raise ValueError(
                    f"community.home_groups.{i}.buyback = {group.buyback!r} is not a key of "
                    f"tariffs.buyback_jpy_per_kwh (one of {sorted(known)})"
                )
        needs = {"pv"} if any(g.pv for g in self.community.home_groups) else set()
        if any(g.battery for g in self.community.home_groups):
            needs.add("battery")
        if self.community.n_phv and self.community.phv.discharge_power_kw > 0:
            needs.add("phv")
        missing = needs - set(self.market.tags)
        if missing:
            raise ValueError(
                f"market.tags {self.market.tags} lacks {sorted(missing)}, which the community's "
                "equipment produces"
            )
        return self
