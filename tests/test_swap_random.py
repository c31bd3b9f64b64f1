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
