"""What every baseline shares: the observation layout, action encoding, and a per-type policy.

Policies implement :class:`p2p_env.policy.Policy` (``reset(context, seed)`` and batched
``act(agent_type, agent_ids, observations)``). :class:`TypedPolicy` dispatches to
``act_home`` / ``act_phv`` / ``act_office`` with an :class:`ObsView` that names the observation
columns (see :mod:`p2p_env.sim.observations`) and an :class:`ActionWriter` that turns Wh, ticks
and W into the ``[-1, 1]`` action layout (see :mod:`p2p_env.sim.actions`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from p2p_env.policy import PolicyContext
from p2p_env.sim.community import Community

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Layout:
    """Column positions of the observation vector for horizon ``h`` and ``n_tags`` tags."""

    horizon: int
    n_tags: int

    @property
    def consumption(self) -> slice:
        return slice(5, 5 + self.horizon)

    @property
    def pv(self) -> slice:
        return slice(5 + self.horizon, 5 + 2 * self.horizon)

    @property
    def storage(self) -> int:
        """Start of soc, plugged, slots to departure / 48, next trip energy / capacity."""
        return 5 + 2 * self.horizon

    @property
    def last_price(self) -> slice:
        base = self.storage + 4
        return slice(base, base + self.n_tags)

    @property
    def retail(self) -> int:
        return -2

    @property
    def buyback(self) -> int:
        return -1


class ObsView:
    """Observations of a batch of agents in physical units (Wh, ticks, hours)."""

    def __init__(
        self, obs: NDArray[np.float32], rows: NDArray[np.int64], ctx: PolicyContext
    ) -> None:
        layout = Layout(ctx.horizon, len(ctx.tags))
        community = ctx.community
        o = obs.astype(np.float64)
        limit = community.trade_limit_wh[rows][:, None]
        self.hour = (np.arctan2(o[:, 0], o[:, 1]) / (2 * np.pi) * 24) % 24
        self.weekend = o[:, 4] > 0.5
        self.consumption_wh = o[:, layout.consumption] * limit
        self.pv_wh = o[:, layout.pv] * limit
        s = layout.storage
        self.soc = o[:, s]
        self.plugged = o[:, s + 1] > 0.5
        self.slots_to_departure = o[:, s + 2] * 48
        self.next_trip_fraction = o[:, s + 3]
        span = ctx.price_max_ticks - ctx.price_min_ticks
        self.last_price_ticks = ctx.price_min_ticks + o[:, layout.last_price] * span
        self.retail_ticks = o[:, layout.retail] * ctx.price_max_ticks
        self.buyback_ticks = o[:, layout.buyback] * ctx.price_max_ticks
        self.n = o.shape[0]


class ActionWriter:
    """Builds a batch of actions from physical quantities (the inverse of the decoding)."""

    def __init__(self, rows: NDArray[np.int64], ctx: PolicyContext) -> None:
        community = ctx.community
        self.n_tags = len(ctx.tags)
        self.tags = ctx.tags
        self.limit_wh = community.trade_limit_wh[rows]
        self.power_w = community.storage_power_w[rows]
        self.pmin, self.pmax = ctx.price_min_ticks, ctx.price_max_ticks
        self.actions = np.zeros((len(rows), self.n_tags + 2), dtype=np.float64)

    def trade(self, net_wh: FloatArray) -> None:
        """Order ``net_wh`` per agent: positive buys, negative sells (clipped to the limit)."""
        self.actions[:, 0] = np.clip(net_wh / np.maximum(self.limit_wh, 1.0), -1.0, 1.0)

    def prices(self, ticks: FloatArray, tag: str | None = None) -> None:
        """Set the limit price (per agent) of one tag, or of every tag when ``tag`` is None."""
        value = (
            2.0 * (np.asarray(ticks, dtype=np.float64) - self.pmin) / (self.pmax - self.pmin) - 1
        )
        columns = range(self.n_tags) if tag is None else [self.tags.index(tag)]
        for c in columns:
            self.actions[:, 1 + c] = np.clip(value, -1.0, 1.0)

    def storage(self, setpoint_w: FloatArray) -> None:
        """Storage set-point per agent, W (+ charge, - discharge)."""
        ratio = np.divide(
            setpoint_w, self.power_w, out=np.zeros_like(self.power_w), where=self.power_w > 0
        )
        self.actions[:, -1] = np.clip(ratio, -1.0, 1.0)

    def result(self) -> NDArray[np.float32]:
        return self.actions.astype(np.float32)


class TypedPolicy:
    """A policy written per agent type: override ``act_home``, ``act_phv``, ``act_office``.

    Each receives the batch's agent indices (into the community), an :class:`ObsView` and an
    :class:`ActionWriter`, and fills the writer; unset actions stay 0 (no order, storage idle).
    """

    def __init__(self) -> None:
        self.ctx: PolicyContext | None = None
        self.index: dict[str, int] = {}
        self.rng = np.random.default_rng()

    @property
    def context(self) -> PolicyContext:
        if self.ctx is None:
            raise RuntimeError("the policy was not reset with a context")
        return self.ctx

    @property
    def community(self) -> Community:
        return self.context.community

    def reset(self, context: PolicyContext, seed: int | None = None) -> None:
        self.ctx = context
        self.index = {agent: i for i, agent in enumerate(context.community.agents)}
        self.rng = np.random.default_rng(seed)

    def act(
        self, agent_type: str, agent_ids: Sequence[str], observations: NDArray[np.float32]
    ) -> NDArray[np.float32]:
        ctx = self.context
        rows = np.asarray([self.index[a] for a in agent_ids], dtype=np.int64)
        view = ObsView(np.asarray(observations), rows, ctx)
        writer = ActionWriter(rows, ctx)
        handler = {"home": self.act_home, "phv": self.act_phv, "office": self.act_office}
        if agent_type not in handler:
            raise ValueError(f"unknown agent type {agent_type!r}; expected home, phv or office")
        handler[agent_type](rows, view, writer)
        return writer.result()

    def act_home(self, rows: NDArray[np.int64], obs: ObsView, out: ActionWriter) -> None:
        """Fill ``out`` for homes (default: nothing)."""

    def act_phv(self, rows: NDArray[np.int64], obs: ObsView, out: ActionWriter) -> None:
        """Fill ``out`` for PHVs (default: nothing)."""

    def act_office(self, rows: NDArray[np.int64], obs: ObsView, out: ActionWriter) -> None:
        """Fill ``out`` for the office (default: nothing)."""
