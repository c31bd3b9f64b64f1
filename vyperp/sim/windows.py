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

from .clock import iso_utc

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
        replay, report = replay_and_report(name, traders, None, None, False)
        if "liquidations" not in report:
            report["liquidations"] = sum(v["count"] for v in report.get("liquidations_by_tier", {}).values())
        out[name] = {key: report[key] for key in KEYS if key in report}
        out[name]["fidelity"] = fidelity_figures(replay, report)
    return out


def fidelity_figures(replay: Any, report: dict[str, Any]) -> dict[str, Any]:
    """What docs/fidelity.md sets beside the published facts, from a replay's rows (market 0):

    * open interest in coins, long + short (the venue's LP pool is the counterparty, so
      both sides count): at the start, its peak, its lowest after the peak, and the share
      flushed = 1 - lowest after the peak / peak;
    * the first liquidation and the first ADL (timestamps of the steps they happened in)
      and the seconds between them;
    * funding: the market's cap (per 8 h), the largest |rate|, the share of steps at the
      cap (|rate| within 1e-9 of it) and the first step there, with its sign;
    * bad debt as a share of liquidated notional.
    """
    rows = replay.metrics.rows
    oi = [r["long_oi"] + r["short_oi"] for r in rows]
    peak_at = max(range(len(oi)), key=oi.__getitem__) if oi else 0
    peak = oi[peak_at] if oi else 0.0
    low_after = min(oi[peak_at:]) if oi else 0.0
    first_liq = next((r["timestamp"] for r in rows if r["liquidations"]), None)
    first_adl = next((r["timestamp"] for r in rows if r["adl_events"]), None)
    cap = float(replay.params.protocol.markets[0].max_funding_rate)
    at_cap = [r for r in rows if abs(abs(r["funding_rate_8h"]) - cap) <= 1e-9]
    liquidated = report["liquidated_notional"]
    return {
        "oi_coins_start": oi[0] if oi else 0.0,
        "oi_coins_peak": peak,
        "oi_coins_peak_utc": iso_utc(rows[peak_at]["timestamp"]) if rows else None,
        "oi_coins_lowest_after_peak": low_after,
        "oi_coins_end": oi[-1] if oi else 0.0,
        "oi_flushed_share": 1 - low_after / peak if peak > 0 else 0.0,
        "first_liquidation_utc": iso_utc(first_liq) if first_liq is not None else None,
        "first_adl_utc": iso_utc(first_adl) if first_adl is not None else None,
        "first_liquidation_to_adl_seconds": first_adl - first_liq if first_liq and first_adl else None,
        "funding_cap_8h": cap,
        "max_abs_funding_rate_8h": max((abs(r["funding_rate_8h"]) for r in rows), default=0.0),
        "steps_at_funding_cap_share": len(at_cap) / len(rows) if rows else 0.0,
        "first_at_funding_cap_utc": iso_utc(at_cap[0]["timestamp"]) if at_cap else None,
        "first_at_funding_cap_sign": (1 if at_cap[0]["funding_rate_8h"] > 0 else -1) if at_cap else None,
        "bad_debt_share_of_liquidated": report["bad_debt"] / liquidated if liquidated else 0.0,
    }


def write_windows(out: Path, result: dict[str, Any], command: str) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"command": command, "windows": result}, indent=2) + "\n")


__all__ = ["KEYS", "REAL_WINDOWS", "fidelity_figures", "run_windows", "write_windows"]
