"""The SQLite ledger file: round trip, append-only, bad files, and a writer killed mid-run."""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ledger_synthetic import Community, build

from ledger import Ledger, LedgerError, LedgerFormatError, SqliteStore
from ledger.canonical import SCHEMA_VERSION

HERE = Path(__file__).resolve().parent


def _write(path: Path, blocks: int, seed: int = 0) -> Ledger:
    ledger = Ledger.open(path, create=True, durable=False)
    return build(blocks, seed=seed, ledger=ledger)


def test_round_trip_matches_memory_and_reopens(tmp_path: Path) -> None:
    path = tmp_path / "run.ledger"
    with _write(path, 15, seed=4) as ledger:
        head = ledger.head_hash
        records = ledger.records(7)
    assert head == build(15, seed=4).head_hash
    with Ledger.open(path, read_only=True) as ledger:
        assert ledger.head_hash == head
        assert ledger.records(7) == records
        assert ledger.verify().ok
        with pytest.raises(LedgerError, match="read-only"):
            ledger.append_block(99, {})
    with Ledger.open(path) as ledger:  # reopened for writing: the next slot continues the chain
        community = Community(4)
        for _ in range(15):
            community.block()
        ledger.append_block(**community.block())
        assert len(ledger) == 16
        with pytest.raises(LedgerError, match="not after"):
            ledger.append_block(3, {})
    with Ledger.open(path, read_only=True) as ledger:
        report = ledger.verify()
        assert report.ok
        assert report.blocks == 16
    assert build(16, seed=4).head_hash == report.head_hash


def test_file_is_append_only_and_tampering_is_located(tmp_path: Path) -> None:
    path = tmp_path / "run.ledger"
    _write(path, 5).close()
    conn = sqlite3.connect(path)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("UPDATE records SET body = x'00' WHERE height = 2")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("DELETE FROM blocks WHERE height = 4")
    # Someone who drops the triggers can change a record; verification still finds it.
    conn.execute("DROP TRIGGER records_no_update")
    body = conn.execute("SELECT body FROM records WHERE height = 3 AND idx = 4").fetchone()[0]
    conn.execute(
        "UPDATE records SET body = ? WHERE height = 3 AND idx = 4",
        (body.replace(b'"quantity_wh":', b'"quantity_wh":1'),),
    )
    conn.commit()
    conn.close()
    with Ledger.open(path, read_only=True) as ledger:
        failure = ledger.verify().failure
    assert failure is not None
    assert (failure.height, failure.record, failure.check) == (3, 4, "record_hash")


def _ledger_file(tmp_path: Path, blocks: int = 8) -> Path:
    path = tmp_path / "ok.ledger"
    _write(path, blocks).close()
    return path


def _set_pragma(path: Path, pragma: str) -> None:
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA {pragma}")
    conn.commit()
    conn.close()


def _bad_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    cases: dict[str, tuple[Path, str]] = {}
    cases["missing"] = (tmp_path / "nope.ledger", "no such file")
    empty = tmp_path / "empty.ledger"
    empty.write_bytes(b"")
    cases["empty"] = (empty, "empty file")
    text = tmp_path / "notes.txt"
    text.write_text("slot,wh\n1,2\n")
    cases["text"] = (text, "not a SQLite database")
    foreign = tmp_path / "foreign.db"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    cases["foreign sqlite"] = (foreign, "not a p2p-gym ledger (application_id 0x0")
    newer = _ledger_file(tmp_path / "newer")
    _set_pragma(newer, f"user_version={SCHEMA_VERSION + 1}")
    cases["newer"] = (newer, f"schema version {SCHEMA_VERSION + 1}, this p2p-gym reads version")
    older = _ledger_file(tmp_path / "older")
    _set_pragma(older, "user_version=0")
    cases["older"] = (older, "an older format")
    for name, length in (("cut in header", 60), ("cut mid-page", 5000), ("cut at a page", 8192)):
        cut = _ledger_file(tmp_path / name.replace(" ", "_"), blocks=30)
        data = cut.read_bytes()
        assert len(data) > length
        cut.write_bytes(data[:length])
        cases[name] = (cut, "truncated")
    return cases


@pytest.fixture
def bad_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    for sub in ("newer", "older", "cut_in_header", "cut_mid-page", "cut_at_a_page"):
        (tmp_path / sub).mkdir()
    return _bad_files(tmp_path)


def test_bad_files_are_refused_with_a_clear_error(bad_files: dict[str, tuple[Path, str]]) -> None:
    for name, (path, message) in bad_files.items():
        with pytest.raises(LedgerFormatError) as info:
            Ledger.open(path, read_only=True)
        assert message in str(info.value), name
        assert str(path) in str(info.value), name


def test_missing_table_and_newer_header(tmp_path: Path) -> None:
    path = _ledger_file(tmp_path)
    conn = sqlite3.connect(path)
    conn.execute("DROP TABLE params")
    conn.commit()
    conn.close()
    with pytest.raises(LedgerFormatError, match=r"missing tables \['params'\]"):
        SqliteStore(path, read_only=True)
    # A block header from a newer schema inside an otherwise readable file.
    path = _ledger_file(tmp_path / "x" if (tmp_path / "x").mkdir() is None else tmp_path)
    conn = sqlite3.connect(path)
    conn.execute("DROP TRIGGER blocks_no_update")
    header = json.loads(conn.execute("SELECT header FROM blocks WHERE height = 2").fetchone()[0])
    header["schema"] = SCHEMA_VERSION + 1
    conn.execute(
        "UPDATE blocks SET header = ? WHERE height = 2",
        (json.dumps(header, sort_keys=True, separators=(",", ":")).encode(),),
    )
    conn.commit()
    conn.close()
    with Ledger.open(path, read_only=True) as ledger:
        failure = ledger.verify().failure
    assert failure is not None
    assert (failure.height, failure.check) == (2, "header")
    assert "newer p2p-gym" in failure.message


def test_damaged_pages_never_pass(tmp_path: Path) -> None:
    path = _ledger_file(tmp_path, blocks=40)
    data = bytearray(path.read_bytes())
    rng = random.Random(0)
    for _ in range(6):  # overwrite whole pages after the first with noise
        page = rng.randrange(1, len(data) // 4096)
        data[page * 4096 : (page + 1) * 4096] = rng.randbytes(4096)
        damaged = tmp_path / f"damaged{page}.ledger"
        damaged.write_bytes(bytes(data))
        try:
            with Ledger.open(damaged, read_only=True) as ledger:
                report = ledger.verify()
        except LedgerFormatError:
            continue
        assert not report.ok, f"page {page} overwritten but the ledger verified"


WRITER = """
import sys
sys.path.insert(0, {here!r})
from ledger import Ledger
from ledger_synthetic import Community
ledger = Ledger.open(sys.argv[1], create=True)
community = Community(seed=21)
while True:
    header = ledger.append_block(**community.block())
    print(header.height, flush=True)
"""


@pytest.mark.slow
@pytest.mark.parametrize("run", range(3))
def test_writer_killed_mid_run_leaves_a_ledger_that_verifies(tmp_path: Path, run: int) -> None:
    path = tmp_path / "killed.ledger"
    rng = random.Random(run)
    target = rng.randrange(5, 40)
    last = -1
    with subprocess.Popen(
        [sys.executable, "-c", WRITER.format(here=str(HERE)), str(path)],
        stdout=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            last = int(line)
            if last >= target:
                break
        # Kill at a random instant while the writer is busy with later blocks.
        time.sleep(rng.uniform(0, 0.05))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    with Ledger.open(path, read_only=True) as ledger:
        report = ledger.verify()
        assert report.ok, report.summary()
        assert ledger.height >= last
    reference = build(len(ledger), seed=21)
    assert report.head_hash == reference.head_hash  # exactly the committed prefix
    with Ledger.open(path) as ledger:  # and writing can resume after the last committed block
        community = Community(seed=21)
        for _ in range(len(ledger)):
            community.block()
        ledger.append_block(**community.block())
        assert ledger.verify().ok


def test_a_second_writer_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "shared.ledger"
    first = _write(path, 3)
    second = Ledger.open(path)
    first.append_block(50, {})
    with pytest.raises(LedgerError, match="another process is writing"):
        second.append_block(51, {})
    first.close()
    second.close()
    with Ledger.open(path, read_only=True) as ledger:
        assert ledger.verify().ok
        assert len(ledger) == 4
