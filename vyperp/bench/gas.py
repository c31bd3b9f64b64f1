"""Gas of every protocol operation, measured on the embedded chain with exact gas
accounting (each transaction starts cold, as on a real chain; 21,000 intrinsic and
calldata included).

Method: a live BTC market (traders on both sides, funding accrued, fresh oracle round)
and, before every measured call, one minute passes and a new oracle round arrives, so a
trade pays what it pays in a live market: the funding accrual and the round's
acceptance. The "with 1,000 accounts" figures repeat the measurement after 1,000 other
accounts opened positions: they must be equal (O(1) per touch).
"""

from __future__ import annotations

import platform
from collections.abc import Callable
from pathlib import Path
from typing import Any

import vyper

from ..chain import compile_contract
from ..protocol.params import EXCHANGE_BRACKETS, TIERED, LiquidationParams, MarketParams, ProtocolParams
from ..protocol.system import System
from ..protocol.units import wad
from .trace import summarize, traced

DEPLOYABLES = [
    "Engine",
    "EngineAdmin",
    "MarketConfigurator",
    "LiquidityPool",
    "EngineLens",
    "OrderBook",
    "MockOracle",
    "TestToken",
]


def _params(tiers: bool = False, risk: bool = False, pool_bounds: bool = True) -> ProtocolParams:
    market = MarketParams(symbol="BTC", skew_scale_usd=2_000_000_000.0)
    if not pool_bounds:  # what the safety work's pool-depth checks cost: the same market without them
        market = MarketParams(
            symbol="BTC",
            skew_scale_usd=2_000_000_000.0,
            max_pnl_pool_ratio=0.0,
            adl_pnl_pool_ratio=0.0,
            transfer_margin_ratio=0.0,
        )
    if risk:
        market = MarketParams(
            symbol="BTC",
            skew_scale_usd=2_000_000_000.0,
            brackets=EXCHANGE_BRACKETS,
            variance_ewma_weight=0.06,
            volatility_weight=1.0,
            funding_weight=10.0,
            max_multiplier=3.0,
        )
    liquidation = LiquidationParams(tiers=TIERED if tiers else (), cooldown=0)
    return ProtocolParams(markets=[market, MarketParams(symbol="ETH", initial_price=4_000.0)], liquidation=liquidation)


class GasProbe:
    """A warmed-up market and a helper that measures one transaction."""

    def __init__(
        self,
        params: ProtocolParams,
        background_accounts: int = 2,
        trace: str | None = None,
        contracts_dir: Path | None = None,
    ):
        self.trace_key = trace  # the operation key whose transaction is traced (vyperp gas --trace)
        self.trace: dict[str, Any] | None = None
        # contracts_dir: another contracts tree (e.g. a git ref's, for a before/after figure)
        self.system = System.deploy(params, **({"contracts_dir": contracts_dir} if contracts_dir else {}))
        s = self.system
        self.lp = s.new_trader("lp")
        s.mint(self.lp, 100_000_000)
        s.pool.deposit(s.tokens(50_000_000), self.lp, sender=self.lp)
        # a keeper that has been paid before (its engine account exists: a reward is a warm
        # write); the first reward a keeper ever earns also creates its account (liquidate_first_reward)
        self.keeper = s.new_trader("keeper", 10)
        self.price = 100_000
        # the background opens in two waves an hour apart, so the market's aggregate of size x
        # entry funding index is non-zero, as in any market past its first funding touch (with
        # every position opened at index 0 the next trade's write of it would be a fresh slot)
        for i in range(background_accounts):
            if i == (background_accounts + 1) // 2:
                s.chain.advance(3600)
                self.tick()
            trader = s.new_trader(f"background{i}", 10_000)
            s.trade(trader, 0, wad("0.05") if i % 2 == 0 else -wad("0.04"))
        self.tick()

    def tick(self, price: float | None = None) -> None:
        """One minute passes; a new oracle round arrives for every market."""
        if price is not None:
            self.price = price
        self.system.chain.advance(60)
        self.system.set_price(0, self.price)
        self.system.set_price(1, 4_000)

    def gas(self, action: Callable[[], object], key: str | None = None) -> int:
        if key is not None and key == self.trace_key:
            self.trace = trace_summary(self.system, action)
        else:
            action()
        receipt = self.system.chain.last_receipt
        assert receipt is not None and receipt.success
        return int(receipt.gas_used)


def contract_names(s: System) -> dict[str, tuple[str, str]]:
    """Lower-case address -> (label, contract source name) of a deployment's contracts."""
    names = {
        str(s.engine.address).lower(): ("Engine", "Engine"),
        str(s.pool.address).lower(): ("LiquidityPool", "LiquidityPool"),
        str(s.token.address).lower(): ("TestToken", "TestToken"),
        str(s.lens.address).lower(): ("EngineLens", "EngineLens"),
        str(s.order_book.address).lower(): ("OrderBook", "OrderBook"),
        str(s.configurator.address).lower(): ("MarketConfigurator", "MarketConfigurator"),
    }
    for market, oracle in zip(s.p.params.markets, s.oracles):
        names[str(oracle.address).lower()] = (f"MockOracle[{market.symbol}]", "MockOracle")
    return names


def trace_summary(s: System, action: Callable[[], object]) -> dict[str, Any]:
    """Run the one transaction of ``action`` under pyrevm's tracer; its storage/opcode summary."""
    raw = traced(s.chain, action)
    return summarize(raw, contract_names(s), s.chain.get_storage)


def trading_gas(probe: GasProbe, prefix: str = "") -> dict[str, int]:
    s = probe.system
    trader = s.new_trader(f"{prefix}measured", 0)
    s.mint(trader, 100_000)
    out: dict[str, int] = {}
    probe.tick()
    out["deposit"] = probe.gas(lambda: s.engine.deposit(s.tokens(20_000), sender=trader), "deposit")
    probe.tick()
    out["deposit_top_up"] = probe.gas(lambda: s.engine.deposit(s.tokens(1_000), sender=trader), "deposit_top_up")
    probe.tick()
    out["open"] = probe.gas(lambda: s.trade(trader, 0, wad("0.1")), "open")
    probe.tick()
    out["increase"] = probe.gas(lambda: s.trade(trader, 0, wad("0.05")), "increase")
    probe.tick()
    out["reduce"] = probe.gas(lambda: s.trade(trader, 0, -wad("0.05")), "reduce")
    probe.tick()
    out["close"] = probe.gas(lambda: s.trade(trader, 0, -wad("0.1")), "close")
    probe.tick()
    out["withdraw"] = probe.gas(lambda: s.engine.withdraw(s.tokens(1_000), sender=trader), "withdraw")
    s.chain.advance(60)
    out["oracle_update"] = probe.gas(lambda: s.set_price(0, probe.price), "oracle_update")
    out["poke"] = probe.gas(lambda: s.engine.poke(0, sender=probe.keeper), "poke")
    return out


def liquidation_gas(probe: GasProbe, label: str, keeper: str | None = None, key: str = "liquidate") -> int:
    """Gas of liquidating one 10x long after a 6 % drop (full close, plain config), by the
    probe's keeper (paid before) or `keeper`."""
    s = probe.system
    victim = s.new_trader(label, 1_000)
    probe.tick(100_000)
    s.trade(victim, 0, wad("0.095"))
    probe.tick(94_000)
    gas = probe.gas(lambda: s.engine.liquidate(victim, sender=keeper or probe.keeper), key)
    probe.tick(100_000)
    return gas


def first_reward_liquidation_gas(probe: GasProbe) -> int:
    """The same liquidation by a keeper never paid before (its reward creates its account)."""
    keeper = probe.system.new_trader("new-keeper")
    return liquidation_gas(probe, "victim-2", keeper=keeper, key="liquidate_first_reward")


def warm_market_gas(probe: GasProbe) -> dict[str, int]:
    """Open, close and liquidation in a warm market: another trader's trade in the same block
    already accepted the new oracle round and accrued the funding (each transaction still
    starts from cold storage, as every transaction does on a real chain)."""
    s = probe.system
    trader = s.new_trader("warm-measured", 20_000)
    other = s.new_trader("warm-other", 10_000)
    victim = s.new_trader("warm-victim", 1_000)
    out: dict[str, int] = {}
    probe.tick()
    s.trade(other, 0, wad("0.01"))
    out["open_warm_market"] = probe.gas(lambda: s.trade(trader, 0, wad("0.1")), "open_warm_market")
    probe.tick()
    s.trade(other, 0, wad("0.01"))
    out["close_warm_market"] = probe.gas(lambda: s.trade(trader, 0, -wad("0.1")), "close_warm_market")
    probe.tick(100_000)
    s.trade(victim, 0, wad("0.095"))
    probe.tick(94_000)
    s.trade(other, 0, wad("0.01"))
    out["liquidate_warm_market"] = probe.gas(
        lambda: s.engine.liquidate(victim, sender=probe.keeper), "liquidate_warm_market"
    )
    probe.tick(100_000)
    return out


TRADING_OPS = ("deposit", "deposit_top_up", "open", "increase", "reduce", "close", "withdraw", "oracle_update", "poke")
WARM_OPS = ("open_warm_market", "close_warm_market", "liquidate_warm_market")
TRACEABLE = (*TRADING_OPS, "liquidate", "liquidate_first_reward", "liquidate_batch_10", *WARM_OPS)


def trace_operation(op: str) -> dict[str, Any]:
    """The storage/opcode trace of one ``vyperp gas`` operation, from the very state in which
    ``measure_all`` measures it (same probe, same preceding transactions)."""
    if op not in TRACEABLE:
        raise ValueError(f"cannot trace {op!r}; one of {', '.join(TRACEABLE)}")
    if op == "liquidate_batch_10":  # the whole batch transaction (vyperp gas reports it per account)
        figures = batch_gas((10,), trace=op)
        return {"operation": op, **figures["trace"]}
    probe = GasProbe(_params(), trace=op)
    if op in WARM_OPS:
        figures = warm_market_gas(probe)
    else:
        figures = trading_gas(probe)
        if op in ("liquidate", "liquidate_first_reward"):
            figures["liquidate"] = liquidation_gas(probe, "victim")
        if op == "liquidate_first_reward":
            figures[op] = first_reward_liquidation_gas(probe)
    trace = probe.trace
    assert trace is not None and trace["gas_used"] == figures[op], (op, figures.get(op))
    return {"operation": op, **trace}


def tier_gas() -> dict[str, int]:
    """Gas of each liquidation tier (25 %, 50 %, full close) on a fresh tiered system."""
    out: dict[str, int] = {}
    for tier, drop in (("liquidate_tier_1", 93_700), ("liquidate_tier_2", 92_400), ("liquidate_tier_3", 91_000)):
        probe = GasProbe(_params(tiers=True))
        s = probe.system
        victim = s.new_trader("victim", 1_000)
        s.trade(victim, 0, wad("0.095"))
        probe.tick(drop)
        out[tier] = probe.gas(lambda: s.engine.liquidate(victim, sender=probe.keeper))
        [event] = [e for e in s.chain.last_receipt.logs if e.name == "Liquidated"]
        expected_tier = int(tier[-1]) - 1
        assert event["tier"] == expected_tier, (tier, event.args)
    return out


def batch_gas(sizes: tuple[int, ...] = (1, 10, 50), trace: str | None = None) -> dict[str, Any]:
    """Gas per liquidated account of liquidate_many over batches of each size (with `trace`
    = "liquidate_batch_10", that batch's trace under the key "trace")."""
    out: dict[str, Any] = {}
    for size in sizes:
        probe = GasProbe(_params(), trace=trace)
        s = probe.system
        victims = []
        for i in range(size):
            victim = s.new_trader(f"victim{i}", 1_000)
            s.trade(victim, 0, wad("0.095"))
            victims.append(victim)
        probe.tick(94_000)
        total = probe.gas(lambda: s.engine.liquidate_many(victims, sender=probe.keeper), f"liquidate_batch_{size}")
        liquidated = sum(1 for e in s.chain.last_receipt.logs if e.name == "Liquidated")
        assert liquidated == size
        out[f"liquidate_batch_{size}_per_account"] = total // size
        if probe.trace is not None:
            out["trace"] = probe.trace
            out[f"liquidate_batch_{size}"] = total
    return out


def adl_gas() -> int:
    """Gas of one auto-deleveraging step (pool in deficit, insurance empty)."""
    params = _params()
    probe = GasProbe(params, background_accounts=0)
    s = probe.system
    s.pool.withdraw(s.tokens(50_000_000 - 2_000), probe.lp, probe.lp, sender=probe.lp)
    winner = s.new_trader("winner", 50_000)
    loser = s.new_trader("loser", 2_100)
    s.trade(winner, 0, -wad("0.2"))
    s.trade(loser, 0, wad("0.2"))
    for price in (90_000, 80_000, 70_000):
        probe.tick(price)
        s.engine.poke(0, sender=probe.keeper)  # keep the accepted price within the jump bound
    s.engine.liquidate(loser, sender=probe.keeper)
    assert s.engine.pool_value() < 0 and s.engine.insurance_fund() == 0, "ADL scenario did not create a deficit"
    probe.tick(70_000)
    return probe.gas(lambda: s.engine.auto_deleverage(0, [winner], sender=probe.keeper))


def order_gas() -> dict[str, int]:
    """A delayed order: commit, then (after a new round) the keeper's execution."""
    probe = GasProbe(_params())
    s = probe.system
    config = s.engine.market_config(0)._replace(delayed_orders=True, order_ttl=300)
    s.configurator.set_market_config(0, config, sender=s.admin)
    trader = s.new_trader("orderer", 20_000)
    probe.tick()
    commit = probe.gas(lambda: s.order_book.commit_order(0, wad("0.1"), 2**256 - 1, sender=trader))
    probe.tick()
    execute = probe.gas(lambda: s.order_book.execute_order(trader, 0, sender=probe.keeper))
    return {"order_commit": commit, "order_execute": execute}


def bytecode_sizes() -> dict[str, int]:
    return {name: compile_contract(name).runtime_size for name in DEPLOYABLES}


def measure_all() -> dict[str, object]:
    """Every gas figure of reports/gas.json."""
    probe = GasProbe(_params())
    gas: dict[str, object] = {"compiler": f"vyper {vyper.__version__}"}
    gas.update(trading_gas(probe))
    gas["liquidate"] = liquidation_gas(probe, "victim")
    gas["liquidate_first_reward"] = first_reward_liquidation_gas(probe)
    crowd = GasProbe(_params(), background_accounts=1_000)
    crowded = trading_gas(crowd, prefix="crowd-")
    gas["open_with_1000_accounts"] = crowded["open"]
    gas["close_with_1000_accounts"] = crowded["close"]
    gas["liquidate_with_1000_accounts"] = liquidation_gas(crowd, "crowd-victim")
    risk = GasProbe(_params(risk=True))
    risk_gas = trading_gas(risk, prefix="risk-")
    gas["open_with_brackets_and_risk_multiplier"] = risk_gas["open"]
    gas["poke_with_ewma"] = risk_gas["poke"]
    plain = trading_gas(GasProbe(_params(pool_bounds=False)), prefix="plain-")
    gas["open_without_pool_bounds"] = plain["open"]
    gas["close_without_pool_bounds"] = plain["close"]
    gas["withdraw_without_pool_bounds"] = plain["withdraw"]
    gas.update(warm_market_gas(GasProbe(_params())))
    gas.update(order_gas())
    gas.update(tier_gas())
    gas.update(batch_gas())
    gas["adl_step"] = adl_gas()
    gas["bytecode_size"] = bytecode_sizes()
    gas["machine"] = f"{platform.machine()} {platform.system()}, python {platform.python_version()}"
    return gas
