"""Margin brackets, the volatility/funding risk multiplier and the funding models.

Expected values come from `vyperp.model` (the exact integer mirror of the pure modules),
a bit-exact Python port of snekmate's `wad_ln` (checked against `math.log`), and
hand-derived numbers for the simple cases.

Run: ``.venv/bin/python -m pytest tests/test_risk.py -q -p no:ape_test``
"""

from __future__ import annotations

import math
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from tests.test_liquidation import assert_conserved, assert_reverts, events, trader
from vyperp import model
from vyperp.model import wad_ln
from vyperp.protocol.params import EXCHANGE_BRACKETS, MarketParams, ProtocolParams
from vyperp.protocol.system import System
from vyperp.protocol.units import WAD, wad

BTC = 0
ONE = WAD
HOUR = 3600


def one_market(**overrides) -> ProtocolParams:
    return ProtocolParams(markets=[MarketParams(symbol="BTC", initial_price=100_000.0, **overrides)])


def usd(x: int | float | str) -> int:
    return wad(x)


# ====================================================================== margin brackets

BRACKETS = [b.to_struct() for b in EXCHANGE_BRACKETS]
CEILINGS = [usd(250_000), usd(1_000_000), usd(10_000_000)]


@pytest.fixture
def bracketed(make_system: Callable[..., System]) -> System:
    return make_system(one_market(brackets=EXCHANGE_BRACKETS))


def test_bracket_requirement_by_hand(bracketed: System) -> None:
    lens = bracketed.lens
    assert [tuple(b) for b in bracketed.engine.brackets_of(BTC)] == BRACKETS
    # (notional, initial, maintenance): sums of marginal rates over the bracket widths
    table = [
        (0, 0, 0),
        (usd(100_000), usd(2_000), usd(1_000)),
        (usd(250_000), usd(5_000), usd(2_500)),
        (usd(1_000_000), usd(5_000 + 37_500), usd(2_500 + 18_750)),
        (usd(10_000_000), usd(42_500 + 900_000), usd(21_250 + 450_000)),
        (usd(20_000_000), usd(942_500 + 2_500_000), usd(471_250 + 1_250_000)),
    ]
    for notional, initial, maintenance in table:
        assert lens.margin_requirement(BTC, notional) == (initial, maintenance), notional


def test_bracket_requirement_continuous_at_every_edge(bracketed: System) -> None:
    lens = bracketed.lens
    for i, ceiling in enumerate(CEILINGS):
        below = lens.margin_requirement(BTC, ceiling - 1)
        at = lens.margin_requirement(BTC, ceiling)
        above = lens.margin_requirement(BTC, ceiling + 1)
        for k, initial in ((0, True), (1, False)):
            assert at[k] == model.bracket_requirement(BRACKETS, ceiling, initial)
            assert above[k] == model.bracket_requirement(BRACKETS, ceiling + 1, initial)
            # one wei more notional costs the next bracket's marginal rate of one wei,
            # rounded up: exactly one wei -- no jump at the edge
            assert above[k] - at[k] == 1
            assert 0 <= at[k] - below[k] <= 1
            rate_here, rate_next = BRACKETS[i][1 + k], BRACKETS[i + 1][1 + k]
            assert rate_next > rate_here
            # the exchange form n * rate(b) - amount(b) agrees on both sides of the edge
            if k == 1:
                amount_here = int(lens.maintenance_amount(BTC, i))
                amount_next = int(lens.maintenance_amount(BTC, i + 1))
                assert abs(model.umul_up(ceiling, rate_here) - amount_here - at[k]) <= 1
                assert abs(model.umul_up(ceiling + 1, rate_next) - amount_next - above[k]) <= 1


def test_bracket_requirement_matches_model(bracketed: System) -> None:
    lens = bracketed.lens
    notionals = [1, 10**18 - 1, usd(7), usd("123456.789012345678901234")]
    for ceiling in CEILINGS:
        notionals += [ceiling // 3, ceiling - 12_345, ceiling + 10**17, 2 * ceiling + 1]
    notionals += [usd(10**9), 10**40]
    for n in notionals:
        assert lens.margin_requirement(BTC, n) == (
            model.bracket_requirement(BRACKETS, n, True),
            model.bracket_requirement(BRACKETS, n, False),
        ), n


def test_maintenance_amount_inside_each_bracket(bracketed: System) -> None:
    lens = bracketed.lens
    floors = [0] + CEILINGS
    # by hand: floor * rate(b) - requirement(floor)
    assert [int(lens.maintenance_amount(BTC, b)) for b in range(4)] == [
        0,
        usd(6_250 - 2_500),
        usd(50_000 - 21_250),
        usd(1_250_000 - 471_250),
    ]
    for b, floor in enumerate(floors):
        rate = BRACKETS[b][2]
        amount = int(lens.maintenance_amount(BTC, b))
        assert amount == model.umul_up(floor, rate) - model.bracket_requirement(BRACKETS, floor, False)
        top = CEILINGS[b] if b < 3 else 10 * CEILINGS[-1]
        for n in (floor + 1, floor + 777_777_777, (floor + top) // 2, top - 1, top):
            requirement = lens.margin_requirement(BTC, n)[1]
            assert abs(model.umul_up(n, rate) - amount - requirement) <= 1, (b, n)
    assert_reverts("Unknown bracket", lens.maintenance_amount, BTC, 4)


def test_larger_positions_need_more_margin_per_notional(bracketed: System) -> None:
    lens = bracketed.lens
    grid = [
        usd(x) for x in (1_000, 100_000, 250_000, 400_000, 1_000_000, 3_000_000, 10_000_000, 30_000_000, 300_000_000)
    ]
    per_notional = [
        (lens.margin_requirement(BTC, n)[0] * WAD // n, lens.margin_requirement(BTC, n)[1] * WAD // n) for n in grid
    ]
    for (im_a, mm_a), (im_b, mm_b) in zip(per_notional, per_notional[1:]):
        assert im_b >= im_a and mm_b >= mm_a
    assert per_notional[0] == (usd("0.02"), usd("0.01"))
    assert per_notional[-1][1] > usd("0.12")  # approaches the last bracket's 12.5 %


def test_engine_books_bracketed_requirement(bracketed: System) -> None:
    whale = trader(bracketed, "whale", 200_000)
    bracketed.trade(whale, BTC, 20 * ONE)  # ~2M notional: third bracket
    health = bracketed.engine.account_health(whale)
    mark = int(bracketed.engine.mark_price(BTC))
    notional = model.umul_up(20 * ONE, mark)
    assert CEILINGS[1] < notional < CEILINGS[2]
    assert health.initial_margin == model.bracket_requirement(BRACKETS, notional, True)
    assert health.maintenance_margin == model.bracket_requirement(BRACKETS, notional, False)
    assert bracketed.lens.margin_requirements(whale) == (health.initial_margin, health.maintenance_margin)


# ====================================================================== risk multiplier

VOLATILE = dict(variance_ewma_weight=0.1, reference_volatility=0.002, volatility_weight=1.0, max_multiplier=3.0)


def expected_variance(variance: int, last_price: int, price: int, weight: int) -> tuple[int, int]:
    log_return = wad_ln(price * WAD // last_price)
    exact = math.log(price / last_price) * WAD
    assert abs(log_return - exact) <= max(abs(exact) * 1e-9, 1e3)
    return model.variance_ewma(variance, weight, price, last_price), log_return


def volatility_multiplier(variance: int, reference: int, weight: int, cap: int) -> int:
    risk = SimpleNamespace(
        variance_ewma_weight=1,
        reference_volatility=reference,
        volatility_weight=weight,
        funding_weight=0,
        max_multiplier=cap,
    )
    return model.risk_multiplier(risk, variance, 0, 0)


def test_variance_ewma_and_multiplier_follow_each_round(make_system: Callable[..., System]) -> None:
    system = make_system(one_market(**VOLATILE))
    keeper = trader(system, "keeper")
    weight, reference, vol_weight, cap = usd("0.1"), usd("0.002"), WAD, 3 * WAD
    variance = 0
    last = 100_000 * WAD
    seen = []
    path = ["100100", "99950", "100050", "100700", "99500", "96000", "100000", "100000"] + ["100000"] * 60
    for price_usd in path:
        system.set_price(BTC, price_usd)
        system.engine.poke(BTC, sender=keeper)
        price = usd(price_usd)
        variance, log_return = expected_variance(variance, last, price, weight)
        last = price
        state = system.engine.market_state(BTC)
        assert state.variance_ema == variance and state.last_price == price
        (accepted,) = events(system, "OraclePriceAccepted")
        assert accepted["variance_ema"] == variance and accepted["price"] == price
        multiplier = state.risk_multiplier
        assert multiplier == volatility_multiplier(variance, reference, vol_weight, cap)
        assert WAD <= multiplier <= cap
        seen.append(multiplier)
    assert seen[0] == WAD  # a 0.1 % move: volatility below the 0.2 % reference
    assert any(WAD < m < cap for m in seen)
    assert cap in seen  # the 3.5 % move saturates the bound
    assert seen[-1] == WAD  # decays back once prices stop moving


@pytest.mark.parametrize("apply_to_maintenance", [False, True])
def test_multiplier_scales_margin_requirements(make_system: Callable[..., System], apply_to_maintenance: bool) -> None:
    system = make_system(one_market(apply_to_maintenance=apply_to_maintenance, **VOLATILE))
    keeper = trader(system, "keeper")
    alice = trader(system, "alice", 11_000)
    system.trade(alice, BTC, ONE)
    with system.chain.isolate():  # at multiplier 1 a small increase is fine
        system.trade(alice, BTC, ONE // 100)
    for price in ("97000", "100000"):  # two 3 % swings
        system.set_price(BTC, price)
        system.engine.poke(BTC, sender=keeper)
    multiplier = system.engine.market_state(BTC).risk_multiplier
    assert multiplier == 3 * WAD
    mark = int(system.engine.mark_price(BTC))
    notional = model.umul_up(ONE, mark)
    brackets = [b.to_struct() for b in MarketParams().brackets]
    initial = model.umul_up(model.bracket_requirement(brackets, notional, True), multiplier)
    maintenance = model.bracket_requirement(brackets, notional, False)
    if apply_to_maintenance:
        maintenance = model.umul_up(maintenance, multiplier)
    health = system.engine.account_health(alice)
    assert (health.initial_margin, health.maintenance_margin) == (initial, maintenance)
    assert system.lens.margin_requirement(BTC, notional) == (initial, maintenance)
    assert initial == 3 * usd(10_000) + 3 * (notional - usd(100_000)) // 10  # 3 x 10 %
    # the same small increase now needs three times the initial margin
    assert_reverts("Below initial margin", system.trade, alice, BTC, ONE // 100)
    # volatility alone makes the account liquidatable only when maintenance is scaled too
    assert system.lens.is_liquidatable(alice) == apply_to_maintenance
    if not apply_to_maintenance:
        assert_reverts("Account not liquidatable", system.engine.liquidate, alice, sender=keeper)
    else:
        system.engine.liquidate(alice, sender=keeper)
        assert system.size_of(alice, BTC) == 0
    assert_conserved(system)


def test_funding_term_raises_multiplier_while_rate_leaves_its_ema(make_system: Callable[..., System]) -> None:
    system = make_system(one_market(funding_weight=100.0, funding_ema_period=8 * HOUR, max_multiplier=3.0))
    keeper = trader(system, "keeper")
    whale = trader(system, "whale", 1_000_000)
    config = system.engine.market_config(BTC)
    start = system.chain.time
    system.trade(whale, BTC, 60 * ONE)  # premium 0.3 %: linear rate 0.25 % per 8h
    assert system.engine.market_state(BTC).risk_multiplier == WAD

    funding = model.FundingMarket.from_config(config, start)
    ema = 0
    multipliers = []
    for elapsed in (HOUR, HOUR, 2 * HOUR, 8 * HOUR, HOUR):
        system.advance(elapsed)
        system.engine.poke(BTC, sender=keeper)
        funding.touch(60 * ONE, 100_000 * WAD, system.chain.time)
        ema = model.funding_ema(ema, funding.rate, elapsed, 8 * HOUR)
        state = system.engine.market_state(BTC)
        assert (state.cumulative_funding_per_unit, state.funding_rate, state.funding_rate_ema) == (
            funding.cumulative,
            funding.rate,
            ema,
        )
        expected = min(WAD + model.umul_up(abs(funding.rate - ema), 100 * WAD), 3 * WAD)
        assert state.risk_multiplier == expected
        multipliers.append(state.risk_multiplier)
    assert funding.rate == usd("0.0025")
    # first hour by hand: EMA = 0.0025 / 8, deviation 0.0021875, x100 = 0.21875
    assert multipliers[0] == usd("1.21875")
    assert multipliers[0] > multipliers[1] > multipliers[2] > WAD
    assert multipliers[3] == multipliers[4] == WAD  # a full period: the EMA caught up
    # the funding-driven multiplier also scales the initial margin
    system.set_price(BTC, "100000")
    with system.chain.isolate():
        system.trade(whale, BTC, -30 * ONE)  # skew halves: the rate drops away from the EMA
        system.advance(HOUR)
        system.engine.poke(BTC, sender=keeper)
        multiplier = system.engine.market_state(BTC).risk_multiplier
        assert multiplier > WAD
        mark = int(system.engine.mark_price(BTC))
        brackets = [b.to_struct() for b in MarketParams().brackets]
        health = system.engine.account_health(whale)
        assert health.initial_margin == model.umul_up(
            model.bracket_requirement(brackets, model.umul_up(30 * ONE, mark), True), multiplier
        )


# ====================================================================== funding models


def _set_skew(system: System, whale: str, skew: int) -> None:
    current = system.size_of(whale, BTC)
    if skew != current:
        system.trade(whale, BTC, skew - current)


def _capped_rate(config: Any, skew: int) -> int:
    premium = model.premium(skew, config.skew_scale, config.max_premium)
    rate = model.premium_rate(
        premium,
        config.interest_rate,
        config.funding_clamp,
        config.funding_model,
        config.nonlinear_threshold,
        config.nonlinear_coefficient,
    )
    return model.clamp(rate, -config.max_funding_rate, config.max_funding_rate)


def test_nonlinear_rate_grows_faster_than_linear(make_system: Callable[..., System]) -> None:
    system = make_system(one_market(funding_model="nonlinear"))  # threshold 0.1 %, k = 100
    whale = trader(system, "whale", 3_000_000)
    config = system.engine.market_config(BTC)
    assert config.funding_model == model.NONLINEAR and config.skew_scale == 20_000 * ONE
    linear_config = config._replace(funding_model=model.LINEAR)
    rates = {}
    for skew in (10, 20, 30, 40, 60, -60, 100, -100, 0):
        _set_skew(system, whale, skew * ONE)
        rate = int(system.lens.funding_rate(BTC))
        assert rate == _capped_rate(config, skew * ONE), skew
        rates[skew] = rate
    linear = {s: _capped_rate(linear_config, s * ONE) for s in rates}
    assert rates[10] == linear[10] == usd("0.0001")  # premium 0.05 %: inside the threshold and the clamp
    assert rates[20] == linear[20]  # premium exactly at the threshold
    assert rates[40] == usd("0.0015") + usd("0.0001")  # excess 0.1 %: + 100 x 0.001^2
    assert rates[60] == usd("0.0025") + usd("0.0004")  # excess 0.2 %: four times the extra
    assert rates[-60] == -rates[60]  # symmetric here: I - P is clamped to -+0.05 % on both sides
    extra = {s: rates[s] - linear[s] for s in (30, 40, 60)}
    assert 0 < extra[30] < extra[40] < extra[60]
    assert extra[60] == 4 * extra[40]
    assert rates[100] == usd("0.003") and rates[-100] == -usd("0.003")  # the cap and the floor
    assert rates[0] == usd("0.0001")


def test_nonlinear_funding_accrues_exactly(make_system: Callable[..., System]) -> None:
    system = make_system(one_market(funding_model="nonlinear"))
    keeper = trader(system, "keeper")
    whale = trader(system, "whale", 3_000_000)
    config = system.engine.market_config(BTC)
    funding = model.FundingMarket.from_config(config, system.chain.time)
    index = 100_000 * WAD
    for skew, elapsed in ((60, 3 * HOUR), (-45, 5 * HOUR), (100, 8 * HOUR), (25, 1)):
        funding.touch(system.size_of(whale, BTC), index, system.chain.time)
        _set_skew(system, whale, skew * ONE)
        system.advance(elapsed)
        system.engine.poke(BTC, sender=keeper)
        funding.touch(skew * ONE, index, system.chain.time)
        state = system.engine.market_state(BTC)
        assert (state.cumulative_funding_per_unit, state.funding_rate) == (funding.cumulative, funding.rate)
        assert (state.cumulative_funding_per_unit, state.funding_rate) == tuple(system.engine.funding_now(BTC))
    assert_conserved(system)


def test_velocity_rate_drifts_with_skew_until_the_cap(make_system: Callable[..., System]) -> None:
    system = make_system(one_market(funding_model="velocity", funding_velocity=1.0))
    keeper = trader(system, "keeper")
    whale = trader(system, "whale", 3_000_000)
    config = system.engine.market_config(BTC)
    funding = model.FundingMarket.from_config(config, system.chain.time)
    index = 100_000 * WAD
    _set_skew(system, whale, 60 * ONE)  # premium 0.3 %: +0.3 % per day, 0.075 % per 6h
    rates = []
    for step in range(12):
        if step == 6:
            _set_skew(system, whale, -60 * ONE)  # same instant as the last touch: no accrual
        system.advance(6 * HOUR)
        assert (
            int(system.lens.funding_rate(BTC)) == funding.now(system.size_of(whale, BTC), index, system.chain.time)[1]
        )
        system.engine.poke(BTC, sender=keeper)
        funding.touch(system.size_of(whale, BTC), index, system.chain.time)
        state = system.engine.market_state(BTC)
        assert (state.cumulative_funding_per_unit, state.funding_rate) == (funding.cumulative, funding.rate)
        rates.append(state.funding_rate)
    step_rate = usd("0.00075")
    assert rates[:4] == [step_rate, 2 * step_rate, 3 * step_rate, 4 * step_rate]
    assert rates[4] == rates[5] == usd("0.003")  # capped
    assert rates[6:] == [usd("0.003") - step_rate * k for k in range(1, 7)]  # drifts down through zero
    # trapezoid: the first 6h accrue the average of 0 and 0.075 %, times price, times 6/8
    first = (0 + step_rate) * index // WAD * (6 * HOUR) // (2 * 8 * HOUR)
    assert first == usd("28.125")
    assert_conserved(system)


def test_size_tiered_funding_surcharge_goes_to_insurance(make_system: Callable[..., System]) -> None:
    system = make_system(one_market(size_tier_notional=50_000.0, size_tier_multiplier=2.0))
    big = trader(system, "big", 100_000)
    small = trader(system, "small", 10_000)
    edge = trader(system, "edge", 10_000)
    short = trader(system, "short", 50_000)
    sizes = {big: 3 * ONE, small: ONE // 10, edge: ONE // 2, short: -ONE}
    for account, size in sizes.items():
        system.trade(account, BTC, size)
    config = system.engine.market_config(BTC)
    funding = model.FundingMarket.from_config(config, system.chain.time)
    system.advance(8 * HOUR)
    index = 100_000 * WAD
    skew = sum(sizes.values())
    cumulative = funding.now(skew, index, system.chain.time)[0]
    assert funding.now(skew, index, system.chain.time)[1] == usd("0.0001")  # premium inside the clamp
    for account, size in sizes.items():  # pending, as the lens shows it
        owed, surcharge = model.funding_owed(size, cumulative, 0, index, usd(50_000), 2 * WAD)
        assert int(system.lens.pending_funding(account, BTC)) == owed + surcharge

    funding.touch(skew, index, system.chain.time)
    assert funding.cumulative == cumulative == usd(10)  # 0.01 % of 100k per coin
    expected = {  # (owed, surcharge): 2x above 50k notional, only when paying
        big: (usd(30), usd(30)),
        small: (usd(1), 0),
        edge: (usd(5), 0),  # exactly 50k is not above the tier
        short: (-usd(10), 0),  # a big position that receives pays no surcharge
    }
    for account, size in sizes.items():
        owed, surcharge = model.funding_owed(size, cumulative, 0, index, usd(50_000), 2 * WAD)
        assert (owed, surcharge) == expected[account]
        insurance = int(system.engine.insurance_fund())
        margin = int(system.engine.margin(account))
        entry = int(system.engine.position(account, BTC).entry_price)
        state = system.engine.market_state(BTC)
        current_skew = state.long_open_interest - state.short_open_interest
        delta = -size // 10
        fill = model.fill_price(index, current_skew, delta, config.skew_scale, config.max_premium)
        fee = model.trade_fee(current_skew, delta, fill, config.maker_fee, config.taker_fee)
        system.trade(account, BTC, delta)
        assert events(system, "FundingSettled") == [
            dict(account=account, market=BTC, amount=owed, to_insurance=surcharge)
        ]
        assert int(system.engine.insurance_fund()) == insurance + surcharge + fee * usd("0.1") // WAD
        assert int(system.engine.margin(account)) == margin - owed - surcharge + model.pnl(size, fill, entry) - fee
        assert system.engine.position(account, BTC).funding_index == cumulative
        assert_conserved(system)
