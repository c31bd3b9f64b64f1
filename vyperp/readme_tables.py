"""Markdown tables for the README, generated from the committed reports/*.json, so the
README shows what the measuring commands wrote (`vyperp readme-tables --write README.md`
replaces the text between `<!-- NAME -->` and `<!-- /NAME -->` markers)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.console import Console

REPORTS = Path("reports")
console = Console()

GAS_ROWS = [
    ("deposit", "deposit (the account's first: creates its slot)", "60,000"),
    ("deposit_top_up", "deposit, top-up", "60,000"),
    ("withdraw", "withdraw", ""),
    ("open", "open (new position)", "150,000"),
    ("increase", "increase", "120,000"),
    ("reduce", "reduce", "120,000"),
    ("close", "close", "120,000"),
    ("oracle_update", "oracle update (MockOracle round)", "60,000"),
    ("poke", "engine poke (accept round, accrue funding)", ""),
    ("poke_with_ewma", "engine poke with the volatility EWMA and funding EMA", ""),
    ("liquidate", "liquidation (full close; the keeper was paid before)", "150,000"),
    ("liquidate_first_reward", "liquidation, the keeper's first reward (creates its account)", ""),
    ("open_warm_market", "open, warm market (another trade this block accepted the round, accrued funding)", ""),
    ("close_warm_market", "close, warm market", ""),
    ("liquidate_warm_market", "liquidation, warm market", ""),
    ("open_with_1000_accounts", "open, 1,000 other accounts open", "= open (2 %)"),
    ("close_with_1000_accounts", "close, 1,000 other accounts open", "= close"),
    ("liquidate_with_1000_accounts", "liquidation, 1,000 other accounts open", "= liquidation"),
    ("open_with_brackets_and_risk_multiplier", "open with 4 brackets and the risk multiplier on", ""),
    ("liquidate_tier_1", "liquidation tier 1 (25 %)", ""),
    ("liquidate_tier_2", "liquidation tier 2 (50 %)", ""),
    ("liquidate_tier_3", "liquidation tier 3 (close all)", ""),
    ("liquidate_batch_1_per_account", "batch liquidation, 1 account (per account)", ""),
    ("liquidate_batch_10_per_account", "batch liquidation, 10 accounts (per account)", ""),
    ("liquidate_batch_50_per_account", "batch liquidation, 50 accounts (per account)", "40,000"),
    ("adl_step", "auto-deleveraging step", ""),
    ("open_without_pool_bounds", "open, the PnL cap / ADL trigger / transfer margin off", ""),
    ("close_without_pool_bounds", "close, the same", ""),
    ("order_commit", "delayed order: commit", ""),
    ("order_execute", "delayed order: execute (keeper, after the next round)", ""),
]


def _load(name: str) -> dict[str, Any] | None:
    path = REPORTS / name
    return json.loads(path.read_text()) if path.exists() else None


def gas_table() -> str:
    gas = _load("gas.json")
    if gas is None:
        return "(no reports/gas.json yet: run `vyperp gas`)"
    lines = [
        f"Measured by `vyperp gas` ({gas['compiler']}; {gas.get('machine', '')}).",
        "",
        "| operation | gas | target |",
        "| --- | ---: | ---: |",
    ]
    for key, label, target in GAS_ROWS:
        if key in gas:
            lines.append(f"| {label} | {gas[key]:,} | {target} |")
    lines += ["", "| deployable | runtime bytecode |", "| --- | ---: |"]
    for name, size in gas["bytecode_size"].items():
        lines.append(f"| {name} | {size:,} B |")
    return "\n".join(lines)


SAFETY_GAS_ROWS = [
    ("open", "open (new position)"),
    ("close", "close"),
    ("liquidate", "liquidation (full close)"),
    ("withdraw", "withdraw"),
    ("deposit", "deposit"),
    ("adl_step", "auto-deleveraging step"),
]


def safety_gas_table() -> str:
    """Gas before the safety work (reports/gas_before_safety.json, measured at f5b5e8f) vs now."""
    before, after = _load("gas_before_safety.json"), _load("gas.json")
    if before is None or after is None:
        return "(run `vyperp gas`; reports/gas_before_safety.json holds the figures measured before the safety work)"
    lines = [
        "`vyperp gas`, before the safety work (commit f5b5e8f) and now:",
        "",
        "| operation | before | after | difference |",
        "| --- | ---: | ---: | ---: |",
    ]
    for key, label in SAFETY_GAS_ROWS:
        if key in before and key in after:
            diff = after[key] - before[key]
            lines.append(f"| {label} | {before[key]:,} | {after[key]:,} | {diff:+,} ({diff / before[key]:+.0%}) |")
    b, a = before["bytecode_size"].get("Engine"), after["bytecode_size"].get("Engine")
    if b and a:
        lines.append(f"| Engine runtime bytecode | {b:,} B | {a:,} B | {a - b:+,} B |")
    return "\n".join(lines)


def attacks_table() -> str:
    report = _load("attacks.json")
    if report is None:
        return "(no reports/attacks.json yet: run `vyperp attack`)"
    lines = [
        f"`vyperp attack` (before = the contracts at {report['before_ref']}, the same parameters), USD:",
        "",
        "| class | market | attacker net profit before / after | LP loss before / after | LP loss bound "
        "| bad debt before / after | frozen flat accounts before / after | holds |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for row in report["classes"]:
        b, a = row["before"] or {}, row["after"]

        def pair(key: str, fmt: str = "{:,.0f}") -> str:
            left = fmt.format(b[key]) if key in b else "-"
            return f"{left} / {fmt.format(a[key])}"

        bound = "-" if a["lp_loss_bound"] is None else f"{a['lp_loss_bound']:,.0f}"
        lines.append(
            f"| {row['name']} | {row['market']} | {pair('attacker_net_profit')} | {pair('lp_loss')} | {bound} "
            f"| {pair('bad_debt')} | {pair('flat_accounts_frozen', '{:d}')} | {'yes' if row['holds'] else '**no**'} |"
        )
    efficiency = []
    for row in report["classes"]:
        b, a = (row["before"] or {}).get("details", {}), row["after"]["details"]
        if "largest_open_usd" in a:
            efficiency.append(
                f"| {row['name']}: largest open a 100 k account is allowed | "
                f"{b.get('largest_open_usd', 0):,.0f} | {a['largest_open_usd']:,.0f} |"
            )
        if "withdrawn_right_after_open_usd" in a:
            efficiency.append(
                f"| {row['name']}: withdrawable right after the open | "
                f"{b.get('withdrawn_right_after_open_usd', 0):,.0f} | {a['withdrawn_right_after_open_usd']:,.0f} |"
            )
    if efficiency:
        lines += [
            "",
            "What the same defences take from an honest trader's capital efficiency (USD):",
            "",
            "| | before | after |",
            "| --- | ---: | ---: |",
        ] + efficiency
    return "\n".join(lines)


def adl_table() -> str:
    report = _load("adl_policies.json")
    if report is None:
        return "(no reports/adl_policies.json yet: run `vyperp adl-policies`)"
    lines = [
        f"`vyperp adl-policies` on `{report['scenario']}` ({report['traders']} traders, {report['steps']} steps; "
        "no insurance, a thin pool, the PnL-to-pool bounds off so that deficits arise), USD:",
        "",
        "| policy | minimal haircut | deleveraged traders lost | overshoot | notional closed | bad debt "
        "| deficit steps |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for policy, run in report["policies"].items():
        lines.append(
            f"| {policy} | {run['adl_minimal_haircut']:,.0f} | {run['adl_trader_loss']:,.0f} | "
            f"{run['adl_overshoot']:,.0f} | {run['adl_notional']:,.0f} | {run['bad_debt']:,.0f} | "
            f"{run['adl_pending_steps']} |"
        )
    return "\n".join(lines)


def windows_table() -> str:
    after, before = _load("real_windows.json"), _load("real_windows_before_safety.json")
    if after is None:
        return "(no reports/real_windows.json yet: run `vyperp windows`)"
    before_windows = (before or {}).get("windows", {})
    lines = [
        "`vyperp windows` (each real window with its scenario's defaults), before the safety work "
        "(f5b5e8f) / after, USD:",
        "",
        "| window | liquidated notional | largest liquidation | bad debt | pool drawdown | ADL events |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, a in after["windows"].items():
        b = before_windows.get(name, {})

        def pair(key: str) -> str:
            left = f"{b[key]:,.0f}" if key in b else "-"
            return f"{left} / {a[key]:,.0f}"

        lines.append(
            f"| {name} | {pair('liquidated_notional')} | {pair('largest_liquidation_notional')} | "
            f"{pair('bad_debt')} | {pair('pool_drawdown')} | {pair('adl_events')} |"
        )
    return "\n".join(lines)


def mitigations_table() -> str:
    report = _load("mitigations.json")
    if report is None:
        return "(no reports/mitigations.json yet: run `vyperp mitigations`)"
    off, on = report["off"], report["on"]
    lines = [
        f"`vyperp mitigations` on `{report['scenario']}` (seed {report['seed']}, {report['traders']} traders, "
        f"{report['steps']} steps), USD:",
        "",
        "| | mitigations off | mitigations on |",
        "| --- | ---: | ---: |",
    ]
    tiers = sorted(set(off["liquidated_notional_by_tier"]) | set(on["liquidated_notional_by_tier"]))
    for tier in tiers:
        lines.append(
            f"| liquidated notional, {tier} | {off['liquidated_notional_by_tier'].get(tier, 0):,.0f} | "
            f"{on['liquidated_notional_by_tier'].get(tier, 0):,.0f} |"
        )
    for key in ("largest_liquidation_notional", "bad_debt", "insurance_fund_drawdown", "pool_drawdown"):
        lines.append(f"| {key.replace('_', ' ')} | {off[key]:,.0f} | {on[key]:,.0f} |")
    return "\n".join(lines)


def speed_table() -> str:
    lines = ["| measurement | value | goal | command |", "| --- | ---: | ---: | --- |"]
    bench = _load("replay_bench.json")
    if bench:
        for key, label in (("ceiling", "default population"), ("active_population", "active population")):
            run = bench.get(key) or {}
            if not run:
                continue
            lines.append(
                f"| replay transactions/s, {label} ({run['traders']:,} traders, {run['steps']:,} steps; "
                f"agents only: {run.get('replay_agent_tx_per_second', 0):,.0f}) | "
                f"{run['replay_tx_per_second']:,.0f} | 10,000 | `vyperp bench-replay` |"
            )
            lines.append(
                f"| raw in-process ceiling, the same transactions ({label}) | {run['ceiling_tx_per_second']:,.0f} | | |"
            )
            lines.append(
                f"| replay / ceiling ({label}) | {run['replay_tx_per_second'] / run['ceiling_tx_per_second']:.0%} "
                f"| 25 % | |"
            )
        cost = bench.get("fixed_vs_marginal_cost")
        if cost:
            lines.append(
                f"| replay cost: fixed per step / per transaction | {cost['fixed_seconds_per_step'] * 1e3:.2f} ms / "
                f"{cost['marginal_seconds_per_transaction'] * 1e3:.2f} ms | | |"
            )
        for row in bench.get("scaling", []):
            lines.append(
                f"| replay wall time, {row['steps']:,} steps x {row['traders']:,} traders | {row['wall_seconds']:.1f} s | "
                f"{'30 s' if row['traders'] == 1000 else ''} | |"
            )
    fuzz = _load("fuzz.json")
    if fuzz:
        lines.append(
            f"| fuzz steps/s, profile {fuzz['profile']} ({fuzz['workers']} workers, {fuzz['examples']} examples, "
            f"{fuzz['steps']:,} steps) | {fuzz['steps_per_second']:,.0f} | 1,000 | `vyperp fuzz` |"
        )
        lines.append(f"| fuzz steps/s per worker | {fuzz['steps_per_second_per_worker']:,.0f} | | |")
    mutation = _load("mutation.json")
    if mutation:
        lines.append(f"| seeded bugs caught | {mutation['caught']} / {mutation['total']} | all | `vyperp mutate` |")
    return "\n".join(lines)


def mutation_table() -> str:
    mutation = _load("mutation.json")
    if mutation is None:
        return "(no reports/mutation.json yet: run `vyperp mutate`)"
    lines = [
        f"{mutation['caught']} of {mutation['total']} caught (profile `{mutation['profile']}`):",
        "",
        "| mutant | the bug | caught by | first failure |",
        "| --- | --- | --- | --- |",
    ]
    for m in mutation["mutants"]:
        failure = str(m["first_failure"]).replace("|", "/")[:90]
        caught = (
            f"`{m['caught_by'].removeprefix('tests/')}`" if m.get("caught_by") else ("yes" if m["caught"] else "**no**")
        )
        lines.append(f"| `{m['name']}` | {m['change']} | {caught} | {failure} |")
    return "\n".join(lines)


def bench_table() -> str:
    bench = _load("bench.json")
    if bench is None:
        return "(no reports/bench.json yet: run `vyperp bench`)"
    gas, w, m = bench["gas"], bench["workload"], bench["machine"]
    load = m.get("load_average_before", [None])[0]
    lines = [
        f"Measured by `vyperp bench`{' --quick' if bench.get('quick') else ''} ({gas['compiler']}; "
        f"{m['cpu_count']} cpus, {m['platform']}, python {m['python']}; load average {load} before). "
        f"Replay workload: {w['traders']:,} traders x {w['steps']:,} steps of {w['scenario']}, "
        "the same on the embedded chain and on anvil.",
        "",
        "| measurement | value |",
        "| --- | ---: |",
    ]
    for key, label in (("open", "open"), ("close", "close"), ("liquidate", "liquidation")):
        lines.append(
            f"| gas, {label}: 1 vs 1,000 other accounts | {gas[key]:,} / {gas[key + '_with_1000_accounts']:,} |"
        )
    e = bench["embedded"]
    lines.append(
        f"| embedded replay tx/s ({e['transactions']:,} tx; agents only {e['agent_tx_per_second']:,.0f}) | "
        f"{bench['embedded_tx_per_second']:,.0f} |"
    )
    lines.append(
        f"| embedded ceiling tx/s (same tx, raw `Chain.send`) | {bench['embedded_ceiling_tx_per_second']:,.0f} |"
    )
    ea = bench.get("embedded_active")
    if ea:
        active = w.get("active_population", {})
        lines.append(
            f"| embedded replay tx/s, active population ({active.get('traders', 0):,} traders, "
            f"{active.get('agent_transactions_per_step', 0)} agent tx/step) / ceiling | "
            f"{ea['tx_per_second']:,.0f} / {ea['ceiling_tx_per_second']:,.0f} |"
        )
    if bench.get("anvil_skipped"):
        lines.append(f"| anvil | skipped ({bench['anvil_skipped']}) |")
    else:
        version = bench.get("anvil_version", "anvil")
        for name, pop in (bench.get("anvil_populations") or {}).items():
            shadow = "deferred" in pop  # else a report from before ShadowChain: its figures are RpcChain deferred
            lines.append(
                f"| anvil replay tx/s, {name} population ({pop['traders']:,} traders, "
                f"{pop['agent_transactions_per_step']} agent tx/step; "
                f"{'ShadowChain, verified every step' if shadow else 'RpcChain deferred'}, {version}) | "
                f"{pop['tx_per_second']:,.0f} |"
            )
            lines.append(
                f"| anvil per-step-batch ceiling tx/s, {name} population (same tx, one batch and one block per step) | "
                f"{pop['per_step_batch_tx_per_second']:,.0f} |"
            )
            lines.append(f"| anvil replay / per-step batch, {name} population | {pop['share_of_per_step_batch']:.0%} |")
            if shadow:
                d = pop["deferred"]
                lines.append(
                    f"| the same on RpcChain deferred ({name} population): tx/s, share of the per-step batch | "
                    f"{d['tx_per_second']:,.0f}, {d['share_of_per_step_batch']:.0%} |"
                )
        per_tx = bench.get("anvil_block_per_transaction_replay")
        if per_tx:
            lines.append(
                f"| anvil replay tx/s, default population, a block per transaction | {per_tx['tx_per_second']:,.0f} |"
            )
        lines.append(
            f"| anvil raw batched JSON-RPC tx/s (engine trades, batches of 200) | "
            f"{bench['anvil_raw_batch_tx_per_second']:,.0f} |"
        )
        lines.append(f"| anvil replay / raw batch (default population) | {bench['anvil_ratio']:.1%} |")
        lines.append(
            f"| anvil books equal to the embedded replay, to the wei | "
            f"{bench['anvil_books_match_embedded'] and bench['anvil_same_transactions_as_embedded']} |"
        )
    ops = bench.get("ops")
    if ops:
        k, fd = ops["keeper_latency"], ops["feeder"]
        lines.append(
            f"| keeper latency, liquidating round -> liquidation receipt (public-node proxy, signed; "
            f"{k['trials']} liquidations, poll every {k['poll_interval_seconds']:g} s): median / max | "
            f"{k['median_seconds']:.2f} s / {k['max_seconds']:.2f} s |"
        )
        lines.append(
            f"| feeder rounds lost of {fd['rounds']:,}, a competing sender on its key "
            f"({fd['competing_transactions']:,} competing tx; goal 0) | {fd['rounds_lost']} |"
        )
        if "rounds_duplicated" in fd:
            lines.append(f"| feeder rounds landed twice (goal 0) | {fd['rounds_duplicated']} |")
    f = bench["fuzz"]
    lines.append(
        f"| fuzz steps/s (profile {f['profile']}, {f['workers']} workers, {f['steps']:,} steps) | "
        f"{bench['fuzz_steps_per_second']:,.0f} |"
    )
    return "\n".join(lines)


PATHS_ORDER = {"scenario": 0, "bootstrap": 1, "jump-fit": 2}
PATHS_NAMES = {"scenario": "real window", "bootstrap": "bootstrap", "jump-fit": "jump-diffusion"}


def mitigations_study_table() -> str:
    """`vyperp sweep mitigations-study`: each mitigation against the plain design, with intervals."""
    report = _load("sweep_mitigations_study.json")
    if report is None:
        return (
            "(no reports/sweep_mitigations_study.json yet: run `vyperp sweep mitigations-study "
            "--cells-json reports/sweep_mitigations_study.json`)"
        )
    cells = report["cells"]

    def usd(v: Any) -> str:
        return "-" if v is None else f"{v:,.0f}"

    def ci(c: dict[str, Any], key: str) -> str:
        return f"{usd(c[key])} [{usd(c.get(key + '_ci_lo'))}, {usd(c.get(key + '_ci_hi'))}]"

    lines = [
        f"`vyperp sweep mitigations-study` ({report['runs']} replays on {report['engine']}, "
        f"{report['workers']} workers), USD; [95 % bootstrap CI], P with its Wilson interval:",
        "",
        "| paths | variant | runs | mean bad debt | VaR95 bad debt | VaR99 | CVaR99 | P(bad debt > 0) | "
        "p95 LP drawdown | mean liquidated | amplification | mean open interest (capital carried) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for c in sorted(cells, key=lambda c: PATHS_ORDER.get(c.get("paths", ""), 9)):
        lines.append(
            f"| {PATHS_NAMES.get(c.get('paths', ''), c.get('paths', '-'))} | {c['param.variant']} | {c['runs']} | "
            f"{ci(c, 'bad_debt_mean')} | {ci(c, 'bad_debt_var95')} | "
            f"{usd(c['bad_debt_var99'])} | {usd(c['bad_debt_cvar99'])} | "
            f"{c['p_bad_debt']:.2f} [{c['p_bad_debt_lo']:.2f}, {c['p_bad_debt_hi']:.2f}] | "
            f"{usd(c['pool_drawdown_p95'])} | {usd(c['liquidated_notional_mean'])} | {c['amplification_mean']:.3f} | "
            f"{usd(c.get('mean_open_interest_usd_mean'))} |"
        )
    return "\n".join(lines)


def sweep_bench_table() -> str:
    """`vyperp sweep-bench`: throughput, overhead, the long sweep, memory."""
    report = _load("sweep_bench.json")
    if report is None or "overhead" not in report:
        return "(no reports/sweep_bench.json from the current bench yet: run `vyperp sweep-bench`)"
    spec, runs, o = report["spec"], report["runs"], report["overhead"]
    lines = [
        f"`vyperp sweep-bench` ({report['replays']} replays of the full {spec['scenarios'][0]} window, "
        f"{spec['traders']} traders, bootstrap paths; {report['machine']['cpus']} cores, load average "
        f"{report['machine']['loadavg_at_end'][0]} at the end):",
        "",
        "| measure | value | goal |",
        "| --- | ---: | ---: |",
    ]
    for n, run in runs.items():
        extra = (
            f" (+ {run['cluster_startup_seconds'] + run['worker_warmup_seconds']:.1f} s cluster start and warm-up)"
            if "cluster_startup_seconds" in run
            else ""
        )
        lines.append(f"| replays / min, {n} worker(s), {run['engine']}{extra} | {run['replays_per_minute']:,.0f} | |")
    if "2" in runs:
        lines.append(f"| speedup, 2 workers over 1 | x{runs['2']['speedup_vs_1']:.2f} | >= x1.8 |")
    ceiling = report.get("parallel_ceiling")
    if ceiling:
        lines.append(
            f"| the machine's own ceiling: 2 independent processes over 1 (no Dask) | x{ceiling['throughput_ratio']:.2f} | |"
        )
    lines += [
        f"| replay loop (median) | {1000 * o['loop_seconds_median']:.0f} ms | |",
        f"| per-replay overhead: set-up (deploy or revert, agents, path), result write | "
        f"{1000 * o['overhead_seconds']:.1f} ms ({100 * o['overhead_share_of_loop']:.1f} % of the loop) | <= 10 % |",
        f"| and the final check after the loop (exact books, on-chain scan) | "
        f"{1000 * o['final_check_seconds_median']:.1f} ms (all non-loop time: "
        f"{100 * o['non_loop_share_of_loop']:.1f} %) | |",
        f"| deploy: fresh / reverted snapshot | {1000 * o['deploy_seconds_fresh_median']:.1f} ms / "
        f"{1000 * o['deploy_seconds_reused_median']:.1f} ms | |",
    ]
    full = report.get("full")
    if full:
        lines += [
            f"| {full['replays']:,}-replay sweep, {full['workers']} workers, wall (cluster start included) | "
            f"{full['wall_minutes']:.1f} min ({full['replays_per_minute']:,.0f} / min) | <= 10 min |",
            f"| its speedup over 1 in-process worker (cluster start included) | "
            f"x{full['speedup_vs_1']:.2f} | >= x1.8 |",
            f"| peak memory per worker | {', '.join(f'{m:,.0f}' for m in full['peak_rss_mb_per_worker'])} MB | |",
        ]
    return "\n".join(lines)


def attribution_table() -> str:
    report = _load("attribution_windows.json")
    if report is None:
        return "(no reports/attribution_windows.json yet: run `vyperp attribution-windows`)"
    d = report["depths_usd_per_1pct"]
    lines = [
        f"`vyperp attribution-windows` (each real window with its scenario's defaults, impact off / on; depth "
        f"{d['calibrated'] / 1e6:,.1f} M USD per 1 % = the calibration, in brackets {d['thin'] / 1e6:,.1f} M = the "
        f"thinnest side measured in the cascade; half-life 10 steps; caused = no impact-off liquidation of the same "
        f"account and market within {report['tolerance_steps']} steps), USD:",
        "",
        "| window | liquidated notional off / on | bad debt off / on | caused by the feedback | prevented "
        "| max price dislocation | at the worst minute |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, runs in report["windows"].items():
        a, t = runs["calibrated"], runs["thin"]

        def cell(key: str, r: dict[str, Any]) -> str:
            return f"{r[key]['count']} / {r[key]['notional']:,.0f}"

        lines.append(
            f"| {name} | {a['liquidated_notional']['off']:,.0f} / {a['liquidated_notional']['on']:,.0f} "
            f"({t['liquidated_notional']['on']:,.0f}) | {a['bad_debt']['off']:,.0f} / {a['bad_debt']['on']:,.0f} "
            f"({t['bad_debt']['on']:,.0f}) | {cell('caused', a)} ({cell('caused', t)}) | {cell('prevented', a)} "
            f"({cell('prevented', t)}) | {100 * a['price_dislocation']['max']:.3f} % "
            f"({100 * t['price_dislocation']['max']:.3f} %) | {100 * a['price_dislocation']['at_worst_minute']:.3f} % "
            f"({100 * t['price_dislocation']['at_worst_minute']:.3f} %) |"
        )
    return "\n".join(lines)


def funding_flip_table() -> str:
    report = _load("funding_flip.json")
    if report is None:
        return "(no reports/funding_flip.json yet: run `vyperp funding-flip`)"
    fs = report["funding_swaps"]
    on, off = fs["groups"], fs["counterfactual"]
    names = {"hedged": "swap-hedged", "floored": "floored", "unhedged": "unprotected"}
    cols = [(g, run) for g in on for run in (on, off)]

    def row(label: str, get: Callable[[dict[str, Any]], str]) -> str:
        return f"| {label} | " + " | ".join(get(run[g]) for g, run in cols) + " |"

    def usd(v: float) -> str:
        return f"{v:,.0f}"

    header = " | ".join(f"{names[g]}, {'on' if run is on else 'off'}" for g, run in cols)
    floors = "floored" in on
    lines = [
        f"`vyperp funding-flip` ({report['scenario']}, seed {report['seed']}, {report['traders']} directional and "
        f'{report["basis_traders"]} basis traders, {report["steps"]} steps; USD; "on" = swaps'
        + (" and floors" if floors else "")
        + ' traded, "off" = the same traders in the counterfactual run, `hedge = false`: the engine side is then '
        "the replay without either section, to the wei):",
        "",
        f"| | {header} |",
        "| --- |" + " ---: |" * len(cols),
        row("traders / entered", lambda g: f"{g['traders']} / {g['entered']}"),
        row("liquidated traders", lambda g: f"{g['liquidated_traders']}"),
        row("liquidations / notional", lambda g: f"{g['liquidations']} / {usd(g['liquidated_notional_usd'])}"),
        row("survival rate", lambda g: f"{100 * (g['survival_rate'] or 0):.1f} %"),
        row("holding a short at the end", lambda g: f"{g['open_at_end']}"),
        row(
            "P&L total (perp / spot / swap" + (" / floor)" if floors else ")"),
            lambda g: (
                f"{usd(g['pnl_usd']['total'])} ({usd(g['pnl_usd']['perp'])} / {usd(g['pnl_usd']['spot'])} / "
                f"{usd(g['pnl_usd']['swap'])}" + (f" / {usd(g['pnl_usd']['floor'])})" if floors else ")")
            ),
        ),
        row(
            "realized (perp margin change + swap" + (" + floor)" if floors else ")"),
            lambda g: usd(g["pnl_usd"]["realized_perp_and_swap"]),
        ),
        row("perp funding received", lambda g: usd(g["funding_usd"]["perp_received"])),
        row(
            "swap: floating received / fixed paid / unwind",
            lambda g: (
                f"{usd(g['funding_usd']['swap_floating_received'])} / {usd(g['funding_usd']['swap_fixed_paid'])}"
                f" / {usd(g['funding_usd']['swap_unwind_received'])}"
            ),
        ),
    ]
    if floors:
        lines.append(
            row(
                "floor: premium paid / payoffs received",
                lambda g: (
                    f"{usd(g['funding_usd']['floor_premium_paid'])} / {usd(g['funding_usd']['floor_payoff_received'])}"
                ),
            )
        )
    lines += [
        row("funding net (perp + swap" + (" + floor)" if floors else ")"), lambda g: usd(g["funding_usd"]["net"])),
        row("swap top-up of the engine margin", lambda g: usd(g["swap_top_up_usd"])),
    ]
    pool, ep, zs = fs["pool"], fs["hedge_episodes"], fs["zero_sum"]
    lines += [
        "",
        f"LP pool's swap P&L at the end {usd(pool['pnl_end_usd'])} (max {usd(pool['pnl_max_usd'])}, min "
        f"{usd(pool['pnl_min_usd'])}); LP pool + holders' swap P&L + keepers' rewards = {zs['residual_wei']} wei. "
        f"Swap mark rate {100 * fs['book']['quote_min']:.4f} % to {100 * fs['book']['quote_max']:.4f} % per 8 h. "
        f"Swap liquidations {fs['stats']['swap_liquidations']}. Hedge episodes {ep['count']} "
        f"({', '.join(f'{k} {v}' for k, v in ep['by_end'].items())}); on the {ep['tied_out']} tied out (opened with "
        f"the perp, ended on a perp touch or at the maturity), floating received - perp funding paid = "
        f"{ep['residual_wei_min']} to {ep['residual_wei_max']} wei. Invariant violations: "
        f"{report['invariant_violations']} of {report['invariant_checks']:,} checks.",
    ]
    caps = fs.get("caps")
    if caps and "vault" in caps:
        v = caps["vault"]
        lines.append(
            f"Cap-writer vault: funded {usd(v['deposited_usd'])}, P&L at the end {usd(v['pnl_end_usd'])} (max "
            f"{usd(v['pnl_max_usd'])}, min {usd(v['pnl_min_usd'])}) = premiums {usd(v['premiums_usd'])} - floor "
            f"payoffs fixed; {caps['stats']['floor_buys']} floors bought, {caps['fixings_paying']} floorlets paid; "
            f"token balance - (assets + buyer reserve) = {caps['conservation']['token_residual_wei']} wei."
        )
    t = report.get("throughput")
    if t:
        caps_t = (
            f", {t['caps_off']['steps_per_second']:,.0f} with swaps and no caps (caps x{t['slowdown_caps']:.2f})"
            if "caps_off" in t
            else ""
        )
        lines.append(
            f"Step loop: {t['swaps_on']['steps_per_second']:,.0f} steps/s with swaps"
            + (" and caps" if "caps_off" in t else "")
            + f" ({t['swaps_on']['swap_tx']:,} swap and {t['swaps_on'].get('caps_tx', 0):,} caps tx of "
            f"{t['swaps_on']['tx_count']:,}){caps_t}, {t['bookkeeping_only']['steps_per_second']:,.0f} with the groups "
            f"followed and nothing traded, {t['swaps_off']['steps_per_second']:,.0f} without (x{t['slowdown']:.2f}; "
            f"best of {t['repeats']}, load {t['load_average'][0]})."
        )
    return "\n".join(lines)


SWAP_GAS_ROWS = [
    ("open", "swap open (new)"),
    ("increase", "swap increase"),
    ("settle", "settle on touch (anyone)"),
    ("settle_1000_holders", "settle, 1,000 other holders"),
    ("close", "early close"),
    ("liquidate", "swap liquidation"),
    ("settle_at_maturity", "settle at maturity"),
    ("perp_open_with_swap", "perp open, account holding a swap"),
    ("perp_close_with_swap", "perp close, account holding a swap"),
    ("withdraw_with_swap", "withdraw, account holding a swap"),
]
CAPS_GAS_ROWS = [
    ("buy_1_caplets", "cap purchase, 1 caplet"),
    ("buy_6_caplets", "cap purchase, 6-caplet strip"),
    ("buy_32_caplets", "cap purchase, 32-caplet strip"),
    ("fix_caplet", "fix a caplet boundary (anyone)"),
    ("claim", "claim a settled caplet"),
    ("claim_1000_buyers", "claim, 1,000 other buyers"),
    ("vault_deposit", "writer vault deposit"),
    ("vault_withdraw", "writer vault withdraw"),
]


def instruments_gas_table() -> str:
    """Swaps (reports/swap_gas.json) and caps (reports/caps_gas.json), and what swap-aware
    margin adds to a perp trade of an account without swaps."""
    swaps, caps = _load("swap_gas.json"), _load("caps_gas.json")
    if swaps is None or caps is None:
        return "(run `vyperp swap-gas` and `vyperp caps-gas`)"
    lines = [
        f"`vyperp swap-gas` and `vyperp caps-gas`; every touch pokes the engine (a poke alone: "
        f"{caps['engine_poke']:,}, the packed engine with the funding-rate index; the perp table "
        "below sets the packed engine before FundingSwaps' hook and the rate index beside it).",
        "",
        "| operation | gas |",
        "| --- | ---: |",
    ]
    lines += [f"| {label} | {swaps[key]:,} |" for key, label in SWAP_GAS_ROWS if key in swaps]
    lines += [f"| {label} | {caps[key]:,} |" for key, label in CAPS_GAS_ROWS if key in caps]
    lines += [
        "",
        f"| perp operation, account without swaps | packed engine before the swap hook and rate index ({swaps.get('perp_before_ref', '?')}) | now: with both, and the later packing | difference (goal: hooks <= +5 %) |",
        "| --- | ---: | ---: | ---: |",
    ]
    for op, row in swaps["perp_no_swaps"].items():
        lines.append(f"| {op} | {row['before']:,} | {row['after']:,} | {row['extra_pct']:+.2f} % |")
    return "\n".join(lines)


TABLES: dict[str, Callable[[], str]] = {
    "mitigations-study": mitigations_study_table,
    "sweep-bench": sweep_bench_table,
    "gas": gas_table,
    "mitigations": mitigations_table,
    "speed": speed_table,
    "mutation": mutation_table,
    "bench": bench_table,
    "attacks": attacks_table,
    "safety-gas": safety_gas_table,
    "adl": adl_table,
    "windows": windows_table,
    "attribution": attribution_table,
    "funding-flip": funding_flip_table,
    "instruments-gas": instruments_gas_table,
}


def _failed(report: dict[str, Any] | None, checks: dict[str, Callable[[dict[str, Any]], bool]]) -> list[str]:
    if report is None:
        return []
    out = []
    for what, bad in checks.items():
        try:
            if bad(report):
                out.append(what)
        except (KeyError, TypeError):
            continue  # an older report without the field: nothing to judge
    return out


FAILED_RUN: dict[str, dict[str, Callable[[dict[str, Any]], bool]]] = {
    "fuzz.json": {
        "interrupted": lambda r: bool(r["interrupted"]),
        "invariant violations": lambda r: r["invariant_violations"] > 0,
        "ci runs that did not repeat": lambda r: r["profile"] == "ci" and not r["reproducibility"]["identical"],
    },
    "mutation.json": {
        "interrupted": lambda r: bool(r.get("interrupted")),
        "not every mutant checked": lambda r: r.get("checked", r["total"]) != r["total"],
        "a suite that did not collect": lambda r: any(m.get("collect_error") for m in r["mutants"]),
    },
    "bench.json": {
        "anvil invariant violations": lambda r: bool(r["anvil_invariant_violations"]),
        "anvil books differ from the embedded chain's": lambda r: r["anvil_books_match_embedded"] is False,
        "fuzz invariant violations": lambda r: r["fuzz"]["invariant_violations"] > 0,
    },
    "sweep_bench.json": {
        "failed replays": lambda r: (
            any(run["failed"] for run in r["runs"].values()) or bool(r.get("full", {}).get("failed"))
        ),
    },
    "attribution_windows.json": {
        "invariant violations": lambda r: any(
            a["invariant_violations"] for runs in r["windows"].values() for a in runs.values()
        )
    },
    "funding_flip.json": {"invariant violations": lambda r: r["invariant_violations"] > 0},
    "real_windows.json": {
        "invariant violations": lambda r: any(w["invariant_violations"] for w in r["windows"].values())
    },
}
"""Per report: what makes it the output of a failed run (published by no table)."""


def failed_runs() -> list[str]:
    """The committed reports that come from a failed run, with why."""
    out = []
    for name, checks in FAILED_RUN.items():
        reasons = _failed(_load(name), checks)
        if reasons:
            out.append(f"reports/{name}: {', '.join(reasons)}")
    return out


def write(readme: Path) -> list[str]:
    text = readme.read_text()
    done = []
    for name, build in TABLES.items():
        pattern = re.compile(rf"(<!-- {name} -->\n)(.*?)(<!-- /{name} -->)", re.S)
        if pattern.search(text):
            text = pattern.sub(lambda m: m.group(1) + build() + "\n" + m.group(3), text)
            done.append(name)
    readme.write_text(text)
    return done


@click.command("readme-tables")
@click.option(
    "--write",
    "readme",
    type=click.Path(path_type=Path, exists=True),
    default=None,
    help="Rewrite the marked tables in this file (e.g. README.md) instead of printing them.",
)
def readme_tables(readme: Path | None) -> None:
    """Markdown tables (gas, speed, mitigations, mutation) from the committed reports/*.json.

    Refuses (exit status 1, nothing written) while any report comes from a failed run: an
    interrupted fuzz or mutation run, invariant violations, failed replays."""
    failed = failed_runs()
    if failed:
        raise click.ClickException(
            "not publishing figures from a failed run; re-run the command that writes:\n  " + "\n  ".join(failed)
        )
    if readme is None:
        for name, build in TABLES.items():
            click.echo(f"<!-- {name} -->\n{build()}\n<!-- /{name} -->\n")
        return
    console.print(f"updated {', '.join(write(readme))} in {readme}")


COMMANDS = [readme_tables]
