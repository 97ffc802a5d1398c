"""The PettingZoo environment: ecosystem conformance, spaces, determinism, conservation, ledger."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pettingzoo.test import api_test, parallel_api_test, parallel_seed_test, seed_test

import p2p_env
from ledger import Ledger
from p2p_env.envs.parallel import P2PCommunityEnv
from p2p_env.sim.exchange_market import replay
from p2p_env.sim.ledger_recorder import LedgerRecorder


def test_default_community_agents() -> None:
    env = p2p_env.parallel_env()
    agents = env.possible_agents
    assert sum(a.startswith("home_") for a in agents) == 20
    assert sum(a.startswith("phv_") for a in agents) == 9
    assert agents[-1] == "office"
    assert env.metadata["name"] == "p2p_community_v0"
    assert env.observation_space("home_00") is env.observation_space("home_00")
    assert env.action_space("phv_00") is env.action_space("phv_00")
    env.close()
    env.close()  # twice is fine


def test_parallel_api_default() -> None:
    parallel_api_test(p2p_env.parallel_env(seed=0), num_cycles=1000)


@pytest.mark.slow
def test_parallel_api_200_homes() -> None:
    env = p2p_env.parallel_env(seed=0, **{"community.scale": 10})
    assert len(env.possible_agents) == 200 + 90 + 1
    parallel_api_test(env, num_cycles=1000)


def test_parallel_seed_test() -> None:
    parallel_seed_test(lambda: p2p_env.parallel_env(seed=3))


def _episode(env: P2PCommunityEnv, seed: int, action_seed: int) -> dict[str, Any]:
    obs, _ = env.reset(seed=seed)
    rng = np.random.default_rng(action_seed)
    trace: dict[str, Any] = {"obs": [np.stack(list(obs.values()))], "rewards": [], "hashes": []}
    while env.agents:
        actions = {a: rng.uniform(-1, 1, 5).astype(np.float32) for a in env.agents}
        obs, rewards, terms, truncs, infos = env.step(actions)
        for agent, o in obs.items():
            space = env.observation_space(agent)
            assert o.dtype == np.float32, agent
            assert space.contains(o), f"{agent} observation outside its space: {o}"
        assert not any(terms.values())
        trace["obs"].append(np.stack(list(obs.values())))
        trace["rewards"].append(list(rewards.values()))
        trace["hashes"].append(infos["home_00"]["block_hash"])
        trace["truncated"] = all(truncs.values())
    return trace


def test_whole_episode_determinism_and_spaces() -> None:
    env_a = p2p_env.parallel_env(**{"env.episode_days": 2})
    env_b = p2p_env.parallel_env(**{"env.episode_days": 2})
    a, b = _episode(env_a, 11, 1), _episode(env_b, 11, 1)
    assert len(a["rewards"]) == 96
    assert a["truncated"]
    np.testing.assert_array_equal(np.stack(a["obs"]), np.stack(b["obs"]))
    assert a["rewards"] == b["rewards"]
    assert a["hashes"] == b["hashes"]
    assert env_a.sim.recorder.head_hash == a["hashes"][-1]  # type: ignore[union-attr]
    c = _episode(env_a, 12, 1)
    assert c["hashes"][-1] != a["hashes"][-1]


def test_bad_actions_are_sanitised_and_counted() -> None:
    env = p2p_env.parallel_env(seed=0)
    env.reset()
    n = env.sim.action_size
    actions = {a: np.zeros(n, np.float32) for a in env.agents}
    actions["home_00"] = np.array([np.nan, np.inf, -np.inf, 7.0, -3.0], np.float32)
    del actions["home_01"]
    _, rewards, _, _, infos = env.step(actions)
    assert infos["home_00"]["nonfinite_actions"] == 3
    assert infos["home_00"]["clipped_actions"] == 2
    assert infos["home_01"]["missing_action"]
    assert all(np.isfinite(r) for r in rewards.values())
    with pytest.raises(ValueError, match="action of home_02 has shape"):
        env.step({"home_02": np.zeros(3)})
    with pytest.raises(KeyError, match="unknown agents"):
        env.step({"nobody": np.zeros(n)})


def test_reset_options_and_constructor_errors() -> None:
    env = p2p_env.parallel_env(period="test")
    _, infos = env.reset(seed=0, options={"start": "2020-08-01", "days": 3})
    assert infos["home_00"]["slot_start"] == "2020-08-01T00:00"
    with pytest.raises(ValueError, match="outside the test period"):
        env.reset(options={"start": "2020-07-01"})
    with pytest.raises(ValueError, match="days must be >= 1"):
        env.reset(options={"days": 0})
    with pytest.raises(ValueError, match="render_mode must be None or one of"):
        P2PCommunityEnv(render_mode="human")
    with pytest.raises(ValueError, match="period must be one of"):
        P2PCommunityEnv(period="winter")  # type: ignore[arg-type]


def test_episode_starts_stay_inside_the_period() -> None:
    env = p2p_env.parallel_env(period="validation", **{"env.episode_days": 7})
    for seed in range(20):
        _, infos = env.reset(seed=seed)
        start = infos["home_00"]["slot_start"][:10]
        assert "2020-07-01" <= start <= "2020-07-25"


def test_conservation_over_random_episodes() -> None:
    env = p2p_env.parallel_env(seed=5, **{"market.mechanism": "call"})
    for episode in range(2):
        env.reset(seed=episode)
        rng = np.random.default_rng(episode)
        while env.agents:
            actions = {a: rng.uniform(-1, 1, 5).astype(np.float32) for a in env.agents}
            _, _, _, _, infos = env.step(actions)
            paid = sum(i["p2p_paid_jpy"] for i in infos.values())
            received = sum(i["p2p_received_jpy"] for i in infos.values())
            assert paid == pytest.approx(received, abs=1e-9)
            bought = sum(i["p2p_bought_kwh"] for i in infos.values())
            sold = sum(i["p2p_sold_kwh"] for i in infos.values())
            assert bought == pytest.approx(sold, abs=1e-9)
            socs = [i["soc"] for i in infos.values() if i["soc"] is not None]
            assert all(0 <= s <= 1 for s in socs)
        report = env.sim.recorder.ledger.verify(replay=replay)  # type: ignore[union-attr]
        assert report.ok, report.failure
        for tag, totals in report.certificates.items():
            assert totals["issued"] == (
                totals["consumed"] + totals["stored"] + totals["exported"] + totals["expired"]
            ), tag


def test_sqlite_ledger_of_an_episode_verifies_with_replay(tmp_path: Path) -> None:
    path = tmp_path / "run.sqlite"
    env = p2p_env.parallel_env(seed=2, ledger_path=str(path))
    _episode(env, 2, 2)
    head = env.sim.recorder.head_hash  # type: ignore[union-attr]
    env.close()
    with Ledger.open(path, read_only=True) as ledger:
        report = ledger.verify(replay=replay)
        assert report.ok, report.failure
        assert report.blocks == 48
        assert ledger.head_hash.hex() == head
    # A second episode goes to a file of its own.
    env = p2p_env.parallel_env(seed=2, ledger_path=str(tmp_path / "two.sqlite"))
    _episode(env, 1, 1)
    _episode(env, 2, 1)
    env.close()
    assert (tmp_path / "two.ep1.sqlite").is_file()


def test_hashes_only_ledger_gives_the_same_blocks() -> None:
    kept = p2p_env.parallel_env(seed=3)
    hashes_only = p2p_env.parallel_env(seed=3, keep_records=False)
    a, b = _episode(kept, 4, 4), _episode(hashes_only, 4, 4)
    assert a["hashes"] == b["hashes"]
    assert a["rewards"] == b["rewards"]
    full = kept.sim.recorder.ledger  # type: ignore[union-attr]
    brief = hashes_only.sim.recorder.ledger  # type: ignore[union-attr]
    assert full.store.keeps_records
    assert not brief.store.keeps_records
    assert brief.head_hash == full.head_hash
    assert brief.store.records(0) is None
    assert brief.store.leaves(5) == full.store.leaves(5)
    report = brief.verify()
    assert report.ok, report.failure
    assert report.blocks == 48
    assert "records" not in report.checks
    assert "records" in full.verify().checks


def test_keep_records_is_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="keep_records=False applies to the in-memory ledger"):
        p2p_env.parallel_env(keep_records=False, ledger_path=str(tmp_path / "run.sqlite"))
    assert not (tmp_path / "run.sqlite").exists()
    with pytest.raises(TypeError, match="keep_records must be True or False, got 'no'"):
        p2p_env.parallel_env(keep_records="no")
    config = p2p_env.parallel_env().config
    recorder = LedgerRecorder.open(config, None, keep_records=False)
    with pytest.raises(ValueError, match="give the recorder its own keep_records"):
        p2p_env.parallel_env(config=config, recorder=recorder, keep_records=False)
    env = p2p_env.parallel_env(config=config, recorder=recorder)
    env.reset(seed=0)
    env.step({a: np.zeros(5, np.float32) for a in env.agents})
    assert not env.sim.recorder.ledger.store.keeps_records  # type: ignore[union-attr]


@pytest.mark.parametrize("mode", ["ansi", "rgb_array"])
def test_render(mode: str) -> None:
    env = p2p_env.parallel_env(seed=0, render_mode=mode)
    env.reset()
    for _ in range(3):
        env.step({a: env.action_space(a).sample() for a in env.agents})
    frame = env.render()
    if mode == "ansi":
        assert isinstance(frame, str)
        assert "prices:" in frame
    else:
        assert isinstance(frame, np.ndarray)
        assert frame.dtype == np.uint8
        assert frame.ndim == 3
        assert frame.shape[2] == 3
    env.close()


def test_aec_form() -> None:
    aec = p2p_env.env(seed=0)
    aec.reset(seed=0)
    assert aec.agents[0] == "home_00"


# PettingZoo recommends ids like "player_0"; the issue fixes "office" for the one office agent.
@pytest.mark.filterwarnings("ignore:We recommend agents to be named:UserWarning")
def test_aec_api() -> None:
    api_test(p2p_env.env(seed=0), num_cycles=1000)


def test_aec_seed_test() -> None:
    seed_test(lambda render_mode=None: p2p_env.env(seed=3, render_mode=render_mode), 200)


def test_brief_infos_step_the_same_episode() -> None:
    full = p2p_env.parallel_env(seed=4)
    brief = p2p_env.parallel_env(seed=4, full_infos=False)
    rng = np.random.default_rng(4)
    for env in (full, brief):
        env.reset(seed=4)
    agents = full.possible_agents
    while full.agents:
        actions = {a: rng.uniform(-1, 1, 5).astype(np.float32) for a in agents[1:]}
        o1, r1, _, t1, i1 = full.step(actions)
        o2, r2, _, t2, i2 = brief.step(actions)
        assert r1 == r2
        assert t1 == t2
        for a in agents:
            np.testing.assert_array_equal(o1[a], o2[a])
            assert set(i2[a]) == {"slot_start", "block_hash", "missing_action"}
            for key in i2[a]:
                assert i2[a][key] == i1[a][key], key
        assert i2[agents[0]]["missing_action"] is True
        assert i2[agents[1]] is not i2[agents[2]]  # fresh dicts: a caller may change one
        # The breakdown is still there, as arrays of the last slot.
        assert brief.last is not None
        net = dict(zip(agents, brief.last.cost_jpy.tolist(), strict=True))
        assert all(net[a] == i1[a]["net_cost_jpy"] for a in agents)
    heads = [env.sim.recorder.head_hash for env in (full, brief)]  # type: ignore[union-attr]
    assert heads[0] == heads[1] != ""


def test_full_infos_keys_values_and_fresh_dicts() -> None:
    from p2p_env.envs.info import _KEYS, _dict_maker

    env = p2p_env.parallel_env(seed=2)
    env.reset(seed=2)
    agents = env.possible_agents
    actions = {a: np.full(5, 0.3, dtype=np.float32) for a in agents[:-1]}
    _, _, _, _, infos = env.step(actions)
    last = env.last
    assert last is not None
    for i, agent in enumerate(agents):
        info = infos[agent]
        assert list(info) == list(_KEYS)  # every key, in the documented order
        assert info["net_cost_jpy"] == last.cost_jpy[i]
        assert info["block_hash"] == last.block_hash != ""
        assert info["missing_action"] is (agent == agents[-1])
    assert infos[agents[0]] is not infos[agents[1]]
    make = _dict_maker(("b", "a", "it's"))
    assert make(1, None, "x") == {"b": 1, "a": None, "it's": "x"}
    assert list(make(1, 2, 3)) == ["b", "a", "it's"]
    with pytest.raises(ValueError, match="distinct strings"):
        _dict_maker(("a", "a"))


def test_episodes_are_whole_local_days_where_the_clock_changes() -> None:
    # A site with daylight saving time: 29 March 2020 has 23 hours in Berlin, 46 slots.
    env = p2p_env.parallel_env(
        period="train",
        **{
            "community.site.timezone": "Europe/Berlin",
            "data.span.start": "2019-10-01",
            "data.span.end": "2020-04-30",
            "data.train.start": "2019-10-01",
            "data.train.end": "2020-03-31",
            "data.validation.start": "2020-04-01",
            "data.validation.end": "2020-04-15",
            "data.test.start": "2020-04-16",
            "data.test.end": "2020-04-30",
        },
    )
    series, calendar = env.sim.series, env.dataset.calendar
    for start, days, slots in (
        ("2020-03-28", 1, 48),
        ("2020-03-29", 1, 46),
        ("2019-10-27", 1, 50),
        ("2020-03-28", 3, 142),
        ("2020-03-31", 2, 48),
    ):
        env.reset(seed=0, options={"start": start, "days": days})
        first = env.sim.slot
        assert calendar.slot_of_day[first] == 0, start
        assert series.slot_of(np.datetime64(start)) == first
        starts = []
        while env.agents:
            _, _, _, _, infos = env.step({a: np.zeros(5, np.float32) for a in env.agents})
            starts.append(infos["home_00"]["slot_start"])
        # The period's last day ends the episode early (2020-03-31 + 2 days: one day).
        assert len(starts) == slots, start
        assert starts[0] == f"{start}T00:00"
        assert starts[-1].endswith("T23:30")
        # The infos and the ledger's blocks tell the same local time.
        blocks = list(env.sim.recorder.ledger.blocks())
        assert [b.start[:16] for b in blocks] == starts
    env.close()
