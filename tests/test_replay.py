"""Cascade replay (vyperp.sim): invariants hold on real and synthetic paths, runs are
deterministic per seed, the outputs have what a researcher needs, the mitigations do
what they claim on the crash scenario, and the CLI / ape entry points work.

Every replay here runs the on-chain full scan at every step (full_scan_every=1), so
the replay's account book is verified against EngineLens.scan_accounts each step.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import tomllib
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from vyperp.protocol.params import TIERED
from vyperp.sim.agents import AgentConfig
from vyperp.sim.compare import run_mitigations
from vyperp.sim.metrics import TIMESERIES_COLUMNS
from vyperp.sim.report import MITIGATION_KEYS
from vyperp.sim.runner import TIMING_FIELDS as TIMING_KEYS
from vyperp.sim.runner import replay_and_report
from vyperp.sim.scenario import SCENARIO_DIR, load_scenario, parse_scenario
from vyperp.sim.scenario_params import replay_params

ROOT = Path(__file__).resolve().parents[1]
REQUIRED_REPORT_KEYS = {
    "scenario",
    "seed",
    "traders",
    "steps",
    "tx_count",
    "wall_seconds",
    "tx_per_second",
    "liquidations_by_tier",
    "largest_liquidation_notional",
    "bad_debt",
    "insurance_fund_start",
    "insurance_fund_min",
    "insurance_fund_end",
    "pool_assets_start",
    "pool_assets_min",
    "pool_assets_end",
    "adl_events",
    "max_abs_funding_rate",
    "max_mark_index_gap",
    "invariant_checks",
    "invariant_violations",
    "param_set",
}
SHORT = {"traders": 50, "steps": 60, "full_scan_every": 1, "progress": False}


def _assert_invariants_held(report: dict) -> None:
    assert report["invariant_checks"] > 0
    assert report["invariant_violations"] == 0, report["first_violation"]
    assert report["full_onchain_scans"] == report["steps"] + 1
    assert report["agents"]["keepers"]["screen_mismatches"] == 0


@pytest.fixture(scope="module")
def real_run(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("btc-2022-11-08")
    replay, report = replay_and_report("btc-2022-11-08", out_dir=out, **SHORT)
    return replay, report, out


def test_real_window_keeps_every_invariant(real_run) -> None:
    replay, report, _ = real_run
    _assert_invariants_held(report)
    assert report["steps"] == 60 and report["traders"] == 50
    assert report["tx_count"] > 2 * report["steps"]  # agents acted, not just the feeder
    assert report["agents"]["directional"]["opens"] > 0
    assert not any(key.startswith(("oracle", "setup")) for key in report["reverted_tx"])


def test_impact_off_replays_the_path_exactly(real_run) -> None:
    replay, report, _ = real_run
    assert report["impact_enabled"] is False
    answers = replay.paths["BTC"].to_oracle_answers(8)
    assert [round(r["index"] * 10**8) for r in replay.metrics.rows] == answers[:60]
    assert [r["timestamp"] for r in replay.metrics.rows] == replay.paths["BTC"].timestamps[:60]


def test_outputs_have_the_required_keys_and_columns(real_run) -> None:
    _, report, out = real_run
    on_disk = json.loads((out / "report.json").read_text())
    assert REQUIRED_REPORT_KEYS <= set(on_disk)
    assert on_disk["invariant_violations"] == 0 and on_disk["scenario"] == "btc-2022-11-08"
    for tier in on_disk["liquidations_by_tier"].values():
        assert {"count", "notional_usd"} <= set(tier)
    with open(out / "timeseries.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 60
    assert set(TIMESERIES_COLUMNS) <= set(rows[0])
    for column in (
        "timestamp",
        "index",
        "mark",
        "funding_rate_8h",
        "long_oi",
        "short_oi",
        "skew",
        "liquidations",
        "liquidated_notional",
        "insurance_fund",
        "pool_assets",
        "bad_debt",
    ):
        assert rows[0][column] != ""
    png = (out / "cascade.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 50_000


def test_same_seed_same_report_and_timeseries(real_run, tmp_path: Path) -> None:
    _, first, out = real_run
    replay, second = replay_and_report("btc-2022-11-08", out_dir=tmp_path, **SHORT)
    assert {k: v for k, v in first.items() if k not in TIMING_KEYS} == {
        k: v for k, v in second.items() if k not in TIMING_KEYS
    }
    assert (out / "timeseries.csv").read_bytes() == (tmp_path / "timeseries.csv").read_bytes()


def test_different_seeds_differ(real_run) -> None:
    replay, first, _ = real_run
    other_replay, other = replay_and_report("btc-2022-11-08", seed=2, **SHORT)
    _assert_invariants_held(other)
    assert other["seed"] == 2
    assert other_replay.metrics.rows != replay.metrics.rows
    assert (other["tx_by_kind"], other["liquidated_notional"]) != (first["tx_by_kind"], first["liquidated_notional"])


def test_canonical_squeeze_keeps_every_invariant() -> None:
    # through the squeeze (pre-period 180 steps + 30-step squeeze), a smaller population
    replay, report = replay_and_report("canonical-squeeze", traders=80, steps=240, full_scan_every=1, progress=False)
    _assert_invariants_held(report)
    assert report["impact_enabled"] is True
    shorts = [x for x in replay.metrics.liquidations if x["side"] == "short"]
    assert shorts, "the squeeze liquidated no short"
    assert report["agents"]["basis"]["entries"] > 0


@pytest.mark.parametrize("bounds", [False, True], ids=["pool-bounds-off", "pool-bounds-on"])
def test_auto_deleveraging_runs_when_the_waterfall_needs_it(bounds: bool) -> None:
    # no insurance and a thin pool. With the PnL-to-pool bounds off, the squeeze leaves the
    # pool in deficit and keepers must ADL it back; with them on (the default), ADL opens on
    # the PnL-to-pool trigger first and the pool never reaches a deficit.
    doc = tomllib.loads((SCENARIO_DIR / "canonical-squeeze.toml").read_text())
    doc["markets"][0]["params"].update({"insurance_fee_share": 0.0, "penalty_rate": 0.0})
    if not bounds:
        doc["markets"][0]["params"].update({"max_pnl_pool_ratio": 0.0, "adl_pnl_pool_ratio": 0.0})
    scenario = parse_scenario(doc)
    config = AgentConfig(
        lp_capital_per_trader_usd=1_000.0, insurance_per_trader_usd=0.0, lp_drawdown_threshold=(0.9, 0.95)
    )
    replay, report = replay_and_report(
        scenario, traders=80, steps=240, agent_config=config, full_scan_every=1, progress=False
    )
    _assert_invariants_held(report)
    assert report["adl_events"] > 0 and report["adl_haircut"] > 0
    if bounds:
        assert report["adl_pending_steps"] == 0  # ADL ran before any deficit existed
    else:
        assert report["adl_pending_steps"] > 0  # deficits were seen, and repaired by ADL
    assert replay.wire.read_int(replay.wire.cd_pool_value) >= 0 or replay.wire.read_uint(replay.wire.cd_insurance) > 0


def test_mitigations_reduce_bad_debt_and_the_largest_liquidation(tmp_path: Path) -> None:
    out = tmp_path / "mitigations.json"
    result = run_mitigations("crash-30pct", out=out, progress=False)
    on_disk = json.loads(out.read_text())
    assert on_disk["scenario"] == "crash-30pct" and on_disk["seed"] == 3
    for setting in ("off", "on"):
        assert set(MITIGATION_KEYS) <= set(on_disk[setting])
        assert on_disk[setting]["invariant_violations"] == 0
    off, on = result["off"], result["on"]
    assert set(off["liquidated_notional_by_tier"]) == {"full_close"}
    assert set(on["liquidated_notional_by_tier"]) == {"tier1_close25pct", "tier2_close50pct", "tier3_close100pct"}
    assert on["bad_debt"] < off["bad_debt"]
    assert on["largest_liquidation_notional"] < off["largest_liquidation_notional"]


def test_scenario_parameter_mapping() -> None:
    scenario = load_scenario("crash-30pct")
    paths = {"BTC": scenario.price_path("BTC")}
    off = replay_params(scenario, paths, "baseline")
    on = replay_params(scenario, paths, "mitigated")
    assert (off.mitigations, on.mitigations) == ("off", "on")
    m_off, m_on = off.protocol.markets[0], on.protocol.markets[0]
    assert m_off.initial_price == pytest.approx(60_000.0) and m_off.max_price_jump == 0.5
    assert [(b.initial_margin_rate, b.maintenance_margin_rate) for b in m_off.brackets] == [(0.02, 0.005)]
    assert m_off.funding_model == "linear" and m_off.max_multiplier == 1.0 and m_off.rate_limit_window == 0
    assert off.protocol.liquidation.tiers == ()
    assert m_off.max_funding_rate == 0.003 and m_off.skew_scale_usd == 1_000_000_000
    first = m_on.brackets[0]
    assert (first.initial_margin_rate, first.maintenance_margin_rate) == (0.02, 0.005)  # keeps 50x and 0.5 %
    assert len(m_on.brackets) == 4 and m_on.brackets[-1].initial_margin_rate > first.initial_margin_rate
    assert on.protocol.liquidation.tiers == TIERED and on.protocol.liquidation.cooldown == 60
    assert (m_on.variance_ewma_weight, m_on.volatility_weight, m_on.funding_weight, m_on.max_multiplier) == (
        0.06,
        1.0,
        10.0,
        3.0,
    )
    assert m_on.reference_volatility == 0.002 and m_on.apply_to_maintenance is False
    assert m_on.funding_model == "nonlinear"
    assert (m_on.rate_limit_window, m_on.rate_limit_notional) == (60, 5_000_000.0)
    squeeze = load_scenario("canonical-squeeze")
    on25 = replay_params(squeeze, {"BTC": squeeze.price_path("BTC")}, mitigations="on").protocol.markets[0]
    assert on25.brackets[0].initial_margin_rate == 0.04  # 25x
    bad = replace(scenario, param_sets={"typo": {"max_leverag": 10}})
    with pytest.raises(ValueError, match="max_leverag"):
        replay_params(bad, paths, "typo")


def test_cli_replay_and_compare(tmp_path: Path) -> None:
    from vyperp.cli import main

    runner = CliRunner()
    out = tmp_path / "one"
    result = runner.invoke(
        main,
        [
            "replay",
            "--scenario",
            "btc-2022-11-08",
            "--steps",
            "15",
            "--traders",
            "10",
            "--out",
            str(out),
            "--no-progress",
            "--full-scan-every",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "invariant violations" in result.output
    for name in ("report.json", "timeseries.csv", "cascade.png"):
        assert (out / name).exists()
    both = tmp_path / "ab"
    result = runner.invoke(
        main,
        [
            "replay",
            "--scenario",
            "crash-30pct",
            "--steps",
            "20",
            "--traders",
            "10",
            "--compare",
            "baseline",
            "mitigated",
            "--out",
            str(both),
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    compare = json.loads((both / "compare.json").read_text())
    assert compare["reports"]["baseline"]["mitigations"] == "off"
    assert compare["reports"]["mitigated"]["mitigations"] == "on"
    assert (both / "baseline" / "report.json").exists() and (both / "mitigated" / "cascade.png").exists()
    # the A/B overlay: both designs' lines drawn on one chart
    import numpy as np
    from PIL import Image

    from vyperp.sim.chart import AB_COLORS

    img = np.asarray(Image.open(both / "compare.png").convert("RGB")).astype(int)
    for color in AB_COLORS:
        rgb = np.array([int(color[i : i + 2], 16) for i in (1, 3, 5)])
        assert (np.abs(img - rgb).max(axis=2) <= 10).sum() > 2000, color
    result = runner.invoke(main, ["replay", "--scenario", "no-such-scenario", "--no-progress"])
    assert result.exit_code != 0 and "scenario not found" in result.output


def test_ape_script_refuses_other_networks() -> None:
    spec = importlib.util.spec_from_file_location("replay_script", ROOT / "scripts" / "replay.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = CliRunner().invoke(module.cli, ["--network", "ethereum:local:test", "--scenario", "crash-30pct"])
    assert result.exit_code == 2
    assert "only on the embedded in-process chain" in result.output
    assert "--network" in CliRunner().invoke(module.cli, ["--help"]).output


def test_screened_evaluation_agrees_with_the_exact_one() -> None:
    """Between full scans the book screens holders in float64 and evaluates only the risky
    ones exactly; at every step of a cascade that must give the same liquidatable set and
    negative-equity sum as the exact evaluation, and an upper bound of the positive one."""
    seen = {"steps": 0, "screened": 0, "holders": 0, "below": 0}
    holder = {}

    def compare(done: int, _total: int) -> None:
        replay = holder["replay"]
        book, markets = replay.book, replay.markets
        fast = book.evaluate(markets, exact=False)
        exact = book.evaluate(markets, exact=True)
        assert fast.below_maintenance == exact.below_maintenance
        assert fast.negative_equity == exact.negative_equity
        # the bound values positions at the mark; exact values them at their exit prices
        # under the PnL cap, which is never more (the gap is exactly that valuation's)
        at_mark = [replace(rules, skew_scale=0) for rules in book.rules]
        exit_rules, book.rules = book.rules, at_mark
        try:
            gap = sum(book.account_value(i, markets)[0] for i in book.holders)
        finally:
            book.rules = exit_rules
        gap -= sum(book.account_value(i, markets)[0] for i in book.holders)
        assert gap >= 0
        assert 0 <= fast.positive_equity - exact.positive_equity <= gap + 2 * book.n_markets * len(book)
        assert (fast.margin_sum, fast.long_sizes, fast.short_sizes) == (
            exact.margin_sum,
            exact.long_sizes,
            exact.short_sizes,
        )
        seen["steps"] += 1
        seen["screened"] += fast.exact_evaluated
        seen["holders"] += len(book.holders)
        seen["below"] += len(exact.below_maintenance)

    from vyperp.sim.runner import Replay

    replay = Replay("crash-30pct", traders=120, full_scan_every=7)
    holder["replay"] = replay
    report = replay.run(progress=compare)
    assert report["invariant_violations"] == 0, report["first_violation"]
    assert seen["steps"] == report["steps"] and seen["below"] > 0
    assert seen["screened"] < seen["holders"] / 2  # the screen skips most healthy accounts


def test_batched_reads_match_the_single_views() -> None:
    """EngineLens.step_read (one call per step) returns what the engine's getters and the
    lens's margins / positions return; liquidatable_accounts lists exactly the accounts
    account_health calls liquidatable, with its equity and maintenance; the replay's log
    decoder gives what the ABI decoder gives."""
    from vyperp.sim.chainio import _event_decoder, static_tuple_array, word, word_array
    from vyperp.sim.runner import Replay

    seen = {"steps": 0, "liquidatable": 0, "events": 0}
    holder = {}

    def compare(done: int, _total: int) -> None:
        replay = holder["replay"]
        book = replay.book
        if done % 5:
            return
        seen["steps"] += 1
        touched = sorted(set(range(0, len(book), 7)) | set(book.holders))[: replay.wire.sync_batch]
        for idx in touched:
            book.set_state(idx, 0, [(0, 0, 0)] * book.n_markets)  # forget them: read_step must restore
        replay.tx.touched.update(touched)
        markets, g = replay.read_step()
        assert markets == replay.read_markets() and g == replay.read_globals()
        for idx in touched:
            account = book.addresses[idx]
            assert book.margin[idx] == replay.engine.margin(account)
            for m in range(book.n_markets):
                position = replay.engine.position(account, m)
                assert (book.size[m][idx], book.entry[m][idx], book.findex[m][idx]) == tuple(position)
        holders = sorted(book.holders)
        for start in range(0, len(holders), 256):
            chunk = holders[start : start + 256]
            array = word(32) + word_array([book.address_words[i] for i in chunk])
            got = static_tuple_array(replay.chain.call(replay.wire.lens_addr, replay.wire.sel_liquidatable + array), 3)
            healths = static_tuple_array(
                replay.chain.call(replay.wire.lens_addr, replay.wire.sel_accounts_health + array),
                replay.wire.health_words,
            )
            at = replay.wire.health_at
            e, mm, n = at["equity"], at["maintenance_margin"], at["position_count"]
            want = [(k, h[e], h[mm]) for k, h in enumerate(healths) if h[n] > 0 and h[e] < h[mm]]
            assert got == want
            seen["liquidatable"] += len(got)
        # the keepers' two paths (accounts_health below CANDIDATES_MIN candidates) agree
        confirm = replay.keepers.confirm
        assert confirm(holders) == [x for k in range(0, len(holders), 3) for x in confirm(holders[k : k + 3])]

    replay = Replay("crash-30pct", traders=120, steps=120, full_scan_every=10)
    holder["replay"] = replay
    report = replay.run(progress=compare)
    assert report["invariant_violations"] == 0, report["first_violation"]
    assert seen["steps"] > 10 and seen["liquidatable"] > 0
    engine_events = replay.engine.contract_type.events
    for name in ("Liquidated", "BadDebtCovered", "AutoDeleveraged", "PositionModified"):
        spec = next(e for e in engine_events.values() if e.name == name)
        decode = _event_decoder(spec, replay.book.topic_index, replay.book.addresses)
        account = replay.book.address_words[len(replay.book) - 1]
        topics = [spec.topic0] + [account if i == 0 else word(3) for i in range(spec.n_indexed)]
        data = b"".join(word(-(7**k) if k % 2 else 11**k) for k in range(len(spec.abi["inputs"]) - spec.n_indexed))
        assert decode(topics, data) == spec.decode(topics, data)
        seen["events"] += 1
    assert seen["events"] == 4


def test_adl_policies_report_their_overshoot_against_the_minimal_haircut(tmp_path: Path) -> None:
    """Both ADL policies repair the same deficits with every invariant holding; pro rata
    (no closes) overshoots the minimal haircut by less than the queue (whose closes fill at
    exit prices below the mark they were valued at)."""
    from vyperp.sim.compare import run_adl_policies

    out = tmp_path / "adl.json"
    result = run_adl_policies(out)
    assert out.exists()
    queue, pro_rata = result["policies"]["queue"], result["policies"]["pro-rata"]
    for run in (queue, pro_rata):
        assert run["invariant_violations"] == 0
        assert run["adl_events"] > 0 and run["adl_minimal_haircut"] > 0
        assert run["adl_overshoot"] == pytest.approx(run["adl_trader_loss"] - run["adl_minimal_haircut"], abs=0.02)
    assert queue["adl_notional"] > 0 and pro_rata["adl_notional"] == 0  # pro rata closes nothing
    assert abs(pro_rata["adl_overshoot"]) <= queue["adl_overshoot"]
