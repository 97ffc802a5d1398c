"""Rendering for people watching a policy: a text summary of a slot, or a small chart.

``"ansi"`` returns the last slot's summary (time, prices and volumes per tag, grid flows, P2P
share); ``"rgb_array"`` a matplotlib chart (Agg, off screen) of the episode so far: clearing price
per tag, community grid import/export and P2P volume, and the mean state of charge.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from p2p_env.sim.simulator import SlotResult

if TYPE_CHECKING:
    from p2p_env.envs.parallel import P2PCommunityEnv


class Renderer:
    """Keeps the episode's history needed to draw it."""

    def __init__(self, env: P2PCommunityEnv) -> None:
        self.env = env
        self.prices: list[NDArray[np.int64]] = []
        self.grid_in: list[float] = []
        self.grid_out: list[float] = []
        self.p2p: list[float] = []
        self.soc: list[float] = []
        self.last: SlotResult | None = None

    def reset(self) -> None:
        for history in (self.prices, self.grid_in, self.grid_out, self.p2p, self.soc):
            history.clear()
        self.last = None

    def record(self, result: SlotResult) -> None:
        s = result.settlement
        self.last = result
        self.prices.append(result.outcome.price_ticks)
        self.grid_in.append(float(s.grid_bought_wh.sum()) / 1000)
        self.grid_out.append(float(s.grid_sold_wh.sum()) / 1000)
        self.p2p.append(float(s.p2p_bought_wh.sum()) / 1000)
        soc = result.soc[~np.isnan(result.soc)]
        self.soc.append(float(soc.mean()) if soc.size else float("nan"))

    def render(self, mode: str | None) -> str | NDArray[np.uint8] | None:
        if mode == "ansi":
            return self.text()
        if mode == "rgb_array":
            return self.chart()
        return None

    def text(self) -> str:
        env = self.env
        if self.last is None:
            return f"{env.metadata['name']}: reset, no slot stepped yet\n"
        r = self.last
        s = r.settlement
        tags = env.sim.tags
        prices = ", ".join(
            f"{tag} {p / 100:.2f} JPY/kWh ({v / 1000:.2f} kWh)" if p >= 0 else f"{tag} -"
            for tag, p, v in zip(tags, r.outcome.price_ticks, r.outcome.volume_wh, strict=True)
        )
        consumed = float(r.flows.consumption_wh.sum()) / 1000
        p2p = float(s.p2p_bought_wh.sum()) / 1000
        share = p2p / consumed if consumed > 0 else 0.0
        return (
            f"slot {env.sim.series.slot_time(r.slot)}: {r.outcome.n_orders} orders, "
            f"{r.outcome.trade_columns.shape[1]} trades, {r.outcome.n_rejected} rejected\n"
            f"  prices: {prices}\n"
            f"  grid import {s.grid_bought_wh.sum() / 1000:.2f} kWh, export "
            f"{s.grid_sold_wh.sum() / 1000:.2f} kWh, P2P {p2p:.2f} kWh ({share:.0%} of load)\n"
            f"  community cost {r.cost_jpy.sum():.2f} JPY, block {r.block_hash[:16]}\n"
        )

    def chart(self) -> NDArray[np.uint8]:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        fig = Figure(figsize=(6, 4.5), dpi=80)
        ax_price, ax_flow, ax_soc = fig.subplots(3, 1, sharex=True)
        slots = np.arange(len(self.prices))
        if self.prices:
            prices = np.asarray(self.prices, dtype=np.float64) / 100
            prices[prices < 0] = np.nan
            for i, tag in enumerate(self.env.sim.tags):
                ax_price.plot(slots, prices[:, i], label=tag)
            ax_price.legend(loc="upper right", fontsize=7)
        ax_price.set_ylabel("JPY/kWh")
        ax_flow.plot(slots, self.grid_in, label="grid import")
        ax_flow.plot(slots, self.grid_out, label="grid export")
        ax_flow.plot(slots, self.p2p, label="P2P")
        ax_flow.set_ylabel("kWh/slot")
        ax_flow.legend(loc="upper right", fontsize=7)
        ax_soc.plot(slots, self.soc)
        ax_soc.set_ylabel("mean SoC")
        ax_soc.set_ylim(0, 1)
        ax_soc.set_xlabel("slot of the episode")
        fig.tight_layout()
        canvas = FigureCanvasAgg(fig)  # off screen, whatever backend pyplot uses
        canvas.draw()  # type: ignore[no-untyped-call]
        rgba = np.asarray(canvas.buffer_rgba())  # type: ignore[no-untyped-call]
        return np.ascontiguousarray(rgba[..., :3])

    def close(self) -> None:
        self.reset()
