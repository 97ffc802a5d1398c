"""Clearing parameters: everything besides the orders that decides a clearing result.

``clear(orders, params)`` is a pure function of these two, so a ledger that records the orders and
:meth:`ClearingParams.canonical_json` of the parameters can replay any slot and check its trades.
``RULES_VERSION`` is part of the canonical form: a change to the clearing rules that alters any
result must bump it, so a recorded slot never silently verifies against different rules.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, Self

from exchange.units import MAX_PRICE_TICKS

TagOrder = Literal["price", "config"]
"""How a buyer's unfilled remainder moves across its acceptable tags.

* ``"price"``: tags in descending order of the buyer's own limit price for them, ties broken by
  the order of :attr:`ClearingParams.tags` (a buyer who pays more for ``pv`` tries ``pv`` first);
* ``"config"``: the order of :attr:`ClearingParams.tags`, whatever the buyer's prices.
"""
TAG_ORDERS: Final[tuple[TagOrder, ...]] = ("price", "config")

AgentTags = tuple[tuple[str, tuple[str, ...]], ...]
"""Known agents, each with the tags it may sell, sorted by agent (see :func:`agent_tags`)."""

RULES_VERSION: Final = 1
DEFAULT_TAGS: Final = ("pv", "battery", "phv")
TAG_PATTERN: Final = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_KEYS = frozenset(
    {"rules_version", "mechanism", "price_bounds", "tags", "tag_order", "seed", "agents"}
)


def agent_tags(mapping: Mapping[str, Iterable[str]]) -> AgentTags:
    """The canonical :data:`AgentTags` of ``{agent: tags it may sell}`` (sorted, deduplicated)."""
    return tuple(sorted((agent, tuple(sorted(set(tags)))) for agent, tags in mapping.items()))


@dataclass(frozen=True, slots=True)
class ClearingParams:
    """How one order set is cleared.

    Attributes:
        mechanism: Name of a mechanism: ``call``, ``cda``, ``midpoint`` or one registered or
            installed (:mod:`exchange.mechanisms.registry`).
        price_min: Lowest admissible price, ticks of 0.01 JPY/kWh (inclusive).
        price_max: Highest admissible price, ticks (inclusive). Default 5000 = 50 JPY/kWh, the
            demonstration market's limit (Kuno, Tanaka, Yamada, Energies 15:4218, 2022).
        tags: Known origin tags, in the community's order (it breaks ties in ``tag_order``).
        tag_order: The buyer tag-order rule (:data:`TagOrder`).
        seed: Seeds the arrival order of orders (time priority); any integer in [0, 2**64).
        agents: ``None`` accepts any agent and any tag it names. Otherwise the known agents and
            the tags each may sell (:func:`agent_tags`): an order from another agent is rejected
            (``unknown_agent``) and so is a sell of a tag the agent cannot have
            (``tag_not_allowed``, e.g. ``pv`` from a home without PV).

    Raises:
        ValueError: On construction, naming the field, the value and what is allowed.
    """

    mechanism: str = "cda"
    price_min: int = 0
    price_max: int = 5000
    tags: tuple[str, ...] = DEFAULT_TAGS
    tag_order: TagOrder = "price"
    seed: int = 0
    agents: AgentTags | None = None

    def __post_init__(self) -> None:
        # Imported here: the registry imports the mechanisms, which import this module.
        from exchange.mechanisms.registry import available_mechanisms, unknown_mechanism

        if isinstance(self.tags, list):  # a convenience for callers; stored as a tuple
            object.__setattr__(self, "tags", tuple(self.tags))
        if self.mechanism not in available_mechanisms():
            raise ValueError(unknown_mechanism(self.mechanism))
        for name in ("price_min", "price_max", "seed"):
            value = getattr(self, name)
            if type(value) is not int:
                raise ValueError(f"{name} must be an int, got {type(value).__name__} {value!r}")
        if not 0 <= self.price_min < self.price_max <= MAX_PRICE_TICKS:
            raise ValueError(
                f"price bounds [{self.price_min}, {self.price_max}] must satisfy "
                f"0 <= price_min < price_max <= {MAX_PRICE_TICKS} ticks"
            )
        if not isinstance(self.tags, tuple) or not self.tags:
            raise ValueError(f"tags must be a non-empty tuple of strings, got {self.tags!r}")
        for tag in self.tags:
            if not isinstance(tag, str) or not TAG_PATTERN.match(tag):
                raise ValueError(
                    f"tag {tag!r} must be lower-case letters, digits or '_', starting with a letter"
                )
        if len(set(self.tags)) != len(self.tags):
            raise ValueError(f"tags must be unique, got {list(self.tags)}")
        if self.tag_order not in TAG_ORDERS:
            raise ValueError(f"tag_order {self.tag_order!r} is not one of {', '.join(TAG_ORDERS)}")
        if not 0 <= self.seed < 2**64:
            raise ValueError(f"seed {self.seed} must lie in [0, 2**64)")
        if self.agents is not None:
            self._check_agents(self.agents)

    def _check_agents(self, agents: AgentTags) -> None:
        if not isinstance(agents, tuple):
            raise ValueError("agents must be a tuple built by exchange.agent_tags(mapping)")
        if agents != agent_tags(dict(agents)) or len({a for a, _ in agents}) != len(agents):
            raise ValueError("agents must be sorted and unique: build it with agent_tags(mapping)")
        known = set(self.tags)
        for agent, tags in agents:
            unknown = sorted(set(tags) - known)
            if unknown:
                raise ValueError(
                    f"agents[{agent!r}] names unknown tag {unknown[0]!r} (tags: {list(self.tags)})"
                )

    def replace(self, **changes: Any) -> Self:
        """A copy with some fields changed (validated again)."""
        fields = {name: getattr(self, name) for name in self.__dataclass_fields__}
        fields.update(changes)
        return type(self)(**fields)

    def to_dict(self) -> dict[str, Any]:
        """The canonical JSON-compatible form (includes :data:`RULES_VERSION`)."""
        return {
            "rules_version": RULES_VERSION,
            "mechanism": self.mechanism,
            "price_bounds": [self.price_min, self.price_max],
            "tags": list(self.tags),
            "tag_order": self.tag_order,
            "seed": self.seed,
            "agents": None if self.agents is None else {a: list(t) for a, t in self.agents},
        }

    def canonical_json(self) -> bytes:
        """UTF-8 JSON of :meth:`to_dict` with sorted keys and no spaces: the bytes to hash."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Read parameters from :meth:`to_dict`'s form; missing keys take their defaults.

        Raises:
            ValueError: On an unknown key, a wrong type or value, or another rules version.
        """
        unknown = sorted(set(data) - _KEYS)
        if unknown:
            raise ValueError(
                f"unknown clearing parameter {unknown[0]!r} ({', '.join(sorted(_KEYS))})"
            )
        version = data.get("rules_version", RULES_VERSION)
        if version != RULES_VERSION:
            raise ValueError(
                f"rules_version {version!r} is not this exchange's version {RULES_VERSION}"
            )
        kwargs: dict[str, Any] = {}
        if "mechanism" in data:
            kwargs["mechanism"] = data["mechanism"]
        if "price_bounds" in data:
            bounds = data["price_bounds"]
            if not isinstance(bounds, list | tuple) or len(bounds) != 2:
                raise ValueError(f"price_bounds must be [min, max] in ticks, got {bounds!r}")
            kwargs["price_min"], kwargs["price_max"] = bounds
        if "tags" in data:
            tags = data["tags"]
            if not isinstance(tags, list | tuple):
                raise ValueError(f"tags must be a list of strings, got {tags!r}")
            kwargs["tags"] = tuple(tags)
        if "tag_order" in data:
            kwargs["tag_order"] = data["tag_order"]
        if "seed" in data:
            kwargs["seed"] = data["seed"]
        agents = data.get("agents")
        if agents is not None:
            if not isinstance(agents, Mapping) or not all(
                isinstance(t, list | tuple) and all(isinstance(x, str) for x in t)
                for t in agents.values()
            ):
                raise ValueError(
                    f"agents must map each agent to a list of tags it may sell, got {agents!r}"
                )
            kwargs["agents"] = agent_tags(agents)
        return cls(**kwargs)
