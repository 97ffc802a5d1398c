"""The simulator's per-agent arithmetic of a slot, compiled with numba.

A slot of a small community is some hundred numpy calls on arrays of 30 values: call overhead,
not arithmetic (about 300 us of the demonstration's step). These kernels do the same arithmetic
in three calls, value by value, with the same operations in the same order, so the results are
the same floats and integers (tested against the numpy code over whole episodes):

* :func:`decode_slot` is :func:`p2p_env.sim.actions.decode` (with ``sanitize``);
* :func:`settle_slot` is :func:`p2p_env.sim.simulator.after_clearing`: the PHVs' plug state
  (:meth:`~p2p_env.sim.simulator.CommunitySimulator.plugged`), the storage bank's step
  (:meth:`p2p_env.sim.storage.StorageBank.step`), the trips, the meter,
  :func:`p2p_env.sim.settlement.settle` with its tariffs
  (:class:`~p2p_env.sim.tariffs.BlockTariff`, :class:`~p2p_env.sim.tariffs.DemandCharge`,
  :func:`~p2p_env.sim.tariffs.to_sen`), gasoline, rewards and the infos' numbers;
* :func:`observe_slot` is ``ObservationBuilder._numpy`` (the forecast noise drawn by the caller,
  from the same generator).

The numpy code stays the reference (and runs where numba does not); :mod:`p2p_env.sim.compiled`
chooses. Every element-wise numpy operation maps to one scalar operation here: ``np.maximum(a,
b)`` is ``a if a >= b else b`` (no NaN reaches these operations: actions are sanitised and the
series are finite), ``np.rint`` is ``np.rint``, ``np.divmod`` by a positive integer is Python's
floor division, an int64 divided by an integer is a float64 division. Reductions would not map
(numpy sums pairwise); there are none.

``cache=True`` keeps the machine code across processes; numba invalidates it only when this file
changes, so the kernels take everything as arguments; the rows of their outputs are named in
:mod:`p2p_env.sim._step_layout`.
"""

from __future__ import annotations

import numba
import numpy as np

from p2p_env.sim._step_layout import (
    AT_HOME,
    AT_OFFICE,
    B_CAPACITY,
    B_CHARGE_W,
    B_DISCHARGE_W,
    B_ETA_CHARGE,
    B_ETA_DISCHARGE,
    B_MAX_WH,
    B_MIN_WH,
    BUY,
    F_COST_JPY,
    F_CURTAILED,
    F_GASOLINE_L,
    F_REWARD,
    F_SHORTFALL,
    F_SOC,
    I_CHARGE,
    I_CONSUMPTION,
    I_DEMAND,
    I_DISCHARGE,
    I_DRAWN,
    I_GASOLINE_SEN,
    I_GENERATION,
    I_GRID_BOUGHT,
    I_GRID_COST,
    I_GRID_REVENUE,
    I_GRID_SOLD,
    I_METERED,
    I_NET_COST,
    I_PENALTY,
    I_UNDELIVERED,
    M_GASOLINE_SEN_PER_WH,
    M_GREEN_PER_KWH,
    M_LITRES_PER_WH,
    M_PENALTY_PER_KWH,
    M_REWARD_SCALE,
    NO_ORDER,
    SELL,
    T_DEMAND_DENOMINATOR,
    T_DEMAND_SEN_PER_KW,
    T_IMBALANCE,
    T_OFFICE_ENERGY,
    T_RESALE,
    T_SURCHARGE,
)


@numba.njit(cache=True, nogil=True)
def decode_slot(
    actions: np.ndarray,
    trade_limit_wh: np.ndarray,
    storage_power_w: np.ndarray,
    sell_tag_index: np.ndarray,
    price_min: int,
    price_max: int,
    side: np.ndarray,
    quantity_wh: np.ndarray,
    prices: np.ndarray,
    setpoint_w: np.ndarray,
    nonfinite: np.ndarray,
    clipped: np.ndarray,
    unsellable: np.ndarray,
) -> None:
    """``decode`` of ``B x agents x (T + 2)`` float64 actions into the given outputs."""
    batch, n, width = actions.shape
    n_tags = width - 2
    span = float(price_max - price_min)
    clean = np.empty(width)
    for b in range(batch):
        for i in range(n):
            bad = 0
            out = 0
            for k in range(width):
                x = actions[b, i, k]
                if not np.isfinite(x):
                    x = 0.0
                    bad += 1
                elif x > 1.0:
                    x = 1.0
                    out += 1
                elif x < -1.0:
                    x = -1.0
                    out += 1
                clean[k] = x
            nonfinite[b, i] = bad
            clipped[b, i] = out
            amount = clean[0]
            quantity = np.int64(np.rint(abs(amount) * trade_limit_wh[i]))
            can_sell = sell_tag_index[i] >= 0
            s = NO_ORDER
            if amount > 0:
                s = BUY
            elif amount < 0 and can_sell:
                s = SELL
            if quantity < 1:
                s = NO_ORDER
            side[b, i] = s
            unsellable[b, i] = amount < 0 and not can_sell and quantity >= 1
            quantity_wh[b, i] = 0 if s == NO_ORDER else quantity
            for k in range(n_tags):
                prices[b, i, k] = np.int64(np.rint(price_min + (clean[1 + k] + 1.0) * 0.5 * span))
            setpoint_w[b, i] = clean[1 + n_tags] * storage_power_w[i]


@numba.njit(cache=True, nogil=True)
def _plug(location: np.ndarray, slot: int, chargers: int, plugged: np.ndarray) -> None:
    """``CommunitySimulator.plugged(slot)`` into ``plugged``: PHVs at home, and at the office
    while a charger is free (in PHV order)."""
    at_office = 0
    for p in range(location.shape[1]):
        where = location[slot, p]
        if where == AT_OFFICE:
            at_office += 1
            plugged[p] = at_office <= chargers
        else:
            plugged[p] = where == AT_HOME


@numba.njit(cache=True, nogil=True)
def _to_sen(milli_sen: int) -> int:
    """:func:`p2p_env.sim.tariffs.to_sen` of one value."""
    quotient = milli_sen // 1000
    remainder = milli_sen - quotient * 1000
    return quotient + (1 if remainder + (quotient & 1) > 500 else 0)


@numba.njit(cache=True, nogil=True)
def _cumulative_milli_sen(wh: int, bounds: np.ndarray, blocks: np.ndarray, surcharge: int) -> int:
    """``BlockTariff._cumulative_milli_sen`` of one value (``blocks``: lower, base, price)."""
    block = np.searchsorted(bounds, wh, side="right")
    cost: int = blocks[1, block] + (wh - blocks[0, block]) * (blocks[2, block] + surcharge)
    return cost


@numba.njit(cache=True, nogil=True)
def settle_slot(
    t: np.ndarray,
    home_load_wh: np.ndarray,
    home_pv_wh: np.ndarray,
    office_load_wh: np.ndarray,
    office_pv_wh: np.ndarray,
    phv_drive_wh: np.ndarray,
    homes: np.ndarray,
    office: np.ndarray,
    phvs: np.ndarray,
    units: np.ndarray,
    n_batteries: int,
    bank: np.ndarray,
    hours: float,
    phv_location: np.ndarray,
    chargers: int,
    setpoint_w: np.ndarray,
    soc_wh: np.ndarray,
    bought_wh: np.ndarray,
    sold_wh: np.ndarray,
    paid_sen: np.ndarray,
    received_sen: np.ndarray,
    green_wh: np.ndarray,
    bounds: np.ndarray,
    blocks: np.ndarray,
    tariff: np.ndarray,
    is_office: np.ndarray,
    buyback_ticks: np.ndarray,
    grid_bought_month: np.ndarray,
    peak_import_month: np.ndarray,
    money: np.ndarray,
    floats: np.ndarray,
    ints: np.ndarray,
    info: np.ndarray,
) -> None:
    """The slot after clearing, for ``B`` communities at slots ``t`` (see the module docstring).

    Batteries are always connected, PHVs when :func:`_plug` says so (``phv_location`` and the
    office's ``chargers``).

    Updates ``soc_wh`` (``B x units``), ``grid_bought_month`` and ``peak_import_month``
    (``B x agents``) in place and writes ``floats`` (``N_FLOATS x B x agents``), ``ints``
    (``N_INTS x B x agents``) and ``info`` (``N_INFO x B x agents``: the infos' numbers, as
    :func:`p2p_env.sim.simulator.info_columns` computes them). ``green_wh`` is what each agent
    bought of the ``pv`` tag (zeros without one).
    """
    batch, n = setpoint_w.shape
    n_units = units.shape[0]
    consumption = np.zeros(n)
    generation = np.zeros(n)
    charge = np.zeros(n)
    discharge = np.zeros(n)
    drawn_internally = np.zeros(n)
    shortfall = np.zeros(n)
    plugged = np.zeros(phvs.shape[0], np.bool_)
    for b in range(batch):
        slot = t[b]
        _plug(phv_location, slot, chargers, plugged)
        consumption[:] = 0.0
        generation[:] = 0.0
        charge[:] = 0.0
        discharge[:] = 0.0
        drawn_internally[:] = 0.0
        shortfall[:] = 0.0
        floats[F_CURTAILED, b, :] = 0.0
        floats[F_SOC, b, :] = np.nan
        for h in range(homes.shape[0]):
            consumption[homes[h]] = home_load_wh[slot, h]
            generation[homes[h]] = home_pv_wh[slot, h]
        for o in range(office.shape[0]):
            consumption[office[o]] = office_load_wh[slot]
            generation[office[o]] = office_pv_wh[slot]
        # StorageBank.step, unit by unit.
        for u in range(n_units):
            agent = units[u]
            on = u < n_batteries or plugged[u - n_batteries]  # batteries are always connected
            setpoint = setpoint_w[b, agent]
            if not np.isfinite(setpoint):
                setpoint = 0.0
            asked = setpoint * hours if on else 0.0
            asked_charge = asked if asked >= 0.0 else 0.0
            asked_discharge = -asked if -asked >= 0.0 else 0.0
            soc = soc_wh[b, u]
            room = bank[B_MAX_WH, u] - soc
            room = room if room >= 0.0 else 0.0
            stock = soc - bank[B_MIN_WH, u]
            stock = stock if stock >= 0.0 else 0.0
            eta_c = bank[B_ETA_CHARGE, u]
            eta_d = bank[B_ETA_DISCHARGE, u]
            limit = bank[B_CHARGE_W, u] * hours
            charged = asked_charge if asked_charge <= limit else limit
            limit = room / eta_c
            charged = charged if charged <= limit else limit
            limit = bank[B_DISCHARGE_W, u] * hours
            discharged = asked_discharge if asked_discharge <= limit else limit
            limit = stock * eta_d
            discharged = discharged if discharged <= limit else limit
            if not on:
                charged = 0.0
                discharged = 0.0
            stored = charged * eta_c
            drawn = discharged / eta_d
            soc += stored - drawn
            if on:
                soc = soc if soc >= bank[B_MIN_WH, u] else bank[B_MIN_WH, u]
                soc = soc if soc <= bank[B_MAX_WH, u] else bank[B_MAX_WH, u]
            soc_wh[b, u] = soc
            charge[agent] = charged
            discharge[agent] = discharged
            floats[F_CURTAILED, b, agent] = abs(asked - (charged - discharged))
            drawn_internally[agent] = (charged - stored) + (drawn - discharged)
        # Trips: the battery supplies what it can above its floor, gasoline the rest.
        for p in range(phvs.shape[0]):
            u = n_batteries + p
            need = phv_drive_wh[slot, p]
            above = soc_wh[b, u] - bank[B_MIN_WH, u]
            above = above if above >= 0.0 else 0.0
            drawn = need if need <= above else above
            soc_wh[b, u] -= drawn
            shortfall[phvs[p]] = need - drawn
            drawn_internally[phvs[p]] += drawn
        for u in range(n_units):
            floats[F_SOC, b, units[u]] = soc_wh[b, u] / bank[B_CAPACITY, u]
        for i in range(n):
            metered = np.int64(np.rint(consumption[i] - generation[i] + charge[i] - discharge[i]))
            ints[I_METERED, b, i] = metered
            ints[I_GENERATION, b, i] = np.int64(np.rint(generation[i]))
            ints[I_DISCHARGE, b, i] = np.int64(np.rint(discharge[i]))
            ints[I_CHARGE, b, i] = np.int64(np.rint(charge[i]))
            ints[I_DRAWN, b, i] = np.int64(np.rint(drawn_internally[i]))
            ints[I_CONSUMPTION, b, i] = np.int64(np.rint(consumption[i]))
            # settle(), agent by agent.
            sold = sold_wh[b, i]
            imbalance = metered - (bought_wh[b, i] - sold)
            shortage = max(imbalance, 0)
            undelivered = min(shortage, sold)
            retail = shortage - undelivered
            exported = max(-imbalance, 0)
            own_export = min(exported, max(-metered, 0))
            resold = exported - own_export
            before = grid_bought_month[b, i]
            if is_office[i]:
                energy = retail * tariff[T_OFFICE_ENERGY]
            else:
                energy = _cumulative_milli_sen(
                    before + retail, bounds, blocks, tariff[T_SURCHARGE]
                ) - _cumulative_milli_sen(before, bounds, blocks, tariff[T_SURCHARGE])
            grid_cost = _to_sen(energy)
            revenue = _to_sen(own_export * buyback_ticks[i] + resold * tariff[T_RESALE])
            penalty = _to_sen(undelivered * tariff[T_IMBALANCE])
            physical_import = max(metered, 0)
            demand = 0
            if is_office[i]:
                rise = max(physical_import - peak_import_month[b, i], 0)
                denominator = tariff[T_DEMAND_DENOMINATOR]
                demand = (rise * tariff[T_DEMAND_SEN_PER_KW] + denominator // 2) // denominator
            grid_bought_month[b, i] = before + retail
            peak_import_month[b, i] = max(peak_import_month[b, i], physical_import)
            net = paid_sen[b, i] - received_sen[b, i] + grid_cost - revenue + demand + penalty
            ints[I_GRID_BOUGHT, b, i] = retail + undelivered
            ints[I_GRID_SOLD, b, i] = exported
            ints[I_GRID_COST, b, i] = grid_cost
            ints[I_GRID_REVENUE, b, i] = revenue
            ints[I_DEMAND, b, i] = demand
            ints[I_UNDELIVERED, b, i] = undelivered
            ints[I_PENALTY, b, i] = penalty
            ints[I_NET_COST, b, i] = net
            # Gasoline, cost and reward.
            short = shortfall[i]
            gasoline = np.int64(np.rint(short * money[M_GASOLINE_SEN_PER_WH]))
            ints[I_GASOLINE_SEN, b, i] = gasoline
            cost_jpy = (net + gasoline) / 100.0
            green = green_wh[b, i] / 1000.0
            extras = money[M_PENALTY_PER_KWH] * short / 1000 - money[M_GREEN_PER_KWH] * green
            floats[F_REWARD, b, i] = -(cost_jpy + extras) * money[M_REWARD_SCALE]
            floats[F_COST_JPY, b, i] = cost_jpy
            litres = short * money[M_LITRES_PER_WH]
            floats[F_GASOLINE_L, b, i] = litres
            floats[F_SHORTFALL, b, i] = short
            # The infos' numbers: an int64 divided by an integer is a float64 division, as in
            # numpy; the rows are INFO_KEYS'.
            info[0, b, i] = bought_wh[b, i] / 1000
            info[1, b, i] = sold / 1000
            info[2, b, i] = paid_sen[b, i] / 100
            info[3, b, i] = received_sen[b, i] / 100
            info[4, b, i] = (retail + undelivered) / 1000
            info[5, b, i] = exported / 1000
            info[6, b, i] = grid_cost / 100
            info[7, b, i] = revenue / 100
            info[8, b, i] = demand / 100
            info[9, b, i] = undelivered / 1000
            info[10, b, i] = penalty / 100
            info[11, b, i] = gasoline / 100
            info[12, b, i] = litres
            info[13, b, i] = cost_jpy
            info[14, b, i] = (retail + undelivered - exported) / 1000
            info[15, b, i] = floats[F_CURTAILED, b, i] / 1000
            info[16, b, i] = short / 1000


@numba.njit(cache=True, nogil=True)
def observe_slot(
    t: np.ndarray,
    calendar: np.ndarray,
    home_load_wh: np.ndarray,
    home_pv_wh: np.ndarray,
    office_load_wh: np.ndarray,
    office_pv_wh: np.ndarray,
    phv_drive_wh: np.ndarray,
    homes: np.ndarray,
    office: np.ndarray,
    phvs: np.ndarray,
    unit_of: np.ndarray,
    phv_of: np.ndarray,
    scale: np.ndarray,
    noise: np.ndarray,
    lead_std: np.ndarray,
    soc_wh: np.ndarray,
    capacity_wh: np.ndarray,
    phv_location: np.ndarray,
    chargers: int,
    departure: np.ndarray,
    trip: np.ndarray,
    last_price: np.ndarray,
    last_volume: np.ndarray,
    price_min: int,
    price_max: int,
    volume_scale: float,
    grid_bought_month: np.ndarray,
    bounds: np.ndarray,
    tier_ticks: np.ndarray,
    is_office: np.ndarray,
    office_ticks: int,
    buyback: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    out: np.ndarray,
) -> None:
    """``ObservationBuilder.build_many`` into ``out`` (``B x agents x features`` float32), from
    the forecast noise already drawn (``B x 2 x agents x horizon``).

    ``unit_of`` and ``phv_of`` give each agent's storage unit and PHV index (-1: none);
    ``departure`` and ``trip`` are the PHVs' two trip features per slot, ``tier_ticks`` the
    block tariff's prices with the surcharge, ``buyback`` the buyback feature. Each agent's
    features are computed in float64, clipped, then rounded to float32, as the numpy code does.
    """
    batch, n, size = out.shape
    horizon = lead_std.shape[0]
    n_slots = home_load_wh.shape[0]
    n_tags = last_price.shape[1]
    base = 5 + 2 * horizon
    span = price_max - price_min
    obs = np.zeros(size)
    window = np.zeros((2, horizon, n))
    plugged = np.zeros(phvs.shape[0], np.bool_)
    for b in range(batch):
        slot = t[b]
        _plug(phv_location, slot, chargers, plugged)
        window[:] = 0.0
        for j in range(horizon):
            s = slot + j
            if s >= n_slots:
                break
            for h in range(homes.shape[0]):
                window[0, j, homes[h]] = home_load_wh[s, h]
                window[1, j, homes[h]] = home_pv_wh[s, h]
            for p in range(phvs.shape[0]):
                window[0, j, phvs[p]] = phv_drive_wh[s, p]
            for o in range(office.shape[0]):
                window[0, j, office[o]] = office_load_wh[s]
                window[1, j, office[o]] = office_pv_wh[s]
        for i in range(n):
            obs[:] = 0.0
            for k in range(5):
                obs[k] = calendar[slot, k]
            for kind in range(2):
                for j in range(horizon):
                    factor = noise[b, kind, i, j] * lead_std[j] + 1.0
                    factor = factor if factor >= 0.0 else 0.0
                    obs[5 + kind * horizon + j] = window[kind, j, i] * scale[i] * factor
            u = unit_of[i]
            if u >= 0:
                obs[base] = soc_wh[b, u] / capacity_wh[u]
            p = phv_of[i]
            if p >= 0:
                obs[base + 1] = 1.0 if plugged[p] else 0.0
                obs[base + 2] = departure[slot, p]
                obs[base + 3] = trip[slot, p]
            for k in range(n_tags):
                obs[base + 4 + k] = (last_price[b, k] - price_min) / span
                obs[base + 4 + n_tags + k] = last_volume[b, k] * volume_scale
            if is_office[i]:
                retail = office_ticks
            else:
                retail = tier_ticks[np.searchsorted(bounds, grid_bought_month[b, i], side="right")]
            obs[size - 2] = float(retail) / price_max
            obs[size - 1] = buyback[i]
            for k in range(size):
                x = obs[k]
                x = x if x >= low[k] else low[k]
                x = x if x <= high[k] else high[k]
                out[b, i, k] = np.float32(x)


@numba.njit(cache=True, nogil=True)
def standard_normals(generators: list[np.random.Generator], out: np.ndarray) -> None:
    """Fill row ``b`` of ``out`` (``B x ...``, float64, C-contiguous), element after element,
    with ``generators[b].standard_normal()``: the values and final states of
    ``generators[b].standard_normal(out.shape[1:])``, as numba implements numpy's own algorithm
    (the caller proves it on first use), at a third of numpy's time per value.

    ``generators``: a ``numba.typed.List``, which holds each generator unboxed (passing them
    one by one would cost about 6 us each to unbox).
    """
    flat = out.reshape(len(generators), -1)
    for b in range(len(generators)):
        generator = generators[b]
        row = flat[b]
        for i in range(row.size):
            row[i] = generator.standard_normal()
