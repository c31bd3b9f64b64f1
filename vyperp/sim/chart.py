"""cascade.png: what happened, on one shared UTC time axis (matplotlib, Agg backend).

Panels: (1) oracle index, mark and -- with spot impact on -- the scenario's own path,
with every liquidation as a marker at its fill price (area ~ notional, red = a long
closed, green = a short closed, hollow = a partial tier step); (2) liquidated notional
per step by tier; (3) funding rate per 8 h with its cap; (4) long and short open
interest (USD at index); (5) insurance fund and pool assets, and cumulative bad debt.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib

from .clock import hhmm

matplotlib.use("Agg")
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

if TYPE_CHECKING:  # pragma: no cover
    from .runner import Replay

TIER_COLORS = ["#f4a261", "#e76f51", "#9b2226", "#5a189a"]


def _money(x: float, _pos: Any = None, digits: int | None = None) -> str:
    a = abs(x)
    for scale, unit, default in ((1e9, "B", 1), (1e6, "M", 1), (1e3, "k", 0)):
        if a >= scale:
            return f"${x / scale:.{default if digits is None else digits}f}{unit}"
    return f"${x:.0f}"


def _money_axis(values: list[float]) -> FuncFormatter:
    """USD tick labels in one unit for the whole axis, with enough digits to tell the
    ticks of this data range apart."""
    top = max((abs(v) for v in values), default=1.0) or 1.0
    span = (max(values) - min(values)) if values else top
    scale, unit = next(((s, u) for s, u in ((1e9, "B"), (1e6, "M"), (1e3, "k")) if top >= s), (1.0, ""))
    digits = 0
    while digits < 4 and span > 0 and span / scale * 10**digits < 8:
        digits += 1

    def fmt(x: float, _pos: Any) -> str:
        if x == 0:
            return "$0"
        return f"${x / scale:,.{digits}f}{unit}"

    return FuncFormatter(fmt)


CAUSED_COLOR = "#7b2cbf"


def plot_cascade(replay: Replay, report: dict[str, Any], out: Path, attribution: dict[str, Any] | None = None) -> Path:
    """The cascade chart of `replay`. With `attribution` (``{"off": the impact-off
    Replay, "result": vyperp.sim.attribution.attribute(...)}``, `replay` being the
    impact-on run) the price panel also draws the impact-off replay's index (= the
    recorded path), rings the liquidations the feedback caused and marks the prevented
    ones; without it the chart is the plain replay's."""
    rows = replay.metrics.rows
    times = [dt.datetime.fromtimestamp(r["timestamp"], tz=dt.UTC) for r in rows]
    step_time = {r["step"]: t for r, t in zip(rows, times)}
    sym = replay.symbols[0]
    market = replay.params.protocol.markets[0]
    fig, axes = plt.subplots(
        5, 1, figsize=(13, 15), sharex=True, gridspec_kw={"height_ratios": [3.2, 1.2, 1.3, 1.6, 1.6], "hspace": 0.12}
    )
    ax_price, ax_liq, ax_funding, ax_oi, ax_money = axes

    # (1) prices and liquidations
    ax_price.plot(times, [r["index"] for r in rows], color="#1d3557", lw=1.4, label=f"{sym} index (oracle)")
    ax_price.plot(
        times,
        [r["mark"] for r in rows],
        color="#457b9d",
        lw=1.0,
        ls="--",
        alpha=0.9,
        label="mark = index x (1 + skew / skew scale)",
    )
    if attribution is not None:
        off_rows = attribution["off"].metrics.rows
        ax_price.plot(
            times,
            [r["index"] for r in off_rows],
            color="#8d99ae",
            lw=2.2,
            alpha=0.7,
            zorder=1,
            label="recorded path = index of the impact-off replay",
        )
    elif report.get("impact_enabled"):
        ax_price.plot(
            times,
            [r["reference_price"] for r in rows],
            color="#adb5bd",
            lw=1.0,
            ls=":",
            label="scenario path (before spot impact)",
        )
    liqs = [x for x in replay.metrics.liquidations if x["market"] == 0]
    adl = [x for x in replay.metrics.adl if x["market"] == 0]
    if adl:
        ax_price.scatter(
            [step_time[x["step"]] for x in adl],
            [x["price"] for x in adl],
            marker="x",
            s=40,
            color="#111",
            zorder=4,
            label=f"auto-deleveraged ({len(adl)})",
        )
    if liqs:
        biggest = max(x["notional"] for x in liqs)
        scale = 600.0 / biggest if biggest > 0 else 1.0
        for side, color, marker in (("long", "#d62828", "v"), ("short", "#2a9d8f", "^")):
            for partial in (False, True):
                pts = [x for x in liqs if x["side"] == side and x["remaining"] == partial]
                if not pts:
                    continue
                ax_price.scatter(
                    [step_time[x["step"]] for x in pts],
                    [x["price"] for x in pts],
                    s=[max(8.0, x["notional"] * scale) for x in pts],
                    marker=marker,
                    facecolors="none" if partial else color,
                    edgecolors=color,
                    linewidths=0.8,
                    alpha=0.55,
                    zorder=3,
                )
        handles, labels = ax_price.get_legend_handles_labels()
        handles += [
            Line2D([], [], marker="v", ls="", color="#d62828", markersize=8),
            Line2D([], [], marker="^", ls="", color="#2a9d8f", markersize=8),
            Line2D([], [], marker="v", ls="", markerfacecolor="none", color="#555", markersize=8),
        ]
        labels += [
            f"long liquidated (area ~ notional; largest {_money(biggest)})",
            "short liquidated",
            "partial (tier) step",
        ]
        if attribution is not None:
            res = attribution["result"]
            caused = [x for x in res["caused"]["events"] if x["market"] == 0]
            if caused:
                ax_price.scatter(
                    [step_time[x["step"]] for x in caused],
                    [x["price"] for x in caused],
                    s=[max(60.0, x["notional"] * scale * 2.2) for x in caused],
                    marker="o",
                    facecolors="none",
                    edgecolors=CAUSED_COLOR,
                    linewidths=1.8,
                    zorder=5,
                )
            handles.append(
                Line2D(
                    [],
                    [],
                    marker="o",
                    ls="",
                    markerfacecolor="none",
                    markeredgecolor=CAUSED_COLOR,
                    markersize=10,
                    markeredgewidth=1.8,
                )
            )
            labels.append(
                f"caused by the feedback: {res['caused']['count']} ({_money(res['caused']['notional'])}), "
                f"no impact-off counterpart within {res['tolerance_steps']} steps"
            )
        ax_price.legend(handles, labels, loc="best", fontsize=8, framealpha=0.9)
        ax_price.legend(handles, labels, loc="best", fontsize=8, framealpha=0.9)
    else:
        ax_price.legend(loc="best", fontsize=8)
    ax_price.set_ylabel("price (USD)")
    ax_price.yaxis.set_major_formatter(FuncFormatter(lambda x, _p: f"{x:,.0f}"))
    ax_price.grid(alpha=0.3)

    # (2) liquidated notional per step, by tier
    tiers = sorted({x["tier"] for x in liqs})
    bottom = [0.0] * len(rows)
    width = (times[1] - times[0]) * 0.9 if len(times) > 1 else dt.timedelta(minutes=1)
    fractions = replay.metrics.tier_fractions
    for tier in tiers:
        per_step = [0.0] * len(rows)
        for x in liqs:
            if x["tier"] == tier:
                per_step[x["step"]] += x["notional"]
        frac = fractions[tier] if tier < len(fractions) else 1.0
        label = "full close (no tiers)" if not replay.metrics.tiered else f"tier {tier + 1} (close {frac:.0%})"
        ax_liq.bar(
            times,
            per_step,
            width=width,
            bottom=bottom,
            color=TIER_COLORS[tier % len(TIER_COLORS)],
            label=label,
            align="center",
        )
        bottom = [b + v for b, v in zip(bottom, per_step)]
    if tiers:
        ax_liq.legend(loc="upper right", fontsize=8)
    ax_liq.set_ylabel("liquidated\nper step")
    ax_liq.yaxis.set_major_formatter(_money_axis(bottom))
    ax_liq.grid(alpha=0.3)

    # (3) funding
    ax_funding.plot(
        times,
        [100 * r["funding_rate_8h"] for r in rows],
        color="#6a4c93",
        lw=1.2,
        label=f"funding rate ({market.funding_model})",
    )
    cap = 100 * market.max_funding_rate
    ax_funding.axhline(cap, color="#999", lw=0.8, ls="--", label=f"cap +/-{cap:.2f}%")
    ax_funding.axhline(-cap, color="#999", lw=0.8, ls="--")
    ax_funding.axhline(0, color="#333", lw=0.6)
    ax_funding.set_ylabel("funding\n(% per 8 h)")
    handles, labels = ax_funding.get_legend_handles_labels()
    multipliers = [r["risk_multiplier"] for r in rows]
    if any(abs(x - 1.0) > 1e-9 for x in multipliers):
        ax_risk = ax_funding.twinx()
        ax_risk.plot(times, multipliers, color="#bc4749", lw=1.0, ls="-.", label="risk multiplier on IM (right)")
        ax_risk.set_ylabel("IM multiplier")
        ax_risk.set_ylim(0.9, max(max(multipliers) * 1.1, 1.5))
        h2, l2 = ax_risk.get_legend_handles_labels()
        handles, labels = handles + h2, labels + l2
    ax_funding.legend(handles, labels, loc="upper right", fontsize=8)
    ax_funding.grid(alpha=0.3)

    # (4) open interest
    ax_oi.plot(times, [r["long_oi_usd"] for r in rows], color="#2a9d8f", lw=1.3, label="long OI")
    ax_oi.plot(times, [r["short_oi_usd"] for r in rows], color="#e76f51", lw=1.3, label="short OI")
    ax_oi.fill_between(
        times, [r["skew_usd"] for r in rows], 0, color="#adb5bd", alpha=0.35, label="skew (long - short)"
    )
    ax_oi.set_ylabel("open interest\n(USD at index)")
    ax_oi.yaxis.set_major_formatter(_money_axis([r["long_oi_usd"] for r in rows] + [r["short_oi_usd"] for r in rows]))
    ax_oi.legend(loc="upper right", fontsize=8)
    ax_oi.grid(alpha=0.3)

    # (5) insurance fund, pool, bad debt
    ax_money.plot(times, [r["insurance_fund"] for r in rows], color="#f77f00", lw=1.4, label="insurance fund (left)")
    ax_money.plot(
        times, [r["bad_debt"] for r in rows], color="#d62828", lw=1.2, ls="--", label="cumulative bad debt (left)"
    )
    ax_money.set_ylabel("insurance fund,\nbad debt")
    ax_money.yaxis.set_major_formatter(_money_axis([r["insurance_fund"] for r in rows] + [r["bad_debt"] for r in rows]))
    ax_money.grid(alpha=0.3)
    ax_pool = ax_money.twinx()
    pool_values = [r["pool_assets"] for r in rows]
    ax_pool.plot(times, pool_values, color="#264653", lw=1.4, label="LP pool value (right)")
    withdrawals = replay.metrics.lp_withdrawals
    if withdrawals:
        ax_pool.scatter(
            [step_time[w["step"]] for w in withdrawals],
            [pool_values[w["step"]] for w in withdrawals],
            marker="o",
            s=30,
            facecolors="none",
            edgecolors="#264653",
            zorder=4,
            label=f"LP withdrawal ({len(withdrawals)}, {_money(sum(w['usd'] for w in withdrawals))})",
        )
    ax_pool.set_ylabel("LP pool value")
    ax_pool.yaxis.set_major_formatter(_money_axis(pool_values))
    h1, l1 = ax_money.get_legend_handles_labels()
    h2, l2 = ax_pool.get_legend_handles_labels()
    ax_money.legend(h1 + h2, l1 + l2, loc="upper left", bbox_to_anchor=(0.0, -0.16), ncol=4, fontsize=8, frameon=False)

    span = (times[-1] - times[0]).total_seconds() if len(times) > 1 else 3600
    locator = mdates.AutoDateLocator(minticks=6, maxticks=14, tz=dt.UTC)
    ax_money.xaxis.set_major_locator(locator)
    ax_money.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M" if span <= 2 * 86400 else "%m-%d %H:%M", tz=dt.UTC))
    ax_money.set_xlabel(
        f"time (UTC), {times[0]:%Y-%m-%d}"
        + (f" to {times[-1]:%Y-%m-%d}" if times[-1].date() != times[0].date() else ""),
        labelpad=2,
    )
    ax_money.set_xlim(times[0], times[-1])

    title = (
        f"{report['scenario']}: cascade replay against the contracts "
        f"(mitigations {report['mitigations']}"
        + (f", param set '{report['param_set']}'" if report.get("param_set") else "")
        + ")"
    )
    sub = (
        f"{report['traders']} directional + {report['basis_traders']} basis traders, {report['lps']} LPs, "
        f"{report['keepers']} keepers (delay {report['keeper_delay_steps']} step, {report['keeper_batch']}/batch); "
        f"{report['steps']} rounds of {report['step_seconds']} s; spot impact "
        f"{'on' if report['impact_enabled'] else 'off'}\n"
        f"liquidations {report['liquidations']:,} ({_money(report['liquidated_notional'])}), largest "
        f"{_money(report['largest_liquidation_notional'])}; bad debt {_money(report['bad_debt'])}; "
        f"insurance {_money(report['insurance_fund_start'])} -> {_money(report['insurance_fund_end'])} "
        f"(min {_money(report['insurance_fund_min'])}); pool drawdown {_money(report['pool_drawdown'])}; "
        f"ADL {report['adl_events']}; invariants {report['invariant_checks']:,} checks, "
        f"{report['invariant_violations']} violations"
    )
    if attribution is not None:
        res = attribution["result"]
        title = (
            f"{report['scenario']}: cascade attribution, spot-impact feedback on vs off (same path, seed {res['seed']})"
        )
        d = res["price_dislocation"]
        sub += (
            f"\nattribution: impact depth {_money(res['impact']['depth_usd'])} per 1 % ({res['depth_source']}), "
            f"half-life {res['impact']['decay_half_life_steps']} steps; price dislocation max "
            f"{100 * d['max']:.3f} % ({hhmm(d['max_at'])}), {100 * d['at_worst_minute']:.3f} % at the worst minute "
            f"({hhmm(d['worst_minute'])})\nimpact off -> on: liquidated {_money(res['liquidated_notional']['off'])} "
            f"-> {_money(res['liquidated_notional']['on'])}, bad debt {_money(res['bad_debt']['off'])} -> "
            f"{_money(res['bad_debt']['on'])}; caused by the feedback {res['caused']['count']} "
            f"({_money(res['caused']['notional'])}), prevented {res['prevented']['count']} "
            f"({_money(res['prevented']['notional'])})"
        ).replace("$", r"\$")  # "$" starts mathtext in matplotlib
    fig.suptitle(title, fontsize=13, fontweight="bold", y=0.995)
    fig.text(0.5, 0.962, sub, ha="center", va="top", fontsize=8.5, color="#333")
    fig.subplots_adjust(top=0.935 if attribution is None else 0.918, bottom=0.075, left=0.09, right=0.91)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


__all__ = ["plot_cascade"]


AB_COLORS = ("#1d3557", "#d62828")


def plot_compare(replays: dict[str, Replay], reports: dict[str, dict[str, Any]], out: Path) -> Path:
    """One A/B overlay chart of two replays of the same path and seed (``vyperp replay
    --compare A B``): index with each design's liquidations, cumulative liquidated notional,
    funding, open interest, and insurance fund, LP pool value and cumulative bad debt, A
    and B on the same axes."""
    names = list(replays)
    if len(names) != 2:
        raise ValueError(f"plot_compare needs two replays, got {len(names)}")
    fig, axes = plt.subplots(
        5, 1, figsize=(13, 14), sharex=True, gridspec_kw={"height_ratios": [3.0, 1.5, 1.3, 1.4, 1.6], "hspace": 0.12}
    )
    ax_price, ax_liq, ax_funding, ax_oi, ax_money = axes
    ax_pool = ax_money.twinx()
    first = replays[names[0]]
    sym = first.symbols[0]
    for (name, replay), color in zip(replays.items(), AB_COLORS):
        rows = replay.metrics.rows
        times = [dt.datetime.fromtimestamp(r["timestamp"], tz=dt.UTC) for r in rows]
        step_time = {r["step"]: t for r, t in zip(rows, times)}
        rep = reports[name]
        ax_price.plot(times, [r["index"] for r in rows], color=color, lw=1.2, alpha=0.85, label=f"{name}: {sym} index")
        liqs = [x for x in replay.metrics.liquidations if x["market"] == 0]
        if liqs:
            ax_price.scatter(
                [step_time[x["step"]] for x in liqs],
                [x["price"] for x in liqs],
                s=14,
                marker="v" if color == AB_COLORS[0] else "^",
                color=color,
                alpha=0.5,
                zorder=3,
                label=f"{name}: {len(liqs)} liquidations, {_money(rep['liquidated_notional'])}".replace("$", r"\$"),
            )
        cumulative, total = [], 0.0
        for r in rows:
            total += r["liquidated_notional"]
            cumulative.append(total)
        ax_liq.plot(times, cumulative, color=color, lw=1.5, label=name)
        ax_funding.plot(times, [100 * r["funding_rate_8h"] for r in rows], color=color, lw=1.1, label=name)
        ax_oi.plot(times, [r["long_oi_usd"] + r["short_oi_usd"] for r in rows], color=color, lw=1.3, label=name)
        ax_pool.plot(
            times, [r["pool_assets"] for r in rows], color=color, lw=1.5, label=f"{name}: LP pool value (right)"
        )
        ax_money.plot(
            times, [r["insurance_fund"] for r in rows], color=color, lw=1.0, ls=":", label=f"{name}: insurance fund"
        )
        ax_money.plot(
            times, [r["bad_debt"] for r in rows], color=color, lw=1.0, ls="--", label=f"{name}: cumulative bad debt"
        )
    ax_price.set_ylabel("price (USD)")
    ax_price.yaxis.set_major_formatter(FuncFormatter(lambda x, _p: f"{x:,.0f}"))
    ax_price.legend(loc="best", fontsize=8, framealpha=0.9)
    ax_liq.set_ylabel("liquidated\n(cumulative)")
    ax_liq.yaxis.set_major_formatter(FuncFormatter(_money))
    ax_funding.set_ylabel("funding\n(% per 8 h)")
    ax_funding.axhline(0, color="#333", lw=0.6)
    ax_oi.set_ylabel("open interest\n(USD, long + short)")
    ax_oi.yaxis.set_major_formatter(FuncFormatter(_money))
    ax_money.set_ylabel("insurance fund,\nbad debt")
    ax_money.yaxis.set_major_formatter(FuncFormatter(_money))
    ax_pool.set_ylabel("LP pool value")
    ax_pool.yaxis.set_major_formatter(FuncFormatter(_money))
    for ax in (ax_liq, ax_funding, ax_oi):
        ax.legend(loc="upper left", fontsize=8, framealpha=0.9)
    h1, l1 = ax_money.get_legend_handles_labels()
    h2, l2 = ax_pool.get_legend_handles_labels()
    ax_money.legend(h1 + h2, l1 + l2, loc="upper left", bbox_to_anchor=(0.0, -0.2), ncol=4, fontsize=8, frameon=False)
    for ax in axes:
        ax.grid(alpha=0.3)
    times = [dt.datetime.fromtimestamp(r["timestamp"], tz=dt.UTC) for r in first.metrics.rows]
    span = (times[-1] - times[0]).total_seconds() if len(times) > 1 else 3600
    ax_money.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=6, maxticks=14, tz=dt.UTC))
    ax_money.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M" if span <= 2 * 86400 else "%m-%d %H:%M", tz=dt.UTC))
    ax_money.set_xlabel(f"time (UTC), {times[0]:%Y-%m-%d}")
    ax_money.set_xlim(times[0], times[-1])
    a, b = (reports[n] for n in names)
    fig.suptitle(
        f"{a['scenario']}: '{names[0]}' vs '{names[1]}' on the same path and seed ({a['seed']})",
        fontsize=13,
        fontweight="bold",
        y=0.995,
    )
    lines = [
        f"{n}: liquidated {_money(r['liquidated_notional'])}, largest {_money(r['largest_liquidation_notional'])}, "
        f"bad debt {_money(r['bad_debt'])}, pool drawdown {_money(r['pool_drawdown'])}, ADL {r['adl_events']}"
        for n, r in ((names[0], a), (names[1], b))
    ]
    # "$" starts mathtext in matplotlib: escape the amounts
    fig.text(0.5, 0.965, "\n".join(lines).replace("$", r"\$"), ha="center", va="top", fontsize=9, color="#333")
    fig.subplots_adjust(top=0.93, bottom=0.09, left=0.09, right=0.92)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
