"""Clearing throughput of the exchange: orders cleared per second for 10^2 ... 10^5 orders.

    python experiments/bench_exchange.py            # 10^2 .. 10^5 orders, every mechanism
    python experiments/bench_exchange.py --quick    # 10^2 .. 10^4, a few seconds

Order sets are drawn from a seeded generator shaped like a community's slot: half sells (pv 60 %,
battery 25 %, phv 15 %), half buys accepting one to three tags with a premium for pv, prices
around 15-30 JPY/kWh, 0.1-5 kWh per order. Each figure is the best of ``--repeats`` runs of the
whole ``clear(orders, params)`` (validation, books, matching and the result objects) on one
core; ``growth`` is the time ratio to the previous size (10x the orders: ~10-13x for
O(n log n)), shown for the whole call and for the matching core alone (``match s``: the
mechanism on the prepared arrays), and ``slope`` the fitted exponent of time against n. The
phase table splits the largest ``call`` run; the last table is the per-slot cost at community
sizes (~30 agents).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

# One core, as the target says (numpy's sorting is single-threaded anyway; this pins BLAS too).
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled

from exchange import ClearingParams, Order, clear
from exchange.book import build_book
from exchange.clearing import _result
from exchange.mechanisms import get_mechanism
from exchange.validation import validate

TAGS = ("pv", "battery", "phv")
MECHANISMS = ("call", "midpoint", "cda")


def make_orders(n: int, seed: int) -> list[Order]:
    """``n`` orders shaped like a slot of a community (see the module docstring)."""
    rng = np.random.default_rng(seed)
    sell = rng.random(n) < 0.5
    qty = rng.integers(100, 5000, n).tolist()
    tag = rng.choice(3, n, p=[0.6, 0.25, 0.15]).tolist()
    price = rng.integers(1500, 3000, n).tolist()
    n_tags = rng.integers(1, 4, n).tolist()
    premium = rng.integers(0, 400, n).tolist()
    orders: list[Order] = []
    for i in range(n):
        agent = f"agent_{i % 997:03d}"
        if sell[i]:
            orders.append(Order.sell(f"o{i}", agent, qty[i], TAGS[tag[i]], price[i]))
        else:
            accepted = TAGS[: n_tags[i]]
            prices = {t: price[i] + (premium[i] if t == "pv" else 0) for t in accepted}
            orders.append(Order.buy(f"o{i}", agent, qty[i], prices))
    return orders


def best_of(repeats: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def _clear_many(orders: list[Order], params: ClearingParams, loops: int) -> None:
    for _ in range(loops):
        clear(orders, params)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10^2 .. 10^4 orders, fewer repeats")
    parser.add_argument("--repeats", type=int, default=None, help="runs per figure (best kept)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    sizes = [10**k for k in range(2, 5 if args.quick else 6)]
    repeats = args.repeats or (2 if args.quick else 3)

    print(f"exchange clearing benchmark (best of {repeats}, one core, seed {args.seed})\n")
    header = (
        f"{'mechanism':<10}{'orders':>9}{'seconds':>10}{'orders/s':>12}{'us/order':>10}"
        f"{'growth':>8}{'match s':>10}{'growth':>8}{'trades':>9}"
    )
    print(header)
    slopes: dict[str, tuple[float, float]] = {}
    for mechanism in MECHANISMS:
        params = ClearingParams(mechanism=mechanism, seed=args.seed)
        previous: tuple[float, float] | None = None
        points = []
        for n in sizes:
            orders = make_orders(n, args.seed)
            result = clear(orders, params)
            seconds = best_of(repeats, partial(clear, orders, params))
            book = build_book(orders, validate(orders, params)[0], params)
            core = best_of(repeats, partial(get_mechanism(mechanism).match, book))
            growth = (
                ("", "")
                if previous is None
                else (
                    f"{seconds / previous[0]:.1f}x",
                    f"{core / previous[1]:.1f}x",
                )
            )
            print(
                f"{mechanism:<10}{n:>9,}{seconds:>10.4f}{n / seconds:>12,.0f}"
                f"{1e6 * seconds / n:>10.2f}{growth[0]:>8}{core:>10.4f}{growth[1]:>8}"
                f"{len(result.trades):>9,}"
            )
            previous = (seconds, core)
            points.append((math.log(n), math.log(seconds), math.log(core)))
        xs, ys, zs = zip(*points, strict=True)
        slopes[mechanism] = (float(np.polyfit(xs, ys, 1)[0]), float(np.polyfit(xs, zs, 1)[0]))
    print(
        "\nslope of log(time) against log(n), whole clear / match only "
        "(1.0 = linear; n log n over this range reads ~1.1):"
    )
    print("  " + ", ".join(f"{m} {a:.2f} / {b:.2f}" for m, (a, b) in slopes.items()))

    n = sizes[-1]
    orders = make_orders(n, args.seed)
    params = ClearingParams(mechanism="call", seed=args.seed)
    admitted, rejected = validate(orders, params)
    book = build_book(orders, admitted, params)
    matches = get_mechanism("call").match(book)
    phases: dict[str, Callable[[], object]] = {
        "validate": partial(validate, orders, params),
        "build books (arrays)": partial(build_book, orders, admitted, params),
        "match (call)": partial(get_mechanism("call").match, book),
        "result objects": partial(_result, orders, book, matches, rejected, params),
    }
    print(f"\nphases of call at {n:,} orders (seconds):")
    for name, fn in phases.items():
        print(f"  {name:<22}{best_of(repeats, fn):>9.4f}")

    print("\nper slot at community sizes (microseconds per clear):")
    print(f"{'orders':>8}" + "".join(f"{m:>10}" for m in MECHANISMS))
    for n_small in (10, 30, 60):
        orders = make_orders(n_small, args.seed)
        cells = []
        for mechanism in MECHANISMS:
            params = ClearingParams(mechanism=mechanism, seed=args.seed)
            loops = 200
            seconds = best_of(3, partial(_clear_many, orders, params, loops))
            cells.append(f"{1e6 * seconds / loops:>10.0f}")
        print(f"{n_small:>8}" + "".join(cells))


if __name__ == "__main__":
    main()
