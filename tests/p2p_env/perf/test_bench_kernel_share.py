"""``experiments/bench_kernel_share.py``: it finds every kernel of a slot and the API's parts;
its sums hold."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

import p2p_env

# Every compiled call of a slot with the compiled backends (cda clearing); a batch of
# communities writes its settlement rows and certificate events, and writes and hashes its
# blocks, in one call each.
SLOT_KERNELS = {
    "_step_kernel.decode_slot",
    "_cda_kernel.clear_tables",
    "_step_kernel.settle_slot",
    "_cert_kernel.write_slot",
    "_format_kernel.fill",
    "_sha_kernel.encoded_block_kernel",
    "_step_kernel.observe_slot",
    "_step_kernel.standard_normals",
}


API_PARTS = {
    "action dict to array",
    "observation dict",
    "reward dict",
    "termination and truncation dicts",
    "info dicts",
}


@pytest.fixture(scope="module")
def script(experiment: Callable[[str], ModuleType]) -> ModuleType:
    return experiment("bench_kernel_share")


def test_kernel_files_are_the_six_kernel_modules(script: ModuleType) -> None:
    files = script.kernel_files()
    assert sorted(files.values()) == sorted(script.KERNEL_MODULES)
    assert all(Path(f).is_file() and Path(f).name.endswith("_kernel.py") for f in files)


def test_a_short_run_finds_every_kernel_and_its_sums_hold(script: ModuleType) -> None:
    figures = script.kernel_share(days=1, batched_steps=2, communities=2)
    assert set(figures) == {"demonstration", "batched"}
    for case, f in figures.items():
        expected = set(SLOT_KERNELS)
        if case == "batched":
            expected ^= {
                "_sha_kernel.encoded_block_kernel",
                "_sha_kernel.encoded_blocks_kernel",
                "_cert_kernel.write_slot",
                "_cert_kernel.write_slots",
                "_format_kernel.fill",
                "_format_kernel.fill_tables",
            }
        assert set(f["kernels_us"]) == expected, case
        assert all(us > 0 for us in f["kernels_us"].values()), case
        assert f["us_in_kernels"] == pytest.approx(sum(f["kernels_us"].values()))
        assert f["us_rest"] == pytest.approx(f["us_per_slot"] - f["us_in_kernels"])
        assert f["agents"] == 30
        assert f["sha256_compressions_per_block"] > 100
        assert f["sha256_floor_us"] > 0
    # The demonstration's floor: its kernels and the API's dicts, against 4 % of the null.
    demo = figures["demonstration"]
    assert set(demo["api_us"]) == API_PARTS
    assert all(us > 0 for us in demo["api_us"].values())
    assert demo["us_api"] == pytest.approx(sum(demo["api_us"].values()))
    assert demo["us_floor"] == pytest.approx(demo["us_in_kernels"] + demo["us_api"])
    assert demo["us_floor"] < demo["us_per_slot"]  # a part of the slot, timed alone
    assert demo["null_us_per_slot"] > 0
    assert demo["us_budget_ratio"] == pytest.approx(demo["null_us_per_slot"] / 0.04)
    assert demo["floor_ratio_to_null"] == pytest.approx(demo["null_us_per_slot"] / demo["us_floor"])
    assert 0 < demo["us_api_brief"] < demo["us_api"]  # brief infos build less
    assert demo["us_floor_brief"] == pytest.approx(demo["us_in_kernels"] + demo["us_api_brief"])
    assert demo["floor_brief_ratio_to_null"] == pytest.approx(
        demo["null_us_per_slot"] / demo["us_floor_brief"]
    )
    assert "api_us" not in figures["batched"]
    # The budgets: 30 agents at 100,000 and at 1,000,000 agent-steps per second.
    assert figures["demonstration"]["us_budget"] == pytest.approx(300.0)
    assert figures["batched"]["us_budget"] == pytest.approx(30.0)
    assert figures["batched"]["communities"] == 2


def test_the_api_floor_needs_a_stepped_env(script: ModuleType) -> None:
    env = p2p_env.parallel_env(seed=0)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="step it once"):
        script.api_floor(env)
    env.step({a: env.action_space(a).sample() for a in env.possible_agents})
    forecast_state = env._forecast_rng.bit_generator.state
    for full_infos in (True, False):
        parts = script.api_floor(env, number=5, repeats=2, full_infos=full_infos)
        assert set(parts) == API_PARTS
    assert env._forecast_rng.bit_generator.state == forecast_state  # nothing drawn
    env.close()
