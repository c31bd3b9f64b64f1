"""A/B replays of one scenario: two parameter sets (``--compare A B``) and mitigations off
vs on (``vyperp mitigations``). Both runs replay the same path with the same seed, so the
agents (collateral, leverage, sides, timing) are identical; only the protocol differs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from vyperp.sim.scenario import Scenario, load_scenario

from .report import mitigation_summary, write_json
from .runner import replay_and_report


def run_compare(
    scenario: Scenario | str | Path,
    a: str,
    b: str,
    traders: int | None = None,
    out_dir: str | Path | None = None,
    progress: bool | Callable[[int, int], None] = True,
    **kwargs: Any,
) -> dict[str, Any]:
    """Replay with parameter sets `a` and `b`; writes out/A, out/B, out/compare.json and the
    A/B overlay chart out/compare.png."""
    scenario = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    for name in (a, b):
        if name not in scenario.param_sets:
            known = ", ".join(scenario.param_sets) or "none"
            raise ValueError(f"scenario {scenario.name!r} has no parameter set {name!r} (defined: {known})")
    reports: dict[str, dict[str, Any]] = {}
    replays = {}
    for name in (a, b):
        sub = Path(out_dir) / name if out_dir is not None else None
        replays[name], reports[name] = replay_and_report(scenario, traders, name, sub, progress, **kwargs)
    result = {
        "scenario": scenario.name,
        "seed": reports[a]["seed"],
        "a": a,
        "b": b,
        "param_sets": {a: scenario.param_sets[a], b: scenario.param_sets[b]},
        "reports": reports,
        "difference_b_minus_a": {
            key: reports[b][key] - reports[a][key]
            for key in (
                "liquidated_notional",
                "largest_liquidation_notional",
                "bad_debt",
                "insurance_fund_drawdown",
                "pool_drawdown",
                "adl_events",
                "max_abs_funding_rate",
                "max_mark_index_gap",
            )
        },
    }
    if out_dir is not None:
        from .chart import plot_compare

        write_json(Path(out_dir) / "compare.json", result)
        plot_compare(replays, reports, Path(out_dir) / "compare.png")
    return result


def run_mitigations(
    scenario: Scenario | str | Path = "crash-30pct",
    traders: int | None = None,
    out: str | Path | None = None,
    progress: bool | Callable[[int, int], None] = True,
    **kwargs: Any,
) -> dict[str, Any]:
    """Replay `scenario` with mitigations off and on; returns (and writes to `out`)
    ``{"scenario", "seed", "off": {...}, "on": {...}}`` with liquidated notional by tier,
    the largest liquidation, bad debt, insurance-fund and pool drawdown of each run."""
    scenario = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    runs = {}
    for setting in ("off", "on"):
        report = replay_and_report(scenario, traders, None, None, progress, mitigations=setting, **kwargs)[1]
        runs[setting] = mitigation_summary(report)
        runs[setting]["parameters"] = report["parameters"]
    result = {
        "scenario": scenario.name,
        "seed": scenario.seed if kwargs.get("seed") is None else kwargs["seed"],
        "traders": runs["off"]["traders"],
        "steps": runs["off"]["steps"],
        "off": runs["off"],
        "on": runs["on"],
        "units": "USD; drawdowns are falls from the running peak (pool: value net of LP deposits/withdrawals)",
    }
    if out is not None:
        write_json(Path(out), result)
    return result


ADL_STUDY = {
    "scenario": "canonical-squeeze",
    "traders": 80,
    "steps": 240,
    "params": {"insurance_fee_share": 0.0, "penalty_rate": 0.0, "max_pnl_pool_ratio": 0.0, "adl_pnl_pool_ratio": 0.0},
    "agents": {
        "lp_capital_per_trader_usd": 1_000.0,
        "insurance_per_trader_usd": 0.0,
        "lp_drawdown_threshold": (0.9, 0.95),
    },
}
"""A squeeze that leaves the pool in deficit: no insurance, a thin pool, and the PnL-to-pool
bounds off (with them on, ADL opens on the PnL trigger before any deficit and no deficit
is left for the policies to differ on)."""


def run_adl_policies(
    out: str | Path | None = None,
    progress: bool | Callable[[int, int], None] = False,
    study: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Replay the same deficit path with each ADL policy (the ranked queue, pro rata) and
    report, per policy, the minimal haircut (what the deficits required), what the
    deleveraged traders lost (haircuts plus, for closed positions, the distance between
    the mark and the exit price), the overshoot, and the cascade's other numbers."""
    import tomllib

    from vyperp.sim.scenario import SCENARIO_DIR, parse_scenario

    from .agents import ADL_POLICIES, AgentConfig

    study = study or ADL_STUDY
    doc = tomllib.loads((SCENARIO_DIR / f"{study['scenario']}.toml").read_text())
    for market in doc["markets"]:
        market.setdefault("params", {}).update(study["params"])
    runs = {}
    for policy in ADL_POLICIES:
        config = AgentConfig(adl_policy=policy, **study["agents"])
        report = replay_and_report(
            parse_scenario(doc),
            study["traders"],
            None,
            None,
            progress,
            steps=study["steps"],
            agent_config=config,
            full_scan_every=1,
        )[1]
        runs[policy] = {
            key: report[key]
            for key in (
                "adl_minimal_haircut",
                "adl_trader_loss",
                "adl_overshoot",
                "adl_events",
                "adl_haircut",
                "adl_notional",
                "adl_pending_steps",
                "bad_debt",
                "liquidated_notional",
                "pool_drawdown",
                "invariant_violations",
            )
        }
    result = {
        "scenario": study["scenario"],
        "traders": study["traders"],
        "steps": study["steps"],
        "overrides": study["params"],
        "agents": {k: list(v) if isinstance(v, tuple) else v for k, v in study["agents"].items()},
        "policies": runs,
        "units": "USD; overshoot = what the deleveraged traders lost - the minimal haircut",
    }
    if out is not None:
        write_json(Path(out), result)
    return result


__all__ = ["ADL_STUDY", "run_adl_policies", "run_compare", "run_mitigations"]
