# pragma version ~=0.4.3
# pragma nonreentrancy on
# pragma experimental-codegen
# pragma optimize codesize
"""
@title EngineAdmin
@notice The Engine's cold entry points: the parameter setters the MarketConfigurator
        applies (listing, market, bracket, risk, rate-limit and liquidation parameters,
        pause, settlement, re-anchoring, the once-only bindings).
@dev Never used at its own address: the Engine runs this code on its own storage by
     DELEGATECALL from its __default__ (Engine.vy), so every write here is a write to
     the engine's books and every event is the engine's. For that, this file declares
     exactly the Engine's storage, in the Engine's order: the same `initializes:` list
     and the same two variables (tests/test_engine_admin.py compares the compiled
     layouts slot by slot). Its immutables are read in the engine's context too, which
     is why the engine's constructor checks that this contract was deployed with the
     engine's collateral and configurator. Called at its own address, it would act on
     an empty, unused storage of its own (and its setters still answer only to the
     configurator).
     Split out of Engine.vy so that the trading, liquidation, ADL and margin path has
     room under the EIP-170 size limit for the packed state (issue 15). Auto-deleveraging
     stays in the Engine: with it, this file ran venom out of stack, and under the legacy
     code generator one ADL step cost ~15k gas more.
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

implements: IEngineAdmin

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

exports: ledger.COLLATERAL

# ------------------------------------------------------------------ storage
# dev: the Engine's own variables, same names, types and order (Engine.vy)

CONFIGURATOR: public(immutable(address))
pool: address
order_book: address

# ------------------------------------------------------------------ constructor


@deploy
def __init__(collateral: address, configurator: address):
    """
    @param collateral The engine's margin token (at most 18 decimals).
    @param configurator The engine's MarketConfigurator.
    @dev Reverts "Token decimals above 18", "Zero address" (as the Engine's constructor).
    """
    decimals: uint8 = staticcall IERC20Detailed(collateral).decimals()
    assert decimals <= 18, "Token decimals above 18"
    assert configurator != empty(address), "Zero address"
    ledger.__init__(collateral, 10 ** convert(18 - decimals, uint256))
    CONFIGURATOR = configurator

# ================================================================== parameters
# Applied only from the configurator, which checks roles, validates and logs.


@external
def set_pool(new_pool: address):
    """
    @notice Bind the liquidity pool contract (once).
    @dev Reverts "Not configurator", "Pool already set".
    @param new_pool The LiquidityPool contract.
    """
    self._only_configurator()
    checks._require(self.pool == empty(address), "Pool already set")
    self.pool = new_pool


@external
def set_order_book(new_order_book: address):
    """
    @notice Bind the delayed-order contract (once).
    @param new_order_book The OrderBook contract.
    @dev Reverts "Not configurator"; a second binding reverts without a reason
         (an admin-only, once-only step: the string cost ~100 bytes of runtime code).
    """
    self._only_configurator()
    assert self.order_book == empty(address)  # dev: order book already set (admin-only, once)
    self.order_book = new_order_book


@external
def set_swaps(new_swaps: address):
    """
    @notice Bind the FundingSwaps contract (once): it alone may call swap_transfer.
    @param new_swaps The FundingSwaps contract.
    @dev Reverts "Not configurator"; a second binding reverts without a reason
         (admin-only, once-only, as set_order_book).
    """
    self._only_configurator()
    assert ledger.swaps == empty(address)  # dev: swaps already set (admin-only, once)
    ledger.swaps = new_swaps


@external
def add_market(config: engine_types.MarketConfig, brackets: DynArray[margin_brackets.MarginBracket, margin_brackets.MAX_BRACKETS], risk: engine_types.RiskConfig, hot: uint256[4]) -> uint256:
    """
    @notice List a new market; the oracle's latest round becomes its anchor price.
    @return The market id.
    @dev Reverts "Not configurator", "Too many markets", "Oracle decimals above 18",
         "Oracle answer not positive", "Oracle stale".
    @param config The market parameters (validated by the configurator).
    @param brackets Its notional margin brackets.
    @param risk Its risk-multiplier configuration.
    @param hot engine_types._hot_words(config, risk): the packed copy of the hot fields.
    """
    self._only_configurator()
    market: uint256 = markets.market_count
    checks._require(market < constants.MAX_MARKETS, "Too many markets")
    oracle_decimals: uint8 = staticcall IAggregatorV3(config.oracle).decimals()
    assert oracle_decimals <= 18, "Oracle decimals above 18"
    markets._hot_config[market][0] = convert(config.oracle, uint256) | 10 ** convert(18 - oracle_decimals, uint256) << 160
    self._store_hot(market, hot)
    markets.market_count = market + 1
    markets.market_config[market] = config
    markets._set_brackets(market, brackets)
    markets._set_hot_field(market, markets.INSURANCE_FEE_SHARE, liquidation_policy.liquidation_config.insurance_fee_share)
    markets.risk_config[market] = risk
    markets.market_state[market].risk_multiplier = constants.WAD
    markets._set_funding_state(market, 0, 0, block.timestamp)
    markets._oracle_state[market] = 1 << markets.RATE_INDEX_SHIFT  # R = 1 wei (only R's differences count); the anchor round below keeps it
    oracle_guard._reanchor(market)
    return market


@external
def set_market_config(market: uint256, config: engine_types.MarketConfig, hot: uint256[4]):
    """
    @notice Replace a market's parameters; funding accrues first under the old ones.
    @dev Reverts "Not configurator", "Unknown market", "Oracle changed", and the oracle reasons.
    @param market The market id.
    @param config The new parameters (same oracle).
    @param hot engine_types._hot_words(config, the market's risk config).
    """
    self._check_configurator(market)
    checks._require(convert(config.oracle, uint256) == markets._hot(market, markets.ORACLE), "Oracle changed")
    funding._touch_market(market)
    markets.market_config[market] = config
    self._store_hot(market, hot)


@external
def set_margin_brackets(market: uint256, brackets: DynArray[margin_brackets.MarginBracket, margin_brackets.MAX_BRACKETS]):
    """
    @dev Reverts "Not configurator", "Unknown market".
    @notice Replace a market's notional margin brackets.
    @param market The market id.
    @param brackets The new brackets.
    """
    self._check_configurator(market)
    markets._set_brackets(market, brackets)


@external
def set_risk_config(market: uint256, config: engine_types.RiskConfig, hot: uint256[4]):
    """
    @dev Reverts "Not configurator", "Unknown market".
    @notice Replace a market's risk-multiplier configuration; the multiplier is recomputed now.
    @param market The market id.
    @param config The new configuration.
    @param hot engine_types._hot_words(the market's config, config).
    """
    self._check_configurator(market)
    markets.risk_config[market] = config
    self._store_hot(market, hot)
    markets.market_state[market].risk_multiplier = markets._risk_multiplier(market)


@external
def set_rate_limit(market: uint256, limit: engine_types.RateLimit):
    """
    @dev Reverts "Not configurator", "Unknown market". Restarts the window.
    @notice Set a market's liquidation rate limit (window 0 = off).
    @param market The market id.
    @param limit Window (seconds) and notional liquidated per window.
    """
    self._check_configurator(market)
    liquidation_policy.rate_limit[market] = limit
    markets._set_hot_field(market, markets.RATE_LIMITED, convert(limit.window > 0, uint256))
    markets.market_state[market].liquidation_window_start = block.timestamp
    markets.market_state[market].liquidation_window_notional = 0


@external
def set_liquidation_config(config: engine_types.LiquidationConfig, tiers: DynArray[engine_types.LiquidationTier, constants.MAX_TIERS]):
    """
    @dev Reverts "Not configurator".
    @notice Replace the keeper reward, penalty, cool-down, fee routing, pool reserve and the liquidation tiers.
    @param config The liquidation parameters.
    @param tiers The tiers, in order of application.
    """
    self._only_configurator()
    liquidation_policy._set_config(config, tiers)
    for market: uint256 in range(constants.MAX_MARKETS):
        if market >= markets.market_count:
            break
        markets._set_hot_field(market, markets.INSURANCE_FEE_SHARE, config.insurance_fee_share)


@external
def set_paused(market: uint256, paused: bool):
    """
    @notice Pause (only reductions and closes accepted) or unpause a market.
    @dev Reverts "Not configurator", "Unknown market".
    @param market The market id.
    @param paused True to pause, False to resume.
    """
    self._check_configurator(market)
    markets._set_paused(market, paused)


@external
def settle_market(market: uint256, price: uint256):
    """
    @notice Settlement mode (a delisting, as Hyperliquid settled JELLY): funding accrues
            to now at the last accepted price and stops; from then on the market's index,
            mark and every fill are `price`, the market takes reductions only, anyone can
            close its positions with close_settled, and withdrawals go on.
    @param market The market id.
    @param price Settlement price (1e18 USD).
    @dev Reverts "Not configurator", "Unknown market", "Zero price", "Settlement price too high"
         (2**96 or more: 7.9e10 USD per coin), "Market settled".
    """
    self._check_configurator(market)
    checks._require(price > 0, "Zero price")
    checks._require(price < 2**96, "Settlement price too high")  # the packed last price's bound (markets._oracle_state)
    checks._require(markets.settlement_price[market] == 0, "Market settled")
    last_price: uint256 = 0
    round_id: uint80 = 0
    last_price, round_id = markets._last_round(market)
    funding._accrue_funding(market, last_price)
    markets.settlement_price[market] = price
    markets._hot_config[market][0] |= 1 << 224  # markets.SETTLED
    markets._set_paused(market, True)
    markets._set_last_round(market, price, round_id)
    log IEngine.MarketSettled(market=market, price=price)


@external
def reanchor_price(market: uint256):
    """
    @notice Accept the oracle's latest round without the jump bound (after a guardian
            verified a gap, e.g. the market sat untouched through a large move).
    @dev Reverts "Not configurator", "Unknown market", "Oracle answer not positive", "Oracle stale".
    @param market The market id.
    """
    self._check_configurator(market)
    funding._touch_market_unbounded(market)

# ================================================================== internal


@internal
def _store_hot(market: uint256, hot: uint256[4]):
    """
    @dev Words 1-4 of the packed hot parameters (word 0, oracle and scale, never changes).
    """
    markets._hot_config[market][1] = hot[0]
    markets._hot_config[market][2] = hot[1]
    markets._hot_config[market][3] = hot[2]
    markets._hot_config[market][4] = hot[3]


@view
@internal
def _only_configurator():
    checks._require(msg.sender == CONFIGURATOR, "Not configurator")


@view
@internal
def _check_configurator(market: uint256):
    self._only_configurator()
    markets._known(market)
