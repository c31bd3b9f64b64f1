# pragma version ~=0.4.3
"""
@title EngineLens
@notice Read-only views for front-ends and keepers, kept out of the engine so the
        engine stays under the contract size limit. Every number comes from the
        engine's own state through the same pure modules the engine books with
        (pricing, margin_brackets, health_math), so the lens and the engine cannot
        disagree.
        Funding swaps (FundingSwaps, bound to the engine): the engine's account_health
        already carries an account's swaps (their value at the mark and their
        requirements), so every health view here includes them. An account counts as
        liquidatable (is_liquidatable, liquidatable_accounts, scan_accounts) when it is
        below maintenance with a perp position OR swaps (`holds_swaps`); a swap holder
        is liquidated through FundingSwaps.liquidate (swaps first, then its perps in
        the same transaction), never Engine.liquidate, which refuses it: keepers route
        the candidates by `holds_swaps`. `swap_margin` and `swap_position` serve a
        front end the swaps' side of the health; FundingSwaps' own views (quote,
        mark_rate, held, swaps) give the rest.
@dev All functions are views; they revert with the engine's oracle reasons when a
     market's oracle is stale or jumped, and "Unknown market" for an unlisted market.
"""

from interfaces import IEngine
from interfaces import IFundingSwaps
import constants
import engine_types
import fixed_math
import health_math
import margin_brackets
import pricing

MAX_BATCH: constant(uint256) = 256


ENGINE: public(immutable(IEngine))


@deploy
def __init__(engine: address):
    ENGINE = IEngine(engine)


@view
@external
def unrealized_pnl(account: address, market: uint256) -> int256:
    """
    @notice PnL of the position at its exit price (what closing it now would fill at)
            since it was last realized, before the max-PnL-to-pool cap.
    @param account The position's owner.
    @param market The market id.
    @return The PnL (1e18 USD).
    """
    self._check_market(market)
    position: engine_types.Position = staticcall ENGINE.position(account, market)
    return pricing._pnl(position.size, self._exit_price(market, position.size), position.entry_price)


@view
@external
def pending_funding(account: address, market: uint256) -> int256:
    """
    @notice Funding the position owes since its last settlement, size-tier surcharge
            included (negative = it receives).
    @param account The position's owner.
    @param market The market id.
    @return Funding owed (1e18 USD; negative = received).
    """
    self._check_market(market)
    position: engine_types.Position = staticcall ENGINE.position(account, market)
    config: engine_types.MarketConfig = staticcall ENGINE.market_config(market)
    cumulative: int256 = (staticcall ENGINE.funding_now(market))[0]
    owed: int256 = 0
    surcharge: uint256 = 0
    owed, surcharge = pricing._funding_owed(position.size, cumulative, position.funding_index, staticcall ENGINE.index_price(market), config.size_tier_notional, config.size_tier_multiplier)
    return owed + convert(surcharge, int256)


@view
@external
def funding_rate(market: uint256) -> int256:
    """
    @notice The funding rate per 8h in force now (positive: longs pay shorts).
    @param market The market id.
    @return The rate per 8h (1e18 fraction).
    """
    self._check_market(market)
    return (staticcall ENGINE.funding_now(market))[1]


@view
@external
def fill_price(market: uint256, size_delta: int256) -> uint256:
    """
    @notice The price a trade of `size_delta` would fill at now.
    @param market The market id.
    @param size_delta Signed trade size (base units).
    @return The fill price (1e18 USD).
    """
    self._check_market(market)
    config: engine_types.MarketConfig = staticcall ENGINE.market_config(market)
    return pricing._fill_price(staticcall ENGINE.index_price(market), self._skew(market), size_delta, config.skew_scale, config.max_premium)


@view
@external
def trade_fee(market: uint256, size_delta: int256) -> uint256:
    """
    @notice The fee a trade of `size_delta` would pay now.
    @param market The market id.
    @param size_delta Signed trade size (base units).
    @return The fee (1e18 USD).
    """
    self._check_market(market)
    config: engine_types.MarketConfig = staticcall ENGINE.market_config(market)
    skew: int256 = self._skew(market)
    price: uint256 = pricing._fill_price(staticcall ENGINE.index_price(market), skew, size_delta, config.skew_scale, config.max_premium)
    return pricing._trade_fee(skew, size_delta, price, config.maker_fee, config.taker_fee)


@view
@external
def equity(account: address) -> int256:
    """
    @notice Margin + unrealized PnL at exit prices (under the PnL cap) - pending funding,
            over all positions.
    @param account The account.
    @return Equity (1e18 USD).
    """
    return (staticcall ENGINE.account_health(account)).equity


@view
@external
def free_margin(account: address) -> int256:
    """
    @notice Equity above the initial-margin requirement (negative = over-leveraged).
    @param account The account.
    @return Equity minus the initial requirement (1e18 USD).
    """
    health: engine_types.Health = staticcall ENGINE.account_health(account)
    return health.equity - convert(health.initial_margin, int256)


@view
@external
def margin_requirements(account: address) -> (uint256, uint256):
    """
    @notice (initial, maintenance) requirement of the account's positions.
    @param account The account.
    @return (initial, maintenance) in 1e18 USD.
    """
    health: engine_types.Health = staticcall ENGINE.account_health(account)
    return (health.initial_margin, health.maintenance_margin)


@view
@external
def margin_ratio(account: address) -> uint256:
    """
    @notice Equity / maintenance requirement (1e18 = at maintenance; max_value if no positions).
    @dev health_math._margin_ratio, the ratio the engine picks liquidation tiers with.
    @param account The account.
    @return The ratio (1e18 fraction).
    """
    health: engine_types.Health = staticcall ENGINE.account_health(account)
    if health.maintenance_margin == 0:
        return max_value(uint256)
    return health_math._margin_ratio(health.equity, health.maintenance_margin)


@view
@external
def is_liquidatable(account: address) -> bool:
    """
    @notice Whether equity is below the maintenance requirement (swaps included).
    @dev The engine's account_health, with a perp position or funding swaps held
         (a swap holder is liquidated by FundingSwaps.liquidate, see `holds_swaps`).
    @param account The account.
    @return True if below maintenance with a position or a swap open.
    """
    return self._liquidatable(account, staticcall ENGINE.account_health(account))


@view
@external
def holds_swaps(account: address) -> bool:
    """
    @notice Whether the account holds funding swaps (the engine's SWAP_FLAG): its
            liquidation goes through FundingSwaps.liquidate.
    @param account The account.
    @return True if it holds at least one swap.
    """
    return staticcall ENGINE.open_markets(account) >= constants.SWAP_FLAG


@view
@external
def swap_margin(account: address) -> (int256, uint256, uint256):
    """
    @notice What the account's funding swaps add to its health: their value (pending
            accrual plus early-close loss at the mark) and their initial and
            maintenance requirements; zeros without a FundingSwaps bound.
    @param account The account.
    @return (value 1e18 USD, initial 1e18 USD, maintenance 1e18 USD).
    """
    swaps: address = staticcall ENGINE.swaps()
    if swaps == empty(address):
        return (0, 0, 0)
    return staticcall IFundingSwaps(swaps).account_margin(account)


struct SwapRead:
    floating: int256                 # floating leg received since the last touch
    fixed: int256                    # fixed leg paid since the last touch
    pending: int256                  # floating - fixed: what a settle now moves into the margin
    value: int256                    # pending + early-close loss at the mark (the health's value)
    initial: uint256                 # initial requirement
    maintenance: uint256             # maintenance requirement


@view
@external
def swap_position(account: address, market: uint256, maturity: uint256) -> SwapRead:
    """
    @notice One swap's pending PnL, accrued legs and requirements, as FundingSwaps
            books them (1e18 USD).
    @dev Reverts "No swaps" when no FundingSwaps is bound.
    @param account The holder.
    @param market The engine market id.
    @param maturity The book's maturity.
    @return The SwapRead (all zero for a swap the account does not hold).
    """
    swaps: address = staticcall ENGINE.swaps()
    assert swaps != empty(address), "No swaps"
    result: SwapRead = empty(SwapRead)
    result.floating, result.fixed = staticcall IFundingSwaps(swaps).accrued(account, market, maturity)
    result.pending = result.floating - result.fixed
    result.value = staticcall IFundingSwaps(swaps).swap_value(account, market, maturity)
    result.initial, result.maintenance = staticcall IFundingSwaps(swaps).requirements(account, market, maturity)
    return result


@view
@internal
def _liquidatable(account: address, health: engine_types.Health) -> bool:
    """
    @dev Below maintenance with a perp position, or with swaps (one more read only
         for an account without perps).
    """
    if health.equity >= convert(health.maintenance_margin, int256):
        return False
    return health.position_count > 0 or staticcall ENGINE.open_markets(account) >= constants.SWAP_FLAG


@view
@external
def accounts_health(accounts: DynArray[address, MAX_BATCH]) -> DynArray[engine_types.Health, MAX_BATCH]:
    """
    @notice Health of many accounts in one call (keepers and the simulator).
    @param accounts The accounts (at most MAX_BATCH).
    @return Their Health, in input order.
    """
    result: DynArray[engine_types.Health, MAX_BATCH] = []
    for account: address in accounts:
        result.append(staticcall ENGINE.account_health(account))
    return result


@view
@external
def margin_requirement(market: uint256, notional: uint256) -> (uint256, uint256):
    """
    @notice (initial, maintenance) requirement of a position of `notional` USD in
            `market`, with the market's current risk multiplier.
    @dev health_math._bracket_requirements and _scaled_maintenance, the arithmetic the
         engine's account health uses.
    @param market The market id.
    @param notional Position notional (1e18 USD).
    @return (initial, maintenance) in 1e18 USD.
    """
    self._check_market(market)
    multiplier: uint256 = (staticcall ENGINE.market_state(market)).risk_multiplier
    initial: uint256 = 0
    maintenance: uint256 = 0
    initial, maintenance = health_math._bracket_requirements(staticcall ENGINE.brackets_of(market), notional, multiplier)
    return (initial, health_math._scaled_maintenance(maintenance, multiplier, (staticcall ENGINE.risk_config(market)).apply_to_maintenance))


@view
@external
def maintenance_amount(market: uint256, bracket: uint256) -> uint256:
    """
    @notice Exchange-style maintenance amount of a bracket (before the multiplier).
    @param market The market id.
    @param bracket The bracket index.
    @return The amount (1e18 USD). Reverts "Unknown bracket".
    """
    self._check_market(market)
    brackets: DynArray[margin_brackets.MarginBracket, margin_brackets.MAX_BRACKETS] = staticcall ENGINE.brackets_of(market)
    assert bracket < len(brackets), "Unknown bracket"
    return margin_brackets._maintenance_amount(brackets, bracket)


@view
@external
def liquidation_price(account: address, market: uint256) -> uint256:
    """
    @notice Index price at which the account would reach maintenance, other markets,
            the skew premium and funding held fixed; 0 if no such price exists (a
            long with too little leverage to be liquidated, a flat account).
    @param account The account.
    @param market The market id.
    @dev The position is valued at its exit price e and its requirement at the mark m,
         both proportional to the index: with x = new index / index, solve
         E0 + s e (x - 1) = MM_other + rate_b |s| m x - amount_b in each bracket b and
         keep the solution whose notional lies in that bracket. Profit above the
         PnL cap is ignored (the cap only binds in profit, far from liquidation).
    @return The index price (1e18 USD), or 0.
    """
    self._check_market(market)
    size: int256 = (staticcall ENGINE.position(account, market)).size
    if size == 0:
        return 0
    health: engine_types.Health = staticcall ENGINE.account_health(account)
    mark: int256 = convert(staticcall ENGINE.mark_price(market), int256)
    index: int256 = convert(staticcall ENGINE.index_price(market), int256)
    exit_value: int256 = size * convert(self._exit_price(market, size), int256) // constants.IWAD
    brackets: DynArray[margin_brackets.MarginBracket, margin_brackets.MAX_BRACKETS] = staticcall ENGINE.brackets_of(market)
    multiplier: int256 = constants.IWAD
    if (staticcall ENGINE.risk_config(market)).apply_to_maintenance:
        multiplier = convert((staticcall ENGINE.market_state(market)).risk_multiplier, int256)
    notional_now: int256 = abs(size) * mark // constants.IWAD
    maintenance_here: int256 = convert(fixed_math._umul_up(margin_brackets._requirement(brackets, convert(notional_now, uint256), False), convert(multiplier, uint256)), int256)
    maintenance_other: int256 = convert(health.maintenance_margin, int256) - maintenance_here
    floor_notional: int256 = 0
    for i: uint256 in range(margin_brackets.MAX_BRACKETS):
        if i >= len(brackets):
            break
        rate: int256 = convert(brackets[i].maintenance_margin_rate, int256) * multiplier // constants.IWAD
        amount: int256 = convert(margin_brackets._maintenance_amount(brackets, i), int256) * multiplier // constants.IWAD
        denominator: int256 = exit_value - rate * notional_now // constants.IWAD
        numerator: int256 = maintenance_other - amount - health.equity + exit_value
        ceiling: int256 = max_value(int256)
        if i + 1 < len(brackets):
            ceiling = convert(brackets[i].notional_ceiling, int256)
        # x = numerator / denominator > 0, bounded so that every product below fits
        if denominator != 0 and (numerator > 0) == (denominator > 0) and abs(numerator) // abs(denominator) < 10**30:
            x: int256 = numerator * constants.IWAD // denominator
            target_notional: int256 = notional_now * x // constants.IWAD
            if x > 0 and target_notional >= floor_notional and target_notional <= ceiling:
                return convert(index * x // constants.IWAD, uint256)
        floor_notional = convert(min(brackets[i].notional_ceiling, convert(max_value(int256), uint256)), int256)
    return 0


@view
@internal
def _exit_price(market: uint256, size: int256) -> uint256:
    config: engine_types.MarketConfig = staticcall ENGINE.market_config(market)
    if (staticcall ENGINE.settlement_price(market)) != 0:
        return staticcall ENGINE.index_price(market)
    return pricing._exit_price(staticcall ENGINE.index_price(market), self._skew(market), size, config.skew_scale, config.max_premium)


@view
@internal
def _skew(market: uint256) -> int256:
    state: engine_types.MarketState = staticcall ENGINE.market_state(market)
    return convert(state.long_open_interest, int256) - convert(state.short_open_interest, int256)


@view
@internal
def _check_market(market: uint256):
    assert market < staticcall ENGINE.market_count(), "Unknown market"

# ------------------------------------------------------------------ batched scans
# Added for the cascade replay (vyperp.sim): one call per step gives a keeper the
# accounts below maintenance and the invariant checker the sums it needs, from the
# engine's own account_health (one source of truth for equity and requirements).

MAX_SCAN: constant(uint256) = 1024


struct AccountScan:
    margin_sum: int256               # sum of the accounts' margins (realized balances)
    positive_equity_sum: int256      # sum of max(equity, 0)
    negative_equity_sum: int256      # sum of max(-equity, 0): bad debt not yet realized
    with_positions: uint256          # accounts holding at least one position
    below_maintenance: DynArray[uint256, MAX_SCAN]   # indices (into `accounts`) of liquidatable accounts


@view
@external
def scan_accounts(accounts: DynArray[address, MAX_SCAN]) -> AccountScan:
    """
    @notice Margin and equity sums over `accounts`, and which of them are below
            maintenance (liquidatable), in one call.
    @dev Equity and maintenance are the engine's own account_health (exit prices, the
         PnL cap), so an index is listed iff `is_liquidatable(accounts[index])` and the
         lens cannot disagree with the engine. Reverts with the oracle reasons.
    @param accounts The accounts (at most MAX_SCAN).
    @return The AccountScan.
    """
    result: AccountScan = empty(AccountScan)
    index: uint256 = 0
    for account: address in accounts:
        result.margin_sum += staticcall ENGINE.margin(account)
        health: engine_types.Health = staticcall ENGINE.account_health(account)
        if health.position_count > 0:
            result.with_positions += 1
        if self._liquidatable(account, health):
            result.below_maintenance.append(index)
        if health.equity > 0:
            result.positive_equity_sum += health.equity
        else:
            result.negative_equity_sum -= health.equity
        index += 1
    return result


@view
@external
def margins(accounts: DynArray[address, MAX_SCAN]) -> DynArray[int256, MAX_SCAN]:
    """
    @notice The realized margin of each account (1e18 USD), in input order.
    @param accounts The accounts (at most MAX_SCAN).
    @return Their margins.
    """
    result: DynArray[int256, MAX_SCAN] = []
    for account: address in accounts:
        result.append(staticcall ENGINE.margin(account))
    return result


@view
@external
def positions(accounts: DynArray[address, MAX_SCAN], market: uint256) -> DynArray[engine_types.Position, MAX_SCAN]:
    """
    @notice The stored position of each account in `market`, in input order.
    @param accounts The accounts (at most MAX_SCAN).
    @param market The market id.
    @return Their positions.
    """
    result: DynArray[engine_types.Position, MAX_SCAN] = []
    for account: address in accounts:
        result.append(staticcall ENGINE.position(account, market))
    return result

# ------------------------------------------------------------------ batched step reads
# Added for the cascade replay (vyperp.sim): what the replay reads at every step -- the
# engine's books, each market's state and mark, and the re-read of the accounts its last
# transactions touched -- in one call; and the keepers' confirmation of liquidation
# candidates at the cost of scan_accounts instead of one account_health per account.

MAX_SYNC: constant(uint256) = 256


interface IERC20Balance:
    def balanceOf(owner: address) -> uint256: view


struct MarketRead:
    state: engine_types.MarketState
    mark: uint256
    index: uint256                   # the guarded oracle price now (state.last_price is the last accepted)


struct StepRead:
    token_balance: uint256           # collateral tokens held by the engine
    pool_balance: int256
    pool_value: int256
    insurance_fund: uint256
    markets: DynArray[MarketRead, constants.MAX_MARKETS]
    margins: DynArray[int256, MAX_SYNC]
    positions: DynArray[engine_types.Position, MAX_SYNC]   # accounts[i] in market m at i * market_count + m


struct LiquidationCandidate:
    index: uint256                   # into `accounts`
    equity: int256
    maintenance: uint256


@view
@external
def step_read(accounts: DynArray[address, MAX_SYNC]) -> StepRead:
    """
    @notice The engine's books (its collateral balance, pool balance, pool value,
            insurance fund), every market's state and mark price, and the margin and
            positions of `accounts`, in one call.
    @dev The same values as the engine's getters and this lens's margins / positions:
         `positions` lists every market of accounts[0], then of accounts[1], ...
         Requires len(accounts) * market_count <= MAX_SYNC. Reverts with the oracle
         reasons.
    @param accounts The accounts whose margin and positions to read.
    @return The StepRead.
    """
    count: uint256 = staticcall ENGINE.market_count()
    assert len(accounts) * count <= MAX_SYNC, "Too many positions"
    result: StepRead = empty(StepRead)
    result.token_balance = staticcall IERC20Balance(staticcall ENGINE.COLLATERAL()).balanceOf(ENGINE.address)
    result.pool_balance = staticcall ENGINE.pool_balance()
    result.pool_value = staticcall ENGINE.pool_value()
    result.insurance_fund = staticcall ENGINE.insurance_fund()
    for market: uint256 in range(constants.MAX_MARKETS):
        if market >= count:
            break
        result.markets.append(MarketRead(state=staticcall ENGINE.market_state(market),
                                         mark=staticcall ENGINE.mark_price(market),
                                         index=staticcall ENGINE.index_price(market)))
    for account: address in accounts:
        result.margins.append(staticcall ENGINE.margin(account))
        for market: uint256 in range(constants.MAX_MARKETS):
            if market >= count:
                break
            result.positions.append(staticcall ENGINE.position(account, market))
    return result


@view
@external
def liquidatable_accounts(accounts: DynArray[address, MAX_BATCH]) -> DynArray[LiquidationCandidate, MAX_BATCH]:
    """
    @notice The accounts of `accounts` below maintenance, with their equity and
            maintenance requirement, in input order.
    @dev Listed iff `is_liquidatable` (swap holders included: route them by
         `holds_swaps`), with `account_health`'s equity and maintenance_margin (the
         engine's own numbers).
    @param accounts The accounts (at most MAX_BATCH).
    @return The LiquidationCandidates.
    """
    result: DynArray[LiquidationCandidate, MAX_BATCH] = []
    index: uint256 = 0
    for account: address in accounts:
        health: engine_types.Health = staticcall ENGINE.account_health(account)
        if self._liquidatable(account, health):
            result.append(LiquidationCandidate(index=index, equity=health.equity, maintenance=health.maintenance_margin))
        index += 1
    return result
