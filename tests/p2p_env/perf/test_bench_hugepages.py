"""``experiments/bench_hugepages.py``: fresh processes with numpy's huge-page advice on and off,
each stepping a community as a VecEnv and reporting its rate, CPU time and page faults."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest


@pytest.fixture(scope="module")
def script(experiment: Callable[[str], ModuleType]) -> ModuleType:
    return experiment("bench_hugepages")


def test_a_child_reports_both_days(script: ModuleType) -> None:
    out = script.child("higashifuji_demo", steps=3)
    assert len(out["days"]) == 2
    for day in out["days"]:
        assert day["slots_per_s"] > 0
        assert day["user_s"] + day["system_s"] > 0  # stepping three slots takes CPU time
        assert day["minor_faults"] >= 0


def test_the_pairs_alternate_which_goes_first(
    script: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[bool, str, int]] = []

    def fake(advice: bool, config: str, steps: int) -> dict[str, object]:
        calls.append((advice, config, steps))
        return {"days": [{"slots_per_s": 1.0}]}

    monkeypatch.setattr(script, "fresh_process", fake)
    rows = script.run("homes_200", pairs=3, steps=2)
    order = [True, False, False, True, True, False]
    assert calls == [(advice, "homes_200", 2) for advice in order]
    assert [row["advice"] for row in rows] == order


@pytest.mark.slow
@pytest.mark.parametrize("advice", [True, False])
def test_the_setting_reaches_the_fresh_process(script: ModuleType, advice: bool) -> None:
    row = script.fresh_process(advice, "higashifuji_demo", steps=2)
    assert row["numpy_madvise_hugepage"] is advice  # its numpy took the variable it was given
    assert [day["slots_per_s"] > 0 for day in row["days"]] == [True, True]


def test_a_failing_process_says_so(script: ModuleType) -> None:
    with pytest.raises(RuntimeError, match="no_such_community process failed"):
        script.fresh_process(False, "no_such_community", steps=1)


def test_the_settings_read_the_chosen_word(
    script: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "enabled").write_text("always [madvise] never\n")
    (tmp_path / "defrag").write_text("always defer defer+madvise [madvise] never\n")
    monkeypatch.setattr(script, "SETTINGS", tmp_path)
    assert script.transparent_hugepage_settings() == {"enabled": "madvise", "defrag": "madvise"}
    monkeypatch.setattr(script, "SETTINGS", tmp_path / "absent")
    assert script.transparent_hugepage_settings() == {"enabled": "", "defrag": ""}
