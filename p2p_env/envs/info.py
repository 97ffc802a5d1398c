"""The per-agent ``infos`` of a step: the slot's cost breakdown and what went wrong.

Every agent gets a fresh dict with, in JPY and kWh (floats for people; the ledger holds the exact
integers): ``p2p_bought_kwh``, ``p2p_sold_kwh``, ``p2p_paid_jpy``, ``p2p_received_jpy``,
``grid_bought_kwh``, ``grid_sold_kwh``, ``grid_cost_jpy``, ``grid_revenue_jpy``,
``demand_charge_jpy``, ``undelivered_kwh`` and ``imbalance_penalty_jpy`` (energy sold and not
delivered, and what it cost at the imbalance price), ``gasoline_jpy``, ``gasoline_l``,
``net_cost_jpy`` (the reward's cost),
``imbalance_kwh`` (metered minus contracted; settled with the grid), ``storage_curtailed_kwh``
(set-point the limits did not allow), ``phv_shortfall_kwh`` (trip energy driven on gasoline),
``soc`` (``None`` without storage), the action checks ``nonfinite_actions``, ``clipped_actions``,
``unsellable`` (a sell asked with nothing to sell), ``missing_action`` (no action given: idle),
and ``slot_start`` and ``block_hash`` (the slot's ledger block).

With ``full_infos=False`` (:func:`brief_infos`) an agent's info holds only ``slot_start``,
``block_hash`` and ``missing_action``; the environment's ``last`` result keeps the rest as arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from p2p_env.sim.simulator import SlotResult

if TYPE_CHECKING:
    from p2p_env.envs.parallel import P2PCommunityEnv


def agent_infos(
    env: P2PCommunityEnv, result: SlotResult, missing: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """One fresh info dict per agent (see the module docstring)."""
    s = result.settlement
    columns = {
        "p2p_bought_kwh": s.p2p_bought_wh / 1000,
        "p2p_sold_kwh": s.p2p_sold_wh / 1000,
        "p2p_paid_jpy": s.p2p_paid_sen / 100,
        "p2p_received_jpy": s.p2p_received_sen / 100,
        "grid_bought_kwh": s.grid_bought_wh / 1000,
        "grid_sold_kwh": s.grid_sold_wh / 1000,
        "grid_cost_jpy": s.grid_cost_sen / 100,
        "grid_revenue_jpy": s.grid_revenue_sen / 100,
        "demand_charge_jpy": s.demand_charge_sen / 100,
        "undelivered_kwh": s.undelivered_wh / 1000,
        "imbalance_penalty_jpy": s.imbalance_penalty_sen / 100,
        "gasoline_jpy": result.gasoline_sen / 100,
        "gasoline_l": result.gasoline_l,
        "net_cost_jpy": result.cost_jpy,
        "imbalance_kwh": (s.grid_bought_wh - s.grid_sold_wh) / 1000,
        "storage_curtailed_kwh": result.storage_curtailed_wh / 1000,
        "phv_shortfall_kwh": result.phv_shortfall_wh / 1000,
        "nonfinite_actions": result.decoded.nonfinite,
        "clipped_actions": result.decoded.clipped,
        "unsellable": result.decoded.unsellable,
    }
    agents = env.possible_agents
    keys = (*columns, "soc", "missing_action", "slot_start", "block_hash")
    lists = [np.asarray(values).tolist() for values in columns.values()]
    # None, not NaN, for agents without storage: NaN != NaN would break equality of infos.
    lists.append([None if x != x else x for x in result.soc.tolist()])
    missing_set = set(missing)
    lists.append([agent in missing_set for agent in agents])
    n = len(agents)
    lists.append([env.slot_start_text(result.slot)] * n)
    lists.append([result.block_hash] * n)
    # One fresh dict per agent, built column-wise (no per-field Python loop per agent).
    return {
        agent: dict(zip(keys, row, strict=True))
        for agent, row in zip(agents, zip(*lists, strict=True), strict=True)
    }


def brief_infos(
    env: P2PCommunityEnv, result: SlotResult, missing: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """One fresh, small info dict per agent: ``slot_start``, ``block_hash``, ``missing_action``."""
    info = {
        "slot_start": env.slot_start_text(result.slot),
        "block_hash": result.block_hash,
        "missing_action": False,
    }
    # A copy each (a third cheaper than building the literal), then the few missing agents.
    infos = {agent: info.copy() for agent in env.possible_agents}
    for agent in missing:
        infos[agent]["missing_action"] = True
    return infos
