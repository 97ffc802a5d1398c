"""The seam between the simulator and the exchange and ledger.

The simulator core knows nothing of order objects or blocks: it hands the decoded actions of a
slot to a :class:`Market` and gets back per-agent arrays (:class:`MarketOutcome`), and hands the
slot's physical flows to a :class:`Recorder`. :mod:`p2p_env.sim.exchange_market` and
:mod:`p2p_env.sim.ledger_recorder` implement them on ``exchange/`` and ``ledger/``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from ledger.hashing import JoinedBodies
from p2p_env.sim.actions import DecodedActions

IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class MarketOutcome:
    """One slot's clearing, per agent and per tag (integer units)."""

    bought_wh: IntArray
    sold_wh: IntArray
    bought_by_tag_wh: IntArray
    """``agents x tags``: what each agent bought of each origin tag."""
    paid_sen: IntArray
    received_sen: IntArray
    price_ticks: IntArray
    """Per tag, this slot's volume-weighted mean trade price, -1 where nothing traded."""
    volume_wh: IntArray
    """Per tag, the traded volume."""
    n_orders: int
    n_rejected: int
    records: Mapping[str, Any]
    """What the ledger stores for the slot: ``params``, ``orders``, ``trades``, ``rejected``."""
    trade_columns: IntArray = field(default_factory=lambda: np.zeros((5, 0), np.int64))
    """The trades, ``5 x trades`` int64: buyer agent, seller agent, tag index, Wh, sen (for
    certificate transfers)."""
    encoded: EncodedRecords | None = None
    """The same ``params``, ``orders`` and ``trades`` as canonical JSON bytes, when the market
    provides them (the recorder's fast path; byte for byte the canonical form of ``records``)."""

    @property
    def trades(self) -> tuple[tuple[int, int, int, int, int], ...]:
        """``(buyer agent, seller agent, tag index, Wh, sen)`` per trade: the rows of
        :attr:`trade_columns` as plain ints."""
        return tuple(zip(*self.trade_columns.tolist(), strict=True))


@dataclass(frozen=True)
class EncodedRecords:
    """A slot's market records as canonical JSON (:mod:`ledger.fast`)."""

    params_json: bytes
    orders: Sequence[bytes] | JoinedBodies
    """Each order's record, or all of them joined by newlines."""
    trades: Sequence[bytes] | JoinedBodies
    """Each trade's record, or all of them joined by newlines."""


class Market(Protocol):
    """Clears the orders of one slot."""

    def reset(self, seed: int) -> None:
        """Start an episode; clearing randomness (arrival order) derives from ``seed``."""
        ...

    def clear(self, slot: int, decoded: DecodedActions) -> MarketOutcome:
        """Turn a slot's decoded actions into trades and per-agent totals."""
        ...


@dataclass(frozen=True)
class SlotFlows:
    """Physical energy of one slot per agent, Wh (integers, as metered)."""

    slot: int
    generation_wh: IntArray
    """PV generation."""
    storage_discharge_wh: IntArray
    """Energy delivered by the agent's storage (battery or PHV V2B)."""
    storage_charge_wh: IntArray
    """Energy drawn by the agent's storage."""
    storage_drawn_wh: IntArray
    """Energy that left the agent's storage otherwise: conversion losses and PHV driving."""
    consumption_wh: IntArray
    """Load (homes, office) or charging energy (PHVs), excluding storage charging."""
    metered_wh: IntArray
    """Net import at the meter (negative: export)."""
    start: str | None = None
    """Start of the slot, ISO 8601 with its UTC offset (the block header's ``start``)."""


class Recorder(Protocol):
    """Writes one block per slot (the ledger) and returns its hash."""

    def reset(self) -> None:
        """Start a new episode (a new chain: slots restart)."""
        ...

    def record(self, flows: SlotFlows, outcome: MarketOutcome, settlement: Any) -> str:
        """Append the slot's block; return its hash (hex)."""
        ...

    def close(self) -> None:
        """Flush and release storage (may be called twice)."""
        ...
