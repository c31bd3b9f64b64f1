# pragma version ~=0.4.3
"""
@title pool_valuation
@notice What the liquidity pool is worth against the traders: its balance minus their
        aggregate unrealized PnL at mark plus the funding they owe it, from each
        market's O(1) aggregates; and what LPs may withdraw now, above the reserve kept
        against open interest.
@dev Module without storage of its own: it reads the `markets`, `ledger` and
     `liquidation_policy` state it `uses:` and prices through oracle_guard and funding
     (so it reverts with the oracle reasons). Rounded against the pool.
"""

from interfaces import IFundingSwaps
import constants
import fixed_math
import funding
import ledger
import liquidation_policy
import markets
import oracle_guard

uses: markets
uses: ledger
uses: liquidation_policy
uses: oracle_guard
uses: funding


@view
@internal
def _pool_value() -> int256:
    """
    @dev pool_balance - traders' aggregate unrealized PnL at mark + their aggregate
         pending funding, from the O(1) per-market aggregates; rounded against the pool;
         plus the pool side's unrealized PnL on the funding-swap book when one is bound.
    """
    value: int256 = ledger._pool()
    if ledger.swaps != empty(address):
        value += staticcall IFundingSwaps(ledger.swaps).pool_unrealized_total()
    for market: uint256 in range(constants.MAX_MARKETS):
        if market >= markets.market_count:
            break
        skew: int256 = markets._skew(market)
        if markets._open_interest[market] == 0:  # both sides flat
            continue
        index_price: uint256 = oracle_guard._read_index_price(market, True)[0]
        mark: int256 = convert(markets._mark(market, index_price), int256)
        cumulative: int256 = funding._cumulative_now(market, index_price)
        traders_pnl: int256 = fixed_math._ceil_div(skew * mark - markets.market_state[market].sum_size_entry_price, constants.IWAD)
        traders_owe: int256 = fixed_math._floor_div(skew * cumulative - markets.market_state[market].sum_size_funding_index, constants.IWAD)
        value += traders_owe - traders_pnl
    return value


@view
@internal
def _pool_withdrawable() -> uint256:
    """
    @dev min(pool value, pool balance) above the reserve: pool_reserve_ratio of the
         open-interest notional (both sides, at the last accepted prices), in tokens.
    """
    value: int256 = min(self._pool_value(), ledger._pool())
    reserve: uint256 = 0
    reserve_ratio: uint256 = liquidation_policy._pool_reserve_ratio()
    for market: uint256 in range(constants.MAX_MARKETS):
        if market >= markets.market_count:
            break
        long_open_interest: uint256 = 0
        short_open_interest: uint256 = 0
        long_open_interest, short_open_interest = markets._open_interests(market)
        open_interest: uint256 = long_open_interest + short_open_interest
        reserve += fixed_math._umul_up(fixed_math._umul_up(open_interest, markets._last_round(market)[0]), reserve_ratio)
    if value <= convert(reserve, int256):
        return 0
    return (convert(value, uint256) - reserve) // ledger.PRECISION
