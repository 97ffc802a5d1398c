"""The compiled block hashing gives hashlib's bytes, and this machine runs it."""

from __future__ import annotations

import hashlib
import itertools
import os
import select
import signal
import subprocess
import sys
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ledger_synthetic import build

from ledger import EncodedAppend, Ledger, RecordError, RecordKind, hashing
from ledger.canonical import SCHEMA_VERSION
from ledger.fast import RowTemplates, formatting_backend
from ledger.hashing import JoinedBodies
from ledger.merkle import EMPTY_ROOT, inclusion_path, verify_inclusion
from ledger.records import ENVELOPE
from ledger.store import MemoryStore, RecordBlob, StoredBlock


@pytest.fixture
def python_hashing() -> Iterator[None]:
    hashing.use_python(True)
    try:
        yield
    finally:
        hashing.use_python(False)


def test_this_machine_runs_the_compiled_path() -> None:
    # Falling back would be silent and correct, but several times slower: say so here.
    assert hashing.backend().startswith("openssl (compiled; "), hashing.backend()


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


KINDS = st.sampled_from([int(k) for k in RecordKind])


# Bodies are canonical JSON in use, which never holds a raw newline: the compiled path splits
# the joined bodies at newlines. Any other byte may appear.
BODIES = st.lists(st.binary(max_size=120).map(lambda b: b.replace(b"\n", b" ")), max_size=12)


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 2**63 - 1), st.lists(st.tuples(KINDS, BODIES), max_size=5))
def test_encoded_block_equals_reference(height: int, groups: list[tuple[int, list[bytes]]]) -> None:
    records, leaves, root = hashing.encode_block(height, groups)
    expected = hashing.python_encode_block(height, groups)
    assert (list(records), leaves, root) == expected
    # The compiled path really ran (it returns a blob) whenever there was a body.
    assert isinstance(records, RecordBlob) == any(bodies for _, bodies in groups)
    kinds = [kind for kind, bodies in groups for _ in bodies]
    for index, data in enumerate(expected[0]):
        assert ENVELOPE.unpack_from(data) == (kinds[index], SCHEMA_VERSION, height, index)


# Blocks of one layout (the groups' kinds fixed), as a batch of communities appends them.
LAYOUT = [int(RecordKind.ORDER), int(RecordKind.TRADE), int(RecordKind.SETTLEMENT)]


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 2**63 - 1),
            st.lists(BODIES, min_size=3, max_size=3),
            st.booleans(),  # a block of other kinds, or one with a raw newline
            st.booleans(),
        ),
        max_size=6,
    )
)
def test_blocks_encoded_together_equal_each_alone(
    drawn: list[tuple[int, list[list[bytes]], bool, bool]],
) -> None:
    """encode_blocks gives each block what encode_block gives it: the usual blocks in one
    call, the others (empty, other kinds, a body with a raw newline) each its own way."""
    heights, blocks = [], []
    for height, bodies, other_kinds, newline in drawn:
        kinds = LAYOUT[::-1] if other_kinds else LAYOUT
        if newline and bodies[0]:
            bodies[0][0] += b"\n"
        heights.append(height)
        blocks.append(list(zip(kinds, bodies, strict=True)))
    together = hashing.encode_blocks(heights, blocks)
    for (records, leaves, root), height, groups in zip(together, heights, blocks, strict=True):
        assert (list(records), leaves, root) == hashing.python_encode_block(height, groups)
        # The compiled path wrote every block with records and no raw newline.
        newline = any(b"\n" in body for _, bodies in groups for body in bodies)
        has_records = any(bodies for _, bodies in groups)
        assert isinstance(records, RecordBlob) == (has_records and not newline)
        if not newline:
            # Joined bodies (the simulator's form; never with a raw newline) give the same.
            joined = [(kind, JoinedBodies(b"\n".join(b), len(b)) if b else b) for kind, b in groups]
            again = hashing.encode_blocks([height], [joined])[0]
            assert (list(again[0]), *again[1:]) == (list(records), leaves, root)
    with pytest.raises(ValueError, match="2 heights for 1 blocks"):
        hashing.encode_blocks([1, 2], [[]])


@pytest.mark.parametrize(
    "bodies",
    [[b"a\nb"], [b"a", b"b\n"], [b"\n", b"c"], [b"x", b"", b"\n\n"], [b"\n"]],
)
def test_a_body_with_a_newline_still_gives_the_reference_bytes(bodies: list[bytes]) -> None:
    groups = [(int(RecordKind.ORDER), [b"{}"]), (int(RecordKind.TRADE), bodies)]
    records, leaves, root = hashing.encode_block(3, groups)
    assert (list(records), leaves, root) == hashing.python_encode_block(3, groups)


def test_encoded_block_past_the_index_table() -> None:
    # Indices above 65,535 (the Python path's table) and a height above 2**32.
    bodies = [b"{}"] * 70_000
    records, leaves, root = hashing.encode_block(2**40 + 3, [(RecordKind.ORDER, bodies)])
    assert (records[-1], leaves, root) == (
        ENVELOPE.pack(RecordKind.ORDER, SCHEMA_VERSION, 2**40 + 3, 69_999) + b"{}",
        *hashing.python_encode_block(2**40 + 3, [(RecordKind.ORDER, bodies)])[1:],
    )


def test_record_blob_reads_as_a_list_of_bytes() -> None:
    records, _, _ = hashing.encode_block(7, [(RecordKind.TRADE, [b"a", b"bc", b""])])
    assert isinstance(records, RecordBlob)
    expected = hashing.python_encode_block(7, [(RecordKind.TRADE, [b"a", b"bc", b""])])[0]
    assert len(records) == 3
    assert records == expected
    assert list(records) == expected
    assert records[-1] == expected[-1]
    assert records[1:] == expected[1:]
    with pytest.raises(IndexError, match="record 3 is outside a block of 3 records"):
        records[3]
    store = MemoryStore()
    store.append(StoredBlock(0, b"h", b"x" * 32, b"", records, b"p" * 32, b"{}"))
    assert store.records(0) == expected
    assert type(store.records(0)) is list


def test_ledgers_appended_encoded_either_way_are_identical() -> None:
    def fill(ledger: Ledger) -> Ledger:
        for slot in range(6):
            ledger.append_encoded(
                slot,
                b'{"mechanism":"cda"}',
                orders=[b'{"agent":"a%d"}' % i for i in range(slot)],
                trades=[b'{"t":%d}' % slot] if slot % 2 else [],
                settlements=[b'{"s":%d}' % i for i in range(3)],
            )
        return ledger

    compiled = fill(Ledger.in_memory())
    hashing.use_python(True)
    try:
        reference = fill(Ledger.in_memory())
    finally:
        hashing.use_python(False)
    assert compiled.head_hash == reference.head_hash
    for height in range(len(compiled)):
        assert compiled.store.records(height) == reference.store.records(height)
        assert compiled.store.leaves(height) == reference.store.leaves(height)


def test_ledgers_appended_together_are_those_appended_alone() -> None:
    """append_encoded_many appends each ledger's next block as append_encoded does: the same
    chains; and refuses a ledger twice or a slot that does not increase before it writes
    anything."""

    def block(k: int, slot: int) -> dict[str, Any]:
        return {
            "slot": slot,
            "params_json": b'{"seed":%d}' % k,
            "orders": [b'{"agent":"a%d"}' % i for i in range(k + slot % 3)],
            "trades": JoinedBodies(b'{"t":1}\n{"t":2}', 2) if k % 2 else [],
            "settlements": [b'{"s":%d}' % k],
        }

    together = [Ledger.in_memory() for _ in range(4)]
    alone = [Ledger.in_memory() for _ in range(4)]
    for slot in range(5):
        headers = Ledger.append_encoded_many(
            [EncodedAppend(ledger, **block(k, slot)) for k, ledger in enumerate(together)]
        )
        expected = [ledger.append_encoded(**block(k, slot)) for k, ledger in enumerate(alone)]
        assert headers == expected
    for a, b in zip(together, alone, strict=True):
        assert a.head_hash == b.head_hash
        assert [a.store.records(h) for h in range(5)] == [b.store.records(h) for h in range(5)]
        assert a.verify().ok
    heads = [ledger.head_hash for ledger in together]
    with pytest.raises(RecordError, match="one block per ledger"):
        Ledger.append_encoded_many(
            [EncodedAppend(together[0], **block(0, 9)), EncodedAppend(together[0], **block(1, 10))]
        )
    with pytest.raises(RecordError, match="slot 4 is not after the last block's slot 4"):
        Ledger.append_encoded_many(
            [EncodedAppend(together[0], **block(0, 9)), EncodedAppend(together[1], **block(1, 4))]
        )
    assert [ledger.head_hash for ledger in together] == heads  # nothing was appended


def test_without_the_compiler_the_same_ledger_in_another_process() -> None:
    # NUMBA_DISABLE_JIT makes the kernels plain Python, which cannot call OpenSSL: the
    # ledger must say so and fall back to hashlib, with the same bytes.
    code = (
        "from ledger_synthetic import build\n"
        "from ledger import hashing\n"
        "print(hashing.backend().split(' ')[0], build(6, seed=2).head_hash.hex())"
    )
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1", "PYTHONPATH": str(Path(__file__).parent)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True
    ).stdout.split()
    assert out == ["hashlib", build(6, seed=2).head_hash.hex()]


def test_the_scratch_layout_is_the_kernels() -> None:
    from ledger import _sha_kernel

    assert hashing._SCRATCH_HEAD == _sha_kernel.SCRATCH_HEAD


# --- joined bodies and the compiled row formatter ------------------------------------------


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.text(max_size=8), min_size=1, max_size=6),
    # Key names with "%" too: the templates escape it, the kernel's chunks must unescape it.
    st.lists(
        st.sampled_from(["wh", "a", "z_sen", "%d", "b%%"]), min_size=1, max_size=4, unique=True
    ),
    st.data(),
)
def test_encode_joined_is_the_joined_rows(
    names: list[str], fields: list[str], data: st.DataObject
) -> None:
    rows = RowTemplates([{"agent": name} for name in names], fields)
    row = st.lists(st.integers(-(2**63), 2**63 - 1), min_size=len(fields), max_size=len(fields))
    values = np.array(
        data.draw(st.lists(row, min_size=len(names), max_size=len(names))), dtype=np.int64
    )
    expected = b"\n".join(rows.encode_sorted(values.ravel().tolist()))
    assert rows.encode_joined(values) == expected
    # A transposed view (the recorder passes one) reads row after row all the same.
    assert rows.encode_joined(np.array(values.T).T) == expected


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.text(max_size=8), min_size=0, max_size=5),
    st.integers(0, 4),
    st.data(),
)
def test_encode_joined_many_is_each_table_joined(
    names: list[str], tables: int, data: st.DataObject
) -> None:
    rows = RowTemplates([{"agent": name} for name in names], ["b%%", "wh"])
    value = st.integers(-(2**63), 2**63 - 1)
    values = np.array(
        data.draw(
            st.lists(value, min_size=tables * len(names) * 2, max_size=tables * len(names) * 2)
        ),
        dtype=np.int64,
    ).reshape(tables, len(names), 2)
    expected = [rows.encode_joined(table) for table in values]
    assert rows.encode_joined_many(values) == expected
    # A transposed view (fields first, as the recorder stacks them) reads the same.
    fields_first = np.ascontiguousarray(values.transpose(2, 0, 1))
    assert rows.encode_joined_many(fields_first.transpose(1, 2, 0)) == expected
    with pytest.raises(
        RecordError,
        match=rf"shape \(tables, {len(names)}, 2\), got int64 \({len(names)}, 2\)",
    ):
        rows.encode_joined_many(values[0] if tables else np.zeros((len(names), 2), np.int64))


def test_encode_joined_runs_compiled_and_refuses_other_arrays() -> None:
    assert formatting_backend() == "compiled"
    rows = RowTemplates([{"agent": "a"}, {"agent": "b"}], ["x", "y"])
    with pytest.raises(RecordError, match=r"int64 array of shape \(2, 2\), got float64 \(2, 2\)"):
        rows.encode_joined(np.zeros((2, 2)))
    with pytest.raises(RecordError, match=r"int64 array of shape \(2, 2\), got int64 \(2, 3\)"):
        rows.encode_joined(np.zeros((2, 3), dtype=np.int64))
    assert RowTemplates([], ["x"]).encode_joined(np.zeros((0, 1), dtype=np.int64)) == b""


def test_joined_bodies_make_the_same_block() -> None:
    bodies = [b'{"a":1}', b'{"b":"x"}', b"{}"]
    listed = hashing.encode_block(4, [(int(RecordKind.SETTLEMENT), bodies)])
    joined = hashing.encode_block(
        4, [(int(RecordKind.SETTLEMENT), JoinedBodies(b"\n".join(bodies), 3))]
    )
    assert (list(joined[0]), *joined[1:]) == (list(listed[0]), *listed[1:])
    # A count that does not match the text is refused, on either path.
    with pytest.raises(RecordError, match="0 only for empty text"):
        JoinedBodies(b"{}", 0)
    for wrong in (JoinedBodies(b"{}\n{}", 3), JoinedBodies(b"{}\n{}", 1), JoinedBodies(b"", 2)):
        with pytest.raises(RecordError, match="joined bodies"):
            hashing.encode_block(
                4, [(int(RecordKind.ORDER), [b"{}"]), (int(RecordKind.TRADE), wrong)]
            )


# --- large blocks on several threads -------------------------------------------------------


@pytest.fixture
def threaded() -> Iterator[None]:
    """Every block of two or more records through the threaded path (on the count each test
    sets); afterwards the defaults again."""
    hashing.set_threshold(1)
    try:
        yield
    finally:
        hashing.set_threshold(None)
        hashing.set_threads(None)


@pytest.fixture
def chunk_bounds(monkeypatch: pytest.MonkeyPatch) -> list[list[int]]:
    """The bounds of every block cut in chunks (to show that the threaded path ran)."""
    seen: list[list[int]] = []
    assert hashing._load_chunks() is not None  # proven now, not on the spy's watch
    run = hashing._run

    def spy(work: Callable[[int, int, np.ndarray], None], bounds: list[int]) -> None:
        seen.append(bounds)
        run(work, bounds)

    monkeypatch.setattr(hashing, "_run", spy)
    return seen


def _sizes(count: int) -> list[int]:
    """Blocks of every small size, and around the sizes where the chunks or their tree levels
    change: powers of two and ``count`` times them, each -1, +0 and +1."""
    sizes = set(range(1, 40))
    for k in range(4, 13):
        for base in (1 << k, count << k):
            sizes |= {base - 1, base, base + 1}
    return sorted(sizes)


def _records(n: int) -> list[bytes]:
    return [b"r%d." % i * (i % 7) for i in range(n)]


@pytest.mark.parametrize("count", [2, 3, 4, 7])
def test_threaded_equals_single_threaded_and_hashlib(
    threaded: None, chunk_bounds: list[list[int]], count: int
) -> None:
    for n in _sizes(count):
        records = _records(n)
        expected = hashing.python_leaves_and_root(records)
        hashing.set_threads(1)
        assert hashing.leaves_and_root(records) == expected, n
        hashing.set_threads(count)
        assert hashing.leaves_and_root(records) == expected, n
        # The encoded block of the same size, its records in three groups (one empty).
        groups = [
            (1, records[: n // 3]),
            (2, []),
            (3, JoinedBodies(b"\n".join(records[n // 3 :]), n - n // 3)),
        ]
        got = hashing.encode_block(2**33 + n, groups)
        assert isinstance(got[0], RecordBlob)
        assert (list(got[0]), *got[1:]) == hashing.python_encode_block(2**33 + n, groups), n
        hashing.set_threads(1)
        single = hashing.encode_block(2**33 + n, groups)
        assert (list(single[0]), *single[1:]) == (list(got[0]), *got[1:]), n
    # Every block of two records or more was cut in chunks (twice: leaves and encoded).
    cut = [bounds[-1] for bounds in chunk_bounds]
    assert cut == [n for n in _sizes(count) if n >= 2 for _ in range(2)]


@pytest.mark.parametrize("count", [2, 3, 4, 5, 8, 16, 64])
def test_chunks_are_whole_subtrees_of_about_equal_size(count: int) -> None:
    for n in [*range(1, 300), *_sizes(count), 20_000, 100_000, 100_003]:
        levels, bounds = hashing._chunks(n, count)
        sizes = [hi - lo for lo, hi in itertools.pairwise(bounds)]
        assert bounds[0] == 0
        assert bounds[-1] == n
        assert all(size > 0 for size in sizes)
        assert len(sizes) <= count
        # Every chunk but the last is whole subtrees of 2 ** levels leaves: its nodes of those
        # levels are the block tree's.
        assert all(size % (1 << levels) == 0 for size in sizes[:-1])
        assert max(sizes) <= -(-n // count) * 17 // 16
        # What is left above the chunks is small.
        assert -(-n >> levels) <= 32 * count


@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(max_size=80), max_size=300), st.integers(2, 9))
def test_threaded_compiled_equals_hashlib(records: list[bytes], count: int) -> None:
    hashing.set_threshold(1)
    hashing.set_threads(count)
    try:
        assert hashing.leaves_and_root(records) == hashing.python_leaves_and_root(records)
    finally:
        hashing.set_threshold(None)
        hashing.set_threads(None)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 2**63 - 1),
    st.lists(
        st.tuples(
            KINDS,
            st.lists(st.binary(max_size=60).map(lambda b: b.replace(b"\n", b" ")), max_size=70),
        ),
        max_size=5,
    ),
    st.integers(2, 9),
)
def test_threaded_encoded_block_equals_reference(
    height: int, groups: list[tuple[int, list[bytes]]], count: int
) -> None:
    hashing.set_threshold(1)
    hashing.set_threads(count)
    try:
        records, leaves, root = hashing.encode_block(height, groups)
    finally:
        hashing.set_threshold(None)
        hashing.set_threads(None)
    assert (list(records), leaves, root) == hashing.python_encode_block(height, groups)


@pytest.mark.parametrize(
    "bodies",
    [[b"a\nb"] * 9, [b"a"] * 9 + [b"b\n"], [b"\n", b"c"] * 5, [b"x", b"", b"\n\n"] * 3],
)
def test_threaded_a_body_with_a_newline_still_gives_the_reference_bytes(
    threaded: None, bodies: list[bytes]
) -> None:
    hashing.set_threads(3)
    groups = [(int(RecordKind.ORDER), [b"{}"] * 5), (int(RecordKind.TRADE), bodies)]
    records, leaves, root = hashing.encode_block(3, groups)
    assert (list(records), leaves, root) == hashing.python_encode_block(3, groups)


def test_threaded_past_the_index_table(threaded: None, chunk_bounds: list[list[int]]) -> None:
    hashing.set_threads(4)
    bodies = [b'{"i":%d}' % i for i in range(70_001)]
    groups = [(RecordKind.ORDER, bodies[:5]), (RecordKind.TRADE, bodies[5:])]
    records, leaves, root = hashing.encode_block(2**40 + 3, groups)
    assert (list(records), leaves, root) == hashing.python_encode_block(2**40 + 3, groups)
    assert chunk_bounds == [[0, 18432, 36864, 55296, 70001]]


def test_blocks_below_the_threshold_stay_on_the_calling_thread(
    chunk_bounds: list[list[int]],
) -> None:
    hashing.set_threads(4)
    hashing.set_threshold(100)
    try:
        for n in (1, 2, 99, 100, 101, 199, 200, 1000):
            records = _records(n)
            assert hashing.leaves_and_root(records) == hashing.python_leaves_and_root(records)
            got = hashing.encode_block(1, [(1, records)])
            assert (list(got[0]), *got[1:]) == hashing.python_encode_block(1, [(1, records)])
        hashing.set_threads(1)
        hashing.leaves_and_root(_records(200))
    finally:
        hashing.set_threshold(None)
        hashing.set_threads(None)
    # Each chunk at least half the threshold, at most one a thread.
    assert [(bounds[-1], len(bounds) - 1) for bounds in chunk_bounds] == [
        (n, chunks)
        for n, chunks in ((100, 2), (101, 2), (199, 3), (200, 4), (1000, 4))
        for _ in "le"
    ]
    # The demonstration's blocks (about a hundred records) are far below the default.
    assert hashing.threshold() == hashing.PARALLEL_THRESHOLD >= 1000


def test_threads_hash_blocks_from_several_callers_at_once(threaded: None) -> None:
    hashing.set_threads(3)
    blocks = [_records(n) for n in (500, 777, 1024, 1500, 2049, 3000)]
    expected = [hashing.python_leaves_and_root(block) for block in blocks]
    with ThreadPoolExecutor(4) as pool:
        for _ in range(3):
            assert list(pool.map(hashing.leaves_and_root, blocks)) == expected


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork here")
def test_a_forked_child_hashes_on_threads_of_its_own(threaded: None) -> None:
    # The parent's pool has threads the child lacks: the child must start its own, not wait
    # for the parent's forever.
    hashing.set_threads(3)
    records = _records(1000)
    expected = hashing.python_leaves_and_root(records)
    assert hashing.leaves_and_root(records) == expected  # the parent's pool is started
    read, write = os.pipe()
    with warnings.catch_warnings():  # Python 3.12 warns of fork in a process with threads
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # the child: answer through the pipe, and never return into pytest
        try:
            os.write(write, b"same" if hashing.leaves_and_root(records) == expected else b"diff")
        finally:
            os._exit(0)
    os.close(write)
    try:
        ready, _, _ = select.select([read], [], [], 60)
        answer = os.read(read, 4) if ready else b"hung"
    finally:
        os.close(read)
        if answer == b"hung":
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    assert answer == b"same"


def test_thread_count_and_threshold_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(hashing.THREADS_VARIABLE, raising=False)
    try:
        hashing.set_threads(None)
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        assert hashing.threads() == cpus
        hashing.set_threads(5)
        assert hashing.threads() == 5
        assert hashing.backend() == "openssl (compiled; 5 threads from 4,096 records)"
        hashing.set_threshold(10_000)
        assert hashing.backend() == "openssl (compiled; 5 threads from 10,000 records)"
        hashing.set_threads(1)
        assert hashing.backend() == "openssl (compiled; 1 thread)"
        for wrong in (0, -1, True, 2.0, "2"):
            with pytest.raises(ValueError, match="thread count must be an integer >= 1"):
                hashing.set_threads(wrong)  # type: ignore[arg-type]
            with pytest.raises(ValueError, match="threshold must be an integer >= 1"):
                hashing.set_threshold(wrong)  # type: ignore[arg-type]
        assert hashing.threads() == 1
        monkeypatch.setenv(hashing.THREADS_VARIABLE, " 3 ")
        hashing.set_threads(None)
        assert hashing.threads() == 3
        monkeypatch.setenv(hashing.THREADS_VARIABLE, "")  # empty: as if unset
        hashing.set_threads(None)
        assert hashing.threads() == cpus
        for wrong in ("0", "-2", "two", "1.5", "4 threads"):
            monkeypatch.setenv(hashing.THREADS_VARIABLE, wrong)
            with pytest.raises(ValueError, match=rf"P2P_GYM_HASH_THREADS .*got '{wrong}'"):
                hashing.set_threads(None)
    finally:
        monkeypatch.delenv(hashing.THREADS_VARIABLE, raising=False)
        hashing.set_threads(None)
        hashing.set_threshold(None)


def test_a_bad_thread_count_in_the_environment_is_an_error_not_a_fallback() -> None:
    code = (
        "from ledger import hashing\n"
        "try:\n"
        "    hashing.leaves_and_root([b'a'])\n"
        "except ValueError as exc:\n"
        "    print(exc)\n"
    )
    env = {**os.environ, "P2P_GYM_HASH_THREADS": "zero"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True
    ).stdout
    assert out.startswith("P2P_GYM_HASH_THREADS must be an integer >= 1"), out
    assert out.rstrip().endswith("got 'zero'"), out


def test_the_context_size_is_the_kernels() -> None:
    from ledger import _sha_kernel

    assert hashing._CONTEXT_SIZE == _sha_kernel.CONTEXT_SIZE
    assert ENVELOPE.size == _sha_kernel.ENVELOPE_SIZE
