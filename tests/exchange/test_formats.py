"""Orders, parameters and results in their JSON-compatible forms; parameter validation."""

from __future__ import annotations

import json
from typing import Any

import pytest

from exchange import (
    ClearingParams,
    ClearingResult,
    Order,
    OrderFormatError,
    agent_tags,
    clear,
    orders_from_dicts,
)
from exchange.mechanisms import ClearingMechanism, Matches, available_mechanisms, register, registry

SELL = {
    "id": "s1",
    "agent": "home_03",
    "side": "sell",
    "quantity_wh": 1200,
    "tag": "pv",
    "price": 1850,
}
BUY = {
    "id": "b1",
    "agent": "home_07",
    "side": "buy",
    "quantity_wh": 800,
    "prices": {"pv": 2300, "battery": 2100},
}


def test_orders_round_trip() -> None:
    orders = orders_from_dicts([SELL, BUY])
    assert orders == [
        Order.sell("s1", "home_03", 1200, "pv", 1850),
        Order.buy("b1", "home_07", 800, {"pv": 2300, "battery": 2100}),
    ]
    assert [o.to_dict() for o in orders] == [SELL, BUY]
    assert orders_from_dicts(json.loads(json.dumps([o.to_dict() for o in orders]))) == orders


def test_floats_are_read_and_left_for_validation() -> None:
    order = Order.from_dict({**SELL, "quantity_wh": 2.5, "price": 18.5})
    assert (order.quantity_wh, order.price) == (2.5, 18.5)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "order 4: expected an object, got list []"),
        (
            {**SELL, "quantity_wh": "abc"},
            "order 4 (id 's1'): field 'quantity_wh' must be a number, got str 'abc'",
        ),
        ({**SELL, "quantity_wh": True}, "field 'quantity_wh' must be a number, got bool True"),
        ({**SELL, "price": [1]}, "order 4 (id 's1'): field 'price' must be a number, got list [1]"),
        (
            {**BUY, "prices": {"pv": "2300"}},
            "order 4 (id 'b1'): field 'prices.pv' must be a number",
        ),
        ({**BUY, "prices": [2300]}, "field 'prices' must be an object mapping tag to price"),
        (
            {k: v for k, v in SELL.items() if k != "quantity_wh"},
            "order 4 (id 's1'): missing field 'quantity_wh'",
        ),
        ({k: v for k, v in SELL.items() if k != "id"}, "order 4: missing field 'id'"),
        ({**SELL, "id": 7}, "order 4: field 'id' must be a string, got int 7"),
        ({**SELL, "agent": ""}, "field 'agent' must not be empty"),
        ({**SELL, "side": "hold"}, "field 'side' must be 'buy' or 'sell', got 'hold'"),
        ({**SELL, "tag": 3}, "field 'tag' must be a string, got int 3"),
        ({**SELL, "qty": 3}, "order 4 (id 's1'): unknown field 'qty'"),
    ],
)
def test_order_format_errors_name_the_order_and_field(data: Any, message: str) -> None:
    with pytest.raises(OrderFormatError) as info:
        Order.from_dict(data, 4)
    assert message in str(info.value)


def test_orders_from_dicts_names_the_first_bad_order() -> None:
    with pytest.raises(OrderFormatError, match=r"^order 1 \(id 'b1'\): field 'quantity_wh'"):
        orders_from_dicts([SELL, {**BUY, "quantity_wh": None}, {**SELL, "price": "x"}])


def test_params_canonical_form_is_stable() -> None:
    params = ClearingParams()
    # The bytes a ledger hashes: a change here must come with a new RULES_VERSION.
    assert params.canonical_json() == (
        b'{"agents":null,"mechanism":"cda","price_bounds":[0,5000],"rules_version":1,'
        b'"seed":0,"tag_order":"price","tags":["pv","battery","phv"]}'
    )
    assert ClearingParams.from_dict(json.loads(params.canonical_json())) == params


def test_params_round_trip_with_agents() -> None:
    params = ClearingParams(
        mechanism="call",
        price_min=100,
        price_max=4000,
        tags=("battery", "pv"),
        tag_order="config",
        seed=2**64 - 1,
        agents=agent_tags({"office": ["pv"], "home_01": ["battery", "pv", "pv"]}),
    )
    assert params.agents == (("home_01", ("battery", "pv")), ("office", ("pv",)))
    assert ClearingParams.from_dict(params.to_dict()) == params
    assert params.replace(seed=3).seed == 3
    assert ClearingParams(tags=["pv"]).tags == ("pv",)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mechanism": "auction"}, "mechanism 'auction' is not one of call, cda, midpoint"),
        ({"price_min": 10, "price_max": 10}, r"price bounds \[10, 10\] must satisfy"),
        ({"price_min": -1}, "must satisfy 0 <= price_min"),
        ({"price_max": 10**6 + 1}, "price_max <= 1000000 ticks"),
        ({"price_max": 50.0}, "price_max must be an int, got float 50.0"),
        ({"tags": ()}, "tags must be a non-empty tuple"),
        ({"tags": ("pv", "PV")}, "tag 'PV' must be lower-case"),
        ({"tags": ("pv", "pv")}, "tags must be unique"),
        ({"tag_order": "alphabetical"}, "tag_order 'alphabetical' is not one of price, config"),
        ({"seed": -1}, r"seed -1 must lie in \[0, 2\*\*64\)"),
        ({"seed": 2**64}, "must lie in"),
        ({"agents": (("a", ("wind",)),)}, "agents\\['a'\\] names unknown tag 'wind'"),
        ({"agents": (("b", ()), ("a", ()))}, "agents must be sorted and unique"),
    ],
)
def test_params_validation(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ClearingParams(**kwargs)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"mechanism": "call", "bounds": [0, 1]}, "unknown clearing parameter 'bounds'"),
        ({"rules_version": 2}, "rules_version 2 is not this exchange's version 1"),
        ({"price_bounds": [0]}, r"price_bounds must be \[min, max\]"),
        ({"tags": "pv"}, "tags must be a list of strings"),
        ({"agents": {"a": "pv"}}, "agents must map each agent to a list of tags"),
    ],
)
def test_params_from_dict_errors(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ClearingParams.from_dict(data)


def test_result_round_trip() -> None:
    orders = orders_from_dicts([SELL, BUY, {**BUY, "id": "b2", "quantity_wh": 0.5}])
    for mechanism in available_mechanisms():
        result = clear(orders, ClearingParams(mechanism=mechanism))
        text = result.canonical_json()
        back = ClearingResult.from_dict(json.loads(text))
        assert back == result
        assert back.canonical_json() == text


def test_a_new_mechanism_plugs_in_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    # A private copy of the registry, so the test mechanism does not outlive the test.
    available_mechanisms()
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))

    class NoTrade(ClearingMechanism):
        name = "no_trade_for_tests"

        def match(self, book: Any) -> Matches:
            return Matches.empty()

    mechanism = NoTrade()
    register(mechanism)
    assert "no_trade_for_tests" in available_mechanisms()
    result = clear(orders_from_dicts([SELL, BUY]), ClearingParams(mechanism="no_trade_for_tests"))
    assert result.trades == ()
    assert [u.id for u in result.unfilled] == ["s1", "b1"]
    with pytest.raises(ValueError, match="already registered"):
        register(NoTrade())
