"""Collateral token (6 and 18 decimals) and the engine's margin account: deposits,
withdrawals, the token/ledger invariant, and the withdrawal guards.

Run: ``.venv/bin/python -m pytest tests/test_token_and_margin_account.py -q -p no:ape_test``
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import default_params
from vyperp import model
from vyperp.chain import Reverted
from vyperp.protocol.system import MAX_UINT, System
from vyperp.protocol.units import WAD

BTC, ETH = 0, 1


# ------------------------------------------------------------------ exact pricing helpers


def _ceil_div(a: int, b: int) -> int:
    return -((-a) // b)


def _trunc_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def _umul_up(a: int, b: int) -> int:
    return _ceil_div(a * b, WAD)


def _premium(skew: int, scale: int, max_premium: int) -> int:
    return max(-max_premium, min(max_premium, _trunc_div(skew * WAD, scale)))


def expected_fill(s: System, market: int, size_delta: int) -> tuple[int, int]:
    """(fill price, fee) for `size_delta` now, recomputed from the market's config and state."""
    config = s.engine.market_config(market)
    state = s.engine.market_state(market)
    scale, max_premium, taker, maker = config.skew_scale, config.max_premium, config.taker_fee, config.maker_fee
    skew = state.long_open_interest - state.short_open_interest
    index = s.engine.index_price(market)
    scaled = index * (2 * WAD + _premium(skew, scale, max_premium) + _premium(skew + size_delta, scale, max_premium))
    price = _ceil_div(scaled, 2 * WAD) if size_delta > 0 else scaled // (2 * WAD)
    reducing = min(abs(size_delta), abs(skew)) if skew != 0 and (skew > 0) != (size_delta > 0) else 0
    increasing = abs(size_delta) - reducing
    fee = _umul_up(_umul_up(reducing, price), maker) + _umul_up(_umul_up(increasing, price), taker)
    return price, fee


# ------------------------------------------------------------------ fixtures: one system per token decimals


@pytest.fixture(scope="module", params=[6, 18], ids=["dec6", "dec18"])
def base(request) -> System:
    s = System.deploy(default_params(token_decimals=request.param))
    lp = s.new_trader("lp")
    s.mint(lp, 1_000_000)
    s.pool.deposit(s.tokens(1_000_000), lp, sender=lp)
    return s


@pytest.fixture
def s(base: System) -> Iterator[System]:
    snapshot = base.chain.snapshot()
    prices, accounts, labels = list(base.prices), list(base.accounts), dict(base.chain.accounts)
    yield base
    base.chain.revert(snapshot)
    base.prices = prices
    base.accounts = accounts
    base.chain.accounts.clear()
    base.chain.accounts.update(labels)


def assert_books_balance(s: System) -> None:
    ledger = s.ledger()
    assert ledger.token_balance * s.precision == ledger.margins + ledger.pool_balance + ledger.insurance_fund
    assert ledger.held == ledger.booked


# ================================================================== token


def test_token_metadata(s):
    assert s.token.decimals() == s.decimals
    assert s.engine.PRECISION() == 10 ** (18 - s.decimals)
    assert s.engine.COLLATERAL() == s.token.address
    assert s.pool.decimals() == s.decimals
    assert s.pool.asset() == s.token.address


# ================================================================== deposit / withdraw


def test_deposit_credits_exact_margin(s):
    trader = s.new_trader("trader")
    amount = 1_234 * 10**s.decimals + 567  # an awkward number of token units
    s.token.mint(trader, 2 * amount + 1, sender=s.admin)
    engine_before = s.token.balanceOf(s.engine)

    s.engine.deposit(amount, sender=trader)
    [log] = [e for e in s.chain.last_receipt.logs if e.name == "Deposited"]
    assert log.args == {"account": trader, "amount": amount}
    assert s.engine.margin(trader) == amount * 10 ** (18 - s.decimals)
    assert s.token.balanceOf(trader) == amount + 1
    assert s.token.balanceOf(s.engine) == engine_before + amount

    s.engine.deposit(amount + 1, sender=trader)
    assert s.engine.margin(trader) == (2 * amount + 1) * 10 ** (18 - s.decimals)
    assert s.token.balanceOf(trader) == 0
    assert s.token.balanceOf(s.engine) == engine_before + 2 * amount + 1
    assert_books_balance(s)


def test_withdraw_returns_exact_tokens(s):
    trader = s.new_trader("trader")
    deposited = s.fund(trader, 5_000)
    assert deposited == 5_000 * 10**s.decimals
    engine_before = s.token.balanceOf(s.engine)

    amount = 1_111 * 10**s.decimals + 3
    s.engine.withdraw(amount, sender=trader)
    [log] = [e for e in s.chain.last_receipt.logs if e.name == "Withdrawn"]
    assert log.args == {"account": trader, "amount": amount}
    assert s.token.balanceOf(trader) == amount
    assert s.engine.margin(trader) == (deposited - amount) * s.precision
    assert s.token.balanceOf(s.engine) == engine_before - amount

    s.engine.withdraw(deposited - amount, sender=trader)
    assert s.token.balanceOf(trader) == deposited
    assert s.engine.margin(trader) == 0
    assert s.token.balanceOf(s.engine) == engine_before - deposited
    assert_books_balance(s)


def test_ledger_invariant_through_activity(s):
    alice = s.new_trader("alice", 10_000)
    bob = s.new_trader("bob", 7_777)
    carol = s.new_trader("carol")
    assert_books_balance(s)
    s.mint(carol, 3_000)
    s.engine.fund_insurance(s.tokens(250), sender=carol)
    assert s.engine.insurance_fund() == 250 * WAD
    assert_books_balance(s)
    s.engine.deposit(s.tokens(2_000) + 7, sender=carol)
    assert_books_balance(s)

    steps = [
        (alice, BTC, 123_456_789_012_345_678),  # ~0.1235 BTC long
        (bob, BTC, -77_777_777_777_777_777),
        (carol, ETH, 333_333_333_333_333_333),
        (bob, ETH, -1_000_000_000_000_000_001),
    ]
    for account, market, size in steps:
        s.trade(account, market, size)
        assert_books_balance(s)
    s.set_price(BTC, "103456.78901234")
    s.set_price(ETH, "3876.54321")
    s.advance(3_000)  # funding accrues
    s.trade(alice, BTC, -23_456_789_012_345_678)
    assert_books_balance(s)
    s.trade(bob, BTC, 77_777_777_777_777_777)  # close
    assert_books_balance(s)
    s.engine.withdraw(s.tokens(500) + 1, sender=bob)
    assert_books_balance(s)
    s.trade(carol, ETH, -333_333_333_333_333_333)  # close
    s.engine.withdraw(int(s.engine.margin(carol)) // s.precision, sender=carol)
    assert_books_balance(s)
    s.engine.withdraw(s.tokens(1_000), sender=alice)
    assert_books_balance(s)
    lp = s.chain.accounts["lp"]
    s.pool.withdraw(s.tokens(10_000) + 3, lp, lp, sender=lp)
    assert_books_balance(s)


def test_zero_amount(s):
    trader = s.new_trader("trader", 100)
    for fn in (s.engine.deposit, s.engine.withdraw, s.engine.fund_insurance):
        with pytest.raises(Reverted) as exc:
            fn(0, sender=trader)
        assert exc.value.reason == "Zero amount"
    assert s.engine.margin(trader) == 100 * WAD


def test_insufficient_margin(s):
    trader = s.new_trader("trader", 100)
    with pytest.raises(Reverted) as exc:
        s.engine.withdraw(s.tokens(100) + 1, sender=trader)
    assert exc.value.reason == "Insufficient margin"
    stranger = s.new_trader("stranger")
    with pytest.raises(Reverted) as exc:
        s.engine.withdraw(1, sender=stranger)
    assert exc.value.reason == "Insufficient margin"
    assert s.engine.margin(trader) == 100 * WAD
    assert s.token.balanceOf(trader) == 0
    s.engine.withdraw(s.tokens(100), sender=trader)  # exactly the balance is fine
    assert s.engine.margin(trader) == 0
    assert s.token.balanceOf(trader) == s.tokens(100)


def test_below_initial_margin_boundary(s):
    alice = s.new_trader("alice", 10_000)
    size = WAD // 2  # 0.5 BTC ~ 50,000 USD notional
    price, fee = expected_fill(s, BTC, size)
    s.trade(alice, BTC, size)
    assert s.engine.margin(alice) == 10_000 * WAD - fee
    mark = s.engine.mark_price(BTC)
    health = s.engine.account_health(alice)
    equity, initial, maintenance = health.equity, health.initial_margin, health.maintenance_margin
    assert health.position_count == 1
    config = s.engine.market_config(BTC)
    exit_price = model.exit_price(int(s.engine.index_price(BTC)), size, size, config.skew_scale, config.max_premium)
    assert exit_price <= price  # the close gives back the premium the open paid
    assert equity == 10_000 * WAD - fee + model.pnl(size, exit_price, price)
    assert initial == _umul_up(_umul_up(size, mark), WAD // 10)  # 10 % of notional at mark
    assert maintenance == _umul_up(_umul_up(size, mark), WAD // 20)

    free = (equity - initial) // s.precision  # largest withdrawal keeping IM
    margin_before = s.engine.margin(alice)
    with pytest.raises(Reverted) as exc:
        s.engine.withdraw(free + 1, sender=alice)
    assert exc.value.reason == "Below initial margin"
    assert s.engine.margin(alice) == margin_before
    assert s.token.balanceOf(alice) == 0

    s.engine.withdraw(free, sender=alice)
    assert s.token.balanceOf(alice) == free
    assert s.engine.margin(alice) == margin_before - free * s.precision
    after = s.engine.account_health(alice)
    equity_after, initial_after = after.equity, after.initial_margin
    assert initial_after == initial
    assert 0 <= equity_after - initial_after < s.precision
    with pytest.raises(Reverted) as exc:
        s.engine.withdraw(1, sender=alice)
    assert exc.value.reason == "Below initial margin"
    assert_books_balance(s)


def test_withdraw_realized_profit_after_winning_close(s):
    alice = s.new_trader("alice", 10_000)
    size = WAD // 10
    open_price, open_fee = expected_fill(s, BTC, size)
    assert s.trade(alice, BTC, size) == open_price
    s.set_price(BTC, 110_000)  # same block: no funding accrues
    close_price, close_fee = expected_fill(s, BTC, -size)
    assert s.trade(alice, BTC, -size) == close_price
    [log] = [e for e in s.chain.last_receipt.logs if e.name == "PositionModified"]
    pnl = (size * (close_price - open_price)) // WAD
    assert log.args["realized_pnl"] == pnl
    assert log.args["fee"] == close_fee
    assert pnl > 9_999 * WAD // 10  # a ~1,000 USD win
    margin = 10_000 * WAD - open_fee - close_fee + pnl
    assert s.engine.margin(alice) == margin
    assert s.engine.position(alice, BTC) == (0, 0, 0)

    with pytest.raises(Reverted) as exc:
        s.engine.withdraw(margin // s.precision + 1, sender=alice)
    assert exc.value.reason == "Insufficient margin"
    s.engine.withdraw(margin // s.precision, sender=alice)
    assert s.token.balanceOf(alice) == margin // s.precision
    assert s.token.balanceOf(alice) > s.tokens(10_000)
    assert s.engine.margin(alice) == margin % s.precision
    assert_books_balance(s)


def test_deposit_without_allowance_changes_nothing(s):
    trader = s.chain.new_account("no-allowance", eth=10**20)
    s.accounts.append(trader)
    s.mint(trader, 1_000)
    engine_balance = s.token.balanceOf(s.engine)
    with pytest.raises(Reverted) as exc:
        s.engine.deposit(s.tokens(1_000), sender=trader)
    assert exc.value.reason == "erc20: insufficient allowance"
    assert s.engine.margin(trader) == 0
    assert s.token.balanceOf(trader) == s.tokens(1_000)
    assert s.token.balanceOf(s.engine) == engine_balance

    # a partial allowance is not enough either
    s.token.approve(s.engine, s.tokens(1_000) - 1, sender=trader)
    with pytest.raises(Reverted) as exc:
        s.engine.deposit(s.tokens(1_000), sender=trader)
    assert exc.value.reason == "erc20: insufficient allowance"
    assert s.engine.margin(trader) == 0
    assert s.token.allowance(trader, s.engine) == s.tokens(1_000) - 1
    assert s.token.balanceOf(trader) == s.tokens(1_000)
    assert s.token.balanceOf(s.engine) == engine_balance
    assert_books_balance(s)


def test_deposit_beyond_balance_changes_nothing(s):
    trader = s.new_trader("trader")
    s.mint(trader, 10)
    engine_balance = s.token.balanceOf(s.engine)
    with pytest.raises(Reverted) as exc:
        s.engine.deposit(s.tokens(10) + 1, sender=trader)
    assert exc.value.reason == "erc20: transfer amount exceeds balance"
    assert s.engine.margin(trader) == 0
    assert s.token.balanceOf(trader) == s.tokens(10)
    assert s.token.balanceOf(s.engine) == engine_balance
    assert s.token.allowance(trader, s.engine) == MAX_UINT
