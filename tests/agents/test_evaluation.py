"""The evaluation: improvement arithmetic, JSON schema, output folder and CLI errors."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from agents.evaluation import EvaluationError, evaluate, gross_cost_sen, parse_period
from p2p_env.cli import app
from p2p_env.config import load_config

runner = CliRunner()
CONFIG = load_config("higashifuji_demo")


def test_parse_period() -> None:
    august = parse_period("2020-08", CONFIG)
    assert (str(august.start), str(august.end)) == ("2020-08-01", "2020-08-31")
    assert str(parse_period("2020-02", CONFIG).end) == "2020-02-29"
    assert parse_period("test", CONFIG) == CONFIG.data.test
    few = parse_period("2020-08-01:2020-08-03", CONFIG)
    assert (few.end - few.start).days == 2
    for bad, message in [
        ("2020-13", "month"),
        ("2018-01", "outside the data span"),
        ("soon", "not a month"),
        ("2020-08-05:2020-08-01", "before start"),
    ]:
        with pytest.raises(EvaluationError, match=message):
            parse_period(bad, CONFIG)


def test_improvement_arithmetic_and_schema() -> None:
    period = parse_period("2020-08-03:2020-08-04", CONFIG)
    evaluation = evaluate(CONFIG, "rule", period, [0, 1])
    summary = evaluation.to_dict()
    masks = evaluation.group_masks()
    for group, row in summary["groups"].items():
        expected = []
        for run in evaluation.runs:
            mask = masks[group]
            saving = run.reference.bill_sen()[mask].sum() - run.episode.bill_sen()[mask].sum()
            expected.append(saving / gross_cost_sen(run.reference)[mask].sum() * 100)
        assert row["per_seed_pct"] == pytest.approx(expected)
        assert row["improvement_pct"] == pytest.approx(sum(expected) / 2)
        low, high = row["ci95_pct"]
        assert low <= row["improvement_pct"] <= high
    assert set(summary["groups"]) == {"all_households", "consumers", "prosumers", "phv", "office"}
    assert summary["groups"]["prosumers"]["demonstration_pct"] == 18.0
    assert summary["ledger"]["verified"] is True
    assert len(summary["ledger"]["head"]) == 64
    for key in ("self_sufficiency", "p2p_share", "solar_matched_share", "peak_grid_import_kw"):
        assert key in summary["community"]
    json.dumps(summary, allow_nan=False)  # valid JSON: no NaN


def test_evaluate_cli_writes_the_report_folder(tmp_path: Path) -> None:
    out = tmp_path / "rule"
    result = runner.invoke(
        app,
        [
            "evaluate",
            "--policy",
            "rule",
            "--period",
            "2020-08-03:2020-08-03",
            "--seeds",
            "2",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "all households" in result.stdout
    assert "8.6 %" in result.stdout  # the demonstration's figure beside ours
    assert "ledger verified" in result.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["seeds"] == [0, 1]
    for name in (
        "per_slot.parquet",
        "per_agent.parquet",
        "prices.png",
        "flows.png",
        "soc.png",
        "savings.png",
        "ledger_seed0.sqlite",
        "ledger_seed1.sqlite",
    ):
        assert (out / name).is_file(), name
    assert list((out / "tensorboard").glob("events.out.tfevents.*"))
    per_agent = pd.read_parquet(out / "per_agent.parquet")
    assert len(per_agent) == 2 * 30
    verify = runner.invoke(app, ["ledger", "verify", str(out / "ledger_seed0.sqlite"), "--replay"])
    assert verify.exit_code == 0, verify.output
    compare = runner.invoke(
        app, ["report", str(out), str(out), "--figure", str(tmp_path / "c.png")]
    )
    assert compare.exit_code == 0, compare.output
    assert (tmp_path / "c.png").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--policy", "nope"], "neither a policy name"),
        (["--policy", "runs/missing/best"], "neither a policy name"),
        (["--period", "2031-01"], "outside the data span"),
        (["--period", "whenever"], "not a month"),
    ],
)
def test_evaluate_cli_errors(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["evaluate", *args])
    assert result.exit_code == 2
    assert message in result.stderr


def test_report_cli_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["report", str(tmp_path)])
    assert result.exit_code == 2
    assert "no summary.json" in result.stderr
