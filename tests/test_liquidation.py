"""Liquidation, bad-debt waterfall and auto-deleveraging of the Engine.

Every expected value is computed independently of the contracts: `EngineModel`
(vyperp.model.engine) reads the engine's books once and applies the engine's state
transitions in Python with the exact integer arithmetic of `vyperp.model`. A test then demands equality to the wei for margins, positions, market
aggregates, pool balance, insurance fund and every event field, and conservation
(`token balance * PRECISION == margins + pool balance + insurance`) after each step.

Run: ``.venv/bin/python -m pytest tests/test_liquidation.py -q -p no:ape_test``
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from vyperp import model
from vyperp.chain import Reverted
from vyperp.model import EngineModel, ModelRevert
from vyperp.protocol.params import TIERED, Bracket, LiquidationParams, MarketParams, ProtocolParams
from vyperp.protocol.system import System
from vyperp.protocol.units import WAD

BTC, ETH = 0, 1
ONE = WAD  # one coin / 1.0 as a 1e18 fraction
ORACLE_SCALE = 10**10  # 8-decimal oracle answer -> 1e18 price

# ====================================================================== helpers

_labels = itertools.count()


def trader(system: System, name: str, usd: int | str = 0) -> str:
    """A funded trader with a label unique in this session (the chain keeps labels)."""
    return system.new_trader(f"{name}-{next(_labels)}", usd)


def params(
    liquidation: LiquidationParams | None = None, btc: MarketParams | None = None, eth: MarketParams | None = None
) -> ProtocolParams:
    """The default two-market set-up (BTC 100k, ETH 4k, one 10 %/5 % bracket) with overrides."""
    return ProtocolParams(
        markets=[
            btc or MarketParams(symbol="BTC", initial_price=100_000.0),
            eth or MarketParams(symbol="ETH", initial_price=4_000.0),
        ],
        liquidation=liquidation or LiquidationParams(),
        token_decimals=6,
    )


def assert_conserved(system: System) -> None:
    ledger = system.ledger()
    assert ledger.held == ledger.booked, (ledger.held, ledger.booked)


def assert_reverts(reason: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    with pytest.raises(Reverted) as info:
        fn(*args, **kwargs)
    assert info.value.reason == reason


def events(system: System, name: str) -> list[dict[str, Any]]:
    return [dict(ev.args) for ev in system.chain.last_receipt.logs if ev.name == name]


def push_answer(system: System, market: int, answer: int) -> None:
    """Publish an 8-decimal oracle answer (kept for `advance` re-publishing)."""
    system.oracles[market].push_round(answer, 0, sender=system.feeder)
    system.prices[market] = str(Decimal(answer) / 10**8)


def current_answer(system: System, market: int) -> int:
    return int(system.oracles[market].latestRoundData()[1])


def open_position(system: System, name: str, margin_usd: int | str, market: int, size: int) -> str:
    account = trader(system, name, margin_usd)
    system.trade(account, market, size)
    return account


def add_lp(system: System, usd: int) -> str:
    account = trader(system, "lp")
    system.mint(account, usd)
    system.pool.deposit(system.tokens(usd), account, sender=account)
    return account


# the reference model (vyperp.model.EngineModel) stands in for the engine's books


def liquidate_checked(system: System, account: str, keeper: str, accounts: list[str]) -> dict[str, Any]:
    """Liquidate on chain and in the mirror; demand identical books and events."""
    mirror = EngineModel(system, accounts + [keeper])
    expected = mirror.liquidate(account, keeper)
    closed = system.engine.liquidate(account, sender=keeper)
    assert closed == abs(expected["size_closed"])
    mirror.assert_events(system)
    mirror.assert_matches(system)
    assert_conserved(system)
    return expected


def answer_below(system: System, accounts: list[str], account: str, market: int, target: int) -> int:
    """Largest 8-decimal answer of `market` at which `account`'s ratio is below `target`
    (the account is long there, so its ratio rises with the price)."""
    mirror = EngineModel(system, accounts)
    lo, hi = 1, current_answer(system, market)

    def below(answer: int) -> bool:
        mirror.set_index(market, answer * ORACLE_SCALE)
        return mirror.ratio(account) < target

    assert not below(hi) and below(lo)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if below(mid):
            lo = mid
        else:
            hi = mid
    return lo


# ====================================================================== plain liquidation


def test_healthy_and_empty_accounts_are_not_liquidatable(system: System) -> None:
    keeper = trader(system, "keeper")
    alice = open_position(system, "alice", 11_000, BTC, ONE)
    empty = trader(system, "empty", 1_000)
    assert_reverts("Account not liquidatable", system.engine.liquidate, alice, sender=keeper)
    assert_reverts("Account not liquidatable", system.engine.liquidate, empty, sender=keeper)
    system.set_price(BTC, 96_000)  # a 4 % loss leaves ~6.9k equity over 4.8k maintenance
    health = system.engine.account_health(alice)
    assert health.equity >= health.maintenance_margin
    assert not system.lens.is_liquidatable(alice)
    assert_reverts("Account not liquidatable", system.engine.liquidate, alice, sender=keeper)
    assert system.engine.liquidate_many([alice, empty], sender=keeper) == 0
    assert system.size_of(alice, BTC) == ONE
    assert_conserved(system)


def test_liquidation_just_below_maintenance_closes_everything(system: System) -> None:
    keeper = trader(system, "keeper")
    lp = add_lp(system, 100_000)
    alice = open_position(system, "alice", 11_000, BTC, ONE)
    accounts = [alice, keeper, lp]
    answer = answer_below(system, accounts, alice, BTC, WAD)

    push_answer(system, BTC, answer + 1)  # one oracle unit higher: at or above maintenance
    health = system.engine.account_health(alice)
    assert health.equity >= health.maintenance_margin
    assert_reverts("Account not liquidatable", system.engine.liquidate, alice, sender=keeper)

    push_answer(system, BTC, answer)
    health = system.engine.account_health(alice)
    assert 0 < health.equity < health.maintenance_margin
    assert system.lens.is_liquidatable(alice)

    margin_before = int(system.engine.margin(alice))
    entry = int(system.engine.position(alice, BTC).entry_price)
    insurance_before = int(system.engine.insurance_fund())
    pool_before = int(system.engine.pool_balance())
    expected = liquidate_checked(system, alice, keeper, accounts)

    # by hand: no tiers -> the whole position at the fill price, reward and penalty
    index = answer * ORACLE_SCALE
    config = system.engine.market_config(BTC)
    fill = model.fill_price(index, ONE, -ONE, config.skew_scale, config.max_premium)
    notional = model.umul_up(ONE, fill)
    reward = min(max(model.umul_up(notional, 2 * 10**15), 5 * WAD), 1_000 * WAD)
    realized = model.pnl(ONE, fill, entry)
    penalty = min(model.umul_up(notional, 10**16), margin_before + realized - reward)
    assert events(system, "Liquidated") == [
        dict(
            account=alice,
            market=BTC,
            keeper=keeper,
            size_closed=ONE,
            price=fill,
            notional=notional,
            tier=0,
            keeper_reward=reward,
            penalty=penalty,
            remaining_size=0,
        )
    ]
    assert expected["keeper_reward"] == reward and expected["penalty"] == penalty
    assert int(system.engine.margin(keeper)) == reward
    assert int(system.engine.margin(alice)) == margin_before + realized - reward - penalty > 0
    assert int(system.engine.insurance_fund()) == insurance_before + penalty
    assert int(system.engine.pool_balance()) == pool_before - realized
    assert system.size_of(alice, BTC) == 0 and system.engine.open_markets(alice) == 0
    assert events(system, "BadDebtCovered") == []
    assert_reverts("Account not liquidatable", system.engine.liquidate, alice, sender=keeper)


@pytest.mark.parametrize(
    "floor, cap, which",
    [
        (5.0, 1_000.0, "rate"),  # 0.2 % of ~94.7k notional ~ 189
        (500.0, 1_000.0, "floor"),
        (5.0, 50.0, "cap"),
    ],
)
def test_keeper_reward_is_clamped(make_system: Callable[..., System], floor: float, cap: float, which: str) -> None:
    system = make_system(params(LiquidationParams(reward_floor=floor, reward_cap=cap)))
    keeper = trader(system, "keeper")
    alice = open_position(system, "alice", 11_000, BTC, ONE)
    push_answer(system, BTC, answer_below(system, [alice], alice, BTC, WAD))
    expected = liquidate_checked(system, alice, keeper, [alice])
    (event,) = events(system, "Liquidated")
    by_rate = model.umul_up(event["notional"], 2 * 10**15)
    assert 180 * WAD < by_rate < 200 * WAD
    wanted = {"rate": by_rate, "floor": 500 * WAD, "cap": 50 * WAD}[which]
    assert event["keeper_reward"] == expected["keeper_reward"] == wanted
    assert int(system.engine.margin(keeper)) == wanted
    assert event["penalty"] == model.umul_up(event["notional"], 10**16)  # margin left covers it


def test_penalty_is_capped_by_remaining_margin(system: System) -> None:
    keeper = trader(system, "keeper")
    alice = open_position(system, "alice", 11_000, BTC, ONE)
    system.set_price(BTC, 89_600)  # ~550 equity left: less than reward + 1 % penalty
    insurance_before = int(system.engine.insurance_fund())
    margin_before = int(system.engine.margin(alice))
    entry = int(system.engine.position(alice, BTC).entry_price)
    liquidate_checked(system, alice, keeper, [alice])
    (event,) = events(system, "Liquidated")
    left = margin_before + model.pnl(ONE, event["price"], entry) - event["keeper_reward"]
    assert 0 < left < model.umul_up(event["notional"], 10**16)
    assert event["penalty"] == left
    assert int(system.engine.margin(alice)) == 0
    assert int(system.engine.insurance_fund()) == insurance_before + left
    assert events(system, "BadDebtCovered") == []


# ====================================================================== bad debt


def test_bad_debt_is_covered_by_insurance_first(system: System) -> None:
    keeper = trader(system, "keeper")
    funder = trader(system, "funder")
    lp = add_lp(system, 50_000)
    alice = open_position(system, "alice", 11_000, BTC, ONE)
    system.mint(funder, 20_000)
    system.engine.fund_insurance(system.tokens(20_000), sender=funder)
    system.set_price(BTC, 85_000)  # -15 %: ~4k beyond the margin
    insurance_before = int(system.engine.insurance_fund())
    pool_before = int(system.engine.pool_balance())
    margin_before = int(system.engine.margin(alice))
    entry = int(system.engine.position(alice, BTC).entry_price)
    liquidate_checked(system, alice, keeper, [alice, funder, lp])
    (event,) = events(system, "Liquidated")
    realized = model.pnl(ONE, event["price"], entry)
    bad_debt = -(margin_before + realized)  # the keeper is paid after the waterfall
    assert bad_debt > 3_000 * WAD
    assert event["penalty"] == 0
    assert events(system, "BadDebtCovered") == [
        dict(account=alice, bad_debt=bad_debt, from_insurance=bad_debt, from_pool=0)
    ]
    # the keeper's reward came from the insurance fund: the account had nothing left
    assert event["keeper_reward"] > 0
    assert int(system.engine.insurance_fund()) == insurance_before - bad_debt - event["keeper_reward"]
    assert int(system.engine.pool_balance()) == pool_before - realized
    assert int(system.engine.margin(alice)) == 0


def test_bad_debt_beyond_insurance_is_drawn_from_the_pool(system: System) -> None:
    keeper = trader(system, "keeper")
    lp = add_lp(system, 50_000)
    alice = open_position(system, "alice", 11_000, BTC, ONE)
    system.set_price(BTC, 85_000)
    insurance_before = int(system.engine.insurance_fund())  # only the fee share of alice's trade
    assert 0 < insurance_before < 10 * WAD
    pool_before = int(system.engine.pool_balance())
    margin_before = int(system.engine.margin(alice))
    entry = int(system.engine.position(alice, BTC).entry_price)
    liquidate_checked(system, alice, keeper, [alice, lp])
    (event,) = events(system, "Liquidated")
    realized = model.pnl(ONE, event["price"], entry)
    bad_debt = -(margin_before + realized - event["keeper_reward"])
    from_pool = bad_debt - insurance_before
    assert events(system, "BadDebtCovered") == [
        dict(account=alice, bad_debt=bad_debt, from_insurance=insurance_before, from_pool=from_pool)
    ]
    assert int(system.engine.insurance_fund()) == 0
    assert int(system.engine.pool_balance()) == pool_before - realized - from_pool
    assert int(system.engine.margin(alice)) == 0


# ====================================================================== tiers


def _tiered(make_system: Callable[..., System], **liquidation: Any) -> System:
    return make_system(params(LiquidationParams(tiers=TIERED, **liquidation)))


@pytest.mark.parametrize(
    "target, offset, tier, fraction",
    [
        (WAD, 0, 0, WAD // 4),  # just below 1.0: 25 %
        (3 * WAD // 4, 1, 0, WAD // 4),  # just at/above 0.75: still 25 %
        (3 * WAD // 4, 0, 1, WAD // 2),  # just below 0.75: 50 %
        (WAD // 2, 1, 1, WAD // 2),  # at/above 0.5: 50 %
        (WAD // 2, 0, 2, WAD),  # below 0.5: everything
        (WAD // 5, 0, 2, WAD),
    ],
    ids=["lt1.0", "ge0.75", "lt0.75", "ge0.5", "lt0.5", "lt0.2"],
)
def test_tier_closes_its_fraction(
    make_system: Callable[..., System], target: int, offset: int, tier: int, fraction: int
) -> None:
    system = _tiered(make_system)
    keeper = trader(system, "keeper")
    alice = open_position(system, "alice", 10_300, BTC, ONE)
    answer = answer_below(system, [alice], alice, BTC, target) + offset
    push_answer(system, BTC, answer)
    ratio = int(system.lens.margin_ratio(alice))
    assert (ratio >= target) if offset else (ratio < target)
    assert ratio < WAD
    expected = liquidate_checked(system, alice, keeper, [alice])
    assert not expected["_escalated"]
    (event,) = events(system, "Liquidated")
    close = model.umul_up(ONE, fraction)
    assert event["tier"] == tier
    assert event["size_closed"] == close
    assert event["remaining_size"] == ONE - close == system.size_of(alice, BTC)
    partial = fraction < WAD
    assert int(system.engine.last_partial_liquidation(alice)) == (system.chain.time if partial else 0)
    if partial:  # the step raised the margin ratio
        assert int(system.lens.margin_ratio(alice)) > ratio


@pytest.mark.parametrize("min_notional, full", [(70_500.0, False), (70_500.000001, True)])
def test_min_position_notional_forces_full_close(
    make_system: Callable[..., System], min_notional: float, full: bool
) -> None:
    system = _tiered(make_system, min_position_notional=min_notional)
    keeper = trader(system, "keeper")
    alice = open_position(system, "alice", 10_300, BTC, ONE)
    system.set_price(BTC, 94_000)  # a quarter closed leaves 0.75 BTC = 70,500 USD at the index
    assert 3 * WAD // 4 <= int(system.lens.margin_ratio(alice)) < WAD
    liquidate_checked(system, alice, keeper, [alice])
    (event,) = events(system, "Liquidated")
    assert event["tier"] == 0
    assert event["size_closed"] == (ONE if full else ONE // 4)
    assert event["remaining_size"] == (0 if full else 3 * ONE // 4)


@pytest.mark.parametrize("rate_limit", [0.0, 5_000.0], ids=["no-limit", "limit-above-partial"])
def test_partial_step_that_does_not_help_escalates_to_full_close(
    make_system: Callable[..., System], rate_limit: float
) -> None:
    # A 0.1 BTC position (10,000 USD) with a 1 % maintenance rate and a 50 USD keeper-reward
    # floor: closing a quarter frees 25 USD of maintenance but charges ~75 USD (reward floor +
    # penalty), so the partial step would leave the ratio lower and the position closes whole.
    # (Price impact no longer makes a partial step worse: equity is valued at exit prices, so
    # the impact of the close is already counted before it.) With a rate limit that admits the
    # quarter but not the whole, the escalation is counted in the window but not blocked.
    btc = MarketParams(
        symbol="BTC",
        initial_price=100_000.0,
        brackets=(Bracket(float("inf"), 0.02, 0.01),),
        rate_limit_window=3600 if rate_limit else 0,
        rate_limit_notional=rate_limit,
    )
    system = make_system(params(LiquidationParams(tiers=TIERED, cooldown=600, reward_floor=50.0), btc=btc))
    keeper = trader(system, "keeper")
    lp = add_lp(system, 1_000_000)
    alice = open_position(system, "alice", 300, BTC, ONE // 10)
    accounts = [alice, lp]
    answer = answer_below(system, accounts, alice, BTC, 9 * WAD // 10)
    push_answer(system, BTC, answer)
    assert 3 * WAD // 4 <= int(system.lens.margin_ratio(alice)) < WAD  # tier 0: 25 %
    expected = liquidate_checked(system, alice, keeper, accounts)
    assert expected["_escalated"]
    (event,) = events(system, "Liquidated")
    assert event["tier"] == 0
    assert event["size_closed"] == ONE // 10 and event["remaining_size"] == 0
    assert system.size_of(alice, BTC) == 0
    assert int(system.engine.last_partial_liquidation(alice)) == 0
    if rate_limit:
        index = answer * ORACLE_SCALE
        quarter = model.umul_up(ONE // 10, WAD // 4)
        counted = model.umul_up(quarter, index) + model.umul_up(ONE // 10 - quarter, index)
        assert model.umul_up(quarter, index) <= 5_000 * WAD < counted
        assert system.engine.market_state(BTC).liquidation_window_notional == counted


def test_cooldown_between_partial_steps(make_system: Callable[..., System]) -> None:
    system = _tiered(make_system, cooldown=600)
    keeper = trader(system, "keeper")
    alice = open_position(system, "alice", 10_300, BTC, ONE)
    push_answer(system, BTC, answer_below(system, [alice], alice, BTC, 78 * WAD // 100))
    first = liquidate_checked(system, alice, keeper, [alice])
    assert first["tier"] == 0 and first["remaining_size"] == 3 * ONE // 4
    started = system.chain.time
    assert int(system.engine.last_partial_liquidation(alice)) == started
    ratio = int(system.lens.margin_ratio(alice))
    assert WAD // 2 <= ratio < WAD  # still liquidatable by a partial tier

    assert_reverts("Liquidation cool-down", system.engine.liquidate, alice, sender=keeper)
    system.advance(599)
    assert system.lens.is_liquidatable(alice)
    assert_reverts("Liquidation cool-down", system.engine.liquidate, alice, sender=keeper)
    system.advance(1)
    second = liquidate_checked(system, alice, keeper, [alice])
    assert second["tier"] == 0 and second["size_closed"] == model.umul_up(3 * ONE // 4, WAD // 4)
    assert int(system.engine.last_partial_liquidation(alice)) == started + 600


def test_full_close_tier_ignores_cooldown(make_system: Callable[..., System]) -> None:
    system = _tiered(make_system, cooldown=600)
    keeper = trader(system, "keeper")
    alice = open_position(system, "alice", 10_300, BTC, ONE)
    push_answer(system, BTC, answer_below(system, [alice], alice, BTC, 78 * WAD // 100))
    liquidate_checked(system, alice, keeper, [alice])
    assert_reverts("Liquidation cool-down", system.engine.liquidate, alice, sender=keeper)
    push_answer(system, BTC, answer_below(system, [alice], alice, BTC, 4 * WAD // 10))
    assert int(system.lens.margin_ratio(alice)) < WAD // 2
    expected = liquidate_checked(system, alice, keeper, [alice])
    assert expected["tier"] == 2
    assert expected["size_closed"] == 3 * ONE // 4 and expected["remaining_size"] == 0
    assert system.size_of(alice, BTC) == 0


# ====================================================================== cross-margin


@pytest.mark.parametrize(
    "btc_size, eth_size, dropped, closed",
    [
        (ONE, 5 * ONE, BTC, BTC),  # BTC 100k notional vs ETH 20k: BTC first
        (ONE, 40 * ONE, BTC, ETH),  # ETH 160k notional: ETH first although BTC lost
        (ONE // 2, 40 * ONE, ETH, ETH),
    ],
)
def test_cross_margin_reduces_largest_requirement_first(
    system: System, btc_size: int, eth_size: int, dropped: int, closed: int
) -> None:
    keeper = trader(system, "keeper")
    lp = add_lp(system, 100_000)
    initial = 0.1 * (btc_size * 100_000 + eth_size * 4_000) / ONE
    alice = trader(system, "alice", int(initial * 1.02) + 100)
    system.trade(alice, BTC, btc_size)
    system.trade(alice, ETH, eth_size)
    accounts = [alice, lp]
    push_answer(system, dropped, answer_below(system, accounts, alice, dropped, WAD))
    health = system.engine.account_health(alice)
    assert health.equity < health.maintenance_margin and health.largest_market == closed
    sizes = {BTC: btc_size, ETH: eth_size}
    expected = liquidate_checked(system, alice, keeper, accounts)
    assert expected["market"] == closed and expected["size_closed"] == sizes[closed]
    assert system.size_of(alice, closed) == 0
    assert system.size_of(alice, 1 - closed) == sizes[1 - closed]
    assert system.engine.open_markets(alice) == 1 << (1 - closed)


# ====================================================================== rate limit


def test_rate_limit_per_window(make_system: Callable[..., System]) -> None:
    btc = MarketParams(symbol="BTC", initial_price=100_000.0, rate_limit_window=3600, rate_limit_notional=150_000.0)
    system = make_system(params(btc=btc))
    keeper = trader(system, "keeper")
    traders = [open_position(system, f"t{i}", 11_000, BTC, ONE) for i in range(3)]
    system.set_price(BTC, 93_000)
    assert all(system.lens.is_liquidatable(t) for t in traders)

    liquidate_checked(system, traders[0], keeper, traders)
    assert system.engine.market_state(BTC).liquidation_window_notional == model.umul_up(ONE, 93_000 * WAD)
    assert_reverts("Liquidation rate limit", system.engine.liquidate, traders[1], sender=keeper)
    assert system.engine.liquidate_many(traders[1:], sender=keeper) == 0
    assert system.size_of(traders[1], BTC) == ONE

    system.advance(3599)
    assert_reverts("Liquidation rate limit", system.engine.liquidate, traders[1], sender=keeper)
    system.advance(1)  # a new window
    liquidate_checked(system, traders[1], keeper, traders)
    assert system.engine.market_state(BTC).liquidation_window_start == system.chain.time
    assert_reverts("Liquidation rate limit", system.engine.liquidate, traders[2], sender=keeper)
    # the limit lifted (window 0), the same liquidation goes through at once
    system.configurator.set_rate_limit(BTC, (0, 0), sender=system.admin)
    liquidate_checked(system, traders[2], keeper, traders)


# ====================================================================== batches


def test_liquidate_many_skips_ineligible_accounts(make_system: Callable[..., System]) -> None:
    eth = MarketParams(symbol="ETH", initial_price=4_000.0, rate_limit_window=3600, rate_limit_notional=1_000.0)
    system = make_system(params(LiquidationParams(tiers=TIERED, cooldown=600), eth=eth))
    keeper = trader(system, "keeper")
    deep = open_position(system, "deep", 10_100, BTC, ONE)
    healthy = open_position(system, "healthy", 30_000, BTC, ONE)
    cooling = open_position(system, "cooling", 10_300, BTC, ONE)
    limited = open_position(system, "limited", 2_100, ETH, 5 * ONE)
    empty = trader(system, "empty", 1_000)
    accounts = [deep, healthy, cooling, limited, empty]

    push_answer(system, BTC, answer_below(system, accounts, cooling, BTC, 78 * WAD // 100))
    liquidate_checked(system, cooling, keeper, accounts)  # partial: now in cool-down
    system.set_price(ETH, 3_700)
    mirror = EngineModel(system, accounts + [keeper])
    assert mirror.ratio(deep) < WAD
    assert mirror.health(healthy)["equity"] >= mirror.health(healthy)["maintenance_margin"]
    assert WAD // 2 <= mirror.ratio(cooling) < WAD
    assert mirror.ratio(limited) < WAD

    skipped = {}
    for account in accounts:
        try:
            mirror.liquidate(account, keeper)
        except ModelRevert as exc:
            skipped[account] = exc.reason
    assert skipped == {
        healthy: "Account not liquidatable",
        cooling: "Liquidation cool-down",
        limited: "Liquidation rate limit",
        empty: "Account not liquidatable",
    }
    assert system.engine.liquidate_many(accounts, sender=keeper) == 1
    mirror.assert_events(system)
    mirror.assert_matches(system)
    assert [ev["account"] for ev in events(system, "Liquidated")] == [deep]
    assert_conserved(system)


def test_liquidate_many_gas_is_flat_per_account(system: System) -> None:
    keeper = trader(system, "keeper")
    traders = [open_position(system, f"g{i}", 11_000, BTC, ONE) for i in range(50)]
    system.set_price(BTC, 90_000)
    gas = {}
    for n in (1, 10, 50):
        with system.chain.isolate():
            assert system.engine.liquidate_many(traders[:n], sender=keeper) == n
            gas[n] = system.chain.last_receipt.gas_used
            assert all(system.size_of(t, BTC) == 0 for t in traders[:n])
            assert_conserved(system)
    per_account = {n: gas[n] / n for n in gas}
    marginal_10 = (gas[10] - gas[1]) / 9
    marginal_50 = (gas[50] - gas[10]) / 40
    print(
        f"\nliquidate_many gas: total {gas}; per account "
        + ", ".join(f"{n}: {per_account[n]:,.0f}" for n in per_account)
        + f"; marginal 1->10: {marginal_10:,.0f}, 10->50: {marginal_50:,.0f}"
    )
    # O(1) per account: the cost of each further account does not grow with the batch.
    # (gas/n itself still falls with n, because a batch's fixed cost -- 21k intrinsic
    # plus the first cold reads of the market, its configuration and the oracle -- is
    # spread over more accounts.)
    assert abs(marginal_50 - marginal_10) <= 0.15 * marginal_10
    assert per_account[50] <= per_account[10]


# ====================================================================== auto-deleveraging


def _crash(system: System) -> dict[str, str]:
    """A tiny LP pool, a 10 BTC long far beyond its margin, profitable shorts.

    After a 20 % drop the long's liquidation leaves ~97k of bad debt, which empties the
    insurance fund and drives the pool's value below zero while the shorts hold ~220k
    of profit."""
    # the deficit path of the waterfall alone: the PnL-to-pool cap and its ADL trigger off
    config = system.engine.market_config(BTC)._replace(max_pnl_pool_ratio=0, adl_pnl_pool_ratio=0)
    system.configurator.set_market_config(BTC, config, sender=system.admin)
    who = {"keeper": trader(system, "keeper"), "lp": add_lp(system, 1_000)}
    who["alice"] = open_position(system, "alice", 105_000, BTC, 10 * ONE)
    who["carol"] = open_position(system, "carol", 100_000, BTC, -8 * ONE)
    who["bob"] = open_position(system, "bob", 100_000, BTC, -2 * ONE)
    who["dave"] = open_position(system, "dave", 11_000, BTC, -ONE)
    who["erin"] = open_position(system, "erin", 20_000, BTC, ONE // 2)  # a losing long
    return who


def test_adl_not_needed_while_pool_is_solvent_and_insurance_covers_first(system: System) -> None:
    who = _crash(system)
    assert int(system.engine.insurance_fund()) > 0
    assert_reverts("ADL not needed", system.engine.auto_deleverage, BTC, [who["carol"]], sender=who["keeper"])
    system.set_price(BTC, 80_000)
    accounts = list(who.values())
    liquidate_checked(system, who["alice"], who["keeper"], accounts)
    assert int(system.engine.insurance_fund()) == 0
    assert int(system.engine.pool_value()) < 0
    with system.chain.isolate():
        funder = trader(system, "funder")
        system.mint(funder, 1)
        system.engine.fund_insurance(1, sender=funder)  # one token unit of insurance left
        deficit = -int(system.engine.pool_value())
        # the insurance fund stands first: its unit goes to the deficit, then ADL proceeds
        assert system.engine.auto_deleverage(BTC, [who["carol"]], sender=who["keeper"]) == 1
        unit = system.precision
        assert events(system, "DeficitCoveredByInsurance") == [{"amount": unit, "remaining_deficit": deficit - unit}]
        assert [e["account"] for e in events(system, "AutoDeleveraged")] == [who["carol"]]
        assert int(system.engine.insurance_fund()) == 0
    with system.chain.isolate():
        funder = trader(system, "funder")
        system.mint(funder, 1_000_000)
        system.engine.fund_insurance(system.tokens(1_000_000), sender=funder)  # insurance covers it all
        deficit = -int(system.engine.pool_value())
        assert system.engine.auto_deleverage(BTC, [who["carol"]], sender=who["keeper"]) == 0
        assert events(system, "DeficitCoveredByInsurance") == [{"amount": deficit, "remaining_deficit": 0}]
        assert events(system, "AutoDeleveraged") == []
        assert int(system.engine.pool_value()) == 0
        assert_reverts("ADL not needed", system.engine.auto_deleverage, BTC, [who["carol"]], sender=who["keeper"])
    assert_reverts("Unknown market", system.engine.auto_deleverage, 2, [who["carol"]], sender=who["keeper"])


def test_bad_debt_waterfall_then_adl(system: System) -> None:
    who = _crash(system)
    accounts = list(who.values())
    keeper = who["keeper"]
    system.set_price(BTC, 80_000)
    insurance_before = int(system.engine.insurance_fund())
    pool_before = int(system.engine.pool_balance())
    expected = liquidate_checked(system, who["alice"], keeper, accounts)
    assert expected["remaining_size"] == 0 and expected["penalty"] == 0
    (covered,) = events(system, "BadDebtCovered")
    assert covered["from_insurance"] == insurance_before
    assert covered["from_pool"] == covered["bad_debt"] - insurance_before > 90_000 * WAD
    realized = -(int(system.engine.pool_balance()) - pool_before + covered["from_pool"])
    assert realized < 0  # alice's loss went to the pool before the pool paid her bad debt
    assert int(system.engine.insurance_fund()) == 0

    value = int(system.engine.pool_value())
    mirror = EngineModel(system, accounts)
    assert mirror.pool_value() == value < 0
    deficit = -value
    pnl = {name: int(system.lens.unrealized_pnl(who[name], BTC)) for name in ("dave", "carol", "bob")}
    assert pnl["bob"] < deficit < pnl["dave"] + pnl["carol"]

    def adl(candidates: list[str]) -> None:
        system.engine.auto_deleverage(BTC, [who[c] for c in candidates], sender=keeper)

    # a candidate that is flat or not in profit is skipped, not a reason to revert the batch
    for candidates, closed in ((["alice"], 0), (["erin"], 0), (["keeper"], 0), (["erin", "dave"], 1)):
        with system.chain.isolate():
            probe = EngineModel(system, accounts)
            assert probe.auto_deleverage(BTC, [who[c] for c in candidates]) == closed
            assert system.engine.auto_deleverage(BTC, [who[c] for c in candidates], sender=keeper) == closed
            probe.assert_events(system)
            probe.assert_matches(system)
    # bob's profit alone does not cover the deficit, and carol outranks him
    probe = EngineModel(system, accounts)
    with pytest.raises(ModelRevert, match="ADL candidates not ranked"):
        probe.auto_deleverage(BTC, [who["bob"], who["carol"]])
    assert_reverts("ADL candidates not ranked", adl, ["bob", "carol"])
    assert_reverts("ADL candidates not ranked", adl, ["bob", "dave"])

    margins = {name: int(system.engine.margin(who[name])) for name in ("dave", "carol", "bob")}
    mirror = EngineModel(system, accounts)
    assert mirror.auto_deleverage(BTC, [who["dave"], who["carol"], who["bob"]]) == 2
    assert system.engine.auto_deleverage(BTC, [who["dave"], who["carol"], who["bob"]], sender=keeper) == 2
    mirror.assert_events(system)
    mirror.assert_matches(system)
    assert_conserved(system)

    deleveraged = events(system, "AutoDeleveraged")
    assert [ev["account"] for ev in deleveraged] == [who["dave"], who["carol"]]
    dave, carol = deleveraged
    assert dave["haircut"] == dave["realized_pnl"]  # all of dave's profit, the deficit was larger
    assert carol["haircut"] == deficit - dave["haircut"] < carol["realized_pnl"]  # stops at deficit 0
    assert dave["size_closed"] == -ONE and carol["size_closed"] == -8 * ONE  # their (short) positions
    for name, ev in (("dave", dave), ("carol", carol)):
        assert system.size_of(who[name], BTC) == 0
        assert int(system.engine.margin(who[name])) == margins[name] + ev["realized_pnl"] - ev["haircut"]
    assert system.size_of(who["bob"], BTC) == -2 * ONE
    assert int(system.engine.margin(who["bob"])) == margins["bob"]
    assert int(system.engine.insurance_fund()) == 0
    value_after = int(system.engine.pool_value())
    assert value_after == mirror.pool_value()
    # the haircuts sum to the deficit; the pool ends non-negative (above zero by the
    # premium the remaining shorts lost as their closes moved the skew toward zero)
    assert dave["haircut"] + carol["haircut"] == deficit
    assert value_after >= 0
    assert_reverts("ADL not needed", system.engine.auto_deleverage, BTC, [who["bob"]], sender=keeper)


def test_adl_with_too_little_profit_reduces_deficit_by_the_haircut(system: System) -> None:
    who = _crash(system)
    accounts = list(who.values())
    system.set_price(BTC, 80_000)
    liquidate_checked(system, who["alice"], who["keeper"], accounts)
    value_before = int(system.engine.pool_value())
    bob_margin = int(system.engine.margin(who["bob"]))
    mirror = EngineModel(system, accounts)
    assert mirror.auto_deleverage(BTC, [who["bob"]]) == 1
    assert system.engine.auto_deleverage(BTC, [who["bob"]], sender=who["keeper"]) == 1
    mirror.assert_events(system)
    mirror.assert_matches(system)
    (ev,) = events(system, "AutoDeleveraged")
    assert ev["haircut"] == ev["realized_pnl"] > 0
    value_after = int(system.engine.pool_value())
    assert value_after == mirror.pool_value() < 0
    # The deficit shrinks by the haircut and, because closing bob's short moves the skew
    # (and so the mark) toward zero, also by the premium the remaining shorts lose:
    # skew -10.5 -> -8.5 BTC moves the mark up by 2/20,000 of 80k = 8 USD, times 8.5 BTC;
    # and bob closes at his exit price, 4 USD above the mark the pool valued him at, x 2 BTC.
    assert value_after - value_before - ev["haircut"] == (68 + 8) * WAD
    assert int(system.engine.margin(who["bob"])) == bob_margin  # the whole profit went to the deficit
    assert system.size_of(who["bob"], BTC) == 0
    assert_conserved(system)


def test_rate_limit_refusal_at_window_roll_leaves_the_window(make_system: Callable[..., System]) -> None:
    """A liquidation refused at a window roll counts nothing: the stored window (start and
    notional) stays the old one, so the next liquidation opens a fresh window instead of
    finding the old window's notional under the new start (regression: the rolled start
    was written before the limit check)."""
    btc = MarketParams(symbol="BTC", initial_price=100_000.0, rate_limit_window=3600, rate_limit_notional=150_000.0)
    system = make_system(params(btc=btc))
    keeper = trader(system, "keeper")
    first = open_position(system, "first", 11_000, BTC, ONE)
    big = open_position(system, "big", 22_000, BTC, 2 * ONE)  # 186k notional at 93k: above the limit alone
    last = open_position(system, "last", 11_000, BTC, ONE)
    accounts = [first, big, last]
    system.set_price(BTC, 93_000)
    assert all(system.lens.is_liquidatable(t) for t in accounts)

    liquidate_checked(system, first, keeper, accounts)
    start = system.engine.market_state(BTC).liquidation_window_start
    used = system.engine.market_state(BTC).liquidation_window_notional
    assert used == model.umul_up(ONE, 93_000 * WAD)
    system.advance(3600)  # the window rolls at the next count
    assert system.engine.liquidate_many([big], sender=keeper) == 0  # refused: 186k > 150k
    state = system.engine.market_state(BTC)
    assert (state.liquidation_window_start, state.liquidation_window_notional) == (start, used)
    assert model.rate_limit_window(3600, 150_000 * WAD, start, used, system.chain.time, 2 * used, False) == (
        False,
        start,
        used,
    )
    liquidate_checked(system, last, keeper, accounts)  # 93k in a fresh window
    state = system.engine.market_state(BTC)
    assert (state.liquidation_window_start, state.liquidation_window_notional) == (system.chain.time, used)
    assert system.size_of(big, BTC) == 2 * ONE
