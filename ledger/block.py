"""Block headers: one per delivery slot, chained by the hash of the previous header.

A header is stored as the canonical JSON (:mod:`ledger.canonical`) of::

    {"counts": {"certificate": n, "order": n, "settlement": n, "trade": n},
     "height": h, "merkle_root": "<64 hex>", "params_hash": "<64 hex>",
     "prev_hash": "<64 hex>", "schema": 1, "slot": s, "start": "<ISO 8601>" | null}

* ``height``: 0 for the first block, then +1 per block.
* ``slot``: the delivery slot's integer index (the caller's clock, e.g. 30-minute slots counted
  from the start of the run); strictly increasing along the chain. ``start`` is the slot's start
  as an ISO 8601 timestamp when the caller gives one (informative, used by ``trace --from``).
* ``prev_hash``: the hash of the previous header; 64 zeros for block 0.
* ``merkle_root``: RFC 9162 Merkle tree hash of the block's record bytes (:mod:`ledger.merkle`).
* ``counts``: the number of records of each kind.
* ``params_hash``: SHA-256 of the canonical JSON of the clearing parameters of the slot.

The block hash is ``SHA-256(header bytes)``; the ledger's head hash is the last block's hash.
Hex is lower case.
"""

from __future__ import annotations

import json
from binascii import hexlify
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from ledger.canonical import (
    HASH_SIZE,
    INT_MAX,
    INT_MIN,
    SCHEMA_VERSION,
    canonical_json,
    sha256,
)
from ledger.errors import LedgerFormatError
from ledger.records import KIND_LABELS

GENESIS_PREV_HASH: Final = bytes(HASH_SIZE)
_FIELDS: Final = frozenset(
    {"counts", "height", "merkle_root", "params_hash", "prev_hash", "schema", "slot", "start"}
)


@dataclass(frozen=True, slots=True)
class BlockHeader:
    """The header of one block (see the module docstring for the byte format).

    Attributes:
        height: Position in the chain, from 0.
        slot: Delivery slot index.
        prev_hash: Hash of the previous header (32 zero bytes for block 0).
        merkle_root: Merkle tree hash of the block's records.
        counts: Records per kind label (``order``, ``trade``, ``settlement``, ``certificate``).
        params_hash: SHA-256 of the canonical clearing parameters.
        start: ISO 8601 start of the slot, if the caller gave it.
        schema: Byte-format version.
    """

    height: int
    slot: int
    prev_hash: bytes
    merkle_root: bytes
    counts: dict[str, int]
    params_hash: bytes
    start: str | None = None
    schema: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        """The JSON form that is hashed (hashes as lower-case hex)."""
        return {
            "counts": dict(self.counts),
            "height": self.height,
            "merkle_root": self.merkle_root.hex(),
            "params_hash": self.params_hash.hex(),
            "prev_hash": self.prev_hash.hex(),
            "schema": self.schema,
            "slot": self.slot,
            "start": self.start,
        }

    def encode(self) -> bytes:
        """The header's canonical bytes."""
        return canonical_json(self.to_dict(), "header")

    @property
    def total_records(self) -> int:
        """Records in the block, all kinds."""
        return sum(self.counts.values())


def _header_format() -> bytes:
    """:meth:`BlockHeader.encode` as a bytes %-format (``encode_trusted_header``'s order)."""
    mark = {name: f"\x00{name}\x00" for name in (*_HEADER_ARGS, *KIND_LABELS)}
    body: dict[str, Any] = {name: mark[name] for name in _HEADER_ARGS}
    body["counts"] = {label: mark[label] for label in KIND_LABELS}
    text = canonical_json(body).replace(b"%", b"%%")
    directive = {"merkle_root": b'"%s"', "params_hash": b'"%s"', "prev_hash": b'"%s"'}
    at = -1
    for name in (*sorted(KIND_LABELS), *_HEADER_ARGS):
        quoted = canonical_json(mark[name])
        pos = text.find(quoted)
        if pos <= at:  # the canonical key order is not the order the encoder passes values in
            raise AssertionError(f"header format: {name!r} is out of order")
        text = text.replace(quoted, directive.get(name, b"%b" if name == "start" else b"%d"))
        at = pos
    return text


_HEADER_ARGS: Final = (
    "height",
    "merkle_root",
    "params_hash",
    "prev_hash",
    "schema",
    "slot",
    "start",
)
_HEADER_FORMAT: Final = _header_format()
_LABEL_SET: Final = frozenset(KIND_LABELS)


def encode_trusted_header(header: BlockHeader) -> bytes:
    """:meth:`BlockHeader.encode` through one string formatting (the same bytes, tested).

    A header whose counts are not exactly the four kind labels, or whose integers are not plain
    signed 64-bit ints, goes through :meth:`BlockHeader.encode` (which refuses what is not
    canonical).
    """
    counts = header.counts
    if counts.keys() != _LABEL_SET:
        return header.encode()
    ints = (*counts.values(), header.height, header.schema, header.slot)
    if any(type(v) is not int or not INT_MIN <= v <= INT_MAX for v in ints):
        return header.encode()
    return encode_header_fields(
        header.height,
        header.slot,
        header.prev_hash,
        header.merkle_root,
        counts,
        header.params_hash,
        header.start,
        header.schema,
    )


def encode_header_fields(
    height: int,
    slot: int,
    prev_hash: bytes,
    merkle_root: bytes,
    counts: Mapping[str, int],
    params_hash: bytes,
    start: str | None,
    schema: int = SCHEMA_VERSION,
) -> bytes:
    """The canonical bytes of the header with these fields, **unchecked**.

    The ledger's own fast path: the caller guarantees plain signed 64-bit ints and exactly the
    four kind labels in ``counts`` (:func:`encode_trusted_header` checks them).
    """
    return _HEADER_FORMAT % (
        counts["certificate"],
        counts["order"],
        counts["settlement"],
        counts["trade"],
        height,
        hexlify(merkle_root),
        hexlify(params_hash),
        hexlify(prev_hash),
        schema,
        slot,
        b"null" if start is None else canonical_json(start, "header.start"),
    )


def block_hash(header_bytes: bytes) -> bytes:
    """The hash of a block: SHA-256 of its header bytes."""
    return sha256(header_bytes)


def decode_header(data: bytes) -> BlockHeader:
    """Read a header's bytes back, checking every field's type.

    Raises:
        LedgerFormatError: On bytes that are not a header of this schema version; the message
            names the field.
    """
    try:
        raw = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LedgerFormatError(f"header is not UTF-8 JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise LedgerFormatError(f"header is a {type(raw).__name__}, not an object")
    schema = raw.get("schema")
    if schema != SCHEMA_VERSION:
        newer = isinstance(schema, int) and schema > SCHEMA_VERSION
        hint = " (written by a newer p2p-gym: upgrade to read it)" if newer else ""
        raise LedgerFormatError(
            f"header has schema version {schema!r}; this p2p-gym reads version "
            f"{SCHEMA_VERSION}{hint}"
        )
    if set(raw) != _FIELDS:
        missing = sorted(_FIELDS - set(raw))
        extra = sorted(set(raw) - _FIELDS)
        raise LedgerFormatError(f"header fields differ: missing {missing}, unexpected {extra}")
    counts = raw["counts"]
    if (
        not isinstance(counts, dict)
        or sorted(counts) != sorted(KIND_LABELS)
        or not all(_is_count(v) for v in counts.values())
    ):
        raise LedgerFormatError(
            f"header field 'counts' must map {list(KIND_LABELS)} to non-negative integers, "
            f"got {counts!r}"
        )
    for field in ("height", "slot"):
        if not _is_count(raw[field]):
            raise LedgerFormatError(
                f"header field {field!r} must be a non-negative integer, got {raw[field]!r}"
            )
    start = raw["start"]
    if start is not None and not isinstance(start, str):
        raise LedgerFormatError(f"header field 'start' must be a string or null, got {start!r}")
    return BlockHeader(
        height=raw["height"],
        slot=raw["slot"],
        prev_hash=_hash_field(raw, "prev_hash"),
        merkle_root=_hash_field(raw, "merkle_root"),
        counts={label: counts[label] for label in KIND_LABELS},
        params_hash=_hash_field(raw, "params_hash"),
        start=start,
        schema=schema,
    )


def _is_count(value: object) -> bool:
    return type(value) is int and value >= 0


def _hash_field(raw: dict[str, Any], field: str) -> bytes:
    value = raw[field]
    if not isinstance(value, str) or len(value) != 2 * HASH_SIZE or value != value.lower():
        raise LedgerFormatError(
            f"header field {field!r} must be {2 * HASH_SIZE} lower-case hex digits, got {value!r}"
        )
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise LedgerFormatError(f"header field {field!r} is not hex: {value!r}") from None
