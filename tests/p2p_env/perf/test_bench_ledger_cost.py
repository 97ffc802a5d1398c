"""``experiments/bench_ledger_cost.py``: its three ledger modes do what they say and undo it."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import numpy as np
import pytest

import ledger.chain
import p2p_env
from p2p_env.envs.batched import BatchedCommunityVecEnv


@pytest.fixture(scope="module")
def script(experiment: Callable[[str], ModuleType]) -> ModuleType:
    return experiment("bench_ledger_cost")


def test_each_ledger_mode_and_its_undoing(script: ModuleType) -> None:
    env = p2p_env.parallel_env(seed=0)
    env.reset(seed=1)
    recorder, encode = env.sim.recorder, ledger.chain.encode_block
    chain = recorder.ledger  # type: ignore[union-attr]
    action = {a: np.zeros(5, np.float32) for a in env.possible_agents}

    def step() -> str:
        infos = env.step(action)[4]
        return str(infos["office"]["block_hash"])

    assert step() == chain.head_hash.hex()
    assert chain.store.records(0)
    with script.ledger_mode("no hashing", [env]):
        block_hash = step()
    assert block_hash == chain.head_hash.hex()  # a block was appended...
    assert chain.header(1).merkle_root == bytes(32)  # ...without its records' tree
    assert chain.store.records(1) == []
    with script.ledger_mode("no ledger", [env]):
        assert env.sim.recorder is None
        assert step() == ""
    assert len(chain) == 2  # no block for that slot
    # Undone, also when the measurement fails.
    with pytest.raises(RuntimeError), script.ledger_mode("no ledger", [env]):
        raise RuntimeError
    assert env.sim.recorder is recorder
    assert ledger.chain.encode_block is encode
    step()
    assert chain.header(2).merkle_root != bytes(32)
    assert chain.header(2).slot == chain.header(1).slot + 2
    env.close()


@pytest.mark.parametrize("background", [True, False])
def test_no_hashing_holds_for_the_batched_communities(script: ModuleType, background: bool) -> None:
    encoders = {name: getattr(ledger.chain, name) for name in script._ENCODERS}
    vec = BatchedCommunityVecEnv(n_communities=2, seed=0, background_ledger=background)
    vec.reset()
    actions = np.zeros((vec.num_envs, vec.batch.action_size), dtype=np.float32)
    vec.step(actions)
    with script.ledger_mode("no hashing", vec.envs):
        vec.step(actions)
    vec.step(actions)
    for env in vec.envs:
        chain = env.sim.recorder.ledger  # type: ignore[union-attr]
        roots = [chain.header(h).merkle_root for h in range(3)]  # type: ignore[union-attr]
        assert roots[1] == bytes(32) != roots[0]
        assert roots[2] != bytes(32)
    assert {name: getattr(ledger.chain, name) for name in script._ENCODERS} == encoders
    vec.close()


def test_the_costs_of_one_short_round(script: ModuleType) -> None:
    figures = script.ledger_costs(rounds=1, days=1)
    assert set(figures) == {"as is", "no hashing", "no ledger", "null"}
    for mode in ("as is", "no hashing", "no ledger"):
        assert set(figures[mode]) == {
            "demonstration",
            "demonstration, brief infos",
            "batched, B = 64",
        }
        assert all(rate > 0 for rate in figures[mode].values())
    assert figures["null"]["null ParallelEnv"] > 0


@pytest.mark.parametrize("advice", [False, True])
def test_touch_cost_gives_two_rates_and_restores_numpy(script: ModuleType, advice: bool) -> None:
    from p2p_env.hugepages import numpy_hugepages, set_numpy_hugepages

    set_numpy_hugepages(not advice)
    fresh, reused = script.touch_cost(mb=8, advice=advice)
    assert fresh > 0
    assert reused > 0
    assert numpy_hugepages() is (not advice)
