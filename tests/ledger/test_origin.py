"""Origin queries: a consumer's energy by origin (through a battery too), a producer's fates."""

from __future__ import annotations

import pytest
from ledger_synthetic import build

from ledger import CertificateRegistry, Ledger, LedgerError
from ledger.origin import (
    consumption_by_origin,
    device_flows,
    matched_share,
    producer_destinations,
)

PARAMS = {"mechanism": "call"}


@pytest.fixture(scope="module")
def ledger() -> Ledger:
    """Slot 10: p0 generates 1000 Wh pv, sells 300 to c0, stores 500; c0 consumes 400.
    Slot 11: p0's battery discharges 400 Wh, 350 sold to c0, who consumes 500; p1 sells 100 pv."""
    reg = CertificateRegistry()
    ledger = Ledger.in_memory()
    reg.begin_slot(10)
    reg.issue("p0", "pv", 1000)
    reg.transfer("p0", "c0", "pv", 300, trade="t0")
    reg.charge("p0", "p0/battery", 500)
    reg.consume("c0", 400)
    ledger.append_block(10, PARAMS, certificates=reg.end_slot(), start="2020-08-01T05:00:00+09:00")
    reg.begin_slot(11)
    reg.discharge("p0/battery", "p0", 400)
    reg.issue("p1", "pv", 100)
    reg.transfer("p0", "c0", "battery", 350, trade="t1")
    reg.transfer("p1", "c0", "pv", 100, trade="t2")
    reg.consume("c0", 500)
    reg.lose("p0/battery", 30)
    ledger.append_block(11, PARAMS, certificates=reg.end_slot(), start="2020-08-01T05:30:00+09:00")
    return ledger


def test_consumption_by_origin_keeps_the_origin_through_the_battery(ledger: Ledger) -> None:
    frame = consumption_by_origin(ledger, "c0")
    rows = sorted(map(tuple, frame.itertuples(index=False)))
    assert rows == [
        (10, "p0", "pv", 10, "pv", False, "p0/pv", 300),
        (11, "p0", "pv", 10, "battery", True, "p0/battery", 350),
        (11, "p1", "pv", 11, "pv", False, "p1/pv", 100),
    ]
    assert consumption_by_origin(ledger, "c0", 11, 11)["wh"].sum() == 450
    iso = consumption_by_origin(ledger, "c0", "2020-08-01T05:15:00+09:00")
    assert set(iso["slot"]) == {11}
    assert consumption_by_origin(ledger, "nobody").empty


def test_a_timestamp_without_offset_is_read_at_the_blocks_offset(ledger: Ledger) -> None:
    # The blocks start at 05:00 and 05:30 +09:00 (20:00 and 20:30 UTC the day before).
    assert set(consumption_by_origin(ledger, "c0", None, "2020-08-01T05:00")["slot"]) == {10}
    assert set(consumption_by_origin(ledger, "c0", "2020-08-01T05:15")["slot"]) == {11}
    assert consumption_by_origin(ledger, "c0", "2020-08-01T05:45").empty
    utc = consumption_by_origin(ledger, "c0", None, "2020-07-31T20:00:00+00:00")
    assert set(utc["slot"]) == {10}
    # A block without a start never matches a timestamp bound; slot indices still work.
    bare = Ledger.in_memory()
    reg = CertificateRegistry()
    reg.begin_slot(3)
    reg.issue("p0", "pv", 100)
    reg.transfer("p0", "c0", "pv", 100, trade="t0")
    reg.consume("c0", 100)
    bare.append_block(3, PARAMS, certificates=reg.end_slot())
    assert consumption_by_origin(bare, "c0", None, "2030-01-01T00:00").empty
    assert consumption_by_origin(bare, "c0", 0, 3)["wh"].sum() == 100


def test_matched_share(ledger: Ledger) -> None:
    share = matched_share(ledger, "c0").set_index("slot")
    assert share.loc[10, "consumed_wh"] == 400
    assert share.loc[10, "certified_wh"] == 300
    assert share.loc[10, "same_slot_wh"] == 300
    assert share.loc[10, "certified_share"] == pytest.approx(0.75)
    assert share.loc[11, "certified_wh"] == 450  # battery energy is certified, from slot 10
    assert share.loc[11, "same_slot_wh"] == 100
    assert share.loc[11, "same_slot_share"] == pytest.approx(0.2)


def test_producer_destinations(ledger: Ledger) -> None:
    frame = producer_destinations(ledger, "p0")
    by_fate = frame.groupby("fate")["wh"].sum().to_dict()
    # 1000 Wh: 300 to c0, 500 stored, 200 exported; of the stored, 350 to c0, 50 exported
    # (discharged but unsold), 30 lost, 70 still in the battery.
    assert by_fate == {"consumed": 650, "stored": 500, "exported": 250, "lost": 30}
    assert frame[frame["fate"] == "consumed"]["to"].unique().tolist() == ["c0"]
    assert producer_destinations(ledger, "p0", 11)["slot"].min() == 11


def test_device_flows(ledger: Ledger) -> None:
    rows = sorted(map(tuple, device_flows(ledger, "p0/battery").itertuples(index=False)))
    assert rows == [
        (10, "stored", "p0", "pv", 10, "pv", 500),
        (11, "discharged", "p0", "pv", 10, "battery", 400),
        (11, "lost", "p0", "pv", 10, "pv", 30),
    ]
    # The loss in slot 11 is traced to energy stored before the range.
    later = device_flows(ledger, "p0/battery", 11)
    assert sorted(later["flow"]) == ["discharged", "lost"]
    assert set(later["origin_slot"]) == {10}
    # The verifier's own storage book agrees.
    book = ledger.verify().storage["p0/battery"]
    totals = device_flows(ledger, "p0/battery").groupby("flow")["wh"].sum()
    assert (totals["stored"], totals["discharged"], totals["lost"]) == (
        book["stored"],
        book["drawn"],
        book["lost"],
    )
    assert device_flows(ledger, "c0/battery").empty


def test_bad_bounds_and_hash_only_ledgers() -> None:
    with pytest.raises(LedgerError, match="ISO 8601 timestamp, got 'soon'"):
        consumption_by_origin(build(1), "c0", "soon")
    slim = build(2, ledger=Ledger.in_memory(keep_records=False))
    with pytest.raises(LedgerError, match="keeps only hashes"):
        matched_share(slim, "c0")
