"""Positions: open, increase, reduce, close, flip; fill price, fees, PnL and the ledger to the wei."""

from __future__ import annotations

import pytest

from vyperp import model
from vyperp.chain import Reverted
from vyperp.protocol.system import MAX_UINT, System
from vyperp.protocol.units import WAD, wad

from .conftest import BTC, ETH
from .helpers import events, expected_fill


def assert_books_balance(system: System) -> None:
    ledger = system.ledger()
    assert ledger.held == ledger.booked


def test_open_long_fills_at_average_mark_and_pays_taker_fee(system: System, alice: str) -> None:
    margin_before = system.engine.margin(alice)
    size = wad("0.5")
    price, fee = expected_fill(system, BTC, size)
    assert price > wad(100_000)  # buying into zero skew pays a premium
    fill = system.trade(alice, BTC, size)
    assert fill == price
    assert system.engine.margin(alice) == margin_before - fee
    assert system.engine.position(alice, BTC) == (size, price, 0)
    state = system.engine.market_state(BTC)
    assert (state.long_open_interest, state.short_open_interest) == (size, 0)
    assert system.engine.open_markets(alice) == 1 << BTC
    [event] = events(system, "PositionModified")
    assert event == {
        "account": alice,
        "market": BTC,
        "size_delta": size,
        "fill_price": price,
        "new_size": size,
        "fee": fee,
        "realized_pnl": 0,
    }
    assert system.engine.pool_balance() == fee - fee // 10  # 10 % of fees to insurance by default
    assert system.engine.insurance_fund() == fee // 10
    assert_books_balance(system)


def test_mark_price_tracks_skew(system: System, alice: str) -> None:
    system.trade(alice, BTC, wad("0.5"))
    config = system.engine.market_config(BTC)
    expected = model.mark_price(wad(100_000), wad("0.5"), config.skew_scale, config.max_premium)
    assert system.engine.mark_price(BTC) == expected
    assert expected > wad(100_000)


def test_increase_realizes_pnl_at_fill_and_resets_entry(system: System, alice: str, lp: str) -> None:
    system.trade(alice, BTC, wad("0.1"))
    position = system.engine.position(alice, BTC)
    size, entry = position.size, position.entry_price
    system.chain.advance(1)
    system.set_price(BTC, 101_000)
    margin_before = system.engine.margin(alice)
    price, fee = expected_fill(system, BTC, wad("0.1"))
    system.trade(alice, BTC, wad("0.1"))
    realized = model.pnl(size, price, entry)
    funding = events(system, "FundingSettled")
    owed = funding[0]["amount"] if funding else 0
    assert realized > 0
    assert system.engine.margin(alice) == margin_before - owed + realized - fee
    position = system.engine.position(alice, BTC)
    assert (position.size, position.entry_price) == (wad("0.2"), price)
    assert_books_balance(system)


def test_reduce_against_skew_pays_maker_fee(system: System, alice: str, bob: str) -> None:
    system.trade(alice, BTC, wad("0.3"))
    price, fee = expected_fill(system, BTC, -wad("0.1"))
    config = system.engine.market_config(BTC)
    assert fee == model.umul_up(model.umul_up(wad("0.1"), price), config.maker_fee)  # all maker
    margin_before = system.engine.margin(bob)
    system.trade(bob, BTC, -wad("0.1"))
    assert system.engine.margin(bob) == margin_before - fee
    assert_books_balance(system)


def test_close_returns_pnl_minus_fees_and_clears_position(system: System, alice: str) -> None:
    deposit = system.engine.margin(alice)
    _, open_fee = expected_fill(system, BTC, wad("0.2"))
    system.trade(alice, BTC, wad("0.2"))
    entry = system.engine.position(alice, BTC).entry_price
    price, close_fee = expected_fill(system, BTC, -wad("0.2"))
    system.trade(alice, BTC, -wad("0.2"))
    assert system.engine.position(alice, BTC) == (0, 0, 0)
    assert system.engine.open_markets(alice) == 0
    assert system.engine.margin(alice) == deposit - open_fee + model.pnl(wad("0.2"), price, entry) - close_fee
    state = system.engine.market_state(BTC)
    assert (state.long_open_interest, state.short_open_interest) == (0, 0)
    assert_books_balance(system)


def test_flip_splits_fee_between_maker_and_taker(system: System, alice: str) -> None:
    system.trade(alice, BTC, wad("0.1"))
    price, fee = expected_fill(system, BTC, -wad("0.15"))
    config = system.engine.market_config(BTC)
    maker = model.umul_up(model.umul_up(wad("0.1"), price), config.maker_fee)
    taker = model.umul_up(model.umul_up(wad("0.05"), price), config.taker_fee)
    assert fee == maker + taker
    system.trade(alice, BTC, -wad("0.15"))
    assert system.engine.position(alice, BTC).size == -wad("0.05")
    state = system.engine.market_state(BTC)
    assert (state.long_open_interest, state.short_open_interest) == (0, wad("0.05"))
    assert_books_balance(system)


def test_cross_margin_positions_in_two_markets(system: System, alice: str) -> None:
    system.trade(alice, BTC, wad("0.2"))
    system.trade(alice, ETH, -wad(2))
    assert system.engine.open_markets(alice) == 0b11
    health = system.engine.account_health(alice)
    assert health.position_count == 2
    lens_initial, _ = system.lens.margin_requirements(alice)
    assert lens_initial == health.initial_margin
    system.trade(alice, BTC, -wad("0.2"))
    assert system.engine.open_markets(alice) == 1 << ETH


@pytest.mark.parametrize("direction", [1, -1])
def test_slippage_bound(system: System, alice: str, direction: int) -> None:
    size = direction * wad("0.1")
    price, _ = expected_fill(system, BTC, size)
    bound = price - 1 if direction > 0 else price + 1
    margin = system.engine.margin(alice)
    with pytest.raises(Reverted) as err:
        system.trade(alice, BTC, size, bound)
    assert err.value.reason == "Slippage"
    assert system.engine.margin(alice) == margin
    assert system.trade(alice, BTC, size, price) == price  # exactly at the bound fills


@pytest.mark.parametrize(
    ("market", "size", "reason"),
    [(BTC, 0, "Zero size"), (7, wad(1), "Unknown market"), (2**255, wad(1), "Unknown market")],
)
def test_bad_trade_input(system: System, alice: str, market: int, size: int, reason: str) -> None:
    with pytest.raises(Reverted) as err:
        system.engine.trade(market, size, MAX_UINT, sender=alice)
    assert err.value.reason == reason


def test_over_leverage_reverts_and_changes_nothing(system: System, alice: str) -> None:
    # 10,000 margin at 10 % initial margin supports just under 100,000 notional
    margin = system.engine.margin(alice)
    with pytest.raises(Reverted) as err:
        system.trade(alice, BTC, wad(1))
    assert err.value.reason == "Below initial margin"
    assert system.engine.margin(alice) == margin
    assert system.engine.position(alice, BTC) == (0, 0, 0)
    system.trade(alice, BTC, wad("0.99"))


def test_reduction_allowed_when_below_initial_margin(system: System, alice: str) -> None:
    system.trade(alice, BTC, wad("0.9"))
    system.chain.advance(1)
    system.set_price(BTC, 98_000)
    assert system.lens.free_margin(alice) < 0
    with pytest.raises(Reverted):
        system.trade(alice, BTC, wad("0.01"))
    system.trade(alice, BTC, -wad("0.1"))


def test_max_open_interest(make_system) -> None:
    from vyperp.protocol.params import MarketParams, ProtocolParams

    system = make_system(ProtocolParams(markets=[MarketParams(max_open_interest_usd=200_000.0)]))
    alice = system.new_trader("alice", 100_000)
    system.trade(alice, 0, wad(2))
    with pytest.raises(Reverted) as err:
        system.trade(alice, 0, 1)
    assert err.value.reason == "Max open interest"
    system.trade(alice, 0, -wad(1))  # reductions are always fine


def test_premium_is_bounded(make_system) -> None:
    from vyperp.protocol.params import MarketParams, ProtocolParams

    system = make_system(ProtocolParams(markets=[MarketParams(skew_scale_usd=1_000_000.0, max_premium=0.01)]))
    whale = system.new_trader("whale", 1_000_000)
    system.trade(whale, 0, wad(5))  # 500 % of skew scale
    assert system.engine.mark_price(0) == wad(100_000) * 101 // 100
    assert system.lens.fill_price(0, wad(1)) == wad(101_000)


def test_lens_matches_engine_books(system: System, alice: str, bob: str) -> None:
    system.trade(alice, BTC, wad("0.3"))
    system.trade(bob, BTC, -wad("0.1"))
    system.advance(3600)
    system.set_price(BTC, 100_500)
    config = system.engine.market_config(BTC)
    state = system.engine.market_state(BTC)
    skew = state.long_open_interest - state.short_open_interest
    for account in (alice, bob):
        position = system.engine.position(account, BTC)
        size, entry, funding_index = position.size, position.entry_price, position.funding_index
        exit_price = model.exit_price(system.engine.index_price(BTC), skew, size, config.skew_scale, config.max_premium)
        assert system.lens.unrealized_pnl(account, BTC) == model.pnl(size, exit_price, entry)
        cumulative, _ = system.engine.funding_now(BTC)
        owed, _ = model.funding_owed(size, cumulative, funding_index, system.engine.index_price(BTC), 0, WAD)
        assert system.lens.pending_funding(account, BTC) == owed
        health = system.engine.account_health(account)
        # no LP in this test: the pool's cash is its fees, so profit counts under the PnL cap
        counted = model.position_pnl(
            size,
            entry,
            system.engine.index_price(BTC),
            skew,
            config.skew_scale,
            config.max_premium,
            model.profit_cap(system.engine.pool_balance(), config.max_pnl_pool_ratio),
            state.long_sum_size_entry_price,
            state.long_sum_size_entry_price - state.sum_size_entry_price,
            state.long_open_interest,
            state.short_open_interest,
        )
        owed = max(owed, -max(system.engine.pool_balance(), 0))
        assert system.lens.equity(account) == health.equity == system.engine.margin(account) + counted - owed


def test_closing_an_underwater_position_sends_the_shortfall_through_the_waterfall(
    system: System, alice: str, lp: str
) -> None:
    """Found by the stateful fuzzer: a trader whose loss exceeds their margin closed the
    position themselves and kept a negative margin that nobody would ever collect. Now the
    shortfall is covered like a liquidation's bad debt (insurance, then pool)."""
    system.trade(alice, BTC, wad("0.9"))  # ~9.9x on 10,000
    for price in (92_000, 85_000, 80_000):  # poked rounds, no keeper liquidates
        system.chain.advance(60)
        system.set_price(BTC, price)
        system.engine.poke(BTC, sender=lp)
    assert system.engine.account_health(alice).equity < 0
    _, fee = expected_fill(system, BTC, -wad("0.9"))
    insurance = int(system.engine.insurance_fund()) + fee // 10  # the closing fee's insurance share lands first
    system.trade(alice, BTC, -wad("0.9"))
    [covered] = events(system, "BadDebtCovered")
    assert covered["account"] == alice and covered["bad_debt"] > 0
    assert covered["from_insurance"] == min(insurance, covered["bad_debt"])
    assert covered["from_pool"] == covered["bad_debt"] - covered["from_insurance"]
    assert system.engine.margin(alice) == 0
    assert system.engine.open_markets(alice) == 0
    assert_books_balance(system)
