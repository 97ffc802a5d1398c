"""Typed configuration: pydantic models (:mod:`.models`) and the YAML loader (:mod:`.loader`)."""

from p2p_env.config.loader import (
    DEFAULT_CONFIG,
    ConfigError,
    available_configs,
    dump_config,
    load_config,
    resolve_config_path,
)
from p2p_env.config.models import (
    BatteryConfig,
    CommunityConfig,
    DataConfig,
    EnvConfig,
    GymConfig,
    HomeGroupConfig,
    MarketConfig,
    OfficeConfig,
    Period,
    PHVConfig,
    PVConfig,
    TariffsConfig,
    TrainingConfig,
)

__all__ = [
    "DEFAULT_CONFIG",
    "BatteryConfig",
    "CommunityConfig",
    "ConfigError",
    "DataConfig",
    "EnvConfig",
    "GymConfig",
    "HomeGroupConfig",
    "MarketConfig",
    "OfficeConfig",
    "PHVConfig",
    "PVConfig",
    "Period",
    "TariffsConfig",
    "TrainingConfig",
    "available_configs",
    "dump_config",
    "load_config",
    "resolve_config_path",
]
