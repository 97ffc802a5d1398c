"""Benchmark: generating, caching and importing the community's time series.

    python experiments/bench_data.py            # demo span at 20, 200 and 2,000 homes
    python experiments/bench_data.py --quick    # 20 homes only (a few seconds)

Prints one row per community size: generation time, cache write and read time, array size, and
the statistics the tests check (mean kWh/a per home, PV kWh/kWp, PHV km/day). Uses a temporary
cache folder; nothing is downloaded.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from p2p_env.config import load_config
from p2p_env.data import generate_dataset, import_file, to_long_frame
from p2p_env.data.cache import synthetic_path
from p2p_env.data.dataset import Dataset


def _stats(ds: Dataset) -> tuple[float, float, float]:
    year = ds.day_slots(dt.date(2019, 7, 1), dt.date(2020, 6, 30))
    load = float(ds.home_load_kwh[year].astype(np.float64).sum(axis=0).mean())
    pv_homes = ds.home_pv_kwh[year].astype(np.float64).sum(axis=0)
    per_kwp = float(pv_homes[pv_homes > 0].mean() / 4.7)
    km = float(ds.phv_km.astype(np.float64).sum(axis=0).mean() / ds.calendar.n_days)
    return load, per_kwp, km


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 homes; import one month")
    parser.add_argument("--repeat", type=int, default=3, help="timings: best of N")
    args = parser.parse_args()
    scales = [1] if args.quick else [1, 10, 100]
    console = Console(width=130)
    table = Table(title="p2p_env.data: demo span 2019-06-01..2020-08-31, 30-min slots")
    for name in ("homes", "PHVs", "slots", "generate s", "save s", "load s", "MB",
                 "kWh/a/home", "PV kWh/kWp", "PHV km/day"):  # fmt: skip
        table.add_column(name, justify="right")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["P2P_GYM_CACHE"] = tmp
        for scale in scales:
            cfg = load_config("higashifuji_demo", [f"community.scale={scale}"])
            gen = []
            for _ in range(args.repeat if scale == 1 else 1):
                began = time.perf_counter()
                ds = generate_dataset(cfg, key="bench")
                gen.append(time.perf_counter() - began)
            path = synthetic_path(cfg)
            began = time.perf_counter()
            ds.save(path)
            save_s = time.perf_counter() - began
            began = time.perf_counter()
            Dataset.load(path)
            load_s = time.perf_counter() - began
            load, per_kwp, km = _stats(ds)
            size = sum(
                getattr(ds, n).nbytes
                for n in ("home_load_kwh", "home_pv_kwh", "phv_location", "phv_km")
            )
            table.add_row(
                f"{ds.n_homes:,}",
                f"{ds.n_phv:,}",
                f"{ds.n_slots:,}",
                f"{min(gen):.2f}",
                f"{save_s:.2f}",
                f"{load_s:.2f}",
                f"{size / 1e6:,.0f}",
                f"{load:,.0f}",
                f"{per_kwp:,.0f}",
                f"{km:.1f}",
            )
        console.print(table)

        # Import: validate and store the 20-home set written in the long schema (--quick: August
        # 2020 only).
        ds = generate_dataset(load_config("higashifuji_demo"))
        if args.quick:
            ds = ds.window(ds.day_slots(dt.date(2020, 8, 1), dt.date(2020, 8, 31)))
        frame = to_long_frame(ds)
        csv = Path(tmp) / "demo.csv"
        frame.to_csv(csv, index=False)
        os.environ["P2P_GYM_DATA_HOME"] = tmp
        began = time.perf_counter()
        import_file(csv, "bench")
        import_s = time.perf_counter() - began
        console.print(
            f"import: {len(frame):,} rows ({csv.stat().st_size / 1e6:.0f} MB CSV) validated and "
            f"stored in {import_s:.1f} s ({len(frame) / import_s / 1e6:.2f} M rows/s)"
        )


if __name__ == "__main__":
    main()
