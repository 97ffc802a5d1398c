"""Validation: every rejection reason, in its documented precedence, and nothing dropped."""

from __future__ import annotations

from typing import Any

import pytest

from exchange import ClearingParams, Order, RejectReason, agent_tags, clear

PARAMS = ClearingParams(mechanism="call", price_min=0, price_max=5000)
OK_SELL = Order.sell("s", "home_01", 100, "pv", 1000)
OK_BUY = Order.buy("b", "home_02", 100, {"pv": 2000})


def reasons(orders: list[Order], params: ClearingParams = PARAMS) -> list[tuple[str, str]]:
    return [(r.id, str(r.reason)) for r in clear(orders, params).rejected]


@pytest.mark.parametrize(
    ("order", "reason"),
    [
        (Order("", "a", "sell", 1, "pv", 1), "invalid_id"),
        (Order("x", "a", "hold", 1, "pv", 1), "invalid_side"),  # type: ignore[arg-type]
        (Order.sell("x", "", 1, "pv", 1), "invalid_agent"),
        (Order.sell("x", 7, 1, "pv", 1), "invalid_agent"),  # type: ignore[arg-type]
        (Order.sell("x", "a", 0, "pv", 1), "non_positive_quantity"),
        (Order.sell("x", "a", -5, "pv", 1), "non_positive_quantity"),
        (Order.sell("x", "a", 1.5, "pv", 1), "non_integer_quantity"),
        (Order.sell("x", "a", 100.0, "pv", 1), "non_integer_quantity"),
        (Order.sell("x", "a", True, "pv", 1), "non_integer_quantity"),
        (Order.sell("x", "a", 10**12 + 1, "pv", 1), "quantity_too_large"),
        (Order("x", "a", "sell", 1, "pv", 1, (("pv", 1),)), "inconsistent_fields"),
        (Order("x", "a", "sell", 1, None, 1), "sell_without_tag"),
        (Order("x", "a", "sell", 1, "pv", None), "sell_without_price"),
        (Order.sell("x", "a", 1, "wind", 1), "unknown_tag"),
        (Order.sell("x", "a", 1, "pv", 18.5), "non_integer_price"),
        (Order.sell("x", "a", 1, "pv", 5001), "price_out_of_bounds"),
        (Order.sell("x", "a", 1, "pv", -1), "price_out_of_bounds"),
        (Order("x", "a", "buy", 1, "pv", None, (("pv", 1),)), "inconsistent_fields"),
        (Order("x", "a", "buy", 1, None, 7, (("pv", 1),)), "inconsistent_fields"),
        (Order.buy("x", "a", 1, {}), "buy_without_prices"),
        (Order("x", "a", "buy", 1, prices=(("pv", 1), ("pv", 2))), "duplicate_tag"),
        (Order.buy("x", "a", 1, {"pv": 1, "wind": 1}), "unknown_tag"),
        (Order.buy("x", "a", 1, {"pv": 1, "battery": 2.0}), "non_integer_price"),
        (Order.buy("x", "a", 1, {"pv": 1, "battery": 5001}), "price_out_of_bounds"),
    ],
)
def test_each_reason(order: Order, reason: str) -> None:
    result = clear([OK_SELL, order, OK_BUY], PARAMS)
    assert [(r.id, str(r.reason)) for r in result.rejected] == [(order.id, reason)]
    # The good orders still clear around the bad one.
    assert [(t.buy, t.sell) for t in result.trades] == [("b", "s")]


def test_details_name_the_field_value_and_expectation() -> None:
    result = clear(
        [
            Order.sell("x", "a", 1, "pv", 6000),
            Order.buy("y", "a", 2.5, {"pv": 1}),
            Order.buy("z", "a", 1, {"pv": 1, "battery": 9999}),
        ],
        PARAMS,
    )
    details = [r.detail for r in result.rejected]
    assert details == [
        "price 6000 lies outside the price bounds [0, 5000] ticks",
        "quantity_wh must be an integer number of Wh, got 2.5",
        "prices.battery 9999 lies outside the price bounds [0, 5000] ticks",
    ]


def test_price_bounds_are_inclusive() -> None:
    orders = [Order.sell("lo", "a", 1, "pv", 0), Order.buy("hi", "b", 1, {"pv": 5000})]
    result = clear(orders, PARAMS)
    assert result.rejected == ()
    assert result.volumes_wh["pv"] == 1


def test_every_order_with_a_duplicated_id_is_rejected() -> None:
    orders = [
        Order.sell("dup", "a", 1, "pv", 1),
        OK_BUY,
        Order.buy("dup", "c", 1, {"pv": 10}),
        Order.sell("dup", "d", 1.5, "pv", 1),  # duplicate comes first in the precedence
    ]
    assert reasons(orders) == [("dup", "duplicate_id")] * 3
    assert [u.id for u in clear(orders, PARAMS).unfilled] == ["b"]


def test_known_agents_and_the_tags_they_may_sell() -> None:
    params = PARAMS.replace(
        agents=agent_tags({"home_01": ["pv", "battery"], "home_02": [], "office": ["pv"]})
    )
    orders = [
        Order.sell("s1", "home_01", 100, "battery", 1000),
        Order.sell("s2", "home_02", 100, "pv", 1000),  # a consumer without PV
        Order.sell("s3", "office", 100, "phv", 1000),  # discharge not allowed
        Order.buy("b1", "home_02", 100, {"battery": 2000}),  # buying needs no tag
        Order.buy("b2", "stranger", 100, {"pv": 2000}),
    ]
    result = clear(orders, params)
    assert [(r.id, str(r.reason)) for r in result.rejected] == [
        ("s2", "tag_not_allowed"),
        ("s3", "tag_not_allowed"),
        ("b2", "unknown_agent"),
    ]
    assert result.rejected[0].detail == ("agent 'home_02' cannot sell 'pv' energy (it may sell [])")
    assert [(t.buy, t.sell) for t in result.trades] == [("b1", "s1")]


def test_nothing_is_dropped() -> None:
    orders: list[Order] = []
    bad: list[Any] = [0, -1, 1.5, True]
    for i, quantity in enumerate([*bad, 5, 6]):
        orders.append(Order.sell(f"s{i}", "a", quantity, "pv", 100))
        orders.append(Order.buy(f"b{i}", "b", quantity, {"pv": 50}))
    result = clear(orders, PARAMS)
    accounted = {r.id for r in result.rejected} | {u.id for u in result.unfilled}
    accounted |= {t.buy for t in result.trades} | {t.sell for t in result.trades}
    assert accounted == {o.id for o in orders}
    assert len(result.rejected) == 2 * len(bad)
    # An iterator is read once, whole, not half-consumed by the duplicate-id pass.
    assert clear(iter(orders), PARAMS) == result


def test_reason_codes_are_stable() -> None:
    # These strings are written to ledgers: changing one breaks replay of recorded slots.
    assert [r.value for r in RejectReason] == [
        "invalid_id",
        "duplicate_id",
        "invalid_side",
        "invalid_agent",
        "unknown_agent",
        "non_integer_quantity",
        "non_positive_quantity",
        "quantity_too_large",
        "inconsistent_fields",
        "sell_without_tag",
        "sell_without_price",
        "buy_without_prices",
        "duplicate_tag",
        "unknown_tag",
        "tag_not_allowed",
        "non_integer_price",
        "price_out_of_bounds",
    ]
