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
# The running state; its hot fields stay zero here and live packed in _funding_state,
# _oracle_state and _open_interest: the public getter is Engine.market_state
# (_market_state_view), which overlays them.
market_state: HashMap[uint256, engine_types.MarketState]
# last_price (uint96) | last_round_id (uint80) << 96 | R (int79, two's complement) << 176 |
# paused << 255: what a touch with a new round writes, in one slot (the dimensionless
# funding-rate index R is below). Bounds (a conversion or a dev assert reverts past them):
# last_price < 2**96 (7.9e10 USD per coin); |R| < 2**78 (R grows by at most
# max_funding_rate <= 1e18 per 8 h: 3.0e5 periods, 276 years, at the largest rate allowed).
_oracle_state: HashMap[uint256, uint256]
PAUSED: constant(uint256) = 1 << 255
RATE_INDEX_SHIFT: constant(uint256) = 176
# long_open_interest (uint128) | short_open_interest (uint128) << 128
_open_interest: HashMap[uint256, uint256]
# cumulative_funding_per_unit (int128, two's complement) | funding_rate (int64) << 128 |
# last_funding_time (uint64) << 192, one slot written once per touch (_set_funding_state).
_funding_state: HashMap[uint256, uint256]
risk_config: public(HashMap[uint256, engine_types.RiskConfig])
_brackets: HashMap[uint256, DynArray[margin_brackets.MarginBracket, margin_brackets.MAX_BRACKETS]]
settlement_price: public(HashMap[uint256, uint256])   # 0 = trading; else the guardian's settlement price
# Dimensionless cumulative funding rate R: sum of average rate per 8h * elapsed / 8h (1e18),
# accrued with the USD index's trapezoid at every touch; frozen once settled. Starts at 1 wei
# at listing (only differences of R mean anything). Kept out of MarketState (the replay
# fingerprints read that struct). FundingCaps settles caps and floors on it (getter:
# Engine.funding_rate_index). Packed in _oracle_state (above): every accruing touch writes R
# and every new round the price, so a touch with a new round writes one slot for both.
# The volatility EWMA (1e18) has a slot of its own: written only while its weight is on, read
# by each new round to log it. Bound: a convex mix of squared log returns of prices in
# [1, 2**96) wei, so < 66.6**2 * 1e18 < 2**73. market_state[m].variance_ema stays zero (the
# getter overlays it).
_variance_ema: HashMap[uint256, uint256]
# The hot parameters a touch, a fill and a health check read, packed into HOT_WORDS words
# (6 cold slots instead of ~25): a copy of market_config / risk_config (which stay the full,
# public structs). Word 0 (oracle | 10 ** (18 - oracle decimals) << 160 | settled << 224) is
# written at listing, its settled bit by settle_market (the oracle cannot change); words 1-4 are engine_types._hot_words of
# the two structs, packed by the configurator (which validated every bound they rely on)
# and passed with every change of either. Word 5, what a health check, a fee and a
# liquidation step read besides: initial (64) | insurance_fee_share (64) << 64 | maintenance
# (64) << 128 | rate limited << 192. A market with a single margin bracket holds its rates
# there (_set_brackets; validated 0 < maintenance <= initial <= 1e18 < 2**60, so the initial
# field is never 0), so a health check skips the bracket array; initial 0 = several brackets.
# The fee share (<= 1e18) is the liquidation config's, copied into every market by
# set_liquidation_config and add_market; the flag follows set_rate_limit.
_hot_config: HashMap[uint256, uint256[HOT_WORDS]]

HOT_WORDS: constant(uint256) = 6
# A field of the packed hot parameters, named by word | first bit << 8 | width << 16:
ORACLE: constant(uint256) = 0 | 0 << 8 | 160 << 16
PRICE_SCALE: constant(uint256) = 0 | 160 << 8 | 64 << 16        # 10 ** (18 - oracle decimals)
SKEW_SCALE: constant(uint256) = 1 | 0 << 8 | 128 << 16
MAX_PREMIUM: constant(uint256) = 1 | 128 << 8 | 64 << 16
MAX_PRICE_JUMP: constant(uint256) = 1 | 192 << 8 | 64 << 16
TAKER_FEE: constant(uint256) = 2 | 0 << 8 | 64 << 16
MAKER_FEE: constant(uint256) = 2 | 64 << 8 | 64 << 16
MAX_FUNDING_RATE: constant(uint256) = 2 | 128 << 8 | 64 << 16
FUNDING_CLAMP: constant(uint256) = 2 | 192 << 8 | 64 << 16
INTEREST_RATE_PLUS_WAD: constant(uint256) = 3 | 0 << 8 | 64 << 16
MAX_PNL_POOL_RATIO: constant(uint256) = 3 | 64 << 8 | 60 << 16
TRANSFER_MARGIN_RATIO: constant(uint256) = 3 | 124 << 8 | 60 << 16
MAX_OPEN_INTEREST_POOL_RATIO: constant(uint256) = 3 | 184 << 8 | 72 << 16
MAX_OPEN_INTEREST: constant(uint256) = 4 | 0 << 8 | 128 << 16
VARIANCE_EWMA_WEIGHT: constant(uint256) = 4 | 128 << 8 | 64 << 16
FUNDING_MODEL: constant(uint256) = 4 | 192 << 8 | 8 << 16
DELAYED_ORDERS: constant(uint256) = 4 | 200 << 8 | 1 << 16
SIZE_TIER: constant(uint256) = 4 | 201 << 8 | 1 << 16           # size_tier_notional > 0
FUNDING_EMA: constant(uint256) = 4 | 202 << 8 | 1 << 16         # funding_weight > 0
RISK_MULTIPLIER: constant(uint256) = 4 | 203 << 8 | 1 << 16     # max_multiplier > 1e18
SCALED_MAINTENANCE: constant(uint256) = 4 | 204 << 8 | 1 << 16  # apply_to_maintenance
MAX_ORACLE_AGE: constant(uint256) = 4 | 208 << 8 | 32 << 16
# word 5's single-bracket rates (bits 0-63, 128-191) are read as one word by margin_health._health
INSURANCE_FEE_SHARE: constant(uint256) = 5 | 64 << 8 | 64 << 16  # liquidation_config.insurance_fee_share, copied per market
RATE_LIMITED: constant(uint256) = 5 | 192 << 8 | 1 << 16        # rate_limit[market].window > 0
SETTLED: constant(uint256) = 0 | 224 << 8 | 1 << 16            # settlement_price != 0 (settle_market sets both)


@view
@internal
def _market_state_view(market: uint256) -> engine_types.MarketState:
    """
    @dev The MarketState struct as it was stored unpacked (the getter's value).
    """
    state: engine_types.MarketState = self.market_state[market]
    state.cumulative_funding_per_unit, state.funding_rate, state.last_funding_time = self._funding_state_of(market)
    state.last_price, state.last_round_id = self._last_round(market)
    state.paused = self._oracle_state[market] & PAUSED != 0
    state.long_open_interest, state.short_open_interest = self._open_interests(market)
    state.variance_ema = self._variance(market)
    return state


@view
@internal
def _variance(market: uint256) -> uint256:
    """
    @dev The EWMA of squared log returns (1e18).
    """
    return self._variance_ema[market]


@internal
def _set_variance(market: uint256, variance: uint256):
    self._variance_ema[market] = variance


@view
@internal
def _rate_index(market: uint256) -> int256:
    """
    @dev The dimensionless cumulative funding rate R (1e18; sign-extended by the shift,
         the pause bit shifted out first).
    """
    return convert(convert(self._oracle_state[market] << 1, bytes32), int256) >> (RATE_INDEX_SHIFT + 1)


@internal
def _add_rate_index(market: uint256, delta: int256):
    """
    @dev R += delta, keeping the price, round and pause flag.
    """
    word: uint256 = self._oracle_state[market]
    rate_index: int256 = (convert(convert(word << 1, bytes32), int256) >> (RATE_INDEX_SHIFT + 1)) + delta
    assert rate_index >= -(2**78) and rate_index < 2**78  # dev: |R| < 2**78 (the bound above)
    self._oracle_state[market] = word & ~((2**79 - 1) << RATE_INDEX_SHIFT) | (convert(convert(rate_index, bytes32), uint256) & (2**79 - 1)) << RATE_INDEX_SHIFT


@view
@internal
def _last_round(market: uint256) -> (uint256, uint80):
    """
    @dev (last accepted price, its oracle round id).
    """
    word: uint256 = self._oracle_state[market]
    return (word & (2**96 - 1), convert((word >> 96) & (2**80 - 1), uint80))


@internal
def _set_last_round(market: uint256, price: uint256, round_id: uint80):
    """
    @dev Write the last accepted price and round, keeping R and the pause flag. Bound (the
         conversion reverts past it): price < 2**96 (7.9e10 USD per coin).
    """
    self._oracle_state[market] = self._oracle_state[market] & ~(2**176 - 1) | convert(convert(price, uint96), uint256) | convert(round_id, uint256) << 96


@internal
def _set_paused(market: uint256, paused: bool):
    self._oracle_state[market] = self._oracle_state[market] & ~PAUSED | convert(paused, uint256) << 255


@view
@internal
def _open_interests(market: uint256) -> (uint256, uint256):
    """
    @dev (long open interest, short open interest), base units.
    """
    word: uint256 = self._open_interest[market]
    return (word & (2**128 - 1), word >> 128)


@internal
def _set_open_interests(market: uint256, long_open_interest: uint256, short_open_interest: uint256):
    """
    @dev Bound (a conversion reverts past it): each side < 2**128 base units (3.4e20 coins).
    """
    self._open_interest[market] = convert(convert(long_open_interest, uint128), uint256) | convert(convert(short_open_interest, uint128), uint256) << 128


@view
@internal
def _funding_state_of(market: uint256) -> (int256, int256, uint256):
    """
    @dev (cumulative funding per unit, funding rate, last funding time), unpacked.
    """
    word: uint256 = self._funding_state[market]
    # dev: the signed fields sign-extend through an arithmetic shift of the word moved to the top
    return (convert(convert(word << 128, bytes32), int256) >> 128, convert(convert(word << 64, bytes32), int256) >> 192, word >> 192)


@view
@internal
def _cumulative(market: uint256) -> int256:
    """
    @dev The market's cumulative funding per unit (as of its last touch).
    """
    return self._funding_state_of(market)[0]


@internal
def _set_funding_state(market: uint256, cumulative: int256, rate: int256, time: uint256):
    """
    @dev Pack and write the funding state. Bounds (a conversion reverts past them):
         |cumulative| < 2**127 (1.7e20 USD of funding per coin ever accrued), |rate| <=
         max_funding_rate <= 1e18 < 2**63 (validated), time < 2**64.
    """
    self._funding_state[market] = convert(convert(convert(cumulative, int128), bytes32), uint256) & (2**128 - 1) | (convert(convert(convert(rate, int64), bytes32), uint256) & (2**64 - 1)) << 128 | convert(convert(time, uint64), uint256) << 192


@view
@internal
def _known(market: uint256):
    # dev: listed <=> word 0 set (add_market writes it with the oracle, never zero; ids count up)
    assert self._hot_config[market][0] != 0, "Unknown market"


@internal
def _set_brackets(market: uint256, brackets: DynArray[margin_brackets.MarginBracket, margin_brackets.MAX_BRACKETS]):
    """
    @dev Store a market's brackets and its single-bracket word (hot word 5).
    """
    self._brackets[market] = brackets
    single: uint256 = 0
    if len(brackets) == 1:
        single = brackets[0].initial_margin_rate | brackets[0].maintenance_margin_rate << 128
    self._hot_config[market][5] = self._hot_config[market][5] & ~(2**64 - 1 | (2**64 - 1) << 128) | single


@internal
def _set_hot_field(market: uint256, field: uint256, field_value: uint256):
    """
    @dev Overwrite one field of the packed hot parameters (`field_value` fits its width).
    """
    first_bit: uint256 = (field >> 8) & 255
    mask: uint256 = ((1 << (field >> 16)) - 1) << first_bit
    self._hot_config[market][field & 255] = self._hot_config[market][field & 255] & ~mask | field_value << first_bit


@view
@internal
def _hot(market: uint256, field: uint256) -> uint256:
    """
    @dev One field of the packed hot parameters (a field constant above).
    """
    width: uint256 = 1 << (field >> 16)
    return (self._hot_config[market][field & 255] >> ((field >> 8) & 255)) & unsafe_sub(width, 1)


@view
@internal
def _hot2(market: uint256, field_a: uint256, field_b: uint256) -> (uint256, uint256):
    """
    @dev Two fields of the same hot word (field_b's word is field_a's), one load.
    """
    word: uint256 = self._hot_config[market][field_a & 255]
    width_a: uint256 = 1 << (field_a >> 16)
    width_b: uint256 = 1 << (field_b >> 16)
    return ((word >> ((field_a >> 8) & 255)) & unsafe_sub(width_a, 1), (word >> ((field_b >> 8) & 255)) & unsafe_sub(width_b, 1))


@view
@internal
def _skew(market: uint256) -> int256:
    long_open_interest: uint256 = 0
    short_open_interest: uint256 = 0
    long_open_interest, short_open_interest = self._open_interests(market)
    return convert(long_open_interest, int256) - convert(short_open_interest, int256)


@view
@internal
def _mark(market: uint256, index_price: uint256) -> uint256:
    if self._hot(market, SETTLED) != 0:
        return index_price
    skew_scale: uint256 = 0
    max_premium: uint256 = 0
    skew_scale, max_premium = self._hot2(market, SKEW_SCALE, MAX_PREMIUM)
    return pricing._mark_price(index_price, self._skew(market), skew_scale, max_premium)


@view
@internal
def _exit_mark(market: uint256, index_price: uint256, size: int256) -> (uint256, uint256):
    """
    @dev (_exit(market, index_price, size), _mark(market, index_price)) from one read of the skew and premium parameters.
    """
    if self._hot(market, SETTLED) != 0:
        return (index_price, index_price)
    skew: int256 = self._skew(market)
    skew_scale: uint256 = 0
    max_premium: uint256 = 0
    skew_scale, max_premium = self._hot2(market, SKEW_SCALE, MAX_PREMIUM)
    return (pricing._exit_price(index_price, skew, size, skew_scale, max_premium), pricing._mark_price(index_price, skew, skew_scale, max_premium))


@view
@internal
def _side_profit(market: uint256, price: uint256, long_side: bool) -> uint256:
    """
    @dev A side's aggregate unrealized profit at `price` (rounded up).
    """
    long_sum: int256 = self.market_state[market].long_sum_size_entry_price
    long_open_interest: uint256 = 0
    short_open_interest: uint256 = 0
    long_open_interest, short_open_interest = self._open_interests(market)
    if long_side:
        return pricing._side_profit(long_open_interest, long_sum, price, True)
    return pricing._side_profit(short_open_interest, long_sum - self.market_state[market].sum_size_entry_price, price, False)


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
    if volatility_weight > 0 and self._hot(market, VARIANCE_EWMA_WEIGHT) > 0:
        volatility: uint256 = isqrt(self._variance(market) * constants.WAD)
        reference: uint256 = self.risk_config[market].reference_volatility
        if volatility > reference:
            multiplier += fixed_math._umul_up((volatility - reference) * constants.WAD // reference, volatility_weight)
    funding_weight: uint256 = self.risk_config[market].funding_weight
    if funding_weight > 0:
        deviation: int256 = self._funding_state_of(market)[1] - self.market_state[market].funding_rate_ema
        multiplier += fixed_math._umul_up(convert(abs(deviation), uint256), funding_weight)
    return min(multiplier, self.risk_config[market].max_multiplier)
