"""FundingSwaps (issue 14, first slice): settlement on the engine's own funding index
equals the exact model (vyperp.model.swaps) to the wei across funding moves, settlement
is zero-sum up to rounding in the protocol's favour, bad inputs revert with a reason and
change nothing, and a settle's gas does not depend on how many others hold swaps."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from vyperp.chain import Reverted
from vyperp.model import swaps as sm
from vyperp.protocol.swaps import deploy_funding_swaps, swap_trader
from vyperp.protocol.units import wad

from .helpers import events

BTC = 0
DAY = 86_400
RATE = wad("0.0001")  # 0.01 % per 8h


@pytest.fixture
def desk(system) -> Iterator[tuple]:
    swaps = deploy_funding_swaps(system)
    maturity = system.chain.time + 30 * DAY
    swaps.list_maturity(BTC, maturity, RATE, sender=system.admin)
    lp = system.new_trader("lp")
    system.mint(lp, 20_000_000)
    system.pool.deposit(system.tokens(10_000_000), lp, sender=lp)
    system.token.approve(swaps, 2**256 - 1, sender=lp)
    swaps.fund_pool(system.tokens(1_000_000), sender=lp)
    yield system, swaps, maturity


def index_now(system) -> int:
    return system.engine.funding_now(BTC)[0]


def chain_state(system, swaps, maturity: int, holders: list[str]) -> tuple:
    book = swaps.books(BTC, maturity)
    return (
        tuple(book),
        swaps.pool_balance(),
        tuple((swaps.margin(h), tuple(swaps.swaps(h, BTC, maturity))) for h in holders),
        system.token.balanceOf(swaps),
    )


def check(system, swaps, maturity: int, model: sm.SwapsModel, holders: list[str], base: dict[str, int]) -> None:
    """Chain == model to the wei; cash conserved; zero-sum up to the protocol's rounding."""
    assert swaps.pool_balance() == model.pool_balance
    for h in holders:
        assert swaps.margin(h) == base[h] + model.margin.get(h, 0)
        s = swaps.swaps(h, BTC, maturity)
        m = model.swaps.get(h, sm.Swap())
        assert (s.size, s.fixed_flow, s.last_index, s.last_time, s.notional) == (
            m.size,
            m.fixed_flow,
            m.last_index,
            m.last_time,
            m.notional,
        )
    book = swaps.books(BTC, maturity)
    b = model.book
    assert (book.total_size, book.total_flow, book.sum_size_index, book.sum_flow_time) == (
        b.total_size,
        b.total_flow,
        b.sum_size_index,
        b.sum_flow_time,
    )
    cash = system.token.balanceOf(swaps) * system.precision
    assert cash == sum(swaps.margin(h) for h in holders) + swaps.pool_balance()
    index, now = index_now(system), system.chain.time
    pending = [swaps.pending(h, BTC, maturity) for h in holders]
    assert pending == [model.pending(h, index, now) for h in holders]
    pool = swaps.pool_unrealized(BTC, maturity)
    assert pool == model.book.pool_unrealized(index, now)
    residue = sum(pending) + pool
    assert -(2 * len(holders) + 2) <= residue <= 0, residue


def test_settlement_matches_model_across_funding_moves(desk) -> None:
    system, swaps, maturity = desk
    alice, bob, carol = (swap_trader(system, swaps, n, 100_000) for n in ("alice", "bob", "carol"))
    holders = [alice, bob, carol]
    base = {h: swaps.margin(h) for h in holders}
    longs = system.new_trader("longs", 2_000_000)
    shorts = system.new_trader("shorts", 2_000_000)
    model = sm.SwapsModel(maturity, sm.Book(RATE), pool_balance=swaps.pool_balance())

    def price() -> int:
        return system.engine.index_price(BTC)

    def do_open(who: str, size: int, limit: int) -> None:
        swaps.open(BTC, maturity, size, limit, sender=who)
        model.open(who, size, index_now(system), price(), system.chain.time)
        check(system, swaps, maturity, model, holders, base)

    def do_settle(who: str) -> None:
        swaps.settle(who, BTC, maturity, sender=carol)
        floating, fixed = model.settle_touch(who, index_now(system), system.chain.time)
        [settled] = events(system, "SwapSettled")
        assert (settled["floating"], settled["fixed"]) == (floating, fixed)
        check(system, swaps, maturity, model, holders, base)

    system.trade(longs, BTC, wad(8))  # skew long: positive funding
    do_open(alice, wad("1.000000000000000007"), RATE)
    do_open(bob, -wad("0.499999999999999989"), RATE)
    system.advance(DAY)
    do_settle(alice)
    # the floating leg is the funding a same-size long perp pays, to 1 wei (the protocol's)
    perp = system.new_trader("perp", 100_000)
    system.trade(perp, BTC, wad("1.000000000000000007"))
    system.advance(DAY // 3)
    do_settle(alice)
    [floating] = [e["floating"] for e in events(system, "SwapSettled")]
    system.trade(perp, BTC, -wad("1.000000000000000007"))
    [owed] = [e["amount"] for e in events(system, "FundingSettled") if e["account"] == perp]
    assert floating > 0 and owed - floating in (0, 1)
    swaps.set_fixed_rate(BTC, maturity, 2 * RATE, sender=system.admin)
    model.book.fixed_rate = 2 * RATE
    do_open(carol, wad("2.123456789012345677"), 2 * RATE)
    system.trade(shorts, BTC, -wad(20))  # skew flips: negative funding
    system.advance(2 * DAY)
    system.set_price(BTC, 97_000)
    system.advance(DAY)
    do_open(alice, -wad("0.300000000000000013"), 2 * RATE)
    do_settle(bob)
    system.set_price(BTC, 101_000)
    system.advance(DAY)
    swaps.close(BTC, maturity, 2 * RATE, sender=bob)
    unwind = model.close(bob, index_now(system), price(), system.chain.time)
    [closed] = events(system, "SwapClosed")
    assert closed["unwind"] == unwind != 0
    check(system, swaps, maturity, model, holders, base)
    system.advance(maturity - system.chain.time + 3600)  # past the maturity
    do_settle(alice)
    [snap] = events(system, "MaturitySnapshot")
    assert snap["time"] == system.chain.time == model.book.final_time
    system.advance(DAY)  # the legs stopped at the snapshot
    assert swaps.pending(carol, BTC, maturity) == model.pending(carol, index_now(system), system.chain.time)
    do_settle(carol)
    assert swaps.books(BTC, maturity).total_size == 0
    assert swaps.pool_unrealized(BTC, maturity) == 0


def test_bad_inputs_revert_and_change_nothing(desk) -> None:
    system, swaps, maturity = desk
    alice = swap_trader(system, swaps, "alice", 10_000)
    swaps.open(BTC, maturity, wad("0.1"), RATE, sender=alice)
    system.advance(3600)
    before = chain_state(system, swaps, maturity, [alice])
    cases = [
        (lambda: swaps.open(BTC, maturity + 1, wad(1), RATE, sender=alice), "Unknown maturity"),
        (lambda: swaps.open(BTC, maturity, 0, RATE, sender=alice), "Zero size"),
        (lambda: swaps.open(BTC, maturity, wad(1), RATE - 1, sender=alice), "Slippage"),
        (lambda: swaps.open(BTC, maturity, -wad(1), RATE + 1, sender=alice), "Slippage"),
        (lambda: swaps.open(BTC, maturity, wad(10), RATE, sender=alice), "Below initial margin"),
        (lambda: swaps.close(BTC, maturity, RATE + 1, sender=alice), "Slippage"),
        (lambda: swaps.close(BTC, maturity + 1, RATE, sender=alice), "Unknown maturity"),
        (lambda: swaps.settle(system.admin, BTC, maturity, sender=alice), "No swap"),
        (lambda: swaps.withdraw(system.tokens(10_000), sender=alice), "Below initial margin"),
        (lambda: swaps.withdraw(0, sender=alice), "Zero amount"),
        (lambda: swaps.set_fixed_rate(BTC, maturity, RATE, sender=alice), "Not admin"),
        (lambda: swaps.set_fixed_rate(BTC, maturity, wad("0.02"), sender=system.admin), "Rate beyond bound"),
        (lambda: swaps.list_maturity(BTC, maturity, RATE, sender=system.admin), "Maturity listed"),
        (lambda: swaps.list_maturity(BTC, system.chain.time, RATE, sender=system.admin), "Maturity in the past"),
        (lambda: swaps.list_maturity(7, maturity, RATE, sender=system.admin), "Unknown market"),
    ]
    for call, reason in cases:
        with pytest.raises(Reverted) as exc:
            call()
        assert exc.value.reason == reason
        assert chain_state(system, swaps, maturity, [alice]) == before
    system.advance(maturity - system.chain.time)
    before = chain_state(system, swaps, maturity, [alice])
    for call in (
        lambda: swaps.open(BTC, maturity, wad(1), RATE, sender=alice),
        lambda: swaps.close(BTC, maturity, RATE, sender=alice),
        lambda: swaps.set_fixed_rate(BTC, maturity, RATE, sender=system.admin),
    ):
        with pytest.raises(Reverted) as exc:
            call()
        assert exc.value.reason == "Expired"
        assert chain_state(system, swaps, maturity, [alice]) == before


def settle_gas(system, swaps, maturity: int, others: int) -> int:
    holder = swap_trader(system, swaps, f"holder{others}", 10_000)
    swaps.open(BTC, maturity, wad("0.1"), RATE, sender=holder)
    for i in range(others):
        other = swap_trader(system, swaps, f"other{others}-{i}", 10_000)
        swaps.open(BTC, maturity, wad("0.01") * (1 if i % 2 else -1), RATE, sender=other)
    system.advance(3600)
    swaps.settle(holder, BTC, maturity, sender=holder)
    return int(system.chain.last_receipt.gas_used)


def test_settle_gas_is_flat_in_the_number_of_holders(desk) -> None:
    system, swaps, maturity = desk
    longs = system.new_trader("longs", 1_000_000)
    system.trade(longs, BTC, wad(4))
    with system.chain.isolate():
        one = settle_gas(system, swaps, maturity, 1)
    fifty = settle_gas(system, swaps, maturity, 50)
    assert one == fifty, (one, fifty)
