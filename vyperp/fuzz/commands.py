"""Commands of the fuzz layer: `vyperp fuzz`, `vyperp mutate`."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

console = Console()
REPORTS = Path("reports")


@contextmanager
def _bar(description: str, unit: str) -> Iterator[tuple[Progress, TaskID]]:
    """A rich progress bar with ETA (done / total and the time left)."""
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(unit),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
    ) as bar:
        yield bar, bar.add_task(description, total=None)


@click.command()
@click.option(
    "--profile",
    type=click.Choice(["ci", "dev", "campaign"]),
    default="ci",
    show_default=True,
    help="ci: bounded for CI; campaign: thousands of examples; dev: quick.",
)
@click.option("--workers", type=int, default=None, help="Parallel worker processes (default: all cores).")
@click.option("--examples", type=int, default=None, help="Override the profile's number of examples.")
@click.option(
    "--machine",
    type=click.Choice(["protocol", "swaps"]),
    default="protocol",
    show_default=True,
    help="protocol: the engine, LP pool and order book; swaps: FundingSwaps and FundingCaps beside the engine.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Where to write the fuzz report (default: reports/fuzz.json, reports/fuzz_swaps.json for --machine swaps).",
)
@click.option(
    "--repeat",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Run it N times and report whether every worker's trace repeated (the ci profile must).",
)
def fuzz(profile: str, workers: int | None, examples: int | None, machine: str, out: Path | None, repeat: int) -> None:
    """Stateful fuzzing of the whole protocol against every invariant; writes reports/fuzz.json."""
    from .run import run_fuzz

    if out is None:
        out = REPORTS / ("fuzz.json" if machine == "protocol" else f"fuzz_{machine}.json")

    traces = []
    for attempt in range(repeat):
        label = f"fuzzing ({profile})" + (f", run {attempt + 1}/{repeat}" if repeat > 1 else "")
        with _bar(label, "examples") as (bar, task):
            report = run_fuzz(
                profile,
                workers,
                examples,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
                machine=machine,
            )
        traces.append([w["trace"] for w in report["per_worker"]])
        if report["interrupted"] or report["invariant_violations"]:
            break
    if repeat > 1:
        report["reproducibility"] = {
            "runs": len(traces),
            "traces": traces,
            "identical": all(t == traces[0] for t in traces),
        }
        console.print(f"{len(traces)} runs, every worker's trace identical: {report['reproducibility']['identical']}")
    if report["interrupted"]:
        console.print("[yellow]interrupted: the report below is partial (marked interrupted)[/yellow]")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    table = Table(title=f"fuzz: profile {profile}, machine {machine}")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key in (
        "workers",
        "examples",
        "steps",
        "seconds",
        "steps_per_second",
        "steps_per_second_per_worker",
        "invariant_violations",
    ):
        table.add_row(key, str(report[key]))
    console.print(table)
    for violation in report["violations"]:
        console.print(f"[red]{violation}[/red]")
    console.print(f"wrote {out}")
    if report["invariant_violations"] or report["interrupted"]:
        raise SystemExit(1)


@click.command()
@click.option("--names", multiple=True, help="Only these mutants (default: all); repeat the option for several.")
@click.option(
    "--file",
    "files",
    multiple=True,
    help="Only the mutants of this contract file, e.g. FundingSwaps.vy (repeatable; adds to --names).",
)
@click.option("--workers", default=2, show_default=True, help="Mutants checked in parallel.")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=REPORTS / "mutation.json",
    show_default=True,
    help="Where to write the mutation report.",
)
def mutate(names: tuple[str, ...], files: tuple[str, ...], workers: int, out: Path) -> None:
    """Apply each seeded bug to a copy of contracts/, run the fuzz suite's ci profile, report which were caught."""
    from .mutation import run_all

    started = time.time()
    with _bar("mutants", "checked") as (bar, task):
        report = run_all(
            workers=workers,
            names=list(names) or None,
            files=list(files) or None,
            progress=lambda done, total, result: bar.update(
                task, completed=done, total=total, description=f"mutants (last: {result['name']})"
            ),
        )
    report["seconds"] = round(time.time() - started, 1)
    if report["interrupted"]:
        console.print(f"[yellow]interrupted after {len(report['mutants'])} mutants: the report is partial[/yellow]")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    table = Table(title=f"mutation check: {report['caught']}/{report['total']} caught")
    for column in ("mutant", "change", "caught", "first failure"):
        table.add_column(column, overflow="fold")
    for result in report["mutants"]:  # type: ignore[union-attr]
        table.add_row(
            result["name"], result["change"], "yes" if result["caught"] else "[red]NO[/red]", result["first_failure"]
        )
    console.print(table)
    console.print(f"wrote {out} in {report['seconds']} s")
    if report["caught"] != report["total"] or report["interrupted"]:
        raise SystemExit(1)


COMMANDS = [fuzz, mutate]
