"""The static shape of a community: who its agents are and what equipment each has.

Built once from a :class:`~p2p_env.config.CommunityConfig`; everything the step loop needs is a
numpy array indexed by agent, in agent order: homes first (``home_00``...), then PHVs
(``phv_00``...), then ``office``. Homes are numbered through ``home_groups`` in order (``count *
scale`` each); PHVs through the homes of groups with ``phv: true``, in the same order.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np
from numpy.typing import NDArray

from p2p_env.config import BatteryConfig, GymConfig
from p2p_env.sim.storage import StorageBank

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

HOME_CONTRACT_KW = 6.0
"""A home's largest load, kW: the 60 A contract, the largest of TEPCO meter-rate lighting B (and
the cap of the generated household loads)."""


class AgentKind(IntEnum):
    """The three agent types; each type shares one observation and one action space."""

    HOME = 0
    PHV = 1
    OFFICE = 2


def agent_id_width(n: int) -> int:
    """Digits in the ids of ``n`` agents of a type: 2 at least (``home_00``), more when needed."""
    return max(2, len(str(max(n - 1, 0))))


def agent_ids(prefix: str, n: int) -> list[str]:
    """``prefix_00``, ``prefix_01``, ... for ``n`` agents."""
    width = agent_id_width(n)
    return [f"{prefix}_{i:0{width}d}" for i in range(n)]


@dataclass(frozen=True)
class Community:
    """Agents and equipment of one community, as arrays (see the module docstring)."""

    agents: tuple[str, ...]
    kind: NDArray[np.int8]
    home_group: tuple[str, ...]
    home_is_prosumer: BoolArray
    home_pv_kw: FloatArray
    home_annual_kwh: FloatArray
    battery_home: IntArray
    """Index of the home of each battery (batteries are ordered by home)."""
    batteries: StorageBank
    battery_initial_soc: FloatArray
    phv_home: IntArray
    """Index of the owner home of each PHV."""
    phvs: StorageBank
    office_pv_kw: float
    office_chargers: int
    sell_tag: tuple[str | None, ...]
    """The tag an agent's sell orders carry (``None``: it has nothing to sell)."""
    trade_limit_wh: FloatArray
    """Largest order an agent can place in one slot, Wh (scales the quantity action)."""
    storage_power_w: FloatArray
    """Power that an action of +-1 asks of the agent's storage, W (0: no storage)."""

    @property
    def n_agents(self) -> int:
        return len(self.agents)

    @property
    def n_homes(self) -> int:
        return len(self.home_group)

    @property
    def n_phv(self) -> int:
        return int(self.phv_home.shape[0])

    @property
    def has_office(self) -> bool:
        return bool(np.any(self.kind == AgentKind.OFFICE))

    def storage_capacity_wh(self) -> FloatArray:
        """Per agent, storage capacity in Wh (home battery or PHV; 0 without storage)."""
        capacity = np.zeros(self.n_agents)
        capacity[self.index(AgentKind.HOME)[self.battery_home]] = self.batteries.capacity_wh
        capacity[self.index(AgentKind.PHV)] = self.phvs.capacity_wh
        return capacity

    def index(self, kind: AgentKind) -> IntArray:
        """Agent indices of one kind, in agent order."""
        return np.flatnonzero(self.kind == kind).astype(np.int64)

    @classmethod
    def from_config(cls, config: GymConfig) -> Community:
        """Lay out the community of ``config`` (see the module docstring for the order)."""
        community = config.community
        slot_hours = config.data.slot_minutes / 60
        groups: list[str] = []
        pv_kw: list[float] = []
        annual: list[float] = []
        battery_rows: list[tuple[int, BatteryConfig]] = []
        phv_rows: list[int] = []
        home_tag: list[str | None] = []
        home_limit_kw: list[float] = []
        for group in community.home_groups:
            for _ in range(group.count * community.scale):
                home = len(groups)
                groups.append(group.name)
                pv_kw.append(group.pv.capacity_kw if group.pv else 0.0)
                annual.append(group.annual_kwh)
                limit = HOME_CONTRACT_KW + pv_kw[-1]
                if group.battery is not None:
                    battery_rows.append((home, group.battery))
                    limit += group.battery.power_kw
                if group.phv:
                    phv_rows.append(home)
                home_tag.append("pv" if group.pv else "battery" if group.battery else None)
                home_limit_kw.append(limit)

        phv = community.phv
        n_homes, n_phv = len(groups), len(phv_rows)
        office = community.office
        names = agent_ids("home", n_homes) + agent_ids("phv", n_phv)
        kinds = [AgentKind.HOME] * n_homes + [AgentKind.PHV] * n_phv
        phv_tag = "phv" if phv.discharge_power_kw > 0 else None
        tags: list[str | None] = [*home_tag, *([phv_tag] * n_phv)]
        limits_kw = [*home_limit_kw, *([phv.charge_power_kw + phv.discharge_power_kw] * n_phv)]
        storage_kw = [0.0] * n_homes + [phv.charge_power_kw] * n_phv
        for home, battery in battery_rows:
            storage_kw[home] = battery.power_kw
        if office is not None:
            names.append("office")
            kinds.append(AgentKind.OFFICE)
            tags.append("pv" if office.pv else None)
            # Peak office load is taken as three times its mean: a generous bound for an order.
            office_pv = office.pv.capacity_kw if office.pv else 0.0
            limits_kw.append(3 * office.annual_kwh / 8760 + office_pv)
            storage_kw.append(0.0)

        batteries = [b for _, b in battery_rows]
        return cls(
            agents=tuple(names),
            kind=np.asarray(kinds, dtype=np.int8),
            home_group=tuple(groups),
            home_is_prosumer=np.asarray(pv_kw) > 0,
            home_pv_kw=np.asarray(pv_kw, dtype=np.float64),
            home_annual_kwh=np.asarray(annual, dtype=np.float64),
            battery_home=np.asarray([h for h, _ in battery_rows], dtype=np.int64),
            batteries=StorageBank.from_round_trip(
                capacity_kwh=[b.capacity_kwh for b in batteries],
                charge_power_kw=[b.power_kw for b in batteries],
                discharge_power_kw=[b.power_kw for b in batteries],
                round_trip_efficiency=[b.round_trip_efficiency for b in batteries],
                soc_min=[b.soc_min for b in batteries],
                soc_max=[b.soc_max for b in batteries],
            ),
            battery_initial_soc=np.asarray([b.initial_soc for b in batteries], dtype=np.float64),
            phv_home=np.asarray(phv_rows, dtype=np.int64),
            phvs=StorageBank(
                capacity_wh=np.full(n_phv, phv.battery_kwh * 1000),
                charge_power_w=np.full(n_phv, phv.charge_power_kw * 1000),
                discharge_power_w=np.full(n_phv, phv.discharge_power_kw * 1000),
                eta_charge=np.full(n_phv, phv.charge_efficiency),
                eta_discharge=np.full(n_phv, phv.charge_efficiency),
                soc_min=np.full(n_phv, phv.soc_min),
                soc_max=np.full(n_phv, phv.soc_max),
            ),
            office_pv_kw=office.pv.capacity_kw if office and office.pv else 0.0,
            office_chargers=office.chargers if office else 0,
            sell_tag=tuple(tags),
            trade_limit_wh=np.asarray(limits_kw, dtype=np.float64) * 1000 * slot_hours,
            storage_power_w=np.asarray(storage_kw, dtype=np.float64) * 1000,
        )
