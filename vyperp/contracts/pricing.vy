# pragma version ~=0.4.3
"""
@title pricing
@notice Pure price, PnL, fee and funding-settlement arithmetic shared by the engine
        and its lens, so the numbers a front-end sees are the numbers the engine books.
        Mark = index * (1 + premium), premium = skew / skew_scale bounded; a trade fills
        at the average of the mark before and after it.
@dev Rounding always favours the protocol: buys fill up, sells down; PnL rounds down;
     what an account owes in funding rounds up; fees round up.
"""

import constants
import fixed_math
import funding_models


@pure
@internal
def _mark_price(index_price: uint256, skew: int256, skew_scale: uint256, max_premium: uint256) -> uint256:
    """
    @notice index * (1 + bounded premium), rounded down.
    """
    premium: int256 = funding_models._premium(skew, skew_scale, max_premium)
    return convert(fixed_math._mul_floor(convert(index_price, int256), constants.IWAD + premium), uint256)


@pure
@internal
def _fill_price(index_price: uint256, skew: int256, size_delta: int256, skew_scale: uint256, max_premium: uint256) -> uint256:
    """
    @notice index * (1 + (premium before + premium after) / 2); buys round up, sells down.
    """
    premium_sum: int256 = funding_models._premium(skew, skew_scale, max_premium) + funding_models._premium(skew + size_delta, skew_scale, max_premium)
    scaled: int256 = convert(index_price, int256) * (2 * constants.IWAD + premium_sum)
    if size_delta > 0:
        return convert(fixed_math._ceil_div(scaled, 2 * constants.IWAD), uint256)
    return convert(fixed_math._floor_div(scaled, 2 * constants.IWAD), uint256)


@pure
@internal
def _trade_fee(skew: int256, size_delta: int256, price: uint256, maker_fee: uint256, taker_fee: uint256) -> uint256:
    """
    @notice Maker rate on the part of the trade that moves the skew toward zero, taker
            rate on the rest; each part's notional and fee rounded up.
    """
    reducing: uint256 = 0
    if skew != 0 and (skew > 0) != (size_delta > 0):
        reducing = convert(min(abs(size_delta), abs(skew)), uint256)
    increasing: uint256 = convert(abs(size_delta), uint256) - reducing
    fee: uint256 = fixed_math._umul_up(fixed_math._umul_up(reducing, price), maker_fee)
    return fee + fixed_math._umul_up(fixed_math._umul_up(increasing, price), taker_fee)


@pure
@internal
def _pnl(size: int256, price: uint256, entry_price: uint256) -> int256:
    """
    @notice size * (price - entry), rounded down.
    """
    return fixed_math._mul_floor(size, convert(price, int256) - convert(entry_price, int256))


@pure
@internal
def _funding_owed(size: int256, cumulative: int256, position_index: int256, index_price: uint256, tier_notional: uint256, tier_multiplier: uint256) -> (int256, uint256):
    """
    @notice (funding the position owes, size-tier surcharge). Owed = size * (cumulative -
            index at last settlement), rounded up. A position above `tier_notional` (0 =
            off) that pays, pays `tier_multiplier` times; the extra is the surcharge.
    """
    owed: int256 = fixed_math._mul_ceil(size, cumulative - position_index)
    surcharge: uint256 = 0
    if owed > 0 and tier_notional > 0:
        if fixed_math._umul_up(convert(abs(size), uint256), index_price) > tier_notional:
            surcharge = convert(fixed_math._mul_ceil(owed, convert(tier_multiplier, int256) - constants.IWAD), uint256)
    return (owed, surcharge)


@pure
@internal
def _exit_price(index_price: uint256, skew: int256, size: int256, skew_scale: uint256, max_premium: uint256) -> uint256:
    """
    @notice The price closing a position of `size` at `skew` would fill at now: the
            average of the mark before and after the close, premium bound included.
            Health values positions here, never at the mark, so the premium a trade
            creates is not counted as the trader's gain.
    """
    return self._fill_price(index_price, skew, -size, skew_scale, max_premium)


@pure
@internal
def _side_profit(open_interest: uint256, sum_size_entry: int256, price: uint256, long_side: bool) -> uint256:
    """
    @notice A side's aggregate unrealized profit at `price` (0 if the side is at a
            loss), from its O(1) aggregates; rounded up (against traders).
    @param open_interest The side's open interest (base units).
    @param sum_size_entry The side's sum of |size| x entry price (unscaled).
    @param price The valuation price.
    @param long_side True for longs (profit = OI x price - sum), false for shorts.
    """
    value: int256 = convert(open_interest, int256) * convert(price, int256)
    profit: int256 = value - sum_size_entry
    if not long_side:
        profit = sum_size_entry - value
    if profit <= 0:
        return 0
    return convert(fixed_math._ceil_div(profit, constants.IWAD), uint256)


@pure
@internal
def _capped_profit(pnl: int256, side_profit: uint256, cap: uint256) -> int256:
    """
    @notice GMX v2's max-PnL-to-pool factor: when a side's aggregate profit exceeds
            `cap`, each profitable position's profit counts pro rata, pnl x cap /
            side profit, rounded down. Losses are never scaled.
    """
    if pnl <= 0 or side_profit <= cap:
        return pnl
    return convert(convert(pnl, uint256) * cap // side_profit, int256)
