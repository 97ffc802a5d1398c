"""Mechanisms by name: the registry that ``market.mechanism`` and ``ClearingParams`` resolve.

Three mechanisms are built in (``call``, ``cda``, ``midpoint``). Others come from two places:

- :func:`register` makes a :class:`~exchange.mechanisms.base.ClearingMechanism` selectable in
  the running process;
- the ``p2p_gym.mechanisms`` entry-point group makes one selectable in every process where the
  package that declares it is installed: the CLI, Ray's workers and ``p2p-gym ledger verify
  --replay`` included. Each entry point is named after the mechanism and points to its class
  (or an instance)::

      [project.entry-points."p2p_gym.mechanisms"]
      pay_as_bid = "my_package.pay_as_bid:PayAsBid"

  The names are read from the installed packages' metadata once per process; the object itself
  is imported the first time its name is cleared with.
"""

from __future__ import annotations

import functools
import importlib
from importlib.metadata import EntryPoint, entry_points

from exchange.mechanisms.base import ClearingMechanism

ENTRY_POINT_GROUP = "p2p_gym.mechanisms"
"""The entry-point group through which installed packages provide mechanisms."""

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
    """The mechanism registered as ``name``, imported from its entry point if need be.

    Raises:
        ValueError: If no mechanism has that name, naming the ones that do.
        RuntimeError: If the entry point of that name cannot be loaded, or does not give a
            :class:`~exchange.mechanisms.base.ClearingMechanism` of that name.
    """
    _load_builtins()
    if name not in _REGISTRY:
        points = _entry_points().get(name, ())
        if len(points) > 1:
            raise RuntimeError(
                f"installed packages declare mechanism {name!r} more than once in the "
                f"{ENTRY_POINT_GROUP!r} entry-point group: {', '.join(p.value for p in points)}"
            )
        for point in points:
            _load_entry_point(point)
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(unknown_mechanism(name)) from None


def is_builtin(mechanism: ClearingMechanism) -> bool:
    """Whether ``mechanism`` is one of the built-ins (proven by the test suite), not a plugin."""
    return type(mechanism).__module__ in _BUILTINS


def unknown_mechanism(name: str) -> str:
    """The sentence that rejects a mechanism name no one provides."""
    return (
        f"mechanism {name!r} is not one of {', '.join(available_mechanisms())} (an installed "
        f"package can provide more through the {ENTRY_POINT_GROUP!r} entry-point group)"
    )


def available_mechanisms() -> tuple[str, ...]:
    """Names of the selectable mechanisms: the built-ins in :data:`_BUILTINS` order, then the
    others (registered in this process or declared by an installed package) by name, so the
    list reads the same whatever a process imported first."""
    _load_builtins()
    rank = {module: i for i, module in enumerate(_BUILTINS)}
    builtins = sorted(
        (n for n in _REGISTRY if type(_REGISTRY[n]).__module__ in rank),
        key=lambda n: rank[type(_REGISTRY[n]).__module__],
    )
    others = sorted((set(_REGISTRY) | set(_entry_points())) - set(builtins))
    return (*builtins, *others)


def _load_builtins() -> None:
    # The built-in modules register themselves on import; importing them lazily keeps this
    # module free of import cycles (they import base, which the registry also needs).
    if "call" not in _REGISTRY:
        for module in _BUILTINS:
            importlib.import_module(module)


@functools.cache
def _entry_points() -> dict[str, tuple[EntryPoint, ...]]:
    # Read once per process: ClearingParams checks its mechanism's name on construction, and
    # scanning every installed package's metadata takes milliseconds.
    found: dict[str, list[EntryPoint]] = {}
    for point in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(point.name, []).append(point)
    return {name: tuple(points) for name, points in found.items()}


def _load_entry_point(point: EntryPoint) -> None:
    where = f"entry point {point.name!r} = {point.value!r} (group {ENTRY_POINT_GROUP!r})"
    try:
        loaded = point.load()
        if isinstance(loaded, type) and issubclass(loaded, ClearingMechanism):
            # Importing the module may have registered an instance already.
            existing = _REGISTRY.get(point.name)
            loaded = existing if type(existing) is loaded else loaded()
    except Exception as exc:  # foreign code: say which plugin failed, and how
        raise RuntimeError(f"{where} could not be loaded: {type(exc).__name__}: {exc}") from exc
    if not isinstance(loaded, ClearingMechanism):
        raise RuntimeError(
            f"{where} gives {loaded!r}, not a ClearingMechanism subclass or instance"
        )
    if loaded.name != point.name:
        raise RuntimeError(f"{where} gives a mechanism named {loaded.name!r}; the names must agree")
    register(loaded)
