"""The ledger: appending, proofs, determinism across processes, hash-only mode, replay."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ledger_synthetic import PARAMS, Community, build, clear

from ledger import Ledger, LedgerError, RecordError, RecordKind
from ledger.block import GENESIS_PREV_HASH, block_hash
from ledger.errors import CertificateError
from ledger.merkle import verify_consistency

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def ledger() -> Ledger:
    return build(40, seed=3)


def test_blocks_chain_and_count(ledger: Ledger) -> None:
    assert len(ledger) == 40
    assert ledger.height == 39
    prev = GENESIS_PREV_HASH
    for h in range(len(ledger)):
        header = ledger.header(h)
        assert header.height == h
        assert header.slot == h
        assert header.prev_hash == prev
        assert header.total_records == len(ledger.records(h))
        prev = block_hash(ledger.store.header(h))
        assert prev == ledger.block_hash(h)
    assert ledger.head_hash == prev
    kinds = [r.kind for r in ledger.records(5)]
    assert kinds == sorted(kinds)
    assert set(kinds) == set(RecordKind)
    assert ledger.params(5) == PARAMS
    order = ledger.find(RecordKind.ORDER, id="o2", agent="p2")
    assert order is not None
    assert order.body["side"] == "sell"
    assert ledger.find(RecordKind.ORDER, id="nope") is None


def test_inclusion_proof_of_every_record(ledger: Ledger) -> None:
    for h in (0, 17, 39):
        for record in ledger.records(h):
            proof = ledger.record_proof(record)
            assert proof.verify(record.data, root=ledger.header(h).merkle_root)
            assert not proof.verify(record.data + b" ")
            assert not proof.verify(root=bytes(32))
            other = ledger.records(h)[(record.index + 1) % len(ledger.records(h))]
            assert not proof.verify(other.data)
    proof = ledger.inclusion_proof(3, 2)
    again = type(proof).from_dict(proof.to_dict())
    assert again == proof
    assert again.verify()
    with pytest.raises(IndexError, match=r"records 0\.\."):
        ledger.inclusion_proof(3, 10_000)


def test_header_proofs(ledger: Ledger) -> None:
    for h in (0, 5, 39):
        proof = ledger.header_proof(h, at_height=39)
        assert proof.verify(ledger.store.header(h), root=ledger.history_root())
        assert not proof.verify(ledger.store.header((h + 1) % 40))


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 39).flatmap(lambda new: st.tuples(st.integers(0, new), st.just(new))))
def test_consistency_between_random_heights(ledger: Ledger, heights: tuple[int, int]) -> None:
    old, new = heights
    proof = ledger.consistency_proof(old, new)
    assert proof.verify(ledger.history_root(old), ledger.history_root(new))
    assert not proof.verify(ledger.history_root(old) if old != new else bytes(32), bytes(32))
    if old < new:
        # The same old height on a ledger with another history is not a prefix.
        forged = build(old + 1, seed=99)
        assert not verify_consistency(
            old + 1, new + 1, forged.history_root(), proof.new_root, proof.path
        )


def test_appending_refuses_bad_input_and_writes_nothing() -> None:
    ledger = build(2)
    head = ledger.head_hash
    block = Community(0).block()
    cases: list[tuple[dict[str, Any], str]] = [
        ({**block, "slot": 1}, "slot 1 is not after the last block's slot 1"),
        ({**block, "slot": 5, "orders": [{"id": "o", "agent": "a", "side": "buy",
                                          "quantity_wh": 1.5}]}, "got the float 1.5"),
        ({**block, "slot": 5, "orders": [{"agent": "a", "side": "buy"}]}, "field 'id' must be"),
        ({**block, "slot": 5, "params": {"x": 0.5}}, "params.x: got the float 0.5"),
        ({**block, "slot": 5, "start": "yesterday"}, "ISO 8601"),
        ({**block, "slot": -1}, "non-negative integer"),
    ]  # fmt: skip
    for kwargs, message in cases:
        with pytest.raises(RecordError, match=message):
            ledger.append_block(**{**kwargs, "certificates": []})
    bad = Community(0).block()
    bad["slot"] = 5
    with pytest.raises(CertificateError, match="field 'slot' is 0 in the block of slot 5"):
        ledger.append_block(**bad)  # its certificate ids say slot 0
    assert ledger.head_hash == head
    assert len(ledger) == 2
    ledger.append_block(5, PARAMS)  # an empty block is fine, and the ledger still verifies
    assert ledger.verify().ok


def test_hash_only_ledger_keeps_hashes_and_proofs() -> None:
    full = build(12, seed=5)
    slim = build(12, seed=5, ledger=Ledger.in_memory(keep_records=False))
    assert slim.head_hash == full.head_hash
    assert slim.inclusion_proof(4, 3) == full.inclusion_proof(4, 3)
    report = slim.verify()
    assert report.ok
    assert "records" not in report.checks
    assert report.records == full.verify().records
    with pytest.raises(LedgerError, match="only headers and hashes"):
        slim.records(0)


def test_replay_hook_matches_and_mismatches() -> None:
    ledger = build(8, seed=2)
    assert ledger.verify(replay=clear).ok

    def other(params: dict[str, Any], orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
        trades = clear(params, orders)
        if len(orders) > 7 and trades:
            trades[-1] = {**trades[-1], "price": trades[-1]["price"] + 1}
        return trades

    report = ledger.verify(replay=other)
    assert not report.ok
    assert report.failure is not None
    assert report.failure.check == "replay"
    assert report.failure.height == 0
    n_orders = ledger.header(0).counts["order"]
    assert report.failure.record == n_orders + ledger.header(0).counts["trade"] - 1
    assert ledger.records(0)[report.failure.record].kind is RecordKind.TRADE

    def boom(params: dict[str, Any], orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
        raise RuntimeError("mechanism missing")

    failure = ledger.verify(replay=boom).failure
    assert failure is not None
    assert "RuntimeError: mechanism missing" in failure.message
    failure = ledger.verify(replay=lambda p, o: [*clear(p, o), {"id": "extra"}]).failure
    assert failure is not None
    assert failure.check == "replay"
    assert "first extra" in failure.message
    failure = ledger.verify(replay=lambda p, o: clear(p, o)[:-1]).failure
    assert failure is not None
    assert failure.check == "replay"


HEAD_SCRIPT = """
import sys
sys.path.insert(0, {here!r})
from ledger_synthetic import build
print(build(25, seed=11).head_hash.hex())
"""


def test_same_events_same_head_hash_in_another_process() -> None:
    here = build(25, seed=11).head_hash.hex()
    env = {**os.environ, "PYTHONHASHSEED": "12345"}  # another set/dict iteration order
    out = subprocess.run(
        [sys.executable, "-c", HEAD_SCRIPT.format(here=str(ROOT / "tests" / "ledger"))],
        capture_output=True, text=True, check=True, env=env, cwd=ROOT,
    ).stdout.strip()  # fmt: skip
    assert out == here
    assert build(25, seed=12).head_hash.hex() != here
