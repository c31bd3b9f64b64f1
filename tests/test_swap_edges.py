"""Edges of the swaps' money path that the fuzzer's deep pool rarely reaches (issue 14):
what the pool pays a swap holder is bounded by its cash (Engine.swap_transfer), as perp
funding is; the shortfall stays unpaid, the pool never goes below zero, and the engine's
token conservation holds to the wei."""

from __future__ import annotations

from vyperp.protocol.swaps import SwapParams, deploy_funding_swaps
from vyperp.protocol.units import wad

from .helpers import events

BTC = 0
DAY = 86_400


def test_the_pool_pays_a_swap_gain_only_from_its_cash(system) -> None:
    swaps = deploy_funding_swaps(system, SwapParams(skew_scale_fraction=0, perp_open_interest_fraction=0))
    maturity = system.chain.time + 30 * DAY
    swaps.list_maturity(BTC, maturity, sender=system.admin)
    swaps.set_quote_config(8 * 3600, 0, 0, 0, sender=system.admin)
    assert int(system.engine.pool_balance()) == 0  # the session protocol has no LP: five dollars of cash
    lp = system.new_trader("lp-small")
    system.mint(lp, 10)
    system.pool.deposit(system.tokens(5), lp, sender=lp)
    bob = system.new_trader("bob", 1_000_000)
    swaps.open(BTC, maturity, wad(100), wad("0.01"), sender=bob)  # pay fixed at the interest rate
    whale = system.new_trader("whale", 20_000_000)
    system.trade(whale, BTC, wad(500))  # long skew: funding to its cap, the floating leg with it
    for _ in range(20):  # until what the pool owes bob is beyond its cash (fees included)
        system.advance(DAY)
        if int(swaps.pending(bob, BTC, maturity)) > int(system.engine.pool_balance()):
            break
    cash, margin = int(system.engine.pool_balance()), int(system.engine.margin(bob))
    owed = int(swaps.pending(bob, BTC, maturity))
    assert owed > cash >= 0, (owed, cash)
    swaps.settle(bob, BTC, maturity, sender=system.admin)
    [moved] = events(system, "Transferred")
    assert moved["amount"] == owed and moved["moved"] == cash, "the pool paid beyond its cash"
    assert int(system.engine.pool_balance()) == 0
    assert int(system.engine.margin(bob)) == margin + cash
    ledger = system.ledger()
    assert ledger.token_balance * ledger.precision == ledger.margins + ledger.pool_balance + ledger.insurance_fund
