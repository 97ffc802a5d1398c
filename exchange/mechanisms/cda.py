"""``cda``: a continuous double auction with price-then-time priority (the demonstration's market).

Orders arrive one at a time in the seeded arrival order (:mod:`exchange.book`), as if submitted
continuously during the slot (Kuno, Tanaka, Yamada, Energies 15(12):4218, 2022: 30-minute
products, price then time priority, partial fills). Each tag has its own book.

* An arriving **sell** order of tag ``t`` at ask ``a`` trades with the resting bids of book ``t``
  whose limit for ``t`` is at least ``a``, best price first, earlier arrival first among equal
  prices; its remainder rests in book ``t``.
* An arriving **buy** order visits its tags in its tag order (:data:`~exchange.params.TagOrder`):
  in each book it trades with the resting asks at or below its limit for that tag, cheapest
  first, earlier arrival first among equal prices, and the remainder moves on to the next tag.
  What is left after the last tag rests in *every* book it accepts, at its limit for each, with
  one shared remaining quantity: a later seller of any of those tags can fill it.
* A trade is at the **resting** order's price (the arriving order takes the quoted price).

Each book is therefore uncrossed after every arrival, so at the end no unfilled buy can trade
with an unfilled sell of a tag it accepts. The matching is sequential by nature; it uses one
heap per book side (``O(n log n)``) with lazy removal of buy orders filled in another book.
The loop runs compiled (:mod:`exchange.mechanisms._cda_kernel`, numba); :func:`match_python`
is the same loop in plain Python, the reference the kernel is tested against and the fallback
where numba is not installed.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from exchange.book import Book
from exchange.mechanisms.base import ClearingMechanism, Matches
from exchange.mechanisms.registry import register
from exchange.units import MAX_PRICE_TICKS, Int64Array

_SHIFT = 32  # arrival slots below 2**32; prices below 2**20 (MAX_PRICE_TICKS)
_SLOT_MASK = (1 << _SHIFT) - 1
_TOP = MAX_PRICE_TICKS


class ContinuousDoubleAuction(ClearingMechanism):
    """Continuous double auction; see the module docstring for the rules."""

    name: ClassVar[str] = "cda"

    def match(self, book: Book) -> Matches:
        """Feed the orders in arrival order into per-tag books (see the module docstring).

        Runs the numba kernel of :mod:`exchange.mechanisms._cda_kernel` (imported on the first
        call, so ``import exchange`` stays light), or :func:`match_python` where numba cannot
        be imported or :func:`use_python` says so; both give the same trades in the same order.
        """
        kernel = _kernel()
        if kernel is None:
            return match_python(book)
        columns = _Columns.of(book)
        return Matches(
            *kernel(
                columns.order_at,
                book.quantity,
                columns.sell_tag,
                columns.sell_price,
                columns.leg_start,
                book.leg_tag,
                book.leg_price,
                len(book.tags),
                _TOP,
            )
        )


_KernelFn = Callable[
    [Int64Array, Int64Array, Int64Array, Int64Array, Int64Array, Int64Array, Int64Array, int, int],
    tuple[Int64Array, Int64Array, Int64Array, Int64Array, Int64Array],
]
_kernel_fn: _KernelFn | None = None
_kernel_tried = False
_python_forced = False


def _kernel() -> _KernelFn | None:
    """The compiled matching loop; ``None`` where numba is not installed or :func:`use_python`
    forced the Python loop. numba is imported on the first call only."""
    global _kernel_fn, _kernel_tried
    if _python_forced:
        return None
    if not _kernel_tried:
        _kernel_tried = True
        try:
            from exchange.mechanisms._cda_kernel import match_arrays
        except ImportError:  # numba missing: the Python loop gives the same trades, slower
            pass
        else:
            _kernel_fn = match_arrays
    return _kernel_fn


def use_python(python: bool = True) -> None:
    """Make :meth:`ContinuousDoubleAuction.match` run :func:`match_python` (``True``), or go
    back to the compiled kernel where numba imports (``False``).

    For tests and benchmarks that compare the two paths; the trades are the same either way.
    """
    global _python_forced
    _python_forced = python


def backend() -> str:
    """Which loop :meth:`ContinuousDoubleAuction.match` runs: ``"numba"`` or ``"python"``."""
    return "python" if _kernel() is None else "numba"


@dataclass(frozen=True, slots=True)
class _Columns:
    """Per admitted order, what the matching loop looks up: both loops read these.

    Attributes:
        order_at: Orders are handled by arrival slot ``s = 0, 1, ...``; ``order_at[s]`` is the
            admitted index.
        sell_tag: A sell's tag, ``-1`` for buys.
        sell_price: A sell's limit price, ``0`` for buys.
        leg_start: A buy's legs are ``book.leg_tag/leg_price[leg_start[order]:leg_start[order +
            1]]``, already in its tag order (legs are grouped by order, so one order's legs end
            where the next one's start).
    """

    order_at: Int64Array
    sell_tag: Int64Array
    sell_price: Int64Array
    leg_start: Int64Array

    @classmethod
    def of(cls, book: Book) -> _Columns:
        n = book.n_orders
        sell_tag = np.empty(n, dtype=np.int64)
        sell_tag.fill(-1)
        sell_tag[book.sell_order] = book.sell_tag
        sell_price = np.zeros(n, dtype=np.int64)
        sell_price[book.sell_order] = book.sell_price
        return cls(
            order_at=book.arrival.argsort(kind="stable").astype(np.int64, copy=False),
            sell_tag=sell_tag,
            sell_price=sell_price,
            leg_start=book.leg_order.searchsorted(np.arange(n + 1, dtype=np.int64)).astype(
                np.int64, copy=False
            ),
        )


def match_python(book: Book) -> Matches:
    """The matching loop in plain Python: the reference the compiled kernel is tested against.

    :meth:`ContinuousDoubleAuction.match` runs it only where numba cannot be imported or after
    :func:`use_python`. See the module docstring for the rules.
    """
    n_tags = len(book.tags)
    columns = _Columns.of(book)
    remaining = book.quantity.tolist()
    order_at = columns.order_at.tolist()
    leg_start = columns.leg_start.tolist()
    leg_tag = book.leg_tag.tolist()
    leg_price = book.leg_price.tolist()
    sell_tag_of = columns.sell_tag.tolist()
    sell_price_of = columns.sell_price.tolist()

    # Heap entries are single ints that sort like (price, slot) for asks and
    # (-price, slot) for bids: cheaper to compare and store than tuples.
    asks: list[list[int]] = [[] for _ in range(n_tags)]
    bids: list[list[int]] = [[] for _ in range(n_tags)]
    t_buy: list[int] = []
    t_sell: list[int] = []
    t_tag: list[int] = []
    t_qty: list[int] = []
    t_price: list[int] = []
    heappush, heappop = heapq.heappush, heapq.heappop

    for slot, order in enumerate(order_at):
        left = remaining[order]
        tag = sell_tag_of[order]
        if tag >= 0:
            ask = sell_price_of[order]
            bid_heap = bids[tag]
            while left and bid_heap:
                key = bid_heap[0]
                buyer = order_at[key & _SLOT_MASK]
                have = remaining[buyer]
                if not have:  # filled in another book since it rested here
                    heappop(bid_heap)
                    continue
                bid = _TOP - (key >> _SHIFT)
                if bid < ask:
                    break
                qty = left if left < have else have
                t_buy.append(buyer)
                t_sell.append(order)
                t_tag.append(tag)
                t_qty.append(qty)
                t_price.append(bid)
                left -= qty
                remaining[buyer] = have - qty
                if have == qty:
                    heappop(bid_heap)
            remaining[order] = left
            if left:
                heappush(asks[tag], (ask << _SHIFT) | slot)
            continue
        first, last = leg_start[order], leg_start[order + 1]
        for leg in range(first, last):
            tag = leg_tag[leg]
            bid = leg_price[leg]
            ask_heap = asks[tag]
            while left and ask_heap:
                key = ask_heap[0]
                ask = key >> _SHIFT
                if ask > bid:
                    break
                seller = order_at[key & _SLOT_MASK]
                have = remaining[seller]
                qty = left if left < have else have
                t_buy.append(order)
                t_sell.append(seller)
                t_tag.append(tag)
                t_qty.append(qty)
                t_price.append(ask)
                left -= qty
                remaining[seller] = have - qty
                if have == qty:
                    heappop(ask_heap)
            if not left:
                break
        remaining[order] = left
        if left:
            for leg in range(first, last):
                heappush(bids[leg_tag[leg]], ((_TOP - leg_price[leg]) << _SHIFT) | slot)

    def array(values: list[int]) -> np.ndarray:
        return np.asarray(values, dtype=np.int64)

    return Matches(array(t_buy), array(t_sell), array(t_tag), array(t_qty), array(t_price))


register(ContinuousDoubleAuction())
