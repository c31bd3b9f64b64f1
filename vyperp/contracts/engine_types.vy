# pragma version ~=0.4.3
"""
@title engine_types
@notice The parameter structs the engine and its configurator share, and the
        validation every parameter change passes (in the configurator, so the
        engine's bytecode stays under the size limit).
@dev Pure module. Failure reasons are listed with each validator.
"""

import constants
import fixed_math
import funding_models


struct MarketConfig:
    oracle: address                  # AggregatorV3-compatible feed of the index price
    max_oracle_age: uint256          # seconds after which a round is stale
    max_price_jump: uint256          # largest accepted move vs the last accepted price (fraction)
    skew_scale: uint256              # skew (base units) at which the premium is 100 %
    max_premium: uint256             # bound on |mark / index - 1|
    taker_fee: uint256               # fee on the skew-increasing part of a trade (fraction of notional)
    maker_fee: uint256               # fee on the skew-reducing part
    max_open_interest: uint256       # per side, USD notional at the index price
    interest_rate: int256            # I in F = P + clamp(I - P, -c, c), per 8h
    funding_clamp: uint256           # c
    max_funding_rate: uint256        # cap (and -floor) per 8h
    funding_model: uint256           # funding_models.LINEAR | NONLINEAR | VELOCITY
    nonlinear_threshold: uint256     # |P| beyond which NONLINEAR adds a quadratic term
    nonlinear_coefficient: uint256   # k of that quadratic term
    funding_velocity: uint256        # VELOCITY: rate drift per day per unit of premium
    size_tier_notional: uint256      # positions above this notional pay a multiple (0 = off)
    size_tier_multiplier: uint256    # that multiple (>= 1e18)
    max_open_interest_pool_ratio: uint256  # per side, OI notional <= this x pool balance (0 = off)
    max_pnl_pool_ratio: uint256      # a side's aggregate profit counts up to this x pool balance (0 = off)
    adl_pnl_pool_ratio: uint256      # ADL of a side opens when its profit passes this x pool balance (0 = off)
    transfer_margin_ratio: uint256   # withdrawals keep equity >= this x notional (Hyperliquid's transfer margin)
    delayed_orders: bool             # risk-increasing trades only as orders filled at a later oracle round
    order_ttl: uint256               # seconds a delayed order stays executable

struct RiskConfig:
    variance_ewma_weight: uint256    # lambda of the EWMA of squared log-returns (0 = volatility term off)
    reference_volatility: uint256    # per-round volatility at which the volatility term starts
    volatility_weight: uint256       # multiplier added per unit of (vol / reference - 1)
    funding_weight: uint256          # multiplier added per unit of |F - EMA(F)| (0 = funding term off)
    funding_ema_period: uint256      # seconds; EMA weight of a touch = min(elapsed / period, 1)
    max_multiplier: uint256          # bound on the multiplier (>= 1e18)
    apply_to_maintenance: bool       # also scale maintenance margin

struct LiquidationTier:
    margin_ratio_below: uint256      # tier applies when equity / maintenance < this
    close_fraction: uint256          # share of the chosen position closed (1e18 = all)

struct LiquidationConfig:
    reward_rate: uint256             # keeper reward, fraction of closed notional...
    reward_floor: uint256            # ...at least this (USD)...
    reward_cap: uint256              # ...at most this (USD)
    penalty_rate: uint256            # penalty to the insurance fund, fraction of closed notional
    cooldown: uint256                # seconds between partial steps on one account
    min_position_notional: uint256   # a partial step leaving less than this closes all
    insurance_fee_share: uint256     # share of trading fees routed to the insurance fund
    pool_reserve_ratio: uint256      # pool value kept against open-interest notional for LP withdrawals

struct RateLimit:
    window: uint256                  # seconds (0 = no limit)
    max_notional: uint256            # USD liquidated per window

struct MarketState:
    long_open_interest: uint256
    short_open_interest: uint256
    cumulative_funding_per_unit: int256
    funding_rate: int256             # rate at the last touch, per 8h
    funding_rate_ema: int256
    last_funding_time: uint256
    sum_size_entry_price: int256     # sum of size * entry_price over positions (unscaled)
    sum_size_funding_index: int256   # sum of size * position funding index (unscaled)
    last_price: uint256              # last accepted index price
    last_round_id: uint80
    variance_ema: uint256            # EWMA of squared log returns per round (1e18)
    risk_multiplier: uint256
    paused: bool
    liquidation_window_start: uint256
    liquidation_window_notional: uint256
    long_sum_size_entry_price: int256  # the longs' part of sum_size_entry_price (unscaled)

struct Position:
    size: int256
    entry_price: uint256             # price at which PnL was last realized
    funding_index: int256            # cumulative funding per unit at last settlement

struct Health:
    equity: int256
    initial_margin: uint256
    maintenance_margin: uint256
    largest_market: uint256          # market with the largest maintenance requirement
    largest_requirement: uint256
    position_count: uint256
    transfer_margin: uint256         # sum of transfer_margin_ratio x notional (withdrawals keep equity above it)

struct Order:
    size_delta: int256               # 0 = no order
    acceptable_price: uint256        # buys fill at most, sells at least this
    round_id: uint80                 # oracle round accepted at commit; the fill needs a later one
    expiry: uint256                  # timestamp after which the order can only be cleared


@pure
@internal
def _validate_market_config(config: MarketConfig):
    """
    @dev Reverts "Zero address", "Bad oracle age", "Bad price jump bound", "Bad skew scale",
         "Bad max premium", "Bad fees", "Bad funding cap", "Bad open-interest cap", "Bad funding parameters",
         "Unknown funding model", "Bad size tier", "Bad open-interest ratio", "Bad PnL ratio",
         "ADL ratio above PnL cap", "Bad transfer margin", "Bad order TTL".
    """
    assert config.oracle != empty(address), "Zero address"
    assert config.max_oracle_age > 0, "Bad oracle age"
    assert config.max_price_jump > 0 and config.max_price_jump <= constants.WAD, "Bad price jump bound"
    # the engine packs skew_scale and max_open_interest into 128 bits (markets._hot_config)
    assert config.skew_scale > 0 and config.skew_scale < 2**128, "Bad skew scale"
    assert config.max_premium <= constants.WAD // 2, "Bad max premium"
    assert config.taker_fee <= constants.WAD // 10 and config.maker_fee <= config.taker_fee, "Bad fees"
    assert config.max_funding_rate <= constants.WAD, "Bad funding cap"
    assert config.max_open_interest < 2**128, "Bad open-interest cap"
    assert config.funding_clamp <= constants.WAD and abs(config.interest_rate) <= constants.IWAD, "Bad funding parameters"
    assert config.funding_model <= funding_models.VELOCITY, "Unknown funding model"
    assert config.size_tier_multiplier <= 10 * constants.WAD and (config.size_tier_notional == 0 or config.size_tier_multiplier >= constants.WAD), "Bad size tier"
    assert config.max_open_interest_pool_ratio <= 100 * constants.WAD, "Bad open-interest ratio"
    assert config.max_pnl_pool_ratio <= constants.WAD and config.adl_pnl_pool_ratio <= constants.WAD, "Bad PnL ratio"
    assert config.max_pnl_pool_ratio == 0 or config.adl_pnl_pool_ratio <= config.max_pnl_pool_ratio, "ADL ratio above PnL cap"
    assert config.transfer_margin_ratio <= constants.WAD, "Bad transfer margin"
    assert not config.delayed_orders or (config.order_ttl > 0 and config.order_ttl <= 86400), "Bad order TTL"


@pure
@internal
def _hot_words(config: MarketConfig, risk: RiskConfig) -> uint256[4]:
    """
    @dev Words 1-4 of the engine's packed hot parameters (markets._hot_config), from a
         config and a risk config this module validated (so each field fits its width):
         word 1: skew_scale (128, < 2**128) | max_premium (64) << 128 | max_price_jump (64) << 192
         word 2: taker_fee (64) | maker_fee (64) << 64 | max_funding_rate (64) << 128 | funding_clamp (64) << 192
         word 3: interest_rate + 1e18 (64) | max_pnl_pool_ratio (60) << 64 | transfer_margin_ratio (60) << 124
                 | max_open_interest_pool_ratio (72, <= 100e18) << 184
         word 4: max_open_interest (128, < 2**128) | variance_ewma_weight (64) << 128 | funding_model (8) << 192
                 | delayed_orders << 200 | (size_tier_notional > 0) << 201 | (funding_weight > 0) << 202
                 | (max_multiplier > 1e18) << 203 | apply_to_maintenance << 204 | max_oracle_age (32) << 208
         Fractions are validated <= 1e18 < 2**60. max_oracle_age saturates at 2**32 - 1 s
         (136 years): the same staleness verdict for every timestamp below 2**32 (year 2106).
    """
    return [
        config.skew_scale | config.max_premium << 128 | config.max_price_jump << 192,
        config.taker_fee | config.maker_fee << 64 | config.max_funding_rate << 128 | config.funding_clamp << 192,
        convert(config.interest_rate + constants.IWAD, uint256) | config.max_pnl_pool_ratio << 64 | config.transfer_margin_ratio << 124 | config.max_open_interest_pool_ratio << 184,
        config.max_open_interest | risk.variance_ewma_weight << 128 | config.funding_model << 192 | convert(config.delayed_orders, uint256) << 200 | convert(config.size_tier_notional > 0, uint256) << 201 | convert(risk.funding_weight > 0, uint256) << 202 | convert(risk.max_multiplier > constants.WAD, uint256) << 203 | convert(risk.apply_to_maintenance, uint256) << 204 | min(config.max_oracle_age, 2**32 - 1) << 208,
    ]


@pure
@internal
def _validate_risk_config(config: RiskConfig):
    """
    @dev Reverts "Bad EWMA weight", "Bad reference volatility", "Bad max multiplier",
         "Bad funding EMA period".
    """
    assert config.variance_ewma_weight <= constants.WAD, "Bad EWMA weight"
    assert config.variance_ewma_weight == 0 or config.reference_volatility > 0, "Bad reference volatility"
    assert config.max_multiplier >= constants.WAD and config.max_multiplier <= 10 * constants.WAD, "Bad max multiplier"
    assert config.funding_weight == 0 or config.funding_ema_period > 0, "Bad funding EMA period"


@pure
@internal
def _validate_liquidation_config(config: LiquidationConfig, tiers: DynArray[LiquidationTier, constants.MAX_TIERS]):
    """
    @dev Tiers: thresholds strictly descending from exactly 1.0, fractions strictly
         rising to exactly 1.0 (the deepest tier closes all). Reverts "Bad keeper reward",
         "Bad liquidation rates", "Bad shares", "Tiers not descending",
         "Tier fractions must rise", "First tier must start at ratio 1", "Last tier must close all".
    """
    # the engine packs reward_floor and reward_cap into 128 bits each (liquidation_policy._keeper_terms)
    assert config.reward_floor <= config.reward_cap and config.reward_cap < 2**128, "Bad keeper reward"
    assert config.reward_rate <= constants.WAD // 10 and config.penalty_rate <= constants.WAD // 10, "Bad liquidation rates"
    assert config.insurance_fee_share <= constants.WAD and config.pool_reserve_ratio <= constants.WAD, "Bad shares"
    previous_ratio: uint256 = max_value(uint256)
    previous_fraction: uint256 = 0
    for tier: LiquidationTier in tiers:
        assert tier.margin_ratio_below < previous_ratio and tier.margin_ratio_below <= constants.WAD, "Tiers not descending"
        assert tier.close_fraction > previous_fraction and tier.close_fraction <= constants.WAD, "Tier fractions must rise"
        previous_ratio = tier.margin_ratio_below
        previous_fraction = tier.close_fraction
    if len(tiers) > 0:
        assert tiers[0].margin_ratio_below == constants.WAD, "First tier must start at ratio 1"
        assert previous_fraction == constants.WAD, "Last tier must close all"


@pure
@internal
def _validate_rate_limit(limit: RateLimit):
    """
    @dev Reverts "Bad rate limit" (a window needs a positive notional).
    """
    assert limit.window == 0 or limit.max_notional > 0, "Bad rate limit"
