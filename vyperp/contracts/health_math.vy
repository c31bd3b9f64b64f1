# pragma version ~=0.4.3
"""
@title health_math
@notice The margin-and-health arithmetic the engine and its lens share, so the two
        cannot disagree: a position's (initial, maintenance) requirement from its
        brackets and the risk multiplier, an account's margin ratio, and when an
        account is liquidatable.
@dev Pure module: import it, no `initializes` needed. The engine's margin_health
     (requirements) and liquidation_policy (tier ratio) apply it to the engine's state;
     EngineLens applies it to what the engine's views return (margin_requirement,
     margin_ratio, is_liquidatable, scan_accounts, liquidatable_accounts). The engine's
     liquidation step writes `_is_liquidatable`'s condition out instead of calling it:
     with the call inlined there, vyper 0.4.3's venom BranchOptimizationPass fails
     (KeyError in liveness), and the working rewrite costs ~40 gas a liquidation.
"""

import constants
import fixed_math
import margin_brackets


@pure
@internal
def _requirements(brackets: DynArray[margin_brackets.MarginBracket, margin_brackets.MAX_BRACKETS], multiplier: uint256, scale_maintenance: bool, notional: uint256) -> (uint256, uint256):
    """
    @notice (initial, maintenance) requirement of `notional` USD: the bracket
            requirement, initial times the risk multiplier, maintenance too only if
            `scale_maintenance` (RiskConfig.apply_to_maintenance); rounded up.
    """
    initial: uint256 = fixed_math._umul_up(margin_brackets._requirement(brackets, notional, True), multiplier)
    maintenance: uint256 = margin_brackets._requirement(brackets, notional, False)
    if scale_maintenance:
        maintenance = fixed_math._umul_up(maintenance, multiplier)
    return (initial, maintenance)


@pure
@internal
def _margin_ratio(equity: int256, maintenance: uint256) -> uint256:
    """
    @notice equity / maintenance as a 1e18 fraction, 0 when equity <= 0 (maintenance > 0).
    """
    ratio: uint256 = 0
    if equity > 0:
        ratio = convert(equity, uint256) * constants.WAD // maintenance
    return ratio


@pure
@internal
def _is_liquidatable(position_count: uint256, equity: int256, maintenance: uint256) -> bool:
    """
    @notice An account is liquidatable while it holds a position and its equity is
            below its maintenance requirement.
    """
    return position_count > 0 and equity < convert(maintenance, int256)

