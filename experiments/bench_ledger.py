"""Ledger throughput: records appended per second (memory, SQLite) and verified per second.

    python experiments/bench_ledger.py            # 10^4, 10^5, 10^6 records
    python experiments/bench_ledger.py --quick    # 10^4, 10^5

Blocks come from a seeded community shaped like the demonstration (20 homes and an office: 8
with PV, one with a battery): per slot every agent orders and settles, sellers and buyers trade,
and the certificate registry issues, transfers, stores and cancels certificates, so a block holds
about 130 records of which about half are certificate events. Generating the blocks is not
timed; only ``append_block`` and ``verify`` are.

Columns: appends/s into memory and into SQLite (WAL, one transaction per block,
``synchronous=NORMAL``; ``--durable`` for FULL), verifies/s in memory with every check
(hashes, roots, chain, envelopes, certificates), in memory without certificates (integrity
only), and from SQLite with every check; then the ceiling, bare SHA-256 over the same record
bytes, and the share of the full in-memory verification spent in each part.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ledger import CertificateRegistry, Ledger

PARAMS: dict[str, Any] = {
    "mechanism": "cda",
    "price_bounds": [0, 5000],
    "tags": ["pv", "battery", "phv"],
    "tag_order": "price",
    "seed": 0,
    "agents": None,
    "rules_version": 1,
}


class Community:
    """21 agents; ``h0..h7`` have PV, ``h0`` a battery; seeded."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.agents = [f"h{i}" for i in range(20)] + ["office"]
        self.pv = self.agents[:8]
        self.registry = CertificateRegistry()
        self.slot = 0

    def block(self) -> dict[str, Any]:
        rng, slot, reg = self.rng, self.slot, self.registry
        self.slot += 1
        gen = {a: rng.randrange(0, 2500) for a in self.pv}
        sellers = [a for a in self.pv if gen[a] > 300]
        buyers = [a for a in self.agents if a not in sellers]
        orders = [
            {
                "id": f"{slot}-o{i}",
                "agent": a,
                "side": "sell",
                "quantity_wh": gen[a] - 300,
                "tag": "pv",
                "price": rng.randrange(900, 2400),
            }
            for i, a in enumerate(sellers)
        ]
        orders += [
            {
                "id": f"{slot}-o{len(sellers) + i}",
                "agent": a,
                "side": "buy",
                "quantity_wh": rng.randrange(100, 1500),
                "prices": {"pv": rng.randrange(1500, 3000), "battery": 2000},
            }
            for i, a in enumerate(buyers)
        ]
        trades: list[dict[str, Any]] = []
        for seller in sellers:
            for buyer in rng.sample(buyers, 2):
                q = rng.randrange(50, 600)
                price = rng.randrange(1500, 2600)
                trades.append(
                    {
                        "buy": f"b-{buyer}",
                        "sell": f"s-{seller}",
                        "buyer": buyer,
                        "seller": seller,
                        "tag": "pv",
                        "quantity_wh": q,
                        "price": price,
                        "amount": q * price // 1000,
                    }
                )
        reg.begin_slot(slot)
        for a, wh in gen.items():
            reg.issue(a, "pv", wh)
        reg.discharge("h0/battery", "h0", rng.randrange(0, 300))
        for t in trades:
            reg.transfer(t["seller"], t["buyer"], "pv", t["quantity_wh"])
        reg.charge("h0", "h0/battery", rng.randrange(0, 300))
        for a in self.agents:
            reg.consume(a, rng.randrange(100, 1500))
        certificates = reg.end_slot()
        settlements = [
            {
                "agent": a,
                "p2p_wh": rng.randrange(-2000, 2000),
                "p2p_money": rng.randrange(-5000, 5000),
                "grid_wh": rng.randrange(0, 1500),
                "grid_money": rng.randrange(0, 4000),
            }
            for a in self.agents
        ]
        return {
            "slot": slot,
            "params": PARAMS,
            "orders": orders,
            "trades": trades,
            "settlements": settlements,
            "certificates": certificates,
        }


def run(n_records: int, durable: bool, workdir: Path) -> dict[str, float]:
    community = Community(seed=n_records)
    memory = Ledger.in_memory()
    path = workdir / f"bench-{n_records}.ledger"
    path.unlink(missing_ok=True)
    sqlite = Ledger.open(path, create=True, durable=durable)
    t_mem = t_sql = 0.0
    records = 0
    while records < n_records:
        block = community.block()
        t0 = time.perf_counter()
        memory.append_block(**block)
        t1 = time.perf_counter()
        sqlite.append_block(**block)
        t2 = time.perf_counter()
        t_mem += t1 - t0
        t_sql += t2 - t1
        records += sum(len(block[k]) for k in ("orders", "trades", "settlements", "certificates"))
    if memory.head_hash != sqlite.head_hash:
        raise RuntimeError("memory and SQLite ledgers differ")
    sqlite.close()

    full = memory.verify()
    integrity = memory.verify(check_certificates=False)
    with Ledger.open(path, read_only=True) as reader:
        from_file = reader.verify()
    for report in (full, integrity, from_file):
        if not report.ok:
            raise RuntimeError(f"benchmark ledger does not verify: {report.summary()}")

    store = memory.store
    blocks = [store.records(h) or [] for h in range(len(store))]
    flat = [r for block in blocks for r in block]
    sha = hashlib.sha256
    t0 = time.perf_counter()
    for r in flat:
        sha(r).digest()
    t_sha = time.perf_counter() - t0
    path.unlink(missing_ok=True)
    return {
        "records": records,
        "blocks": len(store),
        "append_mem": records / t_mem,
        "append_sql": records / t_sql,
        "verify_full": records / full.seconds,
        "verify_integrity": records / integrity.seconds,
        "verify_sql": records / from_file.seconds,
        "sha256": records / t_sha,
        "full_s": full.seconds,
        "integrity_s": integrity.seconds,
        "bytes": sum(map(len, flat)) / records,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="stop at 10^5 records")
    parser.add_argument("--durable", action="store_true", help="SQLite synchronous=FULL")
    args = parser.parse_args(argv)
    sizes = [10**4, 10**5] if args.quick else [10**4, 10**5, 10**6]
    header = (
        f"{'records':>9} {'blocks':>7} {'B/rec':>6} | {'append mem/s':>12} "
        f"{'append sqlite/s':>15} | {'verify mem/s':>12} {'no certs/s':>11} "
        f"{'verify sqlite/s':>15} | {'sha256/s':>10}"
    )
    print(header)
    print("-" * len(header))
    last: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        run(2_000, args.durable, Path(tmp))  # untimed: loads the compiled kernels
        for n in sizes:
            r = last = run(n, args.durable, Path(tmp))
            print(
                f"{r['records']:>9,.0f} {r['blocks']:>7,.0f} {r['bytes']:>6.0f} | "
                f"{r['append_mem']:>12,.0f} {r['append_sql']:>15,.0f} | "
                f"{r['verify_full']:>12,.0f} {r['verify_integrity']:>11,.0f} "
                f"{r['verify_sql']:>15,.0f} | {r['sha256']:>10,.0f}",
                flush=True,
            )
    total, integrity = last["full_s"], last["integrity_s"]
    print(
        f"\nwhere a full in-memory verification of {last['records']:,.0f} records spends "
        f"{total:.2f} s: the integrity checks (record and leaf hashes, Merkle roots, headers, "
        f"chain) {integrity / total:.0%}, the certificate checks (JSON decoding and the Wh-range "
        f"book) {max(total - integrity, 0) / total:.0%}"
    )
    print(
        f"full verification runs at {last['verify_full'] / last['sha256']:.0%} of bare SHA-256 "
        f"over the same bytes; integrity only at {last['verify_integrity'] / last['sha256']:.0%}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
