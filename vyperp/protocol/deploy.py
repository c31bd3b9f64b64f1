"""Deploy the whole protocol through any backend that can deploy a named contract.

The same function serves the embedded chain (`vyperp.chain.Chain`) and ape
(`scripts/deploy.py`): both give contract objects whose methods take
`sender=`, so only "deploy contract NAME with ARGS" differs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from .params import MarketParams, ProtocolParams
from .units import WAD, wad

DeployFn = Callable[..., Any]


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
    legacy: bool = False            # the pre-safety contracts (no OrderBook, 17-field MarketConfig)

    def addresses(self) -> dict[str, Any]:
        return {
            "token": str(self.token.address),
            "configurator": str(self.configurator.address),
            "engine": str(self.engine.address),
            "pool": str(self.pool.address),
            "lens": str(self.lens.address),
            "order_book": str(self.order_book.address) if self.order_book is not None else None,
            "oracles": {s: str(o.address) for s, o in zip(self.symbols, self.oracles)},
        }


def oracle_answer(price: float | int, decimals: int) -> int:
    """USD price -> oracle answer with `decimals` (exact for int/str input)."""
    from decimal import Decimal

    return int(Decimal(repr(price) if isinstance(price, float) else str(price)) * 10**decimals)


LEGACY_CONFIG_FIELDS = 17
"""MarketConfig fields of the contracts before the safety work (commit f5b5e8f), whose
open-interest cap was in coins at listing: the attack lab's "before" column deploys them."""


def legacy_config_struct(market: MarketParams, oracle: str) -> tuple:
    """The pre-safety MarketConfig tuple (first 17 fields; OI cap in coins at initial_price)."""
    config = list(market.config_struct(oracle)[:LEGACY_CONFIG_FIELDS])
    config[7] = wad(market.max_open_interest_usd) * WAD // wad(market.initial_price)
    return tuple(config)


def list_market(protocol: Protocol, oracle: Any, market: MarketParams) -> int:
    """Add one market through the configurator; returns its id."""
    config = (legacy_config_struct(market, str(oracle.address)) if protocol.legacy
              else market.config_struct(str(oracle.address)))
    protocol.configurator.add_market(config, market.brackets_struct(), market.risk_struct(), sender=protocol.admin)
    market_id = int(protocol.engine.market_count()) - 1
    if market.rate_limit_window:
        protocol.configurator.set_rate_limit(market_id, market.rate_limit_struct(), sender=protocol.admin)
    return market_id


def deploy_protocol(deploy: DeployFn, params: ProtocolParams, admin: Any, feeder: Any,
                    legacy: bool = False) -> Protocol:
    """Deploy token, oracles, configurator, engine, pool, lens and order book, and list
    every market.

    `deploy(name, *args)` must deploy contract NAME from `contracts/` as `admin`.
    Each oracle gets its first round (the market's initial price) from `feeder`.
    `legacy` deploys the contracts as they were before the safety work (see
    LEGACY_CONFIG_FIELDS), for the attack lab's before/after comparison.
    """
    decimals = params.token_decimals
    token = deploy("TestToken", "vyperp USD", "vUSD", decimals)
    oracles = []
    for market in params.markets:
        oracle = deploy("MockOracle", market.oracle_decimals, f"{market.symbol} / USD", feeder)
        oracle.push_round(oracle_answer(market.initial_price, market.oracle_decimals), 0, sender=feeder)
        oracles.append(oracle)
    configurator = deploy("MarketConfigurator")
    engine = deploy("Engine", token, configurator)
    configurator.bind_engine(engine, sender=admin)
    pool = deploy("LiquidityPool", token, engine, "vyperp LP", "vLP", decimals)
    configurator.set_pool(pool, sender=admin)
    liquidation = params.liquidation
    configurator.set_liquidation_config(liquidation.config_struct(), liquidation.tiers_struct(), sender=admin)
    lens = deploy("EngineLens", engine)
    order_book = None
    if not legacy:
        order_book = deploy("OrderBook", engine)
        configurator.set_order_book(order_book, sender=admin)
    protocol = Protocol(token, configurator, engine, pool, lens, oracles, params, admin, feeder,
                        [m.symbol for m in params.markets], order_book, legacy)
    for oracle, market in zip(oracles, params.markets):
        list_market(protocol, oracle, market)
    return protocol


def deploy_embedded(chain: Any, params: ProtocolParams | None = None, admin: str | None = None,
                    feeder: str | None = None, legacy: bool = False) -> Protocol:
    """Deploy on the in-process chain (`vyperp.chain.Chain`)."""
    params = params or ProtocolParams()
    admin = admin or chain.new_account("admin", eth=10**22)
    feeder = feeder or chain.new_account("feeder", eth=10**22)
    return deploy_protocol(lambda name, *args: chain.deploy(name, *args, sender=admin), params, admin, feeder,
                           legacy)
