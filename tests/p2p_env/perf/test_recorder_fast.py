"""The recorder's fast path writes the generic path's blocks, byte for byte, on real episodes.

Slots of simulated episodes are captured once as ``(flows, outcome, settlement)`` and replayed
into recorders that differ only in the path they take.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ledger import Ledger, RecordKind
from ledger.slot_events import CompiledCertificateWriter
from p2p_env.config import GymConfig, load_config
from p2p_env.sim.community import Community
from p2p_env.sim.ledger_recorder import LedgerRecorder
from p2p_env.sim.market import MarketOutcome, SlotFlows
from p2p_env.sim.settlement import Settlement
from p2p_env.sim.simulator import CommunitySimulator

from ..sim.conftest import simple_series

Slot = tuple[SlotFlows, MarketOutcome, Settlement]


class Capture:
    """A recorder that keeps what it is given (and records nothing)."""

    def __init__(self) -> None:
        self.slots: list[Slot] = []

    def reset(self) -> None:
        self.slots = []

    def record(self, flows: SlotFlows, outcome: MarketOutcome, settlement: Any) -> str:
        self.slots.append((flows, outcome, settlement))
        return ""

    def close(self) -> None:
        pass


def episode(config: GymConfig, days: int, seed: int = 0) -> list[Slot]:
    capture = Capture()
    sim = CommunitySimulator(config, simple_series(config, days=days), recorder=capture)
    sim.reset(0, seed=seed)
    rng = np.random.default_rng(seed)
    for _ in range(days * 48):
        sim.step(rng.uniform(-1.2, 1.2, (sim.community.n_agents, sim.action_size)))
    return capture.slots


def certificate_amounts(flows: list[SlotFlows]) -> np.ndarray:
    """``B x 5 x agents``: the certificate writer's amount rows of one slot per community."""
    rows = (
        "generation_wh",
        "storage_discharge_wh",
        "storage_charge_wh",
        "storage_drawn_wh",
        "consumption_wh",
    )
    return np.stack([np.stack([getattr(f, row) for row in rows]) for f in flows])


def replay(recorder: LedgerRecorder, slots: list[Slot]) -> list[str]:
    recorder.reset()
    return [recorder.record(*slot) for slot in slots]


def assert_same_ledgers(a: LedgerRecorder, b: LedgerRecorder) -> None:
    la, lb = a.ledger, b.ledger
    assert la is not None
    assert lb is not None
    assert len(la) == len(lb) > 0
    for h in range(len(la)):
        assert la.store.header(h) == lb.store.header(h)
        assert la.store.records(h) == lb.store.records(h)
        assert la.block_hash(h) == lb.block_hash(h)


@pytest.fixture(scope="module")
def demo() -> tuple[GymConfig, list[Slot]]:
    config = load_config("higashifuji_demo")
    return config, episode(config, days=2, seed=5)


def test_fast_recorder_writes_the_generic_blocks(demo: tuple[GymConfig, list[Slot]]) -> None:
    config, slots = demo
    community = Community.from_config(config)
    fast = LedgerRecorder.open(config, None)
    generic = LedgerRecorder(community, fast=False)
    untagged = LedgerRecorder(community)  # tags read from each slot's parameters
    hashes = replay(fast, slots)
    assert replay(generic, slots) == hashes
    assert replay(untagged, slots) == hashes
    assert_same_ledgers(fast, generic)
    ledger = fast.ledger
    assert ledger is not None
    kinds = {
        e["event"] for h in range(len(ledger)) for e in ledger.bodies(h, RecordKind.CERTIFICATE)
    }
    # The episode exercises every kind of certificate event.
    assert kinds == {"issue", "transfer", "consume", "cancel", "store", "lose", "export", "expire"}
    report = ledger.verify()  # hashes and certificate conservation, from the records
    assert report.ok, report.summary()


def test_each_episode_starts_fresh_ledgers_and_devices(
    demo: tuple[GymConfig, list[Slot]],
) -> None:
    config, slots = demo
    fast, generic = LedgerRecorder.open(config, None), LedgerRecorder.open(config, None)
    generic.fast = False
    for part in (slots[:30], slots[30:]):  # two episodes: a fresh ledger and fresh devices
        assert replay(fast, part) == replay(generic, part)
        assert_same_ledgers(fast, generic)


def test_sqlite_recorder_checks_the_events_it_writes(
    demo: tuple[GymConfig, list[Slot]], tmp_path: Path
) -> None:
    config, slots = demo
    memory = LedgerRecorder.open(config, None)
    sqlite = LedgerRecorder.open(config, tmp_path / "run.ledger")
    hashes = replay(sqlite, slots[:40])
    assert sqlite.ledger is not None
    assert sqlite.ledger.checks_certificates
    assert replay(memory, slots[:40]) == hashes
    sqlite.close()
    with Ledger.open(tmp_path / "run.ledger", read_only=True) as ledger:
        assert ledger.head_hash.hex() == hashes[-1]
        report = ledger.verify()
        assert report.ok, report.summary()


def test_sqlite_recorders_in_one_call_check_their_events(
    demo: tuple[GymConfig, list[Slot]], tmp_path: Path
) -> None:
    """Ledgers that check certificates take their blocks from ``record_many`` too, each
    block's events checked: the chains ``record`` gives, and files that verify."""
    config, slots = demo
    paths = [tmp_path / f"b{b}.ledger" for b in range(2)]
    batch = [LedgerRecorder.open(config, path) for path in paths]
    alone = [LedgerRecorder.open(config, None) for _ in paths]
    for recorder in (*batch, *alone):
        recorder.reset()
    assert all(r.ledger is not None and r.ledger.checks_certificates for r in batch)
    for k in range(20):
        step = [slots[k], slots[20 + k]]
        flows = [f for f, _, _ in step]
        amounts = certificate_amounts(flows)
        exported = np.maximum(-np.stack([f.metered_wh for f in flows]), 0)
        got = LedgerRecorder.record_many(
            batch,
            flows,
            [o for _, o, _ in step],
            [s for _, _, s in step],
            amounts=amounts,
            exported=exported,
        )
        assert got == [r.record(*slot) for r, slot in zip(alone, step, strict=True)]
    for recorder, path in zip(batch, paths, strict=True):
        recorder.close()
        with Ledger.open(path, read_only=True) as ledger:
            report = ledger.verify()
            assert report.ok, report.summary()


def test_market_without_encoded_records(demo: tuple[GymConfig, list[Slot]]) -> None:
    config, slots = demo
    plain = [(f, dataclasses.replace(o, encoded=None), s) for f, o, s in slots[:48]]
    fast, generic = LedgerRecorder.open(config, None), LedgerRecorder.open(config, None)
    generic.fast = False
    assert replay(fast, plain) == replay(generic, slots[:48])


def test_settlement_integer_types(demo: tuple[GymConfig, list[Slot]]) -> None:
    config, slots = demo
    generic = LedgerRecorder.open(config, None)
    generic.fast = False
    expected = replay(generic, slots[:20])

    def cast(settlement: Settlement, dtype: Any, names: tuple[str, ...]) -> Settlement:
        fields = {
            f.name: getattr(settlement, f.name) for f in dataclasses.fields(settlement) if f.init
        }
        return Settlement(**{k: v.astype(dtype) if k in names else v for k, v in fields.items()})

    for dtype, names in (
        (np.int32, ("grid_cost_sen", "p2p_paid_sen")),
        (np.uint64, ("undelivered_wh",)),
    ):
        mixed = [(f, o, cast(s, dtype, names)) for f, o, s in slots[:20]]
        assert replay(LedgerRecorder.open(config, None), mixed) == expected
    floats = [(f, o, cast(s, np.float64, ("grid_cost_sen",))) for f, o, s in slots[:2]]
    with pytest.raises(TypeError, match="grid_cost"):
        replay(LedgerRecorder.open(config, None), floats)


def test_settlements_of_a_batch_in_one_call(demo: tuple[GymConfig, list[Slot]]) -> None:
    """``LedgerRecorder.settlements_many`` writes each community's settlement records as its
    own recorder does, and the blocks recorded with them are the same; it declines recorders
    off the fast path and columns that are not all int64."""
    config, slots = demo
    batch = slots[10:14]  # four slots stand for four communities of one layout
    metered = np.stack([f.metered_wh for f, _, _ in batch])
    fields = [f.name for f in dataclasses.fields(Settlement) if f.init]
    stacked = Settlement(**{k: np.stack([getattr(s, k) for _, _, s in batch]) for k in fields})
    recorders = [LedgerRecorder.open(config, None) for _ in batch]
    texts = LedgerRecorder.settlements_many(recorders, metered, stacked)
    assert texts is not None
    alone = LedgerRecorder.open(config, None)
    for text, (flows, _, settlement) in zip(texts, batch, strict=True):
        assert text == alone._encoded_settlements(flows, settlement)
    for recorder, text, slot in zip(recorders, texts, batch, strict=True):
        recorder.reset()
        given = recorder.record(*slot, settlements=text)
        alone.reset()
        assert given == alone.record(*slot)
    generic = LedgerRecorder.open(config, None)
    generic.fast = False
    assert LedgerRecorder.settlements_many([*recorders[:3], generic], metered, stacked) is None
    mixed = dataclasses.replace(stacked, grid_cost_sen=stacked.grid_cost_sen.astype(np.int32))
    assert LedgerRecorder.settlements_many(recorders, metered, mixed) is None
    with pytest.raises(ValueError, match="3 recorders for 4 communities"):
        LedgerRecorder.settlements_many(recorders[:3], metered, stacked)


def test_blocks_of_a_batch_in_one_call(demo: tuple[GymConfig, list[Slot]]) -> None:
    """``LedgerRecorder.record_many`` appends to each recorder's ledger the blocks its own
    ``record`` appends, slot after slot: with the batch's certificate amounts (every event
    written in one call) or without, with or without the settlement records written for the
    batch, and with a recorder off the fast path among them (it records alone)."""
    config, slots = demo
    community = Community.from_config(config)
    episodes = [slots[:24], slots[24:48], slots[48:72], slots[72:96]]
    fast = [LedgerRecorder.open(config, None) for _ in episodes]
    mixed = [LedgerRecorder.open(config, None) for _ in episodes]
    mixed[2] = LedgerRecorder(community, fast=False)
    alone = [LedgerRecorder.open(config, None) for _ in episodes]
    fields = [f.name for f in dataclasses.fields(Settlement) if f.init]
    for recorder in (*fast, *mixed, *alone):
        recorder.reset()
    written = 0
    original = CompiledCertificateWriter.write_slots

    def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal written
        written += 1
        return original(*args, **kwargs)

    for k in range(24):
        step = [episode[k] for episode in episodes]
        flows = [f for f, _, _ in step]
        outcomes = [o for _, o, _ in step]
        settlements = [s for _, _, s in step]
        metered = np.stack([f.metered_wh for f in flows])
        texts = None
        if k % 2:
            stacked = Settlement(
                **{name: np.stack([getattr(s, name) for s in settlements]) for name in fields}
            )
            texts = LedgerRecorder.settlements_many(alone, metered, stacked)
            assert texts is not None  # the generic recorder ignores what it is given
        amounts = certificate_amounts(flows)
        expected = [r.record(*slot) for r, slot in zip(alone, step, strict=True)]
        CompiledCertificateWriter.write_slots = staticmethod(counting)  # type: ignore[method-assign]
        try:
            given = {"amounts": amounts, "exported": np.maximum(-metered, 0)} if k % 3 else {}
            got = LedgerRecorder.record_many(fast, flows, outcomes, settlements, texts, **given)
            assert got == expected
            got = LedgerRecorder.record_many(mixed, flows, outcomes, settlements, texts, **given)
            assert got == expected
        finally:
            CompiledCertificateWriter.write_slots = original  # type: ignore[method-assign]
    assert written == 16  # the all-fast batch, with amounts: the events in one call
    for recorders in (fast, mixed):
        for a, b in zip(recorders, alone, strict=True):
            assert_same_ledgers(a, b)


def test_generic_recorder_refuses_tags_that_differ(demo: tuple[GymConfig, list[Slot]]) -> None:
    config, slots = demo
    recorder = LedgerRecorder(Community.from_config(config), fast=False, tags=("pv", "x", "y"))
    with pytest.raises(ValueError, match="differ"):
        replay(recorder, slots)


@pytest.mark.parametrize("mechanism", ["call", "midpoint"])
def test_fast_recorder_on_homes_200(mechanism: str) -> None:
    config = load_config("homes_200", [f"market.mechanism={mechanism}"])
    slots = episode(config, days=1, seed=2)
    fast = LedgerRecorder.open(config, None)
    generic = LedgerRecorder.open(config, None)
    generic.fast = False
    assert replay(fast, slots) == replay(generic, slots)
    assert_same_ledgers(fast, generic)
    assert fast.ledger is not None
    report = fast.ledger.verify()
    assert report.ok, report.summary()
