# pragma version ~=0.4.3
# pragma nonreentrancy on
"""
@title MockOracle
@notice A Chainlink AggregatorV3-compatible price feed that feeder accounts push
        rounds into. Used on local chains, in the replay, and on testnets.
@dev Each round is packed in one storage word (answer in the low 192 bits as
     two's complement, timestamp in the high 64 bits) so that a push costs one
     fresh SSTORE plus the round counter.
     Failure modes:
     - `push_round`: "Not feeder" (caller lacks the feeder role),
       "Answer out of range" (does not fit int192), "Timestamp in future",
       "Timestamp before last round".
     - `getRoundData`: "No data present" for an unknown round (Chainlink behaviour).
     - `set_feeder`, `transfer_admin`: "Not admin"; `transfer_admin`: "Zero address".
"""

from ..interfaces import IAggregatorV3

implements: IAggregatorV3

_ANSWER_BITS: constant(uint256) = 192
_ANSWER_MASK: constant(uint256) = 2**192 - 1
_ANSWER_SIGN_BIT: constant(uint256) = 2**191
_MAX_ANSWER: constant(int256) = 2**191 - 1
_MIN_ANSWER: constant(int256) = -(2**191)

decimals: public(immutable(uint8))
description: public(immutable(String[64]))
version: public(constant(uint256)) = 4

admin: public(address)
is_feeder: public(HashMap[address, bool])
latest_round_id: public(uint80)
_rounds: HashMap[uint80, uint256]


event RoundPushed:
    round_id: indexed(uint80)
    answer: int256
    updated_at: uint256
    feeder: indexed(address)


event FeederUpdated:
    feeder: indexed(address)
    enabled: bool


event AdminTransferred:
    previous_admin: indexed(address)
    new_admin: indexed(address)


@deploy
def __init__(decimals_: uint8, description_: String[64], feeder: address):
    """
    @param decimals_ Decimals of the answers (8 for Chainlink USD feeds).
    @param description_ Human-readable pair, e.g. "BTC / USD".
    @param feeder First account allowed to push rounds (the deployer is admin).
    """
    decimals = decimals_
    description = description_
    self.admin = msg.sender
    log AdminTransferred(previous_admin=empty(address), new_admin=msg.sender)
    self._set_feeder(feeder, True)


@external
def push_round(answer: int256, updated_at: uint256) -> uint80:
    """
    @notice Publish a new round. `updated_at` = 0 means "now".
    @return The new round id.
    @param answer The price in the feed's decimals.
    @param updated_at The round's timestamp (0 = now).
    """
    assert self.is_feeder[msg.sender], "Not feeder"
    assert answer <= _MAX_ANSWER and answer >= _MIN_ANSWER, "Answer out of range"
    timestamp: uint256 = updated_at
    if timestamp == 0:
        timestamp = block.timestamp
    assert timestamp <= block.timestamp, "Timestamp in future"
    round_id: uint80 = self.latest_round_id
    if round_id != 0:
        assert timestamp >= self._rounds[round_id] >> _ANSWER_BITS, "Timestamp before last round"
    round_id += 1
    self._rounds[round_id] = (timestamp << _ANSWER_BITS) | (convert(convert(answer, bytes32), uint256) & _ANSWER_MASK)
    self.latest_round_id = round_id
    log RoundPushed(round_id=round_id, answer=answer, updated_at=timestamp, feeder=msg.sender)
    return round_id


@external
def set_feeder(feeder: address, enabled: bool):
    """
    @notice Grant or revoke the feeder role.
    @param feeder The account.
    @param enabled True to grant, False to revoke.
    """
    assert msg.sender == self.admin, "Not admin"
    self._set_feeder(feeder, enabled)


@external
def transfer_admin(new_admin: address):
    """
    @notice Hand the admin role to another account.
    @param new_admin The new admin.
    """
    assert msg.sender == self.admin, "Not admin"
    assert new_admin != empty(address), "Zero address"
    log AdminTransferred(previous_admin=self.admin, new_admin=new_admin)
    self.admin = new_admin


@view
@external
def latestRoundData() -> (uint80, int256, uint256, uint256, uint80):
    """
    @notice (roundId, answer, startedAt, updatedAt, answeredInRound) of the latest round;
            all zero before the first push.
    @return (roundId, answer, startedAt, updatedAt, answeredInRound).
    """
    round_id: uint80 = self.latest_round_id
    answer: int256 = 0
    updated_at: uint256 = 0
    answer, updated_at = self._unpack(self._rounds[round_id])
    return (round_id, answer, updated_at, updated_at, round_id)


@view
@external
def getRoundData(round_id: uint80) -> (uint80, int256, uint256, uint256, uint80):
    """
    @notice Data of a past round; reverts "No data present" for an unknown round.
    @param round_id The round.
    @return (roundId, answer, startedAt, updatedAt, answeredInRound).
    """
    assert round_id != 0 and round_id <= self.latest_round_id, "No data present"
    answer: int256 = 0
    updated_at: uint256 = 0
    answer, updated_at = self._unpack(self._rounds[round_id])
    return (round_id, answer, updated_at, updated_at, round_id)


@view
@external
def latestAnswer() -> int256:
    """
    @notice Legacy Chainlink accessor: the latest answer.
    @return The answer.
    """
    answer: int256 = 0
    updated_at: uint256 = 0
    answer, updated_at = self._unpack(self._rounds[self.latest_round_id])
    return answer


@internal
def _set_feeder(feeder: address, enabled: bool):
    assert feeder != empty(address), "Zero address"
    self.is_feeder[feeder] = enabled
    log FeederUpdated(feeder=feeder, enabled=enabled)


@pure
@internal
def _unpack(word: uint256) -> (int256, uint256):
    low: uint256 = word & _ANSWER_MASK
    answer: int256 = 0
    if low & _ANSWER_SIGN_BIT != 0:
        # sign-extend the 192-bit two's complement value
        answer = convert(convert(low | ~_ANSWER_MASK, bytes32), int256)
    else:
        answer = convert(low, int256)
    return (answer, word >> _ANSWER_BITS)
