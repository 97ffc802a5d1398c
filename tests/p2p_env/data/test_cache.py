"""The on-disk cache: keyed by what changes the numbers, hit returns identical arrays."""

from __future__ import annotations

from pathlib import Path

import pytest

from p2p_env.config import GymConfig, load_config
from p2p_env.data import cache_key, load_dataset
from p2p_env.data.cache import cache_dir, data_home, synthetic_path

from .conftest import SHORT_SPAN


def test_second_load_reads_the_cache(short_config: GymConfig, private_folders: Path) -> None:
    path = synthetic_path(short_config)
    assert path.is_relative_to(private_folders / "cache")
    assert not path.exists()
    first = load_dataset(short_config)
    assert path.is_file()
    stamp = path.stat().st_mtime_ns
    second = load_dataset(short_config)
    assert path.stat().st_mtime_ns == stamp, "a cache hit must not rewrite the file"
    assert second.equals(first)
    assert second.key == cache_key(short_config)


def test_refresh_regenerates_identically(short_config: GymConfig) -> None:
    first = load_dataset(short_config)
    again = load_dataset(short_config, refresh=True)
    assert again.equals(first)


def test_damaged_cache_file_is_regenerated(short_config: GymConfig) -> None:
    first = load_dataset(short_config)
    synthetic_path(short_config).write_bytes(b"not a zip file")
    assert load_dataset(short_config).equals(first)


@pytest.mark.parametrize(
    "override",
    [
        "data.seed=1",
        "community.scale=2",
        "community.home_groups.0.annual_kwh=3000",
        "community.trips.commute_km_mean=20",
        "community.site.latitude_deg=35.0",
        "data.cloud_persistence=0.1",
        "community.phv.km_per_kwh=8",
    ],
)
def test_key_changes_with_content(short_config: GymConfig, override: str) -> None:
    changed = load_config("higashifuji_demo", (*SHORT_SPAN, override))
    assert cache_key(changed) != cache_key(short_config)


@pytest.mark.parametrize(
    "override",
    ["market.mechanism=call", "env.episode_days=7", "data.test.start=2020-08-04",
     "community.home_groups.0.buyback=fit_fy2019", "community.phv.battery_kwh=10"],
)  # fmt: skip
def test_key_ignores_what_does_not_change_the_numbers(
    short_config: GymConfig, override: str
) -> None:
    same = load_config("higashifuji_demo", (*SHORT_SPAN, override))
    assert cache_key(same) == cache_key(short_config)


def test_folders_follow_config_then_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, short_config: GymConfig
) -> None:
    assert cache_dir() == tmp_path / "cache"
    assert data_home() == tmp_path / "data"
    explicit = load_config("higashifuji_demo", (*SHORT_SPAN, f"data.cache_dir={tmp_path / 'c2'}"))
    assert cache_dir(explicit) == tmp_path / "c2"
    monkeypatch.delenv("P2P_GYM_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "p2p-gym"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "p2p-gym"
