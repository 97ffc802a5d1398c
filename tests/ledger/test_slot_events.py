"""The compiled certificate writer gives the reference writer's events, state and errors."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import numpy as np
import pytest
from certificate_flows import (  # tests/ledger/conftest.py puts it on sys.path
    COMMUNITY,
    TAGS,
    Community,
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

from ledger import CertificateError, CertificateRegistry
from ledger import slot_events as se
from ledger.fast import SlotCertificateWriter
from ledger.hashing import JoinedBodies


def compiled(community: Community) -> se.CompiledCertificateWriter:
    return se.CompiledCertificateWriter(
        community.names, community.devices, community.discharge_tags
    )


def arguments(s: Slot, arrays: bool = True) -> dict[str, Any]:
    """``write_slot``'s keyword arguments for a slot (numpy arrays, or the lists as they are)."""
    given = {
        "generation": s.generation,
        "discharge": s.discharge,
        "charge": s.charge,
        "drawn": s.drawn,
        "consumption": s.consumption,
        "exported": s.exported,
    }
    if arrays:
        given = {k: np.array(v, dtype=np.int64) for k, v in given.items()}
    return {**given, "trades": s.trades, "tags": TAGS}


def written(writer: se.SlotWriter, slots: list[Slot], arrays: bool = True) -> list[list[bytes]]:
    return [writer.write_slot(s.slot, **arguments(s, arrays)).split() for s in slots]


def test_the_compiled_writer_runs_here() -> None:
    # numba is a dependency: falling back here would be a silent slowdown, so it fails.
    assert se.events_backend() == "compiled"
    writer = se.certificate_writer(["a"], {}, {})
    assert isinstance(writer, se.CompiledCertificateWriter)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_compiled_writer_gives_the_reference_events(data: st.DataObject) -> None:
    community = data.draw(communities())
    slots = data.draw(flows(community))
    expected = writer_events(community, slots)
    assert expected == drive_registry(CertificateRegistry(), community, slots)
    arrays = data.draw(st.booleans())
    assert written(compiled(community), slots, arrays) == expected
    # The reference's own write_slot is its calls in order.
    assert written(new_writer(community), slots, arrays) == expected


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_compiled_writer_keeps_the_reference_state_across_slots(data: st.DataObject) -> None:
    community = data.draw(communities())
    slots = data.draw(flows(community))
    writer, reference = compiled(community), new_writer(community)
    for s in slots:
        assert written(writer, [s]) == written(reference, [s])
        for i in range(len(community.names)):
            assert writer.stored_wh(i) == reference.stored_wh(i)
            assert writer.held_wh(i) == 0


@pytest.mark.parametrize(
    "slot",
    [
        one_slot(),  # nothing at all: no events
        one_slot(consumption=[0, 0, 7]),
        one_slot(generation=[9, 0, 0], trades=[(1, 0, 0, 0, 0)]),
        one_slot(generation=[9, 0, 0], trades=[(2, 1, 0, 5, 0)]),
        one_slot(generation=[9, 4, 0], trades=[(2, 0, 1, 12, 0), (2, 1, 2, 9, 0)]),
        one_slot(generation=[9, 0, 0], charge=[20, 0, 0], drawn=[3, 0, 0]),
        one_slot(generation=[9, 9, 9], exported=[4, 9, 20], consumption=[1, 0, 0]),
        # A lot moved twice in one slot (a -> b -> c), and b selling more than it holds.
        one_slot(generation=[30, 0, 0], trades=[(1, 0, 0, 20, 0), (2, 1, 0, 25, 0)]),
    ],
)
def test_compiled_writer_edge_cases(slot: Slot) -> None:
    expected = drive_registry(CertificateRegistry(), COMMUNITY, [slot])
    assert written(compiled(COMMUNITY), [slot]) == expected
    assert written(compiled(COMMUNITY), [slot], arrays=False) == expected


def test_compiled_writer_exports_everything_without_export_amounts() -> None:
    s = one_slot(generation=[10, 3, 0], consumption=[2, 0, 0])
    args = {**arguments(s), "exported": None}
    events = compiled(COMMUNITY).write_slot(5, **args)
    assert events == new_writer(COMMUNITY).write_slot(5, **args)
    assert b'"event":"export"' in events.text
    assert b"expire" not in events.text


def test_compiled_writer_grows_its_pool_and_event_rows() -> None:
    # Long names and many lots a slot, from a pool of 1 row.
    names = [f"holder-{'x' * 300}-{i}" for i in range(40)]
    community = Community(names, {i: f"{n}/battery" for i, n in enumerate(names)}, {})
    community.discharge_tags.update(dict.fromkeys(range(40), "battery"))
    writer = compiled(community)
    writer._lots = np.empty((1, 9), dtype=np.int64)
    rng = np.random.default_rng(3)
    slots = [
        Slot(
            slot=t,
            generation=rng.integers(0, 50, 40).tolist(),
            discharge=rng.integers(0, 30, 40).tolist(),
            trades=[
                (int(b), int((b + 1 + r) % 40), int(r % 3), int(r), 0)
                for b, r in zip(rng.integers(0, 40, 30), rng.integers(1, 39, 30), strict=True)
            ],
            charge=rng.integers(0, 40, 40).tolist(),
            drawn=rng.integers(0, 5, 40).tolist(),
            consumption=rng.integers(0, 20, 40).tolist(),
            exported=rng.integers(0, 10, 40).tolist(),
        )
        for t in range(12)
    ]
    events = written(writer, slots)
    assert events == writer_events(community, slots)
    assert writer._lots.shape[0] > 1
    # The kernel's event rows start at 2 per holder: some slot had more, so they grew.
    assert max(map(len, events)) > 2 * len(names)


def test_compiled_writer_reset_starts_a_new_run() -> None:
    slots = [
        one_slot(slot=1, generation=[30, 0, 0], charge=[20, 0, 0]),
        one_slot(slot=2, discharge=[15, 0, 0], consumption=[5, 0, 0]),
    ]
    writer = compiled(COMMUNITY)
    first = written(writer, slots)
    assert writer.stored_wh(0) == 5
    writer.reset()
    assert writer.stored_wh(0) == 0
    assert written(writer, slots) == first


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"generation": [0, -3, 0]}, r"issue of 'b': wh must be a non-negative .* got -3"),
        ({"consumption": [-1, 0, 0]}, r"consume of 'a': .* got -1"),
        ({"drawn": [0, -2, 0]}, r"lose of 'b': .* got -2"),
        ({"trades": [(0, 1, 0, -5, 0)]}, r"transfer of 'b': .* got -5"),
        ({"trades": [(0, 0, 0, 5, 0)]}, r"seller and buyer are both 'a'"),
        ({"trades": [(0, 1, 3, 5, 0)]}, r"trade 0: tag index 3 is outside 0..2"),
        ({"trades": [(0, 7, 0, 5, 0)]}, r"trade 0: buyer 0 or seller 7 is outside 0..2"),
        ({"charge": [0, 0, 5]}, r"holder 'c' has no storage device"),
        ({"discharge": [0, 0, 5]}, r"holder 'c' has no storage device"),
        ({"exported": [0, -1, 0]}, r"exported must be a non-negative .* got -1 for 'b'"),
        ({"generation": [1.5, 0, 0]}, r"generation must hold integer Wh, got dtype float64"),
        ({"charge": [1, 2]}, r"charge must give one amount per holder \(3\), got shape \(2,\)"),
        ({"trades": [(0, 1, 0)]}, r"trades must be rows .* shape \(1, 3\)"),
    ],
)
def test_compiled_writer_refuses_bad_input_and_changes_nothing(
    change: dict[str, Any], message: str
) -> None:
    setup = one_slot(slot=1, generation=[30, 20, 0], charge=[25, 5, 0])
    after = one_slot(slot=3, generation=[4, 0, 0], discharge=[10, 3, 0], consumption=[9, 9, 9])
    writer, reference = compiled(COMMUNITY), new_writer(COMMUNITY)
    written(writer, [setup])
    written(reference, [setup])
    bad = {**arguments(one_slot(slot=2, generation=[6, 6, 6])), **change}
    with pytest.raises(CertificateError, match=message):
        writer.write_slot(2, **bad)
    assert written(writer, [after]) == written(reference, [after])


def test_compiled_writer_refuses_a_bad_slot_and_bad_holders() -> None:
    writer = compiled(COMMUNITY)
    with pytest.raises(CertificateError, match="non-negative integer, got -1"):
        writer.write_slot(-1, **arguments(one_slot()))
    with pytest.raises(CertificateError, match="appears twice"):
        se.CompiledCertificateWriter(["a", "a"], {}, {})
    with pytest.raises(CertificateError, match="same holders"):
        se.CompiledCertificateWriter(["a", "b"], {0: "a/battery"}, {})


def test_a_new_tag_or_issue_tag_is_written_too() -> None:
    s = one_slot(generation=[9, 5, 0], trades=[(2, 0, 0, 4, 0), (2, 1, 1, 5, 0)])
    for tags, issue_tag in [(("wind", "pv"), "wind"), (("pv", "bat\u00e9"), "pv")]:
        args = {**arguments(s), "tags": tags, "issue_tag": issue_tag}
        assert compiled(COMMUNITY).write_slot(5, **args) == new_writer(COMMUNITY).write_slot(
            5, **args
        )


def test_use_python_gives_the_reference_writer() -> None:
    try:
        se.use_python()
        assert se.events_backend().startswith("python")
        assert isinstance(se.certificate_writer(["a"], {}, {}), SlotCertificateWriter)
        with pytest.raises(RuntimeError, match="unavailable"):
            se.CompiledCertificateWriter(["a"], {}, {})
    finally:
        se.use_python(False)
    assert se.events_backend() == "compiled"


def test_without_numba_the_reference_writer_is_used() -> None:
    code = (
        "from ledger import slot_events as se\n"
        "w = se.certificate_writer(['a', 'b'], {0: 'a/b'}, {0: 'battery'})\n"
        "e = w.write_slot(1, generation=[5, 0], discharge=[0, 0], trades=[(1, 0, 0, 2, 0)],\n"
        "    tags=('pv',), charge=[3, 0], drawn=[0, 0], consumption=[0, 0], exported=[0, 0])\n"
        "print(type(w).__name__, e.count, se.events_backend())\n"
    )
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1"}
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    kind, count, backend = run.stdout.split(" ", 2)
    assert (kind, count) == ("SlotCertificateWriter", "4")
    assert backend.startswith("python (")  # with the reason


def test_events_are_joined_bodies() -> None:
    events = compiled(COMMUNITY).write_slot(0, **arguments(one_slot(generation=[1, 0, 0])))
    assert isinstance(events, JoinedBodies)
    assert events.count == 2


# -- several writers in one call: CompiledCertificateWriter.write_slots -------------------------


def batch_arguments(slots: list[Slot]) -> dict[str, Any]:
    """``write_slots``' arguments for one slot of each writer."""
    rows = ("generation", "discharge", "charge", "drawn", "consumption")
    trades = [np.array(s.trades, dtype=np.int64).reshape(-1, 5)[:, :4].T for s in slots]
    return {
        "slots": [s.slot for s in slots],
        "amounts": np.array([[getattr(s, r) for r in rows] for s in slots], dtype=np.int64),
        "trades": np.concatenate([np.zeros((4, 0), np.int64), *trades], axis=1),
        "trade_starts": [0, *np.cumsum([t.shape[1] for t in trades]).tolist()],
        "exported": np.array([s.exported for s in slots], dtype=np.int64),
        "tags": TAGS,
    }


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_writers_in_one_call_write_what_each_writes_alone(data: st.DataObject) -> None:
    """write_slots gives every writer the events and the state its own write_slot gives, slot
    after slot, with one writer reset between slots now and then (its state lists follow)."""
    community = data.draw(communities())
    runs = [data.draw(flows(community)) for _ in range(data.draw(st.integers(1, 4)))]
    length = min(len(run) for run in runs)
    batch = [compiled(community) for _ in runs]
    alone = [compiled(community) for _ in runs]
    for k in range(length):
        if k and data.draw(st.integers(0, 4)) == 0:
            b = data.draw(st.integers(0, len(runs) - 1))
            batch[b].reset()
            alone[b].reset()
        step = [run[k] for run in runs]
        got = se.CompiledCertificateWriter.write_slots(batch, **batch_arguments(step))
        assert [events.split() for events in got] == [
            w.write_slot(s.slot, **arguments(s)).split() for w, s in zip(alone, step, strict=True)
        ]
        for a, b in zip(batch, alone, strict=True):
            for i in range(len(community.names)):
                assert a.stored_wh(i) == b.stored_wh(i)


def test_writers_in_one_call_grow_a_pool_and_raise_the_writers_error() -> None:
    names = [f"h{i}" for i in range(8)]
    community = Community(names, {i: f"h{i}/battery" for i in range(8)}, {})
    community.discharge_tags.update(dict.fromkeys(range(8), "battery"))
    batch = [compiled(community) for _ in range(3)]
    alone = [compiled(community) for _ in range(3)]
    for writer in (batch[1], alone[1]):
        writer._lots = np.empty((1, 9), dtype=np.int64)  # the middle one must grow
    rng = np.random.default_rng(5)
    for t in range(6):
        step = [
            Slot(
                slot=t,
                generation=rng.integers(0, 50, 8).tolist(),
                discharge=rng.integers(0, 30, 8).tolist(),
                trades=[(int(b), int((b + 3) % 8), int(b % 3), 7, 0) for b in range(4)],
                charge=rng.integers(0, 40, 8).tolist(),
                drawn=rng.integers(0, 5, 8).tolist(),
                consumption=rng.integers(0, 20, 8).tolist(),
                exported=rng.integers(0, 10, 8).tolist(),
            )
            for _ in range(3)
        ]
        got = se.CompiledCertificateWriter.write_slots(batch, **batch_arguments(step))
        assert [e.split() for e in got] == [
            w.write_slot(s.slot, **arguments(s)).split() for w, s in zip(alone, step, strict=True)
        ]
    assert batch[1]._lots.shape[0] > 1
    # An invalid amount of the third writer: that writer's own error.
    zeros = [0] * 8
    bad = [Slot(9, [1] * 8, zeros, [], zeros, zeros, zeros, zeros) for _ in range(3)]
    bad[2].consumption = [0, -3, 0, 0, 0, 0, 0, 0]
    with pytest.raises(CertificateError, match="consume of 'h1': wh must be a non-negative"):
        se.CompiledCertificateWriter.write_slots(batch, **batch_arguments(bad))
    with pytest.raises(ValueError, match="write_slots: amounts must be int64"):
        se.CompiledCertificateWriter.write_slots(batch, **batch_arguments(bad[:2]))
    other = compiled(Community(["x", "y"], {}, {}))
    with pytest.raises(ValueError, match="not of one layout"):
        se.CompiledCertificateWriter.write_slots(
            [batch[0], other], **batch_arguments([bad[0], bad[0]])
        )
