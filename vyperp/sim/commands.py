"""Click commands of the cascade replay, shared by ``vyperp`` (vyperp/cli.py) and
``ape run replay`` (scripts/replay.py). Heavy imports happen inside the commands."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

console = Console()

EMBEDDED_NETWORKS = ("embedded",)


def replay_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The options of `vyperp replay` (also used by scripts/replay.py)."""
    options = [
        click.option(
            "--scenario",
            "scenario",
            required=True,
            metavar="NAME_OR_FILE",
            help="A scenario name from scenarios/ (e.g. btc-2025-10-10, crash-30pct, canonical-squeeze) "
            "or the path of a scenario TOML file.",
        ),
        click.option(
            "--traders",
            type=click.IntRange(min=0),
            default=None,
            metavar="N",
            help="Number of directional traders [default: the scenario's population.directional]. "
            "Basis traders, LP capital and the insurance fund scale with it.",
        ),
        click.option(
            "--param-set",
            "param_set",
            default=None,
            metavar="NAME",
            help="Apply the scenario's [param_sets.NAME] on top of its market params "
            "(e.g. baseline = mitigations off, mitigated = mitigations on).",
        ),
        click.option(
            "--compare",
            "compare",
            nargs=2,
            default=None,
            metavar="A B",
            help="Replay the same path twice, with parameter sets A and B (the scenario's [compare] "
            "names them, e.g. --compare baseline mitigated); prints them side by side and writes "
            "OUT/A, OUT/B, OUT/compare.json and an A/B overlay chart OUT/compare.png.",
        ),
        click.option(
            "--attribution",
            is_flag=True,
            default=False,
            help="Replay the same path and seed with the spot-impact feedback off and on (real BTC windows: depth "
            "from the 2025-10-10 order-book calibration) and report what the protocol's own forced flow adds: "
            "OUT/report.json and timeseries.csv = the impact-off replay, OUT/impact-on/, OUT/attribution.json, "
            "and OUT/cascade.png with the liquidations the feedback caused ringed.",
        ),
        click.option(
            "--match-steps",
            "match_steps",
            type=click.IntRange(min=0),
            default=None,
            metavar="N",
            help="With --attribution: an impact-on liquidation with an impact-off one of the same account and "
            "market at most N steps away is not caused by the feedback [default: 10].",
        ),
        click.option(
            "--mitigations",
            type=click.Choice(["off", "on"]),
            default=None,
            help="Force the mitigation switch regardless of the parameter set.",
        ),
        click.option(
            "--steps",
            type=click.IntRange(min=1),
            default=None,
            metavar="N",
            help="Replay only the first N oracle rounds of the path [default: the whole path].",
        ),
        click.option(
            "--seed",
            type=click.IntRange(min=0),
            default=None,
            metavar="N",
            help="Seed of the agents and of generated paths [default: the scenario's seed].",
        ),
        click.option(
            "--out",
            "out",
            type=click.Path(file_okay=False, path_type=Path),
            default=None,
            metavar="DIR",
            help="Output directory for report.json, timeseries.csv and cascade.png [default: out/<scenario name>].",
        ),
        click.option(
            "--full-scan-every",
            type=click.IntRange(min=0),
            default=None,
            metavar="N",
            help="Steps between on-chain full scans of every account that verify the replay's account "
            "book (1 = every step, 0 = only at the end) [default: 20, or accounts / 50 "
            "when larger].",
        ),
        click.option(
            "--adl-policy",
            type=click.Choice(["queue", "pro-rata"]),
            default="queue",
            show_default=True,
            help="How keepers repair a pool deficit: close the ranked queue's top, or cut every "
            "profitable position's profit by one fraction (the report's adl_overshoot compares).",
        ),
        click.option(
            "--progress/--no-progress", default=True, show_default=True, help="Show a progress bar while replaying."
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def do_replay(
    scenario: str,
    traders: int | None,
    param_set: str | None,
    compare: tuple[str, str] | None,
    mitigations: str | None,
    steps: int | None,
    seed: int | None,
    out: Path | None,
    full_scan_every: int | None,
    progress: bool,
    adl_policy: str = "queue",
    attribution: bool = False,
    match_steps: int | None = None,
    chain: str = "embedded",
) -> dict[str, Any]:
    """Run a replay (or an A/B comparison, or an impact off/on attribution), print the
    summary table, write the outputs. ``chain="anvil"``: on a private anvil node on
    loopback (started and stopped here; deferred mining, one block per step)."""
    if chain == "anvil":
        from vyperp.chain.node import BATCH_BLOCK_GAS_LIMIT, AnvilNode
        from vyperp.chain.rpc_chain import RpcChain

        with AnvilNode(gas_limit=BATCH_BLOCK_GAS_LIMIT) as node:
            factory = RpcChain.factory(node.url, gas_limit=30_000_000, deferred=True)
            return _do_replay(
                scenario, traders, param_set, compare, mitigations, steps, seed, out, full_scan_every, progress,
                adl_policy, attribution, match_steps, factory,
            )  # fmt: skip
    if chain != "embedded":
        raise click.UsageError(f"--chain {chain}: embedded or anvil")
    return _do_replay(
        scenario, traders, param_set, compare, mitigations, steps, seed, out, full_scan_every, progress,
        adl_policy, attribution, match_steps, None,
    )  # fmt: skip


def _do_replay(
    scenario: str,
    traders: int | None,
    param_set: str | None,
    compare: tuple[str, str] | None,
    mitigations: str | None,
    steps: int | None,
    seed: int | None,
    out: Path | None,
    full_scan_every: int | None,
    progress: bool,
    adl_policy: str,
    attribution: bool,
    match_steps: int | None,
    chain_factory: Callable[[int], Any] | None,
) -> dict[str, Any]:
    from vyperp.sim.scenario import ScenarioError, load_scenario

    from .report import attribution_table, compare_table, summary_table

    try:
        sc = load_scenario(scenario)
    except ScenarioError as exc:
        raise click.BadParameter(str(exc), param_hint="--scenario") from None
    out = out or Path("out") / sc.name
    from .agents import AgentConfig

    kwargs: dict[str, Any] = {"mitigations": mitigations, "seed": seed, "steps": steps}
    if adl_policy != "queue":
        kwargs["agent_config"] = AgentConfig(adl_policy=adl_policy)
    if full_scan_every is not None:
        kwargs["full_scan_every"] = full_scan_every
    if chain_factory is not None:
        kwargs["chain_factory"] = chain_factory
    if match_steps is not None and not attribution:
        raise click.UsageError("--match-steps needs --attribution")
    try:
        if attribution:
            if compare:
                raise click.UsageError("--attribution and --compare are exclusive")
            from .attribution import DEFAULT_TOLERANCE_STEPS, run_attribution

            if param_set:
                kwargs["param_set"] = param_set
            tolerance = DEFAULT_TOLERANCE_STEPS if match_steps is None else match_steps
            result = run_attribution(sc, traders, out, progress, tolerance_steps=tolerance, **kwargs)
            console.print(attribution_table(result["attribution"]))
            console.print(
                f"wrote {out / 'report.json'} (impact off), {out / 'impact-on'}, {out / 'attribution.json'} and "
                f"{out / 'cascade.png'}"
            )
            violations = sum(r["invariant_violations"] for r in result["reports"].values())
        elif compare:
            if param_set:
                raise click.UsageError("--param-set and --compare are exclusive (compare names both sets)")
            from .compare import run_compare

            result = run_compare(sc, compare[0], compare[1], traders, out, progress, **kwargs)
            console.print(compare_table(result["reports"]))
            console.print(
                f"wrote {out}/{compare[0]}, {out}/{compare[1]}, {out / 'compare.json'} and the overlay "
                f"{out / 'compare.png'}"
            )
            violations = sum(r["invariant_violations"] for r in result["reports"].values())
        elif sc.population.funding_swaps is not None and sc.population.funding_swaps.hedge:
            from .funding_flip import run_funding_flip  # the swaps run and its counterfactual

            result = run_funding_flip(sc, traders, param_set, out, progress, **kwargs)
            console.print(summary_table(result))
            console.print(funding_flip_table(result["funding_swaps"]))
            console.print(
                f"wrote {out / 'report.json'}, {out / 'timeseries.csv'}, {out / 'cascade.png'}, "
                f"{out / 'funding_flip.png'} and the counterfactual (same groups, no swaps) in "
                f"{out / 'counterfactual'}"
            )
            violations = result["invariant_violations"]
        elif sc.population.options_desk is not None:  # the desk run and its no-desk baseline
            from .desk_study import run_desk_study

            result = run_desk_study(sc, traders, param_set, out, progress, **kwargs)
            console.print(summary_table(result))
            amp = result["options_desk"]["amplification"]
            console.print(
                f"options desk: liquidated notional ${amp['liquidated_notional_desk_on']:,.0f} with it, "
                f"${amp['liquidated_notional_desk_off']:,.0f} without (same path and seed)"
            )
            console.print(
                f"wrote {out / 'report.json'}, {out / 'timeseries.csv'}, {out / 'cascade.png'}, "
                f"{out / 'desk.png'} and the no-desk baseline in {out / 'desk-off'}"
            )
            violations = result["invariant_violations"]
        else:
            from .runner import run_replay

            result = run_replay(sc, traders, param_set, out, progress, **kwargs)
            console.print(summary_table(result))
            console.print(f"wrote {out / 'report.json'}, {out / 'timeseries.csv'}, {out / 'cascade.png'}")
            violations = result["invariant_violations"]
    except (KeyError, ValueError) as exc:
        raise click.UsageError(str(exc).strip("'\"")) from None
    if violations:
        console.print(f"[red]{violations} invariant violation(s): see first_violation in the report[/red]")
        sys.exit(1)
    return result


@click.command()
@replay_options
@click.option(
    "--chain",
    type=click.Choice(["embedded", "anvil"]),
    default="embedded",
    show_default=True,
    help="embedded: the in-process revm chain; anvil: a private anvil node on loopback (node_modules), "
    "started and stopped by the command, deferred mining (slower; the same report).",
)
def replay(**kwargs: Any) -> None:
    """Replay a cascade scenario against the contracts on the embedded chain (or anvil).

    Directional traders, basis traders, LPs and liquidation keepers act through the
    contracts while the scenario's price path (moved by the forced flow when the
    scenario's spot impact is on) is pushed into the oracle one round per step.
    Invariants (conservation, solvency, open interest) are checked at every step.
    """
    do_replay(**kwargs)


@click.command()
@click.option(
    "--scenario",
    default="crash-30pct",
    show_default=True,
    metavar="NAME_OR_FILE",
    help="Scenario to replay twice (name from scenarios/ or a TOML path).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("reports/mitigations.json"),
    show_default=True,
    help='Where to write {"off": {...}, "on": {...}}.',
)
@click.option(
    "--traders",
    type=click.IntRange(min=0),
    default=None,
    metavar="N",
    help="Directional traders [default: the scenario's].",
)
@click.option(
    "--steps",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="Replay only the first N rounds [default: the whole path].",
)
@click.option("--seed", type=click.IntRange(min=0), default=None, metavar="N", help="Seed [default: the scenario's].")
@click.option("--progress/--no-progress", default=True, show_default=True, help="Show progress bars.")
def mitigations(
    scenario: str, out: Path, traders: int | None, steps: int | None, seed: int | None, progress: bool
) -> None:
    """Replay a scenario with mitigations off and on (same path, same agents) and compare
    liquidated notional by tier, the largest liquidation, bad debt, insurance-fund and
    pool drawdown."""
    from .compare import run_mitigations
    from .report import mitigations_table

    result = run_mitigations(scenario, traders, out, progress, steps=steps, seed=seed)
    console.print(mitigations_table(result))
    console.print(f"wrote {out}")


@click.command(name="windows")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("reports/real_windows.json"),
    show_default=True,
    help="Where to write the summaries.",
)
@click.option(
    "--traders",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="Directional traders [default: each scenario's].",
)
def windows(out: Path, traders: int | None) -> None:
    """Replay every real-data window with its scenario's defaults and write the summaries
    (liquidations, bad debt, drawdowns, ADL, funding) to reports/real_windows.json."""
    from .windows import run_windows, write_windows

    with console.status("replaying the real windows ...") as status:
        result = run_windows(traders=traders, progress=lambda name: status.update(f"replaying {name}"))
    write_windows(out, result, "vyperp windows" + (f" --traders {traders}" if traders else ""))
    from rich.table import Table

    table = Table(title="real windows (USD)")
    for column in ("window", "liquidated", "bad debt", "pool drawdown", "ADL events", "violations"):
        table.add_column(column, justify="left" if column == "window" else "right")
    for name, r in result.items():
        table.add_row(
            name,
            f"{r['liquidated_notional']:,.0f}",
            f"{r['bad_debt']:,.0f}",
            f"{r['pool_drawdown']:,.0f}",
            str(r["adl_events"]),
            str(r["invariant_violations"]),
        )
    console.print(table)
    console.print(f"wrote {out}")
    if any(r["invariant_violations"] for r in result.values()):
        raise SystemExit(1)


@click.command(name="adl-policies")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("reports/adl_policies.json"),
    show_default=True,
    help="Where to write the comparison.",
)
@click.option("--progress/--no-progress", default=True, show_default=True, help="Show progress bars.")
def adl_policies(out: Path, progress: bool) -> None:
    """Replay one deficit path with each ADL policy (ranked queue, pro rata) and report the
    overshoot of each against the minimal haircut."""
    from rich.table import Table

    from .compare import run_adl_policies

    result = run_adl_policies(out, progress)
    table = Table(title=f"ADL policies on {result['scenario']} (USD)")
    table.add_column("policy")
    for key in (
        "adl_minimal_haircut",
        "adl_trader_loss",
        "adl_overshoot",
        "adl_haircut",
        "bad_debt",
        "invariant_violations",
    ):
        table.add_column(key.removeprefix("adl_").replace("_", " "), justify="right")
    for policy, run in result["policies"].items():
        table.add_row(
            policy,
            *(
                f"{run[k]:,.2f}" if isinstance(run[k], float) else str(run[k])
                for k in (
                    "adl_minimal_haircut",
                    "adl_trader_loss",
                    "adl_overshoot",
                    "adl_haircut",
                    "bad_debt",
                    "invariant_violations",
                )
            ),
        )
    console.print(table)
    console.print(f"wrote {out}")


@click.command()
@click.option(
    "--class",
    "attack_class",
    default=None,
    metavar="NAME",
    help="Only this class (self-skew, pump-and-close, squeeze-into-pool, withdraw-then-liquidate, oracle-front-run).",
)
@click.option(
    "--before-ref",
    default="f5b5e8f",
    show_default=True,
    help="Git ref of the contracts before the safety work (the 'before' column); '' skips it.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("reports/attacks.json"),
    show_default=True,
    help="Where to write the attack report.",
)
def attack(attack_class: str | None, before_ref: str, out: Path) -> None:
    """The attack lab: every scenario under scenarios/attacks/ against the contracts now and
    before the safety work; writes reports/attacks.json."""
    from .attacks import AttackError, run_lab

    started = time.time()
    try:
        with console.status("running the attack lab ...") as status:
            report = run_lab(attack_class, before_ref or None, progress=lambda name: status.update(f"attack: {name}"))
    except AttackError as exc:
        raise click.ClickException(str(exc)) from exc
    report["seconds"] = round(time.time() - started, 1)
    if attack_class is None:  # a partial run never overwrites the full report
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2) + "\n")
    table = Table(title="attack lab (USD)")
    for column in ("class", "attacker profit before", "after", "LP loss before", "after", "bound", "frozen", "holds"):
        table.add_column(column, justify="right" if column not in ("class", "holds") else "left")
    for row in report["classes"]:
        b, a = row["before"] or {}, row["after"]
        table.add_row(
            row["name"],
            f"{b.get('attacker_net_profit', 0):,.0f}",
            f"{a['attacker_net_profit']:,.0f}",
            f"{b.get('lp_loss', 0):,.0f}",
            f"{a['lp_loss']:,.0f}",
            "-" if a["lp_loss_bound"] is None else f"{a['lp_loss_bound']:,.0f}",
            str(a["flat_accounts_frozen"]),
            "yes" if row["holds"] else "[red]NO[/red]",
        )
    console.print(table)
    console.print(
        f"{'wrote ' + str(out) if attack_class is None else 'partial run: not written'} in {report['seconds']} s"
    )
    if not report["all_hold"]:
        raise SystemExit(1)


@click.command("fingerprint")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("reports/replay_fingerprint.json"),
    show_default=True,
    help="Where to write the fingerprints (or, with --check, the file to compare with).",
)
@click.option(
    "--check", is_flag=True, help="Replay and compare with --out instead of writing it; exit 1 on a difference."
)
def fingerprint(out: Path, check: bool) -> None:
    """Hash fixed-seed replays (report, time series, exact end state in wei): the proof that a
    refactor preserves behaviour."""
    from .fingerprint import differences, fingerprints

    with console.status("replaying the fingerprint scenarios ..."):
        got = fingerprints()
    if check:
        try:
            expected = json.loads(out.read_text())
        except (OSError, ValueError) as exc:
            raise click.ClickException(f"{out}: cannot read fingerprints: {exc}") from exc
        diff = differences(expected, got)
        for line in diff:
            console.print(f"[red]{line}[/red]")
        console.print(f"{len(expected['scenarios'])} scenarios: {'all identical' if not diff else 'DIFFERENT'}")
        if diff:
            raise SystemExit(1)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(got, indent=2) + "\n")
    console.print(f"wrote {out}")


@click.command(name="fidelity")
@click.option(
    "--report",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=Path("reports/real_windows.json"),
    show_default=True,
    help="The windows report (`vyperp windows`).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("docs/fidelity.md"),
    show_default=True,
    help="Where to write the page.",
)
def fidelity(report: Path, out: Path) -> None:
    """Write docs/fidelity.md: each real window's replay beside the published facts of that day
    (open interest flushed, first liquidation to first ADL, funding at the cap, bad debt)."""
    from .fidelity import write

    try:
        console.print(f"wrote {write(report, out)}")
    except (ValueError, KeyError) as exc:
        raise click.ClickException(str(exc)) from None


@click.command("calibrate-depth")
@click.option(
    "--source",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="The Binance BTCUSDT bookDepth CSV of 2025-10-10 [default: $VYPERP_SHARED_DATA or ../shared/data, then 2025-10-10_binance_gemini/"
    "BTCUSDT-bookDepth-2025-10-10.csv].",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write the calibration [default: the shipped vyperp/data/depth/btcusdt_depth_2025-10-10.json].",
)
def calibrate_depth(source: Path | None, out: Path | None) -> None:
    """Fit the spot-impact depth (USD per 1 %) to the 2025-10-10 order-book depth snapshots
    (see vyperp/sim/depth.py) and write the calibration the attribution uses."""
    from .depth import SHARED_SOURCE, DepthError, calibrate, write_calibration

    try:
        data = calibrate(source or SHARED_SOURCE)
    except DepthError as exc:
        raise click.ClickException(str(exc)) from exc
    path = write_calibration(data, out)
    d = data["depth_per_1pct_usd"]
    for period, sides in d.items():
        console.print(
            f"{period}: bid {sides['bid']['median']:,} / ask {sides['ask']['median']:,} USD per 1 % "
            f"({sides['bid']['snapshots']} / {sides['ask']['snapshots']} snapshots)"
        )
    console.print(f"impact_depth_usd = {data['impact_depth_usd']:,} ({data['chosen']}); wrote {path}")


@click.command("attribution-windows")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("reports/attribution_windows.json"),
    show_default=True,
    help="Where to write the attributions.",
)
def attribution_windows(out: Path) -> None:
    """Every real window replayed with the spot-impact feedback off and on, at the calibrated
    order-book depth and at the thinnest measured depth; writes
    reports/attribution_windows.json (the README's attribution table)."""
    from .attribution import run_windows_attribution
    from .report import write_json

    with console.status("replaying the real windows off and on ...") as status:
        result = run_windows_attribution(progress=lambda name: status.update(f"attribution: {name}"))
    write_json(out, result)
    table = Table(title="attribution (USD): impact off -> on")
    for column in ("window", "depth", "liquidated", "bad debt", "caused", "prevented", "max dislocation"):
        table.add_column(column, justify="left" if column in ("window", "depth") else "right")
    for name, runs in result["windows"].items():
        for label, a in runs.items():
            table.add_row(
                name,
                label,
                f"{a['liquidated_notional']['off']:,.0f} -> {a['liquidated_notional']['on']:,.0f}",
                f"{a['bad_debt']['off']:,.0f} -> {a['bad_debt']['on']:,.0f}",
                f"{a['caused']['count']} / {a['caused']['notional']:,.0f}",
                f"{a['prevented']['count']} / {a['prevented']['notional']:,.0f}",
                f"{100 * a['price_dislocation']['max']:.4f} %",
            )
    console.print(table)
    console.print(f"wrote {out}")
    if any(a["invariant_violations"] for runs in result["windows"].values() for a in runs.values()):
        raise SystemExit(1)


def funding_flip_table(section: dict[str, Any]) -> Table:
    """Swap-hedged (floored, if any) vs unprotected basis traders (swaps and floors on; the
    counterfactual without either in brackets)."""
    groups, off = section["groups"], section.get("counterfactual", {})
    table = Table(title="basis traders: hedged with funding swaps / floors vs unprotected (without them)")
    table.add_column("")
    for group in groups:
        table.add_column(group, justify="right")

    def cell(group: str, get: Callable[[dict[str, Any]], Any], fmt: str) -> str:
        text = fmt.format(get(groups[group]))
        return f"{text} ({fmt.format(get(off[group]))})" if group in off else text

    rows: list[tuple[str, Callable[[dict[str, Any]], Any], str]] = [
        ("entered", lambda g: g["entered"], "{:,}"),
        ("liquidated traders", lambda g: g["liquidated_traders"], "{:,}"),
        ("liquidated notional", lambda g: g["liquidated_notional_usd"], "{:,.0f}"),
        ("survival rate", lambda g: g["survival_rate"] or 0.0, "{:.1%}"),
        ("P&L total", lambda g: g["pnl_usd"]["total"], "{:,.0f}"),
        ("funding net", lambda g: g["funding_usd"]["net"], "{:,.0f}"),
    ]
    for label, get, fmt in rows:
        table.add_row(label, *(cell(g, get, fmt) for g in groups))
    pool = section.get("pool")
    if pool:
        table.caption = f"LP pool's swap P&L end {pool['pnl_end_usd']:,.0f} USD (min {pool['pnl_min_usd']:,.0f})"
        vault = section.get("caps", {}).get("vault")
        if vault:
            table.caption += f"; cap vault P&L end {vault['pnl_end_usd']:,.0f} USD (min {vault['pnl_min_usd']:,.0f})"
    return table


@click.command("funding-flip")
@click.option(
    "--scenario",
    default="funding-flip",
    show_default=True,
    metavar="NAME_OR_FILE",
    help="A scenario with [population.funding_swaps].",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("reports/funding_flip.json"),
    show_default=True,
    help="Where to write the study (the funding_swaps section, the run's totals, the throughput).",
)
@click.option(
    "--chart",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("docs/funding_flip.png"),
    show_default=True,
    help="Where to write the chart (funding rate and quote, P&L, survivors, swap pool P&L).",
)
@click.option(
    "--repeats",
    type=click.IntRange(min=0),
    default=3,
    show_default=True,
    help="Alternating swaps-on / swaps-off runs for the throughput (best of each; 0 = skip).",
)
@click.option("--progress/--no-progress", default=False, show_default=True, help="Show progress bars.")
def funding_flip(scenario: str, out: Path, chart: Path, repeats: int, progress: bool) -> None:
    """Hedged vs unhedged basis traders through a funding flip, and the swaps' cost in throughput.

    Replays the scenario with its funding swaps and as the counterfactual (the same groups,
    nobody trading a swap), writes the comparison (liquidations, survival, P&L, funding,
    the swap pool's P&L) and steps per second with swaps on / off to OUT, and the chart."""
    import tempfile

    from vyperp.sim.scenario import ScenarioError, load_scenario

    from .funding_flip import run_funding_flip, throughput
    from .report import write_json

    try:
        sc = load_scenario(scenario)
    except ScenarioError as exc:
        raise click.BadParameter(str(exc), param_hint="--scenario") from None
    if sc.population.funding_swaps is None:
        raise click.BadParameter(f"{sc.name} has no [population.funding_swaps]", param_hint="--scenario")
    with tempfile.TemporaryDirectory(prefix="vyperp-funding-flip-") as tmp:
        report = run_funding_flip(sc, out_dir=Path(tmp), progress=progress)
        chart.parent.mkdir(parents=True, exist_ok=True)
        chart.write_bytes((Path(tmp) / "funding_flip.png").read_bytes())
    keys = ("scenario", "seed", "steps", "traders", "basis_traders", "liquidations", "liquidated_notional", "bad_debt")
    study: dict[str, Any] = {k: report[k] for k in keys}
    study["max_abs_funding_rate"] = report["max_abs_funding_rate"]
    study["invariant_checks"] = report["invariant_checks"]
    study["invariant_violations"] = report["invariant_violations"]
    study["funding_swaps"] = report["funding_swaps"]
    if repeats:
        study["throughput"] = throughput(sc, repeats)
    write_json(out, study)
    console.print(funding_flip_table(report["funding_swaps"]))
    if repeats:
        t = study["throughput"]
        console.print(
            f"steps/s: swaps on {t['swaps_on']['steps_per_second']:,.1f}, off {t['swaps_off']['steps_per_second']:,.1f} "
            f"(x{t['slowdown']:.2f} slower with swaps)"
            + (
                f"; caps removed {t['caps_off']['steps_per_second']:,.1f} (x{t['slowdown_caps']:.2f} for the caps)"
                if "caps_off" in t
                else ""
            )
        )
    console.print(f"wrote {out} and {chart}")


COMMANDS = [
    funding_flip,
    replay,
    mitigations,
    windows,
    adl_policies,
    attack,
    fingerprint,
    fidelity,
    calibrate_depth,
    attribution_windows,
]

__all__ = ["COMMANDS", "do_replay", "mitigations", "replay", "replay_options"]
