"""Gas of FundingSwaps (issue 14, first slice) on the embedded chain, measured as
`vyperp gas` measures the engine (vyperp.bench.gas.GasProbe): a live BTC market with
traders on both sides, and before every measured call one minute passes and a new
oracle round arrives, so each swap touch pays the engine poke it makes (funding accrual
and the round's acceptance; "engine_poke" is that poke alone). "settle_1000_holders" repeats the settle after 1,000 other
accounts opened swaps on the same book: it must equal "settle" (O(1) per touch).

Not part of reports/gas.json: the engine is unchanged by the swaps.
"""

from __future__ import annotations

from ..protocol.swaps import deploy_funding_swaps, swap_trader
from ..protocol.units import wad
from .gas import GasProbe, _params

RATE = wad("0.0001")


def swap_gas(background_holders: int = 1_000) -> dict[str, int]:
    probe = GasProbe(_params())
    s = probe.system
    swaps = deploy_funding_swaps(s)
    maturity = s.chain.time + 30 * 86_400
    swaps.list_maturity(0, maturity, RATE, sender=s.admin)
    s.token.approve(swaps, 2**256 - 1, sender=probe.lp)
    swaps.fund_pool(s.tokens(1_000_000), sender=probe.lp)
    holder = swap_trader(s, swaps, "swap-holder", 0)
    s.mint(holder, 10_000)
    out: dict[str, int] = {}
    probe.tick()
    out["engine_poke"] = probe.gas(lambda: s.engine.poke(0, sender=probe.keeper))  # what each swap touch includes
    probe.tick()
    out["deposit"] = probe.gas(lambda: swaps.deposit(s.tokens(10_000), sender=holder))
    probe.tick()
    out["open"] = probe.gas(lambda: swaps.open(0, maturity, wad("0.1"), RATE, sender=holder))
    probe.tick()
    out["increase"] = probe.gas(lambda: swaps.open(0, maturity, wad("0.05"), RATE, sender=holder))
    probe.tick()
    out["settle"] = probe.gas(lambda: swaps.settle(holder, 0, maturity, sender=probe.keeper))
    for i in range(background_holders):
        other = swap_trader(s, swaps, f"swap-bg{i}", 1_000)
        swaps.open(0, maturity, wad("0.001") if i % 2 else -wad("0.001"), RATE, sender=other)
    probe.tick()
    out[f"settle_{background_holders}_holders"] = probe.gas(
        lambda: swaps.settle(holder, 0, maturity, sender=probe.keeper)
    )
    probe.tick()
    out["close"] = probe.gas(lambda: swaps.close(0, maturity, RATE, sender=holder))
    probe.tick()
    out["withdraw"] = probe.gas(lambda: swaps.withdraw(s.tokens(1_000), sender=holder))
    reopened = swap_trader(s, swaps, "swap-matured", 1_000)
    swaps.open(0, maturity, wad("0.01"), RATE, sender=reopened)
    s.chain.advance(maturity - s.chain.time)
    s.set_price(0, probe.price)
    s.set_price(1, 4_000)
    out["settle_at_maturity"] = probe.gas(lambda: swaps.settle(reopened, 0, maturity, sender=probe.keeper))
    return out
