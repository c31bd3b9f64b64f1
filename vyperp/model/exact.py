"""Exact integer reference model of the engine's arithmetic: pricing, fees, funding (and
its EMA), the volatility EWMA and risk multiplier, margin brackets x multiplier, oracle
acceptance, the liquidation step's parts, the bad-debt waterfall, the pool's value,
reserve and ERC-4626 share arithmetic, ADL ranking and haircuts. Every function mirrors
one in contracts/*.vy bit for bit, including the rounding direction, so tests and the
fuzzer can demand equality to the wei. Written from the contracts' code.

Vyper's `//` on signed integers truncates toward zero (EVM SDIV); `trunc_div` models it.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import isqrt
from typing import Any

from ..protocol.units import WAD, ceil_div, floor_div, trunc_div

FUNDING_PERIOD = 8 * 3600
DAY = 86_400
LINEAR, NONLINEAR, VELOCITY = 0, 1, 2


def clamp(x: int, low: int, high: int) -> int:
    return min(max(x, low), high)


def mul_floor(a: int, b: int) -> int:
    return floor_div(a * b, WAD)


def mul_ceil(a: int, b: int) -> int:
    return ceil_div(a * b, WAD)


def umul_up(a: int, b: int) -> int:
    return ceil_div(a * b, WAD)


def premium(skew: int, skew_scale: int, max_premium: int) -> int:
    return clamp(trunc_div(skew * WAD, skew_scale), -max_premium, max_premium)


def premium_rate(prem: int, interest: int, clamp_width: int, model: int, threshold: int, coefficient: int) -> int:
    rate = prem + clamp(interest - prem, -clamp_width, clamp_width)
    if model == NONLINEAR:
        excess = abs(prem) - threshold
        if excess > 0:
            extra = trunc_div(trunc_div(excess * excess, WAD) * coefficient, WAD)
            rate += -extra if prem < 0 else extra
    return rate


def velocity_rate(previous: int, prem: int, velocity: int, elapsed: int) -> int:
    return previous + trunc_div(trunc_div(prem * velocity, WAD) * elapsed, DAY)


def index_increment(rate_start: int, rate_end: int, price: int, elapsed: int) -> int:
    return trunc_div(trunc_div((rate_start + rate_end) * price, WAD) * elapsed, 2 * FUNDING_PERIOD)


def mark_price(index_price: int, skew: int, skew_scale: int, max_premium: int) -> int:
    return mul_floor(index_price, WAD + premium(skew, skew_scale, max_premium))


def fill_price(index_price: int, skew: int, size_delta: int, skew_scale: int, max_premium: int) -> int:
    total = premium(skew, skew_scale, max_premium) + premium(skew + size_delta, skew_scale, max_premium)
    scaled = index_price * (2 * WAD + total)
    return ceil_div(scaled, 2 * WAD) if size_delta > 0 else floor_div(scaled, 2 * WAD)


def trade_fee(skew: int, size_delta: int, price: int, maker_fee: int, taker_fee: int) -> int:
    reducing = 0
    if skew != 0 and (skew > 0) != (size_delta > 0):
        reducing = min(abs(size_delta), abs(skew))
    increasing = abs(size_delta) - reducing
    return umul_up(umul_up(reducing, price), maker_fee) + umul_up(umul_up(increasing, price), taker_fee)


def pnl(size: int, price: int, entry_price: int) -> int:
    return mul_floor(size, price - entry_price)


def funding_owed(
    size: int, cumulative: int, position_index: int, index_price: int, tier_notional: int, tier_multiplier: int
) -> tuple[int, int]:
    owed = mul_ceil(size, cumulative - position_index)
    surcharge = 0
    if owed > 0 and tier_notional > 0 and umul_up(abs(size), index_price) > tier_notional:
        surcharge = mul_ceil(owed, tier_multiplier - WAD)
    return owed, surcharge


def bracket_requirement(brackets: list[tuple[int, int, int]], notional: int, initial: bool) -> int:
    requirement = 0
    floor_notional = 0
    for i, (ceiling, im_rate, mm_rate) in enumerate(brackets):
        if notional <= floor_notional:
            break
        if i == len(brackets) - 1:
            ceiling = 2**256 - 1
        requirement += umul_up(min(notional, ceiling) - floor_notional, im_rate if initial else mm_rate)
        floor_notional = ceiling
    return requirement


@dataclass
class FundingMarket:
    """Funding state of one market, advanced exactly as Engine._accrue_funding does."""

    skew_scale: int
    max_premium: int
    interest_rate: int
    funding_clamp: int
    max_funding_rate: int
    model: int = LINEAR
    nonlinear_threshold: int = 0
    nonlinear_coefficient: int = 0
    funding_velocity: int = 0
    cumulative: int = 0
    rate: int = 0
    last_time: int = 0
    rate_index: int = 0  # Engine.funding_rate_index: sum of average rate * elapsed / 8h (1e18)

    @classmethod
    def from_config(cls, config: Any, last_time: int, state: Any = None) -> FundingMarket:
        """From the engine's MarketConfig (read by field name); `state` (a MarketState)
        also sets the accrued cumulative and the rate."""
        market = cls(
            skew_scale=config.skew_scale,
            max_premium=config.max_premium,
            interest_rate=config.interest_rate,
            funding_clamp=config.funding_clamp,
            max_funding_rate=config.max_funding_rate,
            model=config.funding_model,
            nonlinear_threshold=config.nonlinear_threshold,
            nonlinear_coefficient=config.nonlinear_coefficient,
            funding_velocity=config.funding_velocity,
            last_time=last_time,
        )
        if state is not None:
            market.cumulative, market.rate = state.cumulative_funding_per_unit, state.funding_rate
        return market

    def now(self, skew: int, index_price: int, timestamp: int) -> tuple[int, int]:
        """(cumulative, rate) at `timestamp` without committing (Engine._funding_now)."""
        cumulative, rate, _ = self.now_with_rate_index(skew, index_price, timestamp)
        return cumulative, rate

    def now_with_rate_index(self, skew: int, index_price: int, timestamp: int) -> tuple[int, int, int]:
        """(cumulative, rate, rate index) at `timestamp` without committing: the rate index
        (Engine.funding_rate_index) takes the USD index's trapezoid at a unit price."""
        elapsed = timestamp - self.last_time
        prem = premium(skew, self.skew_scale, self.max_premium)
        cap = self.max_funding_rate
        if self.model == VELOCITY:
            start = self.rate
            rate = clamp(velocity_rate(start, prem, self.funding_velocity, elapsed), -cap, cap)
        else:
            rate = clamp(
                premium_rate(
                    prem,
                    self.interest_rate,
                    self.funding_clamp,
                    self.model,
                    self.nonlinear_threshold,
                    self.nonlinear_coefficient,
                ),
                -cap,
                cap,
            )
            start = rate
        cumulative = self.cumulative + index_increment(start, rate, index_price, elapsed)
        return cumulative, rate, self.rate_index + index_increment(start, rate, WAD, elapsed)

    def touch(self, skew: int, index_price: int, timestamp: int) -> None:
        """Commit accrual up to `timestamp` (a touch of the market)."""
        if timestamp - self.last_time > 0:
            self.cumulative, self.rate, self.rate_index = self.now_with_rate_index(skew, index_price, timestamp)
            self.last_time = timestamp


def exit_price(index_price: int, skew: int, size: int, skew_scale: int, max_premium: int) -> int:
    """What closing `size` at `skew` would fill at now (pricing._exit_price)."""
    return fill_price(index_price, skew, -size, skew_scale, max_premium)


def side_profit(open_interest: int, sum_size_entry: int, price: int, long_side: bool) -> int:
    """A side's aggregate unrealized profit at `price`, 0 if at a loss, rounded up (pricing._side_profit)."""
    value = open_interest * price
    profit = value - sum_size_entry if long_side else sum_size_entry - value
    return 0 if profit <= 0 else ceil_div(profit, WAD)


def capped_profit(pnl_value: int, side: int, cap: int) -> int:
    """The max-PnL-to-pool cap: profit x cap / side profit when the side exceeds the cap (pricing._capped_profit)."""
    if pnl_value <= 0 or side <= cap:
        return pnl_value
    return pnl_value * cap // side


def profit_cap(pool_balance: int, ratio: int) -> int | None:
    """ratio x max(pool balance, 0), rounded down; None when the cap is off (ratio 0)."""
    return None if ratio == 0 else max(pool_balance, 0) * ratio // WAD


def position_pnl(
    size: int,
    entry: int,
    index_price: int,
    skew: int,
    skew_scale: int,
    max_premium: int,
    cap: int | None,
    long_sum: int,
    short_sum: int,
    long_oi: int,
    short_oi: int,
    settled: bool = False,
) -> int:
    """A position's PnL as Engine._health counts it: at its exit price, under the PnL cap.

    `long_sum` / `short_sum` are the sides' sums of |size| x entry (unscaled), `cap` the
    profit cap (`profit_cap`), `settled` a market in settlement mode (exit = the index).
    """
    exit_ = index_price if settled else exit_price(index_price, skew, size, skew_scale, max_premium)
    value = pnl(size, exit_, entry)
    if value <= 0 or cap is None:
        return value
    mark = index_price if settled else mark_price(index_price, skew, skew_scale, max_premium)
    side = side_profit(long_oi, long_sum, mark, True) if size > 0 else side_profit(short_oi, short_sum, mark, False)
    return capped_profit(value, side, cap)


def payable_profit(
    size: int,
    entry: int,
    fill: int,
    mark: int,
    pool_balance: int,
    ratio: int,
    long_oi: int,
    short_oi: int,
    long_sum: int,
    short_sum: int,
) -> int:
    """What a fill of the whole position at `fill` may realize (Engine._payable_profit):
    a loss in full; a profit under the PnL cap (the side's profit at `mark` before the fill,
    `ratio` x pool balance), then within the pool's cash."""
    profit = pnl(size, fill, entry)
    if profit <= 0:
        return profit
    cap = profit_cap(pool_balance, ratio)
    if cap is not None:
        side = side_profit(long_oi, long_sum, mark, True) if size > 0 else side_profit(short_oi, short_sum, mark, False)
        profit = capped_profit(profit, side, cap)
    return min(profit, max(pool_balance, 0))


def side_profits(long_oi: int, short_oi: int, sum_size_entry: int, long_sum: int, mark: int) -> tuple[int, int]:
    """(longs' profit, shorts' profit) at `mark` from a market's aggregates (Engine._side_profit
    for both sides; the shorts' sum is the longs' minus the signed total)."""
    return (side_profit(long_oi, long_sum, mark, True), side_profit(short_oi, long_sum - sum_size_entry, mark, False))


def adl_side(long_profit: int, short_profit: int, pool_balance: int, ratio: int) -> int:
    """+1 / -1 if that side's profit passes `ratio` x the pool's balance, else 0 (Engine._adl_side)."""
    if ratio == 0:
        return 0
    trigger = max(pool_balance, 0) * ratio // WAD
    if long_profit > trigger:
        return 1
    if short_profit > trigger:
        return -1
    return 0


# ====================================================================== margin (Engine._requirements)
def requirements(
    brackets: list[tuple[int, int, int]], notional: int, multiplier: int, apply_to_maintenance: bool
) -> tuple[int, int]:
    """(initial, maintenance) for `notional`: the bracket requirement times the risk
    multiplier, rounded up; maintenance scaled only when the market applies it there."""
    initial = umul_up(bracket_requirement(brackets, notional, True), multiplier)
    maintenance = bracket_requirement(brackets, notional, False)
    if apply_to_maintenance:
        maintenance = umul_up(maintenance, multiplier)
    return initial, maintenance


# ====================================================================== oracle (Engine._read_index_price)
def price_scale(decimals: int) -> int:
    """What one unit of a `decimals` feed answer is worth in 1e18 (Engine._price_scale)."""
    return 10 ** (18 - decimals)


def oracle_reason(
    answer: int,
    updated_at: int,
    now: int,
    max_age: int,
    price: int,
    last_price: int,
    max_jump: int,
    bounded: bool,
    new_round: bool,
) -> str | None:
    """Why the guarded oracle read refuses a round (its revert reason), or None if accepted.
    Stale: updated_at + max_age < now (a round exactly max_age old is still fresh).
    Jump (bounded reads of a new round only): |price - last| x 1e18 > last x max_jump
    (a move exactly at the bound is accepted)."""
    if answer <= 0:
        return "Oracle answer not positive"
    if updated_at + max_age < now:
        return "Oracle stale"
    if bounded and new_round and abs(price - last_price) * WAD > last_price * max_jump:
        return "Oracle price jump"
    return None


# ====================================================================== risk (Engine._accept_round, _risk_multiplier)
_M = 2**256


def _s(x: int) -> int:
    x %= _M
    return x - _M if x >= 2**255 else x


def wad_ln(x: int) -> int:
    """Bit-exact port of snekmate.utils.math._wad_ln (int256 wrapping, SAR shifts)."""
    assert x >= 0
    if x == 0:
        return 0
    k = x.bit_length() - 1 - 96
    x = ((x << (159 - k)) % _M) >> 159
    p = _s(
        (_s(_s(x + 3_273_285_459_638_523_848_632_254_066_296) * x) >> 96) + 24_828_157_081_833_163_892_658_089_445_524
    )
    p = _s((_s(p * x) >> 96) + 43_456_485_725_739_037_958_740_375_743_393)
    p = _s((_s(p * x) >> 96) - 11_111_509_109_440_967_052_023_855_526_967)
    p = _s((_s(p * x) >> 96) - 45_023_709_667_254_063_763_336_534_515_857)
    p = _s((_s(p * x) >> 96) - 14_706_773_417_378_608_786_704_636_184_526)
    p = _s(_s(p * x) - (795_164_235_651_350_426_258_249_787_498 << 96))
    q = _s(
        (_s(_s(x + 5_573_035_233_440_673_466_300_451_813_936) * x) >> 96) + 71_694_874_799_317_883_764_090_561_454_958
    )
    q = _s((_s(q * x) >> 96) + 283_447_036_172_924_575_727_196_451_306_956)
    q = _s((_s(q * x) >> 96) + 401_686_690_394_027_663_651_624_208_769_553)
    q = _s((_s(q * x) >> 96) + 204_048_457_590_392_012_362_485_061_816_622)
    q = _s((_s(q * x) >> 96) + 31_853_899_698_501_571_402_653_359_427_138)
    q = _s((_s(q * x) >> 96) + 909_429_971_244_387_300_277_376_558_375)
    r = trunc_div(p, q)
    total = _s(
        _s(
            _s(r * 1_677_202_110_996_718_588_342_820_967_067_443_963_516_166)
            + _s(k * 16_597_577_552_685_614_221_487_285_958_193_947_469_193_820_559_219_878_177_908_093_499_208_371)
        )
        + 600_920_179_829_731_861_736_702_779_321_621_459_595_472_258_049_074_101_567_377_883_020_018_308
    )
    return total >> 174


def variance_ewma(variance: int, weight: int, price: int, last_price: int) -> int:
    """The EWMA of squared log-returns after a new round at `price` (Engine._accept_round):
    one update per accepted round, whatever the time between rounds; unchanged when the
    weight is 0 or there is no previous price."""
    if weight == 0 or last_price == 0:
        return variance
    log_return = wad_ln(price * WAD // last_price)
    return (variance * (WAD - weight) + (log_return * log_return // WAD) * weight) // WAD


def funding_ema(ema: int, rate: int, elapsed: int, period: int) -> int:
    """The funding-rate EMA after a touch `elapsed` seconds after the last (Engine._accrue_funding):
    weight min(elapsed / period, 1), so a gap of a whole period or more jumps to the rate."""
    weight = min(elapsed * WAD // period, WAD)
    return ema + trunc_div((rate - ema) * weight, WAD)


def risk_multiplier(risk: Any, variance: int, rate: int, ema: int) -> int:
    """1 + volatility term + funding term, bounded by max_multiplier (Engine._risk_multiplier);
    `risk` is a RiskConfig read by field name."""
    multiplier = WAD
    if risk.volatility_weight > 0 and risk.variance_ewma_weight > 0:
        volatility = isqrt(variance * WAD)
        if volatility > risk.reference_volatility:
            multiplier += umul_up(
                (volatility - risk.reference_volatility) * WAD // risk.reference_volatility, risk.volatility_weight
            )
    if risk.funding_weight > 0:
        multiplier += umul_up(abs(rate - ema), risk.funding_weight)
    return min(multiplier, risk.max_multiplier)


# ====================================================================== liquidation (Engine._liquidate and helpers)
def margin_ratio(equity: int, maintenance: int) -> int:
    """equity / maintenance as the tiers read it (0 for non-positive equity)."""
    return equity * WAD // maintenance if equity > 0 else 0


def tier_for(equity: int, maintenance: int, tiers: list[Any]) -> tuple[int, int]:
    """(close fraction, tier index): the deepest tier whose threshold the margin ratio is
    strictly below (a ratio exactly at a threshold is not in that tier); no tiers = close all."""
    ratio = margin_ratio(equity, maintenance)
    fraction, tier = WAD, 0
    for i, t in enumerate(tiers):
        if ratio < t.margin_ratio_below:
            fraction, tier = t.close_fraction, i
    return fraction, tier


def liquidation_close(size: int, fraction: int, index_price: int, min_position_notional: int) -> int:
    """The signed size a step closes: `fraction` of |size| rounded up, or all of it when
    the rest would be worth less than min_position_notional at the index (rounded down)."""
    if fraction >= WAD:
        return size
    magnitude = abs(size)
    close = umul_up(magnitude, fraction)
    if close < magnitude and (magnitude - close) * index_price // WAD >= min_position_notional:
        return close if size > 0 else -close
    return size


def in_cooldown(fraction: int, now: int, last_partial: int, cooldown: int) -> bool:
    """A partial step (fraction < 1) is refused until `cooldown` seconds after the last one."""
    return fraction < WAD and now < last_partial + cooldown


def keeper_reward(notional: int, reward_rate: int, reward_floor: int, reward_cap: int) -> int:
    """The keeper reward for `notional` closed: rate x notional (rounded up) within [floor, cap]."""
    return min(max(umul_up(notional, reward_rate), reward_floor), reward_cap)


def keeper_payment(reward: int, margin: int, insurance: int) -> tuple[int, int]:
    """(from the account's margin, from insurance): margin while positive, then the fund."""
    from_margin = min(reward, max(margin, 0))
    return from_margin, min(reward - from_margin, insurance)


def liquidation_penalty(notional: int, penalty_rate: int, margin: int) -> int:
    """The penalty to insurance: rate x notional (rounded up), at most the margin left."""
    return min(umul_up(notional, penalty_rate), max(margin, 0))


def partial_step_charges(step_notional: int, liq: Any, margin: int) -> int:
    """The reward and penalty a partial step will charge, as the escalation test counts them."""
    charges = keeper_reward(step_notional, liq.reward_rate, liq.reward_floor, liq.reward_cap)
    return charges + min(umul_up(step_notional, liq.penalty_rate), max(margin - charges, 0))


def signed_ratio(equity: int, maintenance: int) -> int:
    """equity x 1e18 / maintenance truncated toward zero (the escalation test's ratio)."""
    return trunc_div(equity * WAD, max(maintenance, 1))


def rate_limit_window(
    window: int, max_notional: int, start: int, used: int, now: int, notional: int, force: bool
) -> tuple[bool, int, int]:
    """(allowed, window start, notional used) as stored after counting `notional`
    (Engine._count_rate_limit). A window restarts once `now >= start + window`; a count
    that would pass max_notional is refused unless forced, and then the stored window (start
    and notional) is left as it was; window 0 = no limit."""
    if window == 0:
        return True, start, used
    counted, new_start = used, start
    if now >= start + window:
        new_start, counted = now, 0
    counted += notional
    if counted > max_notional and not force:
        return False, start, used
    return True, new_start, counted


def bad_debt_cover(margin: int, insurance: int) -> tuple[int, int, int]:
    """(bad debt, from insurance, from the pool) for a flat account with margin < 0."""
    bad_debt = -margin
    from_insurance = min(bad_debt, insurance)
    return bad_debt, from_insurance, bad_debt - from_insurance


def insurance_fee(fee: int, share: int) -> int:
    """The insurance fund's share of a trading fee (rounded down; the rest is the pool's)."""
    return fee * share // WAD


# ====================================================================== pool (Engine._pool_value, _pool_withdrawable)
def pool_value_terms(skew: int, mark: int, cumulative: int, sum_size_entry: int, sum_size_funding: int) -> int:
    """One market's term of the pool value: traders' pending funding (floor) minus their
    unrealized PnL at the mark (ceil), from the aggregates."""
    traders_pnl = ceil_div(skew * mark - sum_size_entry, WAD)
    traders_owe = floor_div(skew * cumulative - sum_size_funding, WAD)
    return traders_owe - traders_pnl


def pool_reserve(open_interest_at_price: list[tuple[int, int]], reserve_ratio: int) -> int:
    """pool_reserve_ratio x open-interest notional (both sides, at the last accepted price),
    each market rounded up: [(long OI + short OI, last price), ...]."""
    return sum(umul_up(umul_up(oi, price), reserve_ratio) for oi, price in open_interest_at_price)


def pool_withdrawable(pool_value: int, pool_balance: int, reserve: int, precision: int) -> int:
    """Tokens LPs can withdraw: min(value, balance) above the reserve, rounded down."""
    value = min(pool_value, pool_balance)
    if value <= reserve:
        return 0
    return (value - reserve) // precision


def total_assets(value: int, precision: int) -> int:
    """LiquidityPool._total_assets: the pool value in tokens, 0 while not positive."""
    return 0 if value <= 0 else value // precision


def to_shares(assets: int, supply: int, assets_total: int, round_up: bool) -> int:
    """LiquidityPool._to_shares (virtual share and asset of 1 each)."""
    numerator, denominator = assets * (supply + 1), assets_total + 1
    return ceil_div(numerator, denominator) if round_up else numerator // denominator


def to_assets(shares: int, supply: int, assets_total: int, round_up: bool) -> int:
    """LiquidityPool._to_assets."""
    numerator, denominator = shares * (assets_total + 1), supply + 1
    return ceil_div(numerator, denominator) if round_up else numerator // denominator


def preview(kind: str, amount: int, supply: int, assets_total: int) -> int:
    """ERC-4626 previews, rounded for the pool: deposit/redeem down, mint/withdraw up.
    deposit: assets -> shares; mint: shares -> assets; withdraw: assets -> shares; redeem: shares -> assets."""
    if kind == "deposit":
        return to_shares(amount, supply, assets_total, False)
    if kind == "mint":
        return to_assets(amount, supply, assets_total, True)
    if kind == "withdraw":
        return to_shares(amount, supply, assets_total, True)
    if kind == "redeem":
        return to_assets(amount, supply, assets_total, False)
    raise ValueError(kind)


def lp_reason(
    kind: str, amount: int, supply: int, assets_total: int, pool_value: int, withdrawable: int, shares_held: int
) -> str | None:
    """Why an LP call reverts (its reason), or None: (assets, shares) follow `preview`.
    Deposits/mints: "Zero amount", "Zero shares", "Pool in deficit"; withdraw checks the
    reserve first ("Exceeds max withdraw"), redeem after pricing ("Exceeds max redeem");
    then "Zero amount" and burning more than held."""
    moved = preview(kind, amount, supply, assets_total)
    if kind in ("deposit", "mint"):
        assets, shares = (amount, moved) if kind == "deposit" else (moved, amount)
        if assets == 0:
            return "Zero amount"
        if shares == 0:
            return "Zero shares"
        if pool_value < 0:
            return "Pool in deficit"
        return None
    assets, shares = (amount, moved) if kind == "withdraw" else (moved, amount)
    if assets > withdrawable:
        return "Exceeds max withdraw" if kind == "withdraw" else "Exceeds max redeem"
    if assets == 0:
        return "Zero amount"
    if shares > shares_held:
        return "erc20: burn amount exceeds balance"
    return None


# ====================================================================== ADL (Engine.auto_deleverage and helpers)
def deficit_after_insurance(pool_value: int, insurance: int) -> tuple[int, int]:
    """(from insurance, deficit left) for a negative pool value: insurance covers first."""
    deficit = -pool_value
    from_insurance = min(deficit, insurance)
    return from_insurance, deficit - from_insurance


def adl_score(pnl_value: int, equity: int) -> int:
    """A candidate's ADL rank: PnL at exit price / equity (truncated, at least 1)."""
    return max(trunc_div(pnl_value * WAD, max(equity, 1)), 1)


def adl_order(scored: list[tuple[int, Any]]) -> list[Any]:
    """Candidates by descending score (ties keep their order): the order auto_deleverage accepts."""
    return [who for _, who in sorted(scored, key=lambda c: -c[0])]


def adl_ranked(scores: list[int]) -> bool:
    """Whether a candidate list's scores are non-increasing (else "ADL candidates not ranked")."""
    return all(a >= b for a, b in zip(scores, scores[1:]))


def adl_haircut(profit: int, realized: int, deficit: int, margin: int) -> tuple[int, int]:
    """(haircut, taken from the margin) of a deleveraged position (Engine._deleverage): what
    the PnL cap and the pool's cash withheld, plus, in deficit mode, up to the rest of the
    deficit from the profit it was paid, never below a zero margin."""
    haircut = profit - realized
    taken = 0
    if deficit > haircut and realized > 0:
        taken = min(realized, deficit - haircut, max(margin, 0))
    return haircut + taken, taken


def pro_rata_fraction(deficit: int, side_profit_total: int) -> int:
    """The share of every profitable position's profit a pro-rata ADL cuts (rounded up, <= 1)."""
    return min(ceil_div(deficit * WAD, max(side_profit_total, 1)), WAD)


def pro_rata_cut(size: int, entry: int, exit_: int, mark: int, fraction: int) -> tuple[int, int]:
    """(new entry price, haircut) of one position under a pro-rata cut (Engine._haircut);
    (entry, 0) when it is not in profit at its exit price."""
    profit = pnl(size, exit_, entry)
    if size == 0 or profit <= 0:
        return entry, 0
    cut = min(umul_up(pnl(size, mark, entry), fraction), profit)
    step = ceil_div(cut * WAD, abs(size))
    new_entry = entry + step if size > 0 else entry - min(step, entry)
    return new_entry, profit - max(pnl(size, exit_, new_entry), 0)


def position_value(
    margin: int,
    size: int,
    entry: int,
    funding_index: int,
    mark: int,
    cumulative: int,
    pool_balance: int,
    brackets: list[tuple[int, int, int]],
    multiplier: int,
    apply_to_maintenance: bool,
) -> tuple[int, int]:
    """(equity, maintenance) of a one-position account in a market valued at the mark with no
    skew pricing, PnL cap or size tier (Engine._health's terms for that case)."""
    owed = mul_ceil(size, cumulative - funding_index)
    equity = margin + pnl(size, mark, entry) - max(owed, -max(pool_balance, 0))
    notional = umul_up(abs(size), mark)
    return equity, requirements(brackets, notional, multiplier, apply_to_maintenance)[1]
