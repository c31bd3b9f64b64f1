"""Every real-data window replayed with its scenario's defaults (seed, population, path),
summarised for reports/real_windows.json: what the safety work changes in a cascade.

Only :func:`vyperp.sim.runner.replay_and_report` is used, so the same function measured
the contracts before the safety work (``reports/real_windows_before_safety.json``, run at
commit f5b5e8f with that tree first on ``PYTHONPATH``; its ``command`` field says how).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

REAL_WINDOWS = (
    "btc-2020-03-12-leg1",
    "btc-2020-03-12-leg2",
    "btc-2021-05-19",
    "btc-2022-06-18",
    "btc-2022-11-08",
    "btc-2025-10-10",
    "btc-2025-10-09-coinm-day",
    "btc-2025-10-10-coinm-day",
)
KEYS = (
    "steps",
    "traders",
    "liquidations",
    "liquidated_notional",
    "largest_liquidation_notional",
    "bad_debt",
    "insurance_fund_drawdown",
    "pool_drawdown",
    "adl_events",
    "adl_haircut",
    "max_abs_funding_rate",
    "max_mark_index_gap",
    "invariant_violations",
    "tx_count",
)


def run_windows(
    names: tuple[str, ...] = REAL_WINDOWS, traders: int | None = None, progress: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """Replay each window; the summary keys of each report (those the version has)."""
    from .runner import replay_and_report

    out: dict[str, Any] = {}
    for name in names:
        if progress:
            progress(name)
        report = replay_and_report(name, traders, None, None, False)[1]
        if "liquidations" not in report:
            report["liquidations"] = sum(v["count"] for v in report.get("liquidations_by_tier", {}).values())
        out[name] = {key: report[key] for key in KEYS if key in report}
    return out


def write_windows(out: Path, result: dict[str, Any], command: str) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"command": command, "windows": result}, indent=2) + "\n")


__all__ = ["KEYS", "REAL_WINDOWS", "run_windows", "write_windows"]
