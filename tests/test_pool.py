"""LiquidityPool: the ERC-4626 share ledger over the engine's pool value.

Run: ``.venv/bin/python -m pytest tests/test_pool.py -q -p no:ape_test``
"""

from __future__ import annotations

import pytest

from vyperp import model
from vyperp.chain import Reverted

WAD = 10**18
BTC, ETH = 0, 1
MAX_UINT = 2**256 - 1


# ------------------------------------------------------------------ exact helpers (vyperp.model)

_umul_up = model.umul_up


def expected_fill(system, market: int, size_delta: int) -> tuple[int, int]:
    """(fill price, fee) for `size_delta` now, from the market's config and state (the model)."""
    config = system.engine.market_config(market)
    state = system.engine.market_state(market)
    skew = state.long_open_interest - state.short_open_interest
    index = int(system.engine.index_price(market))
    price = model.fill_price(index, skew, size_delta, config.skew_scale, config.max_premium)
    return price, model.trade_fee(skew, size_delta, price, config.maker_fee, config.taker_fee)


to_shares = model.to_shares
to_assets = model.to_assets


def totals(system) -> tuple[int, int]:
    return int(system.pool.totalSupply()), int(system.pool.totalAssets())


def events(system, name: str) -> list[dict]:
    return [dict(e.args) for e in system.chain.last_receipt.logs if e.name == name]


def round_trip_fees(system, traders) -> None:
    """Open and close positions at an unchanged price: the pool earns fees and spread."""
    for trader, market, size in traders:
        system.trade(trader, market, size)
    for trader, market, size in traders:
        system.trade(trader, market, -size)


def reserve_of(system) -> int:
    states = [system.engine.market_state(m) for m in range(system.engine.market_count())]
    return model.pool_reserve(
        [(st.long_open_interest + st.short_open_interest, st.last_price) for st in states],
        system.engine.liquidation_config().pool_reserve_ratio,
    )


def new_lp(system, label: str, usd) -> str:
    account = system.new_trader(label)
    system.mint(account, usd)
    system.pool.deposit(system.tokens(usd), account, sender=account)
    return account


# ================================================================== basics


def test_first_deposit_is_one_to_one(system, lp):
    assets = system.tokens(1_000_000)
    assert system.pool.balanceOf(lp) == assets
    assert system.pool.totalSupply() == assets
    assert system.pool.totalAssets() == assets
    assert system.engine.pool_balance() == assets * system.precision
    assert system.engine.pool_value() == assets * system.precision
    assert system.pool.convertToAssets(10**6) == 10**6
    assert system.pool.ENGINE() == system.engine.address
    assert system.engine.pool() == system.pool.address


def test_deposit_event_and_token_flow(system):
    depositor = system.new_trader("depositor")
    system.mint(depositor, 500)
    engine_before = system.token.balanceOf(system.engine)
    receiver = system.chain.new_account("receiver")
    shares = system.pool.deposit(system.tokens(500), receiver, sender=depositor)
    assert shares == system.tokens(500)
    assert events(system, "Deposit") == [
        {"sender": depositor, "owner": receiver, "assets": system.tokens(500), "shares": shares}
    ]
    assert events(system, "PoolCredited") == [{"amount": system.tokens(500)}]
    assert system.pool.balanceOf(receiver) == shares
    assert system.pool.balanceOf(depositor) == 0
    assert system.token.balanceOf(depositor) == 0
    assert system.token.balanceOf(system.pool) == 0  # collateral sits in the engine
    assert system.token.balanceOf(system.engine) == engine_before + system.tokens(500)


def test_fees_raise_share_price(system, lp, alice, bob):
    supply = system.pool.totalSupply()
    assert system.pool.convertToAssets(supply) == supply
    balance0 = system.engine.pool_balance()
    insurance0 = system.engine.insurance_fund()

    expected_pool = balance0
    expected_insurance = insurance0
    for trader, size in (
        (alice, 3 * WAD // 10 + 7),
        (bob, -(WAD // 7)),
        (alice, -(3 * WAD // 10 + 7)),
        (bob, WAD // 7),
    ):
        _, fee = expected_fill(system, BTC, size)
        system.trade(trader, BTC, size)
        [modified] = events(system, "PositionModified")
        assert modified["fee"] == fee
        expected_pool += fee - fee // 10 - modified["realized_pnl"]  # 10 % of fees to insurance
        expected_insurance += fee // 10
    state = system.engine.market_state(BTC)
    assert (state.long_open_interest, state.short_open_interest) == (0, 0)
    assert system.engine.pool_balance() == expected_pool
    assert system.engine.insurance_fund() == expected_insurance
    assert system.engine.pool_value() == expected_pool  # no open interest left
    total = expected_pool // system.precision
    assert system.pool.totalAssets() == total
    assert total > supply
    assert system.pool.convertToAssets(supply) == supply * (total + 1) // (supply + 1)
    assert system.pool.convertToAssets(supply) > supply
    assert system.pool.convertToShares(total) == total * (supply + 1) // (total + 1)


def test_total_assets_tracks_pool_value(system, lp, alice, bob):
    def check():
        value = system.engine.pool_value()
        assert system.pool.totalAssets() == (value // system.precision if value > 0 else 0)

    check()
    system.trade(alice, BTC, WAD // 3)
    check()
    system.trade(bob, ETH, -2 * WAD + 1)
    check()
    system.set_price(BTC, "104321.12345678")
    system.set_price(ETH, "3999.99999999")
    check()
    # traders' unrealized profit is the pool's loss
    assert system.engine.pool_value() < system.engine.pool_balance()
    system.advance(7_200)
    check()


# ================================================================== previews and rounding


@pytest.fixture
def awkward_pool(system, lp, alice, bob):
    """A pool whose share price is not 1 (fees earned), with an extra depositor funded."""
    round_trip_fees(system, [(alice, BTC, 123_456_789_123_456_789), (bob, ETH, -1_987_654_321_987_654_321)])
    supply, total = totals(system)
    assert total > supply and supply == system.tokens(1_000_000)
    depositor = system.new_trader("depositor")
    system.mint(depositor, 100_000)
    return depositor


def test_deposit_preview_and_round_down(system, awkward_pool):
    depositor = awkward_pool
    assets = 333_333_337
    supply, total = totals(system)
    exact_numerator = assets * (supply + 1)
    assert exact_numerator % (total + 1) != 0  # rounding actually happens
    expected = to_shares(assets, supply, total, False)
    assert system.pool.previewDeposit(assets) == expected
    assert system.pool.convertToShares(assets) == expected
    shares = system.pool.deposit(assets, depositor, sender=depositor)
    assert shares == expected
    assert system.pool.balanceOf(depositor) == expected
    assert system.pool.totalSupply() == supply + expected
    assert system.token.balanceOf(depositor) == system.tokens(100_000) - assets
    # rounded against the depositor: the shares are worth no more than what was paid
    assert system.pool.convertToAssets(shares) <= assets
    assert system.pool.previewRedeem(shares) < assets


def test_mint_preview_and_round_up(system, awkward_pool):
    depositor = awkward_pool
    shares = 777_777_773
    supply, total = totals(system)
    assert (shares * (total + 1)) % (supply + 1) != 0
    expected = to_assets(shares, supply, total, True)
    assert system.pool.previewMint(shares) == expected
    assert system.pool.convertToAssets(shares) == expected - 1  # convert rounds down
    assets = system.pool.mint(shares, depositor, sender=depositor)
    assert assets == expected
    assert events(system, "Deposit") == [{"sender": depositor, "owner": depositor, "assets": assets, "shares": shares}]
    assert system.pool.balanceOf(depositor) == shares
    assert system.token.balanceOf(depositor) == system.tokens(100_000) - assets


def test_withdraw_preview_and_round_up(system, lp, awkward_pool):
    assets = 123_456_789
    supply, total = totals(system)
    assert (assets * (supply + 1)) % (total + 1) != 0
    expected = to_shares(assets, supply, total, True)
    assert system.pool.previewWithdraw(assets) == expected
    assert system.pool.convertToShares(assets) == expected - 1
    receiver = system.chain.new_account("receiver")
    shares_before = system.pool.balanceOf(lp)
    shares = system.pool.withdraw(assets, receiver, lp, sender=lp)
    assert shares == expected
    assert events(system, "Withdraw") == [
        {"sender": lp, "receiver": receiver, "owner": lp, "assets": assets, "shares": shares}
    ]
    assert events(system, "PoolDebited") == [{"receiver": receiver, "amount": assets}]
    assert system.token.balanceOf(receiver) == assets
    assert system.pool.balanceOf(lp) == shares_before - shares
    assert system.pool.totalSupply() == supply - shares


def test_redeem_preview_and_round_down(system, lp, awkward_pool):
    shares = 987_654_323
    supply, total = totals(system)
    assert (shares * (total + 1)) % (supply + 1) != 0
    expected = to_assets(shares, supply, total, False)
    assert system.pool.previewRedeem(shares) == expected
    assert system.pool.convertToAssets(shares) == expected
    tokens_before = system.token.balanceOf(lp)
    assets = system.pool.redeem(shares, lp, lp, sender=lp)
    assert assets == expected
    assert system.token.balanceOf(lp) == tokens_before + expected
    assert system.pool.balanceOf(lp) == system.tokens(1_000_000) - shares
    assert system.pool.totalSupply() == supply - shares


def test_round_trips_never_profit(system, lp, awkward_pool):
    depositor = awkward_pool
    supply0, total0 = totals(system)
    for assets in (1_000_003, 55_555_557, 9_876_543_211):
        shares = system.pool.deposit(assets, depositor, sender=depositor)
        back = system.pool.redeem(shares, depositor, depositor, sender=depositor)
        assert back <= assets
        cost = system.pool.mint(shares, depositor, sender=depositor)
        assert cost >= back
        floor_shares = system.pool.convertToShares(back)
        burned = system.pool.withdraw(back, depositor, depositor, sender=depositor)
        assert floor_shares <= burned <= floor_shares + 1
        assert burned <= shares
    # the depositor never gained, and the existing LPs' price per share did not fall
    supply, total = totals(system)
    assert (total + 1) * (supply0 + 1) >= (total0 + 1) * (supply + 1)
    assert system.token.balanceOf(depositor) + system.pool.convertToAssets(
        system.pool.balanceOf(depositor)
    ) <= system.tokens(100_000)


# ================================================================== donations


def test_donations_do_not_move_share_price(system, lp, alice):
    system.trade(alice, BTC, WAD // 5)
    donor = system.new_trader("donor")
    system.mint(donor, 50_000)
    before = (
        system.pool.totalAssets(),
        system.pool.convertToAssets(10**9),
        system.pool.convertToShares(10**9),
        system.engine.pool_value(),
        system.engine.pool_balance(),
        system.pool.maxWithdraw(lp),
        system.engine.pool_withdrawable(),
        system.pool.previewDeposit(10**9),
    )
    engine_tokens = system.token.balanceOf(system.engine)
    system.token.transfer(system.engine, system.tokens(25_000), sender=donor)
    system.token.transfer(system.pool, system.tokens(25_000), sender=donor)
    assert system.token.balanceOf(system.engine) == engine_tokens + system.tokens(25_000)
    assert system.token.balanceOf(system.pool) == system.tokens(25_000)
    after = (
        system.pool.totalAssets(),
        system.pool.convertToAssets(10**9),
        system.pool.convertToShares(10**9),
        system.engine.pool_value(),
        system.engine.pool_balance(),
        system.pool.maxWithdraw(lp),
        system.engine.pool_withdrawable(),
        system.pool.previewDeposit(10**9),
    )
    assert after == before


# ================================================================== reserve-limited withdrawals


@pytest.fixture
def reserved_pool(system, alice):
    """A 10,000 USD pool backing a 0.2 BTC long: the reserve (20 % of OI notional) binds."""
    small = new_lp(system, "small-lp", 10_000)
    system.trade(alice, BTC, WAD // 5)
    return small


def test_reserve_formula(system, reserved_pool):
    reserve = reserve_of(system)
    assert reserve == _umul_up(_umul_up(WAD // 5, 100_000 * WAD), WAD // 5) == 4_000 * WAD
    value = min(system.engine.pool_value(), system.engine.pool_balance())
    assert system.engine.pool_withdrawable() == (value - reserve) // system.precision
    assert system.pool.maxWithdraw(reserved_pool) == system.engine.pool_withdrawable()
    assert system.pool.maxWithdraw(reserved_pool) < system.pool.convertToAssets(system.pool.balanceOf(reserved_pool))


def test_withdrawable_uses_the_lower_of_value_and_balance(system, reserved_pool):
    system.set_price(BTC, 110_000)  # the long wins: pool value < balance
    value, balance = system.engine.pool_value(), system.engine.pool_balance()
    assert value < balance
    assert system.engine.pool_withdrawable() == (value - reserve_of(system)) // system.precision
    system.set_price(BTC, 95_000)  # the long loses: value > balance, only realized cash counts
    value, balance = system.engine.pool_value(), system.engine.pool_balance()
    assert value > balance
    assert system.engine.pool_withdrawable() == (balance - reserve_of(system)) // system.precision
    assert system.pool.maxWithdraw(reserved_pool) == system.engine.pool_withdrawable()


def test_max_withdraw_is_exact(system, reserved_pool):
    small = reserved_pool
    limit = system.pool.maxWithdraw(small)
    assert limit > 0
    shares_before = system.pool.balanceOf(small)
    with pytest.raises(Reverted) as exc:
        system.pool.withdraw(limit + 1, small, small, sender=small)
    assert exc.value.reason == "Exceeds max withdraw"
    assert system.pool.balanceOf(small) == shares_before
    preview = system.pool.previewWithdraw(limit)
    assert system.pool.withdraw(limit, small, small, sender=small) == preview
    assert system.token.balanceOf(small) == limit
    assert system.pool.maxWithdraw(small) == 0
    assert system.engine.pool_withdrawable() == 0
    with pytest.raises(Reverted) as exc:
        system.pool.withdraw(1, small, small, sender=small)
    assert exc.value.reason == "Exceeds max withdraw"
    # what is left covers the reserve
    assert min(system.engine.pool_value(), system.engine.pool_balance()) >= reserve_of(system)


def test_max_redeem(system, reserved_pool):
    small = reserved_pool
    balance = system.pool.balanceOf(small)
    withdrawable = system.engine.pool_withdrawable()
    supply, total = totals(system)
    limit = system.pool.maxRedeem(small)
    assert limit == min(balance, to_shares(withdrawable, supply, total, False))
    assert limit < balance
    with pytest.raises(Reverted) as exc:
        system.pool.redeem(balance, small, small, sender=small)
    assert exc.value.reason == "Exceeds max redeem"
    assert system.pool.balanceOf(small) == balance
    assets = system.pool.redeem(limit, small, small, sender=small)
    assert assets == to_assets(limit, supply, total, False)
    assert assets <= withdrawable
    assert system.pool.balanceOf(small) == balance - limit


def test_max_withdraw_limited_by_own_shares(system, reserved_pool, bob):
    system.mint(bob, 100)
    shares = system.pool.deposit(system.tokens(100), bob, sender=bob)
    limit = system.pool.maxWithdraw(bob)
    assert limit == system.pool.convertToAssets(shares)
    assert limit < system.engine.pool_withdrawable()
    with pytest.raises(Reverted) as exc:
        system.pool.withdraw(limit + 1, bob, bob, sender=bob)
    assert exc.value.reason == "erc20: burn amount exceeds balance"
    burned = system.pool.withdraw(limit, bob, bob, sender=bob)
    assert burned <= shares
    assert system.token.balanceOf(bob) == limit
    assert system.pool.maxRedeem(bob) == shares - burned


def test_closing_positions_frees_the_reserve(system, reserved_pool, alice):
    small = reserved_pool
    system.trade(alice, BTC, -(WAD // 5))
    assert reserve_of(system) == 0
    balance = system.pool.balanceOf(small)
    assert system.pool.maxRedeem(small) == balance
    supply, total = totals(system)
    assets = system.pool.redeem(balance, small, small, sender=small)
    assert assets == to_assets(balance, supply, total, False)
    assert system.pool.balanceOf(small) == 0
    assert system.pool.totalSupply() == 0
    assert assets > system.tokens(10_000)  # fees and spread earned


# ================================================================== zero amounts


def test_zero_amount_and_zero_shares(system, lp, alice, bob):
    for call in (
        lambda: system.pool.deposit(0, lp, sender=lp),
        lambda: system.pool.mint(0, lp, sender=lp),
        lambda: system.pool.withdraw(0, lp, lp, sender=lp),
        lambda: system.pool.redeem(0, lp, lp, sender=lp),
    ):
        with pytest.raises(Reverted) as exc:
            call()
        assert exc.value.reason == "Zero amount"
    # once a share is worth more than one token unit, a 1-unit deposit buys no share
    round_trip_fees(system, [(alice, BTC, WAD // 4), (bob, ETH, -3 * WAD)])
    supply, total = totals(system)
    assert total > supply
    system.token.mint(bob, 1, sender=system.admin)  # one token unit
    assert system.pool.previewDeposit(1) == 0
    with pytest.raises(Reverted) as exc:
        system.pool.deposit(1, bob, sender=bob)
    assert exc.value.reason == "Zero shares"
    assert system.token.balanceOf(bob) == 1


# ================================================================== allowances


def test_third_party_redeem_and_withdraw_spend_allowance(system, lp, outsider):
    with pytest.raises(Reverted) as exc:
        system.pool.redeem(1_000, outsider, lp, sender=outsider)
    assert exc.value.reason == "erc20: insufficient allowance"
    with pytest.raises(Reverted) as exc:
        system.pool.withdraw(1_000, outsider, lp, sender=outsider)
    assert exc.value.reason == "erc20: insufficient allowance"

    system.pool.approve(outsider, 10_000, sender=lp)
    assert system.pool.allowance(lp, outsider) == 10_000
    assets = system.pool.redeem(6_000, outsider, lp, sender=outsider)
    assert assets == 6_000  # price still 1:1
    assert events(system, "Withdraw") == [
        {"sender": outsider, "receiver": outsider, "owner": lp, "assets": 6_000, "shares": 6_000}
    ]
    assert system.pool.allowance(lp, outsider) == 4_000
    assert system.token.balanceOf(outsider) == 6_000
    assert system.pool.balanceOf(lp) == system.tokens(1_000_000) - 6_000
    assert system.pool.balanceOf(outsider) == 0

    shares = system.pool.withdraw(3_000, outsider, lp, sender=outsider)
    assert shares == 3_000
    assert system.pool.allowance(lp, outsider) == 1_000
    with pytest.raises(Reverted) as exc:
        system.pool.redeem(1_001, outsider, lp, sender=outsider)
    assert exc.value.reason == "erc20: insufficient allowance"
    assert system.pool.allowance(lp, outsider) == 1_000
    assert system.token.balanceOf(outsider) == 9_000


def test_owner_needs_no_allowance(system, lp):
    assert system.pool.allowance(lp, lp) == 0
    assert system.pool.redeem(5, lp, lp, sender=lp) == 5


# ================================================================== engine ledger guards


def test_pool_credit_and_debit_only_from_pool(system, lp, outsider):
    balance = system.engine.pool_balance()
    tokens = system.token.balanceOf(system.engine)
    for sender in (outsider, system.admin, system.feeder, lp):
        with pytest.raises(Reverted) as exc:
            system.engine.pool_credit(10**6, sender=sender)
        assert exc.value.reason == "Not pool"
        with pytest.raises(Reverted) as exc:
            system.engine.pool_debit(10**6, sender, sender=sender)
        assert exc.value.reason == "Not pool"
    assert system.engine.pool_balance() == balance
    assert system.token.balanceOf(system.engine) == tokens


# ================================================================== deficit


def test_deposits_blocked_while_pool_in_deficit(system, alice):
    small = new_lp(system, "small-lp", 1_000)
    system.trade(alice, BTC, WAD // 2)  # 50,000 USD long vs a 1,000 USD pool
    system.set_price(BTC, 110_000)  # alice gains ~5,000
    value = system.engine.pool_value()
    assert value < 0
    assert system.engine.pool_balance() > 0
    assert system.pool.totalAssets() == 0
    assert system.pool.maxDeposit(small) == 0
    assert system.pool.maxMint(small) == 0
    assert system.pool.maxWithdraw(small) == 0
    assert system.engine.pool_withdrawable() == 0

    depositor = system.new_trader("depositor")
    system.mint(depositor, 5_000)
    supply = system.pool.totalSupply()
    with pytest.raises(Reverted) as exc:
        system.pool.deposit(system.tokens(5_000), depositor, sender=depositor)
    assert exc.value.reason == "Pool in deficit"
    with pytest.raises(Reverted) as exc:
        system.pool.mint(system.tokens(1_000), depositor, sender=depositor)
    assert exc.value.reason == "Pool in deficit"
    with pytest.raises(Reverted) as exc:
        system.pool.withdraw(1, small, small, sender=small)
    assert exc.value.reason == "Exceeds max withdraw"
    assert system.pool.totalSupply() == supply
    assert system.token.balanceOf(depositor) == system.tokens(5_000)
    assert system.engine.pool_value() == value

    # the price comes back: deposits reopen
    system.set_price(BTC, 100_000)
    assert system.engine.pool_value() > 0
    assert system.pool.maxDeposit(depositor) == MAX_UINT
    assert system.pool.maxMint(depositor) == MAX_UINT
    expected = system.pool.previewDeposit(system.tokens(5_000))
    assert system.pool.deposit(system.tokens(5_000), depositor, sender=depositor) == expected


# ================================================================== share token


def test_share_transfers(system, lp, bob, outsider):
    assert system.pool.name() == "vyperp LP"
    assert system.pool.symbol() == "vLP"
    assert system.pool.decimals() == 6
    system.pool.transfer(bob, 250_000, sender=lp)
    assert events(system, "Transfer") == [{"sender": lp, "receiver": bob, "value": 250_000}]
    assert system.pool.balanceOf(bob) == 250_000
    assert system.pool.balanceOf(lp) == system.tokens(1_000_000) - 250_000
    assert system.pool.maxRedeem(bob) == 250_000
    assert system.pool.redeem(250_000, bob, bob, sender=bob) == 250_000
    assert system.token.balanceOf(bob) == 250_000

    with pytest.raises(Reverted) as exc:
        system.pool.transferFrom(lp, outsider, 1, sender=outsider)
    assert exc.value.reason == "erc20: insufficient allowance"
    system.pool.approve(outsider, 100, sender=lp)
    system.pool.transferFrom(lp, outsider, 60, sender=outsider)
    assert system.pool.balanceOf(outsider) == 60
    assert system.pool.allowance(lp, outsider) == 40
    with pytest.raises(Reverted) as exc:
        system.pool.transfer(lp, 61, sender=outsider)
    assert exc.value.reason == "erc20: transfer amount exceeds balance"
    assert system.pool.totalSupply() == system.tokens(1_000_000) - 250_000


# ================================================================== stale feeds


@pytest.fixture
def stale_eth(system, lp, alice):
    """An ETH position is open and the ETH feed goes stale while BTC stays fresh."""
    system.trade(alice, ETH, WAD)
    system.advance(3_601, refresh=False)
    system.set_price(BTC, 100_000)
    return lp


def test_lp_entry_and_exit_blocked_on_stale_feed(system, stale_eth):
    lp = stale_eth
    supply = system.pool.totalSupply()
    system.mint(lp, 1_000)
    for call in (
        lambda: system.pool.deposit(system.tokens(1_000), lp, sender=lp),
        lambda: system.pool.mint(10**6, lp, sender=lp),
        lambda: system.pool.withdraw(10**6, lp, lp, sender=lp),
        lambda: system.pool.redeem(10**6, lp, lp, sender=lp),
    ):
        with pytest.raises(Reverted) as exc:
            call()
        assert exc.value.reason == "Oracle stale"
    assert system.pool.totalSupply() == supply
    assert system.token.balanceOf(lp) == system.tokens(1_000)


def test_erc4626_max_views_do_not_revert_on_stale_feed(system, stale_eth):
    """EIP-4626: maxDeposit/maxMint/maxWithdraw/maxRedeem "MUST NOT revert"; while a
    feed cannot be read they should report 0 (or the unrestricted bound), not revert.
    Currently they revert "Oracle stale" (through engine.pool_value / pool_withdrawable)."""
    lp = stale_eth
    assert system.pool.maxWithdraw(lp) == 0
    assert system.pool.maxRedeem(lp) == 0
    assert system.pool.maxDeposit(lp) == 0
    assert system.pool.maxMint(lp) == 0
