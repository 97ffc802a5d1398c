"""PHV trips: where each vehicle is in every slot and how far it drives (seeded, vectorised).

Per vehicle (fixed for the whole span): its one-way commute distance ``N(commute_km_mean,
commute_km_std)`` (at least :data:`MIN_COMMUTE_KM`; a person's commute does not change day to day)
and a personal departure habit (half of the departure variance is between drivers, half day to
day).

Per vehicle and day:

- Workdays (Monday-Friday outside public and company holidays, see
  :mod:`p2p_env.data.calendar`) are commute days unless the driver takes a day off (probability
  ``days_off_per_year`` / workdays per year).
- On a commute day the car leaves home at ``N(departure_hour_mean, departure_hour_std)`` and is
  back at ``N(return_hour_mean, return_hour_std)``; with probability ``share_parked_at_office`` it
  is parked at the office chargers in between, otherwise somewhere without a charger (``AWAY``).
  Each leg is the commute distance +-5 % (detours), driven at :data:`SPEED_KM_H`.
- Any other day, with probability ``weekend_trip_probability``, the car makes one outing: leaves
  between 09:00 and 14:00, is away 2-7 hours, drives a Gamma(2)-distributed distance with mean
  ``weekend_km_mean`` (half out, half back), capped at :data:`MAX_OUTING_KM`.

A slot is ``HOME`` or ``OFFICE`` only if the car is there for the whole slot (so a charger can use
the whole slot); slots in which it leaves, drives or arrives are ``AWAY``. Each leg's km are
booked in the slot where the leg starts. Trips end by 23:30 (no overnight trips).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from p2p_env.config.models import TripConfig
from p2p_env.data.calendar import Calendar
from p2p_env.data.dataset import Location

SPEED_KM_H = 30.0
"""Mean door-to-door speed on local roads (assumption), km/h."""
MIN_COMMUTE_KM = 1.0
MAX_OUTING_KM = 300.0
LATEST_RETURN_H = 23.5
EARLIEST_DEPARTURE_H = 4.0
LATEST_DEPARTURE_H = 12.0


@dataclass(frozen=True, eq=False)
class Trips:
    """Per-slot PHV arrays (slots x vehicles)."""

    location: NDArray[np.int8]
    km: NDArray[np.float32]


def phv_trips(
    rng: np.random.Generator,
    calendar: Calendar,
    n_vehicles: int,
    trips: TripConfig,
    slot_minutes: int,
) -> Trips:
    """Draw the trips of ``n_vehicles`` PHVs over the calendar's days (module docstring).

    Args:
        rng: The PHVs' random stream.
        calendar: Calendar of the slots.
        n_vehicles: Number of vehicles.
        trips: Commute pattern from the config.
        slot_minutes: Slot length.

    Returns:
        Location codes and km per slot.
    """
    n_days, v = calendar.n_days, n_vehicles
    n_slots = calendar.slot_of_day.shape[0]
    if v == 0:
        return Trips(
            location=np.zeros((n_slots, 0), dtype=np.int8),
            km=np.zeros((n_slots, 0), dtype=np.float32),
        )
    slot_h = slot_minutes / 60.0

    # Per vehicle.
    commute_km = np.maximum(
        rng.normal(trips.commute_km_mean, trips.commute_km_std, v), MIN_COMMUTE_KM
    )
    habit = rng.normal(0.0, trips.departure_hour_std * np.sqrt(0.5), v)

    # Per day and vehicle.
    workday = np.broadcast_to(calendar.workday_by_day[:, None], (n_days, v))
    workdays_per_year = max(float(calendar.workday_by_day.mean()) * 365.0, 1.0)
    p_off = min(trips.days_off_per_year / workdays_per_year, 1.0)
    commute = workday & (rng.random((n_days, v)) >= p_off)
    at_office = commute & (rng.random((n_days, v)) < trips.share_parked_at_office)
    outing = ~commute & ~workday & (rng.random((n_days, v)) < trips.weekend_trip_probability)
    # A day off on a workday may also bring an outing.
    outing |= workday & ~commute & (rng.random((n_days, v)) < trips.weekend_trip_probability)

    km_leg = commute_km[None, :] * (1.0 + 0.05 * rng.standard_normal((n_days, v)))
    km_leg = np.maximum(km_leg, MIN_COMMUTE_KM)
    travel_h = np.maximum(km_leg / SPEED_KM_H, 0.25)
    dep = habit[None, :] + rng.normal(
        trips.departure_hour_mean, trips.departure_hour_std * np.sqrt(0.5), (n_days, v)
    )
    dep = np.clip(dep, EARLIEST_DEPARTURE_H, LATEST_DEPARTURE_H)
    ret = rng.normal(trips.return_hour_mean, trips.return_hour_std, (n_days, v))
    ret = np.clip(ret, np.minimum(dep + 2 * travel_h + 1.0, LATEST_RETURN_H), LATEST_RETURN_H)

    out_dep = rng.uniform(9.0, 14.0, (n_days, v))
    out_ret = np.minimum(out_dep + rng.uniform(2.0, 7.0, (n_days, v)), LATEST_RETURN_H)
    out_km = np.minimum(
        rng.gamma(2.0, max(trips.weekend_km_mean, 1e-9) / 2.0, (n_days, v)), MAX_OUTING_KM
    )

    # Leg timing per day: the commute where there is one, else the outing.
    dep_h = np.where(commute, dep, out_dep)
    ret_h = np.where(commute, ret, out_ret)
    leg_km = np.where(commute, km_leg, out_km / 2.0)
    leg_h = np.where(commute, travel_h, np.maximum(leg_km / SPEED_KM_H, 0.25))
    leaves = commute | outing
    dep_slot = np.floor(dep_h / slot_h).astype(np.int64)
    back_slot = np.floor((ret_h - leg_h) / slot_h).astype(np.int64)  # the return leg starts
    back_slot = np.maximum(back_slot, dep_slot + 1)
    home_slot = np.maximum(np.ceil(ret_h / slot_h).astype(np.int64), back_slot + 1)
    office_from = np.ceil((dep_h + leg_h) / slot_h).astype(np.int64)

    # Gather per slot: (slots x vehicles).
    d = calendar.day_index.astype(np.int64)
    s = calendar.slot_of_day.astype(np.int64)[:, None]
    gone = leaves[d] & (s >= dep_slot[d]) & (s < home_slot[d])
    in_office = at_office[d] & (s >= office_from[d]) & (s < back_slot[d])
    location = np.where(
        gone, np.where(in_office, Location.OFFICE, Location.AWAY), Location.HOME
    ).astype(np.int8)
    km = np.where(leaves[d] & ((s == dep_slot[d]) | (s == back_slot[d])), leg_km[d], 0.0)
    return Trips(location=location, km=km.astype(np.float32))
