"""Offline time series for the community: synthetic (seeded, cached) or imported.

- :func:`load_dataset` returns the :class:`Dataset` of a config (cached synthetic data, or the
  imported set named by ``data.source``).
- :mod:`.solar` (pvlib PV), :mod:`.loads` (BDEW shapes rescaled to Japan), :mod:`.phv` (trips),
  :mod:`.calendar` (Japanese holidays) generate it; :mod:`.cache` says where files live;
  :mod:`.byo` validates and imports your own CSV/Parquet.
"""

from p2p_env.data.byo import DataImportError, import_file, load_imported, to_long_frame
from p2p_env.data.cache import cache_dir, cache_key, data_home
from p2p_env.data.dataset import Dataset, Location
from p2p_env.data.generate import GENERATOR_VERSION, generate_dataset
from p2p_env.data.source import load_dataset

__all__ = [
    "GENERATOR_VERSION",
    "DataImportError",
    "Dataset",
    "Location",
    "cache_dir",
    "cache_key",
    "data_home",
    "generate_dataset",
    "import_file",
    "load_dataset",
    "load_imported",
    "to_long_frame",
]
