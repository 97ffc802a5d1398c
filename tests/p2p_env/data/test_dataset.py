"""The Dataset container: indexing by time, windows, PHV helpers, storage."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from p2p_env.data import Dataset, Location

TOKYO = ZoneInfo("Asia/Tokyo")
A, H, OFF = Location.AWAY, Location.HOME, Location.OFFICE


def tiny(location: np.ndarray, km: np.ndarray | None = None) -> Dataset:
    """A data set of one home and len(location[0]) PHVs starting 2020-08-01 00:00 JST."""
    t, v = location.shape
    return Dataset(
        start_utc=np.datetime64("2020-07-31T15:00", "s"),
        slot_minutes=30,
        timezone="Asia/Tokyo",
        home_ids=("home_00",),
        home_groups=("g",),
        phv_ids=tuple(f"phv_{i:02d}" for i in range(v)),
        phv_home=np.zeros(v, dtype=np.int64),
        has_office=False,
        home_load_kwh=np.arange(t, dtype=np.float32)[:, None],
        home_pv_kwh=np.zeros((t, 1), dtype=np.float32),
        office_load_kwh=np.zeros(t, dtype=np.float32),
        office_pv_kwh=np.zeros(t, dtype=np.float32),
        phv_location=location.astype(np.int8),
        phv_km=np.zeros((t, v), dtype=np.float32) if km is None else km.astype(np.float32),
        phv_km_per_kwh=10.0,
        source="test",
        key="k",
    )


def test_slot_index_and_day_slots() -> None:
    ds = tiny(np.full((96, 1), H))
    assert ds.slot_index(dt.datetime(2020, 8, 1, 0, 0, tzinfo=TOKYO)) == 0
    assert ds.slot_index(dt.datetime(2020, 8, 1, 0, 29, tzinfo=TOKYO)) == 0
    assert ds.slot_index(dt.datetime(2020, 8, 2, 12, 0, tzinfo=TOKYO)) == 72
    assert ds.slot_index(dt.datetime(2020, 8, 1, 3, 0, tzinfo=dt.UTC)) == 24
    with pytest.raises(ValueError, match="naive"):
        ds.slot_index(dt.datetime(2020, 8, 1))
    with pytest.raises(ValueError, match="outside"):
        ds.slot_index(dt.datetime(2020, 8, 3, tzinfo=TOKYO))
    assert ds.day_slots(dt.date(2020, 8, 2), dt.date(2020, 8, 2)) == slice(48, 96)
    with pytest.raises(ValueError, match="not inside"):
        ds.day_slots(dt.date(2020, 7, 31), dt.date(2020, 8, 1))


def test_window_keeps_time_alignment() -> None:
    ds = tiny(np.full((96, 1), H))
    day2 = ds.window(slice(48, 96))
    assert day2.n_slots == 48
    assert day2.home_load_kwh[0, 0] == 48
    assert day2.local_start() == dt.datetime(2020, 8, 2, tzinfo=TOKYO)
    assert day2.calendar.dates == (dt.date(2020, 8, 2),)


def test_shapes_are_checked() -> None:
    ds = tiny(np.full((4, 1), H))
    with pytest.raises(ValueError, match=r"home_pv_kwh has shape \(3, 1\), expected \(4, 1\)"):
        Dataset(**{**ds.__dict__, "home_pv_kwh": np.zeros((3, 1), dtype=np.float32)})


def test_phv_helpers_on_a_commute() -> None:
    loc = np.array([H, H, A, OFF, OFF, A, H, H])[:, None]
    km = np.array([0, 0, 12, 0, 0, 12, 0, 0])[:, None]
    ds = tiny(loc, km)
    assert ds.phv_slots_to_departure[:, 0].tolist() == [2, 1, 0, 2, 1, 0, 2, 1]
    np.testing.assert_allclose(ds.phv_kwh_to_next_plug[:, 0], [1.2, 1.2, 1.2, 1.2, 1.2, 1.2, 0, 0])
    np.testing.assert_allclose(ds.phv_trip_kwh[:, 0], km[:, 0] / 10)


def _reference(loc: np.ndarray, kwh: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Slow, obvious versions of the two helpers."""
    t, v = loc.shape
    to_dep = np.zeros((t, v), dtype=np.int64)
    to_plug = np.zeros((t, v))
    for j in range(v):
        for i in range(t):
            if loc[i, j] == A:
                k, total = i, 0.0
                while k < t and loc[k, j] == A:
                    total += kwh[k, j]
                    k += 1
                to_plug[i, j] = total
            else:
                k = i
                while k < t and loc[k, j] != A:
                    k += 1
                to_dep[i, j] = k - i
                total = 0.0
                while k < t and loc[k, j] == A:
                    total += kwh[k, j]
                    k += 1
                to_plug[i, j] = total
    return to_dep, to_plug


@settings(max_examples=300, deadline=None)
@given(
    loc=hnp.arrays(
        np.int8,
        hnp.array_shapes(min_dims=2, max_dims=2, max_side=12),
        elements=st.sampled_from([0, 1, 2]),
    ),
    data=st.data(),
)
def test_phv_helpers_match_a_reference(loc: np.ndarray, data: st.DataObject) -> None:
    km = data.draw(hnp.arrays(np.float32, loc.shape, elements=st.floats(0, 50, width=32))) * (
        loc == A
    )
    ds = tiny(loc, km)
    to_dep, to_plug = _reference(loc, ds.phv_trip_kwh.astype(np.float64))
    np.testing.assert_array_equal(ds.phv_slots_to_departure, to_dep)
    np.testing.assert_allclose(ds.phv_kwh_to_next_plug, to_plug, rtol=1e-5, atol=1e-4)


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    loc = np.array([H, A, OFF, A])[:, None]
    ds = tiny(loc, np.array([0, 5, 0, 5])[:, None])
    path = tmp_path / "x" / "set.npz"
    ds.save(path)
    back = Dataset.load(path)
    assert back.equals(ds)
    assert not list(path.parent.glob(".*.tmp")), "no temporary file is left behind"


def test_series_by_id() -> None:
    ds = tiny(np.array([H, A])[:, None], np.array([0, 3])[:, None])
    assert ds.series("home_00", "load").tolist() == [0, 1]
    assert ds.series("phv_00", "phv_km").tolist() == [0, 3]
    with pytest.raises(KeyError, match="unknown entity"):
        ds.series("home_99", "load")
    with pytest.raises(KeyError, match="no series of kind"):
        ds.series("phv_00", "load")
