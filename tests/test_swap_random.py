"""FundingSwaps under a seeded random mix of perp trades, price moves, time, swap opens,
closes and settles on two maturities (one passes its maturity mid-run): after every
transaction the chain equals the exact model to the wei (swaps, book sums, the market's
live aggregate, the matured bucket, the EMA, pending, account margin, the pool's side),
the engine conserves the token and settlement is zero-sum up to the protocol's rounding
(Desk.check in tests/test_funding_swaps.py). A reverted operation changes nothing."""

from __future__ import annotations

import random

from vyperp.chain import Reverted
from vyperp.protocol.units import wad

from .helpers import events
from .test_funding_swaps import BTC, DAY, Desk
from .test_funding_swaps import desk as desk  # noqa: F401 (the fixture, shared)

SEED = 1414


def test_random_mix_matches_model(desk: Desk) -> None:
    rng = random.Random(SEED)
    print(f"seed {SEED}")
    system, swaps = desk.system, desk.swaps
    short_maturity = system.chain.time + 4 * DAY
    swaps.list_maturity(BTC, short_maturity, sender=system.admin)
    desk.model.list(short_maturity, int(system.engine.funding_now(BTC)[1]), system.chain.time)
    maturities = [desk.maturity, short_maturity]
    holders = [system.new_trader(f"h{i}", 200_000) for i in range(3)]
    desk.holders = holders
    traders = [system.new_trader(f"t{i}", 3_000_000) for i in range(2)]
    price = 100_000
    done = {"open": 0, "close": 0, "settle": 0, "reverted": 0}
    for _ in range(60):
        op = rng.choice(["open", "open", "close", "settle", "perp", "time", "price"])
        who = rng.choice(holders)
        maturity = rng.choice(maturities)
        try:
            if op == "open" and system.chain.time < maturity:
                size = rng.choice([1, -1]) * rng.randint(1, 3 * 10**18)
                desk.open(who, maturity, size)
            elif op == "close" and system.chain.time < maturity and swaps.swaps(who, BTC, maturity).size != 0:
                desk.close(who, maturity)
            elif op == "settle" and swaps.swaps(who, BTC, maturity).fixed_flow != 0:
                desk.settle(who, maturity)
            elif op == "perp":
                system.trade(rng.choice(traders), BTC, rng.choice([1, -1]) * rng.randint(1, 40) * wad(1))
                desk.check()
                continue
            elif op == "time":
                system.advance(rng.randint(60, DAY))
                desk.check()
                continue
            elif op == "price":
                price = price * rng.randint(97, 103) // 100
                system.set_price(BTC, price)
                desk.check()
                continue
            else:
                continue
            done[op] += 1
        except Reverted as exc:
            done["reverted"] += 1
            assert exc.reason in ("Below initial margin", "Negative margin", "Market paused"), exc.reason
            desk.check()
    print(done)
    assert done["open"] > 5 and done["settle"] + done["close"] > 5
    # run past both maturities and settle everything out: the books empty, the pool side at zero
    system.advance(desk.maturity - system.chain.time + 60)
    for maturity in maturities:
        for who in holders:
            if swaps.swaps(who, BTC, maturity).fixed_flow != 0 or swaps.swaps(who, BTC, maturity).size != 0:
                desk.settle(who, maturity)
    assert swaps.pool_unrealized_total() == 0
    assert all(int(system.engine.open_markets(h)) == 0 for h in holders)


def test_liquidation_over_two_books_one_matured_matches_model(desk: Desk) -> None:
    """liquidate walks every swap of the account: a matured book (snapshot taken inside
    the liquidation, its frozen value through the matured bucket) and a live one (closed
    at the mark); value, reward and penalty are the model's, to the wei."""
    system, swaps = desk.system, desk.swaps
    short_maturity = system.chain.time + DAY
    swaps.list_maturity(BTC, short_maturity, sender=system.admin)
    desk.model.list(short_maturity, int(system.engine.funding_now(BTC)[1]), system.chain.time)
    alice = system.new_trader("alice", 12_000)
    other = system.new_trader("other", 50_000)
    keeper = system.new_trader("keeper")
    desk.holders = [alice, other]
    longs = system.new_trader("longs", 5_000_000)
    desk.open(alice, short_maturity, -wad(1))
    desk.open(alice, desk.maturity, -wad(1))
    desk.open(other, short_maturity, wad(1))
    system.trade(longs, BTC, wad(200))  # funding and then the mark climb: the receiver loses
    system.advance(DAY + 600)  # past the short maturity, no snapshot yet
    while not swaps.liquidatable(alice):
        system.advance(600)
    assert desk.model.books[short_maturity].final_time == 0
    margin = int(system.engine.margin(alice))
    pool = int(system.engine.pool_balance())
    index, rate, price, now = desk.index(), desk.rate(), desk.price(), desk.now()
    value, notional = desk.model.liquidate(alice, index, rate, price, now)
    reward = -((-notional * int(swaps.reward_rate())) // 10**18)
    left = margin + value - reward
    penalty = min(-((-notional * int(swaps.penalty_rate())) // 10**18), max(left, 0))
    assert swaps.liquidate(alice, sender=keeper) == value
    [liq] = events(system, "SwapLiquidated")
    assert (liq["notional"], liq["keeper_reward"], liq["penalty"]) == (notional, reward, penalty)
    [snap] = events(system, "MaturitySnapshot")
    assert snap["maturity"] == short_maturity
    assert int(system.engine.margin(keeper)) == reward
    if margin + value - reward - penalty >= 0:
        assert int(system.engine.margin(alice)) == margin + value - reward - penalty
        assert int(system.engine.pool_balance()) == pool - value + penalty
    assert int(system.engine.open_markets(alice)) == 0 and len(swaps.held(alice)) == 0
    desk.check()
    # the other holder's matured swap still settles from the frozen snapshot
    desk.settle(other, short_maturity)
    assert swaps.books(BTC, short_maturity).sums.total_size == 0


def test_an_exact_offset_by_open_leaves_nothing_listed(desk: Desk) -> None:
    """Opening the exact opposite of a swap (no spread, the mark at the spot rate, a
    notional whose fixed flow divides exactly) empties it: it leaves the account's list
    and the swap flag, so a later open lists it once, not twice."""
    system, swaps, maturity = desk.system, desk.swaps, desk.maturity
    swaps.set_quote_config(8 * 3600, 0, 0, 0, sender=system.admin)
    desk.model.quote_params.base_spread = 0
    desk.model.quote_params.skew_slope = 0
    desk.model.quote_params.utilisation_slope = 0
    alice = system.new_trader("alice", 50_000)
    desk.holders = [alice]
    desk.open(alice, maturity, wad(1))
    desk.open(alice, maturity, -wad(1))
    assert len(swaps.held(alice)) == 0 and int(system.engine.open_markets(alice)) == 0
    desk.open(alice, maturity, wad(1))
    assert len(swaps.held(alice)) == 1
    desk.check()
