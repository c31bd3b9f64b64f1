"""Money to the wei: after any sequence of deposits, trades, funding, liquidations and
withdrawals (traders and LPs), the collateral the engine holds equals the sum of account
margins + pool balance + insurance fund, exactly; a reverted call changes nothing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vyperp.chain import Reverted
from vyperp.protocol.params import TIERED, LiquidationParams, MarketParams, ProtocolParams
from vyperp.protocol.system import System
from vyperp.protocol.units import WAD

TRADERS = 4

operation = st.one_of(
    st.tuples(st.just("deposit"), st.integers(0, TRADERS - 1), st.integers(1, 50_000)),
    st.tuples(st.just("withdraw"), st.integers(0, TRADERS - 1), st.integers(1, 60_000)),
    st.tuples(st.just("trade"), st.integers(0, TRADERS - 1), st.integers(-200, 200).filter(bool)),
    st.tuples(st.just("trade_eth"), st.integers(0, TRADERS - 1), st.integers(-3000, 3000).filter(bool)),
    st.tuples(st.just("close"), st.integers(0, TRADERS - 1), st.just(0)),
    st.tuples(st.just("lp_deposit"), st.just(0), st.integers(1, 500_000)),
    st.tuples(st.just("lp_redeem"), st.just(0), st.integers(1, 100)),
    st.tuples(st.just("time"), st.integers(1, 86_400), st.just(0)),
    st.tuples(st.just("price"), st.integers(0, 1), st.integers(-12, 12)),
    st.tuples(st.just("liquidate"), st.integers(0, TRADERS - 1), st.just(0)),
    st.tuples(st.just("insurance"), st.just(0), st.integers(1, 10_000)),
)


@pytest.fixture(scope="module", params=[6, 18], ids=["6-decimals", "18-decimals"])
def world(request: pytest.FixtureRequest) -> Iterator[tuple[System, list[str], str, str]]:
    params = ProtocolParams(
        markets=[
            MarketParams(symbol="BTC", skew_scale_usd=50_000_000.0),
            MarketParams(symbol="ETH", initial_price=4_000.0, skew_scale_usd=50_000_000.0),
        ],
        liquidation=LiquidationParams(tiers=TIERED),
        token_decimals=request.param,
    )
    system = System.deploy(params)
    lp = system.new_trader("lp")
    system.mint(lp, 2_000_000)
    system.pool.deposit(system.tokens(1_000_000), lp, sender=lp)
    traders = [system.new_trader(f"trader{i}", 20_000) for i in range(TRADERS)]
    keeper = system.new_trader("keeper")
    for trader in traders:
        system.mint(trader, 100_000)
    yield system, traders, lp, keeper


def snapshot_books(system: System, accounts: list[str]) -> tuple:
    return (
        system.ledger(accounts).__dict__,
        [system.engine.position(a, m) for a in accounts for m in (0, 1)],
        [system.token.balanceOf(a) for a in accounts],
        system.pool.totalSupply(),
    )


@given(operations=st.lists(operation, min_size=5, max_size=30))
def test_collateral_held_equals_books_to_the_wei(world, operations: list) -> None:
    system, traders, lp, keeper = world
    accounts = traders + [lp, keeper]
    engine = system.engine
    with system.chain.isolate():
        prices = list(system.prices)
        for kind, who, amount in operations:
            before = snapshot_books(system, accounts)
            try:
                if kind == "deposit":
                    engine.deposit(system.tokens(amount), sender=traders[who])
                elif kind == "withdraw":
                    engine.withdraw(system.tokens(amount), sender=traders[who])
                elif kind == "trade":
                    system.trade(traders[who], 0, amount * WAD // 100)
                elif kind == "trade_eth":
                    system.trade(traders[who], 1, amount * WAD // 100)
                elif kind == "close":
                    for market in (0, 1):
                        size = system.size_of(traders[who], market)
                        if size:
                            system.trade(traders[who], market, -size)
                elif kind == "lp_deposit":
                    system.pool.deposit(system.tokens(amount), lp, sender=lp)
                elif kind == "lp_redeem":
                    system.pool.redeem(system.pool.balanceOf(lp) * amount // 1000, lp, lp, sender=lp)
                elif kind == "time":
                    system.chain.advance(amount)
                    for market, price in enumerate(prices):
                        system.set_price(market, price)
                elif kind == "price":
                    prices[who] = prices[who] * (100 + amount) / 100
                    system.set_price(who, prices[who])
                elif kind == "liquidate":
                    engine.liquidate(traders[who], sender=keeper)
                elif kind == "insurance":
                    system.mint(keeper, amount)
                    engine.fund_insurance(system.tokens(amount), sender=keeper)
            except Reverted:
                assert snapshot_books(system, accounts) == before, f"{kind} reverted but changed state"
            ledger = system.ledger(accounts)
            assert ledger.held == ledger.booked, (kind, ledger)
            long_total = sum(max(system.size_of(a, 0), 0) for a in traders)
            short_total = sum(max(-system.size_of(a, 0), 0) for a in traders)
            state = engine.market_state(0)
            assert (state.long_open_interest, state.short_open_interest) == (long_total, short_total)
