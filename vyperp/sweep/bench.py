"""Sweep throughput (``vyperp sweep-bench`` -> ``reports/sweep_bench.json``).

What it measures, all on the full 262-step 2025-10-10 window with 300 traders on block-
bootstrap paths (one protocol parameter set, so every worker deploys once and reverts):

* replays per minute in-process (1 worker) and on a 2-worker ``LocalCluster``, and the
  speedup;
* the per-replay fixed overhead against the replay loop: set-up (deploy or snapshot revert,
  agents), the report and row, the driver's result write;
* the wall time of a 1,000-replay sweep on the 2-worker cluster (cluster start-up included)
  and the peak resident memory of each worker process.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from typing import Any

from . import parse_spec, sweep
from .engine import local_cluster, run_task, tasks_of

BENCH_SPEC = {
    "name": "bench",
    "scenarios": ["btc-2025-10-10"],
    "traders": 300,
    "timeseries": [],
    "paths": {"source": "bootstrap", "count": 4, "seed": 11, "block_steps": 30},
    "seeds": {"count": 6},
}
"""24 replays of the full 262-step 2025-10-10 window with 300 traders, on bootstrap paths."""


def _warm(spec_doc: dict[str, Any], n: int, scheduler: str | None) -> float:
    """Imports and the compile cache in every worker (not timed as sweep)."""
    warm = parse_spec({**spec_doc, "seeds": {"values": list(range(900, 900 + n))}, "paths": {"count": 1}})
    t0 = time.perf_counter()
    sweep(warm, workers=1 if scheduler is None else None, scheduler=scheduler)
    return time.perf_counter() - t0


def _overhead(summary: Any, store_seconds: float) -> dict[str, Any]:
    """Per-replay fixed cost against the loop, from a sweep's summary (medians over its runs).

    Fixed overhead, as the issue counts it: the set-up (the path, the ``Replay``, the deploy or
    snapshot revert, the agents funded from the seed, the result row) plus the driver's
    result write. Reported apart: the final check after the loop (the books after the last
    step's transactions evaluated exactly and scanned on chain, part of every replay)."""
    ok = summary[summary["status"] == "ok"]
    loop = statistics.median(ok["loop_seconds"])
    run = statistics.median(ok["run_seconds"])
    wall = statistics.median(ok["wall_seconds"])
    build = statistics.median(ok["build_seconds"])
    final = statistics.median(ok["final_check_seconds"])
    # the rest of the task in the worker: the path, the Replay, the report and the row
    task = statistics.median(ok["run_seconds"] - ok["wall_seconds"] - ok["final_check_seconds"])
    deploy_reused = ok.loc[ok["deployment_reused"].astype(bool), "deploy_seconds"]
    write = store_seconds / max(len(summary), 1)
    # medians of per-run sums (a sum of medians is no run's figure): fixed = build + task set-up,
    # non-loop = fixed + the final check; so non-loop >= fixed holds run by run and in the median
    fixed = statistics.median(ok["run_seconds"] - ok["loop_seconds"] - ok["final_check_seconds"])
    non_loop = statistics.median(ok["run_seconds"] - ok["loop_seconds"])
    overhead = fixed + write
    return {
        "loop_seconds_median": round(loop, 4),
        "run_seconds_median": round(run, 4),
        "replay_wall_seconds_median": round(wall, 4),
        "build_seconds_median": round(build, 4),
        "task_setup_seconds_median": round(task, 4),
        "final_check_seconds_median": round(final, 4),
        "deploy_seconds_reused_median": round(statistics.median(deploy_reused), 4) if len(deploy_reused) else None,
        "deployments_reused": int(ok["deployment_reused"].astype(bool).sum()),
        "result_write_seconds_mean": round(write, 5),
        "overhead_seconds": round(overhead, 4),
        "overhead_share_of_loop": round(overhead / loop, 4),
        "non_loop_share_of_loop": round((non_loop + write) / loop, 4),
        "note": "overhead = median over runs of build (deploy or snapshot revert, agents) + task set-up (path, "
        "Replay, row), plus the driver's result write; non_loop adds the final check after the loop (exact "
        "books + on-chain scan); the build and task medians are the parts",
    }


def _replays_in_process(tasks: list[dict[str, Any]], barrier: Any = None, results: Any = None) -> float:
    """Seconds to run `tasks` one after the other here, after one warm-up run (imports, compile
    cache, the deployment); with a `barrier`, every process starts timing at the same moment."""
    run_task(tasks[0])
    if barrier is not None:
        barrier.wait()
    t0 = time.perf_counter()
    for task in tasks:
        run_task(task)
    seconds = time.perf_counter() - t0
    if results is not None:
        results.put(seconds)
    return seconds


def parallel_ceiling(tasks: list[dict[str, Any]], processes: int = 2) -> dict[str, Any]:
    """What the machine itself gives: the same replays in 1 process, then `processes`
    independent processes at once (no Dask, no driver; warmed up, started together at a
    barrier), each running all of them. The throughput ratio bounds any engine's speedup
    here (2 vCPUs that share a physical core give far less than x2)."""
    import multiprocessing as mp

    one = _replays_in_process(tasks)
    ctx = mp.get_context("spawn")
    barrier, results = ctx.Barrier(processes), ctx.Queue()
    procs = [ctx.Process(target=_replays_in_process, args=(tasks, barrier, results)) for _ in range(processes)]
    for proc in procs:
        proc.start()
    times = [results.get(timeout=600) for _ in procs]
    for proc in procs:
        proc.join()
    wall = max(times)
    return {
        "replays_per_process": len(tasks),
        "one_process_seconds": round(one, 3),
        "parallel_seconds": [round(t, 3) for t in times],
        "throughput_ratio": round(processes * one / wall, 2),
        "note": f"{processes} independent processes each replaying the same {len(tasks)} runs at once vs one "
        "process alone: the hardware's own parallel speedup (an upper bound for the Dask engine)",
    }


def run_bench(
    spec_doc: dict[str, Any] | None = None,
    workers: tuple[int, ...] = (1, 2),
    full_replays: int = 1000,
) -> dict[str, Any]:
    """The figures of ``reports/sweep_bench.json`` (see the module docstring); ``full_replays=0``
    skips the long sweep."""
    doc = spec_doc or BENCH_SPEC
    spec = parse_spec(doc)
    tasks = tasks_of(spec)
    _warm(doc, 1, None)
    out: dict[str, Any] = {"spec": doc, "replays": len(tasks), "runs": {}}
    for n in workers:
        if n == 1:
            t0 = time.perf_counter()
            res = sweep(spec, workers=1, tasks=tasks)
            wall = time.perf_counter() - t0
            summary = res.summary()
            out["runs"]["1"] = {
                "engine": "in-process",
                "seconds": round(wall, 3),
                "replays_per_minute": round(60 * len(tasks) / wall, 1),
                "failed": int((summary["status"] != "ok").sum()),
            }
            out["overhead"] = _overhead(summary, res.info.get("store_seconds", 0.0))
            # the same first runs deployed afresh: what the reverted snapshot saves (or costs)
            fresh = [run_task({**t, "reuse_deployments": False})["row"]["deploy_seconds"] for t in tasks[:6]]
            out["overhead"]["deploy_seconds_fresh_median"] = round(statistics.median(fresh), 4)
            continue
        t0 = time.perf_counter()
        cluster = local_cluster(n)
        startup = time.perf_counter() - t0
        try:
            warmup = _warm(doc, n, cluster.scheduler_address)
            t1 = time.perf_counter()
            res = sweep(spec, scheduler=cluster.scheduler_address, tasks=tasks)
            wall = time.perf_counter() - t1
        finally:
            cluster.close()
        out["runs"][str(n)] = {
            "engine": "dask-local",
            "cluster_startup_seconds": round(startup, 3),
            "worker_warmup_seconds": round(warmup, 3),
            "seconds": round(wall, 3),
            "replays_per_minute": round(60 * len(tasks) / wall, 1),
            "replays_per_minute_with_startup": round(60 * len(tasks) / (wall + startup + warmup), 1),
            "failed": int((res.summary()["status"] != "ok").sum()),
        }
    one = out["runs"].get("1", {}).get("replays_per_minute")
    for run in out["runs"].values():
        if one:
            run["speedup_vs_1"] = round(run["replays_per_minute"] / one, 2)
    out["parallel_ceiling"] = parallel_ceiling(tasks[:12])
    if full_replays:
        out["full"] = run_full(doc, full_replays)
        if one:  # the long sweep's throughput (cluster start included) over one in-process worker
            out["full"]["speedup_vs_1"] = round(out["full"]["replays_per_minute"] / one, 2)
    out["machine"] = {
        "cpus": os.cpu_count(),
        "loadavg_at_end": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
    }
    out["notes"] = (
        "seconds = wall time of the sweep call (the driver included); the local cluster's startup and "
        "worker warm-up (imports, contract artefacts from the compile cache) are reported apart; the "
        "machine's cores may be shared with other jobs (loadavg_at_end), so absolute figures are indicative"
    )
    return out


def run_full(spec_doc: dict[str, Any], replays: int, workers: int = 2) -> dict[str, Any]:
    """A `replays`-run sweep of one cell (bootstrap paths x seeds) on a fresh `workers`-process
    LocalCluster: wall time from cluster start to the last result, peak memory per worker."""
    paths = 50 if replays >= 50 else replays
    seeds = -(-replays // paths)
    doc = {**spec_doc, "name": "bench-full", "paths": {**spec_doc["paths"], "count": paths}, "seeds": {"count": seeds}}
    tasks = tasks_of(parse_spec(doc))[:replays]
    t0 = time.perf_counter()
    cluster = local_cluster(workers)
    try:
        res = sweep(parse_spec(doc), scheduler=cluster.scheduler_address, tasks=tasks)
    finally:
        cluster.close()
    wall = time.perf_counter() - t0
    summary = res.summary()
    peak = summary.groupby("worker_pid")["worker_peak_rss_mb"].max()
    return {
        "replays": len(tasks),
        "workers": workers,
        "traders": spec_doc["traders"],
        "steps": int(summary["steps"].max()) if "steps" in summary else None,
        "wall_seconds": round(wall, 1),
        "wall_minutes": round(wall / 60, 2),
        "replays_per_minute": round(60 * len(tasks) / wall, 1),
        "failed": int((summary["status"] != "ok").sum()),
        "peak_rss_mb_per_worker": [round(float(v), 1) for v in peak.to_numpy()],
        "deployments": int((~summary["deployment_reused"].astype(bool)).sum()),
        "note": "wall = LocalCluster start-up + worker warm-up + every replay + the driver's writes",
    }


__all__ = ["BENCH_SPEC", "run_bench", "run_full"]
