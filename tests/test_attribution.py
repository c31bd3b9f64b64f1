"""Cascade attribution (vyperp.sim.attribution): the impact-off baseline is the recorded
path, an impact that moves nothing causes nothing, the matching rules, and the files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vyperp.oracles.pricepath import WAD
from vyperp.sim.attribution import match_liquidations, run_attribution
from vyperp.sim.runner import TIMING_FIELDS, run_replay

SCENARIO = "btc-2025-10-10"
SMALL = {"traders": 40, "steps": 110}  # 19:38-21:28: through the cascade's worst minutes


def _liq(step: int, account: str = "a", market: int = 0, notional: float = 1.0) -> dict:
    return {"step": step, "account": account, "market": market, "side": "long", "notional": notional}


def test_matching_rules() -> None:
    off = [_liq(10), _liq(12), _liq(50, "b")]
    on = [_liq(11), _liq(30), _liq(50, "c"), _liq(50, "b", market=1)]
    m = match_liquidations(on, off, tolerance_steps=5)
    assert [(a["step"], b["step"]) for a, b in m.pairs] == [(11, 10)]  # nearest, earlier on a tie (10 vs 12)
    assert [x["step"] for x in m.caused] == [30, 50, 50]  # too far; other account; other market
    assert [x["step"] for x in m.prevented] == [12, 50]
    # one-to-one: two on-events cannot share one off-event
    m = match_liquidations([_liq(10), _liq(11)], [_liq(10)], tolerance_steps=5)
    assert len(m.pairs) == 1 and len(m.caused) == 1
    assert not match_liquidations([_liq(16)], [_liq(10)], tolerance_steps=6).caused
    assert match_liquidations([_liq(17)], [_liq(10)], tolerance_steps=6).caused
    with pytest.raises(ValueError):
        match_liquidations([], [], tolerance_steps=-1)


def test_impact_off_is_the_recorded_path_and_no_effect_causes_nothing() -> None:
    # a depth so large that every step's impact rounds to zero: the impact-on replay is the impact-off one
    res = run_attribution(SCENARIO, SMALL["traders"], None, False, depth_usd=1e30, steps=SMALL["steps"])
    off, on = res["replays"]["off"], res["replays"]["on"]
    recorded = [p / WAD for p in off.paths["BTC"].prices]
    assert [r["index"] for r in off.metrics.rows] == recorded  # the attribution's baseline, exactly
    assert on.scenario.impact.enabled and not off.scenario.impact.enabled
    assert [r["index"] for r in on.metrics.rows] == recorded
    assert off.metrics.liquidations, "the window must liquidate someone for this test to mean anything"
    assert on.metrics.liquidations == off.metrics.liquidations
    a = res["attribution"]
    assert a["caused"]["count"] == 0 and a["prevented"]["count"] == 0 and a["caused"]["events"] == []
    assert a["matched"]["count"] == len(off.metrics.liquidations) == a["matched"]["same_step"]
    assert a["price_dislocation"]["max"] == 0 and a["liquidated_notional"]["added"] == 0
    assert a["depth_source"] == "given"


def test_thin_book_amplifies(tmp_path: Path) -> None:
    # 1 M USD per 1 %: the protocol's own selling moves the price by percents and liquidates more
    res = run_attribution(SCENARIO, SMALL["traders"], tmp_path, False, depth_usd=1e6, steps=SMALL["steps"])
    a = res["attribution"]
    assert a["caused"]["count"] > 0 and a["caused"]["notional"] > 0
    assert a["price_dislocation"]["max"] > 0.01
    assert a["price_dislocation"]["impacted_low"] < a["price_dislocation"]["recorded_low"]
    assert a["caused"]["count"] == len(a["caused"]["events"])
    on = res["replays"]["on"]
    assert a["liquidations"]["on"] == len(on.metrics.liquidations) == a["matched"]["count"] + a["caused"]["count"]
    written = json.loads((tmp_path / "attribution.json").read_text())["attribution"]
    assert written["caused"]["count"] == a["caused"]["count"]
    for name in ("report.json", "timeseries.csv", "cascade.png", "impact-on/report.json", "impact-on/cascade.png"):
        assert (tmp_path / name).is_file(), name
    # OUT/report.json is the plain replay's (impact off, as the real window's scenario says)
    plain = run_replay(SCENARIO, SMALL["traders"], None, tmp_path / "plain", False, steps=SMALL["steps"])
    baseline = json.loads((tmp_path / "report.json").read_text())
    plain_written = json.loads((tmp_path / "plain" / "report.json").read_text())
    assert {k: v for k, v in baseline.items() if k not in TIMING_FIELDS} == {
        k: v for k, v in plain_written.items() if k not in TIMING_FIELDS
    }
    assert not plain["impact_enabled"]


def test_real_btc_window_uses_the_calibration() -> None:
    from vyperp.sim.attribution import impact_overrides
    from vyperp.sim.depth import attribution_depth_usd
    from vyperp.sim.scenario import load_scenario

    ov, source = impact_overrides(load_scenario(SCENARIO))
    assert ov == {"impact_enabled": True, "impact_depth_usd": attribution_depth_usd()}
    assert source.endswith("btcusdt_depth_2025-10-10.json")
    assert impact_overrides(load_scenario("crash-30pct")) == ({"impact_enabled": True}, "scenario")
