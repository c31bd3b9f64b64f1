"""Engine: an open/close round trip and a liquidation, every balance worked out by hand.

The market has no skew premium and no interest rate (conftest.params): fills are at the
oracle's price and funding is zero, so the numbers are the fee schedule (taker 5 bp on
skew-increasing size, maker 2 bp on skew-reducing size, 10 % of fees to insurance), the
realized PnL, the keeper reward (0.2 % of the notional closed, in [5, 1000] USD) and the
penalty (1 %, to insurance).
"""

from __future__ import annotations

from typing import Any

import ape

from .conftest import BTC, PRECISION, UNIT, WAD, books_balance, usd

MAX_PRICE = 2**256 - 1


def test_open_close_round_trip_exact_balances(
    engine: Any, pool: Any, token: Any, alice: Any, lp: Any, fund: Any, set_price: Any
) -> None:
    fund(lp, pool, 100_000)
    pool.deposit(100_000 * UNIT, lp, sender=lp)
    fund(alice, engine, 10_000)
    deposited = engine.deposit(10_000 * UNIT, sender=alice)
    assert deposited.events.filter(engine.Deposited) == [engine.Deposited(account=alice, amount=10_000 * UNIT)]
    assert engine.margin(alice) == usd(10_000) and token.balanceOf(alice) == 0

    opened = engine.trade(BTC, WAD // 2, MAX_PRICE, sender=alice)  # 0.5 BTC long at 100,000
    assert opened.events.filter(engine.PositionModified) == [
        engine.PositionModified(
            account=alice,
            market=BTC,
            size_delta=WAD // 2,
            fill_price=usd(100_000),
            new_size=WAD // 2,
            fee=usd(25),  # taker: 5 bp of 50,000
            realized_pnl=0,
        )
    ]
    assert engine.margin(alice) == usd(9_975)
    position = engine.position(alice, BTC)
    assert (position.size, position.entry_price) == (WAD // 2, usd(100_000))
    with ape.reverts("Slippage"):  # a sell below its limit
        engine.trade(BTC, -(WAD // 2), usd(104_001), sender=alice)

    set_price(104_000)
    closed = engine.trade(BTC, -(WAD // 2), usd(104_000), sender=alice)
    assert closed.events.filter(engine.PositionModified) == [
        engine.PositionModified(
            account=alice,
            market=BTC,
            size_delta=-(WAD // 2),
            fill_price=usd(104_000),
            new_size=0,
            fee=usd("10.4"),  # maker (the close takes the skew back to zero): 2 bp of 52,000
            realized_pnl=usd(2_000),
        )
    ]
    assert engine.position(alice, BTC).size == 0
    assert engine.margin(alice) == usd("11964.6")  # 10,000 - 25 + 2,000 - 10.4
    with ape.reverts("Insufficient margin"):
        engine.withdraw(11_964_600_001, sender=alice)
    withdrawn = engine.withdraw(11_964_600_000, sender=alice)
    assert withdrawn.events.filter(engine.Withdrawn) == [engine.Withdrawn(account=alice, amount=11_964_600_000)]

    assert token.balanceOf(alice) == 11_964_600_000 and engine.margin(alice) == 0
    assert engine.insurance_fund() == usd("3.54")  # 10 % of 35.4 in fees
    assert engine.pool_balance() == usd("98031.86")  # 100,000 - 2,000 paid + 90 % of the fees
    assert token.balanceOf(engine) == 98_035_400_000  # = pool + insurance, in tokens
    assert books_balance(token, engine, [alice, lp])


def test_liquidation_pays_keeper_and_insurance_exactly(
    engine: Any, pool: Any, token: Any, alice: Any, keeper: Any, lp: Any, fund: Any, set_price: Any
) -> None:
    fund(lp, pool, 100_000)
    pool.deposit(100_000 * UNIT, lp, sender=lp)
    fund(alice, engine, 1_100)
    engine.deposit(1_100 * UNIT, sender=alice)
    engine.trade(BTC, WAD // 10, MAX_PRICE, sender=alice)  # 0.1 BTC at 100,000, fee 5
    assert engine.margin(alice) == usd(1_095)

    with ape.reverts("Account not liquidatable"):
        engine.liquidate(alice, sender=keeper)
    set_price(94_000)  # equity 1,095 - 600 = 495 >= maintenance 5 % of 9,400 = 470
    with ape.reverts("Account not liquidatable"):
        engine.liquidate(alice, sender=keeper)
    with ape.reverts("Below initial margin"):  # but below initial margin: no withdrawal
        engine.withdraw(1 * UNIT, sender=alice)

    set_price(93_000)  # equity 395 < maintenance 465
    insurance = engine.insurance_fund()
    pool_balance = engine.pool_balance()
    receipt = engine.liquidate(alice, sender=keeper)
    assert receipt.events.filter(engine.Liquidated) == [
        engine.Liquidated(
            account=alice,
            market=BTC,
            keeper=keeper,
            size_closed=WAD // 10,  # no tiers: the whole position
            price=usd(93_000),
            notional=usd(9_300),
            tier=0,
            keeper_reward=usd("18.6"),  # 0.2 % of 9,300
            penalty=usd(93),  # 1 % of 9,300
            remaining_size=0,
        )
    ]
    assert engine.position(alice, BTC).size == 0
    assert engine.margin(alice) == usd("283.4")  # 1,095 - 700 - 18.6 - 93
    assert engine.margin(keeper) == usd("18.6")
    assert engine.insurance_fund() == insurance + usd(93)
    assert engine.pool_balance() == pool_balance + usd(700)  # the loss, no fee on a liquidation
    with ape.reverts("Account not liquidatable"):
        engine.liquidate(alice, sender=keeper)

    engine.withdraw(18_600_000, sender=keeper)
    engine.withdraw(283_400_000, sender=alice)
    assert (token.balanceOf(keeper), token.balanceOf(alice)) == (18_600_000, 283_400_000)
    assert books_balance(token, engine, [alice, keeper, lp])
    assert int(token.balanceOf(engine)) * PRECISION == engine.pool_balance() + engine.insurance_fund()
