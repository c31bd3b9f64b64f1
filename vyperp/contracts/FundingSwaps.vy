# pragma version ~=0.4.3
# pragma nonreentrancy on
"""
@title FundingSwaps
@notice Fixed-for-floating swaps on the engine's own cumulative funding index, per
        market and maturity, sold by the LP pool and cross-margined with the perps
        (issue 14).

        Convention. A swap has a signed base size S (1e18 base units), like a position:
          S > 0  pay fixed, receive floating: over [t0, t1] it receives the funding a
                 LONG perp of size S pays, S * (I(t1) - I(t0)), and pays the fixed leg.
                 It hedges a long perp of size S (long perp + this swap = fixed carry).
          S < 0  receive fixed, pay floating: the hedge of a short perp of size |S|.
        I is the engine's `cumulative_funding_per_unit` (1e18 USD per 1 base unit).

        Floating leg: floor(S * (I(t1) - I(t0)) / 1e18). Every touch first pokes the
        engine, so I(t) is a point on the engine's own index path.
        Fixed leg (base-sized, quoted in USD): a fixed rate r per 8h on the notional at
        open, S * P0. Each open adds the fixed flow ceil(S * r * P0 / 1e18) (1e36 USD
        per 8h); over dt seconds the swap pays ceil(flow * dt / (1e18 * 8h)).
        Every amount is rounded in the protocol's favour.

        Money. This contract holds no tokens. Every settlement moves its amount between
        the holder's margin in the ENGINE and the engine's pool_balance through the one
        entry `Engine.swap_transfer` (what the pool pays bounded by its cash, as perp
        funding is), so the engine's invariant token.balanceOf(engine) * PRECISION ==
        sum(margin) + pool_balance + insurance_fund keeps holding to the wei, and the
        counterparty of every swap is the LP pool. The engine keeps one flag per
        account (SWAP_FLAG, a bit above the markets in its open-market mask) and, when
        it is set, adds `account_margin` (the swaps' value at the mark rate, and their
        requirements) to the account's health: withdrawals, trade margin checks and
        the perp liquidation check all see the swaps; an account without swaps pays one
        comparison. The pool's value adds `pool_unrealized_total` (O(1) per market: one
        aggregate over the market's live maturities, matured books' frozen value in one
        bucket).

        Settlement is lazy and O(1): a touch moves (floating - fixed) since the swap's
        last touch; the book's and the market's sums (total size, total fixed flow, sum
        of size * last index, sum of flow * last time) value the pool side without a
        loop over holders.

        Maturity: both legs run to the first touch at or after the maturity (its
        snapshot of the index and time); a keeper calls `settle` in the maturity block
        to make it exact. A matured swap is settled and removed by `settle`.

        Quotes (IPOR-style): the mark rate of a market is an EMA of the engine's own
        funding rate, kept here and moved on every touch (O(1): weight min(elapsed /
        ema_period, 1)). A pay-fixed trade gets max(mark, spot) + spread, a
        receive-fixed one min(mark, spot) - spread (spot: the engine's funding rate
        now, so nobody trades at an EMA lagging a rate they just pushed), spread = base_spread + skew_slope * |book skew after the trade| /
        skew_scale (only when the trade leaves the book skewed its own way: the pool
        charges for the side it is already long) + utilisation_slope * gross swap OI /
        its cap; every open and close takes a slippage bound. Why not a YieldSpace
        curve (Pendle/Boros-style AMM of a rate token): the floating leg here is the
        engine's own funding, already observed every touch, so the EMA is an unbiased,
        manipulation-damped estimate of it that needs no liquidity curve, no
        per-maturity reserves for LPs to size, and no rebalancing; the pool's exposure
        is charged through the skew spread and capped by the OI cap, and the EMA makes
        a one-block funding spike worth only elapsed / ema_period of its size. A
        YieldSpace curve prices time-decaying reserves, which the pool does not hold.

        Early close = an offsetting swap at the quote for the remaining time, its
        fixed legs' difference u = floor(-(flow + ceil(-S * q * P / 1e18)) * (maturity -
        now) / (1e18 * 8h)) (undiscounted) settled now if it is a LOSS; a gain (u > 0)
        is forfeited, to the pool: min(u, 0). Liquidation does the same at the mark.
        Why: the quote and the mark follow the engine's funding rate, which the holder
        can push by carrying perp skew; paying the remaining term's gain at that rate
        lets a day of carried skew be paid for the whole term (the attack lab's
        skew-carry class measured +243k USD on a thin market, a 1 M USD swap and 100 k
        USD of skew carried 24 h, before this rule). Realised floating legs are the
        only gain a holder takes, and each second of them costs the carried skew the
        same second's funding. Margin, the swap's value in the engine's health and
        liquidation use the mark rate (the EMA, no spread).

        Manipulation bound (LINEAR funding, rate = p + clamp(I - p, -c, c), p = skew /
        skew_scale): an attacker holding a pay-fixed swap of x * skew_scale and
        carrying skew p * skew_scale earns, per unit of skew_scale and time,
        x * (p - c - q) - p * (p - c), at most (x - c)^2 / 4 - x * q (p = (x + c) / 2).
        With the fixed rate q >= I + skew_slope * x (the skew spread), skew_slope >= 1/4
        makes that negative for every x: the attack does not pay at any size (the
        default skew_slope is 1/4; the receive-fixed mirror is symmetric). Steeper
        funding (NONLINEAR) needs a steeper slope.

        Margin (rate sensitivity, as Boros): per live swap, requirement = k * |S| * P *
        max(maturity - now, time_floor) / 8h * max(|mark|, rate_floor), k = initial_k
        or maintenance_k (initial_k > maintenance_k), bounded above by the most the
        swap can still lose: the market's max funding rate on that notional over the
        remaining time plus its fixed leg over the remaining time. Equity counts the
        swap's unsettled accrual and its early-close LOSS at the mark (a gain is not
        counted: a holder could pump it by carrying skew until the EMA follows, then
        withdraw against it; nor do `close` and `liquidate` pay it). Netting with
        perps: the requirement stands beside the perp's (no offset): a hedged pair's
        perp requirement covers price risk, which the swap does not hedge; its funding
        risk is in the perp's equity as pending funding and is offset by the swap's
        floating leg in the swap's value, so it is not margined twice there, but the
        perp's bracket requirement gets no credit for the hedge (documented limit).

        Invariants kept with the engine: no account rests with perps or swaps and a
        negative margin. A voluntary operation (open, close, settle) that would leave
        a negative margin reverts "Negative margin" unless the account ends flat (then
        the engine's bad-debt waterfall covers it in the same transaction). Only
        `liquidate` may leave a negative margin beside perps: the engine then closes
        every perp in the same transaction (as a bankrupt liquidation) and runs the
        waterfall. Order: swaps first (the engine's own liquidation refuses accounts
        holding swaps), because closing swaps at the mark is exact and impact-free and
        it leaves a perp-only account to the engine's tiered liquidation and its proof.

        Open-interest cap: funding is endogenous (the skew sets it), so a holder could
        carry perp skew to push its own floating leg. Each market's gross swap open
        interest (sum of |S|) is capped by skew_scale_fraction * skew_scale and by
        perp_open_interest_fraction * (long + short perp open interest).
@dev Reads the engine through `poke`, `funding_now`, `index_price` (reentrant views),
     `account_health`, `margin`, `pool_balance`, `open_markets`, `market_config`,
     `market_state`; writes it only through `swap_transfer`.
"""

from interfaces import IEngine
from interfaces import IFundingSwaps
import constants
import engine_types
import fixed_math

implements: IFundingSwaps

FUNDING_PERIOD: constant(int256) = 8 * 3600
PERIOD: constant(uint256) = 8 * 3600
FLOW_UNIT: constant(int256) = 10**18 * FUNDING_PERIOD   # flow * seconds / FLOW_UNIT = 1e18 USD
MAX_MATURITIES: constant(uint256) = 8                    # per market
MAX_HELD: constant(uint256) = 8                          # swaps per account
MAX_FIXED_RATE: constant(int256) = 10**16                # |r| <= 1 % per 8h
MATURITY_BITS: constant(uint256) = 2**64                 # held key = market * 2**64 + maturity


struct Swap:
    size: int256          # signed base size (1e18); + pays fixed
    fixed_flow: int256    # sum of ceil(size * rate * price / 1e18) over its opens (1e36 USD per 8h)
    last_index: int256    # engine cumulative funding per unit at the last touch
    last_time: uint256    # time of the last touch


struct Sums:
    total_size: int256       # sum of holders' sizes
    total_flow: int256       # sum of holders' fixed flows
    sum_size_index: int256   # sum of size * last_index (unscaled)
    sum_flow_time: int256    # sum of fixed_flow * last_time (unscaled)


struct Book:
    listed: bool
    sums: Sums
    final_index: int256      # index at the maturity snapshot
    final_time: uint256      # time of the snapshot (0: not taken)


struct RateEma:
    value: int256            # EMA of the engine's funding rate, per 8h (1e18)
    time: uint256            # when it was last updated (0: never)


struct MarketParams:
    skew_scale: uint256          # the engine's, cached by refresh_market
    max_funding_rate: uint256    # the engine's, cached by refresh_market
    gross_size: uint256          # sum of |size| over the market's swaps


ENGINE: public(immutable(IEngine))

admin: public(address)
initial_k: public(uint256)                 # 1e18
maintenance_k: public(uint256)             # 1e18
time_floor: public(uint256)                # seconds
rate_floor: public(uint256)                # per 8h (1e18)
reward_rate: public(uint256)               # keeper reward, 1e18 fraction of closed notional
penalty_rate: public(uint256)              # penalty to the pool, 1e18 fraction of closed notional
skew_scale_fraction: public(uint256)       # 1e18; 0: that bound off
perp_open_interest_fraction: public(uint256)   # 1e18; 0: that bound off
ema_period: public(uint256)                # seconds: an update weighs min(elapsed / ema_period, 1)
base_spread: public(uint256)               # per 8h (1e18)
skew_slope: public(uint256)                # spread per unit of |book skew| / skew_scale (1e18)
utilisation_slope: public(uint256)         # spread per unit of gross swap OI / its cap (1e18)
rate_ema: public(HashMap[uint256, RateEma])   # market -> the mark rate's state

books: public(HashMap[uint256, HashMap[uint256, Book]])             # market -> maturity -> Book
maturity_count: public(HashMap[uint256, uint256])
market_params: public(HashMap[uint256, MarketParams])
live_sums: public(HashMap[uint256, Sums])   # market -> sums over its books not yet snapshotted
matured_value: public(int256)               # pool's unsettled PnL on snapshotted books
market_mask: public(uint256)                # bit m: market m has a listed book
swaps: public(HashMap[address, HashMap[uint256, HashMap[uint256, Swap]]])
_held: HashMap[address, DynArray[uint256, MAX_HELD]]


@deploy
def __init__(engine: address, initial_k: uint256, maintenance_k: uint256, time_floor: uint256, rate_floor: uint256):
    """
    @param engine The perp engine whose funding index the swaps settle on.
    @param initial_k Initial-margin multiplier (1e18).
    @param maintenance_k Maintenance multiplier (1e18), below initial_k.
    @param time_floor Shortest horizon the margin assumes (seconds).
    @param rate_floor Smallest rate the margin assumes (per 8h, 1e18).
    @dev Reverts "Zero address", "Bad margin config".
    """
    assert engine != empty(address), "Zero address"
    ENGINE = IEngine(engine)
    self.admin = msg.sender
    self._set_margin(initial_k, maintenance_k, time_floor, rate_floor)
    self._set_quote(8 * 3600, 0, 0, 0)

# ================================================================== admin


@internal
def _only_admin():
    assert msg.sender == self.admin, "Not admin"


@internal
def _set_margin(initial_k: uint256, maintenance_k: uint256, time_floor: uint256, rate_floor: uint256):
    assert maintenance_k > 0 and initial_k > maintenance_k and initial_k <= 100 * constants.WAD, "Bad margin config"
    assert time_floor <= 365 * 86400 and rate_floor <= convert(MAX_FIXED_RATE, uint256), "Bad margin config"
    self.initial_k = initial_k
    self.maintenance_k = maintenance_k
    self.time_floor = time_floor
    self.rate_floor = rate_floor
    log IFundingSwaps.MarginConfigSet(initial_k=initial_k, maintenance_k=maintenance_k, time_floor=time_floor, rate_floor=rate_floor)


@internal
def _set_quote(ema_period: uint256, base_spread: uint256, skew_slope: uint256, utilisation_slope: uint256):
    limit: uint256 = convert(MAX_FIXED_RATE, uint256)
    assert ema_period > 0 and ema_period <= 30 * 86400, "Bad quote config"
    assert base_spread <= limit and skew_slope <= constants.WAD and utilisation_slope <= limit, "Bad quote config"
    self.ema_period = ema_period
    self.base_spread = base_spread
    self.skew_slope = skew_slope
    self.utilisation_slope = utilisation_slope
    log IFundingSwaps.QuoteConfigSet(ema_period=ema_period, base_spread=base_spread, skew_slope=skew_slope, utilisation_slope=utilisation_slope)


@external
def list_maturity(market: uint256, maturity: uint256):
    """
    @notice Open a book for `market` maturing at `maturity`; caches the market's skew
            scale and funding cap; the market's first book starts its rate EMA at the
            engine's funding rate now.
    @dev Reverts "Not admin", "Maturity in the past", "Maturity listed",
         "Too many maturities", and the engine's "Unknown market" and oracle reasons.
    @param market The engine market id.
    @param maturity Unix time at which the swaps stop accruing (below 2**64).
    """
    self._only_admin()
    assert maturity > block.timestamp and maturity < MATURITY_BITS, "Maturity in the past"
    assert not self.books[market][maturity].listed, "Maturity listed"
    assert self.maturity_count[market] < MAX_MATURITIES, "Too many maturities"
    self._poke(market)  # "Unknown market" and the oracle reasons
    self._refresh(market)
    self.maturity_count[market] += 1
    self.market_mask |= 1 << market
    self.books[market][maturity].listed = True
    log IFundingSwaps.MaturityListed(market=market, maturity=maturity, mark_rate=self.rate_ema[market].value)


@external
def set_quote_config(ema_period: uint256, base_spread: uint256, skew_slope: uint256, utilisation_slope: uint256):
    """
    @notice Set the quote: the mark rate is an EMA of the engine's funding rate (period
            `ema_period`); pay-fixed trades get mark + spread, receive-fixed mark -
            spread, spread = base_spread + skew_slope * |book skew after| / skew_scale
            (when the trade leaves the book skewed its own way) + utilisation_slope *
            gross swap OI after / its cap.
    @dev Reverts "Not admin", "Bad quote config" (ema_period zero or above 30 days, a
         spread parameter above 1 % per 8h).
    @param ema_period Seconds.
    @param base_spread Per 8h (1e18).
    @param skew_slope Per 8h (1e18) per unit of skew / skew_scale.
    @param utilisation_slope Per 8h (1e18) at full utilisation.
    """
    self._only_admin()
    self._set_quote(ema_period, base_spread, skew_slope, utilisation_slope)


@external
def set_margin_config(initial_k: uint256, maintenance_k: uint256, time_floor: uint256, rate_floor: uint256):
    """
    @notice Set the rate-sensitivity margin parameters.
    @dev Reverts "Not admin", "Bad margin config" (maintenance_k zero, initial_k not
         above it or above 100, time_floor above a year, rate_floor above 1 % per 8h).
    @param initial_k Initial-margin multiplier (1e18).
    @param maintenance_k Maintenance multiplier (1e18).
    @param time_floor Shortest horizon (seconds).
    @param rate_floor Smallest rate (per 8h, 1e18).
    """
    self._only_admin()
    self._set_margin(initial_k, maintenance_k, time_floor, rate_floor)


@external
def set_liquidation_config(reward_rate: uint256, penalty_rate: uint256):
    """
    @notice Set the keeper reward and the penalty (to the pool) of a swap liquidation.
    @dev Reverts "Not admin", "Bad liquidation config" (either above 10 %).
    @param reward_rate 1e18 fraction of the closed notional.
    @param penalty_rate 1e18 fraction of the closed notional.
    """
    self._only_admin()
    assert reward_rate <= constants.WAD // 10 and penalty_rate <= constants.WAD // 10, "Bad liquidation config"
    self.reward_rate = reward_rate
    self.penalty_rate = penalty_rate
    log IFundingSwaps.LiquidationConfigSet(reward_rate=reward_rate, penalty_rate=penalty_rate)


@external
def set_open_interest_cap(skew_scale_fraction: uint256, perp_open_interest_fraction: uint256):
    """
    @notice Cap each market's gross swap open interest by fractions of its skew scale
            and of its perp open interest (0 turns that bound off).
    @dev Reverts "Not admin", "Bad open interest cap" (either above 1).
    @param skew_scale_fraction 1e18 fraction of the market's skew_scale.
    @param perp_open_interest_fraction 1e18 fraction of long + short perp open interest.
    """
    self._only_admin()
    assert skew_scale_fraction <= constants.WAD and perp_open_interest_fraction <= constants.WAD, "Bad open interest cap"
    self.skew_scale_fraction = skew_scale_fraction
    self.perp_open_interest_fraction = perp_open_interest_fraction
    log IFundingSwaps.OpenInterestCapSet(skew_scale_fraction=skew_scale_fraction, perp_open_interest_fraction=perp_open_interest_fraction)


@external
def refresh_market(market: uint256):
    """
    @notice Re-read the market's skew scale and funding cap from the engine (anyone;
            after the configurator changed them).
    @dev Reverts "Unknown maturity" (no book listed on the market).
    @param market The engine market id.
    """
    assert self.maturity_count[market] > 0, "Unknown maturity"
    self._refresh(market)

# ================================================================== swaps


@external
def open(market: uint256, maturity: uint256, size: int256, rate_limit: int256):
    """
    @notice Open (or add to) a swap of `size` at the book's quoted fixed rate, settled
            into the caller's engine margin.
    @dev Reverts "Zero size", "Unknown maturity", "Expired", "Slippage" (quote above
         `rate_limit` for a pay-fixed open, below it for a receive-fixed one),
         "Too many swaps", "Swap open interest cap", "Negative margin",
         "Below initial margin" (engine equity with swaps below the initial margin
         with swaps), and the engine's oracle reasons.
    @param market The engine market id.
    @param maturity The book's maturity.
    @param size Signed base size (1e18): + pay fixed / receive floating, - the reverse.
    @param rate_limit The highest fixed rate a pay-fixed open accepts, the lowest a
           receive-fixed open accepts (per 8h, 1e18).
    """
    assert size != 0, "Zero size"
    self._live(market, maturity)
    index: int256 = 0
    spot: int256 = 0
    index, spot = self._poke(market)
    swap: Swap = self.swaps[msg.sender][market][maturity]
    gross: uint256 = self.market_params[market].gross_size + convert(abs(swap.size + size), uint256) - convert(abs(swap.size), uint256)
    cap: uint256 = self._open_interest_cap(market)
    if abs(swap.size + size) > abs(swap.size):
        assert gross <= cap, "Swap open interest cap"
    rate: int256 = self._quote(market, maturity, size, gross, cap, self.rate_ema[market].value, spot)
    self._check_slippage(size > 0, rate, rate_limit)
    amount: int256 = self._settle(msg.sender, market, maturity, index, block.timestamp)
    swap = self.swaps[msg.sender][market][maturity]
    price: uint256 = staticcall ENGINE.index_price(market)
    flow: int256 = fixed_math._ceil_div(size * rate * convert(price, int256), constants.IWAD)
    if swap.size == 0 and swap.fixed_flow == 0:
        assert len(self._held[msg.sender]) < MAX_HELD, "Too many swaps"
        self._held[msg.sender].append(market * MATURITY_BITS + maturity)
        swap.last_index = index
        swap.last_time = block.timestamp
    swap.size += size
    swap.fixed_flow += flow
    self.swaps[msg.sender][market][maturity] = swap
    if swap.size == 0 and swap.fixed_flow == 0:
        # an open that offset the swap exactly leaves nothing: out of the account's list
        # (its sums' terms are zero), so a later open cannot list it twice
        self.swaps[msg.sender][market][maturity] = empty(Swap)
        self._drop(msg.sender, market * MATURITY_BITS + maturity)
    self._add(market, maturity, Sums(total_size=size, total_flow=flow, sum_size_index=size * index, sum_flow_time=flow * convert(block.timestamp, int256)))
    self.market_params[market].gross_size = gross
    self._transfer(msg.sender, amount, len(self._held[msg.sender]) > 0, empty(address))
    health: engine_types.Health = staticcall ENGINE.account_health(msg.sender)
    assert health.equity >= convert(health.initial_margin, int256), "Below initial margin"
    log IFundingSwaps.SwapOpened(account=msg.sender, market=market, maturity=maturity, size=size, fixed_rate=rate, index_price=price, fixed_flow=flow)


@external
def settle(account: address, market: uint256, maturity: uint256):
    """
    @notice Settle `account`'s swap into its engine margin up to now (or to the
            maturity snapshot); a matured swap is then removed. Anyone may call it.
    @dev Reverts "Unknown maturity", "No swap", "Negative margin" (the loss exceeds
         the margin while the account still holds something: it is for `liquidate`),
         and the engine's oracle reasons.
    @param account The holder.
    @param market The engine market id.
    @param maturity The book's maturity.
    """
    assert self.books[market][maturity].listed, "Unknown maturity"
    swap: Swap = self.swaps[account][market][maturity]
    assert swap.size != 0 or swap.fixed_flow != 0, "No swap"
    index: int256 = 0
    time: uint256 = 0
    index, time = self._endpoint(market, maturity)
    amount: int256 = self._settle(account, market, maturity, index, time)
    if block.timestamp >= maturity:
        self._remove(account, market, maturity, index, time)
        log IFundingSwaps.SwapClosed(account=account, market=market, maturity=maturity, size=swap.size, unwind=0)
    self._transfer(account, amount, len(self._held[account]) > 0, empty(address))


@external
def close(market: uint256, maturity: uint256, rate_limit: int256):
    """
    @notice Close the caller's swap before maturity: settle it, then offset it at the
            book's quote, the remaining fixed legs' difference paid now.
    @dev Reverts "Unknown maturity", "Expired" (a matured swap is settled by `settle`),
         "No swap", "Slippage" (closing a pay-fixed receives the quote: below
         `rate_limit` reverts; closing a receive-fixed pays it: above reverts),
         "Negative margin", and the engine's oracle reasons.
    @param market The engine market id.
    @param maturity The book's maturity.
    @param rate_limit The bound on the quote the offsetting swap trades at (per 8h, 1e18).
    """
    self._live(market, maturity)
    swap: Swap = self.swaps[msg.sender][market][maturity]
    assert swap.size != 0 or swap.fixed_flow != 0, "No swap"
    index: int256 = 0
    spot: int256 = 0
    index, spot = self._poke(market)
    gross: uint256 = self.market_params[market].gross_size - convert(abs(swap.size), uint256)
    rate: int256 = self._quote(market, maturity, -swap.size, gross, self._open_interest_cap(market), self.rate_ema[market].value, spot)
    self._check_slippage(swap.size < 0, rate, rate_limit)
    amount: int256 = self._settle(msg.sender, market, maturity, index, block.timestamp)
    # the remaining legs' loss is paid now, their gain is not (see "Early close" above)
    unwind: int256 = min(self._unwind(swap, rate, staticcall ENGINE.index_price(market), maturity - block.timestamp), 0)
    self._remove(msg.sender, market, maturity, index, block.timestamp)
    self._transfer(msg.sender, amount + unwind, len(self._held[msg.sender]) > 0, empty(address))
    log IFundingSwaps.SwapClosed(account=msg.sender, market=market, maturity=maturity, size=swap.size, unwind=unwind)


@external
def liquidate(account: address) -> int256:
    """
    @notice Close every swap of an account whose engine equity (swaps included) is
            below its maintenance requirement (swaps included), at the mark rate; the
            caller earns reward_rate of the closed notional (paid by the pool, which
            takes penalty_rate of it from what margin is left). A shortfall goes
            through the engine's bad-debt waterfall; perps left beside a negative
            margin close in the same transaction (the engine's bankrupt liquidation,
            its keeper reward to the caller too). Anyone may call it.
    @dev Reverts "Account not liquidatable" (no swaps, or healthy) and the engine's
         oracle reasons.
    @param account The account.
    @return The value settled into the account's margin before reward and penalty.
    """
    held: DynArray[uint256, MAX_HELD] = self._held[account]
    health: engine_types.Health = staticcall ENGINE.account_health(account)
    assert len(held) > 0 and health.equity < convert(health.maintenance_margin, int256), "Account not liquidatable"
    value: int256 = 0
    notional: uint256 = 0
    for key: uint256 in held:
        market: uint256 = key // MATURITY_BITS
        maturity: uint256 = key % MATURITY_BITS
        index: int256 = 0
        time: uint256 = 0
        index, time = self._endpoint(market, maturity)
        value += self._settle(account, market, maturity, index, time)
        swap: Swap = self.swaps[account][market][maturity]
        unwind: int256 = 0
        if time < maturity:
            price: uint256 = staticcall ENGINE.index_price(market)
            unwind = min(self._unwind(swap, self.rate_ema[market].value, price, maturity - time), 0)  # a gain is not paid
            notional += fixed_math._umul_up(convert(abs(swap.size), uint256), price)
        value += unwind
        self._remove(account, market, maturity, index, time)
        log IFundingSwaps.SwapClosed(account=account, market=market, maturity=maturity, size=swap.size, unwind=unwind)
    reward: uint256 = fixed_math._umul_up(notional, self.reward_rate)
    left: int256 = staticcall ENGINE.margin(account) + value - convert(reward, int256)
    penalty: uint256 = min(fixed_math._umul_up(notional, self.penalty_rate), convert(max(left, 0), uint256))
    self._transfer(account, value - convert(reward + penalty, int256), False, msg.sender)
    if reward > 0:
        self._transfer(msg.sender, convert(reward, int256), len(self._held[msg.sender]) > 0, empty(address))
    log IFundingSwaps.SwapLiquidated(account=account, keeper=msg.sender, value=value, notional=notional, keeper_reward=reward, penalty=penalty)
    return value

# ================================================================== views


@view
@external
@reentrant
def account_margin(account: address) -> (int256, uint256, uint256):
    """
    @notice What the engine adds to an account's health for its swaps.
    @dev Reentrant: the engine calls it inside its own calls (its health check) and
         inside this contract's (the health check after an open); it only reads.
    @param account The holder.
    @return (value: unsettled accrual plus early-close value at the mark, 1e18 USD,
            initial requirement, maintenance requirement).
    """
    value: int256 = 0
    initial: uint256 = 0
    maintenance: uint256 = 0
    for key: uint256 in self._held[account]:
        swap_value: int256 = 0
        swap_initial: uint256 = 0
        swap_maintenance: uint256 = 0
        swap_value, swap_initial, swap_maintenance = self._swap_margin(account, key // MATURITY_BITS, key % MATURITY_BITS)
        value += swap_value
        initial += swap_initial
        maintenance += swap_maintenance
    return (value, initial, maintenance)


@view
@external
@reentrant
def pool_unrealized_total() -> int256:
    """
    @notice The pool side's unsettled PnL over every book (live markets' aggregates at
            the engine's index now, plus the matured books' frozen value), for the
            engine's pool value. O(markets).
    @dev Reentrant (the engine calls it inside its own calls); it only reads.
    @return 1e18 USD (positive: holders owe the pool), rounded against the pool.
    """
    total: int256 = self.matured_value
    mask: uint256 = self.market_mask
    for market: uint256 in range(constants.MAX_MARKETS):
        if mask == 0:
            break
        if mask & 1 == 1:
            sums: Sums = self.live_sums[market]
            if sums.total_size != 0 or sums.total_flow != 0 or sums.sum_size_index != 0 or sums.sum_flow_time != 0:
                total += self._value(sums, (staticcall ENGINE.funding_now(market))[0], block.timestamp)
        mask >>= 1
    return total


@view
@external
def mark_rate(market: uint256) -> int256:
    """
    @notice The market's mark rate now (the EMA of the engine's funding rate moved to
            now), used for margin, early-close value and liquidation.
    @param market The engine market id.
    @return Per 8h (1e18, signed).
    """
    return self._mark_view(market)


@view
@external
def quote(account: address, market: uint256, maturity: uint256, size: int256) -> int256:
    """
    @notice The fixed rate `open(market, maturity, size, ...)` by `account` would get
            in this block (the same EMA and spread, OI cap not checked).
    @param account The holder (its current size sets the gross OI after the trade).
    @param market The engine market id.
    @param maturity The book's maturity.
    @param size Signed base size.
    @return Per 8h (1e18, signed).
    """
    old: int256 = self.swaps[account][market][maturity].size
    gross: uint256 = self.market_params[market].gross_size + convert(abs(old + size), uint256) - convert(abs(old), uint256)
    spot: int256 = (staticcall ENGINE.funding_now(market))[1]
    return self._quote(market, maturity, size, gross, self._open_interest_cap(market), self._ema_at(market, spot).value, spot)


@view
@external
def pool_unrealized(market: uint256, maturity: uint256) -> int256:
    """
    @notice The pool side's unsettled PnL on one book, rounded against the pool.
    @param market The engine market id.
    @param maturity The book's maturity.
    @return 1e18 USD (positive: holders owe the pool).
    """
    index: int256 = 0
    time: uint256 = 0
    index, time = self._endpoint_view(market, maturity)
    return self._value(self.books[market][maturity].sums, index, time)


@view
@external
def pending(account: address, market: uint256, maturity: uint256) -> int256:
    """
    @notice What settling `account`'s swap now would move into its margin.
    @param account The holder.
    @param market The engine market id.
    @param maturity The book's maturity.
    @return 1e18 USD (floating received minus fixed paid, as settled).
    """
    index: int256 = 0
    time: uint256 = 0
    index, time = self._endpoint_view(market, maturity)
    floating: int256 = 0
    fixed: int256 = 0
    floating, fixed = self._accrued(self.swaps[account][market][maturity], index, time)
    return floating - fixed


@view
@external
def accrued(account: address, market: uint256, maturity: uint256) -> (int256, int256):
    """
    @notice The legs accrued since the swap's last touch, as a settle now would book them.
    @param account The holder.
    @param market The engine market id.
    @param maturity The book's maturity.
    @return (floating received, fixed paid), 1e18 USD, each rounded in the protocol's favour.
    """
    index: int256 = 0
    time: uint256 = 0
    index, time = self._endpoint_view(market, maturity)
    return self._accrued(self.swaps[account][market][maturity], index, time)


@view
@external
def swap_value(account: address, market: uint256, maturity: uint256) -> int256:
    """
    @notice A swap's value as the engine's health counts it: pending accrual plus
            its early-close loss at the mark rate (a gain counts as zero).
    @param account The holder.
    @param market The engine market id.
    @param maturity The book's maturity.
    @return 1e18 USD.
    """
    return self._swap_margin(account, market, maturity)[0]


@view
@external
def requirements(account: address, market: uint256, maturity: uint256) -> (uint256, uint256):
    """
    @notice A swap's initial and maintenance requirements now.
    @param account The holder.
    @param market The engine market id.
    @param maturity The book's maturity.
    @return (initial, maintenance), 1e18 USD.
    """
    value: int256 = 0
    initial: uint256 = 0
    maintenance: uint256 = 0
    value, initial, maintenance = self._swap_margin(account, market, maturity)
    return (initial, maintenance)


@view
@external
def liquidatable(account: address) -> bool:
    """
    @notice Whether `liquidate(account)` would proceed now.
    @param account The account.
    @return True if it holds swaps and its engine equity is below maintenance.
    """
    if len(self._held[account]) == 0:
        return False
    health: engine_types.Health = staticcall ENGINE.account_health(account)
    return health.equity < convert(health.maintenance_margin, int256)


@view
@external
def held(account: address) -> DynArray[uint256, MAX_HELD]:
    """
    @notice The swaps an account holds, each as market * 2**64 + maturity.
    @param account The holder.
    @return The keys, in opening order (a removal moves the last one into its place).
    """
    return self._held[account]

# ================================================================== internals


@view
@internal
def _live(market: uint256, maturity: uint256):
    assert self.books[market][maturity].listed, "Unknown maturity"
    assert block.timestamp < maturity, "Expired"


@pure
@internal
def _check_slippage(pays_fixed: bool, rate: int256, rate_limit: int256):
    if pays_fixed:
        assert rate <= rate_limit, "Slippage"
    else:
        assert rate >= rate_limit, "Slippage"


@internal
def _refresh(market: uint256):
    config: engine_types.MarketConfig = staticcall ENGINE.market_config(market)
    self.market_params[market].skew_scale = config.skew_scale
    self.market_params[market].max_funding_rate = config.max_funding_rate


@view
@internal
def _open_interest_cap(market: uint256) -> uint256:
    """
    @dev min(skew_scale_fraction * skew_scale, perp_open_interest_fraction * perp OI),
         a zero fraction leaving its bound off.
    """
    cap: uint256 = max_value(uint256)
    if self.skew_scale_fraction > 0:
        cap = fixed_math._umul_down(self.market_params[market].skew_scale, self.skew_scale_fraction)
    if self.perp_open_interest_fraction > 0:
        state: engine_types.MarketState = staticcall ENGINE.market_state(market)
        cap = min(cap, fixed_math._umul_down(state.long_open_interest + state.short_open_interest, self.perp_open_interest_fraction))
    return cap


@internal
def _transfer(account: address, amount: int256, holds: bool, keeper: address):
    """
    @dev Settle `amount` into the engine. A voluntary operation (no keeper) that would
         leave a negative margin beside anything held reverts here with its reason.
    """
    if keeper == empty(address):
        moved: int256 = min(amount, max(staticcall ENGINE.pool_balance(), 0))
        if staticcall ENGINE.margin(account) + moved < 0:
            assert not holds and (staticcall ENGINE.open_markets(account)) % constants.SWAP_FLAG == 0, "Negative margin"
    moved_out: int256 = extcall ENGINE.swap_transfer(account, amount, holds, keeper)
    log IFundingSwaps.Transferred(account=account, amount=amount, moved=moved_out)


@internal
def _poke(market: uint256) -> (int256, int256):
    """
    @dev Touch the engine's market, so the index read is on the engine's own path, and
         move the market's rate EMA to now.
    @return (cumulative funding index, the engine's funding rate now).
    """
    extcall ENGINE.poke(market)
    index: int256 = 0
    rate: int256 = 0
    index, rate = staticcall ENGINE.funding_now(market)
    self.rate_ema[market] = self._ema_at(market, rate)
    return (index, rate)


@view
@internal
def _ema_at(market: uint256, rate: int256) -> RateEma:
    """
    @dev The market's funding-rate EMA moved to now toward `rate` (the engine's rate
         now): weight min(elapsed / ema_period, 1), rounded toward zero; the first
         sample sets it.
    """
    ema: RateEma = self.rate_ema[market]
    if ema.time == 0:
        return RateEma(value=rate, time=block.timestamp)
    weight: int256 = convert(min((block.timestamp - ema.time) * constants.WAD // self.ema_period, constants.WAD), int256)
    return RateEma(value=ema.value + (rate - ema.value) * weight // constants.IWAD, time=block.timestamp)


@view
@internal
def _mark_view(market: uint256) -> int256:
    """
    @dev The mark rate as of now, without writing (a view's reading of the EMA).
    """
    return self._ema_at(market, (staticcall ENGINE.funding_now(market))[1]).value


@view
@internal
def _quote(market: uint256, maturity: uint256, size: int256, gross_after: uint256, cap: uint256, mark: int256, spot: int256) -> int256:
    """
    @dev The fixed rate a trade of signed `size` gets: max(mark, spot) + spread for
         pay-fixed, min(mark, spot) - spread for receive-fixed (`spot` the engine's
         funding rate now): a taker never trades at an EMA that lags a rate it just
         pushed (tests/test_swap_risk.py's attacker made 2.4M USD in a week on the
         lagging EMA alone).
    """
    spread: uint256 = self.base_spread
    after: int256 = self.books[market][maturity].sums.total_size + size
    if (after > 0 and size > 0) or (after < 0 and size < 0):
        spread += fixed_math._umul_up(self.skew_slope, fixed_math._udiv_up(convert(abs(after), uint256), self.market_params[market].skew_scale))
    if cap != max_value(uint256) and cap > 0:
        spread += fixed_math._umul_up(self.utilisation_slope, fixed_math._udiv_up(gross_after, cap))
    if size > 0:
        return max(mark, spot) + convert(spread, int256)
    return min(mark, spot) - convert(spread, int256)


@internal
def _endpoint(market: uint256, maturity: uint256) -> (int256, uint256):
    """
    @dev (index, time) the legs run to now: the maturity snapshot, taken here on the
         first touch at or after the maturity; the book's sums then leave the market's
         live aggregate and its value at the snapshot enters the matured bucket.
    """
    if self.books[market][maturity].final_time != 0:
        return (self.books[market][maturity].final_index, self.books[market][maturity].final_time)
    index: int256 = self._poke(market)[0]
    if block.timestamp >= maturity:
        sums: Sums = self.books[market][maturity].sums
        live: Sums = self.live_sums[market]
        self.live_sums[market] = Sums(total_size=live.total_size - sums.total_size, total_flow=live.total_flow - sums.total_flow, sum_size_index=live.sum_size_index - sums.sum_size_index, sum_flow_time=live.sum_flow_time - sums.sum_flow_time)
        self.matured_value += self._value(sums, index, block.timestamp)
        self.books[market][maturity].final_index = index
        self.books[market][maturity].final_time = block.timestamp
        log IFundingSwaps.MaturitySnapshot(market=market, maturity=maturity, index=index, time=block.timestamp)
    return (index, block.timestamp)


@view
@internal
def _endpoint_view(market: uint256, maturity: uint256) -> (int256, uint256):
    if self.books[market][maturity].final_time != 0:
        return (self.books[market][maturity].final_index, self.books[market][maturity].final_time)
    return ((staticcall ENGINE.funding_now(market))[0], block.timestamp)


@pure
@internal
def _value(sums: Sums, index: int256, time: uint256) -> int256:
    """
    @dev The pool side's unsettled PnL on `sums` at (index, time), each leg rounded
         against the pool.
    """
    floating: int256 = sums.total_size * index - sums.sum_size_index
    fixed: int256 = sums.total_flow * convert(time, int256) - sums.sum_flow_time
    return fixed_math._floor_div(fixed, FLOW_UNIT) + fixed_math._floor_div(-floating, constants.IWAD)


@pure
@internal
def _accrued(swap: Swap, index: int256, time: uint256) -> (int256, int256):
    """
    @dev (floating received, fixed paid) since the swap's last touch, each rounded in
         the protocol's favour.
    """
    if swap.size == 0 and swap.fixed_flow == 0:
        return (0, 0)
    floating: int256 = fixed_math._floor_div(swap.size * (index - swap.last_index), constants.IWAD)
    fixed: int256 = fixed_math._ceil_div(swap.fixed_flow * convert(time - swap.last_time, int256), FLOW_UNIT)
    return (floating, fixed)


@pure
@internal
def _unwind(swap: Swap, rate: int256, price: uint256, remaining: uint256) -> int256:
    """
    @dev What offsetting the swap at `rate` for the remaining time pays the holder now.
    """
    offset_flow: int256 = fixed_math._ceil_div(-swap.size * rate * convert(price, int256), constants.IWAD)
    return fixed_math._floor_div(-(swap.fixed_flow + offset_flow) * convert(remaining, int256), FLOW_UNIT)


@view
@internal
def _requirement(swap: Swap, price: uint256, remaining: uint256, rate: int256, cap_rate: uint256, k: uint256) -> uint256:
    """
    @dev k * |S| * P * max(remaining, time_floor) / 8h * max(|rate|, rate_floor),
         bounded by the most the swap can still lose (funding cap on the notional plus
         the fixed leg, over the remaining time); rounded up.
    """
    notional: uint256 = fixed_math._umul_up(convert(abs(swap.size), uint256), price)
    horizon: uint256 = max(remaining, self.time_floor)
    sensitivity: uint256 = fixed_math._umul_up(fixed_math._umul_up(notional, max(convert(abs(rate), uint256), self.rate_floor)), k)
    requirement: uint256 = (sensitivity * horizon + PERIOD - 1) // PERIOD
    bound: uint256 = (fixed_math._umul_up(notional, cap_rate) * remaining + PERIOD - 1) // PERIOD
    bound += convert(fixed_math._ceil_div(abs(swap.fixed_flow) * convert(remaining, int256), FLOW_UNIT), uint256)
    return min(requirement, bound)


@view
@internal
def _swap_margin(account: address, market: uint256, maturity: uint256) -> (int256, uint256, uint256):
    """
    @dev (value, initial, maintenance) of one swap: pending accrual, plus, while the
         book is live, its early-close value at the mark and its requirements.
    """
    swap: Swap = self.swaps[account][market][maturity]
    if swap.size == 0 and swap.fixed_flow == 0:
        return (0, 0, 0)
    index: int256 = 0
    time: uint256 = 0
    index, time = self._endpoint_view(market, maturity)
    floating: int256 = 0
    fixed: int256 = 0
    floating, fixed = self._accrued(swap, index, time)
    value: int256 = floating - fixed
    if time >= maturity:
        return (value, 0, 0)
    price: uint256 = staticcall ENGINE.index_price(market)
    rate: int256 = self._mark_view(market)
    cap_rate: uint256 = self.market_params[market].max_funding_rate
    remaining: uint256 = maturity - time
    # an early-close gain is not counted: it would back withdrawals and new risk with a
    # value the holder can pump by carrying skew until the EMA follows; losses count
    value += min(self._unwind(swap, rate, price, remaining), 0)
    return (value, self._requirement(swap, price, remaining, rate, cap_rate, self.initial_k), self._requirement(swap, price, remaining, rate, cap_rate, self.maintenance_k))


@internal
def _add(market: uint256, maturity: uint256, delta: Sums):
    """
    @dev Add `delta` to the book's sums and to the market's live aggregate, or, once
         the book is snapshotted, move the matured bucket by the book's value change.
    """
    sums: Sums = self.books[market][maturity].sums
    after: Sums = Sums(total_size=sums.total_size + delta.total_size, total_flow=sums.total_flow + delta.total_flow, sum_size_index=sums.sum_size_index + delta.sum_size_index, sum_flow_time=sums.sum_flow_time + delta.sum_flow_time)
    self.books[market][maturity].sums = after
    final_time: uint256 = self.books[market][maturity].final_time
    if final_time == 0:
        live: Sums = self.live_sums[market]
        self.live_sums[market] = Sums(total_size=live.total_size + delta.total_size, total_flow=live.total_flow + delta.total_flow, sum_size_index=live.sum_size_index + delta.sum_size_index, sum_flow_time=live.sum_flow_time + delta.sum_flow_time)
    else:
        final_index: int256 = self.books[market][maturity].final_index
        self.matured_value += self._value(after, final_index, final_time) - self._value(sums, final_index, final_time)


@internal
def _settle(account: address, market: uint256, maturity: uint256, index: int256, time: uint256) -> int256:
    """
    @dev Advance the swap and the sums to (index, time).
    @return The accrual since the last touch for the holder (floating - fixed); the
            caller settles it into the engine.
    """
    swap: Swap = self.swaps[account][market][maturity]
    if swap.size == 0 and swap.fixed_flow == 0:
        return 0
    if index == swap.last_index and time == swap.last_time:
        return 0
    floating: int256 = 0
    fixed: int256 = 0
    floating, fixed = self._accrued(swap, index, time)
    self._add(market, maturity, Sums(total_size=0, total_flow=0, sum_size_index=swap.size * (index - swap.last_index), sum_flow_time=swap.fixed_flow * convert(time - swap.last_time, int256)))
    self.swaps[account][market][maturity].last_index = index
    self.swaps[account][market][maturity].last_time = time
    log IFundingSwaps.SwapSettled(account=account, market=market, maturity=maturity, floating=floating, fixed=fixed)
    return floating - fixed


@internal
def _remove(account: address, market: uint256, maturity: uint256, index: int256, time: uint256):
    """
    @dev Take a settled swap (last touch at (index, time)) out of the book and out of
         the account's list.
    """
    swap: Swap = self.swaps[account][market][maturity]
    self._add(market, maturity, Sums(total_size=-swap.size, total_flow=-swap.fixed_flow, sum_size_index=-swap.size * index, sum_flow_time=-swap.fixed_flow * convert(time, int256)))
    self.market_params[market].gross_size -= convert(abs(swap.size), uint256)
    self.swaps[account][market][maturity] = empty(Swap)
    self._drop(account, market * MATURITY_BITS + maturity)


@internal
def _drop(account: address, key: uint256):
    """
    @dev Take `key` out of the account's list (the last entry moves into its place).
    """
    held: DynArray[uint256, MAX_HELD] = self._held[account]
    last: uint256 = len(held) - 1
    for i: uint256 in range(MAX_HELD):
        if i > last:
            break
        if held[i] == key:
            held[i] = held[last]
            held.pop()
            break
    self._held[account] = held
