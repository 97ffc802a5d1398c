"""Forecasts of demand and PV for the next day, as the demonstration's agents made them.

The demonstration's office and home agents forecast their consumption and PV by machine learning
and traded on the forecasts. :class:`LagForecaster` is such a model, kept to numpy so it trains in
seconds: one ridge regression per entity kind (home load, home PV, office load, office PV) and per
lead (1 to 48 slots), pooled over the entities of a kind, each entity normalised by its mean over
the training period (for PV that is its kWp times its mean yield, so one model serves every
system). It is trained on the config's **training** period and predicts, at slot ``t``, slots
``t .. t + 47`` from what is known before ``t``:

* lags: the last slot (``t - 1``) and the mean of the last day;
* the target's slot of day on the previous 7 days: yesterday's value, the mean, the mean over
  days of the same type (workday or day off: the office closes), last week's value, and the
  7-day maximum (a clear-sky envelope for PV: at night it is 0, at noon the clearest recent day);
* cloud persistence: the ratio of the last slot to its own 7-day envelope, times the target's
  envelope (a cloudy morning tends to stay cloudy for a few hours);
* calendar of the target: time of day (3 harmonics), workday.

Predictions are clipped at 0 (and at 1.5 times the envelope for PV, which cannot exceed a clear
day by much). :class:`NoisyOracleForecaster` gives the realised values times seeded noise that
grows with the lead, for ablations, and :func:`forecast_errors` reports the nMAE
(``sum |error| / sum actual``) of a forecaster and of persistence of yesterday on any period.

Measured on the demonstration community, trained on 2019-06-17..2020-06-30 (4 s on an idle
core), tested on August 2020, leads 1-48 (``python experiments/forecast_error.py``): nMAE home
load 0.35 (persistence 0.47), home PV 0.43 (0.56), office load 0.09 (0.26), office PV 0.43
(0.55).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from p2p_env.data import Dataset

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

KINDS = ("home_load", "home_pv", "office_load", "office_pv")
"""Entity kinds with one model each."""
HORIZON = 48
"""Slots forecast at every step (one day of 30-minute slots)."""
HISTORY = 7 * 48 + 48
"""Slots of history the features need before the first forecast origin."""
SLOTS_PER_DAY = 48
PV_ENVELOPE_FACTOR = 1.5
RIDGE = 1e-2
N_FEATURES = 17


@dataclass(frozen=True)
class Forecast:
    """Forecasts from one slot for the next ``horizon`` slots, kWh per slot."""

    home_load_kwh: FloatArray
    """``homes x horizon``."""
    home_pv_kwh: FloatArray
    """``homes x horizon`` (0 for homes without PV)."""
    office_load_kwh: FloatArray
    """``horizon`` (0 without an office)."""
    office_pv_kwh: FloatArray


class Forecaster(Protocol):
    """Forecasts every entity of a data set from a slot onwards."""

    horizon: int

    def predict(self, t: int, horizon: int | None = None) -> Forecast:
        """Forecast slots ``t .. t + horizon - 1`` of the data set from what precedes ``t``
        (``horizon`` defaults to the forecaster's own and may not exceed it)."""
        ...


def _entity_arrays(dataset: Dataset) -> dict[str, FloatArray]:
    """Per kind, a ``slots x entities`` array (office kinds: one column, none without office)."""
    office = 1 if dataset.has_office else 0
    return {
        "home_load": dataset.home_load_kwh.astype(np.float64),
        "home_pv": dataset.home_pv_kwh.astype(np.float64),
        "office_load": dataset.office_load_kwh.astype(np.float64)[:, None][:, :office],
        "office_pv": dataset.office_pv_kwh.astype(np.float64)[:, None][:, :office],
    }


class _Features:
    """Builds the regression features of (origin, lead, entity) from normalised series."""

    def __init__(self, dataset: Dataset) -> None:
        calendar = dataset.calendar
        self.workday = calendar.workday.astype(np.float64)
        angle = 2 * np.pi * calendar.slot_of_day.astype(np.float64) / SLOTS_PER_DAY
        self.harmonics = np.stack(
            [f(k * angle) for k in (1, 2, 3) for f in (np.sin, np.cos)], axis=1
        )

    def build(self, y: FloatArray, origins: IntArray, lead: int | IntArray) -> FloatArray:
        """Features ``(origins x entities) x N_FEATURES`` for targets ``origins + lead``.

        ``lead`` is one lead for every origin, or one per origin (same length).

        ``y`` is ``slots x entities`` (normalised); only ``y[: origin]`` is read per origin.
        """
        target = origins + lead
        days = target[:, None] - SLOTS_PER_DAY * np.arange(1, 8)[None, :]  # origins x 7
        # Same slot of day on the 7 previous days; lead < 48 keeps them all before the origin.
        past = y[days]  # origins x 7 x entities
        same_type = self.workday[days] == self.workday[target][:, None]
        weight = np.where(same_type, 1.0, 0.0)
        weight[weight.sum(axis=1) == 0] = 1.0
        weight /= weight.sum(axis=1, keepdims=True)
        typed_mean = np.einsum("od,ode->oe", weight, past)
        envelope = past.max(axis=1)
        last = y[origins - 1]
        last_days = (origins - 1)[:, None] - SLOTS_PER_DAY * np.arange(1, 8)[None, :]
        last_envelope = y[last_days].max(axis=1)
        clearness = np.clip(
            np.divide(last, last_envelope, out=np.ones_like(last), where=last_envelope > 1e-6),
            0.0,
            PV_ENVELOPE_FACTOR,
        )
        window = origins[:, None] - np.arange(1, SLOTS_PER_DAY + 1)[None, :]
        day_mean = y[window].mean(axis=1)
        n_e = y.shape[1]
        cal = np.concatenate([self.harmonics[target], self.workday[target][:, None]], axis=1)
        columns = [
            np.ones_like(last),
            past[:, 0],
            past.mean(axis=1),
            typed_mean,
            past[:, 6],
            envelope,
            last,
            day_mean,
            clearness * envelope,
            clearness,
            *[np.broadcast_to(cal[:, j : j + 1], (len(origins), n_e)) for j in range(7)],
        ]
        return np.stack(columns, axis=-1).reshape(-1, N_FEATURES)

    @staticmethod
    def envelope(y: FloatArray, origins: IntArray, lead: int | IntArray) -> FloatArray:
        """The 7-day maximum at the target's slot of day (``origins x entities``)."""
        target = origins + lead
        days = target[:, None] - SLOTS_PER_DAY * np.arange(1, 8)[None, :]
        envelope: FloatArray = y[days].max(axis=1)
        return envelope


class LagForecaster:
    """Ridge regression per kind and lead on lag and calendar features (module docstring).

    Args:
        horizon: Slots forecast at each step (at most 48: yesterday's value must be known).
        ridge: L2 penalty on the coefficients (the intercept is not penalised).
        origin_stride: Every how many slots of the training period a forecast origin is taken
            (odd strides cover every slot of the day).
    """

    def __init__(
        self, horizon: int = HORIZON, ridge: float = RIDGE, origin_stride: int = 5
    ) -> None:
        if not 1 <= horizon <= SLOTS_PER_DAY:
            raise ValueError(f"horizon must be in 1..{SLOTS_PER_DAY} slots, got {horizon}")
        if ridge < 0 or origin_stride < 1:
            raise ValueError(
                f"ridge must be >= 0 and origin_stride >= 1, got {ridge} and {origin_stride}"
            )
        self.horizon = horizon
        self.ridge = ridge
        self.origin_stride = origin_stride
        self.dataset: Dataset | None = None
        self.scale: dict[str, FloatArray] = {}
        self.coef: dict[str, FloatArray] = {}
        """Per kind, ``horizon x N_FEATURES``."""
        self.series: dict[str, FloatArray] = {}
        self.features: _Features | None = None

    def fit(self, dataset: Dataset, start: dt.date, end: dt.date) -> LagForecaster:
        """Train on the days ``start .. end`` of ``dataset`` (e.g. the config's train period).

        The features need the 8 days before each origin: origins start 8 days into the period.
        """
        window = dataset.day_slots(start, end)
        first = window.start + HISTORY
        last = window.stop - self.horizon
        if last <= first:
            raise ValueError(
                f"training period {start}..{end} is too short: the forecaster needs more than "
                f"{HISTORY // SLOTS_PER_DAY + 1} days"
            )
        self.dataset = dataset
        self.features = _Features(dataset)
        origins = np.arange(first, last, self.origin_stride, dtype=np.int64)
        for kind, values in _entity_arrays(dataset).items():
            scale = values[window].mean(axis=0) if values.shape[1] else np.zeros(0)
            self.scale[kind] = scale
            active = scale > 1e-9
            y = np.zeros_like(values)
            y[:, active] = values[:, active] / scale[active]
            self.series[kind] = y
            coef = np.zeros((self.horizon, N_FEATURES))
            if active.any():
                # Pool at most 20 entities per kind: more adds time, not information.
                columns = np.flatnonzero(active)[:20]
                for lead in range(self.horizon):
                    x = self.features.build(y[:, columns], origins, lead)
                    target = y[origins + lead][:, columns].reshape(-1)
                    penalty = self.ridge * len(target) * np.eye(N_FEATURES)
                    penalty[0, 0] = 0.0
                    coef[lead] = np.linalg.solve(x.T @ x + penalty, x.T @ target)
            self.coef[kind] = coef
        return self

    def _kind(self, kind: str, t: int, horizon: int) -> FloatArray:
        """Forecast of every entity of ``kind`` from ``t``, kWh (``entities x horizon``)."""
        if self.features is None or self.dataset is None:
            raise RuntimeError("the forecaster is not fitted: call fit() first")
        y, scale = self.series[kind], self.scale[kind]
        out = np.zeros((y.shape[1], horizon))
        if not y.shape[1]:
            return out
        # Every lead at once: one "origin" per lead, all equal to t.
        leads = np.arange(horizon, dtype=np.int64)
        origins = np.full(horizon, t, dtype=np.int64)
        x = self.features.build(y, origins, leads).reshape(horizon, y.shape[1], N_FEATURES)
        out = np.einsum("lef,lf->el", x, self.coef[kind][:horizon])
        if kind.endswith("_pv"):
            cap = PV_ENVELOPE_FACTOR * _Features.envelope(y, origins, leads)
            out = np.minimum(out, cap.T)
        np.maximum(out, 0.0, out=out)
        result: FloatArray = out * scale[:, None]
        return result

    def predict(self, t: int, horizon: int | None = None) -> Forecast:
        """Forecast slots ``t .. t + horizon - 1`` from the data set's values before ``t``.

        Args:
            t: Forecast origin (slot index into the data set).
            horizon: Slots to forecast, at most the forecaster's own (the default).
        """
        if self.dataset is None:
            raise RuntimeError("the forecaster is not fitted: call fit() first")
        h = self.horizon if horizon is None else horizon
        if not 1 <= h <= self.horizon:
            raise ValueError(f"horizon must be in 1..{self.horizon}, got {h}")
        n = self.dataset.n_slots
        if not HISTORY <= t <= n - h:
            raise ValueError(
                f"forecast origin {t} needs {HISTORY} slots of history and {h} "
                f"slots of calendar ahead (valid: {HISTORY}..{n - h})"
            )
        return _assemble(self._kind, t, h)


class NoisyOracleForecaster:
    """Realised values times ``max(0, 1 + std * sqrt(lead) * N(0, 1))``, seeded (ablations).

    Args:
        dataset: The data set whose values are "forecast".
        std: Relative error of the first slot; it grows with the square root of the lead.
        seed: Seeds the noise (one generator for the forecaster's life).
        horizon: Slots forecast at each step.
    """

    def __init__(
        self, dataset: Dataset, std: float = 0.1, seed: int | None = 0, horizon: int = HORIZON
    ) -> None:
        if std < 0:
            raise ValueError(f"std must be >= 0, got {std}")
        if horizon < 1:
            raise ValueError(f"horizon must be >= 1, got {horizon}")
        self.dataset = dataset
        self.std = std
        self.horizon = horizon
        self.rng = np.random.default_rng(seed)
        self.arrays = _entity_arrays(dataset)

    def _kind(self, kind: str, t: int, horizon: int) -> FloatArray:
        values = self.arrays[kind]
        n = values.shape[0]
        rows = np.minimum(np.arange(t, t + horizon), n - 1)
        true = values[rows].T
        lead = np.sqrt(np.arange(1, horizon + 1))
        noise = 1.0 + self.std * lead * self.rng.standard_normal(true.shape)
        out: FloatArray = true * np.maximum(noise, 0.0)
        return out

    def predict(self, t: int, horizon: int | None = None) -> Forecast:
        """Noisy realised values of slots ``t .. t + horizon - 1`` (past the data: the last)."""
        h = self.horizon if horizon is None else horizon
        if not 1 <= h <= self.horizon:
            raise ValueError(f"horizon must be in 1..{self.horizon}, got {h}")
        return _assemble(self._kind, t, h)


def _by_kind(forecast: Forecast) -> dict[str, FloatArray]:
    return {
        "home_load": forecast.home_load_kwh,
        "home_pv": forecast.home_pv_kwh,
        "office_load": forecast.office_load_kwh[None, :],
        "office_pv": forecast.office_pv_kwh[None, :],
    }


def forecast_errors(
    forecaster: Forecaster,
    dataset: Dataset,
    start: dt.date,
    end: dt.date,
    origin_stride: int = 1,
) -> dict[str, dict[str, float]]:
    """nMAE per kind of ``forecaster`` and of persistence (yesterday's same slot) on a period.

    nMAE is ``sum |forecast - actual| / sum actual`` over every origin in the period (every
    ``origin_stride``-th slot), every lead and every entity of the kind (homes without PV are
    left out of ``home_pv``; night slots count, with their zero error).

    Returns:
        ``{kind: {"model": nmae, "persistence": nmae}}`` for each kind present.
    """
    window = dataset.day_slots(start, end)
    h = forecaster.horizon
    first = max(window.start, HISTORY)
    origins = range(first, window.stop - h + 1, origin_stride)
    arrays = _entity_arrays(dataset)
    err = dict.fromkeys(KINDS, 0.0)
    base = dict.fromkeys(KINDS, 0.0)
    total = dict.fromkeys(KINDS, 0.0)
    for t in origins:
        predicted = _by_kind(forecaster.predict(t))
        for kind, values in arrays.items():
            if not values.shape[1]:
                continue
            actual = values[t : t + h].T
            keep = actual.sum(axis=1) > 0 if kind.endswith("_pv") else slice(None)
            yesterday = values[t - SLOTS_PER_DAY : t - SLOTS_PER_DAY + h].T
            err[kind] += float(np.abs(predicted[kind] - actual)[keep].sum())
            base[kind] += float(np.abs(yesterday - actual)[keep].sum())
            total[kind] += float(actual[keep].sum())
    return {
        kind: {"model": err[kind] / total[kind], "persistence": base[kind] / total[kind]}
        for kind in KINDS
        if total[kind] > 0
    }


def _assemble(kind: Callable[[str, int, int], FloatArray], t: int, h: int) -> Forecast:
    """A :class:`Forecast` from a per-kind predictor (``kind(name, t, h)`` -> entities x h)."""
    office = kind("office_load", t, h)
    office_pv = kind("office_pv", t, h)
    zeros = np.zeros(h)
    return Forecast(
        home_load_kwh=kind("home_load", t, h),
        home_pv_kwh=kind("home_pv", t, h),
        office_load_kwh=office[0] if office.shape[0] else zeros,
        office_pv_kwh=office_pv[0] if office_pv.shape[0] else zeros,
    )
