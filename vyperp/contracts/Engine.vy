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
@dev Money is 1e18 fixed point inside; the token's decimals are converted at the
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

from ethereum.ercs import IERC20
from ethereum.ercs import IERC20Detailed
from snekmate.utils import math
from interfaces import IAggregatorV3
from interfaces import IEngine
import constants
import fixed_math
import funding_models
import margin_brackets
import pricing
import engine_types

implements: IEngine

# ------------------------------------------------------------------ constants

# WAD, IWAD and the bounds MAX_MARKETS, MAX_TIERS, MAX_BATCH: constants.vy

# ------------------------------------------------------------------ structs

struct Fill:
    price: uint256
    realized_pnl: int256
    fee: uint256

# ------------------------------------------------------------------ storage

COLLATERAL: public(immutable(address))
PRECISION: public(immutable(uint256))
CONFIGURATOR: public(immutable(address))

pool: public(address)
market_count: public(uint256)
market_config: public(HashMap[uint256, engine_types.MarketConfig])
market_state: public(HashMap[uint256, engine_types.MarketState])
risk_config: public(HashMap[uint256, engine_types.RiskConfig])
rate_limit: public(HashMap[uint256, engine_types.RateLimit])
_brackets: HashMap[uint256, DynArray[margin_brackets.MarginBracket, margin_brackets.MAX_BRACKETS]]
_price_scale: HashMap[uint256, uint256]
liquidation_config: public(engine_types.LiquidationConfig)
_tiers: DynArray[engine_types.LiquidationTier, constants.MAX_TIERS]

margin: public(HashMap[address, int256])
_positions: HashMap[address, HashMap[uint256, engine_types.Position]]
open_markets: public(HashMap[address, uint256])
last_partial_liquidation: public(HashMap[address, uint256])

pool_balance: public(int256)
insurance_fund: public(uint256)

settlement_price: public(HashMap[uint256, uint256])   # 0 = trading; else the guardian's settlement price
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
def __init__(collateral: address, configurator: address):
    """
    @param collateral The margin token (at most 18 decimals).
    @param configurator The only account that may change parameters (the
           MarketConfigurator contract, which checks roles and validates).
    """
    decimals: uint8 = staticcall IERC20Detailed(collateral).decimals()
    assert decimals <= 18, "Token decimals above 18"
    assert configurator != empty(address), "Zero address"
    COLLATERAL = collateral
    PRECISION = 10 ** convert(18 - decimals, uint256)
    CONFIGURATOR = configurator

# ================================================================== accounts


@external
def deposit(amount: uint256):
    """
    @notice Move `amount` collateral tokens (token decimals) into the caller's margin.
    @dev Reverts "Zero amount"; the token's own revert if allowance/balance is short.
    """
    assert amount > 0, "Zero amount"
    self._pull(amount)
    self.margin[msg.sender] += convert(amount * PRECISION, int256)
    log IEngine.Deposited(account=msg.sender, amount=amount)


@external
def withdraw(amount: uint256):
    """
    @notice Withdraw `amount` tokens of realized margin. With positions open, equity at
            exit prices must stay at or above both the initial margin and the transfer
            margin (transfer_margin_ratio x notional). A flat account is never held back:
            nothing but its own balance limits it.
    @param amount Tokens (token decimals).
    @dev Reverts "Zero amount", "Insufficient margin" (more than the realized
         balance), "Below initial margin", "Below transfer margin", and the oracle
         reasons of every market the account holds.
    """
    assert amount > 0, "Zero amount"
    internal_amount: int256 = convert(amount * PRECISION, int256)
    assert self.margin[msg.sender] >= internal_amount, "Insufficient margin"
    self.margin[msg.sender] -= internal_amount
    if self.open_markets[msg.sender] != 0:
        health: engine_types.Health = self._health(msg.sender, constants.MAX_MARKETS, 0)
        assert health.equity >= convert(health.initial_margin, int256), "Below initial margin"
        assert health.equity >= convert(health.transfer_margin, int256), "Below transfer margin"
    self._push(msg.sender, amount)
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
    @notice Fill a delayed order for `account`: the order book calls this once the
            order's later oracle round is accepted (see OrderBook.vy).
    @param account The order's owner.
    @param market The market id.
    @param size_delta Signed change of the position (base units).
    @param acceptable_price Slippage bound on the fill price.
    @return The fill price.
    @dev Reverts "Not order book" and every reason of trade.
    """
    assert msg.sender == self.order_book, "Not order book"
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
    assert self.settlement_price[market] != 0, "Market not settled"
    size: int256 = self._positions[account][market].size
    assert size != 0, "No position"
    acceptable: uint256 = 0
    if size < 0:
        acceptable = max_value(uint256)
    self._trade(account, market, -size, acceptable, True)


@internal
def _trade(account: address, market: uint256, size_delta: int256, acceptable_price: uint256, from_order: bool) -> uint256:
    """
    @dev trade's body, shared with execute_order (which fills a committed order).
    """
    self._known(market)
    assert size_delta != 0, "Zero size"
    index_price: uint256 = self._touch_market(market)
    self._settle_funding(account, market, index_price)
    old_size: int256 = self._positions[account][market].size
    new_size: int256 = old_size + size_delta
    reduces: bool = abs(new_size) < abs(old_size) and (new_size == 0 or (new_size > 0) == (old_size > 0))
    assert reduces or not self.market_state[market].paused, "Market paused"
    # dev: single fields, never the whole MarketConfig (23 cold slots)
    assert reduces or from_order or not self.market_config[market].delayed_orders, "Delayed orders only"

    fill: Fill = self._execute(account, market, size_delta, index_price, True)
    if size_delta > 0:
        assert fill.price <= acceptable_price, "Slippage"
    else:
        assert fill.price >= acceptable_price, "Slippage"

    if not reduces:
        open_interest: uint256 = self.market_state[market].short_open_interest
        if new_size > 0:
            open_interest = self.market_state[market].long_open_interest
        notional: uint256 = fixed_math._umul_up(open_interest, index_price)
        assert notional <= self.market_config[market].max_open_interest, "Max open interest"
        pool_ratio: uint256 = self.market_config[market].max_open_interest_pool_ratio
        if pool_ratio > 0:
            assert notional <= fixed_math._umul_down(convert(max(self.pool_balance, 0), uint256), pool_ratio), "Max open interest"
        health: engine_types.Health = self._health(account, market, index_price)
        assert health.equity >= convert(health.initial_margin, int256), "Below initial margin"
    elif self.open_markets[account] != 0:
        assert self._health(account, market, index_price).equity >= 0, "Account underwater"
    # dev: at rest, no account with positions holds a negative realized margin (proof below)
    assert self.open_markets[account] == 0 or self.margin[account] >= 0, "Negative margin"
    log IEngine.PositionModified(account=account, market=market, size_delta=size_delta, fill_price=fill.price, new_size=new_size, fee=fill.fee, realized_pnl=fill.realized_pnl)
    if self.open_markets[account] == 0 and self.margin[account] < 0:
        # an underwater account closed its last position itself: same waterfall as a liquidation
        self._cover_bad_debt(account)
    return fill.price


@external
def poke(market: uint256):
    """
    @notice Accept the latest oracle round and accrue funding for `market`.
            Keepers and the feeder call it so the volatility EWMA sees every round.
    @dev Reverts "Unknown market" and the oracle reasons.
    """
    self._known(market)
    self._touch_market(market)

# ================================================================== liquidation


@external
def liquidate(account: address) -> uint256:
    """
    @notice One tiered liquidation step on `account`; the caller earns the keeper reward.
    @return The size closed (absolute, base units).
    @dev Reverts "Account not liquidatable", "Liquidation cool-down",
         "Liquidation rate limit" and the oracle reasons.
    """
    return self._liquidate(account, msg.sender, True)


@external
def liquidate_many(accounts: DynArray[address, constants.MAX_BATCH]) -> uint256:
    """
    @notice Batch entry point for keepers: one step on each liquidatable account;
            healthy accounts, accounts in cool-down and rate-limited markets are skipped.
    @return Number of accounts liquidated.
    @dev Oracle failures still revert the whole batch.
    """
    liquidated: uint256 = 0
    for account: address in accounts:
        if self._liquidate(account, msg.sender, False) > 0:
            liquidated += 1
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
    self._known(market)
    pool_value: int256 = self._pool_value()
    index_price: uint256 = self._touch_market(market)
    deficit: uint256 = 0
    if pool_value < 0:
        deficit = self._deficit_after_insurance(pool_value)
        if deficit == 0:
            return 0
    else:
        assert self._adl_side(market, index_price) != 0, "ADL not needed"
    previous_score: int256 = max_value(int256)
    closed: uint256 = 0
    for account: address in candidates:
        if pool_value < 0 and deficit == 0:
            break
        if pool_value >= 0 and self._adl_side(market, index_price) == 0:
            break
        haircut: uint256 = 0
        score: int256 = 0
        haircut, score = self._deleverage(account, market, index_price, deficit, previous_score)
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
    self._known(market)
    pool_value: int256 = self._pool_value()
    assert pool_value < 0, "ADL not needed"
    index_price: uint256 = self._touch_market(market)
    deficit: uint256 = self._deficit_after_insurance(pool_value)
    mark: uint256 = self._mark(market, index_price)
    profit: uint256 = self._side_profit(market, mark, True) + self._side_profit(market, mark, False)
    fraction: uint256 = min(fixed_math._udiv_up(deficit, max(profit, 1)), constants.WAD)
    cut: uint256 = 0
    for account: address in candidates:
        if deficit == 0:
            break
        haircut: uint256 = self._haircut(account, market, index_price, mark, fraction)
        if haircut > 0:
            deficit -= min(haircut, deficit)
            cut += 1
    return cut


@internal
def _deficit_after_insurance(pool_value: int256) -> uint256:
    """
    @dev The insurance fund covers what it can of a negative pool value first.
    @return The deficit left.
    """
    deficit: uint256 = convert(-pool_value, uint256)
    from_insurance: uint256 = min(deficit, self.insurance_fund)
    if from_insurance > 0:
        self.insurance_fund -= from_insurance
        self.pool_balance += convert(from_insurance, int256)
        deficit -= from_insurance
        log IEngine.DeficitCoveredByInsurance(amount=from_insurance, remaining_deficit=deficit)
    return deficit


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
    size: int256 = self._positions[account][market].size
    if size == 0:
        return 0
    entry: uint256 = self._positions[account][market].entry_price
    exit_price: uint256 = self._exit(market, index_price, size)
    profit: int256 = pricing._pnl(size, exit_price, entry)
    if profit <= 0:
        return 0
    magnitude: uint256 = convert(abs(size), uint256)
    cut: uint256 = min(fixed_math._umul_up(convert(pricing._pnl(size, mark, entry), uint256), fraction), convert(profit, uint256))
    step: uint256 = fixed_math._udiv_up(cut, magnitude)
    new_entry: uint256 = entry + step
    if size < 0:
        new_entry = entry - min(step, entry)
    self._move_entry_aggregates(market, size, entry, size, new_entry)
    self._positions[account][market].entry_price = new_entry
    haircut: uint256 = convert(profit - max(pricing._pnl(size, exit_price, new_entry), 0), uint256)
    log IEngine.AutoDeleveraged(account=account, market=market, size_closed=0, price=exit_price, realized_pnl=profit, haircut=haircut)
    return haircut


@view
@internal
def _adl_side(market: uint256, index_price: uint256) -> int256:
    """
    @dev +1 (longs) or -1 (shorts) if that side's aggregate profit at mark exceeds
         adl_pnl_pool_ratio x pool balance; 0 if neither does or the trigger is off.
    """
    ratio: uint256 = self.market_config[market].adl_pnl_pool_ratio
    if ratio == 0:
        return 0
    trigger: uint256 = fixed_math._umul_down(convert(max(self.pool_balance, 0), uint256), ratio)
    mark: uint256 = self._mark(market, index_price)
    if self._side_profit(market, mark, True) > trigger:
        return 1
    if self._side_profit(market, mark, False) > trigger:
        return -1
    return 0


@internal
def _deleverage(account: address, market: uint256, index_price: uint256, deficit: uint256, previous_score: int256) -> (uint256, int256):
    """
    @dev Verify one ADL candidate and close it at its exit price. Its haircut is the
         profit the PnL cap and the pool's cash withheld, plus, in deficit mode, up to
         the rest of the deficit from the profit it was paid, never below a zero margin.
    @return (haircut, the candidate's score; 0 = skipped, not in profit).
    """
    position_size: int256 = self._positions[account][market].size
    if position_size == 0:
        return (0, 0)
    self._settle_funding(account, market, index_price)
    exit_price: uint256 = self._exit(market, index_price, position_size)
    pnl: int256 = pricing._pnl(position_size, exit_price, self._positions[account][market].entry_price)
    if pnl <= 0:
        return (0, 0)
    score: int256 = max(pnl * constants.IWAD // max(self._health(account, market, index_price).equity, 1), 1)
    assert score <= previous_score, "ADL candidates not ranked"
    fill: Fill = self._execute(account, market, -position_size, index_price, False)
    # what the PnL cap and the pool's cash withheld already counts as haircut
    haircut: uint256 = convert(pnl - fill.realized_pnl, uint256)
    taken: uint256 = 0
    if deficit > haircut and fill.realized_pnl > 0:
        taken = min(min(convert(fill.realized_pnl, uint256), deficit - haircut), convert(max(self.margin[account], 0), uint256))
    self.margin[account] -= convert(taken, int256)
    self.pool_balance += convert(taken, int256)
    haircut += taken
    log IEngine.AutoDeleveraged(account=account, market=market, size_closed=position_size, price=fill.price, realized_pnl=pnl, haircut=haircut)
    if self.open_markets[account] == 0 and self.margin[account] < 0:
        self._cover_bad_debt(account)
    return (haircut, score)

# ================================================================== liquidity pool ledger


@external
def pool_credit(amount: uint256):
    """
    @notice Called by the pool after it moved `amount` tokens of an LP deposit here.
    @dev Reverts "Not pool".
    """
    assert msg.sender == self.pool, "Not pool"
    self.pool_balance += convert(amount * PRECISION, int256)
    log IEngine.PoolCredited(amount=amount)


@external
def pool_debit(amount: uint256, receiver: address):
    """
    @notice Called by the pool to pay an LP withdrawal of `amount` tokens to `receiver`.
    @dev Reverts "Not pool", "Pool reserve" (the pool must keep
         `pool_reserve_ratio` of open-interest notional and a non-negative balance).
    """
    assert msg.sender == self.pool, "Not pool"
    assert amount <= self._pool_withdrawable(), "Pool reserve"
    self.pool_balance -= convert(amount * PRECISION, int256)
    self._push(receiver, amount)
    log IEngine.PoolDebited(receiver=receiver, amount=amount)


@external
def fund_insurance(amount: uint256):
    """
    @notice Add `amount` tokens to the insurance fund (anyone).
    @dev Reverts "Zero amount".
    """
    assert amount > 0, "Zero amount"
    self._pull(amount)
    self.insurance_fund += amount * PRECISION
    log IEngine.InsuranceFunded(sender=msg.sender, amount=amount)

# ================================================================== parameters
# Applied only from the configurator, which checks roles, validates and logs.


@external
def set_pool(new_pool: address):
    """
    @notice Bind the liquidity pool contract (once).
    @dev Reverts "Not configurator", "Pool already set".
    """
    self._only_configurator()
    assert self.pool == empty(address), "Pool already set"
    self.pool = new_pool


@external
def set_order_book(new_order_book: address):
    """
    @notice Bind the delayed-order contract (once).
    @param new_order_book The OrderBook contract.
    @dev Reverts "Not configurator", "Order book already set".
    """
    self._only_configurator()
    assert self.order_book == empty(address), "Order book already set"
    self.order_book = new_order_book


@external
def add_market(config: engine_types.MarketConfig, brackets: DynArray[margin_brackets.MarginBracket, margin_brackets.MAX_BRACKETS], risk: engine_types.RiskConfig) -> uint256:
    """
    @notice List a new market; the oracle's latest round becomes its anchor price.
    @return The market id.
    @dev Reverts "Not configurator", "Too many markets", "Oracle decimals above 18",
         "Oracle answer not positive", "Oracle stale".
    """
    self._only_configurator()
    market: uint256 = self.market_count
    assert market < constants.MAX_MARKETS, "Too many markets"
    oracle_decimals: uint8 = staticcall IAggregatorV3(config.oracle).decimals()
    assert oracle_decimals <= 18, "Oracle decimals above 18"
    self._price_scale[market] = 10 ** convert(18 - oracle_decimals, uint256)
    self.market_count = market + 1
    self.market_config[market] = config
    self._brackets[market] = brackets
    self.risk_config[market] = risk
    self.market_state[market].risk_multiplier = constants.WAD
    self.market_state[market].last_funding_time = block.timestamp
    self._reanchor(market)
    return market


@external
def set_market_config(market: uint256, config: engine_types.MarketConfig):
    """
    @notice Replace a market's parameters; funding accrues first under the old ones.
    @dev Reverts "Not configurator", "Unknown market", "Oracle changed", and the oracle reasons.
    """
    self._check_configurator(market)
    assert config.oracle == self.market_config[market].oracle, "Oracle changed"
    self._touch_market(market)
    self.market_config[market] = config


@external
def set_margin_brackets(market: uint256, brackets: DynArray[margin_brackets.MarginBracket, margin_brackets.MAX_BRACKETS]):
    """
    @dev Reverts "Not configurator", "Unknown market".
    """
    self._check_configurator(market)
    self._brackets[market] = brackets


@external
def set_risk_config(market: uint256, config: engine_types.RiskConfig):
    """
    @dev Reverts "Not configurator", "Unknown market".
    """
    self._check_configurator(market)
    self.risk_config[market] = config
    self.market_state[market].risk_multiplier = self._risk_multiplier(market)


@external
def set_rate_limit(market: uint256, limit: engine_types.RateLimit):
    """
    @dev Reverts "Not configurator", "Unknown market". Restarts the window.
    """
    self._check_configurator(market)
    self.rate_limit[market] = limit
    self.market_state[market].liquidation_window_start = block.timestamp
    self.market_state[market].liquidation_window_notional = 0


@external
def set_liquidation_config(config: engine_types.LiquidationConfig, tiers: DynArray[engine_types.LiquidationTier, constants.MAX_TIERS]):
    """
    @dev Reverts "Not configurator".
    """
    self._only_configurator()
    self.liquidation_config = config
    self._tiers = tiers


@external
def set_paused(market: uint256, paused: bool):
    """
    @notice Pause (only reductions and closes accepted) or unpause a market.
    @dev Reverts "Not configurator", "Unknown market".
    """
    self._check_configurator(market)
    self.market_state[market].paused = paused


@external
def settle_market(market: uint256, price: uint256):
    """
    @notice Settlement mode (a delisting, as Hyperliquid settled JELLY): funding accrues
            to now at the last accepted price and stops; from then on the market's index,
            mark and every fill are `price`, the market takes reductions only, anyone can
            close its positions with close_settled, and withdrawals go on.
    @param market The market id.
    @param price Settlement price (1e18 USD).
    @dev Reverts "Not configurator", "Unknown market", "Zero price", "Market settled".
    """
    self._check_configurator(market)
    assert price > 0, "Zero price"
    assert self.settlement_price[market] == 0, "Market settled"
    self._accrue_funding(market, self.market_state[market].last_price)
    self.settlement_price[market] = price
    self.market_state[market].paused = True
    self.market_state[market].last_price = price
    log IEngine.MarketSettled(market=market, price=price)


@external
def reanchor_price(market: uint256):
    """
    @notice Accept the oracle's latest round without the jump bound (after a guardian
            verified a gap, e.g. the market sat untouched through a large move).
    @dev Reverts "Not configurator", "Unknown market", "Oracle answer not positive", "Oracle stale".
    """
    self._check_configurator(market)
    self._touch_market_unbounded(market)


@internal
def _pull(amount: uint256):
    """
    @dev Take `amount` tokens from the caller (the token's own revert if short).
    """
    assert extcall IERC20(COLLATERAL).transferFrom(msg.sender, self, amount, default_return_value=True), "Transfer failed"


@internal
def _push(receiver: address, amount: uint256):
    """
    @dev Pay `amount` tokens to `receiver`.
    """
    assert extcall IERC20(COLLATERAL).transfer(receiver, amount, default_return_value=True), "Transfer failed"


@view
@internal
def _only_configurator():
    assert msg.sender == CONFIGURATOR, "Not configurator"


@view
@internal
def _known(market: uint256):
    assert market < self.market_count, "Unknown market"


@view
@internal
def _check_configurator(market: uint256):
    self._only_configurator()
    self._known(market)

# ================================================================== views
# Only what the engine itself needs and keepers read in bulk; the front-end views
# (PnL, pending funding, fill price, liquidation price, ...) live in EngineLens.


@view
@external
def position(account: address, market: uint256) -> engine_types.Position:
    """
    @notice The stored position (size, entry price, funding index at last settlement).
    """
    return self._positions[account][market]


@view
@external
def brackets_of(market: uint256) -> DynArray[margin_brackets.MarginBracket, margin_brackets.MAX_BRACKETS]:
    """
    @notice The notional brackets of a market.
    """
    return self._brackets[market]


@view
@external
def liquidation_tiers() -> DynArray[engine_types.LiquidationTier, constants.MAX_TIERS]:
    """
    @notice The liquidation tiers, in order of application.
    """
    return self._tiers


@view
@external
def index_price(market: uint256) -> uint256:
    """
    @notice The guarded oracle price (reverts with the oracle reasons).
    """
    return self._read_index_price(market, True)[0]


@view
@external
def mark_price(market: uint256) -> uint256:
    """
    @notice index * (1 + skew / skew_scale), premium bounded.
    """
    return self._mark(market, self._read_index_price(market, True)[0])


@view
@external
def funding_now(market: uint256) -> (int256, int256):
    """
    @notice (cumulative funding per unit, funding rate per 8h) as of this block,
            including accrual since the market was last touched.
    """
    return self._funding_now(market, self._read_index_price(market, True)[0])


@view
@external
def account_health(account: address) -> engine_types.Health:
    """
    @notice Equity (margin + PnL at mark - pending funding), initial and maintenance
            requirements, and the position a liquidation would reduce first.
    """
    return self._health(account, constants.MAX_MARKETS, 0)


@view
@external
def pool_value() -> int256:
    """
    @notice The pool's net value: its balance minus traders' unrealized PnL against it
            plus the funding they owe it (rounded against the pool).
    """
    return self._pool_value()


@view
@external
def pool_withdrawable() -> uint256:
    """
    @notice Tokens LPs can withdraw now without breaking the pool reserve.
    """
    return self._pool_withdrawable()

# ================================================================== internal: oracle


@view
@internal
def _read_index_price(market: uint256, bounded: bool) -> (uint256, uint80):
    """
    @dev The one guarded path to the oracle: stale rounds, non-positive answers and
         (if `bounded`) jumps beyond max_price_jump from the last accepted price revert.
    """
    settled: uint256 = self.settlement_price[market]
    if settled != 0:
        return (settled, self.market_state[market].last_round_id)
    round_id: uint80 = 0
    answer: int256 = 0
    started_at: uint256 = 0
    updated_at: uint256 = 0
    answered_in: uint80 = 0
    round_id, answer, started_at, updated_at, answered_in = staticcall IAggregatorV3(self.market_config[market].oracle).latestRoundData()
    assert answer > 0, "Oracle answer not positive"
    assert updated_at + self.market_config[market].max_oracle_age >= block.timestamp, "Oracle stale"
    price: uint256 = convert(answer, uint256) * self._price_scale[market]
    if bounded and round_id != self.market_state[market].last_round_id:
        last_price: uint256 = self.market_state[market].last_price
        move: uint256 = price - last_price if price > last_price else last_price - price
        assert move * constants.WAD <= last_price * self.market_config[market].max_price_jump, "Oracle price jump"
    return (price, round_id)


@internal
def _touch_market(market: uint256) -> uint256:
    """
    @dev Accept the oracle round, accrue funding, refresh the risk multiplier.
    """
    price: uint256 = 0
    round_id: uint80 = 0
    price, round_id = self._read_index_price(market, True)
    self._accept(market, price, round_id)
    return price


@internal
def _touch_market_unbounded(market: uint256) -> uint256:
    price: uint256 = 0
    round_id: uint80 = 0
    price, round_id = self._read_index_price(market, False)
    self._accept(market, price, round_id)
    log IEngine.OraclePriceReanchored(market=market, price=price)
    return price


@internal
def _reanchor(market: uint256):
    price: uint256 = 0
    round_id: uint80 = 0
    price, round_id = self._read_index_price(market, False)
    self.market_state[market].last_price = price
    self.market_state[market].last_round_id = round_id
    log IEngine.OraclePriceAccepted(market=market, round_id=round_id, price=price, variance_ema=0)


@internal
def _accept(market: uint256, price: uint256, round_id: uint80):
    """
    @dev Funding first (the interval since the last touch accrues under the old skew),
         then the new oracle round, then the risk multiplier both feed.
    """
    accrued: bool = self._accrue_funding(market, price)
    rolled: bool = self._accept_round(market, price, round_id)
    if (accrued or rolled) and self.risk_config[market].max_multiplier > constants.WAD:
        self.market_state[market].risk_multiplier = self._risk_multiplier(market)


@internal
def _accrue_funding(market: uint256, price: uint256) -> bool:
    elapsed: uint256 = block.timestamp - self.market_state[market].last_funding_time
    if elapsed == 0:
        return False
    cumulative: int256 = 0
    rate: int256 = 0
    cumulative, rate = self._funding_now(market, price)
    self.market_state[market].cumulative_funding_per_unit = cumulative
    self.market_state[market].funding_rate = rate
    self.market_state[market].last_funding_time = block.timestamp
    if self.risk_config[market].funding_weight > 0:
        # the EMA only feeds the funding term of the risk multiplier: kept while that term is on
        ema: int256 = self.market_state[market].funding_rate_ema
        weight: int256 = convert(min(elapsed * constants.WAD // self.risk_config[market].funding_ema_period, constants.WAD), int256)
        self.market_state[market].funding_rate_ema = ema + (rate - ema) * weight // constants.IWAD
    log IEngine.FundingAccrued(market=market, funding_rate=rate, cumulative_funding_per_unit=cumulative, index_price=price)
    return True


@internal
def _accept_round(market: uint256, price: uint256, round_id: uint80) -> bool:
    """
    @dev A new oracle round updates the EWMA of squared log-returns.
    """
    if round_id == self.market_state[market].last_round_id:
        return False
    last_price: uint256 = self.market_state[market].last_price
    variance: uint256 = self.market_state[market].variance_ema
    weight: uint256 = self.risk_config[market].variance_ewma_weight
    if weight > 0 and last_price > 0:
        log_return: int256 = math._wad_ln(convert(price * constants.WAD // last_price, int256))
        variance = (variance * (constants.WAD - weight) + convert(log_return * log_return // constants.IWAD, uint256) * weight) // constants.WAD
        self.market_state[market].variance_ema = variance
    self.market_state[market].last_price = price
    self.market_state[market].last_round_id = round_id
    log IEngine.OraclePriceAccepted(market=market, round_id=round_id, price=price, variance_ema=variance)
    return True


@view
@internal
def _risk_multiplier(market: uint256) -> uint256:
    """
    @dev 1 + volatility term + funding term, bounded by max_multiplier.
         volatility term = weight * max(0, sqrt(EWMA variance) / reference - 1);
         funding term = weight * |F - EMA(F)|.
    """
    multiplier: uint256 = constants.WAD
    volatility_weight: uint256 = self.risk_config[market].volatility_weight
    if volatility_weight > 0 and self.risk_config[market].variance_ewma_weight > 0:
        volatility: uint256 = isqrt(self.market_state[market].variance_ema * constants.WAD)
        reference: uint256 = self.risk_config[market].reference_volatility
        if volatility > reference:
            multiplier += fixed_math._umul_up((volatility - reference) * constants.WAD // reference, volatility_weight)
    funding_weight: uint256 = self.risk_config[market].funding_weight
    if funding_weight > 0:
        deviation: int256 = self.market_state[market].funding_rate - self.market_state[market].funding_rate_ema
        multiplier += fixed_math._umul_up(convert(abs(deviation), uint256), funding_weight)
    return min(multiplier, self.risk_config[market].max_multiplier)

# ================================================================== internal: funding and pricing


@view
@internal
def _funding_now(market: uint256, index_price: uint256) -> (int256, int256):
    """
    @dev (cumulative funding per unit, rate) as of now, without writing. The rate in
         force since the last touch is set by the skew then, which only a touch changes,
         so accrual between touches is exact for LINEAR/NONLINEAR and trapezoidal for
         VELOCITY. Accrual uses the index price read at the touch.
    """
    cumulative: int256 = self.market_state[market].cumulative_funding_per_unit
    if self.settlement_price[market] != 0:
        return (cumulative, 0)
    elapsed: uint256 = block.timestamp - self.market_state[market].last_funding_time
    cap: int256 = convert(self.market_config[market].max_funding_rate, int256)
    premium: int256 = funding_models._premium(self._skew(market), self.market_config[market].skew_scale, self.market_config[market].max_premium)
    start_rate: int256 = 0
    rate: int256 = 0
    model: uint256 = self.market_config[market].funding_model
    if model == funding_models.VELOCITY:
        start_rate = self.market_state[market].funding_rate
        rate = fixed_math._clamp(funding_models._velocity_rate(start_rate, premium, self.market_config[market].funding_velocity, elapsed), -cap, cap)
    else:
        threshold: uint256 = 0
        coefficient: uint256 = 0
        if model == funding_models.NONLINEAR:  # read only when used: two cold loads per touch
            threshold = self.market_config[market].nonlinear_threshold
            coefficient = self.market_config[market].nonlinear_coefficient
        rate = fixed_math._clamp(funding_models._premium_rate(premium, self.market_config[market].interest_rate, self.market_config[market].funding_clamp, model, threshold, coefficient), -cap, cap)
        start_rate = rate
    if elapsed > 0:
        cumulative += funding_models._index_increment(start_rate, rate, index_price, elapsed)
    return (cumulative, rate)


@view
@internal
def _skew(market: uint256) -> int256:
    return convert(self.market_state[market].long_open_interest, int256) - convert(self.market_state[market].short_open_interest, int256)


@view
@internal
def _mark(market: uint256, index_price: uint256) -> uint256:
    if self.settlement_price[market] != 0:
        return index_price
    return pricing._mark_price(index_price, self._skew(market), self.market_config[market].skew_scale, self.market_config[market].max_premium)


@view
@internal
def _exit(market: uint256, index_price: uint256, size: int256) -> uint256:
    """
    @dev What closing `size` now would fill at (the settlement price once settled).
    """
    if self.settlement_price[market] != 0:
        return index_price
    return pricing._exit_price(index_price, self._skew(market), size, self.market_config[market].skew_scale, self.market_config[market].max_premium)


@view
@internal
def _side_profit(market: uint256, price: uint256, long_side: bool) -> uint256:
    """
    @dev A side's aggregate unrealized profit at `price` (rounded up).
    """
    long_sum: int256 = self.market_state[market].long_sum_size_entry_price
    if long_side:
        return pricing._side_profit(self.market_state[market].long_open_interest, long_sum, price, True)
    return pricing._side_profit(self.market_state[market].short_open_interest, long_sum - self.market_state[market].sum_size_entry_price, price, False)


@view
@internal
def _profit_counted(market: uint256, pnl: int256, size: int256, index_price: uint256) -> int256:
    """
    @dev `pnl` of a position of `size` under the market's max-PnL-to-pool cap (the
         side's aggregate profit at mark is set against max_pnl_pool_ratio x pool balance).
    """
    ratio: uint256 = self.market_config[market].max_pnl_pool_ratio
    if pnl <= 0 or ratio == 0:
        return pnl
    cap: uint256 = fixed_math._umul_down(convert(max(self.pool_balance, 0), uint256), ratio)
    return pricing._capped_profit(pnl, self._side_profit(market, self._mark(market, index_price), size > 0), cap)


@view
@internal
def _owed(account: address, market: uint256, cumulative: int256, index_price: uint256) -> (int256, uint256):
    tier_notional: uint256 = self.market_config[market].size_tier_notional
    tier_multiplier: uint256 = constants.WAD
    if tier_notional > 0:  # read only when the size tier is on
        tier_multiplier = self.market_config[market].size_tier_multiplier
    return pricing._funding_owed(self._positions[account][market].size, cumulative, self._positions[account][market].funding_index, index_price, tier_notional, tier_multiplier)


@internal
def _settle_funding(account: address, market: uint256, index_price: uint256):
    """
    @dev Move the funding a touched position owes between its margin and the pool
         (size-tier surcharge to insurance), and reset its funding index.
    """
    size: int256 = self._positions[account][market].size
    cumulative: int256 = self.market_state[market].cumulative_funding_per_unit
    old_index: int256 = self._positions[account][market].funding_index
    if size == 0 or cumulative == old_index:
        return
    owed: int256 = 0
    surcharge: uint256 = 0
    owed, surcharge = self._owed(account, market, cumulative, index_price)
    if owed < 0:
        # funding the pool pays is bounded by its cash: the pool never goes below zero
        owed = max(owed, -max(self.pool_balance, 0))
    self.margin[account] -= owed + convert(surcharge, int256)
    self.pool_balance += owed
    self.insurance_fund += surcharge
    self._positions[account][market].funding_index = cumulative
    self.market_state[market].sum_size_funding_index += size * (cumulative - old_index)
    log IEngine.FundingSettled(account=account, market=market, amount=owed, to_insurance=surcharge)


@internal
def _execute(account: address, market: uint256, size_delta: int256, index_price: uint256, charge_fee: bool) -> Fill:
    """
    @dev Fill `size_delta` for a funding-settled position at the skew-adjusted price:
         realize its PnL, charge the fee (pool, and the insurance share), update the
         position, open interest and the pool's aggregates.
    """
    skew: int256 = self._skew(market)
    fill_price: uint256 = index_price
    fee: uint256 = 0
    if self.settlement_price[market] == 0:
        fill_price = pricing._fill_price(index_price, skew, size_delta, self.market_config[market].skew_scale, self.market_config[market].max_premium)
        if charge_fee:
            fee = pricing._trade_fee(skew, size_delta, fill_price, self.market_config[market].maker_fee, self.market_config[market].taker_fee)
    paid: int256 = self._payable_profit(account, market, fill_price, index_price)
    pnl: int256 = self._rebase_position(account, market, size_delta, fill_price)
    if paid < pnl:
        log IEngine.ProfitHaircut(account=account, market=market, profit=pnl, paid=paid)
        pnl = paid
    self.margin[account] += pnl - convert(fee, int256)
    self.pool_balance -= pnl
    if fee > 0:
        to_insurance: uint256 = fixed_math._umul_down(fee, self.liquidation_config.insurance_fee_share)
        self.pool_balance += convert(fee - to_insurance, int256)
        self.insurance_fund += to_insurance
    return Fill(price=fill_price, realized_pnl=pnl, fee=fee)


@view
@internal
def _payable_profit(account: address, market: uint256, fill_price: uint256, index_price: uint256) -> int256:
    """
    @dev The most a fill of the whole position at `fill_price` may realize: its profit
         under the max-PnL cap (the side's profit before this fill), then within the
         pool's cash, so a close never takes the pool's balance below zero.
    """
    size: int256 = self._positions[account][market].size
    profit: int256 = pricing._pnl(size, fill_price, self._positions[account][market].entry_price)
    if profit <= 0:
        return profit
    return min(self._profit_counted(market, profit, size, index_price), max(self.pool_balance, 0))


@internal
def _rebase_position(account: address, market: uint256, size_delta: int256, price: uint256) -> int256:
    """
    @dev Realize the old position's PnL at `price` and set size += delta, entry = price.
         Keeps open interest, the pool aggregates and the open-market mask exact.
    @return The realized PnL (rounded down), not yet booked to the margin.
    """
    old_size: int256 = self._positions[account][market].size
    old_entry: uint256 = self._positions[account][market].entry_price
    new_size: int256 = old_size + size_delta
    pnl: int256 = pricing._pnl(old_size, price, old_entry)
    cumulative: int256 = self.market_state[market].cumulative_funding_per_unit

    self._move_entry_aggregates(market, old_size, old_entry, new_size, price)
    self.market_state[market].sum_size_funding_index += size_delta * cumulative
    if old_size > 0:
        self.market_state[market].long_open_interest -= convert(old_size, uint256)
    elif old_size < 0:
        self.market_state[market].short_open_interest -= convert(-old_size, uint256)
    if new_size > 0:
        self.market_state[market].long_open_interest += convert(new_size, uint256)
    elif new_size < 0:
        self.market_state[market].short_open_interest += convert(-new_size, uint256)

    if new_size == 0:
        self._positions[account][market] = empty(engine_types.Position)
        self.open_markets[account] &= ~(1 << market)
    else:
        self._positions[account][market] = engine_types.Position(size=new_size, entry_price=price, funding_index=cumulative)
        if old_size == 0:
            self.open_markets[account] |= 1 << market
    return pnl

@internal
def _move_entry_aggregates(market: uint256, old_size: int256, old_entry: uint256, new_size: int256, price: uint256):
    """
    @dev sum of size x entry over all positions, and over the longs alone.
    """
    old_value: int256 = old_size * convert(old_entry, int256)
    new_value: int256 = new_size * convert(price, int256)
    self.market_state[market].sum_size_entry_price += new_value - old_value
    if old_size > 0 or new_size > 0:
        self.market_state[market].long_sum_size_entry_price += max(new_value, 0) - max(old_value, 0)

# ================================================================== internal: margin


@view
@internal
def _requirements(market: uint256, notional: uint256) -> (uint256, uint256):
    """
    @dev (initial, maintenance) for `notional`: bracket requirement times the risk
         multiplier (maintenance only if configured), rounded up.
    """
    brackets: DynArray[margin_brackets.MarginBracket, margin_brackets.MAX_BRACKETS] = self._brackets[market]
    multiplier: uint256 = self.market_state[market].risk_multiplier
    initial: uint256 = fixed_math._umul_up(margin_brackets._requirement(brackets, notional, True), multiplier)
    maintenance: uint256 = margin_brackets._requirement(brackets, notional, False)
    if self.risk_config[market].apply_to_maintenance:
        maintenance = fixed_math._umul_up(maintenance, multiplier)
    return (initial, maintenance)


@view
@internal
def _health(account: address, touched_market: uint256, touched_price: uint256) -> engine_types.Health:
    """
    @dev Equity and requirements over every market the account holds, each position
         valued at its exit price (what closing it alone now would fill at) with its
         profit under the max-PnL-to-pool cap and funding at what the pool can pay.
         The touched market (already read and accrued in this call) reuses its price;
         others are read through the guarded oracle path and accrued in memory only.
    """
    health: engine_types.Health = engine_types.Health(equity=self.margin[account], initial_margin=0, maintenance_margin=0, largest_market=0, largest_requirement=0, position_count=0, transfer_margin=0)
    mask: uint256 = self.open_markets[account]
    for market: uint256 in range(constants.MAX_MARKETS):
        if mask == 0:
            break
        if mask & 1 == 1:
            price: uint256 = touched_price
            cumulative: int256 = self.market_state[market].cumulative_funding_per_unit
            if market != touched_market:
                price = self._read_index_price(market, True)[0]
                cumulative = self._funding_now(market, price)[0]
            size: int256 = self._positions[account][market].size
            owed: int256 = 0
            surcharge: uint256 = 0
            owed, surcharge = self._owed(account, market, cumulative, price)
            owed = max(owed, -max(self.pool_balance, 0))
            pnl: int256 = pricing._pnl(size, self._exit(market, price, size), self._positions[account][market].entry_price)
            health.equity += self._profit_counted(market, pnl, size, price) - owed - convert(surcharge, int256)
            notional: uint256 = fixed_math._umul_up(convert(abs(size), uint256), self._mark(market, price))
            initial: uint256 = 0
            maintenance: uint256 = 0
            initial, maintenance = self._requirements(market, notional)
            health.initial_margin += initial
            health.maintenance_margin += maintenance
            health.transfer_margin += fixed_math._umul_up(notional, self.market_config[market].transfer_margin_ratio)
            health.position_count += 1
            if maintenance > health.largest_requirement:
                health.largest_requirement = maintenance
                health.largest_market = market
        mask >>= 1
    return health

# ================================================================== internal: liquidation


@view
@internal
def _tier_for(health: engine_types.Health) -> (uint256, uint256):
    """
    @dev (close fraction, tier index) for an account below maintenance: the deepest
         tier whose margin-ratio threshold the account is below. No tiers = close all.
    """
    ratio: uint256 = 0
    if health.equity > 0:
        ratio = convert(health.equity, uint256) * constants.WAD // health.maintenance_margin
    fraction: uint256 = constants.WAD
    tier: uint256 = 0
    for i: uint256 in range(constants.MAX_TIERS):
        if i >= len(self._tiers):
            break
        if ratio < self._tiers[i].margin_ratio_below:
            fraction = self._tiers[i].close_fraction
            tier = i
    return (fraction, tier)


@internal
def _liquidate(account: address, keeper: address, strict: bool) -> uint256:
    """
    @dev One step: reduce the position with the largest maintenance requirement (ties:
         lowest market id) by the tier's fraction at the fill price (all of it if the
         rest would be under min_position_notional), pay the keeper from the account's
         margin and the penalty (up to what margin is left) to insurance. If a partial
         step, its reward and penalty included, does not raise the margin ratio, that
         position closes entirely. A fully
         closed account with negative margin goes through the bad-debt waterfall.
         With `strict` false (batches) an ineligible account returns 0 instead of
         reverting. The rate limit counts notional at the index price; an escalation
         to a full close is counted but never blocked (safety over pacing).
         A bankrupt account (equity at exit prices below zero) closes every position
         in this one step, so its realized loss and the waterfall land in the same
         transaction and the pool is never credited a loss nobody can pay.
         The keeper is paid after the waterfall: from the account's margin while it
         is positive, then from the insurance fund, never from nothing.
    """
    health: engine_types.Health = self._health(account, constants.MAX_MARKETS, 0)
    if health.position_count == 0 or health.equity >= convert(health.maintenance_margin, int256):
        assert not strict, "Account not liquidatable"
        return 0
    fraction: uint256 = 0
    tier: uint256 = 0
    fraction, tier = self._tier_for(health)
    config: engine_types.LiquidationConfig = self.liquidation_config
    if health.equity < 0:
        return self._liquidate_bankrupt(account, keeper, tier)
    if fraction < constants.WAD and block.timestamp < self.last_partial_liquidation[account] + config.cooldown:
        assert not strict, "Liquidation cool-down"
        return 0

    market: uint256 = health.largest_market
    index_price: uint256 = self._touch_market(market)
    self._settle_funding(account, market, index_price)
    size: int256 = self._positions[account][market].size
    if health.position_count > 1 and self.margin[account] + pricing._pnl(size, self._exit(market, index_price, size), self._positions[account][market].entry_price) < 0:
        # this step would leave a negative realized margin beside open positions (a loss
        # backed by another market's gain): close everything now, so margin never rests
        # below zero and the waterfall can never ask the pool for more than it holds
        return self._liquidate_bankrupt(account, keeper, tier)
    close_size: int256 = size
    if fraction < constants.WAD:
        magnitude: uint256 = convert(abs(size), uint256)
        close_magnitude: uint256 = fixed_math._umul_up(magnitude, fraction)
        if close_magnitude < magnitude and fixed_math._umul_down(magnitude - close_magnitude, index_price) >= config.min_position_notional:
            close_size = convert(close_magnitude, int256)
            if size < 0:
                close_size = -close_size
    if not self._count_rate_limit(market, fixed_math._umul_up(convert(abs(close_size), uint256), index_price), False):
        assert not strict, "Liquidation rate limit"
        return 0
    ratio_before: int256 = health.equity * constants.IWAD // convert(health.maintenance_margin, int256)

    fill: Fill = self._execute(account, market, -close_size, index_price, False)
    if close_size != size:
        # judge the partial step with the reward and penalty it will charge included
        after: engine_types.Health = self._health(account, market, index_price)
        step_notional: uint256 = fixed_math._umul_up(convert(abs(close_size), uint256), fill.price)
        charges: uint256 = min(max(fixed_math._umul_up(step_notional, config.reward_rate), config.reward_floor), config.reward_cap)
        charges += min(fixed_math._umul_up(step_notional, config.penalty_rate), convert(max(self.margin[account] - convert(charges, int256), 0), uint256))
        ratio_after: int256 = (after.equity - convert(charges, int256)) * constants.IWAD // max(convert(after.maintenance_margin, int256), 1)
        if ratio_after <= ratio_before:
            # the partial step did not help: this position closes entirely
            self._count_rate_limit(market, fixed_math._umul_up(convert(abs(size - close_size), uint256), index_price), True)
            fill = self._execute(account, market, close_size - size, index_price, False)
            close_size = size
        else:
            self.last_partial_liquidation[account] = block.timestamp

    notional: uint256 = fixed_math._umul_up(convert(abs(close_size), uint256), fill.price)
    if self.open_markets[account] == 0 and self.margin[account] < 0:
        self._cover_bad_debt(account)
    reward: uint256 = self._pay_keeper(account, keeper, notional, config)
    penalty: uint256 = min(fixed_math._umul_up(notional, config.penalty_rate), convert(max(self.margin[account], 0), uint256))
    self.margin[account] -= convert(penalty, int256)
    self.insurance_fund += penalty
    log IEngine.Liquidated(account=account, market=market, keeper=keeper, size_closed=close_size, price=fill.price, notional=notional, tier=tier, keeper_reward=reward, penalty=penalty, remaining_size=size - close_size)
    return convert(abs(close_size), uint256)


@internal
def _liquidate_bankrupt(account: address, keeper: address, tier: uint256) -> uint256:
    """
    @dev Close every position of an account with negative equity (at most MAX_MARKETS),
         then the waterfall, then the keeper. No penalty: nothing is left to take.
    @return The total size closed (absolute, base units, summed over markets).
    """
    closed: uint256 = 0
    total_notional: uint256 = 0
    mask: uint256 = self.open_markets[account]
    for market: uint256 in range(constants.MAX_MARKETS):
        if mask == 0:
            break
        if mask & 1 == 1:
            index_price: uint256 = self._touch_market(market)
            self._settle_funding(account, market, index_price)
            size: int256 = self._positions[account][market].size
            self._count_rate_limit(market, fixed_math._umul_up(convert(abs(size), uint256), index_price), True)
            fill: Fill = self._execute(account, market, -size, index_price, False)
            notional: uint256 = fixed_math._umul_up(convert(abs(size), uint256), fill.price)
            total_notional += notional
            closed += convert(abs(size), uint256)
            reward: uint256 = 0
            if mask == 1:
                # the last position: the waterfall, then the keeper
                if self.margin[account] < 0:
                    self._cover_bad_debt(account)
                reward = self._pay_keeper(account, keeper, total_notional, self.liquidation_config)
            log IEngine.Liquidated(account=account, market=market, keeper=keeper, size_closed=size, price=fill.price, notional=notional, tier=tier, keeper_reward=reward, penalty=0, remaining_size=0)
        mask >>= 1
    return closed


@internal
def _pay_keeper(account: address, keeper: address, notional: uint256, config: engine_types.LiquidationConfig) -> uint256:
    """
    @dev The keeper reward for `notional` closed, clamped to [floor, cap]: from the
         account's margin while positive, the rest from the insurance fund.
    @return What the keeper received.
    """
    reward: uint256 = min(max(fixed_math._umul_up(notional, config.reward_rate), config.reward_floor), config.reward_cap)
    from_margin: uint256 = min(reward, convert(max(self.margin[account], 0), uint256))
    from_insurance: uint256 = min(reward - from_margin, self.insurance_fund)
    self.margin[account] -= convert(from_margin, int256)
    self.insurance_fund -= from_insurance
    self.margin[keeper] += convert(from_margin + from_insurance, int256)
    return from_margin + from_insurance


@internal
def _count_rate_limit(market: uint256, notional: uint256, force: bool) -> bool:
    """
    @dev Add `notional` to the market's liquidation window; False (nothing counted) if
         that would pass the limit, unless `force`.
    """
    window: uint256 = self.rate_limit[market].window
    if window == 0:
        return True
    used: uint256 = self.market_state[market].liquidation_window_notional
    if block.timestamp >= self.market_state[market].liquidation_window_start + window:
        self.market_state[market].liquidation_window_start = block.timestamp
        used = 0
    used += notional
    if used > self.rate_limit[market].max_notional and not force:
        return False
    self.market_state[market].liquidation_window_notional = used
    return True


@internal
def _cover_bad_debt(account: address):
    """
    @dev Waterfall: insurance fund first, then the pool's balance, which this cannot take
         below zero. Proof: no account rests with positions and a negative margin (trades
         require margin >= 0 when positions remain; a liquidation step that would leave one
         closes every position), so an account enters the transaction that ends in its
         shortfall with margin m0 >= 0, and everything it lost in that transaction went to
         the pool or the insurance fund: shortfall - insurance - pool <= -m0 - I0 - P0 <= 0.
         So every margin, the pool's and the insurance fund's balances are >= 0 at rest and
         the token balance backs each one: no flat account is ever held back.
    """
    bad_debt: uint256 = convert(-self.margin[account], uint256)
    from_insurance: uint256 = min(bad_debt, self.insurance_fund)
    from_pool: uint256 = bad_debt - from_insurance
    self.insurance_fund -= from_insurance
    self.pool_balance -= convert(from_pool, int256)
    self.margin[account] = 0
    log IEngine.BadDebtCovered(account=account, bad_debt=bad_debt, from_insurance=from_insurance, from_pool=from_pool)

# ================================================================== internal: pool


@view
@internal
def _pool_value() -> int256:
    """
    @dev pool_balance - traders' aggregate unrealized PnL at mark + their aggregate
         pending funding, from the O(1) per-market aggregates; rounded against the pool.
    """
    value: int256 = self.pool_balance
    for market: uint256 in range(constants.MAX_MARKETS):
        if market >= self.market_count:
            break
        skew: int256 = self._skew(market)
        if self.market_state[market].long_open_interest == 0 and self.market_state[market].short_open_interest == 0:
            continue
        index_price: uint256 = self._read_index_price(market, True)[0]
        mark: int256 = convert(self._mark(market, index_price), int256)
        cumulative: int256 = self._funding_now(market, index_price)[0]
        traders_pnl: int256 = fixed_math._ceil_div(skew * mark - self.market_state[market].sum_size_entry_price, constants.IWAD)
        traders_owe: int256 = fixed_math._floor_div(skew * cumulative - self.market_state[market].sum_size_funding_index, constants.IWAD)
        value += traders_owe - traders_pnl
    return value


@view
@internal
def _pool_withdrawable() -> uint256:
    """
    @dev min(pool value, pool balance) above the reserve: pool_reserve_ratio of the
         open-interest notional (both sides, at the last accepted prices).
    """
    value: int256 = min(self._pool_value(), self.pool_balance)
    reserve: uint256 = 0
    reserve_ratio: uint256 = self.liquidation_config.pool_reserve_ratio
    for market: uint256 in range(constants.MAX_MARKETS):
        if market >= self.market_count:
            break
        open_interest: uint256 = self.market_state[market].long_open_interest + self.market_state[market].short_open_interest
        reserve += fixed_math._umul_up(fixed_math._umul_up(open_interest, self.market_state[market].last_price), reserve_ratio)
    if value <= convert(reserve, int256):
        return 0
    return (convert(value, uint256) - reserve) // PRECISION
