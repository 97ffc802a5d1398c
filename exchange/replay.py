"""Replay: re-clear a recorded slot and say where the recorded result differs.

This is the exchange's half of the ledger's "smart contract" check: given the orders and the
clearing parameters a block recorded, :func:`replay_differences` clears them again and compares
the outcome with the recorded result, field by field. The ledger itself does not import the
exchange; whoever wires the two (the environment, the CLI) calls this.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from exchange.clearing import clear
from exchange.orders import orders_from_dicts
from exchange.params import ClearingParams

_LISTS = ("trades", "rejected", "unfilled")


def replay_differences(
    orders: Sequence[Mapping[str, Any]],
    params: Mapping[str, Any],
    recorded: Mapping[str, Any],
) -> list[str]:
    """Re-clear ``orders`` with ``params`` and list how ``recorded`` differs from the replay.

    Args:
        orders: The recorded orders, in their JSON-compatible form, in submission order.
        params: The recorded :meth:`ClearingParams.to_dict`.
        recorded: The recorded :meth:`ClearingResult.to_dict`.

    Returns:
        One sentence per difference (empty when the record is what the rules produce), e.g.
        ``"trades[2].price: recorded 1850, replayed 1800"``.

    Raises:
        ValueError: If the orders or parameters cannot be read (the record is malformed).
    """
    replayed = clear(orders_from_dicts(orders), ClearingParams.from_dict(params)).to_dict()
    differences: list[str] = []
    for key in sorted(set(replayed) | set(recorded)):
        if key not in recorded:
            differences.append(f"{key}: missing from the record")
        elif key not in replayed:
            differences.append(f"{key}: recorded but not part of a clearing result")
        elif key in _LISTS:
            differences.extend(_compare_lists(key, recorded[key], replayed[key]))
        elif recorded[key] != replayed[key]:
            differences.append(f"{key}: recorded {recorded[key]!r}, replayed {replayed[key]!r}")
    return differences


def _compare_lists(key: str, recorded: Any, replayed: list[dict[str, Any]]) -> list[str]:
    if not isinstance(recorded, list):
        return [f"{key}: recorded {type(recorded).__name__}, expected a list"]
    out: list[str] = []
    if len(recorded) != len(replayed):
        out.append(f"{key}: recorded {len(recorded)} entries, replayed {len(replayed)}")
    for i, (old, new) in enumerate(zip(recorded, replayed, strict=False)):
        if old == new:
            continue
        if not isinstance(old, dict):
            out.append(f"{key}[{i}]: recorded {old!r}, replayed {new!r}")
            continue
        for field in sorted(set(old) | set(new)):
            if old.get(field) != new.get(field):
                out.append(
                    f"{key}[{i}].{field}: recorded {old.get(field)!r}, replayed {new.get(field)!r}"
                )
    return out
