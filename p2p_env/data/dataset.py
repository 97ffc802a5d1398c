"""The :class:`Dataset`: aligned time series of one community, read by slot index.

Arrays are ``slots x entities`` (or ``slots`` for the office), energy per slot in kWh, so the step
loop reads ``dataset.home_load_kwh[t]`` without pandas. Entities follow the environment's agent
ids: homes ``home_00``... in ``home_groups`` order (``count * scale`` each), PHVs ``phv_00``...
(one per home of a group with ``phv: true``, same order; ``phv_home`` names the owner home) and
``office``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from dataclasses import dataclass, fields, replace
from enum import IntEnum
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from p2p_env.data.calendar import Calendar, build_calendar

F32 = NDArray[np.float32]

FORMAT_VERSION = 1
"""Version of the on-disk layout written by :meth:`Dataset.save`."""


class Location(IntEnum):
    """Where a PHV is during a whole slot (``phv_location`` codes)."""

    AWAY = 0
    """Driving, or parked somewhere without a charger for at least part of the slot."""
    HOME = 1
    OFFICE = 2


_ARRAYS = (
    "home_load_kwh",
    "home_pv_kwh",
    "office_load_kwh",
    "office_pv_kwh",
    "phv_location",
    "phv_km",
    "phv_home",
)


@dataclass(frozen=True, eq=False)
class Dataset:
    """Time series of one community over a span of whole days (see the module docstring).

    Attributes:
        start_utc: Start of the first slot, ``datetime64[s]`` in UTC.
        slot_minutes: Slot length.
        timezone: IANA time zone of the site (calendar features are local).
        home_ids: Home agent ids, in agent order.
        home_groups: Home group name of each home.
        phv_ids: PHV agent ids, in agent order.
        phv_home: Index into ``home_ids`` of each PHV's owner.
        has_office: Whether the community has the office (its arrays are zeros otherwise).
        home_load_kwh: Household consumption per slot, kWh (slots x homes).
        home_pv_kwh: PV generation (AC) per slot, kWh (slots x homes; zeros without PV).
        office_load_kwh: Office consumption per slot, kWh (slots).
        office_pv_kwh: Office PV generation per slot, kWh (slots).
        phv_location: :class:`Location` code per slot (slots x PHVs).
        phv_km: Kilometres of the trips that start in the slot (slots x PHVs); each leg (out,
            back) is booked in the slot where it starts, which is always an ``AWAY`` slot.
        phv_km_per_kwh: Electric driving efficiency that converts km to kWh.
        source: ``synthetic`` or the name of an imported data set.
        key: Identifies the content (the cache key of a synthetic set).
    """

    start_utc: np.datetime64
    slot_minutes: int
    timezone: str
    home_ids: tuple[str, ...]
    home_groups: tuple[str, ...]
    phv_ids: tuple[str, ...]
    phv_home: NDArray[np.int64]
    has_office: bool
    home_load_kwh: F32
    home_pv_kwh: F32
    office_load_kwh: F32
    office_pv_kwh: F32
    phv_location: NDArray[np.int8]
    phv_km: F32
    phv_km_per_kwh: float
    source: str
    key: str

    def __post_init__(self) -> None:
        t, h, v = self.n_slots, len(self.home_ids), len(self.phv_ids)
        expected: dict[str, tuple[int, ...]] = {
            "home_load_kwh": (t, h),
            "home_pv_kwh": (t, h),
            "office_load_kwh": (t,),
            "office_pv_kwh": (t,),
            "phv_location": (t, v),
            "phv_km": (t, v),
            "phv_home": (v,),
        }
        for name, shape in expected.items():
            got = getattr(self, name).shape
            if got != shape:
                raise ValueError(f"Dataset.{name} has shape {got}, expected {shape}")
        if len(self.home_groups) != h:
            raise ValueError(f"Dataset.home_groups has {len(self.home_groups)} names for {h} homes")
        if v and (self.phv_home.min() < 0 or self.phv_home.max() >= h):
            raise ValueError(f"Dataset.phv_home must index the {h} homes, got {self.phv_home}")
        if self.phv_km_per_kwh <= 0:
            raise ValueError(f"Dataset.phv_km_per_kwh must be > 0, got {self.phv_km_per_kwh}")

    # ----------------------------------------------------------------------------------------
    # Shape and time
    # ----------------------------------------------------------------------------------------

    @property
    def n_slots(self) -> int:
        return int(self.home_load_kwh.shape[0])

    @property
    def n_homes(self) -> int:
        return len(self.home_ids)

    @property
    def n_phv(self) -> int:
        return len(self.phv_ids)

    @property
    def slot_hours(self) -> float:
        return self.slot_minutes / 60

    @property
    def entity_ids(self) -> tuple[str, ...]:
        """All entities in agent order: homes, PHVs, then ``office`` if present."""
        return (*self.home_ids, *self.phv_ids, *(("office",) if self.has_office else ()))

    @cached_property
    def timestamps_utc(self) -> NDArray[np.datetime64]:
        """Slot starts, ``datetime64[s]`` in UTC."""
        step = np.timedelta64(self.slot_minutes * 60, "s")
        return np.asarray(self.start_utc.astype("datetime64[s]") + np.arange(self.n_slots) * step)

    @cached_property
    def calendar(self) -> Calendar:
        """Local calendar features per slot (slot of day, weekday, workday...)."""
        return build_calendar(self.start_utc, self.n_slots, self.slot_minutes, self.timezone)

    def slot_index(self, when: dt.datetime) -> int:
        """Index of the slot that contains ``when`` (a time-zone aware datetime).

        Raises:
            ValueError: ``when`` is naive or outside the data set.
        """
        if when.tzinfo is None or when.utcoffset() is None:
            raise ValueError(f"slot_index needs a time-zone aware datetime, got naive {when}")
        seconds = int(when.timestamp()) - int(self.start_utc.astype("datetime64[s]").astype(int))
        index = seconds // (self.slot_minutes * 60)
        if not 0 <= index < self.n_slots:
            raise ValueError(
                f"{when.isoformat()} lies outside the data set "
                f"({self.local_start().isoformat()} .. {self.n_slots} slots)"
            )
        return int(index)

    def local_start(self) -> dt.datetime:
        """Start of the first slot in the site's time zone."""
        from zoneinfo import ZoneInfo

        seconds = int(self.start_utc.astype("datetime64[s]").astype(np.int64))
        return dt.datetime.fromtimestamp(seconds, tz=ZoneInfo(self.timezone))

    def day_slots(self, start: dt.date, end: dt.date) -> slice:
        """Slots of the local days ``start`` to ``end`` inclusive (e.g. a train period).

        Raises:
            ValueError: the days are not all inside the data set.
        """
        dates = self.calendar.dates
        if not dates or start < dates[0] or end > dates[-1] or end < start:
            span = f"{dates[0]}..{dates[-1]}" if dates else "nothing"
            raise ValueError(f"days {start}..{end} are not inside the data set ({span})")
        first = (start - dates[0]).days
        last = (end - dates[0]).days
        day_index = self.calendar.day_index
        lo = int(np.searchsorted(day_index, first, side="left"))
        hi = int(np.searchsorted(day_index, last, side="right"))
        return slice(lo, hi)

    def window(self, slots: slice) -> Dataset:
        """The data set restricted to a contiguous range of slots (arrays are views)."""
        lo, hi, step = slots.indices(self.n_slots)
        if step != 1 or hi <= lo:
            raise ValueError(f"window needs a non-empty contiguous slice, got {slots}")
        start = self.timestamps_utc[lo]
        return replace(
            self,
            start_utc=start,
            home_load_kwh=self.home_load_kwh[lo:hi],
            home_pv_kwh=self.home_pv_kwh[lo:hi],
            office_load_kwh=self.office_load_kwh[lo:hi],
            office_pv_kwh=self.office_pv_kwh[lo:hi],
            phv_location=self.phv_location[lo:hi],
            phv_km=self.phv_km[lo:hi],
        )

    # ----------------------------------------------------------------------------------------
    # PHV helpers (vectorised; computed once)
    # ----------------------------------------------------------------------------------------

    @cached_property
    def phv_trip_kwh(self) -> F32:
        """Electric energy the trips starting in each slot need, kWh (``phv_km / km_per_kwh``).

        When the battery holds less, a Prius PHV drives on gasoline for the rest; the simulator
        prices that shortfall.
        """
        return np.asarray(self.phv_km / np.float32(self.phv_km_per_kwh), dtype=np.float32)

    @cached_property
    def phv_slots_to_departure(self) -> NDArray[np.int32]:
        """Slots until the PHV next leaves its charger: 0 when away, ``n - t`` if it never does.

        At slot ``t`` a parked car can charge for this many whole slots before it drives.
        """
        t = self.n_slots
        away = self.phv_location == Location.AWAY
        positions = np.where(away, np.arange(t)[:, None], t)
        next_away = np.minimum.accumulate(positions[::-1], axis=0)[::-1]
        return (next_away - np.arange(t)[:, None]).astype(np.int32)

    @cached_property
    def phv_kwh_to_next_plug(self) -> F32:
        """Energy of the trips between the next departure and the next arrival at a charger, kWh.

        For a parked car this is what it should hold when it leaves; for a car on the road, what
        the rest of the current stint (from this slot on) needs.
        """
        t, v = self.phv_location.shape
        if t == 0 or v == 0:
            return np.zeros((t, v), dtype=np.float32)
        away = self.phv_location == Location.AWAY
        kwh = np.where(away, self.phv_trip_kwh.astype(np.float64), 0.0)
        # Stint id: counts the first AWAY slots of each run of AWAY slots (0 before the first).
        starts = away & ~np.vstack([np.zeros((1, v), dtype=bool), away[:-1]])
        stint = np.cumsum(starts, axis=0)
        cols = np.broadcast_to(np.arange(v), (t, v))
        n_stints = int(stint.max()) + 2  # the last row stays 0: "no further stint"
        totals = np.zeros((n_stints, v))
        np.add.at(totals, (stint[away], cols[away]), kwh[away])
        before = np.cumsum(kwh, axis=0) - kwh  # energy of all earlier slots
        base = np.zeros((n_stints, v))
        base[stint[starts], cols[starts]] = before[starts]
        # On the road: what is left of this stint; parked: the whole next stint.
        remaining = totals[stint, cols] - (before - base[stint, cols])
        next_total = totals[np.minimum(stint + 1, n_stints - 1), cols]
        out = np.where(away, remaining, next_total)
        return np.asarray(out, dtype=np.float32)

    # ----------------------------------------------------------------------------------------
    # Columns by id
    # ----------------------------------------------------------------------------------------

    def series(self, entity_id: str, kind: str) -> NDArray[Any]:
        """One entity's series: ``kind`` in ``load``, ``pv`` (homes, office), ``phv_location``,
        ``phv_km`` (PHVs).

        Raises:
            KeyError: unknown entity or a kind it does not have.
        """
        if entity_id == "office" and self.has_office:
            table = {"load": self.office_load_kwh, "pv": self.office_pv_kwh}
            if kind in table:
                return table[kind]
        elif entity_id in self.home_ids:
            col = self.home_ids.index(entity_id)
            table = {"load": self.home_load_kwh, "pv": self.home_pv_kwh}
            if kind in table:
                return table[kind][:, col]
        elif entity_id in self.phv_ids:
            col = self.phv_ids.index(entity_id)
            phv_table: dict[str, NDArray[Any]] = {
                "phv_location": self.phv_location,
                "phv_km": self.phv_km,
            }
            if kind in phv_table:
                return phv_table[kind][:, col]
        else:
            raise KeyError(f"unknown entity {entity_id!r}; known: homes, PHVs and office")
        raise KeyError(f"entity {entity_id!r} has no series of kind {kind!r}")

    # ----------------------------------------------------------------------------------------
    # Storage (numpy .npz, no pickle)
    # ----------------------------------------------------------------------------------------

    def save(self, path: Path) -> None:
        """Write to ``path`` (``.npz``) atomically: a concurrent reader sees all or nothing."""
        meta = {
            "format_version": FORMAT_VERSION,
            "start_utc": str(self.start_utc.astype("datetime64[s]")),
            "slot_minutes": self.slot_minutes,
            "timezone": self.timezone,
            "home_ids": list(self.home_ids),
            "home_groups": list(self.home_groups),
            "phv_ids": list(self.phv_ids),
            "has_office": self.has_office,
            "phv_km_per_kwh": self.phv_km_per_kwh,
            "source": self.source,
            "key": self.key,
        }
        write_npz_atomic(path, meta, {name: getattr(self, name) for name in _ARRAYS})

    @classmethod
    def load(cls, path: Path) -> Dataset:
        """Read a data set written by :meth:`save`.

        Raises:
            ValueError: the file is not a data set of this format version.
        """
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            if meta.get("format_version") != FORMAT_VERSION:
                raise ValueError(
                    f"{path}: data set format {meta.get('format_version')!r}, "
                    f"expected {FORMAT_VERSION}"
                )
            arrays = {name: data[name] for name in _ARRAYS}
        return cls(
            start_utc=np.datetime64(meta["start_utc"], "s"),
            slot_minutes=int(meta["slot_minutes"]),
            timezone=str(meta["timezone"]),
            home_ids=tuple(meta["home_ids"]),
            home_groups=tuple(meta["home_groups"]),
            phv_ids=tuple(meta["phv_ids"]),
            has_office=bool(meta["has_office"]),
            phv_km_per_kwh=float(meta["phv_km_per_kwh"]),
            source=str(meta["source"]),
            key=str(meta["key"]),
            **arrays,
        )

    def equals(self, other: Dataset) -> bool:
        """Same metadata and bit-identical arrays."""
        for f in fields(self):
            a, b = getattr(self, f.name), getattr(other, f.name)
            if isinstance(a, np.ndarray):
                if not (a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)):
                    return False
            elif a != b:
                return False
        return True


def write_npz_atomic(path: Path, meta: dict[str, Any], arrays: dict[str, Any]) -> None:
    """Write ``meta`` (as JSON) and ``arrays`` to an ``.npz`` at ``path``, all or nothing.

    The file is written beside ``path`` and renamed over it, so a reader never sees half a file
    and an interrupted write leaves the previous one in place.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, meta=np.array(json.dumps(meta)), **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
