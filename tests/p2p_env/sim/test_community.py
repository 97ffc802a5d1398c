"""Community layout, action decoding and settlement."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from p2p_env.config import load_config
from p2p_env.sim.actions import BUY, NO_ORDER, SELL, action_size, decode
from p2p_env.sim.community import AgentKind, Community, agent_ids
from p2p_env.sim.settlement import GridTariffs, MonthState, settle

CONFIG = load_config("higashifuji_demo")
COMMUNITY = Community.from_config(CONFIG)
TAGS = CONFIG.market.tags
SELL_TAG_INDEX = np.asarray([TAGS.index(t) if t else -1 for t in COMMUNITY.sell_tag])


def test_demonstration_layout() -> None:
    c = COMMUNITY
    assert c.n_homes == 20
    assert c.n_phv == 9
    assert c.has_office
    assert c.agents[:2] == ("home_00", "home_01")
    assert c.agents[20] == "phv_00"
    assert c.agents[-1] == "office"
    assert c.n_agents == 30
    assert int(c.home_is_prosumer.sum()) == 8
    assert c.batteries.n == 4
    assert sorted(c.home_group[h] for h in c.phv_home) == sorted(
        ["consumer_phv"] * 6 + ["pv_phv"] * 2 + ["pv_battery_phv"]
    )
    # Consumers have nothing to sell; prosumers sell pv; PHVs without V2B sell nothing.
    assert [c.sell_tag[i] for i in c.index(AgentKind.HOME)].count(None) == 12
    assert all(c.sell_tag[i] is None for i in c.index(AgentKind.PHV))
    assert c.sell_tag[-1] == "pv"


def test_agent_ids_widen_for_large_communities() -> None:
    assert agent_ids("home", 3) == ["home_00", "home_01", "home_02"]
    assert agent_ids("home", 20_000)[-1] == "home_19999"
    scaled = Community.from_config(load_config("higashifuji_demo", ["community.scale=10"]))
    assert scaled.n_homes == 200
    assert scaled.agents[199] == "home_199"


def _decode(actions: np.ndarray) -> object:
    return decode(actions, COMMUNITY, 0, 5000, SELL_TAG_INDEX)


def test_decoding_table() -> None:
    a = np.zeros((COMMUNITY.n_agents, action_size(len(TAGS))))
    a[12, :] = [-0.5, 1.0, -1.0, 0.0, -1.0]  # pv_only prosumer sells half its limit at 50 JPY
    a[0, :] = [0.25, 0.0, -1.0, 1.0, 1.0]  # consumer buys
    a[1, 0] = -1.0  # a consumer cannot sell
    d = _decode(a)
    assert d.side[12] == SELL
    assert d.quantity_wh[12] == round(0.5 * COMMUNITY.trade_limit_wh[12])
    assert d.prices[12].tolist() == [5000, 0, 2500]
    assert d.side[0] == BUY
    assert d.prices[0].tolist() == [2500, 0, 5000]
    assert d.setpoint_w[0] == 0.0  # no battery: storage power 0
    assert d.side[1] == NO_ORDER
    assert d.unsellable[1]
    assert d.side[2] == NO_ORDER  # quantity 0


@settings(max_examples=200, deadline=None)
@given(arrays(np.float64, (30, 5), elements=st.floats(allow_nan=True, allow_infinity=True)))
def test_any_action_array_decodes_within_bounds(actions: np.ndarray) -> None:
    d = _decode(actions)
    assert np.all(d.quantity_wh >= 0)
    assert np.all(d.quantity_wh <= np.rint(COMMUNITY.trade_limit_wh))
    assert np.all((d.prices >= 0) & (d.prices <= 5000))
    assert np.all(np.abs(d.setpoint_w) <= COMMUNITY.storage_power_w)
    assert np.all((d.side == NO_ORDER) == (d.quantity_wh == 0))
    assert d.nonfinite.sum() == (~np.isfinite(actions)).sum()
    finite = np.where(np.isfinite(actions), actions, 0)
    assert d.clipped.sum() == (np.abs(finite) > 1).sum()


def test_decode_rejects_wrong_shape() -> None:
    with pytest.raises(ValueError, match="actions must have shape"):
        _decode(np.zeros((3, 5)))


def test_settlement_backstop_and_imbalance() -> None:
    tariffs = GridTariffs.from_config(CONFIG, COMMUNITY)
    state = MonthState.zeros(COMMUNITY.n_agents)
    state.roll(202008)
    n = COMMUNITY.n_agents
    metered = np.zeros(n, np.int64)
    bought = np.zeros(n, np.int64)
    sold = np.zeros(n, np.int64)
    paid = np.zeros(n, np.int64)
    received = np.zeros(n, np.int64)
    metered[0], bought[0], paid[0] = 1000, 600, 1200  # bought 600 P2P, 400 from the grid
    metered[12], sold[12], received[12] = -500, 800, 1600  # sold 800, exported only 500
    metered[17] = -1000  # exports 1 kWh to the grid at FIT 24 (pv_phv group)
    metered[18], bought[18], paid[18] = -1000, 700, 1400  # FIT home buys 700 it does not use
    metered[-1] = 20_000  # office imports 20 kWh: 40 kW peak
    s = settle(metered, bought, sold, paid, received, tariffs, state)
    assert s.grid_bought_wh[0] == 400
    assert s.grid_cost_sen[0] == round(400 * (1988 + 295) / 1000)
    # Sold and not delivered: 300 Wh at the imbalance price (50 JPY/kWh), not at retail.
    assert s.undelivered_wh[12] == 300
    assert s.grid_bought_wh[12] == 300
    assert s.grid_cost_sen[12] == 0
    assert s.imbalance_penalty_sen[12] == 300 * 5000 // 1000
    assert s.net_cost_sen[12] == 1500 - 1600
    # Own export at FIT; contract energy bought and not used resold at the post-FIT price.
    assert s.grid_sold_wh[17] == 1000
    assert s.grid_revenue_sen[17] == 2400
    assert s.grid_sold_wh[18] == 1700
    assert s.grid_revenue_sen[18] == 2400 + round(700 * 850 / 1000)
    assert s.demand_charge_sen[-1] == 40 * 171_600
    assert s.net_cost_sen[0] == 1200 + s.grid_cost_sen[0]
    assert np.all(s.grid_bought_wh * s.grid_sold_wh == 0)
    assert state.grid_bought_wh[0] == 400
    assert state.grid_bought_wh[12] == 0  # the block tariff counts retail purchases only
    assert state.peak_import_wh[-1] == 20_000
    # A lower office import later in the month adds no demand charge; a new month resets.
    again = settle(metered // 2, bought, sold, paid, received, tariffs, state)
    assert again.demand_charge_sen[-1] == 0
    state.roll(202009)
    assert state.peak_import_wh[-1] == 0


def test_paper_trades_do_not_pay() -> None:
    """Selling energy one does not have, or buying it to export at FIT, never pays."""
    tariffs = GridTariffs.from_config(CONFIG, COMMUNITY)
    n = COMMUNITY.n_agents
    zeros = np.zeros(n, np.int64)

    def community_cost(bought: np.ndarray, sold: np.ndarray, metered: np.ndarray) -> int:
        state = MonthState.zeros(n)
        state.roll(202008)
        price = 5000  # P2P money nets out in the community whatever the price
        money = bought * price // 1000
        s = settle(metered, bought, sold, money, sold * price // 1000, tariffs, state)
        return int(s.net_cost_sen.sum())

    metered = np.full(n, 1000, np.int64)
    metered[-1] = 20_000
    base = community_cost(zeros, zeros, metered)
    # The office (cheap energy price) sells 1 kWh it does not have to a top-block home.
    bought, sold = zeros.copy(), zeros.copy()
    sold[-1], bought[0] = 1000, 1000
    assert community_cost(bought, sold, metered) >= base
    # A FIT home buys 1 kWh from a post-FIT home's surplus and exports it.
    metered2 = metered.copy()
    metered2[12], metered2[17] = -1000, -500
    base2 = community_cost(zeros, zeros, metered2)
    bought, sold = zeros.copy(), zeros.copy()
    sold[12], bought[17] = 1000, 1000
    assert community_cost(bought, sold, metered2) >= base2
