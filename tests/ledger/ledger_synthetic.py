"""A small seeded community that writes realistic blocks (tests and the benchmark share it).

Each slot: every home submits an order; prosumers sell PV, consumers buy with a price per tag;
trades pair them greedily; each agent gets a settlement; the certificate registry issues, moves,
stores and cancels certificates. Only the standard library, so it is usable wherever the ledger is.
"""

from __future__ import annotations

import random
from typing import Any

from ledger import CertificateRegistry, Ledger

PARAMS: dict[str, Any] = {
    "mechanism": "cda",
    "price_bounds": [0, 5000],
    "tags": ["pv", "battery"],
    "seed": 7,
}


def clear(params: dict[str, Any], orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A deterministic toy clearing used as the replay hook: sells and buys paired in order."""
    sells = [dict(o) for o in orders if o["side"] == "sell"]
    buys = [dict(o) for o in orders if o["side"] == "buy"]
    trades: list[dict[str, Any]] = []
    for buy in buys:
        for sell in sells:
            if sell["quantity_wh"] == 0 or buy["quantity_wh"] == 0:
                continue
            limit = buy["prices"].get(sell["tag"])
            if limit is None or limit < sell["price"]:
                continue
            q = min(sell["quantity_wh"], buy["quantity_wh"])
            price = (limit + sell["price"]) // 2
            trades.append(
                {
                    "id": f"t{len(trades)}",
                    "buyer": buy["agent"],
                    "seller": sell["agent"],
                    "buy_order": buy["id"],
                    "sell_order": sell["id"],
                    "tag": sell["tag"],
                    "quantity_wh": q,
                    "price": price,
                    "money": q * price // 1000,
                    "seed": params["seed"],
                }
            )
            sell["quantity_wh"] -= q
            buy["quantity_wh"] -= q
    return trades


class Community:
    """Producers ``p0..``, consumers ``c0..``; ``p0`` has a battery."""

    def __init__(self, seed: int = 0, producers: int = 3, consumers: int = 5) -> None:
        self.rng = random.Random(seed)
        self.producers = [f"p{i}" for i in range(producers)]
        self.consumers = [f"c{i}" for i in range(consumers)]
        self.registry = CertificateRegistry()
        self.slot = 0

    def block(self) -> dict[str, Any]:
        """The keyword arguments of :meth:`Ledger.append_block` for the next slot."""
        rng, slot = self.rng, self.slot
        self.slot += 1
        gen = {p: rng.randrange(0, 3000) for p in self.producers}
        orders: list[dict[str, Any]] = []
        for p, wh in gen.items():
            if wh:
                orders.append(
                    {
                        "id": f"o{len(orders)}",
                        "agent": p,
                        "side": "sell",
                        "quantity_wh": wh,
                        "tag": "pv",
                        "price": rng.randrange(800, 2000),
                    }
                )
        for c in self.consumers:
            orders.append(
                {
                    "id": f"o{len(orders)}",
                    "agent": c,
                    "side": "buy",
                    "quantity_wh": rng.randrange(1, 2000),
                    "prices": {"pv": rng.randrange(1500, 2600), "battery": 1200},
                }
            )
        trades = clear(PARAMS, orders)
        reg = self.registry
        reg.begin_slot(slot)
        for p, wh in gen.items():
            reg.issue(p, "pv", wh)
        reg.discharge("p0/battery", "p0", rng.randrange(0, 400))
        for t in trades:
            reg.transfer(t["seller"], t["buyer"], t["tag"], t["quantity_wh"], trade=t["id"])
        reg.charge("p0", "p0/battery", rng.randrange(0, 500))
        if slot % 5 == 0:
            reg.lose("p0/battery", 10)
        for c in self.consumers:
            reg.consume(c, rng.randrange(0, 2500))
        for p in self.producers:
            reg.consume(p, rng.randrange(0, 300))
        exported = {p: rng.randrange(0, 2000) for p in self.producers}
        certificates = reg.end_slot(exported=exported)
        settlements = [
            {
                "agent": a,
                "p2p_money": rng.randrange(-5000, 5000),
                "grid_money": rng.randrange(0, 9000),
            }
            for a in self.producers + self.consumers
        ]
        return {
            "slot": slot,
            "params": PARAMS,
            "orders": orders,
            "trades": trades,
            "settlements": settlements,
            "certificates": certificates,
            "start": "2020-08-01T00:00:00+09:00" if slot == 0 else None,
        }


def build(
    blocks: int, seed: int = 0, ledger: Ledger | None = None, producers: int = 3, consumers: int = 5
) -> Ledger:
    """A ledger of ``blocks`` synthetic slots (in memory unless ``ledger`` is given)."""
    ledger = Ledger.in_memory() if ledger is None else ledger
    community = Community(seed, producers, consumers)
    for _ in range(blocks):
        ledger.append_block(**community.block())
    return ledger
