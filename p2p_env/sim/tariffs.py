"""Grid tariffs in exact integer units, vectorised over accounts.

Units, the same as the exchange's: energy in integer Wh (meter readings), prices in integer ticks
of 0.01 JPY/kWh, money in integer 0.01 JPY ("sen"). ``Wh * ticks`` is money in 1/1000 sen; it is
converted to sen once per charge, rounding half to even: the exchange's rule for trades
(:mod:`exchange.units`), so P2P and grid money round alike.

* :class:`BlockTariff`: a residential meter-rate tariff whose price per kWh rises with the month's
  cumulative purchases (TEPCO meter-rate lighting B: breaks at 120 and 300 kWh). The charge for a
  slot is the exact integral of the block price over the slot's purchase, so the slot charges of a
  month add up to the month's bill (to the sen rounding of each slot).
* :class:`DemandCharge`: the office's charge on the month's maximum 30-minute import; a slot pays
  for the amount by which it raises the month's peak, so a month's slot charges add up to
  ``peak_kw * price``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

IntArray = NDArray[np.int64]


def ticks(jpy_per_kwh: float) -> int:
    """A price in JPY/kWh as integer ticks of 0.01 JPY/kWh (round half up)."""
    return int(np.floor(jpy_per_kwh * 100 + 0.5))


def to_sen(milli_sen: IntArray) -> IntArray:
    """Money in 1/1000 sen (``Wh * ticks``) to integer sen, rounding half to even."""
    quotient, remainder = np.divmod(milli_sen, 1000)
    # Round up above one half, and at exactly one half when the quotient is odd.
    rounded: IntArray = quotient + (remainder + (quotient & 1) > 500)
    return rounded


@dataclass(frozen=True)
class BlockTariff:
    """Monthly block tariff: ``prices_ticks[i]`` per kWh up to ``bounds_wh[i]`` in the month."""

    bounds_wh: IntArray
    """Upper ends of every block but the last, strictly increasing (k - 1 values)."""
    prices_ticks: IntArray
    """Price of each block (k values)."""
    surcharge_ticks: int = 0
    """Flat per-kWh surcharge on every kWh (renewable energy levy)."""
    _blocks: tuple[IntArray, IntArray, IntArray] = field(init=False, repr=False, compare=False)
    """Lower end, cost below and price of each block, derived once (charges run every slot)."""

    def __post_init__(self) -> None:
        if self.prices_ticks.shape[0] != self.bounds_wh.shape[0] + 1:
            raise ValueError(
                f"BlockTariff needs one more price than bounds, got {self.prices_ticks.shape[0]} "
                f"prices and {self.bounds_wh.shape[0]} bounds"
            )
        if np.any(np.diff(self.bounds_wh) <= 0) or np.any(self.bounds_wh <= 0):
            raise ValueError(
                f"BlockTariff bounds must be positive and increasing: {self.bounds_wh}"
            )
        lower = np.concatenate(([0], self.bounds_wh)).astype(np.int64)
        prices = self.prices_ticks.astype(np.int64)
        # Cost of the whole blocks below each block, surcharge included.
        base = np.concatenate(
            ([0], np.cumsum(np.diff(lower) * (prices[:-1] + self.surcharge_ticks)))
        )
        object.__setattr__(self, "_blocks", (lower, base.astype(np.int64), prices))

    @classmethod
    def from_kwh(
        cls,
        tiers: list[tuple[float | None, float]],
        surcharge_jpy_per_kwh: float = 0.0,
    ) -> BlockTariff:
        """From ``[(up_to_kwh or None, price_jpy_per_kwh), ...]`` as in the config."""
        bounds = [round(up * 1000) for up, _ in tiers[:-1] if up is not None]
        if len(bounds) != len(tiers) - 1 or tiers[-1][0] is not None:
            raise ValueError("only the last tier may (and must) have no upper limit")
        return cls(
            bounds_wh=np.asarray(bounds, dtype=np.int64),
            prices_ticks=np.asarray([ticks(p) for _, p in tiers], dtype=np.int64),
            surcharge_ticks=ticks(surcharge_jpy_per_kwh),
        )

    def _cumulative_milli_sen(self, wh: IntArray) -> IntArray:
        """Cost of the first ``wh`` Wh of a month, in 1/1000 sen (exact integers).

        Piecewise linear: the cost up to the start of ``wh``'s block plus its Wh in that block
        at the block's price.
        """
        lower, base, prices = self._blocks
        block = np.searchsorted(self.bounds_wh, wh, side="right")
        cost: IntArray = base[block] + (wh - lower[block]) * (prices[block] + self.surcharge_ticks)
        return cost

    def charge_sen(self, month_wh_before: IntArray, bought_wh: IntArray) -> IntArray:
        """Charge for buying ``bought_wh`` after ``month_wh_before`` Wh this month, in sen."""
        return to_sen(self.charge_milli_sen(month_wh_before, bought_wh))

    def charge_milli_sen(self, month_wh_before: IntArray, bought_wh: IntArray) -> IntArray:
        """:meth:`charge_sen` before rounding: exact, in 1/1000 sen."""
        if min(bought_wh.min(initial=0), month_wh_before.min(initial=0)) < 0:
            raise ValueError("BlockTariff.charge_sen takes non-negative Wh")
        before = self._cumulative_milli_sen(month_wh_before)
        after: IntArray = self._cumulative_milli_sen(month_wh_before + bought_wh)
        return after - before


@dataclass(frozen=True)
class DemandCharge:
    """Charge per kW on the month's maximum 30-minute average import."""

    sen_per_kw_month: int
    slot_hours: float = 0.5

    def charge_sen(self, month_peak_wh: IntArray, slot_import_wh: IntArray) -> IntArray:
        """Charge for raising the month's peak slot import from ``month_peak_wh``, in sen.

        ``month_peak_wh`` is the largest slot import so far this month; the caller keeps it as
        ``max(month_peak_wh, slot_import_wh)``.
        """
        rise_wh = np.maximum(slot_import_wh - month_peak_wh, 0)
        # kW = Wh / (1000 * hours); sen = kW * sen_per_kw; keep integers until the last division.
        denominator = round(1000 * self.slot_hours)
        charge: IntArray = (rise_wh * self.sen_per_kw_month + denominator // 2) // denominator
        return charge
