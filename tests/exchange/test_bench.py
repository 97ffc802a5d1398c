"""The benchmark script runs and prints its tables (smoke test with ``--quick``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_bench_exchange_quick() -> None:
    done = subprocess.run(
        [sys.executable, "experiments/bench_exchange.py", "--quick", "--repeats", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    for mechanism in ("call", "midpoint", "cda"):
        rows = [line.split() for line in lines if line.startswith(f"{mechanism} ")]
        assert [row[1] for row in rows] == ["100", "1,000", "10,000"], mechanism
    assert any(line.strip().startswith("match (call)") for line in lines)
    assert any("per slot at community sizes" in line for line in lines)
