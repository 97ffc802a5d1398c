"""The compiled block hashing gives hashlib's bytes, and this machine runs it."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ledger_synthetic import build

from ledger import hashing
from ledger.merkle import EMPTY_ROOT, inclusion_path, verify_inclusion


@pytest.fixture
def python_hashing() -> Iterator[None]:
    hashing.use_python(True)
    try:
        yield
    finally:
        hashing.use_python(False)


def test_this_machine_runs_the_compiled_path() -> None:
    # Falling back would be silent and correct, but several times slower: say so here.
    assert hashing.backend() == "openssl (compiled)", hashing.backend()


@settings(max_examples=150, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=70))
def test_compiled_equals_hashlib(records: list[bytes]) -> None:
    assert hashing.leaves_and_root(records) == hashing.python_leaves_and_root(records)


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 255, 1000])
def test_every_tree_shape(n: int) -> None:
    records = [i.to_bytes(4, "big") * (i % 13) for i in range(n)]
    leaves, root = hashing.leaves_and_root(records)
    expected = [hashlib.sha256(b"\x00" + r).digest() for r in records]
    assert leaves == b"".join(expected)
    assert root == (EMPTY_ROOT if n == 0 else hashing.python_leaves_and_root(records)[1])
    # The root proves every leaf: the tree is RFC 9162's, not merely self-consistent.
    for index in {0, n // 2, n - 1} if n else set():
        path = inclusion_path(expected, index)
        assert verify_inclusion(expected[index], index, n, path, root)


def test_large_records() -> None:
    records = [bytes([i]) * (100_000 + i) for i in range(5)]
    assert hashing.leaves_and_root(records) == hashing.python_leaves_and_root(records)


def test_forced_python_path_and_back(python_hashing: None) -> None:
    assert hashing.backend() == "hashlib (forced)"
    assert hashing.leaves_and_root([b"a", b"b"]) == hashing.python_leaves_and_root([b"a", b"b"])


def test_ledgers_written_either_way_are_identical() -> None:
    compiled = build(12, seed=8)
    hashing.use_python(True)
    try:
        reference = build(12, seed=8)
    finally:
        hashing.use_python(False)
    assert compiled.head_hash == reference.head_hash
    for height in range(len(compiled)):
        assert compiled.store.leaves(height) == reference.store.leaves(height)
    assert compiled.verify().ok
    assert reference.verify().ok
