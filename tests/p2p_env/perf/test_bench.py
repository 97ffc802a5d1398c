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


def test_bench_is_a_real_command() -> None:
    result = CliRunner().invoke(app, ["bench", "--help"])
    assert result.exit_code == 0
    assert "--quick" in result.output
    assert "not available yet" not in result.output
