"""``experiments/bench_first_day.py``: fresh processes in pairs (numpy's huge-page advice on and
off, or the ledger's records kept or not), each stepping a community as a VecEnv and reporting
its rate, CPU time and page faults."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest


@pytest.fixture(scope="module")
def script(experiment: Callable[[str], ModuleType]) -> ModuleType:
    return experiment("bench_first_day")


@pytest.mark.parametrize("keep_records", [True, False])
def test_a_child_reports_both_days(script: ModuleType, keep_records: bool) -> None:
    out = script.child("higashifuji_demo", steps=3, keep_records=keep_records)
    assert out["keep_records"] is keep_records  # what its ledger did, not what it was asked
    assert len(out["days"]) == 2
    for day in out["days"]:
        assert day["slots_per_s"] > 0
        assert day["user_s"] + day["system_s"] > 0  # stepping three slots takes CPU time
        assert day["minor_faults"] >= 0


@pytest.mark.parametrize("comparison", ["advice", "records"])
def test_the_pairs_alternate_which_goes_first(
    script: ModuleType, monkeypatch: pytest.MonkeyPatch, comparison: str
) -> None:
    calls: list[tuple[object, str, int]] = []

    def fake(setting: object, config: str, steps: int) -> dict[str, object]:
        calls.append((setting, config, steps))
        return {"days": [{"slots_per_s": 1.0}]}

    monkeypatch.setattr(script, "fresh_process", fake)
    first, second = script.COMPARISONS[comparison]
    assert first != second
    rows = script.run((first, second), "homes_200", pairs=3, steps=2)
    order = [first, second, second, first, first, second]
    assert calls == [(setting, "homes_200", 2) for setting in order]
    assert [row["setting"] for row in rows] == order


def test_the_comparisons_change_one_thing_each(script: ModuleType) -> None:
    on, off = script.COMPARISONS["advice"]
    assert (on.advice, off.advice) == (True, False)
    assert (on.keep_records, off.keep_records) == (True, True)
    kept, hashes = script.COMPARISONS["records"]
    assert (kept.keep_records, hashes.keep_records) == (True, False)
    assert (kept.advice, hashes.advice) == (False, False)  # as p2p-gym runs


@pytest.mark.slow
@pytest.mark.parametrize(("comparison", "which"), [("advice", 0), ("advice", 1), ("records", 1)])
def test_the_setting_reaches_the_fresh_process(
    script: ModuleType, comparison: str, which: int
) -> None:
    setting = script.COMPARISONS[comparison][which]
    row = script.fresh_process(setting, "higashifuji_demo", steps=2)
    assert row["numpy_madvise_hugepage"] is setting.advice  # its numpy took the variable
    assert row["keep_records"] is setting.keep_records  # and its ledger the flag
    assert [day["slots_per_s"] > 0 for day in row["days"]] == [True, True]


def test_a_failing_process_says_so(script: ModuleType) -> None:
    setting = script.COMPARISONS["advice"][1]
    with pytest.raises(RuntimeError, match="no_such_community process failed"):
        script.fresh_process(setting, "no_such_community", steps=1)


def test_the_settings_read_the_chosen_word(
    script: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "enabled").write_text("always [madvise] never\n")
    (tmp_path / "defrag").write_text("always defer defer+madvise [madvise] never\n")
    monkeypatch.setattr(script, "SETTINGS", tmp_path)
    assert script.transparent_hugepage_settings() == {"enabled": "madvise", "defrag": "madvise"}
    monkeypatch.setattr(script, "SETTINGS", tmp_path / "absent")
    assert script.transparent_hugepage_settings() == {"enabled": "", "defrag": ""}
