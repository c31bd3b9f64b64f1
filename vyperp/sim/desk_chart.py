"""desk.png: the options desk through the replay (matplotlib, Agg backend).

Four panels on the step axis: the index (and the scenario's reference path), the
implied volatility of the desk's rule with the realized volatility behind it, the
book's delta against the perp hedge (``-hedge``: the two lines coincide inside the
rebalancing band), and the desk's P&L (option book, perp, total) with its venue
equity. Reads the replay's time-series rows (the ``desk_*`` columns); raises
``ValueError`` when the replay ran without a desk.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

if TYPE_CHECKING:  # pragma: no cover
    from .runner import Replay


def plot_desk(replay: Replay, report: dict[str, Any], path: Path) -> Path:
    """Write desk.png for a replay with an options desk; returns `path`."""
    rows = replay.metrics.rows
    if getattr(replay, "desk", None) is None or not rows or "desk_iv" not in rows[0]:
        raise ValueError("plot_desk needs a replay with an options desk ([population.options_desk])")
    prefix = "" if replay.desk.m == 0 else f"{replay.desk.symbol}_"
    steps = [r["step"] for r in rows]

    def col(name: str) -> list[float]:
        return [float(r[name]) for r in rows]

    fig, axes = plt.subplots(4, 1, figsize=(11, 12), sharex=True)
    desk = report.get("options_desk", {})
    title = f"{report['scenario']} (seed {report['seed']}): options desk"
    amp = desk.get("amplification")
    if amp:
        title += (
            f" - liquidated notional \\${amp['liquidated_notional_desk_on']:,.0f} with the desk, "
            f"\\${amp['liquidated_notional_desk_off']:,.0f} without"
        )
    fig.suptitle(title, fontsize=11)

    ax = axes[0]
    ax.plot(steps, col(f"{prefix}index"), label="index (oracle)", color="black", lw=1.2)
    ax.plot(steps, col(f"{prefix}reference_price"), label="reference path", color="grey", lw=0.8, ls="--")
    ax.set_ylabel("USD")
    ax.legend(loc="best", fontsize=8)

    ax = axes[1]
    ax.plot(steps, [100 * v for v in col("desk_iv")], label="implied vol (desk rule)", color="tab:purple")
    ax.plot(steps, [100 * v for v in col("desk_realized_vol")], label="realized vol (EWMA)", color="tab:orange", lw=0.8)
    ax.set_ylabel("% per year")
    ax.legend(loc="best", fontsize=8)

    ax = axes[2]
    ax.plot(steps, col("desk_book_delta"), label="option book delta", color="tab:red")
    ax.plot(steps, [-v for v in col("desk_hedge")], label="- perp hedge", color="tab:blue", ls="--")
    ax.bar(steps, col("desk_trade"), label="hedge trade (+ buy)", color="tab:green", width=1.0, alpha=0.6)
    ax.set_ylabel("BTC")
    ax.legend(loc="best", fontsize=8)

    ax = axes[3]
    ax.plot(steps, col("desk_option_pnl"), label="option book P&L", color="tab:red")
    ax.plot(steps, col("desk_perp_pnl"), label="perp P&L (venue equity - deposit)", color="tab:blue")
    ax.plot(steps, col("desk_pnl"), label="total", color="black", lw=1.4)
    ax.set_ylabel("USD")
    ax.set_xlabel("step")
    ax.legend(loc="best", fontsize=8)
    equity = ax.twinx()
    equity.plot(steps, col("desk_equity"), color="tab:grey", lw=0.8, ls=":", label="venue equity")
    equity.set_ylabel("venue equity (USD, dotted)")
    for a in axes:
        a.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


__all__ = ["plot_desk"]
