"""Decoding of agents' Box actions into orders and storage set-points, vectorised over agents.

Every agent type has the same action layout, ``2 + T`` values in ``[-1, 1]`` for ``T`` market tags
(5 for the default ``pv, battery, phv``):

=========  ==========================================================================
index      meaning
=========  ==========================================================================
0          quantity: ``a * trade_limit_wh``; ``a > 0`` buys, ``a < 0`` sells, |q| < 1 Wh: no order
1 .. T     limit price per tag, linear from ``[-1, 1]`` to ``[price_min, price_max]`` ticks. A buy
           order accepts every tag at its price; a sell order uses the price of its own tag
T + 1      storage set-point: ``a * storage_power_w`` (home battery; PHV charging, negative
           discharges where V2B is enabled); ignored by agents without storage
=========  ==========================================================================

Bad values never crash the step and never reach the exchange: NaN and +-inf become 0 (counted as
``nonfinite``), finite values outside ``[-1, 1]`` are clipped (counted as ``clipped``). A sell
asked by an agent that has nothing to sell (a consumer) places no order and is counted as
``unsellable``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from p2p_env.sim.community import Community

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

NO_ORDER, BUY, SELL = 0, 1, 2


@dataclass(frozen=True)
class DecodedActions:
    """Orders and set-points of every agent for one slot (arrays in agent order)."""

    side: NDArray[np.int8]
    """``NO_ORDER``, ``BUY`` or ``SELL``."""
    quantity_wh: IntArray
    prices: IntArray
    """Limit price per agent and tag, ticks (shape ``agents x tags``)."""
    setpoint_w: FloatArray
    nonfinite: NDArray[np.int16]
    """Per agent, how many action values were NaN or infinite (set to 0)."""
    clipped: NDArray[np.int16]
    """Per agent, how many finite action values lay outside [-1, 1] (clipped)."""
    unsellable: NDArray[np.bool_]
    """Per agent, whether it asked to sell with nothing to sell."""

    def row(self, b: int) -> DecodedActions:
        """Community ``b`` of a batch decoded at once (arrays with a leading ``B`` axis)."""
        return DecodedActions(
            side=self.side[b],
            quantity_wh=self.quantity_wh[b],
            prices=self.prices[b],
            setpoint_w=self.setpoint_w[b],
            nonfinite=self.nonfinite[b],
            clipped=self.clipped[b],
            unsellable=self.unsellable[b],
        )


def action_size(n_tags: int) -> int:
    """Length of every agent's action vector."""
    return n_tags + 2


def sanitize(
    actions: NDArray[np.floating],
) -> tuple[FloatArray, NDArray[np.int16], NDArray[np.int16]]:
    """Apply the documented rule: non-finite -> 0, outside [-1, 1] -> clipped; count both."""
    raw = np.asarray(actions, dtype=np.float64)
    counts_shape = raw.shape[:-1]
    if raw.size and raw.min() >= -1.0 and raw.max() <= 1.0:
        # The usual case (min/max are NaN if any value is): nothing to fix or count.
        return raw, np.zeros(counts_shape, np.int16), np.zeros(counts_shape, np.int16)
    finite = np.isfinite(raw)
    clean = np.where(finite, raw, 0.0)
    outside = finite & (np.abs(clean) > 1.0)
    np.clip(clean, -1.0, 1.0, out=clean)
    return (
        clean,
        (~finite).sum(axis=-1).astype(np.int16),
        outside.sum(axis=-1).astype(np.int16),
    )


def decode(
    actions: NDArray[np.floating],
    community: Community,
    price_min: int,
    price_max: int,
    sell_tag_index: IntArray,
) -> DecodedActions:
    """Decode an ``agents x (T + 2)`` action array (see the module docstring).

    Args:
        actions: One row per agent, in agent order; or ``B x agents x (T + 2)`` for ``B``
            communities of one layout (every result then has a leading ``B`` axis).
        community: The community (trade limits, storage power, what each agent can sell).
        price_min: Lowest price, ticks.
        price_max: Highest price, ticks.
        sell_tag_index: Per agent, the index of its sell tag among the market tags, -1 if none.
    """
    n_agents = community.n_agents
    if actions.ndim not in (2, 3) or actions.shape[-2] != n_agents:
        raise ValueError(
            f"actions must have shape ({n_agents}, T + 2) or (B, {n_agents}, T + 2), "
            f"got {tuple(actions.shape)}"
        )
    clean, nonfinite, clipped = sanitize(actions)
    n_tags = clean.shape[-1] - 2
    amount = clean[..., 0]
    quantity = np.rint(np.abs(amount) * community.trade_limit_wh).astype(np.int64)
    wants_sell = amount < 0
    can_sell = sell_tag_index >= 0
    side = np.where(amount > 0, BUY, np.where(wants_sell & can_sell, SELL, NO_ORDER))
    side = np.where(quantity >= 1, side, NO_ORDER).astype(np.int8)
    unsellable = wants_sell & ~can_sell & (quantity >= 1)
    prices = np.rint(price_min + (clean[..., 1 : 1 + n_tags] + 1.0) * 0.5 * (price_max - price_min))
    return DecodedActions(
        side=side,
        quantity_wh=np.where(side == NO_ORDER, 0, quantity),
        prices=prices.astype(np.int64),
        setpoint_w=clean[..., 1 + n_tags] * community.storage_power_w,
        nonfinite=nonfinite,
        clipped=clipped,
        unsellable=unsellable,
    )
