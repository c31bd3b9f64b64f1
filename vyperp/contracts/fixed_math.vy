# pragma version ~=0.4.3
"""
@title fixed_math
@notice Signed and unsigned 1e18 fixed-point helpers with explicit rounding.
        Every money computation in the engine names its rounding direction through
        these helpers; the direction is always the one that favours the protocol.
@dev Pure module: import it, no `initializes` needed.
"""

import constants


@pure
@internal
def _floor_div(numerator: int256, denominator: int256) -> int256:
    """
    @notice numerator / denominator rounded toward negative infinity (denominator > 0).
    """
    quotient: int256 = numerator // denominator
    if numerator % denominator != 0 and numerator < 0:
        quotient -= 1
    return quotient


@pure
@internal
def _ceil_div(numerator: int256, denominator: int256) -> int256:
    """
    @notice numerator / denominator rounded toward positive infinity (denominator > 0).
    """
    quotient: int256 = numerator // denominator
    if numerator % denominator != 0 and numerator > 0:
        quotient += 1
    return quotient


@pure
@internal
def _mul_floor(a: int256, b: int256) -> int256:
    """
    @notice a * b / 1e18 rounded down (toward negative infinity).
    """
    return self._floor_div(a * b, constants.IWAD)


@pure
@internal
def _mul_ceil(a: int256, b: int256) -> int256:
    """
    @notice a * b / 1e18 rounded up (toward positive infinity).
    """
    return self._ceil_div(a * b, constants.IWAD)


@pure
@internal
def _umul_down(a: uint256, b: uint256) -> uint256:
    """
    @notice a * b / 1e18 rounded down.
    """
    return a * b // constants.WAD


@pure
@internal
def _umul_up(a: uint256, b: uint256) -> uint256:
    """
    @notice a * b / 1e18 rounded up.
    """
    product: uint256 = a * b
    if product == 0:
        return 0
    return (product - 1) // constants.WAD + 1


@pure
@internal
def _udiv_up(a: uint256, b: uint256) -> uint256:
    """
    @notice a / b as a 1e18 fraction, rounded up (b > 0).
    """
    return (a * constants.WAD + b - 1) // b


@pure
@internal
def _clamp(x: int256, low: int256, high: int256) -> int256:
    """
    @notice x limited to [low, high].
    """
    return min(max(x, low), high)
