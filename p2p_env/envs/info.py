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

from collections.abc import Callable, Sequence
from itertools import repeat
from typing import TYPE_CHECKING, Any

from p2p_env.sim._step_layout import INFO_KEYS
from p2p_env.sim.simulator import SlotResult

if TYPE_CHECKING:
    from p2p_env.envs.parallel import P2PCommunityEnv


def agent_infos(
    env: P2PCommunityEnv, result: SlotResult, missing: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """One fresh info dict per agent (see the module docstring)."""
    agents = env.possible_agents
    # The numbers in one conversion (computed with the slot: SlotResult.info_columns), then
    # the action checks, the state of charge and the slot's texts.
    lists: list[Any] = result.info_columns.tolist()
    lists.append(result.decoded.nonfinite.tolist())
    lists.append(result.decoded.clipped.tolist())
    lists.append(result.decoded.unsellable.tolist())
    # None, not NaN, for agents without storage: NaN != NaN would break equality of infos.
    lists.append([None if x != x else x for x in result.soc.tolist()])
    missing_set = set(missing)
    lists.append([agent in missing_set for agent in agents])
    lists.append(repeat(env.slot_start_text(result.slot)))
    lists.append(repeat(result.block_hash))
    # One fresh dict per agent, each from one call of _info over the columns (no row tuples,
    # no per-field Python loop per agent).
    return dict(zip(agents, map(_info, *lists), strict=True))


_KEYS = (
    *INFO_KEYS,
    "nonfinite_actions",
    "clipped_actions",
    "unsellable",
    "soc",
    "missing_action",
    "slot_start",
    "block_hash",
)
"""Every key of a full info, in order (the module docstring says what each holds)."""


def _dict_maker(keys: Sequence[str]) -> Callable[..., dict[str, Any]]:
    """A function of ``len(keys)`` positional values that returns ``{keys[0]: value_0, ...}``.

    Its body is one dict display, written here as ``collections.namedtuple`` writes its
    methods: CPython builds a dict fastest from a display with constant keys (about 1 us for an
    info's keys, a third less than ``dict(zip(keys, row))``).
    """
    if len(set(keys)) != len(keys) or not all(type(k) is str for k in keys):
        raise ValueError(f"keys must be distinct strings, got {list(keys)}")
    names = [f"v{i}" for i in range(len(keys))]
    items = ", ".join(f"{key!r}: {name}" for key, name in zip(keys, names, strict=True))
    namespace: dict[str, Any] = {}
    exec(f"def make({', '.join(names)}):\n    return {{{items}}}\n", namespace)
    maker: Callable[..., dict[str, Any]] = namespace["make"]
    return maker


_info = _dict_maker(_KEYS)
"""One agent's full info from its values in :data:`_KEYS` order."""


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
