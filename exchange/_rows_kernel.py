"""The orders of a per-agent table in one compiled pass (:func:`exchange.arrays.table_orders`).

Imported on first use (numba's own import costs a few tenths of a second). ``cache=True`` keeps
the machine code in ``__pycache__``; numba invalidates it only when this file changes, so the
kernel reads nothing from other modules.
"""

from __future__ import annotations

import numba
import numpy as np

from exchange.units import Int64Array


@numba.njit(cache=True, nogil=True)
def table_rows(
    side: np.ndarray, buy: int, quantity: Int64Array, prices: Int64Array, sell_tag: Int64Array
) -> tuple[bool, Int64Array, np.ndarray, Int64Array, Int64Array, Int64Array, Int64Array]:
    """One row per agent whose ``side`` is not 0, in agent order.

    Args:
        side: Per agent, 0 (no order), ``buy`` or any other value (a sell).
        buy: The ``side`` value of a buy.
        quantity: Per agent, Wh.
        prices: ``agents x tags``: per agent, its limit per tag code.
        sell_tag: Per agent, the tag code it sells.

    Returns:
        Whether every row's sell tag lies in ``[0, tags)`` (if not, the columns are not
        filled in: the caller's numpy passes decide what such a table means), then the
        :class:`~exchange.arrays.OrderArrays` columns ``agent``, ``is_buy``, ``quantity_wh``,
        ``prices``, ``sell_tag`` and ``sell_price`` (the row's price for its sell tag).
    """
    n_agents = side.shape[0]
    n_tags = prices.shape[1]
    n = 0
    ok = True
    for a in range(n_agents):
        if side[a] != 0:
            n += 1
            if sell_tag[a] < 0 or sell_tag[a] >= n_tags:
                ok = False
    agent = np.empty(n, dtype=np.int64)
    is_buy = np.empty(n, dtype=np.bool_)
    row_quantity = np.empty(n, dtype=np.int64)
    row_prices = np.empty((n, n_tags), dtype=np.int64)
    row_tag = np.empty(n, dtype=np.int64)
    row_price = np.empty(n, dtype=np.int64)
    i = 0
    for a in range(n_agents if ok else 0):
        if side[a] != 0:
            agent[i] = a
            is_buy[i] = side[a] == buy
            row_quantity[i] = quantity[a]
            for t in range(n_tags):
                row_prices[i, t] = prices[a, t]
            row_tag[i] = sell_tag[a]
            row_price[i] = prices[a, sell_tag[a]]
            i += 1
    return ok, agent, is_buy, row_quantity, row_prices, row_tag, row_price
