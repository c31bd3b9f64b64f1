# pragma version ~=0.4.3
"""
@title checks
@notice The engine's one revert site: `_require(condition, reason)` reverts with the
        reason exactly as `assert condition, reason` would (Error(string)).
@dev Pure module. Each inline `assert ..., "reason"` costs ~100 bytes of runtime code;
     a call to this one costs ~60 and ~40 gas, so the engine's checks go through it to
     stay under the EIP-170 size limit. Reasons are at most 32 characters.
     Caveat (vyper 0.4.3 venom): the compiler may evaluate a later checked expression
     before this call, so a check guarding an expression that would itself revert (the
     oracle guard's answer > 0 before convert(answer), the listing's oracle decimals
     before 18 - decimals) stays an inline assert, or its reason would be lost.
"""


@view
@internal
def _require(condition: bool, reason: String[32]):
    """
    @dev Revert with `reason` unless `condition`.
    """
    assert condition, reason
