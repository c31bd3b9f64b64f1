# pragma version ~=0.4.3
"""
@title margin_brackets
@notice Exchange-style notional brackets: larger positions need more margin. Each
        bracket has a marginal initial and maintenance rate; the requirement is the sum
        over brackets of rate * the part of the notional inside it, so it is continuous
        across bracket edges. The equivalent exchange form is
        requirement(n) = n * rate_of_n's_bracket - maintenance_amount(bracket).
"""

import constants
import fixed_math

MAX_BRACKETS: constant(uint256) = 10  # Binance BTCUSDT lists 10

struct MarginBracket:
    notional_ceiling: uint256        # upper edge of the bracket (USD); the last is open-ended
    initial_margin_rate: uint256     # marginal IM rate inside the bracket
    maintenance_margin_rate: uint256 # marginal MM rate inside the bracket


@pure
@internal
def _requirement(brackets: DynArray[MarginBracket, MAX_BRACKETS], notional: uint256, initial: bool) -> uint256:
    """
    @notice Requirement of a position of `notional` USD (rounded up per bracket).
    """
    requirement: uint256 = 0
    floor_notional: uint256 = 0
    count: uint256 = len(brackets)
    for i: uint256 in range(MAX_BRACKETS):
        if i >= count or notional <= floor_notional:
            break
        ceiling: uint256 = brackets[i].notional_ceiling
        if i == count - 1:
            ceiling = max_value(uint256)
        rate: uint256 = brackets[i].maintenance_margin_rate
        if initial:
            rate = brackets[i].initial_margin_rate
        requirement += fixed_math._umul_up(min(notional, ceiling) - floor_notional, rate)
        floor_notional = ceiling
    return requirement


@pure
@internal
def _maintenance_amount(brackets: DynArray[MarginBracket, MAX_BRACKETS], bracket: uint256) -> uint256:
    """
    @notice The exchange "maintenance amount" of a bracket: floor * rate - requirement(floor).
    """
    floor_notional: uint256 = 0
    if bracket > 0:
        floor_notional = brackets[bracket - 1].notional_ceiling
    return fixed_math._umul_up(floor_notional, brackets[bracket].maintenance_margin_rate) - self._requirement(brackets, floor_notional, False)


@pure
@internal
def _validate(brackets: DynArray[MarginBracket, MAX_BRACKETS]):
    """
    @notice Ascending ceilings, IM >= MM > 0, rates rising with size.
    """
    assert len(brackets) > 0, "No brackets"
    previous: MarginBracket = empty(MarginBracket)
    for bracket: MarginBracket in brackets:
        assert bracket.notional_ceiling > previous.notional_ceiling, "Brackets not ascending"
        assert bracket.maintenance_margin_rate > 0, "Bad margin rates"
        assert bracket.initial_margin_rate >= bracket.maintenance_margin_rate and bracket.initial_margin_rate <= constants.WAD, "Bad margin rates"
        assert bracket.maintenance_margin_rate >= previous.maintenance_margin_rate and bracket.initial_margin_rate >= previous.initial_margin_rate, "Bracket rates must rise"
        previous = bracket
