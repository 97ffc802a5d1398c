"""The config's ``market`` section maps one to one onto :class:`exchange.ClearingParams`.

The environment builds the parameters from ``market``; these tests keep the two in step (names
of mechanisms and tag-order rules, prices that are whole ticks).
"""

from __future__ import annotations

import subprocess
import sys
from typing import get_args

import pytest
from pydantic import ValidationError

from exchange import TAG_ORDERS, ClearingParams, available_mechanisms, price_ticks
from p2p_env.config import MarketConfig, load_config


def params_from(market: MarketConfig, seed: int = 0) -> ClearingParams:
    return ClearingParams(
        mechanism=market.mechanism,
        price_min=price_ticks(market.price_min_jpy_per_kwh),
        price_max=price_ticks(market.price_max_jpy_per_kwh),
        tags=tuple(market.tags),
        tag_order=market.buyer_tag_order,
        seed=seed,
    )


def test_the_config_takes_exactly_the_exchanges_mechanisms() -> None:
    for name in available_mechanisms():
        assert MarketConfig(mechanism=name).mechanism == name
    with pytest.raises(ValidationError, match=r"input should be 'call', 'cda' or 'midpoint' \(did"):
        MarketConfig(mechanism="cdaa")
    assert get_args(MarketConfig.model_fields["buyer_tag_order"].annotation) == TAG_ORDERS


def test_the_names_come_in_one_order_whatever_was_imported_first() -> None:
    # The error messages list them: the same text whichever module a process imported first.
    code = (
        "import exchange.mechanisms.midpoint, exchange.mechanisms.cda\n"
        "from exchange import available_mechanisms\n"
        "print(','.join(available_mechanisms()))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == [",".join(available_mechanisms())] == ["call,cda,midpoint"]


def test_demo_market_becomes_clearing_params() -> None:
    market = load_config("higashifuji_demo").market
    params = params_from(market)
    assert (params.mechanism, params.price_min, params.price_max) == ("cda", 0, 5000)
    assert params.tags == ("pv", "battery", "phv")
    assert params.tag_order == "price"


@pytest.mark.parametrize("mechanism", ["call", "cda", "midpoint"])
def test_every_config_mechanism_builds(mechanism: str) -> None:
    params = params_from(MarketConfig(mechanism=mechanism, buyer_tag_order="config"))
    assert params.mechanism == mechanism


def test_config_rejects_prices_finer_than_a_tick() -> None:
    with pytest.raises(ValidationError, match="not a whole number of ticks"):
        MarketConfig(price_max_jpy_per_kwh=49.995)
    assert price_ticks(MarketConfig(price_max_jpy_per_kwh=49.99).price_max_jpy_per_kwh) == 4999
