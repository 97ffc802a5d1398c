"""The layout shared by :mod:`p2p_env.sim.compiled` and its kernels
:mod:`p2p_env.sim._step_kernel` (kept apart so that the simulator names it without importing
numba)."""

from __future__ import annotations

# The decode kernel's side codes are the decoder's.
from p2p_env.sim.actions import BUY as BUY
from p2p_env.sim.actions import NO_ORDER as NO_ORDER
from p2p_env.sim.actions import SELL as SELL

# The PHV location codes are the series'.
from p2p_env.sim.series import AT_HOME as AT_HOME
from p2p_env.sim.series import AT_OFFICE as AT_OFFICE

# Rows of settle_slot's float output (each B x agents).
F_REWARD, F_COST_JPY, F_GASOLINE_L, F_SHORTFALL, F_CURTAILED, F_SOC = range(6)
N_FLOATS = 6
# Rows of its integer output (each B x agents): the meter and the flows (SlotFlows), then the
# settlement (Settlement's fields after the P2P ones), then gasoline.
(
    I_METERED,
    I_GENERATION,
    I_DISCHARGE,
    I_CHARGE,
    I_DRAWN,
    I_CONSUMPTION,
    I_GRID_BOUGHT,
    I_GRID_SOLD,
    I_GRID_COST,
    I_GRID_REVENUE,
    I_DEMAND,
    I_UNDELIVERED,
    I_PENALTY,
    I_NET_COST,
    I_GASOLINE_SEN,
) = range(15)
N_INTS = 15
# Rows of its info output (each B x agents): the numeric values of every agent's info dict
# (p2p_env.envs.info), in JPY, kWh and litres, under these keys.
INFO_KEYS = (
    "p2p_bought_kwh",
    "p2p_sold_kwh",
    "p2p_paid_jpy",
    "p2p_received_jpy",
    "grid_bought_kwh",
    "grid_sold_kwh",
    "grid_cost_jpy",
    "grid_revenue_jpy",
    "demand_charge_jpy",
    "undelivered_kwh",
    "imbalance_penalty_jpy",
    "gasoline_jpy",
    "gasoline_l",
    "net_cost_jpy",
    "imbalance_kwh",
    "storage_curtailed_kwh",
    "phv_shortfall_kwh",
)
N_INFO = len(INFO_KEYS)
# Rows of the storage bank's parameters (each of length units).
B_CAPACITY, B_CHARGE_W, B_DISCHARGE_W, B_ETA_CHARGE, B_ETA_DISCHARGE, B_MIN_WH, B_MAX_WH = range(7)
# The money and reward scalars, in this order.
M_GASOLINE_SEN_PER_WH, M_LITRES_PER_WH, M_PENALTY_PER_KWH, M_GREEN_PER_KWH, M_REWARD_SCALE = range(
    5
)
# The integer tariff scalars, in this order.
(
    T_SURCHARGE,
    T_OFFICE_ENERGY,
    T_RESALE,
    T_IMBALANCE,
    T_DEMAND_SEN_PER_KW,
    T_DEMAND_DENOMINATOR,
) = range(6)
