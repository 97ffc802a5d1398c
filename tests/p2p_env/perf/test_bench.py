"""``p2p-gym bench --quick --json`` runs and reports every figure the issue asks for."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from p2p_env.cli import app

KEYS = (
    "demo_agent_steps_per_s",
    "null_agent_steps_per_s",
    "demo_ratio_to_null",
    "batched_agent_steps_per_s",
    "batched_ratio_to_null",
    "homes_20000_slots_per_s",
    "call_orders_per_s_100k",
    "ledger_verify_records_per_s",
    "peak_rss_mib",
)


@pytest.mark.slow
def test_bench_quick_json_has_every_key(tmp_path: Path) -> None:
    png = tmp_path / "curve.png"
    result = CliRunner().invoke(app, ["bench", "--quick", "--json", "--plot", str(png)])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    for key in KEYS:
        value = figures[key]
        assert isinstance(value, float), key
        assert value > 0, key
    # Ratios are the rates divided by the null rate of the same run.
    assert figures["demo_ratio_to_null"] == pytest.approx(
        figures["demo_agent_steps_per_s"] / figures["null_agent_steps_per_s"]
    )
    assert [c["agents"] for c in figures["curve"]] == [30, 291, 2901, 29001]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # Where a demonstration step's time goes: three shares of one whole.
    shares = figures["demo_phase_shares"]
    assert set(shares) == {"market", "ledger", "rest"}
    assert all(0 < v < 1 for v in shares.values())
    assert sum(shares.values()) == pytest.approx(1.0)
    # The hashing floor: the records' leaves, the tree's interior nodes, header and params.
    assert figures["demo_hashes_per_slot"] > 2 * 30  # at least a settlement per agent, hashed
    for name in ("higashifuji_demo", "homes_200", "homes_2000", "homes_20000"):
        assert figures[f"{name}_hash_floor_slots_per_s"] > 0
    assert figures["homes_20000_brief_infos_slots_per_s"] > 0


def test_hash_floor_counts_every_hash_of_a_block() -> None:
    from ledger import Ledger
    from p2p_env.benchmark import ledger_hash_floor

    ledger = Ledger.in_memory()
    order = {"id": "a", "agent": "home_00", "side": "buy"}
    ledger.append_block(1, {"p": 1}, orders=[order])
    ledger.append_block(2, {"p": 1}, orders=[order, {**order, "id": "b"}])
    hashes, seconds = ledger_hash_floor(ledger)
    # Blocks of 1 and 2 records: leaves + interior nodes + header + params = 3 and 5 hashes.
    assert hashes == pytest.approx((3 + 5) / 2)
    assert seconds > 0
    with pytest.raises(ValueError, match="keeps its records"):
        ledger_hash_floor(Ledger.in_memory(keep_records=False))


def test_bench_is_a_real_command() -> None:
    result = CliRunner().invoke(app, ["bench", "--help"])
    assert result.exit_code == 0
    assert "--quick" in result.output
    assert "not available yet" not in result.output
