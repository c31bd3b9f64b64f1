"""Sweep throughput: replays per minute in-process and on a 2-worker LocalCluster, and the
share of a replay that a reused deployment could save (``vyperp sweep-bench``)."""

from __future__ import annotations

import os
import platform
import statistics
import time
from typing import Any

from . import parse_spec, sweep
from .engine import tasks_of

BENCH_SPEC = {
    "name": "bench",
    "scenarios": ["btc-2025-10-10"],
    "traders": 100,
    "timeseries": [],
    "paths": {"source": "bootstrap", "count": 4, "seed": 11, "block_steps": 30},
    "seeds": {"count": 6},
}
"""24 replays of the full 262-step 2025-10-10 window with 100 traders, on bootstrap paths."""


def _deploy_share(n: int = 5) -> dict[str, Any]:
    """Deploy alone vs a whole replay (build + loop), same cell: what a reused snapshot could save."""
    from ..chain import Chain
    from ..protocol.deploy import deploy_embedded
    from ..sim.runner import Replay

    deploys, replays, builds = [], [], []
    for seed in range(n):
        r = Replay("btc-2025-10-10", 100, seed=seed)
        t0 = time.perf_counter()
        chain = Chain(timestamp=r.timestamps[0] - r.step_seconds, exact_gas=False)
        deploy_embedded(chain, r.params.protocol)
        deploys.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        report = r.run(False)
        replays.append(time.perf_counter() - t0)
        builds.append(report["build_seconds"])
    d, w = statistics.median(deploys), statistics.median(replays)
    return {
        "deploy_seconds_median": round(d, 4),
        "build_seconds_median": round(statistics.median(builds), 4),
        "replay_seconds_median": round(w, 4),
        "deploy_share_of_replay": round(d / w, 4),
        "note": "build = deploy + agents funded from the seed; a snapshot reused across the seeds of a cell "
        "could save at most the deploy share (the agents differ by seed)",
    }


def run_bench(spec_doc: dict[str, Any] | None = None, workers: tuple[int, ...] = (1, 2)) -> dict[str, Any]:
    from distributed import LocalCluster

    spec = parse_spec(spec_doc or BENCH_SPEC)
    tasks = tasks_of(spec)
    sweep(parse_spec({**(spec_doc or BENCH_SPEC), "seeds": {"values": [999]}, "paths": {"count": 1}}))  # warm compile
    out: dict[str, Any] = {"spec": spec_doc or BENCH_SPEC, "replays": len(tasks), "runs": {}}
    for n in workers:
        if n == 1:
            t0 = time.perf_counter()
            res = sweep(spec, workers=1, tasks=tasks)
            wall = time.perf_counter() - t0
            out["runs"]["1"] = {
                "engine": "in-process",
                "seconds": round(wall, 3),
                "replays_per_minute": round(60 * len(tasks) / wall, 1),
                "failed": int((res.summary()["status"] != "ok").sum()),
            }
            continue
        t0 = time.perf_counter()
        cluster = LocalCluster(
            n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None, silence_logs=40
        )
        startup = time.perf_counter() - t0
        try:
            warm = parse_spec(
                {**(spec_doc or BENCH_SPEC), "seeds": {"values": list(range(900, 900 + n))}, "paths": {"count": 1}}
            )
            t1 = time.perf_counter()
            sweep(warm, scheduler=cluster.scheduler_address)  # imports + compile cache on every worker
            warmup = time.perf_counter() - t1
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
    out["deployment"] = _deploy_share()
    out["machine"] = {
        "cpus": os.cpu_count(),
        "loadavg_at_end": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
    }
    out["notes"] = (
        "seconds = wall time of the sweep call (the driver included); the local cluster's startup and "
        "worker warm-up (imports, contract artefacts from the compile cache) are reported apart; the "
        "machine's cores are shared with other jobs (loadavg), so absolute figures are indicative"
    )
    return out


__all__ = ["BENCH_SPEC", "run_bench"]
