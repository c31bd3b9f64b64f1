"""The safety issue's defences, each against the trick it stops (the attack lab in
vyperp/attacks.py measures the same classes end to end, before and after):

* exit-price equity: a trade cannot count the premium it creates; the initial-margin
  check is monotonic in size; equity at exit never exceeds equity at mark;
* profit bounded by the pool: the PnL-to-pool cap, profit paid only from the pool's cash
  (its balance never goes below zero through a close), ADL on the PnL-to-pool trigger;
* no frozen withdrawals; the transfer-margin floor; an underwater account cannot reduce
  itself (it closes everything or is liquidated); bankrupt accounts close in one step;
* open-interest caps in USD at the index and against pool value;
* delayed orders (the front-running defence) and the guardian's settlement mode;
* ADL never leaves a flat account below zero and skips stale candidates;
* ten brackets (the Binance BTCUSDT table), liquidation_price 0 where none exists,
  sub-dollar and fractional prices.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vyperp import model, resources
from vyperp.chain import Reverted
from vyperp.protocol.params import Bracket, LiquidationParams, MarketParams, ProtocolParams, binance_brackets
from vyperp.protocol.system import MAX_UINT, System
from vyperp.protocol.units import WAD, wad

BTC = 0
ONE = WAD
SHARED = resources.SHARED_DATA


def attack_market(**overrides: Any) -> MarketParams:
    """The issue's market: one 2 % IM / 1 % MM bracket, skew scale 1e9 USD, premium 5 %."""
    base = dict(
        symbol="BTC",
        initial_price=100_000.0,
        skew_scale_usd=1e9,
        max_premium=0.05,
        brackets=(Bracket(float("inf"), 0.02, 0.01),),
        max_open_interest_usd=1e12,
    )
    base.update(overrides)
    return MarketParams(**base)


def deploy(
    make_system: Callable[..., System],
    *markets: MarketParams,
    liquidation: LiquidationParams | None = None,
    lp_usd: int = 10_000_000,
) -> tuple[System, str]:
    system = make_system(
        ProtocolParams(markets=list(markets) or [attack_market()], liquidation=liquidation or LiquidationParams())
    )
    lp = system.new_trader("lp")
    if lp_usd:
        system.mint(lp, lp_usd)
        system.pool.deposit(system.tokens(lp_usd), lp, sender=lp)
    return system, lp


def reverts(reason: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    with pytest.raises(Reverted) as exc:
        fn(*args, **kwargs)
    assert exc.value.reason == reason


def conserved(system: System, accounts: list[str]) -> None:
    ledger = system.ledger(accounts)
    assert ledger.held == ledger.booked


# ---------------------------------------------------------------- exit-price equity


def test_self_created_premium_is_not_equity(make_system: Callable[..., System]) -> None:
    """Issue class 1: 100,000 USD could open 9 B USD at 100,000 because the open's own
    premium counted as a gain. Now the largest open is bounded by the IM (50x) and a
    round trip returns less than it cost."""
    system, lp = deploy(make_system)
    attacker = system.new_trader("attacker", 100_000)
    for notional in (50e6, 100e6, 1e9, 5e9, 9e9):
        size = wad(notional / 100_000)
        reverts("Below initial margin", system.trade, attacker, BTC, size)
    system.trade(attacker, BTC, wad(40))  # 4 M USD, 40x: accepted
    health = system.engine.account_health(attacker)
    assert health.equity < 100_000 * WAD  # no paper gain from its own premium
    system.trade(attacker, BTC, -wad(40))
    assert system.engine.margin(attacker) < 100_000 * WAD
    conserved(system, [attacker, lp])


@settings(max_examples=40, deadline=None)
@given(sizes=st.lists(st.integers(1, 20_000), min_size=2, max_size=6, unique=True))
def test_initial_margin_check_is_monotonic_in_size(sizes: list[int]) -> None:
    """Accepted opens form a prefix of the sizes: if a size is refused, every larger is."""
    system = _monotonic_system()
    snapshot = system.chain.snapshot()
    try:
        accepted = []
        for coins_x10 in sorted(sizes):
            snap = system.chain.snapshot()
            try:
                system.trade(system.accounts_by_name["attacker"], BTC, coins_x10 * WAD // 10)
                accepted.append(True)
            except Reverted as exc:
                assert exc.reason in {"Below initial margin", "Max open interest"}, exc.reason
                accepted.append(False)
            system.chain.revert(snap)
        assert accepted == sorted(accepted, reverse=True), f"IM check not monotonic over {sorted(sizes)}: {accepted}"
    finally:
        system.chain.revert(snapshot)


_MONOTONIC: list[System] = []


def _monotonic_system() -> System:
    if not _MONOTONIC:
        system = System.deploy(ProtocolParams(markets=[attack_market(skew_scale_usd=2e8)]))
        lp = system.new_trader("lp")
        system.mint(lp, 10_000_000)
        system.pool.deposit(system.tokens(10_000_000), lp, sender=lp)
        other = system.new_trader("other", 1_000_000)
        system.trade(other, BTC, -wad(30))  # an existing skew the attacker trades against
        system.accounts_by_name = {"attacker": system.new_trader("attacker", 100_000)}  # type: ignore[attr-defined]
        _MONOTONIC.append(system)
    return _MONOTONIC[0]


def test_equity_at_exit_never_exceeds_equity_at_mark(make_system: Callable[..., System]) -> None:
    system, lp = deploy(make_system, attack_market(skew_scale_usd=5e7))
    alice = system.new_trader("alice", 500_000)
    bob = system.new_trader("bob", 500_000)
    system.trade(alice, BTC, wad(30))
    system.trade(bob, BTC, -wad(10))
    system.advance(60)
    system.set_price(BTC, 104_000)
    mark = int(system.engine.mark_price(BTC))
    for account in (alice, bob):
        position = system.engine.position(account, BTC)
        size, entry = position.size, position.entry_price
        at_mark = (
            int(system.engine.margin(account))
            + model.pnl(size, mark, entry)
            - int(system.lens.pending_funding(account, BTC))
        )
        assert int(system.engine.account_health(account).equity) <= at_mark


def test_withdraw_against_own_premium_is_refused(make_system: Callable[..., System]) -> None:
    """The ETH case of the issue: a 15.23 M account opening 304 M could withdraw 15.07 M at
    an unchanged price. Now equity at exit carries no premium: withdrawing leaves IM only."""
    eth = MarketParams(
        symbol="ETH",
        initial_price=4_000.0,
        skew_scale_usd=1e9,
        max_premium=0.05,
        brackets=(Bracket(float("inf"), 0.02, 0.01),),
        max_open_interest_usd=1e12,
    )
    system, lp = deploy(make_system, eth, lp_usd=50_000_000)
    whale = system.new_trader("whale", 15_230_000)
    system.trade(whale, BTC, wad(304_000_000 / 4_000))  # 304 M at 4,000: 20x, within the 2 % IM
    health = system.engine.account_health(whale)
    assert int(health.equity) < 15_230_000 * WAD  # no paper gain from its own premium
    assert int(health.transfer_margin) > int(health.equity)  # 10 % of 304 M: nothing can leave
    reverts("Below transfer margin", system.engine.withdraw, system.tokens(1), sender=whale)
    system.trade(whale, BTC, -wad(200_000_000 / 4_000))  # down to 104 M
    health = system.engine.account_health(whale)
    limit = int(health.equity) - max(int(health.initial_margin), int(health.transfer_margin))
    assert 0 < limit < 15_230_000 * WAD
    reverts("Below transfer margin", system.engine.withdraw, limit // system.precision + system.tokens(1), sender=whale)
    system.engine.withdraw(limit // system.precision, sender=whale)


# ---------------------------------------------------------------- profit bounded by the pool


def test_close_never_takes_the_pool_below_zero_and_flat_accounts_withdraw(make_system: Callable[..., System]) -> None:
    """Issue class 2: a close did pool_balance -= pnl even below zero, and then every
    withdrawal froze. Now profit is paid only from the pool's cash."""
    system, lp = deploy(
        make_system, attack_market(max_pnl_pool_ratio=0.0, adl_pnl_pool_ratio=0.0, max_price_jump=1.0), lp_usd=200_000
    )
    whale = system.new_trader("whale", 1_000_000)
    saver = system.new_trader("saver", 50_000)  # a flat account with a balance
    system.trade(whale, BTC, wad(20))
    system.advance(60)
    system.set_price(BTC, 160_000)  # +60 %: 1.2 M of profit against a 200 k pool
    system.trade(whale, BTC, -wad(20))
    (haircut,) = [e for e in system.chain.last_receipt.logs if e.name == "ProfitHaircut"]
    assert haircut.args["paid"] < haircut.args["profit"]
    assert int(system.engine.pool_balance()) >= 0
    system.engine.withdraw(system.tokens(50_000), sender=saver)  # never frozen
    system.engine.withdraw(int(system.engine.margin(whale)) // system.precision, sender=whale)
    conserved(system, [whale, saver, lp])


def test_pnl_cap_pays_profit_pro_rata(make_system: Callable[..., System]) -> None:
    """GMX v2's max-PnL factor: beyond 50 % of the pool, a side's profit counts pro rata."""
    system, lp = deploy(
        make_system, attack_market(max_pnl_pool_ratio=0.5, adl_pnl_pool_ratio=0.0, max_price_jump=1.0), lp_usd=1_000_000
    )
    longs = [system.new_trader(f"long{i}", 200_000) for i in range(2)]
    for trader in longs:
        system.trade(trader, BTC, wad(10))
    system.advance(60)
    system.set_price(BTC, 150_000)  # +50 %: ~1 M of long profit vs a 0.5 M cap
    state = system.engine.market_state(BTC)
    mark = int(system.engine.mark_price(BTC))
    side = model.side_profit(state.long_open_interest, state.long_sum_size_entry_price, mark, True)
    pool_before = int(system.engine.pool_balance())
    assert side > pool_before // 2
    health = system.engine.account_health(longs[0])
    margin = int(system.engine.margin(longs[0]))
    assert int(health.equity) - margin <= pool_before // 2 * 6 // 10  # counted under the cap
    before = int(system.engine.margin(longs[0]))
    system.trade(longs[0], BTC, -wad(10))
    logs = system.chain.last_receipt.logs
    (haircut,) = [e.args for e in logs if e.name == "ProfitHaircut"]
    owed = sum(e.args["amount"] for e in logs if e.name == "FundingSettled")  # settled before the fill
    cap = (pool_before + owed) // 2
    assert haircut["paid"] == model.capped_profit(haircut["profit"], side, cap) < haircut["profit"]
    assert int(system.engine.margin(longs[0])) - before <= haircut["paid"]


def test_adl_opens_on_the_pnl_to_pool_trigger(make_system: Callable[..., System]) -> None:
    """Before any bad debt: a side's profit past 45 % of the pool opens ADL of that side."""
    system, lp = deploy(
        make_system,
        attack_market(max_pnl_pool_ratio=0.5, adl_pnl_pool_ratio=0.45, max_price_jump=1.0),
        lp_usd=1_000_000,
    )
    keeper = system.new_trader("keeper")
    long = system.new_trader("long", 200_000)
    system.trade(long, BTC, wad(10))
    reverts("ADL not needed", system.engine.auto_deleverage, BTC, [long], sender=keeper)
    system.advance(60)
    system.set_price(BTC, 160_000)  # ~600 k profit > 450 k trigger
    assert int(system.engine.pool_value()) >= 0  # no deficit: the trigger alone opens ADL
    assert system.engine.auto_deleverage(BTC, [long], sender=keeper) == 1
    assert system.size_of(long, BTC) == 0
    assert int(system.engine.pool_balance()) >= 0
    reverts("ADL not needed", system.engine.auto_deleverage, BTC, [long], sender=keeper)


# ---------------------------------------------------------------- withdrawals and underwater accounts


def test_underwater_account_cannot_reduce_itself(make_system: Callable[..., System]) -> None:
    """Fuzz finding 9a: a dust reduction by a deeply underwater account booked its whole
    loss into the pool's balance. Now it can only close everything or be liquidated."""
    system, lp = deploy(make_system, attack_market(max_price_jump=1.0), lp_usd=1_000_000)
    trader = system.new_trader("trader", 20_000)
    other = system.new_trader("other", 50_000)
    system.trade(trader, BTC, wad(9))
    system.trade(other, BTC, -wad(1))
    system.advance(60)
    system.set_price(BTC, 95_000)  # -5 %: -45 k on 20 k of margin
    assert int(system.engine.account_health(trader).equity) < 0
    pool_before = int(system.engine.pool_balance())
    reverts("Account underwater", system.trade, trader, BTC, -wad(1) // 1000)
    assert int(system.engine.pool_balance()) == pool_before
    keeper = system.new_trader("keeper")
    system.engine.liquidate(trader, sender=keeper)
    assert system.size_of(trader, BTC) == 0 and int(system.engine.margin(trader)) == 0
    assert int(system.engine.pool_balance()) >= 0
    conserved(system, [trader, other, lp, keeper])


def test_bankrupt_account_closes_every_market_in_one_step(make_system: Callable[..., System]) -> None:
    """Even when the market with the largest requirement is in profit (a step on it alone
    would leave the account open, bankrupt in the other market), every position closes."""
    btc = attack_market(max_price_jump=1.0)
    eth = attack_market(symbol="ETH", initial_price=4_000.0, max_price_jump=1.0)
    system, lp = deploy(make_system, btc, eth, lp_usd=2_000_000)
    trader = system.new_trader("trader", 40_000)
    system.trade(trader, 0, wad(9))  # BTC: the largest requirement, will gain
    system.trade(trader, 1, wad(100))  # ETH: will lose far more
    system.advance(60)
    system.set_price(0, 101_000)
    system.set_price(1, 2_800)
    keeper = system.new_trader("keeper")
    health = system.engine.account_health(trader)
    assert int(health.equity) < 0 and health.largest_market == 0
    assert int(system.lens.unrealized_pnl(trader, 0)) > 0
    system.engine.liquidate(trader, sender=keeper)
    steps = [e.args for e in system.chain.last_receipt.logs if e.name == "Liquidated"]
    assert sorted(step["market"] for step in steps) == [0, 1]
    assert system.engine.open_markets(trader) == 0 and int(system.engine.margin(trader)) == 0
    conserved(system, [trader, lp, keeper])


# ---------------------------------------------------------------- open-interest caps


def test_open_interest_caps_are_usd_at_the_index_and_against_the_pool(make_system: Callable[..., System]) -> None:
    system, lp = deploy(
        make_system,
        attack_market(max_open_interest_usd=2_000_000.0, max_open_interest_pool_ratio=0.5, max_price_jump=1.0),
        lp_usd=3_000_000,
    )
    trader = system.new_trader("trader", 1_000_000)
    system.trade(trader, BTC, wad(15))  # 1.5 M: under both caps
    reverts("Max open interest", system.trade, trader, BTC, wad(1))  # 1.6 M > 0.5 x 3 M
    system.mint(lp, 3_000_000)
    system.pool.deposit(system.tokens(3_000_000), lp, sender=lp)
    system.trade(trader, BTC, wad(4))  # 1.9 M: under 2 M and 3 M
    system.advance(60)
    system.set_price(BTC, 110_000)  # the same coins are now 2.09 M
    reverts("Max open interest", system.trade, trader, BTC, wad(1) // 100)
    system.trade(trader, BTC, -wad(2))  # reductions always pass


# ---------------------------------------------------------------- delayed orders (front-running)


def test_delayed_orders_fill_at_a_later_round(make_system: Callable[..., System]) -> None:
    """Issue class 4: a round trip around a known +15 % round paid ~100 % of the move.
    A delayed market fills the open at the round after the commit: no edge."""
    system, lp = deploy(make_system, attack_market(delayed_orders=True, order_ttl=120))
    book = system.order_book
    attacker = system.new_trader("attacker", 200_000)
    keeper = system.new_trader("keeper")
    reverts("Delayed orders only", system.trade, attacker, BTC, wad(10))
    book.commit_order(BTC, wad(10), MAX_UINT, sender=attacker)
    reverts("Order waits for a new round", book.execute_order, attacker, BTC, sender=keeper)
    system.advance(10, refresh=False)
    system.set_price(BTC, 115_000)  # the round the attacker knew about
    price = book.execute_order(attacker, BTC, sender=keeper)
    assert int(price) >= 115_000 * WAD  # filled at the new round, not before it
    system.trade(attacker, BTC, -wad(10))  # the close is immediate
    assert int(system.engine.margin(attacker)) < 200_000 * WAD
    reverts("No order", book.execute_order, attacker, BTC, sender=keeper)
    book.commit_order(BTC, wad(1), MAX_UINT, sender=attacker)
    book.cancel_order(BTC, sender=attacker)
    reverts("No order", book.cancel_order, BTC, sender=attacker)
    book.commit_order(BTC, wad(1), MAX_UINT, sender=attacker)
    system.advance(121)
    assert book.execute_order(attacker, BTC, sender=keeper) == 0  # expired: cleared, nothing traded
    assert system.size_of(attacker, BTC) == 0
    reverts("Not order book", system.engine.trade_for, attacker, BTC, wad(1), MAX_UINT, sender=attacker)
    reverts("Zero size", book.commit_order, BTC, 0, MAX_UINT, sender=attacker)
    reverts("Unknown market", book.commit_order, 5, wad(1), MAX_UINT, sender=attacker)


# ---------------------------------------------------------------- settlement mode


def test_guardian_settlement_closes_at_the_price_and_withdrawals_continue(make_system: Callable[..., System]) -> None:
    """Hyperliquid's JELLY delisting: settle at a price, no new risk, everyone closes there."""
    system, lp = deploy(make_system, attack_market(max_price_jump=1.0), lp_usd=1_000_000)
    long = system.new_trader("long", 100_000)
    short = system.new_trader("short", 100_000)
    keeper = system.new_trader("keeper")
    system.trade(long, BTC, wad(5))
    system.trade(short, BTC, -wad(3))
    reverts("Not guardian", system.configurator.settle_market, BTC, wad(90_000), sender=keeper)
    reverts("Market not settled", system.engine.close_settled, long, BTC, sender=keeper)
    system.configurator.settle_market(BTC, wad(90_000), sender=system.admin)
    reverts("Market settled", system.configurator.settle_market, BTC, wad(91_000), sender=system.admin)
    assert int(system.engine.index_price(BTC)) == int(system.engine.mark_price(BTC)) == wad(90_000)
    system.set_price(BTC, 400_000)  # the oracle no longer matters
    reverts("Market paused", system.trade, long, BTC, wad(1))
    cumulative = system.engine.funding_now(BTC)[0]
    system.advance(3600)
    assert system.engine.funding_now(BTC)[0] == cumulative  # funding stopped
    entry = int(system.engine.position(long, BTC).entry_price)
    margin = int(system.engine.margin(long))
    system.engine.close_settled(long, BTC, sender=keeper)  # anyone may close it
    (mod,) = [e.args for e in system.chain.last_receipt.logs if e.name == "PositionModified"]
    assert mod["fill_price"] == wad(90_000) and mod["fee"] == 0
    owed = sum(e.args["amount"] for e in system.chain.last_receipt.logs if e.name == "FundingSettled")
    assert int(system.engine.margin(long)) == margin - owed + model.pnl(wad(5), wad(90_000), entry)
    system.engine.close_settled(short, BTC, sender=keeper)
    reverts("No position", system.engine.close_settled, short, BTC, sender=keeper)
    for account in (long, short):
        system.engine.withdraw(int(system.engine.margin(account)) // system.precision, sender=account)
    conserved(system, [long, short, lp, keeper])


# ---------------------------------------------------------------- ADL edge cases (fuzz findings 9b, 9c)


def test_adl_skips_a_candidate_out_of_profit_and_never_leaves_negative_margin(
    make_system: Callable[..., System],
) -> None:
    system, lp = deploy(
        make_system, attack_market(max_pnl_pool_ratio=0.5, adl_pnl_pool_ratio=0.1, max_price_jump=1.0), lp_usd=1_000_000
    )
    keeper = system.new_trader("keeper")
    a = system.new_trader("a", 200_000)
    b = system.new_trader("b", 200_000)
    loser = system.new_trader("loser", 200_000)
    system.trade(a, BTC, wad(10))
    system.trade(loser, BTC, -wad(1))
    system.trade(b, BTC, wad(1))
    system.advance(60)
    system.set_price(BTC, 120_000)
    # the loser (a short) is no candidate: skipped, the batch goes on
    assert system.engine.auto_deleverage(BTC, [a, loser, b], sender=keeper) >= 1
    for account in (a, b, loser):
        if system.engine.open_markets(account) == 0:
            assert int(system.engine.margin(account)) >= 0
    assert system.size_of(loser, BTC) == -wad(1)
    reverts("ADL candidates not ranked", _adl_unranked, system, keeper)


def _adl_unranked(system: System, keeper: str) -> None:
    small = system.new_trader("small", 1_000_000)
    big = system.new_trader("big", 100_000)
    system.trade(small, BTC, wad(1))
    system.trade(big, BTC, wad(10))
    system.advance(60)
    system.set_price(BTC, 150_000)
    system.engine.auto_deleverage(BTC, [small, big], sender=keeper)  # low score first


# ---------------------------------------------------------------- brackets, liquidation price, prices


def test_the_binance_btcusdt_table_lists_and_matches_binance() -> None:
    path = SHARED / "leverage_brackets" / "binance_BTCUSDT_leverageBracket_snapshot_boolean404.json"
    if not path.exists():
        pytest.skip("shared data not present")
    brackets = binance_brackets(path)
    assert len(brackets) == 10
    system = System.deploy(ProtocolParams(markets=[attack_market(brackets=brackets)]))
    assert len(system.engine.brackets_of(BTC)) == 10
    _, maintenance = system.lens.margin_requirement(BTC, wad(30_000_000))
    assert maintenance == wad(953_700)  # Binance: 30 M x 5 % - 546,300
    for i, row in enumerate(json.loads(path.read_text())[0]["brackets"]):
        assert int(system.lens.maintenance_amount(BTC, i)) == wad(row["cum"])
    with pytest.raises(ValueError, match="1 to 10 margin brackets"):
        MarketParams(brackets=brackets + (Bracket(float("inf"), 1.0, 0.5),))


def test_liquidation_price_is_zero_when_there_is_none(make_system: Callable[..., System]) -> None:
    system, lp = deploy(make_system, attack_market(brackets=(Bracket(float("inf"), 0.1, 0.05),)))
    long = system.new_trader("long", 1_000_000)
    system.trade(long, BTC, wad(1))  # 0.1x: never liquidated above zero
    assert system.lens.liquidation_price(long, BTC) == 0
    levered = system.new_trader("levered", 12_000)
    system.trade(levered, BTC, wad(1))
    price = int(system.lens.liquidation_price(levered, BTC))
    assert 90_000 * WAD < price < 100_000 * WAD
    short = system.new_trader("short", 12_000)
    system.trade(short, BTC, -wad(1))
    assert 100_000 * WAD < int(system.lens.liquidation_price(short, BTC)) < 110_000 * WAD


@pytest.mark.parametrize("price", ["0.0095", "1.9", "100000"])
def test_prices_of_any_magnitude_are_exact(make_system: Callable[..., System], price: str) -> None:
    """Issue item 10: sub-dollar markets raised ZeroDivisionError, 1.9 scaled 1.9x wrong."""
    market = attack_market(symbol="X", initial_price=float(price), skew_scale_usd=1e8)
    assert market.skew_scale() == wad("1e8") * WAD // wad(price)
    system, lp = deploy(make_system, market, lp_usd=1_000_000)
    config = system.engine.market_config(BTC)
    assert config.skew_scale == market.skew_scale()
    assert config.max_open_interest == wad(1e12)
    trader = system.new_trader("trader", 10_000)
    size = wad(100_000) * WAD // wad(price)  # 100 k USD of coins
    fill = system.trade(trader, BTC, size)
    assert fill == model.fill_price(wad(price), 0, size, config.skew_scale, config.max_premium)
    system.trade(trader, BTC, -size)
    conserved(system, [trader, lp])


# ---------------------------------------------------------------- ADL policies


def test_pro_rata_adl_cuts_every_profit_by_one_fraction_and_keeps_positions(system: System) -> None:
    """arXiv 2512.01112's risk-aware rule: instead of closing the top of the queue, every
    profitable position keeps its size and loses the same fraction of its profit, just
    enough (up to the netting of a side's losers) to cover the deficit."""
    from tests.test_liquidation import _crash, liquidate_checked

    who = _crash(system)
    accounts = list(who.values())
    system.set_price(BTC, 80_000)
    liquidate_checked(system, who["alice"], who["keeper"], accounts)
    value = int(system.engine.pool_value())
    assert value < 0 and int(system.engine.insurance_fund()) == 0
    winners = [who[n] for n in ("carol", "bob", "dave")]
    sizes = {a: system.size_of(a, BTC) for a in winners}
    entries = {a: int(system.engine.position(a, BTC).entry_price) for a in winners}
    state = system.engine.market_state(BTC)
    mark = int(system.engine.mark_price(BTC))
    short_sum = state.long_sum_size_entry_price - state.sum_size_entry_price
    profit = model.side_profit(
        state.long_open_interest, state.long_sum_size_entry_price, mark, True
    ) + model.side_profit(state.short_open_interest, short_sum, mark, False)
    fraction = min((-value * WAD + profit - 1) // profit, WAD)
    assert system.engine.auto_deleverage_pro_rata(BTC, [who["erin"]] + winners, sender=who["keeper"]) == 3
    cuts = [e.args for e in system.chain.last_receipt.logs if e.name == "AutoDeleveraged"]
    assert [c["account"] for c in cuts] == winners  # erin (a losing long) skipped
    for cut in cuts:
        account = cut["account"]
        assert cut["size_closed"] == 0 and system.size_of(account, BTC) == sizes[account]
        at_mark = model.pnl(sizes[account], mark, entries[account])
        assert cut["haircut"] >= min(model.umul_up(at_mark, fraction), cut["realized_pnl"])
    haircut = sum(c["haircut"] for c in cuts)
    assert haircut >= -value  # the deficit is covered ...
    assert int(system.engine.pool_value()) >= 0
    assert haircut + value <= haircut // 10  # ... overshooting it by the netting only
    conserved(system, accounts)
    reverts("ADL not needed", system.engine.auto_deleverage_pro_rata, BTC, winners, sender=who["keeper"])


def test_no_margin_rests_below_zero_so_the_pool_never_owes_more_than_it_holds(
    make_system: Callable[..., System],
) -> None:
    """The one path that could have taken the pool's balance below zero -- an account
    realizing a loss beyond its margin while another market's gain backs its equity, the
    pool paying that cash out, then the gain vanishing -- is closed at its first step: a
    trade may not leave a negative realized margin beside open positions ("Negative
    margin": realize the gain first), and a liquidation step that would, closes everything
    at once. So every margin is >= 0 at rest and the token balance backs every flat account."""
    btc = attack_market(max_price_jump=1.0, max_pnl_pool_ratio=0.0, adl_pnl_pool_ratio=0.0)
    eth = attack_market(
        symbol="ETH", initial_price=4_000.0, max_price_jump=1.0, max_pnl_pool_ratio=0.0, adl_pnl_pool_ratio=0.0
    )
    system, lp = deploy(make_system, btc, eth, lp_usd=100_000)
    keeper = system.new_trader("keeper")
    saver = system.new_trader("saver", 5_000)  # flat from the start
    a = system.new_trader("a", 40_000)
    b = system.new_trader("b", 300_000)
    system.trade(a, 0, wad(4))  # BTC long (its largest requirement), will lose
    system.trade(a, 1, wad(50))  # ETH long, will gain
    system.trade(b, 1, wad(130))  # b rides ETH with a, against the pool
    system.advance(60)
    system.set_price(0, 90_000)  # BTC -10 %: a loses 40 k on 40 k
    system.set_price(1, 5_000)  # ETH +25 %: a gains 50 k, b 130 k
    assert int(system.engine.account_health(a).equity) > 0
    reverts("Negative margin", system.trade, a, 0, -wad(4))  # the loss first: refused
    system.trade(b, 1, -wad(130))  # b's profit takes the pool's cash
    assert int(system.engine.pool_balance()) < 1_000 * WAD  # (what is left is that close's fee)
    system.advance(60)
    system.set_price(0, 90_000)
    system.set_price(1, 4_080)  # a: equity above zero, below maintenance
    health = system.engine.account_health(a)
    assert 0 <= int(health.equity) < int(health.maintenance_margin)
    system.engine.liquidate(a, sender=keeper)  # the BTC step would go negative: all close
    assert sorted(e.args["market"] for e in system.chain.last_receipt.logs if e.name == "Liquidated") == [0, 1]
    assert system.engine.open_markets(a) == 0 and int(system.engine.margin(a)) >= 0
    assert int(system.engine.pool_balance()) >= 0
    for account in (saver, b, a):  # every flat account leaves in full
        amount = int(system.engine.margin(account)) // system.precision
        if amount:
            system.engine.withdraw(amount, sender=account)
    conserved(system, [a, b, lp, saver, keeper])


def test_the_pool_pays_funding_only_from_its_cash(make_system: Callable[..., System]) -> None:
    """With more shorts than longs and a positive interest rate, shorts receive more funding
    than longs pay: the pool pays the difference, but never more than it holds."""
    system, lp = deploy(make_system, attack_market(interest_rate=0.0005, funding_clamp=0.0005), lp_usd=0)
    long = system.new_trader("long", 50_000)
    short = system.new_trader("short", 200_000)
    system.trade(long, BTC, wad(1))
    system.trade(short, BTC, -wad(5))
    cash = int(system.engine.pool_balance())  # only the fees so far
    assert 0 < cash < 1_000 * WAD
    system.advance(30 * 86_400)  # a month of the short side receiving
    owed = int(system.lens.pending_funding(short, BTC))
    assert owed < -cash  # more than the pool holds
    margin = int(system.engine.margin(short))
    system.trade(short, BTC, wad(1))  # a touch settles its funding
    (settled,) = [e.args for e in system.chain.last_receipt.logs if e.name == "FundingSettled"]
    assert settled["amount"] == -cash  # paid up to the pool's cash, no further
    assert int(system.engine.pool_balance()) >= 0
    assert int(system.engine.margin(short)) > margin
