"""Fast canonical encoders for records whose structure is known and trusted.

:func:`ledger.canonical.canonical_json` checks every value of a record on the way (a recursive
walk in Python), which dominates the cost of writing a block when a simulator appends a hundred
records per slot. A writer that *builds* its records from plain Python ints and strings can skip
the walk: the encoders here give the same bytes as :func:`~ledger.canonical.canonical_json` for
such bodies, and :meth:`ledger.Ledger.append_encoded` takes their output. Tests check the bytes
against the generic encoder; ``Ledger.verify`` recomputes every hash as usual.

Trusted means: mappings with ``str`` keys, values ``None``, ``bool``, ``str``, ``int`` in the
signed 64-bit range (never floats or numpy scalars), lists and mappings of those. Nothing is
checked here; use the generic path for data from outside.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from ledger.canonical import canonical_json
from ledger.certificates import CertificateRegistry
from ledger.errors import RecordError

_encode: Final = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, sort_keys=True, separators=(",", ":")
).encode


def trusted_json(body: Any) -> bytes:
    """Canonical JSON of a trusted body (see the module docstring): no per-value checks."""
    return _encode(body).encode("utf-8")


def trusted_json_many(bodies: Iterable[Any]) -> list[bytes]:
    """:func:`trusted_json` of each body, in order."""
    encode = _encode
    return [encode(body).encode("utf-8") for body in bodies]


class RecordTemplate:
    """Canonical JSON of bodies that differ only in some integer fields.

    The fixed fields are encoded once (through the checked encoder); each record then costs one
    string formatting of its integers. Keys are ordered as the canonical form orders them.

    Args:
        fixed: Fields with the same value in every record (e.g. ``{"agent": "home_00"}``).
        int_fields: Names of the integer fields given per record, in the order
            :meth:`encode` takes their values.

    Raises:
        RecordError: A name is both fixed and per record, or a fixed value is not canonical.
    """

    def __init__(self, fixed: Mapping[str, Any], int_fields: Sequence[str]) -> None:
        overlap = set(fixed) & set(int_fields)
        if overlap:
            raise RecordError(f"fields {sorted(overlap)} are both fixed and per record")
        if len(set(int_fields)) != len(int_fields):
            raise RecordError(f"int_fields {list(int_fields)} name a field twice")
        self.int_fields = tuple(int_fields)
        slots: dict[str, str] = {}
        for key, value in fixed.items():
            # Escape '%' so the encoded text survives the %-formatting below.
            slots[key] = canonical_json(value, f"$.{key}").decode("utf-8").replace("%", "%%")
        for key in int_fields:
            slots[key] = "%d"
        keys = sorted(slots)
        parts = [
            canonical_json(key).decode("utf-8").replace("%", "%%") + ":" + slots[key]
            for key in keys
        ]
        self._format = "{" + ",".join(parts) + "}"
        # Positions of the per-record values in the sorted key order.
        order = [k for k in keys if k in set(int_fields)]
        self._permutation = tuple(self.int_fields.index(k) for k in order)
        self._identity = self._permutation == tuple(range(len(order)))

    def encode(self, values: Sequence[int]) -> bytes:
        """Canonical JSON of one record with ``values`` for :attr:`int_fields` (plain ints)."""
        if not self._identity:
            values = tuple(values[i] for i in self._permutation)
        return (self._format % tuple(values)).encode("utf-8")

    @property
    def sorted_fields(self) -> tuple[str, ...]:
        """:attr:`int_fields` in canonical (sorted) order: pass values in this order to
        :meth:`format_sorted` to skip the reordering."""
        return tuple(self.int_fields[i] for i in self._permutation)

    def format_sorted(self, values: tuple[int, ...]) -> bytes:
        """Like :meth:`encode`, with ``values`` already in :attr:`sorted_fields` order."""
        return (self._format % values).encode("utf-8")


class UncheckedCertificateRegistry(CertificateRegistry):
    """A :class:`~ledger.certificates.CertificateRegistry` that does not re-check its events.

    The registry checks each event it emits against a
    :class:`~ledger.certificates.CertificateBook` as it goes; that check repeats what
    ``Ledger.verify`` (and a ledger that checks certificates on append) does anyway, and costs
    about a sixth of a simulated slot. This registry emits the same events (tested) without it,
    for training runs; the checked registry stays the default everywhere else.
    """

    def _emit(self, event: dict[str, Any]) -> None:
        event["slot"] = self._slot
        self._events.append(event)
