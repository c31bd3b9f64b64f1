# pragma version ~=0.4.3
"""
@title funding
@notice Continuous funding and the market touch. Touching a market brings it up to
        date: funding accrues over the interval since the last touch under the skew
        then, the latest oracle round is accepted (oracle_guard), and the risk
        multiplier both feed is refreshed. A touched position then settles the funding
        it owes between its margin and the pool (a size-tier surcharge to insurance).
@dev Module without storage of its own: it writes the `markets` and `ledger` state it
     `uses:`. The rate in force since the last touch is set by the skew then, which
     only a touch changes, so accrual between touches is exact for LINEAR/NONLINEAR
     and trapezoidal for VELOCITY.
"""

from interfaces import IEngine
import constants
import fixed_math
import funding_models
import pricing
import ledger
import markets
import oracle_guard

uses: markets
uses: ledger
uses: oracle_guard


@internal
def _touch_market(market: uint256) -> uint256:
    """
    @dev Accept the oracle round, accrue funding, refresh the risk multiplier.
    @return The index price read.
    """
    price: uint256 = 0
    round_id: uint80 = 0
    price, round_id = oracle_guard._read_index_price(market, True)
    self._accept(market, price, round_id)
    return price


@internal
def _touch_market_unbounded(market: uint256) -> uint256:
    """
    @dev _touch_market without the jump bound (the guardian's re-anchor).
    """
    price: uint256 = 0
    round_id: uint80 = 0
    price, round_id = oracle_guard._read_index_price(market, False)
    self._accept(market, price, round_id)
    log IEngine.OraclePriceReanchored(market=market, price=price)
    return price


@internal
def _accept(market: uint256, price: uint256, round_id: uint80):
    """
    @dev Funding first (the interval since the last touch accrues under the old skew),
         then the new oracle round, then the risk multiplier both feed.
    """
    accrued: bool = self._accrue_funding(market, price)
    rolled: bool = oracle_guard._accept_round(market, price, round_id)
    if (accrued or rolled) and markets._hot(market, markets.RISK_MULTIPLIER) != 0:
        markets.market_state[market].risk_multiplier = markets._risk_multiplier(market)


@internal
def _accrue_funding(market: uint256, price: uint256) -> bool:
    """
    @dev Write the funding accrued since the last touch, the dimensionless rate index
         (markets._rate_index, same trapezoid at a unit price) and the funding-rate EMA.
    @return False if nothing elapsed.
    """
    elapsed: uint256 = block.timestamp - markets._funding_state_of(market)[2]
    if elapsed == 0:
        return False
    cumulative: int256 = 0
    rate: int256 = 0
    rate_increment: int256 = 0
    cumulative, rate, rate_increment = self._funding_now(market, price)
    markets._add_rate_index(market, rate_increment)
    markets._set_funding_state(market, cumulative, rate, block.timestamp)
    if markets._hot(market, markets.FUNDING_EMA) != 0:
        # the EMA only feeds the funding term of the risk multiplier: kept while that term is on
        ema: int256 = markets.market_state[market].funding_rate_ema
        weight: int256 = convert(min(elapsed * constants.WAD // markets.risk_config[market].funding_ema_period, constants.WAD), int256)
        markets.market_state[market].funding_rate_ema = ema + (rate - ema) * weight // constants.IWAD
    log IEngine.FundingAccrued(market=market, funding_rate=rate, cumulative_funding_per_unit=cumulative, index_price=price)
    return True


@view
@internal
def _funding_now(market: uint256, index_price: uint256) -> (int256, int256, int256):
    """
    @dev (cumulative funding per unit, rate, increment of the rate index since the last
         touch) as of now, without writing; a settled market accrues neither. The rate in
         force since the last touch is set by the skew then, which only a touch changes,
         so accrual between touches is exact for LINEAR/NONLINEAR and trapezoidal for
         VELOCITY. Accrual uses the index price read at the touch.
    """
    cumulative: int256 = 0
    last_rate: int256 = 0
    last_time: uint256 = 0
    cumulative, last_rate, last_time = markets._funding_state_of(market)
    if markets._hot(market, markets.SETTLED) != 0:
        return (cumulative, 0, 0)
    elapsed: uint256 = block.timestamp - last_time
    max_rate: uint256 = 0
    clamp_width: uint256 = 0
    max_rate, clamp_width = markets._hot2(market, markets.MAX_FUNDING_RATE, markets.FUNDING_CLAMP)
    cap: int256 = convert(max_rate, int256)
    skew_scale: uint256 = 0
    max_premium: uint256 = 0
    skew_scale, max_premium = markets._hot2(market, markets.SKEW_SCALE, markets.MAX_PREMIUM)
    premium: int256 = funding_models._premium(markets._skew(market), skew_scale, max_premium)
    start_rate: int256 = 0
    rate: int256 = 0
    model: uint256 = markets._hot(market, markets.FUNDING_MODEL)
    if model == funding_models.VELOCITY:
        start_rate = last_rate
        rate = fixed_math._clamp(funding_models._velocity_rate(start_rate, premium, markets.market_config[market].funding_velocity, elapsed), -cap, cap)
    else:
        threshold: uint256 = 0
        coefficient: uint256 = 0
        if model == funding_models.NONLINEAR:  # read only when used: two cold loads per touch
            threshold = markets.market_config[market].nonlinear_threshold
            coefficient = markets.market_config[market].nonlinear_coefficient
        rate = fixed_math._clamp(funding_models._premium_rate(premium, convert(markets._hot(market, markets.INTEREST_RATE_PLUS_WAD), int256) - constants.IWAD, clamp_width, model, threshold, coefficient), -cap, cap)
        start_rate = rate
    # elapsed == 0 adds nothing to either index
    cumulative += funding_models._index_increment(start_rate, rate, index_price, elapsed)
    return (cumulative, rate, funding_models._index_increment(start_rate, rate, constants.WAD, elapsed))


@view
@internal
def _cumulative_now(market: uint256, index_price: uint256) -> int256:
    """
    @dev _funding_now's cumulative funding per unit; a market already touched in this
         block (nothing elapsed) returns its stored index without recomputing the rate,
         which is what _funding_now adds for elapsed == 0 (nothing). Keepers' batches
         and ADL value every account after the first against a touched market.
    """
    cumulative: int256 = 0
    last_rate: int256 = 0
    last_time: uint256 = 0
    cumulative, last_rate, last_time = markets._funding_state_of(market)
    if last_time == block.timestamp:
        return cumulative
    return self._funding_now(market, index_price)[0]


@view
@internal
def _owed(market: uint256, size: int256, cumulative: int256, position_index: int256, index_price: uint256) -> (int256, uint256):
    """
    @dev (funding the position owes at `cumulative`, size-tier surcharge).
    """
    tier_notional: uint256 = 0
    tier_multiplier: uint256 = constants.WAD
    if markets._hot(market, markets.SIZE_TIER) != 0:  # read only when the size tier is on
        tier_notional = markets.market_config[market].size_tier_notional
        tier_multiplier = markets.market_config[market].size_tier_multiplier
    return pricing._funding_owed(size, cumulative, position_index, index_price, tier_notional, tier_multiplier)


@internal
def _settle_funding(account: address, market: uint256, index_price: uint256):
    """
    @dev Move the funding a touched position owes between its margin and the pool
         (size-tier surcharge to insurance), and reset its funding index.
    """
    size: int256 = ledger._size(account, market)
    cumulative: int256 = markets._cumulative(market)
    old_index: int256 = ledger._positions[account][market].funding_index
    if size == 0 or cumulative == old_index:
        return
    owed: int256 = 0
    surcharge: uint256 = 0
    owed, surcharge = self._owed(market, size, cumulative, old_index, index_price)
    if owed < 0:
        # funding the pool pays is bounded by its cash: the pool never goes below zero
        owed = max(owed, -max(ledger._pool(), 0))
    ledger._add_margin(account, -(owed + convert(surcharge, int256)))
    ledger._move_funds(owed, convert(surcharge, int256))
    ledger._positions[account][market].funding_index = cumulative
    markets.market_state[market].sum_size_funding_index += size * (cumulative - old_index)
    log IEngine.FundingSettled(account=account, market=market, amount=owed, to_insurance=surcharge)
