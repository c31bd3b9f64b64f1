# pragma version ~=0.4.3
# pragma nonreentrancy on
# pragma experimental-codegen
# pragma optimize codesize
"""
@title Engine
@notice vyperp's perpetual-futures engine: cross-margin accounts, skew-priced
        markets with continuous funding, bracketed and risk-adjusted margin,
        tiered liquidation, an insurance fund and a bad-debt waterfall ending in
        auto-deleveraging. All collateral sits here; the liquidity pool contract
        is the ERC-4626 share ledger over `pool_balance`.
@dev This file holds the entry points (interfaces/IEngine.vyi lists them all) and the
     contracts it is bound to. The configurator's parameter setters (interfaces/IEngineAdmin.vyi)
     are EngineAdmin.vy's code, run on this storage by
     DELEGATECALL from __default__, so that the trading path has room under the EIP-170
     size limit; both files initialize the same modules in the same order. The
     mechanisms are modules compiled into this contract, each holding one responsibility:
         markets             the listed markets' parameters and running state
         ledger              margins, positions, pool balance, insurance fund, token
                             transfers and the bad-debt waterfall
         liquidation_policy  liquidation parameters, tiers, rate limits, cool-downs
         oracle_guard        the guarded oracle read and round acceptance
         funding             funding accrual and settlement, the market touch
         margin_health       requirements, the PnL cap and account health
                             (health_math holds the arithmetic the lens shares)
         fills               how a fill books
         liquidation         the tiered liquidation step
         deleveraging        auto-deleveraging (queue and pro rata)
         pool_valuation      the pool's value and what LPs may withdraw
     Money is 1e18 fixed point inside; the token's decimals are converted at the
     boundary with `PRECISION`. Every value that moves between two ledgers moves
     the same integer on both sides, so
         token.balanceOf(self) * PRECISION == sum(margin) + pool_balance + insurance_fund
     holds to the wei (absent direct donations). Rounding always favours the
     protocol: traders' PnL and funding receipts round down, their payments up.
     Nothing here loops over accounts: an operation touches one account and the
     markets that account holds (at most MAX_MARKETS).

     Conventions: sizes are signed base units (1e18 = one coin); prices are USD
     per coin, 1e18; rates are 1e18 fractions (funding per 8h).
"""

from ethereum.ercs import IERC20Detailed
from interfaces import IAggregatorV3
from interfaces import IEngine
from interfaces import IEngineAdmin
import constants
import engine_types
import fixed_math
import margin_brackets
import deleveraging
import fills
import funding
import ledger
import liquidation
import liquidation_policy
import margin_health
import markets
import oracle_guard
import pool_valuation
import checks

implements: IEngine

initializes: markets
initializes: ledger
initializes: liquidation_policy[markets := markets]
initializes: oracle_guard[markets := markets]
initializes: funding[markets := markets, ledger := ledger, oracle_guard := oracle_guard]
initializes: margin_health[markets := markets, ledger := ledger, oracle_guard := oracle_guard, funding := funding]
initializes: fills[markets := markets, ledger := ledger, margin_health := margin_health]
initializes: liquidation[markets := markets, ledger := ledger, liquidation_policy := liquidation_policy, oracle_guard := oracle_guard, funding := funding, margin_health := margin_health, fills := fills]
initializes: deleveraging[markets := markets, ledger := ledger, funding := funding, margin_health := margin_health, fills := fills]
initializes: pool_valuation[markets := markets, ledger := ledger, liquidation_policy := liquidation_policy, oracle_guard := oracle_guard, funding := funding]

exports: (
    ledger.COLLATERAL,
    ledger.PRECISION,
    ledger.swaps,
    markets.market_count,
    markets.market_config,
    markets.risk_config,
    markets.settlement_price,
    liquidation_policy.liquidation_config,
    liquidation_policy.rate_limit,
    liquidation_policy.last_partial_liquidation,
)

# ------------------------------------------------------------------ storage
# The modules hold the books; the engine holds only who it answers to.

CONFIGURATOR: public(immutable(address))
# EngineAdmin's code (the parameter setters) runs on this storage for every selector not implemented here (__default__)
ADMIN: public(immutable(address))
# dev: EngineAdmin.vy declares the same storage, in the same order (tests/test_engine_admin.py
# compares the two compiled layouts slot by slot)
pool: public(address)                                 # the LiquidityPool (pool_credit / pool_debit)
order_book: public(address)                           # the delayed-order contract (trade_for)

# ------------------------------------------------------------------ events
# Declared once, in interfaces/IEngine.vyi. MarketAdded is never emitted; it stays
# declared here only so that the deployed ABI keeps it (an interface's event reaches a
# contract's ABI only once emitted).

event MarketAdded:
    market: indexed(uint256)
    oracle: address

# ------------------------------------------------------------------ constructor


@deploy
def __init__(collateral: address, configurator: address, admin: address):
    """
    @param collateral The margin token (at most 18 decimals).
    @param configurator The only account that may change parameters (the
           MarketConfigurator contract, which checks roles and validates).
    @param admin The EngineAdmin deployed for this engine: the parameter setters, run here
           by DELEGATECALL. Deployed with the same collateral and configurator (checked:
           its immutables are read in this engine's context).
    @dev Reverts "Token decimals above 18", "Zero address", "Admin of another engine".
    """
    decimals: uint8 = staticcall IERC20Detailed(collateral).decimals()
    assert decimals <= 18, "Token decimals above 18"
    assert configurator != empty(address), "Zero address"
    assert staticcall IEngineAdmin(admin).CONFIGURATOR() == configurator and staticcall IEngineAdmin(admin).COLLATERAL() == collateral, "Admin of another engine"
    ledger.__init__(collateral, 10 ** convert(18 - decimals, uint256))
    CONFIGURATOR = configurator
    ADMIN = admin


@external
@reentrant
@raw_return
def __default__() -> Bytes[32]:
    """
    @notice Every selector not implemented here (interfaces/IEngineAdmin.vyi: the
            configurator's parameter setters) runs EngineAdmin's code
            on this contract's storage and balance, as if it were compiled in: its revert
            reasons, events and return value are this engine's.
    @return EngineAdmin's return data, unchanged (at most one word).
    @dev Reverts as the delegated function does; a selector EngineAdmin does not know
         either reverts without a reason. Not itself non-reentrant: the delegated
         function takes the engine's lock (same transient slot), so nothing is re-entered.
    """
    return raw_call(ADMIN, msg.data, max_outsize=32, is_delegate_call=True)

# ================================================================== accounts


@external
def deposit(amount: uint256):
    """
    @notice Move `amount` collateral tokens (token decimals) into the caller's margin.
    @dev Reverts "Zero amount"; the token's own revert if allowance/balance is short.
    @param amount Tokens (token decimals).
    """
    self._nonzero(amount)
    ledger._pull(amount)
    ledger._add_margin(msg.sender, convert(amount * ledger.PRECISION, int256))
    log IEngine.Deposited(account=msg.sender, amount=amount)


@external
def withdraw(amount: uint256):
    """
    @notice Withdraw `amount` tokens of realized margin. With positions open, equity at
            exit prices must stay at or above both the initial margin and the transfer
            margin (transfer_margin_ratio x notional). A flat account is never held back:
            nothing but its own balance limits it. Funding swaps count as positions here:
            their unsettled losses and requirements hold a withdrawal back.
    @param amount Tokens (token decimals).
    @dev Reverts "Zero amount", "Insufficient margin" (more than the realized
         balance), "Below initial margin", "Below transfer margin", and the oracle
         reasons of every market the account holds.
    """
    self._nonzero(amount)
    internal_amount: int256 = convert(amount * ledger.PRECISION, int256)
    checks._require(ledger._margin(msg.sender) >= internal_amount, "Insufficient margin")
    ledger._add_margin(msg.sender, -internal_amount)
    if ledger._open_markets(msg.sender) != 0:
        health: engine_types.Health = margin_health._health(msg.sender, constants.MAX_MARKETS, 0)
        checks._require(health.equity >= convert(health.initial_margin, int256), "Below initial margin")
        checks._require(health.equity >= convert(health.transfer_margin, int256), "Below transfer margin")
    ledger._push(msg.sender, amount)
    log IEngine.Withdrawn(account=msg.sender, amount=amount)

# ================================================================== trading


@external
def trade(market: uint256, size_delta: int256, acceptable_price: uint256) -> uint256:
    """
    @notice Open, increase, reduce, close or flip the caller's position in `market`
            by `size_delta` (signed base units), filling at the average of the mark
            before and after the trade. Buys revert if the fill is above
            `acceptable_price`, sells if it is below.
    @param market The market id.
    @param size_delta Signed change of the position (base units, 1e18 = one coin).
    @param acceptable_price Slippage bound on the fill price (1e18 USD).
    @return The fill price.
    @dev Reverts "Unknown market", "Zero size", "Market paused" (a paused or settled
         market accepts only reductions), "Delayed orders only" (the market takes
         risk-increasing trades as orders: OrderBook.commit_order), "Slippage",
         "Max open interest" (USD at the index, or the pool-value bound),
         "Below initial margin" (after a risk-increasing trade, equity at exit prices),
         "Account underwater" (a reduction that leaves positions open needs equity >= 0:
         an underwater account can only close everything or be liquidated), and the
         oracle reasons ("Oracle answer not positive", "Oracle stale", "Oracle price jump").
         Closing the last position with negative margin sends the shortfall through
         the bad-debt waterfall (insurance, then pool), as a liquidation would.
    """
    return self._trade(msg.sender, market, size_delta, acceptable_price, False)


@external
def trade_for(account: address, market: uint256, size_delta: int256, acceptable_price: uint256) -> uint256:
    """
    @notice fills.Fill a delayed order for `account`: the order book calls this once the
            order's later oracle round is accepted (see OrderBook.vy).
    @param account The order's owner.
    @param market The market id.
    @param size_delta Signed change of the position (base units).
    @param acceptable_price Slippage bound on the fill price.
    @return The fill price.
    @dev Reverts "Not order book" and every reason of trade.
    """
    checks._require(msg.sender == self.order_book, "Not order book")
    return self._trade(account, market, size_delta, acceptable_price, True)


@external
def close_settled(account: address, market: uint256):
    """
    @notice Close `account`'s position in a settled market at the settlement price (no
            fee, no premium); anyone may call it, so a delisted market can be wound down.
    @param account The position's owner.
    @param market The market id.
    @dev Reverts "Market not settled", "No position".
    """
    checks._require(markets._hot(market, markets.SETTLED) != 0, "Market not settled")
    size: int256 = ledger._size(account, market)
    checks._require(size != 0, "No position")
    acceptable: uint256 = 0
    if size < 0:
        acceptable = max_value(uint256)
    self._trade(account, market, -size, acceptable, True)


@internal
def _trade(account: address, market: uint256, size_delta: int256, acceptable_price: uint256, from_order: bool) -> uint256:
    """
    @dev trade's body, shared with execute_order (which fills a committed order).
    """
    markets._known(market)
    assert size_delta != 0, "Zero size"
    index_price: uint256 = funding._touch_market(market)
    funding._settle_funding(account, market, index_price)
    old_size: int256 = ledger._size(account, market)
    new_size: int256 = old_size + size_delta
    reduces: bool = abs(new_size) < abs(old_size) and (new_size == 0 or (new_size > 0) == (old_size > 0))
    assert reduces or markets._oracle_state[market] & markets.PAUSED == 0, "Market paused"
    assert reduces or from_order or markets._hot(market, markets.DELAYED_ORDERS) == 0, "Delayed orders only"

    fill: fills.Fill = fills._execute(account, market, size_delta, index_price, True)
    assert (fill.price <= acceptable_price) if size_delta > 0 else (fill.price >= acceptable_price), "Slippage"

    # the account's word after the fill (the health check below is a view): read once
    margin: int256 = 0
    mask: uint256 = 0
    margin, mask = ledger._account(account)
    if not reduces:
        long_open_interest: uint256 = 0
        open_interest: uint256 = 0
        long_open_interest, open_interest = markets._open_interests(market)
        if new_size > 0:
            open_interest = long_open_interest
        notional: uint256 = fixed_math._umul_up(open_interest, index_price)
        pool_ratio: uint256 = markets._hot(market, markets.MAX_OPEN_INTEREST_POOL_RATIO)
        # one reason for both caps: USD at the index, and the pool-value bound (0 = off)
        assert notional <= markets._hot(market, markets.MAX_OPEN_INTEREST) and (pool_ratio == 0 or notional <= ledger._pool_share(pool_ratio)), "Max open interest"
        health: engine_types.Health = margin_health._health(account, market, index_price)
        # dev: through checks (code size): nothing after these three checks can revert
        checks._require(health.equity >= convert(health.initial_margin, int256), "Below initial margin")
    elif mask != 0:
        checks._require(margin_health._health(account, market, index_price).equity >= 0, "Account underwater")
    # dev: at rest, no account with positions holds a negative realized margin (proof below)
    checks._require(mask == 0 or margin >= 0, "Negative margin")
    log IEngine.PositionModified(account=account, market=market, size_delta=size_delta, fill_price=fill.price, new_size=new_size, fee=fill.fee, realized_pnl=fill.realized_pnl)
    if mask == 0 and margin < 0:
        # an underwater account closed its last position itself: same waterfall as a liquidation
        ledger._cover_bad_debt(account)
    return fill.price


@external
def poke(market: uint256):
    """
    @notice Accept the latest oracle round and accrue funding for `market`.
            Keepers and the feeder call it so the volatility EWMA sees every round.
    @dev Reverts "Unknown market" and the oracle reasons.
    @param market The market id.
    """
    markets._known(market)
    funding._touch_market(market)

# ================================================================== liquidation


@external
def liquidate(account: address) -> uint256:
    """
    @notice One tiered liquidation step on `account`; the caller earns the keeper reward.
            An account holding funding swaps is liquidated by FundingSwaps.liquidate
            first (its swaps, then, on a shortfall, every perp in the same transaction).
    @return The size closed (absolute, base units).
    @dev Reverts "Account not liquidatable" (also: the account holds swaps), "Liquidation cool-down",
         "Liquidation rate limit" and the oracle reasons.
    @param account The account to liquidate.
    """
    return liquidation._liquidate(account, msg.sender, True)


@external
def liquidate_many(accounts: DynArray[address, constants.MAX_BATCH]) -> uint256:
    """
    @notice Batch entry point for keepers: one step on each liquidatable account;
            healthy accounts, accounts in cool-down and rate-limited markets are skipped.
    @return Number of accounts liquidated.
    @dev Oracle failures still revert the whole batch.
    @param accounts The accounts to try, in order (at most MAX_BATCH).
    """
    liquidated: uint256 = 0
    oracle_guard._start_batch()  # each market's feed read once in the batch (oracle_guard._batch_reads)
    for account: address in accounts:
        if liquidation._liquidate(account, msg.sender, False) > 0:
            liquidated += 1
    oracle_guard._end_batch()
    return liquidated


@external
def auto_deleverage(market: uint256, candidates: DynArray[address, constants.MAX_BATCH]) -> uint256:
    """
    @notice Auto-deleveraging, open in two cases. (1) Deficit: while the pool's value is
            negative the insurance fund covers what it can first; what remains is
            recovered by closing profitable positions in `market` and haircutting their
            profit. (2) PnL-to-pool (GMX v2): while one side's aggregate profit in
            `market` exceeds adl_pnl_pool_ratio x pool balance, its profitable positions
            close (their profit counted under the max-PnL cap), before any bad debt
            exists. Anyone may call it (keepers do).
    @param market The market whose positions are deleveraged.
    @param candidates Accounts, ranked by descending score = unrealized PnL at exit
           price / equity (PnL share times leverage, as exchanges rank ADL).
    @return Number of positions closed.
    @dev The contract verifies order among the profitable candidates and skips one that
         is no longer in profit (the mark moved under it) instead of reverting the
         batch; it does not search all accounts. Stops once the trigger clears.
         Reverts "Unknown market", "ADL not needed", "ADL candidates not ranked",
         and the oracle reasons.
    """
    markets._known(market)
    pool_value: int256 = pool_valuation._pool_value()
    index_price: uint256 = funding._touch_market(market)
    deficit: uint256 = 0
    if pool_value < 0:
        deficit = ledger._deficit_after_insurance(pool_value)
        if deficit == 0:
            return 0
    else:
        self._adl_needed(deleveraging._adl_side(market, index_price) != 0)
    previous_score: int256 = max_value(int256)
    closed: uint256 = 0
    for account: address in candidates:
        if pool_value < 0 and deficit == 0:
            break
        if pool_value >= 0 and deleveraging._adl_side(market, index_price) == 0:
            break
        haircut: uint256 = 0
        score: int256 = 0
        haircut, score = deleveraging._deleverage(account, market, index_price, deficit, previous_score)
        if score > 0:
            previous_score = score
            deficit -= min(haircut, deficit)
            closed += 1
    return closed


@external
def auto_deleverage_pro_rata(market: uint256, candidates: DynArray[address, constants.MAX_BATCH]) -> uint256:
    """
    @notice Pro-rata auto-deleveraging (the risk-aware policy of arXiv 2512.01112): while
            the pool's value is negative, after the insurance fund, every profitable
            position in `market` keeps its size and loses the same fraction of its profit
            at exit price, deficit / the market's aggregate profit (its entry price moves
            toward the exit price; no cash moves), instead of the queue closing the
            top-ranked positions whole. Anyone may call it.
    @param market The market whose profitable positions are haircut.
    @param candidates Accounts holding profitable positions, in any order (one not in
           profit, or already haircut in this call, is skipped).
    @return Number of positions haircut.
    @dev The fraction divides the deficit by the sides' net profit at the mark (a side's
         losers net against its winners), never more than their gross profit, and each cut
         is that fraction of the position's profit at the mark, so the cuts cover the
         deficit, overshooting it by the netting and rounding only. Reverts "Unknown market", "ADL not
         needed", and the oracle reasons.
    """
    markets._known(market)
    pool_value: int256 = pool_valuation._pool_value()
    self._adl_needed(pool_value < 0)
    index_price: uint256 = funding._touch_market(market)
    deficit: uint256 = ledger._deficit_after_insurance(pool_value)
    mark: uint256 = markets._mark(market, index_price)
    profit: uint256 = markets._side_profit(market, mark, True) + markets._side_profit(market, mark, False)
    fraction: uint256 = min(fixed_math._udiv_up(deficit, max(profit, 1)), constants.WAD)
    cut: uint256 = 0
    for account: address in candidates:
        if deficit == 0:
            break
        haircut: uint256 = deleveraging._haircut(account, market, index_price, mark, fraction)
        if haircut > 0:
            deficit -= min(haircut, deficit)
            cut += 1
    return cut

# ================================================================== liquidity pool ledger


@external
def pool_credit(amount: uint256):
    """
    @notice Called by the pool after it moved `amount` tokens of an LP deposit here.
    @dev Reverts "Not pool".
    @param amount Tokens (token decimals) the pool moved here.
    """
    self._only_pool()
    ledger._move_funds(convert(amount * ledger.PRECISION, int256), 0)
    log IEngine.PoolCredited(amount=amount)


@external
def pool_debit(amount: uint256, receiver: address):
    """
    @notice Called by the pool to pay an LP withdrawal of `amount` tokens to `receiver`.
    @dev Reverts "Not pool", "Pool reserve" (the pool must keep
         `pool_reserve_ratio` of open-interest notional and a non-negative balance).
    @param amount Tokens (token decimals) to pay.
    @param receiver Who receives them.
    """
    self._only_pool()
    assert amount <= pool_valuation._pool_withdrawable(), "Pool reserve"  # inline: checks caveat (amount * PRECISION below)
    ledger._move_funds(-convert(amount * ledger.PRECISION, int256), 0)
    ledger._push(receiver, amount)
    log IEngine.PoolDebited(receiver=receiver, amount=amount)


@external
def fund_insurance(amount: uint256):
    """
    @notice Add `amount` tokens to the insurance fund (anyone).
    @dev Reverts "Zero amount".
    @param amount Tokens (token decimals).
    """
    self._nonzero(amount)
    ledger._pull(amount)
    ledger._move_funds(0, convert(amount * ledger.PRECISION, int256))
    log IEngine.InsuranceFunded(sender=msg.sender, amount=amount)

# ================================================================== funding swaps


@external
def swap_transfer(account: address, amount: int256, holds: bool, keeper: address) -> int256:
    """
    @notice FundingSwaps settles here: `amount` moves from the pool's balance to
            `account`'s margin (negative: from the margin to the pool), what the pool
            pays bounded by its cash, and the account's swap flag is set to `holds`.
    @param account The swap holder.
    @param amount Signed 1e18 USD (positive: the holder receives).
    @param holds Whether the account still holds swaps after this call.
    @param keeper Zero for a voluntary operation; the liquidating keeper when
           FundingSwaps.liquidate closed every swap of the account.
    @return What moved (the amount, or less when the pool's cash bounds it).
    @dev Reverts "Not swaps" (any other caller, or none bound) and "Negative margin"
         (a voluntary operation would leave a negative margin beside perps or swaps).
         A negative margin with nothing held goes through the bad-debt waterfall; with
         perps left after a liquidation closed the swaps, every perp closes in this
         transaction (as a bankrupt liquidation), then the waterfall, so no account
         rests with positions and a negative margin.
    """
    checks._require(msg.sender == ledger.swaps, "Not swaps")
    moved: int256 = min(amount, max(ledger._pool(), 0))
    ledger._add_margin(account, moved)
    ledger._move_funds(-moved, 0)
    mask: uint256 = ledger._open_markets(account) % constants.SWAP_FLAG
    if holds:
        mask |= constants.SWAP_FLAG
    ledger._set_open_markets(account, mask)
    if ledger._margin(account) < 0:
        if mask == 0:
            ledger._cover_bad_debt(account)
        else:
            assert keeper != empty(address) and not holds  # dev: "Negative margin", checked first by FundingSwaps
            liquidation._liquidate_bankrupt(account, keeper, 0)
    return moved


@pure
@internal
def _nonzero(amount: uint256):
    assert amount > 0, "Zero amount"


@view
@internal
def _adl_needed(needed: bool):
    checks._require(needed, "ADL not needed")


@view
@internal
def _only_pool():
    checks._require(msg.sender == self.pool, "Not pool")

# ================================================================== views
# Only what the engine itself needs and keepers read in bulk; the front-end views
# (PnL, pending funding, fill price, liquidation price, ...) live in EngineLens.


@view
@external
def position(account: address, market: uint256) -> engine_types.Position:
    """
    @notice The stored position (size, entry price, funding index at last settlement).
    @param account The owner.
    @param market The market id.
    @return The Position (zero if none).
    """
    size: int256 = 0
    entry_price: uint256 = 0
    size, entry_price = ledger._size_entry(account, market)
    return engine_types.Position(size=size, entry_price=entry_price, funding_index=ledger._positions[account][market].funding_index)


@view
@external
def pool_balance() -> int256:
    """
    @notice The liquidity pool's cash balance (LP deposits, fees, traders' realized losses,
            minus their realized profits and LP withdrawals).
    @return The balance (1e18 USD).
    """
    return ledger._pool()


@view
@external
def insurance_fund() -> uint256:
    """
    @notice The insurance fund (fee share, penalties, size-tier surcharges, donations).
    @return The balance (1e18 USD).
    """
    return ledger._insurance()


@view
@external
def margin(account: address) -> int256:
    """
    @notice An account's realized margin (deposits, realized PnL, fees and funding).
    @param account The account.
    @return The margin (1e18 USD; negative only transiently, inside a transaction).
    """
    return ledger._margin(account)


@view
@external
def open_markets(account: address) -> uint256:
    """
    @notice The markets an account holds a position in.
    @param account The account.
    @return The mask (bit m set = a position in market m).
    """
    return ledger._open_markets(account)


@view
@external
def market_state(market: uint256) -> engine_types.MarketState:
    """
    @notice The market's running state (open interest, funding, last accepted round,
            volatility EWMA, risk multiplier, pause flag, liquidation window, aggregates).
    @param market The market id.
    @return The MarketState.
    """
    return markets._market_state_view(market)


@view
@external
def brackets_of(market: uint256) -> DynArray[margin_brackets.MarginBracket, margin_brackets.MAX_BRACKETS]:
    """
    @notice The notional brackets of a market.
    @param market The market id.
    @return The brackets, ascending.
    """
    return markets._brackets[market]


@view
@external
def liquidation_tiers() -> DynArray[engine_types.LiquidationTier, constants.MAX_TIERS]:
    """
    @notice The liquidation tiers, in order of application.
    @return The tiers.
    """
    return liquidation_policy._tiers


@view
@external
@reentrant
def index_price(market: uint256) -> uint256:
    """
    @notice The guarded oracle price (reverts with the oracle reasons).
    @param market The market id.
    @return The index price (1e18 USD).
    """
    return oracle_guard._read_index_price(market, True)[0]


@view
@external
def mark_price(market: uint256) -> uint256:
    """
    @notice index * (1 + skew / skew_scale), premium bounded.
    @param market The market id.
    @return The mark price (1e18 USD).
    """
    return markets._mark(market, oracle_guard._read_index_price(market, True)[0])


@view
@external
def funding_rate_index(market: uint256) -> int256:
    """
    @notice The market's dimensionless cumulative funding rate R (1e18; as of its last touch).
    @param market The market id.
    @return R (only its differences mean anything; 1 wei at listing).
    """
    return markets._rate_index(market)


@view
@external
@reentrant
def funding_now(market: uint256) -> (int256, int256):
    """
    @notice (cumulative funding per unit, funding rate per 8h) as of this block,
            including accrual since the market was last touched.
    @param market The market id.
    @return (cumulative funding per unit, funding rate per 8h).
    """
    cumulative: int256 = 0
    rate: int256 = 0
    rate_increment: int256 = 0
    cumulative, rate, rate_increment = funding._funding_now(market, oracle_guard._read_index_price(market, True)[0])
    return (cumulative, rate)


@view
@external
def account_health(account: address) -> engine_types.Health:
    """
    @notice Equity (margin + PnL at mark - pending funding), initial and maintenance
            requirements, and the position a liquidation would reduce first.
    @param account The account.
    @return The Health struct (1e18 USD amounts).
    """
    return margin_health._health(account, constants.MAX_MARKETS, 0)


@view
@external
def pool_value() -> int256:
    """
    @notice The pool's net value: its balance minus traders' unrealized PnL against it
            plus the funding they owe it (rounded against the pool).
    @return The pool value (1e18 USD; negative = deficit).
    """
    return pool_valuation._pool_value()


@view
@external
def pool_withdrawable() -> uint256:
    """
    @notice Tokens LPs can withdraw now without breaking the pool reserve.
    @return Tokens (token decimals).
    """
    return pool_valuation._pool_withdrawable()

