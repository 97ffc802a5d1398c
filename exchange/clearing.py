"""``clear(orders, params)``: the exchange's one entry point.

A pure function: the same orders (in the same submission order) and the same
:class:`~exchange.params.ClearingParams` give an equal :class:`~exchange.results.ClearingResult`
and byte-identical :meth:`~exchange.results.ClearingResult.canonical_json`, on any machine (all
arithmetic is in integers; the arrival order comes from SplitMix64, not a library RNG). That
makes every slot replayable from its recorded orders and parameters.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from exchange.book import Book, build_book
from exchange.mechanisms.base import Matches, check_matches
from exchange.mechanisms.registry import get_mechanism, is_builtin
from exchange.orders import Order
from exchange.params import ClearingParams
from exchange.results import ClearingResult, Trade, Unfilled
from exchange.units import MAX_QUANTITY_WH, Int64Array, money_array, round_half_even_div
from exchange.validation import Rejection, validate

INT64_SAFE_TOTAL = 2**62
"""The admitted orders of one clearing may hold at most this many Wh together."""


def clear(orders: Iterable[Order], params: ClearingParams) -> ClearingResult:
    """Validate ``orders`` and clear the admitted ones with ``params.mechanism``.

    Args:
        orders: One slot's orders in submission order (the order matters only through the
            seeded arrival order; see :mod:`exchange.book`). Any iterable; it is read once.
        params: Mechanism, price bounds, tags, tag-order rule, seed and known agents.

    Returns:
        Trades, prices and volumes per tag, every rejected order with its reason and every
        admitted order's unfilled remainder.

    Raises:
        ValueError: If the admitted quantities together exceed 2**62 Wh (an int64 safety
            bound far above any real order set).
    """
    # An iterator would be consumed by validation's first pass: read it once, whole.
    submitted: Sequence[Order] = orders if isinstance(orders, list | tuple) else list(orders)
    admitted, rejected = validate(submitted, params)
    book = build_book(submitted, admitted, params)
    matches = match_book(book, params.mechanism)
    return _result(submitted, book, matches, rejected, params)


def match_book(book: Book, mechanism: str) -> Matches:
    """Run ``mechanism`` on ``book`` (no trades for an empty book). A mechanism that is not
    built in has its trades checked against the rules (:func:`~exchange.mechanisms.base.
    check_matches`).

    Raises:
        ValueError: If the admitted quantities together exceed 2**62 Wh, or a plugin mechanism
            broke a rule.
    """
    if not book.n_orders:
        return Matches.empty()
    # Validated quantities are at most MAX_QUANTITY_WH each: only millions of orders can reach
    # the bound, so the exact sum is needed only then.
    n = book.n_orders
    if n * MAX_QUANTITY_WH > INT64_SAFE_TOTAL and sum(book.quantity.tolist()) > INT64_SAFE_TOTAL:
        raise ValueError("the admitted orders together exceed 2**62 Wh; split the order set")
    chosen = get_mechanism(mechanism)
    matches = chosen.match(book)
    if not is_builtin(chosen):
        check_matches(book, matches, mechanism)
    return matches


def tag_prices(matches: Matches, volume: Int64Array) -> Int64Array:
    """Per tag code, the clearing price in ticks, ``-1`` where the tag did not trade.

    Uniform-price mechanisms give theirs; otherwise it is the volume-weighted mean trade
    price, rounded half to even.

    Args:
        matches: A mechanism's trades.
        volume: Wh traded per tag code.
    """
    n_tags = volume.shape[0]
    prices = np.empty(n_tags, dtype=np.int64)
    prices.fill(-1)
    if matches.uniform_prices is not None:
        for code, uniform in matches.uniform_prices.items():
            prices[code] = uniform
        return prices
    quantity, price = matches.quantity, matches.price
    if not quantity.shape[0]:
        return prices
    if int(volume.sum()) * int(price.max()) < 2**63:
        # Every per-tag sum of quantity x price fits in int64: sum in numpy.
        value_array = np.zeros(n_tags, dtype=np.int64)
        np.add.at(value_array, matches.tag, quantity * price)
        value = value_array.tolist()
    else:
        # Python ints: a tag's summed quantity x price may exceed int64.
        value = [0] * n_tags
        for t, q, p in zip(matches.tag.tolist(), quantity.tolist(), price.tolist(), strict=True):
            value[t] += q * p
    volumes = volume.tolist()
    for code in range(n_tags):
        if volumes[code]:
            prices[code] = round_half_even_div(value[code], volumes[code])
    return prices


def _result(
    orders: Sequence[Order],
    book: Book,
    matches: Matches,
    rejected: list[Rejection],
    params: ClearingParams,
) -> ClearingResult:
    tags = params.tags
    n_tags = len(tags)
    quantity = matches.quantity
    amount = money_array(quantity, matches.price)

    filled = np.zeros(book.n_orders, dtype=np.int64)
    np.add.at(filled, matches.buy, quantity)
    np.add.at(filled, matches.sell, quantity)
    volume = np.zeros(n_tags, dtype=np.int64)
    np.add.at(volume, matches.tag, quantity)

    positions = book.positions
    buy_orders = [orders[i] for i in positions[matches.buy].tolist()]
    sell_orders = [orders[i] for i in positions[matches.sell].tolist()]
    trades = tuple(
        Trade(b.id, s.id, b.agent, s.agent, tags[t], q, p, m)
        for b, s, t, q, p, m in zip(
            buy_orders,
            sell_orders,
            matches.tag.tolist(),
            quantity.tolist(),
            matches.price.tolist(),
            amount.tolist(),
            strict=True,
        )
    )

    left = book.quantity - filled
    open_ = np.flatnonzero(left > 0)
    unfilled = tuple(
        Unfilled(o.id, o.agent, o.side, q)
        for o, q in zip(
            (orders[i] for i in positions[open_].tolist()), left[open_].tolist(), strict=True
        )
    )

    volumes = volume.tolist()
    prices = tag_prices(matches, volume).tolist()
    return ClearingResult(
        mechanism=params.mechanism,
        trades=trades,
        clearing_prices={tags[code]: prices[code] for code in range(n_tags) if prices[code] >= 0},
        volumes_wh={tag: volumes[code] for code, tag in enumerate(tags)},
        rejected=tuple(rejected),
        unfilled=unfilled,
    )
