"""``ExchangeMarket.clear`` (the array path) equals its reference path field by field and byte for
byte: :class:`exchange.Order` objects, :func:`exchange.clear`, a Python loop over the trades and
the checked canonical encoder (``ExchangeMarket.reference_outcome``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

import p2p_env
from exchange import ArrayExchange, available_mechanisms
from ledger.canonical import canonical_json
from ledger.hashing import JoinedBodies
from p2p_env.config import load_config
from p2p_env.sim.actions import BUY, SELL, DecodedActions, action_size, decode
from p2p_env.sim.community import Community
from p2p_env.sim.exchange_market import ExchangeMarket, SlotRecords, replay
from p2p_env.sim.market import MarketOutcome
from p2p_env.sim.tariffs import ticks

from ..episodes import episode_digest

_ARRAYS = (
    "bought_wh",
    "sold_wh",
    "bought_by_tag_wh",
    "paid_sen",
    "received_sen",
    "price_ticks",
    "volume_wh",
)


def bodies(records: Any) -> list[bytes]:
    """Encoded records one by one, whether given so or joined by newlines."""
    return records.split() if isinstance(records, JoinedBodies) else list(records)


class Setup:
    def __init__(self, config_name: str, overrides: list[str]) -> None:
        config = load_config(config_name, overrides)
        self.community = Community.from_config(config)
        self.market = ExchangeMarket(config, self.community)
        self.price_min = ticks(config.market.price_min_jpy_per_kwh)
        self.price_max = ticks(config.market.price_max_jpy_per_kwh)
        tags = list(config.market.tags)
        self.sell_tag_index = np.asarray(
            [tags.index(t) if t is not None else -1 for t in self.community.sell_tag],
            dtype=np.int64,
        )
        self.action_size = action_size(len(tags))

    def decode(self, actions: NDArray[np.float64]) -> DecodedActions:
        return decode(actions, self.community, self.price_min, self.price_max, self.sell_tag_index)


_SETUPS: dict[tuple[str, str], Setup] = {}


def setup_for(config_name: str, mechanism: str) -> Setup:
    key = (config_name, mechanism)
    if key not in _SETUPS:
        _SETUPS[key] = Setup(config_name, [f"market.mechanism={mechanism}"])
    return _SETUPS[key]


def assert_same_outcome(fast: MarketOutcome, reference: MarketOutcome) -> None:
    for name in _ARRAYS:
        got, expected = getattr(fast, name), getattr(reference, name)
        assert got.dtype == expected.dtype == np.int64, name
        assert got.shape == expected.shape, name
        assert np.array_equal(got, expected), name
    assert fast.n_orders == reference.n_orders
    assert fast.n_rejected == reference.n_rejected
    assert tuple(fast.trades) == tuple(reference.trades)
    for trade in fast.trades:
        assert all(type(v) is int for v in trade)
    assert fast.encoded is not None
    assert reference.encoded is not None
    assert fast.encoded.params_json == reference.encoded.params_json
    assert bodies(fast.encoded.orders) == bodies(reference.encoded.orders)
    assert bodies(fast.encoded.trades) == bodies(reference.encoded.trades)
    for key in ("params", "orders", "trades", "rejected"):
        assert fast.records[key] == reference.records[key], key
    assert list(fast.records) == list(reference.records)
    # The encoded bytes are the canonical form of the dict records.
    assert fast.encoded.params_json == canonical_json(fast.records["params"])
    assert bodies(fast.encoded.orders) == [canonical_json(o) for o in fast.records["orders"]]
    assert bodies(fast.encoded.trades) == [canonical_json(t) for t in fast.records["trades"]]
    # The objects built on demand are the exchange's own result.
    records, expected = fast.records, reference.records
    assert isinstance(records, SlotRecords)
    assert isinstance(expected, SlotRecords)
    assert records.result() == expected.result()
    assert records.order_objects() == expected.order_objects()


def check_slot(s: Setup, slot: int, actions: NDArray[np.float64]) -> MarketOutcome:
    decoded = s.decode(actions)
    fast = s.market.clear(slot, decoded)
    assert_same_outcome(fast, s.market.reference_outcome(slot, decoded))
    return fast


@pytest.mark.parametrize("mechanism", available_mechanisms())
def test_demo_outcome_equals_reference(mechanism: str) -> None:
    s = setup_for("higashifuji_demo", mechanism)
    rng = np.random.default_rng(5)
    n = s.community.n_agents
    traded = 0
    for episode_seed in (0, 2**62 + 3):
        s.market.reset(episode_seed)
        for slot in (0, 1, 17, 47, 12345):
            fast = check_slot(s, slot, rng.uniform(-1.2, 1.2, (n, s.action_size)))
            traded += len(fast.trades)
            # The ledger's replay hook re-clears the recorded orders to the recorded trades.
            records = fast.records
            assert replay(records["params"], records["orders"]) == records["trades"]
    assert traded > 0


@pytest.mark.parametrize("mechanism", available_mechanisms())
def test_edge_slots_equal_reference(mechanism: str) -> None:
    s = setup_for("higashifuji_demo", mechanism)
    n = s.community.n_agents
    rng = np.random.default_rng(2)
    nothing = np.zeros((n, s.action_size))
    buyers = rng.uniform(0.1, 1.0, (n, s.action_size))
    sellers = rng.uniform(-1.0, -0.1, (n, s.action_size))
    # Every price equal: ties everywhere, broken by the seeded arrival order.
    ties = np.tile(np.where(np.arange(n) % 2 == 0, 0.5, -0.5)[:, None], (1, s.action_size))
    # Buyers bidding the floor, sellers asking the ceiling: orders but no trade.
    apart = np.concatenate(
        (
            np.where(np.arange(n) % 2 == 0, 0.5, -0.5)[:, None],
            np.where(np.arange(n) % 2 == 0, -1.0, 1.0)[:, None] * np.ones((n, s.action_size - 1)),
        ),
        axis=1,
    )
    for actions in (nothing, buyers, sellers, ties, apart):
        fast = check_slot(s, 3, actions)
        if actions is nothing:
            assert fast.n_orders == 0
        if actions is apart:
            assert fast.n_orders > 0
            assert not fast.trades


@settings(max_examples=25, deadline=None)
@given(
    mechanism=st.sampled_from(available_mechanisms()),
    slot=st.integers(0, 10**6),
    seed=st.integers(0, 2**63 - 1),
    data=st.data(),
)
def test_random_slots_equal_reference(
    mechanism: str, slot: int, seed: int, data: st.DataObject
) -> None:
    s = setup_for("higashifuji_demo", mechanism)
    n = s.community.n_agents
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    # Few distinct prices so that ties are common; some agents out of the market.
    actions = rng.uniform(-1.0, 1.0, (n, s.action_size))
    actions[:, 1:-1] = rng.integers(-2, 3, (n, s.action_size - 2)) / 2
    actions[rng.random(n) < data.draw(st.floats(0.0, 1.0)), 0] = 0.0
    s.market.reset(seed)
    check_slot(s, slot, actions)


@pytest.mark.parametrize("mechanism", ["cda", "call"])
def test_generated_community_equals_reference(mechanism: str) -> None:
    s = setup_for("homes_200", mechanism)
    n = s.community.n_agents
    rng = np.random.default_rng(9)
    s.market.reset(4)
    for slot in (0, 29):
        fast = check_slot(s, slot, rng.uniform(-1.0, 1.0, (n, s.action_size)))
        assert len(fast.trades) > 0
        assert fast.n_orders > 100


def test_order_arrays_are_the_orders() -> None:
    s = setup_for("higashifuji_demo", "cda")
    rng = np.random.default_rng(1)
    decoded = s.decode(rng.uniform(-1, 1, (s.community.n_agents, s.action_size)))
    orders = s.market.order_arrays(8, decoded)
    assert orders.n_orders == int(np.count_nonzero(decoded.side))
    assert s.market.exchange.orders(orders) == s.market.orders(8, decoded)
    assert set(decoded.side[orders.agent].tolist()) <= {BUY, SELL}


def test_episode_equal_with_and_without_the_compiled_slot(monkeypatch: pytest.MonkeyPatch) -> None:
    """A whole episode (demonstration community, one day, random actions with NaN, inf and
    out-of-range values) gives the same observations, rewards, infos and ledger head whether
    the usual slot is cleared by the compiled kernel or by the array passes."""
    compiled_slots = 0
    clear_tables = ArrayExchange.clear_tables

    def counting(self: ArrayExchange, *args: Any) -> Any:
        nonlocal compiled_slots
        tables = clear_tables(self, *args)
        compiled_slots += 0 if tables is None else sum(tables.cleared())
        return tables

    monkeypatch.setattr(ArrayExchange, "clear_tables", counting)

    def run(compiled: bool) -> tuple[str, str]:
        env = p2p_env.parallel_env(config="higashifuji_demo", seed=3)
        market = env.unwrapped.sim.market
        assert isinstance(market, ExchangeMarket)
        market.exchange.compiled = compiled
        return episode_digest(env, 3)

    compiled = run(True)
    assert compiled_slots >= 40  # nearly every slot of the day went the compiled way
    compiled_slots = 0
    assert run(False) == compiled
    assert compiled_slots == 0


@pytest.mark.parametrize("mechanism", available_mechanisms())
def test_clear_many_equals_each_market_alone(mechanism: str) -> None:
    """``ExchangeMarket.clear_many`` gives each community what its own ``clear`` gives, a
    community whose orders the one call cannot clear (an order to reject) included; only the
    cda takes the one call."""
    config = load_config("higashifuji_demo", [f"market.mechanism={mechanism}"])
    community = Community.from_config(config)
    s = setup_for("higashifuji_demo", mechanism)
    seeds, slots = (0, 5, 2**62 + 1, 9), [0, 17, 47, 3]
    markets = [ExchangeMarket(config, community, seed) for seed in seeds]
    rng = np.random.default_rng(11)
    actions = rng.uniform(-1.0, 1.0, (len(seeds), community.n_agents, s.action_size))
    decoded = s.decode(actions)
    # Community 2 submits an order of 0 Wh: the exchange rejects it, so that slot is cleared
    # alone (the reference path) and the others in the one call.
    ordering = np.flatnonzero(decoded.side[2])
    decoded.quantity_wh[2, ordering[0]] = 0
    expected = [
        market.clear(slot, decoded.row(b))
        for b, (market, slot) in enumerate(zip(markets, slots, strict=True))
    ]
    assert expected[2].n_rejected == 1
    batch = ExchangeMarket.clear_many(markets, slots, decoded)
    if mechanism != "cda":
        assert batch is None
        return
    assert batch is not None
    outcomes, tables = batch
    assert tables is None  # a slot went alone: the batch's arrays do not hold it
    assert sum(len(o.trades) for o in outcomes) > 0
    for got, want in zip(outcomes, expected, strict=True):
        assert_same_outcome(got, want)
    # Without the rejected order every slot is the one call's, and its arrays hold them all.
    decoded.quantity_wh[2, ordering[0]] = 5
    batch = ExchangeMarket.clear_many(markets, slots, decoded)
    assert batch is not None
    outcomes, tables = batch
    assert tables is not None
    for b, (got, market, slot) in enumerate(zip(outcomes, markets, slots, strict=True)):
        assert_same_outcome(got, market.clear(slot, decoded.row(b)))
        assert np.array_equal(tables.totals[0, b], got.bought_wh)
        assert np.array_equal(tables.market[0, b], got.price_ticks)
