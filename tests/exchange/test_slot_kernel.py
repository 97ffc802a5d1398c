"""The compiled slot (``_cda_kernel.clear_slot``) equals the array passes it replaces.

:meth:`exchange.ArrayExchange.clear` clears the usual slot (``cda``, every order admitted, no
``accepts`` matrix) in one compiled call; ``ArrayExchange.compiled = False`` takes the array
passes, a :class:`~exchange.book.Book` and the mechanism instead: the reference. Both must give
the same columns, prices, volumes, per-agent totals, records and canonical bytes on every order
set, and every slot the kernel refuses (something to reject, a malformed column, a sum beyond
int64) must still come out of the reference path, with the same result or the same error.
The draws favour what the kernel does by itself: ties (few prices), one to five tags in any
order, both tag-order rules, values at the limits of the units, awkward names and id suffixes
(JSON escapes, ``%``, non-ASCII: the records are %-formats).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from dataclasses import FrozenInstanceError, dataclass, fields, replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exchange import (
    ArrayClearing,
    ArrayExchange,
    ClearingParams,
    OrderArrays,
    agent_tags,
    arrays,
    clear,
)
from exchange.arrays import table_orders
from exchange.mechanisms import _cda_kernel, cda
from exchange.units import MAX_PRICE_TICKS, MAX_QUANTITY_WH
from ledger.canonical import canonical_json

ALL_TAGS = ("pv", "battery", "phv", "wind", "hydro")
NAMES = ('h"q\\', "b%d", "家2", "a\u2028", *(f"a{i}" for i in range(30)))
SUFFIXES = ("", "@0", "@17", "@%s", '@"é\n')


@pytest.fixture(autouse=True)
def _compiled() -> Iterator[None]:
    # Without numba both sides would run the array passes and no comparison could fail.
    assert cda.backend() == "numba"
    yield
    cda.use_python(False)


@dataclass
class Slot:
    params: ClearingParams
    agents: tuple[str, ...]
    orders: OrderArrays


@st.composite
def slots(
    draw: st.DrawFn, max_orders: int = 30, admitted: bool = True, mechanism: str = "cda"
) -> Slot:
    """An order set; with ``admitted`` every order passes validation (the compiled path)."""
    n_tags = draw(st.integers(1, len(ALL_TAGS)))
    tags = tuple(draw(st.permutations(ALL_TAGS))[:n_tags])
    n_agents = draw(st.integers(1, len(NAMES)))
    agents = tuple(draw(st.permutations(NAMES))[:n_agents])
    huge = draw(st.integers(0, 9)) == 0  # quantities and prices at the limits of the units
    lo, hi = (0, MAX_PRICE_TICKS) if huge else (draw(st.integers(0, 3)), draw(st.integers(4, 9)))
    table = None
    if draw(st.booleans()):
        table = agent_tags(dict.fromkeys(agents, tags))
    params = ClearingParams(
        mechanism=mechanism,
        price_min=lo,
        price_max=hi,
        tags=tags,
        tag_order=draw(st.sampled_from(("price", "config"))),
        seed=draw(st.integers(0, 2**64 - 1)),
        agents=table,
    )
    n = draw(st.integers(0, min(max_orders, n_agents)))
    agent = np.asarray(draw(st.permutations(range(n_agents)))[:n], dtype=np.int64)
    one_side = {0: True, 1: False}.get(draw(st.integers(0, 5)))  # sometimes one side only
    if one_side is None:
        is_buy = np.asarray(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    else:
        is_buy = np.full(n, one_side, dtype=bool)
    top_q = MAX_QUANTITY_WH if huge else 40
    quantity = st.integers(1, top_q) | st.sampled_from((1, top_q))
    price = st.integers(lo, hi) | st.sampled_from((lo, hi))
    quantities = [draw(quantity) for _ in range(n)]
    prices = [[draw(price) for _ in tags] for _ in range(n)]
    sell_price = [draw(price) for _ in range(n)]
    if not admitted and n:  # one rule broken on one row: the reference path's business
        row = draw(st.integers(0, n - 1))
        broken = draw(st.sampled_from(("zero", "negative", "too_large", "low", "high", "twice")))
        if broken in ("zero", "negative", "too_large"):
            quantities[row] = {"zero": 0, "negative": -3, "too_large": MAX_QUANTITY_WH + 1}[broken]
        elif broken == "twice":
            agent[row] = agent[(row + 1) % n]
        else:
            bad = lo - 1 if broken == "low" else hi + 1
            if is_buy[row]:
                prices[row][draw(st.integers(0, n_tags - 1))] = bad
            else:
                sell_price[row] = bad
    orders = OrderArrays(
        agent=agent,
        is_buy=is_buy,
        quantity_wh=np.asarray(quantities, dtype=np.int64),
        prices=np.asarray(prices, dtype=np.int64).reshape(n, n_tags),
        sell_tag=np.asarray([draw(st.integers(0, n_tags - 1)) for _ in range(n)], dtype=np.int64),
        sell_price=np.asarray(sell_price, dtype=np.int64),
        id_suffix=draw(st.sampled_from(SUFFIXES)),
    )
    return Slot(params, agents, orders)


def both(slot: Slot) -> tuple[ArrayClearing, ArrayClearing]:
    """The slot cleared compiled and by the array passes."""
    fast = ArrayExchange(slot.params, slot.agents)
    reference = ArrayExchange(slot.params, slot.agents)
    reference.compiled = False
    return fast.clear(slot.orders), reference.clear(slot.orders)


def ran_compiled(cleared: ArrayClearing) -> bool:
    # The compiled slot marks its clearings; the array passes never do.
    return bool(cleared._cache.get("compiled", False))


def assert_same(got: ArrayClearing, expected: ArrayClearing) -> None:
    columns = (
        "admitted",
        "buy_position",
        "sell_position",
        "buyer",
        "seller",
        "tag",
        "quantity_wh",
        "price",
        "amount",
        "clearing_prices",
        "volume_wh",
    )
    for name in columns:
        a, b = getattr(got, name), getattr(expected, name)
        assert a.dtype == b.dtype == np.int64, name
        assert a.shape == b.shape, name
        assert np.array_equal(a, b), name
    assert got.params == expected.params
    assert got.rejected == expected.rejected
    for a, b in zip(got.totals(), expected.totals(), strict=True):
        assert a.dtype == b.dtype == np.int64
        assert a.shape == b.shape
        assert np.array_equal(a, b)
    assert got.orders_json() == expected.orders_json()
    assert got.trades_json() == expected.trades_json()
    assert got.to_result() == expected.to_result()


def check(slot: Slot) -> ArrayClearing:
    got, expected = both(slot)
    assert_same(got, expected)
    # And the documented path, Order objects through exchange.clear.
    exchange = ArrayExchange(slot.params, slot.agents)
    result = clear(exchange.orders(slot.orders), slot.params)
    assert got.to_result() == result
    assert got.trades_json() == [canonical_json(t.to_dict()) for t in result.trades]
    assert got.orders_json() == [canonical_json(o.to_dict()) for o in got.order_objects()]
    joined = got.records_text()
    if joined is not None:  # the compiled renderer's text, cut into orders and trades
        assert joined == (b"\n".join(got.orders_json()), b"\n".join(got.trades_json()))
    return got


@settings(max_examples=300, deadline=None)
@given(slots())
def test_compiled_slot_equals_reference(slot: Slot) -> None:
    got = check(slot)
    assert ran_compiled(got)  # every order admitted: the kernel must have cleared it


@settings(max_examples=100, deadline=None)
@given(slots(admitted=False))
def test_slots_with_rejections_go_the_reference_way(slot: Slot) -> None:
    got = check(slot)
    assert ran_compiled(got) == (not got.rejected)


@pytest.mark.parametrize("mechanism", ["call", "midpoint"])
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_other_mechanisms_records_rendered_as_the_templates(
    mechanism: str, data: st.DataObject
) -> None:
    # The array passes clear these; with `compiled` on, their records come from the compiled
    # renderer, with it off from the per-row templates.
    slot = data.draw(slots(admitted=data.draw(st.booleans()), mechanism=mechanism))
    got = check(slot)
    assert not ran_compiled(got)
    assert got.records_text() is not None  # written by the compiled renderer


def test_large_slot_equals_reference() -> None:
    rng = np.random.default_rng(3)
    n, tags = 3000, ("pv", "battery", "phv")
    agents = tuple(f"home_{i:05d}" for i in range(n))
    params = ClearingParams(mechanism="cda", price_min=0, price_max=5000, tags=tags, seed=11)
    prices = rng.integers(1000, 3000, (n, 3)) // 50 * 50  # ties
    orders = OrderArrays(
        agent=rng.permutation(n).astype(np.int64),
        is_buy=rng.random(n) < 0.5,
        quantity_wh=rng.integers(1, 5000, n),
        prices=prices,
        sell_tag=rng.integers(0, 3, n),
        sell_price=prices[:, 0].copy(),
        id_suffix="@3",
    )
    got = check(Slot(params, agents, orders))
    assert ran_compiled(got)
    assert got.n_trades > 500


def test_sums_beyond_int64_go_the_reference_way() -> None:
    # Quantity x price summed per tag passes 2**63: tag_prices sums it in Python ints, so the
    # kernel must hand the slot over rather than overflow.
    n = 20
    agents = tuple(f"a{i}" for i in range(n))
    params = ClearingParams(mechanism="cda", price_min=0, price_max=MAX_PRICE_TICKS, tags=("pv",))
    orders = OrderArrays(
        agent=np.arange(n, dtype=np.int64),
        is_buy=np.arange(n) % 2 == 0,
        quantity_wh=np.full(n, MAX_QUANTITY_WH, dtype=np.int64),
        prices=np.full((n, 1), MAX_PRICE_TICKS, dtype=np.int64),
        sell_tag=np.zeros(n, dtype=np.int64),
        sell_price=np.full(n, MAX_PRICE_TICKS, dtype=np.int64),
        id_suffix="@1",
    )
    got = check(Slot(params, agents, orders))
    assert not ran_compiled(got)
    assert got.clearing_prices.tolist() == [MAX_PRICE_TICKS]
    assert int(got.volume_wh[0]) * MAX_PRICE_TICKS >= 2**63


def test_malformed_columns_raise_as_before() -> None:
    params = ClearingParams(mechanism="cda", price_min=0, price_max=10, tags=("pv", "battery"))
    agents = ("a0", "a1", "a2")
    orders = OrderArrays(
        agent=np.asarray([0, 1, 2], dtype=np.int64),
        is_buy=np.asarray([True, False, True]),
        quantity_wh=np.asarray([5, 7, 3], dtype=np.int64),
        prices=np.asarray([[6, 4], [0, 0], [9, 1]], dtype=np.int64),
        sell_tag=np.asarray([0, 1, 0], dtype=np.int64),
        sell_price=np.asarray([0, 2, 0], dtype=np.int64),
        id_suffix="@2",
    )
    assert ran_compiled(check(Slot(params, agents, orders)))
    # Big-endian int64: another dtype object, not the kernel's input; the reference path
    # refuses it as before.
    exchange = ArrayExchange(params, agents)
    with pytest.raises(ValueError, match="quantity_wh must be int64, got >i8"):
        exchange.clear(replace(orders, quantity_wh=orders.quantity_wh.astype(">i8")))
    # Malformed columns still raise the reference path's errors.
    with pytest.raises(ValueError, match="agent must be a 1-d array of indices"):
        exchange.clear(replace(orders, agent=np.asarray([0, 1, 3], dtype=np.int64)))
    with pytest.raises(ValueError, match="sell_tag of a sell order must be a tag code"):
        exchange.clear(replace(orders, sell_tag=np.asarray([0, 2, 0], dtype=np.int64)))
    with pytest.raises(ValueError, match=r"prices has shape \(3, 3\)"):
        exchange.clear(replace(orders, prices=np.zeros((3, 3), dtype=np.int64)))


def _one_buy_one_sell() -> tuple[ClearingParams, OrderArrays]:
    """A one-tag slot: a0 buys 5 Wh up to 6 ticks, a1 sells 7 Wh from 2 ticks."""
    params = ClearingParams(mechanism="cda", price_min=0, price_max=10, tags=("pv",))
    orders = OrderArrays(
        agent=np.asarray([0, 1], dtype=np.int64),
        is_buy=np.asarray([True, False]),
        quantity_wh=np.asarray([5, 7], dtype=np.int64),
        prices=np.asarray([[6], [0]], dtype=np.int64),
        sell_tag=np.asarray([0, 0], dtype=np.int64),
        sell_price=np.asarray([0, 2], dtype=np.int64),
    )
    return params, orders


def test_use_python_turns_the_kernel_off() -> None:
    params, orders = _one_buy_one_sell()
    exchange = ArrayExchange(params, ("a0", "a1"))
    cda.use_python()
    python = exchange.clear(orders)
    assert not ran_compiled(python)
    cda.use_python(False)  # (the fixture does it too, should an assertion fail first)
    compiled = exchange.clear(orders)
    assert ran_compiled(compiled)
    assert_same(compiled, python)


@settings(max_examples=100, deadline=None)
@given(
    n_agents=st.integers(0, 40),
    n_tags=st.integers(1, 5),
    seed=st.integers(0, 2**32 - 1),
)
def test_table_orders_equal_the_numpy_passes(n_agents: int, n_tags: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    side = rng.integers(0, 3, n_agents).astype(np.int8)  # no order, buy (1), sell (2)
    quantity = rng.integers(-5, 100, n_agents)
    prices = rng.integers(0, 50, (n_agents, n_tags))
    sell_tag = rng.integers(0, n_tags, n_agents)
    got = table_orders(side, 1, quantity, prices, sell_tag, "@4")
    rows = side.nonzero()[0]
    expected = {
        "agent": rows,
        "is_buy": side[rows] == 1,
        "quantity_wh": quantity[rows],
        "prices": prices[rows],
        "sell_tag": sell_tag[rows],
        "sell_price": prices[rows, sell_tag[rows]],
    }
    for name, column in expected.items():
        value = getattr(got, name)
        assert value.dtype == column.dtype, name
        assert value.shape == column.shape, name
        assert np.array_equal(value, column), name
    assert got.id_suffix == "@4"
    assert got.accepts is None
    # The kernel's columns are the compiled slot's input as they are.
    agents = tuple(f"a{i}" for i in range(n_agents))
    params = ClearingParams(mechanism="cda", price_min=0, price_max=50, tags=ALL_TAGS[:n_tags])
    cleared = ArrayExchange(params, agents).clear(got)
    assert ran_compiled(cleared) == bool((got.quantity_wh > 0).all())


def test_table_orders_runs_compiled_here_and_says_why_not_elsewhere(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import exchange.arrays as arrays

    assert arrays.rows_backend() == "compiled"
    side = np.asarray([1, 0, 2, 2], dtype=np.int8)
    prices = np.arange(8, dtype=np.int64).reshape(4, 2)
    quantity = np.asarray([7, 8, 9, 10], dtype=np.int64)
    sell_tag = np.asarray([0, 0, 1, 0], dtype=np.int64)
    compiled = table_orders(side, 1, quantity, prices, sell_tag)
    # As if numba were not installed: the numpy passes, the same columns, and the reason.
    monkeypatch.setitem(sys.modules, "exchange._rows_kernel", None)
    monkeypatch.setattr(arrays, "_rows_kernel_tried", False)
    monkeypatch.setattr(arrays, "_rows_kernel", None)
    monkeypatch.setattr(arrays, "_rows_kernel_error", None)
    assert arrays.rows_backend().startswith("numpy (ModuleNotFoundError(")
    numpy_passes = table_orders(side, 1, quantity, prices, sell_tag)
    for name in ("agent", "is_buy", "quantity_wh", "prices", "sell_tag", "sell_price"):
        assert np.array_equal(getattr(numpy_passes, name), getattr(compiled, name)), name


def test_table_orders_outside_the_kernel() -> None:
    side = np.asarray([1, 0, 2], dtype=np.int8)
    prices = np.asarray([[1, 2], [3, 4], [5, 6]], dtype=np.int64)
    quantity = np.asarray([7, 8, 9], dtype=np.int64)
    # Other dtypes and out-of-range sell tags take the numpy passes, with numpy's meaning.
    got = table_orders(side.astype(np.int64), 1, quantity, prices, np.asarray([0, 0, 1]))
    assert got.sell_price.tolist() == [1, 6]
    with pytest.raises(IndexError):
        table_orders(side, 1, quantity, prices, np.asarray([0, 0, 2], dtype=np.int64))
    wrapped = table_orders(side, 1, quantity, prices, np.asarray([0, 0, -1], dtype=np.int64))
    assert wrapped.sell_price.tolist() == [1, 6]


def test_compiled_clearing_is_a_complete_dataclass() -> None:
    # The compiled slot fills the instance without the dataclass's __init__: every field is
    # there, and it stays frozen.
    params, orders = _one_buy_one_sell()
    cleared = ArrayExchange(params, ("a0", "a1")).clear(orders)
    assert ran_compiled(cleared)
    assert set(vars(cleared)) == {f.name for f in fields(ArrayClearing)}
    with pytest.raises(FrozenInstanceError):
        cleared.price = cleared.amount  # type: ignore[misc]
    assert "ArrayClearing(exchange=" in repr(cleared)


@st.composite
def fragment_tables(draw: st.DrawFn) -> tuple[list[bytes], list[int], list[int], str]:
    """Fragments of literal text, ``%d``, ``%%`` and NULs; codes; the values they take; a
    suffix."""
    text = st.binary(max_size=6).map(lambda b: b.replace(b"%", b"").replace(b"\x00", b""))
    piece = text | st.sampled_from((b"%d", b"%%", b"\x00", b"\n"))
    fragments = draw(st.lists(st.lists(piece, max_size=6).map(b"".join), min_size=1, max_size=6))
    codes = draw(st.lists(st.integers(0, len(fragments) - 1), max_size=12))
    # As Python reads a format: left to right, "%%" before "%d" ("%%d" takes no value).
    n_values = sum(re.findall(rb"%%|%d", fragments[c]).count(b"%d") for c in codes)
    value = st.integers(-(2**63), 2**63 - 1) | st.integers(-12, 12)
    values = draw(st.lists(value, min_size=n_values, max_size=n_values))
    return fragments, codes, values, draw(st.sampled_from(SUFFIXES))


@settings(max_examples=200, deadline=None)
@given(fragment_tables())
def test_compiled_render_equals_python_formatting(
    table: tuple[list[bytes], list[int], list[int], str],
) -> None:
    fragments, codes, values, suffix = table
    fragment_array = arrays._objects(fragments)
    code_array = np.asarray(codes, dtype=np.int64)
    value_array = np.asarray(values, dtype=np.int64)
    suffix_text = arrays._json_text(suffix).encode("utf-8")
    python = arrays._format(fragment_array, code_array, value_array, suffix_text)
    assert python == (b"".join(fragments[c] for c in codes) % tuple(values)).replace(
        b"\x00", suffix_text
    )
    ok, compiled = _cda_kernel.render(
        *arrays._parse_fragments(fragments),
        code_array,
        value_array,
        np.frombuffer(suffix_text, dtype=np.uint8),
        arrays._VALUE_OP,
        arrays._SUFFIX_OP,
    )
    # The kernel leaves only the least int64 to Python (it has no int64 magnitude).
    assert ok == (-(2**63) not in values)
    if ok:
        assert compiled.dtype == np.uint8
        assert compiled.tobytes() == python


def test_fragments_hold_only_known_directives() -> None:
    with pytest.raises(ValueError, match="other than %d"):
        arrays._parse_fragments([b'{"a":%s}'])
    with pytest.raises(ValueError, match="other than %d"):
        arrays._parse_fragments([b"%d%"])


def _expanded(ops: arrays.FragmentOps) -> list[list[tuple[int, bytes]]]:
    """Per fragment, its operations as (kind, literal bytes)."""
    literals, kind, start, end, fragment_ops = ops
    return [
        [
            (int(kind[o]), bytes(literals[start[o] : end[o]]) if kind[o] == 0 else b"")
            for o in range(fragment_ops[f], fragment_ops[f + 1])
        ]
        for f in range(fragment_ops.shape[0] - 1)
    ]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.lists(
            st.binary(max_size=5) | st.sampled_from((b"%d", b"%%", b"\x00", b"%", b"d")),
            max_size=6,
        ).map(b"".join),
        max_size=6,
    )
)
def test_fragments_parsed_at_once_as_one_by_one(fragments: list[bytes]) -> None:
    try:
        expected = _expanded(arrays._parse_each(fragments))
    except ValueError:
        with pytest.raises(ValueError, match="other than %d"):
            arrays._parse_fragments(fragments)
    else:
        assert _expanded(arrays._parse_fragments(fragments)) == expected


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(0, 300),
    seed=st.one_of(st.integers(0, 2**63 - 1), st.sampled_from([0, 1, 2**63 - 1, 2**62])),
)
def test_compiled_arrival_keys_are_splitmix64(n: int, seed: int) -> None:
    """The compiled slot's arrival keys are :func:`exchange.book.arrival_keys`, bit for bit
    (uint64 wrapping arithmetic, seeds near 2**63 included)."""
    from exchange.book import arrival_keys, arrival_start

    kernel = cda.arrival_keys_kernel()
    assert kernel is not None
    keys = kernel(n, arrival_start(seed))
    expected = arrival_keys(n, seed)
    assert keys.dtype == expected.dtype == np.uint64
    assert keys.tobytes() == expected.tobytes()


# -- many slots in one call: ArrayExchange.clear_tables ------------------------------------------


@dataclass
class Tables:
    params: ClearingParams
    agents: tuple[str, ...]
    side: np.ndarray
    quantity: np.ndarray
    prices: np.ndarray
    sell_tag: np.ndarray
    seeds: list[int]
    suffixes: list[str]


@st.composite
def tables(draw: st.DrawFn) -> Tables:
    """``B`` per-agent order tables of one exchange; some with an order to reject (a
    quantity or a price out of bounds) or, rarely, a sell tag outside the tags."""
    n_tags = draw(st.integers(1, len(ALL_TAGS)))
    tags = tuple(draw(st.permutations(ALL_TAGS))[:n_tags])
    n_agents = draw(st.integers(1, len(NAMES)))
    agents = tuple(draw(st.permutations(NAMES))[:n_agents])
    lo, hi = draw(st.integers(0, 3)), draw(st.integers(4, 9))
    table = None
    sell_tag = np.asarray(
        [draw(st.integers(0, n_tags - 1)) for _ in range(n_agents)], dtype=np.int64
    )
    if draw(st.booleans()):  # each agent may sell its own tag only
        table = agent_tags({a: (tags[t],) for a, t in zip(agents, sell_tag.tolist(), strict=True)})
    params = ClearingParams(
        mechanism="cda",
        price_min=lo,
        price_max=hi,
        tags=tags,
        tag_order=draw(st.sampled_from(("price", "config"))),
        agents=table,
    )
    batch = draw(st.integers(0, 6))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    side = rng.integers(0, 3, (batch, n_agents)).astype(np.int8)  # none, buy (1), sell (2)
    quantity = rng.integers(1, 41, (batch, n_agents))
    prices = rng.integers(lo, hi + 1, (batch, n_agents, n_tags))
    for b in range(batch):
        if draw(st.integers(0, 3)) == 0:  # an order to reject: the slot goes alone
            a = draw(st.integers(0, n_agents - 1))
            if draw(st.booleans()):
                quantity[b, a] = draw(st.sampled_from((0, -2, MAX_QUANTITY_WH + 1)))
            else:
                prices[b, a, draw(st.integers(0, n_tags - 1))] = draw(
                    st.sampled_from((lo - 1, hi + 1))
                )
    if draw(st.integers(0, 9)) == 0:
        sell_tag[draw(st.integers(0, n_agents - 1))] = draw(st.sampled_from((-1, n_tags)))
    seeds = [draw(st.integers(0, 2**64 - 1)) for _ in range(batch)]
    suffixes = [draw(st.sampled_from(SUFFIXES)) for _ in range(batch)]
    return Tables(params, agents, side, quantity, prices, sell_tag, seeds, suffixes)


@settings(max_examples=200, deadline=None)
@given(tables())
def test_clear_tables_equals_each_slot_cleared_alone(t: Tables) -> None:
    """Slot ``b`` of one call is ``clear(table_orders(...))`` of its table, column for column and
    byte for byte; exactly the slots that one call could not clear (an order to reject, a sell
    tag outside the tags) are left to that path."""
    exchange = ArrayExchange(t.params, t.agents)
    got = exchange.clear_tables(t.side, 1, t.quantity, t.prices, t.sell_tag, t.seeds, t.suffixes)
    assert got is not None
    cleared = got.cleared()
    assert len(cleared) == t.side.shape[0]
    bad_tag = (t.sell_tag < 0) | (t.sell_tag >= len(t.params.tags))
    for b, here in enumerate(cleared):
        if (bad_tag & (t.side[b] != 0)).any():  # a table of the numpy passes' meaning
            assert not here
            continue
        orders = table_orders(t.side[b], 1, t.quantity[b], t.prices[b], t.sell_tag, t.suffixes[b])
        alone = exchange.clear(orders, t.seeds[b])
        assert here == ran_compiled(alone)
        if not here:
            with pytest.raises(ValueError, match="not cleared by clear_tables"):
                got.clearing(b)
            assert got.records_texts()[b] == (b"", b"")
            continue
        batched = got.clearing(b)
        assert_same(batched, alone)
        assert batched.records_text() == alone.records_text() == got.records_texts()[b]
        assert batched.params.seed == t.seeds[b]
        # The batch's arrays hold the slot's sums and prices.
        bought, sold, paid, received, by_tag = alone.totals()
        for row, column in enumerate((bought, sold, paid, received)):
            assert np.array_equal(got.totals[row, b], column)
        assert np.array_equal(got.by_tag[b], by_tag)
        assert np.array_equal(got.market[0, b], alone.clearing_prices)
        assert np.array_equal(got.market[1, b], alone.volume_wh)
        t0, t1 = got.index[1, b : b + 2].tolist()
        expected = np.stack((alone.buyer, alone.seller, alone.tag, alone.quantity_wh, alone.amount))
        assert np.array_equal(got.trades[2:7, t0:t1], expected)


def test_clear_tables_declines_what_it_cannot_clear() -> None:
    params = ClearingParams(mechanism="cda", price_min=1, price_max=9, tags=("pv", "battery"))
    exchange = ArrayExchange(params, ("a", "b", "c"))
    side = np.asarray([[1, 2, 0]], dtype=np.int8)
    quantity = np.asarray([[5, 5, 0]], dtype=np.int64)
    prices = np.full((1, 3, 2), 5, dtype=np.int64)
    sell_tag = np.zeros(3, dtype=np.int64)
    assert exchange.clear_tables(side, 1, quantity, prices, sell_tag, [1], ["@0"]) is not None
    # Other dtypes or shapes, the reference switch, another mechanism: the caller's path.
    assert (
        exchange.clear_tables(side.astype(np.int64), 1, quantity, prices, sell_tag, [1], ["@0"])
        is None
    )
    assert exchange.clear_tables(side, 1, quantity, prices[:, :, :1], sell_tag, [1], ["@0"]) is None
    exchange.compiled = False
    assert exchange.clear_tables(side, 1, quantity, prices, sell_tag, [1], ["@0"]) is None
    call = ArrayExchange(replace(params, mechanism="call"), ("a", "b", "c"))
    assert call.clear_tables(side, 1, quantity, prices, sell_tag, [1], ["@0"]) is None
    with pytest.raises(ValueError, match="1 slots, 2 seeds and 1 id suffixes"):
        ArrayExchange(params, ("a", "b", "c")).clear_tables(
            side, 1, quantity, prices, sell_tag, [1, 2], ["@0"]
        )
    with pytest.raises(ValueError, match=r"seed must be an int in \[0, 2\*\*64\), got -1"):
        ArrayExchange(params, ("a", "b", "c")).clear_tables(
            side, 1, quantity, prices, sell_tag, [-1], ["@0"]
        )
