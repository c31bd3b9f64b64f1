"""Risk lab: thousands of replays across parameters, paths and seeds, and their tails.

``vyperp sweep SPEC.toml`` (or ``sweep(spec)`` here) runs every replay of a sweep spec
(:mod:`vyperp.sweep.spec`) on Dask (:mod:`vyperp.sweep.engine`), stores each finished run
under its content hash (re-running skips what is done), and returns a :class:`SweepResult`:

* ``.summary()``    one row per replay: the run's key, cell, scenario, path, seed, every
  parameter (``param.<name>``), status/error, and its metrics (bad debt, pool and
  insurance drawdown, liquidated notional by tier, largest liquidation, counts, ADL events,
  notional and overshoot, max |funding|, max mark/index gap, first liquidation to first
  ADL, cascade amplification when asked);
* ``.cells()``      one row per cell (scenario x parameter point): mean, p50/p95/p99 and a
  bootstrap interval of the mean of each metric; VaR95/99 and CVaR95/99 of bad debt with
  bootstrap intervals; P(bad debt > 0) with its Wilson interval (:mod:`vyperp.sweep.stats`);
* ``.timeseries()`` long form: run, step, timestamp, metric, value.

``.write(DIR)`` writes ``summary.parquet``, ``cells.parquet``, ``timeseries.parquet`` and
``sweep.json`` (the spec, the engine, counts, the jump-diffusion fit when used).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .engine import RunStore, code_version, execute, pending, tasks_of
from .spec import SpecError, SweepSpec, load_spec, parse_spec

TIMING_COLUMNS = (
    "wall_seconds",
    "build_seconds",
    "deploy_seconds",
    "final_check_seconds",
    "deployment_reused",
    "loop_seconds",
    "run_seconds",
    "worker_pid",
    "worker_peak_rss_mb",
)


@dataclass
class SweepResult:
    """The runs of one sweep (finished ones; ``interrupted`` when stopped early)."""

    spec: SweepSpec
    tasks: list[dict[str, Any]]
    records: dict[str, dict[str, Any]]
    info: dict[str, Any] = field(default_factory=dict)
    interrupted: bool = False

    def summary(self) -> Any:
        """One row per finished replay (failed ones included, with their error)."""
        import pandas as pd

        rows = []
        for t in self.tasks:
            rec = self.records.get(t["key"])
            if rec is None:
                continue
            row: dict[str, Any] = {
                "run": t["key"][:16],
                "cell": t["cell"],
                "scenario": t["scenario_name"],
                "paths": t.get("paths_label", t["path"]["source"]),
                "path_source": t["path"]["source"],
                "path_index": -1 if t["path"]["index"] is None else t["path"]["index"],
                "path_seed": t["path"]["seed"],
                "seed": -1 if t["seed"] is None else t["seed"],
            }
            for name, value in {**t["fixed"], **t["point"]}.items():
                row[f"param.{name}"] = json.dumps(value) if isinstance(value, (list, dict)) else value
            row["status"] = rec["status"]
            row["error"] = rec.get("error")
            row["run_seconds"] = rec.get("seconds")
            row["worker_pid"] = rec.get("worker_pid")
            row["worker_peak_rss_mb"] = rec.get("worker_peak_rss_mb")
            if rec.get("row"):
                row.update(rec["row"])
            rows.append(row)
        return pd.DataFrame(rows)

    def cells(self, bootstrap: int = 1000) -> Any:
        """One row per cell: the statistics of its successful runs (see :mod:`vyperp.sweep.stats`)."""
        import pandas as pd

        from .stats import cell_stats

        df = self.summary()
        if df.empty:
            return pd.DataFrame()
        params = [c for c in df.columns if c.startswith("param.")]
        out = []
        for cell, group in df.groupby("cell", sort=False):
            ok = group[group["status"] == "ok"]
            first = group.iloc[0]
            row = {
                "cell": cell,
                "scenario": first["scenario"],
                "paths": first["paths"],
                **{p: first[p] for p in params},
                "failed": int((group["status"] != "ok").sum()),
            }
            seed = int(cell, 16) % 2**32 ^ self.spec.design_seed
            row.update(cell_stats(ok, seed=seed, b=bootstrap) if len(ok) else {"runs": 0})
            out.append(row)
        return pd.DataFrame(out)

    def timeseries(self) -> Any:
        """Long form: run, step, timestamp, metric, value (the spec's ``timeseries`` columns)."""
        import pandas as pd

        frames = []
        for t in self.tasks:
            rec = self.records.get(t["key"])
            if not rec or rec["status"] != "ok" or not rec.get("timeseries"):
                continue
            ts = rec["timeseries"]
            wide = pd.DataFrame(ts)
            long = wide.melt(id_vars=["step", "timestamp"], var_name="metric", value_name="value")
            long.insert(0, "run", t["key"][:16])
            frames.append(long)
        if not frames:
            return pd.DataFrame(columns=["run", "step", "timestamp", "metric", "value"])
        out = pd.concat(frames, ignore_index=True)
        out["value"] = out["value"].astype(float)
        return out

    def write(self, out_dir: str | Path) -> dict[str, Path]:
        """Parquet tables and sweep.json under `out_dir`."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        files = {
            "summary": out / "summary.parquet",
            "cells": out / "cells.parquet",
            "timeseries": out / "timeseries.parquet",
            "meta": out / "sweep.json",
        }
        write_table(self.summary(), files["summary"])
        write_table(self.cells(), files["cells"])
        write_table(self.timeseries(), files["timeseries"])
        fit = next((t["fit"] for t in self.tasks if t.get("fit")), None)
        meta = {
            "name": self.spec.name,
            "spec_file": str(self.spec.file) if self.spec.file else None,
            "code_version": code_version(),
            "runs": len(self.tasks),
            "finished": sum(1 for t in self.tasks if t["key"] in self.records),
            "failed": sum(1 for r in self.records.values() if r["status"] != "ok"),
            "interrupted": self.interrupted,
            "engine": self.info,
            "jump_fit": fit,
            "spec": json.loads(json.dumps(asdict(self.spec), default=str)),
        }
        files["meta"].write_text(json.dumps(meta, indent=2, default=str) + "\n")
        return files


def write_table(df: Any, path: str | Path) -> None:
    """A DataFrame to Parquet through pyarrow by path (see :func:`read_table`)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), str(path))


def read_table(path: str | Path) -> Any:
    """A sweep table (``summary.parquet``, ...) as a DataFrame.

    Read by path without Arrow's thread pool: ``pandas.read_parquet`` hands pyarrow a Python
    file object, and Arrow's pool then sometimes aborts the interpreter at exit ("terminate
    called without an active exception", apache/arrow#34314, #50482; seen here with pyarrow 21)."""
    import pyarrow.parquet as pq

    return pq.read_table(str(path), use_threads=False).to_pandas()


def sweep(
    spec: SweepSpec | str | Path,
    out_dir: str | Path | None = None,
    workers: int | None = 1,
    scheduler: str | None = None,
    dashboard: bool = False,
    progress: Callable[[dict[str, Any], int, int, int], None] | None = None,
    tasks: list[dict[str, Any]] | None = None,
) -> SweepResult:
    """Run (or resume) a sweep; returns its :class:`SweepResult` (see the module docstring).

    `out_dir` holds the run store (``runs/``) and the tables; without it the runs live in
    memory only. `workers` = 1 runs in this process, ``None`` = a LocalCluster on every
    core, N = N worker processes; `scheduler` connects to an existing Dask cluster.
    `progress(result, done, total, failed)` is called after each run. On Ctrl-C the runs
    that finished are kept (stored, and in the returned result, ``interrupted=True``).
    """
    if not isinstance(spec, SweepSpec):
        spec = load_spec(spec)
    tasks = tasks if tasks is not None else tasks_of(spec)
    store = RunStore(Path(out_dir) if out_dir is not None else None)
    todo = pending(tasks, store)
    records = {t["key"]: store.get(t["key"]) for t in tasks if store.get(t["key"]) is not None}
    done = len(tasks) - len(todo)
    failed = 0
    interrupted = False

    store_seconds = 0.0

    def on_result(res: dict[str, Any]) -> None:
        nonlocal done, failed, store_seconds
        t_put = time.perf_counter()
        store.put(res)
        store_seconds += time.perf_counter() - t_put
        records[res["key"]] = res
        done += 1
        failed += res["status"] != "ok"
        if progress is not None:
            progress(res, done, len(tasks), failed)

    t0 = time.perf_counter()
    info: dict[str, Any] = {}
    skipped = done
    try:
        execute(todo, on_result, workers=workers, scheduler=scheduler, dashboard=dashboard, info=info)
    except KeyboardInterrupt:
        interrupted = True
    info.update(
        seconds=round(time.perf_counter() - t0, 3),
        ran=done - skipped,
        skipped=skipped,
        store_seconds=round(store_seconds, 4),
    )
    result = SweepResult(spec, tasks, records, info, interrupted)
    if out_dir is not None:
        result.write(out_dir)
    return result


__all__ = ["SpecError", "SweepResult", "SweepSpec", "load_spec", "parse_spec", "read_table", "sweep", "write_table"]
