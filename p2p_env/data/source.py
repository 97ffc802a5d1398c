"""The one entry point the simulator uses: :func:`load_dataset` for a config."""

from __future__ import annotations

import logging
import zipfile

from p2p_env.config import GymConfig
from p2p_env.data.byo import load_imported
from p2p_env.data.cache import cache_key, synthetic_path
from p2p_env.data.dataset import Dataset
from p2p_env.data.generate import generate_dataset

log = logging.getLogger(__name__)


def load_dataset(config: GymConfig, *, refresh: bool = False) -> Dataset:
    """The config's time series: imported (``data.source: NAME``) or synthetic, cached.

    A synthetic set is generated once per cache key (:func:`p2p_env.data.cache.cache_key`: the
    config values that change the numbers, the seed and the generator version) and read back from
    the cache folder afterwards; the arrays are identical either way.

    Args:
        config: The run's config.
        refresh: Regenerate even if the cache holds the set.

    Returns:
        The :class:`Dataset` over ``data.span``.
    """
    if config.data.source != "synthetic":
        return load_imported(config)
    key = cache_key(config)
    path = synthetic_path(config)
    if path.is_file() and not refresh:
        try:
            cached = Dataset.load(path)
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
            # A damaged or outdated file is only a cache miss: regenerate and overwrite it.
            log.warning("ignoring unreadable cached data set %s: %s", path, exc)
        else:
            if cached.key == key:
                return cached
    dataset = generate_dataset(config, key=key)
    dataset.save(path)
    return dataset
