"""Canonical bytes and hashes: the one place that decides what is hashed.

Canonical JSON (used for record bodies, block headers and clearing parameters) is UTF-8 JSON with

* object keys sorted by Unicode code point (Python's ``sort_keys``; this equals RFC 8785 key
  order except for characters outside the Basic Multilingual Plane), keys are strings;
* no whitespace (separators ``,`` and ``:``), non-ASCII characters written as UTF-8, not escaped;
* values: ``null``, ``true``/``false``, strings, lists and objects, and **integers only**, each in
  the signed 64-bit range so that any language reads them exactly. Floats, NaN and other types are
  refused with a :class:`~ledger.errors.RecordError` naming the field: the ledger holds integer
  units (Wh, ticks of 0.01 JPY/kWh, 0.01 JPY), never floats.

Equal content therefore always gives equal bytes and equal hashes, on any machine.
Tuples are written as lists and numpy integers as plain integers (they are normalised first).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, Final

import numpy as np

from ledger.errors import RecordError

SCHEMA_VERSION: Final = 1
"""Version of the byte format (records, headers, SQLite tables). Readers refuse any other."""

INT_MIN: Final = -(2**63)
INT_MAX: Final = 2**63 - 1

HASH_SIZE: Final = 32
"""SHA-256 digest size in bytes."""

JsonValue = None | bool | int | str | list["JsonValue"] | dict[str, "JsonValue"]

_encoder = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, sort_keys=True, separators=(",", ":")
)


def normalise(value: Any, path: str = "$") -> JsonValue:
    """Return ``value`` as plain JSON data, refusing anything that is not canonical.

    Args:
        value: Nested mappings (string keys), lists/tuples, strings, integers, booleans, ``None``.
        path: Where ``value`` sits, used in error messages (``$.prices.pv``).

    Returns:
        An equal structure of ``dict``/``list``/``str``/``int``/``bool``/``None``.

    Raises:
        RecordError: On a float, an integer outside the signed 64-bit range, a non-string key, a
            string that is not valid Unicode, or any other type; the message names ``path``.
    """
    kind = type(value)
    if kind is str:
        _check_text(value, path)
        return value  # type: ignore[no-any-return]
    if kind is int:
        if not INT_MIN <= value <= INT_MAX:
            raise RecordError(f"{path}: integer {value} is outside the signed 64-bit range")
        return value  # type: ignore[no-any-return]
    if value is None or kind is bool:
        return value  # type: ignore[no-any-return]
    if isinstance(value, Mapping):
        out: dict[str, JsonValue] = {}
        for key, item in value.items():
            if type(key) is not str:
                raise RecordError(f"{path}: key {key!r} is not a string; object keys must be text")
            _check_text(key, path)
            out[key] = normalise(item, f"{path}.{key}")
        return out
    if isinstance(value, list | tuple):
        return [normalise(item, f"{path}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, float):
        raise RecordError(
            f"{path}: got the float {value!r}; the ledger holds integers only "
            "(Wh, ticks of 0.01 JPY/kWh, 0.01 JPY): convert before recording"
        )
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, int) or hasattr(value, "__index__"):
        # int subclasses (IntEnum) and numpy integers: their exact integer value.
        return normalise(int(value.__index__()), path)
    if isinstance(value, str):  # str subclasses (StrEnum)
        return normalise(str.__str__(value), path)
    raise RecordError(
        f"{path}: {type(value).__name__} {value!r} cannot be recorded; "
        "expected null, bool, int, str, list or object"
    )


def _check_text(text: str, path: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise RecordError(f"{path}: string {text!r} is not valid Unicode ({exc.reason})") from None


def canonical_json(value: Any, path: str = "$") -> bytes:
    """The canonical UTF-8 JSON bytes of ``value`` (see the module docstring).

    Raises:
        RecordError: If ``value`` holds something that is not canonical (see :func:`normalise`).
    """
    return _encoder.encode(normalise(value, path)).encode("utf-8")


def sha256(data: bytes) -> bytes:
    """SHA-256 digest of ``data`` (32 bytes)."""
    return hashlib.sha256(data).digest()


def params_hash(params: Mapping[str, Any]) -> bytes:
    """Hash of a clearing-parameter mapping: SHA-256 of its canonical JSON."""
    return sha256(canonical_json(params, "params"))
