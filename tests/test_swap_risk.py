"""FundingSwaps risk (issue 14): liquidation closes an unhealthy account's swaps at the
mark (exactly the model's value, reward and penalty), a healthy account cannot be
liquidated, a shortfall goes through the engine's waterfall in the same transaction
(perps beside it close there too, so no account rests with positions and a negative
margin), the engine's own liquidation leaves swap holders to FundingSwaps (swaps first),
a voluntary settle cannot drive a margin negative, the open-interest cap binds and
changes nothing when it reverts, and the skew-pushing attacker's PnL is measured."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from vyperp.chain import Reverted
from vyperp.model import swaps as sm
from vyperp.protocol.swaps import SwapParams, deploy_funding_swaps
from vyperp.protocol.units import wad

from .helpers import events

BTC = 0
DAY = 86_400
PAY = wad("0.01")  # bounds that accept any quote within 1 % per 8h
RECV = -wad("0.01")


def conserved(system) -> None:
    ledger = system.ledger()
    assert ledger.token_balance * ledger.precision == ledger.margins + ledger.pool_balance + ledger.insurance_fund


@pytest.fixture
def book(system) -> Iterator[tuple]:
    params = SwapParams(skew_scale_fraction=0, perp_open_interest_fraction=0)
    swaps = deploy_funding_swaps(system, params)
    maturity = system.chain.time + 30 * DAY
    swaps.list_maturity(BTC, maturity, sender=system.admin)
    lp = system.new_trader("lp")
    system.mint(lp, 20_000_000)
    system.pool.deposit(system.tokens(10_000_000), lp, sender=lp)
    longs = system.new_trader("longs", 5_000_000)
    system.trade(longs, BTC, wad(200))  # long skew: the floating leg runs high
    yield system, swaps, maturity, params


def expected_liquidation(system, swaps, params: SwapParams, maturity: int, account: str) -> tuple[int, int, int, int]:
    """(value, notional, reward, penalty) the model expects for liquidating `account` now
    (one live swap on BTC), read before the call."""
    s = swaps.swaps(account, BTC, maturity)
    index, price, now = int(system.engine.funding_now(BTC)[0]), int(system.engine.index_price(BTC)), system.chain.time
    floating, fixed = sm.accrued(s.size, s.fixed_flow, s.last_index, s.last_time, index, now)
    rate = int(swaps.mark_rate(BTC))  # liquidation closes at the mark (the EMA, no spread)
    value = floating - fixed + sm.unwind(s.size, s.fixed_flow, rate, price, maturity - now)
    notional = sm.umul_up(abs(s.size), price)
    reward = sm.umul_up(notional, params.reward_rate)
    left = int(system.engine.margin(account)) + value - reward
    penalty = min(sm.umul_up(notional, params.penalty_rate), max(left, 0))
    return value, notional, reward, penalty


def test_healthy_cannot_be_liquidated_unhealthy_is(book) -> None:
    system, swaps, maturity, params = book
    alice = system.new_trader("alice", 10_000)
    keeper = system.new_trader("keeper")
    swaps.open(BTC, maturity, -wad(2), RECV, sender=alice)  # pays the floating leg
    assert not swaps.liquidatable(alice)
    with pytest.raises(Reverted) as exc:
        swaps.liquidate(alice, sender=keeper)
    assert exc.value.reason == "Account not liquidatable"
    # let the floating leg run until equity is below maintenance (but above zero)
    while not swaps.liquidatable(alice):
        system.advance(600)  # the mark (an 8h EMA of funding) climbs toward the high rate
    health = system.engine.account_health(alice)
    assert 0 < health.equity < health.maintenance_margin
    # the engine's own liquidation leaves a swap holder to FundingSwaps (swaps first)
    with pytest.raises(Reverted) as exc:
        system.engine.liquidate(alice, sender=keeper)
    assert exc.value.reason == "Account not liquidatable"
    margin, pool = int(system.engine.margin(alice)), int(system.engine.pool_balance())
    value, notional, reward, penalty = expected_liquidation(system, swaps, params, maturity, alice)
    assert swaps.liquidate(alice, sender=keeper) == value
    [liq] = events(system, "SwapLiquidated")
    assert (liq["value"], liq["notional"], liq["keeper_reward"], liq["penalty"]) == (value, notional, reward, penalty)
    assert int(system.engine.margin(alice)) == margin + value - reward - penalty
    assert int(system.engine.margin(keeper)) == reward
    assert int(system.engine.pool_balance()) == pool - value + penalty  # zero-sum: the pool is the counterparty
    assert system.engine.open_markets(alice) == 0 and len(swaps.held(alice)) == 0
    assert swaps.books(BTC, maturity).sums.total_size == 0
    conserved(system)


def test_voluntary_settle_cannot_make_margin_negative_and_shortfall_uses_waterfall(book) -> None:
    system, swaps, maturity, params = book
    alice = system.new_trader("alice", 10_000)
    keeper = system.new_trader("keeper")
    swaps.open(BTC, maturity, -wad(2), RECV, sender=alice)
    system.advance(10 * DAY)  # the loss now exceeds the margin
    assert -swaps.pending(alice, BTC, maturity) > system.engine.margin(alice)
    before = (
        int(system.engine.margin(alice)),
        int(system.engine.pool_balance()),
        tuple(swaps.swaps(alice, BTC, maturity)),
    )
    with pytest.raises(Reverted) as exc:
        swaps.settle(alice, BTC, maturity, sender=keeper)
    assert exc.value.reason == "Negative margin"
    assert (
        int(system.engine.margin(alice)),
        int(system.engine.pool_balance()),
        tuple(swaps.swaps(alice, BTC, maturity)),
    ) == before
    insurance, pool = int(system.engine.insurance_fund()), int(system.engine.pool_balance())
    value, _, reward, penalty = expected_liquidation(system, swaps, params, maturity, alice)
    assert penalty == 0
    swaps.liquidate(alice, sender=keeper)
    [bad] = events(system, "BadDebtCovered")
    shortfall = -(before[0] + value - reward)
    assert bad["bad_debt"] == shortfall > 0
    assert bad["from_insurance"] == min(shortfall, insurance)
    assert int(system.engine.margin(alice)) == 0 and system.engine.open_markets(alice) == 0
    # the pool received the loss it could collect, paid the shortfall's rest and the reward
    assert int(system.engine.pool_balance()) == pool - value - bad["from_pool"]
    conserved(system)


def test_shortfall_beside_perps_closes_them_in_the_same_transaction(book) -> None:
    system, swaps, maturity, params = book
    alice = system.new_trader("alice", 12_000)
    keeper = system.new_trader("keeper")
    system.trade(alice, BTC, wad("0.05"))  # a small perp beside the swap
    swaps.open(BTC, maturity, -wad(2), RECV, sender=alice)
    system.advance(10 * DAY)
    with pytest.raises(Reverted):
        system.engine.liquidate(alice, sender=keeper)  # swaps first
    swaps.liquidate(alice, sender=keeper)
    liquidated = events(system, "Liquidated")
    assert [e["account"] for e in liquidated] == [alice] and liquidated[0]["remaining_size"] == 0
    assert events(system, "BadDebtCovered")
    assert system.engine.open_markets(alice) == 0 and int(system.engine.margin(alice)) == 0
    assert system.size_of(alice, BTC) == 0
    conserved(system)


def test_swap_margin_counts_in_a_perp_trade(book) -> None:
    """Cross-margin: the swap's initial requirement stands beside the perp's."""
    system, swaps, maturity, _ = book
    alice = system.new_trader("alice", 10_000)
    swaps.open(BTC, maturity, -wad(2), RECV, sender=alice)
    _, initial, _ = swaps.account_margin(alice)
    assert initial > 0
    # without the swap this perp would fit (10 % of 0.9 BTC = 9,000 < 10,000); with it, it does not
    with pytest.raises(Reverted) as exc:
        system.trade(alice, BTC, wad("0.9"))
    assert exc.value.reason == "Below initial margin"
    bob = system.new_trader("bob", 10_000)  # the same margin without the swap: the perp fits
    system.trade(bob, BTC, wad("0.9"))
    conserved(system)


def test_open_interest_cap_binds_and_changes_nothing(system) -> None:
    swaps = deploy_funding_swaps(system, SwapParams(skew_scale_fraction=wad(1), perp_open_interest_fraction=wad("0.5")))
    maturity = system.chain.time + 30 * DAY
    swaps.list_maturity(BTC, maturity, sender=system.admin)
    lp = system.new_trader("lp")
    system.mint(lp, 20_000_000)
    system.pool.deposit(system.tokens(10_000_000), lp, sender=lp)
    longs, shorts = system.new_trader("longs", 1_000_000), system.new_trader("shorts", 1_000_000)
    system.trade(longs, BTC, wad(3))
    system.trade(shorts, BTC, -wad(1))  # perp OI 4 BTC: swap cap 2 BTC gross
    alice, bob = system.new_trader("alice", 100_000), system.new_trader("bob", 100_000)
    swaps.open(BTC, maturity, wad("1.5"), PAY, sender=alice)
    before = (tuple(swaps.market_params(BTC)), tuple(swaps.books(BTC, maturity).sums), int(system.engine.margin(bob)))
    for size in (-wad("0.500000000000000001"), wad(1)):
        with pytest.raises(Reverted) as exc:
            swaps.open(BTC, maturity, size, PAY if size > 0 else RECV, sender=bob)
        assert exc.value.reason == "Swap open interest cap"
        assert (
            tuple(swaps.market_params(BTC)),
            tuple(swaps.books(BTC, maturity).sums),
            int(system.engine.margin(bob)),
        ) == before
    swaps.open(BTC, maturity, -wad("0.5"), RECV, sender=bob)  # exactly at the cap
    assert swaps.market_params(BTC).gross_size == wad(2)
    # a reduction is never capped, even after the perp OI shrank under it
    system.trade(longs, BTC, -wad(3))
    swaps.open(BTC, maturity, -wad("0.5"), RECV, sender=alice)
    assert swaps.market_params(BTC).gross_size == wad("1.5")


def attack(system, cap_on: bool) -> dict[str, int]:
    """Open a pay-fixed swap (receives the floating leg), carry a long perp skew to push
    funding up for a week, then unwind everything. Honest balanced perp OI of 50 BTC a
    side is there. Returns the attacker's PnL and its parts (1e18 USD)."""
    params = SwapParams(skew_scale_fraction=wad("0.05"), perp_open_interest_fraction=wad("0.5"))
    if not cap_on:
        params = SwapParams(skew_scale_fraction=0, perp_open_interest_fraction=0)
    swaps = deploy_funding_swaps(system, params)
    maturity = system.chain.time + 30 * DAY
    swaps.list_maturity(BTC, maturity, sender=system.admin)
    lp = system.new_trader("lp")
    system.mint(lp, 100_000_000)
    system.pool.deposit(system.tokens(80_000_000), lp, sender=lp)
    honest_long, honest_short = system.new_trader("hl", 2_000_000), system.new_trader("hs", 2_000_000)
    system.trade(honest_long, BTC, wad(50))
    system.trade(honest_short, BTC, -wad(50))
    attacker = system.new_trader("attacker", 40_000_000)
    start = int(system.engine.margin(attacker))
    push = wad(200)  # the perp skew the attacker carries
    size = wad(400)  # the swap it would like (twice its skew)
    if cap_on:
        perp_oi = 2 * wad(50) + push
        skew_scale = int(system.engine.market_config(BTC).skew_scale)
        size = min(size, perp_oi // 2, skew_scale * 5 // 100)
    system.trade(attacker, BTC, push)  # push first: the cap counts its own OI
    swaps.open(BTC, maturity, size, PAY, sender=attacker)
    rate = int(system.engine.funding_now(BTC)[1])
    for _ in range(21):
        system.advance(8 * 3600)
        swaps.settle(attacker, BTC, maturity, sender=system.admin)
    swap_pnl_before_close = int(system.engine.margin(attacker))
    swaps.close(BTC, maturity, RECV, sender=attacker)
    system.trade(attacker, BTC, -push)
    conserved(system)
    end = int(system.engine.margin(attacker))
    return {
        "swap_size": size,
        "push": push,
        "funding_rate": rate,
        "pnl": end - start,
        "margin_before_close": swap_pnl_before_close - start,
    }


@pytest.mark.parametrize("cap_on", [True, False])
def test_skew_pushing_attacker(system, cap_on: bool) -> None:
    out = attack(system, cap_on)
    print(
        f"\ncap {'on ' if cap_on else 'off'}: swap {out['swap_size'] / 1e18:.1f} BTC vs perp push "
        f"{out['push'] / 1e18:.0f} BTC, funding {out['funding_rate'] / 1e16:.4f} %/8h, "
        f"attacker PnL over 7 days {out['pnl'] / 1e18:,.2f} USD"
    )
    if cap_on:
        # the cap keeps the swap below the skew it must carry: the floating leg it collects
        # is less than the funding its own perp pays, so the attack loses
        assert out["swap_size"] < out["push"]
        assert out["pnl"] < 0
