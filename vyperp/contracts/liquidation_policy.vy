# pragma version ~=0.4.3
# pragma nonreentrancy on
"""
@title liquidation_policy
@notice What a liquidation may do: the protocol-wide LiquidationConfig (keeper
        reward, penalty, cool-down, minimum position, and the fee share routed to
        insurance and the pool reserve ratio, which the struct also carries), the
        liquidation tiers, each market's rate limit, each account's last partial
        step; and the two decisions they make: which tier applies, and whether a
        market's liquidation window has room.
@dev Stateful module, initialized by the Engine; the liquidation, fill and pool
     valuation modules `uses:` it. Parameters are written by the Engine's setters only.
"""

import constants
import engine_types
import health_math
import markets

uses: markets

# The full struct (its getter); on the liquidation path only a partial step reads it
# (cooldown, min_position_notional). What every liquidation reads is packed in _keeper_terms,
# and the trade path's insurance_fee_share sits in each market's hot word 5 (markets).
liquidation_config: public(engine_types.LiquidationConfig)
_tiers: DynArray[engine_types.LiquidationTier, constants.MAX_TIERS]
# word 0: reward_rate (64) | penalty_rate (64) << 64 | pool_reserve_ratio (64) << 128 | len(_tiers) (8) << 192
# word 1: reward_floor (128) | reward_cap (128) << 128
# Bounds (the configurator validates them: engine_types._validate_liquidation_config):
# rates <= 0.1e18 and the ratio <= 1e18, all < 2**60; reward_floor <= reward_cap < 2**128;
# len(_tiers) <= MAX_TIERS. Written only with the struct (_set_config).
_keeper_terms: uint256[2]
rate_limit: public(HashMap[uint256, engine_types.RateLimit])
last_partial_liquidation: public(HashMap[address, uint256])


struct KeeperTerms:
    reward_rate: uint256             # keeper reward, fraction of closed notional...
    reward_floor: uint256            # ...at least this (USD)...
    reward_cap: uint256              # ...at most this (USD)
    penalty_rate: uint256            # penalty to the insurance fund, fraction of closed notional


@internal
def _set_config(config: engine_types.LiquidationConfig, tiers: DynArray[engine_types.LiquidationTier, constants.MAX_TIERS]):
    """
    @dev Store the liquidation parameters, their packed copy, and the tiers.
    """
    self.liquidation_config = config
    self._tiers = tiers
    self._keeper_terms = [
        config.reward_rate | config.penalty_rate << 64 | config.pool_reserve_ratio << 128 | len(tiers) << 192,
        config.reward_floor | config.reward_cap << 128,
    ]


@view
@internal
def _keeper_terms_of() -> KeeperTerms:
    """
    @dev The keeper reward and penalty terms, from the two packed words.
    """
    rates: uint256 = self._keeper_terms[0]
    bounds: uint256 = self._keeper_terms[1]
    return KeeperTerms(reward_rate=rates & (2**64 - 1), reward_floor=bounds & (2**128 - 1), reward_cap=bounds >> 128, penalty_rate=(rates >> 64) & (2**64 - 1))


@view
@internal
def _pool_reserve_ratio() -> uint256:
    """
    @dev The pool value kept against open-interest notional (fraction).
    """
    return (self._keeper_terms[0] >> 128) & (2**64 - 1)


@view
@internal
def _tier_for(health: engine_types.Health) -> (uint256, uint256):
    """
    @dev (close fraction, tier index) for an account below maintenance: the deepest
         tier whose margin-ratio threshold the account is below. No tiers = close all.
    """
    fraction: uint256 = constants.WAD
    tier: uint256 = 0
    count: uint256 = self._keeper_terms[0] >> 192
    if count == 0:
        return (fraction, tier)
    ratio: uint256 = health_math._margin_ratio(health.equity, health.maintenance_margin)
    for i: uint256 in range(constants.MAX_TIERS):
        if i >= count:
            break
        if ratio < self._tiers[i].margin_ratio_below:
            fraction = self._tiers[i].close_fraction
            tier = i
    return (fraction, tier)


@internal
def _count_rate_limit(market: uint256, notional: uint256, force: bool) -> bool:
    """
    @dev Add `notional` to the market's liquidation window; False (nothing counted, the
         stored window untouched) if that would pass the limit, unless `force`. A window
         rolled by a refused count is not written: the next count rolls it afresh.
    """
    if markets._hot(market, markets.RATE_LIMITED) == 0:
        return True
    window: uint256 = self.rate_limit[market].window
    used: uint256 = markets.market_state[market].liquidation_window_notional
    start: uint256 = markets.market_state[market].liquidation_window_start
    if block.timestamp >= start + window:
        start = block.timestamp
        used = 0
    used += notional
    if used > self.rate_limit[market].max_notional and not force:
        return False
    markets.market_state[market].liquidation_window_start = start
    markets.market_state[market].liquidation_window_notional = used
    return True
