"""Forecast error (nMAE) of the shipped forecasters on a config's test period.

    python experiments/forecast_error.py [--config higashifuji_demo] [--period test] [--quick]

Trains :class:`agents.forecast.LagForecaster` on the config's training period and prints, per
entity kind, the nMAE (``sum |error| / sum actual`` over every lead 1-48 and every entity) of the
model, of persistence (yesterday's same slot) and of the noisy oracle used for ablations.
``--quick`` takes a forecast origin every 23 slots instead of every 3.
"""

from __future__ import annotations

import argparse
import time

from agents.forecast import KINDS, LagForecaster, NoisyOracleForecaster, forecast_errors
from p2p_env.config import load_config
from p2p_env.data import load_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="higashifuji_demo")
    parser.add_argument("--period", choices=["validation", "test"], default="test")
    parser.add_argument("--quick", action="store_true", help="fewer forecast origins")
    parser.add_argument("--noise", type=float, default=0.1, help="noisy oracle's first-slot std")
    args = parser.parse_args()

    config = load_config(args.config)
    dataset = load_dataset(config)
    began = time.perf_counter()
    model = LagForecaster().fit(dataset, config.data.train.start, config.data.train.end)
    fit_s = time.perf_counter() - began
    period = getattr(config.data, args.period)
    stride = 23 if args.quick else 3
    began = time.perf_counter()
    errors = forecast_errors(model, dataset, period.start, period.end, origin_stride=stride)
    eval_s = time.perf_counter() - began
    noisy = forecast_errors(
        NoisyOracleForecaster(dataset, std=args.noise, seed=0),
        dataset,
        period.start,
        period.end,
        origin_stride=stride,
    )
    print(
        f"nMAE, leads 1-48, {args.config} {args.period} period {period.start}..{period.end} "
        f"(trained on {config.data.train.start}..{config.data.train.end} in {fit_s:.1f} s; "
        f"origins every {stride} slots, {eval_s:.1f} s)"
    )
    print(f"{'kind':<12} {'model':>8} {'persistence':>12} {'noisy oracle':>13}")
    for kind in KINDS:
        if kind in errors:
            e, n = errors[kind], noisy[kind]
            print(f"{kind:<12} {e['model']:>8.3f} {e['persistence']:>12.3f} {n['model']:>13.3f}")


if __name__ == "__main__":
    main()
