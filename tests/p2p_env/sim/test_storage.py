"""Storage physics: limits always hold and energy balances, whatever the set-points."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from p2p_env.sim.storage import StorageBank

HOURS = 0.5


def _bank(n: int) -> StorageBank:
    return StorageBank.from_round_trip(
        capacity_kwh=[7.0, 8.8, 8.8, 13.5][:n],
        charge_power_kw=[3.0, 3.8, 3.8, 5.0][:n],
        discharge_power_kw=[3.0, 0.0, 3.0, 5.0][:n],
        round_trip_efficiency=[0.9, 0.92, 0.92, 0.85][:n],
        soc_min=[0.1, 0.0, 0.0, 0.2][:n],
        soc_max=[0.95, 1.0, 1.0, 0.9][:n],
    )


def test_charge_is_limited_by_power_and_room() -> None:
    bank = _bank(1)
    soc = np.array([0.9 * 7000.0])
    step = bank.step(soc, np.array([10_000.0]), np.array([True]), HOURS)
    eta = np.sqrt(0.9)
    room = 0.95 * 7000 - 0.9 * 7000
    assert step.charged_wh[0] == pytest.approx(room / eta)
    assert soc[0] == pytest.approx(0.95 * 7000)
    assert step.curtailed_wh[0] == pytest.approx(5000 - room / eta)


def test_unavailable_units_do_not_move_and_zero_power_units_do_not_discharge() -> None:
    bank = _bank(2)
    soc = np.array([3500.0, 4400.0])
    step = bank.step(soc, np.array([-2000.0, -2000.0]), np.array([False, True]), HOURS)
    assert soc.tolist() == [3500.0, 4400.0]  # unit 0 unplugged; unit 1 has no discharge power
    assert step.discharged_wh.tolist() == [0.0, 0.0]
    assert step.curtailed_wh.tolist() == [0.0, 1000.0]  # asked only while available


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.lists(
                st.floats(-1e5, 1e5) | st.sampled_from([np.nan, np.inf, -np.inf]),
                min_size=4,
                max_size=4,
            ),
            st.lists(st.booleans(), min_size=4, max_size=4),
        ),
        min_size=1,
        max_size=30,
    ),
    st.lists(st.floats(0.0, 1.0), min_size=4, max_size=4),
)
def test_limits_hold_and_energy_balances(
    slots: list[tuple[list[float], list[bool]]], start: list[float]
) -> None:
    bank = _bank(4)
    lo, hi = bank.soc_min * bank.capacity_wh, bank.soc_max * bank.capacity_wh
    soc = lo + np.asarray(start) * (hi - lo)
    for setpoints, available in slots:
        before = soc.copy()
        step = bank.step(soc, np.asarray(setpoints), np.asarray(available), HOURS)
        assert np.all(soc >= lo - 1e-9)
        assert np.all(soc <= hi + 1e-9)
        assert np.all(step.charged_wh <= bank.charge_power_w * HOURS + 1e-9)
        assert np.all(step.discharged_wh <= bank.discharge_power_w * HOURS + 1e-9)
        assert np.all((step.charged_wh == 0) | (step.discharged_wh == 0))
        assert np.all(step.losses_wh >= -1e-9)
        # Meter-side energy in = stored energy gained + losses.
        np.testing.assert_allclose(
            step.charged_wh - step.discharged_wh, soc - before + step.losses_wh, atol=1e-6
        )


def test_bad_bank_is_rejected() -> None:
    with pytest.raises(ValueError, match="soc_min"):
        StorageBank.from_round_trip([1.0], [1.0], [1.0], [0.9], [0.5], [0.5])
    with pytest.raises(ValueError, match="efficiencies"):
        StorageBank.from_round_trip([1.0], [1.0], [1.0], [1.5], [0.1], [0.9])
