"""Contagion accounting (vyperp.sim.contagion) on hand-built books, and the option that
makes traders cross-margined."""

from __future__ import annotations

from decimal import Decimal

import pytest

from vyperp.protocol.units import WAD
from vyperp.sim.book import AccountBook, MarketNow, MarketRules
from vyperp.sim.contagion import Contagion, classify, correlation, legs_of
from vyperp.sim.scenario import ScenarioError, load_scenario, parse_scenario

BTC, ETH = 0, 1
RULES = [MarketRules(brackets=[(2**200, WAD // 50, WAD // 100)]) for _ in range(2)]  # 2 % IM, 1 % MM, at the mark


def _wad(x: float) -> int:
    return int(Decimal(str(x)) * WAD)


def _now(price: float) -> MarketNow:
    return MarketNow(index=_wad(price), mark=_wad(price), cumulative=0, rate=0, long_oi=0, short_oi=0, multiplier=WAD)


def _book(margin_usd: int, positions: dict[int, tuple[float, float]]) -> AccountBook:
    """One account: margin and {market: (size in coins, entry price)}."""
    book = AccountBook(2, RULES)
    book.add("0x" + "11" * 20)
    state = [(_wad(positions[m][0]), _wad(positions[m][1]), 0) if m in positions else (0, 0, 0) for m in (BTC, ETH)]
    book.set_state(0, margin_usd * WAD, state)
    return book


def _event(market: int, size: float, price: float) -> dict[str, int]:
    s = _wad(size)
    return {
        "account": 0,
        "market": market,
        "size_closed": s,
        "price": _wad(price),
        "notional": abs(s) * _wad(price) // WAD,
    }


def test_btc_loss_with_a_flat_eth_leg_liquidated_in_eth_is_cross_market() -> None:
    # 1,000 USD margin; long 1 BTC from 100,000 now 99,200 (-800); long 10 ETH at 4,000, flat
    book = _book(1_000, {BTC: (1.0, 100_000.0), ETH: (10.0, 4_000.0)})
    markets = [_now(99_200.0), _now(4_000.0)]
    equity, requirement = book.account_value(0, markets)
    assert equity == 200 * WAD and requirement == (992 + 400) * WAD  # under maintenance
    legs = legs_of(book, 0, markets)
    assert book.margin[0] + sum(leg.value for leg in legs) == equity
    assert sum(leg.maintenance for leg in legs) == requirement
    kind, own_equity, other_loss = classify(book.margin[0], legs, ETH)
    assert (kind, own_equity, other_loss) == ("cross_market", 1_000 * WAD, 800 * WAD)
    # the same account liquidated in BTC: the BTC leg alone is under its maintenance
    assert classify(book.margin[0], legs, BTC)[0] == "own_market"

    c = Contagion(book, ["BTC", "ETH"])
    c.on_step(0, [_now(100_000.0), _now(4_000.0)])
    c.on_step(1, markets)
    c.on_liquidated(_event(ETH, 10.0, 4_000.0))
    rec = c.records[0]
    assert rec["class"] == "cross_market" and rec["market"] == "ETH" and rec["legs"] == 2
    assert rec["other_step_move"] == pytest.approx(-800.0)  # the BTC leg's move in the last step
    rows = [
        {
            "spot_flow_usd": 0.0,
            "ETH_spot_flow_usd": 0.0,
            "index": 1.0,
            "ETH_index": 1.0,
            "log_impact": 0.0,
            "ETH_log_impact": 0.0,
        }
    ] * 2
    summary = c.summary(rows, [0, 60], False)
    assert summary["cross_market_by_direction"]["BTC->ETH"]["count"] == 1
    assert summary["cross_market_by_direction"]["ETH->BTC"]["count"] == 0
    assert summary["cross_market_by_direction"]["BTC->ETH"]["own_leg_not_losing"] == 1
    assert summary["first_cross_market"]["liquidation"]["market"] == "ETH"


def test_a_pure_eth_loss_is_own_market() -> None:
    # 500 USD margin, long 10 ETH from 4,000 now 3,960 (-400): equity 100 < 396 maintenance
    book = _book(500, {ETH: (10.0, 4_000.0)})
    markets = [_now(100_000.0), _now(3_960.0)]
    c = Contagion(book, ["BTC", "ETH"])
    c.on_step(0, markets)
    c.on_liquidated(_event(ETH, 10.0, 3_960.0))
    assert c.records[0]["class"] == "own_market" and c.records[0]["other_loss"] == 0
    # with a BTC leg that *gained*: still own-market (the ETH leg alone is under water)
    book = _book(500, {BTC: (0.01, 99_000.0), ETH: (10.0, 4_000.0)})
    assert classify(book.margin[0], legs_of(book, 0, markets), ETH)[0] == "own_market"


def test_healthy_leg_under_stacked_maintenance_is_stacked() -> None:
    # no loss anywhere, but the two legs' maintenance exceeds the margin
    book = _book(1_000, {BTC: (0.6, 100_000.0), ETH: (12.0, 4_000.0)})
    legs = legs_of(book, 0, [_now(100_000.0), _now(4_000.0)])
    assert classify(book.margin[0], legs, BTC)[0] == "stacked"


def test_realized_loss_of_an_earlier_other_market_liquidation_counts() -> None:
    # the BTC leg was liquidated last step at a 900 USD loss (now in the margin: 1,000 -> 100);
    # the ETH leg alone on the original margin would be healthy
    book = _book(100, {ETH: (10.0, 4_000.0)})
    legs = legs_of(book, 0, [_now(99_000.0), _now(3_990.0)])
    assert classify(book.margin[0], legs, ETH)[0] == "own_market"
    assert classify(book.margin[0], legs, ETH, realized_other=-900 * WAD)[0] == "cross_market"


def test_correlation() -> None:
    assert correlation([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0)
    assert correlation([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert correlation([0, 0, 0], [1, 2, 3]) is None


def test_cross_margined_share_needs_two_markets() -> None:
    doc = {
        "name": "x",
        "description": "",
        "seed": 1,
        "path": {"source": "gbm", "start_price": 100, "mu": 0, "sigma": 0.1, "steps": 10, "dt_seconds": 60},
        "markets": [{"symbol": "BTC"}],
        "population": {
            "directional": 1, "long_share": 0.5, "basis": 0, "lps": 1, "keepers": 1,
            "keeper_delay_steps": 0, "keeper_gas_budget": 1, "cross_margined_share": 0.5,
            "leverage": {"min": 1, "max": 2, "share_at_max": 0},
        },
    }  # fmt: skip
    with pytest.raises(ScenarioError, match="cross_margined_share' > 0 needs at least two"):
        parse_scenario(doc)
    doc["population"]["cross_margined_share"] = 1.5
    doc["markets"].append({"symbol": "ETH"})
    with pytest.raises(ScenarioError, match="must be in \\[0, 1\\]"):
        parse_scenario(doc)
    assert load_scenario("btc-eth-2025-10-10").population.cross_margined_share == 0.3
    assert load_scenario("btc-2025-10-10").population.cross_margined_share == 0.0


def test_two_market_replay_reports_contagion_and_single_market_does_not() -> None:
    from vyperp.sim.runner import run_replay

    report = run_replay("btc-eth-2025-10-10", steps=100, progress=False)
    assert report["invariant_violations"] == 0
    c = report["contagion"]
    assert report["agents"]["directional"]["cross_margined"] == 90
    assert c["liquidations"] == report["liquidations"] > 0
    assert sum(v["count"] for v in c["by_class"].values()) == c["liquidations"]
    assert sum(v["count"] for v in c["cross_market_by_direction"].values()) == c["by_class"]["cross_market"]["count"]
    single = run_replay("btc-2025-10-10", traders=20, steps=5, progress=False)
    assert "contagion" not in single and "cross_margined" not in single["agents"]["directional"]
