"""Where data sets live on disk, and the cache key of a synthetic data set.

Generated data sets are cached under the cache folder, resolved in this order:
``data.cache_dir`` in the config, ``$P2P_GYM_CACHE``, ``$XDG_CACHE_HOME/p2p-gym``,
``~/.cache/p2p-gym``. A data set's file is ``<cache>/datasets/synthetic-<key>.npz``, where the key
hashes every config value that changes the numbers (site, home groups' counts, loads and PV,
office load and PV, the PHV efficiency, trips, scale, the data span, slot length, seed and
generator parameters) and :data:`~p2p_env.data.generate.GENERATOR_VERSION`. Deleting the folder is
always safe.

Imported data sets (``p2p-gym data import``) are user data, not cache: they live under the data
folder, ``$P2P_GYM_DATA_HOME``, else ``$XDG_DATA_HOME/p2p-gym``, else ``~/.local/share/p2p-gym``,
as ``<data>/datasets/<NAME>.npz``.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from p2p_env.config import GymConfig
from p2p_env.data.generate import GENERATOR_VERSION

CACHE_ENV = "P2P_GYM_CACHE"
DATA_HOME_ENV = "P2P_GYM_DATA_HOME"


def cache_dir(config: GymConfig | None = None) -> Path:
    """The cache folder (module docstring for the order of precedence)."""
    if config is not None and config.data.cache_dir:
        return Path(config.data.cache_dir).expanduser()
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]) / "p2p-gym"
    return Path.home() / ".cache" / "p2p-gym"


def data_home() -> Path:
    """The folder of imported data sets (module docstring)."""
    if os.environ.get(DATA_HOME_ENV):
        return Path(os.environ[DATA_HOME_ENV]).expanduser()
    if os.environ.get("XDG_DATA_HOME"):
        return Path(os.environ["XDG_DATA_HOME"]) / "p2p-gym"
    return Path.home() / ".local" / "share" / "p2p-gym"


def imported_path(name: str) -> Path:
    """Where ``p2p-gym data import ... --as NAME`` stores the set."""
    return data_home() / "datasets" / f"{name}.npz"


def relevant_content(config: GymConfig) -> dict[str, Any]:
    """The config values that change generated numbers (and nothing else)."""
    community, data = config.community, config.data
    office = community.office
    return {
        "generator_version": GENERATOR_VERSION,
        "site": community.site.model_dump(mode="json", exclude={"name"}),
        "scale": community.scale,
        "home_groups": [
            g.model_dump(mode="json", include={"name", "count", "annual_kwh", "pv", "phv"})
            for g in community.home_groups
        ],
        "office": None
        if office is None
        else office.model_dump(mode="json", include={"annual_kwh", "pv"}),
        "phv_km_per_kwh": community.phv.km_per_kwh,
        "trips": community.trips.model_dump(mode="json"),
        "data": data.model_dump(
            mode="json", exclude={"source", "cache_dir", "train", "validation", "test"}
        ),
    }


def cache_key(config: GymConfig) -> str:
    """Hex digest (16 characters) of :func:`relevant_content`."""
    text = json.dumps(relevant_content(config), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def synthetic_path(config: GymConfig) -> Path:
    """The cache file of the config's synthetic data set."""
    return cache_dir(config) / "datasets" / f"synthetic-{cache_key(config)}.npz"
