"""The fast ledger writers give the reference bytes: certificate events, table rows, headers."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest
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

TAGS = ("pv", "battery", "phv")


@dataclass
class Slot:
    """One slot's flows in the writer's (and the simulator recorder's) order; Wh per holder."""

    slot: int
    generation: list[int]
    discharge: list[int]
    trades: list[tuple[int, int, int, int, int]]
    charge: list[int]
    drawn: list[int]
    consumption: list[int]
    exported: list[int]


@dataclass
class Community:
    names: list[str]
    devices: dict[int, str]
    discharge_tags: dict[int, str]


def drive_registry(
    reg: CertificateRegistry, community: Community, slots: Sequence[Slot]
) -> list[list[bytes]]:
    """The checked registry driven as p2p_env.sim.ledger_recorder drives it, events encoded."""
    names, devices, dtags = community.names, community.devices, community.discharge_tags
    out = []
    for s in slots:
        reg.begin_slot(s.slot)
        for i, wh in enumerate(s.generation):
            if wh:
                reg.issue(names[i], "pv", wh)
        for i, wh in enumerate(s.discharge):
            if wh:
                reg.discharge(devices[i], names[i], wh, dtags[i])
        for k, (buyer, seller, tag, wh, _) in enumerate(s.trades):
            moved = reg.transfer(names[seller], names[buyer], TAGS[tag], wh, trade=f"t{k}")
            rest = dtags.get(seller)
            if moved < wh and rest is not None and rest != TAGS[tag]:
                reg.transfer(names[seller], names[buyer], rest, wh - moved, trade=f"t{k}")
        for i, wh in enumerate(s.charge):
            if wh:
                reg.charge(names[i], devices[i], wh)
        for i, wh in enumerate(s.drawn):
            if wh:
                reg.lose(devices[i], wh)
        for i, wh in enumerate(s.consumption):
            if wh:
                reg.consume(names[i], wh)
        events = reg.end_slot({names[i]: wh for i, wh in enumerate(s.exported) if wh})
        out.append([trusted_json(e) for e in events])
    return out


def nonzero(values: Sequence[int]) -> tuple[list[int], list[int]]:
    index = [i for i, v in enumerate(values) if v]
    return index, [values[i] for i in index]


def writer_events(
    community: Community, slots: Sequence[Slot], writer: SlotCertificateWriter | None = None
) -> list[list[bytes]]:
    w = writer or SlotCertificateWriter(
        community.names, community.devices, community.discharge_tags
    )
    out = []
    for s in slots:
        w.begin_slot(s.slot)
        w.issue(*nonzero(s.generation), "pv")
        w.discharge(*nonzero(s.discharge))
        w.transfer(s.trades, TAGS)
        w.charge(*nonzero(s.charge))
        w.lose(*nonzero(s.drawn))
        w.consume(*nonzero(s.consumption))
        out.append(w.end_slot(s.exported))
    return out


amounts = st.one_of(st.just(0), st.integers(1, 40), st.integers(1, 400))


@st.composite
def communities(draw: st.DrawFn) -> Community:
    n = draw(st.integers(2, 6))
    # Names that JSON must escape, and one that %-formatting must not read as a directive.
    pool = ["home_0", "h\u00e9", 'q"uote', "per%dcent", "new\nline", "b\\s", "x", "y"]
    names = draw(st.permutations(pool))[:n]
    kinds = draw(st.lists(st.sampled_from([None, "battery", "phv"]), min_size=n, max_size=n))
    devices = {i: f"{names[i]}/battery" for i, k in enumerate(kinds) if k is not None}
    tags = {i: k for i, k in enumerate(kinds) if k is not None}
    return Community(names, devices, tags)


@st.composite
def flows(draw: st.DrawFn, community: Community) -> list[Slot]:
    n = len(community.names)
    storage = [i in community.devices for i in range(n)]

    def column(only_storage: bool = False) -> list[int]:
        values = draw(st.lists(amounts, min_size=n, max_size=n))
        return [v if storage[i] or not only_storage else 0 for i, v in enumerate(values)]

    slots = []
    slot = draw(st.integers(0, 3))
    for _ in range(draw(st.integers(1, 6))):
        pairs = st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)).filter(
            lambda p: p[0] != p[1]
        )
        trades = [
            (buyer, seller, draw(st.integers(0, len(TAGS) - 1)), draw(amounts), 0)
            for buyer, seller in draw(st.lists(pairs, max_size=8))
        ]
        slots.append(
            Slot(
                slot=slot,
                generation=column(),
                discharge=column(only_storage=True),
                trades=trades,
                charge=column(only_storage=True),
                drawn=column(only_storage=True),
                consumption=column(),
                exported=column(),
            )
        )
        slot += draw(st.integers(1, 3))
    return slots


def new_writer(community: Community) -> SlotCertificateWriter:
    return SlotCertificateWriter(community.names, community.devices, community.discharge_tags)


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


COMMUNITY = Community(["a", "b", "c"], {0: "a/battery", 1: "b/battery"}, {0: "battery", 1: "phv"})


def one_slot(**flows: Any) -> Slot:
    zeros = [0, 0, 0]
    fields = ("generation", "discharge", "charge", "drawn", "consumption", "exported")
    return Slot(
        slot=flows.pop("slot", 5),
        trades=flows.pop("trades", []),
        **{name: flows.get(name, zeros) for name in fields},
    )


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
