"""Batteries and PHV batteries as one vectorised model.

Every storage unit of a community (home batteries, PHVs) is a row of :class:`StorageBank`; a slot
moves all of them at once with numpy, whatever the actions ask. The convention everywhere:

* a set-point is grid-side power in W: positive charges, negative discharges;
* charging ``e`` Wh at the meter adds ``e * eta_charge`` Wh to the state of charge; discharging
  ``e`` Wh at the meter removes ``e / eta_discharge`` Wh (``eta_charge * eta_discharge`` is the
  round-trip efficiency);
* the state of charge never leaves ``[soc_min, soc_max] * capacity`` and power never exceeds the
  unit's limits; a unit that is unavailable (a PHV away from any charger) does not move.

What was asked but was not physically possible is returned as ``curtailed_wh`` (meter side) so the
environment can settle it as imbalance and report it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


@dataclass(frozen=True)
class StorageStep:
    """What one slot did to every unit (all arrays have one entry per unit, meter side in Wh)."""

    charged_wh: FloatArray
    """Energy drawn at the meter to charge (>= 0)."""
    discharged_wh: FloatArray
    """Energy delivered at the meter by discharging (>= 0)."""
    curtailed_wh: FloatArray
    """|asked - done| at the meter: the part of the set-point the limits did not allow."""
    losses_wh: FloatArray
    """Conversion losses of this slot (>= 0)."""


@dataclass(frozen=True)
class StorageBank:
    """Static parameters of ``n`` storage units (arrays of length ``n``)."""

    capacity_wh: FloatArray
    charge_power_w: FloatArray
    discharge_power_w: FloatArray
    eta_charge: FloatArray
    eta_discharge: FloatArray
    soc_min: FloatArray
    """Lower bound as a fraction of capacity."""
    soc_max: FloatArray
    """Upper bound as a fraction of capacity."""

    def __post_init__(self) -> None:
        n = self.capacity_wh.shape
        for name in (
            "charge_power_w",
            "discharge_power_w",
            "eta_charge",
            "eta_discharge",
            "soc_min",
            "soc_max",
        ):
            value = getattr(self, name)
            if value.shape != n:
                raise ValueError(f"StorageBank.{name} has shape {value.shape}, expected {n}")
        if np.any(self.capacity_wh <= 0):
            raise ValueError("StorageBank.capacity_wh must be > 0 for every unit")
        if np.any((self.eta_charge <= 0) | (self.eta_charge > 1)) or np.any(
            (self.eta_discharge <= 0) | (self.eta_discharge > 1)
        ):
            raise ValueError("StorageBank efficiencies must lie in (0, 1]")
        if np.any(self.soc_min >= self.soc_max):
            raise ValueError("StorageBank.soc_min must be below soc_max for every unit")

    @property
    def n(self) -> int:
        return int(self.capacity_wh.shape[0])

    @classmethod
    def from_round_trip(
        cls,
        capacity_kwh: FloatArray | list[float],
        charge_power_kw: FloatArray | list[float],
        discharge_power_kw: FloatArray | list[float],
        round_trip_efficiency: FloatArray | list[float],
        soc_min: FloatArray | list[float],
        soc_max: FloatArray | list[float],
    ) -> StorageBank:
        """Build from config units; the round trip splits evenly: ``eta = sqrt(round_trip)``."""
        eta = np.sqrt(np.asarray(round_trip_efficiency, dtype=np.float64))
        return cls(
            capacity_wh=np.asarray(capacity_kwh, dtype=np.float64) * 1000.0,
            charge_power_w=np.asarray(charge_power_kw, dtype=np.float64) * 1000.0,
            discharge_power_w=np.asarray(discharge_power_kw, dtype=np.float64) * 1000.0,
            eta_charge=eta,
            eta_discharge=eta.copy(),
            soc_min=np.asarray(soc_min, dtype=np.float64),
            soc_max=np.asarray(soc_max, dtype=np.float64),
        )

    @classmethod
    def concat(cls, banks: Sequence[StorageBank]) -> StorageBank:
        """One bank of the units of ``banks``, in order (a slot moves them with one call)."""
        return cls(
            **{f.name: np.concatenate([getattr(b, f.name) for b in banks]) for f in fields(cls)}
        )

    @cached_property
    def min_wh(self) -> FloatArray:
        """Lowest allowed stored energy per unit, Wh."""
        low: FloatArray = self.soc_min * self.capacity_wh
        return low

    @cached_property
    def max_wh(self) -> FloatArray:
        """Highest allowed stored energy per unit, Wh."""
        high: FloatArray = self.soc_max * self.capacity_wh
        return high

    def step(
        self,
        soc_wh: FloatArray,
        setpoint_w: FloatArray,
        available: BoolArray,
        hours: float,
    ) -> StorageStep:
        """Move every unit by its set-point for ``hours``, within its limits; updates ``soc_wh``.

        Args:
            soc_wh: stored energy per unit, updated in place.
            setpoint_w: asked grid-side power (+ charge, - discharge); NaN and +-inf are
                treated as 0.
            available: units that may move (e.g. PHVs plugged in); others stay put.
            hours: slot length in hours (0.5 for 30-minute slots).
        """
        # This runs every slot: plain ufuncs (np.clip, nan_to_num and minimum.reduce cost
        # several times their work in call overhead on a community's few units).
        if not np.isfinite(setpoint_w).all():
            setpoint_w = np.nan_to_num(setpoint_w, nan=0.0, posinf=0.0, neginf=0.0)
        asked_wh = np.where(available, setpoint_w * hours, 0.0)
        asked_charge = np.maximum(asked_wh, 0.0)
        asked_discharge = np.maximum(-asked_wh, 0.0)
        room_wh = np.maximum(self.max_wh - soc_wh, 0.0)
        stock_wh = np.maximum(soc_wh - self.min_wh, 0.0)
        charged = np.minimum(
            np.minimum(asked_charge, self.charge_power_w * hours), room_wh / self.eta_charge
        )
        discharged = np.minimum(
            np.minimum(asked_discharge, self.discharge_power_w * hours),
            stock_wh * self.eta_discharge,
        )
        charged = np.where(available, charged, 0.0)
        discharged = np.where(available, discharged, 0.0)
        stored = charged * self.eta_charge
        drawn = discharged / self.eta_discharge
        soc_wh += stored - drawn
        # Guard the bounds against rounding in the divisions above.
        np.maximum(soc_wh, self.min_wh, out=soc_wh, where=available)
        np.minimum(soc_wh, self.max_wh, out=soc_wh, where=available)
        return StorageStep(
            charged_wh=charged,
            discharged_wh=discharged,
            curtailed_wh=np.abs(asked_wh - (charged - discharged)),
            losses_wh=(charged - stored) + (drawn - discharged),
        )
