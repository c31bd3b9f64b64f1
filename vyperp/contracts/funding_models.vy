# pragma version ~=0.4.3
"""
@title funding_models
@notice Funding-rate models, all per 8-hour period as 1e18 fractions.
        - LINEAR (BitMEX/Binance): F = P + clamp(I - P, -c, c), P the premium.
        - NONLINEAR: LINEAR plus sign(P) * k * (|P| - threshold)^2 once |P| passes the
          threshold, so large directional bets against spot get expensive quickly.
        - VELOCITY: the rate drifts by `velocity * P` per day (funding as an integral
          of skew); the caller integrates it with the trapezoid rule.
        Every model's result is then bounded to [-cap, cap] by the caller.
@dev Pure module. Integer division truncates toward zero, exactly as the Python
     reference model (`vyperp.model`) does.
"""

import constants
import fixed_math

LINEAR: constant(uint256) = 0
NONLINEAR: constant(uint256) = 1
VELOCITY: constant(uint256) = 2

FUNDING_PERIOD: constant(int256) = 8 * 3600
DAY: constant(int256) = 86400


@pure
@internal
def _premium(skew: int256, skew_scale: uint256, max_premium: uint256) -> int256:
    """
    @notice Mark premium over index, skew / skew_scale, bounded by max_premium.
    """
    bound: int256 = convert(max_premium, int256)
    return fixed_math._clamp(skew * constants.IWAD // convert(skew_scale, int256), -bound, bound)


@pure
@internal
def _premium_rate(premium: int256, interest: int256, clamp_width: uint256, model: uint256, nonlinear_threshold: uint256, nonlinear_coefficient: uint256) -> int256:
    """
    @notice Instantaneous rate of the LINEAR and NONLINEAR models (before the cap).
    """
    width: int256 = convert(clamp_width, int256)
    rate: int256 = premium + fixed_math._clamp(interest - premium, -width, width)
    if model == NONLINEAR:
        excess: int256 = abs(premium) - convert(nonlinear_threshold, int256)
        if excess > 0:
            extra: int256 = excess * excess // constants.IWAD * convert(nonlinear_coefficient, int256) // constants.IWAD
            if premium < 0:
                extra = -extra
            rate += extra
    return rate


@pure
@internal
def _velocity_rate(previous_rate: int256, premium: int256, velocity: uint256, elapsed: uint256) -> int256:
    """
    @notice VELOCITY model: previous rate plus velocity * premium * elapsed / 1 day.
    """
    return previous_rate + premium * convert(velocity, int256) // constants.IWAD * convert(elapsed, int256) // DAY


@pure
@internal
def _index_increment(rate_start: int256, rate_end: int256, price: uint256, elapsed: uint256) -> int256:
    """
    @notice Funding per unit of size accrued over `elapsed` seconds at `price`:
            average rate * price * elapsed / 8h (trapezoid; exact for constant rates).
    """
    return (rate_start + rate_end) * convert(price, int256) // constants.IWAD * convert(elapsed, int256) // (2 * FUNDING_PERIOD)
