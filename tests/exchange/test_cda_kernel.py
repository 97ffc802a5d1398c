"""The compiled CDA loop (``exchange.mechanisms._cda_kernel``) equals the Python reference.

:func:`exchange.mechanisms.cda.match_python` is the reference: the kernel must give the same
trades (buy, sell, tag, quantity, price) in the same order on every book. Books are drawn
directly as :class:`~exchange.book.Book` arrays so that the draws reach what order lists rarely
do: up to five tags, buyers visiting their tags in either tag order, prices and quantities at
the limits of the key packing, admitted subsets of the submitted orders. Hand-written books pin
the cases that matter most (a bid skipped lazily after its buyer filled in another book,
time priority among equal prices), and ``exchange.clear`` must give the same bytes either way.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from collections.abc import Iterator, Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exchange import ArrayExchange, ClearingParams, OrderArrays, clear
from exchange.book import Book, book_from_arrays
from exchange.mechanisms import cda
from exchange.mechanisms.base import Matches
from exchange.mechanisms.cda import ContinuousDoubleAuction, match_python
from exchange.units import MAX_PRICE_TICKS, MAX_QUANTITY_WH

TAGS = ("pv", "battery", "phv", "wind", "hydro")
CDA = ContinuousDoubleAuction()

Trade = tuple[int, int, int, int, int]


def trades(matches: Matches) -> list[Trade]:
    """(buy, sell, tag, quantity, price) per trade, in trade sequence."""
    for column in (matches.buy, matches.sell, matches.tag, matches.quantity, matches.price):
        assert column.dtype == np.int64
        assert column.shape == matches.buy.shape
    return list(
        zip(
            matches.buy.tolist(),
            matches.sell.tolist(),
            matches.tag.tolist(),
            matches.quantity.tolist(),
            matches.price.tolist(),
            strict=True,
        )
    )


@pytest.fixture(autouse=True)
def _compiled() -> Iterator[None]:
    # Every test here compares the kernel with the reference: if numba were silently missing,
    # both sides would run the Python loop and the comparisons could not fail.
    assert cda.backend() == "numba"
    yield
    cda.use_python(False)


def check_same(book: Book) -> list[Trade]:
    """The kernel's trades equal the reference's; the book is left as it was."""
    quantity = book.quantity.copy()
    expected = trades(match_python(book))
    got = trades(CDA.match(book))
    assert got == expected
    assert np.array_equal(book.quantity, quantity)
    return got


# ---------------------------------------------------------------------------------------------
# Random books
# ---------------------------------------------------------------------------------------------


@st.composite
def books(draw: st.DrawFn, max_orders: int = 40) -> Book:
    """A book of up to ``max_orders`` admitted orders over one to five tags.

    Prices are mostly from a narrow band (many ties); some books use the extremes of the price
    range instead, and some use quantities near ``MAX_QUANTITY_WH``.
    """
    n_tags = draw(st.integers(1, len(TAGS)))
    params = ClearingParams(
        mechanism="cda",
        tags=TAGS[:n_tags],
        tag_order=draw(st.sampled_from(("price", "config"))),
        seed=draw(st.integers(0, 2**64 - 1)),
    )
    if draw(st.integers(0, 3)):
        price = st.integers(0, 8)
    else:  # the ends of the key packing: price 0 and the ceiling
        price = st.integers(0, 2) | st.integers(MAX_PRICE_TICKS - 2, MAX_PRICE_TICKS)
    if draw(st.integers(0, 4)):
        quantity = st.integers(1, 30)
    else:
        quantity = st.integers(1, 3) | st.integers(MAX_QUANTITY_WH - 3, MAX_QUANTITY_WH)
    n = draw(st.integers(0, max_orders) | st.integers(max_orders // 2, max_orders))
    one_side = {0: True, 1: False}.get(draw(st.integers(0, 9)))  # sometimes one side only
    is_buy = [draw(st.booleans()) if one_side is None else one_side for _ in range(n)]
    sell_tag, sell_price, leg_order, leg_tag, leg_price = [], [], [], [], []
    for order, buy in enumerate(is_buy):
        if buy:
            # Each buyer accepts one to all tags, listed in any order (the book ranks them).
            tags = draw(st.lists(st.integers(0, n_tags - 1), min_size=1, unique=True))
            for tag in tags:
                leg_order.append(order)
                leg_tag.append(tag)
                leg_price.append(draw(price))
        else:
            sell_tag.append(draw(st.integers(0, n_tags - 1)))
            sell_price.append(draw(price))
    # Some submitted orders were rejected: the admitted ones are a subset, arriving in between.
    n_submitted = n + draw(st.integers(0, 3))
    positions = sorted(draw(st.permutations(range(n_submitted)))[:n])

    def array(values: Sequence[int]) -> np.ndarray:
        return np.asarray(values, dtype=np.int64)

    return book_from_arrays(
        params,
        n_submitted=n_submitted,
        positions=array(positions),
        is_buy=np.asarray(is_buy, dtype=bool),
        quantity=array([draw(quantity) for _ in range(n)]),
        sell_tag=array(sell_tag),
        sell_price=array(sell_price),
        leg_order=array(leg_order),
        leg_tag=array(leg_tag),
        leg_price=array(leg_price),
    )


@settings(max_examples=400, deadline=None)
@given(book=books())
def test_kernel_equals_reference_on_random_books(book: Book) -> None:
    check_same(book)


def random_book(n: int, n_tags: int, seed: int) -> Book:
    """A large book from numpy draws: half buyers, each accepting a random subset of tags."""
    rng = np.random.default_rng(seed)
    is_buy = rng.random(n) < 0.5
    accepts = rng.random((n, n_tags)) < 0.6
    accepts[np.arange(n), rng.integers(0, n_tags, n)] = True  # at least one tag each
    accepts[~is_buy] = False
    leg_order, leg_tag = accepts.nonzero()
    n_sells = int((~is_buy).sum())
    return book_from_arrays(
        ClearingParams(mechanism="cda", tags=TAGS[:n_tags], seed=seed),
        n_submitted=n,
        positions=np.arange(n, dtype=np.int64),
        is_buy=is_buy,
        quantity=rng.integers(1, 5_000, n),
        sell_tag=rng.integers(0, n_tags, n_sells),
        sell_price=rng.integers(800, 1_200, n_sells),
        leg_order=leg_order.astype(np.int64),
        leg_tag=leg_tag.astype(np.int64),
        leg_price=rng.integers(800, 1_200, leg_order.shape[0]),
    )


@pytest.mark.parametrize(("n", "n_tags", "seed"), [(3_000, 3, 0), (3_000, 1, 1), (2_000, 5, 2)])
def test_kernel_equals_reference_on_large_books(n: int, n_tags: int, seed: int) -> None:
    # Deep heaps, and many bids left stale in one book after their buyer filled in another.
    assert len(check_same(random_book(n, n_tags, seed))) > n // 10


# ---------------------------------------------------------------------------------------------
# Hand-written books
# ---------------------------------------------------------------------------------------------

Sell = tuple[int, int, int]  # quantity, tag, price
Buy = tuple[int, list[tuple[int, int]]]  # quantity, [(tag, price)] in the order visited


def book_in_arrival_order(orders: Sequence[Sell | Buy], n_tags: int = 2) -> Book:
    """A book whose orders arrive as listed (order ``i`` in slot ``i``)."""
    n = len(orders)
    is_buy = np.asarray([isinstance(o[1], list) for o in orders], dtype=bool)
    sells = [o for o in orders if not isinstance(o[1], list)]
    legs = [
        (order, tag, price)
        for order, o in enumerate(orders)
        if isinstance(o[1], list)
        for tag, price in o[1]
    ]
    leg_order = np.asarray([leg[0] for leg in legs], dtype=np.int64)
    leg_first = np.ones(len(legs), dtype=bool)
    leg_first[1:] = leg_order[1:] != leg_order[:-1]
    return Book(
        tags=TAGS[:n_tags],
        positions=np.arange(n, dtype=np.int64),
        is_buy=is_buy,
        quantity=np.asarray([o[0] for o in orders], dtype=np.int64),
        arrival=np.arange(n, dtype=np.int64),
        sell_order=(~is_buy).nonzero()[0].astype(np.int64),
        sell_tag=np.asarray([o[1] for o in sells], dtype=np.int64),
        sell_price=np.asarray([o[2] for o in sells], dtype=np.int64),
        leg_order=leg_order,
        leg_tag=np.asarray([leg[1] for leg in legs], dtype=np.int64),
        leg_price=np.asarray([leg[2] for leg in legs], dtype=np.int64),
        leg_first=leg_first,
    )


PV, BATTERY = 0, 1


def test_bid_filled_in_another_book_is_skipped() -> None:
    book = book_in_arrival_order(
        [
            (5, [(PV, 8), (BATTERY, 6)]),  # 0 rests in both books
            (5, BATTERY, 5),  # 1 fills buyer 0 in the battery book
            (3, [(PV, 7)]),  # 2 rests in pv, below buyer 0's stale bid
            (4, PV, 1),  # 3 must skip buyer 0 and trade with buyer 2
            (2, [(PV, 9)]),  # 4 takes the rest of seller 3
        ]
    )
    assert check_same(book) == [(0, 1, BATTERY, 5, 6), (2, 3, PV, 3, 7), (4, 3, PV, 1, 1)]


def test_equal_prices_trade_in_arrival_order() -> None:
    book = book_in_arrival_order(
        [
            (2, PV, 4),
            (2, PV, 3),
            (2, PV, 4),
            (2, PV, 3),
            (9, [(PV, 4)]),  # cheapest first, earlier first among equal asks; 1 Wh rests
            (3, [(PV, 4)]),  # rests behind buyer 4 at the same price
            (3, [(PV, 5)]),  # rests ahead of both
            (6, PV, 4),
        ]
    )
    assert check_same(book) == [
        (4, 1, PV, 2, 3),
        (4, 3, PV, 2, 3),
        (4, 0, PV, 2, 4),
        (4, 2, PV, 2, 4),
        (6, 7, PV, 3, 5),
        (4, 7, PV, 1, 4),
        (5, 7, PV, 2, 4),
    ]


def test_remainder_moves_through_the_buyers_tags() -> None:
    book = book_in_arrival_order(
        [
            (3, PV, 5),
            (4, BATTERY, 2),
            (10, [(PV, 6), (BATTERY, 3)]),  # 3 in pv, 4 in battery, 3 rest in both
            (5, BATTERY, 3),  # trades with the resting 3 at the bid
            (1, PV, 0),  # buyer 2 is filled: nothing left in pv
        ]
    )
    assert check_same(book) == [(2, 0, PV, 3, 5), (2, 1, BATTERY, 4, 2), (2, 3, BATTERY, 3, 3)]


def test_limits_of_the_key_packing() -> None:
    top, q = MAX_PRICE_TICKS, MAX_QUANTITY_WH
    book = book_in_arrival_order(
        [
            (q, [(PV, 0), (BATTERY, top)]),
            (q, PV, 0),
            (q - 1, BATTERY, top),
            (q, [(BATTERY, top)]),
            (1, BATTERY, top),
        ]
    )
    assert check_same(book) == [
        (0, 1, PV, q, 0),
        (3, 2, BATTERY, q - 1, top),
        (3, 4, BATTERY, 1, top),
    ]


@pytest.mark.parametrize(
    "arrival",
    [
        [4, 0, 2, 3, 1],  # a permutation: the counting pass
        [900, 7, 60, 8, 1_000_000],  # sparse ranks: sorted instead
        [3, 1, 3, 0, 1],  # repeated ranks (no Book has them): sorted stably, as the reference
    ],
)
def test_arrival_order_however_the_ranks_look(arrival: list[int]) -> None:
    book = book_in_arrival_order(
        [(3, PV, 2), (2, [(PV, 5)]), (2, PV, 1), (4, [(PV, 3), (BATTERY, 1)]), (1, BATTERY, 0)]
    )
    book = dataclasses.replace(book, arrival=np.asarray(arrival, dtype=np.int64))
    assert check_same(book)


@pytest.mark.parametrize(
    "orders",
    [
        [],
        [(5, PV, 3)],
        [(5, [(PV, 3), (BATTERY, 4)])],
        [(5, PV, 3), (5, BATTERY, 1)],  # sells only
        [(5, [(PV, 3)]), (5, [(BATTERY, 4), (PV, 1)])],  # buys only
        [(5, PV, 4), (5, [(PV, 3), (BATTERY, 9)])],  # no price overlap
    ],
)
def test_books_without_trades(orders: list[Sell | Buy]) -> None:
    assert check_same(book_in_arrival_order(orders)) == []


# ---------------------------------------------------------------------------------------------
# Through the public API, and the fallback
# ---------------------------------------------------------------------------------------------


@st.composite
def slots(draw: st.DrawFn, max_orders: int = 30) -> tuple[ArrayExchange, OrderArrays]:
    """One slot's orders as columns for a community of up to 12 agents: mostly one order per
    agent, prices 0..10 ticks, about one order in twelve rejected (a duplicate id, a price out
    of bounds, a quantity of zero)."""
    n_agents = draw(st.integers(1, 12))
    params = ClearingParams(
        mechanism="cda",
        price_min=0,
        price_max=10,
        tags=tuple(draw(st.permutations(TAGS[:3]))),
        tag_order=draw(st.sampled_from(("price", "config"))),
        seed=draw(st.integers(0, 2**64 - 1)),
    )
    n = draw(st.integers(0, max_orders))
    agent = [draw(st.integers(0, n_agents - 1)) for _ in range(n)]
    price = st.integers(0, 43).map(lambda k: 11 if k == 43 else k % 11)  # 11: out of bounds
    quantity = [draw(st.integers(1, 30)) if draw(st.integers(0, 11)) else 0 for _ in range(n)]
    accepts = np.asarray([[draw(st.integers(0, 3)) > 0 for _ in range(3)] for _ in range(n)])
    columns = OrderArrays(
        agent=np.asarray(agent, dtype=np.int64),
        is_buy=np.asarray([draw(st.booleans()) for _ in range(n)], dtype=bool),
        quantity_wh=np.asarray(quantity, dtype=np.int64),
        prices=np.asarray([draw(price) for _ in range(3 * n)], dtype=np.int64).reshape(n, 3),
        sell_tag=np.asarray([draw(st.integers(0, 2)) for _ in range(n)], dtype=np.int64),
        sell_price=np.asarray([draw(price) for _ in range(n)], dtype=np.int64),
        id_suffix="@3",
        accepts=accepts.reshape(n, 3).astype(bool),
    )
    return ArrayExchange(params, [f"h{i}" for i in range(n_agents)]), columns


@settings(max_examples=150, deadline=None)
@given(slot=slots())
def test_clear_gives_the_same_bytes_with_either_loop(
    slot: tuple[ArrayExchange, OrderArrays],
) -> None:
    exchange, columns = slot
    orders = exchange.orders(columns)
    compiled = clear(orders, exchange.params)
    compiled_arrays = exchange.clear(columns).to_result()
    cda.use_python()
    try:
        assert cda.backend() == "python"
        python = clear(orders, exchange.params)
        python_arrays = exchange.clear(columns).to_result()
    finally:
        cda.use_python(False)
    assert compiled == python
    assert compiled.canonical_json() == python.canonical_json()
    assert compiled_arrays.canonical_json() == python_arrays.canonical_json()


def test_without_numba_match_runs_the_python_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    book = random_book(500, 3, seed=7)
    # As if numba were not installed: importing the kernel module raises ImportError.
    monkeypatch.setitem(sys.modules, "exchange.mechanisms._cda_kernel", None)
    monkeypatch.setattr(cda, "_kernel_tried", False)
    monkeypatch.setattr(cda, "_kernel_fn", None)
    monkeypatch.setattr(cda, "_kernel_error", None)
    assert cda.backend().startswith("python (ModuleNotFoundError(")
    assert trades(CDA.match(book)) == trades(match_python(book))


class _Unusable:
    """A kernel module whose names cannot be loaded (numba with no cache directory raises so)."""

    def __getattr__(self, name: str) -> object:
        raise RuntimeError("cannot cache function: no locator available")


def test_an_unusable_kernel_falls_back_and_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    book = random_book(200, 3, seed=8)
    monkeypatch.setitem(sys.modules, "exchange.mechanisms._cda_kernel", _Unusable())
    monkeypatch.setattr(cda, "_kernel_tried", False)
    monkeypatch.setattr(cda, "_kernel_fn", None)
    monkeypatch.setattr(cda, "_kernel_error", None)
    assert cda.backend() == "python (RuntimeError('cannot cache function: no locator available'))"
    assert trades(CDA.match(book)) == trades(match_python(book))


def test_importing_exchange_leaves_numba_unloaded() -> None:
    code = (
        "import sys, exchange\n"
        "assert 'numba' not in sys.modules, 'import exchange loaded numba'\n"
        "exchange.clear([], exchange.ClearingParams(mechanism='cda'))\n"
        "assert 'numba' not in sys.modules, 'an empty book loaded numba'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, timeout=120)
