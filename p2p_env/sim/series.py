"""The time series a simulation reads, slot by slot, as aligned numpy arrays.

:class:`SlotSeries` is the simulator's only view of the data: ``slots x entities`` arrays in the
community's agent order, read by integer slot index in the step loop (no pandas there). It is
built from a :class:`p2p_env.data.Dataset` (generated offline or imported) by
:func:`p2p_env.sim.series.from_dataset`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray

from p2p_env.data import Dataset

FloatArray = NDArray[np.float64]

AWAY, AT_HOME, AT_OFFICE = 0, 1, 2
"""PHV location codes of :attr:`SlotSeries.phv_location`."""


@dataclass(frozen=True)
class SlotSeries:
    """Aligned per-slot arrays (energy in Wh per slot)."""

    start: np.datetime64
    """Local start time of slot 0 (naive, in the site's time zone)."""
    slot_minutes: int
    home_load_wh: FloatArray
    """``slots x homes``."""
    home_pv_wh: FloatArray
    """``slots x homes`` (0 for homes without PV)."""
    office_load_wh: FloatArray
    """``slots`` (zeros when the community has no office)."""
    office_pv_wh: FloatArray
    phv_location: NDArray[np.int8]
    """``slots x PHVs``: :data:`AWAY`, :data:`AT_HOME` or :data:`AT_OFFICE`."""
    phv_drive_wh: FloatArray
    """``slots x PHVs``: energy the trips starting in the slot need (at the battery)."""
    start_utc: np.datetime64 | None = None
    """Start of slot 0 in UTC, where known (with :attr:`timezone`: :meth:`slot_start_iso`)."""
    timezone: str | None = None
    """IANA time zone of the site, where known."""
    # Each slot's texts, built once (a VecEnv's communities share one series).
    _text: dict[int, str] = field(default_factory=dict, init=False, repr=False, compare=False)
    _iso: dict[int, str] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        n = self.home_load_wh.shape[0]
        for name in (
            "home_pv_wh",
            "office_load_wh",
            "office_pv_wh",
            "phv_location",
            "phv_drive_wh",
        ):
            if getattr(self, name).shape[0] != n:
                raise ValueError(
                    f"SlotSeries.{name} has {getattr(self, name).shape[0]} slots, expected {n}"
                )
        if self.home_pv_wh.shape != self.home_load_wh.shape:
            raise ValueError("SlotSeries.home_pv_wh and home_load_wh must have the same shape")
        if self.phv_drive_wh.shape != self.phv_location.shape:
            raise ValueError("SlotSeries.phv_drive_wh and phv_location must have the same shape")

    @property
    def n_slots(self) -> int:
        return int(self.home_load_wh.shape[0])

    def slot_time(self, slot: int) -> np.datetime64:
        """Local start time of ``slot`` (naive, in the site's time zone: on a day that changes
        to or from daylight saving time the clock jumps, as the data's calendar does)."""
        when = self._aware(slot)
        if when is None:
            return self.start + np.timedelta64(slot * self.slot_minutes, "m")
        return np.datetime64(when.replace(tzinfo=None), "m")

    def _aware(self, slot: int) -> dt.datetime | None:
        """Start of ``slot`` in the site's time zone, where the series knows it."""
        if self.start_utc is None or self.timezone is None:
            return None
        seconds = int(self.start_utc.astype("datetime64[s]").astype(np.int64))
        seconds += slot * self.slot_minutes * 60
        return dt.datetime.fromtimestamp(seconds, tz=ZoneInfo(self.timezone))

    def slot_start_text(self, slot: int) -> str:
        """Local start time of ``slot`` as ISO text without offset (``2020-08-03T12:30``), as
        the environment's infos carry it."""
        text = self._text.get(slot)
        if text is None:
            # numpy's datetime64 -> str costs ~10 us: each slot's text is built once.
            text = self._text[slot] = str(self.slot_time(slot))
        return text

    def slot_start_iso(self, slot: int) -> str | None:
        """Start of ``slot`` as ISO 8601 text with its UTC offset
        (``2020-08-03T12:30:00+09:00``), as the ledger's blocks carry it; ``None`` where the
        series does not know its time zone."""
        text = self._iso.get(slot)
        if text is None:
            when = self._aware(slot)
            if when is None:
                return None
            text = self._iso[slot] = when.isoformat()
        return text

    def slot_of(self, day: np.datetime64) -> int:
        """Index of the first slot of a local day (``numpy.datetime64`` date)."""
        if self.start_utc is not None and self.timezone is not None:
            date = day.astype("datetime64[D]").item()
            midnight = dt.datetime.combine(date, dt.time(), tzinfo=ZoneInfo(self.timezone))
            first = int(self.start_utc.astype("datetime64[s]").astype(np.int64))
            return (int(midnight.timestamp()) - first) // (self.slot_minutes * 60)
        delta = day.astype("datetime64[m]") - self.start.astype("datetime64[m]")
        return int(delta.astype(np.int64) // self.slot_minutes)


def from_dataset(dataset: Dataset) -> SlotSeries:
    """The simulator's view of a :class:`~p2p_env.data.Dataset` (kWh per slot -> Wh)."""
    local = dataset.local_start().replace(tzinfo=None)
    return SlotSeries(
        start=np.datetime64(local, "m"),
        slot_minutes=dataset.slot_minutes,
        home_load_wh=dataset.home_load_kwh.astype(np.float64) * 1000.0,
        home_pv_wh=dataset.home_pv_kwh.astype(np.float64) * 1000.0,
        office_load_wh=dataset.office_load_kwh.astype(np.float64) * 1000.0,
        office_pv_wh=dataset.office_pv_kwh.astype(np.float64) * 1000.0,
        phv_location=dataset.phv_location.astype(np.int8),
        phv_drive_wh=dataset.phv_trip_kwh.astype(np.float64) * 1000.0,
        start_utc=dataset.start_utc,
        timezone=dataset.timezone,
    )
