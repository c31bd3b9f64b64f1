"""`vyperp` command line: the jobs that run on the embedded chain without ape."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

console = Console()
REPORTS = Path("reports")


@click.group()
def main() -> None:
    """vyperp: perpetual futures in Vyper, on an embedded revm chain."""


@main.command()
def demo() -> None:
    """Deploy, trade across a price move, print PnL, funding and the pool's result."""
    run = __import__("vyperp.protocol.demo", fromlist=["run_demo"]).run_demo
    result = run(console)
    if not result["balanced"]:
        raise SystemExit("conservation violated")


@main.command()
@click.option("--out", type=click.Path(path_type=Path), default=REPORTS / "gas.json", show_default=True,
              help="Where to write the gas report (flat JSON: operation -> gas).")
def gas(out: Path) -> None:
    """Measure the gas of every operation (exact, cold-start per transaction) and write reports/gas.json."""
    from .bench.gas import measure_all

    started = time.time()
    figures = measure_all()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2) + "\n")
    table = Table(title=f"gas ({figures['compiler']})")
    table.add_column("operation")
    table.add_column("gas", justify="right")
    for key, value in figures.items():
        if isinstance(value, int):
            table.add_row(key, f"{value:,}")
    for name, size in figures["bytecode_size"].items():  # type: ignore[union-attr]
        table.add_row(f"bytecode {name}", f"{size:,} B")
    console.print(table)
    console.print(f"wrote {out} in {time.time() - started:.1f} s")



@main.command()
@click.option("--names", multiple=True, help="Only these mutants (default: all).")
@click.option("--workers", default=2, show_default=True, help="Mutants checked in parallel.")
@click.option("--out", type=click.Path(path_type=Path), default=REPORTS / "mutation.json", show_default=True,
              help="Where to write the mutation report.")
def mutate(names: tuple[str, ...], workers: int, out: Path) -> None:
    """Apply each seeded bug to a copy of contracts/, run the fuzz suite's ci profile, report which were caught."""
    from .fuzz.mutation import run_all

    started = time.time()
    with console.status("running the fuzz suite against each mutant ..."):
        report = run_all(workers=workers, names=list(names) or None)
    report["seconds"] = round(time.time() - started, 1)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    table = Table(title=f"mutation check: {report['caught']}/{report['total']} caught")
    for column in ("mutant", "change", "caught", "first failure"):
        table.add_column(column, overflow="fold")
    for result in report["mutants"]:  # type: ignore[union-attr]
        table.add_row(result["name"], result["change"], "yes" if result["caught"] else "[red]NO[/red]",
                      result["first_failure"])
    console.print(table)
    console.print(f"wrote {out} in {report['seconds']} s")
    if report["caught"] != report["total"]:
        raise SystemExit(1)


@main.command()
@click.option("--class", "attack_class", default=None, metavar="NAME",
              help="Only this class (self-skew, pump-and-close, squeeze-into-pool, withdraw-then-liquidate, "
                   "oracle-front-run).")
@click.option("--before-ref", default="f5b5e8f", show_default=True,
              help="Git ref of the contracts before the safety work (the 'before' column); '' skips it.")
@click.option("--out", type=click.Path(path_type=Path), default=REPORTS / "attacks.json", show_default=True,
              help="Where to write the attack report.")
def attack(attack_class: str | None, before_ref: str, out: Path) -> None:
    """The attack lab: every scenario under scenarios/attacks/ against the contracts now and
    before the safety work; writes reports/attacks.json."""
    from .sim.attacks import AttackError, run_lab

    started = time.time()
    try:
        with console.status("running the attack lab ...") as status:
            report = run_lab(attack_class, before_ref or None, progress=lambda name: status.update(f"attack: {name}"))
    except AttackError as exc:
        raise click.ClickException(str(exc)) from exc
    report["seconds"] = round(time.time() - started, 1)
    if attack_class is None:   # a partial run never overwrites the full report
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2) + "\n")
    table = Table(title="attack lab (USD)")
    for column in ("class", "attacker profit before", "after", "LP loss before", "after", "bound", "frozen", "holds"):
        table.add_column(column, justify="right" if column not in ("class", "holds") else "left")
    for row in report["classes"]:
        b, a = row["before"] or {}, row["after"]
        table.add_row(row["name"], f"{b.get('attacker_net_profit', 0):,.0f}", f"{a['attacker_net_profit']:,.0f}",
                      f"{b.get('lp_loss', 0):,.0f}", f"{a['lp_loss']:,.0f}",
                      "-" if a["lp_loss_bound"] is None else f"{a['lp_loss_bound']:,.0f}",
                      str(a["flat_accounts_frozen"]), "yes" if row["holds"] else "[red]NO[/red]")
    console.print(table)
    console.print(f"{'wrote ' + str(out) if attack_class is None else 'partial run: not written'} "
                  f"in {report['seconds']} s")
    if not report["all_hold"]:
        raise SystemExit(1)


# cascade replay (vyperp.sim): `vyperp replay`, `vyperp mitigations`, `vyperp bench-replay`
from .sim.commands import adl_policies as _adl_policies  # noqa: E402
from .sim.commands import windows as _windows  # noqa: E402
from .sim.commands import bench_replay as _bench_replay  # noqa: E402
from .sim.commands import mitigations as _mitigations  # noqa: E402
from .sim.commands import replay as _replay  # noqa: E402

main.add_command(_replay)
main.add_command(_mitigations)
main.add_command(_bench_replay)
main.add_command(_adl_policies)
main.add_command(_windows)


@main.command()
@click.option("--profile", type=click.Choice(["ci", "dev", "campaign"]), default="ci", show_default=True,
              help="ci: bounded for CI; campaign: thousands of examples; dev: quick.")
@click.option("--workers", type=int, default=None, help="Parallel worker processes (default: all cores).")
@click.option("--examples", type=int, default=None, help="Override the profile's number of examples.")
@click.option("--out", type=click.Path(path_type=Path), default=REPORTS / "fuzz.json", show_default=True,
              help="Where to write the fuzz report.")
def fuzz(profile: str, workers: int | None, examples: int | None, out: Path) -> None:
    """Stateful fuzzing of the whole protocol against every invariant; writes reports/fuzz.json."""
    from .fuzz.run import run_fuzz

    with console.status(f"fuzzing ({profile}) ..."):
        report = run_fuzz(profile, workers, examples)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    table = Table(title=f"fuzz: profile {profile}")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key in ("workers", "examples", "steps", "seconds", "steps_per_second", "steps_per_second_per_worker",
                "invariant_violations"):
        table.add_row(key, str(report[key]))
    console.print(table)
    for violation in report["violations"]:
        console.print(f"[red]{violation}[/red]")
    console.print(f"wrote {out}")
    if report["invariant_violations"]:
        raise SystemExit(1)


@main.command("readme-tables")
@click.option("--write", "readme", type=click.Path(path_type=Path, exists=True), default=None,
              help="Rewrite the marked tables in this file (e.g. README.md) instead of printing them.")
def readme_tables(readme: Path | None) -> None:
    """Markdown tables (gas, speed, mitigations, mutation) from the committed reports/*.json."""
    from .readme_tables import TABLES, write

    if readme is None:
        for name, build in TABLES.items():
            click.echo(f"<!-- {name} -->\n{build()}\n<!-- /{name} -->\n")
        return
    console.print(f"updated {', '.join(write(readme))} in {readme}")

from .bench.commands import bench; main.add_command(bench)  # noqa: E402,E702
from .ops.commands import keeper, feed; main.add_command(keeper); main.add_command(feed)  # noqa: E402,E702


if __name__ == "__main__":
    main()
