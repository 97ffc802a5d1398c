"""The batched VecEnv is B separate ParallelEnvs: same trades, rewards and ledger heads."""

from __future__ import annotations

import copy
import gc
import weakref

import numpy as np
import pytest

import p2p_env
from p2p_env.envs.batched import BatchedCommunityVecEnv
from p2p_env.envs.parallel import P2PCommunityEnv
from p2p_env.sim.ledger_recorder import LedgerRecorder


@pytest.mark.parametrize("mechanism", ["cda", "call"])
def test_batched_equals_separate_envs(mechanism: str) -> None:
    overrides = {"market.mechanism": mechanism, "env.episode_days": 1}
    n_communities, seed = 3, 21
    vec = BatchedCommunityVecEnv(n_communities=n_communities, seed=seed, **overrides)
    separate: list[P2PCommunityEnv] = [p2p_env.parallel_env(**overrides) for _ in range(3)]
    agents = separate[0].possible_agents
    n = len(agents)
    assert vec.num_envs == n_communities * n

    obs = vec.reset()
    for b, env in enumerate(separate):
        first, _ = env.reset(seed=seed + b)
        np.testing.assert_array_equal(obs[b * n : (b + 1) * n], np.stack(list(first.values())))

    rng = np.random.default_rng(5)
    steps = 48 + 10  # past the end of the first episode: auto-reset included
    trades_seen = 0
    for _step in range(steps):
        actions = rng.uniform(-1.1, 1.1, (vec.num_envs, vec.batch.action_size)).astype(np.float32)
        obs, rewards, dones, infos = vec.step(actions)
        for b, env in enumerate(separate):
            rows = slice(b * n, (b + 1) * n)
            o, r, _, trunc, _ = env.step(dict(zip(agents, actions[rows], strict=True)))
            assert env.last is not None
            assert vec.last is not None
            batch_result = vec.last.results[b]
            assert tuple(batch_result.outcome.trades) == tuple(env.last.outcome.trades)
            trades_seen += len(env.last.outcome.trades)
            np.testing.assert_array_equal(
                rewards[rows], np.asarray([r[a] for a in agents], dtype=np.float32)
            )
            assert bool(dones[rows].all()) == trunc[agents[0]]
            ended = trunc[agents[0]]
            if ended:
                terminal = np.stack([infos[b * n + i]["terminal_observation"] for i in range(n)])
                np.testing.assert_array_equal(terminal, np.stack(list(o.values())))
                assert infos[b * n]["TimeLimit.truncated"] is True
            # The block each step appended (the ledger head after the step).
            assert batch_result.block_hash == env.last.block_hash != ""
            if ended:
                o, _ = env.reset()
            recorder = env.sim.recorder
            assert isinstance(recorder, LedgerRecorder)
            assert vec.head_hashes[b] == recorder.head_hash
            np.testing.assert_array_equal(obs[rows], np.stack(list(o.values())))
    assert trades_seen > 0
    # Different seeds give different communities.
    assert len(set(vec.head_hashes)) == n_communities
    assert vec.last is not None
    assert len({r.block_hash for r in vec.last.results}) == n_communities
    vec.close()
    for env in separate:
        env.close()


def test_full_infos_are_the_parallel_envs() -> None:
    vec = BatchedCommunityVecEnv(n_communities=2, seed=0, full_infos=True)
    env = p2p_env.parallel_env()
    agents = env.possible_agents
    vec.reset()
    env.reset(seed=0)
    actions = np.zeros((vec.num_envs, vec.batch.action_size), dtype=np.float32)
    _, _, _, infos = vec.step(actions)
    *_, expected = env.step({a: actions[i] for i, a in enumerate(agents)})
    assert infos[: len(agents)] == [expected[a] for a in agents]
    assert infos[0] is not infos[1]
    vec.close()
    env.close()


def test_bad_shapes_are_refused() -> None:
    vec = BatchedCommunityVecEnv(n_communities=2, seed=0)
    vec.reset()
    with pytest.raises(ValueError, match="actions must have shape"):
        vec.step_async(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="n_communities"):
        BatchedCommunityVecEnv(n_communities=0)
    assert vec.get_attr("slots_per_day", [0]) == [48]
    assert vec.env_is_wrapped(object) == [False] * vec.num_envs
    vec.close()


def test_sb3_vecenv_checker_accepts_it() -> None:
    from stable_baselines3.common.vec_env import VecMonitor

    vec = VecMonitor(BatchedCommunityVecEnv(n_communities=2, seed=0))
    obs = vec.reset()
    assert obs.shape == (vec.num_envs, *vec.observation_space.shape)
    assert obs.dtype == np.float32
    for _ in range(3):
        actions = np.stack([vec.action_space.sample() for _ in range(vec.num_envs)])
        obs, rewards, _dones, infos = vec.step(actions)
        assert vec.observation_space.contains(obs[0])
        assert rewards.shape == (vec.num_envs,)
        assert len(infos) == vec.num_envs
    vec.close()


def test_sb3_ppo_learns_on_the_batched_env() -> None:
    """SB3 trains one shared policy over every agent of every community (a smoke run)."""
    from stable_baselines3 import PPO

    vec = BatchedCommunityVecEnv(n_communities=2, seed=0)
    model = PPO("MlpPolicy", vec, n_steps=4, batch_size=60, n_epochs=1, seed=0, device="cpu")
    model.learn(total_timesteps=vec.num_envs * 8)
    assert model.num_timesteps == vec.num_envs * 8
    actions, _ = model.predict(vec.reset(), deterministic=True)
    assert actions.shape == (vec.num_envs, vec.batch.action_size)
    vec.close()


def test_returned_observations_are_never_overwritten() -> None:
    """Each reset and step returns its own array: later steps, auto-resets and resets leave the
    arrays already returned as they were (a rollout buffer may keep them)."""
    vec = BatchedCommunityVecEnv(n_communities=2, seed=0, **{"env.episode_days": 1})
    first = vec.reset()
    returned = [(first, first.copy())]
    rng = np.random.default_rng(0)
    for _ in range(50):  # past the end of the first episode: auto-reset included
        actions = rng.uniform(-1, 1, (vec.num_envs, vec.batch.action_size))
        obs, _, dones, _ = vec.step(actions.astype(np.float32))
        returned.append((obs, obs.copy()))
    assert dones.dtype == np.bool_
    again = vec.reset()
    returned.append((again, again.copy()))
    assert len({id(obs) for obs, _ in returned}) == len(returned)
    for obs, snapshot in returned:
        np.testing.assert_array_equal(obs, snapshot)
    vec.close()


@pytest.mark.parametrize("n_communities", [1, 3])
def test_blocks_hashed_in_the_background_are_the_same(n_communities: int) -> None:
    """The default VecEnv hashes its blocks while the next step runs: the same chains as
    hashing them at once, each block appended before its ledger is read."""
    from ledger import hashing

    hashing.set_threads(2)  # the background thread runs where two threads may
    try:
        vecs = [
            BatchedCommunityVecEnv(
                n_communities=n_communities, seed=3, background_ledger=background
            )
            for background in (True, False)
        ]
        rng = np.random.default_rng(8)
        for vec in vecs:
            vec.reset()
        for _step in range(48 + 5):  # past the first episode's end (its ledger ends there)
            actions = rng.uniform(-1, 1, (vecs[0].num_envs, vecs[0].batch.action_size))
            dones = [vec.step(actions)[2] for vec in vecs]
            if dones[0].any():
                continue  # each community reset: its next episode has a new, empty ledger
            ledgers = [[env.sim.recorder.ledger for env in vec.envs] for vec in vecs]
            # Taken by the background thread, and not waited for by the step.
            assert all(ledger._pending is not None for ledger in ledgers[0])  # type: ignore[union-attr]
            assert all(ledger._pending is None for ledger in ledgers[1])  # type: ignore[union-attr]
        background, at_once = (vec.last for vec in vecs)
        assert background is not None
        assert at_once is not None
        # A copy (or pickle) of a result holds the hash, not the function that waits for it.
        copied = copy.copy(background.results[0])
        assert copied.__dict__["_block_hash"] == at_once.results[0].block_hash != ""
        assert background.block_hashes == at_once.block_hashes
        assert vecs[0].head_hashes == vecs[1].head_hashes
        for a, b in zip(vecs[0].envs, vecs[1].envs, strict=True):
            assert a.sim.recorder.ledger.verify().ok  # type: ignore[union-attr]
            assert len(a.sim.recorder.ledger) == len(b.sim.recorder.ledger) == 5  # type: ignore[union-attr, arg-type]
        for vec in vecs:
            vec.close()
    finally:
        hashing.set_threads(None)


def test_an_ended_episodes_ledger_is_freed_without_the_cyclic_collector() -> None:
    """At an episode's end the ledger whose last block is being hashed in the background is
    settled: nothing keeps it (a ledger and its pending block refer to each other, and a
    20,000-home day of records, about 1 GB, waited for a full collection)."""
    from ledger import hashing

    hashing.set_threads(2)  # the background thread runs where two threads may
    vec = BatchedCommunityVecEnv(n_communities=2, seed=3, keep_records=True)
    gc.collect()
    gc.disable()
    try:
        vec.reset()
        ended = [weakref.ref(env.sim.recorder.ledger) for env in vec.envs]
        actions = np.zeros((vec.num_envs, vec.batch.action_size))
        for _step in range(47):
            assert not vec.step(actions)[2].any()
        assert all(ref()._pending is not None for ref in ended)  # type: ignore[union-attr]
        assert vec.step(actions)[2].all()  # the day's last slot: every community reset
        assert [ref() for ref in ended] == [None, None]
        assert all(len(env.sim.recorder.ledger) == 0 for env in vec.envs)  # type: ignore[arg-type]
    finally:
        gc.enable()
        vec.close()
        hashing.set_threads(None)
