"""Origin certificates after EnergyTag Granular Certificates (GCs), in whole Wh.

Every certificate is a *bundle* of Wh numbered ``0 .. wh-1`` (EnergyTag's certificate ID ranges),
issued once under a unique id. Events move or retire *ranges* ``[start, start + wh)`` of a bundle,
so that "no Wh is cancelled twice" is checked Wh by Wh, not only in totals.

Lifecycle within one delivery slot (a certificate lives only in the slot it was issued in):

* ``issue``: metered generation of ``holder``'s ``device`` creates a bundle of ``wh`` with the
  generation ``tag`` (``pv``, ...), ``storage: false`` and ``origin`` = (holder, tag, slot).
* ``transfer``: a trade moves a range from seller to buyer (``trade`` names the trade).
* ``consume``: the holder's metered consumption in the slot (Wh); it bounds what may be cancelled.
* ``cancel``: a range is retired against the holder's consumption in the same slot.
* ``store``: a range is retired into a storage ``device`` (battery, PHV) that the holder charges:
  EnergyTag's storage-charge cancellation. The stored Wh keep their origin in the device.
* ``issue`` with ``storage: true``: discharging the device issues a storage-discharge bundle to
  the holder, tag of the device (``battery``, ``phv``), drawn from a stored range named by
  ``source``, with the *original* ``origin`` (producer, tag, slot): energy that passes through a
  battery keeps its origin. A stored range is drawn at most once.
* ``lose``: a stored range leaves the device as conversion losses.
* ``export`` / ``expire``: whatever is still held at the end of the slot went to the grid or
  lapses.

Invariant, per slot and tag (checked at every block): ``issued = cancelled + exported + expired``
where *cancelled* counts retirements against consumption, including a storage device's
(``cancelled = consumed + stored`` in :class:`SlotTagTotals`); each holder's cancellations are at
most its metered consumption; every Wh ends exactly once. Stored Wh are conserved per device:
``stored = drawn + lost + still stored``.

Event bodies (canonical JSON, all with ``event`` and ``slot``; ``start``/``wh`` integers)::

    issue    cert holder device tag wh storage origin{producer,tag,slot} source{cert,start,wh}|null
    transfer cert start wh from to trade|null
    consume  holder wh
    cancel   cert start wh holder
    store    cert start wh holder device
    lose     cert start wh device
    export   cert start wh holder
    expire   cert start wh holder

:class:`CertificateBook` checks a stream of events (the verifier uses it);
:class:`CertificateRegistry` is what the environment calls each slot to *produce* a valid stream.

Certificate ids start with the issue slot and a hyphen (``"1234-0"``): slots only grow along the
chain, so ids of different slots never collide and uniqueness is checked within the slot.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from ledger.errors import CertificateError

EVENTS: Final = ("issue", "transfer", "consume", "cancel", "store", "lose", "export", "expire")
_RANGE_EVENTS: Final = frozenset({"transfer", "cancel", "store", "lose", "export", "expire"})
_FIELDS: Final[dict[str, frozenset[str]]] = {
    "issue": frozenset({"cert", "holder", "device", "tag", "wh", "storage", "origin", "source"}),
    "transfer": frozenset({"cert", "start", "wh", "from", "to", "trade"}),
    "consume": frozenset({"holder", "wh"}),
    "cancel": frozenset({"cert", "start", "wh", "holder"}),
    "store": frozenset({"cert", "start", "wh", "holder", "device"}),
    "lose": frozenset({"cert", "start", "wh", "device"}),
    "export": frozenset({"cert", "start", "wh", "holder"}),
    "expire": frozenset({"cert", "start", "wh", "holder"}),
}
_EXPECTED: Final = {kind: fields | {"event", "slot"} for kind, fields in _FIELDS.items()}
Origin = tuple[str, str, int]
"""(producer, tag, slot) of the generation a certificate stands for."""


@dataclass(slots=True)
class SlotTagTotals:
    """Wh of one slot and tag by fate. ``cancelled`` = ``consumed`` + ``stored``."""

    issued: int = 0
    consumed: int = 0
    stored: int = 0
    exported: int = 0
    expired: int = 0

    @property
    def cancelled(self) -> int:
        """Retired against consumption, a storage device's charging included."""
        return self.consumed + self.stored

    @property
    def balanced(self) -> bool:
        """``issued == cancelled + exported + expired``."""
        return self.issued == self.cancelled + self.exported + self.expired


@dataclass(slots=True)
class _Cert:
    tag: str
    origin: Origin
    storage: bool
    holdings: list[list[Any]] = field(default_factory=list)  # [start, end, holder], sorted


class CertificateBook:
    """Checks certificate events block by block and keeps the conservation totals.

    Call :meth:`begin_block`, :meth:`apply` for each event in order, then :meth:`end_block`.
    Every method raises :class:`~ledger.errors.CertificateError` naming the event and the rule.
    """

    def __init__(self) -> None:
        self._issued_ids: set[str] = set()
        self._slot: int | None = None
        self._live: dict[str, _Cert] = {}
        self._stored: dict[str, dict[str, list[list[int]]]] = defaultdict(dict)
        self._stored_origin: dict[str, Origin] = {}
        self._consumed: dict[str, int] = defaultdict(int)
        self._cancelled: dict[str, int] = defaultdict(int)
        self.totals: dict[tuple[int, str], SlotTagTotals] = {}
        """Per (slot, tag): Wh by fate, for every slot seen so far."""
        self.storage: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
        """Per storage device: [Wh stored, Wh drawn by discharge, Wh lost]."""

    @property
    def slot(self) -> int | None:
        """The slot of the open block, if any."""
        return self._slot

    def begin_block(self, slot: int) -> None:
        """Open the events of ``slot``."""
        if self._slot is not None:
            raise CertificateError(f"slot {self._slot} is still open; call end_block first")
        self._slot = slot

    def stored_wh(self, device: str) -> int:
        """Wh of certificates now held in ``device``."""
        return sum(
            end - start for ranges in self._stored.get(device, {}).values() for start, end in ranges
        )

    def apply(self, event: Mapping[str, Any], where: str = "certificate event") -> None:
        """Check one event against the state and apply it.

        Args:
            event: An event body (see the module docstring).
            where: How to name the event in errors.

        Raises:
            CertificateError: If the event is malformed or breaks a rule.
        """
        slot = self._slot
        if slot is None:
            raise CertificateError(f"{where}: no slot is open (begin_block first)")
        kind = event.get("event")
        if kind not in _FIELDS:
            raise CertificateError(
                f"{where}: field 'event' must be one of {list(EVENTS)}, got {kind!r}"
            )
        expected = _EXPECTED[kind]
        if event.keys() != expected:
            missing = sorted(expected - set(event))
            extra = sorted(set(event) - expected)
            raise CertificateError(
                f"{where}: a {kind!r} event has fields {sorted(expected)}; "
                f"missing {missing}, unexpected {extra}"
            )
        if event["slot"] != slot or type(event["slot"]) is not int:
            raise CertificateError(
                f"{where}: field 'slot' is {event['slot']!r} in the block of slot {slot}"
            )
        wh = _positive(event, "wh", where, allow_zero=kind == "consume")
        if kind == "consume":
            self._consumed[_text(event, "holder", where)] += wh
            return
        cert_id = _text(event, "cert", where)
        if kind == "issue":
            self._issue(event, cert_id, wh, slot, where)
            return
        start = _positive(event, "start", where, allow_zero=True)
        end = start + wh
        if kind == "lose":
            self._draw(_text(event, "device", where), cert_id, start, end, where)
            self.storage[event["device"]][2] += wh
            return
        cert = self._live.get(cert_id)
        if cert is None:
            raise CertificateError(
                f"{where}: certificate {cert_id!r} is not live in slot {slot} "
                "(never issued, or issued in another slot)"
            )
        holder = _text(event, "from" if kind == "transfer" else "holder", where)
        _take(cert.holdings, cert_id, start, end, holder, where)
        row = self.totals[(slot, cert.tag)]  # created when the certificate was issued
        if kind == "transfer":
            to = _text(event, "to", where)
            if to == holder:
                raise CertificateError(f"{where}: a transfer from {holder!r} to itself")
            _put(cert.holdings, start, end, to)
            trade = event["trade"]
            if trade is not None and not isinstance(trade, str):
                raise CertificateError(f"{where}: field 'trade' must be a string or null")
        elif kind == "cancel":
            self._cancelled[holder] += wh
            row.consumed += wh
        elif kind == "store":
            device = _text(event, "device", where)
            _put(self._stored[device].setdefault(cert_id, []), start, end, None)
            self._stored_origin[cert_id] = cert.origin
            self.storage[device][0] += wh
            row.stored += wh
        elif kind == "export":
            row.exported += wh
        else:  # expire
            row.expired += wh

    def _issue(
        self, event: Mapping[str, Any], cert_id: str, wh: int, slot: int, where: str
    ) -> None:
        if not cert_id.startswith(f"{slot}-"):
            raise CertificateError(
                f"{where}: certificate id {cert_id!r} must start with its slot: '{slot}-...'"
            )
        if cert_id in self._issued_ids:
            raise CertificateError(f"{where}: certificate id {cert_id!r} was issued before")
        holder = _text(event, "holder", where)
        device = _text(event, "device", where)
        tag = _text(event, "tag", where)
        storage = event["storage"]
        if type(storage) is not bool:
            raise CertificateError(f"{where}: field 'storage' must be true or false")
        origin = _origin(event.get("origin"), where)
        source = event["source"]
        if not storage:
            if source is not None:
                raise CertificateError(f"{where}: a production certificate has no 'source'")
            if origin != (holder, tag, slot):
                raise CertificateError(
                    f"{where}: a production certificate's origin must be its own "
                    f"(producer {holder!r}, tag {tag!r}, slot {slot}), got {origin}"
                )
        else:
            if not isinstance(source, Mapping) or set(source) != {"cert", "start", "wh"}:
                raise CertificateError(
                    f"{where}: a storage-discharge certificate needs 'source' "
                    "{cert, start, wh} naming the stored range it is drawn from"
                )
            src_cert = _text(source, "cert", where)
            src_start = _positive(source, "start", where, allow_zero=True)
            if _positive(source, "wh", where) != wh:
                raise CertificateError(f"{where}: source wh {source['wh']} differs from wh {wh}")
            stored_origin = self._stored_origin.get(src_cert)
            if stored_origin is not None and stored_origin != origin:
                raise CertificateError(
                    f"{where}: origin {origin} differs from the stored certificate's "
                    f"{stored_origin}: energy through storage keeps its origin"
                )
            self._draw(device, src_cert, src_start, src_start + wh, where)
            self.storage[device][1] += wh
        self._issued_ids.add(cert_id)
        self._live[cert_id] = _Cert(tag, origin, storage, [[0, wh, holder]])
        self.totals.setdefault((slot, tag), SlotTagTotals()).issued += wh

    def _draw(self, device: str, cert_id: str, start: int, end: int, where: str) -> None:
        ranges = self._stored.get(device, {}).get(cert_id)
        for i, (lo, hi) in enumerate(ranges or ()):
            if lo <= start and end <= hi:
                pieces = [r for r in ([lo, start], [end, hi]) if r[0] < r[1]]
                ranges[i : i + 1] = pieces  # type: ignore[index]
                if not ranges:
                    del self._stored[device][cert_id]
                return
        raise CertificateError(
            f"{where}: Wh [{start}, {end}) of certificate {cert_id!r} are not stored in "
            f"device {device!r} (never stored there, or already drawn or lost)"
        )

    def end_block(self) -> None:
        """Close the slot: every certificate of the slot must have ended exactly once.

        Raises:
            CertificateError: If Wh are still held, a holder cancelled more than it consumed,
                or a slot/tag total does not balance.
        """
        slot = self._slot
        if slot is None:
            raise CertificateError("end_block without begin_block")
        try:
            for cert_id, cert in self._live.items():
                if cert.holdings:
                    start, end, holder = cert.holdings[0]
                    raise CertificateError(
                        f"slot {slot}: Wh [{start}, {end}) of certificate {cert_id!r} are still "
                        f"held by {holder!r} at the end of the slot (cancel, export or expire them)"
                    )
            for holder, wh in self._cancelled.items():
                if wh > self._consumed.get(holder, 0):
                    raise CertificateError(
                        f"slot {slot}: {holder!r} cancelled {wh} Wh of certificates but its "
                        f"metered consumption is {self._consumed.get(holder, 0)} Wh"
                    )
            # An independent check of the range accounting above, on the totals alone.
            for tag in {cert.tag for cert in self._live.values()}:
                row = self.totals[(slot, tag)]
                if not row.balanced:
                    raise CertificateError(f"slot {slot} tag {tag!r}: totals do not balance: {row}")
        finally:
            self._slot = None
            self._live.clear()
            self._issued_ids.clear()
            # Origins are needed only while some of a certificate is still stored somewhere.
            still = {cert for ranges in self._stored.values() for cert in ranges}
            if len(still) != len(self._stored_origin):
                self._stored_origin = {c: o for c, o in self._stored_origin.items() if c in still}
            self._consumed.clear()
            self._cancelled.clear()


def _text(event: Mapping[str, Any], name: str, where: str) -> str:
    value = event.get(name)
    if not isinstance(value, str) or not value:
        raise CertificateError(f"{where}: field {name!r} must be a non-empty string, got {value!r}")
    return value


def _positive(event: Mapping[str, Any], name: str, where: str, *, allow_zero: bool = False) -> int:
    value = event.get(name)
    if type(value) is not int or value < 0 or (value == 0 and not allow_zero):
        expected = "a non-negative" if allow_zero else "a positive"
        raise CertificateError(f"{where}: field {name!r} must be {expected} integer, got {value!r}")
    return value


def _origin(value: Any, where: str) -> Origin:
    if (
        not isinstance(value, Mapping)
        or set(value) != {"producer", "tag", "slot"}
        or not isinstance(value["producer"], str)
        or not isinstance(value["tag"], str)
        or type(value["slot"]) is not int
    ):
        raise CertificateError(
            f"{where}: field 'origin' must be {{producer: str, tag: str, slot: int}}, got {value!r}"
        )
    return (value["producer"], value["tag"], value["slot"])


def _take(
    holdings: list[list[Any]], cert_id: str, start: int, end: int, holder: str, where: str
) -> None:
    for i, (lo, hi, who) in enumerate(holdings):
        if lo <= start and end <= hi and who == holder:
            pieces = [r for r in ([lo, start, who], [end, hi, who]) if r[0] < r[1]]
            holdings[i : i + 1] = pieces
            return
    raise CertificateError(
        f"{where}: Wh [{start}, {end}) of certificate {cert_id!r} are not held by {holder!r} "
        "(held by someone else, or already cancelled, stored, exported or expired)"
    )


def _put(ranges: list[list[Any]], start: int, end: int, holder: str | None) -> None:
    """Add ``[start, end)`` to sorted ranges, merging neighbours of the same holder.

    Merging lets a later event name a range that arrived in pieces (two trades from the same
    seller, say) as one. ``holder`` ``None`` is for device stores, whose ranges are ``[lo, hi]``.
    """
    ranges.append([start, end] if holder is None else [start, end, holder])
    ranges.sort(key=lambda r: r[0])
    merged: list[list[Any]] = []
    for r in ranges:
        last = merged[-1] if merged else None
        if last is not None and last[1] == r[0] and last[2:] == r[2:]:
            last[1] = r[1]
        else:
            merged.append(r)
    ranges[:] = merged


# ---------------------------------------------------------------------------------------------
# The writer side
# ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Lot:
    cert: str
    start: int
    end: int
    tag: str


class CertificateRegistry:
    """Produces the certificate events of each slot for the environment.

    Per slot, in the order the energy flows (a typical one)::

        registry.begin_slot(slot)
        registry.issue("home07", "pv", 1830, device="home07/pv")     # metered generation
        registry.discharge("home07/battery", "home07", 400, tag="battery")
        registry.transfer("home07", "home01", "pv", 900, trade="t12")  # per trade
        registry.charge("home07", "home07/battery", 300)             # battery charging
        registry.consume("home01", 1200)                             # metered consumption
        events = registry.end_slot()     # the rest is exported: records for the ledger block

    Holdings are used first in, first out. Each call checks its events with a
    :class:`CertificateBook`, so a registry never produces a stream that verification rejects.
    Storage devices and their stored certificates persist across slots.
    """

    def __init__(self) -> None:
        self._book = CertificateBook()
        self._events: list[dict[str, Any]] = []
        self._held: dict[str, list[_Lot]] = defaultdict(list)
        self._stores: dict[str, list[_Lot]] = defaultdict(list)
        self._origins: dict[str, Origin] = {}
        self._slot: int | None = None
        self._serial = 0

    def begin_slot(self, slot: int) -> None:
        """Start the events of ``slot`` (an integer slot index, the ledger block's slot)."""
        if type(slot) is not int or slot < 0:
            raise CertificateError(f"slot must be a non-negative integer, got {slot!r}")
        self._book.begin_block(slot)
        self._slot = slot
        self._serial = 0

    def _emit(self, event: dict[str, Any]) -> None:
        event["slot"] = self._slot
        self._book.apply(event, f"slot {self._slot} {event['event']} event")
        self._events.append(event)

    def _open(self) -> int:
        if self._slot is None:
            raise CertificateError("no slot is open: call begin_slot(slot) first")
        return self._slot

    def issue(self, producer: str, tag: str, wh: int, device: str | None = None) -> str | None:
        """Issue production certificates for ``wh`` of metered generation.

        Args:
            producer: The generating agent; it holds the certificates.
            tag: Generation tag (``pv``, ...).
            wh: Metered generation in the slot, Wh (0 issues nothing).
            device: The generating unit; defaults to ``"{producer}/{tag}"``.

        Returns:
            The certificate id, or ``None`` when ``wh`` is 0.
        """
        slot = self._open()
        if _amount(wh, "wh") == 0:
            return None
        cert = f"{slot}-{self._serial}"
        self._serial += 1
        self._emit(
            {
                "event": "issue",
                "cert": cert,
                "holder": producer,
                "device": device or f"{producer}/{tag}",
                "tag": tag,
                "wh": wh,
                "storage": False,
                "origin": {"producer": producer, "tag": tag, "slot": slot},
                "source": None,
            }
        )
        self._origins[cert] = (producer, tag, slot)
        self._held[producer].append(_Lot(cert, 0, wh, tag))
        return cert

    def discharge(self, device: str, holder: str, wh: int, tag: str = "battery") -> int:
        """Issue storage-discharge certificates for energy discharged from ``device``.

        Certificates are drawn first in, first out from what the device stored; each keeps the
        origin of the energy that was stored. Discharged energy with no stored certificate
        (charged from the grid, say) gets none.

        Returns:
            Wh of certificates issued (at most ``wh``).
        """
        slot = self._open()
        need = _amount(wh, "wh")
        store = self._stores[device]
        issued = 0
        while need and store:
            lot = store[0]
            take = min(need, lot.end - lot.start)
            cert = f"{slot}-{self._serial}"
            self._serial += 1
            producer, origin_tag, origin_slot = self._origins[lot.cert]
            self._emit(
                {
                    "event": "issue",
                    "cert": cert,
                    "holder": holder,
                    "device": device,
                    "tag": tag,
                    "wh": take,
                    "storage": True,
                    "origin": {"producer": producer, "tag": origin_tag, "slot": origin_slot},
                    "source": {"cert": lot.cert, "start": lot.start, "wh": take},
                }
            )
            self._origins[cert] = (producer, origin_tag, origin_slot)
            self._held[holder].append(_Lot(cert, 0, take, tag))
            lot.start += take
            if lot.start == lot.end:
                store.pop(0)
            need -= take
            issued += take
        return issued

    def transfer(self, seller: str, buyer: str, tag: str, wh: int, trade: str | None = None) -> int:
        """Move up to ``wh`` of the seller's ``tag`` certificates to the buyer (one trade).

        Returns:
            Wh moved; less than ``wh`` when the seller holds fewer certificates of that tag
            (it sold energy it did not generate in the slot: that part is uncertified).
        """
        self._open()
        if seller == buyer:
            raise CertificateError(f"transfer: seller and buyer are both {seller!r}")
        moved = self._move(
            seller,
            _amount(wh, "wh"),
            {tag},
            lambda lot, take: {
                "event": "transfer",
                "cert": lot.cert,
                "start": lot.start,
                "wh": take,
                "from": seller,
                "to": buyer,
                "trade": trade,
            },
        )
        return sum(take for _, take in moved)

    def charge(self, holder: str, device: str, wh: int, tags: Sequence[str] | None = None) -> int:
        """Store up to ``wh`` of the holder's certificates into storage ``device``.

        Returns:
            Wh stored; charging beyond the certificates held (from the grid) stores none.
        """
        self._open()
        moved = self._move(
            holder,
            _amount(wh, "wh"),
            None if tags is None else set(tags),
            lambda lot, take: {
                "event": "store",
                "cert": lot.cert,
                "start": lot.start,
                "wh": take,
                "holder": holder,
                "device": device,
            },
        )
        for lot, take in moved:
            self._stores[device].append(_Lot(lot.cert, lot.start, lot.start + take, lot.tag))
        return sum(take for _, take in moved)

    def consume(self, holder: str, wh: int) -> int:
        """Record ``wh`` of metered consumption and cancel certificates against it.

        Returns:
            Wh cancelled (at most ``wh``): the consumption matched by certificates.
        """
        self._open()
        self._emit({"event": "consume", "holder": holder, "wh": _amount(wh, "wh")})
        moved = self._move(
            holder,
            wh,
            None,
            lambda lot, take: {
                "event": "cancel",
                "cert": lot.cert,
                "start": lot.start,
                "wh": take,
                "holder": holder,
            },
        )
        return sum(take for _, take in moved)

    def lose(self, device: str, wh: int) -> int:
        """Remove up to ``wh`` of stored certificates from ``device`` as conversion losses."""
        self._open()
        need = _amount(wh, "wh")
        store = self._stores[device]
        lost = 0
        while need and store:
            lot = store[0]
            take = min(need, lot.end - lot.start)
            self._emit(
                {
                    "event": "lose",
                    "cert": lot.cert,
                    "start": lot.start,
                    "wh": take,
                    "device": device,
                }
            )
            lot.start += take
            if lot.start == lot.end:
                store.pop(0)
            need -= take
            lost += take
        return lost

    def held_wh(self, holder: str, tag: str | None = None) -> int:
        """Wh of live certificates ``holder`` holds now (of ``tag`` if given)."""
        return sum(
            lot.end - lot.start
            for lot in self._held.get(holder, ())
            if tag is None or lot.tag == tag
        )

    def stored_wh(self, device: str) -> int:
        """Wh of certificates stored in ``device``."""
        return sum(lot.end - lot.start for lot in self._stores.get(device, ()))

    def end_slot(self, exported: Mapping[str, int] | None = None) -> list[dict[str, Any]]:
        """Close the slot and return its events, the certificate records of the block.

        Args:
            exported: Per holder, metered export to the grid in Wh. Certificates still held are
                exported up to that amount and the rest expire. ``None`` exports all of them
                (what was not consumed locally went to the grid).

        Returns:
            The slot's events in order (JSON-compatible dicts).
        """
        self._open()
        for holder in list(self._held):
            cap = None if exported is None else _amount(exported.get(holder, 0), "exported")
            lots = self._held.pop(holder)
            for lot in lots:
                size = lot.end - lot.start
                out = size if cap is None else min(cap, size)
                if cap is not None:
                    cap -= out
                for kind, start, wh in (
                    ("export", lot.start, out),
                    ("expire", lot.start + out, size - out),
                ):
                    if wh:
                        self._emit(
                            {
                                "event": kind,
                                "cert": lot.cert,
                                "start": start,
                                "wh": wh,
                                "holder": holder,
                            }
                        )
        self._book.end_block()
        events, self._events = self._events, []
        self._slot = None
        # Origins of certificates that are no longer stored anywhere are not needed again.
        stored = {lot.cert for lots in self._stores.values() for lot in lots}
        self._origins = {cert: o for cert, o in self._origins.items() if cert in stored}
        return events

    def _move(
        self, holder: str, wh: int, tags: set[str] | None, make: Any
    ) -> list[tuple[_Lot, int]]:
        lots = self._held.get(holder, [])
        moved: list[tuple[_Lot, int]] = []
        keep: list[_Lot] = []
        for lot in lots:
            if wh and (tags is None or lot.tag in tags):
                take = min(wh, lot.end - lot.start)
                event = make(lot, take)
                self._emit(event)
                moved.append((_Lot(lot.cert, lot.start, lot.start + take, lot.tag), take))
                if event["event"] == "transfer":
                    self._held[event["to"]].append(
                        _Lot(lot.cert, lot.start, lot.start + take, lot.tag)
                    )
                lot.start += take
                wh -= take
            if lot.start < lot.end:
                keep.append(lot)
        if holder in self._held:
            self._held[holder] = keep
        return moved


def _amount(value: Any, name: str) -> int:
    if type(value) is not int or value < 0:
        raise CertificateError(f"{name} must be a non-negative integer number of Wh, got {value!r}")
    return value


def check_events(blocks: Iterable[tuple[int, Sequence[Mapping[str, Any]]]]) -> CertificateBook:
    """Check the certificate events of consecutive blocks given as ``(slot, events)``.

    Returns:
        The book with its totals.

    Raises:
        CertificateError: At the first event that breaks a rule.
    """
    book = CertificateBook()
    for slot, events in blocks:
        book.begin_block(slot)
        for i, event in enumerate(events):
            book.apply(event, f"slot {slot} certificate event {i}")
        book.end_block()
    return book
