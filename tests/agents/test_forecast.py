"""Forecasters: trained on the training period, better than persistence on the test period,
blind to the future, and the noisy oracle behaves as documented."""

from __future__ import annotations

import numpy as np
import pytest

from agents.forecast import (
    HISTORY,
    KINDS,
    LagForecaster,
    NoisyOracleForecaster,
    forecast_errors,
)
from p2p_env.config import GymConfig, load_config
from p2p_env.data import Dataset, load_dataset

# Test-period nMAE (leads 1-48) of the demonstration community, measured: 0.35, 0.43, 0.09,
# 0.43; persistence of yesterday: 0.47, 0.56, 0.26, 0.55. The bounds leave room for a
# regenerated data set, not for a broken model.
DOCUMENTED_NMAE = {"home_load": 0.42, "home_pv": 0.50, "office_load": 0.15, "office_pv": 0.50}


@pytest.fixture(scope="module")
def config() -> GymConfig:
    return load_config("higashifuji_demo")


@pytest.fixture(scope="module")
def dataset(config: GymConfig) -> Dataset:
    return load_dataset(config)


@pytest.fixture(scope="module")
def model(config: GymConfig, dataset: Dataset) -> LagForecaster:
    return LagForecaster().fit(dataset, config.data.train.start, config.data.train.end)


def test_beats_persistence_within_documented_error(
    model: LagForecaster, dataset: Dataset, config: GymConfig
) -> None:
    test = config.data.test
    errors = forecast_errors(model, dataset, test.start, test.end, origin_stride=29)
    assert set(errors) == set(KINDS)
    for kind, e in errors.items():
        assert e["model"] < e["persistence"], kind
        assert e["model"] < DOCUMENTED_NMAE[kind], (kind, e)


def test_forecast_reads_nothing_from_the_origin_on(model: LagForecaster) -> None:
    t = HISTORY + 1000
    before = model.predict(t)
    saved = {k: v.copy() for k, v in model.series.items()}
    try:
        for values in model.series.values():
            values[t:] = 1e6  # scramble the future, including the slot being forecast
        after = model.predict(t)
    finally:
        model.series.update(saved)
    np.testing.assert_array_equal(before.home_load_kwh, after.home_load_kwh)
    np.testing.assert_array_equal(before.home_pv_kwh, after.home_pv_kwh)
    np.testing.assert_array_equal(before.office_load_kwh, after.office_load_kwh)
    np.testing.assert_array_equal(before.office_pv_kwh, after.office_pv_kwh)


def test_forecast_shapes_and_signs(model: LagForecaster, dataset: Dataset) -> None:
    f = model.predict(HISTORY + 500, horizon=12)
    assert f.home_load_kwh.shape == (dataset.n_homes, 12)
    assert f.home_pv_kwh.shape == (dataset.n_homes, 12)
    assert f.office_load_kwh.shape == (12,)
    for array in (f.home_load_kwh, f.home_pv_kwh, f.office_load_kwh, f.office_pv_kwh):
        assert np.all(array >= 0)
    no_pv = dataset.home_pv_kwh.sum(axis=0) == 0
    assert np.all(f.home_pv_kwh[no_pv] == 0)


def test_forecaster_errors_name_the_problem(model: LagForecaster, dataset: Dataset) -> None:
    with pytest.raises(ValueError, match="history"):
        model.predict(HISTORY - 1)
    with pytest.raises(ValueError, match="horizon"):
        model.predict(HISTORY + 10, horizon=49)
    with pytest.raises(ValueError, match="horizon"):
        LagForecaster(horizon=60)
    with pytest.raises(RuntimeError, match="fit"):
        LagForecaster().predict(HISTORY)
    short = dataset.calendar.dates[20]
    with pytest.raises(ValueError, match="too short"):
        LagForecaster().fit(dataset, short, short)


def test_noisy_oracle(dataset: Dataset, config: GymConfig) -> None:
    t = HISTORY + 300
    exact = NoisyOracleForecaster(dataset, std=0.0).predict(t)
    np.testing.assert_allclose(exact.home_load_kwh, dataset.home_load_kwh[t : t + 48].T)
    np.testing.assert_allclose(exact.office_pv_kwh, dataset.office_pv_kwh[t : t + 48])
    a = NoisyOracleForecaster(dataset, std=0.2, seed=4).predict(t)
    b = NoisyOracleForecaster(dataset, std=0.2, seed=4).predict(t)
    np.testing.assert_array_equal(a.home_load_kwh, b.home_load_kwh)
    # The error grows with the lead: compare the first and last quarter of the day.
    noisy = NoisyOracleForecaster(dataset, std=0.1, seed=1)
    rel_first, rel_last = [], []
    for origin in range(t, t + 48 * 20, 48):
        f = noisy.predict(origin).home_load_kwh
        truth = dataset.home_load_kwh[origin : origin + 48].T
        rel = np.abs(f / truth - 1)
        rel_first.append(rel[:, :12].mean())
        rel_last.append(rel[:, 36:].mean())
    assert np.mean(rel_last) > 1.5 * np.mean(rel_first)
    test = config.data.test
    errors = forecast_errors(noisy, dataset, test.start, test.end, origin_stride=97)
    assert all(0 < e["model"] < 1 for e in errors.values())
    with pytest.raises(ValueError, match="std"):
        NoisyOracleForecaster(dataset, std=-1.0)
