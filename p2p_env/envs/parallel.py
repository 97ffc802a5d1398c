"""The PettingZoo parallel environment of a P2P trading community.

``p2p_env.parallel_env(config="higashifuji_demo", seed=None, render_mode=None, **overrides)``:
every home, PHV and the office is an agent (``home_00``..., ``phv_00``..., ``office``); a step is
one 30-minute slot, cleared on the tagged exchange, settled with the grid and written to the
ledger. Observation and action layouts are documented in :mod:`p2p_env.sim.observations` and
:mod:`p2p_env.sim.actions` (and in the README's table).

An episode lasts ``env.episode_days`` days from the start of a day drawn (seeded) inside the
chosen period (``period="train"`` by default; ``"validation"``, ``"test"`` or ``"span"``); its end
is a truncation, never a termination. ``reset(options={"start": "2020-08-01", "days": 31})``
fixes the start day and length instead (evaluation uses this). Days are the site's local days
(one with a daylight-saving change has 46 or 50 slots), and an episode never runs past the end
of its period: the periods' data stay apart.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from numpy.typing import NDArray
from pettingzoo import ParallelEnv

from p2p_env.config import DEFAULT_CONFIG, GymConfig, Period, load_config
from p2p_env.data import Dataset, load_dataset
from p2p_env.envs.info import agent_infos, brief_infos
from p2p_env.envs.render import Renderer
from p2p_env.policy import AGENT_TYPES, PolicyContext
from p2p_env.sim.ledger_recorder import LedgerRecorder
from p2p_env.sim.market import Recorder
from p2p_env.sim.observations import ObservationBuilder
from p2p_env.sim.series import SlotSeries, from_dataset
from p2p_env.sim.simulator import CommunitySimulator, SlotResult

PeriodName = Literal["train", "validation", "test", "span"]
PERIODS: tuple[PeriodName, ...] = ("train", "validation", "test", "span")
RENDER_MODES = ("ansi", "rgb_array")

ObsType = NDArray[np.float32]
ActionType = NDArray[np.float32]
FloatArray = NDArray[np.float64]


def resolve_config(
    config: str | os.PathLike[str] | GymConfig, overrides: Mapping[str, Any]
) -> GymConfig:
    """A config from a name, a path or an object, with ``overrides`` applied.

    Override keys are dotted paths (``"market.mechanism"``) or use ``__`` as the separator
    (``market__mechanism="call"``); values are taken as they are (JSON-encoded for the loader).
    """
    sets = [f"{key.replace('__', '.')}={json.dumps(value)}" for key, value in overrides.items()]
    if isinstance(config, GymConfig):
        if not sets:
            return config
        raise TypeError("overrides need a config name or path, not a GymConfig object")
    return load_config(config, sets)


class P2PCommunityEnv(ParallelEnv[str, ObsType, ActionType]):  # type: ignore[misc]
    """A P2P trading community as a PettingZoo ``ParallelEnv`` (see the module docstring).

    Args:
        config: Config name, YAML path or :class:`~p2p_env.config.GymConfig`.
        seed: Seeds the environment's generator; ``reset(seed=...)`` reseeds it.
        render_mode: ``None``, ``"ansi"`` (a one-slot text summary) or ``"rgb_array"``
            (prices, flows and state of charge of the episode so far).
        period: Where episodes start: ``train``, ``validation``, ``test`` or ``span``.
        ledger_path: Write the ledger to this SQLite file (default: in memory).
        keep_records: In memory, keep every record (``True``, the default: the ledger can be
            queried and fully verified). ``False`` keeps only headers, block hashes and leaf
            hashes (every slot still appends its block; the head hash is the same): for long
            episodes of large communities, whose records fill memory (20,000 homes: about
            22 MB a slot, a gigabyte a day). A SQLite ledger always keeps its records.
        dataset: Use this data set instead of the config's (must match the community).
        recorder: Write blocks with this recorder instead (advanced; overrides ``ledger_path``,
            refuses ``keep_records=False``: the recorder has its own).
        series: The simulator's view of ``dataset``, when one is shared between environments
            (advanced: :mod:`p2p_env.envs.batched` shares one among its communities).
        full_infos: ``True`` (default): each agent's info holds its cost breakdown and action
            checks (:mod:`p2p_env.envs.info`). ``False``: only ``slot_start``, ``block_hash``
            and ``missing_action``; the same figures stay available as arrays in
            :attr:`last` (a :class:`~p2p_env.sim.simulator.SlotResult`). For large
            communities: 29,000 info dicts of 24 keys cost about 90 ms a slot.
        **overrides: Dotted config overrides, e.g. ``**{"market.mechanism": "call"}``.
    """

    metadata = {  # noqa: RUF012 - the class attribute PettingZoo reads
        "render_modes": list(RENDER_MODES),
        "name": "p2p_community_v0",
        "is_parallelizable": True,
        "render_fps": 4,
    }

    def __init__(
        self,
        config: str | os.PathLike[str] | GymConfig = DEFAULT_CONFIG,
        seed: int | None = None,
        render_mode: str | None = None,
        *,
        period: PeriodName = "train",
        ledger_path: str | os.PathLike[str] | None = None,
        keep_records: bool = True,
        dataset: Dataset | None = None,
        recorder: Recorder | None = None,
        series: SlotSeries | None = None,
        full_infos: bool = True,
        **overrides: Any,
    ) -> None:
        if render_mode is not None and render_mode not in RENDER_MODES:
            raise ValueError(
                f"render_mode must be None or one of {RENDER_MODES}, got {render_mode!r}"
            )
        if period not in PERIODS:
            raise ValueError(f"period must be one of {PERIODS}, got {period!r}")
        if type(keep_records) is not bool:
            raise TypeError(f"keep_records must be True or False, got {keep_records!r}")
        if not keep_records and ledger_path is not None:
            raise ValueError(
                "keep_records=False applies to the in-memory ledger; a SQLite ledger "
                f"({ledger_path}) keeps every record"
            )
        if not keep_records and recorder is not None:
            raise ValueError(
                "keep_records=False configures the default recorder; give the recorder its "
                "own keep_records instead"
            )
        self.render_mode = render_mode
        self.full_infos = full_infos
        self.config = resolve_config(config, overrides)
        self.dataset = dataset if dataset is not None else load_dataset(self.config)
        if recorder is None:
            recorder = _make_recorder(self.config, ledger_path, keep_records)
        if series is None:
            series = from_dataset(self.dataset)
        self.sim = CommunitySimulator(self.config, series, recorder=recorder)
        community = self.sim.community
        env_config = self.config.env
        self.observations_builder = ObservationBuilder(
            self.sim, env_config.forecast_horizon_slots, env_config.forecast_error_std
        )
        self.possible_agents = list(community.agents)
        self.agents: list[str] = []
        self.agent_type = {
            agent: AGENT_TYPES[int(kind)]
            for agent, kind in zip(community.agents, community.kind, strict=True)
        }
        builder = self.observations_builder
        obs_spaces = {
            kind: spaces.Box(builder.low, builder.high, dtype=np.float32) for kind in AGENT_TYPES
        }
        action_spaces = {
            kind: spaces.Box(-1.0, 1.0, (self.sim.action_size,), dtype=np.float32)
            for kind in AGENT_TYPES
        }
        # One space object per type: observation_space(agent) returns the same object each call.
        self._obs_space = {a: obs_spaces[t] for a, t in self.agent_type.items()}
        self._action_space = {a: action_spaces[t] for a, t in self.agent_type.items()}
        self._period = self._period_slots(period)
        self.period = period
        self.np_random, self.np_random_seed = seeding.np_random(seed)
        self._forecast_rng = np.random.default_rng(0)
        self._end_slot = 0
        self.context = self._context(self._period[0], self.config.env.episode_days * 48)
        self._zero_action = np.zeros(self.sim.action_size, dtype=np.float32)
        self.last: SlotResult | None = None
        self.renderer = Renderer(self) if render_mode else None
        self._closed = False

    # ----------------------------------------------------------------------------------------
    # PettingZoo API
    # ----------------------------------------------------------------------------------------

    def observation_space(self, agent: str) -> spaces.Box:
        return self._obs_space[agent]

    def action_space(self, agent: str) -> spaces.Box:
        return self._action_space[agent]

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, ObsType], dict[str, dict[str, Any]]]:
        if seed is not None:
            self.np_random, self.np_random_seed = seeding.np_random(seed)
        # Options other than ``start`` and ``days`` are ignored, as PettingZoo's API test expects.
        options = options or {}
        days = int(options.get("days", self.config.env.episode_days))
        start = options.get("start")
        if days < 1:
            raise ValueError(f"reset option days must be >= 1, got {days}")
        n_days = self._period[1]
        if start is not None:
            day = self._day_of(start)
        else:
            if days > n_days:
                raise ValueError(
                    f"episodes of {days} days do not fit the {self.period} period ({n_days} days)"
                )
            day = int(self.np_random.integers(0, n_days - days + 1))
        slot, self._end_slot = self._episode_slots(day, days)
        c = self.sim.community
        phv_soc = self.np_random.uniform(0.3, 0.9, c.n_phv)
        market_seed = int(self.np_random.integers(0, 2**63))
        self._forecast_rng = np.random.default_rng(int(self.np_random.integers(0, 2**63)))
        self.sim.reset(slot, phv_initial_soc=phv_soc, seed=market_seed)
        self.context = self._context(slot, self._end_slot - slot)
        self.agents = self.possible_agents[:]
        self.last = None
        if self.renderer:
            self.renderer.reset()
        obs = self._observations()
        infos = {agent: {"slot_start": self.slot_start_text(slot)} for agent in self.agents}
        return obs, infos

    def step(
        self, actions: Mapping[str, ActionType]
    ) -> tuple[
        dict[str, ObsType],
        dict[str, float],
        dict[str, bool],
        dict[str, bool],
        dict[str, dict[str, Any]],
    ]:
        if not self.agents:
            raise RuntimeError("step() called after the episode ended: call reset() first")
        array, missing = self._action_array(actions)
        result = self.sim.step(array)
        self.last = result
        if self.renderer:
            self.renderer.record(result)
        done = self.sim.slot >= self._end_slot
        obs = self._observations()
        rewards = dict(zip(self.possible_agents, result.rewards.tolist(), strict=True))
        terminations = dict.fromkeys(self.possible_agents, False)
        truncations = dict.fromkeys(self.possible_agents, done)
        if self.full_infos:
            infos = agent_infos(self, result, missing)
        else:
            infos = brief_infos(self, result, missing)
        if done:
            self.agents = []
        return obs, rewards, terminations, truncations, infos

    def slot_start_text(self, slot: int) -> str:
        """Local start time of ``slot`` as ISO text (``2020-08-03T12:30``), as infos carry it."""
        return self.sim.series.slot_start_text(slot)

    def _action_array(self, actions: Mapping[str, ActionType]) -> tuple[FloatArray, list[str]]:
        """The ``agents x action_size`` array of ``actions`` (missing agents: zeros) and the
        agents that had no action."""
        possible = self.possible_agents
        if len(actions) == len(possible):
            # Fast path, every agent present: one conversion for all.
            try:
                array = np.array([actions[a] for a in possible], dtype=np.float64)
            except (KeyError, ValueError, TypeError):
                pass  # the checks below say what is wrong
            else:
                if array.shape == (len(possible), self._zero_action.size):
                    return array, []
        unknown = set(actions) - set(possible)
        if unknown:
            raise KeyError(f"actions for unknown agents {sorted(unknown)}")
        rows = []
        missing = []
        for agent in possible:
            action = actions.get(agent)
            if action is None:
                missing.append(agent)
                action = self._zero_action
            row = np.asarray(action, dtype=np.float64).reshape(-1)
            if row.shape != self._zero_action.shape:
                raise ValueError(
                    f"action of {agent} has shape {np.shape(action)}, expected "
                    f"{self._zero_action.shape}"
                )
            rows.append(row)
        return np.stack(rows), missing

    def render(self) -> str | NDArray[np.uint8] | None:
        if self.renderer is None:
            return None
        return self.renderer.render(self.render_mode)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.sim.recorder is not None:
            self.sim.recorder.close()
        if self.renderer:
            self.renderer.close()

    # ----------------------------------------------------------------------------------------
    # Helpers
    # ----------------------------------------------------------------------------------------

    @property
    def slots_per_day(self) -> int:
        return 1440 // self.sim.series.slot_minutes

    def _context(self, start: int, slots: int) -> PolicyContext:
        return PolicyContext(
            config=self.config,
            community=self.sim.community,
            tags=self.sim.tags,
            horizon=self.config.env.forecast_horizon_slots,
            observation_size=self.observations_builder.size,
            action_size=self.sim.action_size,
            series=self.sim.series,
            episode_start=start,
            episode_slots=slots,
            price_min_ticks=self.sim.price_min,
            price_max_ticks=self.sim.price_max,
        )

    def observe_all(self) -> NDArray[np.float32]:
        """Observations of every agent as one ``agents x features`` array (agent order)."""
        return self.observations_builder.build(self._forecast_rng)

    def _observations(self) -> dict[str, ObsType]:
        # dict(zip(...)): the rows as views, a quarter cheaper than indexing each.
        return dict(zip(self.possible_agents, self.observe_all(), strict=True))

    def _dates(self, name: PeriodName) -> Period:
        """The days of the period ``name`` (``span``, ``train``, ``validation`` or ``test``)."""
        data = self.config.data
        return data.span if name == "span" else getattr(data, name)

    def _period_slots(self, name: PeriodName) -> tuple[int, int]:
        period = self._dates(name)
        window = self.dataset.day_slots(period.start, period.end)
        return window.start, (period.end - period.start).days + 1

    def _episode_slots(self, day: int, days: int) -> tuple[int, int]:
        """First and end slot of ``days`` whole local days from the period's day ``day``, cut
        at the end of the period (a day that changes to or from daylight saving time has 46 or
        50 slots, as the data's calendar has it)."""
        period = self._dates(self.period)
        first = period.start + dt.timedelta(days=day)
        last = min(first + dt.timedelta(days=days - 1), period.end)
        window = self.dataset.day_slots(first, last)
        return window.start, min(window.stop, self.sim.series.n_slots)

    def _day_of(self, start: Any) -> int:
        day = dt.date.fromisoformat(start) if isinstance(start, str) else start
        if not isinstance(day, dt.date):
            raise ValueError(f"reset option start must be an ISO date, got {start!r}")
        period = self._dates(self.period)
        if not period.start <= day <= period.end:
            raise ValueError(
                f"reset option start {day} lies outside the {self.period} period "
                f"{period.start}..{period.end}"
            )
        return (day - period.start).days


def _make_recorder(
    config: GymConfig, ledger_path: str | os.PathLike[str] | None, keep_records: bool = True
) -> Recorder | None:
    """The run's ledger: SQLite at ``ledger_path`` or in memory (see :mod:`p2p_env.sim`)."""
    return LedgerRecorder.open(
        config, Path(ledger_path) if ledger_path else None, keep_records=keep_records
    )
