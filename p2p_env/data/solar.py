"""PV output from pvlib: clear sky for the site, a stochastic cloudiness model, PVWatts system.

Everything runs offline on data that pvlib ships (``LinkeTurbidities.h5``, ``Altitude.h5``).

Chain, per 30-minute slot, evaluated at three instants inside the slot (5, 15 and 25 minutes past
its start) and averaged, so that sunrise and sunset slots get partial output:

1. Solar position: NREL SPA (``pvlib.spa``, Reda and Andreas 2004) on plain arrays.
2. Clear sky: Ineichen-Perez (``pvlib.clearsky.ineichen``) with pvlib's shipped monthly Linke
   turbidity for the site, interpolated between mid-month values as pvlib does; the altitude from
   pvlib's shipped lookup when the config leaves it null.
3. Cloudiness: a clear-sky index ``k = GHI / GHI_clear``. A daily index per day (see
   :func:`daily_clear_sky_index`) times intra-day fluctuation (see :func:`slot_clear_sky_index`).
4. Decomposition of GHI into beam and diffuse: Erbs et al. (1982).
5. Transposition to the plane of array: Hay-Davies, ground albedo 0.2 (a general value;
   0.25 is pvlib's default for grass).
6. PVWatts (Dobos 2014): incidence-angle loss on the beam part (``pvlib.iam.physical``), cell
   temperature (Faiman 2008) from a synthetic ambient temperature, DC power with temperature
   coefficient :data:`GAMMA_PDC`, the config's ``system_losses_pct`` (PVWatts default 14 %), and the
   PVWatts inverter with DC/AC ratio :data:`DC_AC_RATIO` (clipping).

The result is the AC energy per kWp of DC capacity per slot; homes that share a PV spec share this
profile (one pvlib evaluation per distinct tilt/azimuth/losses, not one per home).

Calibration: with the defaults the demonstration's 4.7 kWp south-facing 30 degree systems yield
about 1,200 kWh/kWp a year at the site (see README, Data). Central Japan's Pacific side lies
around 1,100-1,300 kWh/kWp for well-oriented residential systems; JPEA's rule of thumb for
residential systems nation-wide is about 1,000 kWh per kW a year, with the sunny Pacific side
(Shizuoka, Yamanashi) above the national figure.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import signal, special, stats

FloatArray = NDArray[np.float64]

SUBSTEP_FRACTIONS = (1 / 6, 3 / 6, 5 / 6)
"""Instants inside a slot (fractions of its length) where irradiance is evaluated."""

CENTRAL_JAPAN_CLEAR_SKY_INDEX: tuple[float, ...] = (
    0.80,  # Jan: dry winter monsoon, clear skies on the Pacific side
    0.77,  # Feb
    0.69,  # Mar
    0.67,  # Apr
    0.67,  # May
    0.53,  # Jun: rainy season (tsuyu), from early June
    0.57,  # Jul: tsuyu ends mid-July
    0.69,  # Aug: hot, mostly sunny, afternoon convection
    0.58,  # Sep: autumn rain front (shurin) and typhoons
    0.61,  # Oct
    0.70,  # Nov
    0.78,  # Dec
)
"""Monthly mean daily clear-sky index (GHI / Ineichen clear-sky GHI), Jan..Dec.

An assumption shaped after the climate of the Pacific side of central Japan (Shizuoka): dry,
clear winters under the winter monsoon; the rainy season (tsuyu, June to mid-July) and the
September autumn rain front as the cloudiest months. The level was calibrated so that the annual
yield lands near 1,200 kWh/kWp (module docstring). Override it with
``data.clear_sky_index_monthly``."""

KC_MIN, KC_MAX = 0.05, 1.0
"""Range of the daily clear-sky index: a heavily overcast day still lets 5 % through."""

BETA_CONCENTRATION = 2.0
"""Concentration a + b of the daily index's Beta marginal: small, so days are rather clear or
rather overcast (the daily clearness distribution at mid latitudes is broad and often bimodal)."""

INTRADAY_RHO = 0.6
"""Lag-1 (30 min) autocorrelation of the intra-day fluctuation of the clear-sky index."""

KC_SLOT_MAX = 1.2
"""Cloud enhancement can push 30-minute irradiance a little above clear sky."""

DC_AC_RATIO = 1.1
"""DC nameplate / inverter AC rating; Japanese residential inverters (power conditioners) are
sized close to the array (e.g. 4.4 kW for 4.7 kWp)."""

INVERTER_EFFICIENCY = 0.96
"""PVWatts nominal inverter efficiency."""

GAMMA_PDC = -0.004
"""Temperature coefficient of DC power, 1/degC: typical crystalline silicon (PVWatts v5 uses
-0.0047 for its 'standard' module, newer modules are near -0.0035)."""

ALBEDO = 0.2
WIND_SPEED_M_S = 2.0
"""Constant wind speed for the cell temperature model (no wind data offline)."""

DELTA_T_S = 69.2
"""TT - UT1 in seconds around 2020 (only matters at arcsecond precision)."""

TEMPERATURE_NORMALS_C: tuple[float, ...] = (
    6.0, 6.7, 9.8, 14.5, 18.6, 21.9, 25.6, 26.9, 23.7, 18.5, 13.3, 8.5,
)  # fmt: skip
"""Monthly mean air temperature, degC, Jan..Dec: an approximation of the climate of Mishima (about
20 km from the site, near sea level), corrected to the site's altitude by -6.5 degC/km. It only
feeds the cell temperature (a few per cent of PV output)."""
TEMPERATURE_REFERENCE_ALTITUDE_M = 20.0
LAPSE_RATE_C_PER_M = -0.0065


def site_altitude(latitude: float, longitude: float, altitude_m: float | None) -> float:
    """The site's altitude: the config's value, else pvlib's shipped lookup (``Altitude.h5``)."""
    if altitude_m is not None:
        return float(altitude_m)
    from pvlib.location import lookup_altitude

    return float(lookup_altitude(latitude, longitude))


@cache
def monthly_linke_turbidity(latitude: float, longitude: float) -> tuple[float, ...]:
    """pvlib's shipped monthly Linke turbidity (Remund et al. 2003 climatology), Jan..Dec."""
    import pandas as pd
    from pvlib.clearsky import lookup_linke_turbidity

    # Mid-month instants; interp_turbidity=False reads the month's value directly (pvlib's own
    # interpolation path uses a pandas accessor deprecated in pandas 3.1, so interpolate below).
    mid = pd.DatetimeIndex([pd.Timestamp(2019, m, 15, 12, tz="UTC") for m in range(1, 13)])
    values = lookup_linke_turbidity(mid, latitude, longitude, interp_turbidity=False)
    return tuple(float(v) for v in values.to_numpy())


def interpolate_monthly(
    monthly: FloatArray | tuple[float, ...], day_of_year: NDArray[np.floating[Any]]
) -> FloatArray:
    """Periodic linear interpolation between mid-month values (day-of-year 1..366, fractional)."""
    values = np.asarray(monthly, dtype=np.float64)
    mids = np.array([15.5, 45, 74.5, 105, 135.5, 166, 196.5, 227.5, 258, 288.5, 319, 349.5])
    x = np.concatenate([mids[-1:] - 365, mids, mids[:1] + 365])
    y = np.concatenate([values[-1:], values, values[:1]])
    return np.asarray(np.interp(np.asarray(day_of_year, dtype=np.float64), x, y), dtype=np.float64)


@dataclass(frozen=True, eq=False)
class ClearSky:
    """Sun position and clear-sky irradiance at the sub-instants of each slot (shape slots x 3)."""

    apparent_zenith: FloatArray
    azimuth: FloatArray
    ghi: FloatArray
    dni_extra: FloatArray
    airmass: FloatArray
    day_of_year: FloatArray


def clear_sky(
    unix_seconds: FloatArray, latitude: float, longitude: float, altitude: float
) -> ClearSky:
    """Ineichen clear sky at ``unix_seconds`` (any shape) for the site.

    Args:
        unix_seconds: Instants, seconds since 1970-01-01 UTC.
        latitude: Degrees north.
        longitude: Degrees east.
        altitude: Metres above sea level.

    Returns:
        Sun position and clear-sky GHI, W/m2, with the shape of ``unix_seconds``.
    """
    from pvlib import atmosphere, clearsky, irradiance, spa

    shape = unix_seconds.shape
    flat = unix_seconds.reshape(-1).astype(np.float64)
    pressure = float(atmosphere.alt2pres(altitude))
    temp = float(np.mean(TEMPERATURE_NORMALS_C))
    position = spa.solar_position(
        flat, latitude, longitude, altitude, pressure / 100, temp, DELTA_T_S, 0.5667, numthreads=1
    )
    apparent_zenith, azimuth = position[0], position[4]
    # Day of year in UTC, fractional: enough for extraterrestrial irradiance and turbidity.
    day_of_year = (flat / 86_400.0 - _days_to_year_start(flat)) + 1.0
    dni_extra = np.asarray(irradiance.get_extra_radiation(day_of_year), dtype=np.float64)
    linke = interpolate_monthly(monthly_linke_turbidity(latitude, longitude), day_of_year)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        airmass_rel = atmosphere.get_relative_airmass(apparent_zenith)
        airmass = np.asarray(
            atmosphere.get_absolute_airmass(airmass_rel, pressure), dtype=np.float64
        )
    # Night-time zeniths give infinities inside pvlib's formulas; they are zeroed below.
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        sky = clearsky.ineichen(apparent_zenith, airmass, linke, altitude, dni_extra)
    ghi = np.nan_to_num(np.asarray(sky["ghi"], dtype=np.float64), nan=0.0)
    ghi = np.where(apparent_zenith < 90, np.maximum(ghi, 0.0), 0.0)
    return ClearSky(
        apparent_zenith=apparent_zenith.reshape(shape),
        azimuth=azimuth.reshape(shape),
        ghi=ghi.reshape(shape),
        dni_extra=dni_extra.reshape(shape),
        airmass=np.nan_to_num(airmass, nan=40.0).reshape(shape),
        day_of_year=day_of_year.reshape(shape),
    )


def _days_to_year_start(unix_seconds: FloatArray) -> FloatArray:
    """Days from 1970-01-01 to 1 January of each instant's UTC year."""
    years = unix_seconds.astype("datetime64[s]").astype("datetime64[Y]")
    return years.astype("datetime64[D]").astype(np.int64).astype(np.float64)


def daily_clear_sky_index(
    rng: np.random.Generator,
    day_of_year: FloatArray,
    monthly_mean: tuple[float, ...],
    persistence: float,
) -> FloatArray:
    """Daily clear-sky index with day-to-day persistence and the given monthly means.

    Marginal: ``KC_MIN + (KC_MAX - KC_MIN) * B`` with ``B ~ Beta(m c, (1 - m) c)``, ``c`` =
    :data:`BETA_CONCENTRATION` and ``m`` set by the month's mean (interpolated between mid-month
    values so that seasons change smoothly). Persistence: a Gaussian copula driven by an AR(1)
    series with lag-1 correlation ``persistence`` (weather regimes last several days; observed
    lag-1 autocorrelations of the daily clearness index at mid-latitude sites are about 0.2-0.4,
    cf. the Markov transition matrices of Aguiar, Collares-Pereira and Conde, Solar Energy 40,
    1988). The copula keeps the monthly marginal exact, which a Markov chain on binned states
    does only approximately, and vectorises.

    Args:
        rng: Random generator (the weather stream).
        day_of_year: Day of year of each day (1..366).
        monthly_mean: 12 monthly means in ``(KC_MIN, KC_MAX)``.
        persistence: Lag-1 correlation of the latent AR(1) series, in [0, 1).

    Returns:
        One index per day.
    """
    n = day_of_year.shape[0]
    latent = _ar1(rng.standard_normal((n, 1)), persistence)[:, 0]
    mean = interpolate_monthly(monthly_mean, day_of_year)
    m = np.clip((mean - KC_MIN) / (KC_MAX - KC_MIN), 0.02, 0.98)
    u = special.ndtr(latent)
    b = stats.beta.ppf(u, m * BETA_CONCENTRATION, (1 - m) * BETA_CONCENTRATION)
    return np.asarray(KC_MIN + (KC_MAX - KC_MIN) * b, dtype=np.float64)


def slot_clear_sky_index(
    rng: np.random.Generator,
    kc_day: FloatArray,
    day_index: NDArray[np.int32],
    ghi_clear_slot: FloatArray,
    sigma: float,
) -> FloatArray:
    """Clear-sky index per slot: the day's index plus intra-day fluctuation.

    The fluctuation is an AR(1) series (lag-1 :data:`INTRADAY_RHO`) scaled by
    ``sigma * 2 sqrt(k (1 - k))`` so that clear and fully overcast days are steady and broken-cloud
    days vary most. Each day is then rescaled so that its irradiance-weighted mean equals the daily
    index (the daily index stays the day's GHI over clear-sky GHI).

    Args:
        rng: Random generator (the weather stream).
        kc_day: Daily index (length n_days).
        day_index: Day of each slot.
        ghi_clear_slot: Clear-sky GHI per slot (slot mean), W/m2.
        sigma: Intra-day variability at ``k = 0.5``.

    Returns:
        Index per slot in ``[0, KC_SLOT_MAX]``.
    """
    base = kc_day[day_index]
    noise = _ar1(rng.standard_normal((day_index.shape[0], 1)), INTRADAY_RHO)[:, 0]
    spread = sigma * 2.0 * np.sqrt(np.clip(base * (1.0 - base), 0.0, None))
    k = np.clip(base + spread * noise, 0.02, KC_SLOT_MAX)
    n_days = kc_day.shape[0]
    weighted = np.bincount(day_index, weights=k * ghi_clear_slot, minlength=n_days)
    clear = np.bincount(day_index, weights=ghi_clear_slot, minlength=n_days)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(weighted > 0, kc_day * clear / weighted, 1.0)
    return np.clip(k * scale[day_index], 0.0, KC_SLOT_MAX)


def ambient_temperature(
    rng: np.random.Generator,
    day_of_year: FloatArray,
    local_hour: FloatArray,
    kc_slot: FloatArray,
    altitude: float,
) -> FloatArray:
    """Air temperature, degC: monthly normals, a daily anomaly and a diurnal cycle.

    The anomaly is AR(1) over days (sd 2 degC, lag-1 0.7); the diurnal cycle peaks at 14:00 with
    an amplitude growing with the clear-sky index (clear days swing more). It only feeds the cell
    temperature, a few per cent of PV output.
    """
    day = np.floor(day_of_year).astype(np.int64)
    days, inverse = np.unique(day, return_inverse=True)
    anomaly = 2.0 * _ar1(rng.standard_normal((days.shape[0], 1)), 0.7)[:, 0]
    normal = interpolate_monthly(TEMPERATURE_NORMALS_C, day_of_year)
    normal = normal + LAPSE_RATE_C_PER_M * (altitude - TEMPERATURE_REFERENCE_ALTITUDE_M)
    amplitude = 2.0 + 4.0 * np.clip(kc_slot, 0.0, 1.0)
    diurnal = amplitude * np.cos(2 * np.pi * (local_hour - 14.0) / 24.0)
    return np.asarray(normal + anomaly[inverse] + diurnal, dtype=np.float64)


def pv_ac_per_kwp(
    sky: ClearSky,
    kc: FloatArray,
    temp_air: FloatArray,
    tilt_deg: float,
    azimuth_deg: float,
    system_losses_pct: float,
) -> FloatArray:
    """Mean AC power per kWp of DC capacity over each slot, kW/kWp.

    Args:
        sky: Clear sky at the slots' sub-instants (slots x substeps).
        kc: Clear-sky index per slot and sub-instant (same shape, or broadcastable).
        temp_air: Air temperature, degC (same shape).
        tilt_deg: Panel tilt from horizontal.
        azimuth_deg: Panel azimuth, 180 = south.
        system_losses_pct: PVWatts system losses (soiling, wiring, mismatch...), percent.

    Returns:
        kW per kWp, one value per slot.
    """
    from pvlib import iam, inverter, irradiance, pvsystem, temperature

    zenith = sky.apparent_zenith
    ghi = sky.ghi * kc
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        split = irradiance.erbs(ghi, zenith, sky.day_of_year)
        dni = np.nan_to_num(np.asarray(split["dni"], dtype=np.float64))
        dhi = np.nan_to_num(np.asarray(split["dhi"], dtype=np.float64))
        poa = irradiance.get_total_irradiance(
            tilt_deg, azimuth_deg, zenith, sky.azimuth, dni, ghi, dhi,
            dni_extra=sky.dni_extra, airmass=sky.airmass, albedo=ALBEDO, model="haydavies",
        )  # fmt: skip
        angle = irradiance.aoi(tilt_deg, azimuth_deg, zenith, sky.azimuth)
        beam = np.nan_to_num(np.asarray(poa["poa_direct"], dtype=np.float64))
        diffuse = np.nan_to_num(np.asarray(poa["poa_diffuse"], dtype=np.float64))
        modifier = np.nan_to_num(np.asarray(iam.physical(angle), dtype=np.float64))
    effective = np.clip(beam * modifier + diffuse, 0.0, None)
    total = np.clip(beam + diffuse, 0.0, None)
    temp_cell = temperature.faiman(total, temp_air, WIND_SPEED_M_S)
    dc = pvsystem.pvwatts_dc(effective, temp_cell, 1.0, GAMMA_PDC)
    dc = np.clip(np.asarray(dc, dtype=np.float64), 0.0, None) * (1 - system_losses_pct / 100)
    ac = inverter.pvwatts(dc, 1.0 / DC_AC_RATIO / INVERTER_EFFICIENCY, INVERTER_EFFICIENCY)
    ac = np.clip(np.nan_to_num(np.asarray(ac, dtype=np.float64)), 0.0, None)
    return np.asarray(ac.mean(axis=-1), dtype=np.float64)


def _ar1(noise: NDArray[np.floating[Any]], rho: float, axis: int = 0) -> FloatArray:
    """Stationary unit-variance AR(1) along ``axis`` from i.i.d. standard normal ``noise``.

    Filtering along the last (contiguous) axis is several times faster for big arrays; the
    result keeps ``noise``'s dtype (float32 stays float32).
    """
    if rho == 0.0:
        return np.asarray(noise)
    b0 = np.sqrt(1.0 - rho * rho)
    # Start in the stationary distribution: y[0] = noise[0].
    first = np.take(noise, [0], axis=axis)
    out, _ = signal.lfilter([b0], [1.0, -rho], noise, axis=axis, zi=(1.0 - b0) * first)
    return np.asarray(out, dtype=noise.dtype)


ar1 = _ar1
"""Public alias: stationary unit-variance AR(1) filter used by the load models too."""
