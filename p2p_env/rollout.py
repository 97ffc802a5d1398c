"""Run a policy over an episode of the parallel environment and keep what happened as arrays.

:func:`run_episode` is what ``p2p-gym simulate`` and the evaluation use: every agent of a type
acts through one :class:`~p2p_env.policy.Policy` call per slot (batched), and the slot results
are stacked into an :class:`Episode` (``slots x agents`` arrays in integer units) from which
bills and community figures follow.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from p2p_env.envs.parallel import P2PCommunityEnv
from p2p_env.policy import AGENT_TYPES, Policy
from p2p_env.sim.simulator import SlotResult

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Episode:
    """One episode, slot by slot (``slots x agents`` unless noted; energy Wh, money sen)."""

    agents: tuple[str, ...]
    kind: NDArray[np.int8]
    home_group: tuple[str, ...]
    home_is_prosumer: NDArray[np.bool_]
    tags: tuple[str, ...]
    slot_start: tuple[str, ...]
    """Local start of each slot (ISO 8601)."""
    cost_sen: IntArray
    """Net cost including gasoline."""
    p2p_bought_wh: IntArray
    p2p_sold_wh: IntArray
    p2p_paid_sen: IntArray
    p2p_received_sen: IntArray
    grid_bought_wh: IntArray
    grid_sold_wh: IntArray
    grid_cost_sen: IntArray
    grid_revenue_sen: IntArray
    demand_charge_sen: IntArray
    undelivered_wh: IntArray
    """Energy sold on the exchange and not delivered."""
    imbalance_penalty_sen: IntArray
    """What the undelivered energy cost at the imbalance price."""
    gasoline_sen: IntArray
    consumption_wh: IntArray
    generation_wh: IntArray
    storage_charge_wh: IntArray
    metered_wh: IntArray
    rewards: FloatArray
    soc: FloatArray
    price_ticks: IntArray
    """``slots x tags``: mean trade price per tag, -1 where nothing traded."""
    volume_wh: IntArray
    """``slots x tags``."""
    n_orders: IntArray
    """``slots``."""
    n_rejected: IntArray
    """``slots``."""
    bad_actions: IntArray
    """``slots``: action values that were non-finite or out of range (sanitised)."""
    block_hashes: tuple[str, ...]

    @property
    def n_slots(self) -> int:
        return len(self.slot_start)

    @property
    def head_hash(self) -> str:
        return self.block_hashes[-1] if self.block_hashes else ""

    def bill_sen(self) -> IntArray:
        """Each agent's net cost over the episode."""
        total: IntArray = self.cost_sen.sum(axis=0)
        return total


def _stack(results: list[SlotResult], get: Callable[[SlotResult], Any], dtype: Any) -> Any:
    return np.asarray([get(r) for r in results], dtype=dtype)


def run_episode(
    env: P2PCommunityEnv,
    policy: Policy,
    *,
    seed: int | None = None,
    options: dict[str, Any] | None = None,
    on_slot: Callable[[int], None] | None = None,
) -> Episode:
    """Reset ``env`` and run ``policy`` for every agent until the episode is truncated.

    Args:
        env: The environment.
        policy: Acts for every agent, one batched call per agent type and slot.
        seed: Passed to ``env.reset`` and, derived, to ``policy.reset``.
        options: ``env.reset`` options (``start``, ``days``).
        on_slot: Called with the slot number after each step (progress bars).
    """
    obs, _ = env.reset(seed=seed, options=options)
    policy.reset(env.context, seed=None if seed is None else seed + 1)
    agents = env.possible_agents
    groups = {kind: [a for a in agents if env.agent_type[a] == kind] for kind in AGENT_TYPES}
    groups = {kind: ids for kind, ids in groups.items() if ids}
    results: list[SlotResult] = []
    starts: list[str] = []
    while env.agents:
        actions: dict[str, NDArray[np.float32]] = {}
        for kind, ids in groups.items():
            batch = np.stack([obs[a] for a in ids])
            chosen = np.asarray(policy.act(kind, ids, batch), dtype=np.float32)
            actions.update(zip(ids, chosen, strict=True))
        starts.append(env.sim.series.slot_start_text(env.sim.slot))
        obs, _, _, _, _ = env.step(actions)
        assert env.last is not None
        results.append(env.last)
        if on_slot is not None:
            on_slot(len(results))
    c = env.sim.community
    i64 = np.int64
    return Episode(
        agents=tuple(agents),
        kind=c.kind.copy(),
        home_group=c.home_group,
        home_is_prosumer=c.home_is_prosumer.copy(),
        tags=env.sim.tags,
        slot_start=tuple(starts),
        cost_sen=_stack(results, lambda r: r.settlement.net_cost_sen + r.gasoline_sen, i64),
        p2p_bought_wh=_stack(results, lambda r: r.settlement.p2p_bought_wh, i64),
        p2p_sold_wh=_stack(results, lambda r: r.settlement.p2p_sold_wh, i64),
        p2p_paid_sen=_stack(results, lambda r: r.settlement.p2p_paid_sen, i64),
        p2p_received_sen=_stack(results, lambda r: r.settlement.p2p_received_sen, i64),
        grid_bought_wh=_stack(results, lambda r: r.settlement.grid_bought_wh, i64),
        grid_sold_wh=_stack(results, lambda r: r.settlement.grid_sold_wh, i64),
        grid_cost_sen=_stack(results, lambda r: r.settlement.grid_cost_sen, i64),
        grid_revenue_sen=_stack(results, lambda r: r.settlement.grid_revenue_sen, i64),
        demand_charge_sen=_stack(results, lambda r: r.settlement.demand_charge_sen, i64),
        undelivered_wh=_stack(results, lambda r: r.settlement.undelivered_wh, i64),
        imbalance_penalty_sen=_stack(results, lambda r: r.settlement.imbalance_penalty_sen, i64),
        gasoline_sen=_stack(results, lambda r: r.gasoline_sen, i64),
        consumption_wh=_stack(results, lambda r: r.flows.consumption_wh, i64),
        generation_wh=_stack(results, lambda r: r.flows.generation_wh, i64),
        storage_charge_wh=_stack(results, lambda r: r.flows.storage_charge_wh, i64),
        metered_wh=_stack(results, lambda r: r.flows.metered_wh, i64),
        rewards=_stack(results, lambda r: r.rewards, np.float64),
        soc=_stack(results, lambda r: r.soc, np.float64),
        price_ticks=_stack(results, lambda r: r.outcome.price_ticks, i64),
        volume_wh=_stack(results, lambda r: r.outcome.volume_wh, i64),
        n_orders=_stack(results, lambda r: r.outcome.n_orders, i64),
        n_rejected=_stack(results, lambda r: r.outcome.n_rejected, i64),
        bad_actions=_stack(
            results, lambda r: int(r.decoded.nonfinite.sum() + r.decoded.clipped.sum()), i64
        ),
        block_hashes=tuple(r.block_hash for r in results),
    )


def community_figures(episode: Episode) -> dict[str, float]:
    """Community-wide figures of an episode (shares are fractions, energy kWh, prices JPY/kWh).

    Physical figures look at the community's connection to the grid: in each slot the members'
    meters net out, and only ``max(sum of metered imports, 0)`` comes from the grid.

    * ``self_sufficiency``: ``1 - community grid import / consumption`` (consumption = loads
      and PHV charging);
    * ``p2p_share``: energy bought on the exchange / consumption;
    * ``peak_grid_import_kw``: the largest community grid import of a slot, as average kW;
    * ``grid_settled_purchases_kwh``: what members bought from the utility in settlement
      (imbalances included), which can exceed the physical import;
    * ``undelivered_kwh``: energy sold on the exchange and not delivered (imbalance price);
    * ``mean_price_<tag>``: volume-weighted mean P2P price per tag (NaN where nothing traded).
    """
    consumption = float(episode.consumption_wh.sum() + episode.storage_charge_wh.sum()) / 1000
    net = episode.metered_wh.sum(axis=1)
    imported = np.maximum(net, 0) / 1000
    exported = np.maximum(-net, 0) / 1000
    slot_hours = 0.5
    p2p = float(episode.p2p_bought_wh.sum()) / 1000
    out: dict[str, float] = {
        "consumption_kwh": consumption,
        "generation_kwh": float(episode.generation_wh.sum()) / 1000,
        "grid_import_kwh": float(imported.sum()),
        "grid_export_kwh": float(exported.sum()),
        "grid_settled_purchases_kwh": float(episode.grid_bought_wh.sum()) / 1000,
        "p2p_kwh": p2p,
        "undelivered_kwh": float(episode.undelivered_wh.sum()) / 1000,
        "self_sufficiency": 1 - float(imported.sum()) / consumption
        if consumption
        else float("nan"),
        "p2p_share": p2p / consumption if consumption else float("nan"),
        "peak_grid_import_kw": float(imported.max()) / slot_hours if episode.n_slots else 0.0,
        "orders": float(episode.n_orders.sum()),
        "rejected_orders": float(episode.n_rejected.sum()),
        "sanitised_action_values": float(episode.bad_actions.sum()),
    }
    traded = episode.price_ticks >= 0
    for i, tag in enumerate(episode.tags):
        volume = np.where(traded[:, i], episode.volume_wh[:, i], 0)
        total = volume.sum()
        value = (np.where(traded[:, i], episode.price_ticks[:, i], 0) * volume).sum()
        out[f"mean_price_{tag}"] = float(value / total / 100) if total else float("nan")
    return out
