"""Certificate flows shared by the certificate writers' tests: random communities and slots in
the simulator recorder's order of calls, and the registry and writers driven through them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from ledger import CertificateRegistry
from ledger.fast import SlotCertificateWriter, trusted_json

TAGS = ("pv", "battery", "phv")


@dataclass
class Slot:
    """One slot's flows in the writer's (and the simulator recorder's) order; Wh per holder."""

    slot: int
    generation: list[int]
    discharge: list[int]
    trades: list[tuple[int, int, int, int, int]]
    charge: list[int]
    drawn: list[int]
    consumption: list[int]
    exported: list[int]


@dataclass
class Community:
    names: list[str]
    devices: dict[int, str]
    discharge_tags: dict[int, str]


def drive_registry(
    reg: CertificateRegistry, community: Community, slots: Sequence[Slot]
) -> list[list[bytes]]:
    """The checked registry driven as p2p_env.sim.ledger_recorder drives it, events encoded."""
    names, devices, dtags = community.names, community.devices, community.discharge_tags
    out = []
    for s in slots:
        reg.begin_slot(s.slot)
        for i, wh in enumerate(s.generation):
            if wh:
                reg.issue(names[i], "pv", wh)
        for i, wh in enumerate(s.discharge):
            if wh:
                reg.discharge(devices[i], names[i], wh, dtags[i])
        for k, (buyer, seller, tag, wh, _) in enumerate(s.trades):
            moved = reg.transfer(names[seller], names[buyer], TAGS[tag], wh, trade=f"t{k}")
            rest = dtags.get(seller)
            if moved < wh and rest is not None and rest != TAGS[tag]:
                reg.transfer(names[seller], names[buyer], rest, wh - moved, trade=f"t{k}")
        for i, wh in enumerate(s.charge):
            if wh:
                reg.charge(names[i], devices[i], wh)
        for i, wh in enumerate(s.drawn):
            if wh:
                reg.lose(devices[i], wh)
        for i, wh in enumerate(s.consumption):
            if wh:
                reg.consume(names[i], wh)
        events = reg.end_slot({names[i]: wh for i, wh in enumerate(s.exported) if wh})
        out.append([trusted_json(e) for e in events])
    return out


def nonzero(values: Sequence[int]) -> tuple[list[int], list[int]]:
    index = [i for i, v in enumerate(values) if v]
    return index, [values[i] for i in index]


def writer_events(
    community: Community, slots: Sequence[Slot], writer: SlotCertificateWriter | None = None
) -> list[list[bytes]]:
    w = writer or SlotCertificateWriter(
        community.names, community.devices, community.discharge_tags
    )
    out = []
    for s in slots:
        w.begin_slot(s.slot)
        w.issue(*nonzero(s.generation), "pv")
        w.discharge(*nonzero(s.discharge))
        w.transfer(s.trades, TAGS)
        w.charge(*nonzero(s.charge))
        w.lose(*nonzero(s.drawn))
        w.consume(*nonzero(s.consumption))
        out.append(w.end_slot(s.exported))
    return out


amounts = st.one_of(st.just(0), st.integers(1, 40), st.integers(1, 400))


@st.composite
def communities(draw: st.DrawFn) -> Community:
    n = draw(st.integers(2, 6))
    # Names that JSON must escape, and one that %-formatting must not read as a directive.
    pool = ["home_0", "h\u00e9", 'q"uote', "per%dcent", "new\nline", "b\\s", "x", "y"]
    names = draw(st.permutations(pool))[:n]
    kinds = draw(st.lists(st.sampled_from([None, "battery", "phv"]), min_size=n, max_size=n))
    devices = {i: f"{names[i]}/battery" for i, k in enumerate(kinds) if k is not None}
    tags = {i: k for i, k in enumerate(kinds) if k is not None}
    return Community(names, devices, tags)


@st.composite
def flows(draw: st.DrawFn, community: Community) -> list[Slot]:
    n = len(community.names)
    storage = [i in community.devices for i in range(n)]

    def column(only_storage: bool = False) -> list[int]:
        values = draw(st.lists(amounts, min_size=n, max_size=n))
        return [v if storage[i] or not only_storage else 0 for i, v in enumerate(values)]

    slots = []
    slot = draw(st.integers(0, 3))
    for _ in range(draw(st.integers(1, 6))):
        pairs = st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)).filter(
            lambda p: p[0] != p[1]
        )
        trades = [
            (buyer, seller, draw(st.integers(0, len(TAGS) - 1)), draw(amounts), 0)
            for buyer, seller in draw(st.lists(pairs, max_size=8))
        ]
        slots.append(
            Slot(
                slot=slot,
                generation=column(),
                discharge=column(only_storage=True),
                trades=trades,
                charge=column(only_storage=True),
                drawn=column(only_storage=True),
                consumption=column(),
                exported=column(),
            )
        )
        slot += draw(st.integers(1, 3))
    return slots


def new_writer(community: Community) -> SlotCertificateWriter:
    return SlotCertificateWriter(community.names, community.devices, community.discharge_tags)


COMMUNITY = Community(["a", "b", "c"], {0: "a/battery", 1: "b/battery"}, {0: "battery", 1: "phv"})


def one_slot(**flows: Any) -> Slot:
    zeros = [0, 0, 0]
    fields = ("generation", "discharge", "charge", "drawn", "consumption", "exported")
    return Slot(
        slot=flows.pop("slot", 5),
        trades=flows.pop("trades", []),
        **{name: flows.get(name, zeros) for name in fields},
    )
