# pragma version ~=0.4.3
# pragma nonreentrancy on
"""
@title markets
@notice The listed markets: how many there are, each one's parameters (MarketConfig,
        RiskConfig, margin brackets, oracle decimals scale, settlement price) and
        running state (MarketState: open interest, funding, last accepted oracle
        round, volatility EWMA, risk multiplier, pause flag, liquidation window, the
        pool's aggregates), and the views every other module prices with: skew, mark,
        exit price, a side's aggregate profit and the risk multiplier.
@dev Stateful module, initialized by the Engine; the other engine modules `uses:` it.
     Writes come from the engine's setters (parameters) and the oracle, funding,
     fill and liquidation modules (state). The getters are exported by the Engine.
"""

import constants
import engine_types
import fixed_math
import margin_brackets
import pricing

market_count: public(uint256)
market_config: public(HashMap[uint256, engine_types.MarketConfig])
market_state: public(HashMap[uint256, engine_types.MarketState])
risk_config: public(HashMap[uint256, engine_types.RiskConfig])
_brackets: HashMap[uint256, DynArray[margin_brackets.MarginBracket, margin_brackets.MAX_BRACKETS]]
_price_scale: HashMap[uint256, uint256]            # 10 ** (18 - oracle decimals)
settlement_price: public(HashMap[uint256, uint256])   # 0 = trading; else the guardian's settlement price
# Dimensionless cumulative funding rate R: sum of average rate per 8h * elapsed / 8h (1e18),
# accrued with the USD index's trapezoid at every touch; frozen once settled. Starts at 1 wei
# at listing (only differences of R mean anything). Kept out of MarketState (the replay
# fingerprints read that struct). FundingCaps settles caps and floors on it.
funding_rate_index: public(HashMap[uint256, int256])


@view
@internal
def _known(market: uint256):
    assert market < self.market_count, "Unknown market"


@view
@internal
def _skew(market: uint256) -> int256:
    return convert(self.market_state[market].long_open_interest, int256) - convert(self.market_state[market].short_open_interest, int256)


@view
@internal
def _mark(market: uint256, index_price: uint256) -> uint256:
    if self.settlement_price[market] != 0:
        return index_price
    return pricing._mark_price(index_price, self._skew(market), self.market_config[market].skew_scale, self.market_config[market].max_premium)


@view
@internal
def _exit(market: uint256, index_price: uint256, size: int256) -> uint256:
    """
    @dev What closing `size` now would fill at (the settlement price once settled).
    """
    if self.settlement_price[market] != 0:
        return index_price
    return pricing._exit_price(index_price, self._skew(market), size, self.market_config[market].skew_scale, self.market_config[market].max_premium)


@view
@internal
def _side_profit(market: uint256, price: uint256, long_side: bool) -> uint256:
    """
    @dev A side's aggregate unrealized profit at `price` (rounded up).
    """
    long_sum: int256 = self.market_state[market].long_sum_size_entry_price
    if long_side:
        return pricing._side_profit(self.market_state[market].long_open_interest, long_sum, price, True)
    return pricing._side_profit(self.market_state[market].short_open_interest, long_sum - self.market_state[market].sum_size_entry_price, price, False)


@view
@internal
def _risk_multiplier(market: uint256) -> uint256:
    """
    @dev 1 + volatility term + funding term, bounded by max_multiplier.
         volatility term = weight * max(0, sqrt(EWMA variance) / reference - 1);
         funding term = weight * |F - EMA(F)|.
    """
    multiplier: uint256 = constants.WAD
    volatility_weight: uint256 = self.risk_config[market].volatility_weight
    if volatility_weight > 0 and self.risk_config[market].variance_ewma_weight > 0:
        volatility: uint256 = isqrt(self.market_state[market].variance_ema * constants.WAD)
        reference: uint256 = self.risk_config[market].reference_volatility
        if volatility > reference:
            multiplier += fixed_math._umul_up((volatility - reference) * constants.WAD // reference, volatility_weight)
    funding_weight: uint256 = self.risk_config[market].funding_weight
    if funding_weight > 0:
        deviation: int256 = self.market_state[market].funding_rate - self.market_state[market].funding_rate_ema
        multiplier += fixed_math._umul_up(convert(abs(deviation), uint256), funding_weight)
    return min(multiplier, self.risk_config[market].max_multiplier)
