# pragma version ~=0.4.3
"""
@title oracle_guard
@notice The one guarded path to the markets' price feeds: a read rejects stale rounds,
        non-positive answers and (bounded reads) jumps beyond max_price_jump from the
        last accepted price; a settled market reads its settlement price instead. A new
        round, once accepted, becomes the market's last price and feeds its volatility
        EWMA.
@dev Module with one transient word of its own (a keeper batch's reads, below); it
     reads and writes the `markets` state it `uses:`. Reasons: "Oracle answer not
     positive", "Oracle stale", "Oracle price jump".
"""

from snekmate.utils import math
from interfaces import IAggregatorV3
from interfaces import IEngine
import constants
import markets

uses: markets

# A keeper batch (Engine.liquidate_many) reads each market's feed once: bit BATCH = a batch
# is running, bit m = market m touched in it (liquidation._liquidate notes the market it
# touched). The batch's later liquidations value and touch that market at its accepted
# round instead of reading the feed and touching again: exact, because inside the batch the
# engine makes no state-changing external call, so the feed's latest round, its staleness
# verdict at this block's time and the jump check (skipped for the accepted round) cannot
# change, and a second touch in the same block accrues nothing and accepts nothing. Zero
# outside a batch (the batch clears it): a trade or a single liquidation never reads it.
_batch_reads: transient(uint256)
BATCH: constant(uint256) = 1 << 255


@internal
def _start_batch():
    self._batch_reads = BATCH


@internal
def _end_batch():
    self._batch_reads = 0


@internal
def _note_accepted(market: uint256):
    """
    @dev Inside a batch, market's latest round is now its accepted one.
    """
    reads: uint256 = self._batch_reads
    if reads >= BATCH:
        self._batch_reads = reads | 1 << market


@view
@internal
def _read_index_price(market: uint256, bounded: bool) -> (uint256, uint80):
    """
    @dev The one guarded path to the oracle: stale rounds, non-positive answers and
         (if `bounded`) jumps beyond max_price_jump from the last accepted price revert.
    """
    if markets._hot(market, markets.SETTLED) != 0:
        # settled: last_price is the settlement price (settle_market wrote both, and no round is accepted after)
        return markets._last_round(market)
    round_id: uint80 = 0
    answer: int256 = 0
    started_at: uint256 = 0
    updated_at: uint256 = 0
    answered_in: uint80 = 0
    oracle: uint256 = 0
    price_scale: uint256 = 0
    oracle, price_scale = markets._hot2(market, markets.ORACLE, markets.PRICE_SCALE)
    round_id, answer, started_at, updated_at, answered_in = staticcall IAggregatorV3(convert(convert(oracle, uint160), address)).latestRoundData()
    assert answer > 0, "Oracle answer not positive"
    assert updated_at + markets._hot(market, markets.MAX_ORACLE_AGE) >= block.timestamp, "Oracle stale"
    price: uint256 = convert(answer, uint256) * price_scale
    last_price: uint256 = 0
    last_round_id: uint80 = 0
    last_price, last_round_id = markets._last_round(market)
    if bounded and round_id != last_round_id:
        move: uint256 = price - last_price if price > last_price else last_price - price
        assert move * constants.WAD <= last_price * markets._hot(market, markets.MAX_PRICE_JUMP), "Oracle price jump"
    return (price, round_id)


@internal
def _reanchor(market: uint256):
    """
    @dev Accept the latest round as the market's anchor (listing): no jump bound, no EWMA.
    """
    price: uint256 = 0
    round_id: uint80 = 0
    price, round_id = self._read_index_price(market, False)
    markets._set_last_round(market, price, round_id)
    log IEngine.OraclePriceAccepted(market=market, round_id=round_id, price=price, variance_ema=0)


@internal
def _accept_round(market: uint256, price: uint256, round_id: uint80) -> bool:
    """
    @dev A new oracle round updates the EWMA of squared log-returns.
    """
    last_price: uint256 = 0
    last_round_id: uint80 = 0
    last_price, last_round_id = markets._last_round(market)
    if round_id == last_round_id:
        return False
    variance: uint256 = markets._variance(market)
    weight: uint256 = markets._hot(market, markets.VARIANCE_EWMA_WEIGHT)
    if weight > 0 and last_price > 0:
        log_return: int256 = math._wad_ln(convert(price * constants.WAD // last_price, int256))
        variance = (variance * (constants.WAD - weight) + convert(log_return * log_return // constants.IWAD, uint256) * weight) // constants.WAD
        markets._set_variance(market, variance)
    markets._set_last_round(market, price, round_id)
    log IEngine.OraclePriceAccepted(market=market, round_id=round_id, price=price, variance_ema=variance)
    return True
