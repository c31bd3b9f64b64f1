"""The one reference model of the protocol's arithmetic, written from the contracts.

- :mod:`vyperp.model.exact`: pure integer functions, each mirroring one piece of
  contracts/*.vy bit for bit (rounding included): pricing, fees, funding and its EMA, the
  volatility EWMA and risk multiplier, margin brackets x multiplier, oracle acceptance,
  the liquidation step's parts (tier, size closed, reward, penalty, cool-down, rate-limit
  window), the bad-debt waterfall, the pool's value / reserve / ERC-4626 share arithmetic,
  ADL ranking and haircuts.
- :mod:`vyperp.model.engine`: :class:`EngineModel`, the engine's books advanced by those
  functions (touches, trades, withdrawals, liquidation steps, ADL), for tests and the
  fuzzer to compare with the chain to the wei.
- :mod:`vyperp.model.invariants`: the protocol invariants, shared by the stateful fuzzer
  and the replay's metrics.

``from vyperp import model; model.fill_price(...)`` keeps working: the pure functions
are re-exported here.
"""

from __future__ import annotations

from .engine import EngineModel, ModelRevert  # noqa: F401
from .exact import *  # noqa: F401,F403
from .exact import (  # noqa: F401  (names used by `model.X` callers, listed for readers)
    DAY,
    FUNDING_PERIOD,
    LINEAR,
    NONLINEAR,
    VELOCITY,
    WAD,
    FundingMarket,
    adl_haircut,
    adl_order,
    adl_ranked,
    adl_score,
    adl_side,
    bad_debt_cover,
    bracket_requirement,
    capped_profit,
    clamp,
    deficit_after_insurance,
    exit_price,
    fill_price,
    funding_ema,
    funding_owed,
    in_cooldown,
    index_increment,
    insurance_fee,
    keeper_payment,
    keeper_reward,
    liquidation_close,
    liquidation_penalty,
    lp_reason,
    margin_ratio,
    mark_price,
    mul_ceil,
    mul_floor,
    oracle_reason,
    partial_step_charges,
    payable_profit,
    pnl,
    pool_reserve,
    pool_value_terms,
    pool_withdrawable,
    position_pnl,
    position_value,
    premium,
    premium_rate,
    preview,
    price_scale,
    pro_rata_cut,
    pro_rata_fraction,
    profit_cap,
    rate_limit_window,
    requirements,
    risk_multiplier,
    side_profit,
    side_profits,
    signed_ratio,
    tier_for,
    to_assets,
    to_shares,
    total_assets,
    trade_fee,
    umul_up,
    variance_ewma,
    velocity_rate,
    wad_ln,
)
