"""Canonical bytes: integers only, sorted keys, no whitespace, clear errors naming the field."""

from __future__ import annotations

from enum import IntEnum, StrEnum

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.canonical import INT_MAX, INT_MIN, canonical_json, params_hash
from ledger.errors import RecordError

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(INT_MIN, INT_MAX) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


def test_format_is_sorted_compact_utf8() -> None:
    data = {"b": 1, "a": [True, None, "東富士"], "c": {"z": -5, "y": "x"}}
    assert canonical_json(data) == '{"a":[true,null,"東富士"],"b":1,"c":{"y":"x","z":-5}}'.encode()


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_equal_content_equal_bytes_whatever_the_key_order(value: object) -> None:
    def reverse(v: object) -> object:
        if isinstance(v, dict):
            return {k: reverse(v[k]) for k in reversed(list(v))}
        if isinstance(v, list):
            return [reverse(x) for x in v]
        return v

    assert canonical_json(value) == canonical_json(reverse(value))


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ({"q": {"quantity_wh": 1.5}}, "$.q.quantity_wh: got the float 1.5"),
        ({"x": float("nan")}, "$.x: got the float nan"),
        ({"x": [1, 2**63]}, "$.x[1]: integer 9223372036854775808 is outside"),
        ({"x": -(2**63) - 1}, "outside the signed 64-bit range"),
        ({1: "a"}, "key 1 is not a string"),
        ({"x": b"raw"}, "$.x: bytes b'raw' cannot be recorded"),
        ({"x": "\ud800"}, "is not valid Unicode"),
    ],
)
def test_non_canonical_values_are_refused_naming_the_field(value: object, needle: str) -> None:
    with pytest.raises(RecordError, match=None) as info:
        canonical_json(value)
    assert needle in str(info.value)


def test_numpy_and_enum_values_are_written_as_plain_values() -> None:
    class Side(StrEnum):
        BUY = "buy"

    class Code(IntEnum):
        TWO = 2

    data = {"a": np.int64(7), "b": Side.BUY, "c": Code.TWO, "d": (1, 2), "e": np.bool_(True)}
    assert canonical_json(data) == b'{"a":7,"b":"buy","c":2,"d":[1,2],"e":true}'


def test_params_hash_ignores_key_order() -> None:
    assert params_hash({"a": 1, "b": [1, 2]}) == params_hash({"b": [1, 2], "a": 1})
    assert params_hash({"a": 1}) != params_hash({"a": 2})
