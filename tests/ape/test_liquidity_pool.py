"""LiquidityPool (ERC-4626): deposit/mint/withdraw/redeem against the documented formula
with the virtual share and asset (+1 each), rounding in the pool's favour -- deposit and
redeem round down, mint and withdraw round up -- at a share price that is not 1 (the
pool has earned fees), with amounts chosen so that every division has a remainder."""

from __future__ import annotations

from typing import Any

import ape
import pytest

from .conftest import BTC, UNIT, WAD

MAX_PRICE = 2**256 - 1


def floor_div(a: int, b: int) -> int:
    return a // b


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


@pytest.fixture
def earning_pool(pool: Any, engine: Any, lp: Any, alice: Any, fund: Any, set_price: Any) -> Any:
    """1,000 tokens deposited at 1:1, then a fee-paying round trip: 31.5 tokens earned."""
    fund(lp, pool, 10_000)
    first = pool.deposit(1_000 * UNIT, lp, sender=lp)
    # the first deposit: shares = assets * (0 + 1) // (0 + 1)
    assert first.events.filter(pool.Deposit) == [
        pool.Deposit(sender=lp, owner=lp, assets=1_000 * UNIT, shares=1_000 * UNIT)
    ]
    fund(alice, engine, 6_000)
    engine.deposit(6_000 * UNIT, sender=alice)  # 10 % initial margin of 50,000 and the fee
    engine.trade(BTC, WAD // 2, MAX_PRICE, sender=alice)  # fee 25 (taker)
    engine.trade(BTC, -(WAD // 2), 0, sender=alice)  # fee 10 (maker); 90 % of 35 to the pool
    assert (pool.totalAssets(), pool.totalSupply()) == (1_031_500_000, 1_000 * UNIT)
    return pool


def test_deposit_rounds_shares_down(earning_pool: Any, lp: Any, outsider: Any, token: Any) -> None:
    pool = earning_pool
    assets_total, supply = pool.totalAssets(), pool.totalSupply()
    assets = 123_456_789
    assert assets * (supply + 1) % (assets_total + 1)  # a remainder: the rounding is visible
    shares = floor_div(assets * (supply + 1), assets_total + 1)
    assert pool.previewDeposit(assets) == pool.convertToShares(assets) == shares
    balance = token.balanceOf(lp)
    receipt = pool.deposit(assets, outsider, sender=lp)
    assert receipt.events.filter(pool.Deposit) == [
        pool.Deposit(sender=lp, owner=outsider, assets=assets, shares=shares)
    ]
    assert pool.balanceOf(outsider) == shares and token.balanceOf(lp) == balance - assets
    assert pool.totalAssets() == assets_total + assets


def test_mint_rounds_assets_up(earning_pool: Any, lp: Any, token: Any) -> None:
    pool = earning_pool
    assets_total, supply = pool.totalAssets(), pool.totalSupply()
    shares = 987_654_321
    assert shares * (assets_total + 1) % (supply + 1)
    assets = ceil_div(shares * (assets_total + 1), supply + 1)
    assert pool.previewMint(shares) == assets
    balance, held = token.balanceOf(lp), pool.balanceOf(lp)
    receipt = pool.mint(shares, lp, sender=lp)
    assert receipt.events.filter(pool.Deposit) == [pool.Deposit(sender=lp, owner=lp, assets=assets, shares=shares)]
    assert token.balanceOf(lp) == balance - assets and pool.balanceOf(lp) == held + shares


def test_withdraw_rounds_shares_up(earning_pool: Any, lp: Any, outsider: Any, token: Any) -> None:
    pool = earning_pool
    assets_total, supply = pool.totalAssets(), pool.totalSupply()
    assets = 333_333_333
    assert assets * (supply + 1) % (assets_total + 1)
    shares = ceil_div(assets * (supply + 1), assets_total + 1)
    assert pool.previewWithdraw(assets) == shares
    held = pool.balanceOf(lp)
    receipt = pool.withdraw(assets, outsider, lp, sender=lp)
    assert receipt.events.filter(pool.Withdraw) == [
        pool.Withdraw(sender=lp, receiver=outsider, owner=lp, assets=assets, shares=shares)
    ]
    assert token.balanceOf(outsider) == assets and pool.balanceOf(lp) == held - shares


def test_redeem_rounds_assets_down(earning_pool: Any, lp: Any, token: Any) -> None:
    pool = earning_pool
    assets_total, supply = pool.totalAssets(), pool.totalSupply()
    shares = 444_444_444
    assert shares * (assets_total + 1) % (supply + 1)
    assets = floor_div(shares * (assets_total + 1), supply + 1)
    assert pool.previewRedeem(shares) == pool.convertToAssets(shares) == assets
    balance = token.balanceOf(lp)
    receipt = pool.redeem(shares, lp, lp, sender=lp)
    assert receipt.events.filter(pool.Withdraw) == [
        pool.Withdraw(sender=lp, receiver=lp, owner=lp, assets=assets, shares=shares)
    ]
    assert token.balanceOf(lp) == balance + assets


def test_pool_reverts(earning_pool: Any, lp: Any, outsider: Any, fund: Any) -> None:
    pool = earning_pool
    with ape.reverts("Zero amount"):
        pool.deposit(0, lp, sender=lp)
    with ape.reverts("Zero shares"):  # 1 token unit buys less than one share at this price
        pool.deposit(1, lp, sender=lp)
    with ape.reverts("erc20: insufficient allowance"):  # someone else's shares need an allowance
        pool.redeem(1_000, outsider, lp, sender=outsider)
    pool.transfer(outsider, 1_000, sender=lp)
    with ape.reverts("erc20: burn amount exceeds balance"):
        pool.redeem(1_001, outsider, outsider, sender=outsider)

    pool.approve(outsider, 1_000, sender=lp)  # with one, up to it
    pool.redeem(1_000, outsider, lp, sender=outsider)
    assert pool.allowance(lp, outsider) == 0
    pool.redeem(1_000, outsider, outsider, sender=outsider)  # its own, in full
    assert pool.balanceOf(outsider) == 0
