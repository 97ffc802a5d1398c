"""Origin queries: where a consumer's energy came from, and where a producer's went.

Built from the certificate events of the blocks (:mod:`ledger.certificates`); each function
returns a pandas DataFrame. pandas is imported inside the functions only, so that verifying a
ledger never needs it.

Slots are given as integer slot indices, or as ISO 8601 timestamps compared with the blocks'
``start`` (blocks without a ``start`` never match a timestamp bound). A timestamp without a UTC
offset is read at the block's own offset: ``2020-08-31T23:30`` is the site's local time on the
environment's ledgers, whose blocks carry their slot's start with its offset. Bounds are
inclusive.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ledger.chain import Ledger
from ledger.errors import LedgerError
from ledger.records import RecordKind

if TYPE_CHECKING:
    import pandas as pd

SlotBound = int | str | None

CONSUMER_COLUMNS = (
    "slot",
    "producer",
    "origin_tag",
    "origin_slot",
    "tag",
    "storage",
    "device",
    "wh",
)
SHARE_COLUMNS = (
    "slot",
    "consumed_wh",
    "certified_wh",
    "same_slot_wh",
    "certified_share",
    "same_slot_share",
)
PRODUCER_COLUMNS = ("slot", "origin_slot", "fate", "to", "tag", "storage", "wh")
DEVICE_COLUMNS = ("slot", "flow", "producer", "origin_tag", "origin_slot", "tag", "wh")
FLOWS = ("stored", "lost", "discharged")
"""The ``flow`` values of :func:`device_flows`."""


def _in_range(slot: int, start: str | None, lo: SlotBound, hi: SlotBound) -> bool:
    for bound, below in ((lo, True), (hi, False)):
        if bound is None:
            continue
        if isinstance(bound, int):
            if (slot < bound) if below else (slot > bound):
                return False
        else:
            if start is None:
                return False
            when = datetime.fromisoformat(start)
            limit = datetime.fromisoformat(bound)
            # A time without a UTC offset is read at the other's offset (the site's local time).
            if limit.tzinfo is None:
                limit = limit.replace(tzinfo=when.tzinfo)
            elif when.tzinfo is None:
                when = when.replace(tzinfo=limit.tzinfo)
            if (when < limit) if below else (when > limit):
                return False
    return True


def _check_bound(bound: SlotBound, name: str) -> None:
    if bound is None or (type(bound) is int and bound >= 0):
        return
    if isinstance(bound, str):
        try:
            datetime.fromisoformat(bound)
        except ValueError:
            pass
        else:
            return
    raise LedgerError(
        f"{name} must be a slot index (non-negative integer) or an ISO 8601 timestamp, "
        f"got {bound!r}"
    )


def _events(
    ledger: Ledger, first: SlotBound, last: SlotBound
) -> Iterator[tuple[int, bool, list[dict[str, Any]]]]:
    """``(slot, in range, certificate events)`` of every block up to ``last``."""
    _check_bound(first, "from")
    _check_bound(last, "to")
    if not ledger.store.keeps_records:
        raise LedgerError("origin queries need the records; this ledger keeps only hashes")
    for header in ledger.blocks():
        if not _in_range(header.slot, header.start, None, last):
            continue
        inside = _in_range(header.slot, header.start, first, None)
        yield header.slot, inside, ledger.bodies(header.height, RecordKind.CERTIFICATE)


def consumption_by_origin(
    ledger: Ledger, consumer: str, first: SlotBound = None, last: SlotBound = None
) -> pd.DataFrame:
    """What ``consumer`` consumed, by origin, from certificates cancelled against it.

    Args:
        ledger: The ledger to read.
        consumer: The consuming agent.
        first: First slot (inclusive), index or ISO timestamp; ``None`` from the start.
        last: Last slot (inclusive); ``None`` to the end.

    Returns:
        One row per cancelled range: ``slot`` (of consumption), ``producer``, ``origin_tag`` and
        ``origin_slot`` (where and when the energy was generated), ``tag`` and ``storage`` (as
        delivered: e.g. ``battery``/True for energy through a battery), ``device`` (the issuing
        device) and ``wh``.
    """
    import pandas as pd

    rows: list[tuple[Any, ...]] = []
    for slot, inside, events in _events(ledger, first, last):
        if not inside:
            continue
        issued = {e["cert"]: e for e in events if e["event"] == "issue"}
        for e in events:
            if e["event"] == "cancel" and e["holder"] == consumer:
                cert = issued[e["cert"]]
                origin = cert["origin"]
                rows.append(
                    (
                        slot,
                        origin["producer"],
                        origin["tag"],
                        origin["slot"],
                        cert["tag"],
                        cert["storage"],
                        cert["device"],
                        e["wh"],
                    )
                )
    return pd.DataFrame(rows, columns=list(CONSUMER_COLUMNS))


def matched_share(
    ledger: Ledger, consumer: str, first: SlotBound = None, last: SlotBound = None
) -> pd.DataFrame:
    """Per slot, how much of ``consumer``'s metered consumption certified generation matched.

    Returns:
        One row per slot with consumption: ``consumed_wh`` (metered), ``certified_wh``
        (certificates cancelled in the slot: local generation of the same slot, or stored
        local generation discharged in it), ``same_slot_wh`` (of which generated in that very
        slot, not through storage), and the shares ``certified_share`` and ``same_slot_share``
        (0 when nothing was consumed). Sum the ``_wh`` columns for a period's share.
    """
    import pandas as pd

    rows: list[tuple[Any, ...]] = []
    for slot, inside, events in _events(ledger, first, last):
        if not inside:
            continue
        issued = {e["cert"]: e for e in events if e["event"] == "issue"}
        consumed = certified = same = 0
        seen = False
        for e in events:
            if e.get("holder") != consumer:
                continue
            if e["event"] == "consume":
                consumed += e["wh"]
                seen = True
            elif e["event"] == "cancel":
                certified += e["wh"]
                if issued[e["cert"]]["origin"]["slot"] == slot:
                    same += e["wh"]
        if seen:
            rows.append(
                (
                    slot,
                    consumed,
                    certified,
                    same,
                    certified / consumed if consumed else 0.0,
                    same / consumed if consumed else 0.0,
                )
            )
    return pd.DataFrame(rows, columns=list(SHARE_COLUMNS))


def producer_destinations(
    ledger: Ledger, producer: str, first: SlotBound = None, last: SlotBound = None
) -> pd.DataFrame:
    """Where ``producer``'s certified generation went, through trades and storage.

    Returns:
        One row per range that ended: ``slot`` (when it ended), ``origin_slot`` (when it was
        generated), ``fate`` (``consumed``, ``stored``, ``exported``, ``expired``, ``lost``),
        ``to`` (the consumer, the storage device, or the holder that exported or let it expire),
        ``tag`` and ``storage`` of the certificate at that point, ``wh``. Energy that went
        through storage appears once as ``stored`` and again with its final fate
        (``storage`` True); sum ``fate != "stored"`` rows for final destinations.
    """
    import pandas as pd

    fates = {
        "cancel": "consumed",
        "store": "stored",
        "export": "exported",
        "expire": "expired",
    }
    rows: list[tuple[Any, ...]] = []
    stored_origin: dict[str, tuple[str, int, str, bool]] = {}
    # Blocks before ``first`` are read too: a loss in range may concern energy stored earlier.
    for slot, inside, events in _events(ledger, first, last):
        issued = {e["cert"]: e for e in events if e["event"] == "issue"}
        for e in events:
            kind = e["event"]
            if kind in fates:
                cert = issued[e["cert"]]
                origin = cert["origin"]
                if kind == "store":
                    stored_origin[e["cert"]] = (
                        origin["producer"],
                        origin["slot"],
                        cert["tag"],
                        cert["storage"],
                    )
                if origin["producer"] != producer or not inside:
                    continue
                to = e["device"] if kind == "store" else e["holder"]
                rows.append(
                    (slot, origin["slot"], fates[kind], to, cert["tag"], cert["storage"], e["wh"])
                )
            elif kind == "lose" and e["cert"] in stored_origin:
                who, origin_slot, tag, storage = stored_origin[e["cert"]]
                if who == producer and inside:
                    rows.append((slot, origin_slot, "lost", e["device"], tag, storage, e["wh"]))
    return pd.DataFrame(rows, columns=list(PRODUCER_COLUMNS))


def device_flows(
    ledger: Ledger, device: str, first: SlotBound = None, last: SlotBound = None
) -> pd.DataFrame:
    """What a storage ``device`` (``home_14/battery``, ``phv_01/battery``) took in and gave out,
    by origin: a PHV's charging is stored in its battery, and its driving leaves it.

    Returns:
        One row per range: ``slot``, ``flow`` (``stored``: certificates charged into the device;
        ``lost``: taken out by conversion losses or, for a PHV, driving; ``discharged``: given
        out again as storage-discharge certificates that keep the origin), ``producer``,
        ``origin_tag`` and ``origin_slot`` (where and when the energy was generated), ``tag``
        (the certificate's tag as it entered or left) and ``wh``. Blocks before ``first`` are
        read too: energy lost or discharged in range may have been stored earlier.
    """
    import pandas as pd

    rows: list[tuple[Any, ...]] = []
    stored: dict[str, tuple[str, str, int, str]] = {}
    for slot, inside, events in _events(ledger, first, last):
        issued = {e["cert"]: e for e in events if e["event"] == "issue"}
        for e in events:
            if e.get("device") != device:
                continue
            kind = e["event"]
            if kind == "store":
                cert = issued[e["cert"]]
                origin = cert["origin"]
                row = (origin["producer"], origin["tag"], origin["slot"], cert["tag"])
                stored[e["cert"]] = row
                flow = "stored"
            elif kind == "lose" and e["cert"] in stored:
                row = stored[e["cert"]]
                flow = "lost"
            elif kind == "issue" and e.get("storage"):
                origin = e["origin"]
                row = (origin["producer"], origin["tag"], origin["slot"], e["tag"])
                flow = "discharged"
            else:
                continue
            if inside:
                rows.append((slot, flow, *row, e["wh"]))
    return pd.DataFrame(rows, columns=list(DEVICE_COLUMNS))
