"""Gas of FundingSwaps (issue 14) on the embedded chain, measured as `vyperp gas`
measures the engine (vyperp.bench.gas.GasProbe): a live BTC market with traders on both
sides, and before every measured call one minute passes and a new oracle round
arrives, so each swap touch pays the engine poke it makes ("engine_poke" is that poke
alone). "settle_1000_holders" repeats the settle after 1,000 other accounts opened
swaps on the same book: it must equal "settle" (O(1) per touch).

The perp figures ("perp_*") are an account WITHOUT swaps trading on an engine with the
swaps bound, beside the figures the same probe measured before issue 14's engine
change (commit da008ca, reports/gas.json then): what cross-margining costs an account
that holds no swaps. "perp_*_with_swap" is the same operation for an account holding
one swap (its health makes the one staticcall to FundingSwaps.account_margin).
"""

from __future__ import annotations

from ..protocol.swaps import deploy_funding_swaps
from ..protocol.units import wad
from .gas import GasProbe, _params, liquidation_gas, trading_gas

PAY = wad("0.01")  # slippage bounds accepting any quote within 1 % per 8h
RECV = -wad("0.01")
# `vyperp gas` at da008ca (engine before the swap entry points), for the comparison
BEFORE = {"open": 329_572, "close": 151_057, "withdraw": 46_593, "liquidate": 225_201}


def swap_gas(background_holders: int = 1_000) -> dict[str, object]:
    probe = GasProbe(_params())
    s = probe.system
    swaps = deploy_funding_swaps(s)  # bound: the engine's health and pool value consult it
    out: dict[str, object] = {}
    # the same sequence as `vyperp gas`, so the figures compare one to one
    perps = trading_gas(probe)
    liquidate = liquidation_gas(probe, "victim")
    after = {"open": perps["open"], "close": perps["close"], "withdraw": perps["withdraw"], "liquidate": liquidate}
    out["perp_no_swaps"] = {
        k: {"before": BEFORE[k], "after": v, "extra_pct": round(100 * (v - BEFORE[k]) / BEFORE[k], 2)}
        for k, v in after.items()
    }

    maturity = s.chain.time + 30 * 86_400
    swaps.list_maturity(0, maturity, sender=s.admin)
    deep_long, deep_short = s.new_trader("deep-long", 3_000_000), s.new_trader("deep-short", 200_000)
    s.trade(deep_long, 0, wad(5))  # perp open interest for the swap OI cap
    s.trade(deep_short, 0, -wad(5))
    holder = s.new_trader("swap-holder", 20_000)
    probe.tick()
    out["engine_poke"] = probe.gas(lambda: s.engine.poke(0, sender=probe.keeper))  # what each swap touch includes
    probe.tick()
    out["open"] = probe.gas(lambda: swaps.open(0, maturity, wad("0.1"), PAY, sender=holder))
    probe.tick()
    out["increase"] = probe.gas(lambda: swaps.open(0, maturity, wad("0.05"), PAY, sender=holder))
    probe.tick()
    out["settle"] = probe.gas(lambda: swaps.settle(holder, 0, maturity, sender=probe.keeper))
    probe.tick()
    out["perp_open_with_swap"] = probe.gas(lambda: s.trade(holder, 0, wad("0.1")))
    probe.tick()
    out["perp_close_with_swap"] = probe.gas(lambda: s.trade(holder, 0, -wad("0.1")))
    probe.tick()
    out["withdraw_with_swap"] = probe.gas(lambda: s.engine.withdraw(s.tokens(1_000), sender=holder))
    for i in range(background_holders):
        other = s.new_trader(f"swap-bg{i}", 1_000)
        size = wad("0.001") if i % 2 else -wad("0.001")
        swaps.open(0, maturity, size, PAY if size > 0 else RECV, sender=other)
    probe.tick()
    out[f"settle_{background_holders}_holders"] = probe.gas(
        lambda: swaps.settle(holder, 0, maturity, sender=probe.keeper)
    )
    probe.tick()
    out["close"] = probe.gas(lambda: swaps.close(0, maturity, RECV, sender=holder))

    victim = s.new_trader("swap-victim", 5_000)
    swaps.open(0, maturity, -wad("0.1"), RECV, sender=victim)
    s.trade(deep_long, 0, wad(150))  # long skew: funding and then the mark (its EMA) rise
    while not swaps.liquidatable(victim):
        s.chain.advance(8 * 3600)
        probe.tick()
    assert swaps.liquidatable(victim)
    out["liquidate"] = probe.gas(lambda: swaps.liquidate(victim, sender=probe.keeper))

    reopened = s.new_trader("swap-matured", 1_000)
    swaps.open(0, maturity, wad("0.01"), PAY, sender=reopened)
    s.chain.advance(maturity - s.chain.time)
    s.set_price(0, probe.price)
    s.set_price(1, 4_000)
    out["settle_at_maturity"] = probe.gas(lambda: swaps.settle(reopened, 0, maturity, sender=probe.keeper))
    return out
