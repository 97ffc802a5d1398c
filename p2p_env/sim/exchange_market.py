"""The simulator's :class:`~p2p_env.sim.market.Market` on the tagged exchange (``exchange/``).

Each slot's decoded actions become one order per agent at most (id ``<agent>@<slot>``), cleared
with the config's mechanism and price bounds, the agents' allowed sell tags (so a home without PV
can never sell ``pv``) and a seed derived from the episode seed and the slot. The parameters,
orders and result go to the ledger in their canonical JSON-compatible forms, so
``p2p-gym ledger verify`` can replay every slot.

The orders never become objects: :meth:`ExchangeMarket.clear` turns the decoded arrays into
order columns (:func:`exchange.arrays.table_orders`) and hands them to an
:class:`exchange.ArrayExchange` (built once per community), which clears the usual slot, sums
the trades per agent and writes the orders' and trades' canonical JSON in one compiled call
(array passes and %-format templates for any other slot). The reference path,
:class:`exchange.Order` objects through :func:`exchange.clear`, stays as
:meth:`ExchangeMarket.reference_outcome`; the two are tested equal field by field and byte for
byte. The ledger's dict records (:class:`SlotRecords`) are built only when read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import partial
from typing import Any

import numpy as np

from exchange import (
    ArrayClearing,
    ArrayExchange,
    ClearingParams,
    ClearingResult,
    Order,
    OrderArrays,
    agent_tags,
    clear,
)
from exchange.arrays import TableClearings, table_orders
from ledger.canonical import canonical_json
from ledger.fast import RecordTemplate
from ledger.hashing import JoinedBodies
from p2p_env.config import GymConfig
from p2p_env.sim.actions import BUY, SELL, DecodedActions
from p2p_env.sim.community import Community
from p2p_env.sim.market import EncodedRecords, MarketOutcome
from p2p_env.sim.tariffs import ticks

_SEED_STRIDE = 0x9E3779B97F4A7C15  # odd 64-bit constant: distinct slots get distinct seeds
_SLOT_OK = 0  # exchange.mechanisms._cda_kernel.SLOT_OK (that module imports numba)


def clearing_params(config: GymConfig, community: Community) -> ClearingParams:
    """The exchange parameters of ``config`` for ``community`` (seed 0; set per slot)."""
    market = config.market
    allowed = {
        agent: (tag,) if tag is not None else ()
        for agent, tag in zip(community.agents, community.sell_tag, strict=True)
    }
    return ClearingParams(
        mechanism=market.mechanism,
        price_min=ticks(market.price_min_jpy_per_kwh),
        price_max=ticks(market.price_max_jpy_per_kwh),
        tags=tuple(market.tags),
        tag_order=market.buyer_tag_order,
        seed=0,
        agents=agent_tags(allowed),
    )


def trade_records(result: ClearingResult) -> list[dict[str, Any]]:
    """The ledger's trade records, in the exchange's trade sequence.

    A trade is referred to (by certificate transfers) as ``t<k>``: the k-th trade record of the
    slot's block. The records are exactly the exchange's ``ClearingResult.to_dict()["trades"]``,
    so any re-clearing of the recorded orders reproduces them byte for byte.
    """
    return [t.to_dict() for t in result.trades]


def replay(params: dict[str, Any], orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ledger's replay hook: clear recorded orders with recorded parameters again."""
    result = clear(
        [Order.from_dict(o, i) for i, o in enumerate(orders)], ClearingParams.from_dict(params)
    )
    return trade_records(result)


class SlotRecords(Mapping[str, Any]):
    """A slot's ledger records (``params``, ``orders``, ``trades``, ``rejected``), built on first
    access: the recorder's fast path reads :class:`~p2p_env.sim.market.EncodedRecords` instead,
    so a training run never builds these dicts (the parameters of a large community list every
    agent).

    Args:
        cleared: The slot's array clearing (:meth:`ExchangeMarket.clear`).
        orders: The slot's orders as objects, where the caller already has them (the reference
            path); otherwise they are built from ``cleared`` when first read.
        result: Likewise, the exchange's :class:`~exchange.ClearingResult`.
    """

    _KEYS = ("params", "orders", "trades", "rejected")

    def __init__(
        self,
        cleared: ArrayClearing | Callable[[], ArrayClearing] | None = None,
        *,
        params: ClearingParams | None = None,
        orders: list[Order] | None = None,
        result: ClearingResult | None = None,
    ) -> None:
        if cleared is None and (params is None or orders is None or result is None):
            raise ValueError("SlotRecords needs an ArrayClearing or params, orders and result")
        # A callable gives the ArrayClearing when first needed (a batch's slots, of which
        # a training run reads none).
        self._array: ArrayClearing | None = None
        self._make: Callable[[], ArrayClearing] | None = None
        if cleared is None or isinstance(cleared, ArrayClearing):
            self._array = cleared
        else:
            self._make = cleared
        self._params = params
        self._orders = orders
        self._result = result
        self._cache: dict[str, Any] = {}

    @property
    def _cleared(self) -> ArrayClearing | None:
        if self._make is not None:
            self._array, self._make = self._make(), None
        return self._array

    def params(self) -> ClearingParams:
        """The slot's clearing parameters (with its seed)."""
        if self._params is None:
            cleared = self._cleared
            assert cleared is not None
            self._params = cleared.params
        return self._params

    def order_objects(self) -> list[Order]:
        """The slot's orders as :class:`exchange.Order` objects (built once)."""
        if self._orders is None:
            cleared = self._cleared
            assert cleared is not None
            self._orders = cleared.order_objects()
        return self._orders

    def result(self) -> ClearingResult:
        """The slot's :class:`exchange.ClearingResult`, as :func:`exchange.clear` gives it."""
        if self._result is None:
            cleared = self._cleared
            assert cleared is not None
            self._result = cleared.to_result()
        return self._result

    def __getitem__(self, key: str) -> Any:
        if key not in self._cache:
            if key == "params":
                value: Any = self.params().to_dict()
            elif key == "orders":
                value = [o.to_dict() for o in self.order_objects()]
            elif key == "trades":
                cleared = self._cleared if self._result is None else None
                if cleared is not None:
                    value = cleared.trade_records()
                else:
                    value = trade_records(self.result())
            elif key == "rejected":
                cleared = self._cleared if self._result is None else None
                if cleared is not None:
                    value = [r.to_dict() for r in cleared.rejected]
                else:
                    value = [r.to_dict() for r in self.result().rejected]
            else:
                raise KeyError(key)
            self._cache[key] = value
        return self._cache[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._KEYS)

    def __len__(self) -> int:
        return len(self._KEYS)


class ExchangeMarket:
    """Clears each slot on :mod:`exchange` (see the module docstring)."""

    def __init__(self, config: GymConfig, community: Community, seed: int = 0) -> None:
        self.community = community
        self.tags = tuple(config.market.tags)
        self.base = clearing_params(config, community)
        self.seed = seed
        self.index = {agent: i for i, agent in enumerate(community.agents)}
        self.tag_index = {tag: i for i, tag in enumerate(self.tags)}
        # Per agent, the code of the tag it sells (0 for agents that sell nothing: decode never
        # gives them a sell, and the exchange would reject one as tag_not_allowed).
        self._sell_tag_index = np.asarray(
            [self.tag_index.get(t, 0) if t is not None else 0 for t in community.sell_tag],
            dtype=np.int64,
        )
        # The parameters' canonical JSON differs between slots only in the seed: encode the
        # rest once (for 20,000 homes the agent list is most of a megabyte).
        fixed = self.base.to_dict()
        del fixed["seed"]
        self._params_template = RecordTemplate(fixed, ("seed",))
        self.exchange = ArrayExchange(self.base, community.agents)
        """Clears the slots' order columns (built once: the agents and their sell tags)."""

    def reset(self, seed: int) -> None:
        """Seed the arrival order of the coming episode's slots."""
        self.seed = seed

    def seed_for(self, slot: int) -> int:
        """The slot's arrival-order seed, drawn from (episode seed, slot)."""
        # Below 2**63: the ledger stores signed 64-bit integers.
        return (self.seed * _SEED_STRIDE + slot + 1) % 2**63

    def params_for(self, slot: int) -> ClearingParams:
        """The slot's parameters: the run's, with a seed drawn from (episode seed, slot)."""
        # A copy of the validated base with only the seed changed: ``replace`` would validate
        # the whole agent table again every slot (O(n log n) for a large community).
        return self.exchange.with_seed(self.seed_for(slot))

    def order_arrays(self, slot: int, decoded: DecodedActions) -> OrderArrays:
        """The slot's orders as columns: one row per agent that asked to trade, in agent order."""
        return table_orders(
            decoded.side,
            BUY,
            decoded.quantity_wh,
            decoded.prices,
            self._sell_tag_index,
            f"@{slot}",
        )

    def orders(self, slot: int, decoded: DecodedActions) -> list[Order]:
        """One order per agent that asked to trade, in agent order, as objects (the reference
        path; :meth:`order_arrays` are the same orders as columns)."""
        out: list[Order] = []
        agents, tags = self.community.agents, self.tags
        sides = decoded.side.tolist()
        quantities = decoded.quantity_wh.tolist()
        prices = decoded.prices.tolist()
        for i in np.flatnonzero(decoded.side).tolist():
            agent = agents[i]
            if sides[i] == BUY:
                out.append(
                    Order.buy(
                        f"{agent}@{slot}",
                        agent,
                        quantities[i],
                        dict(zip(tags, prices[i], strict=True)),
                    )
                )
            elif sides[i] == SELL:
                tag = self.community.sell_tag[i]
                assert tag is not None  # decode() only sells for agents with a sell tag
                price = prices[i][self.tag_index[tag]]
                out.append(Order.sell(f"{agent}@{slot}", agent, quantities[i], tag, price))
        return out

    def encoded_orders(self, slot: int, decoded: DecodedActions) -> list[bytes]:
        """Canonical JSON of :meth:`orders`' records, straight from the arrays (same bytes)."""
        return self.exchange.orders_json(self.order_arrays(slot, decoded))

    def clear(self, slot: int, decoded: DecodedActions) -> MarketOutcome:
        """Clear the slot; the sums per agent and tag come with the clearing
        (:meth:`exchange.ArrayClearing.totals`), as do the records' canonical JSON."""
        orders = self.order_arrays(slot, decoded)
        cleared = self.exchange.clear(orders, self.seed_for(slot))
        bought, sold, paid, received, by_tag = cleared.totals()
        columns = np.array(
            (cleared.buyer, cleared.seller, cleared.tag, cleared.quantity_wh, cleared.amount),
            dtype=np.int64,
        ).reshape(5, -1)
        orders_json: Sequence[bytes] | JoinedBodies
        trades_json: Sequence[bytes] | JoinedBodies
        joined = cleared.records_text()
        if joined is None:
            orders_json, trades_json = cleared.orders_json(), cleared.trades_json()
        else:  # the records as the block takes them: no bytes object each
            orders_json = JoinedBodies(joined[0], orders.n_orders)
            trades_json = JoinedBodies(joined[1], columns.shape[1])
        return MarketOutcome(
            bought_wh=bought,
            sold_wh=sold,
            bought_by_tag_wh=by_tag,
            paid_sen=paid,
            received_sen=received,
            price_ticks=cleared.clearing_prices,
            volume_wh=cleared.volume_wh,
            n_orders=orders.n_orders,
            n_rejected=len(cleared.rejected),
            records=SlotRecords(cleared),
            trade_columns=columns,
            encoded=EncodedRecords(
                params_json=self._params_template.encode((cleared.params.seed,)),
                orders=orders_json,
                trades=trades_json,
            ),
        )

    @staticmethod
    def clear_many(
        markets: Sequence[ExchangeMarket], slots: Sequence[int], decoded: DecodedActions
    ) -> tuple[list[MarketOutcome], TableClearings | None] | None:
        """:meth:`clear` of ``B`` communities' slots at once: ``markets[b].clear(slots[b],
        decoded.row(b))`` for every ``b`` (the same outcomes, tested), with the clearing of
        every slot in one compiled call (:meth:`exchange.ArrayExchange.clear_tables`).

        The markets must be of one config and community (a batch's: they differ only in their
        seeds); ``decoded`` holds ``B x agents`` arrays. A slot the batch cannot clear goes
        through its market's :meth:`clear`.

        Returns:
            The outcomes, and the :class:`~exchange.arrays.TableClearings` whose ``B x``
            arrays hold them all (``None`` if a slot went through :meth:`clear`); ``None``
            where the batch path cannot run (the caller clears each slot with :meth:`clear`).
        """
        lead = markets[0]
        seeds = [market.seed_for(slot) for market, slot in zip(markets, slots, strict=True)]
        tables = lead.exchange.clear_tables(
            decoded.side,
            BUY,
            decoded.quantity_wh,
            decoded.prices,
            lead._sell_tag_index,
            seeds,
            [f"@{slot}" for slot in slots],
        )
        if tables is None:
            return None
        totals, by_tag, market = tables.totals, tables.by_tag, tables.market
        columns = tables.trades[2:7]  # the certificates' trade columns: buyer ... money
        rows, trades, _, status, _ = tables.index.tolist()
        texts = tables.records_texts()
        outcomes: list[MarketOutcome] = []
        every = True  # every slot cleared in the batch
        for b, slot_market in enumerate(markets):
            if status[b] != _SLOT_OK:
                outcomes.append(slot_market.clear(slots[b], decoded.row(b)))
                every = False
                continue
            orders_text, trades_text = texts[b]
            t0, t1 = trades[b], trades[b + 1]
            n_orders = rows[b + 1] - rows[b]
            outcome = object.__new__(MarketOutcome)
            # Filled directly: the frozen dataclass's __init__ costs a setattr per field.
            outcome.__dict__.update(
                bought_wh=totals[0, b],
                sold_wh=totals[1, b],
                bought_by_tag_wh=by_tag[b],
                paid_sen=totals[2, b],
                received_sen=totals[3, b],
                price_ticks=market[0, b],
                volume_wh=market[1, b],
                n_orders=n_orders,
                n_rejected=0,
                records=SlotRecords(partial(tables.clearing, b)),
                trade_columns=columns[:, t0:t1],
                encoded=EncodedRecords(
                    params_json=slot_market._params_template.encode((seeds[b],)),
                    orders=JoinedBodies(orders_text, n_orders),
                    trades=JoinedBodies(trades_text, t1 - t0),
                ),
            )
            outcomes.append(outcome)
        return outcomes, tables if every else None

    def reference_outcome(self, slot: int, decoded: DecodedActions) -> MarketOutcome:
        """:meth:`clear` the documented way: :class:`exchange.Order` objects,
        :func:`exchange.clear`, a Python loop over the trades and the checked canonical
        encoder. Slow; it is what :meth:`clear` is tested against."""
        orders = self.orders(slot, decoded)
        params = self.params_for(slot)
        result = clear(orders, params)
        n, n_tags = self.community.n_agents, len(self.tags)
        bought = np.zeros(n, np.int64)
        sold = np.zeros(n, np.int64)
        paid = np.zeros(n, np.int64)
        received = np.zeros(n, np.int64)
        by_tag = np.zeros((n, n_tags), np.int64)
        trades: list[tuple[int, int, int, int, int]] = []
        for trade in result.trades:
            b, s = self.index[trade.buyer], self.index[trade.seller]
            t = self.tag_index[trade.tag]
            bought[b] += trade.quantity_wh
            paid[b] += trade.amount
            sold[s] += trade.quantity_wh
            received[s] += trade.amount
            by_tag[b, t] += trade.quantity_wh
            trades.append((b, s, t, trade.quantity_wh, trade.amount))
        price = np.asarray([result.clearing_prices.get(tag, -1) for tag in self.tags], np.int64)
        volume = np.asarray([result.volumes_wh.get(tag, 0) for tag in self.tags], np.int64)
        return MarketOutcome(
            bought_wh=bought,
            sold_wh=sold,
            bought_by_tag_wh=by_tag,
            paid_sen=paid,
            received_sen=received,
            price_ticks=price,
            volume_wh=volume,
            n_orders=len(orders),
            n_rejected=len(result.rejected),
            records=SlotRecords(params=params, orders=orders, result=result),
            trade_columns=np.array(trades, dtype=np.int64).reshape(-1, 5).T.copy(),
            encoded=EncodedRecords(
                params_json=canonical_json(params.to_dict()),
                orders=[canonical_json(o.to_dict()) for o in orders],
                trades=[canonical_json(t.to_dict()) for t in result.trades],
            ),
        )
