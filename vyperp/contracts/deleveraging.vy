# pragma version ~=0.4.3
"""
@title deleveraging
@notice Auto-deleveraging, the waterfall's last step: when each side's profit is
        set against the pool (the PnL-to-pool trigger) and the two ways a deficit left
        after the insurance fund is recovered from profitable positions: the ranked
        queue closes them at their exit price and haircuts their profit, the pro-rata
        policy cuts the same fraction of every profit without closing.
@dev Module without storage of its own: it writes the `ledger` and `markets` state it
     `uses:`, settles funding through `funding`, values accounts through `margin_health` and
     fills through `fills`. Reason: "ADL candidates not ranked".
"""

from interfaces import IEngine
import constants
import fixed_math
import pricing
import fills
import funding
import ledger
import margin_health
import markets
import checks

uses: markets
uses: ledger
uses: funding
uses: margin_health
uses: fills


@view
@internal
def _adl_side(market: uint256, index_price: uint256) -> int256:
    """
    @dev +1 (longs) or -1 (shorts) if that side's aggregate profit at mark exceeds
         adl_pnl_pool_ratio x pool balance; 0 if neither does or the trigger is off.
    """
    ratio: uint256 = markets.market_config[market].adl_pnl_pool_ratio
    if ratio == 0:
        return 0
    trigger: uint256 = ledger._pool_share(ratio)
    mark: uint256 = markets._mark(market, index_price)
    if markets._side_profit(market, mark, True) > trigger:
        return 1
    if markets._side_profit(market, mark, False) > trigger:
        return -1
    return 0


@internal
def _haircut(account: address, market: uint256, index_price: uint256, mark: uint256, fraction: uint256) -> uint256:
    """
    @dev Cut `fraction` of a profitable position's profit at the mark (what the pool's
         value counts against it), at most its whole profit at exit price, without
         closing it or moving cash: its entry price moves toward the price, so the pool's
         liability falls by the haircut and the position keeps its size and the rest of
         its profit (unrealized). Rounded against the trader.
    @return The haircut (0: skipped, not in profit at its exit price).
    """
    size: int256 = 0
    entry: uint256 = 0
    size, entry = ledger._size_entry(account, market)
    if size == 0:
        return 0
    exit_price: uint256 = markets._exit_mark(market, index_price, size)[0]
    profit: int256 = pricing._pnl(size, exit_price, entry)
    if profit <= 0:
        return 0
    magnitude: uint256 = convert(abs(size), uint256)
    cut: uint256 = min(fixed_math._umul_up(convert(pricing._pnl(size, mark, entry), uint256), fraction), convert(profit, uint256))
    step: uint256 = fixed_math._udiv_up(cut, magnitude)
    new_entry: uint256 = entry + step
    if size < 0:
        new_entry = entry - min(step, entry)
    fills._move_entry_aggregates(market, size, entry, size, new_entry)
    ledger._set_size_entry(account, market, size, new_entry)
    haircut: uint256 = convert(profit - max(pricing._pnl(size, exit_price, new_entry), 0), uint256)
    log IEngine.AutoDeleveraged(account=account, market=market, size_closed=0, price=exit_price, realized_pnl=profit, haircut=haircut)
    return haircut


@internal
def _deleverage(account: address, market: uint256, index_price: uint256, deficit: uint256, previous_score: int256) -> (uint256, int256):
    """
    @dev Verify one ADL candidate and close it at its exit price. Its haircut is the
         profit the PnL cap and the pool's cash withheld, plus, in deficit mode, up to
         the rest of the deficit from the profit it was paid, never below a zero margin.
    @return (haircut, the candidate's score; 0 = skipped, not in profit).
    """
    position_size: int256 = ledger._size(account, market)
    if position_size == 0:
        return (0, 0)
    funding._settle_funding(account, market, index_price)
    exit_price: uint256 = markets._exit_mark(market, index_price, position_size)[0]
    pnl: int256 = pricing._pnl(position_size, exit_price, ledger._size_entry(account, market)[1])
    if pnl <= 0:
        return (0, 0)
    score: int256 = max(pnl * constants.IWAD // max(margin_health._health(account, market, index_price).equity, 1), 1)
    checks._require(score <= previous_score, "ADL candidates not ranked")
    fill: fills.Fill = fills._execute(account, market, -position_size, index_price, False)
    # what the PnL cap and the pool's cash withheld already counts as haircut
    haircut: uint256 = convert(pnl - fill.realized_pnl, uint256)
    taken: uint256 = 0
    if deficit > haircut and fill.realized_pnl > 0:
        taken = min(min(convert(fill.realized_pnl, uint256), deficit - haircut), ledger._margin_cash(account))
    ledger._add_margin(account, -convert(taken, int256))
    ledger._move_funds(convert(taken, int256), 0)
    haircut += taken
    log IEngine.AutoDeleveraged(account=account, market=market, size_closed=position_size, price=fill.price, realized_pnl=pnl, haircut=haircut)
    ledger._cover_if_flat(account)
    return (haircut, score)
