"""The simulator's :class:`~p2p_env.sim.market.Market` on the tagged exchange (``exchange/``).

Each slot's decoded actions become :class:`exchange.Order` objects (one per agent at most, id
``<agent>@<slot>``), cleared by :func:`exchange.clear` with the config's mechanism and price
bounds, the agents' allowed sell tags (so a home without PV can never sell ``pv``) and a seed
derived from the episode seed and the slot. The parameters, orders and result go to the ledger in
their canonical JSON-compatible forms, so ``p2p-gym ledger verify`` can replay every slot.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from exchange import ClearingParams, ClearingResult, Order, agent_tags, clear
from ledger.canonical import canonical_json
from ledger.fast import RecordTemplate, trusted_json_many
from p2p_env.config import GymConfig
from p2p_env.sim.actions import BUY, SELL, DecodedActions
from p2p_env.sim.community import Community
from p2p_env.sim.market import EncodedRecords, MarketOutcome
from p2p_env.sim.tariffs import ticks

_SEED_STRIDE = 0x9E3779B97F4A7C15  # odd 64-bit constant: distinct slots get distinct seeds


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
    agent)."""

    _KEYS = ("params", "orders", "trades", "rejected")

    def __init__(self, params: ClearingParams, orders: list[Order], result: ClearingResult) -> None:
        self._params = params
        self._orders = orders
        self._result = result
        self._cache: dict[str, Any] = {}

    def __getitem__(self, key: str) -> Any:
        if key not in self._cache:
            if key == "params":
                value: Any = self._params.to_dict()
            elif key == "orders":
                value = [o.to_dict() for o in self._orders]
            elif key == "trades":
                value = trade_records(self._result)
            elif key == "rejected":
                value = [r.to_dict() for r in self._result.rejected]
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
        self._sell_tag_index = np.asarray(
            [self.tag_index.get(t, 0) if t is not None else 0 for t in community.sell_tag],
            dtype=np.int64,
        )
        # The parameters' canonical JSON differs between slots only in the seed: encode the
        # rest once (for 20,000 homes the agent list is most of a megabyte).
        fixed = self.base.to_dict()
        del fixed["seed"]
        self._params_template = RecordTemplate(fixed, ("seed",))
        self._order_formats = _order_formats(community, self.tags)
        self._sorted_tags = [self.tag_index[t] for t in sorted(self.tags)]

    def reset(self, seed: int) -> None:
        """Seed the arrival order of the coming episode's slots."""
        self.seed = seed

    def params_for(self, slot: int) -> ClearingParams:
        """The slot's parameters: the run's, with a seed drawn from (episode seed, slot)."""
        # Below 2**63: the ledger stores signed 64-bit integers.
        seed = (self.seed * _SEED_STRIDE + slot + 1) % 2**63
        # A copy of the validated base with only the seed changed: ``replace`` would validate
        # the whole agent table again every slot (O(n log n) for a large community), and a seed
        # in [0, 2**63) is valid by construction.
        params = copy.copy(self.base)
        object.__setattr__(params, "seed", seed)
        return params

    def orders(self, slot: int, decoded: DecodedActions) -> list[Order]:
        """One order per agent that asked to trade, in agent order."""
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
        buy_formats, sell_formats = self._order_formats
        sides = decoded.side.tolist()
        quantities = decoded.quantity_wh.tolist()
        # Buy prices in the canonical (sorted tag) order of the "prices" object.
        buy_prices = decoded.prices[:, self._sorted_tags].tolist()
        sell_prices = decoded.prices[
            np.arange(len(sides)), np.maximum(self._sell_tag_index, 0)
        ].tolist()
        out: list[bytes] = []
        for i in np.flatnonzero(decoded.side).tolist():
            if sides[i] == BUY:
                out.append((buy_formats[i] % (slot, *buy_prices[i], quantities[i])).encode("utf-8"))
            elif sides[i] == SELL:
                out.append(
                    (sell_formats[i] % (slot, sell_prices[i], quantities[i])).encode("utf-8")
                )
        return out

    def clear(self, slot: int, decoded: DecodedActions) -> MarketOutcome:
        """Clear the slot and sum the trades per agent and tag."""
        orders = self.orders(slot, decoded)
        params = self.params_for(slot)
        result = clear(orders, params)
        return self._outcome(orders, params, result, self.encoded_orders(slot, decoded))

    def _outcome(
        self,
        orders: list[Order],
        params: ClearingParams,
        result: ClearingResult,
        encoded_orders: list[bytes],
    ) -> MarketOutcome:
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
            records=SlotRecords(params, orders, result),
            trades=tuple(trades),
            encoded=EncodedRecords(
                params_json=self._params_template.encode((params.seed,)),
                orders=encoded_orders,
                trades=trusted_json_many(t.to_dict() for t in result.trades),
            ),
        )


def _order_formats(community: Community, tags: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """Per agent, %-format strings of its buy and sell order records in canonical JSON.

    A buy takes ``(slot, *prices in sorted tag order, quantity)``, a sell ``(slot, price,
    quantity)``; the fixed text is written by the checked encoder once, so the result is byte
    for byte ``canonical_json(order.to_dict())`` (tested).
    """

    def text(value: Any) -> str:
        return canonical_json(value).decode("utf-8").replace("%", "%%")

    buys: list[str] = []
    sells: list[str] = []
    price_fields = ",".join(f"{text(tag)}:%d" for tag in sorted(tags))
    for agent, tag in zip(community.agents, community.sell_tag, strict=True):
        # The id "<agent>@<slot>": the quoted agent and "@", then the slot, then the quote.
        order_id = text(f"{agent}@")[:-1] + '%d"'
        head = f'{{"agent":{text(agent)},"id":{order_id},'
        buys.append(head + f'"prices":{{{price_fields}}},"quantity_wh":%d,"side":"buy"}}')
        sell_tag = text(tag) if tag is not None else '""'
        sells.append(head + f'"price":%d,"quantity_wh":%d,"side":"sell","tag":{sell_tag}}}')
    return buys, sells
