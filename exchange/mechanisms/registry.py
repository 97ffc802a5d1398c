"""Mechanisms by name: the registry that ``market.mechanism`` and ``ClearingParams`` resolve."""

from __future__ import annotations

import importlib

from exchange.mechanisms.base import ClearingMechanism

_BUILTINS = (
    "exchange.mechanisms.call",
    "exchange.mechanisms.cda",
    "exchange.mechanisms.midpoint",
)

_REGISTRY: dict[str, ClearingMechanism] = {}


def register(mechanism: ClearingMechanism) -> ClearingMechanism:
    """Make ``mechanism`` selectable by its ``name``.

    Raises:
        ValueError: If another mechanism already has that name.
    """
    name = mechanism.name
    if name in _REGISTRY and _REGISTRY[name] is not mechanism:
        raise ValueError(f"a clearing mechanism named {name!r} is already registered")
    _REGISTRY[name] = mechanism
    return mechanism


def get_mechanism(name: str) -> ClearingMechanism:
    """The mechanism registered as ``name``.

    Raises:
        ValueError: If none is, naming the ones that are.
    """
    _load_builtins()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(
            f"mechanism {name!r} is not one of {', '.join(available_mechanisms())}"
        ) from None


def available_mechanisms() -> tuple[str, ...]:
    """Names of the registered mechanisms: the built-ins in :data:`_BUILTINS` order, then the
    others in the order they were registered (whichever module was imported first)."""
    _load_builtins()
    rank = {module: i for i, module in enumerate(_BUILTINS)}
    names = sorted(_REGISTRY, key=lambda n: rank.get(type(_REGISTRY[n]).__module__, len(rank)))
    return tuple(names)


def _load_builtins() -> None:
    # The built-in modules register themselves on import; importing them lazily keeps this
    # module free of import cycles (they import base, which the registry also needs).
    if "call" not in _REGISTRY:
        for module in _BUILTINS:
            importlib.import_module(module)
