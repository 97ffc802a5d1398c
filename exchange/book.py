"""The admitted orders as arrays: one order book per tag, arrival order, buyers' tag preferences.

This is the one shape every mechanism reads (:class:`Book`); it is built once per clearing with
numpy, so mechanisms never touch :class:`~exchange.orders.Order` objects.

**Arrival order** (time priority) is a seeded permutation of the submission order: order ``i``
(its position in the submitted list, rejected orders included, so rejecting one order does not
reshuffle the others) gets the key ``splitmix64(seed + (i + 1) * 0x9E3779B97F4A7C15 mod 2**64)``
and orders arrive by ascending key. SplitMix64 (Steele, Lea, Flood, OOPSLA 2014) is written out
here rather than taken from numpy's generators, whose streams numpy does not promise to keep
across releases: a ledger must replay the same arrival order years later.

**Buyer tag order**: each buy order becomes one *leg* per acceptable tag, ranked by the
:data:`~exchange.params.TagOrder` rule; a buyer's unfilled remainder moves from one leg to the
next in that rank.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from exchange.orders import Order
from exchange.params import ClearingParams
from exchange.units import Int64Array

_GAMMA = 0x9E3779B97F4A7C15
_MASK = (1 << 64) - 1
# SplitMix64's shifts and multipliers as numpy scalars, made once.
_U27, _U30, _U31 = np.uint64(27), np.uint64(30), np.uint64(31)
_MUL1, _MUL2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


def splitmix64(values: np.ndarray) -> np.ndarray:
    """The SplitMix64 output function applied to a uint64 array (wrapping arithmetic)."""
    z = values.astype(np.uint64, copy=True)  # a copy: the steps below work in place
    z ^= z >> _U30
    z *= _MUL1
    z ^= z >> _U27
    z *= _MUL2
    z ^= z >> _U31
    return z


def arrival_keys(n: int, seed: int) -> np.ndarray:
    """SplitMix64 keys of positions ``0..n-1`` for ``seed``; ascending key = earlier arrival."""
    # Array arithmetic wraps silently modulo 2**64, which is what SplitMix64 wants.
    states = _gamma_steps(n) + arrival_start(seed)
    return splitmix64(states)


def arrival_start(seed: int) -> np.uint64:
    """The state of position 0, ``(seed + GAMMA) mod 2**64``; position ``i``'s is ``i * GAMMA``
    further."""
    # Python ints first: numpy would warn (an error under pytest) on uint64 scalar overflow.
    return np.uint64((seed + _GAMMA) & _MASK)


def arrival_starts(seeds: Sequence[int]) -> np.ndarray:
    """:func:`arrival_start` of each seed (ints in ``[0, 2**64)``), as one uint64 array."""
    return np.array([(seed + _GAMMA) & _MASK for seed in seeds], dtype=np.uint64)


_steps = np.zeros(0, dtype=np.uint64)


def _gamma_steps(n: int) -> np.ndarray:
    """``i * GAMMA mod 2**64`` for ``i < n``: the same in every clearing, so computed once
    (grown as needed) and sliced."""
    global _steps
    if _steps.shape[0] < n:
        _steps = np.arange(max(n, 2 * _steps.shape[0]), dtype=np.uint64) * np.uint64(_GAMMA)
        _steps.flags.writeable = False
    return _steps[:n]


def arrival_ranks(n: int, seed: int) -> Int64Array:
    """``rank[i]``: when position ``i`` arrives (0 = first), a permutation of ``0..n-1``."""
    order = arrival_keys(n, seed).argsort(kind="stable")
    ranks = np.empty(n, dtype=np.int64)
    ranks[order] = np.arange(n, dtype=np.int64)
    return ranks


@dataclass(frozen=True, slots=True, eq=False)
class Book:
    """Admitted orders as arrays. Order indices are positions among the admitted orders.

    Attributes:
        tags: The known tags; a tag's code is its index here.
        positions: Input position of each admitted order.
        is_buy: Per admitted order.
        quantity: Per admitted order, Wh.
        arrival: Per admitted order, its arrival rank among all submitted orders (unique).
        sell_order: Per sell order (ascending admitted index): its admitted index.
        sell_tag: Tag code of each sell order.
        sell_price: Limit price of each sell order, ticks.
        leg_order: Per buy leg: admitted index of its buy order. Legs are grouped by order
            (ascending) and, within an order, ranked by the buyer tag-order rule.
        leg_tag: Tag code of each leg.
        leg_price: The buyer's limit price for that tag, ticks.
        leg_first: True for the first-ranked leg of each buy order.
    """

    tags: tuple[str, ...]
    positions: Int64Array
    is_buy: np.ndarray
    quantity: Int64Array
    arrival: Int64Array
    sell_order: Int64Array
    sell_tag: Int64Array
    sell_price: Int64Array
    leg_order: Int64Array
    leg_tag: Int64Array
    leg_price: Int64Array
    leg_first: np.ndarray

    @property
    def n_orders(self) -> int:
        """Number of admitted orders."""
        return int(self.quantity.shape[0])


def build_book(orders: Sequence[Order], admitted: Sequence[int], params: ClearingParams) -> Book:
    """Arrays of the admitted orders (already validated by :func:`exchange.validation.validate`).

    Args:
        orders: Every submitted order.
        admitted: Input positions of the admitted ones, ascending.
        params: Tags, tag-order rule and seed.

    Returns:
        The :class:`Book`.
    """
    code = {tag: i for i, tag in enumerate(params.tags)}
    chosen = [orders[i] for i in admitted]
    quantity = np.fromiter((o.quantity_wh for o in chosen), dtype=np.int64, count=len(chosen))
    is_buy = np.fromiter((o.side == "buy" for o in chosen), dtype=bool, count=len(chosen))

    sells = [o for o in chosen if o.side != "buy"]
    # Validation guarantees every admitted sell has a known tag and an int price.
    sell_tag = np.fromiter((code[str(o.tag)] for o in sells), dtype=np.int64, count=len(sells))
    sell_price = np.fromiter((o.price or 0 for o in sells), dtype=np.int64, count=len(sells))

    leg_order: list[int] = []
    leg_tag: list[int] = []
    leg_price: list[int] = []
    for index, order in enumerate(chosen):
        for tag, price in order.prices if order.side == "buy" else ():
            leg_order.append(index)
            leg_tag.append(code[tag])
            leg_price.append(int(price))
    return book_from_arrays(
        params,
        n_submitted=len(orders),
        positions=np.asarray(admitted, dtype=np.int64),
        is_buy=is_buy,
        quantity=quantity,
        sell_tag=sell_tag,
        sell_price=sell_price,
        leg_order=np.asarray(leg_order, dtype=np.int64),
        leg_tag=np.asarray(leg_tag, dtype=np.int64),
        leg_price=np.asarray(leg_price, dtype=np.int64),
    )


def book_from_arrays(
    params: ClearingParams,
    *,
    n_submitted: int,
    positions: Int64Array,
    is_buy: np.ndarray,
    quantity: Int64Array,
    sell_tag: Int64Array,
    sell_price: Int64Array,
    leg_order: Int64Array,
    leg_tag: Int64Array,
    leg_price: Int64Array,
) -> Book:
    """The :class:`Book` of admitted orders given as arrays: the one place that sets the
    arrival order and ranks each buyer's legs (:func:`build_book` and
    :mod:`exchange.arrays` both call it).

    Args:
        params: Tags, tag-order rule and seed.
        n_submitted: Number of submitted orders, rejected ones included (the arrival order is
            a permutation of all of them).
        positions: Input position of each admitted order, ascending.
        is_buy: Per admitted order.
        quantity: Per admitted order, Wh.
        sell_tag: Per admitted sell order, in admitted order: its tag code.
        sell_price: Per admitted sell order: its limit price, ticks.
        leg_order: Per buy leg: the admitted index of its order, ascending (a buy order's legs
            together, in any order among themselves: they are ranked here).
        leg_tag: Tag code of each leg (unique within an order).
        leg_price: The buyer's limit for that tag, ticks.

    Returns:
        The :class:`Book`.
    """
    arrival = arrival_ranks(n_submitted, params.seed)
    if positions.shape[0] != n_submitted:  # else every position, ascending: 0, 1, ...
        arrival = arrival[positions]
    sell_order = (~is_buy).nonzero()[0].astype(np.int64, copy=False)
    # np.lexsort sorts by its last key first: order, then the rule's rank within the order.
    if params.tag_order == "price":
        rank = np.lexsort((leg_tag, -leg_price, leg_order))
    else:
        rank = np.lexsort((leg_tag, leg_order))
    leg_order, leg_tag, leg_price = leg_order[rank], leg_tag[rank], leg_price[rank]
    leg_first = np.empty(leg_order.shape[0], dtype=bool)
    leg_first[:1] = True
    np.not_equal(leg_order[1:], leg_order[:-1], out=leg_first[1:])
    return Book(
        tags=params.tags,
        positions=positions,
        is_buy=is_buy,
        quantity=quantity,
        arrival=arrival,
        sell_order=sell_order,
        sell_tag=sell_tag,
        sell_price=sell_price,
        leg_order=leg_order,
        leg_tag=leg_tag,
        leg_price=leg_price,
        leg_first=leg_first,
    )
