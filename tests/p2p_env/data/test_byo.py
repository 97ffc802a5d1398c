"""Bring your own data: a valid file round-trips; each kind of bad file is refused with its row
and column named."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from p2p_env.config import GymConfig, load_config
from p2p_env.data import (
    DataImportError,
    Dataset,
    generate_dataset,
    import_file,
    load_dataset,
    to_long_frame,
)
from p2p_env.data.byo import validate_file

from .conftest import SHORT_SPAN


@pytest.fixture(scope="module")
def short_dataset(short_config: GymConfig) -> Dataset:
    return generate_dataset(short_config)


@pytest.fixture(scope="module")
def long_frame(short_dataset: Dataset) -> pd.DataFrame:
    return to_long_frame(short_dataset)


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False)
    return path


def imported_config(name: str, *extra: str) -> GymConfig:
    return load_config("higashifuji_demo", (*SHORT_SPAN, f"data.source={name}", *extra))


def test_csv_round_trip(tmp_path: Path, long_frame: pd.DataFrame, short_dataset: Dataset) -> None:
    path = write_csv(long_frame, tmp_path / "mine.csv")
    imported = import_file(path, "mine")
    assert imported.n_slots == short_dataset.n_slots
    ds = load_dataset(imported_config("mine"))
    assert ds.source == "mine"
    assert ds.entity_ids == short_dataset.entity_ids
    for name in ("home_load_kwh", "home_pv_kwh", "office_load_kwh", "office_pv_kwh", "phv_km"):
        np.testing.assert_allclose(getattr(ds, name), getattr(short_dataset, name), rtol=1e-6)
    np.testing.assert_array_equal(ds.phv_location, short_dataset.phv_location)


def test_parquet_with_aware_timestamps_and_other_units(
    tmp_path: Path, long_frame: pd.DataFrame, short_dataset: Dataset
) -> None:
    frame = long_frame.copy()
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], format="ISO8601", utc=True)
    home_load = (frame["entity_id"] == "home_00") & (frame["kind"] == "load")
    frame.loc[home_load, "value"] *= 1000
    frame.loc[home_load, "unit"] = "Wh"
    office_pv = (frame["entity_id"] == "office") & (frame["kind"] == "pv")
    frame.loc[office_pv, "value"] *= 2  # kWh per 30 min -> mean kW
    frame.loc[office_pv, "unit"] = "kW"
    path = tmp_path / "mine.parquet"
    frame.to_parquet(path)
    import_file(path, "pq")
    ds = load_dataset(imported_config("pq"))
    np.testing.assert_allclose(ds.home_load_kwh[:, 0], short_dataset.home_load_kwh[:, 0], rtol=1e-5)
    np.testing.assert_allclose(ds.office_pv_kwh, short_dataset.office_pv_kwh, rtol=1e-5, atol=1e-6)


def test_config_takes_a_sub_span(tmp_path: Path, long_frame: pd.DataFrame) -> None:
    import_file(write_csv(long_frame, tmp_path / "mine.csv"), "mine")
    two_days = (
        "data.span.end=2020-08-03",
        "data.train.end=2020-08-01",
        "data.validation.start=2020-08-02",
        "data.validation.end=2020-08-02",
        "data.test.start=2020-08-03",
        "data.test.end=2020-08-03",
    )
    assert load_dataset(imported_config("mine", *two_days)).n_slots == 3 * 48


def _expect(tmp_path: Path, frame: pd.DataFrame, *fragments: str, suffix: str = ".csv") -> str:
    path = tmp_path / f"bad{suffix}"
    if suffix == ".csv":
        write_csv(frame, path)
    else:
        frame.to_parquet(path)
    with pytest.raises(DataImportError) as info:
        import_file(path, "bad")
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in:\n{message}"
    assert not (tmp_path / "data" / "datasets" / "bad.npz").exists(), "nothing stored"
    return message


def _edit(frame: pd.DataFrame, row: int, **values: object) -> pd.DataFrame:
    out = frame.copy()
    for column, value in values.items():
        out[column] = out[column].astype(object)
        out.at[row, column] = value
    return out


# Data row 5 is line 6 of the CSV file (line 1 is the header).
ROW = 4
WHERE = "row 5 (line 6)"


def test_missing_column(tmp_path: Path, long_frame: pd.DataFrame) -> None:
    _expect(tmp_path, long_frame.drop(columns="unit"), "missing column 'unit'")


def test_unexpected_column(tmp_path: Path, long_frame: pd.DataFrame) -> None:
    _expect(tmp_path, long_frame.assign(note="x"), "unexpected column 'note'")


def test_naive_timestamp(tmp_path: Path, long_frame: pd.DataFrame) -> None:
    frame = _edit(long_frame, ROW, timestamp="2020-08-01T02:00:00")
    _expect(tmp_path, frame, f"{WHERE}, column 'timestamp'", "no UTC offset", "+09:00")


def test_naive_parquet_timestamps(tmp_path: Path, long_frame: pd.DataFrame) -> None:
    frame = long_frame.copy()
    frame["timestamp"] = pd.to_datetime(frame["timestamp"].str[:19])
    _expect(tmp_path, frame, "row 1, column 'timestamp'", "naive", suffix=".parquet")


def test_wrong_time_zone(tmp_path: Path, long_frame: pd.DataFrame) -> None:
    frame = _edit(long_frame, ROW, timestamp="2020-08-01T02:00:00+01:00")
    _expect(tmp_path, frame, f"{WHERE}, column 'timestamp'", "wrong time zone", "+09:00")


def test_wrong_time_zone_in_parquet(tmp_path: Path, long_frame: pd.DataFrame) -> None:
    frame = long_frame.copy()
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True).dt.tz_convert("Europe/Berlin")
    _expect(tmp_path, frame, "column 'timestamp'", "Europe/Berlin", suffix=".parquet")


def test_utc_offsets_are_accepted(tmp_path: Path, long_frame: pd.DataFrame) -> None:
    frame = long_frame.copy()
    utc = pd.to_datetime(frame["timestamp"], utc=True)
    frame["timestamp"] = utc.dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    import_file(write_csv(frame, tmp_path / "utc.csv"), "utc")


def test_unparsable_and_off_slot_timestamps(tmp_path: Path, long_frame: pd.DataFrame) -> None:
    _expect(tmp_path, _edit(long_frame, ROW, timestamp="yesterday"), f"{WHERE}, column 'timestamp'",
            "not an ISO 8601 time")  # fmt: skip
    _expect(tmp_path, _edit(long_frame, ROW, timestamp="2020-08-01T02:10:00+09:00"),
            f"{WHERE}, column 'timestamp'", "not the start of a 30-minute slot")  # fmt: skip


def test_negative_generation(tmp_path: Path, long_frame: pd.DataFrame) -> None:
    row = int(np.flatnonzero(long_frame["kind"] == "pv")[3])
    _expect(tmp_path, _edit(long_frame, row, value=-0.5), f"row {row + 1} (line {row + 2}), "
            "column 'value'", "negative generation")  # fmt: skip


def test_negative_load_and_bad_number(tmp_path: Path, long_frame: pd.DataFrame) -> None:
    _expect(tmp_path, _edit(long_frame, ROW, value=-1), f"{WHERE}, column 'value'", "negative load")
    _expect(tmp_path, _edit(long_frame, ROW, value="lots"), f"{WHERE}, column 'value'",
            "not a finite number")  # fmt: skip


def test_wrong_unit(tmp_path: Path, long_frame: pd.DataFrame) -> None:
    _expect(tmp_path, _edit(long_frame, ROW, unit="MWh"), f"{WHERE}, column 'unit'",
            "unit 'MWh' is wrong for kind 'load'", "'kWh'")  # fmt: skip
    km_row = int(np.flatnonzero(long_frame["kind"] == "phv_km")[0])
    _expect(tmp_path, _edit(long_frame, km_row, unit="kWh"), f"row {km_row + 1}",
            "column 'unit'", "'km'")  # fmt: skip


def test_bad_entity_and_kind(tmp_path: Path, long_frame: pd.DataFrame) -> None:
    _expect(tmp_path, _edit(long_frame, ROW, entity_id="house_1"), f"{WHERE}, column 'entity_id'",
            "'house_1' is not an agent id")  # fmt: skip
    _expect(tmp_path, _edit(long_frame, ROW, kind="heat"), f"{WHERE}, column 'kind'",
            "unknown kind 'heat'")  # fmt: skip
    _expect(tmp_path, _edit(long_frame, ROW, kind="phv_km", unit="km"), f"{WHERE}, column 'kind'",
            "home_00 cannot have kind 'phv_km'")  # fmt: skip


def test_bad_location_code(tmp_path: Path, long_frame: pd.DataFrame) -> None:
    row = int(np.flatnonzero(long_frame["kind"] == "phv_location")[7])
    _expect(tmp_path, _edit(long_frame, row, value=3), f"row {row + 1} (line {row + 2}), "
            "column 'value'", "location code 3.0")  # fmt: skip


def test_duplicates(tmp_path: Path, long_frame: pd.DataFrame) -> None:
    frame = pd.concat([long_frame, long_frame.iloc[[ROW]]], ignore_index=True)
    n = len(frame)
    _expect(tmp_path, frame, f"row {n} (line {n + 1}), column 'timestamp'", "duplicate of row 5")


def test_missing_slot(tmp_path: Path, long_frame: pd.DataFrame) -> None:
    frame = long_frame.drop(index=ROW).reset_index(drop=True)
    _expect(tmp_path, frame, "column 'timestamp'", "home_00 load has no row for "
            "2020-08-01T02:00:00+09:00", "after row 4", "1 of 192 slots missing")  # fmt: skip


def test_km_while_parked(tmp_path: Path, long_frame: pd.DataFrame) -> None:
    parked = (long_frame["kind"] == "phv_km") & (long_frame["entity_id"] == "phv_00")
    row = int(np.flatnonzero(parked)[2])  # 01:00, the car is at home
    _expect(tmp_path, _edit(long_frame, row, value=5.0), f"row {row + 1} (line {row + 2}), "
            "column 'value'", "phv_00 drives 5.0 km", "not 0 (away)")  # fmt: skip


def test_phv_without_location(tmp_path: Path, long_frame: pd.DataFrame) -> None:
    keep = ~((long_frame["entity_id"] == "phv_03") & (long_frame["kind"] == "phv_location"))
    _expect(tmp_path, long_frame[keep].reset_index(drop=True), "column 'kind'",
            "phv_03 has no phv_location rows")  # fmt: skip


def test_many_problems_are_counted(tmp_path: Path, long_frame: pd.DataFrame) -> None:
    frame = long_frame.copy()
    frame["unit"] = "MWh"
    message = _expect(tmp_path, frame, "row 1 (line 2), column 'unit'", "more rows with the same")
    assert message.count("\n") < 30


def test_config_needs_what_the_set_lacks(tmp_path: Path, long_frame: pd.DataFrame) -> None:
    keep = long_frame["entity_id"] != "home_19"
    import_file(write_csv(long_frame[keep], tmp_path / "m.csv"), "partial")
    with pytest.raises(ValueError, match="home_19 has no load series"):
        load_dataset(imported_config("partial"))
    later = imported_config("partial", "data.span.end=2020-08-05", "data.test.end=2020-08-05")
    with pytest.raises(ValueError, match=r"data.span 2020-08-01..2020-08-05 is not inside") as info:
        load_dataset(later)
    assert "with the train, validation and test periods inside it" in str(info.value)


def test_unknown_source_says_how_to_import() -> None:
    with pytest.raises(FileNotFoundError, match="p2p-gym data import FILE --as nothing_here"):
        load_dataset(imported_config("nothing_here"))


def test_bad_names_are_refused(tmp_path: Path, long_frame: pd.DataFrame) -> None:
    path = write_csv(long_frame.head(1), tmp_path / "x.csv")
    with pytest.raises(ValueError, match="data set name"):
        import_file(path, "../escape")
    with pytest.raises(ValueError, match="data set name"):
        import_file(path, "synthetic")


def test_validate_returns_converted_rows(tmp_path: Path, long_frame: pd.DataFrame) -> None:
    rows, start = validate_file(write_csv(long_frame, tmp_path / "ok.csv"))
    assert len(rows) == len(long_frame)
    assert start == int(np.datetime64("2020-07-31T15:00", "s").astype(np.int64))
