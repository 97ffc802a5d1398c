"""The fast ledger writers give the reference bytes: certificate events, table rows, headers."""

from __future__ import annotations

import json
from typing import Any

import pytest
from certificate_flows import (  # tests/ledger/conftest.py puts it on sys.path
    COMMUNITY,
    TAGS,
    Slot,
    communities,
    drive_registry,
    flows,
    new_writer,
    one_slot,
    writer_events,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import (
    BlockHeader,
    CertificateError,
    CertificateRegistry,
    Ledger,
    RecordError,
    canonical_json,
)
from ledger.block import encode_trusted_header
from ledger.canonical import INT_MAX, INT_MIN
from ledger.certificates import check_events
from ledger.fast import RowTemplates, SlotCertificateWriter, trusted_json


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_writer_gives_the_registry_events(data: st.DataObject) -> None:
    community = data.draw(communities())
    slots = data.draw(flows(community))
    expected = drive_registry(CertificateRegistry(), community, slots)
    assert writer_events(community, slots, new_writer(community)) == expected
    # A valid stream: the registry checked its own events, this checks the bytes written.
    check_events(
        (s.slot, [json.loads(e) for e in events]) for s, events in zip(slots, expected, strict=True)
    )


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_writer_keeps_the_registry_state_across_slots(data: st.DataObject) -> None:
    community = data.draw(communities())
    slots = data.draw(flows(community))
    reg, writer = CertificateRegistry(), new_writer(community)
    for s in slots:
        assert writer_events(community, [s], writer) == drive_registry(reg, community, [s])
        for i, device in community.devices.items():
            assert writer.stored_wh(i) == reg.stored_wh(device)
        assert all(writer.held_wh(i) == 0 for i in range(len(community.names)))


@pytest.mark.parametrize(
    "slot",
    [
        one_slot(),  # nothing at all: no events
        one_slot(consumption=[0, 0, 7]),  # consumption with nothing to cancel
        one_slot(generation=[9, 0, 0], trades=[(1, 0, 0, 0, 0)]),  # a trade of 0 Wh
        one_slot(generation=[9, 0, 0], trades=[(2, 1, 0, 5, 0)]),  # a seller with nothing
        one_slot(generation=[9, 4, 0], trades=[(2, 0, 1, 12, 0), (2, 1, 2, 9, 0)]),
        one_slot(generation=[9, 0, 0], charge=[20, 0, 0], drawn=[3, 0, 0]),
        one_slot(generation=[9, 9, 9], exported=[4, 9, 20], consumption=[1, 0, 0]),
    ],
)
def test_writer_edge_cases(slot: Slot) -> None:
    expected = drive_registry(CertificateRegistry(), COMMUNITY, [slot])
    assert writer_events(COMMUNITY, [slot]) == expected


def test_writer_exports_everything_without_export_amounts() -> None:
    reg, writer = CertificateRegistry(), new_writer(COMMUNITY)
    reg.begin_slot(2)
    reg.issue("a", "pv", 10)
    writer.begin_slot(2)
    writer.issue([0], [10], "pv")
    assert writer.end_slot(None) == [trusted_json(e) for e in reg.end_slot(None)]


def test_writer_refuses_what_the_registry_refuses() -> None:
    writer = new_writer(COMMUNITY)
    with pytest.raises(CertificateError, match="no slot is open"):
        writer.issue([0], [1], "pv")
    with pytest.raises(CertificateError, match="non-negative integer"):
        writer.begin_slot(-1)
    writer.begin_slot(1)
    with pytest.raises(CertificateError, match="still open"):
        writer.begin_slot(2)
    for call in (writer.issue, writer.consume):
        with pytest.raises(CertificateError, match="non-negative"):
            call([0], [-3], *(["pv"] if call == writer.issue else []))
    with pytest.raises(CertificateError, match="both 'a'"):
        writer.transfer([(0, 0, 0, 5, 0)], TAGS)
    with pytest.raises(CertificateError, match="no storage device"):
        writer.charge([2], [5])
    writer.issue([1], [4], "pv")
    with pytest.raises(CertificateError, match="non-negative"):
        writer.end_slot([0, -1, 0])
    with pytest.raises(CertificateError, match="appears twice"):
        SlotCertificateWriter(["a", "a"], {}, {})
    with pytest.raises(CertificateError, match="same holders"):
        SlotCertificateWriter(["a", "b"], {0: "a/battery"}, {})
    with pytest.raises(CertificateError, match="outside"):
        SlotCertificateWriter(["a"], {3: "d/battery"}, {3: "battery"})


# -- rows and headers ---------------------------------------------------------------------------

ints = st.integers(INT_MIN, INT_MAX)
texts = st.text(st.characters(codec="utf-8"), max_size=8)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(texts, max_size=5),
    st.lists(texts, min_size=1, max_size=4, unique=True),
    st.data(),
)
def test_row_templates_are_canonical_json(
    agents: list[str], fields: list[str], data: st.DataObject
) -> None:
    fixed = [{"agent": a} for a in agents]
    fields = [f for f in fields if f != "agent"] or ["value"]
    table = RowTemplates(fixed, fields)
    rows = [data.draw(st.lists(ints, min_size=len(fields), max_size=len(fields))) for _ in agents]
    expected = [
        canonical_json({**f, **dict(zip(fields, row, strict=True))})
        for f, row in zip(fixed, rows, strict=True)
    ]
    by_name = [dict(zip(fields, row, strict=True)) for row in rows]
    flat = [r[name] for r in by_name for name in table.sorted_fields]
    assert table.encode_sorted(flat) == expected
    with pytest.raises(RecordError, match="expected"):
        table.encode_sorted([*flat, 1])


hashes = st.binary(min_size=32, max_size=32)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(0, INT_MAX),
    st.integers(0, INT_MAX),
    hashes,
    hashes,
    hashes,
    st.lists(st.integers(0, 2**32), min_size=4, max_size=4),
    st.none() | texts,
)
def test_trusted_header_is_the_header_encoding(
    height: int,
    slot: int,
    prev: bytes,
    root: bytes,
    params: bytes,
    counts: list[int],
    start: str | None,
) -> None:
    header = BlockHeader(
        height=height,
        slot=slot,
        prev_hash=prev,
        merkle_root=root,
        counts=dict(zip(("order", "trade", "settlement", "certificate"), counts, strict=True)),
        params_hash=params,
        start=start,
    )
    assert encode_trusted_header(header) == header.encode()


def header(slot: int = 2, **counts: Any) -> BlockHeader:
    base = {"order": 1, "trade": 0, "settlement": 0, "certificate": 0}
    return BlockHeader(1, slot, bytes(32), bytes(32), {**base, **counts}, bytes(32))


def test_trusted_header_leaves_odd_headers_to_the_checked_encoder() -> None:
    odd = header(extra=1)
    assert encode_trusted_header(odd) == odd.encode()
    with pytest.raises(RecordError, match="64-bit"):
        encode_trusted_header(header(slot=2**63))
    with pytest.raises(RecordError, match="float"):
        encode_trusted_header(header(order=1.0))


def test_append_refuses_a_slot_beyond_64_bits() -> None:
    ledger = Ledger.in_memory()
    with pytest.raises(RecordError, match="below 2"):
        ledger.append_encoded(2**63, b"{}")
    with pytest.raises(RecordError, match="below 2"):
        ledger.append_block(2**63, {})
    assert len(ledger) == 0
    ledger.append_encoded(2**63 - 1, b"{}")
    assert ledger.header(0).slot == 2**63 - 1


def test_writer_reset_starts_a_new_run() -> None:
    slots = [
        one_slot(slot=1, generation=[30, 0, 0], charge=[20, 0, 0]),
        one_slot(slot=2, discharge=[15, 0, 0], consumption=[5, 0, 0]),
    ]
    writer = new_writer(COMMUNITY)
    first = writer_events(COMMUNITY, slots, writer)
    assert writer.stored_wh(0) == 5
    writer.begin_slot(3)  # a run may stop in the middle of a slot
    writer.issue([1], [4], "pv")
    writer.reset()
    assert writer.stored_wh(0) == 0
    assert writer_events(COMMUNITY, slots, writer) == first


@pytest.mark.parametrize(("first", "count"), [(0, 0), (0, 3), (250, 20), (65530, 12), (70000, 3)])
def test_envelope_indices(first: int, count: int) -> None:
    from ledger.hashing import _indices

    assert _indices(first, count) == [i.to_bytes(4, "big") for i in range(first, first + count)]
