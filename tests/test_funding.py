"""Funding to the wei: the engine's cumulative index, its dimensionless rate index and every
position's settlement equal the exact integer model (vyperp.model) over random sequences of
trades, price moves and time jumps, for each funding model."""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vyperp import model
from vyperp.chain import Reverted
from vyperp.protocol.params import MarketParams, ProtocolParams
from vyperp.protocol.system import System
from vyperp.protocol.units import WAD, wad

from .helpers import events

MODELS = {
    "linear": MarketParams(skew_scale_usd=20_000_000.0, max_funding_rate=0.01),
    "nonlinear": MarketParams(
        skew_scale_usd=20_000_000.0,
        funding_model="nonlinear",
        nonlinear_threshold=0.0005,
        nonlinear_coefficient=400.0,
        max_funding_rate=0.01,
    ),
    "velocity": MarketParams(
        skew_scale_usd=20_000_000.0, funding_model="velocity", funding_velocity=3.0, max_funding_rate=0.01
    ),
    "size-tiered": MarketParams(skew_scale_usd=20_000_000.0, size_tier_notional=150_000.0, size_tier_multiplier=1.37),
}

operation = st.one_of(
    st.tuples(st.just("trade"), st.integers(0, 2), st.integers(-300, 300).filter(lambda x: x != 0)),
    st.tuples(st.just("time"), st.integers(1, 3 * 86_400), st.just(0)),
    st.tuples(st.just("price"), st.integers(-15, 15), st.just(0)),
    st.tuples(st.just("poke"), st.just(0), st.just(0)),
)


@pytest.fixture(scope="module", params=list(MODELS))
def funded(request: pytest.FixtureRequest) -> Iterator[tuple[System, list[str]]]:
    system = System.deploy(ProtocolParams(markets=[MODELS[request.param]]))
    lp = system.new_trader("lp")
    system.mint(lp, 10_000_000)
    system.pool.deposit(system.tokens(10_000_000), lp, sender=lp)
    traders = [system.new_trader(f"trader{i}", 1_000_000) for i in range(3)]
    yield system, traders


@given(operations=st.lists(operation, min_size=5, max_size=25))
def test_funding_matches_exact_model(funded: tuple[System, list[str]], operations: list) -> None:
    system, traders = funded
    engine = system.engine
    with system.chain.isolate():
        state = engine.market_state(0)
        config = engine.market_config(0)
        market = model.FundingMarket.from_config(config, last_time=state.last_funding_time)
        market.cumulative, market.rate = state.cumulative_funding_per_unit, state.funding_rate
        market.rate_index = engine.funding_rate_index(0)
        tier_notional, tier_multiplier = config.size_tier_notional, config.size_tier_multiplier
        positions = {t: tuple(engine.position(t, 0)) for t in traders}
        price = wad(100_000)
        prices = [100_000]

        def skew() -> int:
            return sum(size for size, _, _ in positions.values())

        for kind, a, b in operations:
            if kind == "time":
                system.chain.advance(a)
                system.set_price(0, prices[-1])
            elif kind == "price":  # a new round, accepted by a keeper's poke (keeps moves within the jump bound)
                prices.append(prices[-1] * (100 + a) // 100)
                system.set_price(0, prices[-1])
                market.touch(skew(), wad(prices[-1]), system.chain.time)
                engine.poke(0, sender=traders[0])
                price = wad(prices[-1])
            elif kind == "poke":
                engine.poke(0, sender=traders[0])
                market.touch(skew(), price, system.chain.time)
            else:
                trader, delta = traders[a], b * WAD // 100
                trial = copy.copy(market)
                trial.touch(skew(), price, system.chain.time)
                try:
                    system.trade(trader, 0, delta)
                except Reverted as exc:
                    assert exc.reason == "Below initial margin"
                    continue
                market = trial
                size, entry, index = positions[trader]
                settled = events(system, "FundingSettled")
                if size != 0 and index != market.cumulative:
                    owed, surcharge = model.funding_owed(
                        size, market.cumulative, index, price, tier_notional, tier_multiplier
                    )
                    assert settled == [{"account": trader, "market": 0, "amount": owed, "to_insurance": surcharge}]
                else:
                    assert settled == []
                new_size = size + delta
                positions[trader] = (new_size, 0, market.cumulative if new_size else 0)
            on_chain = engine.market_state(0)
            assert (on_chain.cumulative_funding_per_unit, on_chain.funding_rate) == (market.cumulative, market.rate)
            assert engine.funding_rate_index(0) == market.rate_index
            now_cumulative, now_rate = engine.funding_now(0)
            assert (now_cumulative, now_rate) == market.now(skew(), price, system.chain.time)
            for trader in traders:
                size, _, index = positions[trader]
                assert engine.position(trader, 0).size == size
                owed, surcharge = model.funding_owed(size, now_cumulative, index, price, tier_notional, tier_multiplier)
                assert system.lens.pending_funding(trader, 0) == owed + surcharge


@pytest.mark.parametrize("name", ["linear", "nonlinear", "velocity"])
def test_rate_index_matches_model_over_touches(name: str) -> None:
    """A seeded run of trades, price moves and touches: R (funding_rate_index) equals the
    model's sum of trapezoids to the wei at every step; it stops once the market is settled
    (the VELOCITY start rate is non-zero then, so this is not an accident of a zero rate)."""
    seed = 1_400 + list(MODELS).index(name)
    print(f"seed {seed}")
    rng = random.Random(seed)
    system = System.deploy(ProtocolParams(markets=[MODELS[name]]))
    lp = system.new_trader("lp")
    system.mint(lp, 10_000_000)
    system.pool.deposit(system.tokens(10_000_000), lp, sender=lp)
    trader = system.new_trader("trader", 1_000_000)
    engine = system.engine
    market = model.FundingMarket.from_config(
        engine.market_config(0), engine.market_state(0).last_funding_time, engine.market_state(0)
    )
    assert engine.funding_rate_index(0) == 1  # listed at 1 wei (only differences count)
    market.rate_index = 1
    size = 0
    moved = False
    for _ in range(40):
        system.chain.advance(rng.randint(1, 12 * 3600))
        system.set_price(0, 100_000)
        delta = rng.randint(-250, 250) * WAD // 100
        if delta != 0 and rng.random() < 0.6:
            market.touch(size, wad(100_000), system.chain.time)
            system.trade(trader, 0, delta)
            size += delta
        else:
            market.touch(size, wad(100_000), system.chain.time)
            engine.poke(0, sender=trader)
        assert engine.funding_rate_index(0) == market.rate_index
        moved = moved or market.rate_index != 0
    assert moved, "the run never moved R"
    system.chain.advance(3_600)
    system.set_price(0, 100_000)
    market.touch(size, wad(100_000), system.chain.time)
    system.configurator.settle_market(0, wad(100_000), sender=system.admin)
    assert engine.funding_rate_index(0) == market.rate_index
    if name == "velocity":
        assert engine.market_state(0).funding_rate != 0
    frozen = market.rate_index
    for _ in range(3):
        system.chain.advance(8 * 3600)
        engine.poke(0, sender=trader)
        assert engine.funding_rate_index(0) == frozen


def test_rate_index_is_rate_times_periods_at_a_constant_rate() -> None:
    """A constant rate r for k periods of 8 h adds exactly r * k to R (LINEAR, fixed skew)."""
    system = System.deploy(ProtocolParams(markets=[MODELS["linear"]]))
    lp = system.new_trader("lp")
    system.mint(lp, 10_000_000)
    system.pool.deposit(system.tokens(10_000_000), lp, sender=lp)
    trader = system.new_trader("trader", 1_000_000)
    system.trade(trader, 0, 2 * WAD)
    engine = system.engine
    system.chain.advance(1)  # the first touch after the fill sets the rate its skew gives
    system.set_price(0, 100_000)
    engine.poke(0, sender=trader)
    before, rate = engine.funding_rate_index(0), engine.market_state(0).funding_rate
    assert rate != 0
    system.chain.advance(3 * 8 * 3600)
    system.set_price(0, 100_000)
    engine.poke(0, sender=trader)
    assert engine.market_state(0).funding_rate == rate
    assert engine.funding_rate_index(0) - before == 3 * rate
