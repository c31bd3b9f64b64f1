# pragma version ~=0.4.3
# pragma nonreentrancy on
"""
@title MarketConfigurator
@notice The one door to the engine's levers. ADMIN lists markets and changes
        parameters, GUARDIAN pauses markets and re-anchors prices after a verified
        gap. Every change is validated here (engine_types, margin_brackets) and
        logged with its full value, then applied to the engine, which accepts
        parameter changes from this contract only. ADMIN is held by one account and
        moves in two steps (roles.propose_admin, then roles.accept_admin by the
        proposed account).
@dev Failure modes: "Not admin", "Not guardian", "Engine already bound", "Engine not bound",
     "Zero address", the role reasons of roles.vy ("Admin moves by transfer", "Already
     admin", "No pending admin", "Not pending admin"), and the validation reasons of engine_types / margin_brackets;
     engine-side reasons ("Unknown market", "Too many markets", oracle reasons) pass through.
"""

from interfaces import IEngine
from interfaces import IEngineAdmin
import constants
import engine_types
import margin_brackets
import roles

initializes: roles

exports: (
    roles.roles_of,
    roles.admin,
    roles.pending_admin,
    roles.set_roles,
    roles.propose_admin,
    roles.cancel_admin_transfer,
    roles.accept_admin,
)


engine: public(address)


event EngineBound:
    engine: address

event PoolSet:
    pool: address

event MarketAdded:
    market: indexed(uint256)
    config: engine_types.MarketConfig
    brackets: DynArray[margin_brackets.MarginBracket, margin_brackets.MAX_BRACKETS]
    risk: engine_types.RiskConfig

event MarketConfigUpdated:
    market: indexed(uint256)
    config: engine_types.MarketConfig

event MarginBracketsUpdated:
    market: indexed(uint256)
    brackets: DynArray[margin_brackets.MarginBracket, margin_brackets.MAX_BRACKETS]

event RiskConfigUpdated:
    market: indexed(uint256)
    config: engine_types.RiskConfig

event RateLimitUpdated:
    market: indexed(uint256)
    limit: engine_types.RateLimit

event LiquidationConfigUpdated:
    config: engine_types.LiquidationConfig
    tiers: DynArray[engine_types.LiquidationTier, constants.MAX_TIERS]

event MarketPaused:
    market: indexed(uint256)
    paused: bool
    guardian: indexed(address)

event OrderBookSet:
    order_book: address

event SwapsSet:
    swaps: address

event MarketSettled:
    market: indexed(uint256)
    price: uint256
    guardian: indexed(address)

event PriceReanchored:
    market: indexed(uint256)
    guardian: indexed(address)


@deploy
def __init__():
    """
    @notice The deployer receives ADMIN and GUARDIAN (and is `admin`).
    """
    roles.__init__()


@external
def bind_engine(new_engine: address):
    """
    @notice Point at the engine (once; the engine names this contract at deployment).
    @param new_engine The Engine.
    """
    roles._check(roles.Role.ADMIN, "Not admin")
    assert self.engine == empty(address), "Engine already bound"
    assert new_engine != empty(address), "Zero address"
    self.engine = new_engine
    log EngineBound(engine=new_engine)


@external
def set_pool(new_pool: address):
    """
    @notice Bind the liquidity pool to the engine (once).
    @param new_pool The LiquidityPool contract.
    """
    roles._check(roles.Role.ADMIN, "Not admin")
    assert new_pool != empty(address), "Zero address"
    extcall IEngineAdmin(self._engine()).set_pool(new_pool)
    log PoolSet(pool=new_pool)


@external
def set_order_book(new_order_book: address):
    """
    @notice Bind the delayed-order contract to the engine (once).
    @param new_order_book The OrderBook contract.
    """
    roles._check(roles.Role.ADMIN, "Not admin")
    assert new_order_book != empty(address), "Zero address"
    extcall IEngineAdmin(self._engine()).set_order_book(new_order_book)
    log OrderBookSet(order_book=new_order_book)


@external
def set_swaps(new_swaps: address):
    """
    @notice Bind the FundingSwaps contract to the engine (once): it settles funding
            swaps into the engine's margin ledger against the pool.
    @param new_swaps The FundingSwaps contract.
    @dev Reverts "Not admin", "Zero address", "Engine not bound"; a second binding
         reverts in the engine (without a reason).
    """
    roles._check(roles.Role.ADMIN, "Not admin")
    assert new_swaps != empty(address), "Zero address"
    extcall IEngineAdmin(self._engine()).set_swaps(new_swaps)
    log SwapsSet(swaps=new_swaps)


@external
def add_market(config: engine_types.MarketConfig, brackets: DynArray[margin_brackets.MarginBracket, margin_brackets.MAX_BRACKETS], risk: engine_types.RiskConfig) -> uint256:
    """
    @notice List a market with its parameters, brackets and risk configuration.
    @return The new market id.
    @param config The market parameters.
    @param brackets Its notional margin brackets.
    @param risk Its risk-multiplier configuration.
    """
    roles._check(roles.Role.ADMIN, "Not admin")
    engine_types._validate_market_config(config)
    margin_brackets._validate(brackets)
    engine_types._validate_risk_config(risk)
    market: uint256 = extcall IEngineAdmin(self._engine()).add_market(config, brackets, risk, engine_types._hot_words(config, risk))
    log MarketAdded(market=market, config=config, brackets=brackets, risk=risk)
    return market


@external
def set_market_config(market: uint256, config: engine_types.MarketConfig):
    """
    @notice Replace a market's trading and funding parameters (not its oracle).
    @param market The market id.
    @param config The new parameters.
    """
    roles._check(roles.Role.ADMIN, "Not admin")
    engine_types._validate_market_config(config)
    engine: address = self._engine()
    extcall IEngineAdmin(engine).set_market_config(market, config, engine_types._hot_words(config, staticcall IEngine(engine).risk_config(market)))
    log MarketConfigUpdated(market=market, config=config)


@external
def set_margin_brackets(market: uint256, brackets: DynArray[margin_brackets.MarginBracket, margin_brackets.MAX_BRACKETS]):
    """
    @notice Replace a market's notional brackets.
    @param market The market id.
    @param brackets The new brackets.
    """
    roles._check(roles.Role.ADMIN, "Not admin")
    margin_brackets._validate(brackets)
    extcall IEngineAdmin(self._engine()).set_margin_brackets(market, brackets)
    log MarginBracketsUpdated(market=market, brackets=brackets)


@external
def set_risk_config(market: uint256, config: engine_types.RiskConfig):
    """
    @notice Replace a market's risk-multiplier configuration.
    @param market The market id.
    @param config The new configuration.
    """
    roles._check(roles.Role.ADMIN, "Not admin")
    engine_types._validate_risk_config(config)
    engine: address = self._engine()
    extcall IEngineAdmin(engine).set_risk_config(market, config, engine_types._hot_words(staticcall IEngine(engine).market_config(market), config))
    log RiskConfigUpdated(market=market, config=config)


@external
def set_rate_limit(market: uint256, limit: engine_types.RateLimit):
    """
    @notice Liquidation rate limit of a market (window 0 = off).
    @param market The market id.
    @param limit Window (seconds) and notional per window.
    """
    roles._check(roles.Role.ADMIN, "Not admin")
    engine_types._validate_rate_limit(limit)
    extcall IEngineAdmin(self._engine()).set_rate_limit(market, limit)
    log RateLimitUpdated(market=market, limit=limit)


@external
def set_liquidation_config(config: engine_types.LiquidationConfig, tiers: DynArray[engine_types.LiquidationTier, constants.MAX_TIERS]):
    """
    @notice Keeper reward, penalty, cool-down, fee routing, pool reserve and tiers.
    @param config The liquidation parameters.
    @param tiers The tiers, in order of application.
    """
    roles._check(roles.Role.ADMIN, "Not admin")
    engine_types._validate_liquidation_config(config, tiers)
    extcall IEngineAdmin(self._engine()).set_liquidation_config(config, tiers)
    log LiquidationConfigUpdated(config=config, tiers=tiers)


@external
def set_paused(market: uint256, paused: bool):
    """
    @notice Pause a market (reductions and closes only) or unpause it.
    @param market The market id.
    @param paused True to pause, False to resume.
    """
    roles._check(roles.Role.GUARDIAN, "Not guardian")
    extcall IEngineAdmin(self._engine()).set_paused(market, paused)
    log MarketPaused(market=market, paused=paused, guardian=msg.sender)


@external
def reanchor_price(market: uint256):
    """
    @notice Accept a market's latest oracle round without the jump bound.
    @param market The market id.
    """
    roles._check(roles.Role.GUARDIAN, "Not guardian")
    extcall IEngineAdmin(self._engine()).reanchor_price(market)
    log PriceReanchored(market=market, guardian=msg.sender)


@external
def settle_market(market: uint256, price: uint256):
    """
    @notice Settlement mode for a delisting: the market closes at `price` (no new risk,
            every position closes there, withdrawals continue).
    @param market The market id.
    @param price Settlement price, 1e18 USD.
    """
    roles._check(roles.Role.GUARDIAN, "Not guardian")
    extcall IEngineAdmin(self._engine()).settle_market(market, price)
    log MarketSettled(market=market, price=price, guardian=msg.sender)


@view
@internal
def _engine() -> address:
    engine: address = self.engine
    assert engine != empty(address), "Engine not bound"
    return engine
