"""``p2p-gym simulate`` and the rollout helper behind it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

import p2p_env
from ledger import Ledger
from ledger.origin import device_flows, matched_share
from p2p_env.cli import app
from p2p_env.policy import make_policy
from p2p_env.rollout import community_figures, run_episode

runner = CliRunner()


def test_rollout_totals_match_the_settlement() -> None:
    env = p2p_env.parallel_env(period="test")
    episode = run_episode(env, make_policy("random"), seed=1, options={"start": "2020-08-03"})
    assert episode.n_slots == 48
    assert episode.slot_start[0] == "2020-08-03T00:00"
    assert episode.p2p_paid_sen.sum() == episode.p2p_received_sen.sum()
    expected = (
        episode.p2p_paid_sen
        - episode.p2p_received_sen
        + episode.grid_cost_sen
        - episode.grid_revenue_sen
        + episode.demand_charge_sen
        + episode.imbalance_penalty_sen
        + episode.gasoline_sen
    )
    np.testing.assert_array_equal(episode.cost_sen, expected)
    figures = community_figures(episode)
    assert 0 <= figures["p2p_share"] <= 1
    assert figures["self_sufficiency"] <= 1
    assert figures["grid_import_kwh"] <= figures["grid_settled_purchases_kwh"] + 1e-9


def test_idle_policy_trades_nothing_and_pays_the_grid() -> None:
    env = p2p_env.parallel_env(period="test")
    episode = run_episode(env, make_policy("idle"), seed=0, options={"start": "2020-08-03"})
    assert episode.p2p_bought_wh.sum() == 0
    assert episode.n_orders.sum() == 0
    bills = episode.bill_sen()[episode.kind == 0]
    assert np.all(bills[~episode.home_is_prosumer] > 0)  # consumers buy everything from the grid
    # Idle prosumers export their surplus at the buyback price and import the rest.
    assert np.all(episode.grid_sold_wh.sum(axis=0)[: len(bills)][episode.home_is_prosumer] > 0)


def test_simulate_cli_writes_json_and_a_verifiable_ledger(tmp_path: Path) -> None:
    out, ledger = tmp_path / "sim.json", tmp_path / "run.sqlite"
    result = runner.invoke(
        app,
        [
            "simulate",
            "--policy",
            "random",
            "--days",
            "1",
            "--start",
            "2020-08-05",
            "--ledger",
            str(ledger),
            "--json",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "ledger verified" in result.stdout
    summary = json.loads(out.read_text())
    assert summary["slots"] == 48
    assert summary["ledger"]["verified"] is True
    assert len(summary["bills_jpy"]) == 30
    with Ledger.open(ledger, read_only=True) as saved:
        assert saved.head_hash.hex() == summary["ledger"]["head"]
        headers = list(saved.blocks())
        # Each block carries its slot's start with the site's UTC offset, so origin queries
        # take dates; slot indices count from the start of the data set.
        assert [h.start for h in (headers[0], headers[-1])] == [
            "2020-08-05T00:00:00+09:00",
            "2020-08-05T23:30:00+09:00",
        ]
        morning = matched_share(saved, "home_00", None, "2020-08-05T11:30")
        assert len(morning) == 24
        by_index = matched_share(saved, "home_00", headers[0].slot, headers[23].slot)
        assert morning.equals(by_index)
        # Every battery and PHV: its flows by origin add up to the verifier's storage book.
        storage = saved.verify().storage
        assert any(device.startswith("phv_") for device in storage)
        for device, book in storage.items():
            totals = device_flows(saved, device).groupby("flow")["wh"].sum()
            assert totals.get("stored", 0) == book["stored"], device
            assert totals.get("lost", 0) == book["lost"], device
            assert totals.get("discharged", 0) == book["drawn"], device
        phv = next(d for d, book in storage.items() if d.startswith("phv_") and book["stored"])
    traced = runner.invoke(
        app, ["ledger", "trace", str(ledger), "--consumer", "home_00", "--to", "2020-08-05T11:30"]
    )
    assert traced.exit_code == 0, traced.output
    assert "slots 24, consumed" in traced.stdout
    # A PHV meters no consumption: its charging is stored and its driving leaves the battery.
    agent = phv.split("/")[0]
    hint = runner.invoke(app, ["ledger", "trace", str(ledger), "--consumer", agent])
    assert f"--device {phv}" in hint.stdout
    flows = runner.invoke(app, ["ledger", "trace", str(ledger), "--device", phv])
    assert flows.exit_code == 0, flows.output
    assert f"stored {storage[phv]['stored']} Wh" in flows.stdout


def test_simulate_cli_errors(tmp_path: Path) -> None:
    bad_policy = runner.invoke(app, ["simulate", "--policy", "nope"])
    assert bad_policy.exit_code == 2
    assert "unknown policy 'nope'" in bad_policy.stderr
    bad_period = runner.invoke(app, ["simulate", "--period", "winter"])
    assert bad_period.exit_code == 2
    bad_start = runner.invoke(app, ["simulate", "--start", "2019-01-01"])
    assert bad_start.exit_code == 2
    assert "outside the test period" in bad_start.stderr
    existing = tmp_path / "x.sqlite"
    existing.write_bytes(b"")
    clash = runner.invoke(app, ["simulate", "--ledger", str(existing)])
    assert clash.exit_code == 2
