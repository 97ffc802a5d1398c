"""Score a policy the way the demonstration reported its result.

For each seed, the community runs the evaluation period twice with the same seed (same data,
forecast errors, PHV starting charge and exchange arrival order): once with the policy, once with
``grid_only`` (no P2P trading: buying only from the utility). A group's **bill improvement** is
``(bill_grid_only - bill_policy) / |bill_grid_only| x 100`` over the summed bills of the group's
accounts, as the demonstration compared its participants' balance against buying from an
ordinary utility (August 2020: all households 8.6 %, consumers 6.1 %, prosumers 18.0 %,
electrified vehicles 25.4 %).

The improvement is the saving divided by the group's **gross** grid_only bill (what it pays for
electricity and gasoline, before buyback income): ``(net_grid_only - net_policy) / gross_grid_only
x 100``. For consumers gross and net are the same; for prosumers, whose August net bill can be
near zero or negative (FIT income), a ratio to the net bill would be meaningless (the
demonstration's footnote mentions rates above 100 % for that reason), so the gross bill is the
base. Groups:

* ``all_households``: every home account and every PHV account (the demonstration's households
  included their vehicles);
* ``consumers``: homes without PV; ``prosumers``: homes with PV (their own accounts);
* ``phv``: the vehicles' accounts (charging energy and gasoline);
* ``office``: the office's account.

Over seeds: the mean and a 95 % Student-t interval. The policy's episodes are also summarised as
community figures (:func:`p2p_env.rollout.community_figures`), plus the share of consumption
matched by certified local PV of the same slot, read from the ledger after it verified with
replay of every clearing.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from p2p_env.config import GymConfig, Period
from p2p_env.data import load_dataset
from p2p_env.envs.parallel import P2PCommunityEnv
from p2p_env.policy import Policy, make_policy
from p2p_env.rollout import Episode, community_figures, run_episode
from p2p_env.sim.community import AgentKind
from p2p_env.sim.exchange_market import replay

REFERENCE_POLICY = "grid_only"
DEMONSTRATION = {
    "all_households": 8.6,
    "consumers": 6.1,
    "prosumers": 18.0,
    "phv": 25.4,
}
"""Published bill improvements, % (1-31 August 2020; seed document)."""
GROUPS = ("all_households", "consumers", "prosumers", "phv", "office")


class EvaluationError(ValueError):
    """A bad evaluation request (period, policy, seeds); the message says what to change."""


def parse_period(text: str, config: GymConfig) -> Period:
    """``2020-08`` (a month), ``2020-08-01:2020-08-10``, or ``train``/``validation``/``test``.

    Raises:
        EvaluationError: The text is none of these, or the days are outside the data span.
    """
    data = config.data
    if text in ("train", "validation", "test"):
        period: Period = getattr(data, text)
    elif re.fullmatch(r"\d{4}-\d{2}", text):
        year, month = map(int, text.split("-"))
        if not 1 <= month <= 12:
            raise EvaluationError(f"period {text!r}: month must be 01..12")
        first = dt.date(year, month, 1)
        following = dt.date(year + month // 12, month % 12 + 1, 1)
        period = Period(start=first, end=following - dt.timedelta(days=1))
    elif re.fullmatch(r"\d{4}-\d{2}-\d{2}:\d{4}-\d{2}-\d{2}", text):
        start, end = text.split(":")
        try:
            period = Period(start=dt.date.fromisoformat(start), end=dt.date.fromisoformat(end))
        except ValueError as exc:
            raise EvaluationError(f"period {text!r}: {exc}") from None
    else:
        raise EvaluationError(
            f"period {text!r} is not a month (2020-08), a range (2020-08-01:2020-08-10) or "
            "one of train, validation, test"
        )
    if not data.span.contains(period):
        raise EvaluationError(
            f"period {period.start}..{period.end} lies outside the data span "
            f"{data.span.start}..{data.span.end}"
        )
    return period


@dataclass
class SeedRun:
    """One seed: the policy's and the reference's episodes and the policy's ledger check."""

    seed: int
    episode: Episode
    reference: Episode
    verified: bool
    verify_failure: str | None
    head: str
    certificates: dict[str, dict[str, int]]
    ledger_path: Path | None


@dataclass
class Evaluation:
    """Everything an evaluation measured (see :meth:`to_dict` for the JSON form)."""

    config: GymConfig
    policy: str
    period: Period
    runs: list[SeedRun] = field(default_factory=list)

    def group_masks(self) -> dict[str, NDArray[np.bool_]]:
        """Per group, which accounts (agent order) belong to it."""
        first = self.runs[0].episode
        kind = first.kind
        prosumer = np.zeros(len(kind), dtype=np.bool_)
        homes = np.flatnonzero(kind == AgentKind.HOME)
        prosumer[homes] = first.home_is_prosumer
        is_home = kind == AgentKind.HOME
        return {
            "all_households": is_home | (kind == AgentKind.PHV),
            "consumers": is_home & ~prosumer,
            "prosumers": is_home & prosumer,
            "phv": kind == AgentKind.PHV,
            "office": kind == AgentKind.OFFICE,
        }

    def improvements(self) -> dict[str, list[float]]:
        """Per group, the bill improvement (%) of each seed."""
        out: dict[str, list[float]] = {}
        for group, mask in self.group_masks().items():
            if not mask.any():
                continue
            values = []
            for run in self.runs:
                saving = float(
                    run.reference.bill_sen()[mask].sum() - run.episode.bill_sen()[mask].sum()
                )
                gross = float(gross_cost_sen(run.reference)[mask].sum())
                values.append(saving / gross * 100 if gross else float("nan"))
            out[group] = values
        return out

    def bills_jpy(self) -> dict[str, dict[str, float]]:
        """Per group, mean bill over seeds (JPY) with the policy and with the reference."""
        out: dict[str, dict[str, float]] = {}
        for group, mask in self.group_masks().items():
            if mask.any():
                out[group] = {
                    "policy": float(np.mean([r.episode.bill_sen()[mask].sum() for r in self.runs]))
                    / 100,
                    "grid_only": float(
                        np.mean([r.reference.bill_sen()[mask].sum() for r in self.runs])
                    )
                    / 100,
                }
        return out

    def community(self) -> dict[str, float]:
        """Community figures of the policy's episodes, averaged over seeds."""
        rows = []
        for run in self.runs:
            figures = community_figures(run.episode)
            load = float(run.episode.consumption_wh.sum())
            pv_matched = run.certificates.get("pv", {}).get("consumed", 0)
            figures["solar_matched_share"] = pv_matched / load if load else float("nan")
            figures["total_cost_jpy"] = float(run.episode.cost_sen.sum()) / 100
            figures["grid_only_total_cost_jpy"] = float(run.reference.cost_sen.sum()) / 100
            rows.append(figures)
        return {key: _nanmean([r[key] for r in rows]) for key in rows[0]}

    def to_dict(self) -> dict[str, Any]:
        """The JSON summary: ``groups.<g>.improvement_pct``, ``community.*``, ``ledger.*``."""
        groups = {}
        bills = self.bills_jpy()
        for group, values in self.improvements().items():
            mean, low, high = mean_interval(values)
            groups[group] = {
                "improvement_pct": mean,
                "ci95_pct": [low, high],
                "per_seed_pct": values,
                "bill_jpy": bills[group]["policy"],
                "grid_only_bill_jpy": bills[group]["grid_only"],
                "demonstration_pct": DEMONSTRATION.get(group),
            }
        summary: dict[str, Any] = _json_safe(
            {
                "config": self.config.name,
                "policy": self.policy,
                "reference": REFERENCE_POLICY,
                "period": {"start": str(self.period.start), "end": str(self.period.end)},
                "seeds": [r.seed for r in self.runs],
                "groups": groups,
                "community": self.community(),
                "ledger": {
                    "verified": all(r.verified for r in self.runs),
                    "head": self.runs[0].head,
                    "heads": [r.head for r in self.runs],
                    "failures": [r.verify_failure for r in self.runs if r.verify_failure],
                    "files": [str(r.ledger_path) for r in self.runs if r.ledger_path],
                },
            }
        )
        return summary


def _nanmean(values: Sequence[float]) -> float:
    """Mean of the finite values; NaN (without a warning) when there are none."""
    finite = [v for v in values if not math.isnan(v)]
    return float(np.mean(finite)) if finite else float("nan")


def _json_safe(value: Any) -> Any:
    """NaN -> None (JSON has no NaN), recursively."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def gross_cost_sen(episode: Episode) -> NDArray[np.int64]:
    """Per agent, what it paid over the episode before any income (P2P sales, buyback)."""
    gross: NDArray[np.int64] = (
        episode.p2p_paid_sen
        + episode.grid_cost_sen
        + episode.demand_charge_sen
        + episode.imbalance_penalty_sen
        + episode.gasoline_sen
    ).sum(axis=0)
    return gross


def mean_interval(values: Sequence[float]) -> tuple[float, float, float]:
    """Mean and 95 % Student-t interval (NaN bounds for fewer than two values)."""
    from scipy import stats

    array = np.asarray(values, dtype=np.float64)
    mean = float(array.mean())
    if array.size < 2:
        return mean, float("nan"), float("nan")
    half = float(stats.t.ppf(0.975, array.size - 1) * array.std(ddof=1) / math.sqrt(array.size))
    return mean, mean - half, mean + half


def evaluate(
    config: GymConfig,
    policy: str | Policy,
    period: Period,
    seeds: Sequence[int],
    *,
    ledger_dir: Path | None = None,
    policy_name: str | None = None,
    on_slot: Callable[[], None] | None = None,
) -> Evaluation:
    """Run ``policy`` and ``grid_only`` over ``period`` for each seed (see the module docstring).

    Args:
        config: The community and its market.
        policy: A policy name or object.
        period: The days to evaluate (whole days inside the data span).
        seeds: One episode pair per seed.
        ledger_dir: Write each seed's SQLite ledger there (``ledger_seed<N>.sqlite``); else in
            memory.
        policy_name: Name to report for a policy object.
        on_slot: Called after every slot of every episode (progress bars).
    """
    if not seeds:
        raise EvaluationError("at least one seed is needed")
    name = policy if isinstance(policy, str) else (policy_name or type(policy).__name__)
    try:
        chosen = make_policy(policy)
        reference = make_policy(REFERENCE_POLICY)
    except ValueError as exc:
        raise EvaluationError(str(exc)) from None
    days = (period.end - period.start).days + 1
    options = {"start": period.start.isoformat(), "days": days}
    tick = (lambda _slot: on_slot()) if on_slot is not None else None
    result = Evaluation(config=config, policy=name, period=period)
    # One data set and one reference environment (ledger in memory) serve every seed; each
    # policy run gets its own environment, since each seed's ledger is a file of its own.
    dataset = load_dataset(config)
    ref_env = P2PCommunityEnv(config, period="span", dataset=dataset)
    try:
        for seed in seeds:
            path = None if ledger_dir is None else ledger_dir / f"ledger_seed{seed}.sqlite"
            if path is not None and path.exists():
                path.unlink()  # a previous evaluation's file in the same --out folder
            env = P2PCommunityEnv(config, period="span", ledger_path=path, dataset=dataset)
            try:
                episode = run_episode(env, chosen, seed=seed, options=options, on_slot=tick)
                ledger = env.sim.recorder.ledger  # type: ignore[union-attr]
                report = ledger.verify(replay=replay)
            finally:
                env.close()
            ref_episode = run_episode(ref_env, reference, seed=seed, options=options, on_slot=tick)
            result.runs.append(
                SeedRun(
                    seed=seed,
                    episode=episode,
                    reference=ref_episode,
                    verified=report.ok,
                    verify_failure=None if report.ok else str(report.failure),
                    head=episode.head_hash,
                    certificates=report.certificates,
                    ledger_path=path,
                )
            )
    finally:
        ref_env.close()
    return result
