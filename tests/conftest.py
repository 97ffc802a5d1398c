"""Suite-wide settings: generated data is cached in a folder of this test session only."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session", autouse=True)
def _session_data_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    # Tests never read or write the user's cache (~/.cache/p2p-gym); within the session a data
    # set is generated once and then read back, as in real use.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("P2P_GYM_CACHE", str(tmp_path_factory.mktemp("p2p-gym-cache")))
        yield


@pytest.fixture(autouse=True)
def _numpy_hugepages_restored() -> Iterator[None]:
    # Every p2p-gym command a test invokes turns numpy's huge-page advice off and exports
    # NUMPY_MADVISE_HUGEPAGE (p2p_env.hugepages): a process-wide change that no test may leave
    # behind for the next.
    from p2p_env.hugepages import VARIABLE, numpy_hugepages, set_numpy_hugepages

    advice, variable = numpy_hugepages(), os.environ.get(VARIABLE)
    yield
    if advice is not None:
        set_numpy_hugepages(advice)
    if variable is None:
        os.environ.pop(VARIABLE, None)
    else:
        os.environ[VARIABLE] = variable
