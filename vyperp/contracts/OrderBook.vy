# pragma version ~=0.4.3
# pragma nonreentrancy on
"""
@title OrderBook
@notice Delayed orders: the defence against trading ahead of a known oracle round
        (GMX v1's AVAX incident). A trader commits an order; it fills only at an oracle
        round the engine accepted after the commit, when anyone (a keeper) executes it,
        so nobody can open at a price the next round is known to move. Markets with
        `delayed_orders` set take risk-increasing trades only this way; reductions stay
        immediate so a trader can always cut risk.
@dev One order per account and market; a new commit replaces the old. An order never
     fills at a price older than its commit, so cancelling or letting it expire gives no
     edge. Failure modes: "Unknown market", "Zero size", "Market paused", "No order",
     "Order waits for a new round", and every reason of Engine.trade at execution.
"""

from interfaces import IEngine
import engine_types


ENGINE: public(immutable(IEngine))

pending_order: public(HashMap[address, HashMap[uint256, engine_types.Order]])

event OrderCommitted:
    account: indexed(address)
    market: indexed(uint256)
    size_delta: int256
    acceptable_price: uint256
    round_id: uint80
    expiry: uint256

event OrderCleared:
    account: indexed(address)
    market: indexed(uint256)
    executed: bool                   # false: cancelled by its owner or expired
    fill_price: uint256


@deploy
def __init__(engine: address):
    """
    @param engine The Engine whose trade_for this book calls.
    """
    ENGINE = IEngine(engine)


@external
def commit_order(market: uint256, size_delta: int256, acceptable_price: uint256):
    """
    @notice Commit an order that fills at a later oracle round.
    @param market The market id.
    @param size_delta Signed change of the position (base units, 1e18 = one coin).
    @param acceptable_price Slippage bound on the eventual fill (buys at most, sells at least).
    @dev Reverts "Unknown market", "Zero size", "Market paused", and the oracle reasons
         (the commit accepts the latest round, so only a later one can fill it).
    """
    assert market < staticcall ENGINE.market_count(), "Unknown market"
    assert size_delta != 0, "Zero size"
    extcall ENGINE.poke(market)
    state: engine_types.MarketState = staticcall ENGINE.market_state(market)
    assert not state.paused, "Market paused"
    expiry: uint256 = block.timestamp + (staticcall ENGINE.market_config(market)).order_ttl
    self.pending_order[msg.sender][market] = engine_types.Order(size_delta=size_delta, acceptable_price=acceptable_price, round_id=state.last_round_id, expiry=expiry)
    log OrderCommitted(account=msg.sender, market=market, size_delta=size_delta, acceptable_price=acceptable_price, round_id=state.last_round_id, expiry=expiry)


@external
def execute_order(account: address, market: uint256) -> uint256:
    """
    @notice Fill `account`'s order in `market` at the current oracle round, or clear it
            if it expired.
    @param account The order's owner.
    @param market The market id.
    @return The fill price (0 if the order had expired and was cleared).
    @dev Reverts "No order", "Order waits for a new round", and every reason of trade
         (the order then stays until it fills, is cancelled or expires).
    """
    order: engine_types.Order = self.pending_order[account][market]
    assert order.size_delta != 0, "No order"
    self.pending_order[account][market] = empty(engine_types.Order)
    if block.timestamp > order.expiry:
        log OrderCleared(account=account, market=market, executed=False, fill_price=0)
        return 0
    extcall ENGINE.poke(market)
    assert (staticcall ENGINE.market_state(market)).last_round_id != order.round_id, "Order waits for a new round"
    price: uint256 = extcall ENGINE.trade_for(account, market, order.size_delta, order.acceptable_price)
    log OrderCleared(account=account, market=market, executed=True, fill_price=price)
    return price


@external
def cancel_order(market: uint256):
    """
    @notice Cancel the caller's order in `market`.
    @param market The market id.
    @dev Reverts "No order".
    """
    assert self.pending_order[msg.sender][market].size_delta != 0, "No order"
    self.pending_order[msg.sender][market] = empty(engine_types.Order)
    log OrderCleared(account=msg.sender, market=market, executed=False, fill_price=0)
