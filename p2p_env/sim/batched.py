"""B independent communities stepped together from one action array.

:class:`BatchedSimulator` steps ``B`` :class:`~p2p_env.sim.simulator.CommunitySimulator` objects
that share one config and one time series (the series is read, never copied). Actions come in
as one ``B x agents x action_size`` array and the per-agent results go out as ``B x agents``
arrays, so a vectorised environment does no per-agent Python work around the simulators.

Each community keeps its own exchange seed, ledger and state: stepping the batch gives exactly
what stepping each simulator alone gives (trades, rewards, ledger blocks; tested). The clearing
and the ledger blocks stay per community, because each community's orders, trades and hash chain
are its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from p2p_env.sim.simulator import CommunitySimulator, SlotResult

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class BatchResult:
    """One slot of every community of a batch."""

    rewards: FloatArray
    """``B x agents`` rewards."""
    results: tuple[SlotResult, ...]
    """Each community's full :class:`SlotResult` (cost breakdown, trades, block hash)."""

    @property
    def block_hashes(self) -> list[str]:
        """Each community's new ledger head (hex)."""
        return [r.block_hash for r in self.results]


class BatchedSimulator:
    """Steps several simulators of the same community layout as one batch.

    Args:
        simulators: The communities; all with the same number of agents and action size.

    Raises:
        ValueError: No simulators, or simulators of different shapes.
    """

    def __init__(self, simulators: Sequence[CommunitySimulator]) -> None:
        if not simulators:
            raise ValueError("a batch needs at least one simulator")
        first = simulators[0]
        for i, sim in enumerate(simulators):
            if (sim.community.n_agents, sim.action_size) != (
                first.community.n_agents,
                first.action_size,
            ):
                raise ValueError(
                    f"simulator {i} has {sim.community.n_agents} agents and action size "
                    f"{sim.action_size}; simulator 0 has {first.community.n_agents} and "
                    f"{first.action_size}: a batch holds one community layout"
                )
        self.simulators = tuple(simulators)
        self.n_agents = first.community.n_agents
        self.action_size = first.action_size
        self._rewards = np.zeros((len(simulators), self.n_agents))

    def __len__(self) -> int:
        return len(self.simulators)

    def step(self, actions: NDArray[np.floating]) -> BatchResult:
        """Advance every community one slot with ``actions`` (``B x agents x action_size``).

        Raises:
            ValueError: If ``actions`` has another shape.
        """
        shape = (len(self.simulators), self.n_agents, self.action_size)
        if actions.shape != shape:
            raise ValueError(f"actions must have shape {shape}, got {tuple(actions.shape)}")
        results = tuple(sim.step(actions[b]) for b, sim in enumerate(self.simulators))
        rewards = self._rewards.copy()
        for b, result in enumerate(results):
            rewards[b] = result.rewards
        return BatchResult(rewards=rewards, results=results)
