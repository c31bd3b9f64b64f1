"""contagion.png: the cross-market picture of a multi-market replay (matplotlib, Agg).

Three panels on one UTC time axis: each market's index relative to its first value; the
liquidated notional per step and market, own-market and cross-market stacked; the
cumulative cross-market notional per direction (``"BTC->ETH"``: a BTC loss liquidated an
ETH leg). A dashed line marks the first cross-market liquidation.

Failure modes: a replay without a ``contagion`` section (single market) raises
``ValueError``; matplotlib errors writing the file propagate.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402

if TYPE_CHECKING:  # pragma: no cover
    from .runner import Replay


def plot_contagion(replay: Replay, report: dict[str, Any], path: Path) -> Path:
    """Write the figure to `path` and return it."""
    contagion = getattr(replay, "contagion", None)
    if contagion is None or "contagion" not in report:
        raise ValueError("plot_contagion needs a multi-market replay (its report has no 'contagion' section)")
    rows = replay.metrics.rows
    syms = replay.symbols
    times = [dt.datetime.fromtimestamp(r["timestamp"], tz=dt.UTC) for r in rows]
    n = len(rows)
    colors = {s: c for s, c in zip(syms, ("tab:orange", "tab:blue", "tab:green", "tab:purple"))}
    fig, axes = plt.subplots(3, 1, figsize=(11, 9), sharex=True, height_ratios=[2, 2, 1.4])
    ax = axes[0]
    for k, s in enumerate(syms):
        key = "index" if k == 0 else f"{s}_index"
        start = rows[0][key]
        ax.plot(times, [100 * (r[key] / start - 1) for r in rows], color=colors[s], label=f"{s} index")
    ax.set_ylabel("index vs start (%)")
    ax.legend(loc="lower left", fontsize=8)
    impact = "impact on" if report["contagion"]["impact_enabled"] else "impact off"
    ax.set_title(f"{report['scenario']} [{report['mitigations']}, {impact}]: cross-market contagion")

    ax = axes[1]
    width = (times[1] - times[0]) * 0.9 if n > 1 else dt.timedelta(minutes=1)
    bottom = [0.0] * n
    for s in syms:
        for kind, alpha, hatch in (("own_market", 0.9, None), ("cross_market", 0.45, "//")):
            values = [0.0] * n
            for rec in contagion.records:
                if rec["market"] == s and (
                    rec["class"] == kind or (kind == "own_market" and rec["class"] == "stacked")
                ):
                    values[rec["step"]] += rec["notional"] / 1e6
            if any(values):
                ax.bar(times, values, width, bottom=bottom, color=colors[s], alpha=alpha, hatch=hatch,
                       label=f"{s} {kind.replace('_', '-')}")  # fmt: skip
                bottom = [b + v for b, v in zip(bottom, values)]
    ax.set_ylabel("liquidated (M USD / step)")
    corr = report["contagion"]["liquidated_notional_correlation"]
    ax.text(0.01, 0.92, f"corr(BTC, ETH liquidated notional per step) = {corr:.2f}" if corr is not None else "",
            transform=ax.transAxes, fontsize=8)  # fmt: skip
    ax.legend(loc="upper right", fontsize=8)

    ax = axes[2]
    for direction in report["contagion"]["cross_market_by_direction"]:
        dst = direction.split("->")[-1]
        total, series = 0.0, []
        for step in range(n):
            total += sum(
                r["notional"]
                for r in contagion.records
                if r["step"] == step and r["class"] == "cross_market" and r["market"] == dst
            )
            series.append(total / 1e6)
        ax.step(times, series, where="post", color=colors.get(dst, "k"), label=direction)
    ax.set_ylabel("cross-market\ncumulative (M USD)")
    ax.legend(loc="upper left", fontsize=8)
    first = report["contagion"]["first_cross_market"]
    if first is not None:
        for a in axes:
            a.axvline(times[first["step"]], color="k", ls="--", lw=0.8)
    axes[-1].xaxis.set_major_formatter(mdates.DateFormatter("%H:%M", tz=dt.UTC))
    axes[-1].set_xlabel("UTC")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


__all__ = ["plot_contagion"]
