"""The grid backstop: residual demand at the retail price, residual supply at the buyback price."""

from __future__ import annotations

import pytest

from exchange import ClearingParams, GridSettlement, Order, clear, grid_backstop, residuals


def test_residuals_of_a_clearing() -> None:
    orders = [
        Order.sell("s1", "home_01", 300, "pv", 1000),
        Order.sell("s2", "home_01", 200, "battery", 3000),
        Order.buy("b1", "home_02", 500, {"pv": 2000}),
        Order.buy("b2", "home_01", 50, {"phv": 2000}),
        Order.buy("b3", "home_02", 0, {"pv": 2000}),  # rejected: not a residual
    ]
    result = clear(orders, ClearingParams(mechanism="call"))
    demand, supply = residuals(result)
    # b1 gets 300 of its 500; home_01 keeps both an unsold battery offer and an unmet phv bid.
    assert demand == {"home_02": 200, "home_01": 50}
    assert supply == {"home_01": 200}


def test_backstop_settles_at_retail_and_buyback() -> None:
    # 200 Wh at 30.00 JPY/kWh = 6.00 JPY; 200 Wh exported at 8.50 JPY/kWh = 1.70 JPY;
    # 50 Wh at 30.00 = 1.50 JPY.
    settled = grid_backstop(
        {"home_02": 200, "home_01": 50}, {"home_01": 200}, retail_price=3000, buyback_price=850
    )
    assert list(settled) == ["home_01", "home_02"]
    assert settled["home_01"].to_dict() == {
        "agent": "home_01",
        "import_wh": 50,
        "export_wh": 200,
        "retail_price": 3000,
        "buyback_price": 850,
        "cost": 150,
        "revenue": 170,
    }
    assert settled["home_01"].net_cost == -20
    assert GridSettlement.from_dict(settled["home_01"].to_dict()) == settled["home_01"]
    assert (settled["home_02"].cost, settled["home_02"].revenue) == (600, 0)


def test_backstop_prices_per_agent_and_rounding() -> None:
    settled = grid_backstop(
        {"home": 1, "office": 3},
        {"fit_home": 1},
        retail_price={"home": 3057, "office": 1750},
        buyback_price={"fit_home": 2100},
    )
    # 1 Wh x 30.57 JPY/kWh = 3.057 hundredths -> 3; 3 x 17.50 = 5.25 -> 5; 1 x 21.00 = 2.1 -> 2
    assert [(s.agent, s.cost, s.revenue) for s in settled.values()] == [
        ("fit_home", 0, 2),
        ("home", 3, 0),
        ("office", 5, 0),
    ]


@pytest.mark.parametrize(
    ("demand", "supply", "retail", "buyback", "message"),
    [
        ({"a": -1}, {}, 1, 1, r"demand_wh\['a'\] must be a non-negative integer Wh, got -1"),
        ({}, {"a": 1.5}, 1, 1, r"supply_wh\['a'\] must be a non-negative integer Wh, got 1.5"),
        ({"a": 1}, {}, {"b": 1}, 1, "retail_price has no price for agent 'a'"),
        ({"a": 1}, {}, -5, 1, "retail_price must be a non-negative integer number of ticks"),
        ({}, {"a": 1}, 1, {"a": 2.0}, r"buyback_price\['a'\] must be a non-negative integer"),
    ],
)
def test_backstop_errors(
    demand: dict[str, int],
    supply: dict[str, int],
    retail: int | dict[str, int],
    buyback: int | dict[str, int],
    message: str,
) -> None:
    with pytest.raises(ValueError, match=message):
        grid_backstop(demand, supply, retail, buyback)
