"""Sweeps end to end on tiny replays: overrides, determinism, resumption, interruption, a
failing replay, Monte Carlo paths, and a two-worker LocalCluster on loopback."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from vyperp.sim.runner import run_replay
from vyperp.sweep import TIMING_COLUMNS, parse_spec, read_table, sweep
from vyperp.sweep.engine import tasks_of

TINY = {"name": "tiny", "scenarios": ["crash-30pct"], "traders": 20, "steps": 100, "fixed": {"mitigations": "on"}}


def tiny(**extra):
    return parse_spec({**TINY, **extra})


def comparable(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop(columns=[c for c in TIMING_COLUMNS if c in df]).sort_values("run").reset_index(drop=True)


def test_same_spec_same_results_and_rows_carry_seed_and_parameters():
    s = tiny(vary={"max_leverage": [20, 50]}, seeds={"values": [1, 2]})
    a, b = sweep(s), sweep(s)
    sa, sb = a.summary(), b.summary()
    assert len(sa) == 4 and (sa["status"] == "ok").all()
    pd.testing.assert_frame_equal(comparable(sa), comparable(sb))
    pd.testing.assert_frame_equal(a.cells(bootstrap=100), b.cells(bootstrap=100))
    pd.testing.assert_frame_equal(a.timeseries(), b.timeseries())
    assert sorted(sa["seed"]) == [1, 1, 2, 2]
    assert set(sa["param.max_leverage"]) == {20, 50} and set(sa["param.mitigations"]) == {"on"}
    # the row is the replay's report: the same run through run_replay gives the same numbers
    row = sa[(sa["seed"] == 2) & (sa["param.max_leverage"] == 50)].iloc[0]
    direct = run_replay(
        "crash-30pct", 20, progress=False, steps=100, seed=2, overrides={"mitigations": "on", "max_leverage": 50}
    )
    for key in ("bad_debt", "liquidated_notional", "pool_drawdown", "largest_liquidation_notional", "adl_events"):
        assert row[key] == direct[key]
    tiers = [c for c in sa.columns if c.startswith("liquidated_notional.")]
    assert tiers and math.isclose(sum(row[c] for c in tiers), row["liquidated_notional"], rel_tol=1e-9)
    ts = a.timeseries()
    assert set(ts.columns) == {"run", "step", "timestamp", "metric", "value"}
    assert len(ts[(ts["run"] == row["run"]) & (ts["metric"] == "index")]) == 100
    # different seeds are different runs
    assert sa.groupby("param.max_leverage")["liquidated_notional"].nunique().min() == 2


def test_resume_skips_finished_runs_and_interrupt_keeps_them(tmp_path):
    s = tiny(vary={"keeper_delay_steps": [0, 2]}, seeds={"count": 3})
    out = tmp_path / "sw"
    seen = []

    def stop_after_two(res, done, total, failed):
        seen.append(res["key"])
        if len(seen) == 2:
            raise KeyboardInterrupt

    first = sweep(s, out, progress=stop_after_two)
    assert first.interrupted and len(first.summary()) == 2
    assert len(list((out / "runs").glob("*.json"))) == 2
    assert read_table(out / "summary.parquet").shape[0] == 2
    ran = []
    second = sweep(s, out, progress=lambda res, *a: ran.append(res["key"]))
    assert not second.interrupted
    assert len(ran) == 4 and not set(ran) & set(seen)  # only what was missing
    assert second.info["skipped"] == 2
    third = sweep(s, out, progress=lambda res, *a: ran.append(res["key"]))
    assert third.info["ran"] == 0 and len(ran) == 4
    full = sweep(s)  # from scratch, in memory
    pd.testing.assert_frame_equal(comparable(third.summary()), comparable(full.summary()))
    on_disk = read_table(out / "summary.parquet")
    assert len(on_disk) == 6 and set(on_disk["status"]) == {"ok"}
    assert len(read_table(out / "cells.parquet")) == 2


def test_a_failing_replay_is_recorded_and_the_sweep_goes_on(tmp_path):
    s = tiny(vary={"max_leverage": [0.5, 20]})  # 0.5x is rejected by the scenario mapping
    res = sweep(s, tmp_path / "f")
    df = res.summary().set_index("param.max_leverage")
    assert df.loc[0.5, "status"] == "error" and "max_leverage must be >= 1" in df.loc[0.5, "error"]
    assert df.loc[20, "status"] == "ok" and df.loc[20, "liquidated_notional"] > 0
    cells = res.cells(bootstrap=50).set_index("param.max_leverage")
    assert cells.loc[0.5, "failed"] == 1 and cells.loc[0.5, "runs"] == 0
    assert cells.loc[20, "runs"] == 1
    # a failure is retried on the next run, a success is not
    again = sweep(s, tmp_path / "f")
    assert again.info["ran"] == 1


def test_monte_carlo_paths_reproducible_from_their_seed():
    s = tiny(
        scenarios=["btc-2025-10-10"],
        steps=60,
        traders=10,
        fixed={},
        paths={"source": "bootstrap", "count": 2, "seed": 7, "block_steps": 10},
    )
    tasks = tasks_of(s)
    assert [t["path"]["index"] for t in tasks] == [0, 1]
    from vyperp.sim.scenario import load_scenario
    from vyperp.sweep.engine import _price_paths

    sc = load_scenario("btc-2025-10-10")
    p0, p0b, p1 = (_price_paths(t, sc)["BTC"] for t in (tasks[0], tasks[0], tasks[1]))
    assert p0.prices == p0b.prices and p0.prices != p1.prices
    assert len(p0) == 60 and p0.prices[0] == sc.price_path("BTC").prices[0]
    # every bootstrap return is a real one-minute return of a shipped window
    from vyperp.sweep.paths import window_returns

    real = np.concatenate(window_returns())
    r = np.diff(np.log([float(x) for x in p0.prices]))
    assert all(np.min(np.abs(real - v)) < 1e-6 for v in r)
    res = sweep(s)
    assert (res.summary()["status"] == "ok").all() and res.summary()["path_index"].tolist() == [0, 1]


def test_jump_fit_recovers_known_parameters():
    from vyperp.sweep.paths import fit_returns

    rng = np.random.default_rng(0)
    n = 20_000
    k = rng.poisson(0.05, n)
    r = 1e-5 + 0.001 * rng.standard_normal(n) + rng.normal(-0.005 * k, 0.01 * np.sqrt(k))
    p = fit_returns(r)["per_minute"]
    assert p["sigma"] == pytest.approx(0.001, rel=0.05)
    assert p["jump_intensity"] == pytest.approx(0.05, rel=0.2)
    assert p["jump_std"] == pytest.approx(0.01, rel=0.15)
    assert p["jump_mean"] == pytest.approx(-0.005, abs=0.0015)


def test_amplification_is_impact_on_over_off():
    s = tiny(amplification=True)
    row = sweep(s).summary().iloc[0]
    assert row["impact_enabled"]  # crash-30pct has impact on
    assert row["liquidated_notional_impact_on"] == row["liquidated_notional"]
    off = run_replay(
        "crash-30pct", 20, progress=False, steps=100, overrides={"mitigations": "on", "impact_enabled": False}
    )
    assert row["liquidated_notional_impact_off"] == off["liquidated_notional"]
    assert row["amplification"] == pytest.approx(row["liquidated_notional"] / off["liquidated_notional"])


def test_two_worker_local_cluster_on_loopback_matches_in_process():
    pytest.importorskip("distributed")
    from vyperp.sweep.engine import local_cluster

    s = tiny(vary={"max_leverage": [20, 50]}, seeds={"values": [1, 2]})
    local = sweep(s, workers=1)
    cluster = local_cluster(2)  # the cluster `vyperp sweep` starts: must bind loopback only
    try:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        res = sweep(s, scheduler=cluster.scheduler_address)
    finally:
        cluster.close()
    assert res.info["engine"] == "dask" and res.info["workers"] == 2
    df = res.summary()
    assert (df["status"] == "ok").all()
    pd.testing.assert_frame_equal(comparable(df), comparable(local.summary()))
    assert df["worker_pid"].nunique() >= 1


def test_sweep_starts_and_stops_its_own_local_cluster():
    pytest.importorskip("distributed")
    s = tiny(seeds={"values": [3, 4]})
    res = sweep(s, workers=2)
    assert res.info["engine"] == "dask-local" and res.info["workers"] == 2 and res.info["dashboard"] is None
    pd.testing.assert_frame_equal(comparable(res.summary()), comparable(sweep(s).summary()))


def test_html_report_has_a_heatmap_per_statistic_and_the_failures(tmp_path):
    from vyperp.sweep.report import HEATMAP_STATS, write_html

    s = tiny(vary={"max_leverage": [0.5, 20, 50], "keeper_delay_steps": [0, 2]})
    res = sweep(s)
    page = write_html(res, tmp_path / "r.html").read_text()
    # a heatmap per statistic, the capital-efficiency frontier, the bad-debt distributions
    assert page.count("data:image/png;base64,") == len(HEATMAP_STATS) + 2
    assert "capital efficiency vs p99 bad debt" in page and "bad debt (USD) per design" in page
    assert "failed replays" in page and "max_leverage must be &gt;= 1" in page
    cells = res.cells(bootstrap=50)
    var95 = cells[(cells["param.max_leverage"] == 50) & (cells["param.keeper_delay_steps"] == 2)]["bad_debt_var95"]
    assert f"{var95.iloc[0]:,.4g}" in page


def test_adl_metrics_and_time_to_first_adl_match_the_adl_study():
    """The ADL study (vyperp adl-policies) expressed as sweep overrides gives the same numbers."""
    from vyperp.sim.compare import ADL_STUDY, run_adl_policies

    agents = {k: list(v) if isinstance(v, tuple) else v for k, v in ADL_STUDY["agents"].items()}
    fixed = {**ADL_STUDY["params"], **agents}
    s = parse_spec(
        {
            "name": "adl",
            "scenarios": [ADL_STUDY["scenario"]],
            "traders": ADL_STUDY["traders"],
            "steps": ADL_STUDY["steps"],
            "full_scan_every": 1,
            "fixed": fixed,
            "vary": {"adl_policy": ["queue", "pro-rata"]},
            "timeseries": ["liquidations", "adl_events"],
        }
    )
    res = sweep(s)
    rows = res.summary().set_index("param.adl_policy")
    study = run_adl_policies()["policies"]
    for policy in ("queue", "pro-rata"):
        for key in ("adl_events", "adl_overshoot", "adl_notional", "bad_debt", "liquidated_notional"):
            assert rows.loc[policy, key] == study[policy][key], (policy, key)
    assert rows["adl_events"].min() > 0
    ts = res.timeseries()
    for _policy, row in rows.iterrows():
        run = ts[ts["run"] == row["run"]]
        first_liq = run[(run["metric"] == "liquidations") & (run["value"] > 0)]["timestamp"].min()
        first_adl = run[(run["metric"] == "adl_events") & (run["value"] > 0)]["timestamp"].min()
        assert row["first_liquidation_to_adl_seconds"] == first_adl - first_liq > 0


def test_cells_json_is_written_only_for_a_clean_sweep(tmp_path):
    """--cells-json publishes the cells table of a sweep whose replays all succeeded; a sweep
    with a failed replay exits 1 and writes nothing (no figures from a failed run)."""
    import json

    from click.testing import CliRunner

    from vyperp.cli import main

    good, bad = tmp_path / "good.toml", tmp_path / "bad.toml"
    head = 'name = "t"\nscenarios = ["crash-30pct"]\ntraders = 10\nsteps = 40\n'
    good.write_text(head + "[variants]\nplain = {}\ncap = { max_funding_rate_8h = 0.001 }\n")
    bad.write_text(head + "[vary]\nmax_leverage = [0.5, 20]\n")
    run = CliRunner().invoke(
        main,
        [
            "sweep",
            str(good),
            "--workers",
            "1",
            "--out",
            str(tmp_path / "g"),
            "--no-report",
            "--no-progress",
            "--cells-json",
            str(tmp_path / "g.json"),
        ],
    )
    assert run.exit_code == 0, run.output
    doc = json.loads((tmp_path / "g.json").read_text())
    assert doc["runs"] == 2 and [c["param.variant"] for c in doc["cells"]] == ["plain", "cap"]
    run = CliRunner().invoke(
        main,
        [
            "sweep",
            str(bad),
            "--workers",
            "1",
            "--out",
            str(tmp_path / "b"),
            "--no-report",
            "--no-progress",
            "--cells-json",
            str(tmp_path / "b.json"),
        ],
    )
    assert run.exit_code == 1 and not (tmp_path / "b.json").exists()


def test_separate_dask_scheduler_and_worker_processes_match_in_process(tmp_path):
    """`--scheduler tcp://...` against a `dask scheduler` and two `dask worker` processes started
    on loopback (as an operator would on other hosts) gives the in-process results."""
    import os
    import socket
    import subprocess
    import sys
    import time
    from pathlib import Path

    pytest.importorskip("distributed")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    dask = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    procs = [
        subprocess.Popen(
            [*dask, "--host", "127.0.0.1", "--port", str(port), "--dashboard-address", ":0", "--no-show"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    try:
        import distributed

        deadline = time.time() + 60
        while True:
            try:
                with distributed.Client(address, timeout=2) as probe_client:
                    probe_client.close()
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.5)
        for _ in range(2):
            procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "distributed.cli.dask_worker",
                        address,
                        "--nworkers",
                        "1",
                        "--nthreads",
                        "1",
                        "--host",
                        "127.0.0.1",
                        "--no-dashboard",
                    ],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        with distributed.Client(address) as client:
            client.wait_for_workers(2, timeout=60)
        s = tiny(vary={"max_leverage": [20, 50]}, seeds={"values": [1, 2]})
        remote = sweep(s, tmp_path / "remote", scheduler=address)
        local = sweep(s, tmp_path / "local", workers=1)
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
    assert remote.info["engine"] == "dask" and remote.info["workers"] == 2
    df = remote.summary()
    assert (df["status"] == "ok").all() and set(df["worker_pid"]) != {os.getpid()}  # ran in the workers
    pd.testing.assert_frame_equal(comparable(df), comparable(local.summary()))


def test_a_reverted_deployment_replays_exactly_like_a_fresh_one():
    """The worker's deployment cache (deploy once per parameter set, revert a snapshot after):
    interleaving two parameter sets and three seeds, every report (timing aside) and every
    time-series row equals the one from a fresh deployment, and the cache was really hit."""
    from vyperp.sim.deployments import DeploymentCache
    from vyperp.sim.runner import TIMING_FIELDS, Replay

    cache = DeploymentCache(size=2)

    def run(seed: int, leverage: int, deployments):
        r = Replay(
            "crash-30pct",
            15,
            seed=seed,
            steps=80,
            overrides={"mitigations": "on", "max_leverage": leverage},
            deployments=deployments,
        )
        report = r.run(False)
        return r, {k: v for k, v in report.items() if k not in TIMING_FIELDS}, r.metrics.rows

    for seed in (1, 2, 3):
        for leverage in (20, 50):
            cached, report, rows = run(seed, leverage, cache)
            _, fresh_report, fresh_rows = run(seed, leverage, None)
            assert cached.deployment_reused == (seed > 1)
            assert report == fresh_report, (seed, leverage)
            assert rows == fresh_rows, (seed, leverage)
    assert (cache.hits, cache.misses, len(cache)) == (4, 2, 2)


def test_pareto_front_keeps_only_undominated_designs():
    from vyperp.sweep.report import pareto_front

    # (capital efficiency, p99 bad debt): 0 and 2 are beaten by 1 and 3; 4 has a NaN
    x = [1.0, 2.0, 1.5, 3.0, float("nan")]
    y = [5.0, 4.0, 6.0, 7.0, 1.0]
    assert pareto_front(x, y) == [1, 3]
    assert pareto_front([1.0, 1.0], [2.0, 2.0]) == [0, 1]  # ties dominate neither


def test_path_sets_are_cells_of_their_own_in_the_tables(tmp_path):
    s = tiny(paths=[{"source": "scenario"}, {"source": "scenario", "count": 2, "seed": 5}], seeds={"values": [1]})
    res = sweep(s, out_dir=tmp_path / "sw")
    summary, cells = res.summary(), res.cells(bootstrap=20)
    assert sorted(summary["paths"]) == ["scenario#1", "scenario#2", "scenario#2"]
    assert sorted(zip(cells["paths"], cells["runs"])) == [("scenario#1", 1), ("scenario#2", 2)]
    assert sorted(read_table(tmp_path / "sw" / "cells.parquet")["paths"]) == ["scenario#1", "scenario#2"]


def test_bench_overhead_splits_a_replay_into_setup_loop_and_final_check(monkeypatch):
    from vyperp.sim import deployments
    from vyperp.sweep.bench import _overhead

    monkeypatch.setattr(deployments, "WORKER_CACHE", deployments.DeploymentCache())  # this test's own
    res = sweep(tiny(seeds={"values": [1, 2, 3]}))
    o = _overhead(res.summary(), res.info["store_seconds"])
    assert o["deployments_reused"] == 2  # the first run deployed, the others reverted
    assert 0 < o["build_seconds_median"] < o["overhead_seconds"] and o["final_check_seconds_median"] > 0
    assert abs(o["overhead_share_of_loop"] - o["overhead_seconds"] / o["loop_seconds_median"]) < 0.01
    assert o["non_loop_share_of_loop"] >= o["overhead_share_of_loop"]  # the final check comes on top


def test_a_two_market_bootstrap_draws_minutes_the_markets_lived_together():
    """btc-eth-2025-10-10 bootstrapped: every generated (BTC, ETH) return pair is a pair of
    the same real minute, the draw repeats from its seed, and the correlation survives."""
    from vyperp.sim.scenario import load_scenario
    from vyperp.sweep.engine import _price_paths

    scenario = load_scenario("btc-eth-2025-10-10")
    task = {"path": {"source": "bootstrap", "index": 3, "seed": 7, "block_steps": 20}, "steps": None}
    a, b = _price_paths(task, scenario), _price_paths(task, scenario)
    assert a["BTC"].prices == b["BTC"].prices and a["ETH"].prices == b["ETH"].prices
    assert a["BTC"].timestamps == a["ETH"].timestamps
    real = {s: np.diff(np.log(np.asarray(scenario.price_path(s).prices, dtype=float))) for s in ("BTC", "ETH")}
    pairs = np.column_stack([real["BTC"], real["ETH"]])
    gen = {s: np.diff(np.log(np.asarray(a[s].prices, dtype=float))) for s in ("BTC", "ETH")}
    # each generated pair is (to the paths' price rounding) the pair of one real minute
    for x, y in zip(gen["BTC"], gen["ETH"]):
        assert np.min(np.abs(pairs - (x, y)).max(axis=1)) < 1e-6, (x, y)
    corr_real = np.corrcoef(real["BTC"], real["ETH"])[0, 1]
    assert np.corrcoef(gen["BTC"], gen["ETH"])[0, 1] > 0.5 * corr_real > 0
    other = _price_paths({**task, "path": {**task["path"], "index": 4}}, scenario)
    assert other["BTC"].prices != a["BTC"].prices
