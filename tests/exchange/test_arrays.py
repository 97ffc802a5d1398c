"""The array path (``exchange.arrays``) equals ``exchange.clear`` on the same orders.

Random order sets are drawn as columns and, independently of ``exchange.arrays``, turned into the
:class:`~exchange.Order` list they stand for; both paths must give the same result for every
registered mechanism, rejections (reasons and details) included, and the same canonical bytes.
The draws favour collisions: six agents (one submitting twice is a duplicate id), prices around
the bounds, quantities around zero, buyers accepting one to three tags.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exchange import (
    ArrayExchange,
    ClearingParams,
    Order,
    OrderArrays,
    agent_tags,
    available_mechanisms,
    clear,
    clear_arrays,
)
from ledger.canonical import canonical_json
from ledger.fast import trusted_json, trusted_json_many

TAGS = ("pv", "battery", "phv")
BOUNDS = (0, 10)
# Awkward names on purpose: JSON escapes, a '%' (the templates are %-formats), non-ASCII, empty.
NAMES = ('h"q\\', "b%d", "家2", "", *(f"a{i}" for i in range(40)))
SUFFIXES = ("", "@0", "@17", "@%s", "@é")


@dataclass
class Case:
    params: ClearingParams
    agents: tuple[str, ...]
    orders: OrderArrays


@st.composite
def cases(draw: st.DrawFn, mechanism: str | None = None, max_orders: int = 20) -> Case:
    mechanisms = available_mechanisms()
    n_agents = draw(st.integers(1, len(NAMES)) | st.just(len(NAMES)))
    agents = tuple(draw(st.permutations(NAMES))[:n_agents])
    tags = tuple(draw(st.permutations(TAGS)))
    table = None
    if draw(st.integers(0, 3)):  # mostly a known-agent table; some agents may be missing
        listed = [a for a in agents if draw(st.integers(0, 7))]
        some_tags = st.lists(st.sampled_from(TAGS), max_size=3, unique=True)
        table = agent_tags(
            {a: TAGS if draw(st.integers(0, 3)) else draw(some_tags) for a in listed}
        )
    params = ClearingParams(
        mechanism=mechanism or draw(st.sampled_from(mechanisms)),
        price_min=BOUNDS[0],
        price_max=BOUNDS[1],
        tags=tags,
        tag_order=draw(st.sampled_from(("price", "config"))),
        seed=draw(st.integers(0, 2**64 - 1)),
        agents=table,
    )
    # Mostly one order per agent; sometimes an agent submits twice (a duplicate id).
    # Biased to larger sets: hypothesis favours small numbers and small sets seldom trade.
    size = draw(st.integers(0, max_orders) | st.integers(max_orders // 2, max_orders))
    order_agents = draw(st.permutations(range(n_agents)))[:size]
    for _ in range(draw(st.integers(0, 8)) // 7):
        order_agents.insert(
            draw(st.integers(0, len(order_agents))), draw(st.integers(0, n_agents - 1))
        )
    n = len(order_agents)
    agent = np.asarray(order_agents, dtype=np.int64)
    one_side = {0: True, 1: False}.get(draw(st.integers(0, 7)))  # sometimes one side only
    if one_side is None:
        is_buy = np.asarray(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    else:
        is_buy = np.full(n, one_side, dtype=bool)
    # Mostly valid quantities, sometimes zero or negative.
    quantity = [
        draw(st.integers(1, 30)) if draw(st.integers(0, 15)) else -draw(st.integers(0, 2))
        for _ in range(n)
    ]
    bad_price = st.sampled_from((BOUNDS[0] - 1, BOUNDS[1] + 1))
    price = st.integers(0, 30).flatmap(lambda k: bad_price if k == 0 else st.integers(*BOUNDS))
    prices = [[draw(price) for _ in TAGS] for _ in range(n)]
    accepts = None
    if draw(st.booleans()):
        accepts = np.asarray(
            [[draw(st.integers(0, 4)) > 0 for _ in TAGS] for _ in range(n)], dtype=bool
        ).reshape(n, len(TAGS))
    orders = OrderArrays(
        agent=agent,
        is_buy=is_buy,
        quantity_wh=np.asarray(quantity, dtype=np.int64),
        prices=np.asarray(prices, dtype=np.int64).reshape(n, len(TAGS)),
        sell_tag=np.asarray(
            [draw(st.integers(0, len(TAGS) - 1)) for _ in range(n)], dtype=np.int64
        ),
        sell_price=np.asarray([draw(price) for _ in range(n)], dtype=np.int64),
        id_suffix=draw(st.sampled_from(SUFFIXES)),
        accepts=accepts,
    )
    return Case(params, agents, orders)


def as_orders(case: Case) -> list[Order]:
    """The Order list the columns stand for (written here, independently of exchange.arrays)."""
    o, tags = case.orders, case.params.tags
    out = []
    for row in range(o.agent.shape[0]):
        name = case.agents[int(o.agent[row])]
        qty = int(o.quantity_wh[row])
        if o.is_buy[row]:
            prices = {
                tag: int(o.prices[row, code])
                for code, tag in enumerate(tags)
                if o.accepts is None or o.accepts[row, code]
            }
            out.append(Order.buy(name + o.id_suffix, name, qty, prices))
        else:
            tag = tags[int(o.sell_tag[row])]
            out.append(Order.sell(name + o.id_suffix, name, qty, tag, int(o.sell_price[row])))
    return out


def check_equal(case: Case) -> None:
    orders = as_orders(case)
    expected = clear(orders, case.params)
    got = clear_arrays(case.orders, case.params, case.agents)
    result = got.to_result()
    assert result == expected
    assert result.canonical_json() == expected.canonical_json()
    # The columns say the same as the objects.
    names, tags = case.agents, case.params.tags
    assert [names[b] for b in got.buyer.tolist()] == [t.buyer for t in expected.trades]
    assert [names[s] for s in got.seller.tolist()] == [t.seller for t in expected.trades]
    assert [orders[p].id for p in got.buy_position.tolist()] == [t.buy for t in expected.trades]
    assert [orders[p].id for p in got.sell_position.tolist()] == [t.sell for t in expected.trades]
    assert [tags[t] for t in got.tag.tolist()] == [t.tag for t in expected.trades]
    assert got.quantity_wh.tolist() == [t.quantity_wh for t in expected.trades]
    assert got.price.tolist() == [t.price for t in expected.trades]
    assert got.amount.tolist() == [t.amount for t in expected.trades]
    assert got.clearing_prices.tolist() == [expected.clearing_prices.get(t, -1) for t in tags]
    assert got.volume_wh.tolist() == [expected.volumes_wh[t] for t in tags]
    assert got.n_trades == len(expected.trades)
    for array in (got.buyer, got.seller, got.tag, got.quantity_wh, got.price, got.amount):
        assert array.dtype == np.int64
    # Canonical bytes straight from the columns.
    assert got.trades_json() == trusted_json_many(t.to_dict() for t in expected.trades)
    assert got.trades_json() == [canonical_json(t) for t in expected.to_dict()["trades"]]
    assert got.trade_records() == expected.to_dict()["trades"]
    assert got.order_objects() == orders
    exchange = ArrayExchange(case.params, case.agents)
    expected_orders = [trusted_json(o.to_dict()) for o in orders]
    assert exchange.orders_json(case.orders) == expected_orders
    exchange.row_path_max = 0  # the column path, as for large order sets
    assert exchange.orders_json(case.orders) == expected_orders


@settings(max_examples=250, deadline=None)
@given(cases())
def test_arrays_equal_clear(case: Case) -> None:
    check_equal(case)


@pytest.mark.parametrize("mechanism", available_mechanisms())
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_arrays_equal_clear_per_mechanism(mechanism: str, data: st.DataObject) -> None:
    check_equal(data.draw(cases(mechanism=mechanism, max_orders=40)))


def _columns(rows: list[tuple[int, bool, int, list[int], int, int]]) -> OrderArrays:
    n = len(rows)
    return OrderArrays(
        agent=np.asarray([r[0] for r in rows], dtype=np.int64),
        is_buy=np.asarray([r[1] for r in rows], dtype=bool),
        quantity_wh=np.asarray([r[2] for r in rows], dtype=np.int64),
        prices=np.asarray([r[3] for r in rows], dtype=np.int64).reshape(n, len(TAGS)),
        sell_tag=np.asarray([r[4] for r in rows], dtype=np.int64),
        sell_price=np.asarray([r[5] for r in rows], dtype=np.int64),
        id_suffix="@5",
    )


@pytest.mark.parametrize("mechanism", available_mechanisms())
def test_edge_cases(mechanism: str) -> None:
    agents = ("a0", "a1", "a2", "a3")
    params = ClearingParams(mechanism=mechanism, price_min=0, price_max=10, tags=TAGS, seed=9)
    table = params.replace(agents=agent_tags({"a0": ["pv"], "a1": ["battery"], "a2": []}))
    zero = [0, 0, 0]
    row_sets: list[list[tuple[int, bool, int, list[int], int, int]]] = [
        [],  # no orders
        [(0, False, 5, zero, 0, 3), (1, False, 5, zero, 1, 3)],  # sellers only
        [(0, True, 5, [4, 5, 6], 0, 0)],  # one buyer
        [(0, False, 0, zero, 0, 3), (1, True, 0, [9, 9, 9], 0, 0)],  # zero quantities
        # ties: equal prices and quantities everywhere
        [(a, a % 2 == 0, 4, [5, 5, 5], 0, 5) for a in range(4)],
        # no trade: the bids lie below the asks
        [(0, False, 5, zero, 0, 8), (1, True, 5, [2, 2, 2], 0, 0)],
        # a duplicate agent, an unknown one (with the table), a tag not allowed
        [(0, False, 5, zero, 0, 3), (0, True, 2, [9, 9, 9], 0, 0), (3, True, 1, [9] * 3, 0, 0)],
        [(2, False, 5, zero, 0, 3), (1, True, 5, [9, 9, 9], 0, 0)],
    ]
    for rows in row_sets:
        for p in (params, table):
            check_equal(Case(p, agents, _columns(rows)))


def test_rejections_carry_validations_reasons() -> None:
    agents = ("a0", "a1", "a2", "zz")
    params = ClearingParams(
        price_min=0, price_max=10, agents=agent_tags({"a0": ["pv"], "a1": [], "a2": ["pv"]})
    )
    orders = _columns(
        [
            (0, False, 5, [0, 0, 0], 1, 3),  # a0 may not sell battery
            (1, True, 0, [5, 5, 5], 0, 0),  # zero quantity
            (2, True, 5, [5, 11, 5], 0, 0),  # one price out of bounds
            (3, True, 5, [5, 5, 5], 0, 0),  # unknown agent
        ]
    )
    got = clear_arrays(orders, params, agents)
    reasons = [(r.id, str(r.reason)) for r in got.rejected]
    assert reasons == [
        ("a0@5", "tag_not_allowed"),
        ("a1@5", "non_positive_quantity"),
        ("a2@5", "price_out_of_bounds"),
        ("zz@5", "unknown_agent"),
    ]
    assert "prices.battery 11" in got.rejected[2].detail
    assert got.n_trades == 0


def test_seed_is_per_call_and_params_unchanged() -> None:
    params = ClearingParams(mechanism="cda", price_min=0, price_max=10, seed=1)
    exchange = ArrayExchange(params, ("a0", "a1", "a2"))
    orders = _columns(
        [
            (0, False, 3, [0, 0, 0], 0, 1),
            (1, False, 3, [0, 0, 0], 0, 1),
            (2, True, 4, [5] * 3, 0, 0),
        ]
    )
    for seed in (0, 5, 2**64 - 1):
        got = exchange.clear(orders, seed)
        assert got.params == params.replace(seed=seed)
        assert got.to_result() == clear(exchange.orders(orders), params.replace(seed=seed))
    assert exchange.params.seed == 1
    with pytest.raises(ValueError, match="seed"):
        exchange.clear(orders, -1)


def test_malformed_columns_are_refused() -> None:
    params = ClearingParams(price_min=0, price_max=10)
    exchange = ArrayExchange(params, ("a0", "a1"))
    good = _columns([(0, False, 3, [0, 0, 0], 0, 1), (1, True, 4, [5, 5, 5], 0, 0)])
    changes: list[tuple[dict[str, Any], str]] = [
        ({"agent": np.asarray([0, 2])}, "agent must be a 1-d array of indices of the 2 agents"),
        ({"agent": np.asarray([0, -1])}, "agent must be a 1-d array of indices"),
        ({"agent": np.asarray([0.0, 1.0])}, "agent must be int64, got float64"),
        ({"quantity_wh": np.asarray([3, 4], dtype=np.int32)}, "quantity_wh must be int64"),
        ({"sell_tag": np.asarray([-1, 0])}, r"sell_tag of a sell order must be a tag code"),
        ({"quantity_wh": np.asarray([3])}, r"quantity_wh has shape \(1,\), expected \(2,\)"),
        ({"sell_tag": np.asarray([3, 0])}, r"sell_tag of a sell order must be a tag code"),
        ({"prices": np.zeros((2, 2), dtype=np.int64)}, r"prices has shape \(2, 2\)"),
        ({"is_buy": np.asarray([0, 1])}, "is_buy must be bool"),
    ]
    for change, message in changes:
        fields = {name: getattr(good, name) for name in good.__dataclass_fields__}
        fields.update(change)
        with pytest.raises(ValueError, match=message):
            exchange.clear(OrderArrays(**fields))
    with pytest.raises(ValueError, match="unique"):
        ArrayExchange(params, ("a0", "a0"))
    with pytest.raises(ValueError, match="strings"):
        ArrayExchange(params, ("a0", 3))  # type: ignore[arg-type]
