"""The simulator's :class:`~p2p_env.sim.market.Recorder` on the hash-chained ledger (``ledger/``).

Each slot becomes one block: the clearing parameters, the orders, the trades, one settlement
record per agent and the slot's certificate events. Certificates follow the energy, in this order:

1. **issue**: metered PV generation issues ``pv`` certificates to the producer;
2. **discharge**: storage discharge issues storage-discharge certificates (tag ``battery`` for
   home batteries, ``phv`` for vehicles) that keep the origin of the energy stored;
3. **transfer**: each trade moves the seller's certificates of the trade's tag to the buyer, then,
   if the seller holds too few, its storage-discharge certificates (a prosumer selling from its
   battery); whatever is still missing is uncertified energy;
4. **charge**: storage charging stores the holder's certificates in the device (origin kept);
   conversion losses and energy driven away by a PHV leave the device (``lose``);
5. **consume**: metered consumption cancels the holder's certificates;
6. **export / expire**: what is left is exported up to the holder's metered export, the rest
   expires.

So ``issued = cancelled + exported + expired`` holds per slot and tag, and the ledger's origin
queries can say which producer's solar a home, or a PHV's trips, ran on.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from functools import partial
from itertools import accumulate
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ledger import CertificateRegistry, EncodedAppend, Ledger, PendingAppends
from ledger.fast import RowTemplates
from ledger.hashing import JoinedBodies
from ledger.slot_events import CompiledCertificateWriter, certificate_writer
from p2p_env.config import GymConfig
from p2p_env.sim.community import AgentKind, Community
from p2p_env.sim.market import MarketOutcome, SlotFlows
from p2p_env.sim.settlement import Settlement

_INT64 = np.dtype(np.int64)
_SETTLEMENT_FIELDS = (
    "metered_wh",
    "p2p_bought_wh",
    "p2p_sold_wh",
    "p2p_paid",
    "p2p_received",
    "grid_bought_wh",
    "grid_sold_wh",
    "grid_cost",
    "grid_revenue",
    "demand_charge",
    "undelivered_wh",
    "imbalance_penalty",
)


class LedgerRecorder:
    """Writes one ledger block per slot (see the module docstring).

    Every episode gets a ledger of its own (its slots restart): in memory, or a new SQLite file
    at ``path`` for the first episode and ``<stem>.ep<k><suffix>`` for episode ``k > 0``.

    Args:
        community: The community (agent ids and kinds).
        path: SQLite file of the first episode; ``None`` keeps ledgers in memory.
        keep_records: In memory, keep every record (``False``: headers and hashes only).
        fast: Write the records as canonical JSON straight from the arrays (:mod:`ledger.fast`:
            the certificate events from a :class:`~ledger.fast.SlotCertificateWriter`, the
            settlements from one string formatting); the same bytes as the generic path
            (tested), and ``Ledger.verify`` and a SQLite ledger still check them. ``False``
            uses the checked generic paths: the :class:`~ledger.CertificateRegistry` and
            ``Ledger.append_block``.
        tags: The market's tags (``config.market.tags``), the names of the trades' tag
            indices. ``None`` reads them from each slot's clearing parameters, which builds
            the parameters' record (it lists every agent) in every slot with trades.
    """

    def __init__(
        self,
        community: Community,
        path: Path | None = None,
        *,
        keep_records: bool = True,
        fast: bool = True,
        tags: Sequence[str] | None = None,
    ) -> None:
        self.community = community
        self.path = path
        self.keep_records = keep_records
        self.fast = fast
        self.tags = None if tags is None else tuple(tags)
        fields = sorted(_SETTLEMENT_FIELDS)
        self._settlement_fields = fields
        self._settlement_rows = RowTemplates(
            [{"agent": agent} for agent in community.agents], fields
        )
        self.episode = -1
        self.ledger: Ledger | None = None
        self.ledger_path: Path | None = None
        agents = community.agents
        self.devices = {
            i: f"{agents[i]}/battery"
            for i in np.flatnonzero(community.kind != AgentKind.OFFICE).tolist()
        }
        self.discharge_tag = {
            i: ("phv" if community.kind[i] == AgentKind.PHV else "battery") for i in self.devices
        }
        self.registry = CertificateRegistry()
        """The checked certificate registry of the generic path (``fast=False``)."""
        self.writer = certificate_writer(community.agents, self.devices, self.discharge_tag)
        """The certificate writer of the fast path (compiled where numba runs)."""
        if path is not None and path.exists():
            raise FileExistsError(f"ledger file {path} exists: choose a new path")

    @classmethod
    def open(
        cls, config: GymConfig, path: Path | None, *, keep_records: bool = True
    ) -> LedgerRecorder:
        """A recorder for ``config``'s community (SQLite at ``path``, else in memory, with
        every record or, ``keep_records=False``, headers and hashes only)."""
        return cls(
            Community.from_config(config), path, keep_records=keep_records, tags=config.market.tags
        )

    @property
    def head_hash(self) -> str:
        """Hex hash of the current episode's last block ("" before any block)."""
        return self.ledger.head_hash.hex() if self.ledger is not None and len(self.ledger) else ""

    def reset(self) -> None:
        """Start the next episode's ledger; the previous one is closed (files stay on disk; one
        in memory stays readable): its last block, if hashed in the background, is appended
        now, so that nothing but its readers keeps it (a ledger and its pending block refer to
        each other, which only a full garbage collection would free).

        Raises:
            LedgerError: The previous ledger's last block, hashed in the background, failed.
        """
        if self.ledger is not None:
            self.ledger.close()
        self.episode += 1
        self.registry = CertificateRegistry()
        self.writer.reset()  # keeps the holders' encoded names (O(agents) to build)
        if self.path is None:
            self.ledger = Ledger.in_memory(keep_records=self.keep_records, check_certificates=False)
            return
        path = self.path
        if self.episode:
            path = path.with_name(f"{path.stem}.ep{self.episode}{path.suffix}")
        if path.exists():
            raise FileExistsError(f"ledger file {path} exists: choose a new path")
        self.ledger_path = path
        self.ledger = Ledger.open(path, create=True)

    def record(
        self,
        flows: SlotFlows,
        outcome: MarketOutcome,
        settlement: Settlement,
        *,
        settlements: JoinedBodies | None = None,
    ) -> str:
        """Append the slot's block and return its hash (hex).

        ``settlements``: the slot's settlement records, where the caller wrote them already
        (:meth:`settlements_many`, for a batch of communities); the fast path only.
        """
        if self.ledger is None:
            self.reset()
        ledger = self.ledger
        assert ledger is not None
        if not self.fast:
            events = self._certificates(flows, outcome)
            return self._append_generic(ledger, flows, outcome, settlement, events)
        metered = flows.metered_wh
        certificates = self._encoded_certificates(flows, outcome, np.maximum(-metered, 0))
        if outcome.encoded is None:  # a market without encoded records: the generic append
            events = [json.loads(c) for c in certificates.split()]
            return self._append_generic(ledger, flows, outcome, settlement, events)
        block = self._encoded_append(flows, outcome, settlement, settlements, certificates)
        ledger.append_encoded(
            block.slot,
            block.params_json,
            orders=block.orders,
            trades=block.trades,
            settlements=block.settlements,
            certificates=block.certificates,
            certificate_events=block.certificate_events,
            start=block.start,
        )
        return ledger.head_hash.hex()

    def _encoded_append(
        self,
        flows: SlotFlows,
        outcome: MarketOutcome,
        settlement: Settlement,
        settlements: JoinedBodies | None,
        certificates: JoinedBodies,
    ) -> EncodedAppend:
        """The slot's block on the fast path (a market with encoded records), for this
        recorder's ledger: ``settlements`` where the caller wrote them, else this recorder's."""
        encoded = outcome.encoded
        ledger = self.ledger
        assert encoded is not None
        assert ledger is not None
        return EncodedAppend(
            ledger,
            flows.slot,
            encoded.params_json,
            orders=encoded.orders,
            trades=encoded.trades,
            settlements=(
                self._encoded_settlements(flows, settlement) if settlements is None else settlements
            ),
            certificates=certificates,
            # The events a checking ledger checks are those of the very bytes it stores.
            certificate_events=(
                [json.loads(c) for c in certificates.split()] if ledger.checks_certificates else ()
            ),
            start=flows.start,
        )

    @staticmethod
    def record_many(
        recorders: Sequence[LedgerRecorder],
        flows: Sequence[SlotFlows],
        outcomes: Sequence[MarketOutcome],
        settlements: Sequence[Settlement],
        encoded_settlements: Sequence[JoinedBodies] | None = None,
        amounts: NDArray[np.int64] | None = None,
        exported: NDArray[np.int64] | None = None,
        background: bool = False,
    ) -> list[str | Callable[[], str]]:
        """:meth:`record` of one slot of each of ``B`` communities (one recorder each, each
        with its own ledger), the blocks written and hashed in one call
        (:meth:`ledger.Ledger.append_encoded_many`): the same blocks and hashes.

        ``background``: that call runs on the ledgers' background thread
        (:meth:`ledger.Ledger.append_encoded_many_in_background`) while the caller goes on;
        the blocks are appended when a ledger is next used, and a block's hash comes as a
        function that waits for it (a ``str`` where the block was appended at once).

        ``encoded_settlements``: each community's settlement records from
        :meth:`settlements_many`, else each recorder writes its own. ``amounts`` (``B x 5 x
        agents``: generation, storage discharge, charge, drawn and consumption) and
        ``exported`` (``B x agents``): the flows' certificate amounts for the batch, with which
        every community's certificate events are written in one call too (where every
        recorder takes the fast path with a compiled writer). A recorder off the fast path, or
        a market without encoded records, records its slot alone; a ledger that checks
        certificates checks the events of its block as on :meth:`record`.
        """
        hashes: list[str | Callable[[], str]] = [""] * len(recorders)
        appends: list[tuple[int, EncodedAppend]] = []
        for recorder in recorders:
            if recorder.ledger is None:
                recorder.reset()
        events = LedgerRecorder._certificates_many(recorders, flows, outcomes, amounts, exported)
        for b, (recorder, slot_flows, outcome, settlement) in enumerate(
            zip(recorders, flows, outcomes, settlements, strict=True)
        ):
            given = None if encoded_settlements is None else encoded_settlements[b]
            if not recorder.fast or outcome.encoded is None:  # the generic append, alone
                hashes[b] = recorder.record(slot_flows, outcome, settlement, settlements=given)
                continue
            if events is not None:
                certificates = events[b]
            else:
                certificates = recorder._encoded_certificates(
                    slot_flows, outcome, np.maximum(-slot_flows.metered_wh, 0)
                )
            block = recorder._encoded_append(slot_flows, outcome, settlement, given, certificates)
            appends.append((b, block))
        blocks = [append for _, append in appends]
        if background:
            pending = Ledger.append_encoded_many_in_background(blocks)
            for k, (b, _) in enumerate(appends):
                hashes[b] = partial(_hex_hash, pending, k)
            return hashes
        Ledger.append_encoded_many(blocks)
        for b, append in appends:
            hashes[b] = append.ledger.head_hash.hex()
        return hashes

    @staticmethod
    def _certificates_many(
        recorders: Sequence[LedgerRecorder],
        flows: Sequence[SlotFlows],
        outcomes: Sequence[MarketOutcome],
        amounts: NDArray[np.int64] | None,
        exported: NDArray[np.int64] | None,
    ) -> list[JoinedBodies] | None:
        """Every community's certificate events in one call
        (:meth:`ledger.slot_events.CompiledCertificateWriter.write_slots`), where every
        recorder would write them on the fast path with a compiled writer and the tags are
        known; else ``None`` (each writes its own)."""
        lead = recorders[0]
        if (
            amounts is None
            or exported is None
            or lead.tags is None
            or not all(
                r.fast and type(r.writer) is CompiledCertificateWriter and o.encoded is not None
                for r, o in zip(recorders, outcomes, strict=True)
            )
        ):
            return None
        columns = [o.trade_columns for o in outcomes]
        trades = np.concatenate([c[:4] for c in columns], axis=1).astype(np.int64, copy=False)
        starts = [0, *accumulate(c.shape[1] for c in columns)]
        return CompiledCertificateWriter.write_slots(
            [r.writer for r in recorders],  # type: ignore[misc]
            [f.slot for f in flows],
            amounts,
            trades,
            starts,
            exported,
            lead.tags,
        )

    def _append_generic(
        self,
        ledger: Ledger,
        flows: SlotFlows,
        outcome: MarketOutcome,
        settlement: Settlement,
        certificates: list[dict[str, Any]],
    ) -> str:
        """Append the block through the checked encoder (``Ledger.append_block``)."""
        records = outcome.records
        ledger.append_block(
            flows.slot,
            records["params"],
            orders=records["orders"],
            trades=records["trades"],
            settlements=self._settlements(flows, settlement),
            certificates=certificates,
            start=flows.start,
        )
        return ledger.head_hash.hex()

    def close(self) -> None:
        """Close the current ledger (idempotent)."""
        if self.ledger is not None:
            self.ledger.close()

    # ----------------------------------------------------------------------------------------

    def _tags(self, outcome: MarketOutcome) -> Sequence[str]:
        tags: Sequence[str] = (
            self.tags if self.tags is not None else outcome.records["params"]["tags"]
        )
        return tags

    def _encoded_certificates(
        self, flows: SlotFlows, outcome: MarketOutcome, exported: NDArray[np.int64]
    ) -> JoinedBodies:
        """The slot's certificate events as canonical JSON: the writer's form of
        :meth:`_certificates` (the same bytes, tested)."""
        return self.writer.write_slot(
            flows.slot,
            generation=flows.generation_wh,
            discharge=flows.storage_discharge_wh,
            trades=outcome.trade_columns.T,
            tags=self._tags(outcome),
            charge=flows.storage_charge_wh,
            drawn=flows.storage_drawn_wh,
            consumption=flows.consumption_wh,
            exported=exported,
        )

    def _certificates(self, flows: SlotFlows, outcome: MarketOutcome) -> list[dict[str, Any]]:
        """The slot's certificate events from the checked registry (the reference)."""
        reg, agents = self.registry, self.community.agents
        reg.begin_slot(flows.slot)
        for i in np.flatnonzero(flows.generation_wh).tolist():
            reg.issue(agents[i], "pv", int(flows.generation_wh[i]))
        for i in np.flatnonzero(flows.storage_discharge_wh).tolist():
            reg.discharge(
                self.devices[i],
                agents[i],
                int(flows.storage_discharge_wh[i]),
                self.discharge_tag[i],
            )
        tags = outcome.records["params"]["tags"]
        if self.tags is not None and tuple(tags) != self.tags:
            raise ValueError(
                f"the clearing parameters' tags {list(tags)} differ from the recorder's "
                f"tags {list(self.tags)}"
            )
        for k, (buyer, seller, tag, wh, _) in enumerate(outcome.trades):
            trade_id = f"t{k}"  # the k-th trade record of this block
            moved = reg.transfer(agents[seller], agents[buyer], tags[tag], wh, trade=trade_id)
            rest_tag = self.discharge_tag.get(seller)
            if moved < wh and rest_tag is not None and rest_tag != tags[tag]:
                reg.transfer(agents[seller], agents[buyer], rest_tag, wh - moved, trade=trade_id)
        for i in np.flatnonzero(flows.storage_charge_wh).tolist():
            reg.charge(agents[i], self.devices[i], int(flows.storage_charge_wh[i]))
        for i in np.flatnonzero(flows.storage_drawn_wh).tolist():
            reg.lose(self.devices[i], int(flows.storage_drawn_wh[i]))
        for i in np.flatnonzero(flows.consumption_wh).tolist():
            reg.consume(agents[i], int(flows.consumption_wh[i]))
        exported = np.maximum(-flows.metered_wh, 0)
        return reg.end_slot(
            {agents[i]: int(exported[i]) for i in np.flatnonzero(exported).tolist()}
        )

    @staticmethod
    def settlements_many(
        recorders: Sequence[LedgerRecorder], metered_wh: NDArray[np.int64], s: Settlement
    ) -> list[JoinedBodies] | None:
        """The settlement records of ``B`` communities' slots (one recorder each, all of one
        community), as :meth:`record` writes them, in one call: ``metered_wh`` and ``s`` hold
        ``B x agents`` arrays. ``None`` where :meth:`record` must write them itself (a recorder
        off the fast path, integer columns of other types).

        Raises:
            ValueError: If the recorders are not one per community.
        """
        if len(recorders) != metered_wh.shape[0]:
            raise ValueError(
                f"settlements_many: {len(recorders)} recorders for {metered_wh.shape[0]} "
                "communities"
            )
        lead = recorders[0]
        if not all(type(r) is LedgerRecorder and r.fast for r in recorders):
            return None
        columns = _settlement_columns(metered_wh, s)
        ordered = [columns[name] for name in lead._settlement_fields]
        if {values.dtype for values in ordered} != {_INT64}:
            return None
        # fields x B x agents -> B x agents x fields, one C-order copy.
        table = np.ascontiguousarray(np.array(ordered).transpose(1, 2, 0))
        n = table.shape[1]
        return [JoinedBodies(text, n) for text in lead._settlement_rows.encode_joined_many(table)]

    def _encoded_settlements(self, flows: SlotFlows, s: Settlement) -> JoinedBodies | list[bytes]:
        # Columns in the canonical (sorted) key order of the settlement record.
        columns = _settlement_columns(flows.metered_wh, s)
        ordered = [columns[name] for name in self._settlement_fields]
        if {values.dtype for values in ordered} == {_INT64}:
            # Agent after agent, written at once (compiled where numba runs).
            # np.array(...).T: a third of np.stack's overhead on a dozen short columns.
            table = np.array(ordered).T
            return JoinedBodies(self._settlement_rows.encode_joined(table), table.shape[0])
        for name, values in zip(self._settlement_fields, ordered, strict=True):
            # The template writes %d: only integer arrays may take this path (a float would
            # be truncated here where the generic encoder refuses it).
            if values.dtype.kind not in "iu":
                raise TypeError(f"settlement field {name} has dtype {values.dtype}, not integer")
        # Mixed integer types (uint64 would stack as float64): the exact ints, row by row.
        lists = [values.tolist() for values in ordered]
        flat = [v for row in zip(*lists, strict=True) for v in row]
        return self._settlement_rows.encode_sorted(flat)

    def _settlements(self, flows: SlotFlows, s: Settlement) -> list[dict[str, Any]]:
        columns = _settlement_columns(flows.metered_wh, s)
        lists = {name: values.tolist() for name, values in columns.items()}
        return [
            {"agent": agent, **{name: values[i] for name, values in lists.items()}}
            for i, agent in enumerate(self.community.agents)
        ]


def _hex_hash(pending: PendingAppends, k: int) -> str:
    """The hash (hex) of the ``k``-th block of ``pending``, once appended."""
    return pending.block_hash(k).hex()


def _settlement_columns(metered_wh: NDArray[np.int64], s: Settlement) -> dict[str, Any]:
    """The integer fields of the settlement records, per agent (of one slot, or ``B x
    agents``)."""
    return {
        "metered_wh": metered_wh,
        "p2p_bought_wh": s.p2p_bought_wh,
        "p2p_sold_wh": s.p2p_sold_wh,
        "p2p_paid": s.p2p_paid_sen,
        "p2p_received": s.p2p_received_sen,
        "grid_bought_wh": s.grid_bought_wh,
        "grid_sold_wh": s.grid_sold_wh,
        "grid_cost": s.grid_cost_sen,
        "grid_revenue": s.grid_revenue_sen,
        "demand_charge": s.demand_charge_sen,
        "undelivered_wh": s.undelivered_wh,
        "imbalance_penalty": s.imbalance_penalty_sen,
    }
