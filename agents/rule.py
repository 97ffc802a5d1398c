"""Rule-based baselines: ``grid_only`` (the reference bill), ``rule`` and ``zi`` (ZI-C traders).

All three read only their own observations (forecasts for the coming slot, storage state, their
tariffs) and act through the documented action layout.

``grid_only`` — no P2P trading at all; the bill every improvement is measured against:

* home batteries do plain self-consumption: charge the forecast PV surplus, discharge to cover
  the forecast deficit;
* PHVs charge at full power whenever plugged in, until full ("charge on arrival");
* the office buys everything from the grid.

``rule`` — a sensible trader per agent type:

* **home**: the battery charges from the forecast surplus and discharges only in the evening
  (17:00-24:00) to cover the forecast deficit; the rest of the forecast net position is traded:
  a surplus is offered at ``buyback + 35 %`` of the spread to the retail price, a deficit bid at
  ``buyback + 65 %`` (``pv`` bid at that price, ``battery``/``phv`` 0.5 JPY/kWh lower). A home on
  FIT asks more than buyers bid, so it keeps selling to the grid, as it should;
* **PHV**: when plugged in it always guarantees the next trip: it charges what the trip needs plus
  a 20 % margin, at full power once the departure is close; between 09:00 and 15:00 (cheap
  daytime solar, parked at the office) it charges to full. Its charging energy is bid on the
  exchange like a home's deficit;
* **office**: buys its forecast deficit at its energy price and offers a surplus like a home. Its
  demand charge is on its physical import (see :mod:`p2p_env.sim.settlement`), which trading
  cannot lower: with no storage of its own the office has no lever on its peak in this model
  (PHV chargers are sub-metered accounts), so the rule does not pay a premium at predicted peaks.

``zi`` — zero-intelligence constrained traders (Gode and Sunder, JPE 101(1), 1993): the same
quantities as ``rule`` but prices drawn uniformly (seeded) from what cannot lose money: buyers
bid in ``[price_min, retail]``, sellers ask in ``[buyback, price_max]``; storage as ``grid_only``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from agents.base import ActionWriter, ObsView, TypedPolicy

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]

SLOT_HOURS = 0.5
SELL_SHARE = 0.35
BUY_SHARE = 0.65
STORAGE_TAG_DISCOUNT = 50  # ticks: 0.5 JPY/kWh less for battery- and phv-tagged energy
EVENING = (17.0, 24.0)
SOLAR_HOURS = (9.0, 15.0)
TRIP_MARGIN = 0.2


def _surplus(obs: ObsView) -> FloatArray:
    """Forecast PV minus consumption for the coming slot, Wh."""
    surplus: FloatArray = obs.pv_wh[:, 0] - obs.consumption_wh[:, 0]
    return surplus


class GridOnlyPolicy(TypedPolicy):
    """No P2P; self-consumption batteries; PHVs charge on arrival (see the module docstring)."""

    def act_home(self, rows: IntArray, obs: ObsView, out: ActionWriter) -> None:
        out.storage(_surplus(obs) / SLOT_HOURS)

    def act_phv(self, rows: IntArray, obs: ObsView, out: ActionWriter) -> None:
        out.storage(np.where(obs.plugged & (obs.soc < 1.0), out.power_w, 0.0))


class RulePolicy(TypedPolicy):
    """The documented rule per agent type (see the module docstring)."""

    # Prices ----------------------------------------------------------------------------------

    @staticmethod
    def ask(obs: ObsView) -> FloatArray:
        spread = np.maximum(obs.retail_ticks - obs.buyback_ticks, 0.0)
        ask: FloatArray = obs.buyback_ticks + SELL_SHARE * spread
        return ask

    def bid(self, obs: ObsView) -> FloatArray:
        reference = self.reference_buyback_ticks()
        spread = np.maximum(obs.retail_ticks - reference, 0.0)
        bid: FloatArray = reference + BUY_SHARE * spread
        return bid

    def reference_buyback_ticks(self) -> float:
        """The buyback a typical seller gets: the lowest buyback price in the tariffs."""
        ctx = self.context
        return min(ctx.config.tariffs.buyback_jpy_per_kwh.values()) * 100

    def write_trade(self, obs: ObsView, out: ActionWriter, net_wh: FloatArray) -> None:
        """Order ``net_wh`` (positive buys) at the rule's prices."""
        out.trade(net_wh)
        bid, ask = self.bid(obs), self.ask(obs)
        buying = net_wh > 0
        out.prices(np.where(buying, bid - STORAGE_TAG_DISCOUNT, ask))
        if "pv" in out.tags:
            out.prices(np.where(buying, bid, ask), "pv")

    # Agents ----------------------------------------------------------------------------------

    def act_home(self, rows: IntArray, obs: ObsView, out: ActionWriter) -> None:
        surplus = _surplus(obs)
        power_wh = out.power_w * SLOT_HOURS
        capacity = self.community.storage_capacity_wh()[rows]
        has_battery = capacity > 0
        room_wh = np.maximum(0.95 - obs.soc, 0.0) * capacity
        stock_wh = np.maximum(obs.soc - 0.1, 0.0) * capacity
        evening = (obs.hour >= EVENING[0]) & (obs.hour < EVENING[1])
        charge = np.where(has_battery, np.clip(surplus, 0.0, np.minimum(power_wh, room_wh)), 0.0)
        discharge = np.where(
            has_battery & evening, np.clip(-surplus, 0.0, np.minimum(power_wh, stock_wh)), 0.0
        )
        out.storage((charge - discharge) / SLOT_HOURS)
        self.write_trade(obs, out, -(surplus - charge + discharge))

    def phv_charge_wh(self, rows: IntArray, obs: ObsView, out: ActionWriter) -> FloatArray:
        """Energy (meter side) each PHV charges this slot under the rule."""
        capacity = self.community.storage_capacity_wh()[rows]
        power_wh = out.power_w * SLOT_HOURS
        target = np.minimum(obs.next_trip_fraction + TRIP_MARGIN, 1.0)
        solar = (obs.hour >= SOLAR_HOURS[0]) & (obs.hour < SOLAR_HOURS[1])
        target = np.where(solar, 1.0, target)
        missing = np.maximum(target - obs.soc, 0.0) * capacity
        slots_needed = np.ceil(missing / np.maximum(power_wh, 1.0))
        urgent = obs.slots_to_departure <= slots_needed + 1
        wanted = np.where(solar | urgent, np.minimum(missing, power_wh), 0.0)
        charge: FloatArray = np.where(obs.plugged, wanted, 0.0)
        return charge

    def act_phv(self, rows: IntArray, obs: ObsView, out: ActionWriter) -> None:
        charge = self.phv_charge_wh(rows, obs, out)
        out.storage(charge / SLOT_HOURS)
        self.write_trade(obs, out, charge)

    def act_office(self, rows: IntArray, obs: ObsView, out: ActionWriter) -> None:
        net = -_surplus(obs)
        self.write_trade(obs, out, net)
        if "pv" in out.tags:
            out.prices(np.where(net > 0, obs.retail_ticks, self.ask(obs)), "pv")


class ZIPolicy(RulePolicy):
    """Zero-intelligence constrained traders: rule's quantities, random admissible prices."""

    def bid(self, obs: ObsView) -> FloatArray:
        low = self.context.price_min_ticks
        high = np.maximum(obs.retail_ticks, low)
        bid: FloatArray = self.rng.uniform(low, high)
        return bid

    def write_trade(self, obs: ObsView, out: ActionWriter, net_wh: FloatArray) -> None:
        out.trade(net_wh)
        bid = self.bid(obs)
        ask = self.rng.uniform(obs.buyback_ticks, float(self.context.price_max_ticks))
        out.prices(np.where(net_wh > 0, bid, ask))

    def act_home(self, rows: IntArray, obs: ObsView, out: ActionWriter) -> None:
        surplus = _surplus(obs)
        out.storage(surplus / SLOT_HOURS)
        power_wh = out.power_w * SLOT_HOURS
        capacity = self.community.storage_capacity_wh()[rows]
        room_wh = np.maximum(0.95 - obs.soc, 0.0) * capacity
        stock_wh = np.maximum(obs.soc - 0.1, 0.0) * capacity
        battery = np.clip(surplus, -np.minimum(power_wh, stock_wh), np.minimum(power_wh, room_wh))
        self.write_trade(obs, out, -(surplus - battery))

    def act_office(self, rows: IntArray, obs: ObsView, out: ActionWriter) -> None:
        self.write_trade(obs, out, -_surplus(obs))
