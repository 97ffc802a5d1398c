"""The policy interface every controller of agents implements, and the registry of names.

A :class:`Policy` maps the observations of the agents of one type to their actions, batched:
rule-based baselines, optimisation baselines and trained RL policies all look alike to the
environment's single-agent view and to the evaluation.

``p2p_env`` never imports ``agents`` (the dependency points the other way). Names resolve through
:func:`register_policy` and the ``p2p_gym.policies`` entry-point group, which ``agents`` fills in
``pyproject.toml``; ``idle`` (all actions 0: no orders, storage idle) and ``random`` (uniform in
the action space, seeded) are built in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from p2p_env.config import GymConfig
    from p2p_env.sim.community import Community
    from p2p_env.sim.series import SlotSeries

ENTRY_POINT_GROUP = "p2p_gym.policies"
AGENT_TYPES = ("home", "phv", "office")


@dataclass(frozen=True)
class PolicyContext:
    """What a policy may know about the environment it acts in (given at every reset)."""

    config: GymConfig
    community: Community
    tags: tuple[str, ...]
    horizon: int
    """Forecast horizon of the observations, slots."""
    observation_size: int
    action_size: int
    series: SlotSeries
    """The episode's time series (realised values: only a perfect-foresight oracle reads it)."""
    episode_start: int
    """Index in ``series`` of the episode's first slot."""
    episode_slots: int
    """Length of the episode in slots."""
    price_min_ticks: int
    price_max_ticks: int


@runtime_checkable
class Policy(Protocol):
    """Observation -> action for the agents of one type, batched."""

    def reset(self, context: PolicyContext, seed: int | None = None) -> None:
        """Start an episode."""
        ...

    def act(
        self, agent_type: str, agent_ids: Sequence[str], observations: NDArray[np.float32]
    ) -> NDArray[np.float32]:
        """Actions (``n x action_size``) for ``agent_ids`` of ``agent_type`` from their
        observations (``n x observation_size``)."""
        ...


class IdlePolicy:
    """All actions 0: no orders, storage idle (PHVs do not charge)."""

    def __init__(self) -> None:
        self.action_size = 0

    def reset(self, context: PolicyContext, seed: int | None = None) -> None:
        self.action_size = context.action_size

    def act(
        self, agent_type: str, agent_ids: Sequence[str], observations: NDArray[np.float32]
    ) -> NDArray[np.float32]:
        return np.zeros((len(agent_ids), self.action_size), dtype=np.float32)


class RandomPolicy:
    """Uniform actions in [-1, 1], from a generator seeded at reset."""

    def __init__(self) -> None:
        self.action_size = 0
        self.rng = np.random.default_rng()

    def reset(self, context: PolicyContext, seed: int | None = None) -> None:
        self.action_size = context.action_size
        self.rng = np.random.default_rng(seed)

    def act(
        self, agent_type: str, agent_ids: Sequence[str], observations: NDArray[np.float32]
    ) -> NDArray[np.float32]:
        shape = (len(agent_ids), self.action_size)
        return self.rng.uniform(-1.0, 1.0, shape).astype(np.float32)


_REGISTRY: dict[str, Callable[[], Policy]] = {"idle": IdlePolicy, "random": RandomPolicy}


def register_policy(name: str, factory: Callable[[], Policy]) -> None:
    """Make ``name`` resolvable by :func:`make_policy` (e.g. ``others="rule"``)."""
    _REGISTRY[name] = factory


def available_policies() -> list[str]:
    """Registered names and those announced through the entry-point group."""
    names = set(_REGISTRY) | {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)}
    return sorted(names)


def make_policy(policy: str | Policy) -> Policy:
    """A policy object from a name (see the module docstring) or the object itself."""
    if not isinstance(policy, str):
        if not isinstance(policy, Policy):
            raise TypeError(
                f"policy must be a name or an object with reset() and act(), got {policy!r}"
            )
        return policy
    if policy not in _REGISTRY:
        for ep in entry_points(group=ENTRY_POINT_GROUP, name=policy):
            _REGISTRY[policy] = ep.load()
    if policy not in _REGISTRY:
        raise ValueError(f"unknown policy {policy!r}; available: {', '.join(available_policies())}")
    return _REGISTRY[policy]()
