"""Edges of the swaps' money path that the fuzzer's deep pool rarely reaches (issue 14):
what the pool pays a swap holder is bounded by its cash (Engine.swap_transfer), as perp
funding is; the shortfall stays unpaid, the pool never goes below zero, and the engine's
token conservation holds to the wei."""

from __future__ import annotations

from vyperp.protocol.swaps import SwapParams, deploy_funding_swaps
from vyperp.protocol.units import wad

from .helpers import events
from .test_funding_swaps import desk as desk  # noqa: F401 (the fixture, shared)

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


def test_swap_liquidation_reward_and_penalty_round_up(desk) -> None:
    """At an index price with odd digits the keeper reward and the penalty on the closed
    notional are not whole: both round up (the reward as the formula, the penalty for the
    pool), exactly as the model says."""
    system, swaps = desk.system, desk.swaps
    system.set_price(BTC, "100000.123456789")
    alice = system.new_trader("alice", 12_000)
    keeper = system.new_trader("keeper")
    desk.holders = [alice]
    desk.open(alice, desk.maturity, -wad("1.000000000000000007"))
    longs = system.new_trader("longs", 5_000_000)
    system.trade(longs, BTC, wad(200))  # funding and then the mark climb: the receiver loses
    for _ in range(200):
        if swaps.liquidatable(alice):
            break
        system.advance(600)
    assert swaps.liquidatable(alice)
    swaps.liquidate(alice, sender=keeper)
    [liq] = events(system, "SwapLiquidated")
    notional = liq["notional"]
    for rate, paid in ((int(swaps.reward_rate()), liq["keeper_reward"]), (int(swaps.penalty_rate()), liq["penalty"])):
        assert notional * rate % 10**18 != 0, "a whole amount: the rounding would not show"
        assert paid == -((-notional * rate) // 10**18), "rounded down"
