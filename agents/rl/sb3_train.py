"""stable-baselines3 training of one agent type (parameter sharing), the others fixed.

The learning type's agents are the sub-environments of an
:class:`~agents.rl.sb3_vec.AgentTypeVecEnv` over the training period; SB3 writes its own
``rollout/``, ``train/`` (losses) and ``time/`` scalars next to the run's ``charts/`` and
``eval/`` (see :mod:`agents.rl.train`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
from stable_baselines3 import PPO, SAC
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import configure
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
from stable_baselines3.common.vec_env import VecMonitor

from agents.rl.checkpoint import CheckpointMeta, CheckpointPolicy
from agents.rl.sb3_vec import AgentTypeVecEnv
from agents.rl.train import (
    SCORE_KEY,
    BestTracker,
    RunLogger,
    TrainingError,
    TrainSettings,
    latest_checkpoint,
    point_latest,
    validation_figures,
    validation_slice,
)
from p2p_env.config import GymConfig
from p2p_env.envs.parallel import P2PCommunityEnv
from p2p_env.policy import make_policy

REPLAY_BUFFER = "replay_buffer.pkl"
DEFAULTS: dict[str, dict[str, Any]] = {
    # One day (48 slots) per sub-environment and rollout: with the demo's 20 homes, 960
    # transitions per update, so that a 30-minute budget still makes hundreds of updates.
    "ppo": {"n_steps": 48, "batch_size": 240, "n_epochs": 10, "gamma": 0.99, "gae_lambda": 0.95},
    "sac": {"buffer_size": 100_000, "learning_starts": 1_000, "batch_size": 256, "gamma": 0.99},
}
POLICY_KWARGS = ("log_std_init", "net_arch")
"""Hyperparameters that go to the policy network rather than the algorithm."""


def algorithm_kwargs(algo: str, hyperparameters: dict[str, Any]) -> dict[str, Any]:
    """The algorithm's keyword arguments: defaults, then the run's hyperparameters."""
    kwargs = {**DEFAULTS[algo], **hyperparameters}
    policy_kwargs: dict[str, Any] = dict(kwargs.pop("policy_kwargs", {}) or {})
    for key in POLICY_KWARGS:
        if key in kwargs:
            value = kwargs.pop(key)
            if key == "net_arch" and isinstance(value, str):
                value = [int(width) for width in value.split(",") if width.strip()]
            policy_kwargs[key] = value
    if policy_kwargs:
        kwargs["policy_kwargs"] = policy_kwargs
    return kwargs


def build_vec_env(settings: TrainSettings, config: GymConfig) -> VecMonitor:
    """The training VecEnv: the learning type's agents over the training period."""
    env = P2PCommunityEnv(config, seed=settings.seed, period="train")
    adapter = AgentTypeVecEnv(env, settings.agent_type, settings.others, residual=settings.residual)
    return VecMonitor(adapter)


def live_policy(model: BaseAlgorithm, settings: TrainSettings) -> CheckpointPolicy:
    """The model being trained as a :class:`~p2p_env.policy.Policy` (deterministic)."""
    network = model.policy

    def act(observations: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        actions, _ = network.predict(observations, deterministic=True)
        return np.asarray(actions, dtype=np.float32)

    residual = None if settings.residual is None else make_policy(settings.residual)
    return CheckpointPolicy({settings.agent_type: act}, make_policy(settings.others), residual)


class RunCallback(BaseCallback):
    """Returns and steps/s per rollout; checkpoint, validation and ``best/`` every K steps."""

    def __init__(
        self,
        settings: TrainSettings,
        config: GymConfig,
        run_dir: Path,
        logger: RunLogger,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.config = config
        self.run_dir = run_dir
        self.run_logger = logger
        self.best = BestTracker(run_dir)
        self.period = validation_slice(config, settings.eval_days)
        self.returns: list[float] = []
        self.next_eval = 0
        self.last_saved = -1
        self.deadline = float("inf")

    def _on_training_start(self) -> None:
        every = self.settings.eval_every
        self.next_eval = (self.num_timesteps // every + 1) * every
        self.run_logger.steps_per_second(self.num_timesteps)
        if self.settings.max_minutes is not None:
            self.deadline = time.monotonic() + 60 * self.settings.max_minutes
        if self.num_timesteps == 0:
            # Validate the untrained policy too: with --residual it is (nearly) the base policy,
            # so best/ is never worse on validation than where training started.
            self.checkpoint_and_validate()

    def _on_step(self) -> bool:
        for info in self.locals.get("infos", []):
            episode = info.get("episode")
            if episode is not None:
                self.returns.append(float(episode["r"]))
        if self.num_timesteps >= self.next_eval:
            self.checkpoint_and_validate()
            every = self.settings.eval_every
            self.next_eval = (self.num_timesteps // every + 1) * every
        # Past the wall-time budget: stop; _on_training_end saves and validates the last model.
        return time.monotonic() < self.deadline

    def _on_rollout_end(self) -> None:
        step = self.num_timesteps
        if self.returns:
            name = f"charts/episodic_return/{self.settings.agent_type}"
            self.run_logger.scalars({name: float(np.mean(self.returns))}, step)
            self.returns.clear()
        self.run_logger.steps_per_second(step)

    def _on_training_end(self) -> None:
        # SB3 dumps an iteration's train/ values at the start of the next one: flush the last.
        self.model.logger.dump(self.num_timesteps)
        if self.last_saved != self.num_timesteps:
            self.checkpoint_and_validate()

    def checkpoint_and_validate(self) -> None:
        """Save ``checkpoints/step_N``, validate it, and keep ``best/`` up to date."""
        step = self.num_timesteps
        folder = save_checkpoint(self.model, self.settings, self.config, self.run_dir, step)
        self.last_saved = step
        figures = validation_figures(
            self.config,
            live_policy(self.model, self.settings),
            self.period,
            self.settings.eval_seeds,
            f"{self.settings.backend}-{self.settings.algo}",
        )
        self.run_logger.scalars(figures, step)
        self.best.offer(folder, figures[SCORE_KEY], step)
        self.run_logger.writer.flush()


def save_checkpoint(
    model: BaseAlgorithm, settings: TrainSettings, config: GymConfig, run_dir: Path, step: int
) -> Path:
    """Write ``checkpoints/step_N`` (model, ``policy.json``, SAC's replay buffer)."""
    root = run_dir / "checkpoints"
    folder = root / f"step_{step:010d}"
    folder.mkdir(parents=True, exist_ok=True)
    model.save(folder / "model.zip")
    if isinstance(model, OffPolicyAlgorithm):
        # One replay buffer is enough to resume: drop the older ones (they can be large).
        for old in root.glob(f"step_*/{REPLAY_BUFFER}"):
            old.unlink()
        model.save_replay_buffer(folder / REPLAY_BUFFER)
    CheckpointMeta(
        backend="sb3",
        algo=settings.algo,
        trained_types=[settings.agent_type],
        others=settings.others,
        residual=settings.residual,
        config=config.name,
        seed=settings.seed,
        timesteps=step,
    ).write(folder)
    point_latest(run_dir, folder)
    return folder


def train_sb3(settings: TrainSettings, config: GymConfig, run_dir: Path, logger: RunLogger) -> None:
    """Train (or resume) with stable-baselines3; see the module docstring."""
    total = settings.timesteps or config.training.total_timesteps
    venv = build_vec_env(settings, config)
    classes: dict[str, type[PPO] | type[SAC]] = {"ppo": PPO, "sac": SAC}
    cls = classes[settings.algo]
    try:
        if settings.resume:
            latest = latest_checkpoint(run_dir)
            model: PPO | SAC = cls.load(latest / "model.zip", env=venv, device="cpu")
            if isinstance(model, SAC):
                buffer = latest / REPLAY_BUFFER
                if buffer.is_file():
                    model.load_replay_buffer(buffer)
            remaining = total - model.num_timesteps
            if remaining <= 0:
                raise TrainingError(
                    f"--resume: the run already has {model.num_timesteps} steps of a budget of "
                    f"{total}; raise --timesteps to train further"
                )
        else:
            kwargs = algorithm_kwargs(settings.algo, settings.hyperparameters)
            try:
                model = cls("MlpPolicy", venv, seed=settings.seed, device="cpu", **kwargs)
            except TypeError as exc:
                raise TrainingError(f"hyperparameters for sb3 {settings.algo}: {exc}") from None
            remaining = total
        model.set_logger(configure(str(run_dir), ["tensorboard"]))
        callback = RunCallback(settings, config, run_dir, logger)
        model.learn(remaining, callback=callback, reset_num_timesteps=not settings.resume)
    finally:
        venv.close()
