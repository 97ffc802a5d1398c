"""Certificates: conservation per slot and tag, no double retirement, origin through storage."""

from __future__ import annotations

import copy
import itertools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.certificates import CertificateBook, CertificateRegistry, check_events
from ledger.errors import CertificateError


def _slot_with_battery() -> tuple[CertificateRegistry, list[list[dict[str, Any]]]]:
    reg = CertificateRegistry()
    slots = []
    reg.begin_slot(0)
    reg.issue("p0", "pv", 1000)
    reg.transfer("p0", "c0", "pv", 300, trade="t0")
    reg.charge("p0", "p0/battery", 500)
    reg.consume("c0", 250)
    slots.append(reg.end_slot(exported={"p0": 100}))
    reg.begin_slot(1)
    assert reg.discharge("p0/battery", "p0", 400, tag="battery") == 400
    reg.transfer("p0", "c1", "battery", 350, trade="t1")
    reg.consume("c1", 1000)
    reg.lose("p0/battery", 20)
    slots.append(reg.end_slot())
    return reg, slots


def test_lifecycle_balances_and_keeps_origin_through_storage() -> None:
    reg, slots = _slot_with_battery()
    book = check_events(enumerate(slots))
    pv = book.totals[(0, "pv")]
    assert (pv.issued, pv.consumed, pv.stored, pv.exported, pv.expired) == (
        1000,
        250,
        500,
        100,
        150,
    )
    assert pv.cancelled == 750
    assert pv.balanced
    battery = book.totals[(1, "battery")]
    assert (battery.issued, battery.consumed, battery.exported) == (400, 350, 50)
    assert book.storage["p0/battery"] == [500, 400, 20]
    assert reg.stored_wh("p0/battery") == 80 == book.stored_wh("p0/battery")
    discharge = [e for e in slots[1] if e["event"] == "issue"]
    assert discharge
    assert all(e["storage"] for e in discharge)
    assert {
        (e["origin"]["producer"], e["origin"]["tag"], e["origin"]["slot"]) for e in discharge
    } == {("p0", "pv", 0)}
    assert {e["tag"] for e in discharge} == {"battery"}


def test_discharge_without_stored_certificates_issues_none() -> None:
    reg = CertificateRegistry()
    reg.begin_slot(3)
    assert reg.discharge("p9/battery", "p9", 500) == 0  # charged from the grid: no certificate
    assert reg.transfer("p9", "c0", "battery", 500) == 0
    assert reg.end_slot() == []


def _mutations(events: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    out = []
    cancels = [i for i, e in enumerate(events) if e["event"] == "cancel"]
    i = cancels[0]
    out.append(("cancelled twice", [*events[: i + 1], events[i], *events[i + 1 :]]))
    bigger = copy.deepcopy(events)
    bigger[i]["wh"] += 1
    out.append(("cancel one Wh more", bigger))
    wrong = copy.deepcopy(events)
    wrong[i]["holder"] = "someone"
    out.append(("cancel by a non-holder", wrong))
    dropped = [e for j, e in enumerate(events) if j != len(events) - 1]
    out.append(("last export dropped", dropped))
    issue = next(j for j, e in enumerate(events) if e["event"] == "issue")
    bad_origin = copy.deepcopy(events)
    bad_origin[issue]["origin"]["producer"] = "elsewhere"
    out.append(("production origin not its own", bad_origin))
    bad_id = copy.deepcopy(events)
    bad_id[issue]["cert"] = "99-0"
    out.append(("certificate id from another slot", bad_id))
    consume = next(j for j, e in enumerate(events) if e["event"] == "consume")
    less = copy.deepcopy(events)
    less[consume]["wh"] = 0
    out.append(("cancel beyond consumption", less))
    extra = copy.deepcopy(events)
    extra[i]["note"] = 1
    out.append(("unknown field", extra))
    floaty = copy.deepcopy(events)
    floaty[i]["wh"] = float(floaty[i]["wh"])
    out.append(("float Wh", floaty))
    return out


CASES = [name for name, _ in _mutations(_slot_with_battery()[1][0])]


@pytest.mark.parametrize("case", CASES)
def test_broken_streams_are_refused(case: str) -> None:
    _, slots = _slot_with_battery()
    events = dict(_mutations(slots[0]))[case]
    with pytest.raises(CertificateError):
        check_events([(0, events)])


def test_storage_rules() -> None:
    _, slots = _slot_with_battery()
    twice = copy.deepcopy(slots[1])
    issue = next(e for e in twice if e["event"] == "issue")
    second = copy.deepcopy(issue)
    second["cert"] = "1-99"
    twice.insert(twice.index(issue) + 1, second)
    with pytest.raises(CertificateError, match="not stored in device"):
        check_events(enumerate([slots[0], twice]))
    forged = copy.deepcopy(slots[1])
    next(e for e in forged if e["event"] == "issue")["origin"]["producer"] = "p7"
    with pytest.raises(CertificateError, match="keeps its origin"):
        check_events(enumerate([slots[0], forged]))
    # A certificate does not live past its slot: cancelling slot 0's certificate in slot 1.
    late = [
        {"event": "consume", "slot": 1, "holder": "c0", "wh": 10},
        {"event": "cancel", "slot": 1, "cert": "0-0", "start": 0, "wh": 10, "holder": "c0"},
    ]
    with pytest.raises(CertificateError, match="not live in slot 1"):
        check_events(enumerate([slots[0], late]))


def test_registry_refuses_bad_calls() -> None:
    reg = CertificateRegistry()
    with pytest.raises(CertificateError, match="begin_slot"):
        reg.issue("p0", "pv", 10)
    reg.begin_slot(0)
    with pytest.raises(CertificateError, match=r"non-negative integer number of Wh, got 1\.5"):
        reg.issue("p0", "pv", 1.5)  # type: ignore[arg-type]
    with pytest.raises(CertificateError, match="seller and buyer"):
        reg.transfer("p0", "p0", "pv", 1)
    book = CertificateBook()
    book.begin_block(0)
    with pytest.raises(CertificateError, match="still open"):
        book.begin_block(1)


AGENTS = ["a", "b", "c", "d"]
op = st.one_of(
    st.tuples(st.just("issue"), st.sampled_from(AGENTS), st.sampled_from(["pv", "wind"]),
              st.integers(0, 2000)),
    st.tuples(st.just("transfer"), st.sampled_from(AGENTS), st.sampled_from(AGENTS),
              st.sampled_from(["pv", "wind", "battery"]), st.integers(0, 1500)),
    st.tuples(st.just("charge"), st.sampled_from(AGENTS), st.sampled_from(["s1", "s2"]),
              st.integers(0, 800)),
    st.tuples(st.just("discharge"), st.sampled_from(["s1", "s2"]), st.sampled_from(AGENTS),
              st.integers(0, 800)),
    st.tuples(st.just("consume"), st.sampled_from(AGENTS), st.integers(0, 1500)),
    st.tuples(st.just("lose"), st.sampled_from(["s1", "s2"]), st.integers(0, 50)),
)  # fmt: skip
slot_ops = st.tuples(
    st.lists(op, max_size=14),
    st.none() | st.dictionaries(st.sampled_from(AGENTS), st.integers(0, 3000)),
)


@settings(max_examples=250, deadline=None)
@given(st.lists(slot_ops, min_size=1, max_size=6))
def test_conservation_on_random_streams(slots: list[Any]) -> None:
    reg = CertificateRegistry()
    blocks = []
    issued_by_call: dict[tuple[int, str], int] = {}
    storage_in = storage_out = 0
    for slot, (ops, exported) in enumerate(slots):
        reg.begin_slot(slot)
        for o in ops:
            if o[0] == "issue":
                reg.issue(o[1], o[2], o[3])
                issued_by_call[(slot, o[2])] = issued_by_call.get((slot, o[2]), 0) + o[3]
            elif o[0] == "transfer":
                if o[1] != o[2]:
                    assert reg.transfer(o[1], o[2], o[3], o[4]) <= o[4]
            elif o[0] == "charge":
                storage_in += reg.charge(o[1], o[2], o[3])
            elif o[0] == "discharge":
                got = reg.discharge(o[1], o[2], o[3], tag="battery")
                issued_by_call[(slot, "battery")] = issued_by_call.get((slot, "battery"), 0) + got
                storage_out += got
            elif o[0] == "consume":
                assert reg.consume(o[1], o[2]) <= o[2]
            else:
                storage_out += reg.lose(o[1], o[2])
        blocks.append((slot, reg.end_slot(exported=exported)))
    book = check_events(blocks)  # an independent replay of the emitted stream
    for key, row in book.totals.items():
        assert row.issued == row.cancelled + row.exported + row.expired, key
        assert row.issued == issued_by_call.get(key, 0)
    for key, wh in issued_by_call.items():
        if wh:
            assert book.totals[key].issued == wh
    # Stored Wh: what went in is drawn, lost or still there, never more.
    held = sum(reg.stored_wh(d) for d in ("s1", "s2"))
    assert storage_in == storage_out + held
    assert held == sum(book.stored_wh(d) for d in ("s1", "s2"))
    # Wh by Wh: every range of every certificate ended exactly once.
    ended: dict[str, list[tuple[int, int]]] = {}
    sizes: dict[str, int] = {}
    for _, events in blocks:
        for e in events:
            if e["event"] == "issue":
                sizes[e["cert"]] = e["wh"]
            elif e["event"] in ("cancel", "store", "export", "expire"):
                ended.setdefault(e["cert"], []).append((e["start"], e["start"] + e["wh"]))
    for cert, size in sizes.items():
        ranges = sorted(ended.get(cert, []))
        assert ranges[0][0] == 0
        assert ranges[-1][1] == size
        assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges)), cert


def test_a_range_received_in_pieces_can_be_retired_at_once() -> None:
    events = [
        {"event": "issue", "slot": 4, "cert": "4-0", "holder": "p", "device": "p/pv", "tag": "pv",
         "wh": 300, "storage": False, "origin": {"producer": "p", "tag": "pv", "slot": 4},
         "source": None},
        {"event": "transfer", "slot": 4, "cert": "4-0", "start": 0, "wh": 100, "from": "p",
         "to": "c", "trade": "t1"},
        {"event": "transfer", "slot": 4, "cert": "4-0", "start": 100, "wh": 100, "from": "p",
         "to": "c", "trade": "t2"},
        {"event": "consume", "slot": 4, "holder": "c", "wh": 250},
        {"event": "cancel", "slot": 4, "cert": "4-0", "start": 0, "wh": 200, "holder": "c"},
        {"event": "store", "slot": 4, "cert": "4-0", "start": 200, "wh": 50, "holder": "p",
         "device": "p/bat"},
        {"event": "store", "slot": 4, "cert": "4-0", "start": 250, "wh": 50, "holder": "p",
         "device": "p/bat"},
    ]  # fmt: skip
    book = check_events([(4, events)])
    assert book.totals[(4, "pv")].consumed == 200
    book.begin_block(5)
    book.apply({"event": "lose", "slot": 5, "cert": "4-0", "start": 200, "wh": 100,
                "device": "p/bat"})  # fmt: skip
    book.end_block()
    assert book.stored_wh("p/bat") == 0
