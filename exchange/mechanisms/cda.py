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
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

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
        return Matches(
            *kernel(
                book.arrival,
                book.quantity,
                book.sell_order,
                book.sell_tag,
                book.sell_price,
                book.leg_order,
                book.leg_tag,
                book.leg_price,
                len(book.tags),
                _TOP,
            )
        )


_A = Int64Array
# The kernel's signature: eight of the book's arrays, the tag count and the price ceiling.
_KernelFn = Callable[[_A, _A, _A, _A, _A, _A, _A, _A, int, int], tuple[_A, _A, _A, _A, _A]]
_kernel_fn: _KernelFn | None = None
_slot_fn: Callable[..., tuple[Any, ...]] | None = None
_records_fn: Callable[..., tuple[Any, ...]] | None = None
_keys_fn: Callable[[int, np.uint64], NDArray[np.uint64]] | None = None
_tables_fn: Callable[..., tuple[Any, ...]] | None = None
_kernel_tried = False
_kernel_error: str | None = None
_python_forced = False


def _kernel() -> _KernelFn | None:
    """The compiled matching loop; ``None`` where numba is not installed or :func:`use_python`
    forced the Python loop. numba is imported on the first call only."""
    global _kernel_fn, _slot_fn, _records_fn, _keys_fn, _tables_fn, _kernel_tried, _kernel_error
    if _python_forced:
        return None
    if not _kernel_tried:
        _kernel_tried = True
        try:
            from exchange.mechanisms._cda_kernel import (
                arrival_keys,
                clear_slot,
                clear_tables,
                match_orders,
                render_records,
            )
        except Exception as exc:
            # numba missing or unusable here (no cache directory, say): the Python loop gives
            # the same trades, slower; backend() says why.
            _kernel_error = repr(exc)
        else:
            import numba

            if numba.config.DISABLE_JIT:  # type: ignore[attr-defined]
                # The kernels would run as plain Python, where their memcpy (an external C
                # function) does nothing: the records would come out wrong.
                _kernel_error = "NUMBA_DISABLE_JIT is set"
                return None
            _kernel_fn = match_orders
            _slot_fn = clear_slot
            _records_fn = render_records
            _keys_fn = arrival_keys
            _tables_fn = clear_tables
    return _kernel_fn


def slot_kernel() -> Callable[..., tuple[Any, ...]] | None:
    """The compiled whole-slot clearing (:func:`exchange.mechanisms._cda_kernel.clear_slot`)
    that :meth:`exchange.arrays.ArrayExchange.clear` runs when every order is admitted;
    ``None`` where numba is not installed or :func:`use_python` forced the Python loop (the
    slot then goes the reference way: array passes, :class:`~exchange.book.Book`, this
    mechanism)."""
    return None if _kernel() is None else _slot_fn


def arrival_keys_kernel() -> Callable[[int, np.uint64], NDArray[np.uint64]] | None:
    """The compiled :func:`exchange.book.arrival_keys` (from ``np.uint64((seed + GAMMA) mod
    2**64)``, see :func:`exchange.book.arrival_start`) that the compiled slot takes its arrival
    keys from; ``None`` as for :func:`slot_kernel`."""
    return None if _kernel() is None else _keys_fn


def tables_kernel() -> Callable[..., tuple[Any, ...]] | None:
    """The compiled clearing of many slots' per-agent order tables
    (:func:`exchange.mechanisms._cda_kernel.clear_tables`) behind
    :meth:`exchange.arrays.ArrayExchange.clear_tables`; ``None`` as for :func:`slot_kernel`."""
    return None if _kernel() is None else _tables_fn


def records_kernel() -> Callable[..., tuple[Any, ...]] | None:
    """The compiled writer of a slot's order and trade records
    (:func:`exchange.mechanisms._cda_kernel.render_records`), for slots the compiled slot did
    not clear; ``None`` as for :func:`slot_kernel`."""
    return None if _kernel() is None else _records_fn


def use_python(python: bool = True) -> None:
    """Make :meth:`ContinuousDoubleAuction.match` run :func:`match_python` (``True``), or go
    back to the compiled kernel where numba imports (``False``).

    For tests and benchmarks that compare the two paths; the trades are the same either way.
    """
    global _python_forced
    _python_forced = python


def backend() -> str:
    """Which loop :meth:`ContinuousDoubleAuction.match` runs: ``"numba"`` or ``"python"`` (with
    the reason when the kernel could not be loaded)."""
    if _kernel() is not None:
        return "numba"
    return "python" if _kernel_error is None or _python_forced else f"python ({_kernel_error})"


def match_python(book: Book) -> Matches:
    """The matching loop in plain Python: the reference the compiled kernel is tested against.

    :meth:`ContinuousDoubleAuction.match` runs it only where numba cannot be imported or after
    :func:`use_python`. See the module docstring for the rules.
    """
    n = book.n_orders
    n_tags = len(book.tags)
    remaining = book.quantity.tolist()
    # Orders are handled by arrival slot s = 0, 1, ...; order_at[s] is the admitted index.
    order_at = book.arrival.argsort(kind="stable").tolist()
    # Per order, flat: a sell's tag (-1 for buys) and price; a buy's legs are
    # leg_tag/leg_price[leg_start[order]:leg_start[order + 1]], already in its tag order
    # (legs are grouped by order, so one order's legs end where the next one's start).
    tag_of = np.empty(n, dtype=np.int64)
    tag_of.fill(-1)
    tag_of[book.sell_order] = book.sell_tag
    price_of = np.zeros(n, dtype=np.int64)
    price_of[book.sell_order] = book.sell_price
    leg_start = book.leg_order.searchsorted(np.arange(n + 1, dtype=np.int64)).tolist()
    leg_tag = book.leg_tag.tolist()
    leg_price = book.leg_price.tolist()
    sell_tag_of = tag_of.tolist()
    sell_price_of = price_of.tolist()

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
