"""``p2p-gym train``: train RL policies with stable-baselines3 or Ray RLlib.

The work is done by :mod:`agents.rl.train`, imported inside the command (the CLI is the
composition root).
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import typer
import yaml

from p2p_env.cli._common import SET_OPTION_HELP, err_console, fail, load_config_or_exit
from p2p_env.config import DEFAULT_CONFIG


def parse_hyperparameters(items: list[str]) -> dict[str, object]:
    """``KEY=VALUE`` pairs (values parsed as YAML) into a dict; exits 2 on a malformed pair."""
    out: dict[str, object] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            fail(f"--hp {item!r}: expected KEY=VALUE, e.g. --hp learning_rate=3e-4")
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            fail(f"--hp {item!r}: the value is not valid YAML: {exc}")
        if isinstance(parsed, str):
            # YAML 1.1 reads 1e-4 (no dot) as a string; a learning rate is meant.
            with contextlib.suppress(ValueError):
                parsed = float(parsed)
        out[key.strip()] = parsed
    return out


def train(
    config: str = typer.Option(DEFAULT_CONFIG, "--config", "-c", help="Config name or path."),
    backend: str | None = typer.Option(
        None, "--backend", help="sb3 or rllib (default: the config's training.backend)."
    ),
    algo: str | None = typer.Option(None, "--algo", help="ppo or sac (sac: sb3 only)."),
    timesteps: int | None = typer.Option(
        None, "--timesteps", min=1, help="Budget in agent steps (sb3) or env steps (rllib)."
    ),
    iterations: int | None = typer.Option(
        None, "--iterations", min=1, help="RLlib training iterations (instead of --timesteps)."
    ),
    seed: int | None = typer.Option(None, "--seed", min=0, help="Seed (default: config's)."),
    run_dir: Path | None = typer.Option(
        None,
        "--run-dir",
        help="Run folder (default runs/{config}__{backend}-{algo}__{seed}__{time}).",
    ),
    resume: bool = typer.Option(
        False, "--resume", help="Continue --run-dir from its latest checkpoint."
    ),
    agent_type: str = typer.Option("home", "--agent-type", help="sb3: the type that learns."),
    others: str = typer.Option("rule", "--others", help="Policy of the types that do not learn."),
    residual: str | None = typer.Option(
        None,
        "--residual",
        help="sb3: learn corrections added to this policy's actions (e.g. rule).",
    ),
    eval_every: int | None = typer.Option(
        None,
        "--eval-every",
        min=1,
        help="Validate + checkpoint every N steps (sb3) / iterations (rllib).",
    ),
    eval_days: int = typer.Option(2, "--eval-days", min=1, help="Days of the validation slice."),
    eval_seeds: int = typer.Option(1, "--eval-seeds", min=1, help="Seeds per validation."),
    num_env_runners: int | None = typer.Option(
        None, "--num-env-runners", min=0, help="RLlib env runners (0: sample in the driver)."
    ),
    ray_address: str | None = typer.Option(
        None, "--ray-address", help="Existing Ray cluster: auto or ray://host:10001 (rllib)."
    ),
    num_cpus: int = typer.Option(2, "--num-cpus", min=1, help="CPUs of a local Ray (rllib)."),
    max_minutes: float | None = typer.Option(
        None, "--max-minutes", min=0.01, help="Stop after this wall time, with a final checkpoint."
    ),
    hp: list[str] = typer.Option([], "--hp", help="Hyperparameter KEY=VALUE (repeatable)."),
    set_: list[str] = typer.Option([], "--set", help=SET_OPTION_HELP),
) -> None:
    """Train RL policies with stable-baselines3 or Ray RLlib (TensorBoard files in the run)."""
    from agents.rl.checkpoint import CheckpointError
    from agents.rl.train import TrainingError, TrainSettings
    from agents.rl.train import train as run_training

    resolved = load_config_or_exit(config, set_)
    defaults = resolved.training
    hyperparameters = {**defaults.hyperparameters, **parse_hyperparameters(hp)}
    settings = TrainSettings(
        config=config,
        backend=backend or defaults.backend,  # type: ignore[arg-type]
        algo=algo or defaults.algo,  # type: ignore[arg-type]
        timesteps=timesteps,
        iterations=iterations,
        seed=defaults.seed if seed is None else seed,
        run_dir=run_dir,
        runs_root=Path(defaults.run_dir),
        agent_type=agent_type,
        others=others,
        residual=residual,
        eval_every=eval_every
        or (defaults.eval_every_steps if (backend or defaults.backend) == "sb3" else 10),
        eval_days=eval_days,
        eval_seeds=eval_seeds,
        num_env_runners=defaults.num_env_runners if num_env_runners is None else num_env_runners,
        ray_address=ray_address,
        num_cpus=num_cpus,
        hyperparameters=hyperparameters,
        resume=resume,
        max_minutes=max_minutes,
        overrides=list(set_),
    )
    try:
        folder = run_training(settings, resolved)
    except (TrainingError, CheckpointError) as exc:
        fail(str(exc))
    err_console.print(f"wrote {folder} (tensorboard --logdir {folder.parent})")
