"""The DataConfig fields the generator reads: validated, and they change the numbers."""

from __future__ import annotations

import numpy as np
import pytest

from p2p_env.config import ConfigError, load_config
from p2p_env.data import generate_dataset

from .conftest import SHORT_SPAN


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        ("data.source=../etc", "data set name"),
        ("data.clear_sky_index_monthly=[0.5, 0.5]", "needs 12 monthly values"),
        ("data.clear_sky_index_monthly=[0.5,0.5,0.5,0.5,0.5,1.5,0.5,0.5,0.5,0.5,0.5,0.5]",
         "month 6: clear-sky index 1.5"),
        ("data.cloud_persistence=1.0", "cloud_persistence"),
        ("data.home_size_sigma=-1", "home_size_sigma"),
    ],
)  # fmt: skip
def test_bad_values_are_refused_with_the_field(override: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match="data") as info:
        load_config("higashifuji_demo", [override])
    assert fragment in str(info.value)


def test_cloudier_months_mean_less_pv() -> None:
    sunny = generate_dataset(load_config("higashifuji_demo", SHORT_SPAN))
    grey = generate_dataset(
        load_config("higashifuji_demo", (*SHORT_SPAN, f"data.clear_sky_index_monthly={[0.2] * 12}"))
    )
    assert grey.home_pv_kwh.sum() < 0.6 * sunny.home_pv_kwh.sum()
    np.testing.assert_array_equal(grey.home_load_kwh, sunny.home_load_kwh)
