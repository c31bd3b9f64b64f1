"""Cascade attribution: what the protocol's own forced flow adds to a cascade.

The same path and seed are replayed twice, with the spot-impact feedback off (the oracle
gets the recorded path exactly) and on (each step's forced flow -- liquidations, basis
hedges, ADL -- moves the next price, :mod:`vyperp.sim.spot`). For the real BTC windows the
impact depth is the order-book calibration of :mod:`vyperp.sim.depth` (the scenario's
half-life and permanent share are kept); other scenarios keep their own depth.

The amplification (:func:`attribute`): liquidated notional, liquidation count and bad debt
on / off, the price dislocation ``|index_on - index_off| / index_off`` (its maximum and its
value at the worst minute, the step of the recorded path's lowest price), and the
liquidations the feedback *caused*: every impact-on liquidation is matched one-to-one to
an impact-off liquidation of the same account and market at most ``tolerance_steps``
steps away (nearest step first, the earlier on a tie; a tier step that closes part of a
position is one event, so an account liquidated in two tier steps needs two
counterparts). Unmatched impact-on liquidations are *caused* by the feedback; unmatched
impact-off ones are *prevented* (the feedback moved the account's path elsewhere).

Failure modes: ``ValueError`` when the two replays do not share their accounts (the
attribution needs the same agents) or their clock.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .clock import iso_utc
from .scenario import Scenario, load_scenario

DEFAULT_TOLERANCE_STEPS = 10
"""Steps within which a liquidation of the same account and market counts as the same
event moved in time (the shipped windows' impact half-life is 10 steps)."""


@dataclass(frozen=True)
class Match:
    """The one-to-one matching of the impact-on liquidations to the impact-off ones."""

    caused: list[dict[str, Any]]
    prevented: list[dict[str, Any]]
    pairs: list[tuple[dict[str, Any], dict[str, Any]]]


def match_liquidations(
    on: list[dict[str, Any]], off: list[dict[str, Any]], tolerance_steps: int = DEFAULT_TOLERANCE_STEPS
) -> Match:
    """Match `on` to `off` by (account, market) and step within `tolerance_steps`
    (nearest first, earlier on a tie, each off-event used once), in `on`'s step order."""
    if tolerance_steps < 0:
        raise ValueError(f"tolerance_steps must be >= 0, got {tolerance_steps}")
    pool: dict[tuple[str, int], list[int]] = {}
    for k, x in enumerate(off):
        pool.setdefault((x["account"], x["market"]), []).append(k)
    used: set[int] = set()
    caused, pairs = [], []
    for x in sorted(on, key=lambda e: e["step"]):
        best = None
        for k in pool.get((x["account"], x["market"]), []):
            if k in used:
                continue
            gap = abs(off[k]["step"] - x["step"])
            if gap <= tolerance_steps and (best is None or (gap, off[k]["step"]) < best[0]):
                best = ((gap, off[k]["step"]), k)
        if best is None:
            caused.append(x)
        else:
            used.add(best[1])
            pairs.append((x, off[best[1]]))
    prevented = [x for k, x in enumerate(off) if k not in used]
    return Match(caused, prevented, pairs)


def _summary(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "count": len(events),
        "notional": round(sum(x["notional"] for x in events), 2),
        "long": sum(1 for x in events if x["side"] == "long"),
        "short": sum(1 for x in events if x["side"] == "short"),
    }


def attribute(
    off: Any,
    off_report: dict[str, Any],
    on: Any,
    on_report: dict[str, Any],
    tolerance_steps: int = DEFAULT_TOLERANCE_STEPS,
) -> dict[str, Any]:
    """The amplification of replay `on` (impact on) over replay `off` (same path and seed,
    impact off); the value of the ``attribution`` key of attribution.json."""
    if list(off.book.addresses) != list(on.book.addresses):
        raise ValueError("the two replays have different accounts: the attribution needs the same agents")
    rows_off, rows_on = off.metrics.rows, on.metrics.rows
    if [r["timestamp"] for r in rows_off] != [r["timestamp"] for r in rows_on]:
        raise ValueError("the two replays have different clocks")
    reference = [r["reference_price"] for r in rows_off]
    worst = min(range(len(reference)), key=lambda i: (reference[i], i))
    dislocation = [abs(a["index"] - b["index"]) / b["index"] for a, b in zip(rows_on, rows_off)]
    peak = max(range(len(dislocation)), key=lambda i: (dislocation[i], -i))
    m = match_liquidations(on.metrics.liquidations, off.metrics.liquidations, tolerance_steps)
    shifts = [a["step"] - b["step"] for a, b in m.pairs]

    def pair(key: str, digits: int = 2) -> dict[str, Any]:
        a, b = off_report[key], on_report[key]
        return {"off": round(a, digits), "on": round(b, digits), "added": round(b - a, digits)}

    return {
        "scenario": off_report["scenario"],
        "seed": off_report["seed"],
        "steps": off_report["steps"],
        "impact": asdict(on.scenario.impact),
        "liquidated_notional": pair("liquidated_notional"),
        "liquidations": pair("liquidations", 0),
        "bad_debt": pair("bad_debt"),
        "pool_drawdown": pair("pool_drawdown"),
        "largest_liquidation_notional": pair("largest_liquidation_notional"),
        "price_dislocation": {
            "definition": "|index with impact on - index with impact off| / index with impact off, per step; "
            "impact off = the recorded path",
            "max": round(dislocation[peak], 8),
            "max_at_step": peak,
            "max_at": iso_utc(rows_off[peak]["timestamp"]),
            "worst_minute_step": worst,
            "worst_minute": iso_utc(rows_off[worst]["timestamp"]),
            "at_worst_minute": round(dislocation[worst], 8),
            "recorded_low": reference[worst],
            "impacted_low": min(r["index"] for r in rows_on),
        },
        "matching": (
            f"each impact-on liquidation is paired with an unpaired impact-off liquidation of the same account "
            f"and market at most {tolerance_steps} steps away (nearest first, earlier on a tie); unpaired "
            "impact-on liquidations are caused by the feedback, unpaired impact-off ones prevented"
        ),
        "tolerance_steps": tolerance_steps,
        "caused": _summary(m.caused)
        | {
            "events": [
                {k: x[k] for k in ("step", "account", "market", "side", "notional", "price", "tier")} for x in m.caused
            ]
        },
        "prevented": _summary(m.prevented),
        "matched": _summary([a for a, _ in m.pairs])
        | {
            "earlier_with_impact": sum(1 for s in shifts if s < 0),
            "later_with_impact": sum(1 for s in shifts if s > 0),
            "same_step": sum(1 for s in shifts if s == 0),
        },
    }


def impact_overrides(scenario: Scenario, depth_usd: float | None = None) -> tuple[dict[str, Any], str]:
    """The overrides of the impact-on run and where its depth comes from: `depth_usd`
    if given, else the order-book calibration for a real BTC window, else the scenario's."""
    if depth_usd is not None:
        return {"impact_enabled": True, "impact_depth_usd": depth_usd}, "given"
    if scenario.path.source == "real" and scenario.symbols == ["BTC"]:
        from .depth import CALIBRATION_FILE, attribution_depth_usd

        return {"impact_enabled": True, "impact_depth_usd": attribution_depth_usd()}, f"data/depth/{CALIBRATION_FILE}"
    return {"impact_enabled": True}, "scenario"


def run_attribution(
    scenario: Scenario | str | Path,
    traders: int | None,
    out: Path | None,
    progress: bool | Callable[[int, int], None] = True,
    *,
    depth_usd: float | None = None,
    tolerance_steps: int = DEFAULT_TOLERANCE_STEPS,
    overrides: dict[str, Any] | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """Replay impact off then on; with `out`, write the impact-off replay's files to `out`
    (report.json, timeseries.csv as a plain replay with impact off writes them), the
    impact-on replay's to ``out/impact-on/``, ``out/attribution.json`` and the attribution
    chart ``out/cascade.png`` (the impact-on replay with the caused liquidations marked
    and the impact-off index). Returns ``{"attribution", "reports": {"off", "on"}}``."""
    from .report import write_json, write_outputs
    from .runner import Replay

    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    on_overrides, depth_source = impact_overrides(sc, depth_usd)
    base = dict(overrides or {})
    off = Replay(sc, traders, overrides=base | {"impact_enabled": False}, **kwargs)
    off_report = off.run(progress)
    on = Replay(sc, traders, overrides=base | on_overrides, **kwargs)
    on_report = on.run(progress)
    result = attribute(off, off_report, on, on_report, tolerance_steps)
    result["depth_source"] = depth_source
    if out is not None:
        from .chart import plot_cascade

        out.mkdir(parents=True, exist_ok=True)
        # the impact-off files exactly as a plain replay writes them, then the attribution chart over its PNG
        write_outputs(off, off_report, out)
        write_outputs(on, on_report, out / "impact-on")
        plot_cascade(on, on_report, out / "cascade.png", attribution={"off": off, "result": result})
        write_json(out / "attribution.json", {"attribution": result})
    return {"attribution": result, "reports": {"off": off_report, "on": on_report}, "replays": {"off": off, "on": on}}


def run_windows_attribution(
    windows: tuple[str, ...] | None = None, progress: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """Every real window's attribution at the calibrated depth and at the thinnest measured
    one (the ask side in the cascade's worst minutes); the summary without the per-event
    lists (``vyperp attribution-windows``)."""
    from .depth import load_calibration
    from .windows import REAL_WINDOWS

    cal = load_calibration()
    depths = {
        "calibrated": float(cal["impact_depth_usd"]),
        "thin": float(cal["depth_per_1pct_usd"]["worst_minutes"]["ask"]["median"]),
    }
    out: dict[str, Any] = {
        "command": "vyperp attribution-windows",
        "depths_usd_per_1pct": depths,
        "depth_sources": {
            "calibrated": f"{cal['chosen']} (data/depth, source sha256 {cal['source']['sha256'][:12]})",
            "thin": "worst_minutes ask median (the thinnest side measured in the cascade)",
        },
        "tolerance_steps": DEFAULT_TOLERANCE_STEPS,
        "windows": {},
    }
    for name in windows or REAL_WINDOWS:
        runs = {}
        for label, depth in depths.items():
            if progress is not None:
                progress(f"{name} ({label})")
            res = run_attribution(name, None, None, False, depth_usd=depth)
            a = dict(res["attribution"])
            a["caused"] = {k: v for k, v in a["caused"].items() if k != "events"}
            a["invariant_violations"] = sum(r["invariant_violations"] for r in res["reports"].values())
            runs[label] = a
        out["windows"][name] = runs
    return out


def load_attribution(path: Path) -> dict[str, Any]:
    """The ``attribution`` dict of an attribution.json."""
    return json.loads(path.read_text())["attribution"]


__all__ = [
    "DEFAULT_TOLERANCE_STEPS",
    "Match",
    "attribute",
    "impact_overrides",
    "match_liquidations",
    "run_attribution",
    "run_windows_attribution",
]
