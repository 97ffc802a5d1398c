"""A small hand-made series for simulator tests (the generated data has its own tests)."""

from __future__ import annotations

import numpy as np
import pytest

from p2p_env.config import GymConfig, load_config
from p2p_env.sim.community import Community
from p2p_env.sim.series import AT_HOME, AT_OFFICE, AWAY, SlotSeries


def simple_series(config: GymConfig, days: int = 3, seed: int = 0) -> SlotSeries:
    """Loads around 0.2 kWh a slot, a PV bell at noon, PHVs commuting to the office on weekdays."""
    community = Community.from_config(config)
    rng = np.random.default_rng(seed)
    n = days * 48
    hour = (np.arange(n) % 48) / 2
    bell = np.clip(np.sin((hour - 6) / 12 * np.pi), 0, None)
    homes = community.n_homes
    load = 200 * (1 + 0.5 * rng.random((n, homes)))
    pv = 0.5 * bell[:, None] * community.home_pv_kw[None, :] * 1000 * rng.uniform(0.6, 1.0, (n, 1))
    location = np.full((n, community.n_phv), AT_HOME, dtype=np.int8)
    drive = np.zeros((n, community.n_phv))
    for day in range(days):
        base = day * 48
        location[base + 15 : base + 17] = AWAY  # 07:30 drive to work
        location[base + 17 : base + 36] = AT_OFFICE
        location[base + 36 : base + 38] = AWAY  # 18:00 drive home
        drive[base + 15] = 1500
        drive[base + 36] = 1500
    office_pv = 0.5 * bell * 30_000
    return SlotSeries(
        start=np.datetime64("2020-08-03T00:00"),
        slot_minutes=30,
        home_load_wh=load,
        home_pv_wh=pv,
        office_load_wh=np.full(n, 8000.0),
        office_pv_wh=office_pv,
        phv_location=location,
        phv_drive_wh=drive,
    )


@pytest.fixture(scope="session")
def demo_config() -> GymConfig:
    return load_config("higashifuji_demo")
