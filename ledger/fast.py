"""Fast canonical encoders for records whose structure is known and trusted.

:func:`ledger.canonical.canonical_json` checks every value of a record on the way (a recursive
walk in Python), which dominates the cost of writing a block when a simulator appends a hundred
records per slot. A writer that *builds* its records from plain Python ints and strings can skip
the walk: the encoders here give the same bytes as :func:`~ledger.canonical.canonical_json` for
such bodies, and :meth:`ledger.Ledger.append_encoded` takes their output. Tests check the bytes
against the generic encoder; ``Ledger.verify`` recomputes every hash as usual.
:class:`SlotCertificateWriter` writes the certificate events of
:class:`~ledger.certificates.CertificateRegistry` this way, for the simulator's order of calls.

Trusted means: mappings with ``str`` keys, values ``None``, ``bool``, ``str``, ``int`` in the
signed 64-bit range (never floats or numpy scalars), lists and mappings of those. Nothing is
checked here; use the generic path for data from outside.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from ledger.canonical import canonical_json
from ledger.errors import CertificateError, RecordError
from ledger.hashing import JoinedBodies

_encode: Final = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, sort_keys=True, separators=(",", ":")
).encode


def trusted_json(body: Any) -> bytes:
    """Canonical JSON of a trusted body (see the module docstring): no per-value checks."""
    return _encode(body).encode("utf-8")


def trusted_json_many(bodies: Iterable[Any]) -> list[bytes]:
    """:func:`trusted_json` of each body, in order."""
    encode = _encode
    return [encode(body).encode("utf-8") for body in bodies]


class RecordTemplate:
    """Canonical JSON of bodies that differ only in some integer fields.

    The fixed fields are encoded once (through the checked encoder); each record then costs one
    string formatting of its integers. Keys are ordered as the canonical form orders them.

    Args:
        fixed: Fields with the same value in every record (e.g. ``{"agent": "home_00"}``).
        int_fields: Names of the integer fields given per record, in the order
            :meth:`encode` takes their values.

    Raises:
        RecordError: A name is both fixed and per record, or a fixed value is not canonical.
    """

    def __init__(self, fixed: Mapping[str, Any], int_fields: Sequence[str]) -> None:
        overlap = set(fixed) & set(int_fields)
        if overlap:
            raise RecordError(f"fields {sorted(overlap)} are both fixed and per record")
        if len(set(int_fields)) != len(int_fields):
            raise RecordError(f"int_fields {list(int_fields)} name a field twice")
        self.int_fields = tuple(int_fields)
        slots: dict[str, str] = {}
        for key, value in fixed.items():
            # Escape '%' so the encoded text survives the %-formatting below.
            slots[key] = canonical_json(value, f"$.{key}").decode("utf-8").replace("%", "%%")
        for key in int_fields:
            slots[key] = "%d"
        keys = sorted(slots)
        parts = [
            canonical_json(key).decode("utf-8").replace("%", "%%") + ":" + slots[key]
            for key in keys
        ]
        self._format = "{" + ",".join(parts) + "}"
        # Positions of the per-record values in the sorted key order.
        order = [k for k in keys if k in set(int_fields)]
        self._permutation = tuple(self.int_fields.index(k) for k in order)
        self._identity = self._permutation == tuple(range(len(order)))

    def encode(self, values: Sequence[int]) -> bytes:
        """Canonical JSON of one record with ``values`` for :attr:`int_fields` (plain ints)."""
        if not self._identity:
            values = tuple(values[i] for i in self._permutation)
        return (self._format % tuple(values)).encode("utf-8")

    @property
    def sorted_fields(self) -> tuple[str, ...]:
        """:attr:`int_fields` in canonical (sorted) order: pass values in this order to
        :meth:`format_sorted` to skip the reordering."""
        return tuple(self.int_fields[i] for i in self._permutation)

    def format_sorted(self, values: tuple[int, ...]) -> bytes:
        """Like :meth:`encode`, with ``values`` already in :attr:`sorted_fields` order."""
        return (self._format % values).encode("utf-8")


class RowTemplates:
    """Canonical JSON of a table's rows, all in one string formatting.

    Each row is a record of :class:`RecordTemplate` (its own fixed fields, the same integer
    fields); the rows' formats are joined by a newline, which canonical JSON never contains
    unescaped, so one ``%`` over all values and one split give every row's bytes. Per row this
    is about a third cheaper than a :meth:`RecordTemplate.format_sorted` call each.

    Args:
        fixed_rows: Per row, the fields with a fixed value (e.g. ``{"agent": "home_00"}``).
        int_fields: Names of the integer fields, the same for every row.

    Raises:
        RecordError: As :class:`RecordTemplate`.
    """

    def __init__(self, fixed_rows: Sequence[Mapping[str, Any]], int_fields: Sequence[str]) -> None:
        templates = [RecordTemplate(fixed, int_fields) for fixed in fixed_rows]
        probe = RecordTemplate({}, int_fields)
        self.int_fields = probe.int_fields
        self.sorted_fields = probe.sorted_fields
        """The integer fields in canonical order: the order :meth:`encode_sorted` takes."""
        self.rows = len(templates)
        self._format = "\n".join(t._format for t in templates).encode("utf-8")
        self._chunks: _Chunks | None = None  # for encode_joined, made on its first call

    def encode_sorted(self, values: Sequence[int]) -> list[bytes]:
        """Canonical JSON of each row.

        Args:
            values: Plain ints, row after row, each row in :attr:`sorted_fields` order
                (``rows * len(sorted_fields)`` of them).

        Raises:
            RecordError: If the number of values does not fit the table.
        """
        expected = self.rows * len(self.sorted_fields)
        if len(values) != expected:
            raise RecordError(
                f"{len(values)} values for {self.rows} rows of {len(self.sorted_fields)} fields: "
                f"expected {expected}"
            )
        if not self.rows:
            return []
        return (self._format % tuple(values)).split(b"\n")

    def encode_joined(self, values: NDArray[np.int64]) -> bytes:
        """Every row's canonical JSON joined by newlines, from a ``rows x fields`` int64 array
        (fields in :attr:`sorted_fields` order): ``b"\\n".join(encode_sorted(values.ravel()))``.

        Written by a compiled kernel (:mod:`ledger._format_kernel`) where numba runs, with no
        Python int or bytes per value; else by the one %-format. The same bytes either way.

        Raises:
            RecordError: If ``values`` is not an int64 array of this table's shape.
        """
        shape = (self.rows, len(self.sorted_fields))
        if not isinstance(values, np.ndarray) or values.dtype != np.int64 or values.shape != shape:
            raise RecordError(
                f"values must be an int64 array of shape {shape}, got "
                f"{getattr(values, 'dtype', type(values).__name__)} "
                f"{getattr(values, 'shape', '')}"
            )
        if not self.rows:
            return b""
        fill = _format_kernel()
        if fill is None:
            return self._format % tuple(values.ravel().tolist())
        chunks = self._table_chunks()
        out = np.empty(chunks.literal_bytes + 20 * values.size, dtype=np.uint8)
        # ravel: a C-order copy when values is a transposed view, as the kernel reads it.
        size = fill(chunks.data, chunks.starts, chunks.ids, values.ravel(), out)
        return out[:size].tobytes()

    def encode_joined_many(self, values: NDArray[np.int64]) -> list[bytes]:
        """:meth:`encode_joined` of each table of ``tables x rows x fields`` int64 ``values``
        (the same rows, other values: ``B`` communities' settlements, say), written in one
        compiled call where numba runs.

        Raises:
            RecordError: If ``values`` is not an int64 array of ``tables x`` this table's shape.
        """
        shape = (self.rows, len(self.sorted_fields))
        if (
            not isinstance(values, np.ndarray)
            or values.dtype != np.int64
            or values.shape[1:] != shape
            or values.ndim != 3
        ):
            raise RecordError(
                f"values must be an int64 array of shape (tables, {shape[0]}, {shape[1]}), got "
                f"{getattr(values, 'dtype', type(values).__name__)} "
                f"{getattr(values, 'shape', '')}"
            )
        kernels = _format_kernels()
        if kernels is None or not self.rows or not values.shape[0]:
            return [self.encode_joined(table) for table in values]
        chunks = self._table_chunks()
        out = np.empty(chunks.literal_bytes * values.shape[0] + 20 * values.size, dtype=np.uint8)
        ends = np.empty(values.shape[0], dtype=np.int64)
        # reshape: a C-order copy when values is a transposed view, as the kernel reads it.
        flat = values.reshape(values.shape[0], -1)
        size = kernels[1](chunks.data, chunks.starts, chunks.ids, flat, out, ends)
        text = out[:size].tobytes()
        bounds = [0, *ends.tolist()]
        return [text[bounds[t] : bounds[t + 1]] for t in range(values.shape[0])]

    def _table_chunks(self) -> _Chunks:
        """The table's format as the kernels' chunks (made on first use)."""
        if self._chunks is None:
            self._chunks = _Chunks.of(self._format)
        return self._chunks


@dataclass(frozen=True)
class _Chunks:
    """A ``%d``-only format as literal chunks: chunk ``ids[0]``, a value, chunk ``ids[1]``, ...
    with the distinct chunks stored once in ``data`` (chunk ``c`` at ``starts[c]:starts[c + 1]``).
    """

    data: NDArray[np.uint8]
    starts: NDArray[np.int64]
    ids: NDArray[np.int64]
    literal_bytes: int

    @classmethod
    def of(cls, fmt: bytes) -> _Chunks:
        chunks = literal_chunks(fmt)
        table: dict[bytes, int] = {}
        ids = np.array([table.setdefault(c, len(table)) for c in chunks], dtype=np.int64)
        distinct = list(table)  # in id order
        starts = np.zeros(len(distinct) + 1, dtype=np.int64)
        np.cumsum([len(c) for c in distinct], out=starts[1:])
        return cls(
            data=np.frombuffer(b"".join(distinct), dtype=np.uint8),
            starts=starts,
            ids=ids,
            literal_bytes=sum(len(c) for c in chunks),
        )


def literal_chunks(fmt: bytes) -> list[bytes]:
    """The literal text between the directives (``%d``, ``%b``) of a bytes %-format, ``%%``
    read as ``%``: one more chunk than directives."""
    # re.split with a group keeps the directives: literal, "d", "b" or "%", literal, ...
    pieces = re.split(rb"%(%|b|d)", fmt)
    chunks: list[bytes] = []
    current = [pieces[0]]
    for directive, literal in zip(pieces[1::2], pieces[2::2], strict=True):
        if directive == b"%":  # an escaped "%" is part of the literal
            current += [b"%", literal]
        else:
            chunks.append(b"".join(current))
            current = [literal]
    chunks.append(b"".join(current))
    return chunks


_Fill = Callable[..., int]
_fill: tuple[_Fill, _Fill] | None = None
_fill_backend: str | None = None


def formatting_backend() -> str:
    """How :meth:`RowTemplates.encode_joined` writes: ``"compiled"`` or ``"%-format"`` with the
    reason the kernel is unavailable."""
    _format_kernel()
    assert _fill_backend is not None
    return _fill_backend


def _format_kernel() -> _Fill | None:
    kernels = _format_kernels()
    return None if kernels is None else kernels[0]


def _format_kernels() -> tuple[_Fill, _Fill] | None:
    """The compiled ``fill`` and ``fill_tables`` (:mod:`ledger._format_kernel`), proven on
    probes; ``None`` where they cannot run (:func:`formatting_backend` says why)."""
    global _fill, _fill_backend
    if _fill_backend is not None:
        return _fill
    try:
        from ledger import _format_kernel

        fill: _Fill = _format_kernel.fill
        fill_tables: _Fill = _format_kernel.fill_tables
        # Prove them (and compile them, or load numba's cache) on values of every kind of width.
        template = b'{"a":%d,"b%%":%d}\n{"a":%d,"b%%":%d}'
        probe = _Chunks.of(template)
        values = np.array([0, -1, 2**63 - 1, -(2**63)], dtype=np.int64)
        out = np.empty(probe.literal_bytes + 20 * values.size, dtype=np.uint8)
        size = fill(probe.data, probe.starts, probe.ids, values, out)
        expected = template % tuple(values.tolist())
        tables = np.stack((values, values[::-1]))
        both = np.empty(2 * out.size, dtype=np.uint8)
        ends = np.empty(2, dtype=np.int64)
        written = fill_tables(probe.data, probe.starts, probe.ids, tables, both, ends)
        expected_both = expected + template % tuple(values[::-1].tolist())
        if (
            out[:size].tobytes() != expected
            or both[:written].tobytes() != expected_both
            or ends.tolist() != [len(expected), len(expected_both)]
        ):
            _fill, _fill_backend = None, "%-format (the kernel wrote other bytes)"
            return None
    except Exception as exc:  # any failure means: the %-format, and say why
        _fill, _fill_backend = None, f"%-format (kernel unavailable: {exc!r})"
        return None
    _fill, _fill_backend = (fill, fill_tables), "compiled"
    return _fill


# ---------------------------------------------------------------------------------------------
# Certificate events written straight as canonical JSON
# ---------------------------------------------------------------------------------------------


def _template(body: Mapping[str, Any], args: Sequence[tuple[str, bytes]]) -> bytes:
    """The canonical JSON of ``body`` as a bytes %-format.

    Each ``(sentinel, directive)`` of ``args`` names a string value of ``body`` that becomes
    ``directive`` (``%d``, ``%b``, ``"%b"``); the sentinels must appear in this order, which is
    the order the format takes its values in (the canonical key order decides it, checked here).
    """
    text = canonical_json(body).replace(b"%", b"%%")
    at = -1
    for sentinel, directive in args:
        quoted = canonical_json(sentinel)
        pos = text.find(quoted)
        if pos <= at or text.count(quoted) != 1:
            raise AssertionError(f"template of {body}: {sentinel!r} is not the next value")
        text = text.replace(quoted, directive)
        at = pos
    return text


def _arg(name: str) -> str:
    return f"\x00{name}\x00"  # never a real value: canonical JSON escapes it as \u0000


def _text_format(event: str, names: Sequence[str], shape: Mapping[str, Any]) -> bytes:
    """A range event's format: ``shape`` gives the fields, ``names`` the order of the values."""
    body = {"event": event, **shape}
    directives = {
        "cert": b'"%b"',
        "start": b"%d",
        "wh": b"%d",
        "slot": b"%d",
        "trade": b'"t%d"',
    }
    return _template(body, [(_arg(n), directives.get(n, b"%b")) for n in names])


_RANGE = {n: _arg(n) for n in ("cert", "start", "wh", "slot")}
_ORIGIN: Final = _template(
    {"producer": _arg("producer"), "slot": _arg("slot"), "tag": _arg("tag")},
    [(_arg("producer"), b"%b"), (_arg("slot"), b"%d"), (_arg("tag"), b"%b")],
)
"""``(producer JSON, slot, tag JSON)``"""
_ISSUE: Final = _template(
    {
        "event": "issue",
        "cert": _arg("cert"),
        "holder": _arg("holder"),
        "device": _arg("device"),
        "tag": _arg("tag"),
        "wh": _arg("wh"),
        "storage": False,
        "origin": _arg("origin"),
        "source": None,
        "slot": _arg("slot"),
    },
    [
        (_arg("cert"), b'"%b"'),
        (_arg("device"), b"%b"),
        (_arg("holder"), b"%b"),
        (_arg("origin"), b"%b"),
        (_arg("slot"), b"%d"),
        (_arg("tag"), b"%b"),
        (_arg("wh"), b"%d"),
    ],
)
"""``(cert, device JSON, holder JSON, origin JSON, slot, tag JSON, wh)``"""
_ISSUE_STORED: Final = _template(
    {
        "event": "issue",
        "cert": _arg("cert"),
        "holder": _arg("holder"),
        "device": _arg("device"),
        "tag": _arg("tag"),
        "wh": _arg("wh"),
        "storage": True,
        "origin": _arg("origin"),
        "source": {"cert": _arg("scert"), "start": _arg("sstart"), "wh": _arg("swh")},
        "slot": _arg("slot"),
    },
    [
        (_arg("cert"), b'"%b"'),
        (_arg("device"), b"%b"),
        (_arg("holder"), b"%b"),
        (_arg("origin"), b"%b"),
        (_arg("slot"), b"%d"),
        (_arg("scert"), b'"%b"'),
        (_arg("sstart"), b"%d"),
        (_arg("swh"), b"%d"),
        (_arg("tag"), b"%b"),
        (_arg("wh"), b"%d"),
    ],
)
"""``(cert, device JSON, holder JSON, origin JSON, slot, source cert, source start, wh, tag
JSON, wh)``"""
_TRANSFER: Final = _text_format(
    "transfer",
    ("cert", "from", "slot", "start", "to", "trade", "wh"),
    {**_RANGE, "from": _arg("from"), "to": _arg("to"), "trade": _arg("trade")},
)
"""``(cert, from JSON, slot, start, to JSON, trade number k of "t<k>", wh)``"""
_STORE: Final = _text_format(
    "store",
    ("cert", "device", "holder", "slot", "start", "wh"),
    {**_RANGE, "holder": _arg("holder"), "device": _arg("device")},
)
_LOSE: Final = _text_format(
    "lose", ("cert", "device", "slot", "start", "wh"), {**_RANGE, "device": _arg("device")}
)
_CONSUME: Final = _text_format(
    "consume",
    ("holder", "slot", "wh"),
    {"holder": _arg("holder"), "slot": _arg("slot"), "wh": _arg("wh")},
)
_CANCEL, _EXPORT, _EXPIRE = (
    _text_format(
        kind, ("cert", "holder", "slot", "start", "wh"), {**_RANGE, "holder": _arg("holder")}
    )
    for kind in ("cancel", "export", "expire")
)
"""``(cert, holder JSON, slot, start, wh)``"""

# A lot: [cert id (ASCII bytes, unquoted), start, end, tag, origin JSON]; a holder's lots are
# used first in, first out, as CertificateRegistry's.
_Lot = list[Any]

Amounts = Sequence[int] | NDArray[np.integer]
"""Wh per holder number: plain ints or an integer array."""


def check_holders(
    holders: Sequence[str], devices: Mapping[int, str], discharge_tags: Mapping[int, str]
) -> None:
    """Check a certificate writer's holders (see :class:`SlotCertificateWriter`).

    Raises:
        CertificateError: A holder or device name repeats, a device's holder number is out of
            range, or ``devices`` and ``discharge_tags`` name different holders.
    """
    if len(set(holders)) != len(holders):
        raise CertificateError("holders: a holder name appears twice; names must be unique")
    if set(devices) != set(discharge_tags):
        raise CertificateError(
            f"devices are given for holders {sorted(devices)} but discharge tags for "
            f"{sorted(discharge_tags)}: give both for the same holders"
        )
    if len(set(devices.values())) != len(devices):
        raise CertificateError("devices: a device name appears twice; names must be unique")
    n = len(holders)
    for i in devices:
        if not 0 <= i < n:
            raise CertificateError(f"devices: holder {i} is outside 0..{n - 1}")


class SlotCertificateWriter:
    """The certificate events of :class:`~ledger.certificates.CertificateRegistry`, for the
    simulator's fixed order of operations, written straight as canonical JSON.

    Holders are numbered ``0 .. n-1`` (their names given once); a holder with a storage device
    has one (``devices``) with the tag its discharge certificates carry. Each slot, in this
    order (each call once or not at all, the order of the registry calls the simulator's
    recorder makes)::

        writer.begin_slot(slot)
        writer.issue(holders, wh, "pv")          # metered generation
        writer.discharge(holders, wh)            # storage discharge
        writer.transfer(trades, tags)            # per trade, with the storage fallback
        writer.charge(holders, wh)               # storage charging
        writer.lose(holders, wh)                 # conversion losses, PHV driving
        writer.consume(holders, wh)              # metered consumption
        events = writer.end_slot(exported_wh)    # canonical JSON of each event, in order

    The events are byte for byte ``trusted_json`` of the registry's for the same calls (same
    ids, ranges and order; tested on random flows and on simulated episodes); stored ranges
    persist across slots as the registry's do. The writer does not check its events against a
    :class:`~ledger.certificates.CertificateBook` (``Ledger.verify`` and a ledger that checks
    certificates on append do); it refuses negative amounts and the calls the registry refuses.

    Args:
        holders: Holder names (agent ids), unique.
        devices: Storage device name of each holder that has one, by holder number.
        discharge_tags: Tag of each device's discharge certificates (``battery``, ``phv``), by
            holder number; the same holders as ``devices``.

    Raises:
        CertificateError: A holder name repeats, or ``devices`` and ``discharge_tags`` name
            different holders.
    """

    def __init__(
        self,
        holders: Sequence[str],
        devices: Mapping[int, str],
        discharge_tags: Mapping[int, str],
    ) -> None:
        check_holders(holders, devices, discharge_tags)
        self.holders = tuple(holders)
        self._names = [canonical_json(h, "holder") for h in holders]
        self._devices = {i: canonical_json(d, "device") for i, d in devices.items()}
        self._discharge_tags = dict(discharge_tags)
        self._discharge_tag_json = {i: canonical_json(t, "tag") for i, t in discharge_tags.items()}
        self._generation_devices: dict[str, list[bytes]] = {}
        self._tag_json: dict[str, bytes] = {}
        self._stores: dict[int, list[_Lot]] = {i: [] for i in devices}
        self._held: dict[int, list[_Lot]] = {}
        self._events: list[bytes] = []
        self._slot: int | None = None
        self._serial = 0

    def reset(self) -> None:
        """Forget every stored certificate and any open slot: a new run (episode) starts."""
        self._stores = {i: [] for i in self._devices}
        self._held = {}
        self._events = []
        self._slot = None
        self._serial = 0

    # -- state ---------------------------------------------------------------------------------

    def stored_wh(self, holder: int) -> int:
        """Wh of certificates stored in ``holder``'s device (0 without one)."""
        return sum(lot[2] - lot[1] for lot in self._stores.get(holder, ()))

    def held_wh(self, holder: int) -> int:
        """Wh of live certificates ``holder`` holds now."""
        return sum(lot[2] - lot[1] for lot in self._held.get(holder, ()))

    # -- one slot ------------------------------------------------------------------------------

    def begin_slot(self, slot: int) -> None:
        """Start the events of ``slot`` (a non-negative integer, the ledger block's slot).

        Raises:
            CertificateError: If ``slot`` is not a non-negative integer or a slot is open.
        """
        if type(slot) is not int or slot < 0:
            raise CertificateError(f"slot must be a non-negative integer, got {slot!r}")
        if self._slot is not None:
            raise CertificateError(f"slot {self._slot} is still open; call end_slot first")
        self._slot = slot
        self._serial = 0

    def _open(self) -> int:
        if self._slot is None:
            raise CertificateError("no slot is open: call begin_slot(slot) first")
        return self._slot

    def issue(self, holders: Sequence[int], wh: Sequence[int], tag: str) -> None:
        """Production certificates for each holder's metered generation (0 issues nothing).

        The device is ``"<holder>/<tag>"``, as the registry's default.
        """
        slot = self._open()
        devices = self._generation_devices.get(tag)
        if devices is None:
            devices = [canonical_json(f"{h}/{tag}", "device") for h in self.holders]
            self._generation_devices[tag] = devices
        tag_json = self._tag(tag)
        names, held, out, serial = self._names, self._held, self._events, self._serial
        for i, amount in zip(holders, wh, strict=True):
            if amount <= 0:
                if amount:
                    raise _negative("issue", self.holders[i], amount)
                continue
            cert = b"%d-%d" % (slot, serial)
            serial += 1
            name = names[i]
            origin = _ORIGIN % (name, slot, tag_json)
            out.append(_ISSUE % (cert, devices[i], name, origin, slot, tag_json, amount))
            lot = [cert, 0, amount, tag, origin]
            lots = held.get(i)
            if lots is None:
                held[i] = [lot]
            else:
                lots.append(lot)
        self._serial = serial

    def discharge(self, holders: Sequence[int], wh: Sequence[int]) -> None:
        """Storage-discharge certificates drawn first in, first out from each holder's device.

        Discharge beyond the stored certificates (energy charged from the grid) gets none.
        """
        slot = self._open()
        names, held, out, serial = self._names, self._held, self._events, self._serial
        for i, amount in zip(holders, wh, strict=True):
            if amount <= 0:
                if amount:
                    raise _negative("discharge", self.holders[i], amount)
                continue
            store = self._store(i)
            if not store:
                continue
            device, name = self._devices[i], names[i]
            tag, tag_json = self._discharge_tags[i], self._discharge_tag_json[i]
            lots = held.get(i)
            if lots is None:
                lots = held[i] = []
            while amount and store:
                lot = store[0]
                start = lot[1]
                size = lot[2] - start
                take = size if size < amount else amount
                cert = b"%d-%d" % (slot, serial)
                serial += 1
                origin = lot[4]
                out.append(
                    _ISSUE_STORED
                    % (cert, device, name, origin, slot, lot[0], start, take, tag_json, take)
                )
                lots.append([cert, 0, take, tag, origin])
                if take == size:
                    del store[0]
                else:
                    lot[1] = start + take
                amount -= take
        self._serial = serial

    def transfer(self, trades: Sequence[Sequence[int]], tags: Sequence[str]) -> None:
        """Move each trade's certificates from seller to buyer.

        The k-th trade ``(buyer, seller, tag index, wh, ...)`` (further items are ignored) moves
        up to ``wh`` of the seller's certificates of ``tags[tag index]``, then, if fewer were
        held and the seller has a device whose discharge tag differs, up to the rest of its
        storage-discharge certificates (a prosumer selling from its battery); the events name
        the trade ``"t<k>"``. The rest is uncertified energy.

        Raises:
            CertificateError: A trade's seller is its buyer, or its Wh are negative.
        """
        self._open()
        rest_tags = self._discharge_tags
        for k, trade in enumerate(trades):
            buyer, seller, tag, amount = trade[0], trade[1], tags[trade[2]], trade[3]
            if seller == buyer:
                raise CertificateError(
                    f"transfer: seller and buyer are both {self.holders[seller]!r}"
                )
            if amount <= 0:
                if amount:
                    raise _negative("transfer", self.holders[seller], amount)
                continue
            moved = self._move(seller, buyer, tag, amount, k)
            if moved < amount:
                rest = rest_tags.get(seller)
                if rest is not None and rest != tag:
                    self._move(seller, buyer, rest, amount - moved, k)

    def _move(self, seller: int, buyer: int, tag: str, amount: int, k: int) -> int:
        lots = self._held.get(seller)
        if not lots:
            return 0
        slot, out = self._slot, self._events
        names = self._names
        keep: list[_Lot] = []
        dest: list[_Lot] | None = None
        moved = 0
        for lot in lots:
            if amount and lot[3] == tag:
                start = lot[1]
                size = lot[2] - start
                take = size if size < amount else amount
                if dest is None:
                    dest = self._held.get(buyer)
                    if dest is None:
                        dest = self._held[buyer] = []
                out.append(_TRANSFER % (lot[0], names[seller], slot, start, names[buyer], k, take))
                dest.append([lot[0], start, start + take, tag, lot[4]])
                moved += take
                amount -= take
                if take < size:
                    lot[1] = start + take
                    keep.append(lot)
            else:
                keep.append(lot)
        self._held[seller] = keep
        return moved

    def charge(self, holders: Sequence[int], wh: Sequence[int]) -> None:
        """Store up to ``wh`` of each holder's certificates (any tag) in its device."""
        slot = self._open()
        held, out = self._held, self._events
        for i, amount in zip(holders, wh, strict=True):
            if amount <= 0:
                if amount:
                    raise _negative("charge", self.holders[i], amount)
                continue
            store = self._store(i)
            lots = held.get(i)
            if not lots:
                continue
            device, name = self._devices[i], self._names[i]
            used = 0
            for lot in lots:
                start = lot[1]
                size = lot[2] - start
                take = size if size < amount else amount
                out.append(_STORE % (lot[0], device, name, slot, start, take))
                store.append([lot[0], start, start + take, lot[3], lot[4]])
                amount -= take
                if take < size:
                    lot[1] = start + take
                    break
                used += 1
                if not amount:
                    break
            del lots[:used]

    def lose(self, holders: Sequence[int], wh: Sequence[int]) -> None:
        """Remove up to ``wh`` of stored certificates from each holder's device (losses)."""
        slot = self._open()
        out = self._events
        for i, amount in zip(holders, wh, strict=True):
            if amount <= 0:
                if amount:
                    raise _negative("lose", self.holders[i], amount)
                continue
            store = self._store(i)
            device = self._devices[i]
            while amount and store:
                lot = store[0]
                start = lot[1]
                size = lot[2] - start
                take = size if size < amount else amount
                out.append(_LOSE % (lot[0], device, slot, start, take))
                if take == size:
                    del store[0]
                else:
                    lot[1] = start + take
                amount -= take

    def consume(self, holders: Sequence[int], wh: Sequence[int]) -> None:
        """Record each holder's metered consumption and cancel its certificates against it.

        A ``consume`` event is written for every holder given, 0 Wh included (as the registry).
        """
        slot = self._open()
        held, out, names = self._held, self._events, self._names
        for i, amount in zip(holders, wh, strict=True):
            if amount < 0:
                raise _negative("consume", self.holders[i], amount)
            name = names[i]
            out.append(_CONSUME % (name, slot, amount))
            lots = held.get(i)
            if not amount or not lots:
                continue
            used = 0
            for lot in lots:
                start = lot[1]
                size = lot[2] - start
                take = size if size < amount else amount
                out.append(_CANCEL % (lot[0], name, slot, start, take))
                amount -= take
                if take < size:
                    lot[1] = start + take
                    break
                used += 1
                if not amount:
                    break
            del lots[:used]

    def end_slot(self, exported: Sequence[int] | None = None) -> list[bytes]:
        """Close the slot and return its events (canonical JSON each), in order.

        Args:
            exported: Per holder number, metered export to the grid in Wh: certificates still
                held are exported up to it and the rest expire. ``None`` exports them all.

        Raises:
            CertificateError: If an export amount is negative.
        """
        slot = self._open()
        out, names = self._events, self._names
        for i, lots in self._held.items():
            cap = None if exported is None else exported[i]
            if cap is not None and cap < 0:
                raise CertificateError(
                    f"exported must be a non-negative integer number of Wh, got {cap!r} "
                    f"for {self.holders[i]!r}"
                )
            name = names[i]
            for lot in lots:
                start = lot[1]
                size = lot[2] - start
                done = size if cap is None or cap > size else cap
                if cap is not None:
                    cap -= done
                if done:
                    out.append(_EXPORT % (lot[0], name, slot, start, done))
                if done < size:
                    out.append(_EXPIRE % (lot[0], name, slot, start + done, size - done))
        self._held.clear()
        self._events = []
        self._slot = None
        return out

    def write_slot(
        self,
        slot: int,
        *,
        generation: Amounts,
        discharge: Amounts,
        trades: Sequence[Sequence[int]] | NDArray[np.integer],
        tags: Sequence[str],
        charge: Amounts,
        drawn: Amounts,
        consumption: Amounts,
        exported: Amounts | None,
        issue_tag: str = "pv",
    ) -> JoinedBodies:
        """A whole slot, the calls of the class docstring in their order, with every holder's
        amount given (Wh per holder number; a holder with 0 is left out of its call, so 0 Wh
        consumed writes no ``consume`` event). ``generation`` issues ``issue_tag``
        certificates; ``trades`` and ``tags`` are :meth:`transfer`'s, ``exported``
        :meth:`end_slot`'s. The events are joined by newlines, as
        :class:`ledger.slot_events.CompiledCertificateWriter` writes them.

        Raises:
            CertificateError: As the calls, or if an amount is not an integer.
        """
        self.begin_slot(slot)
        self.issue(*_given(generation, "generation"), issue_tag)
        self.discharge(*_given(discharge, "discharge"))
        rows = trades.tolist() if isinstance(trades, np.ndarray) else trades
        if len(rows):
            self.transfer(rows, tags)
        self.charge(*_given(charge, "charge"))
        self.lose(*_given(drawn, "drawn"))
        self.consume(*_given(consumption, "consumption"))
        cap = exported.tolist() if isinstance(exported, np.ndarray) else exported
        events = self.end_slot(cap)
        return JoinedBodies(b"\n".join(events), len(events))

    def _store(self, holder: int) -> list[_Lot]:
        store = self._stores.get(holder)
        if store is None:
            raise CertificateError(f"holder {self.holders[holder]!r} has no storage device")
        return store

    def _tag(self, tag: str) -> bytes:
        encoded = self._tag_json.get(tag)
        if encoded is None:
            encoded = self._tag_json[tag] = canonical_json(tag, "tag")
        return encoded


def _given(values: Amounts, name: str) -> tuple[list[int], list[int]]:
    """The holders with a non-zero amount and their amounts (plain ints)."""
    array = np.asarray(values)
    if not array.size:
        return [], []
    if array.dtype.kind not in "iu":
        raise CertificateError(f"{name} must hold integer Wh, got dtype {array.dtype}")
    index = array.nonzero()[0]
    return index.tolist(), array[index].tolist()


def _negative(what: str, holder: str, amount: int) -> CertificateError:
    return CertificateError(
        f"{what} of {holder!r}: wh must be a non-negative integer number of Wh, got {amount!r}"
    )
