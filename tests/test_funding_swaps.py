"""FundingSwaps (issue 14), cross-margined with the perps: every settlement moves the
exact model's amount (vyperp.model.swaps) between the holder's ENGINE margin and the
engine's pool balance, to the wei; the engine's ledger conserves the token after every
transaction; settlement is zero-sum up to rounding in the protocol's favour; the
engine's health includes the swaps (value at the mark, rate-sensitivity requirements);
bad inputs revert with a reason and change nothing; a settle's gas does not depend on
how many others hold swaps."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from vyperp.chain import Reverted
from vyperp.model import swaps as sm
from vyperp.protocol.swaps import SwapParams, deploy_funding_swaps
from vyperp.protocol.units import wad

from .helpers import events

BTC = 0
DAY = 86_400
PAY = wad("0.01")  # a pay-fixed open's bound: any quote up to 1 % per 8h
RECV = -wad("0.01")  # a receive-fixed open's bound


def limit(size: int) -> int:
    return PAY if size > 0 else RECV


@dataclass
class Desk:
    system: object
    swaps: object
    maturity: int
    model: sm.SwapsModel
    holders: list[str] = field(default_factory=list)

    # ------------------------------------------------------------ reads
    def index(self) -> int:
        return int(self.system.engine.funding_now(BTC)[0])

    def rate(self) -> int:
        return int(self.system.engine.funding_now(BTC)[1])

    def price(self) -> int:
        return int(self.system.engine.index_price(BTC))

    def now(self) -> int:
        return int(self.system.chain.time)

    def engine_books(self, accounts: list[str]) -> tuple:
        e = self.system.engine
        return tuple(int(e.margin(a)) for a in accounts), int(e.pool_balance()), int(e.insurance_fund())

    # ------------------------------------------------------------ checks
    def check_conservation(self) -> None:
        ledger = self.system.ledger()
        assert ledger.token_balance * ledger.precision == ledger.margins + ledger.pool_balance + ledger.insurance_fund

    def check(self) -> None:
        """Chain == model to the wei; the engine conserves; zero-sum up to rounding."""
        self.check_conservation()
        s, m = self.swaps, self.model
        for h in self.holders:
            for maturity in m.books:
                c = s.swaps(h, BTC, maturity)
                x = m.swap(h, maturity)
                assert (c.size, c.fixed_flow, c.last_index, c.last_time) == (
                    x.size,
                    x.fixed_flow,
                    x.last_index,
                    x.last_time,
                )
        for maturity, book in m.books.items():
            assert tuple(s.books(BTC, maturity).sums) == book.sums.astuple()
        assert tuple(s.live_sums(BTC)) == m.live.astuple()
        assert s.matured_value() == m.matured_value
        index, rate, price, now = self.index(), self.rate(), self.price(), self.now()
        assert tuple(s.rate_ema(BTC)) == (m.ema, m.ema_time)
        assert s.mark_rate(BTC) == m.ema_at(rate, now)
        assert s.market_params(BTC).gross_size == m.gross
        assert s.pool_unrealized_total() == m.pool_unrealized_total(index, now)
        for h in self.holders:
            assert tuple(s.account_margin(h)) == m.account_margin(h, index, rate, price, now)
        for maturity in m.books:
            pending = [s.pending(h, BTC, maturity) for h in self.holders]
            assert pending == [m.pending(h, maturity, index, now) for h in self.holders]
            book = m.books[maturity]
            i, t = (book.final_index, book.final_time) if book.final_time else (index, now)
            for h in self.holders:
                x = m.swap(h, maturity)
                assert tuple(s.accrued(h, BTC, maturity)) == sm.accrued(
                    x.size, x.fixed_flow, x.last_index, x.last_time, i, t
                )
            residue = sum(pending) + s.pool_unrealized(BTC, maturity)
            assert -(2 * len(self.holders) + 2) <= residue <= 0, residue
        # the engine's health carries the swaps: equity = margin + perp part + swap value
        for h in self.holders:
            flag = int(self.system.engine.open_markets(h)) >> 16
            assert flag == (1 if any(k[0] == h for k in m.swaps) else 0)

    # ------------------------------------------------------------ operations
    def expect_transfer(self, who: str, call, model_step) -> int:
        """Run `call`, then the model's step (at the index and price of that block: the
        call poked the engine); the holder's margin and the pool moved by the model's
        amount (the pool's payment bounded by its cash), nothing else changed."""
        (margin,), pool, insurance = self.engine_books([who])
        call()
        amount = model_step(self.index(), self.rate(), self.price(), self.now())
        _, _, moved = sm.transfer(margin, pool, amount)
        assert self.engine_books([who]) == ((margin + moved,), pool - moved, insurance)
        transfers = events(self.system, "Transferred")
        assert [(t["account"], t["amount"], t["moved"]) for t in transfers] == [(who, amount, moved)]
        self.check()
        return amount

    def open(self, who: str, maturity: int, size: int) -> int:
        """Open at the quote; the quote, the fixed flow and the settlement are the model's."""
        quotes: list[int] = []

        def step(i: int, r: int, p: int, t: int) -> int:
            amount, quoted = self.model.open(who, maturity, size, i, r, p, t)
            quotes.append(quoted)
            return amount

        expected = self.swaps.quote(who, BTC, maturity, size)
        self.expect_transfer(who, lambda: self.swaps.open(BTC, maturity, size, limit(size), sender=who), step)
        [opened] = events(self.system, "SwapOpened")
        assert opened["fixed_rate"] == quotes[0] == expected
        return quotes[0]

    def settle(self, who: str, maturity: int) -> int:
        return self.expect_transfer(
            who,
            lambda: self.swaps.settle(who, BTC, maturity, sender=self.system.admin),
            lambda i, r, p, t: self.model.settle_touch(who, maturity, i, r, t),
        )

    def close(self, who: str, maturity: int) -> int:
        unwinds: list[int] = []

        def step(i: int, r: int, p: int, t: int) -> int:
            amount, unwind = self.model.close(who, maturity, i, r, p, t)
            unwinds.append(unwind)
            return amount

        size = self.swaps.swaps(who, BTC, maturity).size
        self.expect_transfer(who, lambda: self.swaps.close(BTC, maturity, limit(-size), sender=who), step)
        [closed] = events(self.system, "SwapClosed")
        assert closed["unwind"] == unwinds[0]
        return unwinds[0]


def margin_params(system, params: SwapParams) -> sm.MarginParams:
    return sm.MarginParams(
        params.initial_k,
        params.maintenance_k,
        params.time_floor,
        params.rate_floor,
        int(system.engine.market_config(BTC).max_funding_rate),
    )


def quote_params(system, params: SwapParams) -> sm.QuoteParams:
    return sm.QuoteParams(
        params.ema_period,
        params.base_spread,
        params.skew_slope,
        params.utilisation_slope,
        int(system.engine.market_config(BTC).skew_scale),
    )


@pytest.fixture
def desk(system) -> Iterator[Desk]:
    params = SwapParams(skew_scale_fraction=0, perp_open_interest_fraction=0)  # caps: tests/test_swap_risk.py
    swaps = deploy_funding_swaps(system, params)
    maturity = system.chain.time + 30 * DAY
    swaps.list_maturity(BTC, maturity, sender=system.admin)
    model = sm.SwapsModel(margin_params(system, params), quote_params(system, params))
    model.list(maturity, int(system.engine.funding_now(BTC)[1]), system.chain.time)
    lp = system.new_trader("lp")
    system.mint(lp, 20_000_000)
    system.pool.deposit(system.tokens(10_000_000), lp, sender=lp)
    yield Desk(system, swaps, maturity, model)


def test_settlement_matches_model_across_funding_moves(desk: Desk) -> None:
    system, swaps, maturity = desk.system, desk.swaps, desk.maturity
    alice, bob, carol = (system.new_trader(n, 100_000) for n in ("alice", "bob", "carol"))
    desk.holders = [alice, bob, carol]
    longs = system.new_trader("longs", 2_000_000)
    shorts = system.new_trader("shorts", 2_000_000)

    system.trade(longs, BTC, wad(8))  # skew long: positive funding
    first = desk.open(alice, maturity, wad("1.000000000000000007"))
    desk.open(bob, maturity, -wad("0.499999999999999989"))
    system.advance(DAY)
    desk.settle(alice, maturity)
    # the floating leg is the funding a same-size long perp pays, to 1 wei (the protocol's)
    perp = system.new_trader("perp", 100_000)
    system.trade(perp, BTC, wad("1.000000000000000007"))
    system.advance(DAY // 3)
    desk.settle(alice, maturity)
    [floating] = [e["floating"] for e in events(system, "SwapSettled")]
    system.trade(perp, BTC, -wad("1.000000000000000007"))
    [owed] = [e["amount"] for e in events(system, "FundingSettled") if e["account"] == perp]
    assert floating > 0 and owed - floating in (0, 1)
    # the mark followed the funding rate up: a later pay-fixed pays more than the first
    assert desk.open(carol, maturity, wad("2.123456789012345677")) > first
    system.trade(shorts, BTC, -wad(20))  # skew flips: negative funding
    system.advance(2 * DAY)
    system.set_price(BTC, 97_000)
    system.advance(DAY)
    desk.check()
    desk.open(alice, maturity, -wad("0.300000000000000013"))
    desk.settle(bob, maturity)
    system.set_price(BTC, 101_000)
    system.advance(DAY)
    assert desk.close(bob, maturity) <= 0  # the remaining legs' gain is never paid early
    system.advance(maturity - system.chain.time + 3600)  # past the maturity
    desk.settle(alice, maturity)
    [snap] = events(system, "MaturitySnapshot")
    assert snap["time"] == system.chain.time == desk.model.books[maturity].final_time
    system.advance(DAY)  # the legs stopped at the snapshot
    desk.check()
    desk.settle(carol, maturity)
    assert swaps.books(BTC, maturity).sums.total_size == 0
    assert swaps.pool_unrealized(BTC, maturity) == 0
    assert swaps.pool_unrealized_total() == 0
    assert all(system.engine.open_markets(h) == 0 for h in desk.holders)


def test_early_close_pays_the_remaining_loss_and_forfeits_the_gain(desk: Desk) -> None:
    """After funding rose, the pay-fixed holder's remaining term is worth a gain at the
    quote and the receive-fixed holder's a loss: the loss is settled now, the gain is
    forfeited to the pool (a gain at a rate the holder can push by carrying skew is not
    paid for the term: the attack lab's skew-carry class)."""
    system, swaps, maturity = desk.system, desk.swaps, desk.maturity
    payer, receiver = (system.new_trader(n, 200_000) for n in ("payer", "receiver"))
    desk.holders = [payer, receiver]
    longs = system.new_trader("longs", 5_000_000)
    desk.open(payer, maturity, wad(2))
    desk.open(receiver, maturity, -wad(2))
    system.trade(longs, BTC, wad(30))  # long skew: funding, the EMA and the quotes rise
    system.advance(2 * DAY)

    def unwind_at_quote(who: str) -> int:
        held = swaps.swaps(who, BTC, maturity)
        quote = int(swaps.quote(who, BTC, maturity, -held.size))
        return sm.unwind(held.size, held.fixed_flow, quote, desk.price(), maturity - desk.now())

    gain = unwind_at_quote(payer)
    assert gain > 0
    assert desk.close(payer, maturity) == 0  # forfeited (the model's close agrees: desk.close checks it)
    loss = unwind_at_quote(receiver)
    assert loss < 0
    assert desk.close(receiver, maturity) == loss


def test_engine_health_and_pool_value_include_the_swaps(desk: Desk) -> None:
    system, swaps, maturity = desk.system, desk.swaps, desk.maturity
    alice = system.new_trader("alice", 50_000)
    desk.holders = [alice]
    longs = system.new_trader("longs", 2_000_000)
    system.trade(longs, BTC, wad(30))
    pool_before = int(system.engine.pool_value())
    desk.open(alice, maturity, -wad(2))  # receive fixed, pay the (high) floating leg
    system.advance(2 * DAY)
    health = system.engine.account_health(alice)
    value, initial, maintenance = swaps.account_margin(alice)
    assert value < 0 and initial > maintenance > 0
    assert health.equity == system.engine.margin(alice) + value
    assert (health.initial_margin, health.maintenance_margin) == (initial, maintenance)
    assert health.position_count == 0
    # the pool's value carries the holder's unsettled loss as the pool's gain
    assert swaps.pool_unrealized_total() > 0
    pool_now = int(system.engine.pool_value())
    assert pool_now - pool_before > 0
    desk.check()


def test_withdraw_is_blocked_by_an_unsettled_swap_loss(desk: Desk) -> None:
    system, swaps, maturity = desk.system, desk.swaps, desk.maturity
    alice = system.new_trader("alice", 60_000)
    desk.holders = [alice]
    longs = system.new_trader("longs", 5_000_000)
    system.trade(longs, BTC, wad(50))  # long skew: the floating leg runs above the fixed one
    desk.open(alice, maturity, -wad(1))
    system.advance(2 * DAY)
    loss = -swaps.pending(alice, BTC, maturity)
    assert loss > 0
    margin = int(system.engine.margin(alice))
    # every realized wei is in the margin, but the unsettled loss (and the requirement) hold it back
    with pytest.raises(Reverted) as exc:
        system.engine.withdraw(margin // system.precision, sender=alice)
    assert exc.value.reason == "Below initial margin"
    most = system.max_withdrawal(alice)
    health = system.engine.account_health(alice)
    assert 0 < most * system.precision <= health.equity - health.initial_margin + system.precision
    assert most * system.precision < margin - loss
    desk.check()


def test_bad_inputs_revert_and_change_nothing(desk: Desk) -> None:
    system, swaps, maturity = desk.system, desk.swaps, desk.maturity
    alice = system.new_trader("alice", 10_000)
    desk.holders = [alice]
    desk.open(alice, maturity, wad("0.1"))
    system.advance(3600)
    pay_quote = swaps.quote(alice, BTC, maturity, wad(1))
    receive_quote = swaps.quote(alice, BTC, maturity, -wad(1))
    close_quote = swaps.quote(alice, BTC, maturity, -wad("0.1"))
    assert pay_quote > receive_quote

    def state() -> tuple:
        return (
            tuple(swaps.books(BTC, maturity)),
            tuple(swaps.swaps(alice, BTC, maturity)),
            desk.engine_books([alice]),
            int(system.engine.open_markets(alice)),
            tuple(swaps.held(alice)),
        )

    before = state()
    cases = [
        (lambda: swaps.open(BTC, maturity + 1, wad(1), PAY, sender=alice), "Unknown maturity"),
        (lambda: swaps.open(BTC, maturity, 0, PAY, sender=alice), "Zero size"),
        (lambda: swaps.open(BTC, maturity, wad(1), pay_quote - 1, sender=alice), "Slippage"),
        (lambda: swaps.open(BTC, maturity, -wad(1), receive_quote + 1, sender=alice), "Slippage"),
        (lambda: swaps.open(BTC, maturity, wad(100), PAY, sender=alice), "Below initial margin"),
        (lambda: swaps.close(BTC, maturity, close_quote + 1, sender=alice), "Slippage"),
        (lambda: swaps.close(BTC, maturity + 1, RECV, sender=alice), "Unknown maturity"),
        (lambda: swaps.settle(system.admin, BTC, maturity, sender=alice), "No swap"),
        (lambda: swaps.liquidate(alice, sender=system.admin), "Account not liquidatable"),
        (lambda: system.engine.withdraw(system.tokens(10_000), sender=alice), "Below initial margin"),
        (lambda: system.engine.swap_transfer(alice, wad(1), True, alice, sender=alice), "Not swaps"),
        (lambda: swaps.set_quote_config(3600, 0, 0, 0, sender=alice), "Not admin"),
        (lambda: swaps.set_quote_config(0, 0, 0, 0, sender=system.admin), "Bad quote config"),
        (lambda: swaps.set_quote_config(3600, wad("0.02"), 0, 0, sender=system.admin), "Bad quote config"),
        (lambda: swaps.set_margin_config(wad(2), wad(2), 0, 0, sender=system.admin), "Bad margin config"),
        (lambda: swaps.set_margin_config(wad(4), 0, 0, 0, sender=system.admin), "Bad margin config"),
        (lambda: swaps.set_liquidation_config(wad("0.2"), 0, sender=system.admin), "Bad liquidation config"),
        (lambda: swaps.set_open_interest_cap(wad(2), 0, sender=system.admin), "Bad open interest cap"),
        (lambda: swaps.set_margin_config(wad(4), wad(2), 0, 0, sender=alice), "Not admin"),
        (lambda: swaps.list_maturity(BTC, maturity, sender=system.admin), "Maturity listed"),
        (lambda: swaps.list_maturity(BTC, system.chain.time, sender=system.admin), "Maturity in the past"),
        (lambda: swaps.list_maturity(7, maturity, sender=system.admin), "Unknown market"),
        (lambda: swaps.refresh_market(1), "Unknown maturity"),
        (lambda: system.configurator.set_swaps(alice, sender=alice), "Not admin"),
    ]
    for call, reason in cases:
        with pytest.raises(Reverted) as exc:
            call()
        assert exc.value.reason == reason
        assert state() == before
    # a second binding reverts (without a reason: once-only, admin-only)
    with pytest.raises(Reverted):
        system.configurator.set_swaps(alice, sender=system.admin)
    assert system.engine.swaps() == swaps.address
    system.advance(maturity - system.chain.time)
    before = state()
    for call in (
        lambda: swaps.open(BTC, maturity, wad(1), PAY, sender=alice),
        lambda: swaps.close(BTC, maturity, RECV, sender=alice),
    ):
        with pytest.raises(Reverted) as exc:
            call()
        assert exc.value.reason == "Expired"
        assert state() == before


def test_unbound_swaps_contract_cannot_settle(system) -> None:
    swaps = deploy_funding_swaps(system, SwapParams(skew_scale_fraction=0, perp_open_interest_fraction=0), bind=False)
    maturity = system.chain.time + 30 * DAY
    swaps.list_maturity(BTC, maturity, sender=system.admin)
    alice = system.new_trader("alice", 10_000)
    before = (int(system.engine.margin(alice)), int(system.engine.pool_balance()))
    with pytest.raises(Reverted) as exc:
        swaps.open(BTC, maturity, wad("0.1"), PAY, sender=alice)
    assert exc.value.reason == "Not swaps"
    assert (int(system.engine.margin(alice)), int(system.engine.pool_balance())) == before
    assert swaps.books(BTC, maturity).sums.total_size == 0


def settle_gas(desk: Desk, others: int) -> int:
    system, swaps, maturity = desk.system, desk.swaps, desk.maturity
    holder = system.new_trader(f"holder{others}", 10_000)
    swaps.open(BTC, maturity, wad("0.1"), PAY, sender=holder)
    for i in range(others):
        other = system.new_trader(f"other{others}-{i}", 10_000)
        size = wad("0.01") * (1 if i % 2 else -1)
        swaps.open(BTC, maturity, size, limit(size), sender=other)
    system.advance(3600)
    swaps.settle(holder, BTC, maturity, sender=holder)
    return int(system.chain.last_receipt.gas_used)


def test_settle_gas_is_flat_in_the_number_of_holders(desk: Desk) -> None:
    longs = desk.system.new_trader("longs", 1_000_000)
    desk.system.trade(longs, BTC, wad(4))
    with desk.system.chain.isolate():
        one = settle_gas(desk, 1)
    fifty = settle_gas(desk, 50)
    assert one == fifty, (one, fifty)
