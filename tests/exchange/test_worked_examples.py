"""Worked examples, computed by hand in the comments, for each mechanism and the tag cascade."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from exchange import ClearingParams, ClearingResult, Order, clear
from exchange.book import arrival_ranks


def trades(result: ClearingResult) -> list[tuple[str, str, str, int, int, int]]:
    return [(t.buy, t.sell, t.tag, t.quantity_wh, t.price, t.amount) for t in result.trades]


def unfilled(result: ClearingResult) -> dict[str, int]:
    return {u.id: u.quantity_wh for u in result.unfilled}


def arriving_in_sequence(sequence: Sequence[Order], seed: int) -> list[Order]:
    """Lay ``sequence`` out in submission order so that, with ``seed``, it arrives as listed."""
    ranks = arrival_ranks(len(sequence), seed).tolist()
    placed: list[Order | None] = [None] * len(sequence)
    for position, rank in enumerate(ranks):
        placed[position] = sequence[rank]
    assert all(o is not None for o in placed)
    return [o for o in placed if o is not None]


# One pv book: three sellers, three buyers.
#   demand (desc): b1 400 @ 2500 (cum 400), b2 300 @ 2000 (700), b3 500 @ 1700 (1200)
#   supply (asc):  s1 300 @ 1500 (cum 300), s2 500 @ 1800 (800), s3 400 @ 2200 (1200)
#   min(D(>=p), S(<=p)): p=2500 -> 400, p=2000 -> 700, p=1700 -> 300  =>  V = 700
#   b(V) = 2000 (b2), b(V+1) = 1700 (b3); a(V) = 1800 (s2), a(V+1) = 1800 (rest of s2)
#   crossing range [max(1800, 1700), min(2000, 1800)] = [1800, 1800]  =>  price 1800
#   pairs in rank order: b1-s1 300, b1-s2 100, b2-s2 300.
BOOK = [
    Order.sell("s1", "home_01", 300, tag="pv", price=1500),
    Order.sell("s2", "home_02", 500, tag="pv", price=1800),
    Order.sell("s3", "home_03", 400, tag="pv", price=2200),
    Order.buy("b1", "home_04", 400, prices={"pv": 2500}),
    Order.buy("b2", "home_05", 300, prices={"pv": 2000}),
    Order.buy("b3", "home_06", 500, prices={"pv": 1700}),
]


def test_call_worked_example() -> None:
    result = clear(BOOK, ClearingParams(mechanism="call"))
    # amounts: 300 Wh x 18.00 JPY/kWh = 5.40 JPY = 540; 100 Wh -> 180.
    assert trades(result) == [
        ("b1", "s1", "pv", 300, 1800, 540),
        ("b1", "s2", "pv", 100, 1800, 180),
        ("b2", "s2", "pv", 300, 1800, 540),
    ]
    assert result.clearing_prices == {"pv": 1800}
    assert result.volumes_wh == {"pv": 700, "battery": 0, "phv": 0}
    assert unfilled(result) == {"s2": 100, "s3": 400, "b3": 500}


def test_midpoint_worked_example() -> None:
    result = clear(BOOK, ClearingParams(mechanism="midpoint"))
    # Same pairs; each at (bid + ask) / 2: (2500+1500)/2 = 2000, (2500+1800)/2 = 2150,
    # (2000+1800)/2 = 1900. Amounts 300x20.00 = 6.00 JPY, 100x21.50 = 2.15, 300x19.00 = 5.70.
    assert trades(result) == [
        ("b1", "s1", "pv", 300, 2000, 600),
        ("b1", "s2", "pv", 100, 2150, 215),
        ("b2", "s2", "pv", 300, 1900, 570),
    ]
    # Volume-weighted mean: (300x2000 + 100x2150 + 300x1900) / 700 = 1385000/700 = 1978.57 -> 1979
    assert result.clearing_prices == {"pv": 1979}


@pytest.mark.parametrize(
    ("ask", "bid", "price"),
    [
        (1000, 3000, 2000),  # the whole range [1000, 3000] is open: its middle
        (1001, 2000, 1500),  # 1500.5 -> 1500 (half to even)
        (1003, 2000, 1502),  # 1501.5 -> 1502 (half to even)
        (2000, 2000, 2000),
    ],
)
def test_call_price_is_the_middle_of_the_crossing_range(ask: int, bid: int, price: int) -> None:
    orders = [Order.sell("s", "x", 100, "pv", ask), Order.buy("b", "y", 100, {"pv": bid})]
    assert clear(orders, ClearingParams(mechanism="call")).clearing_prices == {"pv": price}


def test_call_long_side_sets_the_price() -> None:
    # 800 Wh wanted at up to 2300, 1200 Wh offered at 1850: 400 Wh of supply stay unsold at
    # 1850, so no price above 1850 clears the book: range [1850, min(2300, 1850)].
    orders = [
        Order.sell("s1", "home_03", 1200, "pv", 1850),
        Order.buy("b1", "home_07", 800, {"pv": 2300, "battery": 2100}),
    ]
    result = clear(orders, ClearingParams(mechanism="call"))
    assert trades(result) == [("b1", "s1", "pv", 800, 1850, 1480)]
    # And the short side: demand left over at the bid puts the price at the bid.
    orders[1] = Order.buy("b1", "home_07", 2000, {"pv": 2300})
    result = clear(orders, ClearingParams(mechanism="call"))
    assert result.clearing_prices == {"pv": 2300}
    assert unfilled(result) == {"b1": 800}


def test_call_rations_the_margin_by_arrival() -> None:
    # Two buyers at the same price want 300 each; only 400 is offered: the earlier arrival gets
    # 300, the later 100.
    seller = Order.sell("s", "x", 400, "pv", 1000)
    first = Order.buy("early", "y", 300, {"pv": 2000})
    second = Order.buy("late", "z", 300, {"pv": 2000})
    for seed in (0, 1, 2, 3):
        orders = arriving_in_sequence([first, second, seller], seed)
        result = clear(orders, ClearingParams(mechanism="call", seed=seed))
        assert unfilled(result) == {"late": 200}
        orders = arriving_in_sequence([second, first, seller], seed)
        result = clear(orders, ClearingParams(mechanism="call", seed=seed))
        assert unfilled(result) == {"early": 200}


# The continuous double auction, arrival order fixed by laying the orders out for the seed:
#   s1 sells 300 @ 1500            -> rests
#   b1 buys 200 @ 1400             -> 1400 < 1500, rests
#   b2 buys 400 @ 1600             -> takes s1's 300 at 1500 (the resting price); 100 rests
#   s2 sells 250 @ 1300            -> best bid b2 100 @ 1600, then b1 150 @ 1400
CDA_SEQUENCE = [
    Order.sell("s1", "home_01", 300, "pv", 1500),
    Order.buy("b1", "office", 200, {"pv": 1400}),
    Order.buy("b2", "phv_01", 400, {"pv": 1600}),
    Order.sell("s2", "home_02", 250, "pv", 1300),
]


@pytest.mark.parametrize("seed", [0, 11, 2**63])
def test_cda_worked_example(seed: int) -> None:
    orders = arriving_in_sequence(CDA_SEQUENCE, seed)
    result = clear(orders, ClearingParams(mechanism="cda", seed=seed))
    assert trades(result) == [
        ("b2", "s1", "pv", 300, 1500, 450),
        ("b2", "s2", "pv", 100, 1600, 160),
        ("b1", "s2", "pv", 150, 1400, 210),
    ]
    assert unfilled(result) == {"b1": 50}
    # (300x1500 + 100x1600 + 150x1400) / 550 = 820000 / 550 = 1490.9 -> 1491
    assert result.clearing_prices == {"pv": 1491}


def test_cda_time_priority_among_equal_prices() -> None:
    sequence = [
        Order.buy("first", "a", 100, {"pv": 2000}),
        Order.buy("second", "b", 100, {"pv": 2000}),
        Order.sell("s", "c", 150, "pv", 1000),
    ]
    result = clear(arriving_in_sequence(sequence, 5), ClearingParams(mechanism="cda", seed=5))
    assert trades(result) == [
        ("first", "s", "pv", 100, 2000, 200),
        ("second", "s", "pv", 50, 2000, 100),
    ]


def test_cda_buyer_moves_on_then_rests_in_every_book() -> None:
    # b prefers pv (2000 > 1800). On arrival the pv book is empty, so it buys the battery offer
    # (100 @ 1000, the resting price) and its 200 Wh remainder rests in both books; a later pv
    # seller at 1900 fills 100 of it at b's pv limit, 2000.
    sequence = [
        Order.sell("bat", "home_01", 100, "battery", 1000),
        Order.buy("b", "office", 300, {"battery": 1800, "pv": 2000}),
        Order.sell("sun", "home_02", 100, "pv", 1900),
    ]
    result = clear(arriving_in_sequence(sequence, 3), ClearingParams(mechanism="cda", seed=3))
    assert trades(result) == [
        ("b", "bat", "battery", 100, 1000, 100),
        ("b", "sun", "pv", 100, 2000, 200),
    ]
    assert unfilled(result) == {"b": 100}


# Tag cascade under the call auction.
#   seller pv 300 @ 1000, seller battery 500 @ 1000; buyer 500 Wh, pv 2400, battery 2000.
#   rule "price": pv first (2400 > 2000). pv book: V = 300 and the buyer's own 200 Wh remain
#   at 2400, so the range is [max(1000, 2400), 2400] -> 2400. The 200 Wh remainder goes to
#   battery: V = 200 with 300 Wh unsold at 1000 -> [1000, min(2000, 1000)] -> 1000.
CASCADE = [
    Order.sell("sun", "home_01", 300, "pv", 1000),
    Order.sell("bat", "home_02", 500, "battery", 1000),
    Order.buy("b", "office", 500, {"battery": 2000, "pv": 2400}),
]


def test_cascade_price_rule_goes_to_the_dearer_tag_first() -> None:
    result = clear(CASCADE, ClearingParams(mechanism="call", tag_order="price"))
    assert trades(result) == [
        ("b", "sun", "pv", 300, 2400, 720),
        ("b", "bat", "battery", 200, 1000, 200),
    ]


def test_cascade_config_rule_follows_the_tag_list() -> None:
    # battery listed first: the buyer fills all 500 Wh there; range [1000, 2000] -> 1500.
    params = ClearingParams(mechanism="call", tag_order="config", tags=("battery", "pv", "phv"))
    assert trades(clear(CASCADE, params)) == [("b", "bat", "battery", 500, 1500, 750)]
    # With pv listed first the config rule agrees with the price rule here.
    params = params.replace(tags=("pv", "battery", "phv"))
    assert trades(clear(CASCADE, params)) == trades(
        clear(CASCADE, ClearingParams(mechanism="call"))
    )


@pytest.mark.parametrize(
    ("tags", "first"), [(("pv", "battery", "phv"), "pv"), (("battery", "pv", "phv"), "battery")]
)
def test_cascade_equal_prices_tie_break_by_tag_list(tags: tuple[str, ...], first: str) -> None:
    orders = [
        Order.sell("sun", "h1", 100, "pv", 500),
        Order.sell("bat", "h2", 100, "battery", 500),
        Order.buy("b", "h3", 100, {"pv": 900, "battery": 900}),
    ]
    # The buyer arrives last, so under cda it too meets both books and chooses.
    orders = arriving_in_sequence(orders, 0)
    for mechanism in ("call", "cda", "midpoint"):
        result = clear(orders, ClearingParams(mechanism=mechanism, tags=tags))
        assert [t.tag for t in result.trades] == [first], mechanism


def test_cascade_remainder_displaces_a_lower_bid() -> None:
    # pv 100 @ 1000, battery 100 @ 1000.
    # A: 100 Wh, battery 3000 then pv 2900.  C: 100 Wh, battery 3500.  B: 100 Wh, pv 2000, phv 1900.
    # Round 1: battery book {C 3500, A 3000}: C filled, A refused. pv book {B 2000}: B filled.
    # Round 2: A's 100 Wh reach pv at 2900 > 2000: A filled, B displaced to phv (no sellers).
    # Prices: battery range [max(1000, 3000), 3500] -> 3250; pv [max(1000, 2000), 2900] -> 2450.
    orders = [
        Order.sell("sun", "h1", 100, "pv", 1000),
        Order.sell("bat", "h2", 100, "battery", 1000),
        Order.buy("A", "h3", 100, {"battery": 3000, "pv": 2900}),
        Order.buy("C", "h4", 100, {"battery": 3500}),
        Order.buy("B", "h5", 100, {"pv": 2000, "phv": 1900}),
    ]
    result = clear(orders, ClearingParams(mechanism="call"))
    assert trades(result) == [
        ("A", "sun", "pv", 100, 2450, 245),
        ("C", "bat", "battery", 100, 3250, 325),
    ]
    assert result.clearing_prices == {"pv": 2450, "battery": 3250}
    assert unfilled(result) == {"B": 100}


def test_trades_follow_the_tag_list_order() -> None:
    orders = [
        Order.sell("p", "h1", 10, "phv", 1),
        Order.sell("s", "h2", 10, "pv", 1),
        Order.buy("b1", "h3", 10, {"phv": 5}),
        Order.buy("b2", "h4", 10, {"pv": 5}),
    ]
    params = ClearingParams(mechanism="call", tags=("phv", "pv"))
    assert [t.tag for t in clear(orders, params).trades] == ["phv", "pv"]


def test_empty_and_one_sided_books() -> None:
    for mechanism in ("call", "cda", "midpoint"):
        params = ClearingParams(mechanism=mechanism)
        empty = clear([], params)
        assert empty.trades == ()
        assert empty.volumes_wh == {"pv": 0, "battery": 0, "phv": 0}
        assert empty.clearing_prices == {}
        sells_only = clear([Order.sell("s", "a", 5, "pv", 10)], params)
        assert unfilled(sells_only) == {"s": 5}
        buys_only = clear([Order.buy("b", "a", 5, {"pv": 10})], params)
        assert unfilled(buys_only) == {"b": 5}


def test_agent_totals_balance_money() -> None:
    result = clear(BOOK, ClearingParams(mechanism="midpoint"))
    totals = result.agent_totals()
    assert totals["home_04"].bought_wh == 400
    assert totals["home_04"].paid == 600 + 215
    assert totals["home_02"].sold_wh == 400
    assert totals["home_02"].received == 215 + 570
    assert sum(t.paid for t in totals.values()) == sum(t.received for t in totals.values())


def test_the_seed_decides_cda_arrival() -> None:
    # The same four orders in the same submission order: each seed is its own arrival order,
    # and across seeds the trades differ (e.g. whether b1 or b2 meets s1 first).
    outcomes = {
        tuple(trades(clear(CDA_SEQUENCE, ClearingParams(mechanism="cda", seed=seed))))
        for seed in range(24)
    }
    assert len(outcomes) > 1
    for seed in (0, 5):
        params = ClearingParams(mechanism="cda", seed=seed)
        assert clear(CDA_SEQUENCE, params) == clear(list(CDA_SEQUENCE), params)
