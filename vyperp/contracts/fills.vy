# pragma version ~=0.4.3
"""
@title fills
@notice How a fill books: the skew-adjusted fill price, the maker/taker fee (to the
        pool, its insurance share to the insurance fund), the realized PnL bounded by
        the max-PnL cap and the pool's cash, the new position, the markets' open
        interest and the pool's O(1) aggregates, and the account's open-market mask.
@dev Module without storage of its own: it writes the `markets` and `ledger` state it
     `uses:`. The caller settles the position's funding first.
"""

from interfaces import IEngine
import fixed_math
import pricing
import ledger
import margin_health
import markets

uses: markets
uses: ledger
uses: margin_health


struct Fill:
    price: uint256
    realized_pnl: int256
    fee: uint256


@internal
def _execute(account: address, market: uint256, size_delta: int256, index_price: uint256, charge_fee: bool) -> Fill:
    """
    @dev Fill `size_delta` for a funding-settled position at the skew-adjusted price:
         realize its PnL, charge the fee (pool, and the insurance share), update the
         position, open interest and the pool's aggregates.
    """
    skew: int256 = markets._skew(market)
    fill_price: uint256 = index_price
    fee: uint256 = 0
    if markets._hot(market, markets.SETTLED) == 0:
        skew_scale: uint256 = 0
        max_premium: uint256 = 0
        skew_scale, max_premium = markets._hot2(market, markets.SKEW_SCALE, markets.MAX_PREMIUM)
        fill_price = pricing._fill_price(index_price, skew, size_delta, skew_scale, max_premium)
        if charge_fee:
            maker_fee: uint256 = 0
            taker_fee: uint256 = 0
            maker_fee, taker_fee = markets._hot2(market, markets.MAKER_FEE, markets.TAKER_FEE)
            fee = pricing._trade_fee(skew, size_delta, fill_price, maker_fee, taker_fee)
    old_size: int256 = 0
    old_entry: uint256 = 0
    old_size, old_entry = ledger._size_entry(account, market)
    # the old position's PnL at the fill price, and the most of it that may be paid
    pnl: int256 = pricing._pnl(old_size, fill_price, old_entry)
    paid: int256 = self._payable_profit(market, old_size, pnl, index_price)
    self._rebase_position(account, market, old_size, old_entry, size_delta, fill_price)
    if paid < pnl:
        log IEngine.ProfitHaircut(account=account, market=market, profit=pnl, paid=paid)
        pnl = paid
    ledger._add_margin(account, pnl - convert(fee, int256))
    to_insurance: uint256 = 0
    if fee > 0:
        to_insurance = fixed_math._umul_down(fee, markets._hot(market, markets.INSURANCE_FEE_SHARE))
    ledger._move_funds(convert(fee - to_insurance, int256) - pnl, convert(to_insurance, int256))
    return Fill(price=fill_price, realized_pnl=pnl, fee=fee)


@view
@internal
def _payable_profit(market: uint256, size: int256, profit: int256, index_price: uint256) -> int256:
    """
    @dev The most a fill of the whole position at `fill_price` may realize: its profit
         under the max-PnL cap (the side's profit before this fill), then within the
         pool's cash, so a close never takes the pool's balance below zero.
    """
    if profit <= 0:
        return profit
    return min(margin_health._profit_counted(market, profit, size, index_price), max(ledger._pool(), 0))


@internal
def _rebase_position(account: address, market: uint256, old_size: int256, old_entry: uint256, size_delta: int256, price: uint256):
    """
    @dev Realize the old position's PnL at `price` and set size += delta, entry = price.
         Keeps open interest, the pool aggregates and the open-market mask exact.
    """
    new_size: int256 = old_size + size_delta
    cumulative: int256 = markets._cumulative(market)

    self._move_entry_aggregates(market, old_size, old_entry, new_size, price)
    markets.market_state[market].sum_size_funding_index += size_delta * cumulative
    long_open_interest: uint256 = 0
    short_open_interest: uint256 = 0
    long_open_interest, short_open_interest = markets._open_interests(market)
    if old_size > 0:
        long_open_interest -= convert(old_size, uint256)
    elif old_size < 0:
        short_open_interest -= convert(-old_size, uint256)
    if new_size > 0:
        long_open_interest += convert(new_size, uint256)
    elif new_size < 0:
        short_open_interest += convert(-new_size, uint256)
    markets._set_open_interests(market, long_open_interest, short_open_interest)

    if new_size == 0:
        ledger._positions[account][market] = empty(ledger.StoredPosition)
        ledger._set_open_markets(account, ledger._open_markets(account) & ~(1 << market))
    else:
        ledger._set_size_entry(account, market, new_size, price)
        ledger._positions[account][market].funding_index = cumulative
        if old_size == 0:
            ledger._set_open_markets(account, ledger._open_markets(account) | 1 << market)


@internal
def _move_entry_aggregates(market: uint256, old_size: int256, old_entry: uint256, new_size: int256, price: uint256):
    """
    @dev sum of size x entry over all positions, and over the longs alone.
    """
    old_value: int256 = old_size * convert(old_entry, int256)
    new_value: int256 = new_size * convert(price, int256)
    markets.market_state[market].sum_size_entry_price += new_value - old_value
    if old_size > 0 or new_size > 0:
        markets.market_state[market].long_sum_size_entry_price += max(new_value, 0) - max(old_value, 0)
