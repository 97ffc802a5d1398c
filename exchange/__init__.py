"""The tagged exchange: orders with origin tags, per-tag order books, clearing mechanisms.

A pure library: it imports nothing heavier than numpy, and nothing from the rest of p2p-gym.

Units are exact integers (:mod:`exchange.units`): Wh, ticks of 0.01 JPY/kWh, 0.01 JPY.
The entry point is :func:`clear`::

    from exchange import ClearingParams, Order, clear

    result = clear(
        [
            Order.sell("s1", "home_03", 1200, tag="pv", price=1850),
            Order.buy("b1", "home_07", 800, prices={"pv": 2300, "battery": 2100}),
        ],
        ClearingParams(mechanism="call"),
    )

A simulator that holds its orders as numpy columns clears them with :class:`ArrayExchange`
(:mod:`exchange.arrays`): the same result, without an object per order or per trade.
"""

from exchange.arrays import ArrayClearing, ArrayExchange, OrderArrays, clear_arrays
from exchange.clearing import clear
from exchange.grid import GridSettlement, grid_backstop, residuals
from exchange.mechanisms import ClearingMechanism, available_mechanisms, get_mechanism, register
from exchange.orders import Order, OrderFormatError, Side, orders_from_dicts
from exchange.params import RULES_VERSION, TAG_ORDERS, ClearingParams, TagOrder, agent_tags
from exchange.replay import replay_differences
from exchange.results import AgentTotals, ClearingResult, Trade, Unfilled
from exchange.units import money, price_ticks
from exchange.validation import Rejection, RejectReason

__all__ = [
    "RULES_VERSION",
    "TAG_ORDERS",
    "AgentTotals",
    "ArrayClearing",
    "ArrayExchange",
    "ClearingMechanism",
    "ClearingParams",
    "ClearingResult",
    "GridSettlement",
    "Order",
    "OrderArrays",
    "OrderFormatError",
    "RejectReason",
    "Rejection",
    "Side",
    "TagOrder",
    "Trade",
    "Unfilled",
    "agent_tags",
    "available_mechanisms",
    "clear",
    "clear_arrays",
    "get_mechanism",
    "grid_backstop",
    "money",
    "orders_from_dicts",
    "price_ticks",
    "register",
    "replay_differences",
    "residuals",
]
