"""Verification: recompute every hash, root and link; check certificates; optionally replay.

:func:`verify` reads a store block by block and stops at the first problem, which it names by
block height, record index (when the problem is in one record) and check:

``header``        the header bytes are not a header of this schema version
``height``        the header's height is not its position
``block_hash``    the stored block hash differs from SHA-256 of the header bytes
``chain``         ``prev_hash`` differs from the previous block's hash
``slot``          the slot does not increase
``params``        the clearing parameters are missing or do not hash to ``params_hash``
``record``        a record's envelope is wrong: unreadable, another schema version, or not the
                  height/position/kind order it is stored at (moved, inserted or deleted)
``record_hash``   a record's bytes do not hash to its stored leaf hash
``merkle_root``   the records' Merkle root differs from the header's
``counts``        the records per kind differ from the header's counts
``certificates``  a certificate event breaks the rules of :mod:`ledger.certificates`
``replay``        re-clearing the recorded orders gives other trades than recorded
``storage``       the backend could not read the block (a damaged file)
``head``          the ledger does not end at the expected head hash (truncated or extended)

The hot path hashes pre-encoded bytes with ``hashlib`` in list comprehensions and compares
concatenated digests, so the per-record cost stays close to that of SHA-256 itself; records are
decoded (JSON) only for certificate events, a replay, or to locate a problem.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from ledger.block import GENESIS_PREV_HASH, BlockHeader, decode_header
from ledger.canonical import SCHEMA_VERSION, canonical_json
from ledger.certificates import CertificateBook, SlotTagTotals
from ledger.errors import CertificateError, LedgerError, LedgerFormatError
from ledger.hashing import leaves_and_root
from ledger.merkle import merkle_root
from ledger.records import ENVELOPE, RecordKind
from ledger.store import LedgerStore

_raw_decode = json.JSONDecoder().raw_decode
ReplayHook = Callable[[dict[str, Any], list[dict[str, Any]]], list[dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class Failure:
    """The first problem found.

    Attributes:
        check: Which check failed (see the module docstring).
        message: What was found and what was expected.
        height: The block, if the problem is in one.
        record: The record index within the block, if the problem is in one record.
    """

    check: str
    message: str
    height: int | None = None
    record: int | None = None

    def __str__(self) -> str:
        where = []
        if self.height is not None:
            where.append(f"block {self.height}")
        if self.record is not None:
            where.append(f"record {self.record}")
        prefix = ", ".join(where) + ": " if where else ""
        return f"{prefix}{self.check}: {self.message}"


@dataclass(slots=True)
class VerifyReport:
    """What :func:`verify` checked and found.

    Attributes:
        ok: No problem found.
        blocks: Blocks fully checked (all blocks when ``ok``).
        records: Records hashed.
        head_hash: Hash of the last good block (``None`` if none).
        checks: The checks that ran (records, certificates and replay only when possible).
        failure: The first problem, or ``None``.
        certificates: Per tag, Wh issued / consumed / stored / exported / expired over the
            good blocks.
        storage: Per storage device, Wh stored / drawn / lost / still stored.
        seconds: Wall time of the verification.
    """

    ok: bool = True
    blocks: int = 0
    records: int = 0
    head_hash: bytes | None = None
    checks: list[str] = field(default_factory=list)
    failure: Failure | None = None
    certificates: dict[str, dict[str, int]] = field(default_factory=dict)
    storage: dict[str, dict[str, int]] = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON form (hashes in hex)."""
        failure = None
        if self.failure is not None:
            failure = {
                "check": self.failure.check,
                "message": self.failure.message,
                "block": self.failure.height,
                "record": self.failure.record,
            }
        return {
            "valid": self.ok,
            "blocks": self.blocks,
            "records": self.records,
            "head_hash": None if self.head_hash is None else self.head_hash.hex(),
            "checks": list(self.checks),
            "failure": failure,
            "certificates": self.certificates,
            "storage": self.storage,
            "seconds": round(self.seconds, 6),
        }

    def summary(self) -> str:
        """One line for people."""
        if self.ok:
            head = "none" if self.head_hash is None else self.head_hash.hex()
            return (
                f"valid: {self.blocks} blocks, {self.records} records, head {head} "
                f"(checked: {', '.join(self.checks)})"
            )
        return f"INVALID: {self.failure} ({self.blocks} blocks before it are valid)"


class _Stop(Exception):
    def __init__(self, failure: Failure) -> None:
        self.failure = failure


def verify(
    store: LedgerStore,
    *,
    replay: ReplayHook | None = None,
    check_certificates: bool = True,
    expected_head: bytes | None = None,
) -> VerifyReport:
    """Verify every block of ``store``.

    Args:
        store: The backend to read.
        replay: Re-clears a block: called with the block's clearing parameters and its order
            bodies, it returns trade dicts that must equal the recorded trades, in order.
        check_certificates: Replay the certificate events through
            :class:`~ledger.certificates.CertificateBook`.
        expected_head: A head hash known from elsewhere (a previous run, a signed note): the
            ledger must end exactly at it. Without it a ledger cut after a block is valid up to
            that block.

    Returns:
        The report; ``report.failure`` names the first problem.
    """
    t0 = time.perf_counter()
    keeps = store.keeps_records
    report = VerifyReport(checks=["headers", "block hashes", "chain", "params", "merkle roots"])
    if keeps:
        report.checks.append("records")
        if check_certificates:
            report.checks.append("certificates")
        if replay is not None:
            report.checks.append("replay")
    book = CertificateBook() if keeps and check_certificates else None
    prev_hash = GENESIS_PREV_HASH
    prev_slot = -1
    try:
        n = len(store)
        for height in range(n):
            try:
                header_bytes = store.header(height)
                stored_hash = store.block_hash(height)
                leaves = store.leaves(height)
                records = store.records(height) if keeps else None
            except (sqlite3.Error, LedgerError, IndexError) as exc:
                raise _Stop(Failure("storage", f"cannot read the block: {exc}", height)) from None
            header = _check_header(store, height, header_bytes, stored_hash, prev_hash, prev_slot)
            if records is not None:
                report.records += _check_records(header, records, leaves)
                if book is not None:
                    _check_certificates(book, header, records)
                if replay is not None:
                    _check_replay(replay, store, header, records)
            else:
                if len(leaves) != 32 * header.total_records:
                    raise _Stop(
                        Failure(
                            "counts",
                            f"{len(leaves) // 32} leaf hashes stored, header counts "
                            f"{header.total_records} records",
                            height,
                        )
                    )
                root = merkle_root([leaves[i : i + 32] for i in range(0, len(leaves), 32)])
                if root != header.merkle_root:
                    raise _Stop(Failure("merkle_root", _root_message(root, header), height))
                report.records += header.total_records
            prev_hash, prev_slot = stored_hash, header.slot
            report.blocks += 1
            report.head_hash = stored_hash
        if expected_head is not None and prev_hash != expected_head:
            raise _Stop(
                Failure(
                    "head",
                    f"the ledger ends at block {n - 1} with head {prev_hash.hex()}, not at the "
                    f"expected head {expected_head.hex()} (truncated, extended or rewritten)",
                )
            )
    except _Stop as stop:
        report.ok = False
        report.failure = stop.failure
    if book is not None:
        report.certificates = _tag_totals(book.totals)
        report.storage = {
            device: {
                "stored": s,
                "drawn": d,
                "lost": lost,
                "held": s - d - lost,
            }
            for device, (s, d, lost) in sorted(book.storage.items())
        }
    report.seconds = time.perf_counter() - t0
    return report


def _check_header(
    store: LedgerStore,
    height: int,
    header_bytes: bytes,
    stored_hash: bytes,
    prev_hash: bytes,
    prev_slot: int,
) -> BlockHeader:
    try:
        header = decode_header(header_bytes)
    except LedgerFormatError as exc:
        raise _Stop(Failure("header", str(exc), height)) from None
    if header.height != height:
        raise _Stop(Failure("height", f"header says height {header.height}", height))
    if header.prev_hash != prev_hash:
        raise _Stop(
            Failure(
                "chain",
                f"prev_hash {header.prev_hash.hex()} differs from the previous block's hash "
                f"{prev_hash.hex()}",
                height,
            )
        )
    if header.slot <= prev_slot:
        raise _Stop(
            Failure("slot", f"slot {header.slot} is not after the previous {prev_slot}", height)
        )
    params = store.params(header.params_hash)
    if params is None:
        raise _Stop(
            Failure(
                "params", f"no clearing parameters with hash {header.params_hash.hex()}", height
            )
        )
    if hashlib.sha256(params).digest() != header.params_hash:
        raise _Stop(
            Failure("params", "the stored clearing parameters do not hash to params_hash", height)
        )
    actual = hashlib.sha256(header_bytes).digest()
    if actual != stored_hash:
        raise _Stop(
            Failure(
                "block_hash",
                f"the header hashes to {actual.hex()} but the stored block hash is "
                f"{stored_hash.hex()} (header or hash changed after commit)",
                height,
            )
        )
    return header


def _check_records(header: BlockHeader, records: list[bytes], leaves: bytes) -> int:
    height = header.height
    computed, root = leaves_and_root(records)
    kinds = _envelope_kinds(height, records)
    if kinds is None or computed != leaves:
        _locate(
            header, records, [computed[i : i + 32] for i in range(0, len(computed), 32)], leaves
        )
        # _locate found nothing wrong record by record: the stored set itself differs.
        kinds = _envelope_kinds(height, records)
    found: dict[str, int] = {}
    if kinds is not None:
        counts = np.bincount(kinds, minlength=len(RecordKind) + 1)
        found = {kind.label: int(counts[kind]) for kind in RecordKind}
    if found != header.counts:
        # Name the first record position where the kinds stop matching the header's counts.
        expected = [kind for kind in RecordKind for _ in range(header.counts[kind.label])]
        actual = [] if kinds is None else kinds.tolist()
        first = next(
            (i for i, (a, b) in enumerate(zip(actual, expected, strict=False)) if a != b),
            min(len(actual), len(expected)),
        )
        raise _Stop(
            Failure(
                "counts",
                f"records per kind {found}, header says {header.counts}",
                height,
                first,
            )
        )
    if root != header.merkle_root:
        raise _Stop(Failure("merkle_root", _root_message(root, header), height))
    return len(records)


_ENVELOPE_DTYPE = np.dtype([("kind", "u1"), ("version", "u1"), ("height", ">u8"), ("index", ">u4")])


def _envelope_kinds(height: int, records: list[bytes]) -> npt.NDArray[np.uint8] | None:
    """The kinds of a block's records if every envelope is right for its place, else ``None``.

    One numpy pass over the joined 14-byte envelopes instead of unpacking them one by one.
    """
    if not records:
        return np.zeros(0, np.uint8)
    size = ENVELOPE.size
    if min(map(len, records)) < size:
        return None
    env = np.frombuffer(b"".join([r[:size] for r in records]), dtype=_ENVELOPE_DTYPE)
    kinds = env["kind"]
    ok = (
        (env["version"] == SCHEMA_VERSION).all()
        and (env["height"] == height).all()
        and (env["index"] == np.arange(len(records))).all()
        and kinds[0] >= RecordKind.ORDER
        and kinds[-1] <= RecordKind.CERTIFICATE
        and (kinds[1:] >= kinds[:-1]).all()
    )
    return kinds if ok else None


def _locate(
    header: BlockHeader, records: list[bytes], computed: list[bytes], leaves: bytes
) -> None:
    """Find the first bad record of a block whose records or leaf hashes disagree."""
    height = header.height
    last_kind = 0
    stored = [leaves[i : i + 32] for i in range(0, len(leaves), 32)]
    for index, r in enumerate(records):
        if len(r) < ENVELOPE.size:
            raise _Stop(
                Failure("record", f"{len(r)} bytes: shorter than the envelope", height, index)
            )
        kind, version, rec_height, rec_index = ENVELOPE.unpack_from(r)
        if version != SCHEMA_VERSION:
            raise _Stop(
                Failure(
                    "record",
                    f"schema version {version}; this p2p-gym reads {SCHEMA_VERSION}",
                    height,
                    index,
                )
            )
        if kind not in RecordKind._value2member_map_:
            raise _Stop(Failure("record", f"unknown kind {kind}", height, index))
        if rec_height != height or rec_index != index:
            raise _Stop(
                Failure(
                    "record",
                    f"the record says it is record {rec_index} of block {rec_height}: "
                    "records were moved, inserted or deleted",
                    height,
                    index,
                )
            )
        if kind < last_kind:
            raise _Stop(
                Failure(
                    "record",
                    f"a {RecordKind(kind).label} after a {RecordKind(last_kind).label}: "
                    "records are out of order",
                    height,
                    index,
                )
            )
        last_kind = kind
        if index >= len(stored) or stored[index] != computed[index]:
            have = "no stored leaf hash" if index >= len(stored) else stored[index].hex()
            raise _Stop(
                Failure(
                    "record_hash",
                    f"the record hashes to {computed[index].hex()}, stored leaf hash is {have} "
                    "(record or hash changed after commit)",
                    height,
                    index,
                )
            )
    if len(stored) != len(records):
        raise _Stop(
            Failure(
                "counts",
                f"{len(stored)} leaf hashes stored for {len(records)} records",
                height,
                min(len(stored), len(records)),
            )
        )


def _root_message(root: bytes, header: BlockHeader) -> str:
    return (
        f"the records' Merkle root is {root.hex()}, the header says "
        f"{header.merkle_root.hex()} (records added, removed or changed, or the header changed)"
    )


def _check_certificates(book: CertificateBook, header: BlockHeader, records: list[bytes]) -> None:
    height = header.height
    start = ENVELOPE.size
    # Records are ordered by kind and the counts were checked: the events are the tail.
    first = header.total_records - header.counts["certificate"]
    try:
        book.begin_block(header.slot)
        for index in range(first, len(records)):
            r = records[index]
            try:
                # Canonical bodies have no leading whitespace: raw_decode skips that scan.
                text = r[start:].decode("utf-8")
                event, end = _raw_decode(text)
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise _Stop(Failure("record", f"body is not JSON: {exc}", height, index)) from None
            if not isinstance(event, dict) or end != len(text):
                raise _Stop(Failure("record", "body is not one JSON object", height, index))
            try:
                book.apply(event, "certificate event")
            except CertificateError as exc:
                raise _Stop(Failure("certificates", str(exc), height, index)) from None
        book.end_block()
    except CertificateError as exc:
        raise _Stop(Failure("certificates", str(exc), height)) from None


def _check_replay(
    replay: ReplayHook, store: LedgerStore, header: BlockHeader, records: list[bytes]
) -> None:
    height = header.height
    params_bytes = store.params(header.params_hash)
    params = json.loads(params_bytes) if params_bytes is not None else {}
    start = ENVELOPE.size
    orders = [json.loads(r[start:]) for r in records if r[0] == RecordKind.ORDER]
    first_trade = header.counts["order"]
    recorded = [r[start:] for r in records if r[0] == RecordKind.TRADE]
    try:
        trades = replay(params, orders)
    except Exception as exc:  # the hook is foreign code: any failure is a replay failure
        raise _Stop(
            Failure("replay", f"the replay hook raised {type(exc).__name__}: {exc}", height)
        ) from None
    for i, trade in enumerate(trades):
        try:
            again = canonical_json(trade, f"replayed trade {i}")
        except LedgerError as exc:
            raise _Stop(Failure("replay", str(exc), height, first_trade + i)) from None
        if i >= len(recorded):
            raise _Stop(
                Failure(
                    "replay",
                    f"re-clearing gives {len(trades)} trades, {len(recorded)} are recorded; "
                    f"first extra: {again.decode()}",
                    height,
                )
            )
        if again != recorded[i]:
            raise _Stop(
                Failure(
                    "replay",
                    f"recorded trade {recorded[i].decode()} but re-clearing gives {again.decode()}",
                    height,
                    first_trade + i,
                )
            )
    if len(trades) < len(recorded):
        raise _Stop(
            Failure(
                "replay",
                f"re-clearing gives {len(trades)} trades, {len(recorded)} are recorded",
                height,
                first_trade + len(trades),
            )
        )


def _tag_totals(totals: dict[tuple[int, str], SlotTagTotals]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for (_, tag), row in sorted(totals.items()):
        acc = out.setdefault(
            tag, {"issued": 0, "consumed": 0, "stored": 0, "exported": 0, "expired": 0}
        )
        acc["issued"] += row.issued
        acc["consumed"] += row.consumed
        acc["stored"] += row.stored
        acc["exported"] += row.exported
        acc["expired"] += row.expired
    return out
