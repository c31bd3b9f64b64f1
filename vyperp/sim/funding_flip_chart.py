"""funding_flip.png: hedged vs unhedged basis traders through a funding flip (matplotlib, Agg).

Four panels on the step axis: the engine's funding rate (per 8 h) with the swap book's
mark rate and the index; the cumulative P&L of the swap-hedged, floor-protected (with
``[population.funding_caps]``) and unprotected basis traders (perp equity change + spot
leg + swap / floor), with the hedged group's traders in the run without swaps (the
counterfactual, dotted) when given; the survivors of each group (entered and never
liquidated) and how many hold a short; the LP pool's swap P&L and the cap-writer vault's
P&L. Reads the replay's ``swaps_*`` time-series columns; raises ``ValueError`` for a
replay without them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

NAMES = {"hedged": "swap-hedged", "floored": "floored", "unhedged": "unprotected"}

if TYPE_CHECKING:  # pragma: no cover
    from .runner import Replay


def plot_funding_flip(replay: Replay, report: dict[str, Any], path: Path, counterfactual: Replay | None = None) -> Path:
    """Write funding_flip.png for a replay with ``[population.funding_swaps]``; returns `path`."""
    rows = replay.metrics.rows
    if getattr(replay, "swaps", None) is None or not rows or "swaps_quote" not in rows[0]:
        raise ValueError("plot_funding_flip needs a replay with [population.funding_swaps]")
    prefix = "" if replay.swaps.m == 0 else f"{replay.swaps.symbol}_"
    steps = [r["step"] for r in rows]

    def col(name: str, rs: list[dict[str, Any]] = rows) -> list[float]:
        return [float(r[name]) for r in rs]

    section = report.get("funding_swaps", {})
    groups = section.get("groups", {})
    fig, axes = plt.subplots(4, 1, figsize=(11, 12), sharex=True)
    floors = "floored" in groups
    title = f"{report['scenario']} (seed {report['seed']}): basis traders hedged with funding swaps"
    title += " / floors" if floors else ""
    if groups:
        title += "\nliquidated: " + ", ".join(
            f"{NAMES[g]} {v['liquidated_traders']}/{v['entered']}" for g, v in groups.items()
        )
    fig.suptitle(title, fontsize=11)
    maturity_step = section.get("book", {}).get("maturity_step")

    ax = axes[0]
    ax.plot(steps, [100 * v for v in col(f"{prefix}funding_rate_8h")], label="engine funding rate", color="tab:red")
    ax.plot(steps, [100 * v for v in col("swaps_quote")], label="swap mark rate (EMA)", color="tab:blue", ls="--")
    ax.axhline(0, color="grey", lw=0.6)
    ax.set_ylabel("% per 8 h")
    ax.legend(loc="upper left", fontsize=8)
    price = ax.twinx()
    price.plot(steps, col(f"{prefix}index"), color="black", lw=0.7, alpha=0.5)
    price.set_ylabel("index (USD, grey)")

    ax = axes[1]
    ax.plot(steps, col("swaps_hedged_pnl"), label="hedged basis traders (perp + spot + swap)", color="tab:green")
    ax.plot(steps, col("swaps_unhedged_pnl"), label="unprotected basis traders", color="tab:orange")
    if floors:
        ax.plot(steps, col("swaps_floored_pnl"), label="floored basis traders (perp + spot + floor)", color="tab:cyan")
    if counterfactual is not None:
        ax.plot(
            steps,
            col("swaps_hedged_pnl", counterfactual.metrics.rows),
            label="the hedged group's traders without swaps",
            color="tab:green",
            ls=":",
        )
    ax.set_ylabel("cumulative P&L (USD)")
    ax.legend(loc="best", fontsize=8)

    ax = axes[2]
    ax.plot(
        steps, col("swaps_hedged_survivors"), label="hedged: survivors (entered, never liquidated)", color="tab:green"
    )
    ax.plot(steps, col("swaps_unhedged_survivors"), label="unprotected: survivors", color="tab:orange")
    if floors:
        ax.plot(steps, col("swaps_floored_survivors"), label="floored: survivors", color="tab:cyan")
        ax.plot(steps, col("swaps_floored_open"), label="floored: holding a short", color="tab:cyan", ls="--", lw=0.8)
    ax.plot(steps, col("swaps_hedged_open"), label="hedged: holding a short", color="tab:green", ls="--", lw=0.8)
    ax.plot(
        steps, col("swaps_unhedged_open"), label="unprotected: holding a short", color="tab:orange", ls="--", lw=0.8
    )
    ax.set_ylabel("traders")
    ax.legend(loc="best", fontsize=8)

    ax = axes[3]
    ax.plot(steps, col("swaps_pool_pnl"), label="LP pool's swap P&L (settled + unsettled)", color="tab:purple")
    if floors:
        ax.plot(
            steps, col("swaps_vault_pnl"), label="cap-writer vault P&L (premiums - floor payoffs)", color="tab:brown"
        )
    ax.axhline(0, color="grey", lw=0.6)
    ax.set_ylabel("USD")
    ax.set_xlabel("step")
    ax.legend(loc="best", fontsize=8)
    for a in axes:
        a.grid(alpha=0.3)
        if maturity_step is not None:
            a.axvline(maturity_step, color="tab:blue", lw=0.8, ls=":")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


__all__ = ["plot_funding_flip"]
