"""A slot's certificate events in one compiled call.

:class:`ledger.fast.SlotCertificateWriter` writes the events of the simulator's order of
certificate calls as canonical JSON, a few Python operations an event; a 20,000-home community
has some 60,000 events a slot. :class:`CompiledCertificateWriter` does a whole slot
(:meth:`~ledger.fast.SlotCertificateWriter.write_slot`) in one numba call
(:mod:`ledger._cert_kernel`), with the same bytes: it formats the reference writer's own
%-formats, cut into chunks, and its certificates follow the same rules (tested against the
writer, which is tested against :class:`~ledger.certificates.CertificateRegistry`).

:func:`certificate_writer` gives the compiled writer where numba runs and the reference writer
elsewhere; :func:`events_backend` says which and why.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from ledger import _cert_layout as L
from ledger.canonical import canonical_json
from ledger.errors import CertificateError
from ledger.fast import (
    _CANCEL,
    _CONSUME,
    _EXPIRE,
    _EXPORT,
    _ISSUE,
    _ISSUE_STORED,
    _LOSE,
    _ORIGIN,
    _STORE,
    _TRANSFER,
    Amounts,
    SlotCertificateWriter,
    check_holders,
    literal_chunks,
)
from ledger.hashing import JoinedBodies

_CERT, _INT, _NAME, _DEVICE, _ORIG, _TAG = L.CERT, L.INT, L.NAME, L.DEVICE, L.ORIGIN, L.TAG_TEXT
_TEMPLATES: tuple[tuple[bytes, tuple[int, ...]], ...] = (
    # In the kernel's template order: the reference's %-format and its fields' kinds.
    (_ISSUE, (_CERT, L.GENERATION_DEVICE, _NAME, _ORIG, _INT, _TAG, _INT)),
    (_ISSUE_STORED, (_CERT, _DEVICE, _NAME, _ORIG, _INT, _CERT, _INT, _INT, _TAG, _INT)),
    (_TRANSFER, (_CERT, _NAME, _INT, _INT, _NAME, _INT, _INT)),
    (_STORE, (_CERT, _DEVICE, _NAME, _INT, _INT, _INT)),
    (_LOSE, (_CERT, _DEVICE, _INT, _INT, _INT)),
    (_CONSUME, (_NAME, _INT, _INT)),
    (_CANCEL, (_CERT, _NAME, _INT, _INT, _INT)),
    (_EXPORT, (_CERT, _NAME, _INT, _INT, _INT)),
    (_EXPIRE, (_CERT, _NAME, _INT, _INT, _INT)),
    (_ORIGIN, (_NAME, _INT, _TAG)),  # the kernel writes these three in line
)
_WIDTH = {_INT: 20, _CERT: 41}  # the longest int64, two of them and a "-"


class SlotWriter(Protocol):
    """What the simulator's recorder needs of a certificate writer."""

    def reset(self) -> None:
        """Forget every stored certificate: a new run starts."""
        ...

    def stored_wh(self, holder: int) -> int:
        """Wh of certificates stored in ``holder``'s device."""
        ...

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
        """One slot's events (see :meth:`ledger.fast.SlotCertificateWriter.write_slot`)."""
        ...


class CompiledCertificateWriter:
    """:meth:`ledger.fast.SlotCertificateWriter.write_slot` in one compiled call a slot.

    The same arguments, events and errors as the reference writer's ``write_slot``
    (``trades`` as an integer array or rows; amounts as integer arrays or lists), except
    that an invalid input is refused before anything is written or changed. Build it with
    :func:`certificate_writer`, which falls back to the reference where numba does not run.

    Raises:
        CertificateError: As :class:`~ledger.fast.SlotCertificateWriter`.
        RuntimeError: If the compiled kernel is unavailable (:func:`events_backend` says why).
    """

    def __init__(
        self,
        holders: Sequence[str],
        devices: Mapping[int, str],
        discharge_tags: Mapping[int, str],
    ) -> None:
        check_holders(holders, devices, discharge_tags)
        kernel = _load()
        if kernel is None:
            raise RuntimeError(f"the compiled certificate writer is unavailable: {_backend}")
        self._kernel = kernel
        self.holders = tuple(holders)
        n = len(holders)
        self._names = [canonical_json(h, "holder") for h in holders]
        self._devices = [
            canonical_json(devices[i], "device") if i in devices else b"" for i in range(n)
        ]
        self._tag_ids: dict[str, int] = {}
        self._dtag = np.full(n, -1, dtype=np.int64)
        for i, tag in discharge_tags.items():
            self._dtag[i] = self._tag_id(tag)
        self._issue_tag: str | None = None
        self._tables: tuple[Any, ...] | None = None
        self._room = np.zeros(len(_TEMPLATES), dtype=np.int64)
        self._market: dict[tuple[str, ...], NDArray[np.int64]] = {}
        self._listed = np.zeros(n, dtype=np.uint8)
        self._order = np.zeros(n, dtype=np.int64)
        self._lots = np.empty((1024, L.LOT_FIELDS), dtype=np.int64)
        self._events = np.empty((1024, L.EVENT_FIELDS), dtype=np.int64)
        self._out = np.empty(1 << 16, dtype=np.uint8)
        self._batch: _WriterBatch | None = None  # write_slots' state lists, led by this one
        self._batch_text = np.empty(1 << 16, dtype=np.uint8)
        self._version = 0
        self.reset()

    def reset(self) -> None:
        """Forget every stored certificate: a new run (episode) starts."""
        self._heads = np.full((4, len(self.holders)), -1, dtype=np.int64)
        self._meta = np.array([-1, 0, 0, 0], dtype=np.int64)  # FREE, USED, LIVE, STORED
        self._version += 1  # its state arrays are new (write_slots' lists follow)

    def stored_wh(self, holder: int) -> int:
        """Wh of certificates stored in ``holder``'s device (0 without one)."""
        return self._wh(L.STORE_HEAD, holder)

    def held_wh(self, holder: int) -> int:
        """Wh of live certificates ``holder`` holds now (0 between slots)."""
        return self._wh(L.HELD_HEAD, holder)

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
        """One slot's events (see :meth:`ledger.fast.SlotCertificateWriter.write_slot`)."""
        if type(slot) is not int or slot < 0:
            raise CertificateError(f"slot must be a non-negative integer, got {slot!r}")
        n = len(self.holders)
        given = (generation, discharge, charge, drawn, consumption)
        amounts = _stacked(given, n)
        if amounts is None:  # not five int64 rows: convert each, or say which is wrong
            amounts = np.empty((5, n), dtype=np.int64)
            for row, (name, values) in enumerate(zip(L.AMOUNT_ROWS, given, strict=True)):
                amounts[row] = _integers(values, name, n)
        table = _trade_table(trades)
        market = self._market.get(tuple(tags))
        if market is None:
            market = np.array([self._tag_id(t) for t in tags], dtype=np.int64)
            self._market[tuple(tags)] = market
        export_all = exported is None
        cap = amounts[0] if exported is None else _integers(exported, "exported", n)
        tables = self._tables_for(issue_tag)
        # The columns as rows of one C-ordered array (a view of a transposed table's rows).
        columns = np.ascontiguousarray(table.T)
        while True:
            status, what, index, events, out, size, count = self._kernel(
                slot,
                amounts,
                columns,
                cap,
                export_all,
                market,
                self._tag_ids[issue_tag],
                self._dtag,
                self._lots,
                self._heads,
                self._meta,
                self._listed,
                self._order,
                tables,
                self._room,
                self._events,
                self._out,
            )
            self._events, self._out = events, out  # kept for the next slot, grown or not
            if status != L.NEED_LOTS:
                break
            self._grow(int(index))
        if status != L.OK:
            raise self._error(status, what, index, amounts, table, cap, tags)
        return JoinedBodies(out[:size].tobytes(), int(count))

    @staticmethod
    def write_slots(
        writers: Sequence[CompiledCertificateWriter],
        slots: Sequence[int],
        amounts: NDArray[np.int64],
        trades: NDArray[np.int64],
        trade_starts: Sequence[int],
        exported: NDArray[np.int64],
        tags: Sequence[str],
        issue_tag: str = "pv",
    ) -> list[JoinedBodies]:
        """:meth:`write_slot` of one slot of each writer (``B`` communities of one layout, a
        writer each), in one compiled call: the same events, state and errors.

        Args:
            writers: The writers, all of the same holders, devices and discharge tags.
            slots: Per writer, its slot.
            amounts: ``B x 5 x holders`` int64: generation, discharge, charge, drawn and
                consumption Wh, as :meth:`write_slot` takes them.
            trades: ``4 x trades`` int64 (buyer, seller, tag index, Wh), writer after writer.
            trade_starts: ``B + 1`` offsets: writer ``b``'s trades are columns
                ``trade_starts[b]:trade_starts[b + 1]``.
            exported: ``B x holders`` int64: each holder's metered export.
            tags: The tag of each tag index.
            issue_tag: As :meth:`write_slot`.

        Raises:
            CertificateError: As :meth:`write_slot`, for the first writer whose slot is
                invalid; the writers before it have written theirs.
            ValueError: If the writers are not of one layout, or the arrays not of the batch.
        """
        lead = writers[0]
        n_batch, n = len(writers), len(lead.holders)
        if (
            amounts.dtype != np.int64
            or amounts.shape != (n_batch, len(L.AMOUNT_ROWS), n)
            or exported.dtype != np.int64
            or exported.shape != (n_batch, n)
            or trades.dtype != np.int64
            or trades.ndim != 2
            or trades.shape[0] != 4
            or len(slots) != n_batch
            or len(trade_starts) != n_batch + 1
        ):
            raise ValueError(
                "write_slots: amounts must be int64 (writers, 5, holders), exported (writers, "
                "holders), trades (4, trades), with a slot per writer and writers + 1 trade "
                f"starts; got {amounts.dtype} {amounts.shape}, {exported.dtype} "
                f"{exported.shape}, {trades.dtype} {trades.shape}, {len(slots)} slots and "
                f"{len(trade_starts)} starts for {n_batch} writers"
            )
        for slot in slots:
            if type(slot) is not int or slot < 0:
                raise CertificateError(f"slot must be a non-negative integer, got {slot!r}")
        # Every writer learns the tags in the same order, so their ids (kept in stored lots)
        # are the lead's, whose tables the batch writes with.
        for writer in writers:
            for tag in (issue_tag, *tags):
                writer._tag_id(tag)
            if writer.holders != lead.holders or writer._tag_ids != lead._tag_ids:
                raise ValueError("write_slots: the writers are not of one layout")
        market = lead._market.get(tuple(tags))
        if market is None:
            market = np.array([lead._tag_id(t) for t in tags], dtype=np.int64)
            lead._market[tuple(tags)] = market
        tables = lead._tables_for(issue_tag)
        batch = lead._batch_of(writers)
        starts = np.asarray(trade_starts, dtype=np.int64)
        ends = np.zeros(n_batch, dtype=np.int64)
        counts = np.zeros(n_batch, dtype=np.int64)
        text = lead._batch_text
        slot_array = np.asarray(slots, dtype=np.int64)
        first = 0
        while True:
            batch.refresh()
            stop, status, what, index, events, out, text = _batch_kernel()(
                first,
                slot_array,
                amounts,
                trades,
                starts,
                exported,
                False,
                market,
                lead._tag_ids[issue_tag],
                lead._dtag,
                batch.lots,
                batch.heads,
                batch.meta,
                lead._listed,
                lead._order,
                tables,
                lead._room,
                lead._events,
                lead._out,
                text,
                ends,
                counts,
            )
            lead._events, lead._out, lead._batch_text = events, out, text
            if status == L.OK:
                break
            writer = writers[stop]
            if status != L.NEED_LOTS:
                t0, t1 = trade_starts[stop], trade_starts[stop + 1]
                raise writer._error(
                    status, what, index, amounts[stop], trades[:, t0:t1].T, exported[stop], tags
                )
            writer._grow(int(index))
            first = stop
        data = text[: ends[-1]].tobytes() if n_batch else b""
        bounds = [0, *ends.tolist()]
        return [
            JoinedBodies(data[bounds[b] : bounds[b + 1]], count)
            for b, count in enumerate(counts.tolist())
        ]

    # ------------------------------------------------------------------------------------------

    def _grow(self, rows: int) -> None:
        """A larger lot pool of at least ``rows`` rows (nothing else changes): the live lots
        keep their rows."""
        lots = np.empty((max(2 * len(self._lots), rows), L.LOT_FIELDS), dtype=np.int64)
        used = int(self._meta[L.USED])
        lots[:used] = self._lots[:used]
        self._lots = lots
        self._version += 1

    def _batch_of(self, writers: Sequence[CompiledCertificateWriter]) -> _WriterBatch:
        """The state lists of ``writers`` for the batch kernel (kept while they are the same
        writers)."""
        batch = self._batch
        if (
            batch is None
            or len(batch.writers) != len(writers)
            or any(a is not b for a, b in zip(batch.writers, writers, strict=True))
        ):
            batch = self._batch = _WriterBatch(tuple(writers))
        return batch

    def _wh(self, head: int, holder: int) -> int:
        lots, total = self._lots, 0
        row = int(self._heads[head, holder])
        while row >= 0:
            total += int(lots[row, L.END] - lots[row, L.START])
            row = int(lots[row, L.NEXT])
        return total

    def _tag_id(self, tag: str) -> int:
        found = self._tag_ids.get(tag)
        if found is None:
            canonical_json(tag, "tag")  # a tag must be canonical text
            found = self._tag_ids[tag] = len(self._tag_ids)
            self._tables = None  # its text is not in the tables yet
        return found

    def _tables_for(self, issue_tag: str) -> tuple[Any, ...]:
        """The kernel's text tables (see :mod:`ledger._cert_kernel`), built when a tag is new."""
        self._tag_id(issue_tag)
        if self._tables is not None and self._issue_tag == issue_tag:
            return self._tables
        texts: list[bytes] = []
        chunk_of = np.zeros((len(_TEMPLATES), 12), dtype=np.int64)
        kind_of = np.zeros((len(_TEMPLATES), 11), dtype=np.int64)
        nfields = np.zeros(len(_TEMPLATES), dtype=np.int64)
        literal = []
        for t, (fmt, kinds) in enumerate(_TEMPLATES):
            chunks = literal_chunks(fmt)
            if len(chunks) != len(kinds) + 1:
                raise AssertionError(f"template {t} has {len(chunks) - 1} fields, not {len(kinds)}")
            for j, chunk in enumerate(chunks):
                chunk_of[t, j] = len(texts)
                texts.append(chunk)
            kind_of[t, : len(kinds)] = kinds
            nfields[t] = len(kinds)
            literal.append(sum(map(len, chunks)))
        holders = len(self.holders)
        tag_texts = [canonical_json(t, "tag") for t in self._tag_ids]  # in id order
        generation = [canonical_json(f"{h}/{issue_tag}", "device") for h in self.holders]
        bases = np.zeros(7, dtype=np.int64)
        for kind, items in (
            (_NAME, self._names),
            (_DEVICE, self._devices),
            (L.GENERATION_DEVICE, generation),
            (_TAG, tag_texts),
        ):
            bases[kind] = len(texts)
            texts += items
        assert len(texts) == bases[_TAG] + len(tag_texts)
        assert holders == len(generation)
        widest = {
            _INT: _WIDTH[_INT],
            _CERT: _WIDTH[_CERT],
            _NAME: max(map(len, self._names), default=0),
            _DEVICE: max(map(len, self._devices), default=0),
            L.GENERATION_DEVICE: max(map(len, generation), default=0),
            _TAG: max(map(len, tag_texts)),
        }
        widest[_ORIG] = literal[L.ORIGIN_OF] + sum(widest[k] for k in _TEMPLATES[L.ORIGIN_OF][1])
        # Per template, the most bytes an event takes, with its newline.
        self._room = np.array(
            [
                1 + literal[t] + sum(widest[k] for k in kinds)
                for t, (_, kinds) in enumerate(_TEMPLATES)
            ],
            dtype=np.int64,
        )
        starts = np.zeros(len(texts) + 1, dtype=np.int64)
        np.cumsum([len(t) for t in texts], out=starts[1:])
        text = np.frombuffer(b"".join(texts) or b"\0", dtype=np.uint8)
        self._tables = (chunk_of, kind_of, nfields, text, starts, bases)
        self._issue_tag = issue_tag
        return self._tables

    def _error(
        self,
        status: int,
        what: int,
        index: int,
        amounts: NDArray[np.int64],
        table: NDArray[np.int64],
        exported: NDArray[np.int64],
        tags: Sequence[str],
    ) -> CertificateError:
        """The reference writer's error for the kernel's ``(status, what, index)``."""
        holders = self.holders
        if status == L.BAD_INDEX:
            k, n = int(index), len(holders)
            if what == L.TRADE_TAG:
                return CertificateError(
                    f"trade {k}: tag index {table[k, 2]} is outside 0..{len(tags) - 1}"
                )
            return CertificateError(
                f"trade {k}: buyer {table[k, 0]} or seller {table[k, 1]} is outside 0..{n - 1}"
            )
        if status == L.SAME_HOLDER:
            return CertificateError(
                f"transfer: seller and buyer are both {holders[int(table[index, 1])]!r}"
            )
        calls = ("issue", "discharge", "transfer", "charge", "lose", "consume")
        if status == L.NO_DEVICE:
            return CertificateError(f"holder {holders[int(index)]!r} has no storage device")
        if what == L.EXPORTED:
            return CertificateError(
                f"exported must be a non-negative integer number of Wh, got "
                f"{int(exported[index])!r} for {holders[int(index)]!r}"
            )
        if what == L.TRADE:
            holder, amount = holders[int(table[index, 1])], int(table[index, 3])
        else:
            row = what if what < L.TRADE else what - 1
            holder, amount = holders[int(index)], int(amounts[row, index])
        return CertificateError(
            f"{calls[what]} of {holder!r}: wh must be a non-negative integer number of Wh, "
            f"got {amount!r}"
        )


class _WriterBatch:
    """The writers of a batch and their state arrays as numba typed lists (what
    :func:`ledger._cert_kernel.write_slots` takes), brought up to date when a writer replaced
    an array (a reset, a larger pool)."""

    def __init__(self, writers: tuple[CompiledCertificateWriter, ...]) -> None:
        from numba.typed import List

        self.writers = writers
        self.lots: Any = List([w._lots for w in writers])
        self.heads: Any = List([w._heads for w in writers])
        self.meta: Any = List([w._meta for w in writers])
        self.versions = [w._version for w in writers]
        # numba compiles a typed list's methods in every process, on first use (about 0.4 s
        # for the lists, 0.14 s for an item assignment): assign once here, so that the first
        # reset or larger pool (refresh) does not pay it in the middle of a run.
        self.lots[0], self.heads[0], self.meta[0] = self.lots[0], self.heads[0], self.meta[0]

    def refresh(self) -> None:
        for b, writer in enumerate(self.writers):
            if writer._version != self.versions[b]:
                self.lots[b], self.heads[b], self.meta[b] = (
                    writer._lots,
                    writer._heads,
                    writer._meta,
                )
                self.versions[b] = writer._version


def certificate_writer(
    holders: Sequence[str], devices: Mapping[int, str], discharge_tags: Mapping[int, str]
) -> SlotWriter:
    """The compiled writer where it runs (:func:`events_backend`), else the reference one."""
    if _load() is None:
        return SlotCertificateWriter(holders, devices, discharge_tags)
    return CompiledCertificateWriter(holders, devices, discharge_tags)


def events_backend() -> str:
    """``"compiled"``, or ``"python"`` with the reason the kernel is unavailable."""
    _load()
    assert _backend is not None
    return _backend


def use_python(python: bool = True) -> None:
    """Make :func:`certificate_writer` give the reference writer (``False``: probe again)."""
    global _kernel, _backend
    _kernel, _backend = (None, "python (chosen by use_python)") if python else (None, None)


def _stacked(given: tuple[Amounts, ...], n: int) -> NDArray[np.int64] | None:
    """``given`` as one ``len(given) x n`` int64 array, or ``None`` if that is not what they
    make (another dtype or length): the simulator's case in one numpy call."""
    try:
        stacked = np.array(given)
    except ValueError:  # rows of different lengths
        return None
    if stacked.dtype != np.int64 or stacked.shape != (len(given), n):
        return None
    return stacked


def _integers(values: Amounts, name: str, n: int) -> NDArray[np.int64]:
    array = np.asarray(values)
    if array.shape != (n,):
        raise CertificateError(
            f"{name} must give one amount per holder ({n}), got shape {array.shape}"
        )
    if array.dtype.kind not in "iu" and array.size:
        raise CertificateError(f"{name} must hold integer Wh, got dtype {array.dtype}")
    return array.astype(np.int64, copy=False)


def _trade_table(trades: Sequence[Sequence[int]] | NDArray[np.integer]) -> NDArray[np.int64]:
    """``k x 4`` int64: buyer, seller, tag index, Wh (further columns are ignored)."""
    table = np.asarray(trades)
    if not table.size:
        return np.zeros((0, 4), dtype=np.int64)
    if table.ndim != 2 or table.shape[1] < 4 or table.dtype.kind not in "iu":
        raise CertificateError(
            "trades must be rows (buyer, seller, tag index, Wh, ...) of integers, got "
            f"an array of shape {table.shape} and dtype {table.dtype}"
        )
    return table[:, :4].astype(np.int64, copy=False)


_Kernel = Callable[..., tuple[Any, ...]]
_kernel: _Kernel | None = None
_backend: str | None = None


_writes: _Kernel | None = None


def _batch_kernel() -> _Kernel:
    """:func:`ledger._cert_kernel.write_slots` (loaded with the writers' kernel)."""
    global _writes
    if _writes is None:
        from ledger import _cert_kernel

        _writes = _cert_kernel.write_slots
    return _writes


def _load() -> _Kernel | None:
    global _kernel, _backend
    if _backend is not None:
        return _kernel
    try:
        from ledger import _cert_kernel

        _kernel, _backend = _cert_kernel.write_slot, "compiled"
        # Prove it (and compile it, or load numba's cache) against the reference writer.
        if not _probe():
            _kernel, _backend = None, "python (the kernel wrote other events)"
    except Exception as exc:  # any failure means: the reference writer, and say why
        _kernel, _backend = None, f"python (kernel unavailable: {exc!r})"
    return _kernel


def _probe() -> bool:
    """Whether the kernel writes the reference's events over two slots that use every call."""
    names, devices, dtags = (
        ["a", 'b"q', "c"],
        {0: "a/battery", 1: "b/phv"},
        {0: "battery", 1: "phv"},
    )
    compiled = CompiledCertificateWriter(names, devices, dtags)
    reference = SlotCertificateWriter(names, devices, dtags)
    slots = [
        {
            "generation": [50, 7, 30],
            "discharge": [0, 0, 0],
            "charge": [20, 0, 0],
            "drawn": [0, 0, 0],
            "consumption": [5, 0, 9],
            "trades": [(1, 0, 0, 12, 9), (2, 1, 0, 3, 9)],
            "exported": [3, 0, 0],
        },
        {
            "generation": [0, 0, 4],
            "discharge": [15, 0, 0],
            "charge": [0, 0, 0],
            "drawn": [3, 0, 0],
            "consumption": [0, 9, 1],
            "trades": [(1, 0, 1, 20, 9)],
            "exported": None,
        },
    ]
    for slot, flows in enumerate(slots):
        args: dict[str, Any] = dict(flows, tags=("pv", "battery", "phv"))
        if compiled.write_slot(slot, **args) != reference.write_slot(slot, **args):
            return False
    return compiled.stored_wh(0) == reference.stored_wh(0)
