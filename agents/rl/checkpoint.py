"""Trained policies back as :class:`p2p_env.policy.Policy` objects, for inference only.

A checkpoint is a folder written by ``p2p-gym train`` (``runs/<run>/best``,
``runs/<run>/checkpoints/step_0000020000``...) holding ``policy.json`` and the model:

* ``backend: sb3``: ``model.zip`` (stable-baselines3), one network for the trained type;
* ``backend: rllib``: ``algorithm/``, an RLlib checkpoint; only the RL modules are read
  (``algorithm/learner_group/learner/rl_module/<type>``), no Ray cluster is started.

Types without a trained model act through the policy recorded in ``policy.json`` (``others``,
e.g. ``rule``); with ``residual`` recorded, the network's action is a correction added to that
policy's action (see :mod:`agents.rl.sb3_vec`). Actions are deterministic (the mean action).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from p2p_env.policy import AGENT_TYPES, Policy, PolicyContext, make_policy

FloatArray = NDArray[np.float32]
META_FILE = "policy.json"
FORMAT_VERSION = 1
RLLIB_MODULES = Path("algorithm") / "learner_group" / "learner" / "rl_module"


class CheckpointError(ValueError):
    """A path that is not a loadable checkpoint; the message says what was expected."""


@dataclass
class CheckpointMeta:
    """What ``policy.json`` records about a trained policy."""

    backend: str
    algo: str
    trained_types: list[str]
    others: str = "rule"
    residual: str | None = None
    config: str = ""
    seed: int = 0
    timesteps: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    format: int = FORMAT_VERSION

    def write(self, folder: Path) -> None:
        """Write ``folder/policy.json``."""
        folder.mkdir(parents=True, exist_ok=True)
        text = json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"
        (folder / META_FILE).write_text(text, encoding="utf-8")

    @classmethod
    def read(cls, folder: Path) -> CheckpointMeta:
        """Read ``folder/policy.json`` (raises :class:`CheckpointError` naming what is wrong)."""
        path = folder / META_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise CheckpointError(
                f"{folder} is not a checkpoint: it holds no {META_FILE} "
                "(expected a folder written by p2p-gym train, e.g. runs/<run>/best)"
            ) from None
        except json.JSONDecodeError as exc:
            raise CheckpointError(f"{path} is not valid JSON: {exc}") from None
        if data.get("format") != FORMAT_VERSION:
            raise CheckpointError(
                f"{path}: format {data.get('format')!r} is not supported "
                f"(expected {FORMAT_VERSION})"
            )
        if data.get("backend") not in ("sb3", "rllib"):
            raise CheckpointError(
                f"{path}: backend {data.get('backend')!r}; expected 'sb3' or 'rllib'"
            )
        unknown = set(data.get("trained_types", [])) - set(AGENT_TYPES)
        if unknown:
            raise CheckpointError(
                f"{path}: trained_types {sorted(unknown)} unknown; expected some of {AGENT_TYPES}"
            )
        try:
            return cls(**data)
        except TypeError as exc:
            raise CheckpointError(f"{path}: {exc}") from None


ActFn = Callable[[FloatArray], FloatArray]
"""Deterministic actions (``n x action_size``) from observations (``n x observation_size``)."""


class CheckpointPolicy:
    """Trained networks for some agent types, a fallback policy for the rest (module docstring).

    Args:
        networks: Per trained type, a function from observations to deterministic actions.
        fallback: Acts for the types without a network.
        residual: If given, networks output corrections added to this policy's actions.
        meta: What the checkpoint recorded.
    """

    def __init__(
        self,
        networks: dict[str, ActFn],
        fallback: Policy,
        residual: Policy | None = None,
        meta: CheckpointMeta | None = None,
    ) -> None:
        self.networks = networks
        self.fallback = fallback
        self.residual = residual
        self.meta = meta

    def reset(self, context: PolicyContext, seed: int | None = None) -> None:
        self.fallback.reset(context, seed)
        if self.residual is not None:
            self.residual.reset(context, None if seed is None else seed + 1)

    def act(
        self, agent_type: str, agent_ids: Sequence[str], observations: NDArray[np.float32]
    ) -> NDArray[np.float32]:
        network = self.networks.get(agent_type)
        if network is None:
            return self.fallback.act(agent_type, agent_ids, observations)
        learned = np.asarray(network(np.asarray(observations, dtype=np.float32)), np.float32)
        if self.residual is None:
            clipped: FloatArray = np.clip(learned, -1.0, 1.0)
            return clipped
        from agents.rl.sb3_vec import combine_residual

        base = np.asarray(self.residual.act(agent_type, agent_ids, observations), np.float32)
        return combine_residual(base, learned)


def resolve_checkpoint(path: str | Path) -> Path:
    """The checkpoint folder for ``path``: itself, or ``best/`` of a run folder, or the folder
    of a ``model.zip``.

    Raises:
        CheckpointError: Nothing loadable there.
    """
    folder = Path(path)
    if not folder.exists():
        raise CheckpointError(f"checkpoint path {folder} does not exist")
    if folder.is_file():
        folder = folder.parent
    if not (folder / META_FILE).is_file() and (folder / "best" / META_FILE).is_file():
        folder = folder / "best"
    if not (folder / META_FILE).is_file():
        raise CheckpointError(
            f"{path} is not a checkpoint: no {META_FILE} in it or in its best/ folder "
            "(expected a folder written by p2p-gym train, e.g. runs/<run>/best)"
        )
    return folder


def load_checkpoint_policy(path: str | Path) -> CheckpointPolicy:
    """Load a trained policy from ``path`` (see :func:`resolve_checkpoint`) for inference.

    Raises:
        CheckpointError: The path is not a checkpoint, or its model is missing.
    """
    folder = resolve_checkpoint(path)
    meta = CheckpointMeta.read(folder)
    networks = _load_sb3(folder, meta) if meta.backend == "sb3" else _load_rllib(folder, meta)
    residual = None if meta.residual is None else make_policy(meta.residual)
    return CheckpointPolicy(networks, make_policy(meta.others), residual, meta)


def _load_sb3(folder: Path, meta: CheckpointMeta) -> dict[str, ActFn]:
    import torch
    from stable_baselines3 import PPO, SAC
    from stable_baselines3.common.base_class import BaseAlgorithm

    model_path = folder / "model.zip"
    if not model_path.is_file():
        raise CheckpointError(f"{folder}: {META_FILE} says sb3 but model.zip is missing")
    classes: dict[str, type[BaseAlgorithm]] = {"ppo": PPO, "sac": SAC}
    if meta.algo not in classes:
        raise CheckpointError(f"{folder}: algo {meta.algo!r}; expected one of {sorted(classes)}")
    model = classes[meta.algo].load(model_path, device="cpu")
    policy = model.policy
    policy.set_training_mode(False)

    def act(observations: FloatArray) -> FloatArray:
        with torch.no_grad():
            actions, _ = policy.predict(observations, deterministic=True)
        return np.asarray(actions, dtype=np.float32)

    return dict.fromkeys(meta.trained_types, act)


def _load_rllib(folder: Path, meta: CheckpointMeta) -> dict[str, ActFn]:
    import torch
    from ray.rllib.core import Columns
    from ray.rllib.core.rl_module.rl_module import RLModule

    networks: dict[str, ActFn] = {}
    for agent_type in meta.trained_types:
        module_path = folder / RLLIB_MODULES / agent_type
        if not module_path.is_dir():
            raise CheckpointError(
                f"{folder}: RLlib module for {agent_type!r} missing (expected {module_path})"
            )
        module = RLModule.from_checkpoint(str(module_path.resolve()))
        module.eval()  # type: ignore[attr-defined]  # a TorchRLModule is an nn.Module

        def act(observations: FloatArray, module: Any = module) -> FloatArray:
            with torch.no_grad():
                out = module.forward_inference({Columns.OBS: torch.from_numpy(observations)})
            inputs = out[Columns.ACTION_DIST_INPUTS].numpy()
            # Diagonal Gaussian: the first half of the inputs is the mean (the greedy action).
            mean: FloatArray = inputs[:, : inputs.shape[1] // 2].astype(np.float32)
            return mean

        networks[agent_type] = act
    return networks
