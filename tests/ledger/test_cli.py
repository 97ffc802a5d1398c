"""``p2p-gym ledger verify|show|trace``: exit codes 0/1/2, messages, no tracebacks."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from ledger_synthetic import build
from typer.testing import CliRunner

from ledger import Ledger
from p2p_env.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def ledger_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "run.ledger"
    build(12, seed=8, ledger=Ledger.open(path, create=True, durable=False)).close()
    return path


def _invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["ledger", *args], terminal_width=200)
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return result.exit_code, result.output


def test_verify_valid(ledger_file: Path) -> None:
    code, out = _invoke("verify", str(ledger_file))
    assert code == 0
    assert "valid: 12 blocks" in out
    code, out = _invoke("verify", str(ledger_file), "--json")
    report = json.loads(out)
    assert code == 0
    assert report["valid"] is True
    assert report["blocks"] == 12
    assert report["certificates"]["pv"]["issued"] > 0
    head = report["head_hash"]
    assert _invoke("verify", str(ledger_file), "--head", head)[0] == 0
    code, out = _invoke("verify", str(ledger_file), "--head", "ab" * 32)
    assert code == 1
    assert "not at the expected head" in out
    assert _invoke("verify", str(ledger_file), "--head", "xyz")[0] == 2


def test_verify_tampered_names_block_and_record(ledger_file: Path, tmp_path: Path) -> None:
    path = tmp_path / "tampered.ledger"
    shutil.copy(ledger_file, path)
    conn = sqlite3.connect(path)
    conn.execute("DROP TRIGGER records_no_update")
    body = conn.execute("SELECT body FROM records WHERE height=6 AND idx=2").fetchone()[0]
    conn.execute("UPDATE records SET body=? WHERE height=6 AND idx=2", (body[:-2] + b"9}",))
    conn.commit()
    conn.close()
    code, out = _invoke("verify", str(path))
    assert code == 1
    assert "block 6, record 2: record_hash" in out
    code, out = _invoke("verify", str(path), "--json")
    assert code == 1
    failure = json.loads(out)["failure"]
    assert (failure["block"], failure["record"], failure["check"]) == (6, 2, "record_hash")


def test_not_a_ledger_exits_2(tmp_path: Path) -> None:
    text = tmp_path / "notes.csv"
    text.write_text("a,b\n")
    for path, message in ((text, "not a SQLite database"), (tmp_path / "nope", "no such file")):
        code, out = _invoke("verify", str(path))
        assert code == 2
        assert message in out
        assert _invoke("show", str(path))[0] == 2
        assert _invoke("trace", str(path), "--consumer", "c0")[0] == 2


def test_show(ledger_file: Path) -> None:
    code, out = _invoke("show", str(ledger_file))
    assert code == 0
    assert "blocks" in out
    assert "head hash" in out
    code, out = _invoke("show", str(ledger_file), "--block", "3")
    assert code == 0
    assert "merkle_root" in out
    assert '"event": "issue"' in out
    code, out = _invoke("show", str(ledger_file), "--block", "99")
    assert code == 2
    assert "block 99 does not exist" in out


def test_trace(ledger_file: Path) -> None:
    code, out = _invoke("trace", str(ledger_file), "--consumer", "c1", "--from", "2", "--to", "9")
    assert code == 0
    assert "consumption by origin" in out
    assert "matched by certified local generation" in out
    code, out = _invoke("trace", str(ledger_file), "--producer", "p0")
    assert code == 0
    assert "consumed" in out
    assert _invoke("trace", str(ledger_file))[0] == 2
    assert _invoke("trace", str(ledger_file), "--consumer", "c1", "--from", "soon")[0] == 2


def test_console_script_exit_codes(ledger_file: Path, tmp_path: Path) -> None:
    exe = shutil.which("p2p-gym", path=str(Path(sys.executable).parent))
    assert exe is not None
    ok = subprocess.run([exe, "ledger", "verify", str(ledger_file)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    junk = tmp_path / "junk.ledger"
    junk.write_bytes(b"SQLite format 3\x00" + bytes(50))
    bad = subprocess.run([exe, "ledger", "verify", str(junk)], capture_output=True, text=True)
    assert bad.returncode == 2
    assert "truncated" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_verify_replay_with_the_exchange(tmp_path: Path) -> None:
    from exchange import ClearingParams, Order, clear

    params = ClearingParams(mechanism="cda", seed=3)
    orders = [
        Order.sell("s1", "home_03", 1200, "pv", 1850),
        Order.buy("b1", "home_07", 800, {"pv": 2300, "battery": 2100}),
        Order.buy("b2", "home_08", 800, {"pv": 1900}),
    ]
    trades = clear(orders, params).to_dict()["trades"]
    assert trades
    honest, forged = tmp_path / "honest.ledger", tmp_path / "forged.ledger"
    for path, recorded in ((honest, trades), (forged, [{**trades[0], "price": 1}, *trades[1:]])):
        with Ledger.open(path, create=True) as ledger:
            ledger.append_block(
                0, params.to_dict(), orders=[o.to_dict() for o in orders], trades=recorded
            )
    code, out = _invoke("verify", str(honest), "--replay")
    assert code == 0
    assert "replay" in out
    code, out = _invoke("verify", str(forged), "--replay")
    assert code == 1
    assert "block 0, record 3: replay" in out
    assert _invoke("verify", str(forged))[0] == 0  # without replay the hashes are all consistent
