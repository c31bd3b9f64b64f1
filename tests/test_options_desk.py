"""The options desk (vyperp.sim.options_desk): Black-Scholes arithmetic, the IV rule, the
hedge arithmetic, the scenario switch, and a short replay with and without the desk."""

from __future__ import annotations

import math
import tomllib

import pytest

from vyperp.sim.options_desk import (
    YEAR_SECONDS,
    DeskSpec,
    ImpliedVol,
    OptionLeg,
    book_delta,
    book_gamma,
    book_value,
    bs_delta,
    bs_gamma,
    bs_price,
    build_book,
    hedge_trade,
)
from vyperp.sim.scenario import SCENARIO_DIR, ScenarioError, load_scenario, parse_scenario

# ------------------------------------------------------------------ Black-Scholes


def test_textbook_value() -> None:
    # Hull's example (r = 0 variant): S = 42, K = 40, sigma = 20 %, T = 0.5:
    # d1 = (ln(1.05) + 0.01) / 0.141421 = 0.415709, d2 = 0.274288
    # call = 42 N(d1) - 40 N(d2) = 3.447190 (scipy.stats.norm.cdf, computed apart)
    s, k, t, v = 42.0, 40.0, 0.5, 0.2
    assert bs_price("call", s, k, t, v) == pytest.approx(3.447190, abs=1e-6)
    assert bs_delta("call", s, k, t, v) == pytest.approx(0.661189, abs=1e-6)
    assert bs_price("put", s, k, t, v) == pytest.approx(3.447190 - 2.0, abs=1e-6)
    # ATM, r = 0: call = S (2 N(v sqrt T / 2) - 1) ~= 0.3989 S sigma sqrt T
    atm = bs_price("call", 100.0, 100.0, 1.0, 0.2)
    assert atm == pytest.approx(100 * (2 * 0.5 * (1 + math.erf(0.1 / math.sqrt(2))) - 1), rel=1e-12)
    assert atm == pytest.approx(7.9656, abs=1e-4)


@pytest.mark.parametrize("s", [50.0, 90.0, 100.0, 111.0, 300.0])
@pytest.mark.parametrize("t", [1 / 365, 0.1, 2.0])
def test_put_call_parity_and_delta_bounds(s: float, t: float) -> None:
    k, vol = 100.0, 0.6
    call, put = bs_price("call", s, k, t, vol), bs_price("put", s, k, t, vol)
    assert call - put == pytest.approx(s - k, abs=1e-9)  # r = 0
    dc, dp = bs_delta("call", s, k, t, vol), bs_delta("put", s, k, t, vol)
    assert dc - dp == pytest.approx(1.0, abs=1e-12)
    assert 0.0 <= dc <= 1.0 and -1.0 <= dp <= 0.0
    assert call >= max(s - k, 0) - 1e-12 and put >= max(k - s, 0) - 1e-12
    assert bs_gamma("call", s, k, t, vol) == bs_gamma("put", s, k, t, vol) > 0


def test_delta_and_gamma_are_the_price_derivatives() -> None:
    s, k, t, vol, h = 61_000.0, 60_000.0, 3 / 365, 0.5, 1.0
    for kind in ("call", "put"):
        up, down = bs_price(kind, s + h, k, t, vol), bs_price(kind, s - h, k, t, vol)
        mid = bs_price(kind, s, k, t, vol)
        assert bs_delta(kind, s, k, t, vol) == pytest.approx((up - down) / (2 * h), abs=1e-6)
        assert bs_gamma(kind, s, k, t, vol) == pytest.approx((up - 2 * mid + down) / h**2, rel=1e-3)


def test_expiry_is_intrinsic_and_bad_inputs_raise() -> None:
    assert bs_price("call", 110.0, 100.0, 0.0, 0.5) == 10.0
    assert bs_price("put", 110.0, 100.0, 0.0, 0.5) == 0.0
    assert bs_delta("call", 110.0, 100.0, 0.0, 0.5) == 1.0
    assert bs_delta("put", 90.0, 100.0, -1.0, 0.5) == -1.0
    assert bs_delta("put", 110.0, 100.0, 0.0, 0.5) == 0.0
    assert bs_gamma("call", 100.0, 100.0, 0.0, 0.5) == 0.0
    with pytest.raises(ValueError, match="kind"):
        bs_price("straddle", 1.0, 1.0, 1.0, 0.5)
    with pytest.raises(ValueError, match="> 0"):
        bs_delta("call", 0.0, 1.0, 1.0, 0.5)


# ------------------------------------------------------------------------ the book


def test_the_book_is_short_calls_and_puts_and_short_gamma() -> None:
    spec = DeskSpec(moneyness=(0.9, 1.0, 1.1), expiries_days=(1, 7), size_btc=5)
    legs = build_book(spec, 60_000.0, 1_000)
    assert len(legs) == 12 and all(leg.quantity == -5 for leg in legs)
    assert {leg.strike for leg in legs} == {54_000.0, 60_000.0, 66_000.0}
    assert {leg.expiry_ts for leg in legs} == {1_000 + 86_400, 1_000 + 7 * 86_400}
    # short call: negative delta; short put: positive delta
    call = [OptionLeg("call", 60_000.0, 86_400, -1.0)]
    put = [OptionLeg("put", 60_000.0, 86_400, -1.0)]
    assert book_delta(call, 60_000.0, 0, 0.5) < 0 < book_delta(put, 60_000.0, 0, 0.5)
    # the book is short gamma: its delta falls as the price rises (the hedge buys the rise)
    assert book_gamma(legs, 60_000.0, 0, 0.5) < 0
    assert book_delta(legs, 63_000.0, 0, 0.5) < book_delta(legs, 60_000.0, 0, 0.5) < book_delta(legs, 57_000.0, 0, 0.5)
    # its value is a liability: minus the premium it sold for
    assert book_value(legs, 60_000.0, 0, 0.5) < 0


# ----------------------------------------------------------------------- the IV rule


def test_iv_rule() -> None:
    spec = DeskSpec(iv_base=0.5, iv_a=0.8, iv_b=0.2, iv_floor=0.3, iv_cap=2.0, rv_half_life_steps=10)
    rule = ImpliedVol(spec, 60)
    per_year = YEAR_SECONDS / 60
    assert rule.update(100.0) == pytest.approx(0.5)  # seeded at the base: IV = 0.8 x 0.5 + 0.2 x 0.5
    # one return r: var = lam var0 + (1 - lam) r^2
    lam = 0.5 ** (1 / 10)
    r = math.log(101 / 100)
    var = lam * 0.25 / per_year + (1 - lam) * r * r
    assert rule.update(101.0) == pytest.approx(0.8 * 0.5 + 0.2 * math.sqrt(var * per_year), rel=1e-12)
    # a 3 % move per step spikes it to the cap; flat prices decay RV to 0 and IV to iv_a x iv_base
    p = 101.0
    for _ in range(30):
        p *= 1.03
        rule.update(p)
    assert rule.iv == 2.0
    for _ in range(600):
        rule.update(p)
    assert rule.iv == pytest.approx(0.4, abs=1e-3) and rule.realized < 1e-3
    floor = ImpliedVol(DeskSpec(iv_base=0.2, iv_a=1.0, iv_b=0.0, iv_floor=0.3), 60)
    assert floor.update(1.0) == 0.3
    with pytest.raises(ValueError):
        rule.update(0.0)


# -------------------------------------------------------------------- hedge arithmetic


def test_hedge_trade_fills_only_the_excess_beyond_the_band() -> None:
    assert hedge_trade(1.5, 0.0, 2.0) == 0.0  # inside the band
    assert hedge_trade(-2.0, 0.0, 2.0) == 0.0  # at the edge
    # short calls after a rise: book delta -10, no hedge -> buy 8 (to the band's edge, -2)
    assert hedge_trade(-10.0, 0.0, 2.0) == pytest.approx(8.0)
    # short puts after a fall: delta +7 against a hedge of -1 -> sell 4
    assert hedge_trade(7.0, -1.0, 2.0) == pytest.approx(-4.0)
    # the traded size equals the book delta's change beyond the band, on a path
    spec = DeskSpec(moneyness=(0.95, 1.0, 1.05), expiries_days=(2,), size_btc=10, band_btc=1.0)
    legs = build_book(spec, 60_000.0, 0)
    hedge = 0.0
    net_prev = book_delta(legs, 60_000.0, 0, 0.5)
    for s in (60_000.0, 61_000.0, 62_500.0, 61_800.0, 58_000.0, 55_000.0):
        delta = book_delta(legs, s, 600, 0.5)
        trade = hedge_trade(delta, hedge, spec.band_btc)
        before = delta + hedge
        hedge += trade
        after = delta + hedge
        if abs(before) > spec.band_btc:
            assert abs(after) == pytest.approx(spec.band_btc)
            assert abs(trade) == pytest.approx(abs(before) - spec.band_btc)
            assert math.copysign(1, trade) == -math.copysign(1, before)  # trades against the book's delta
        else:
            assert trade == 0.0
        net_prev = after
    assert abs(net_prev) <= spec.band_btc + 1e-9
    # short gamma: the rise to 62,500 made the hedge long, the fall to 55,000 made it short
    assert hedge < 0


# ---------------------------------------------------------------- the scenario switch


def test_the_scenario_table() -> None:
    assert load_scenario("canonical-squeeze").population.options_desk is None
    desk = load_scenario("canonical-squeeze-desk").population.options_desk
    assert desk == DeskSpec()  # the file writes the defaults out
    real = load_scenario("btc-2025-10-10-desk")
    assert real.population.options_desk is not None and real.impact.enabled
    doc = tomllib.loads((SCENARIO_DIR / "canonical-squeeze-desk.toml").read_text())
    doc["population"]["options_desk"]["gamma"] = 1
    with pytest.raises(ScenarioError, match=r"options_desk.*unknown key\(s\) gamma"):
        parse_scenario(doc)
    doc["population"]["options_desk"] = {"market": "ETH"}
    with pytest.raises(ScenarioError, match="names no market"):
        parse_scenario(doc)
    doc["population"]["options_desk"] = {"band_btc": -1}
    with pytest.raises(ScenarioError, match="band_btc must be >= 0"):
        parse_scenario(doc)


def test_desk_replay_hedges_through_the_chain_and_the_switch_leaves_no_desk_runs_alone() -> None:
    from vyperp.sim.desk_study import amplification, without_desk
    from vyperp.sim.runner import TIMING_FIELDS, replay_and_report

    scenario = load_scenario("canonical-squeeze-desk")
    kw = {"traders": 40, "steps": 220, "progress": False}
    replay, on = replay_and_report(scenario, **kw)
    _, off = replay_and_report(without_desk(scenario), **kw)
    _, plain = replay_and_report(load_scenario("canonical-squeeze"), **kw)
    assert on["invariant_violations"] == 0
    # the no-desk report has no desk key and equals the shipped scenario's (apart from its name and timing)
    assert "options_desk" not in off
    strip = TIMING_FIELDS | {"scenario"}
    assert {k: v for k, v in off.items() if k not in strip} == {k: v for k, v in plain.items() if k not in strip}
    assert "desk_iv" not in replay_and_report(without_desk(scenario), **kw)[0].metrics.columns(["BTC"])
    desk = on["options_desk"]
    flow = desk["hedge_flow"]
    assert flow["trades"] > 0 and flow["reverted"] == 0 and on["tx_by_kind"]["desk_hedge"] == flow["trades"]
    # the position on chain is the hedge: the book's delta within the band at the end
    d = replay.desk
    assert d is not None
    size = int(replay.engine.position(d.account, 0).size)
    assert size / 1e18 == pytest.approx(flow["hedge_end_coins"], abs=1e-9)
    last = d.rows[-1]
    assert abs(last.book_delta + last.hedge_after) <= d.spec.band_btc + 1e-6
    # every trade is spot flow of its kind; the squeeze made the short-gamma desk a buyer
    assert flow["hedge_end_coins"] > 0
    assert flow["traded_notional_usd"] >= flow["max_step_notional_usd"] > 0
    # the IV rule saw the squeeze
    assert desk["iv"]["peak"] > desk["iv"]["start"] == pytest.approx(0.45)
    # the P&L adds up and the margin path is read from chain
    pnl = desk["pnl"]
    assert pnl["total_usd"] == pytest.approx(pnl["option_book_usd"] + pnl["perp_usd"])
    assert pnl["fees_usd"] > 0
    assert desk["margin"]["equity_min_usd"] <= desk["margin"]["deposit_usd"] + max(pnl["perp_usd"], 0)
    amp = amplification(on, off)
    assert amp["liquidated_notional_desk_off"] == off["liquidated_notional"]
    assert amp["liquidated_notional_difference"] == on["liquidated_notional"] - off["liquidated_notional"]
