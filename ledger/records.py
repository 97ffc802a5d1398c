"""Records: what a block holds, and their exact bytes.

A record is one order, trade, settlement or certificate event, given as a JSON-compatible mapping
(the exchange's ``Order.to_dict()``, a trade dict, ...). Its stored bytes are a 14-byte envelope
followed by the canonical JSON of the body (:mod:`ledger.canonical`)::

    offset  size  field
    0       1     kind: 1 order, 2 trade, 3 settlement, 4 certificate event
    1       1     schema version (:data:`~ledger.canonical.SCHEMA_VERSION`)
    2       8     height of the block, unsigned big-endian
    10      4     index of the record within the block, unsigned big-endian
    14      ...   canonical JSON of the body (UTF-8)

The envelope binds every record to its place: a record moved to another block or position, or a
block with a record inserted or deleted, no longer matches the place it is found in, so
verification can say *which* record is wrong, not only that a Merkle root differs. Within a block
records are ordered by kind (orders, trades, settlements, certificate events) and, within a kind,
in the order the caller gave them (the order of orders matters to a replay).

The Merkle leaf of a record is ``SHA-256(0x00 || bytes)`` (RFC 9162 section 2.1.1).

Required body fields, checked when a record is written (others are free, as long as canonical):
``order``: ``id``, ``agent`` (strings), ``side`` (``buy``/``sell``); ``trade``: none (the
exchange's trade dicts: ``buy``, ``sell``, ``buyer``, ``seller``, ``tag``, ``quantity_wh``,
``price``, ``amount``); ``settlement``: ``agent``; ``certificate``: the event schema of
:mod:`ledger.certificates`.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Final

from ledger.canonical import SCHEMA_VERSION, JsonValue, canonical_json, sha256
from ledger.errors import LedgerFormatError, RecordError

ENVELOPE: Final = struct.Struct(">BBQI")
"""The record envelope: kind, schema version, block height, index in block."""
MAX_RECORDS_PER_BLOCK: Final = 2**32 - 1


class RecordKind(IntEnum):
    """The kinds of record, in the order they appear within a block."""

    ORDER = 1
    TRADE = 2
    SETTLEMENT = 3
    CERTIFICATE = 4

    @property
    def label(self) -> str:
        """The lower-case name used in reports and counts (``order``, ``trade``, ...)."""
        return self.name.lower()


KIND_LABELS: Final = tuple(kind.label for kind in RecordKind)
_REQUIRED: Final[dict[RecordKind, tuple[str, ...]]] = {
    RecordKind.ORDER: ("id", "agent", "side"),
    RecordKind.TRADE: (),
    RecordKind.SETTLEMENT: ("agent",),
    RecordKind.CERTIFICATE: ("event",),
}


@dataclass(frozen=True, slots=True)
class Record:
    """One stored record: its place, its body and its exact bytes.

    Attributes:
        kind: What it records.
        height: Height of its block.
        index: Position within its block.
        body: The decoded canonical body.
        data: The stored bytes (envelope + canonical JSON); what the Merkle leaf hashes.
    """

    kind: RecordKind
    height: int
    index: int
    body: dict[str, JsonValue]
    data: bytes

    @property
    def leaf_hash(self) -> bytes:
        """The Merkle leaf hash ``SHA-256(0x00 || data)``."""
        return leaf_hash(self.data)


def leaf_hash(data: bytes) -> bytes:
    """RFC 9162 leaf hash of a record's bytes."""
    return sha256(b"\x00" + data)


def check_body(kind: RecordKind, body: Mapping[str, Any], where: str) -> None:
    """Check the fields a record of ``kind`` must have.

    Raises:
        RecordError: Naming ``where``, the field and what was expected.
    """
    for field in _REQUIRED[kind]:
        value = body.get(field)
        if not isinstance(value, str) or not value:
            raise RecordError(f"{where}: field {field!r} must be a non-empty string, got {value!r}")
    if kind is RecordKind.ORDER and body["side"] not in ("buy", "sell"):
        raise RecordError(f"{where}: field 'side' must be 'buy' or 'sell', got {body['side']!r}")


def encode_record(kind: RecordKind, height: int, index: int, body: Mapping[str, Any]) -> bytes:
    """The stored bytes of a record (see the module docstring).

    Args:
        kind: What it records.
        height: Height of the block it goes into.
        index: Its position in that block.
        body: JSON-compatible mapping with integer units.

    Raises:
        RecordError: If the body is not a mapping, lacks a required field or is not canonical.
    """
    where = f"{kind.label} record {index} of block {height}"
    if not isinstance(body, Mapping):
        raise RecordError(f"{where}: expected a mapping, got {type(body).__name__}")
    if not 0 <= index <= MAX_RECORDS_PER_BLOCK:
        raise RecordError(f"{where}: index {index} is outside 0..{MAX_RECORDS_PER_BLOCK}")
    check_body(kind, body, where)
    return ENVELOPE.pack(kind, SCHEMA_VERSION, height, index) + canonical_json(body, where)


def decode_record(data: bytes) -> Record:
    """Read a record's bytes back.

    Raises:
        LedgerFormatError: If the envelope is short, names an unknown kind or another schema
            version, or the body is not a JSON object.
    """
    if len(data) < ENVELOPE.size + 2:
        raise LedgerFormatError(f"record of {len(data)} bytes is shorter than its envelope")
    raw_kind, version, height, index = ENVELOPE.unpack_from(data)
    if version != SCHEMA_VERSION:
        raise LedgerFormatError(
            f"record has schema version {version}; this p2p-gym reads version {SCHEMA_VERSION}"
        )
    try:
        kind = RecordKind(raw_kind)
    except ValueError:
        raise LedgerFormatError(f"record has unknown kind {raw_kind}") from None
    try:
        body = json.loads(data[ENVELOPE.size :].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LedgerFormatError(f"record body is not UTF-8 JSON: {exc}") from None
    if not isinstance(body, dict):
        raise LedgerFormatError(f"record body is a {type(body).__name__}, not an object")
    return Record(kind, height, index, body, data)
