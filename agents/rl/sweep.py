"""Sweeps over seeds and hyperparameters with Ray Tune, on a local or an existing Ray cluster.

A sweep is one YAML file (``p2p-gym sweep SWEEP.yaml``, or ``python experiments/sweep.py``)::

    name: ppo_home_lr            # folder under runs_root
    config: higashifuji_demo     # config name or path
    backend: sb3                 # trials run stable-baselines3 (see below for rllib)
    algo: ppo
    timesteps: 200000
    residual: rule               # optional, as p2p-gym train --residual
    eval_every: 48000
    eval_days: 7
    seeds: [0, 1, 2]             # a grid axis
    hyperparameters:             # a list is a grid axis, a scalar is fixed
      learning_rate: [3.0e-4, 1.0e-4]
      log_std_init: -1.5
    max_concurrent: 2            # trials at once (default: as many as the CPUs allow)
    cpus_per_trial: 1
    ray_address: null            # or auto / ray://head:10001 for an existing cluster
    num_cpus: 2                  # CPUs of a local Ray
    runs_root: runs/sweeps

Every trial is a whole ``p2p-gym train`` run with its own run folder under
``runs_root/<name>/``, so ``tensorboard --logdir runs/sweeps/<name>`` shows the trials side by
side (and next to single runs with ``--logdir runs``); Tune's own records go to
``runs_root/<name>/_tune``. Each trial reports its best validation score
(``eval/improvement_pct/all_households``) and the sweep prints the trials ranked by it.
Trials run ``backend: sb3`` only: an RLlib algorithm inside a Tune trial would need its own
Ray resources; sweep RLlib runs by starting several ``p2p-gym train --backend rllib
--ray-address auto`` instead.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from agents.rl.train import TrainingError, TrainSettings, run_name

KNOWN_KEYS = {
    "name",
    "config",
    "backend",
    "algo",
    "timesteps",
    "residual",
    "agent_type",
    "others",
    "eval_every",
    "eval_days",
    "eval_seeds",
    "seeds",
    "hyperparameters",
    "max_concurrent",
    "cpus_per_trial",
    "ray_address",
    "num_cpus",
    "runs_root",
    "set",
}


@dataclass
class SweepSpec:
    """A validated sweep file (see the module docstring)."""

    name: str
    config: str = "higashifuji_demo"
    algo: str = "ppo"
    timesteps: int = 200_000
    residual: str | None = None
    agent_type: str = "home"
    others: str = "rule"
    eval_every: int = 48_000
    eval_days: int = 2
    eval_seeds: int = 1
    seeds: list[int] = field(default_factory=lambda: [0])
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    max_concurrent: int | None = None
    cpus_per_trial: float = 1.0
    ray_address: str | None = None
    num_cpus: int = 2
    runs_root: Path = Path("runs/sweeps")
    set: list[str] = field(default_factory=list)

    def trials(self) -> list[dict[str, Any]]:
        """The grid: every combination of the seeds and of the list-valued hyperparameters."""
        axes = {k: v for k, v in self.hyperparameters.items() if isinstance(v, list)}
        fixed = {k: v for k, v in self.hyperparameters.items() if not isinstance(v, list)}
        out = []
        for seed in self.seeds:
            for values in itertools.product(*axes.values()):
                out.append(
                    {
                        "seed": seed,
                        "hyperparameters": {**fixed, **dict(zip(axes, values, strict=True))},
                    }
                )
        return out


def load_sweep(path: Path) -> SweepSpec:
    """Read and check a sweep file.

    Raises:
        TrainingError: Unknown keys, wrong types or a backend other than sb3, named.
    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TrainingError(f"sweep file {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise TrainingError(f"sweep file {path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise TrainingError(f"sweep file {path}: expected a mapping of settings, got {data!r}")
    unknown = sorted(set(data) - KNOWN_KEYS)
    if unknown:
        raise TrainingError(
            f"sweep file {path}: unknown keys {unknown}; allowed: {', '.join(sorted(KNOWN_KEYS))}"
        )
    if "name" not in data:
        raise TrainingError(f"sweep file {path}: 'name' is required (the sweep's folder)")
    backend = data.pop("backend", "sb3")
    if backend != "sb3":
        raise TrainingError(
            f"sweep file {path}: backend {backend!r}; sweeps run 'sb3' trials (see the docs)"
        )
    seeds = data.get("seeds", [0])
    if not isinstance(seeds, list) or not all(isinstance(s, int) and s >= 0 for s in seeds):
        raise TrainingError(
            f"sweep file {path}: seeds must be a list of integers >= 0, got {seeds!r}"
        )
    if not isinstance(data.get("hyperparameters", {}), dict):
        raise TrainingError(f"sweep file {path}: hyperparameters must be a mapping")
    if "runs_root" in data:
        data["runs_root"] = Path(data["runs_root"])
    spec = SweepSpec(**data)
    config_path = Path(spec.config)
    if config_path.suffix in (".yaml", ".yml"):
        # Trials run in their own working folders: a relative config path would not resolve.
        spec.config = str((path.parent / config_path).resolve())
    return spec


def trial_settings(spec: SweepSpec, trial: dict[str, Any], folder: Path) -> TrainSettings:
    """The ``p2p-gym train`` settings of one trial."""
    return TrainSettings(
        config=spec.config,
        backend="sb3",
        algo=spec.algo,  # type: ignore[arg-type]
        timesteps=spec.timesteps,
        seed=int(trial["seed"]),
        run_dir=folder,
        agent_type=spec.agent_type,
        others=spec.others,
        residual=spec.residual,
        eval_every=spec.eval_every,
        eval_days=spec.eval_days,
        eval_seeds=spec.eval_seeds,
        hyperparameters=dict(trial["hyperparameters"]),
        overrides=list(spec.set),
    )


def _trial_folder(root: Path, spec: SweepSpec, trial: dict[str, Any], index: int) -> Path:
    import datetime as dt

    base = run_name(Path(spec.config).stem, "sb3", spec.algo, int(trial["seed"]), dt.datetime.now())
    return root / f"{base}__t{index:03d}"


def _run_trial(params: dict[str, Any]) -> None:
    """The Tune trainable: one training run; reports its best validation score."""
    from ray import tune

    from agents.rl.train import train
    from p2p_env.config import load_config

    spec: SweepSpec = params["spec"]
    trial = {"seed": params["seed"], "hyperparameters": params["hyperparameters"]}
    folder = Path(params["folder"])
    settings = trial_settings(spec, trial, folder)
    config = load_config(spec.config, spec.set)
    train(settings, config)
    best = folder / "best_score.json"
    score = float("nan")
    if best.is_file():
        import json

        score = float(json.loads(best.read_text(encoding="utf-8"))["score"])
    tune.report({"score": score, "run_dir": str(folder)})


def run_sweep(spec: SweepSpec) -> list[dict[str, Any]]:
    """Run every trial of the grid with Ray Tune; returns the trials ranked by their score."""
    import ray
    from ray import tune

    root = (spec.runs_root / spec.name).resolve()
    root.mkdir(parents=True, exist_ok=True)
    trials = spec.trials()
    folders = [str(_trial_folder(root, spec, t, i)) for i, t in enumerate(trials)]
    if spec.ray_address:
        ray.init(address=spec.ray_address, logging_level=logging.WARNING)
    else:
        ray.init(num_cpus=spec.num_cpus, include_dashboard=False, logging_level=logging.WARNING)
    try:
        index = tune.grid_search(list(range(len(trials))))
        trainable = tune.with_resources(
            lambda params: _run_trial(
                {"spec": spec, **trials[params["index"]], "folder": folders[params["index"]]}
            ),
            {"cpu": spec.cpus_per_trial},
        )
        tuner = tune.Tuner(
            trainable,
            param_space={"index": index},
            tune_config=tune.TuneConfig(
                metric="score", mode="max", max_concurrent_trials=spec.max_concurrent
            ),
            run_config=tune.RunConfig(
                name="_tune", storage_path=str(root), verbose=0, log_to_file=False
            ),
        )
        grid = tuner.fit()
        rows = []
        for position in range(len(grid)):
            result = grid[position]
            chosen = int((result.config or {})["index"])
            params = trials[chosen]
            metrics = result.metrics or {}
            rows.append(
                {
                    "seed": params["seed"],
                    "hyperparameters": params["hyperparameters"],
                    "score": metrics.get("score", float("nan")),
                    "run_dir": folders[chosen],
                    "error": None if result.error is None else str(result.error),
                }
            )
    finally:
        ray.shutdown()
    rows.sort(key=lambda r: -r["score"] if r["score"] == r["score"] else float("inf"))
    return rows


__all__ = ["SweepSpec", "load_sweep", "run_sweep", "trial_settings"]
