"""Blocks hashed in the background: the same ledgers, appended before anyone looks."""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ledger import (
    EncodedAppend,
    Ledger,
    LedgerError,
    PendingAppends,
    RecordError,
    SqliteStore,
    hashing,
)
from ledger.hashing import JoinedBodies


def block(k: int, slot: int, records: int = 3) -> dict[str, Any]:
    return {
        "slot": slot,
        "params_json": b'{"seed":%d}' % k,
        "orders": [b'{"agent":"a%d"}' % i for i in range(k + slot % 3)],
        "trades": JoinedBodies(b'{"t":1}\n{"t":2}', 2) if k % 2 else [],
        "settlements": [b'{"s":%d,"k":%d}' % (i, k) for i in range(records)],
    }


@pytest.fixture
def two_threads() -> Iterator[None]:
    """The background thread runs where at least two threads may (the CI machine has two)."""
    hashing.set_threads(2)
    try:
        yield
    finally:
        hashing.set_threads(None)


def appended_alone(n: int, slots: int, records: int = 3) -> list[Ledger]:
    ledgers = [Ledger.in_memory(check_certificates=False) for _ in range(n)]
    for slot in range(slots):
        for k, ledger in enumerate(ledgers):
            ledger.append_encoded(**block(k, slot, records))
    return ledgers


@pytest.mark.usefixtures("two_threads")
@pytest.mark.parametrize(("n", "records"), [(1, 3), (4, 3), (3, 5000)])
def test_ledgers_appended_in_the_background_are_those_appended_alone(n: int, records: int) -> None:
    ledgers = [Ledger.in_memory(check_certificates=False) for _ in range(n)]
    for slot in range(4):
        pending = Ledger.append_encoded_many_in_background(
            [EncodedAppend(ledger, **block(k, slot, records)) for k, ledger in enumerate(ledgers)]
        )
        # Taken by the background thread: every ledger waits on it until it is appended.
        assert isinstance(pending, PendingAppends)
        assert all(ledger._pending is pending for ledger in ledgers)
    alone = appended_alone(n, 4, records)
    hashes = [pending.block_hash(k) for k in range(n)]
    assert all(ledger._pending is None for ledger in ledgers)
    assert hashes == [ledger.head_hash for ledger in alone]
    for a, b in zip(ledgers, alone, strict=True):
        assert len(a) == 4
        assert [a.store.records(h) for h in range(4)] == [b.store.records(h) for h in range(4)]
        assert a.verify().ok


@pytest.mark.usefixtures("two_threads")
def test_every_read_and_write_sees_the_block() -> None:
    alone = appended_alone(2, 2)

    def pending_pair() -> list[Ledger]:
        ledgers = appended_alone(2, 1)
        Ledger.append_encoded_many_in_background(
            [EncodedAppend(ledger, **block(k, 1)) for k, ledger in enumerate(ledgers)]
        )
        return ledgers

    reads = {
        "len": lambda led: len(led),
        "height": lambda led: led.height,
        "head_hash": lambda led: led.head_hash,
        "header": lambda led: led.header(1),
        "records": lambda led: led.records(1),
        "store": lambda led: led.store.records(1),
        "verify": lambda led: led.verify().ok,
        "history_root": lambda led: led.history_root(),
        "close": lambda led: (led.close(), led._pending, led.head_hash),
    }
    for name, read in reads.items():
        ledgers = pending_pair()
        # The other ledger of the batch is appended too.
        assert read(ledgers[0]) == read(alone[0]), name
        assert ledgers[1]._pending is None, name
        assert ledgers[1].head_hash == alone[1].head_hash, name
    # The next append, alone or in a batch, comes after the pending one.
    ledgers = pending_pair()
    ledgers[0].append_encoded(**block(0, 2))
    alone[0].append_encoded(**block(0, 2))
    assert ledgers[0].head_hash == alone[0].head_hash
    ledgers = pending_pair()
    with pytest.raises(RecordError, match="slot 1 is not after the last block's slot 1"):
        ledgers[1].append_encoded(**block(1, 1))


@pytest.mark.usefixtures("two_threads")
def test_a_closed_ledger_file_holds_the_block(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    ledger = Ledger(SqliteStore(path, create=True), check_certificates=False)
    ledger.append_encoded(**block(0, 0))
    Ledger.append_encoded_many_in_background([EncodedAppend(ledger, **block(0, 1))])
    assert ledger._pending is not None
    ledger.close()
    again = Ledger.open(path)
    assert len(again) == 2
    assert again.head_hash == appended_alone(1, 2)[0].head_hash
    assert again.verify().ok
    again.close()


def test_checking_ledgers_and_one_thread_append_at_once() -> None:
    checking = Ledger.in_memory()  # checks certificates: its append may refuse a block
    pending = Ledger.append_encoded_many_in_background([EncodedAppend(checking, **block(0, 0))])
    assert checking._pending is None
    assert pending.block_hash(0) == checking.head_hash == appended_alone(1, 1)[0].head_hash
    hashing.set_threads(1)  # P2P_GYM_HASH_THREADS=1: no thread but the caller's
    try:
        ledger = Ledger.in_memory(check_certificates=False)
        pending = Ledger.append_encoded_many_in_background([EncodedAppend(ledger, **block(0, 0))])
        assert pending._job is not None
        assert pending._job._future is None  # encoded here, not on another thread
    finally:
        hashing.set_threads(None)
    assert pending.block_hash(0) == ledger.head_hash == checking.head_hash


@pytest.mark.usefixtures("two_threads")
def test_a_failure_in_the_background_is_said_at_every_use(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: Any) -> list[bool]:
        raise MemoryError("no room for the records")

    ledgers = appended_alone(2, 1)
    heads = [ledger.head_hash for ledger in ledgers]
    monkeypatch.setattr(hashing._BlocksWork, "run", broken)
    pending = Ledger.append_encoded_many_in_background(
        [EncodedAppend(ledger, **block(k, 1)) for k, ledger in enumerate(ledgers)]
    )
    monkeypatch.undo()
    for use in (
        pending.wait,
        lambda: ledgers[0].head_hash,
        lambda: len(ledgers[1]),
        ledgers[1].close,
    ):
        with pytest.raises(LedgerError, match="in the background failed: MemoryError"):
            use()
    # Neither ledger got the block, and neither goes on as if it had: no silent gap.
    assert [ledger._store.block_hash(0) for ledger in ledgers] == heads
    assert all(len(ledger._store) == 1 for ledger in ledgers)
    with pytest.raises(LedgerError):
        ledgers[0].append_encoded(**block(0, 2))


def _child_reads(ledger: Ledger, out: Any) -> None:
    out.send(ledger.head_hash)


@pytest.mark.skipif(sys.platform != "linux", reason="fork is Linux's")
@pytest.mark.usefixtures("two_threads")
def test_a_forked_child_finds_the_block() -> None:
    # The child has no background thread: the fork waits for it, so the child only appends.
    ledger = Ledger.in_memory(check_certificates=False)
    Ledger.append_encoded_many_in_background([EncodedAppend(ledger, **block(0, 0, 20_000))])
    context = multiprocessing.get_context("fork")
    parent, child = context.Pipe()
    process = context.Process(target=_child_reads, args=(ledger, child))
    process.start()
    try:
        assert parent.poll(60), "the child did not answer"
        assert parent.recv() == appended_alone(1, 1, 20_000)[0].head_hash
    finally:
        process.join(10)
        if process.is_alive():
            process.kill()
    assert process.exitcode == 0
    assert ledger.head_hash == appended_alone(1, 1, 20_000)[0].head_hash
    assert os.getpid() != process.pid
