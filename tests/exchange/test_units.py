"""Exact units and the one rounding rule for money."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exchange.units import (
    MAX_PRICE_TICKS,
    MAX_QUANTITY_WH,
    energy_wh,
    mean_half_even_array,
    money,
    money_array,
    price_ticks,
    round_half_even_div,
)


@pytest.mark.parametrize(
    ("quantity_wh", "ticks", "expected"),
    [
        (1000, 2500, 2500),  # 1 kWh at 25.00 JPY/kWh = 25.00 JPY
        (800, 1850, 1480),  # 0.8 kWh x 18.50 = 14.80 JPY
        (1, 1850, 2),  # 0.00185 JPY -> 1.85 hundredths -> 2
        (1, 500, 0),  # 0.5 -> 0 (even)
        (3, 500, 2),  # 1.5 -> 2 (even)
        (500, 1001, 500),  # 500.5 -> 500 (even)
        (1500, 1001, 1502),  # 1501.5 -> 1502 (even)
        (0, 5000, 0),
        (MAX_QUANTITY_WH, MAX_PRICE_TICKS, 10**15),
    ],
)
def test_money_examples(quantity_wh: int, ticks: int, expected: int) -> None:
    assert money(quantity_wh, ticks) == expected
    assert money_array(np.array([quantity_wh]), np.array([ticks])).tolist() == [expected]


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, MAX_QUANTITY_WH), st.integers(0, MAX_PRICE_TICKS)),
        min_size=1,
        max_size=20,
    )
)
def test_money_is_exact_half_even(pairs: list[tuple[int, int]]) -> None:
    q = np.array([a for a, _ in pairs], dtype=np.int64)
    p = np.array([b for _, b in pairs], dtype=np.int64)
    expected = [round(Fraction(a * b, 1000)) for a, b in pairs]  # Fraction rounds half to even
    assert money_array(q, p).tolist() == expected
    assert [money(a, b) for a, b in pairs] == expected


@given(st.integers(-(10**20), 10**20), st.integers(1, 10**6))
def test_round_half_even_div(numerator: int, denominator: int) -> None:
    assert round_half_even_div(numerator, denominator) == round(Fraction(numerator, denominator))


def test_round_half_even_div_rejects_non_positive_denominator() -> None:
    with pytest.raises(ValueError, match="denominator must be positive, got 0"):
        round_half_even_div(1, 0)


@given(st.integers(0, MAX_PRICE_TICKS), st.integers(0, MAX_PRICE_TICKS))
def test_mean_half_even(a: int, b: int) -> None:
    got = mean_half_even_array(np.array([a]), np.array([b])).tolist()
    assert got == [round(Fraction(a + b, 2))]


@pytest.mark.parametrize(
    ("jpy", "ticks"), [(0.0, 0), (50.0, 5000), (18.5, 1850), (0.01, 1), (23.07, 2307), (8.5, 850)]
)
def test_price_ticks(jpy: float, ticks: int) -> None:
    assert price_ticks(jpy) == ticks


@pytest.mark.parametrize(
    ("jpy", "message"),
    [(18.505, "not a whole number of ticks"), (float("nan"), "not a finite number")],
)
def test_price_ticks_rejects(jpy: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        price_ticks(jpy)


def test_energy_wh() -> None:
    assert energy_wh(8.8) == 8800
    assert energy_wh(0.0005) == 0  # half to even
    assert energy_wh(0.0015) == 2
    with pytest.raises(ValueError, match="not a finite number"):
        energy_wh(float("inf"))
