"""Property-based tests of every mechanism on random order sets (hypothesis).

The strategies draw small books with many ties (prices 0..10 ticks, quantities 1..30 Wh, six
agents, three tags, buyers accepting one to three tags) so that partial fills, rationing at the
margin and remainders moving across tags happen in most examples; about one order in eight is
corrupted so that every rejection reason is exercised. The references in this file (validation,
arrival order, tag order, a slow CDA, a per-book greedy clearing) are written independently of
``exchange`` and only read its public result.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter, defaultdict
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exchange import ClearingParams, ClearingResult, Order, clear, orders_from_dicts

TAGS = ("pv", "battery", "phv")
BOUNDS = (0, 10)
MECHANISMS = ("call", "cda", "midpoint")
_MASK = (1 << 64) - 1
_GAMMA = 0x9E3779B97F4A7C15

# ---------------------------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------------------------

_CORRUPTIONS = (
    "zero_qty",
    "negative_qty",
    "float_qty",
    "price_high",
    "float_price",
    "unknown_tag",
    "duplicate_id",
    "buy_no_prices",
    "sell_no_tag",
    "sell_no_price",
    "bool_qty",
)


@st.composite
def order_sets(draw: st.DrawFn, max_orders: int = 24, corrupt: bool = True) -> list[Order]:
    """A list of orders, some corrupted, with ids ``o0, o1, ...`` (duplicates when corrupted)."""
    n = draw(st.integers(0, max_orders))
    orders: list[Order] = []
    price = st.integers(*BOUNDS)
    for i in range(n):
        agent = f"a{draw(st.integers(0, 5))}"
        qty: Any = draw(st.integers(1, 30))
        if draw(st.booleans()):
            order = Order.sell(
                f"o{i}", agent, qty, tag=draw(st.sampled_from(TAGS)), price=draw(price)
            )
        else:
            tags = draw(st.lists(st.sampled_from(TAGS), min_size=1, max_size=3, unique=True))
            order = Order.buy(f"o{i}", agent, qty, prices={t: draw(price) for t in tags})
        if corrupt and draw(st.integers(0, 7)) == 0:
            order = _corrupt(order, draw(st.sampled_from(_CORRUPTIONS)), orders)
        orders.append(order)
    return orders


def _corrupt(order: Order, how: str, earlier: list[Order]) -> Order:
    o = order
    if how == "zero_qty":
        return Order(o.id, o.agent, o.side, 0, o.tag, o.price, o.prices)
    if how == "negative_qty":
        return Order(o.id, o.agent, o.side, -3, o.tag, o.price, o.prices)
    if how == "float_qty":
        return Order(o.id, o.agent, o.side, float(o.quantity_wh), o.tag, o.price, o.prices)
    if how == "bool_qty":
        return Order(o.id, o.agent, o.side, True, o.tag, o.price, o.prices)
    if how == "price_high":
        if o.side == "sell":
            return Order(o.id, o.agent, o.side, o.quantity_wh, o.tag, BOUNDS[1] + 1)
        return Order(o.id, o.agent, o.side, o.quantity_wh, prices=((o.prices[0][0], -1),))
    if how == "float_price":
        if o.side == "sell":
            return Order(o.id, o.agent, o.side, o.quantity_wh, o.tag, 2.0)
        return Order(o.id, o.agent, o.side, o.quantity_wh, prices=((o.prices[0][0], 2.5),))
    if how == "unknown_tag":
        if o.side == "sell":
            return Order(o.id, o.agent, o.side, o.quantity_wh, "wind", o.price)
        return Order(o.id, o.agent, o.side, o.quantity_wh, prices=(*o.prices, ("wind", 3)))
    if how == "duplicate_id" and earlier:
        return Order(earlier[-1].id, o.agent, o.side, o.quantity_wh, o.tag, o.price, o.prices)
    if how == "buy_no_prices":
        return Order(o.id, o.agent, "buy", o.quantity_wh)
    if how == "sell_no_tag":
        return Order(o.id, o.agent, "sell", o.quantity_wh, None, 5)
    if how == "sell_no_price":
        return Order(o.id, o.agent, "sell", o.quantity_wh, "pv", None)
    return o


def params_for(mechanism: str) -> st.SearchStrategy[ClearingParams]:
    return st.builds(
        ClearingParams,
        mechanism=st.just(mechanism),
        price_min=st.just(BOUNDS[0]),
        price_max=st.just(BOUNDS[1]),
        tags=st.permutations(TAGS).map(tuple),
        tag_order=st.sampled_from(("price", "config")),
        seed=st.integers(0, 2**64 - 1),
    )


# ---------------------------------------------------------------------------------------------
# Independent references
# ---------------------------------------------------------------------------------------------


def expected_reasons(orders: list[Order], params: ClearingParams) -> list[str | None]:
    """What validation must say about each order (None: admitted), written from the docs."""
    counts = Counter(o.id for o in orders)
    out: list[str | None] = []
    lo, hi = params.price_min, params.price_max

    def price_problem(p: object) -> str | None:
        if type(p) is not int:
            return "non_integer_price"
        return None if lo <= p <= hi else "price_out_of_bounds"

    for o in orders:
        reason: str | None = None
        q = o.quantity_wh
        if counts[o.id] > 1:
            reason = "duplicate_id"
        elif type(q) is not int:
            reason = "non_integer_quantity"
        elif q <= 0:
            reason = "non_positive_quantity"
        elif o.side == "sell":
            if o.tag is None:
                reason = "sell_without_tag"
            elif o.price is None:
                reason = "sell_without_price"
            elif o.tag not in params.tags:
                reason = "unknown_tag"
            else:
                reason = price_problem(o.price)
        elif not o.prices:
            reason = "buy_without_prices"
        else:
            for tag, p in o.prices:
                reason = "unknown_tag" if tag not in params.tags else price_problem(p)
                if reason:
                    break
        out.append(reason)
    return out


def arrival_sequence(n: int, seed: int) -> list[int]:
    """Input positions in arrival order: SplitMix64 written out in plain Python."""
    keys = []
    for i in range(n):
        z = (seed + (i + 1) * _GAMMA) & _MASK
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
        keys.append((z ^ (z >> 31), i))
    return [i for _, i in sorted(keys)]


def tag_sequence(order: Order, params: ClearingParams) -> list[tuple[str, int]]:
    """The buyer's tags in the order its remainder visits them."""
    rank = {t: i for i, t in enumerate(params.tags)}
    legs = [(t, int(p)) for t, p in order.prices]
    if params.tag_order == "price":
        return sorted(legs, key=lambda leg: (-leg[1], rank[leg[0]]))
    return sorted(legs, key=lambda leg: rank[leg[0]])


def reference_cda(
    orders: list[Order], params: ClearingParams
) -> list[tuple[str, str, str, int, int]]:
    """A slow continuous double auction: linear scans for the best resting order."""
    admitted = {i for i, reason in enumerate(expected_reasons(orders, params)) if reason is None}
    arrival = {pos: t for t, pos in enumerate(arrival_sequence(len(orders), params.seed))}
    remaining = {i: int(orders[i].quantity_wh) for i in admitted}
    resting: list[int] = []
    trades: list[tuple[str, str, str, int, int]] = []
    for pos in arrival_sequence(len(orders), params.seed):
        if pos not in admitted:
            continue
        o = orders[pos]
        if o.side == "sell":
            while remaining[pos]:
                best: tuple[tuple[int, int], int, int] | None = None
                for r in resting:
                    other = orders[r]
                    limit = dict(other.prices).get(str(o.tag)) if other.side == "buy" else None
                    if limit is None or not remaining[r] or limit < int(o.price or 0):
                        continue
                    key = (-int(limit), arrival[r])
                    if best is None or key < best[0]:
                        best = (key, r, int(limit))
                if best is None:
                    break
                _, r, limit = best
                q = min(remaining[pos], remaining[r])
                trades.append((orders[r].id, o.id, str(o.tag), q, limit))
                remaining[pos] -= q
                remaining[r] -= q
        else:
            for tag, limit in tag_sequence(o, params):
                while remaining[pos]:
                    best_ask: tuple[tuple[int, int], int] | None = None
                    for r in resting:
                        other = orders[r]
                        if other.side != "sell" or other.tag != tag or not remaining[r]:
                            continue
                        if int(other.price or 0) > limit:
                            continue
                        key = (int(other.price or 0), arrival[r])
                        if best_ask is None or key < best_ask[0]:
                            best_ask = (key, r)
                    if best_ask is None:
                        break
                    r = best_ask[1]
                    q = min(remaining[pos], remaining[r])
                    trades.append((o.id, orders[r].id, tag, q, int(orders[r].price or 0)))
                    remaining[pos] -= q
                    remaining[r] -= q
        if remaining[pos]:
            resting.append(pos)
    return trades


def half_even(x: Fraction) -> int:
    """Round a fraction half to even (Python's round does exactly that for Fractions)."""
    return round(x)


# ---------------------------------------------------------------------------------------------
# Invariants shared by every mechanism
# ---------------------------------------------------------------------------------------------


def check_common(orders: list[Order], params: ClearingParams, result: ClearingResult) -> None:
    reasons = expected_reasons(orders, params)
    expected_rejected = [(o.id, r) for o, r in zip(orders, reasons, strict=True) if r]
    assert [(r.id, str(r.reason)) for r in result.rejected] == expected_rejected
    admitted = [o for o, r in zip(orders, reasons, strict=True) if r is None]
    by_id = {o.id: o for o in admitted}

    traded: Counter[str] = Counter()
    volume: Counter[str] = Counter()
    for t in result.trades:
        buy, sell = by_id[t.buy], by_id[t.sell]
        assert buy.side == "buy"
        assert sell.side == "sell"
        assert (t.buyer, t.seller) == (buy.agent, sell.agent)
        assert t.quantity_wh > 0
        assert t.tag == sell.tag
        limits = dict(buy.prices)
        assert t.tag in limits, f"{t.buy} does not accept {t.tag}"
        # Individually rational for both sides.
        assert int(sell.price or 0) <= t.price <= limits[t.tag]
        assert t.amount == half_even(Fraction(t.quantity_wh * t.price, 1000))
        traded[t.buy] += t.quantity_wh
        traded[t.sell] += t.quantity_wh
        volume[t.tag] += t.quantity_wh

    left = {o.id: int(o.quantity_wh) - traded[o.id] for o in admitted}
    assert all(v >= 0 for v in left.values()), "an order traded more than its quantity"
    assert [(u.id, u.side, u.quantity_wh) for u in result.unfilled] == [
        (o.id, o.side, left[o.id]) for o in admitted if left[o.id] > 0
    ]
    assert result.volumes_wh == {tag: volume[tag] for tag in params.tags}

    totals = result.agent_totals()
    assert sum(a.paid for a in totals.values()) == sum(a.received for a in totals.values())
    assert sum(a.bought_wh for a in totals.values()) == sum(a.sold_wh for a in totals.values())

    # No unfilled buy and unfilled sell of a tag the buyer accepts could still trade.
    for buy in admitted:
        if buy.side != "buy" or not left[buy.id]:
            continue
        for tag, limit in buy.prices:
            for sell in admitted:
                if sell.side == "sell" and sell.tag == tag and left[sell.id]:
                    assert int(sell.price or 0) > limit, (buy.id, sell.id, tag)

    # Replayable: same inputs, same bytes; the JSON form reads back to an equal result.
    assert clear(orders, params).canonical_json() == result.canonical_json()
    assert ClearingResult.from_dict(json.loads(result.canonical_json())) == result


def check_books(orders: list[Order], params: ClearingParams, result: ClearingResult) -> None:
    """``call``/``midpoint``: each book is the greedy max-volume clearing of its final offers.

    The final offer of a buyer on a tag is what its earlier tags left over. Given those offers,
    the book must trade ``max_p min(demand >= p, supply <= p)`` and fill buy legs by (price
    desc, arrival) and sells by (price asc, arrival): recomputed here from scratch.
    """
    reasons = expected_reasons(orders, params)
    arrival = {pos: t for t, pos in enumerate(arrival_sequence(len(orders), params.seed))}
    fills: Counter[tuple[str, str]] = Counter()
    for t in result.trades:
        fills[(t.buy, t.tag)] += t.quantity_wh
        fills[(t.sell, t.tag)] += t.quantity_wh
    bids: dict[str, list[tuple[int, int, str, int]]] = defaultdict(list)
    asks: dict[str, list[tuple[int, int, str, int]]] = defaultdict(list)
    for pos, (o, reason) in enumerate(zip(orders, reasons, strict=True)):
        if reason:
            continue
        if o.side == "sell":
            asks[str(o.tag)].append((int(o.price or 0), arrival[pos], o.id, int(o.quantity_wh)))
            continue
        offer = int(o.quantity_wh)
        for tag, limit in tag_sequence(o, params):
            bids[tag].append((-limit, arrival[pos], o.id, offer))
            offer -= fills[(o.id, tag)]
    for tag in params.tags:
        demand, supply = sorted(bids[tag]), sorted(asks[tag])
        levels = {-b[0] for b in demand} | {a[0] for a in supply}
        best = max(
            (
                min(
                    sum(q for b, _, _, q in demand if -b >= p),
                    sum(q for a, _, _, q in supply if a <= p),
                )
                for p in levels
            ),
            default=0,
        )
        assert result.volumes_wh[tag] == best, f"{tag}: not the maximum crossing volume"
        for side in (demand, supply):
            room = best
            for _, _, order_id, q in side:
                assert fills[(order_id, tag)] == min(q, room), f"{order_id} on {tag}: priority"
                room -= min(q, room)


# ---------------------------------------------------------------------------------------------
# The properties
# ---------------------------------------------------------------------------------------------

# Each mechanism's properties run twice: a quick pass that stays in the default selection and
# the thorough pass (thousands of order sets per mechanism) marked slow, still run by `make test`.
_QUICK = settings(max_examples=150, deadline=None)
_THOROUGH = settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def call_properties(orders: list[Order], params: ClearingParams) -> None:
    result = clear(orders, params)
    check_common(orders, params, result)
    check_books(orders, params, result)
    for t in result.trades:
        assert t.price == result.clearing_prices[t.tag], "call: one price per tag"
    assert set(result.clearing_prices) == {t for t, v in result.volumes_wh.items() if v}


def midpoint_properties(orders: list[Order], params: ClearingParams) -> None:
    result = clear(orders, params)
    check_common(orders, params, result)
    check_books(orders, params, result)
    by_id = {o.id: o for o in orders}
    for t in result.trades:
        bid = int(dict(by_id[t.buy].prices)[t.tag])
        ask = int(by_id[t.sell].price or 0)
        assert t.price == half_even(Fraction(bid + ask, 2))
    # Same pairs and quantities as the call auction: only the prices differ.
    call = clear(orders, params.replace(mechanism="call"))
    assert [(t.buy, t.sell, t.tag, t.quantity_wh) for t in result.trades] == [
        (t.buy, t.sell, t.tag, t.quantity_wh) for t in call.trades
    ]


def cda_properties(orders: list[Order], params: ClearingParams) -> None:
    result = clear(orders, params)
    check_common(orders, params, result)
    assert [(t.buy, t.sell, t.tag, t.quantity_wh, t.price) for t in result.trades] == reference_cda(
        orders, params
    )


@_QUICK
@given(orders=order_sets(), params=params_for("call"))
def test_call_properties(orders: list[Order], params: ClearingParams) -> None:
    call_properties(orders, params)


@pytest.mark.slow
@_THOROUGH
@given(orders=order_sets(), params=params_for("call"))
def test_call_properties_thoroughly(orders: list[Order], params: ClearingParams) -> None:
    call_properties(orders, params)


@_QUICK
@given(orders=order_sets(), params=params_for("midpoint"))
def test_midpoint_properties(orders: list[Order], params: ClearingParams) -> None:
    midpoint_properties(orders, params)


@pytest.mark.slow
@_THOROUGH
@given(orders=order_sets(), params=params_for("midpoint"))
def test_midpoint_properties_thoroughly(orders: list[Order], params: ClearingParams) -> None:
    midpoint_properties(orders, params)


@_QUICK
@given(orders=order_sets(), params=params_for("cda"))
def test_cda_properties_and_reference(orders: list[Order], params: ClearingParams) -> None:
    cda_properties(orders, params)


@pytest.mark.slow
@_THOROUGH
@given(orders=order_sets(), params=params_for("cda"))
def test_cda_properties_and_reference_thoroughly(
    orders: list[Order], params: ClearingParams
) -> None:
    cda_properties(orders, params)


@settings(max_examples=300, deadline=None)
@given(orders=order_sets(max_orders=60, corrupt=False), params=params_for("cda"))
def test_cda_matches_reference_on_larger_books(orders: list[Order], params: ClearingParams) -> None:
    result = clear(orders, params)
    assert [(t.buy, t.sell, t.tag, t.quantity_wh, t.price) for t in result.trades] == reference_cda(
        orders, params
    )


@settings(max_examples=200, deadline=None)
@given(orders=order_sets(max_orders=60, corrupt=False), params=params_for("call"))
def test_call_books_on_larger_books(orders: list[Order], params: ClearingParams) -> None:
    result = clear(orders, params)
    check_books(orders, params, result)


@settings(max_examples=200, deadline=None)
@given(
    orders=order_sets(corrupt=False),
    params=params_for("call"),
    mechanism=st.sampled_from(("call", "midpoint")),
)
def test_seed_does_not_change_single_tag_volumes(
    orders: list[Order], params: ClearingParams, mechanism: str
) -> None:
    """With one tag per buyer the books are independent: the seed only picks who is rationed.

    (With several tags it also decides whose remainder moves on, so volumes may differ.)
    """
    single = [
        Order.buy(o.id, o.agent, o.quantity_wh, dict(o.prices[:1])) if o.side == "buy" else o
        for o in orders
    ]
    a = clear(single, params.replace(mechanism=mechanism))
    b = clear(single, params.replace(mechanism=mechanism, seed=(params.seed + 1) % 2**64))
    assert a.volumes_wh == b.volumes_wh
    if mechanism == "call":
        assert a.clearing_prices == b.clearing_prices


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_byte_identical_in_a_fresh_process(mechanism: str) -> None:
    """No dependence on hash randomisation, dict order of a run or global RNG state."""
    orders = _fixed_orders()
    params = ClearingParams(mechanism=mechanism, price_min=0, price_max=10, seed=7)
    payload = json.dumps({"orders": [o.to_dict() for o in orders], "params": params.to_dict()})
    code = (
        "import json, sys\n"
        "from exchange import ClearingParams, clear, orders_from_dicts\n"
        "d = json.loads(sys.stdin.read())\n"
        "r = clear(orders_from_dicts(d['orders']), ClearingParams.from_dict(d['params']))\n"
        "sys.stdout.buffer.write(r.canonical_json())\n"
    )
    outputs = set()
    for hash_seed in ("1", "2"):
        done = subprocess.run(
            [sys.executable, "-c", code],
            input=payload.encode(),
            capture_output=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
            cwd=Path(__file__).resolve().parents[2],
        )
        outputs.add(done.stdout)
    assert outputs == {
        clear(orders_from_dicts(json.loads(payload)["orders"]), params).canonical_json()
    }


def _fixed_orders() -> list[Order]:
    orders: list[Order] = []
    for i in range(40):
        agent = f"a{i % 7}"
        qty = 1 + (i * 37) % 29
        price = (i * 13) % 11
        if i % 3 == 0:
            orders.append(Order.sell(f"s{i}", agent, qty, tag=TAGS[(i // 3) % 3], price=price))
        else:
            prices = {TAGS[(i + k) % 3]: (price + k) % 11 for k in range(1 + i % 3)}
            orders.append(Order.buy(f"b{i}", agent, qty, prices=prices))
    return orders
