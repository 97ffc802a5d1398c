"""Load a :class:`GymConfig` from YAML by name or path, with ``extends:`` and dotted overrides.

Every error is a :class:`ConfigError` whose message names the file (and line), the field path, the
bad value and what is allowed; for a misspelt key it also names the closest valid key.
"""

from __future__ import annotations

import difflib
import os
import types
import typing
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from p2p_env.config.models import GymConfig

Loc = tuple[str | int, ...]

CONFIG_PATH_ENV = "P2P_GYM_CONFIG_PATH"
"""Extra folders (``os.pathsep``-separated) searched for configs by name, before the built-ins."""

DEFAULT_CONFIG = "higashifuji_demo"


class ConfigError(ValueError):
    """An invalid or missing configuration; ``str(err)`` is the whole message for a person."""


@dataclass(frozen=True)
class Origin:
    """Where a value came from: a file and line, or a command-line override."""

    source: str
    line: int | None = None

    def __str__(self) -> str:
        return f"{self.source}, line {self.line}" if self.line else self.source


def config_dirs() -> list[Path]:
    """Folders searched for configs by name, in order."""
    dirs = [Path(p) for p in os.environ.get(CONFIG_PATH_ENV, "").split(os.pathsep) if p]
    here = Path(__file__).resolve().parent.parent  # p2p_env/
    dirs.append(here.parent / "configs")  # source checkout or editable install
    dirs.append(here / "_configs")  # wheel install (force-included by pyproject)
    return [d for d in dirs if d.is_dir()]


def available_configs() -> list[str]:
    """Names of the configs found in :func:`config_dirs`."""
    names = {p.stem for d in config_dirs() for p in d.glob("*.yaml")}
    return sorted(names)


def resolve_config_path(
    name_or_path: str | os.PathLike[str], *, relative_to: Path | None = None
) -> Path:
    """A config name (``higashifuji_demo``) or a path to a YAML file -> an existing path."""
    text = os.fspath(name_or_path)
    candidate = Path(text)
    looks_like_path = candidate.suffix in {".yaml", ".yml"} or os.sep in text or "/" in text
    if looks_like_path:
        if not candidate.is_absolute() and relative_to is not None:
            candidate = relative_to / candidate
        if candidate.is_file():
            return candidate
        raise ConfigError(f"config file not found: {candidate}")
    for folder in config_dirs():
        path = folder / f"{text}.yaml"
        if path.is_file():
            return path
    names = available_configs()
    hint = _did_you_mean(text, names)
    raise ConfigError(
        f"unknown config {text!r}{hint}; available: {', '.join(names) or '(none found)'}"
        f" (or give a path to a .yaml file)"
    )


def load_config(
    name_or_path: str | os.PathLike[str] = DEFAULT_CONFIG, overrides: Sequence[str] = ()
) -> GymConfig:
    """Load, merge (``extends:``), override and validate a config.

    Args:
        name_or_path: a name found in :func:`config_dirs` or a path to a YAML file.
        overrides: ``"dotted.path=value"`` strings; values are parsed as YAML
            (``market.mechanism=cda``, ``env.episode_days=7``, ``community.home_groups.0.count=3``).

    Raises:
        ConfigError: naming the file and line, the field path, the value and what is allowed.
    """
    path = resolve_config_path(name_or_path)
    data, origins = _load_with_extends(path, chain=())
    for override in overrides:
        _apply_override(data, origins, override)
    try:
        return GymConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(exc, path, origins)) from None


def dump_config(config: GymConfig) -> str:
    """The fully resolved config as YAML (every default filled in)."""
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


# --------------------------------------------------------------------------------------------
# YAML with line numbers, ``extends:`` and overrides
# --------------------------------------------------------------------------------------------


def _load_with_extends(
    path: Path, chain: tuple[Path, ...]
) -> tuple[dict[str, Any], dict[Loc, Origin]]:
    resolved = path.resolve()
    if resolved in chain:
        cycle = " -> ".join(str(p) for p in (*chain, resolved))
        raise ConfigError(f"config 'extends' forms a cycle: {cycle}")
    data, origins = _read_yaml(path)
    parent = data.pop("extends", None)
    origins.pop(("extends",), None)
    if parent is None:
        return data, origins
    if not isinstance(parent, str):
        raise ConfigError(f"{path}: 'extends' must be a config name or path, got {parent!r}")
    parent_path = resolve_config_path(parent, relative_to=path.parent)
    base, base_origins = _load_with_extends(parent_path, (*chain, resolved))
    _deep_merge(base, data)
    base_origins.update(origins)
    return base, base_origins


def _read_yaml(path: Path) -> tuple[dict[str, Any], dict[Loc, Origin]]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror}") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: the top level must be a mapping of keys, got {type(data).__name__}"
        )
    origins: dict[Loc, Origin] = {}
    if node is not None:
        for loc, line in _node_lines(node, ()):
            origins[loc] = Origin(str(path), line)
    return data, origins


def _node_lines(node: yaml.Node, loc: Loc) -> Iterator[tuple[Loc, int]]:
    yield loc, node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            yield (*loc, key), key_node.start_mark.line + 1
            yield from _node_lines(value_node, (*loc, key))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            yield from _node_lines(item, (*loc, i))


def _deep_merge(base: dict[str, Any], update: Mapping[str, Any]) -> None:
    """Merge ``update`` into ``base``: mappings merge key by key, anything else replaces."""
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _deep_merge(base[key], value)
        else:
            base[key] = value


def _apply_override(data: dict[str, Any], origins: dict[Loc, Origin], override: str) -> None:
    key, sep, raw = override.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"override {override!r} must look like dotted.path=value")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as exc:
        raise ConfigError(f"override {override!r}: value is not valid YAML: {exc}") from None
    parts: list[str | int] = [int(p) if p.isdigit() else p for p in key.split(".")]
    target: Any = data
    for depth, part in enumerate(parts[:-1]):
        where = ".".join(str(p) for p in parts[: depth + 1])
        if isinstance(target, list) and isinstance(part, int):
            if part >= len(target):
                raise ConfigError(
                    f"override {override!r}: {where} is out of range (the list has {len(target)})"
                )
            target = target[part]
        elif isinstance(target, dict):
            target = target.setdefault(str(part), {})
        else:
            raise ConfigError(f"override {override!r}: {where} is not a mapping or list")
    last = parts[-1]
    if isinstance(target, list) and isinstance(last, int) and last < len(target):
        target[last] = value
    elif isinstance(target, dict):
        target[str(last)] = value
    else:
        raise ConfigError(f"override {override!r}: cannot set {key} here")
    origins[tuple(parts)] = Origin(f"override --set {override}")


# --------------------------------------------------------------------------------------------
# Error messages
# --------------------------------------------------------------------------------------------


def _did_you_mean(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _origin_for(loc: Loc, origins: Mapping[Loc, Origin], path: Path) -> Origin:
    # An override below ``loc`` (``--set community.ofice.chargers=3`` for an unknown ``ofice``)
    # is where the bad key came from; otherwise the nearest enclosing YAML node.
    for key, origin in origins.items():
        if key[: len(loc)] == loc and len(key) > len(loc) and origin.line is None:
            return origin
    for n in range(len(loc), -1, -1):
        if loc[:n] in origins:
            return origins[loc[:n]]
    return Origin(str(path))


def _model_at(loc: Loc) -> type[BaseModel] | None:
    """The config model class found by following ``loc`` down from :class:`GymConfig`."""
    model: Any = GymConfig
    for part in loc:
        if isinstance(part, int):
            continue  # list index: the element type was already taken
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None
        field = model.model_fields.get(part)
        if field is None:
            return None
        model = _inner_model(field.annotation)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _inner_model(annotation: Any) -> Any:
    """Unwrap ``X | None``, ``list[X]`` and ``dict[str, X]`` down to a model class, if any."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            inner = _inner_model(arg)
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                return inner
        return None
    if origin in (list, tuple, dict):
        args = typing.get_args(annotation)
        return _inner_model(args[-1]) if args else None
    return annotation


def _format_validation_error(
    exc: ValidationError, path: Path, origins: Mapping[Loc, Origin]
) -> str:
    lines = [f"invalid config {path}:"]
    for error in exc.errors(include_url=False):
        loc: Loc = tuple(error["loc"])
        field = ".".join(str(p) for p in loc)
        where = _origin_for(loc, origins, path) if loc else None
        kind = error["type"]
        if kind == "extra_forbidden":
            model = _model_at(loc[:-1])
            valid = sorted(model.model_fields) if model else []
            hint = _did_you_mean(str(loc[-1]), valid) or ";"
            detail = f"unknown key{hint} valid keys here: {', '.join(valid)}"
        elif kind == "missing":
            detail = "required field is missing"
        else:
            message = error["msg"]
            if message.startswith("Value error, "):
                message = message.removeprefix("Value error, ")
            value = error["input"]
            # A model-level check names its values itself; a dict dump would only add noise.
            got = "" if isinstance(value, dict | list) else f"got {value!r}; "
            detail = f"{got}{_lower_first(message)}"
        lines.append(f"  {field} ({where}): {detail}" if where else f"  {detail}")
    return "\n".join(lines)


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text else text
