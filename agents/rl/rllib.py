"""Ray RLlib (new API stack) training: multi-agent PPO, one policy per agent type.

Every agent of the community acts through the RL module of its type (``home``, ``phv``,
``office``): parameter sharing within a type, separate networks across types. The environment
is the PettingZoo parallel env wrapped in RLlib's ``ParallelPettingZooEnv``.

Where it runs:

* locally (default): ``ray.init(num_cpus=settings.num_cpus, include_dashboard=False)``, shut
  down at the end;
* on an existing cluster: ``--ray-address auto`` on a node of the cluster, or
  ``--ray-address ray://<head>:10001`` from outside (Ray Client). Start one with
  ``ray start --head --num-cpus 8`` on the head and ``ray start --address <head>:6379`` on the
  others; every node needs this project installed (the same ``.venv``) and ``P2P_GYM_CACHE``
  pointing to a writable cache. ``--num-env-runners N`` samples in N actors across the cluster.

Results per iteration go to TensorBoard: ``charts/episodic_return/<type>``,
``losses/<type>/<loss>``, ``charts/steps_per_second``; every ``eval_every`` iterations a
checkpoint (``algo.save_to_path``), a validation through the same loader as
``p2p-gym evaluate`` and ``best/`` (see :mod:`agents.rl.train`).
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any

from agents.rl.checkpoint import CheckpointMeta, load_checkpoint_policy
from agents.rl.train import (
    SCORE_KEY,
    BestTracker,
    RunLogger,
    TrainSettings,
    latest_checkpoint,
    point_latest,
    validation_figures,
    validation_slice,
)
from p2p_env.config import GymConfig
from p2p_env.envs.parallel import P2PCommunityEnv
from p2p_env.policy import AGENT_TYPES

ENV_NAME = "p2p_community_v0"
DEFAULTS: dict[str, Any] = {
    # One community day (48 env steps) per env runner and iteration by default; every env step
    # gives one transition per agent (30 in the demo).
    "train_batch_size_per_learner": 480,
    "minibatch_size": 240,
    "num_epochs": 5,
    "lr": 3e-4,
    "gamma": 0.99,
}
LOSS_KEYS = ("policy_loss", "vf_loss", "total_loss", "entropy", "mean_kl_loss", "curr_kl_coeff")


def policy_mapping_fn(agent_id: str, *args: Any, **kwargs: Any) -> str:
    """The module (type) of an agent: ``home_03`` -> ``home``, ``phv_00`` -> ``phv``."""
    kind = str(agent_id).split("_", 1)[0]
    if kind not in AGENT_TYPES:
        raise ValueError(
            f"agent id {agent_id!r} names no agent type; expected one of {AGENT_TYPES}"
        )
    return kind


def env_creator(env_config: dict[str, Any]) -> Any:
    """RLlib's env factory: the community over the training period, as ``ParallelPettingZooEnv``."""
    from ray.rllib.env.wrappers.pettingzoo_env import ParallelPettingZooEnv

    env = P2PCommunityEnv(env_config["config"], seed=env_config.get("seed"), period="train")
    return ParallelPettingZooEnv(env)  # type: ignore[no-untyped-call]


def community_types(config: GymConfig) -> list[str]:
    """The agent types present in the community (a module per type)."""
    env = P2PCommunityEnv(config, period="train")
    try:
        return [t for t in AGENT_TYPES if t in set(env.agent_type.values())]
    finally:
        env.close()


def build_algorithm_config(settings: TrainSettings, config: GymConfig) -> Any:
    """The ``PPOConfig``: env, multi-agent mapping, env runners, training hyperparameters."""
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.core.rl_module.multi_rl_module import MultiRLModuleSpec
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec
    from ray.tune.registry import register_env

    register_env(ENV_NAME, env_creator)
    types = community_types(config)
    hyper = {**DEFAULTS, **settings.hyperparameters}
    rollout = int(hyper.pop("rollout_fragment_length", "0") or 0) or "auto"
    return (
        PPOConfig()  # type: ignore[no-untyped-call]
        .environment(ENV_NAME, env_config={"config": config, "seed": settings.seed})
        .env_runners(
            num_env_runners=settings.num_env_runners,
            rollout_fragment_length=rollout,
            num_cpus_per_env_runner=1,
        )
        .learners(num_learners=0)
        .multi_agent(policies=set(types), policy_mapping_fn=policy_mapping_fn)  # type: ignore[arg-type]
        .rl_module(
            rl_module_spec=MultiRLModuleSpec(rl_module_specs={t: RLModuleSpec() for t in types})
        )
        .training(**hyper)
        .debugging(seed=settings.seed, log_level="WARN")
    )


def init_ray(settings: TrainSettings) -> None:
    """Connect to ``settings.ray_address`` or start a local Ray (no dashboard)."""
    import ray

    if settings.ray_address:
        ray.init(address=settings.ray_address, logging_level=logging.WARNING)
    else:
        ray.init(num_cpus=settings.num_cpus, include_dashboard=False, logging_level=logging.WARNING)


def iteration_scalars(result: dict[str, Any], types: list[str]) -> dict[str, float]:
    """Episode returns per module and losses per module from one ``algo.train()`` result."""
    out: dict[str, float] = {}
    runners = result.get("env_runners", {})
    returns = runners.get("module_episode_returns_mean", {})
    for kind in types:
        if kind in returns:
            out[f"charts/episodic_return/{kind}"] = float(returns[kind])
    if "episode_return_mean" in runners:
        out["charts/episodic_return/all"] = float(runners["episode_return_mean"])
    learners = result.get("learners", {})
    for kind in types:
        for key in LOSS_KEYS:
            value = learners.get(kind, {}).get(key)
            if isinstance(value, int | float) and math.isfinite(value):
                out[f"losses/{kind}/{key}"] = float(value)
    return out


def sampled_steps(result: dict[str, Any]) -> int:
    """Env steps sampled so far (lifetime counter of the result)."""
    runners = result.get("env_runners", {})
    return int(runners.get("num_env_steps_sampled_lifetime", 0) or 0)


def save_checkpoint(
    algo: Any,
    settings: TrainSettings,
    config: GymConfig,
    run_dir: Path,
    iteration: int,
    steps: int,
    types: list[str],
) -> Path:
    """Write ``checkpoints/iter_N/algorithm`` and its ``policy.json``."""
    folder = run_dir / "checkpoints" / f"iter_{iteration:06d}"
    folder.mkdir(parents=True, exist_ok=True)
    algo.save_to_path(str((folder / "algorithm").resolve()))
    CheckpointMeta(
        backend="rllib",
        algo="ppo",
        trained_types=types,
        others=settings.others,
        config=config.name,
        seed=settings.seed,
        timesteps=steps,
        extra={"iteration": iteration},
    ).write(folder)
    point_latest(run_dir, folder)
    return folder


def train_rllib(
    settings: TrainSettings, config: GymConfig, run_dir: Path, logger: RunLogger
) -> None:
    """Train (or resume) multi-agent PPO; see the module docstring."""
    import ray

    types = community_types(config)
    period = validation_slice(config, settings.eval_days)
    best = BestTracker(run_dir)
    if settings.iterations is None and settings.timesteps is None:
        settings.iterations = max(1, config.training.total_timesteps // 480)
    init_ray(settings)
    algo = None
    try:
        algo = build_algorithm_config(settings, config).build_algo()
        iteration = 0
        if settings.resume:
            latest = latest_checkpoint(run_dir)
            algo.restore_from_path(str((latest / "algorithm").resolve()))
            iteration = int(CheckpointMeta.read(latest).extra.get("iteration", 0))
        deadline = (
            math.inf
            if settings.max_minutes is None
            else time.monotonic() + 60 * settings.max_minutes
        )
        last_time, last_steps, steps = time.perf_counter(), 0, 0
        while True:
            result = algo.train()
            iteration += 1
            steps = sampled_steps(result)
            now = time.perf_counter()
            scalars = iteration_scalars(result, types)
            if last_steps or iteration == 1:
                scalars["charts/steps_per_second"] = (steps - last_steps) / max(
                    now - last_time, 1e-9
                )
            last_time, last_steps = now, steps
            logger.scalars(scalars, steps)
            done = (
                (settings.iterations is not None and iteration >= settings.iterations)
                or (settings.timesteps is not None and steps >= settings.timesteps)
                or time.monotonic() >= deadline
            )
            if done or iteration % settings.eval_every == 0:
                folder = save_checkpoint(algo, settings, config, run_dir, iteration, steps, types)
                policy = load_checkpoint_policy(folder)
                figures = validation_figures(
                    config, policy, period, settings.eval_seeds, "rllib-ppo"
                )
                logger.scalars(figures, steps)
                best.offer(folder, figures[SCORE_KEY], steps)
                logger.writer.flush()
            if done:
                break
    finally:
        if algo is not None:
            algo.stop()
        ray.shutdown()
