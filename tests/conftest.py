"""Suite-wide settings: generated data is cached in a folder of this test session only."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session", autouse=True)
def _session_data_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    # Tests never read or write the user's cache (~/.cache/p2p-gym); within the session a data
    # set is generated once and then read back, as in real use.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("P2P_GYM_CACHE", str(tmp_path_factory.mktemp("p2p-gym-cache")))
        yield
