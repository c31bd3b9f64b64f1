"""Deploy the whole protocol through any backend that can deploy a named contract.

The same function serves the embedded chain (`vyperp.chain.Chain`) and ape
(`scripts/deploy.py`): both give contract objects whose methods take
`sender=`, so only "deploy contract NAME with ARGS" differs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from .params import MarketParams, ProtocolParams

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

    def addresses(self) -> dict[str, Any]:
        return {
            "token": str(self.token.address),
            "configurator": str(self.configurator.address),
            "engine": str(self.engine.address),
            "pool": str(self.pool.address),
            "lens": str(self.lens.address),
            "oracles": {s: str(o.address) for s, o in zip(self.symbols, self.oracles)},
        }


def oracle_answer(price: float | int, decimals: int) -> int:
    """USD price -> oracle answer with `decimals` (exact for int/str input)."""
    from decimal import Decimal

    return int(Decimal(repr(price) if isinstance(price, float) else str(price)) * 10**decimals)


def list_market(protocol: Protocol, oracle: Any, market: MarketParams) -> int:
    """Add one market through the configurator; returns its id."""
    protocol.configurator.add_market(
        market.config_struct(str(oracle.address)), market.brackets_struct(), market.risk_struct(),
        sender=protocol.admin,
    )
    market_id = int(protocol.engine.market_count()) - 1
    if market.rate_limit_window:
        protocol.configurator.set_rate_limit(market_id, market.rate_limit_struct(), sender=protocol.admin)
    return market_id


def deploy_protocol(deploy: DeployFn, params: ProtocolParams, admin: Any, feeder: Any) -> Protocol:
    """Deploy token, oracles, configurator, engine, pool and lens, and list every market.

    `deploy(name, *args)` must deploy contract NAME from `contracts/` as `admin`.
    Each oracle gets its first round (the market's initial price) from `feeder`.
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
    protocol = Protocol(token, configurator, engine, pool, lens, oracles, params, admin, feeder,
                        [m.symbol for m in params.markets])
    for oracle, market in zip(oracles, params.markets):
        list_market(protocol, oracle, market)
    return protocol


def deploy_embedded(chain: Any, params: ProtocolParams | None = None, admin: str | None = None,
                    feeder: str | None = None) -> Protocol:
    """Deploy on the in-process chain (`vyperp.chain.Chain`)."""
    params = params or ProtocolParams()
    admin = admin or chain.new_account("admin", eth=10**22)
    feeder = feeder or chain.new_account("feeder", eth=10**22)
    return deploy_protocol(lambda name, *args: chain.deploy(name, *args, sender=admin), params, admin, feeder)
