"""Every single change to a stored record, leaf hash, header or block hash is found and located.

The ledger is built once; each case copies its in-memory store, changes one thing, and checks that
verification fails naming the block (and the record, for a change inside a record).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from ledger_synthetic import build

from ledger import Ledger, MemoryStore
from ledger.records import ENVELOPE
from ledger.verify import Failure

BLOCKS = 4


@pytest.fixture(scope="module")
def original() -> Ledger:
    return build(BLOCKS, seed=1, producers=2, consumers=2)


def _copy(ledger: Ledger) -> MemoryStore:
    src = ledger.store
    assert isinstance(src, MemoryStore)
    store = MemoryStore()
    store._headers = list(src._headers)
    store._hashes = list(src._hashes)
    store._leaves = list(src._leaves)
    store._records = [list(r) for r in src._records]
    store._params = dict(src._params)
    return store


def _failure(store: MemoryStore, **kwargs: Any) -> Failure:
    report = Ledger(store, check_certificates=False).verify(**kwargs)
    assert not report.ok, "the change was not detected"
    assert report.failure is not None
    return report.failure


def _edits(value: Any) -> Iterator[tuple[str, Any]]:
    """Single-field edits of a JSON object: every value changed, every key deleted, a key added."""
    if isinstance(value, dict):
        for key, item in value.items():
            rest = {k: v for k, v in value.items() if k != key}
            yield f"delete {key}", rest
            for name, changed in _edits(item):
                yield f"{key}: {name}", {**value, key: changed}
        yield "insert field", {**value, "zz_inserted": 0}
    elif isinstance(value, list):
        for i, item in enumerate(value):
            for name, changed in _edits(item):
                yield f"[{i}]: {name}", [*value[:i], changed, *value[i + 1 :]]
        yield "append item", [*value, 0]
        if value:
            yield "drop item", value[:-1]
    elif isinstance(value, bool):
        yield "flip", not value
    elif isinstance(value, int):
        yield "+1", value + 1
    elif isinstance(value, str):
        yield "edit", value + "x"
    elif value is None:
        yield "set", 0


def _dumps(value: Any, reverse: bool = False) -> bytes:
    def order(v: Any) -> Any:
        if isinstance(v, dict):
            keys = sorted(v, reverse=reverse)
            return {k: order(v[k]) for k in keys}
        if isinstance(v, list):
            return [order(x) for x in v]
        return v

    return json.dumps(order(value), separators=(",", ":"), ensure_ascii=False).encode()


def _record_changes(data: bytes) -> Iterator[tuple[str, bytes]]:
    envelope, body = data[: ENVELOPE.size], json.loads(data[ENVELOPE.size :])
    for name, changed in _edits(body):
        yield name, envelope + _dumps(changed)
    yield "fields reordered", envelope + _dumps(body, reverse=True)
    yield "truncated", data[:-1]
    yield "whitespace", envelope + json.dumps(body, sort_keys=True).encode()
    kind, version, height, index = ENVELOPE.unpack(envelope)
    for field, new in (("kind", (kind % 4) + 1), ("version", version + 1), ("height", height + 1),
                       ("index", index + 1)):  # fmt: skip
        values = {"kind": kind, "version": version, "height": height, "index": index, field: new}
        yield f"envelope {field}", ENVELOPE.pack(*values.values()) + data[ENVELOPE.size :]


def test_every_single_field_change_of_every_record_is_located(original: Ledger) -> None:
    cases = 0
    for h in range(BLOCKS):
        for i, data in enumerate(original.store.records(h) or []):
            for name, changed in _record_changes(data):
                store = _copy(original)
                store._records[h][i] = changed
                failure = _failure(store)
                assert (failure.height, failure.record) == (h, i), (h, i, name, failure)
                cases += 1
    assert cases > 1000


def test_every_byte_of_some_records_and_leaf_hashes(original: Ledger) -> None:
    records = original.store.records(2) or []
    # One record of each kind: the first order, trade, settlement and certificate event.
    firsts = sorted({data[0]: i for i, data in reversed(list(enumerate(records)))}.values())
    for i in firsts:
        for pos in range(len(records[i])):
            store = _copy(original)
            data = bytearray(records[i])
            data[pos] ^= 0x01
            store._records[2][i] = bytes(data)
            failure = _failure(store)
            assert (failure.height, failure.record) == (2, i), (i, pos, failure)
    for i in range(len(records)):
        store = _copy(original)
        leaves = bytearray(store._leaves[2])
        leaves[32 * i + 7] ^= 0x80
        store._leaves[2] = bytes(leaves)
        failure = _failure(store)
        assert (failure.height, failure.record, failure.check) == (2, i, "record_hash")


def _record_set_changes(n: int) -> Iterator[tuple[str, Callable[[list[Any]], list[Any]], int]]:
    for i in range(n):
        yield f"delete {i}", lambda x, i=i: [*x[:i], *x[i + 1 :]], i
        yield f"duplicate {i}", lambda x, i=i: [*x[: i + 1], x[i], *x[i + 1 :]], i + 1
        if i + 1 < n:
            yield f"swap {i}", lambda x, i=i: [*x[:i], x[i + 1], x[i], *x[i + 2 :]], i
        yield f"truncate to {i}", lambda x, i=i: x[:i], i


def test_records_moved_inserted_deleted_or_truncated_are_located(original: Ledger) -> None:
    for h in range(BLOCKS):
        n = len(original.store.records(h) or [])
        for name, change, where in _record_set_changes(n):
            for with_leaves in (False, True):
                store = _copy(original)
                store._records[h] = change(store._records[h])
                if with_leaves:  # the leaf hashes changed the same way: records and hashes agree
                    leaves = [store._leaves[h][k : k + 32] for k in range(0, 32 * n, 32)]
                    store._leaves[h] = b"".join(change(leaves))
                failure = _failure(store)
                assert (failure.height, failure.record) == (h, where), (h, name, failure)


def test_every_single_field_change_of_every_header_is_located(original: Ledger) -> None:
    cases = 0
    for h in range(BLOCKS):
        raw = original.store.header(h)
        header = json.loads(raw)
        changes = [(name, _dumps(changed)) for name, changed in _edits(header)]
        changes += [("reordered", _dumps(header, reverse=True)), ("truncated", raw[:-1])]
        for name, changed in changes:
            store = _copy(original)
            store._headers[h] = changed
            failure = _failure(store)
            assert failure.height == h, (h, name, failure)
            cases += 1
        store = _copy(original)
        store._hashes[h] = bytes(32)
        failure = _failure(store)
        assert (failure.height, failure.check) == (h, "block_hash")
    assert cases > 40


def test_changed_params_and_cut_chain(original: Ledger) -> None:
    store = _copy(original)
    (key,) = store._params
    store._params[key] = store._params[key].replace(b'"seed":7', b'"seed":8')
    assert (_failure(store).height, _failure(store).check) == (0, "params")
    # Dropping the last block leaves a valid shorter chain; a head hash known from elsewhere
    # (say, published after the run) exposes the cut.
    store = _copy(original)
    for column in (store._headers, store._hashes, store._leaves, store._records):
        column.pop()
    assert Ledger(store).verify().ok
    failure = _failure(store, expected_head=original.head_hash)
    assert failure.check == "head"
    assert f"block {BLOCKS - 2}" in failure.message
    assert original.verify(expected_head=original.head_hash).ok
