"""The fast encoders and the encoded append give the generic path's bytes exactly."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import Ledger, RecordKind, slot_events
from ledger.canonical import INT_MAX, INT_MIN, canonical_json
from ledger.certificates import CertificateRegistry
from ledger.errors import CertificateError, RecordError
from ledger.fast import (
    RecordTemplate,
    SlotCertificateWriter,
    trusted_json,
    trusted_json_many,
)
from ledger.slot_events import CompiledCertificateWriter
from p2p_env.config import load_config
from p2p_env.sim.ledger_recorder import LedgerRecorder
from p2p_env.sim.simulator import CommunitySimulator

from ..sim.conftest import simple_series

ints = st.integers(INT_MIN, INT_MAX)
texts = st.text(st.characters(codec="utf-8"), max_size=8)
json_values = st.recursive(
    st.none() | st.booleans() | ints | texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(texts, json_values, max_size=6))
def test_trusted_json_is_canonical_json(body: dict[str, Any]) -> None:
    assert trusted_json(body) == canonical_json(body)
    assert trusted_json_many([body, body]) == [canonical_json(body)] * 2


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(texts, json_values, max_size=4),
    st.lists(texts, min_size=1, max_size=5, unique=True),
    st.data(),
)
def test_record_template_is_canonical_json(
    fixed: dict[str, Any], names: list[str], data: st.DataObject
) -> None:
    fixed = {k: v for k, v in fixed.items() if k not in names}
    values = data.draw(st.lists(ints, min_size=len(names), max_size=len(names)))
    template = RecordTemplate(fixed, names)
    expected = canonical_json({**fixed, **dict(zip(names, values, strict=True))})
    assert template.encode(values) == expected
    by_name = dict(zip(names, values, strict=True))
    assert template.format_sorted(tuple(by_name[k] for k in template.sorted_fields)) == expected


def test_record_template_refuses_overlap_and_floats() -> None:
    with pytest.raises(RecordError, match="both fixed and per record"):
        RecordTemplate({"a": 1}, ["a"])
    with pytest.raises(RecordError, match="twice"):
        RecordTemplate({}, ["a", "a"])
    with pytest.raises(RecordError, match="float"):
        RecordTemplate({"a": 1.5}, ["b"])


def _blocks(rng: np.random.Generator, n: int) -> list[dict[str, Any]]:
    blocks = []
    for slot in range(n):
        orders = [
            {"id": f"o{slot}.{i}", "agent": f"a{i}", "side": "buy", "quantity_wh": int(q)}
            for i, q in enumerate(rng.integers(1, 5000, rng.integers(0, 6)))
        ]
        trades = [{"buy": "x", "sell": "y", "quantity_wh": int(q)} for q in rng.integers(1, 9, 3)]
        settlements = [
            {"agent": f"a{i}", "metered_wh": int(rng.integers(-999, 999))} for i in range(4)
        ]
        events = (
            [{"event": "issue", "holder": "a0", "tag": "pv", "wh": 10 + slot}] if slot % 2 else []
        )
        blocks.append(
            {
                "slot": 2 * slot + 1,
                "params": {"seed": int(rng.integers(0, 2**62)), "tags": ["pv"]},
                "orders": orders,
                "trades": trades,
                "settlements": settlements,
                "certificates": events,
            }
        )
    return blocks


def test_append_encoded_writes_append_blocks_bytes() -> None:
    blocks = _blocks(np.random.default_rng(7), 12)
    generic = Ledger.in_memory(check_certificates=False)
    fast = Ledger.in_memory(check_certificates=False)
    for b in blocks:
        generic.append_block(
            b["slot"],
            b["params"],
            orders=b["orders"],
            trades=b["trades"],
            settlements=b["settlements"],
            certificates=b["certificates"],
        )
        fast.append_encoded(
            b["slot"],
            canonical_json(b["params"]),
            orders=trusted_json_many(b["orders"]),
            trades=trusted_json_many(b["trades"]),
            settlements=trusted_json_many(b["settlements"]),
            certificates=trusted_json_many(b["certificates"]),
        )
        assert fast.head_hash == generic.head_hash
    for h in range(len(blocks)):
        assert fast.store.header(h) == generic.store.header(h)
        assert fast.store.records(h) == generic.store.records(h)
        assert fast.params(h) == generic.params(h)
    assert fast.verify(check_certificates=False).ok  # the events here are not real ones


def test_append_encoded_checks_slot_and_certificates() -> None:
    ledger = Ledger.in_memory()
    ledger.append_encoded(3, b"{}")
    with pytest.raises(RecordError, match="not after"):
        ledger.append_encoded(3, b"{}")
    event = {"event": "cancel", "holder": "a", "tag": "pv", "wh": 5}
    with pytest.raises(RecordError, match="pass both"):
        ledger.append_encoded(4, b"{}", certificates=[trusted_json(event)])
    with pytest.raises(CertificateError):
        ledger.append_encoded(
            4, b"{}", certificates=[trusted_json(event)], certificate_events=[event]
        )
    assert len(ledger) == 1


@pytest.mark.parametrize(
    ("mechanism", "compiled"), [("cda", True), ("call", True), ("midpoint", True), ("cda", False)]
)
def test_recorder_fast_path_writes_the_generic_blocks(mechanism: str, compiled: bool) -> None:
    config = load_config("higashifuji_demo", [f"market.mechanism={mechanism}"])
    series = simple_series(config, days=2)
    slot_events.use_python(not compiled)  # the compiled certificate writer, or its reference
    try:
        sims = [
            CommunitySimulator(config, series, recorder=LedgerRecorder.open(config, None))
            for _ in range(2)
        ]
    finally:
        slot_events.use_python(False)
    recorders = [sim.recorder for sim in sims]
    assert isinstance(recorders[1], LedgerRecorder)
    recorders[1].fast = False
    rng = np.random.default_rng(3)
    for sim in sims:
        sim.reset(0, seed=11)
    for _ in range(96):
        actions = rng.uniform(-1.2, 1.2, (sims[0].community.n_agents, sims[0].action_size))
        hashes = [sim.step(actions).block_hash for sim in sims]
        assert hashes[0] == hashes[1]
    assert type(recorders[1].registry) is CertificateRegistry  # the checked one
    assert isinstance(recorders[0], LedgerRecorder)
    writer = CompiledCertificateWriter if compiled else SlotCertificateWriter
    assert type(recorders[0].writer) is writer
    fast, generic = (r.ledger for r in recorders if isinstance(r, LedgerRecorder))
    assert fast is not None
    assert generic is not None
    assert sum(len(fast.bodies(h, RecordKind.TRADE)) for h in range(len(fast))) > 0
    for h in range(len(fast)):
        assert fast.store.records(h) == generic.store.records(h)
    report = fast.verify()  # hashes and certificate conservation, recomputed from the records
    assert report.ok, report.summary()


@pytest.mark.parametrize("config_name", ["higashifuji_demo", "homes_200"])
def test_encoded_orders_are_the_canonical_order_records(config_name: str) -> None:
    from p2p_env.sim.actions import decode
    from p2p_env.sim.exchange_market import ExchangeMarket

    config = load_config(config_name)
    sim = CommunitySimulator(config, simple_series(config, days=1))
    market = sim.market
    assert isinstance(market, ExchangeMarket)
    rng = np.random.default_rng(1)
    for slot in (0, 7, 12345):
        actions = rng.uniform(-1.5, 1.5, (sim.community.n_agents, sim.action_size))
        decoded = decode(actions, sim.community, sim.price_min, sim.price_max, sim.sell_tag_index)
        orders = market.orders(slot, decoded)
        assert len(orders) > 0
        assert market.encoded_orders(slot, decoded) == [canonical_json(o.to_dict()) for o in orders]


def test_params_for_is_the_validated_replace() -> None:
    from p2p_env.sim.exchange_market import ExchangeMarket

    config = load_config("higashifuji_demo")
    sim = CommunitySimulator(config, simple_series(config, days=1))
    market = sim.market
    assert isinstance(market, ExchangeMarket)
    market.reset(2**62 + 3)
    for slot in (0, 1, 47):
        params = market.params_for(slot)
        assert params == market.base.replace(seed=params.seed)
        assert params.seed != market.base.seed
    assert market.base.seed == 0  # the base is never changed
