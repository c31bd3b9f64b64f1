"""`vyperp sweep` (and `vyperp sweep-bench`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console

console = Console()


def _progress_bar(total: int, skipped: int, name: str) -> tuple[Any, Any]:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("replays"),
        TextColumn("[red]{task.fields[failed]} failed"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
    )
    task = bar.add_task(name, total=total, completed=skipped, failed=0)

    def update(_res: dict[str, Any], done: int, _total: int, failed: int) -> None:
        bar.update(task, completed=done, failed=failed)

    return bar, update


def cells_table(result: Any, limit: int = 40) -> Any:
    from rich.table import Table

    cells = result.cells(bootstrap=200)
    table = Table(title=f"sweep {result.spec.name}: bad debt per cell (USD; 95 % intervals)")
    params = [c for c in cells.columns if c.startswith("param.") and cells[c].nunique() > 1] if len(cells) else []
    for col in [
        "scenario",
        *(p.removeprefix("param.") for p in params),
        "runs",
        "failed",
        "mean",
        "VaR95",
        "CVaR95",
        "P(>0) [Wilson]",
    ]:
        table.add_column(col, justify="left" if col == "scenario" else "right")
    for _, c in cells.head(limit).iterrows():
        if not c.get("runs"):
            table.add_row(c["scenario"], *(str(c[p]) for p in params), "0", str(c["failed"]), "-", "-", "-", "-")
            continue
        table.add_row(
            c["scenario"],
            *(str(c[p]) for p in params),
            str(c["runs"]),
            str(c["failed"]),
            f"{c['bad_debt_mean']:,.0f}",
            f"{c['bad_debt_var95']:,.0f}",
            f"{c['bad_debt_cvar95']:,.0f}",
            f"{c['p_bad_debt']:.2f} [{c['p_bad_debt_lo']:.2f}, {c['p_bad_debt_hi']:.2f}]",
        )
    return table


def write_cells_json(result: Any, path: Path) -> None:
    """The cells table of a finished sweep as JSON records (NaN as null), with what produced it."""
    import json

    cells = result.cells()
    records = json.loads(cells.to_json(orient="records"))
    from .engine import code_version

    info = result.info
    doc = {
        "spec": result.spec.name,
        "code_version": code_version(),
        "engine": info.get("engine"),
        "workers": info.get("workers"),
        "runs": int(len(result.summary())),
        "cells": records,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=1) + "\n")


@click.command(name="sweep")
@click.argument("spec", metavar="SPEC")
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    metavar="DIR",
    help="Run store and tables (runs/, summary.parquet, cells.parquet, timeseries.parquet, sweep.json) "
    "[default: out/sweep-<name>]. Re-running with the same DIR skips the finished replays.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="Worker processes of a local Dask cluster on 127.0.0.1 [default: one per core]; 1 = in this process, no Dask.",
)
@click.option(
    "--scheduler",
    default=None,
    metavar="tcp://HOST:8786",
    help="Use an existing Dask cluster instead of a local one (vyperp must be importable on its workers).",
)
@click.option("--dashboard", is_flag=True, help="Start the local cluster's dashboard (http://127.0.0.1:8787/status).")
@click.option(
    "--dry-run",
    is_flag=True,
    help="Validate the spec, count the replays and those already done, set up (not run) one replay "
    "per cell to catch bad parameter values; run nothing.",
)
@click.option(
    "--report/--no-report",
    default=True,
    show_default=True,
    help="Write DIR/report.html (heatmaps of the cells' tail statistics, the cells table, failures).",
)
@click.option("--progress/--no-progress", default=True, show_default=True, help="Show a progress bar.")
@click.option(
    "--cells-json",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    metavar="PATH",
    help="Also write the cells table as JSON (e.g. reports/sweep_<name>.json for the README), only when "
    "every replay finished without failure or invariant violation.",
)
def sweep_command(
    spec: str,
    out: Path | None,
    workers: int | None,
    scheduler: str | None,
    dashboard: bool,
    dry_run: bool,
    report: bool,
    progress: bool,
    cells_json: Path | None,
) -> None:
    """Run a parameter sweep: every scenario x parameter point x path x seed of SPEC (a TOML file,
    or a name from vyperp/sweeps/), on Dask, resumable; writes per-replay and per-cell tables.

    Ctrl-C stops it keeping what finished (re-run to resume); a failed replay is recorded
    with its error and the sweep goes on. Exit status 1 if any replay failed or broke an invariant.
    """
    from . import SpecError, load_spec, sweep
    from .engine import RunStore, pending, tasks_of

    try:
        parsed = load_spec(spec)
    except SpecError as exc:
        raise click.BadParameter(str(exc), param_hint="SPEC") from None
    out = out or Path("out") / f"sweep-{parsed.name}"
    tasks = tasks_of(parsed)
    todo = pending(tasks, RunStore(out))
    console.print(
        f"sweep {parsed.name}: {len(tasks)} replays ({len(tasks) - len(todo)} already done in {out}), "
        f"{len({t['cell'] for t in tasks})} cells"
    )
    if dry_run:
        from .engine import preflight

        errors = preflight(tasks)
        for cell, error in errors.items():
            point = next(t["point"] for t in tasks if t["cell"] == cell)
            console.print(f"[red]cell {cell} {point}: {error}[/red]")
        console.print(f"preflight: {len({t['cell'] for t in tasks}) - len(errors)} cells set up, {len(errors)} fail")
        if errors:
            sys.exit(1)
        return
    bar, update = _progress_bar(len(tasks), len(tasks) - len(todo), parsed.name) if progress else (None, None)
    if bar is not None:
        bar.start()
    try:
        result = sweep(
            parsed,
            out,
            workers=workers if workers is not None or scheduler else None,
            scheduler=scheduler,
            dashboard=dashboard,
            progress=update,
            tasks=tasks,
        )
    finally:
        if bar is not None:
            bar.stop()
    console.print(cells_table(result))
    if report:
        from .report import write_html

        console.print(f"wrote {write_html(result, out / 'report.html')}")
    summary = result.summary()
    failed = int((summary["status"] != "ok").sum()) if len(summary) else 0
    violations = int(summary["invariant_violations"].fillna(0).sum()) if "invariant_violations" in summary else 0
    info = result.info
    console.print(
        f"{info.get('ran', 0)} run, {info.get('skipped', 0)} skipped, {failed} failed, "
        f"{violations} invariant violations, {info.get('seconds', 0):.1f} s on {info.get('engine')} "
        f"({info.get('workers')} workers); wrote {out}/summary.parquet, cells.parquet, timeseries.parquet"
    )
    if failed:
        first = summary[summary["status"] != "ok"].iloc[0]
        console.print(f"[red]first failure (run {first['run']}): {first['error']}[/red]")
    if result.interrupted:
        console.print("[yellow]interrupted: the finished replays are stored; run the same command to resume[/yellow]")
        sys.exit(130)
    if failed or violations:
        if cells_json is not None:
            console.print(f"[red]{cells_json} not written: a replay failed or broke an invariant[/red]")
        sys.exit(1)
    if cells_json is not None:
        write_cells_json(result, cells_json)
        console.print(f"wrote {cells_json}")


@click.command(name="sweep-fit")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("reports/jump_fit.json"),
    show_default=True,
    help="Where to write the fit.",
)
def sweep_fit(out: Path) -> None:
    """Fit the Merton jump-diffusion of the `jump-fit` paths to the shipped real windows'
    one-minute returns (maximum likelihood) and write it with the data's moments."""
    from .paths import fit_jump

    fit = fit_jump()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(fit, indent=2) + "\n")
    console.print_json(json.dumps(fit["per_minute"]))
    console.print(f"wrote {out}")


@click.command(name="sweep-bench")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("reports/sweep_bench.json"),
    show_default=True,
    help="Where to write the figures.",
)
@click.option(
    "--replays",
    type=click.IntRange(min=0),
    default=1000,
    show_default=True,
    help="Size of the long sweep on the 2-worker cluster (0 skips it).",
)
def sweep_bench(out: Path, replays: int) -> None:
    """Sweep throughput on the full 2025-10-10 window with 300 traders (bootstrap paths): replays
    per minute in-process and on a 2-worker LocalCluster, the per-replay overhead against the loop,
    and a long sweep's wall time and peak memory per worker."""
    from .bench import run_bench

    with console.status(f"benchmarking sweeps (the long one: {replays} replays) ..."):
        result = run_bench(full_replays=replays)
    failed = sum(r["failed"] for r in result["runs"].values()) + result.get("full", {}).get("failed", 0)
    if failed:
        console.print(f"[red]{failed} replay(s) failed: figures not written[/red]")
        sys.exit(1)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    for n, run in result["runs"].items():
        console.print(
            f"{n} worker(s): {run['replays_per_minute']} replays/min ({run['seconds']} s for "
            f"{result['replays']} replays), speedup {run.get('speedup_vs_1', '-')}"
        )
    o = result["overhead"]
    console.print(
        f"overhead {o['overhead_seconds'] * 1000:.1f} ms per replay = {100 * o['overhead_share_of_loop']:.1f} % "
        f"of the {o['loop_seconds_median'] * 1000:.0f} ms loop"
    )
    if "full" in result:
        f = result["full"]
        console.print(
            f"{f['replays']} replays on {f['workers']} workers: {f['wall_minutes']} min, peak memory per worker "
            f"{', '.join(f'{m:.0f}' for m in f['peak_rss_mb_per_worker'])} MB"
        )
    console.print(f"wrote {out}")


COMMANDS = [sweep_command, sweep_fit, sweep_bench]

__all__ = ["COMMANDS", "cells_table", "sweep_bench", "sweep_command", "sweep_fit"]
