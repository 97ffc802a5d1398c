"""Typed configuration: the demonstration config, overrides, extends, and clear errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from p2p_env.config import (
    ConfigError,
    GymConfig,
    available_configs,
    dump_config,
    load_config,
    resolve_config_path,
)

ROOT = Path(__file__).resolve().parents[3]


def test_every_shipped_config_validates() -> None:
    names = available_configs()
    assert "higashifuji_demo" in names
    for name in names:
        assert isinstance(load_config(name), GymConfig)


def test_demonstration_community_matches_the_seed() -> None:
    config = load_config("higashifuji_demo")
    community = config.community
    groups = {g.name: g for g in community.home_groups}
    assert community.n_homes == 20
    assert community.n_phv == 9
    assert community.office is not None
    assert community.office.pv is not None
    assert community.office.chargers > 0
    consumers = [g for g in groups.values() if not g.is_prosumer]
    assert sorted((g.count, g.phv) for g in consumers) == [(6, False), (6, True)]
    prosumers = sorted(
        (g.count, g.battery is not None, g.phv) for g in groups.values() if g.is_prosumer
    )
    # PV only 2, PV + battery 3, PV + PHV 2, PV + battery + PHV 1.
    assert prosumers == [(1, True, True), (2, False, False), (2, False, True), (3, True, False)]
    assert community.phv.battery_kwh == 8.8
    assert config.market.price_min_jpy_per_kwh == 0
    assert config.market.price_max_jpy_per_kwh == 50
    tiers = config.tariffs.residential.tiers
    assert [t.up_to_kwh for t in tiers] == [120, 300, None]
    assert config.tariffs.buyback_jpy_per_kwh["post_fit"] == 8.5
    assert not config.data.train.overlaps(config.data.test)


def test_demonstration_yaml_documents_units_and_sources() -> None:
    text = (ROOT / "configs" / "higashifuji_demo.yaml").read_text(encoding="utf-8")
    for needle in ("4047", "JPY/kWh", "Prius PHV", "Kuno", "meter-rate lighting B", "FIT"):
        assert needle in text


def test_overrides_are_parsed_as_yaml_and_applied() -> None:
    config = load_config(
        "higashifuji_demo",
        [
            "market.mechanism=call",
            "env.episode_days=7",
            "community.home_groups.0.count=3",
            "community.site.altitude_m=120.5",
        ],
    )
    assert config.market.mechanism == "call"
    assert config.env.episode_days == 7
    assert config.community.home_groups[0].count == 3
    assert config.community.n_homes == 17
    assert config.community.site.altitude_m == 120.5


def test_dump_round_trips() -> None:
    config = load_config("higashifuji_demo")
    assert GymConfig.model_validate(yaml.safe_load(dump_config(config))) == config


def test_bad_override_names_field_value_and_allowed() -> None:
    with pytest.raises(ConfigError) as info:
        load_config("higashifuji_demo", ["market.mechanism=nope"])
    message = str(info.value)
    assert "higashifuji_demo.yaml" in message
    assert "market.mechanism" in message
    assert "'nope'" in message
    for allowed in ("'call'", "'cda'", "'midpoint'"):
        assert allowed in message
    assert "--set market.mechanism=nope" in message


def _write(tmp_path: Path, text: str, name: str = "custom.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_misspelt_key_is_named_with_its_line_and_closest_key(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "extends: higashifuji_demo\nname: custom\nmarket:\n"
        "  mechanism: call\n  price_mxa_jpy_per_kwh: 60\n",
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert str(path) in message
    assert "market.price_mxa_jpy_per_kwh" in message
    assert "line 5" in message
    assert "did you mean 'price_max_jpy_per_kwh'?" in message


def test_unknown_key_without_close_match_lists_valid_keys(tmp_path: Path) -> None:
    path = _write(tmp_path, "extends: higashifuji_demo\nenv:\n  zzz: 1\n")
    with pytest.raises(
        ConfigError, match=r"env\.zzz .*unknown key; valid keys here: .*episode_days"
    ):
        load_config(path)


def test_unknown_key_from_override_names_the_override() -> None:
    with pytest.raises(ConfigError) as info:
        load_config("higashifuji_demo", ["community.ofice.chargers=3"])
    message = str(info.value)
    assert "community.ofice" in message
    assert "--set community.ofice.chargers=3" in message
    assert "did you mean 'office'?" in message


@pytest.mark.parametrize(
    ("override", "field", "expected"),
    [
        (
            "community.home_groups.2.pv.capacity_kw=-1",
            "community.home_groups.2.pv.capacity_kw",
            "greater than 0",
        ),
        ("market.price_max_jpy_per_kwh=0", "market.price_max_jpy_per_kwh", "greater than 0"),
        (
            "community.site.timezone=Mars/Olympus",
            "community.site.timezone",
            "unknown IANA time zone",
        ),
        ("env.episode_days=seven", "env.episode_days", "valid integer"),
        ("market.tags=[pv, pv, battery]", "market.tags", "unique"),
        ("data.validation.end=2020-08-15", "data", "overlap"),
        ("community.home_groups.0.buyback=nowhere", "buyback", "is not a key of"),
        (
            "tariffs.residential.tiers.1.up_to_kwh=100",
            "tariffs.residential.tiers",
            "strictly increase",
        ),
        ("community.home_groups.3.battery.soc_min=0.99", "battery", "soc_min"),
    ],
)
def test_each_bad_value_is_reported(override: str, field: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config("higashifuji_demo", [override])
    message = str(info.value)
    assert field in message
    assert expected in message


def test_missing_required_field(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: bare\n")
    with pytest.raises(ConfigError, match=r"community .*required field is missing"):
        load_config(path)


def test_unknown_config_name_suggests_the_closest() -> None:
    with pytest.raises(
        ConfigError, match=r"unknown config 'higashifuji_dmeo'.*did you mean 'higashifuji_demo'"
    ):
        resolve_config_path("higashifuji_dmeo")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("market: [unclosed\n", "not valid YAML"),
        ("- just\n- a list\n", "top level must be a mapping"),
        ("extends: 42\n", "'extends' must be a config name or path"),
    ],
)
def test_malformed_files(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(expected)):
        load_config(_write(tmp_path, text))


def test_extends_cycle_is_reported(tmp_path: Path) -> None:
    _write(tmp_path, "extends: b.yaml\n", "a.yaml")
    _write(tmp_path, "extends: a.yaml\n", "b.yaml")
    with pytest.raises(ConfigError, match="cycle"):
        load_config(tmp_path / "a.yaml")


@pytest.mark.parametrize(
    "override", ["novalue", "=3", "community.home_groups.99.count=1", "name.sub=1"]
)
def test_malformed_overrides(override: str) -> None:
    with pytest.raises(ConfigError, match="override"):
        load_config("higashifuji_demo", [override])


def test_config_path_env_is_searched_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(
        tmp_path,
        "extends: higashifuji_demo\nname: mine\nmarket: {mechanism: midpoint}\n",
        "mine.yaml",
    )
    monkeypatch.setenv("P2P_GYM_CONFIG_PATH", str(tmp_path))
    assert "mine" in available_configs()
    config = load_config("mine")
    assert config.name == "mine"
    assert config.market.mechanism == "midpoint"
    assert config.community.n_homes == 20  # inherited
