"""Deploy the whole protocol through any backend that can deploy a named contract.

The same function serves the embedded chain (`vyperp.chain.Chain`) and ape
(`scripts/deploy.py`): both give contract objects whose methods take
`sender=`, so only "deploy contract NAME with ARGS" differs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .params import MarketParams, ProtocolParams
from .structs import contract_abi, ordered, struct_param
from .units import WAD, wad

DeployFn = Callable[..., Any]
AtFn = Callable[[str, str], Any]
"""`at(contract name, address)`: a contract object for an existing deployment."""


@dataclass
class Protocol:
    """Handles of a deployed system."""

    token: Any
    configurator: Any
    engine: Any
    pool: Any
    lens: Any
    oracles: list[Any]
    params: ProtocolParams
    admin: Any
    feeder: Any
    symbols: list[str] = field(default_factory=list)
    order_book: Any = None
    legacy: bool = False  # the pre-safety contracts (no OrderBook, 17-field MarketConfig)
    token_decimals: int = 6
    oracle_decimals: list[int] = field(default_factory=list)
    mock_token: bool = False  # the collateral is a TestToken this deployment created
    mock_oracles: list[bool] = field(default_factory=list)  # per market: a MockOracle it created
    swaps: Any = None  # FundingSwaps, bound to the engine (None: not deployed)
    caps: Any = None  # FundingCaps (None: not deployed)
    listed: dict[str, Any] = field(default_factory=dict)  # what the deployment listed on them

    def addresses(self) -> dict[str, Any]:
        return {
            "token": str(self.token.address),
            "configurator": str(self.configurator.address),
            "engine": str(self.engine.address),
            "pool": str(self.pool.address),
            "lens": str(self.lens.address),
            "order_book": str(self.order_book.address) if self.order_book is not None else None,
            "swaps": str(self.swaps.address) if self.swaps is not None else None,
            "caps": str(self.caps.address) if self.caps is not None else None,
            "oracles": {s: str(o.address) for s, o in zip(self.symbols, self.oracles)},
        }

    def record(self) -> dict[str, Any]:
        """What operators' tools need besides the addresses: decimals and which contracts are
        test doubles (a feeder can push rounds only into a MockOracle); with funding
        products, what was listed on them (``swap_maturities``: symbol -> unix times,
        ``cap_products``: product id -> its terms), so the keeper knows where to look."""
        record: dict[str, Any] = {
            "token_decimals": self.token_decimals,
            "oracle_decimals": dict(zip(self.symbols, self.oracle_decimals)),
            "mocks": {"token": self.mock_token, "oracles": dict(zip(self.symbols, self.mock_oracles))},
        }
        record.update(self.listed)
        return record


def oracle_answer(price: float | int, decimals: int) -> int:
    """USD price -> oracle answer with `decimals` (exact for int/str input)."""
    from decimal import Decimal

    return int(Decimal(repr(price) if isinstance(price, float) else str(price)) * 10**decimals)


LEGACY_NEW_FIELDS = frozenset(
    {
        "max_open_interest_pool_ratio",
        "max_pnl_pool_ratio",
        "adl_pnl_pool_ratio",
        "transfer_margin_ratio",
        "delayed_orders",
        "order_ttl",
    }
)
"""MarketConfig fields the contracts before the safety work (commit f5b5e8f) do not have; their
open-interest cap was in coins at listing. The attack lab's "before" column deploys them."""


def legacy_config_fields(market: MarketParams, oracle: str) -> dict[str, Any]:
    """The pre-safety MarketConfig by field name (OI cap in coins at initial_price)."""
    fields = market.config_fields(oracle)
    fields["max_open_interest"] = wad(market.max_open_interest_usd) * WAD // wad(market.initial_price)
    return fields


def list_market(protocol: Protocol, oracle: Any, market: MarketParams) -> int:
    """Add one market through the configurator; returns its id. The structs are ordered
    by the field names of the deployed configurator's own ABI."""
    abi = contract_abi(protocol.configurator)
    oracle_address = str(oracle.address)
    if protocol.legacy:
        config = ordered(
            struct_param("MarketConfig", abi), legacy_config_fields(market, oracle_address), drop=LEGACY_NEW_FIELDS
        )
    else:
        config = ordered(struct_param("MarketConfig", abi), market.config_fields(oracle_address))
    brackets = ordered(struct_param("MarginBracket", abi), [b.fields() for b in market.brackets])
    risk = ordered(struct_param("RiskConfig", abi), market.risk_fields())
    protocol.configurator.add_market(config, brackets, risk, sender=protocol.admin)
    market_id = int(protocol.engine.market_count()) - 1
    if market.rate_limit_window:
        protocol.configurator.set_rate_limit(
            market_id, ordered(struct_param("RateLimit", abi), market.rate_limit_fields()), sender=protocol.admin
        )
    return market_id


class DeployError(ValueError):
    """The deployment cannot proceed as asked (e.g. a mock would be needed but mocks are off)."""


def deploy_protocol(
    deploy: DeployFn,
    params: ProtocolParams,
    admin: Any,
    feeder: Any,
    legacy: bool = False,
    at: AtFn | None = None,
    mocks: bool = True,
    now: Callable[[], int] | None = None,
    engine_admin: bool = True,
) -> Protocol:
    """Deploy configurator, engine (with its EngineAdmin), pool, lens and order book, and list every market;
    with ``params.swaps`` / ``params.caps`` (enabled) also FundingSwaps (bound to the
    engine) and FundingCaps, configured and with their maturities / products listed
    (:func:`deploy_products`; `now()` is the chain's block time, which their listing
    times are relative to).

    `deploy(name, *args)` must deploy contract NAME from the shipped contracts as `admin`.
    The collateral is ``params.collateral_token`` and a market's price feed its
    ``oracle`` (a Chainlink ``AggregatorV3`` address) when the parameters name them
    (`at(name, address)` then wraps them; their decimals are read from the chain);
    otherwise a ``TestToken`` and ``MockOracle`` test doubles are deployed, only if
    `mocks` is true (scripts deploy them on local chains or when asked), and each mock
    oracle gets its first round (the market's initial price) from `feeder`.
    `legacy` deploys the contracts as they were before the safety work (see
    LEGACY_NEW_FIELDS), for the attack lab's before/after comparison. `engine_admin` false
    deploys an engine from before the EngineAdmin split (a contracts tree without
    EngineAdmin.vy: a before/after gas figure compiled from a git ref).

    Raises DeployError when a mock is needed and `mocks` is false, when a real
    address is named without an `at` function to wrap it, or when the parameters are
    invalid (checked before the first transaction).
    """
    try:
        params.validate()
    except ValueError as exc:
        raise DeployError(str(exc)) from exc
    if (params.deploys_swaps() or params.deploys_caps()) and now is None:
        raise DeployError("the funding products' listing times need the chain's time: pass now=")

    def existing(kind: str, name: str, address: str) -> Any:
        if at is None:
            raise DeployError(f"{kind} {address} is named but this backend cannot wrap an existing contract")
        return at(name, address)

    def need_mock(what: str) -> None:
        if not mocks:
            raise DeployError(
                f"{what} is not named in the parameters and mocks are off: name a real one "
                "(collateral_token / the market's oracle) or allow test doubles (--mocks)"
            )

    decimals = params.token_decimals
    if params.collateral_token:
        token = existing("collateral token", "TestToken", params.collateral_token)
        decimals = int(token.decimals())
    else:
        need_mock("the collateral token")
        token = deploy("TestToken", "vyperp USD", "vUSD", decimals)
    oracles, mock_oracles = [], []
    for market in params.markets:
        mock_oracles.append(not market.oracle)
        if market.oracle:
            oracle = existing(f"{market.symbol} price feed", "MockOracle", market.oracle)
            if int(oracle.decimals()) != market.oracle_decimals:
                raise DeployError(
                    f"{market.symbol}: the feed at {market.oracle} has {int(oracle.decimals())} "
                    f"decimals, the parameters say oracle_decimals = {market.oracle_decimals}"
                )
        else:
            need_mock(f"the {market.symbol} price feed")
            oracle = deploy("MockOracle", market.oracle_decimals, f"{market.symbol} / USD", feeder)
            oracle.push_round(oracle_answer(market.initial_price, market.oracle_decimals), 0, sender=feeder)
        oracles.append(oracle)
    configurator = deploy("MarketConfigurator")
    if legacy or not engine_admin:
        engine = deploy("Engine", token, configurator)
    else:  # the engine runs EngineAdmin's code (setters, ADL) by DELEGATECALL; it checks the pair
        engine = deploy("Engine", token, configurator, deploy("EngineAdmin", token, configurator))
    configurator.bind_engine(engine, sender=admin)
    pool = deploy("LiquidityPool", token, engine, "vyperp LP", "vLP", decimals)
    configurator.set_pool(pool, sender=admin)
    liquidation = params.liquidation
    abi = contract_abi(configurator)
    configurator.set_liquidation_config(
        ordered(struct_param("LiquidationConfig", abi), liquidation.config_fields()),
        ordered(struct_param("LiquidationTier", abi), [t.fields() for t in liquidation.tiers]),
        sender=admin,
    )
    lens = deploy("EngineLens", engine)
    order_book = None
    if not legacy:
        order_book = deploy("OrderBook", engine)
        configurator.set_order_book(order_book, sender=admin)
    protocol = Protocol(
        token,
        configurator,
        engine,
        pool,
        lens,
        oracles,
        params,
        admin,
        feeder,
        [m.symbol for m in params.markets],
        order_book,
        legacy,
        token_decimals=decimals,
        oracle_decimals=[m.oracle_decimals for m in params.markets],
        mock_token=not params.collateral_token,
        mock_oracles=mock_oracles,
    )
    for oracle, market in zip(oracles, params.markets):
        list_market(protocol, oracle, market)
    if now is not None:
        deploy_products(deploy, protocol, now)
    return protocol


def deploy_products(deploy: DeployFn, protocol: Protocol, now: Callable[[], int]) -> Protocol:
    """Deploy the funding products ``protocol.params`` enables on a deployed protocol:
    FundingSwaps (margin, liquidation, OI cap and quote configuration, bound through
    ``MarketConfigurator.set_swaps``, each maturity listed) and FundingCaps (pricing, each
    market's sigma, each product listed). Times are ``now()`` at listing plus the offsets
    the parameters give, aligned up to an 8-hour boundary."""
    params, admin = protocol.params, protocol.admin
    ids = {symbol: i for i, symbol in enumerate(protocol.symbols)}
    if params.deploys_swaps():
        assert params.swaps is not None
        p = params.swaps.contract_params()
        swaps = deploy("FundingSwaps", protocol.engine, p.initial_k, p.maintenance_k, p.time_floor, p.rate_floor)
        swaps.set_liquidation_config(p.reward_rate, p.penalty_rate, sender=admin)
        swaps.set_open_interest_cap(p.skew_scale_fraction, p.perp_open_interest_fraction, sender=admin)
        swaps.set_quote_config(p.ema_period, p.base_spread, p.skew_slope, p.utilisation_slope, sender=admin)
        protocol.configurator.set_swaps(swaps, sender=admin)
        protocol.swaps = swaps
        listed: dict[str, list[int]] = {}
        for maturity in params.swaps.maturities:
            timestamp = maturity.timestamp(now())
            swaps.list_maturity(ids[maturity.market], timestamp, sender=admin)
            listed.setdefault(maturity.market, []).append(timestamp)
        protocol.listed["swap_maturities"] = listed
    if params.deploys_caps():
        assert params.caps is not None
        c = params.caps
        caps = deploy("FundingCaps", protocol.engine, protocol.token, int(c.twap_window))
        caps.set_pricing(wad(c.spread), wad(c.min_premium), sender=admin)
        for symbol, sigma in c.volatility.items():
            caps.set_volatility(ids[symbol], wad(sigma), sender=admin)
        protocol.caps = caps
        products: dict[str, dict[str, Any]] = {}
        for product in c.products:
            start = product.start(now())
            caps.list_product(
                ids[product.market],
                product.is_floor,
                wad(product.strike),
                start,
                product.period,
                product.periods,
                wad(product.max_notional),
                sender=admin,
            )
            products[str(int(caps.product_count()) - 1)] = {
                "market": product.market,
                "kind": product.kind,
                "strike": product.strike,
                "start": start,
                "period": product.period,
                "periods": product.periods,
            }
        protocol.listed["cap_products"] = products
    return protocol


def deploy_embedded(
    chain: Any,
    params: ProtocolParams | None = None,
    admin: str | None = None,
    feeder: str | None = None,
    legacy: bool = False,
    mocks: bool = True,
) -> Protocol:
    """Deploy on the in-process chain (`vyperp.chain.Chain`); see :func:`deploy_protocol`. A chain
    compiling another contracts tree (``contracts_dir``) without EngineAdmin.vy gets the engine
    as it was before the split."""
    params = params or ProtocolParams()
    admin = admin or chain.new_account("admin", eth=10**22)
    feeder = feeder or chain.new_account("feeder", eth=10**22)
    return deploy_protocol(
        lambda name, *args: chain.deploy(name, *args, sender=admin),
        params,
        admin,
        feeder,
        legacy,
        at=chain.at,
        mocks=mocks,
        now=lambda: int(chain.time),
        engine_admin=chain.contracts_dir is None or (Path(chain.contracts_dir) / "EngineAdmin.vy").is_file(),
    )
