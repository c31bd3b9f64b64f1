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

liquidation_config: public(engine_types.LiquidationConfig)
_tiers: DynArray[engine_types.LiquidationTier, constants.MAX_TIERS]
rate_limit: public(HashMap[uint256, engine_types.RateLimit])
last_partial_liquidation: public(HashMap[address, uint256])


@view
@internal
def _tier_for(health: engine_types.Health) -> (uint256, uint256):
    """
    @dev (close fraction, tier index) for an account below maintenance: the deepest
         tier whose margin-ratio threshold the account is below. No tiers = close all.
    """
    ratio: uint256 = health_math._margin_ratio(health.equity, health.maintenance_margin)
    fraction: uint256 = constants.WAD
    tier: uint256 = 0
    for i: uint256 in range(constants.MAX_TIERS):
        if i >= len(self._tiers):
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
    window: uint256 = self.rate_limit[market].window
    if window == 0:
        return True
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
