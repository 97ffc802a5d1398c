"""``experiments/bench_gc.py``: its two collector ways do what they say and are undone."""

from __future__ import annotations

import gc
from collections.abc import Callable
from types import ModuleType

import pytest


@pytest.fixture(scope="module")
def script(experiment: Callable[[str], ModuleType]) -> ModuleType:
    return experiment("bench_gc")


def test_frozen_freezes_for_the_round_only(script: ModuleType) -> None:
    assert gc.get_freeze_count() == 0
    with script.collector("frozen"):
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0
    with script.collector("as is"):
        assert gc.get_freeze_count() == 0
    # Undone when the round fails too.
    with pytest.raises(RuntimeError), script.collector("frozen"):
        raise RuntimeError
    assert gc.get_freeze_count() == 0
    with pytest.raises(ValueError, match="way must be one of"), script.collector("off"):
        pass


def test_the_clock_counts_collections_and_leaves(script: ModuleType) -> None:
    callbacks = list(gc.callbacks)
    with script.CollectorClock() as clock:
        gc.collect()
        gc.collect(0)
    assert gc.callbacks == callbacks
    assert clock.counts[2] >= 1
    assert clock.counts[0] >= 1
    assert all(s >= 0 for s in clock.seconds)
    assert clock.seconds[2] > 0
    counted = list(clock.counts)
    gc.collect()
    assert clock.counts == counted  # nothing counted once out


def test_the_rounds_alternate(script: ModuleType) -> None:
    rows = script.run(communities=2, steps=3, rounds=2)
    assert [r["way"] for r in rows] == ["as is", "frozen"] * 2
    for row in rows:
        assert row["agent_steps_per_s"] > 0
        assert row["tracked_objects"] > 10_000  # the process's, libraries included
        assert len(row["collections"]) == len(row["collector_share"]) == 3
        assert all(0 <= s < 1 for s in row["collector_share"])
    assert gc.get_freeze_count() == 0
