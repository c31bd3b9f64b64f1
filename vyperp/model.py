"""Exact integer reference model of the engine's arithmetic (pricing, fees, funding,
margin brackets). Every function mirrors one in contracts/*.vy bit for bit, including
the rounding direction, so tests can demand equality to the wei.

Vyper's `//` on signed integers truncates toward zero (EVM SDIV); `trunc_div` models it.
"""

from __future__ import annotations

from dataclasses import dataclass

from .protocol.units import WAD, ceil_div, floor_div, trunc_div

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


def funding_owed(size: int, cumulative: int, position_index: int, index_price: int,
                 tier_notional: int, tier_multiplier: int) -> tuple[int, int]:
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

    @classmethod
    def from_config(cls, config: tuple, last_time: int) -> "FundingMarket":
        """From the engine's MarketConfig tuple (field order of engine_types.MarketConfig)."""
        return cls(skew_scale=config[3], max_premium=config[4], interest_rate=config[8], funding_clamp=config[9],
                   max_funding_rate=config[10], model=config[11], nonlinear_threshold=config[12],
                   nonlinear_coefficient=config[13], funding_velocity=config[14], last_time=last_time)

    def now(self, skew: int, index_price: int, timestamp: int) -> tuple[int, int]:
        """(cumulative, rate) at `timestamp` without committing (Engine._funding_now)."""
        elapsed = timestamp - self.last_time
        prem = premium(skew, self.skew_scale, self.max_premium)
        cap = self.max_funding_rate
        if self.model == VELOCITY:
            start = self.rate
            rate = clamp(velocity_rate(start, prem, self.funding_velocity, elapsed), -cap, cap)
        else:
            rate = clamp(premium_rate(prem, self.interest_rate, self.funding_clamp, self.model,
                                      self.nonlinear_threshold, self.nonlinear_coefficient), -cap, cap)
            start = rate
        cumulative = self.cumulative
        if elapsed > 0:
            cumulative += index_increment(start, rate, index_price, elapsed)
        return cumulative, rate

    def touch(self, skew: int, index_price: int, timestamp: int) -> None:
        """Commit accrual up to `timestamp` (a touch of the market)."""
        if timestamp - self.last_time > 0:
            self.cumulative, self.rate = self.now(skew, index_price, timestamp)
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


def position_pnl(size: int, entry: int, index_price: int, skew: int, skew_scale: int, max_premium: int,
                 cap: int | None, long_sum: int, short_sum: int, long_oi: int, short_oi: int,
                 settled: bool = False) -> int:
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


def payable_profit(size: int, entry: int, fill: int, mark: int, pool_balance: int, ratio: int,
                   long_oi: int, short_oi: int, long_sum: int, short_sum: int) -> int:
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
