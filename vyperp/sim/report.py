"""Replay outputs: report.json, timeseries.csv, cascade.png, and the terminal tables.

report.json (money in USD, funding per 8 h as a fraction) holds at least: scenario,
seed, traders, steps, tx_count, wall_seconds, tx_per_second, liquidations_by_tier
(``tier_N``: count, notional_usd, close_fraction; without tiers every liquidation is
``tier_0``, a full close), largest_liquidation_notional, bad_debt (realized through the
waterfall), insurance_fund_start/min/end, pool_assets_start/min/end (the pool's value:
balance minus traders' unrealized PnL plus funding owed), adl_events,
max_abs_funding_rate, max_mark_index_gap (max |mark / index - 1|), invariant_checks,
invariant_violations (and first_violation), plus the parameters used, the agents'
statistics, transaction counts by kind and reverted transactions by reason.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.table import Table

from .clock import hhmm

if TYPE_CHECKING:  # pragma: no cover
    from .runner import Replay


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        if math.isinf(value) or math.isnan(value):
            return str(value)
        return round(value, 6)
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item"):  # numpy scalars
        return _clean(value.item())
    return value


def write_json(path: Path, data: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_clean(data), indent=2) + "\n")
    return path


def write_timeseries(replay: Replay, path: Path) -> Path:
    columns = replay.metrics.columns(replay.symbols)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        for row in replay.metrics.rows:
            writer.writerow([_cell(row.get(c, "")) for c in columns])
    return path


def _cell(v: Any) -> Any:
    if isinstance(v, float):
        return repr(round(v, 10))
    return v


def write_outputs(replay: Replay, report: dict[str, Any], out_dir: Path) -> dict[str, Path]:
    """report.json, timeseries.csv and cascade.png in `out_dir` (and contagion.png for
    a multi-market replay, funding_flip.png for one with funding swaps)."""
    from .chart import plot_cascade

    out_dir.mkdir(parents=True, exist_ok=True)
    files = {
        "report": write_json(out_dir / "report.json", report),
        "timeseries": write_timeseries(replay, out_dir / "timeseries.csv"),
        "chart": plot_cascade(replay, report, out_dir / "cascade.png"),
    }
    if "contagion" in report:  # multi-market replays only
        from .contagion_chart import plot_contagion

        files["contagion_chart"] = plot_contagion(replay, report, out_dir / "contagion.png")
    if report.get("funding_swaps", {}).get("spec", {}).get("hedge"):  # [population.funding_swaps] trading swaps
        from .funding_flip_chart import plot_funding_flip

        files["funding_flip_chart"] = plot_funding_flip(replay, report, out_dir / "funding_flip.png")
    return files


def _usd(x: float) -> str:
    return f"${x:,.0f}"


SUMMARY_ROWS: list[tuple[str, str, Any]] = [
    ("steps", "steps", str),
    ("transactions", "tx_count", lambda v: f"{v:,}"),
    ("tx / s (replay loop)", "tx_per_second", lambda v: f"{v:,.0f}"),
    ("wall time", "wall_seconds", lambda v: f"{v:.1f} s"),
    ("liquidations", "liquidations", lambda v: f"{v:,}"),
    ("liquidated notional", "liquidated_notional", _usd),
    ("largest liquidation", "largest_liquidation_notional", _usd),
    ("bad debt", "bad_debt", _usd),
    ("insurance fund start -> end", None, None),
    ("insurance fund min", "insurance_fund_min", _usd),
    ("pool assets start -> end", None, None),
    ("pool assets min", "pool_assets_min", _usd),
    ("pool drawdown", "pool_drawdown", _usd),
    ("ADL events", "adl_events", str),
    ("max |funding| per 8 h", "max_abs_funding_rate", lambda v: f"{100 * v:.3f} %"),
    ("max |mark/index - 1|", "max_mark_index_gap", lambda v: f"{100 * v:.3f} %"),
    ("invariant checks", "invariant_checks", lambda v: f"{v:,}"),
    ("invariant violations", "invariant_violations", str),
]


def _value(report: dict[str, Any], label: str, key: str | None, fmt: Any) -> str:
    if key is None:
        if label.startswith("insurance"):
            return f"{_usd(report['insurance_fund_start'])} -> {_usd(report['insurance_fund_end'])}"
        return f"{_usd(report['pool_assets_start'])} -> {_usd(report['pool_assets_end'])}"
    return fmt(report[key])


def summary_table(report: dict[str, Any]) -> Table:
    title = f"{report['scenario']} (seed {report['seed']}, {report['traders']} traders, mitigations {report['mitigations']})"
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for label, key, fmt in SUMMARY_ROWS:
        table.add_row(label, _value(report, label, key, fmt))
    for tier, v in report["liquidations_by_tier"].items():
        table.add_row(f"  {tier}", f"{v['count']:,} / {_usd(v['notional_usd'])}")
    return table


def compare_table(reports: dict[str, dict[str, Any]]) -> Table:
    names = list(reports)
    first = reports[names[0]]
    table = Table(
        title=f"{first['scenario']}: " + " vs ".join(f"{n} (mitigations {reports[n]['mitigations']})" for n in names)
    )
    table.add_column("metric")
    for n in names:
        table.add_column(n, justify="right")
    for label, key, fmt in SUMMARY_ROWS:
        table.add_row(label, *[_value(reports[n], label, key, fmt) for n in names])
    tiers = sorted({t for n in names for t in reports[n]["liquidations_by_tier"]})
    for tier in tiers:
        cells = []
        for n in names:
            v = reports[n]["liquidations_by_tier"].get(tier)
            cells.append(f"{v['count']:,} / {_usd(v['notional_usd'])}" if v else "-")
        table.add_row(f"  {tier}", *cells)
    return table


MITIGATION_KEYS = (
    "liquidated_notional_by_tier",
    "largest_liquidation_notional",
    "bad_debt",
    "insurance_fund_drawdown",
    "pool_drawdown",
)


def mitigation_summary(report: dict[str, Any]) -> dict[str, Any]:
    """The keys of reports/mitigations.json for one run."""
    return {
        "liquidated_notional_by_tier": {k: v["notional_usd"] for k, v in report["liquidations_by_tier"].items()},
        "liquidations_by_tier": {k: v["count"] for k, v in report["liquidations_by_tier"].items()},
        "liquidated_notional": report["liquidated_notional"],
        "largest_liquidation_notional": report["largest_liquidation_notional"],
        "bad_debt": report["bad_debt"],
        "insurance_fund_drawdown": report["insurance_fund_drawdown"],
        "pool_drawdown": report["pool_drawdown"],
        "adl_events": report["adl_events"],
        "max_abs_funding_rate": report["max_abs_funding_rate"],
        "invariant_checks": report["invariant_checks"],
        "invariant_violations": report["invariant_violations"],
        "steps": report["steps"],
        "traders": report["traders"],
    }


def mitigations_table(result: dict[str, Any]) -> Table:
    off, on = result["off"], result["on"]
    table = Table(title=f"{result['scenario']} (seed {result['seed']}): mitigations off vs on")
    table.add_column("metric")
    table.add_column("off", justify="right")
    table.add_column("on", justify="right")
    table.add_column("on - off", justify="right")
    for key in (
        "liquidated_notional",
        "largest_liquidation_notional",
        "bad_debt",
        "insurance_fund_drawdown",
        "pool_drawdown",
    ):
        table.add_row(key.replace("_", " "), _usd(off[key]), _usd(on[key]), f"{on[key] - off[key]:+,.0f}")
    tiers = sorted(set(off["liquidated_notional_by_tier"]) | set(on["liquidated_notional_by_tier"]))
    for tier in tiers:
        a = off["liquidated_notional_by_tier"].get(tier, 0.0)
        b = on["liquidated_notional_by_tier"].get(tier, 0.0)
        table.add_row(f"  liquidated {tier}", _usd(a), _usd(b), f"{b - a:+,.0f}")
    table.add_row(
        "ADL events", str(off["adl_events"]), str(on["adl_events"]), f"{on['adl_events'] - off['adl_events']:+d}"
    )
    table.add_row("invariant violations", str(off["invariant_violations"]), str(on["invariant_violations"]), "")
    return table


__all__ = [
    "MITIGATION_KEYS",
    "compare_table",
    "mitigation_summary",
    "mitigations_table",
    "summary_table",
    "write_json",
    "write_outputs",
    "write_timeseries",
]


def attribution_table(res: dict[str, Any]) -> Table:
    """Impact off vs on, and what the feedback caused (``vyperp replay --attribution``)."""
    imp = res["impact"]
    table = Table(
        title=f"{res['scenario']}: spot-impact feedback off vs on (depth {_usd(imp['depth_usd'])} per 1 %, "
        f"{res['depth_source']})"
    )
    for column in ("", "impact off", "impact on", "added by the feedback"):
        table.add_column(column, justify="left" if not column else "right")
    for key, label in (
        ("liquidations", "liquidations"),
        ("liquidated_notional", "liquidated notional"),
        ("bad_debt", "bad debt"),
        ("pool_drawdown", "pool drawdown"),
    ):
        v = res[key]
        fmt = (lambda x: f"{x:,.0f}") if key == "liquidations" else _usd
        table.add_row(label, fmt(v["off"]), fmt(v["on"]), fmt(v["added"]))
    c, p = res["caused"], res["prevented"]
    table.add_row("caused (no counterpart)", "", f"{c['count']:,} / {_usd(c['notional'])}", "")
    table.add_row("prevented", f"{p['count']:,} / {_usd(p['notional'])}", "", "")
    d = res["price_dislocation"]
    table.add_row("max price dislocation", "", f"{100 * d['max']:.4f} % ({hhmm(d['max_at'])})", "")
    table.add_row("at the worst minute", "", f"{100 * d['at_worst_minute']:.4f} % ({hhmm(d['worst_minute'])})", "")
    return table
