"""run_replay takes parameter overrides by flat name (vyperp.sim.overrides)."""

from __future__ import annotations

import pytest

from vyperp.sim.runner import run_replay


def test_run_replay_takes_overrides_directly():
    base = run_replay("crash-30pct", 20, progress=False, steps=100, mitigations="on")
    r = run_replay(
        "crash-30pct",
        20,
        progress=False,
        steps=100,
        overrides={
            "mitigations": "on",
            "bracket_scale": 2.0,
            "keeper_delay_steps": 4,
            "insurance_per_trader_usd": 100.0,
            "tier_threshold_scale": 0.8,
        },
    )
    assert r["keeper_delay_steps"] == 4 and base["keeper_delay_steps"] == 1
    assert r["insurance_fund_start"] == pytest.approx(2_000.0)  # 20 traders x 100 USD
    b0 = base["parameters"]["markets"]["BTC"]["brackets"]
    b1 = r["parameters"]["markets"]["BTC"]["brackets"]
    assert [x[1] for x in b1] == [min(1.0, round(2 * x[1], 12)) for x in b0]
    assert r["parameters"]["liquidation"]["tiers"] == [[1.0, 0.25], [0.6, 0.5], [0.4, 1.0]]
    with pytest.raises(ValueError, match="unknown parameter 'keeper_delay'"):
        run_replay("crash-30pct", 20, progress=False, steps=5, overrides={"keeper_delay": 1})
