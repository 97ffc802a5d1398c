"""Replaying a recorded slot: an untouched record verifies, any change is reported by field."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from exchange import ClearingParams, Order, clear, replay_differences

ORDERS = [
    Order.sell("s1", "home_01", 300, "pv", 1500),
    Order.sell("s2", "home_02", 500, "pv", 1800),
    Order.buy("b1", "home_04", 400, {"pv": 2500}),
    Order.buy("b2", "home_05", 300, {"pv": 2000, "battery": 2400}),
    Order.buy("b3", "home_06", 0, {"pv": 1700}),
]


def record(mechanism: str) -> dict[str, Any]:
    params = ClearingParams(mechanism=mechanism, seed=12)
    # Through JSON text, as a ledger would store it.
    text = json.dumps(
        {
            "orders": [o.to_dict() for o in ORDERS],
            "params": params.to_dict(),
            "result": clear(ORDERS, params).to_dict(),
        }
    )
    stored: dict[str, Any] = json.loads(text)
    return stored


@pytest.mark.parametrize("mechanism", ["call", "cda", "midpoint"])
def test_an_untouched_record_replays(mechanism: str) -> None:
    r = record(mechanism)
    assert replay_differences(r["orders"], r["params"], r["result"]) == []


def test_changes_are_reported_by_field() -> None:
    r = record("call")
    result = copy.deepcopy(r["result"])
    result["trades"][1]["price"] += 1
    result["unfilled"].pop()
    result["clearing_prices"]["pv"] = 1
    assert replay_differences(r["orders"], r["params"], result) == [
        "clearing_prices: recorded {'pv': 1}, replayed {'pv': 1800}",
        "trades[1].price: recorded 1801, replayed 1800",
        "unfilled: recorded 0 entries, replayed 1",
    ]


def test_changed_orders_or_params_change_the_replay() -> None:
    r = record("call")
    orders = copy.deepcopy(r["orders"])
    orders[2]["quantity_wh"] = 100
    # b1 now wants 100 Wh instead of 400: the first pair shrinks from 300 to 100 Wh.
    assert "trades[0].quantity_wh: recorded 300, replayed 100" in replay_differences(
        orders, r["params"], r["result"]
    )
    params = {**r["params"], "mechanism": "midpoint"}
    assert any(
        d.startswith("mechanism:") for d in replay_differences(r["orders"], params, r["result"])
    )


def test_missing_keys_are_reported() -> None:
    r = record("cda")
    result = {k: v for k, v in r["result"].items() if k != "volumes_wh"}
    assert replay_differences(r["orders"], r["params"], result) == [
        "volumes_wh: missing from the record"
    ]
