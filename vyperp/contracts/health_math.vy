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
     The requirement is two functions, not one, so the engine reads
     RiskConfig.apply_to_maintenance after the bracket loops, as it always did: one
     function taking the flag cost ~6 gas per account valuation.
"""

import constants
import fixed_math
import margin_brackets


@pure
@internal
def _bracket_requirements(brackets: DynArray[margin_brackets.MarginBracket, margin_brackets.MAX_BRACKETS], notional: uint256, multiplier: uint256) -> (uint256, uint256):
    """
    @notice (initial, maintenance before the multiplier) requirement of `notional` USD:
            the bracket requirements, initial times the risk multiplier; rounded up.
            _scaled_maintenance finishes the maintenance requirement.
    """
    return (fixed_math._umul_up(margin_brackets._requirement(brackets, notional, True), multiplier), margin_brackets._requirement(brackets, notional, False))


@pure
@internal
def _scaled_maintenance(maintenance: uint256, multiplier: uint256, scale_maintenance: bool) -> uint256:
    """
    @notice The maintenance requirement: times the risk multiplier only if
            `scale_maintenance` (RiskConfig.apply_to_maintenance), rounded up.
    """
    if scale_maintenance:
        return fixed_math._umul_up(maintenance, multiplier)
    return maintenance


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

