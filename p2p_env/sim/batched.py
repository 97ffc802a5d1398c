"""B independent communities stepped together as one array program.

:class:`BatchedSimulator` steps ``B`` :class:`~p2p_env.sim.simulator.CommunitySimulator` objects
that share one config and one time series (the series is read, never copied). Actions come in
as one ``B x agents x action_size`` array; decoding, physics, settlement and rewards run once
over ``B x agents`` arrays (:func:`~p2p_env.sim.simulator.step_communities`), on a state the
batch owns (:class:`~p2p_env.sim.simulator.SimState`) and each simulator sees its row of.

Each community keeps its own slot, exchange seed and ledger: stepping the batch gives exactly
what stepping each simulator alone gives (trades, rewards, ledger blocks; tested). Every
community's slot is cleared in one compiled call (:func:`~p2p_env.sim.simulator.
clear_communities`), each on its own orders and seed, and every community's block is written
and hashed in one more (:meth:`~p2p_env.sim.ledger_recorder.LedgerRecorder.record_many`), each
appended to its community's own hash chain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np
from numpy.typing import NDArray

from p2p_env.sim.series import SlotSeries
from p2p_env.sim.simulator import CommunitySimulator, SimState, SlotResult, step_communities

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
            if sim.config != first.config or not _same_series(sim.series, first.series):
                raise ValueError(
                    f"simulator {i} has another config or series than simulator 0: a batch "
                    "steps communities of one config over one series"
                )
        self.simulators = tuple(simulators)
        self.n_agents = first.community.n_agents
        self.action_size = first.action_size
        # One state for the batch; each simulator keeps a row of it (its own values kept).
        self.state = SimState.zeros(
            len(simulators), first.storage.n, self.n_agents, len(first.tags)
        )
        for b, sim in enumerate(simulators):
            own = sim.state
            sim.bind(self.state.rows(b, b + 1))
            for field in fields(SimState):
                getattr(sim.state, field.name)[:] = getattr(own, field.name)

    def __len__(self) -> int:
        return len(self.simulators)

    def step(
        self, actions: NDArray[np.floating], *, background_ledger: bool = False
    ) -> BatchResult:
        """Advance every community one slot with ``actions`` (``B x agents x action_size``).

        ``background_ledger``: the blocks are written and hashed on the ledgers' background
        thread while the caller goes on (see :func:`~p2p_env.sim.simulator.step_communities`):
        the same blocks, each ledger appending its own when next used.

        Raises:
            ValueError: If ``actions`` has another shape.
        """
        shape = (len(self.simulators), self.n_agents, self.action_size)
        if actions.shape != shape:
            raise ValueError(f"actions must have shape {shape}, got {tuple(actions.shape)}")
        results = tuple(
            step_communities(
                self.simulators, actions, self.state, background_ledger=background_ledger
            )
        )
        rewards = np.stack([r.rewards for r in results])
        return BatchResult(rewards=rewards, results=results)


def _same_series(a: SlotSeries, b: SlotSeries) -> bool:
    """Whether two series hold the same data (the same object, or equal field by field)."""
    if a is b:
        return True
    return all(
        np.array_equal(getattr(a, f.name), getattr(b, f.name))
        if isinstance(getattr(a, f.name), np.ndarray)
        else getattr(a, f.name) == getattr(b, f.name)
        for f in fields(SlotSeries)
        if f.compare
    )
