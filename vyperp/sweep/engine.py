"""Sweep execution: tasks, the per-run function (runs inside a worker), the run store, Dask.

One task = one replay (scenario, parameter point, path, seed). Its key is the SHA-256 of
(code version, scenario file content, overrides, traders, steps, path descriptor, seed,
recorded columns, amplification); :data:`code_version` hashes every source, contract,
scenario and data file of the package, so a code change never reuses an old result.

The run store is a directory of one JSON file per finished replay (``runs/<key>.json``,
written atomically: a Ctrl-C never leaves half a file); a re-run skips every key stored
with status ``ok`` and retries the failed ones. Workers only compute; the driver writes.

Chains are built inside the worker: :func:`run_task` builds a fresh :class:`Replay`
(deploy, agents, step loop) from the task's plain data, so nothing unpicklable crosses
a process boundary. Each worker process deploys once per distinct (protocol parameters,
start time) and reverts a snapshot for every later path and seed of it
(:mod:`vyperp.sim.deployments`); the agents, drawn from the seed, are set up anew each run.
The summary reports per run ``deploy_seconds`` (near zero when ``deployment_reused``) and
``build_seconds`` (deploy plus agent setup).
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import asdict, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from .. import resources
from .spec import VARIANT, SweepSpec, point_overrides

_CODE_GLOBS = (
    "**/*.py",
    "contracts/**/*.vy",
    "contracts/**/*.vyi",
    "scenarios/**/*.toml",
    "params/*.toml",
    "data/**/*.csv",
)


@lru_cache(maxsize=1)
def code_version() -> str:
    """SHA-256 over the package's sources, contracts, scenarios and data (sorted paths + contents)."""
    h = hashlib.sha256()
    root = resources.PACKAGE
    files = sorted({p for g in _CODE_GLOBS for p in root.glob(g) if p.is_file() and "__pycache__" not in p.parts})
    for p in files:
        h.update(str(p.relative_to(root)).encode() + b"\0")
        h.update(p.read_bytes())
    return h.hexdigest()


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


@lru_cache(maxsize=64)
def _scenario_digest(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def path_set_labels(path_sets: Iterable[Any]) -> dict[Any, str]:
    """A short name per path set: its source ("scenario" = the real window or the scenario's
    own path, "bootstrap", "jump-fit"), numbered when two sets share one."""
    sets = list(path_sets)
    out = {}
    for ps in sets:
        same = [q for q in sets if q.source == ps.source]
        out[ps] = ps.source if len(same) == 1 else f"{ps.source}#{same.index(ps) + 1}"
    return out


def tasks_of(spec: SweepSpec) -> list[dict[str, Any]]:
    """Every run of the sweep, in a fixed order (scenario, point, path, seed)."""
    from ..sim.scenario import load_scenario
    from .paths import fit_jump

    fits = {ps: fit_jump(ps.windows) if ps.source == "jump-fit" else None for ps in spec.paths}
    labels = path_set_labels(spec.paths)
    out = []
    points = spec.points()
    shipped = resources.SCENARIOS.resolve()
    for scenario in spec.scenarios:
        name = load_scenario(scenario).name
        # a shipped scenario travels by name (a worker on another host resolves it in its own install)
        ref = Path(scenario).stem if Path(scenario).resolve().parent == shipped else scenario
        for point in points:
            overrides = point_overrides(spec.fixed, point)
            variant = point.get(VARIANT)
            for ps in spec.paths:
                cell = _digest(
                    {
                        "scenario": _scenario_digest(scenario),
                        "overrides": overrides,
                        "traders": spec.traders,
                        "steps": spec.steps,
                        **({"variant": variant} if variant is not None else {}),
                        **({"paths": asdict(ps)} if len(spec.paths) > 1 else {}),
                    }
                )[:12]
                counts = range(ps.count) if (ps.source != "scenario" or ps.count > 1) else [None]
                for index in counts:
                    path = {"source": ps.source, "index": index, "seed": ps.seed}
                    if ps.source == "bootstrap":
                        path.update(block_steps=ps.block_steps, windows=ps.windows)
                    elif ps.source == "jump-fit":
                        path.update(windows=ps.windows)
                    seeds = ps.seeds if ps.seeds is not None else spec.seeds
                    for seed in seeds if seeds is not None else [None]:
                        ident = {
                            "code": code_version(),
                            "scenario": _scenario_digest(scenario),
                            "overrides": overrides,
                            "traders": spec.traders,
                            "steps": spec.steps,
                            "full_scan_every": spec.full_scan_every,
                            "path": path,
                            "seed": seed,
                            "timeseries": list(spec.timeseries),
                            "amplification": spec.amplification,
                            **({"variant": variant} if variant is not None else {}),
                        }
                        out.append(
                            {
                                "key": _digest(ident),
                                "cell": cell,
                                "scenario": ref,
                                "scenario_name": name,
                                "point": point,
                                "fixed": dict(spec.fixed),
                                "traders": spec.traders,
                                "steps": spec.steps,
                                "full_scan_every": spec.full_scan_every,
                                "path": path,
                                "paths_label": labels[ps],
                                "fit": fits[ps],
                                "seed": seed,
                                "timeseries": list(spec.timeseries),
                                "amplification": spec.amplification,
                            }
                        )
    return out


# ------------------------------------------------------------------ in the worker
@lru_cache(maxsize=64)
def _load(path: str) -> Any:
    from ..sim.scenario import load_scenario

    return load_scenario(path)


def _price_paths(task: dict[str, Any], scenario: Any) -> dict[str, Any] | None:
    import numpy as np

    path = task["path"]
    if path["index"] is None:
        return None  # the scenario's own path (exactly what `vyperp replay` replays)
    if path["source"] == "bootstrap" and len(scenario.symbols) > 1:
        # several markets: one draw of blocks over their own aligned paths (vyperp.sweep.paths)
        from .paths import joint_bootstrap_paths

        bases = {sym: scenario.price_path(sym) for sym in scenario.symbols}
        n = min(len(b) for b in bases.values())
        n = min(n, task["steps"]) if task["steps"] else n
        seq = np.random.SeedSequence([int(path["seed"]), int(path["index"])])
        return joint_bootstrap_paths(bases, n, path["block_steps"], seq)
    out = {}
    for k, sym in enumerate(scenario.symbols):
        seq = np.random.SeedSequence([int(path["seed"]), int(path["index"]), k])
        if path["source"] == "scenario":
            spec = scenario.market(sym).path or scenario.path
            gen_seed = int(seq.generate_state(1, dtype=np.uint32)[0])
            out[sym] = replace(spec, params={**spec.params, "seed": gen_seed}).build(gen_seed, scenario.horizon_steps)
            continue
        base = scenario.price_path(sym)
        n = min(len(base), task["steps"]) if task["steps"] else len(base)
        windows = tuple(path["windows"]) if path.get("windows") else None
        if path["source"] == "bootstrap":
            from .paths import bootstrap_path

            out[sym] = bootstrap_path(base, n, path["block_steps"], seq, windows)
        else:
            from .paths import jump_fit_path

            out[sym] = jump_fit_path(base, n, seq, task["fit"])
    return out


SUMMARY_KEYS = (
    "bad_debt",
    "bad_debt_from_insurance",
    "bad_debt_from_pool",
    "pending_bad_debt_end",
    "pool_drawdown",
    "insurance_fund_drawdown",
    "liquidated_notional",
    "largest_liquidation_notional",
    "liquidations",
    "adl_events",
    "adl_notional",
    "adl_haircut",
    "adl_overshoot",
    "max_abs_funding_rate",
    "max_mark_index_gap",
    "invariant_violations",
    "steps",
    "traders",
    "wall_seconds",
    "build_seconds",
    "loop_seconds",
)


def _row(report: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, Any]:
    row = {k: report[k] for k in SUMMARY_KEYS}
    for tier, v in report["liquidations_by_tier"].items():
        row[f"liquidated_notional.{tier}"] = v["notional_usd"]
        row[f"liquidations.{tier}"] = v["count"]
    first_liq = next((r["timestamp"] for r in rows if r["liquidations"]), None)
    first_adl = next((r["timestamp"] for r in rows if r["adl_events"]), None)
    row["first_liquidation_ts"] = first_liq
    row["first_adl_ts"] = first_adl
    row["first_liquidation_to_adl_seconds"] = (
        first_adl - first_liq if first_liq is not None and first_adl is not None else None
    )
    # capital efficiency: the open interest the traders could carry (tighter margin -> less)
    oi = [sum(v for k, v in r.items() if k.endswith(("long_oi_usd", "short_oi_usd"))) for r in rows]
    row["mean_open_interest_usd"] = sum(oi) / len(oi) if oi else 0.0
    return row


def run_task(task: dict[str, Any]) -> dict[str, Any]:
    """One replay of the sweep (runs in a worker); never raises: a failure is returned."""
    t0 = time.perf_counter()
    out: dict[str, Any] = {
        "key": task["key"],
        "status": "ok",
        "error": None,
        "row": None,
        "timeseries": None,
        "worker_pid": os.getpid(),
    }
    try:
        from ..sim.deployments import WORKER_CACHE
        from ..sim.runner import Replay

        scenario = _load(task["scenario"])
        overrides = point_overrides(task["fixed"], task["point"])
        paths = _price_paths(task, scenario)
        kwargs: dict[str, Any] = {
            "seed": task["seed"],
            "steps": task["steps"],
            "overrides": overrides,
            "price_paths": paths,
            "deployments": WORKER_CACHE if task.get("reuse_deployments", True) else None,
        }
        if task["full_scan_every"] is not None:
            kwargs["full_scan_every"] = task["full_scan_every"]
        replay = Replay(scenario, task["traders"], **kwargs)
        report = replay.run(False)
        row = _row(report, replay.metrics.rows)
        row["seed"] = report["seed"]
        row["impact_enabled"] = report["impact_enabled"]
        row["deploy_seconds"] = replay.deploy_seconds
        row["final_check_seconds"] = replay.final_check_seconds
        row["deployment_reused"] = replay.deployment_reused
        if paths is not None:
            first = paths[scenario.symbols[0]]
            row["path_max_drawdown"] = first.max_drawdown()
        if task["amplification"]:
            flipped = Replay(
                scenario,
                task["traders"],
                **{**kwargs, "overrides": {**overrides, "impact_enabled": not replay.scenario.impact.enabled}},
            )
            other = flipped.run(False)
            on, off = (report, other) if report["impact_enabled"] else (other, report)
            row["liquidated_notional_impact_on"] = on["liquidated_notional"]
            row["liquidated_notional_impact_off"] = off["liquidated_notional"]
            row["bad_debt_impact_on"] = on["bad_debt"]
            row["bad_debt_impact_off"] = off["bad_debt"]
            row["amplification"] = (
                on["liquidated_notional"] / off["liquidated_notional"]
                if off["liquidated_notional"] > 0
                else float("nan")
            )
        columns = [c for c in task["timeseries"] if replay.metrics.rows and c in replay.metrics.rows[0]]
        rows = replay.metrics.rows
        out["timeseries"] = {
            "step": [r["step"] for r in rows],
            "timestamp": [r["timestamp"] for r in rows],
            **{c: [r[c] for r in rows] for c in columns},
        }
        out["row"] = row
    except Exception as exc:  # a failed replay is a result, never the end of the sweep
        out["status"] = "error"
        out["error"] = f"{type(exc).__name__}: {exc}"
        out["traceback"] = traceback.format_exc(limit=8)
    out["seconds"] = time.perf_counter() - t0
    # the worker process's peak resident memory so far (Linux: KiB), for the sweep bench
    out["worker_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def preflight(tasks: list[dict[str, Any]]) -> dict[str, str]:
    """cell -> error for every cell whose first run cannot even be set up (parameters mapped,
    paths built; nothing deployed): what `vyperp sweep --dry-run` reports before any replay."""
    from ..sim.runner import Replay

    errors: dict[str, str] = {}
    seen: set[str] = set()
    for task in tasks:
        if task["cell"] in seen:
            continue
        seen.add(task["cell"])
        try:
            scenario = _load(task["scenario"])
            Replay(
                scenario,
                task["traders"],
                seed=task["seed"],
                steps=task["steps"],
                overrides=point_overrides(task["fixed"], task["point"]),
                price_paths=_price_paths(task, scenario),
            )
        except Exception as exc:
            errors[task["cell"]] = f"{type(exc).__name__}: {exc}"
    return errors


# ------------------------------------------------------------------ the store
class RunStore:
    """``DIR/runs/<key>.json``: one finished replay each (status ok or error)."""

    def __init__(self, out_dir: Path | None):
        self.dir = Path(out_dir) / "runs" if out_dir is not None else None
        self.memory: dict[str, dict[str, Any]] = {}
        if self.dir is not None:
            self.dir.mkdir(parents=True, exist_ok=True)

    def get(self, key: str) -> dict[str, Any] | None:
        if key in self.memory:
            return self.memory[key]
        if self.dir is None:
            return None
        f = self.dir / f"{key}.json"
        if not f.exists():
            return None
        try:
            rec = json.loads(f.read_text())
        except ValueError:
            return None
        self.memory[key] = rec
        return rec

    def put(self, result: dict[str, Any]) -> None:
        self.memory[result["key"]] = result
        if self.dir is None:
            return
        tmp = self.dir / f".{result['key']}.tmp"
        tmp.write_text(json.dumps(result, default=_json_default))
        os.replace(tmp, self.dir / f"{result['key']}.json")


def _json_default(v: Any) -> Any:
    if hasattr(v, "item"):
        return v.item()
    return str(v)


# ------------------------------------------------------------------ execution
def local_cluster(workers: int, dashboard: bool = False) -> Any:
    """A Dask LocalCluster of `workers` single-threaded processes on 127.0.0.1, without a
    dashboard unless `dashboard` (then at http://127.0.0.1:8787/status)."""
    from distributed import LocalCluster

    return LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:8787" if dashboard else None,
        silence_logs=40,
    )


def execute(
    tasks: list[dict[str, Any]],
    on_result: Callable[[dict[str, Any]], None],
    workers: int | None = None,
    scheduler: str | None = None,
    dashboard: bool = False,
    info: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run `tasks`, calling `on_result` in the driver as each finishes (any order).

    ``workers=1`` without a scheduler: in this process. Otherwise Dask: ``scheduler``
    (``tcp://HOST:8786``) connects to an existing cluster; else a LocalCluster of
    ``workers`` (default: every core) single-threaded worker processes on 127.0.0.1,
    without a dashboard unless ``dashboard``. KeyboardInterrupt cancels what is pending
    and propagates (what finished was already handed to `on_result`). `info` (returned)
    is filled with the engine's description before any task runs."""
    info = info if info is not None else {}
    info.update(engine="in-process", workers=1)
    if not tasks:
        return info
    if workers == 1 and scheduler is None:
        for task in tasks:
            on_result(run_task(task))
        return info
    from distributed import Client, as_completed

    cluster = None
    if scheduler is not None:
        client = Client(scheduler, timeout="20s")
        info.update(engine="dask", scheduler=scheduler, workers=len(client.scheduler_info()["workers"]))
    else:
        n = workers or os.cpu_count() or 1
        cluster = local_cluster(n, dashboard)
        client = Client(cluster)
        info.update(engine="dask-local", workers=n, dashboard=client.dashboard_link if dashboard else None)
    futures = []
    try:
        futures = client.map(run_task, tasks, key=[f"vyperp-run-{t['key']}" for t in tasks], pure=False)
        for fut in as_completed(futures):
            on_result(fut.result())
            fut.release()
    except KeyboardInterrupt:
        client.cancel([f for f in futures if not f.done()])
        raise
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return info


def pending(tasks: Iterable[dict[str, Any]], store: RunStore) -> list[dict[str, Any]]:
    """The tasks without an ``ok`` result in the store."""
    out = []
    for t in tasks:
        rec = store.get(t["key"])
        if rec is None or rec.get("status") != "ok":
            out.append(t)
    return out


__all__ = ["RunStore", "code_version", "execute", "local_cluster", "pending", "preflight", "run_task", "tasks_of"]
