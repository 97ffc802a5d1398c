"""Exact integer units of the exchange and the one rounding rule for money.

Nothing inside clearing is a float:

* **energy**: integer watt-hours (Wh);
* **price**: integer *ticks* of 0.01 JPY/kWh (50 JPY/kWh is 5000 ticks);
* **money**: integer hundredths of a yen (0.01 JPY).

A trade of ``q`` Wh at ``p`` ticks is worth ``q * p / 1000`` hundredths of a yen
(Wh x 0.01 JPY/kWh = 0.001 x 0.01 JPY). That is rarely a whole number, so it is rounded **once per
trade, half to even** (banker's rounding: unbiased over many trades). The rounded amount is the
single figure the buyer pays and the seller receives, so money is conserved exactly trade by
trade; there is no residual to distribute. The grid backstop uses the same rule.

Limits keep every product inside a signed 64-bit integer (``MAX_QUANTITY_WH * MAX_PRICE_TICKS``
is 10**18 < 2**63), so the numpy paths never overflow.
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np
import numpy.typing as npt

WH_PER_KWH: Final = 1000
TICKS_PER_JPY: Final = 100
"""Price ticks per JPY/kWh: one tick is 0.01 JPY/kWh."""
MONEY_PER_JPY: Final = 100
"""Money units per yen: one unit is 0.01 JPY."""
MONEY_DIVISOR: Final = WH_PER_KWH
"""``money = quantity_wh * price_ticks / MONEY_DIVISOR`` before rounding."""

MAX_QUANTITY_WH: Final = 10**12
"""Largest quantity one order may carry (1 TWh); larger ones are rejected."""
MAX_PRICE_TICKS: Final = 10**6
"""Largest price bound (10,000 JPY/kWh, the config's ceiling)."""

Int64Array = npt.NDArray[np.int64]


def money(quantity_wh: int, price_ticks: int) -> int:
    """The value of ``quantity_wh`` at ``price_ticks``, in 0.01 JPY, rounded half to even.

    Args:
        quantity_wh: Energy in Wh (any integer; negative values round symmetrically).
        price_ticks: Price in ticks of 0.01 JPY/kWh.

    Returns:
        ``round_half_even(quantity_wh * price_ticks / 1000)`` computed exactly in integers.
    """
    return round_half_even_div(quantity_wh * price_ticks, MONEY_DIVISOR)


def round_half_even_div(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded to the nearest integer, ties to even, exactly.

    Args:
        numerator: Any integer.
        denominator: A positive integer.

    Returns:
        The rounded quotient.

    Raises:
        ValueError: If ``denominator`` is not positive.
    """
    if denominator <= 0:
        raise ValueError(f"denominator must be positive, got {denominator}")
    quotient, remainder = divmod(numerator, denominator)
    twice = 2 * remainder
    if twice > denominator or (twice == denominator and quotient % 2 == 1):
        quotient += 1
    return quotient


def money_array(quantity_wh: Int64Array, price_ticks: Int64Array) -> Int64Array:
    """Vectorised :func:`money` for non-negative int64 arrays within the documented limits."""
    product = quantity_wh * price_ticks
    quotient, remainder = np.divmod(product, MONEY_DIVISOR)
    twice = 2 * remainder
    up = (twice > MONEY_DIVISOR) | ((twice == MONEY_DIVISOR) & (quotient % 2 == 1))
    result: Int64Array = quotient + up.astype(np.int64)
    return result


def price_ticks(jpy_per_kwh: float) -> int:
    """Convert a price in JPY/kWh (e.g. from config) to integer ticks of 0.01 JPY/kWh.

    Args:
        jpy_per_kwh: A finite price that is a whole number of ticks (e.g. 18.5, not 18.505).

    Returns:
        The price in ticks.

    Raises:
        ValueError: If the price is not finite or not a whole number of 0.01 JPY/kWh.
    """
    if not math.isfinite(jpy_per_kwh):
        raise ValueError(f"price {jpy_per_kwh!r} JPY/kWh is not a finite number")
    ticks = round(jpy_per_kwh * TICKS_PER_JPY)
    # Binary floats cannot hold 0.01 exactly; anything within a millionth of a tick is that tick.
    if abs(ticks - jpy_per_kwh * TICKS_PER_JPY) > 1e-6:
        raise ValueError(
            f"price {jpy_per_kwh!r} JPY/kWh is not a whole number of ticks (0.01 JPY/kWh)"
        )
    return ticks


def energy_wh(kwh: float) -> int:
    """Convert kWh to whole Wh, rounding half to even (for config values and measurements)."""
    if not math.isfinite(kwh):
        raise ValueError(f"energy {kwh!r} kWh is not a finite number")
    return round(kwh * WH_PER_KWH)


def mean_half_even_array(a: Int64Array, b: Int64Array) -> Int64Array:
    """``(a + b) / 2`` rounded half to even, elementwise (the midpoint of two prices in ticks)."""
    total = a + b
    half = total // 2
    odd = (total % 2 == 1) & (half % 2 == 1)
    result: Int64Array = half + odd.astype(np.int64)
    return result
