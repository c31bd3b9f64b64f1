# pragma version ~=0.4.3
"""
@title margin_health
@notice Margin and health: what a position requires (its brackets times the risk
        multiplier, through health_math, the arithmetic the lens shares), how much of
        a profit counts under the max-PnL-to-pool cap, and an account's health
        (equity and requirements over every market it holds).
@dev Module without storage of its own: it reads the `markets` and `ledger` state it
     `uses:`, prices through oracle_guard and values funding through `funding`.
"""

from interfaces import IFundingSwaps
import constants
import engine_types
import fixed_math
import health_math
import margin_brackets
import pricing
import funding
import ledger
import markets
import oracle_guard

uses: markets
uses: ledger
uses: oracle_guard
uses: funding


@view
@internal
def _profit_counted(market: uint256, pnl: int256, size: int256, index_price: uint256) -> int256:
    """
    @dev `pnl` of a position of `size` under the market's max-PnL-to-pool cap (the
         side's aggregate profit at mark is set against max_pnl_pool_ratio x pool balance).
    """
    ratio: uint256 = markets._hot(market, markets.MAX_PNL_POOL_RATIO)
    if pnl <= 0 or ratio == 0:
        return pnl
    cap: uint256 = ledger._pool_share(ratio)
    return pricing._capped_profit(pnl, markets._side_profit(market, markets._mark(market, index_price), size > 0), cap)


@view
@internal
def _health(account: address, touched_market: uint256, touched_price: uint256) -> engine_types.Health:
    """
    @dev Equity and requirements over every market the account holds, each position
         valued at its exit price (what closing it alone now would fill at) with its
         profit under the max-PnL-to-pool cap and funding at what the pool can pay.
         The touched market (already read and accrued in this call) reuses its price;
         others are read through the guarded oracle path and accrued in memory only.
         `touched_market` = MAX_MARKETS: none touched.
         An account holding funding swaps (SWAP_FLAG) adds their value at the mark rate
         to its equity and their requirements to its own, through one staticcall; an
         account without swaps pays one comparison for it.
    """
    health: engine_types.Health = engine_types.Health(equity=ledger._margin(account), initial_margin=0, maintenance_margin=0, largest_market=0, largest_requirement=0, position_count=0, transfer_margin=0)
    mask: uint256 = ledger._open_markets(account)
    if mask >= constants.SWAP_FLAG:
        swap_value: int256 = 0
        swap_initial: uint256 = 0
        swap_maintenance: uint256 = 0
        swap_value, swap_initial, swap_maintenance = staticcall IFundingSwaps(ledger.swaps).account_margin(account)
        health.equity += swap_value
        health.initial_margin = swap_initial
        health.maintenance_margin = swap_maintenance
    for market: uint256 in range(constants.MAX_MARKETS):
        if mask == 0:
            break
        if mask & 1 == 1:
            price: uint256 = touched_price
            cumulative: int256 = markets._cumulative(market)
            if market != touched_market:
                price = oracle_guard._read_index_price(market, True)[0]
                cumulative = funding._cumulative_now(market, price)
            size: int256 = 0
            entry: uint256 = 0
            size, entry = ledger._size_entry(account, market)
            owed: int256 = 0
            surcharge: uint256 = 0
            owed, surcharge = funding._owed(market, size, cumulative, ledger._positions[account][market].funding_index, price)
            owed = max(owed, -max(ledger._pool(), 0))
            exit_price: uint256 = 0
            mark: uint256 = 0
            exit_price, mark = markets._exit_mark(market, price, size)
            pnl: int256 = pricing._pnl(size, exit_price, entry)
            health.equity += self._profit_counted(market, pnl, size, price) - owed - convert(surcharge, int256)
            notional: uint256 = fixed_math._umul_up(convert(abs(size), uint256), mark)
            initial: uint256 = 0
            maintenance: uint256 = 0
            multiplier: uint256 = constants.WAD
            risk_on: uint256 = 0
            scaled: uint256 = 0
            risk_on, scaled = markets._hot2(market, markets.RISK_MULTIPLIER, markets.SCALED_MAINTENANCE)
            if risk_on != 0:
                # dev: off (max_multiplier = 1e18), the stored multiplier is 1e18: every write bounds it by max_multiplier
                multiplier = markets.market_state[market].risk_multiplier
            single: uint256 = markets._hot_config[market][5]
            if single & (2**64 - 1) != 0:
                # one bracket: the bracket loop's arithmetic on its rates (markets._set_brackets)
                initial = fixed_math._umul_up(fixed_math._umul_up(notional, single & (2**64 - 1)), multiplier)
                maintenance = fixed_math._umul_up(notional, (single >> 128) & (2**64 - 1))
            else:
                initial, maintenance = health_math._bracket_requirements(markets._brackets[market], notional, multiplier)
            maintenance = health_math._scaled_maintenance(maintenance, multiplier, scaled != 0)
            health.initial_margin += initial
            health.maintenance_margin += maintenance
            health.transfer_margin += fixed_math._umul_up(notional, markets._hot(market, markets.TRANSFER_MARGIN_RATIO))
            health.position_count += 1
            if maintenance > health.largest_requirement:
                health.largest_requirement = maintenance
                health.largest_market = market
        mask >>= 1
    return health
