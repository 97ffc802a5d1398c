"""Bring your own data: the long CSV/Parquet schema, its validation, and imported data sets.

Schema (one row per entity, kind and slot; CSV with a header row, or Parquet):

============  =====================================================================================
column        meaning
============  =====================================================================================
timestamp     Start of the slot, ISO 8601 with its UTC offset (``2019-06-01T00:30:00+09:00``);
              the offset must be the site's (``+09:00`` for Asia/Tokyo) or UTC (``Z``/``+00:00``).
              Parquet may instead hold a time-zone aware timestamp column. Naive times are refused.
entity_id     ``home_00``..., ``phv_00``... or ``office``: the environment's agent ids.
kind          ``load`` or ``pv`` (homes, office); ``phv_location`` or ``phv_km`` (PHVs).
value         A finite number.
unit          ``load``/``pv``: ``kWh`` (energy in the slot), ``Wh``, or ``kW`` (mean power over the
              slot). ``phv_location``: ``code`` (0 away or driving, 1 at home, 2 at the office).
              ``phv_km``: ``km`` (distance of the trips that start in the slot).
============  =====================================================================================

Rules: slots are 30 minutes on the clock (``:00``/``:30``); every series (entity and kind) covers
every slot from the file's first to its last timestamp, once; generation, load and km are not
negative; a PHV has both ``phv_location`` and ``phv_km``, and km only in slots where it is away.
Every problem is reported with its row (1-based data row; for CSV also the file line) and column.

``import_file`` stores the validated set as aligned arrays under the data folder
(:func:`p2p_env.data.cache.imported_path`); a config with ``data.source: NAME`` then reads it
(:func:`load_imported`), taking the entities and days it needs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from p2p_env.config import GymConfig
from p2p_env.data.cache import imported_path
from p2p_env.data.calendar import _utc_offsets
from p2p_env.data.dataset import Dataset, Location, write_npz_atomic
from p2p_env.data.generate import community_layout, span_start_and_slots

COLUMNS = ("timestamp", "entity_id", "kind", "value", "unit")
KINDS = ("load", "pv", "phv_location", "phv_km")
UNITS: dict[str, dict[str, str]] = {
    "load": {"kWh": "energy", "Wh": "energy", "kW": "power"},
    "pv": {"kWh": "energy", "Wh": "energy", "kW": "power"},
    "phv_location": {"code": "code"},
    "phv_km": {"km": "km"},
}
ENTITY_KINDS = {"home": ("load", "pv"), "office": ("load", "pv"), "phv": ("phv_location", "phv_km")}
STORE_VERSION = 1
MAX_REPORTED = 20
"""Problems listed in one error message (the count of the rest follows)."""

_ENTITY_RE = r"^(?:(home|phv)_\d{2,}|(office))$"
_TS_RE = (
    r"^\s*(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)"
    r"\s*(Z|[+-]\d{2}:?\d{2})?\s*$"
)


class DataImportError(ValueError):
    """An imported file breaks the schema; ``problems`` lists each finding (row and column)."""

    def __init__(self, path: str, problems: list[str], more: list[str] | None = None) -> None:
        self.problems = problems
        shown = problems[:MAX_REPORTED]
        hidden = len(problems) - len(shown)
        lines = [f"{path} breaks the data schema:", *(f"  {p}" for p in shown)]
        if hidden:
            lines.append(f"  ... and {hidden} more problems")
        lines.extend(f"  {m}" for m in more or ())
        super().__init__("\n".join(lines))


@dataclass(frozen=True, eq=False)
class ImportedSet:
    """A validated data set: aligned arrays per kind (slots x entities of that kind)."""

    name: str
    start_utc: np.datetime64
    slot_minutes: int
    timezone: str
    entities: dict[str, tuple[str, ...]]
    arrays: dict[str, NDArray[Any]]
    sha256: str
    source_file: str

    @property
    def n_slots(self) -> int:
        return int(next(iter(self.arrays.values())).shape[0]) if self.arrays else 0


# --------------------------------------------------------------------------------------------
# Reading and validating
# --------------------------------------------------------------------------------------------


def _read(path: Path) -> tuple[pd.DataFrame, bool]:
    """The file as a frame of raw values; ``True`` when it is CSV (rows have file lines)."""
    suffix = path.suffix.lower()
    if suffix in {".parquet", ".pq"}:
        return pd.read_parquet(path), False
    if suffix in {".csv", ".txt"}:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
        return frame, True
    raise DataImportError(str(path), [f"unknown file type {path.suffix!r}: use .csv or .parquet"])


class _Problems:
    def __init__(self, csv: bool) -> None:
        self.items: list[str] = []
        self.more: list[str] = []
        """Counts of further rows with a problem already shown."""
        self.csv = csv

    def where(self, row: int, column: str) -> str:
        line = f" (line {row + 2})" if self.csv else ""
        return f"row {row + 1}{line}, column '{column}'"

    def add_rows(self, mask: NDArray[np.bool_], column: str, message: Any) -> None:
        """One problem per flagged row, the first MAX_REPORTED of them; the rest counted."""
        rows = np.flatnonzero(mask)
        for row in rows[:MAX_REPORTED]:
            text = message(int(row)) if callable(message) else message
            self.items.append(f"{self.where(int(row), column)}: {text}")
        if len(rows) > MAX_REPORTED:
            self.more.append(
                f"column '{column}': {len(rows) - MAX_REPORTED} more rows with the same problem"
            )


def _factor(column: pd.Series) -> tuple[NDArray[np.intp], NDArray[np.object_]]:
    """Codes per row and the distinct stripped strings of a text column."""
    codes, uniques = pd.factorize(column.astype(str).str.strip(), use_na_sentinel=False)
    return np.asarray(codes, dtype=np.intp), np.asarray(uniques, dtype=object)


def validate_file(
    path: Path, timezone: str = "Asia/Tokyo", slot_minutes: int = 30
) -> tuple[pd.DataFrame, int]:
    """Read and check a file against the schema (module docstring).

    Args:
        path: CSV or Parquet file.
        timezone: The site's IANA time zone; offsets must be its own or UTC.
        slot_minutes: Slot length.

    Returns:
        The rows as a frame with ``utc`` (int seconds), ``entity_id``, ``kind``, ``value``
        (converted to kWh per slot, code or km), ``row`` (0-based data row), and the first
        slot's UTC seconds.

    Raises:
        DataImportError: every problem found, each naming its row and column.
    """
    name = str(path)
    if not path.is_file():
        raise DataImportError(name, [f"no such file: {path}"])
    frame, is_csv = _read(path)
    problems = _Problems(is_csv)
    missing = [c for c in COLUMNS if c not in frame.columns]
    extra = [str(c) for c in frame.columns if c not in COLUMNS]
    if missing or extra:
        msgs = [f"missing column '{c}' (columns: {', '.join(COLUMNS)})" for c in missing]
        msgs += [f"unexpected column '{c}' (columns: {', '.join(COLUMNS)})" for c in extra]
        raise DataImportError(name, msgs)
    if frame.empty:
        raise DataImportError(name, ["the file has no data rows"])

    utc, offsets_ok = _timestamps(frame["timestamp"], timezone, slot_minutes, problems)
    # Text columns are factorised: checks run once per distinct value, not once per row (files
    # have millions of rows but a handful of kinds, units and ids).
    entity_codes, entity_uniq = _factor(frame["entity_id"])
    kind_codes, kind_uniq = _factor(frame["kind"])
    unit_codes, unit_uniq = _factor(frame["unit"])
    entity = entity_uniq[entity_codes]
    kind = kind_uniq[kind_codes]
    raw_value = frame["value"].astype(str).str.strip()
    value = pd.to_numeric(raw_value, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)

    match = pd.Series(entity_uniq, dtype=object).astype(str).str.extract(_ENTITY_RE)
    type_uniq = match[0].fillna(match[1]).fillna("").to_numpy(dtype=object)
    entity_type = type_uniq[entity_codes]
    bad_entity = (type_uniq == "")[entity_codes]
    problems.add_rows(
        bad_entity,
        "entity_id",
        lambda r: f"{str(entity[r])!r} is not an agent id (home_00..., phv_00... or office)",
    )
    known_kind = np.array([k in KINDS for k in kind_uniq], dtype=bool)
    bad_kind = ~known_kind[kind_codes]
    problems.add_rows(
        bad_kind, "kind", lambda r: f"unknown kind {str(kind[r])!r} (one of {', '.join(KINDS)})"
    )
    allowed_pairs = np.array(
        [[k in ENTITY_KINDS.get(str(t), ()) for k in kind_uniq] for t in type_uniq], dtype=bool
    ).reshape(len(type_uniq), len(kind_uniq))
    allowed = allowed_pairs[entity_codes, kind_codes]
    problems.add_rows(
        ~allowed & ~bad_entity & ~bad_kind,
        "kind",
        lambda r: (
            f"{entity[r]} cannot have kind {str(kind[r])!r} "
            f"(a {entity_type[r]} has {', '.join(ENTITY_KINDS[str(entity_type[r])])})"
        ),
    )
    unit_pairs = np.array(
        [[u in UNITS.get(str(k), {}) for u in unit_uniq] for k in kind_uniq], dtype=bool
    ).reshape(len(kind_uniq), len(unit_uniq))
    unit_ok = unit_pairs[kind_codes, unit_codes]
    problems.add_rows(
        ~unit_ok & ~bad_kind,
        "unit",
        lambda r: (
            f"unit {str(unit_uniq[unit_codes[r]])!r} is wrong for kind {str(kind[r])!r} "
            f"(expected {' or '.join(repr(u) for u in UNITS[str(kind[r])])})"
        ),
    )
    not_number = ~np.isfinite(value)
    problems.add_rows(
        not_number, "value", lambda r: f"{str(raw_value.iat[r])!r} is not a finite number"
    )
    is_kind = {k: kind_codes == (kind_uniq.tolist().index(k) if k in kind_uniq else -1)
               for k in KINDS}  # fmt: skip
    negative = ~not_number & (value < 0)
    problems.add_rows(
        negative & is_kind["pv"], "value", lambda r: f"negative generation {value[r]} (pv >= 0)"
    )
    problems.add_rows(
        negative & is_kind["load"], "value", lambda r: f"negative load {value[r]} (load >= 0)"
    )
    problems.add_rows(
        negative & is_kind["phv_km"], "value", lambda r: f"negative distance {value[r]} km"
    )
    codes = [int(c) for c in Location]
    bad_code = is_kind["phv_location"] & ~not_number & ~np.isin(value, codes)
    problems.add_rows(
        bad_code, "value", lambda r: f"location code {value[r]} is not 0 (away), 1 (home) or 2"
    )
    if problems.items or not offsets_ok:
        raise DataImportError(name, problems.items, problems.more)

    slot_s = slot_minutes * 60
    power_u = np.array([u == "kW" for u in unit_uniq], dtype=bool)
    wh_u = np.array([u == "Wh" for u in unit_uniq], dtype=bool)
    scale = (
        np.where(wh_u, 1e-3, 1.0)[unit_codes] * np.where(power_u, slot_s / 3600, 1.0)[unit_codes]
    )
    rows = pd.DataFrame(
        {
            "utc": utc,
            "entity_id": entity,
            "kind": kind,
            "value": value * scale,
            "row": np.arange(len(frame)),
        }
    )
    start = _coverage(rows, slot_s, timezone, problems)
    if problems.items:
        raise DataImportError(name, problems.items, problems.more)
    _phv_consistency(rows, problems)
    if problems.items:
        raise DataImportError(name, problems.items, problems.more)
    return rows, start


def _timestamps(
    column: pd.Series, timezone: str, slot_minutes: int, problems: _Problems
) -> tuple[NDArray[np.int64], bool]:
    """UTC seconds per row; flags naive, unparsable, wrongly offset and off-slot timestamps."""
    zone = ZoneInfo(timezone)
    n = len(column)
    if isinstance(column.dtype, pd.DatetimeTZDtype):
        tz_name = str(column.dtype.tz)
        if tz_name not in {timezone, "UTC"}:
            problems.items.append(
                f"column 'timestamp': time zone {tz_name} is not the site's ({timezone}) or UTC"
            )
            return np.zeros(n, dtype=np.int64), False
        utc = column.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[s]")
        seconds = utc.astype(np.int64)
    elif pd.api.types.is_datetime64_dtype(column.dtype):
        problems.items.append(
            f"{problems.where(0, 'timestamp')}: naive timestamps (no time zone); store them "
            f"time-zone aware ({timezone} or UTC)"
        )
        return np.zeros(n, dtype=np.int64), False
    else:
        # Parse each distinct timestamp once (a file repeats each for every series).
        codes, uniques = _factor(column)
        text = uniques
        parts = pd.Series(uniques, dtype=object).astype(str).str.extract(_TS_RE)
        local = pd.to_datetime(parts[0], format="ISO8601", errors="coerce")
        bad_u = local.isna().to_numpy()
        offset_u = parts[1].fillna("").to_numpy(dtype=object)
        naive_u = ~bad_u & (offset_u == "")
        problems.add_rows(
            bad_u[codes],
            "timestamp",
            lambda r: (
                f"{str(text[codes[r]])!r} is not an ISO 8601 time (e.g. 2019-06-01T00:30:00+09:00)"
            ),
        )
        problems.add_rows(
            naive_u[codes],
            "timestamp",
            lambda r: (
                f"{str(text[codes[r]])!r} has no UTC offset (naive time); write it as "
                f"{text[codes[r]]}{_offset_text(zone)} for {timezone}"
            ),
        )
        offset_s = np.array([_offset_seconds(str(o) or "Z") for o in offset_u], dtype=np.int64)
        local_s = local.fillna(pd.Timestamp(0)).to_numpy("datetime64[s]").astype(np.int64)
        seconds_u = local_s - offset_s
        expected = _utc_offsets(seconds_u, zone)
        wrong_u = ~bad_u & ~naive_u & (offset_s != expected) & (offset_s != 0)
        problems.add_rows(
            wrong_u[codes],
            "timestamp",
            lambda r: (
                f"offset {offset_u[codes[r]]} is neither {timezone}'s "
                f"({_format_offset(int(expected[codes[r]]))}) nor UTC: wrong time zone?"
            ),
        )
        seconds = seconds_u[codes]
    off_slot = seconds % (slot_minutes * 60) != 0
    problems.add_rows(
        off_slot,
        "timestamp",
        lambda r: f"{column.iloc[r]!s} is not the start of a {slot_minutes}-minute slot",
    )
    return seconds, True


def _offset_seconds(text: str) -> int:
    if text == "Z":
        return 0
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    return sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)


def _format_offset(seconds: int) -> str:
    sign = "-" if seconds < 0 else "+"
    hours, minutes = divmod(abs(seconds) // 60, 60)
    return f"{sign}{hours:02d}:{minutes:02d}"


def _offset_text(zone: ZoneInfo) -> str:
    offset = dt.datetime(2020, 1, 1, tzinfo=zone).utcoffset()
    return _format_offset(int(offset.total_seconds()) if offset else 0)


def _local_text(seconds: int, timezone: str) -> str:
    return dt.datetime.fromtimestamp(seconds, tz=ZoneInfo(timezone)).isoformat()


def _coverage(rows: pd.DataFrame, slot_s: int, timezone: str, problems: _Problems) -> int:
    """Duplicates and missing slots per series; returns the first slot's UTC seconds."""
    dup = rows.duplicated(["utc", "entity_id", "kind"], keep=False).to_numpy()
    if dup.any():
        first_rows = (
            rows[dup].groupby(["utc", "entity_id", "kind"], sort=False)["row"].min().to_dict()
        )
        later = rows.duplicated(["utc", "entity_id", "kind"], keep="first").to_numpy()

        utc = rows["utc"].to_numpy(dtype=np.int64)
        ent = rows["entity_id"].to_numpy(dtype=str)
        kinds = rows["kind"].to_numpy(dtype=str)

        def message(r: int) -> str:
            key = (int(utc[r]), str(ent[r]), str(kinds[r]))
            return (
                f"duplicate of row {int(first_rows[key]) + 1}: {key[1]} {key[2]} at "
                f"{_local_text(key[0], timezone)} appears more than once"
            )

        problems.add_rows(later, "timestamp", message)
        return 0
    start, end = int(rows["utc"].min()), int(rows["utc"].max())
    n_slots = (end - start) // slot_s + 1
    ordered = rows.sort_values(["entity_id", "kind", "utc"], kind="stable")
    for (entity, kind), series in ordered.groupby(["entity_id", "kind"], sort=True):
        if len(series) == n_slots:
            continue
        times = series["utc"].to_numpy()
        row_ids = series["row"].to_numpy()
        expected = start + np.arange(n_slots, dtype=np.int64) * slot_s
        present = np.isin(expected, times)
        gaps = expected[~present]
        first_gap = int(gaps[0])
        before = np.flatnonzero(times < first_gap)
        anchor = (
            f"after row {int(row_ids[before[-1]]) + 1}"
            if before.size
            else f"before row {int(row_ids[0]) + 1}"
        )
        problems.items.append(
            f"column 'timestamp': {entity} {kind} has no row for "
            f"{_local_text(first_gap, timezone)} ({anchor}); {gaps.size} of {n_slots} slots "
            f"missing (every series must cover {_local_text(start, timezone)} .. "
            f"{_local_text(end, timezone)})"
        )
    return start


def _phv_consistency(rows: pd.DataFrame, problems: _Problems) -> None:
    """Each PHV has both kinds; km only where the car is away."""
    phv = rows[rows["entity_id"].str.startswith("phv_")]
    for entity, series in phv.groupby("entity_id", sort=True):
        kinds = set(series["kind"])
        for needed in ("phv_location", "phv_km"):
            if needed not in kinds:
                problems.items.append(f"column 'kind': {entity} has no {needed} rows")
        if len(kinds) < 2:
            continue
        wide = series.pivot(index="utc", columns="kind", values="value")
        km = wide["phv_km"].to_numpy(dtype=np.float64)
        loc = wide["phv_location"].to_numpy(dtype=np.float64)
        times = wide.index.to_numpy(dtype=np.int64)
        km_rows = series[series["kind"] == "phv_km"].set_index("utc")["row"]
        row_of = dict(zip(km_rows.index.to_numpy(dtype=np.int64), km_rows.to_numpy(), strict=True))
        for i in np.flatnonzero((km > 0) & (loc != Location.AWAY))[:MAX_REPORTED]:
            r = int(row_of[int(times[i])])
            problems.items.append(
                f"{problems.where(r, 'value')}: {entity} drives {km[i]} km in a slot where its "
                "phv_location is not 0 (away); a trip's km belong to slots the car is away"
            )


# --------------------------------------------------------------------------------------------
# Storing and loading
# --------------------------------------------------------------------------------------------


def import_file(
    path: Path, name: str, *, timezone: str = "Asia/Tokyo", slot_minutes: int = 30
) -> ImportedSet:
    """Validate ``path`` and store it as data set ``name`` (see the module docstring).

    Raises:
        DataImportError: the file breaks the schema (every problem listed).
        ValueError: ``name`` is not a valid data set name.
    """
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", name) or name == "synthetic":
        raise ValueError(
            f"data set name {name!r} must be letters, digits, '_', '.' or '-' (and not 'synthetic')"
        )
    rows, start = validate_file(path, timezone, slot_minutes)
    slot_s = slot_minutes * 60
    n_slots = (int(rows["utc"].max()) - start) // slot_s + 1
    slot = ((rows["utc"].to_numpy() - start) // slot_s).astype(np.int64)
    entities: dict[str, tuple[str, ...]] = {}
    arrays: dict[str, NDArray[Any]] = {}
    for kind in KINDS:
        mask = (rows["kind"] == kind).to_numpy()
        ids = tuple(sorted(set(rows["entity_id"].to_numpy()[mask])))
        entities[kind] = ids
        dtype = np.int8 if kind == "phv_location" else np.float32
        table = np.zeros((n_slots, len(ids)), dtype=dtype)
        col = {e: i for i, e in enumerate(ids)}
        cols = np.array([col[e] for e in rows["entity_id"].to_numpy()[mask]], dtype=np.int64)
        table[slot[mask], cols] = rows["value"].to_numpy()[mask].astype(dtype)
        arrays[kind] = table
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    imported = ImportedSet(
        name=name,
        start_utc=np.datetime64(start, "s"),
        slot_minutes=slot_minutes,
        timezone=timezone,
        entities=entities,
        arrays=arrays,
        sha256=digest,
        source_file=str(path.resolve()),
    )
    _save(imported, imported_path(name))
    return imported


def _save(data: ImportedSet, path: Path) -> None:
    arrays: dict[str, Any] = dict(data.arrays)
    meta = {
        "store_version": STORE_VERSION,
        "name": data.name,
        "start_utc": str(data.start_utc),
        "slot_minutes": data.slot_minutes,
        "timezone": data.timezone,
        "entities": {k: list(v) for k, v in data.entities.items()},
        "sha256": data.sha256,
        "source_file": data.source_file,
    }
    write_npz_atomic(path, meta, arrays)


def read_imported(name: str) -> ImportedSet:
    """An imported data set by name.

    Raises:
        FileNotFoundError: no set of that name (says where it looked and how to import one).
    """
    path = imported_path(name)
    if not path.is_file():
        raise FileNotFoundError(
            f"data.source {name!r}: no imported data set at {path}; import one with "
            f"`p2p-gym data import FILE --as {name}`"
        )
    with np.load(path, allow_pickle=False) as stored:
        meta = json.loads(str(stored["meta"]))
        arrays = {k: stored[k] for k in KINDS}
    if meta.get("store_version") != STORE_VERSION:
        raise ValueError(f"{path}: store version {meta.get('store_version')!r}, re-import it")
    return ImportedSet(
        name=str(meta["name"]),
        start_utc=np.datetime64(meta["start_utc"], "s"),
        slot_minutes=int(meta["slot_minutes"]),
        timezone=str(meta["timezone"]),
        entities={k: tuple(v) for k, v in meta["entities"].items()},
        arrays=arrays,
        sha256=str(meta["sha256"]),
        source_file=str(meta["source_file"]),
    )


def load_imported(config: GymConfig) -> Dataset:
    """The :class:`Dataset` for ``config`` from its imported ``data.source``.

    Takes the config's entities and ``data.span`` days from the imported set.

    Raises:
        FileNotFoundError: the named set was never imported.
        ValueError: the set lacks an entity, a kind or days the config needs (all listed).
    """
    data, community = config.data, config.community
    imported = read_imported(data.source)
    layout = community_layout(community)
    timezone = community.site.timezone
    problems: list[str] = []
    if imported.slot_minutes != data.slot_minutes:
        problems.append(
            f"slots of {imported.slot_minutes} min, config data.slot_minutes {data.slot_minutes}"
        )
    if imported.timezone != timezone:
        problems.append(f"imported for {imported.timezone}, the site is in {timezone}")
    start, n_slots = span_start_and_slots(
        data.span.start, data.span.end, timezone, data.slot_minutes
    )
    slot_s = data.slot_minutes * 60
    offset = (int(start.astype(np.int64)) - int(imported.start_utc.astype(np.int64))) // slot_s
    if offset < 0 or offset + n_slots > imported.n_slots:
        last = int(imported.start_utc.astype(np.int64)) + (imported.n_slots - 1) * slot_s
        problems.append(
            f"data.span {data.span.start}..{data.span.end} is not inside the imported data "
            f"({_local_text(int(imported.start_utc.astype(np.int64)), timezone)} .. "
            f"{_local_text(last, timezone)}): give the config a data.span of days the set "
            "covers, with the train, validation and test periods inside it (a config that "
            "extends this one; see 'Bring your own data' in the README)"
        )
    window = slice(max(offset, 0), max(offset, 0) + n_slots)

    def column(kind: str, entity: str, required: bool) -> NDArray[Any] | None:
        ids = imported.entities.get(kind, ())
        if entity in ids:
            return imported.arrays[kind][window, ids.index(entity)]
        if required:
            problems.append(f"{entity} has no {kind} series")
        return None

    n_homes, n_phv = len(layout.home_ids), len(layout.phv_ids)
    home_load = np.zeros((n_slots, n_homes), dtype=np.float32)
    home_pv = np.zeros((n_slots, n_homes), dtype=np.float32)
    for i, home in enumerate(layout.home_ids):
        load = column("load", home, True)
        pv = column("pv", home, layout.pv[i] is not None)
        if pv is not None and layout.pv[i] is None and np.any(pv > 0):
            problems.append(
                f"{home} has pv data but its group {layout.home_groups[i]!r} has no PV in the "
                "config"
            )
        if not problems:
            home_load[:, i] = load if load is not None else 0
            home_pv[:, i] = pv if pv is not None and layout.pv[i] is not None else 0
    office = community.office
    office_load = np.zeros(n_slots, dtype=np.float32)
    office_pv = np.zeros(n_slots, dtype=np.float32)
    if office is not None:
        load = column("load", "office", True)
        pv = column("pv", "office", office.pv is not None)
        if not problems:
            office_load[:] = load if load is not None else 0
            office_pv[:] = pv if pv is not None and office.pv is not None else 0
    location = np.full((n_slots, n_phv), Location.HOME, dtype=np.int8)
    km = np.zeros((n_slots, n_phv), dtype=np.float32)
    for j, vehicle in enumerate(layout.phv_ids):
        loc = column("phv_location", vehicle, True)
        dist = column("phv_km", vehicle, True)
        if not problems and loc is not None and dist is not None:
            location[:, j], km[:, j] = loc, dist
    if problems:
        raise ValueError(
            f"data.source {data.source!r} does not fit the config:\n"
            + "\n".join(f"  {p}" for p in problems)
        )
    return Dataset(
        start_utc=start,
        slot_minutes=data.slot_minutes,
        timezone=timezone,
        home_ids=layout.home_ids,
        home_groups=layout.home_groups,
        phv_ids=layout.phv_ids,
        phv_home=layout.phv_home,
        has_office=office is not None,
        home_load_kwh=home_load,
        home_pv_kwh=home_pv,
        office_load_kwh=office_load,
        office_pv_kwh=office_pv,
        phv_location=location,
        phv_km=km,
        phv_km_per_kwh=community.phv.km_per_kwh,
        source=data.source,
        key=f"{imported.sha256[:16]}-{data.span.start}-{data.span.end}",
    )


def to_long_frame(dataset: Dataset) -> pd.DataFrame:
    """A data set in the import schema (e.g. to export synthetic data, or to test an import)."""
    zone = ZoneInfo(dataset.timezone)
    times = pd.DatetimeIndex(dataset.timestamps_utc.astype("datetime64[ns]"), tz="UTC")
    text = np.array([t.isoformat() for t in times.tz_convert(zone)])
    parts: list[pd.DataFrame] = []

    def add(entity: str, kind: str, values: NDArray[Any], unit: str) -> None:
        parts.append(
            pd.DataFrame(
                {
                    "timestamp": text,
                    "entity_id": entity,
                    "kind": kind,
                    "value": values.astype(np.float64),
                    "unit": unit,
                }
            )
        )

    for i, home in enumerate(dataset.home_ids):
        add(home, "load", dataset.home_load_kwh[:, i], "kWh")
        add(home, "pv", dataset.home_pv_kwh[:, i], "kWh")
    for j, vehicle in enumerate(dataset.phv_ids):
        add(vehicle, "phv_location", dataset.phv_location[:, j], "code")
        add(vehicle, "phv_km", dataset.phv_km[:, j], "km")
    if dataset.has_office:
        add("office", "load", dataset.office_load_kwh, "kWh")
        add("office", "pv", dataset.office_pv_kwh, "kWh")
    return pd.concat(parts, ignore_index=True)
