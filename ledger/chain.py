"""The ledger: appends one block per slot and proves what it holds.

Typical use by the environment, once per slot::

    ledger = Ledger.in_memory()              # or Ledger.open("run.ledger", create=True)
    ledger.append_block(
        slot=17, params=clearing_params.to_dict(), start="2020-08-01T08:30:00+09:00",
        orders=[o.to_dict() for o in orders], trades=[t.to_dict() for t in trades],
        settlements=settlement_dicts, certificates=registry.end_slot(),
    )
    ledger.head_hash.hex()                    # the run's fingerprint

Records are JSON-compatible mappings in integer units (:mod:`ledger.canonical`); the ledger does
not import the exchange. See :mod:`ledger.records` and :mod:`ledger.block` for the byte format.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from ledger.block import GENESIS_PREV_HASH, BlockHeader, decode_header, encode_header_fields
from ledger.canonical import INT_MAX, canonical_json, sha256
from ledger.certificates import CertificateBook
from ledger.errors import CertificateError, LedgerError, RecordError
from ledger.hashing import (
    BlocksJob,
    Bodies,
    Groups,
    encode_block,
    encode_blocks,
    encode_blocks_in_background,
    leaves_and_root,
)
from ledger.merkle import (
    ConsistencyProof,
    InclusionProof,
    consistency_path,
    inclusion_path,
    merkle_root,
)
from ledger.records import (
    MAX_RECORDS_PER_BLOCK,
    Record,
    RecordKind,
    decode_record,
    encode_record,
)
from ledger.sqlite_store import SqliteStore
from ledger.store import LedgerStore, MemoryStore, StoredBlock
from ledger.verify import ReplayHook, VerifyReport, verify

Body = Mapping[str, Any]


@dataclass(frozen=True)
class EncodedAppend:
    """One ledger's next block for :meth:`Ledger.append_encoded_many`: the arguments of
    :meth:`Ledger.append_encoded`, bodies trusted as there."""

    ledger: Ledger
    slot: int
    params_json: bytes
    orders: Bodies = ()
    trades: Bodies = ()
    settlements: Bodies = ()
    certificates: Bodies = ()
    certificate_events: Sequence[Body] = ()
    start: str | None = None


def _prepared(appends: Sequence[EncodedAppend]) -> list[tuple[int, Groups, dict[str, int]]]:
    """Each block's height, groups and counts, every block checked (before any is encoded)."""
    if len({id(a.ledger) for a in appends}) != len(appends):
        raise RecordError("append_encoded_many appends one block per ledger: a ledger is twice")
    return [
        a.ledger._encoded_groups(
            a.slot,
            a.start,
            a.orders,
            a.trades,
            a.settlements,
            a.certificates,
            a.certificate_events,
        )
        for a in appends
    ]


def _append_encoded(
    a: EncodedAppend, counts: dict[str, int], block: tuple[Sequence[bytes], bytes, bytes]
) -> BlockHeader:
    """Append ``a``'s block to its ledger, from its records, leaf hashes and root."""
    records, leaves, root = block
    return a.ledger._append(
        a.slot, a.params_json, records, leaves, root, counts, a.certificate_events, a.start
    )


class PendingAppends:
    """The next block of several ledgers, its records being written and hashed in the
    background (:meth:`Ledger.append_encoded_many_in_background`).

    The ledgers append their blocks at :meth:`wait`, which every read or write of any of them
    calls first: whoever looks at one of these ledgers sees it with its block, as if it had
    been appended at once.
    """

    def __init__(
        self,
        appends: Sequence[EncodedAppend],
        prepared: Sequence[tuple[int, Groups, dict[str, int]]],
        job: BlocksJob | None,
    ) -> None:
        self._appends = tuple(appends)
        self._prepared = tuple(prepared)
        self._job = job
        self._headers: list[BlockHeader] | None = None
        self._hashes: list[bytes] = []
        self._error: BaseException | None = None
        if job is not None:
            for a in self._appends:
                a.ledger._pending = self

    @classmethod
    def appended(
        cls, appends: Sequence[EncodedAppend], headers: list[BlockHeader]
    ) -> PendingAppends:
        """Blocks appended already (``headers``), each its ledger's head."""
        done = cls(appends, (), None)
        done._headers = headers
        done._hashes = [a.ledger.head_hash for a in appends]
        return done

    def wait(self) -> list[BlockHeader]:
        """Append every block (once; waits for the hashing) and return their headers.

        Raises:
            LedgerError: A block could not be written, hashed or stored; again at every
                later call, and at every read or write of a ledger that lacks its block.
        """
        if self._headers is not None:
            return self._headers
        if self._error is not None:
            raise LedgerError(
                f"a block appended in the background failed: {self._error!r}"
            ) from self._error
        assert self._job is not None
        headers: list[BlockHeader] = []
        try:
            encoded = self._job.result()
            for a, (_, _, counts), block in zip(
                self._appends, self._prepared, encoded, strict=True
            ):
                ledger = a.ledger
                ledger._pending = None
                headers.append(_append_encoded(a, counts, block))
                self._hashes.append(ledger._store.block_hash(len(ledger._store) - 1))
        except BaseException as exc:
            # The ledgers from the first without a header on lack their block: each says so
            # when next used (and none is appended twice).
            self._error = exc
            for a in self._appends[len(headers) :]:
                a.ledger._pending = self
            if not isinstance(exc, Exception):
                raise
            raise LedgerError(f"a block appended in the background failed: {exc!r}") from exc
        self._headers = headers
        # The buffers and the bodies are the ledgers' now: hold only the hashes.
        self._job, self._prepared, self._appends = None, (), ()
        return headers

    def block_hash(self, k: int) -> bytes:
        """The hash of the ``k``-th ledger's block (waits for it)."""
        self.wait()
        return self._hashes[k]


class Ledger:
    """A hash-chained ledger over a storage backend.

    Args:
        store: Where blocks go (:class:`~ledger.store.MemoryStore`,
            :class:`~ledger.sqlite_store.SqliteStore`).
        check_certificates: Check certificate events when a block is appended, so that a block
            breaking the certificate rules is refused before it is written.
    """

    def __init__(self, store: LedgerStore, *, check_certificates: bool = True) -> None:
        self._store = store
        # A block whose records are being written and hashed in the background
        # (append_encoded_many_in_background): appended before anything reads or writes.
        self._pending: PendingAppends | None = None
        self._check_certificates = check_certificates
        self._book: CertificateBook | None = None
        # Leaf hashes of the headers (the history tree), read on first use: opening a ledger
        # reads nothing but its length, so that a damaged file can still be opened and verified.
        self._history_cache: list[bytes] | None = None
        # The last slot is read when the next block is appended, not here: a damaged header must
        # not stop a ledger from being opened and verified.
        self._last_slot: int | None = -1
        n = len(store)
        if n:
            self._last_slot = None
        elif check_certificates:
            self._book = CertificateBook()

    @classmethod
    def in_memory(cls, *, keep_records: bool = True, check_certificates: bool = True) -> Self:
        """A ledger in memory; ``keep_records=False`` keeps only headers and hashes."""
        return cls(MemoryStore(keep_records), check_certificates=check_certificates)

    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        create: bool = False,
        read_only: bool = False,
        durable: bool = True,
    ) -> Self:
        """Open (or create) a SQLite ledger file.

        Raises:
            LedgerFormatError: If the file is missing, foreign, truncated or of another version.
        """
        store = SqliteStore(path, create=create, read_only=read_only, durable=durable)
        try:
            return cls(store)
        except BaseException:
            store.close()
            raise

    def close(self) -> None:
        """Append the block being hashed in the background, if any, then close the backend
        (idempotent; an in-memory ledger stays readable)."""
        try:
            self._settle()  # a block hashed in the background: stored first
        finally:
            self._store.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- reading ------------------------------------------------------------------------------

    @property
    def store(self) -> LedgerStore:
        """Where the blocks are (a block still being hashed in the background is appended
        first)."""
        self._settle()
        return self._store

    def _settle(self) -> None:
        """Append the block being hashed in the background, if any (waits for it)."""
        if self._pending is not None:
            self._pending.wait()

    @property
    def checks_certificates(self) -> bool:
        """Whether certificate events are checked when a block is appended."""
        return self._check_certificates

    def __len__(self) -> int:
        """Number of blocks."""
        return len(self.store)

    @property
    def height(self) -> int:
        """Height of the last block; -1 when empty."""
        return len(self.store) - 1

    @property
    def head_hash(self) -> bytes:
        """Hash of the last block header (32 zero bytes when empty)."""
        n = len(self.store)
        return self.store.block_hash(n - 1) if n else GENESIS_PREV_HASH

    def header(self, height: int) -> BlockHeader:
        """The header of block ``height``."""
        return decode_header(self.store.header(self._index(height)))

    def block_hash(self, height: int) -> bytes:
        """The hash of block ``height``."""
        return self.store.block_hash(self._index(height))

    def records(self, height: int, kind: RecordKind | None = None) -> list[Record]:
        """The records of block ``height`` (of one ``kind`` if given), decoded.

        Raises:
            LedgerError: If the store keeps only hashes.
        """
        raw = self._raw_records(height)
        return [decode_record(data) for data in raw if kind is None or data[0] == kind]

    def bodies(self, height: int, kind: RecordKind) -> list[dict[str, Any]]:
        """The bodies of block ``height``'s records of ``kind``, in order."""
        return [r.body for r in self.records(height, kind)]

    def blocks(self, first: int = 0, last: int | None = None) -> Iterator[BlockHeader]:
        """Headers from ``first`` to ``last`` (inclusive; default the last block)."""
        end = self.height if last is None else min(last, self.height)
        for h in range(max(first, 0), end + 1):
            yield self.header(h)

    def find(self, kind: RecordKind, **fields: Any) -> Record | None:
        """The latest record of ``kind`` whose body has all of ``fields`` (a linear scan).

        Example: ``ledger.find(RecordKind.ORDER, id="o12")``.
        """
        for h in range(self.height, -1, -1):
            for record in reversed(self.records(h, kind)):
                if all(record.body.get(k) == v for k, v in fields.items()):
                    return record
        return None

    def params(self, height: int) -> dict[str, Any]:
        """The clearing parameters of block ``height``."""
        header = self.header(height)
        data = self.store.params(header.params_hash)
        if data is None:
            raise LedgerError(f"block {height}: clearing parameters are not stored")
        value: dict[str, Any] = json.loads(data)
        return value

    def _raw_records(self, height: int) -> list[bytes]:
        raw = self.store.records(self._index(height))
        if raw is None:
            raise LedgerError("this ledger keeps only headers and hashes, not records")
        return raw

    def _index(self, height: int) -> int:
        if type(height) is not int or not 0 <= height < len(self.store):
            raise IndexError(f"block {height!r} does not exist: heights are 0..{self.height}")
        return height

    # -- writing ------------------------------------------------------------------------------

    def append_block(
        self,
        slot: int,
        params: Mapping[str, Any],
        *,
        orders: Sequence[Body] = (),
        trades: Sequence[Body] = (),
        settlements: Sequence[Body] = (),
        certificates: Sequence[Body] = (),
        start: str | None = None,
    ) -> BlockHeader:
        """Append the block of one delivery slot.

        Args:
            slot: Integer index of the delivery slot; larger than the previous block's.
            params: The clearing parameters of the slot (hashed into the header, stored once).
            orders: Order dicts, in submission order (``id``, ``agent``, ``side``, ...).
            trades: Trade dicts, in the exchange's order (what a replay must reproduce).
            settlements: Settlement dicts (``agent``, ...).
            certificates: Certificate events (:class:`~ledger.certificates.CertificateRegistry`).
            start: ISO 8601 start of the slot, optional.

        Returns:
            The new block's header.

        Raises:
            RecordError: A record or the parameters are not canonical or lack a field; or the
                slot does not increase. Nothing is written.
            CertificateError: The certificate events break a rule. Nothing is written.
        """
        self._check_slot(slot, start)
        height = len(self.store)
        groups = (
            (RecordKind.ORDER, orders),
            (RecordKind.TRADE, trades),
            (RecordKind.SETTLEMENT, settlements),
            (RecordKind.CERTIFICATE, certificates),
        )
        data: list[bytes] = []
        for kind, bodies in groups:
            for body in bodies:
                data.append(encode_record(kind, height, len(data), body))
        params_bytes = canonical_json(params, "params")
        counts = {kind.label: len(bodies) for kind, bodies in groups}
        leaves, root = leaves_and_root(data)
        return self._append(slot, params_bytes, data, leaves, root, counts, certificates, start)

    def append_encoded(
        self,
        slot: int,
        params_json: bytes,
        *,
        orders: Bodies = (),
        trades: Bodies = (),
        settlements: Bodies = (),
        certificates: Bodies = (),
        certificate_events: Sequence[Body] = (),
        start: str | None = None,
    ) -> BlockHeader:
        """Append a block whose record bodies are already canonical JSON (the fast path).

        The block is byte for byte the one :meth:`append_block` writes for the same bodies, but
        the bodies are **trusted**: the caller guarantees that each is the canonical JSON of a
        valid record of its kind (:func:`ledger.canonical.canonical_json`, with the required
        fields of :mod:`ledger.records`), as :mod:`ledger.fast`'s encoders produce; only the
        envelopes, leaves, Merkle root and header are computed here. ``verify`` still checks
        everything afterwards.

        Args:
            slot: Integer index of the delivery slot; larger than the previous block's.
            params_json: Canonical JSON of the clearing parameters.
            orders: Canonical JSON of each order body, in submission order.
            trades: Canonical JSON of each trade body, in the exchange's order.
            settlements: Canonical JSON of each settlement body.
            certificates: Canonical JSON of each certificate event.
                Each of the four may also come as one
                :class:`~ledger.hashing.JoinedBodies` (the bodies joined by newlines).
            certificate_events: The same certificate events as mappings; needed (and checked)
                only when this ledger checks certificates on append.
            start: ISO 8601 start of the slot, optional.

        Raises:
            RecordError: The slot does not increase, a block holds too many records, or
                ``certificate_events`` does not match ``certificates`` in length while checked.
            CertificateError: The certificate events break a rule. Nothing is written.
        """
        height, groups, counts = self._encoded_groups(
            slot, start, orders, trades, settlements, certificates, certificate_events
        )
        records, leaves, root = encode_block(height, groups)
        return self._append(
            slot, params_json, records, leaves, root, counts, certificate_events, start
        )

    @staticmethod
    def append_encoded_many(appends: Sequence[EncodedAppend]) -> list[BlockHeader]:
        """:meth:`append_encoded` of the next block of several ledgers (one block each, ``B``
        communities' slot, say), with every block's records written and hashed in one
        compiled call (:func:`ledger.hashing.encode_blocks`): the same blocks.

        Every block is checked before any is encoded; the blocks are then appended in order,
        and a block that its ledger refuses on append (a certificate rule, a storage error)
        raises there, the ledgers before it keeping their new block and those after it not
        getting theirs.

        Raises:
            RecordError: A ledger appears twice, or as :meth:`append_encoded`.
            CertificateError: As :meth:`append_encoded`.
        """
        prepared = _prepared(appends)
        encoded = encode_blocks([p[0] for p in prepared], [p[1] for p in prepared])
        return [
            _append_encoded(a, counts, block)
            for a, (_, _, counts), block in zip(appends, prepared, encoded, strict=True)
        ]

    @staticmethod
    def append_encoded_many_in_background(appends: Sequence[EncodedAppend]) -> PendingAppends:
        """:meth:`append_encoded_many`, the records written and hashed on the ledgers'
        background thread (:func:`ledger.hashing.encode_blocks_in_background`) while the
        caller goes on: the same blocks, appended at :meth:`PendingAppends.wait` or, at the
        latest, when one of these ledgers is next read, written or closed.

        The blocks are checked here, before this returns, as :meth:`append_encoded_many`
        checks them. Where a ledger checks certificates (its append may refuse a block), every
        block is appended here too: only appends that cannot be refused wait.

        Raises:
            RecordError: As :meth:`append_encoded_many`.
            CertificateError: As :meth:`append_encoded_many`.
        """
        if any(a.ledger._check_certificates for a in appends):
            headers = Ledger.append_encoded_many(appends)
            return PendingAppends.appended(appends, headers)
        prepared = _prepared(appends)
        job = encode_blocks_in_background([p[0] for p in prepared], [p[1] for p in prepared])
        return PendingAppends(appends, prepared, job)

    def _encoded_groups(
        self,
        slot: int,
        start: str | None,
        orders: Bodies,
        trades: Bodies,
        settlements: Bodies,
        certificates: Bodies,
        certificate_events: Sequence[Body],
    ) -> tuple[int, Groups, dict[str, int]]:
        """The checks of :meth:`append_encoded`; the block's height, groups and counts."""
        self._check_slot(slot, start)
        if self._check_certificates and len(certificate_events) != len(certificates):
            raise RecordError(
                f"certificate_events has {len(certificate_events)} events, certificates "
                f"{len(certificates)}: this ledger checks certificates, pass both"
            )
        height = len(self.store)
        total = len(orders) + len(trades) + len(settlements) + len(certificates)
        if total > MAX_RECORDS_PER_BLOCK + 1:
            raise RecordError(f"block {height}: {total} records, at most 2**32")
        groups = (
            (RecordKind.ORDER, orders),
            (RecordKind.TRADE, trades),
            (RecordKind.SETTLEMENT, settlements),
            (RecordKind.CERTIFICATE, certificates),
        )
        counts = {
            "order": len(orders),
            "trade": len(trades),
            "settlement": len(settlements),
            "certificate": len(certificates),
        }
        return height, groups, counts

    def _check_slot(self, slot: int, start: str | None) -> None:
        self._settle()
        if type(slot) is not int or not 0 <= slot <= INT_MAX:
            raise RecordError(f"slot must be a non-negative integer below 2**63, got {slot!r}")
        if self._last_slot is None:
            self._last_slot = self.header(self.height).slot
        if slot <= self._last_slot:
            raise RecordError(f"slot {slot} is not after the last block's slot {self._last_slot}")
        if start is not None:
            try:
                datetime.fromisoformat(start)
            except (TypeError, ValueError):
                raise RecordError(f"start must be an ISO 8601 timestamp, got {start!r}") from None

    def _append(
        self,
        slot: int,
        params_bytes: bytes,
        records: Sequence[bytes],
        leaves: bytes,
        root: bytes,
        counts: dict[str, int],
        certificates: Sequence[Body],
        start: str | None,
    ) -> BlockHeader:
        height = len(self.store)
        if self._check_certificates:
            self._check_block_certificates(slot, certificates)
        sha = hashlib.sha256
        header = BlockHeader(
            height=height,
            slot=slot,
            prev_hash=self.head_hash,
            merkle_root=root,
            counts=counts,
            params_hash=sha(params_bytes).digest(),
            start=start,
        )
        # Every field is the ledger's own (slot and start checked by _check_slot): the header's
        # canonical bytes through one formatting, as encode_trusted_header writes them.
        header_bytes = encode_header_fields(
            height,
            slot,
            header.prev_hash,
            header.merkle_root,
            counts,
            header.params_hash,
            start,
        )
        try:
            self.store.append(
                StoredBlock(
                    height=height,
                    header=header_bytes,
                    hash=sha(header_bytes).digest(),  # block_hash
                    leaves=leaves,
                    records=records,
                    params_hash=header.params_hash,
                    params=params_bytes,
                )
            )
        except BaseException:
            self._book = None  # it has seen this block's events: rebuild from the store
            raise
        if self._history_cache is not None:
            self._history_cache.append(sha(b"\x00" + header_bytes).digest())
        self._last_slot = slot
        return header

    def _check_block_certificates(self, slot: int, events: Sequence[Body]) -> None:
        book = self._book
        if book is None:
            if not self.store.keeps_records:
                return  # a hash-only ledger that refused a block cannot rebuild its book
            book = self._book = self._replayed_book()
        try:
            book.begin_block(slot)
            for i, event in enumerate(events):
                book.apply(event, f"slot {slot} certificate event {i}")
            book.end_block()
        except CertificateError:
            self._book = None  # its state is half-applied: rebuild from the store next time
            raise

    def _replayed_book(self) -> CertificateBook:
        book = CertificateBook()
        for h in range(len(self.store)):
            header = self.header(h)
            book.begin_block(header.slot)
            for i, body in enumerate(self.bodies(h, RecordKind.CERTIFICATE)):
                book.apply(body, f"block {h} certificate event {i}")
            book.end_block()
        return book

    # -- proofs -------------------------------------------------------------------------------

    @property
    def _history(self) -> list[bytes]:
        if self._history_cache is None:
            store = self.store
            self._history_cache = [sha256(b"\x00" + store.header(h)) for h in range(len(store))]
        return self._history_cache

    def leaf_hashes(self, height: int) -> list[bytes]:
        """The stored leaf hashes of block ``height``'s records."""
        blob = self.store.leaves(self._index(height))
        return [blob[i : i + 32] for i in range(0, len(blob), 32)]

    def inclusion_proof(self, height: int, index: int) -> InclusionProof:
        """Proof that record ``index`` is in block ``height`` (against its ``merkle_root``)."""
        leaves = self.leaf_hashes(height)
        if not 0 <= index < len(leaves):
            raise IndexError(f"block {height} has records 0..{len(leaves) - 1}, not {index}")
        return InclusionProof(
            height=height,
            index=index,
            tree_size=len(leaves),
            leaf_hash=leaves[index],
            path=tuple(inclusion_path(leaves, index)),
            root=self.header(height).merkle_root,
        )

    def record_proof(self, record: Record) -> InclusionProof:
        """Proof for a record read from this ledger (its envelope says where it is)."""
        return self.inclusion_proof(record.height, record.index)

    def history_root(self, height: int | None = None) -> bytes:
        """Merkle tree hash over the headers of blocks ``0..height`` (default: all)."""
        size = len(self._history) if height is None else self._index(height) + 1
        return merkle_root(self._history[:size])

    def header_proof(self, height: int, at_height: int | None = None) -> InclusionProof:
        """Proof that block ``height``'s header is in the history tree of ``0..at_height``."""
        size = len(self._history) if at_height is None else self._index(at_height) + 1
        self._index(height)
        if height >= size:
            raise IndexError(f"block {height} is after block {size - 1}")
        tree = self._history[:size]
        return InclusionProof(
            height,
            height,
            size,
            tree[height],
            tuple(inclusion_path(tree, height)),
            merkle_root(tree),
        )

    def consistency_proof(self, old_height: int, new_height: int | None = None) -> ConsistencyProof:
        """Proof that the chain up to ``old_height`` is a prefix of the chain up to ``new_height``.

        The proof is over history trees (:meth:`history_root`) of ``old_height + 1`` and
        ``new_height + 1`` headers (RFC 9162 consistency proof).
        """
        new_size = len(self._history) if new_height is None else self._index(new_height) + 1
        old_size = self._index(old_height) + 1
        if old_size > new_size:
            raise ValueError(f"old height {old_height} is after new height {new_size - 1}")
        tree = self._history[:new_size]
        return ConsistencyProof(
            old_size,
            new_size,
            merkle_root(tree[:old_size]),
            merkle_root(tree),
            tuple(consistency_path(tree, old_size)),
        )

    # -- verification ---------------------------------------------------------------------------

    def verify(
        self,
        *,
        replay: ReplayHook | None = None,
        check_certificates: bool = True,
        expected_head: bytes | None = None,
    ) -> VerifyReport:
        """Recompute everything and report the first problem (see :func:`ledger.verify.verify`)."""
        return verify(
            self.store,
            replay=replay,
            check_certificates=check_certificates,
            expected_head=expected_head,
        )
