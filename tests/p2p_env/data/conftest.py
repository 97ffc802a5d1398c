"""Fixtures of the data tests: a private cache and data folder, the demo config and its data."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from p2p_env.config import GymConfig, load_config
from p2p_env.data import Dataset, generate_dataset

SHORT_SPAN = (
    "data.span.start=2020-08-01",
    "data.span.end=2020-08-04",
    "data.train.start=2020-08-01",
    "data.train.end=2020-08-02",
    "data.validation.start=2020-08-03",
    "data.validation.end=2020-08-03",
    "data.test.start=2020-08-04",
    "data.test.end=2020-08-04",
)
"""Overrides for a four-day span (fast to generate, small files to import)."""


@pytest.fixture(autouse=True)
def private_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own cache and data folder: nothing touches ~/.cache."""
    monkeypatch.setenv("P2P_GYM_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("P2P_GYM_DATA_HOME", str(tmp_path / "data"))
    return tmp_path


@pytest.fixture(scope="session")
def demo_config() -> GymConfig:
    return load_config("higashifuji_demo")


@pytest.fixture(scope="session")
def demo_dataset(demo_config: GymConfig) -> Dataset:
    """The demonstration's whole span (about 15 months), generated once per test session."""
    return generate_dataset(demo_config)


@pytest.fixture(scope="session")
def short_config() -> GymConfig:
    return load_config("higashifuji_demo", SHORT_SPAN)
