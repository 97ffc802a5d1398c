"""Clearing mechanisms behind one interface, selectable by name: ``call``, ``cda``, ``midpoint``."""

from exchange.mechanisms.base import ClearingMechanism, Matches
from exchange.mechanisms.registry import available_mechanisms, get_mechanism, register

__all__ = ["ClearingMechanism", "Matches", "available_mechanisms", "get_mechanism", "register"]
