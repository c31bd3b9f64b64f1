"""Liquidation safety properties over random states (hypothesis).

Random traders (BTC/ETH, long/short, a few hundred to a few hundred thousand USD, leverage
up to the 10x initial-margin limit), random price moves inside the oracle jump bound,
random time passing (funding accrues), with tiers off, on, and on with a cool-down.
After every step:

(a) `liquidate` on an account whose equity is at or above maintenance reverts
    "Account not liquidatable";
(b) a liquidation step never leaves the account with a lower margin ratio
    (equity / maintenance) unless it closed the liquidated position entirely;
(c) conservation: token balance * PRECISION == margins + pool balance + insurance.

Each step is also predicted exactly by the reference model (vyperp.model.EngineModel).

Run: ``.venv/bin/python -m pytest tests/test_liquidation_safety.py -q -p no:ape_test``
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.test_liquidation import (
    BTC,
    ETH,
    ONE,
    answer_below,
    assert_conserved,
    events,
    open_position,
    params,
    push_answer,
    trader,
)
from vyperp.chain import Reverted
from vyperp.model import EngineModel, ModelRevert
from vyperp.protocol.params import TIERED, LiquidationParams
from vyperp.protocol.system import System
from vyperp.protocol.units import WAD, trunc_div

SETTINGS = {
    "plain": LiquidationParams(),
    "tiered": LiquidationParams(tiers=TIERED),
    "tiered-cooldown": LiquidationParams(tiers=TIERED, cooldown=900),
}
START_PRICES = {BTC: Decimal(100_000), ETH: Decimal(4_000)}


@pytest.fixture(scope="module")
def systems() -> dict[str, System]:
    return {name: System.deploy(params(liquidation)) for name, liquidation in SETTINGS.items()}


def margin_ratio(health: Any) -> int:
    """equity / maintenance as the engine compares it (signed, truncated)."""
    return trunc_div(health.equity * WAD, health.maintenance_margin)


def liquidation_round(system: System, accounts: list[str], keeper: str) -> int:
    """One liquidation attempt on every account; checks (a), (b), (c) and the mirror."""
    steps = 0
    for account in accounts:
        health = system.engine.account_health(account)
        mirror = EngineModel(system, accounts + [keeper])
        assert health._asdict() == mirror.health(account)
        try:
            expected = mirror.liquidate(account, keeper)
            reason = None
        except ModelRevert as exc:
            expected, reason = None, exc.reason
        liquidatable = health.position_count > 0 and health.equity < health.maintenance_margin
        if not liquidatable:
            assert reason == "Account not liquidatable"
        if reason is not None:
            with pytest.raises(Reverted) as info:
                system.engine.liquidate(account, sender=keeper)
            assert info.value.reason == reason  # (a) for healthy accounts
            continue
        before = margin_ratio(health)
        assert system.engine.liquidate(account, sender=keeper) == abs(expected["size_closed"])
        mirror.assert_events(system)
        mirror.assert_matches(system)
        assert_conserved(system)  # (c)
        (event,) = events(system, "Liquidated")
        if event["remaining_size"] != 0:  # (b): a partial step must not lower the ratio
            after = system.engine.account_health(account)
            assert margin_ratio(after) >= before, (before, margin_ratio(after), event)
        steps += 1
    return steps


def answer_for_ratio(system: System, accounts: list[str], account: str, market: int, target: int) -> int | None:
    """An 8-decimal answer for `market`, within 24 % of the current one, at which `account`'s
    margin ratio is just below `target`; None if no such price is in reach."""
    size = system.size_of(account, market)
    if size == 0:
        return None
    mirror = EngineModel(system, accounts)
    current = int(system.oracles[market].latestRoundData()[1])

    def below(answer: int) -> bool:
        mirror.set_index(market, answer * 10**10)
        return mirror.ratio(account) < target

    # the ratio rises with the price for a long and falls for a short (other markets fixed)
    safe, risky = (
        (current * 124 // 100, current * 76 // 100) if size > 0 else (current * 76 // 100, current * 124 // 100)
    )
    if below(safe) or not below(risky):
        return None
    while abs(safe - risky) > 1:
        mid = (safe + risky) // 2
        if below(mid):
            risky = mid
        else:
            safe = mid
    return risky


def run_scenario(system: System, positions: list[tuple], moves: list[tuple], rounds: int) -> None:
    keeper = trader(system, "keeper")
    accounts = []
    for market, side, scale, leverage in positions:
        notional = Decimal(200) * Decimal(1_500) ** (Decimal(scale) / 1_000)  # 200 .. 300k USD
        size = int(notional / START_PRICES[market] * WAD) * side
        margin = int(notional * 100 / leverage) + 1
        account = trader(system, "t", margin)
        try:
            system.trade(account, market, size)
        except Reverted as exc:  # too close to the initial-margin limit after fee and premium
            assert exc.reason == "Below initial margin"
            continue
        accounts.append(account)
    assert_conserved(system)
    for kind, pick, amount, seconds in moves:
        if seconds:
            system.advance(seconds)  # re-publishes both prices so none is stale
        if kind == "random":  # move market `pick` by `amount` basis points
            market = pick
            price = Decimal(system.prices[market]) * (10_000 + amount) / 10_000
            answer = int(price * 10**8)
        else:  # move trader `pick`'s largest market until its ratio is just under amount / 1000
            if not accounts:
                continue
            account = accounts[pick % len(accounts)]
            market = int(system.engine.account_health(account).largest_market)
            answer = answer_for_ratio(system, accounts, account, market, amount * WAD // 1_000)
            if answer is None:
                continue
        push_answer(system, market, answer)
        system.engine.poke(market, sender=keeper)
        for _ in range(rounds):
            if liquidation_round(system, accounts, keeper) == 0:
                break
    assert_conserved(system)


position_st = st.tuples(
    st.sampled_from([BTC, ETH]),
    st.sampled_from([1, -1]),
    st.integers(0, 1_000),  # log-scale notional
    st.sampled_from([990, 960, 930, 900, 850, 800, 700, 500, 300, 100]),  # leverage x100, mostly high
)
seconds_st = st.sampled_from([0, 0, 1, 60, 600, 1_800, 3_600])
move_st = st.one_of(
    st.tuples(
        st.just("random"),
        st.sampled_from([BTC, ETH]),
        st.builds(
            lambda sign, bp: sign * bp,
            st.sampled_from([-1, 1]),  # bp, inside the 25 % jump bound
            st.sampled_from([2_000, 1_000, 700, 500, 300, 100, 0]),
        ),
        seconds_st,
    ),
    st.tuples(
        st.just("target"),
        st.integers(0, 4),
        st.sampled_from([990, 900, 800, 760, 740, 600, 510, 490, 300, 1_001, 1_100]),  # ratio x1000
        seconds_st,
    ),
)


@given(
    setting=st.sampled_from(list(SETTINGS)),
    positions=st.lists(position_st, min_size=2, max_size=5),
    moves=st.lists(move_st, min_size=1, max_size=6),
    rounds=st.integers(1, 3),
)
def test_liquidation_safety_properties(
    systems: dict[str, System], setting: str, positions: list[tuple], moves: list[tuple], rounds: int
) -> None:
    system = systems[setting]
    accounts, prices = list(system.accounts), list(system.prices)
    try:
        with system.chain.isolate():
            run_scenario(system, positions, moves, rounds)
    finally:
        system.accounts, system.prices = accounts, prices


# ---------------------------------------------------------------- deterministic cases


@pytest.mark.parametrize(
    "size, margin", [(ONE // 200, 52), (ONE // 100, 103), (ONE // 20, 510)], ids=["470usd", "940usd", "4.7kusd"]
)
def test_partial_step_on_small_position_does_not_lower_ratio(
    systems: dict[str, System], size: int, margin: int
) -> None:
    """Property (b) at the keeper-reward floor: closing 25 % of a small position pays the
    5 USD floor, which can exceed what the quarter's maintenance release gives back."""
    system = systems["tiered"]
    accounts, prices = list(system.accounts), list(system.prices)
    try:
        with system.chain.isolate():
            keeper = trader(system, "keeper")
            alice = open_position(system, "alice", margin, BTC, size)
            push_answer(system, BTC, answer_below(system, [alice], alice, BTC, 9 * WAD // 10))
            before = system.engine.account_health(alice)
            assert 3 * WAD // 4 <= margin_ratio(before) < WAD  # tier 0: a quarter
            system.engine.liquidate(alice, sender=keeper)
            (event,) = events(system, "Liquidated")
            assert event["remaining_size"] in (0, size - size // 4)  # a quarter, or all of it
            if event["remaining_size"] != 0:  # partial: the ratio must not have dropped
                after = system.engine.account_health(alice)
                assert margin_ratio(after) >= margin_ratio(before), (
                    f"ratio {margin_ratio(before) / WAD:.4f} -> {margin_ratio(after) / WAD:.4f} "
                    f"(reward {event['keeper_reward'] / WAD}, penalty {event['penalty'] / WAD})"
                )
            assert_conserved(system)
    finally:
        system.accounts, system.prices = accounts, prices
