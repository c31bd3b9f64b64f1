"""A/B replays of one scenario: two parameter sets (``--compare A B``) and mitigations off
vs on (``vyperp mitigations``). Both runs replay the same path with the same seed, so the
agents (collateral, leverage, sides, timing) are identical; only the protocol differs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from oracles.scenario import Scenario, load_scenario

from .report import mitigation_summary, write_json
from .runner import replay_and_report


def run_compare(scenario: Scenario | str | Path, a: str, b: str, traders: int | None = None,
                out_dir: str | Path | None = None, progress: bool | Callable[[int, int], None] = True,
                **kwargs: Any) -> dict[str, Any]:
    """Replay with parameter sets `a` and `b`; writes out/A, out/B and out/compare.json."""
    scenario = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    for name in (a, b):
        if name not in scenario.param_sets:
            known = ", ".join(scenario.param_sets) or "none"
            raise ValueError(f"scenario {scenario.name!r} has no parameter set {name!r} (defined: {known})")
    reports: dict[str, dict[str, Any]] = {}
    for name in (a, b):
        sub = Path(out_dir) / name if out_dir is not None else None
        reports[name] = replay_and_report(scenario, traders, name, sub, progress, **kwargs)[1]
    result = {
        "scenario": scenario.name,
        "seed": reports[a]["seed"],
        "a": a,
        "b": b,
        "param_sets": {a: scenario.param_sets[a], b: scenario.param_sets[b]},
        "reports": reports,
        "difference_b_minus_a": {
            key: reports[b][key] - reports[a][key]
            for key in ("liquidated_notional", "largest_liquidation_notional", "bad_debt", "insurance_fund_drawdown",
                        "pool_drawdown", "adl_events", "max_abs_funding_rate", "max_mark_index_gap")
        },
    }
    if out_dir is not None:
        write_json(Path(out_dir) / "compare.json", result)
    return result


def run_mitigations(scenario: Scenario | str | Path = "crash-30pct", traders: int | None = None,
                    out: str | Path | None = None, progress: bool | Callable[[int, int], None] = True,
                    **kwargs: Any) -> dict[str, Any]:
    """Replay `scenario` with mitigations off and on; returns (and writes to `out`)
    ``{"scenario", "seed", "off": {...}, "on": {...}}`` with liquidated notional by tier,
    the largest liquidation, bad debt, insurance-fund and pool drawdown of each run."""
    scenario = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    runs = {}
    for setting in ("off", "on"):
        report = replay_and_report(scenario, traders, None, None, progress, mitigations=setting, **kwargs)[1]
        runs[setting] = mitigation_summary(report)
        runs[setting]["parameters"] = report["parameters"]
    result = {"scenario": scenario.name, "seed": scenario.seed if kwargs.get("seed") is None else kwargs["seed"],
              "traders": runs["off"]["traders"], "steps": runs["off"]["steps"],
              "off": runs["off"], "on": runs["on"],
              "units": "USD; drawdowns are falls from the running peak (pool: value net of LP deposits/withdrawals)"}
    if out is not None:
        write_json(Path(out), result)
    return result


__all__ = ["run_compare", "run_mitigations"]
