"""Gas of FundingSwaps (issue 14) on the embedded chain, measured as `vyperp gas`
measures the engine (vyperp.bench.gas.GasProbe): a live BTC market with traders on both
sides, and before every measured call one minute passes and a new oracle round
arrives, so each swap touch pays the engine poke it makes ("engine_poke" is that poke
alone). "settle_1000_holders" repeats the settle after 1,000 other accounts opened
swaps on the same book: it must equal "settle" (O(1) per touch).

The perp figures ("perp_no_swaps") are an account WITHOUT swaps trading on the packed
engine with the swaps bound ("after"), beside the same probe run on the packed engine
before the swap hook and the funding-rate index were merged in (the contracts at
BEFORE_REF, issue 15's packing branch, compiled from a git archive): the difference is
the swap hook (one comparison in a health check, FundingSwaps.pool_unrealized_total in a
pool valuation) plus the rate index (its slot, read and written at every accruing
touch). "perp_*_with_swap" is the same operation for an account holding one swap (its
health makes the one staticcall to FundingSwaps.account_margin).
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from .. import resources
from ..protocol.swaps import deploy_funding_swaps
from ..protocol.units import wad
from .gas import GasProbe, _params, liquidation_gas, trading_gas

PAY = wad("0.01")  # slippage bounds accepting any quote within 1 % per 8h
RECV = -wad("0.01")
# the packed engine (issue 15) before FundingSwaps' hook and the funding-rate index joined it
BEFORE_REF = "6562025964"


def _perp_ops(probe: GasProbe) -> dict[str, int]:
    """open / close / withdraw / liquidate as `vyperp gas` runs them (one to one)."""
    perps = trading_gas(probe)
    liquidate = liquidation_gas(probe, "victim")
    return {"open": perps["open"], "close": perps["close"], "withdraw": perps["withdraw"], "liquidate": liquidate}


def perp_ops_at(ref: str) -> dict[str, int]:
    """The same perp operations on the engine's contracts at git `ref`."""
    repo = resources.source_checkout()
    if repo is None:
        raise RuntimeError("the before column needs a git checkout of vyperp (an installed wheel has no history)")
    with tempfile.TemporaryDirectory(prefix="vyperp-swap-gas-") as tmp:
        archive = subprocess.run(
            ["git", "-C", str(repo), "archive", ref, "vyperp/contracts"], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True, capture_output=True)
        return _perp_ops(GasProbe(_params(), contracts_dir=Path(tmp) / "vyperp" / "contracts"))


def swap_gas(background_holders: int = 1_000) -> dict[str, object]:
    before = perp_ops_at(BEFORE_REF)
    probe = GasProbe(_params())
    s = probe.system
    swaps = deploy_funding_swaps(s)  # bound: the engine's health and pool value consult it
    out: dict[str, object] = {"perp_before_ref": BEFORE_REF}
    # the same sequence as `vyperp gas`, so the figures compare one to one
    after = _perp_ops(probe)
    out["perp_no_swaps"] = {
        k: {"before": before[k], "after": v, "extra_pct": round(100 * (v - before[k]) / before[k], 2)}
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
