"""``p2p-gym train`` end to end with a tiny budget: run folder, TensorBoard, checkpoints,
``--resume``, and ``p2p-gym evaluate --policy <checkpoint>`` (stable-baselines3 and Ray RLlib)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from typer.testing import CliRunner

from agents.rl.checkpoint import CheckpointError, load_checkpoint_policy
from agents.rl.train import run_name
from p2p_env.cli import app

runner = CliRunner()
EVALUATE = ["evaluate", "--period", "2020-08-03:2020-08-03", "--seeds", "1"]


def p2p_gym(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the CLI in a fresh interpreter (as a user would; no state shared with pytest)."""
    code = "from p2p_env.cli import main; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=400,
        env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})},
        check=False,
    )


def scalar_tags(run_dir: Path) -> set[str]:
    events = EventAccumulator(str(run_dir))
    events.Reload()
    return set(events.Tags()["scalars"])


def text_tags(run_dir: Path) -> set[str]:
    events = EventAccumulator(str(run_dir))
    events.Reload()
    return set(events.Tags()["tensors"])


def test_run_name_follows_the_style() -> None:
    import datetime as dt

    when = dt.datetime(2026, 1, 2, 3, 4, 5)
    assert run_name("higashifuji_demo", "sb3", "ppo", 3, when) == (
        "higashifuji_demo__sb3-ppo__3__20260102-030405"
    )


@pytest.mark.slow
def test_sb3_tiny_run_writes_events_checkpoints_and_evaluates(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    common = [
        "train",
        "--backend",
        "sb3",
        "--algo",
        "ppo",
        "--seed",
        "1",
        "--run-dir",
        str(run_dir),
    ]
    tiny = ["--eval-every", "960", "--eval-days", "1", "--residual", "rule"]
    result = p2p_gym([*common, "--timesteps", "960", *tiny])
    assert result.returncode == 0, result.stderr
    record = json.loads((run_dir / "run.json").read_text())
    assert record["settings"]["seed"] == 1
    assert "community:" in (run_dir / "config.yaml").read_text()
    tags = scalar_tags(run_dir)
    for tag in (
        "charts/episodic_return/home",
        "charts/steps_per_second",
        "eval/improvement_pct/all_households",
        "eval/improvement_pct/prosumers",
        "eval/p2p_share",
        "eval/clearing_price_jpy_per_kwh/pv",
        "train/value_loss",
        "time/fps",
    ):
        assert tag in tags, tag
    assert {"hyperparameters/text_summary", "config/text_summary"} <= text_tags(run_dir)
    assert (run_dir / "checkpoints" / "step_0000000960" / "model.zip").is_file()
    meta = json.loads((run_dir / "best" / "policy.json").read_text())
    assert meta["backend"] == "sb3"
    assert meta["residual"] == "rule"

    resumed = p2p_gym([*common, "--timesteps", "1920", *tiny, "--resume"])
    assert resumed.returncode == 0, resumed.stderr
    assert (run_dir / "checkpoints" / "step_0000001920" / "model.zip").is_file()
    assert (run_dir / "run.resume.json").is_file()

    policy = load_checkpoint_policy(run_dir)  # a run folder resolves to its best/
    assert policy.meta is not None
    assert policy.meta.trained_types == ["home"]
    out = runner.invoke(app, [*EVALUATE, "--policy", str(run_dir / "best")])
    assert out.exit_code == 0, out.output
    assert "all households" in out.output


def test_evaluate_refuses_what_is_not_a_checkpoint(tmp_path: Path) -> None:
    missing = runner.invoke(app, [*EVALUATE, "--policy", str(tmp_path / "nothing")])
    assert missing.exit_code == 2
    assert "neither a policy name" in missing.output
    empty = runner.invoke(app, [*EVALUATE, "--policy", str(tmp_path)])
    assert empty.exit_code == 2
    assert "no policy.json" in empty.output
    (tmp_path / "policy.json").write_text('{"format": 1, "backend": "tf"}')
    with pytest.raises(CheckpointError, match="backend 'tf'"):
        load_checkpoint_policy(tmp_path)


def test_train_refuses_bad_requests(tmp_path: Path) -> None:
    sac_rllib = runner.invoke(app, ["train", "--backend", "rllib", "--algo", "sac"])
    assert sac_rllib.exit_code == 2
    assert "only 'ppo'" in sac_rllib.output
    resume = runner.invoke(
        app, ["train", "--resume", "--run-dir", str(tmp_path / "none"), "--timesteps", "10"]
    )
    assert resume.exit_code == 2
    assert "--resume needs an existing --run-dir" in resume.output
    bad_hp = runner.invoke(app, ["train", "--timesteps", "10", "--hp", "oops"])
    assert bad_hp.exit_code == 2
    assert "expected KEY=VALUE" in bad_hp.output


def ray_processes(temp_root: str) -> list[str]:
    """Command lines of live processes that belong to the Ray session under ``temp_root``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if temp_root in cmdline:
            found.append(cmdline)
    return found


@pytest.mark.slow
def test_rllib_one_iteration_writes_events_checkpoint_and_leaves_no_ray(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    # A short private Ray temp root: its path is in every Ray process's command line, so the
    # check below finds this test's processes only (and Unix socket paths stay short).
    temp_root = tempfile.mkdtemp(prefix="ray", dir="/tmp")
    result = p2p_gym(
        [
            "train",
            "--backend",
            "rllib",
            "--iterations",
            "1",
            "--seed",
            "0",
            "--num-env-runners",
            "0",
            "--num-cpus",
            "2",
            "--eval-days",
            "1",
            "--run-dir",
            str(run_dir),
            "--hp",
            "train_batch_size_per_learner=96",
            "--hp",
            "minibatch_size=96",
            "--hp",
            "num_epochs=1",
        ],
        env={"RAY_TMPDIR": temp_root},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert ray_processes(temp_root) == []
    tags = scalar_tags(run_dir)
    for tag in (
        "charts/episodic_return/home",
        "charts/episodic_return/phv",
        "charts/episodic_return/office",
        "losses/home/policy_loss",
        "eval/improvement_pct/all_households",
        "charts/steps_per_second",
    ):
        assert tag in tags, tag
    meta = json.loads((run_dir / "best" / "policy.json").read_text())
    assert meta["backend"] == "rllib"
    assert sorted(meta["trained_types"]) == ["home", "office", "phv"]
    out = runner.invoke(app, [*EVALUATE, "--policy", str(run_dir / "best")])
    assert out.exit_code == 0, out.output
