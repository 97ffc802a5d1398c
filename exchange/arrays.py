"""Clearing straight from arrays: one slot's orders as columns, trades back as columns.

:func:`exchange.clear` takes :class:`~exchange.orders.Order` objects, which suits a ledger replay
or a user's script; a simulator that already holds every agent's order as a row of numpy arrays
would pay a Python object per order (and per trade) for nothing. :class:`ArrayExchange` is built
once per community (its agents and what each may sell, from
:attr:`ClearingParams.agents <exchange.params.ClearingParams.agents>`) and clears
:class:`OrderArrays`:

* **validation** runs as a few array passes; the orders it rejects are the ones
  :func:`exchange.validation.validate` rejects, and their reasons and details come from the same
  checks (run on just those orders, rebuilt as :class:`~exchange.orders.Order`);
* the **book** is built by :func:`exchange.book.book_from_arrays`, the core that
  :func:`~exchange.book.build_book` uses too, and **any registered mechanism** matches it;
* the **trades** come back as int64 columns in the exchange's trade sequence, with prices and
  volumes per tag, and their canonical JSON is written from %-format templates.

The usual slot of a simulator (``cda``, every order admitted, no ``accepts`` matrix) skips all
of that: one compiled call (:func:`exchange.mechanisms._cda_kernel.clear_slot`, numba) validates,
builds the book, matches, prices, sums per agent (:meth:`ArrayClearing.totals`) and lays out the
records' JSON, so that a 30-order slot costs one call instead of a hundred numpy calls of a few
microseconds each. Any other slot, or ``ArrayExchange.compiled = False``, takes the array passes
above (their records still written by the compiled renderer where there is no ``accepts``
matrix): the reference, tested equal column for column and byte for byte.
:func:`table_orders` turns a per-agent table (decoded actions) into :class:`OrderArrays` the same
way, in one call, and :meth:`ArrayExchange.clear_tables` does both for the tables of ``B`` slots
at once (``B`` communities of one layout, each with its own seed): one compiled call, the slots'
outputs one after the other (:class:`TableClearings`), each slot's :class:`ArrayClearing` built
only when asked for.

The result equals ``clear(orders, params)`` on the same orders (:meth:`ArrayClearing.to_result`
builds that :class:`~exchange.results.ClearingResult` on demand; tested for every mechanism).

What the columns cannot express is not checked: quantities and prices are int64, so never
floats; a buy's tags come from a mask, so never duplicated or unknown; a sell's tag is a code of
:attr:`ClearingParams.tags`. Order ids are ``agent + id_suffix``, unique per agent, so a
``duplicate_id`` means one agent submitting twice. Malformed *columns* (shapes, an agent index
outside the table, a tag code outside the tags) are the caller's bug and raise ``ValueError``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from itertools import accumulate
from typing import Any

import numpy as np
import numpy.typing as npt

from exchange.book import arrival_start, arrival_starts, book_from_arrays
from exchange.clearing import INT64_SAFE_TOTAL, match_book, tag_prices
from exchange.orders import Order
from exchange.params import ClearingParams
from exchange.results import ClearingResult, Trade, Unfilled
from exchange.units import (
    MAX_PRICE_TICKS,
    MAX_QUANTITY_WH,
    MONEY_DIVISOR,
    Int64Array,
    money_array,
)
from exchange.validation import Rejection, check_order

BoolArray = npt.NDArray[np.bool_]
ObjectArray = npt.NDArray[np.object_]

_INT64 = np.dtype(np.int64)
_INT8 = np.dtype(np.int8)
_BOOL = np.dtype(np.bool_)
# What the slot kernel returns when every order was admitted (its _cda_kernel.SLOT_OK; kept
# here too so that importing this module does not import numba).
_SLOT_OK = 0


def _json_text(value: str) -> str:
    """A string's JSON text without its quotes, as the canonical encoders write it."""
    if value.isascii() and value.isprintable() and '"' not in value and "\\" not in value:
        return value  # nothing to escape (the usual "@<slot>" id suffix): skip the encoder
    return json.dumps(value, ensure_ascii=False)[1:-1]


@dataclass(frozen=True, slots=True, eq=False)
class OrderArrays:
    """One slot's orders as columns, one row per order in submission order.

    Every integer column is int64.

    Attributes:
        agent: Index of each order's agent in :attr:`ArrayExchange.agents`.
        is_buy: True for buy orders, False for sell orders.
        quantity_wh: Wh per order.
        prices: ``orders x tags``: a buy order's limit per tag code (ignored on sell rows).
        sell_tag: A sell order's tag code (ignored on buy rows).
        sell_price: A sell order's limit, ticks (ignored on buy rows).
        id_suffix: Each order's id is its agent's name followed by this (``"@17"``).
        accepts: ``orders x tags``: the tags a buy order accepts; ``None``: every tag.
    """

    agent: Int64Array
    is_buy: BoolArray
    quantity_wh: Int64Array
    prices: Int64Array
    sell_tag: Int64Array
    sell_price: Int64Array
    id_suffix: str = ""
    accepts: BoolArray | None = None

    @property
    def n_orders(self) -> int:
        """Number of rows (submitted orders)."""
        return int(self.agent.shape[0])


class ArrayExchange:
    """Clears :class:`OrderArrays` for one community (see the module docstring).

    Args:
        params: The clearing parameters (the seed is given per :meth:`clear`).
        agents: Agent names; an order's ``agent`` column indexes this. Names must be unique
            strings. With ``params.agents`` set, a name missing there is an ``unknown_agent``
            and each agent may sell only its listed tags; with ``None`` any agent sells any tag.

    Raises:
        ValueError: If a name is not a string or appears twice.
    """

    row_path_max: int = 256
    """:meth:`orders_json` encodes up to this many rows in one pass in row order, more per
    side from columns (the same bytes; tests force each path)."""

    compiled: bool = True
    """Clear the usual slot (``cda``, every order admitted, no ``accepts``) in one compiled
    call (:func:`exchange.mechanisms._cda_kernel.clear_slot`) where numba imports, and write
    the records of any other slot without ``accepts`` with its renderer; ``False`` always takes
    the array passes and the per-row templates (the reference both are tested against)."""

    def __init__(self, params: ClearingParams, agents: Sequence[str]) -> None:
        names = tuple(agents)
        for name in names:
            if not isinstance(name, str):
                raise ValueError(f"agents must be strings, got {type(name).__name__} {name!r}")
        if len(set(names)) != len(names):
            raise ValueError("agents must be unique names (an order's id is its agent's name)")
        self.params = params
        self._param_fields = [(f.name, getattr(params, f.name)) for f in fields(params)]
        self.agents = names
        self.tags = params.tags
        n_tags = len(self.tags)
        code = {tag: i for i, tag in enumerate(self.tags)}
        allowed = np.ones((len(names), n_tags), dtype=bool)
        known = np.ones(len(names), dtype=bool)
        self._allowed_map: dict[str, frozenset[str]] | None = None
        if params.agents is not None:
            table = {agent: frozenset(tags) for agent, tags in params.agents}
            self._allowed_map = table
            allowed[:] = False
            for i, name in enumerate(names):
                if name not in table:
                    known[i] = False
                for tag in table.get(name, ()):
                    allowed[i, code[tag]] = True
        # An empty name fails invalid_agent (and invalid_id too when the suffix is empty).
        self._agent_ok = known & np.asarray([bool(n) for n in names], dtype=bool)
        self._all_agents_ok = bool(self._agent_ok.all())
        self._cycle = np.zeros(0, dtype=np.int64)
        self._allowed = allowed
        self._name_text = [_json_text(n) for n in names]
        self._tag_text = [json.dumps(t, ensure_ascii=False) for t in self.tags]
        # Object arrays of the same texts: one fancy index picks a column of them.
        self._name_objects = np.asarray(self._name_text, dtype=object)
        self._tag_objects = np.asarray(self._tag_text, dtype=object)
        # A buy record's "prices" object lists the tags sorted by name.
        sorted_codes = [code[t] for t in sorted(self.tags)]
        self._sorted_codes = (
            None if sorted_codes == list(range(n_tags)) else np.asarray(sorted_codes)
        )
        price_fields = ",".join(self._tag_text[c].replace("%", "%%") + ":%d" for c in sorted_codes)
        self._buy_tail = '"prices":{' + price_fields + '},"quantity_wh":%d,"side":"buy"}'
        self._all_sorted_codes = np.asarray(sorted_codes, dtype=np.int64)
        # The compiled slot's records: each is a few of these bytes %-format fragments, and
        # all of them are written as one text (by the kernel; _format is the reference), each
        # after a newline, which canonical JSON never holds unescaped: one split gives every
        # record. The id suffix changes per slot: a NUL byte (never unescaped in canonical
        # JSON either) stands for it.
        name_bytes = [n.replace("%", "%%").encode("utf-8") for n in self._name_text]
        tag_bytes = [t.replace("%", "%%").encode("utf-8") for t in self._tag_text]
        self._fragments = _objects(
            # Orders: per agent, the head of its record; a buy's tail; per tag, a sell's tail.
            [b'\n{"agent":"' + n + b'","id":"' + n + b'\x00",' for n in name_bytes]
            + [self._buy_tail.encode("utf-8")]
            + [b'"price":%d,"quantity_wh":%d,"side":"sell","tag":' + t + b"}" for t in tag_bytes]
            # Trades: the head; per agent, as the buyer; per agent, as the seller; per tag.
            + [b'\n{"amount":%d,"buy":"']
            + [
                n + b'\x00","buyer":"' + n + b'","price":%d,"quantity_wh":%d,"sell":"'
                for n in name_bytes
            ]
            + [n + b'\x00","seller":"' + n + b'","tag":' for n in name_bytes]
            + [t + b"}" for t in tag_bytes]
        )
        # The same fragments parsed into operations, for the compiled renderer.
        self._fragment_ops = _parse_fragments(self._fragments.tolist())
        # What the compiled slot takes after its order columns and keys, the same every slot
        # (the parameters differ only in the seed): allowed ... fragment_ops of clear_slot.
        self._slot_constants = (
            self._allowed,
            self._agent_ok,
            self._all_sorted_codes,
            params.price_min,
            params.price_max,
            MAX_QUANTITY_WH,
            INT64_SAFE_TOTAL,
            params.tag_order == "price",
            MAX_PRICE_TICKS,
            MONEY_DIVISOR,
            *self._fragment_ops,
        )
        # The mechanisms register on import in the registry's order, which the parameters
        # above have loaded: importing the cda module only now keeps that order.
        from exchange.mechanisms import cda

        self._cda = cda

    def with_seed(self, seed: int) -> ClearingParams:
        """The parameters with ``seed``: a copy of the validated ones, without validating the
        agent table again (``ClearingParams.replace`` would, O(agents log agents)).

        Raises:
            ValueError: If ``seed`` is not an int in [0, 2**64).
        """
        if type(seed) is not int or not 0 <= seed < 2**64:
            raise ValueError(f"seed must be an int in [0, 2**64), got {seed!r}")
        # Field by field onto a bare instance: copy.copy of a slotted dataclass goes through
        # __reduce_ex__ and costs several times more.
        params = object.__new__(ClearingParams)
        for name, value in self._param_fields:
            object.__setattr__(params, name, value)
        object.__setattr__(params, "seed", seed)
        return params

    def clear(self, orders: OrderArrays, seed: int | None = None) -> ArrayClearing:
        """Validate and clear ``orders``; equal to :func:`exchange.clear` on the same orders.

        Args:
            orders: The slot's orders.
            seed: The arrival-order seed; ``None`` keeps the parameters' own.

        Returns:
            The :class:`ArrayClearing`.

        Raises:
            ValueError: On malformed columns, or admitted quantities over 2**62 Wh in total.
        """
        params = self.params if seed is None else self.with_seed(seed)
        if self.compiled and orders.accepts is None and params.mechanism == "cda":
            cleared = self._clear_compiled(orders, params)
            if cleared is not None:
                return cleared
        return self._clear_arrays(orders, params)

    def _clear_compiled(self, orders: OrderArrays, params: ClearingParams) -> ArrayClearing | None:
        """The usual slot in one compiled call; ``None`` where it must go the reference way
        (numba missing, columns of other types or shapes, an order to reject, int64 bounds)."""
        kernel, keys = self._cda.slot_kernel(), self._cda.arrival_keys_kernel()
        if kernel is None or keys is None:
            return None
        agent, is_buy, quantity = orders.agent, orders.is_buy, orders.quantity_wh
        prices, sell_tag, sell_price = orders.prices, orders.sell_tag, orders.sell_price
        n = agent.shape[0]
        # The kernel reads without bounds checks: only columns of exactly the declared types
        # and shapes go in (anything else is checked, and refused, by the reference path).
        if not (
            agent.dtype == _INT64
            and is_buy.dtype == _BOOL
            and quantity.dtype == _INT64
            and prices.dtype == _INT64
            and sell_tag.dtype == _INT64
            and sell_price.dtype == _INT64
            and agent.shape == is_buy.shape == quantity.shape == sell_tag.shape == sell_price.shape
            and prices.shape == (n, len(self.tags))
        ):
            return None
        (
            status,
            trades,
            clearing_prices,
            volume,
            totals,
            by_tag,
            text,
        ) = kernel(
            agent,
            is_buy,
            quantity,
            prices,
            sell_tag,
            sell_price,
            keys(n, arrival_start(params.seed)),
            *self._slot_constants,
            np.frombuffer(_json_text(orders.id_suffix).encode("utf-8"), dtype=np.uint8),
            _VALUE_OP,
            _SUFFIX_OP,
        )
        if status != _SLOT_OK:
            return None
        return self._compiled_clearing(
            params, orders, trades, clearing_prices, volume, totals, by_tag, text.tobytes()
        )

    def clear_tables(
        self,
        side: npt.NDArray[np.int8],
        buy: int,
        quantity: Int64Array,
        prices: Int64Array,
        sell_tag: Int64Array,
        seeds: Sequence[int],
        id_suffixes: Sequence[str],
    ) -> TableClearings | None:
        """Clear ``B`` slots of per-agent order tables (``B`` communities of this exchange) in
        one compiled call: slot ``b`` is :func:`table_orders` of ``side[b]``, ``buy``,
        ``quantity[b]``, ``prices[b]``, ``sell_tag`` and ``id_suffixes[b]``, cleared by
        :meth:`clear` with ``seeds[b]``, and gives the same (tested).

        Args:
            side: ``B x agents`` int8: 0 (no order), ``buy`` or another value (a sell).
            buy: The ``side`` value of a buy.
            quantity: ``B x agents`` Wh (int64).
            prices: ``B x agents x tags``: each agent's limit per tag code (int64).
            sell_tag: Per agent, the tag code it would sell (int64; one for every slot).
            seeds: Per slot, its arrival-order seed.
            id_suffixes: Per slot, :attr:`OrderArrays.id_suffix`.

        Returns:
            The :class:`TableClearings`; a slot it could not clear (one with an order to reject,
            say) has :meth:`TableClearings.cleared` false, for :meth:`clear` to clear alone.
            ``None`` where no slot can take this path (``compiled`` off, numba missing, a
            mechanism other than ``cda``, columns of other types or shapes).

        Raises:
            ValueError: If ``seeds`` or ``id_suffixes`` do not give one per slot, or a seed is
                not an int in [0, 2**64).
        """
        kernel = self._cda.tables_kernel() if self.compiled else None
        params = self.params
        n_agents, n_tags = len(self.agents), len(self.tags)
        if (
            kernel is None
            or params.mechanism != "cda"
            or not (
                side.dtype == _INT8
                and quantity.dtype == _INT64
                and prices.dtype == _INT64
                and sell_tag.dtype == _INT64
                and side.ndim == 2
                and side.shape[1] == n_agents
                and quantity.shape == side.shape
                and prices.shape == (*side.shape, n_tags)
                and sell_tag.shape == (n_agents,)
            )
        ):
            return None
        batch = side.shape[0]
        if len(seeds) != batch or len(id_suffixes) != batch:
            raise ValueError(
                f"clear_tables: {batch} slots, {len(seeds)} seeds and {len(id_suffixes)} id "
                "suffixes: give one of each per slot"
            )
        for seed in seeds:
            if type(seed) is not int or not 0 <= seed < 2**64:
                raise ValueError(f"seed must be an int in [0, 2**64), got {seed!r}")
        suffixes = [_json_text(s).encode("utf-8") for s in id_suffixes]
        out = kernel(
            side,
            buy,
            quantity,
            prices,
            sell_tag,
            arrival_starts(seeds),
            *self._slot_constants,
            np.frombuffer(b"".join(suffixes), dtype=np.uint8),
            np.array([0, *accumulate(len(s) for s in suffixes)], dtype=np.int64),
            _VALUE_OP,
            _SUFFIX_OP,
        )
        # Filled directly, as _compiled_clearing fills an ArrayClearing (a frozen dataclass's
        # __init__ costs an object.__setattr__ per field).
        tables = object.__new__(TableClearings)
        tables.__dict__.update(
            zip(
                _TABLE_FIELDS,
                (self, tuple(seeds), tuple(id_suffixes), *out[:6], out[6].tobytes()),
                strict=True,
            )
        )
        return tables

    def _compiled_clearing(
        self,
        params: ClearingParams,
        orders: OrderArrays,
        trades: Int64Array,
        clearing_prices: Int64Array,
        volume: Int64Array,
        totals: Int64Array,
        by_tag: Int64Array,
        text: bytes,
    ) -> ArrayClearing:
        """The :class:`ArrayClearing` of a slot the compiled kernel cleared (every order
        admitted): ``trades`` ``8 x trades``, ``totals`` ``4 x agents`` and ``text`` as
        :func:`exchange.mechanisms._cda_kernel.clear_slot` gives them."""
        # The dataclass's __init__ sets its 16 fields one object.__setattr__ at a time, which
        # costs several times the rest of this method's Python: fill the instance dict
        # directly (the same fields and values; the class stays frozen for everyone else).
        cleared = object.__new__(ArrayClearing)
        cleared.__dict__.update(
            exchange=self,
            params=params,
            orders=orders,
            admitted=np.arange(orders.agent.shape[0], dtype=np.int64),
            rejected=(),
            buy_position=trades[0],
            sell_position=trades[1],
            buyer=trades[2],
            seller=trades[3],
            tag=trades[4],
            quantity_wh=trades[5],
            price=trades[6],
            amount=trades[7],
            clearing_prices=clearing_prices,
            volume_wh=volume,
            _cache={
                "compiled": True,
                "totals": (totals[0], totals[1], totals[2], totals[3], by_tag),
                "text": text,
            },
        )
        return cleared

    def _render(self, cleared: ArrayClearing) -> bytes | None:
        """The records of a slot the array passes cleared (orders then trades), written by the
        compiled slot's renderer; ``None`` where that cannot be (``compiled`` off, numba
        missing, an ``accepts`` matrix: a buy record lists only its accepted tags, or a value
        it leaves to Python). The columns were checked by :meth:`_check_shapes`."""
        orders = cleared.orders
        kernel = self._cda.records_kernel() if self.compiled else None
        if kernel is None or orders.accepts is not None:
            return None
        ok, text = kernel(
            orders.agent,
            orders.is_buy,
            orders.quantity_wh,
            orders.prices,
            orders.sell_tag,
            orders.sell_price,
            self._all_sorted_codes,
            len(self.agents),
            cleared.buyer,
            cleared.seller,
            cleared.tag,
            cleared.quantity_wh,
            cleared.price,
            cleared.amount,
            *self._fragment_ops,
            np.frombuffer(_json_text(orders.id_suffix).encode("utf-8"), dtype=np.uint8),
            _VALUE_OP,
            _SUFFIX_OP,
        )
        return text.tobytes() if ok else None

    def _clear_arrays(self, orders: OrderArrays, params: ClearingParams) -> ArrayClearing:
        """:meth:`clear` by array passes, a :class:`~exchange.book.Book` and the registered
        mechanism: any slot, and the reference the compiled slot is tested against."""
        self._check_shapes(orders)
        agent, is_buy, quantity = orders.agent, orders.is_buy, orders.quantity_wh
        prices, sell_price = orders.prices, orders.sell_price
        n = agent.shape[0]
        n_tags = len(self.tags)
        lo, hi = params.price_min, params.price_max
        # Orders per agent: more than one is a duplicate id. bincount also bounds the indices.
        counts = self._counts(agent)
        sell_tag = np.where(is_buy, 0, orders.sell_tag)
        if n and int(sell_tag.astype(np.uint64).max()) >= n_tags:  # negatives wrap high
            tags = orders.sell_tag[~is_buy]
            raise ValueError(
                f"OrderArrays.sell_tag of a sell order must be a tag code in [0, {n_tags}), "
                f"got values in [{int(tags.min())}, {int(tags.max())}]"
            )
        may_sell = self._allowed[agent, sell_tag] | is_buy

        # Validation. The usual slot has nothing to reject, which a few reductions prove (each
        # test is at least as strict as the rule it stands for); otherwise every rule is
        # evaluated per row, and validation's own checks name the reason of each rejected row.
        if n == 0 or (
            int(counts.max()) <= 1
            and (self._all_agents_ok or bool(self._agent_ok[agent].all()))
            and int(quantity.min()) > 0
            and int(quantity.max()) <= MAX_QUANTITY_WH
            and bool(may_sell.all())
            and lo <= int(prices.min())
            and int(prices.max()) <= hi
            and lo <= int(sell_price.min())
            and int(sell_price.max()) <= hi
            and (orders.accepts is None or bool((orders.accepts.any(axis=1) | ~is_buy).all()))
        ):
            all_admitted = True
            admitted = np.arange(n, dtype=np.int64)
            rejected: tuple[Rejection, ...] = ()
            admitted_buy = is_buy
            sell_rows = (~is_buy).nonzero()[0]
            buy_index = is_buy.nonzero()[0]
            buy_rows = buy_index
        else:
            duplicated = counts[agent] > 1
            bad = ~self._agent_ok[agent] | (quantity <= 0) | (quantity > MAX_QUANTITY_WH)
            bad |= duplicated
            sell_bad = ~may_sell | (sell_price < lo) | (sell_price > hi)
            out_of_bounds = (prices < lo) | (prices > hi)
            if orders.accepts is None:
                buy_bad = out_of_bounds.any(axis=1)
            else:
                accepts = orders.accepts
                buy_bad = (out_of_bounds & accepts).any(axis=1) | ~accepts.any(axis=1)
            bad |= np.where(is_buy, buy_bad, sell_bad)
            all_admitted = False
            admitted = (~bad).nonzero()[0]
            rejected = self._rejections(orders, params, bad.nonzero()[0], duplicated)
            admitted_buy = is_buy[admitted]
            sell_rows = admitted[~admitted_buy]
            buy_index = admitted_buy.nonzero()[0]
            buy_rows = admitted[buy_index]

        # The book: sells and buy legs of the admitted rows.
        if orders.accepts is None:
            n_legs = buy_index.shape[0] * n_tags
            leg_order = buy_index.repeat(n_tags)
            leg_tag = self._tag_cycle(n_legs)
            leg_price = prices[buy_rows].reshape(-1)
        else:
            row, leg_tag = np.nonzero(orders.accepts[buy_rows])
            leg_order = buy_index[row]
            leg_price = prices[buy_rows[row], leg_tag]
        book = book_from_arrays(
            params,
            n_submitted=n,
            positions=admitted,
            is_buy=admitted_buy,
            quantity=quantity if all_admitted else quantity[admitted],
            sell_tag=sell_tag[sell_rows],
            sell_price=sell_price[sell_rows],
            leg_order=leg_order,
            leg_tag=leg_tag.astype(np.int64, copy=False),
            leg_price=leg_price,
        )
        matches = match_book(book, params.mechanism)

        traded = matches.quantity
        volume = np.zeros(n_tags, dtype=np.int64)
        np.add.at(volume, matches.tag, traded)
        # Admitted index -> row (the same when every row was admitted).
        buy_position = matches.buy if all_admitted else admitted[matches.buy]
        sell_position = matches.sell if all_admitted else admitted[matches.sell]
        return ArrayClearing(
            exchange=self,
            params=params,
            orders=orders,
            admitted=admitted,
            rejected=rejected,
            buy_position=buy_position,
            sell_position=sell_position,
            buyer=agent[buy_position],
            seller=agent[sell_position],
            tag=matches.tag,
            quantity_wh=traded,
            price=matches.price,
            amount=money_array(traded, matches.price),
            clearing_prices=tag_prices(matches, volume),
            volume_wh=volume,
        )

    def _check_shapes(self, orders: OrderArrays) -> None:
        n = orders.agent.shape[0]
        n_tags = len(self.tags)
        shapes = [
            ("is_buy", orders.is_buy.shape, (n,)),
            ("quantity_wh", orders.quantity_wh.shape, (n,)),
            ("prices", orders.prices.shape, (n, n_tags)),
            ("sell_tag", orders.sell_tag.shape, (n,)),
            ("sell_price", orders.sell_price.shape, (n,)),
        ]
        if orders.accepts is not None:
            shapes.append(("accepts", orders.accepts.shape, (n, n_tags)))
        for name, shape, expected in shapes:
            if shape != expected:
                raise ValueError(f"OrderArrays.{name} has shape {shape}, expected {expected}")
        if orders.is_buy.dtype != np.bool_:
            raise ValueError(f"OrderArrays.is_buy must be bool, got {orders.is_buy.dtype}")
        # int64 throughout: the mechanisms shift and multiply prices and quantities.
        for name, dtype in (
            ("agent", orders.agent.dtype),
            ("quantity_wh", orders.quantity_wh.dtype),
            ("prices", orders.prices.dtype),
            ("sell_tag", orders.sell_tag.dtype),
            ("sell_price", orders.sell_price.dtype),
        ):
            if dtype != np.int64:
                raise ValueError(f"OrderArrays.{name} must be int64, got {dtype}")

    def _counts(self, agent: Int64Array) -> Int64Array:
        """Orders per agent index; raises naming the values if one is not an index."""
        n_agents = len(self.agents)
        bad = agent.ndim != 1
        if not bad and agent.shape[0]:
            try:
                counts: Int64Array = np.bincount(agent, minlength=n_agents)
            except (ValueError, TypeError):  # negative, or not integers
                bad = True
            else:
                bad = counts.shape[0] != n_agents
        else:
            counts = np.zeros(n_agents, dtype=np.int64)
        if bad:
            raise ValueError(
                f"OrderArrays.agent must be a 1-d array of indices of the {n_agents} agents, "
                f"got {agent!r}"
            )
        return counts

    def _tag_cycle(self, n_legs: int) -> Int64Array:
        """``0, 1, ..., T-1, 0, 1, ...`` (``n_legs`` values): the legs' tags when every buy
        accepts every tag. Grown as needed and sliced: the same for every slot."""
        if self._cycle.shape[0] < n_legs:
            n_tags = len(self.tags)
            repeats = max(n_legs // n_tags, 2 * self._cycle.shape[0] // n_tags, len(self.agents))
            self._cycle = np.tile(np.arange(n_tags, dtype=np.int64), repeats + 1)
        return self._cycle[:n_legs]

    def _rejections(
        self,
        orders: OrderArrays,
        params: ClearingParams,
        rows: Int64Array,
        duplicated: BoolArray,
    ) -> tuple[Rejection, ...]:
        # The reasons and details are validation's own: the rejected rows are rebuilt as
        # Orders and checked by the same function, so the two paths cannot drift apart.
        suffix = orders.id_suffix
        twice = {self.agents[a] + suffix for a in orders.agent[duplicated].tolist()}
        tags = frozenset(self.tags)
        out: list[Rejection] = []
        for row in rows.tolist():
            order = self.order(orders, row)
            problem = check_order(
                order, twice, tags, self._allowed_map, params.price_min, params.price_max
            )
            if problem is None:  # pragma: no cover - the masks above and check_order disagree
                raise AssertionError(f"row {row} ({order}) was rejected by the array checks only")
            out.append(Rejection(order.id, order.agent, *problem))
        return tuple(out)

    def order(self, orders: OrderArrays, row: int) -> Order:
        """Row ``row`` of ``orders`` as an :class:`~exchange.orders.Order`."""
        name = self.agents[int(orders.agent[row])]
        order_id = name + orders.id_suffix
        quantity = int(orders.quantity_wh[row])
        if orders.is_buy[row]:
            accepts = None if orders.accepts is None else orders.accepts[row].tolist()
            prices = orders.prices[row].tolist()
            return Order.buy(
                order_id,
                name,
                quantity,
                {
                    tag: price
                    for code, (tag, price) in enumerate(zip(self.tags, prices, strict=True))
                    if accepts is None or accepts[code]
                },
            )
        tag = self.tags[int(orders.sell_tag[row])]
        return Order.sell(order_id, name, quantity, tag, int(orders.sell_price[row]))

    def orders(self, orders: OrderArrays) -> list[Order]:
        """Every row as an :class:`~exchange.orders.Order`, in submission order."""
        return [self.order(orders, row) for row in range(orders.n_orders)]

    def orders_json(self, orders: OrderArrays) -> list[bytes]:
        """Canonical JSON of each row's ``Order.to_dict()`` (sorted keys, no spaces), in
        submission order, from %-format templates."""
        n = orders.n_orders
        if orders.accepts is not None:
            # Each buy may list other tags: no shared template; encode the records.
            encode = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))
            return [encode.encode(o.to_dict()).encode("utf-8") for o in self.orders(orders)]
        suffix = _json_text(orders.id_suffix).replace("%", "%%")
        head = '{"agent":"%s","id":"%s' + suffix + '",'
        buy_format = head + self._buy_tail
        sell_format = head + '"price":%d,"quantity_wh":%d,"side":"sell","tag":%s}'
        is_buy = orders.is_buy
        if n <= self.row_path_max:
            # Few rows: one pass in row order costs fewer numpy calls than the columns below.
            prices = orders.prices
            if self._sorted_codes is not None:
                prices = prices[:, self._sorted_codes]
            return [
                (
                    buy_format % (name, name, *row_prices, quantity)
                    if buy
                    else sell_format % (name, name, price, quantity, tag)
                ).encode("utf-8")
                for name, buy, quantity, row_prices, price, tag in zip(
                    self._name_objects[orders.agent].tolist(),
                    is_buy.tolist(),
                    orders.quantity_wh.tolist(),
                    prices.tolist(),
                    orders.sell_price.tolist(),
                    self._tag_objects[np.where(is_buy, 0, orders.sell_tag)].tolist(),
                    strict=True,
                )
            ]
        # Many rows: per side, each record's values straight from zipped columns.
        buy_rows = is_buy.nonzero()[0]
        sell_rows = (~is_buy).nonzero()[0]
        buys: list[bytes] = []
        sells: list[bytes] = []
        if buy_rows.shape[0]:
            names = self._name_objects[orders.agent[buy_rows]].tolist()
            prices = orders.prices[buy_rows]
            if self._sorted_codes is not None:
                prices = prices[:, self._sorted_codes]
            buys = [
                (buy_format % values).encode("utf-8")
                for values in zip(
                    names,
                    names,
                    *prices.T.tolist(),
                    orders.quantity_wh[buy_rows].tolist(),
                    strict=True,
                )
            ]
        if sell_rows.shape[0]:
            names = self._name_objects[orders.agent[sell_rows]].tolist()
            sells = [
                (sell_format % values).encode("utf-8")
                for values in zip(
                    names,
                    names,
                    orders.sell_price[sell_rows].tolist(),
                    orders.quantity_wh[sell_rows].tolist(),
                    self._tag_objects[orders.sell_tag[sell_rows]].tolist(),
                    strict=True,
                )
            ]
        if not sells:
            return buys
        if not buys:
            return sells
        out = np.empty(n, dtype=object)
        out[buy_rows] = buys
        out[sell_rows] = sells
        encoded: list[bytes] = out.tolist()
        return encoded


@dataclass(frozen=True, eq=False)
class TableClearings:
    """:meth:`ArrayExchange.clear_tables`: ``B`` slots cleared in one call, their outputs one
    after the other (as :func:`exchange.mechanisms._cda_kernel.clear_tables` lays them out).
    A slot not :meth:`cleared` here has no rows, trades or text.

    Attributes:
        exchange: The exchange that cleared them.
        seeds: Per slot, its arrival-order seed.
        id_suffixes: Per slot, its orders' id suffix.
        index: ``5 x (B + 1)``: the offsets of each slot's order rows (row 0), trades (row 1)
            and text (row 2), its status (row 3: 0 where cleared here) and where its first
            trade record's newline lies in its text (row 4; the text's length without trades).
            Slot ``b``'s rows are ``[index[0, b]:index[0, b + 1]]`` of ``orders``, and so on.
        orders: ``(5 + tags) x rows``: agent, buy (1) or sell (0), Wh, sell tag, sell price,
            then the price per tag code.
        trades: ``8 x trades``: buy row, sell row (within the slot's orders), buyer, seller,
            tag, Wh, amount, price: rows 2 to 6 are a ledger's trade columns.
        market: ``2 x B x tags``: the clearing prices (ticks, ``-1`` where the tag did not
            trade) and the volumes (Wh).
        totals: ``4 x B x agents``: Wh bought, Wh sold, money paid, money received.
        by_tag: ``B x agents x tags``: Wh bought per tag code.
        text: Each slot's order records then trade records, each after a newline.
    """

    exchange: ArrayExchange
    seeds: tuple[int, ...]
    id_suffixes: tuple[str, ...]
    index: Int64Array
    orders: Int64Array
    trades: Int64Array
    market: Int64Array
    totals: Int64Array
    by_tag: Int64Array
    text: bytes

    def cleared(self) -> list[bool]:
        """Per slot, whether it was cleared here."""
        cleared: list[bool] = (self.index[3, :-1] == _SLOT_OK).tolist()
        return cleared

    def order_arrays(self, b: int) -> OrderArrays:
        """Slot ``b``'s orders."""
        r0, r1 = self.index[0, b : b + 2].tolist()
        rows = self.orders[:, r0:r1]
        return OrderArrays(
            agent=rows[0].copy(),
            is_buy=rows[1] == 1,
            quantity_wh=rows[2].copy(),
            prices=np.ascontiguousarray(rows[5:].T),
            sell_tag=rows[3].copy(),
            sell_price=rows[4].copy(),
            id_suffix=self.id_suffixes[b],
        )

    def records_texts(self) -> list[tuple[bytes, bytes]]:
        """Per slot, its :meth:`ArrayClearing.records_text`: its order records and its trade
        records, each kind joined by newlines (both empty for a slot not cleared here)."""
        text, bounds, splits = self.text, self.index[2].tolist(), self.index[4].tolist()
        texts: list[tuple[bytes, bytes]] = []
        for b in range(len(bounds) - 1):
            start, end = bounds[b], bounds[b + 1]
            split = start + splits[b]  # the end of the text where the slot has no trade
            texts.append(
                (text[start + 1 : split], text[split + 1 : end]) if end > start else (b"", b"")
            )
        return texts

    def clearing(self, b: int) -> ArrayClearing:
        """Slot ``b``'s :class:`ArrayClearing`, as :meth:`ArrayExchange.clear` gives it.

        Raises:
            ValueError: If slot ``b`` was not cleared here.
        """
        if self.index[3, b] != _SLOT_OK:
            raise ValueError(f"slot {b} was not cleared by clear_tables: clear it alone")
        t0, t1 = self.index[1, b : b + 2].tolist()
        start, end = self.index[2, b : b + 2].tolist()
        exchange = self.exchange
        return exchange._compiled_clearing(
            exchange.with_seed(self.seeds[b]),
            self.order_arrays(b),
            self.trades[_SLOT_TRADE_ROWS, t0:t1],  # clear_slot's order of the rows
            self.market[0, b],
            self.market[1, b],
            self.totals[:, b],
            self.by_tag[b],
            self.text[start:end],
        )


_SLOT_TRADE_ROWS = [0, 1, 2, 3, 4, 5, 7, 6]
"""The rows of :attr:`TableClearings.trades` in :func:`~exchange.mechanisms._cda_kernel.
clear_slot`'s order (its price before its amount)."""

_TABLE_FIELDS = tuple(f.name for f in fields(TableClearings))


@dataclass(frozen=True, eq=False)
class ArrayClearing:
    """One slot cleared by :class:`ArrayExchange`: trades as columns in trade sequence.

    Attributes:
        exchange: The exchange that cleared it (agent names, tags).
        params: The parameters, with the slot's seed.
        orders: The submitted orders.
        admitted: Rows admitted, ascending.
        rejected: One :class:`~exchange.validation.Rejection` per rejected row, in row order.
        buy_position: Per trade, the row of its buy order.
        sell_position: Per trade, the row of its sell order.
        buyer: Per trade, the buyer's agent index.
        seller: Per trade, the seller's agent index.
        tag: Per trade, the tag code.
        quantity_wh: Per trade, Wh.
        price: Per trade, ticks.
        amount: Per trade, 0.01 JPY (:func:`exchange.units.money`).
        clearing_prices: Per tag code, ticks (``-1`` where the tag did not trade).
        volume_wh: Per tag code, Wh traded.
    """

    exchange: ArrayExchange
    params: ClearingParams
    orders: OrderArrays
    admitted: Int64Array
    rejected: tuple[Rejection, ...]
    buy_position: Int64Array
    sell_position: Int64Array
    buyer: Int64Array
    seller: Int64Array
    tag: Int64Array
    quantity_wh: Int64Array
    price: Int64Array
    amount: Int64Array
    clearing_prices: Int64Array
    volume_wh: Int64Array
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def n_trades(self) -> int:
        """Number of trades."""
        return int(self.quantity_wh.shape[0])

    def order_objects(self) -> list[Order]:
        """The submitted rows as :class:`~exchange.orders.Order` objects (built once)."""
        if "orders" not in self._cache:
            self._cache["orders"] = self.exchange.orders(self.orders)
        orders: list[Order] = self._cache["orders"]
        return orders

    def trades(self) -> tuple[Trade, ...]:
        """The trades as :class:`~exchange.results.Trade` objects, in trade sequence."""
        names, tags = self.exchange.agents, self.exchange.tags
        suffix = self.orders.id_suffix
        return tuple(
            Trade(names[b] + suffix, names[s] + suffix, names[b], names[s], tags[t], q, p, m)
            for b, s, t, q, p, m in self._trade_rows()
        )

    def _trade_rows(self) -> zip[tuple[int, int, int, int, int, int]]:
        """Per trade, ``(buyer, seller, tag, quantity_wh, price, amount)`` as Python ints."""
        return zip(
            self.buyer.tolist(),
            self.seller.tolist(),
            self.tag.tolist(),
            self.quantity_wh.tolist(),
            self.price.tolist(),
            self.amount.tolist(),
            strict=True,
        )

    def trade_records(self) -> list[dict[str, Any]]:
        """``ClearingResult.to_dict()["trades"]``: each trade's ``to_dict()``."""
        return [t.to_dict() for t in self.trades()]

    def totals(self) -> tuple[Int64Array, Int64Array, Int64Array, Int64Array, Int64Array]:
        """Per agent of :attr:`ArrayExchange.agents`: Wh bought, Wh sold, money paid, money
        received, and ``agents x tags`` Wh bought per tag code (int64 arrays)."""
        if "totals" not in self._cache:
            exchange = self.exchange
            n, n_tags = len(exchange.agents), len(exchange.tags)
            buyer, seller, quantity, amount = self.buyer, self.seller, self.quantity_wh, self.amount
            bought = np.zeros(n, np.int64)
            sold = np.zeros(n, np.int64)
            paid = np.zeros(n, np.int64)
            received = np.zeros(n, np.int64)
            by_tag = np.zeros((n, n_tags), np.int64)
            if quantity.shape[0]:
                np.add.at(bought, buyer, quantity)
                np.add.at(paid, buyer, amount)
                np.add.at(sold, seller, quantity)
                np.add.at(received, seller, amount)
                np.add.at(by_tag, (buyer, self.tag), quantity)
            self._cache["totals"] = (bought, sold, paid, received, by_tag)
        totals: tuple[Int64Array, Int64Array, Int64Array, Int64Array, Int64Array]
        totals = self._cache["totals"]
        return totals

    def orders_json(self) -> list[bytes]:
        """:meth:`ArrayExchange.orders_json` of the submitted orders (written by the compiled
        renderer where it can: the same bytes)."""
        records = self._rendered()
        if records is None:
            return self.exchange.orders_json(self.orders)
        return records[: self.orders.n_orders]

    def _rendered(self) -> list[bytes] | None:
        """The order records then the trade records, by the compiled renderer (rendered once:
        by the compiled slot, or on first use); ``None`` where it cannot write them."""
        if "json" not in self._cache:
            text = self._text()
            self._cache["json"] = None if text is None else _records(text)
        records: list[bytes] | None = self._cache["json"]
        return records

    def _text(self) -> bytes | None:
        """The compiled renderer's text: each order record, then each trade record, after a
        newline; ``None`` where it cannot write them."""
        if "text" not in self._cache:
            self._cache["text"] = self.exchange._render(self)
        text: bytes | None = self._cache["text"]
        return text

    def records_text(self) -> tuple[bytes, bytes] | None:
        """The order records and the trade records, each kind joined by newlines:
        ``b"\\n".join(self.orders_json())`` and ``b"\\n".join(self.trades_json())`` without a
        ``bytes`` object per record (a block takes them so); ``None`` where the compiled
        renderer cannot write them."""
        text = self._text()
        if text is None:
            return None
        # Canonical JSON holds no raw newline, and a trade record, unlike an order record,
        # starts with its "amount" key: the first such record ends the orders.
        first_trade = text.find(b'\n{"amount":')
        if first_trade < 0:
            return text[1:], b""
        return text[1:first_trade], text[first_trade + 1 :]

    def trades_json(self) -> list[bytes]:
        """Canonical JSON of :meth:`trade_records` (sorted keys, no spaces), from one
        %-format template: byte for byte what the ledger's canonical encoders write."""
        records = self._rendered()
        if records is not None:
            return records[self.orders.n_orders :]
        suffix = _json_text(self.orders.id_suffix).replace("%", "%%")
        template = (
            '{"amount":%d,"buy":"%s' + suffix + '","buyer":"%s","price":%d,"quantity_wh":%d,'
            '"sell":"%s' + suffix + '","seller":"%s","tag":%s}'
        )
        names = self.exchange._name_text
        tag_text = self.exchange._tag_text
        return [
            (template % (m, names[b], names[b], p, q, names[s], names[s], tag_text[t])).encode(
                "utf-8"
            )
            for b, s, t, q, p, m in self._trade_rows()
        ]

    def unfilled(self) -> tuple[Unfilled, ...]:
        """Every admitted order with Wh left, in submission order."""
        orders = self.orders
        n = orders.n_orders
        filled = np.zeros(n, dtype=np.int64)
        np.add.at(filled, self.buy_position, self.quantity_wh)
        np.add.at(filled, self.sell_position, self.quantity_wh)
        left = orders.quantity_wh - filled
        rows = self.admitted[left[self.admitted] > 0]
        names = self.exchange.agents
        suffix = orders.id_suffix
        return tuple(
            Unfilled(names[a] + suffix, names[a], "buy" if buy else "sell", q)
            for a, buy, q in zip(
                orders.agent[rows].tolist(),
                orders.is_buy[rows].tolist(),
                left[rows].tolist(),
                strict=True,
            )
        )

    def to_result(self) -> ClearingResult:
        """The :class:`~exchange.results.ClearingResult` that :func:`exchange.clear` gives."""
        tags = self.exchange.tags
        prices = self.clearing_prices.tolist()
        volumes = self.volume_wh.tolist()
        return ClearingResult(
            mechanism=self.params.mechanism,
            trades=self.trades(),
            clearing_prices={tag: prices[c] for c, tag in enumerate(tags) if prices[c] >= 0},
            volumes_wh={tag: volumes[c] for c, tag in enumerate(tags)},
            rejected=self.rejected,
            unfilled=self.unfilled(),
        )


def _objects(items: Sequence[bytes]) -> ObjectArray:
    """``items`` as a 1-d object array (one fancy index picks many of them)."""
    array = np.empty(len(items), dtype=object)
    array[:] = items
    return array


def _records(text: bytes) -> list[bytes]:
    """The records of a rendering: each follows a newline (see :class:`ArrayExchange`)."""
    records = text.split(b"\n")
    del records[0]  # before the first record's newline
    return records


def _format(fragments: ObjectArray, codes: Int64Array, values: Int64Array, suffix: bytes) -> bytes:
    """What the compiled slot renders, by Python's bytes formatting (the reference):
    ``fragments[codes]`` joined are one bytes %-format, ``values`` its integers, and each NUL
    byte stands for ``suffix``."""
    text = b"".join(fragments[codes].tolist()) % tuple(values.tolist())
    return text.replace(b"\x00", suffix)


_LITERAL_OP, _VALUE_OP, _SUFFIX_OP = 0, 1, 2
_DIRECTIVE = re.compile(rb"%%|%d|\x00")
FragmentOps = tuple[npt.NDArray[np.uint8], Int64Array, Int64Array, Int64Array, Int64Array]


def _parse_fragments(fragments: Sequence[bytes]) -> FragmentOps:
    """The fragments as the compiled renderer's operations: ``(literals, op_kind, op_start,
    op_end, fragment_ops)`` (see :func:`exchange.mechanisms._cda_kernel.render`). ``%%`` is a
    literal ``%``, ``%d`` a value, a NUL the suffix; the fragments hold no other ``%``.

    A community's fragments number three per agent: without a ``%%`` anywhere (agent names
    without ``%``) they are cut with a few numpy passes over all of them at once; otherwise
    fragment by fragment (:func:`_parse_each`, the reference; tested equal).

    Raises:
        ValueError: On another ``%`` directive (a fragment built wrongly).
    """
    text = b"".join(fragments)
    if b"%%" in text:
        return _parse_each(fragments)
    literals = np.frombuffer(text, dtype=np.uint8)
    bounds = np.cumsum([0, *map(len, fragments)], dtype=np.int64)
    percent = np.flatnonzero(literals == ord("%"))
    # Each % must be the start of a %d inside its fragment.
    after = percent + 1
    if after.shape[0] and (
        int(after[-1]) >= literals.shape[0]
        or bool((literals[np.minimum(after, literals.shape[0] - 1)] != ord("d")).any())
        or bool(np.isin(after, bounds).any())
    ):
        bad = fragments[int(np.searchsorted(bounds, percent[0], side="right")) - 1]
        raise ValueError(f"fragment {bad!r} holds a % directive other than %d")
    nul = np.flatnonzero(literals == 0)
    directive_start = np.concatenate((percent, nul))
    directive_kind = np.concatenate(
        (np.full(percent.shape[0], _VALUE_OP), np.full(nul.shape[0], _SUFFIX_OP))
    ).astype(np.int64)
    by_start = np.argsort(directive_start, kind="stable")
    directive_start, directive_kind = directive_start[by_start], directive_kind[by_start]
    # Every fragment boundary and directive edge cuts the text; each piece between two cuts is
    # one operation (a directive, or a non-empty literal).
    cuts = np.sort(np.concatenate((bounds, directive_start, after + 1, nul + 1)))
    cuts = cuts[np.concatenate(([True], cuts[1:] != cuts[:-1]))]  # (np.unique hashes: slower)
    op_start, op_end = cuts[:-1], cuts[1:]
    at = np.searchsorted(directive_start, op_start)
    hit = at < directive_start.shape[0]
    hit[hit] = directive_start[at[hit]] == op_start[hit]
    op_kind = np.full(op_start.shape[0], _LITERAL_OP, dtype=np.int64)
    op_kind[hit] = directive_kind[at[hit]]
    return (
        literals,
        op_kind,
        op_start.astype(np.int64),
        op_end.astype(np.int64),
        np.searchsorted(op_start, bounds).astype(np.int64),
    )


def _parse_each(fragments: Sequence[bytes]) -> FragmentOps:
    """:func:`_parse_fragments`, fragment by fragment."""
    literals = bytearray()
    kind: list[int] = []
    start: list[int] = []
    end: list[int] = []
    fragment_ops = [0]

    def literal(piece: bytes) -> None:
        if piece:
            kind.append(_LITERAL_OP)
            start.append(len(literals))
            literals.extend(piece)
            end.append(len(literals))

    for fragment in fragments:
        at = 0
        for match in _DIRECTIVE.finditer(fragment):
            piece = fragment[at : match.start()]
            if b"%" in piece:
                raise ValueError(f"fragment {fragment!r} holds a % directive other than %d")
            literal(piece)
            token = match.group()
            if token == b"%%":
                literal(b"%")
            else:
                kind.append(_VALUE_OP if token == b"%d" else _SUFFIX_OP)
                start.append(0)
                end.append(0)
            at = match.end()
        tail = fragment[at:]
        if b"%" in tail:
            raise ValueError(f"fragment {fragment!r} holds a % directive other than %d")
        literal(tail)
        fragment_ops.append(len(kind))
    return (
        np.frombuffer(bytes(literals), dtype=np.uint8),
        np.asarray(kind, dtype=np.int64),
        np.asarray(start, dtype=np.int64),
        np.asarray(end, dtype=np.int64),
        np.asarray(fragment_ops, dtype=np.int64),
    )


def table_orders(
    side: npt.NDArray[np.int8],
    buy: int,
    quantity: Int64Array,
    prices: Int64Array,
    sell_tag: Int64Array,
    id_suffix: str = "",
) -> OrderArrays:
    """The orders of a per-agent table: one row per agent whose ``side`` is not 0, in agent
    order (a simulator's decoded actions; the ``agent`` column indexes the table's rows).

    Args:
        side: Per agent, 0 (no order), ``buy`` or another value (a sell).
        buy: The ``side`` value of a buy.
        quantity: Per agent, Wh (int64).
        prices: ``agents x tags``: per agent, its limit per tag code (int64).
        sell_tag: Per agent, the tag code it would sell, in ``[0, tags)`` (int64).
        id_suffix: :attr:`OrderArrays.id_suffix`.

    Returns:
        The :class:`OrderArrays`; a sell row's ``sell_price`` is its price for its sell tag.
    """
    if (
        _table_rows() is not None
        and side.dtype == _INT8
        and quantity.dtype == _INT64
        and prices.dtype == _INT64
        and sell_tag.dtype == _INT64
        and side.ndim == 1
        and quantity.shape == sell_tag.shape == side.shape
        and prices.ndim == 2
        and prices.shape[0] == side.shape[0]
    ):
        ok, agent, is_buy, row_quantity, row_prices, row_tag, row_price = _rows_kernel(
            side, buy, quantity, prices, sell_tag
        )
    else:
        ok = False
    if ok:
        return OrderArrays(
            agent=agent,
            is_buy=is_buy,
            quantity_wh=row_quantity,
            prices=row_prices,
            sell_tag=row_tag,
            sell_price=row_price,
            id_suffix=id_suffix,
        )
    rows = side.nonzero()[0]
    row_prices = prices[rows]
    row_tag = sell_tag[rows]
    return OrderArrays(
        agent=rows,
        is_buy=side[rows] == buy,
        quantity_wh=quantity[rows],
        prices=row_prices,
        sell_tag=row_tag,
        sell_price=row_prices[np.arange(rows.shape[0]), row_tag],
        id_suffix=id_suffix,
    )


_rows_kernel: Any = None
_rows_kernel_tried = False
_rows_kernel_error: str | None = None


def _table_rows() -> Any:
    """The compiled :func:`table_orders` pass (:mod:`exchange._rows_kernel`), loaded on first
    use; ``None`` where numba cannot run it (:func:`rows_backend` says why)."""
    global _rows_kernel, _rows_kernel_tried, _rows_kernel_error
    if not _rows_kernel_tried:
        _rows_kernel_tried = True
        try:
            from exchange._rows_kernel import table_rows
        except Exception as exc:  # numba missing or unusable: the numpy passes give the same
            _rows_kernel_error = repr(exc)
        else:
            _rows_kernel = table_rows
    return _rows_kernel


def rows_backend() -> str:
    """How :func:`table_orders` runs: ``"compiled"``, or ``"numpy"`` with the reason the
    kernel could not be loaded."""
    if _table_rows() is not None:
        return "compiled"
    return f"numpy ({_rows_kernel_error})"


def clear_arrays(
    orders: OrderArrays, params: ClearingParams, agents: Sequence[str]
) -> ArrayClearing:
    """Clear ``orders`` once (building the :class:`ArrayExchange` of ``agents`` each call).

    A simulator clearing many slots of one community should build the
    :class:`ArrayExchange` once and call its :meth:`~ArrayExchange.clear`.
    """
    return ArrayExchange(params, agents).clear(orders)


__all__ = ["ArrayClearing", "ArrayExchange", "OrderArrays", "clear_arrays", "table_orders"]
