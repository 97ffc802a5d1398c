"""Sweeps: the file's checks, the grid, and a two-trial Ray Tune run that leaves no Ray behind."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from agents.rl.sweep import load_sweep
from agents.rl.train import TrainingError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sweep.yaml"
    path.write_text(text)
    return path


def test_grid_is_seeds_times_listed_hyperparameters(tmp_path: Path) -> None:
    spec = load_sweep(
        write(
            tmp_path,
            "name: g\nseeds: [0, 1, 2]\n"
            "hyperparameters: {learning_rate: [0.001, 0.0003], n_epochs: 4, gamma: [0.9, 0.99]}\n",
        )
    )
    trials = spec.trials()
    assert len(trials) == 3 * 2 * 2
    assert all(t["hyperparameters"]["n_epochs"] == 4 for t in trials)
    combos = {(t["seed"], t["hyperparameters"]["learning_rate"], t["hyperparameters"]["gamma"])
              for t in trials}  # fmt: skip
    assert len(combos) == 12


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("seeds: [0]\n", "'name' is required"),
        ("name: x\nlearning_rate: 1\n", "unknown keys \\['learning_rate'\\]"),
        ("name: x\nbackend: rllib\n", "backend 'rllib'"),
        ("name: x\nseeds: [-1]\n", "seeds must be a list of integers"),
        ("- a\n", "expected a mapping"),
    ],
)
def test_bad_sweep_files_are_named(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(TrainingError, match=message):
        load_sweep(write(tmp_path, text))


@pytest.mark.slow
def test_three_trial_sweep_writes_a_run_per_trial(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    spec = write(
        tmp_path,
        f"name: tiny\ntimesteps: 480\neval_every: 480\neval_days: 1\nseeds: [0, 1, 2]\n"
        f"hyperparameters: {{n_epochs: 1}}\nruns_root: {root}\nmax_concurrent: 2\n",
    )
    temp_root = tempfile.mkdtemp(prefix="ray", dir="/tmp")
    result = subprocess.run(
        [sys.executable, "experiments/sweep.py", str(spec)],
        capture_output=True,
        text=True,
        timeout=400,
        env={**os.environ, "RAY_TMPDIR": temp_root, "OMP_NUM_THREADS": "1"},
        cwd=Path(__file__).resolve().parents[2],
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    runs = sorted(p for p in (root / "tiny").iterdir() if not p.name.startswith("_"))
    assert [p.name.split("__")[2] for p in runs] == ["0", "1", "2"]
    for run in runs:
        assert list(run.glob("events.out.tfevents.*"))
        assert (run / "best" / "policy.json").is_file()
    assert "sweep tiny" in result.stdout
    # Tune's log_to_file left a closed file behind a worker's stderr once it had run a trial (a
    # third trial on two slots): dozens of these a run.
    assert "ValueError when calling 'flush'" not in result.stdout + result.stderr
    leftover = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if temp_root.encode() in (entry / "cmdline").read_bytes():
                    leftover.append(entry.name)
            except OSError:
                continue
    assert leftover == []
