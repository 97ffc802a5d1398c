"""Grid tariffs: block tariff integrals and the office demand charge, in exact integers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from p2p_env.config import load_config
from p2p_env.sim.tariffs import BlockTariff, DemandCharge, ticks, to_sen


def _lighting_b() -> BlockTariff:
    tariff = load_config("higashifuji_demo").tariffs.residential
    return BlockTariff.from_kwh(
        [(t.up_to_kwh, t.price_jpy_per_kwh) for t in tariff.tiers],
        tariff.renewable_surcharge_jpy_per_kwh,
    )


def test_units() -> None:
    assert ticks(19.88) == 1988
    assert ticks(8.5) == 850
    assert to_sen(np.array([1_988_000, 499, 500, 1500, 501, -500, -501])).tolist() == [
        1988,
        0,
        0,
        2,
        1,
        0,
        -1,
    ]


def test_hand_calculated_month() -> None:
    # 350 kWh: 120 x 19.88 + 180 x 26.48 + 50 x 30.57 = 8,680.50 JPY, plus 350 x 2.95 = 1,032.50.
    bill = _lighting_b().charge_sen(np.array([0]), np.array([350_000]))
    assert bill.tolist() == [971_300]


def test_a_slot_straddling_a_tier_break() -> None:
    # From 119.5 kWh buy 1 kWh: 0.5 kWh at 19.88 and 0.5 kWh at 26.48, plus the surcharge.
    charge = _lighting_b().charge_sen(np.array([119_500]), np.array([1_000]))
    assert charge.tolist() == [round(0.5 * 1988 + 0.5 * 2648 + 295)]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 3_000), min_size=1, max_size=200))
def test_slot_charges_add_up_to_the_monthly_bill(purchases: list[int]) -> None:
    tariff = _lighting_b()
    bought = np.asarray(purchases, dtype=np.int64)
    before = np.concatenate(([0], np.cumsum(bought)[:-1]))
    slots = tariff.charge_sen(before, bought)
    month = tariff.charge_sen(np.array([0]), np.array([bought.sum()]))[0]
    assert np.all(slots >= 0)
    assert abs(int(slots.sum()) - int(month)) <= len(purchases)  # at most half a sen per slot


def test_block_tariff_rejects_negative_energy() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        _lighting_b().charge_sen(np.array([0]), np.array([-1]))


def test_block_tariff_validates_shape() -> None:
    with pytest.raises(ValueError, match="one more price"):
        BlockTariff(np.array([1000]), np.array([100]))
    with pytest.raises(ValueError, match="increasing"):
        BlockTariff(np.array([2000, 1000]), np.array([1, 2, 3]))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 200_000), min_size=1, max_size=100))
def test_demand_charge_adds_up_to_peak_times_price(imports_wh: list[int]) -> None:
    charge = DemandCharge(sen_per_kw_month=171_600)
    peak = np.zeros(1, dtype=np.int64)
    total = 0
    for wh in imports_wh:
        total += int(charge.charge_sen(peak, np.array([wh]))[0])
        peak = np.maximum(peak, wh)
    peak_kw = max(imports_wh) / 1000 / 0.5
    assert abs(total - peak_kw * 171_600) <= len(imports_wh)
