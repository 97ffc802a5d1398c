"""Training runs: settings, run folder, seeding, TensorBoard, validation and checkpoints.

:func:`train` is what ``p2p-gym train`` calls. A run lives in
``runs/{config}__{backend}-{algo}__{seed}__{time}/`` (or ``--run-dir``) and holds:

* ``run.json`` (the settings and seed) and ``config.yaml`` (the resolved config);
* TensorBoard event files: ``charts/`` (episode returns per policy, steps per second),
  ``losses/`` (or the backend's own ``train/`` group), ``eval/`` (the evaluation's bill
  improvement per group, P2P share and mean clearing price per tag on a short slice of the
  validation period), and the hyperparameters and config as text;
* ``checkpoints/<step>/`` every ``eval_every`` steps, ``checkpoints/latest`` (``--resume``
  continues from it) and ``best/``, the checkpoint with the best all-households improvement on
  the validation slice. Each is loadable by :func:`agents.rl.checkpoint.load_checkpoint_policy`
  and by ``p2p-gym evaluate --policy runs/<run>/best``.

The backends live in :mod:`agents.rl.sb3_train` and :mod:`agents.rl.rllib`.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml

from agents.evaluation import evaluate
from p2p_env.config import GymConfig, Period
from p2p_env.policy import AGENT_TYPES, Policy

Backend = Literal["sb3", "rllib"]
Algo = Literal["ppo", "sac"]
BACKENDS: tuple[Backend, ...] = ("sb3", "rllib")
ALGOS: tuple[Algo, ...] = ("ppo", "sac")


class TrainingError(ValueError):
    """A bad training request; the message names the setting, its value and what is allowed."""


@dataclass
class TrainSettings:
    """One training run (``p2p-gym train`` options; defaults from the config's ``training``).

    Attributes:
        backend: ``sb3`` (one agent type learns, parameter sharing) or ``rllib`` (multi-agent,
            one policy per type).
        algo: ``ppo`` or ``sac`` (``sac`` with ``sb3`` only).
        timesteps: Budget in agent steps of the learning type (sb3) or env steps (rllib).
        iterations: RLlib training iterations (instead of ``timesteps``).
        seed: Seeds ``random``, numpy, torch and the environment.
        run_dir: The run folder; default ``runs/{config}__{backend}-{algo}__{seed}__{time}``.
        runs_root: Parent of the default run folder.
        agent_type: The learning type (sb3).
        others: Policy of the other types (sb3), and the fallback of a loaded checkpoint.
        residual: Learn corrections to this policy's actions (sb3; ``None``: plain actions).
        eval_every: Validate and checkpoint every this many steps (sb3) or iterations (rllib).
        eval_days: Length of the validation slice, days from the validation period's start.
        eval_seeds: Seeds 0..N-1 of each validation.
        num_env_runners: RLlib env runners (0: sample in the driver).
        ray_address: Connect to this Ray cluster (``auto``, ``ray://host:10001``); default: a
            local Ray with ``num_cpus``.
        num_cpus: CPUs of a local Ray.
        hyperparameters: Passed to the algorithm (``learning_rate``, ``n_steps``, ``lr``...).
        resume: Continue the run in ``run_dir`` from ``checkpoints/latest``.
        max_minutes: Stop (with a final checkpoint and validation) after this wall time.
        overrides: ``--set`` overrides the config was resolved with (recorded).
    """

    config: str = "higashifuji_demo"
    backend: Backend = "sb3"
    algo: Algo = "ppo"
    timesteps: int | None = None
    iterations: int | None = None
    seed: int = 0
    run_dir: Path | None = None
    runs_root: Path = Path("runs")
    agent_type: str = "home"
    others: str = "rule"
    residual: str | None = None
    eval_every: int = 20_000
    eval_days: int = 2
    eval_seeds: int = 1
    num_env_runners: int = 0
    ray_address: str | None = None
    num_cpus: int = 2
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    resume: bool = False
    max_minutes: float | None = None
    overrides: list[str] = field(default_factory=list)

    def check(self) -> None:
        """Raise :class:`TrainingError` for an impossible combination."""
        if self.backend not in BACKENDS:
            raise TrainingError(f"backend must be one of {BACKENDS}, got {self.backend!r}")
        if self.algo not in ALGOS:
            raise TrainingError(f"algo must be one of {ALGOS}, got {self.algo!r}")
        if self.backend == "rllib" and self.algo != "ppo":
            raise TrainingError(f"algo {self.algo!r} with backend rllib: only 'ppo' is wired")
        if self.agent_type not in AGENT_TYPES:
            raise TrainingError(f"agent_type must be one of {AGENT_TYPES}, got {self.agent_type!r}")
        if self.backend == "sb3" and self.iterations is not None:
            raise TrainingError("--iterations is for the rllib backend; give --timesteps for sb3")
        for name in ("eval_every", "eval_days", "eval_seeds", "num_cpus"):
            if getattr(self, name) < 1:
                raise TrainingError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.resume and (self.run_dir is None or not self.run_dir.is_dir()):
            raise TrainingError(f"--resume needs an existing --run-dir, got {self.run_dir}")

    def to_json(self) -> dict[str, Any]:
        """The settings as JSON-compatible data (paths as strings)."""
        data = asdict(self)
        data["run_dir"] = None if self.run_dir is None else str(self.run_dir)
        data["runs_root"] = str(self.runs_root)
        return data


def run_name(config: str, backend: str, algo: str, seed: int, when: dt.datetime) -> str:
    """``{config}__{backend}-{algo}__{seed}__{YYYYmmdd-HHMMSS}`` (style.md's run folders)."""
    return f"{config}__{backend}-{algo}__{seed}__{when:%Y%m%d-%H%M%S}"


def seed_everything(seed: int) -> None:
    """Seed ``random``, numpy's global generator and torch (the libraries draw from them)."""
    import torch

    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - SB3 and RLlib draw from numpy's global generator
    torch.manual_seed(seed)


def prepare_run_dir(settings: TrainSettings, config: GymConfig) -> Path:
    """Create (or, resuming, reopen) the run folder and record settings and resolved config."""
    if settings.run_dir is None:
        name = run_name(
            config.name, settings.backend, settings.algo, settings.seed, dt.datetime.now()
        )
        settings.run_dir = settings.runs_root / name
    run_dir = settings.run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    record = {"settings": settings.to_json(), "started": dt.datetime.now().isoformat()}
    target = run_dir / ("run.resume.json" if settings.resume else "run.json")
    target.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    (run_dir / "config.yaml").write_text(config_yaml(config), encoding="utf-8")
    return run_dir


def config_yaml(config: GymConfig) -> str:
    """The resolved config as YAML."""
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)


def validation_slice(config: GymConfig, days: int) -> Period:
    """The first ``days`` days of the validation period (all of it if shorter)."""
    period = config.data.validation
    end = min(period.start + dt.timedelta(days=days - 1), period.end)
    return Period(start=period.start, end=end)


class RunLogger:
    """TensorBoard writer of a run (scalars grouped ``charts/``, ``losses/``, ``eval/``).

    Args:
        run_dir: Where the event file goes.
    """

    def __init__(self, run_dir: Path) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(run_dir))
        self._start = time.perf_counter()
        self._last_time = self._start
        self._last_step = 0

    def text(self, settings: TrainSettings, config: GymConfig) -> None:
        """Hyperparameters as a Markdown table, the resolved config as YAML."""
        rows = "\n".join(f"|{k}|{v}|" for k, v in sorted(settings.to_json().items()))
        self.writer.add_text("hyperparameters", f"|param|value|\n|-|-|\n{rows}")
        body = "\n".join("    " + line for line in config_yaml(config).splitlines())
        self.writer.add_text("config", body)

    def scalars(self, values: dict[str, float], step: int) -> None:
        """Write finite values (NaN means "nothing measured" and is skipped)."""
        for key, value in values.items():
            if value is not None and np.isfinite(value):
                self.writer.add_scalar(key, float(value), step)

    def steps_per_second(self, step: int) -> float:
        """Steps per second since the previous call, written as ``charts/steps_per_second``."""
        now = time.perf_counter()
        rate = (step - self._last_step) / max(now - self._last_time, 1e-9)
        self._last_time, self._last_step = now, step
        self.writer.add_scalar("charts/steps_per_second", rate, step)
        return rate

    def close(self) -> None:
        self.writer.flush()
        self.writer.close()


def validation_figures(
    config: GymConfig, policy: Policy, period: Period, seeds: int, name: str
) -> dict[str, float]:
    """The evaluation's figures for ``policy`` on ``period`` as ``eval/...`` scalars."""
    summary = evaluate(config, policy, period, list(range(seeds)), policy_name=name).to_dict()
    out: dict[str, float] = {}
    for group, figures in summary["groups"].items():
        out[f"eval/improvement_pct/{group}"] = _number(figures["improvement_pct"])
        out[f"eval/bill_jpy/{group}"] = _number(figures["bill_jpy"])
    community = summary["community"]
    for key in ("p2p_share", "self_sufficiency", "solar_matched_share", "peak_grid_import_kw"):
        out[f"eval/{key}"] = _number(community.get(key))
    for key, value in community.items():
        if key.startswith("mean_price_"):
            out[f"eval/clearing_price_jpy_per_kwh/{key.removeprefix('mean_price_')}"] = _number(
                value
            )
    out["eval/total_cost_jpy"] = _number(community.get("total_cost_jpy"))
    return out


def _number(value: Any) -> float:
    return float("nan") if value is None else float(value)


SCORE_KEY = "eval/improvement_pct/all_households"
"""What ``best/`` maximises on the validation slice."""


class BestTracker:
    """Keeps ``best/`` a copy of the checkpoint with the highest validation score."""

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / "best"
        self.score_file = run_dir / "best_score.json"
        self.best = -float("inf")
        if self.score_file.is_file():
            self.best = float(json.loads(self.score_file.read_text(encoding="utf-8"))["score"])

    def offer(self, checkpoint: Path, score: float, step: int) -> bool:
        """Copy ``checkpoint`` to ``best/`` if ``score`` beats the best so far."""
        if not np.isfinite(score) or score <= self.best:
            return False
        self.best = score
        if self.path.exists():
            shutil.rmtree(self.path)
        shutil.copytree(checkpoint, self.path)
        record = {"score": score, "metric": SCORE_KEY, "step": step, "from": checkpoint.name}
        self.score_file.write_text(json.dumps(record) + "\n", encoding="utf-8")
        return True


def point_latest(run_dir: Path, checkpoint: Path) -> None:
    """Record ``checkpoint`` as the one ``--resume`` continues from."""
    (run_dir / "checkpoints" / "latest.txt").write_text(checkpoint.name + "\n", encoding="utf-8")


def latest_checkpoint(run_dir: Path) -> Path:
    """The checkpoint ``--resume`` continues from.

    Raises:
        TrainingError: The run has none.
    """
    marker = run_dir / "checkpoints" / "latest.txt"
    if not marker.is_file():
        raise TrainingError(f"--resume: {run_dir} has no checkpoints/latest.txt to resume from")
    return run_dir / "checkpoints" / marker.read_text(encoding="utf-8").strip()


def train(settings: TrainSettings, config: GymConfig) -> Path:
    """Run one training (see the module docstring); returns the run folder."""
    settings.check()
    run_dir = prepare_run_dir(settings, config)
    seed_everything(settings.seed)
    logger = RunLogger(run_dir)
    try:
        logger.text(settings, config)
        if settings.backend == "sb3":
            from agents.rl.sb3_train import train_sb3

            train_sb3(settings, config, run_dir, logger)
        else:
            from agents.rl.rllib import train_rllib

            train_rllib(settings, config, run_dir, logger)
    finally:
        logger.close()
    return run_dir
