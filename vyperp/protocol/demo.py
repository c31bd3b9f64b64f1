"""Scripted demo on the embedded chain: deploy, an LP funds the pool, four traders open
positions, the price moves over twelve hours while funding accrues, everyone closes;
per trader PnL, funding and fees, and the pool's result, all read from the chain's events."""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.console import Console
from rich.table import Table

from .params import MarketParams, ProtocolParams
from .system import System
from .units import unwad, wad


@dataclass
class TraderResult:
    name: str
    size: float
    realized_pnl: int = 0
    funding_paid: int = 0
    fees: int = 0
    margin_start: int = 0
    margin_end: int = 0
    events: list[str] = field(default_factory=list)


def _collect(system: System, results: dict[str, TraderResult], address_to_name: dict[str, str]) -> None:
    for event in system.chain.last_receipt.logs:
        name = address_to_name.get(event.args.get("account", ""))
        if name is None:
            continue
        if event.name == "PositionModified":
            results[name].realized_pnl += event["realized_pnl"]
            results[name].fees += event["fee"]
        elif event.name == "FundingSettled":
            results[name].funding_paid += event["amount"] + event["to_insurance"]


def run_demo(console: Console | None = None) -> dict[str, object]:
    console = console or Console()
    params = ProtocolParams(markets=[MarketParams(symbol="BTC", skew_scale_usd=200_000_000.0)])
    system = System.deploy(params)
    lp = system.new_trader("lp")
    system.mint(lp, 5_000_000)
    system.pool.deposit(system.tokens(5_000_000), lp, sender=lp)
    pool_start = int(system.engine.pool_value())

    plan = {
        "alice (long 5x)": wad("0.5"),
        "bob (long 2x)": wad("0.2"),
        "carol (short 4x)": -wad("0.4"),
        "dave (short 1x)": -wad("0.1"),
    }
    results: dict[str, TraderResult] = {}
    address: dict[str, str] = {}
    for name, size in plan.items():
        account = system.new_trader(name.split()[0], 10_000)
        address[name] = account
        results[name] = TraderResult(name, unwad(size), margin_start=int(system.engine.margin(account)))
    names = {a: n for n, a in address.items()}

    console.rule("[bold]vyperp demo: four traders across a price move")
    for name, size in plan.items():
        fill = system.trade(address[name], 0, size)
        _collect(system, results, names)
        console.print(f"{name:18s} opens {unwad(size):+.2f} BTC at {unwad(fill):,.2f}")
    path = [100_000, 100_800, 101_500, 103_000, 104_200, 103_600, 105_000, 106_100, 105_400, 106_800, 107_500, 108_000]
    for hour, price in enumerate(path, start=1):
        system.chain.advance(3600)
        system.set_price(0, price)
        system.engine.poke(0, sender=lp)
        cumulative, rate = system.engine.funding_now(0)
        if hour % 3 == 0:
            console.print(
                f"hour {hour:2d}: index {price:,}  mark {unwad(system.engine.mark_price(0)):,.2f}  "
                f"funding {unwad(rate) * 100:+.4f} %/8h"
            )
    for name, size in plan.items():
        fill = system.trade(address[name], 0, -size)
        _collect(system, results, names)
        results[name].margin_end = int(system.engine.margin(address[name]))
        console.print(f"{name:18s} closes at {unwad(fill):,.2f}")

    table = Table(title="Results (USD)")
    for column in ("trader", "size BTC", "realized PnL", "funding paid", "fees", "net"):
        table.add_column(column, justify="right")
    for r in results.values():
        net = r.margin_end - r.margin_start
        assert net == r.realized_pnl - r.funding_paid - r.fees, f"{r.name}: books do not add up"
        table.add_row(
            r.name,
            f"{r.size:+.2f}",
            f"{unwad(r.realized_pnl):,.2f}",
            f"{unwad(r.funding_paid):,.4f}",
            f"{unwad(r.fees):,.2f}",
            f"{unwad(net):,.2f}",
        )
    console.print(table)
    pool_end = int(system.engine.pool_value())
    insurance = int(system.engine.insurance_fund())
    ledger = system.ledger()
    console.print(
        f"pool value {unwad(pool_start):,.2f} -> {unwad(pool_end):,.2f} "
        f"({unwad(pool_end - pool_start):+,.2f}); insurance fund {unwad(insurance):,.2f}"
    )
    console.print(f"collateral held {ledger.held} == booked {ledger.booked}: {ledger.held == ledger.booked}")
    return {
        "pool_change": pool_end - pool_start,
        "insurance": insurance,
        "balanced": ledger.held == ledger.booked,
        "traders": {r.name: r.margin_end - r.margin_start for r in results.values()},
    }
