"""Static HTML report of a sweep: heatmaps of the cells' tail statistics over the two varied
parameters, with their 95 % intervals (or scatter plots for sampled designs), the frontier
of capital efficiency against p99 bad debt, per-design distributions of bad debt and
cascade amplification, the cells table, the failures, the engine, the spec and the
jump-diffusion fit. Self-contained: the figures are inlined PNGs."""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Any

HEATMAP_STATS = (
    ("bad_debt_var95", "bad debt VaR95 (USD)"),
    ("bad_debt_var99", "bad debt p99 (USD)"),
    ("bad_debt_mean", "mean bad debt (USD)"),
    ("p_bad_debt", "P(bad debt > 0)"),
    ("liquidated_notional_mean", "mean liquidated notional (USD)"),
)


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _ci_columns(stat: str) -> tuple[str, str] | None:
    """The cells' 95 % interval columns of `stat` (bootstrap, or Wilson for P(bad debt > 0))."""
    if stat == "p_bad_debt":
        return "p_bad_debt_lo", "p_bad_debt_hi"
    return f"{stat}_ci_lo", f"{stat}_ci_hi"


def _varied(cells: Any) -> list[str]:
    """The parameters that tell the cells apart: set in every cell and not all equal. A
    variant sweep's per-variant settings (blank in the other variants' cells) are left to
    the variant's name, which comes first."""
    cols = [c for c in cells.columns if c.startswith("param.")]
    varied = [c for c in cols if not cells[c].isna().any() and cells[c].astype(str).nunique() > 1]
    return sorted(varied, key=lambda c: c != "param.variant")


def figures(cells: Any, grid: bool) -> list[tuple[str, str]]:
    """(title, base64 PNG) per statistic: a heatmap over the first two varied parameters of a grid
    (more parameters, several scenarios: averaged over the rest, said in the title), else a
    scatter of the statistic over the first two varied parameters."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    varied = _varied(cells)
    ok = cells[cells["runs"] > 0] if "runs" in cells else cells
    out = []
    if not len(ok) or not varied:
        return out
    for stat, label in HEATMAP_STATS:
        if stat not in ok:
            continue
        fig, ax = plt.subplots(figsize=(5.2, 4.0))
        if len(varied) == 1:
            x = varied[0]
            lo_hi = _ci_columns(stat)
            with_ci = bool(lo_hi) and all(c in ok for c in lo_hi) and ok["scenario"].nunique() == 1
            sets = list(dict.fromkeys(ok["paths"])) if "paths" in ok else [None]
            width = 0.8 / len(sets)
            for k, path_set in enumerate(sets):
                part = ok if path_set is None else ok[ok["paths"] == path_set]
                groups = part.groupby(part[x].astype(str), sort=False)
                means = groups[stat].mean()
                yerr = None
                if with_ci:
                    lo, hi = groups[lo_hi[0]].mean().to_numpy(), groups[lo_hi[1]].mean().to_numpy()
                    yerr = np.abs(np.vstack([means.to_numpy() - lo, hi - means.to_numpy()]))
                at = np.arange(len(means)) + (k - (len(sets) - 1) / 2) * width
                ax.bar(
                    at,
                    means.to_numpy(),
                    width=width,
                    yerr=yerr,
                    capsize=2,
                    color=PATH_SET_COLORS[k % len(PATH_SET_COLORS)],
                    ecolor="#222222",
                    label=None if path_set is None else f"paths: {path_set}",
                )
                ax.set_xticks(np.arange(len(means)), list(means.index))
            if len(sets) > 1:
                ax.legend(fontsize=7)
            ax.tick_params(axis="x", labelrotation=30, labelsize=7)
            ax.set_xlabel(x.removeprefix("param."))
            ax.set_ylabel(label)
            title = label + (" (95 % interval)" if with_ci else "")
        elif grid:
            x, y = varied[0], varied[1]
            table = ok.pivot_table(index=y, columns=x, values=stat, aggfunc="mean")
            im = ax.imshow(table.to_numpy(dtype=float), origin="lower", aspect="auto", cmap="magma_r")
            ax.set_xticks(range(len(table.columns)), [str(v) for v in table.columns])
            ax.set_yticks(range(len(table.index)), [str(v) for v in table.index])
            lo_hi = _ci_columns(stat)
            if lo_hi and all(c in ok for c in lo_hi):
                lo_t, hi_t = (
                    ok.pivot_table(index=y, columns=x, values=c, aggfunc="mean", dropna=False)
                    .reindex(index=table.index, columns=table.columns)
                    .to_numpy(dtype=float)
                    for c in lo_hi
                )
            else:
                lo_t = hi_t = None
            for (i, j), v in np.ndenumerate(table.to_numpy(dtype=float)):
                text = f"{v:,.3g}"
                if lo_t is not None and hi_t is not None and np.isfinite(lo_t[i, j]) and np.isfinite(hi_t[i, j]):
                    text += f"\n[{lo_t[i, j]:,.2g}, {hi_t[i, j]:,.2g}]"
                ax.text(j, i, text, ha="center", va="center", fontsize=7, color="#1f77b4")
            ax.set_xlabel(x.removeprefix("param."))
            ax.set_ylabel(y.removeprefix("param."))
            fig.colorbar(im, ax=ax, label=label)
            rest = [v.removeprefix("param.") for v in varied[2:]]
            title = label + (f" (mean over {', '.join(rest)})" if rest else "")
        else:
            x, y = varied[0], varied[1]
            sc = ax.scatter(ok[x].astype(float), ok[y].astype(float), c=ok[stat].astype(float), cmap="magma_r", s=40)
            ax.set_xlabel(x.removeprefix("param."))
            ax.set_ylabel(y.removeprefix("param."))
            fig.colorbar(sc, ax=ax, label=label)
            title = label
        if ok["scenario"].nunique() > 1:
            title += " (mean over scenarios)"
        if "paths" in ok and ok["paths"].nunique() > 1 and len(varied) != 1:
            title += " (mean over path sets)"
        ax.set_title(title, fontsize=9)
        out.append((title, _png(fig)))
    return out


def cell_labels(cells: Any) -> list[str]:
    """A short name per cell: its varied parameters (a variant by its name), and the scenario
    when the sweep has several."""
    varied = _varied(cells)
    many = cells["scenario"].nunique() > 1 if len(cells) else False
    path_sets = "paths" in cells and cells["paths"].nunique() > 1
    out = []
    for _, row in cells.iterrows():
        parts = [str(row[v]) if v == "param.variant" else f"{v.removeprefix('param.')}={row[v]}" for v in varied]
        if path_sets:
            parts.append(f"paths={row['paths']}")
        if many or not parts:
            parts.insert(0, str(row["scenario"]))
        out.append(", ".join(parts))
    return out


def pareto_front(x: Any, y: Any) -> list[int]:
    """Indices of the points no other point beats on both counts (more of `x` -- capital
    efficiency -- and less of `y` -- tail bad debt), by increasing `x`."""
    import numpy as np

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    front = []
    for i in range(len(x)):
        if not (np.isfinite(x[i]) and np.isfinite(y[i])):
            continue
        dominated = np.any((x >= x[i]) & (y <= y[i]) & ((x > x[i]) | (y < y[i])))
        if not dominated:
            front.append(i)
    return sorted(front, key=lambda i: (x[i], y[i]))


PATH_SET_COLORS = ("#4477aa", "#ee7733", "#228833", "#aa3377")

FRONTIER_X = ("mean_open_interest_usd_mean", "mean open interest carried (USD): capital efficiency")
FRONTIER_Y = ("bad_debt_var99", "bad debt p99 (USD)")


def frontier_figures(cells: Any) -> list[tuple[str, str]]:
    """One frontier per path set (their path distributions differ: one frontier across them
    would compare designs on different paths)."""
    if "paths" not in cells or cells["paths"].nunique() <= 1:
        one = frontier_figure(cells)
        return [one] if one else []
    out = []
    for path_set in dict.fromkeys(cells["paths"]):
        fig = frontier_figure(cells[cells["paths"] == path_set], f"paths: {path_set}")
        if fig:
            out.append(fig)
    return out


def frontier_figure(cells: Any, subtitle: str = "") -> tuple[str, str] | None:
    """Capital efficiency (the open interest the design let the traders carry, cell mean with
    its bootstrap CI) against p99 bad debt (with its CI), one point per cell; the Pareto
    frontier joined."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    ok = cells[cells["runs"] > 0] if "runs" in cells else cells
    (xc, xlabel), (yc, ylabel) = FRONTIER_X, FRONTIER_Y
    if len(ok) < 2 or xc not in ok or yc not in ok:
        return None
    x, y = ok[xc].to_numpy(dtype=float), ok[yc].to_numpy(dtype=float)
    xerr = np.abs(
        np.vstack([x - ok[f"{xc.removesuffix('_mean')}_mean_ci_lo"], ok[f"{xc.removesuffix('_mean')}_mean_ci_hi"] - x])
    )
    yerr = np.abs(np.vstack([y - ok[f"{yc}_ci_lo"], ok[f"{yc}_ci_hi"] - y]))
    fig, ax = plt.subplots(figsize=(7.5, 5.0))
    ax.errorbar(x, y, xerr=xerr, yerr=yerr, fmt="o", color="#4477aa", ecolor="#99aacc", capsize=2, ms=5)
    front = pareto_front(x, y)
    ax.plot(x[front], y[front], "-", color="#cc3311", lw=1.5, label="Pareto frontier")
    labels = (
        [lbl.replace(f", {subtitle.replace(': ', '=')}", "") for lbl in cell_labels(ok)]
        if subtitle
        else cell_labels(ok)
    )
    for label, xi, yi in zip(labels, x, y):
        ax.annotate(label, (xi, yi), textcoords="offset points", xytext=(4, 4), fontsize=7)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    title = "capital efficiency vs p99 bad debt (95 % bootstrap intervals)" + (f", {subtitle}" if subtitle else "")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    return title, _png(fig)


def distribution_figures(summary: Any, cells: Any) -> list[tuple[str, str]]:
    """Per cell (design): the distribution over its runs of bad debt and, when measured, of the
    cascade amplification (box: quartiles, whiskers: 5-95 %, points: beyond)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    ok = summary[summary["status"] == "ok"] if "status" in summary else summary
    if not len(ok) or not len(cells):
        return []
    labels = dict(zip(cells["cell"], cell_labels(cells)))
    order = [c for c in cells["cell"] if c in set(ok["cell"])]
    out = []
    for metric, label in (("bad_debt", "bad debt (USD)"), ("amplification", "cascade amplification (impact on / off)")):
        if metric not in ok:
            continue
        data = [ok.loc[ok["cell"] == c, metric].astype(float).to_numpy() for c in order]
        data = [d[np.isfinite(d)] for d in data]
        if not any(len(d) for d in data):
            continue
        fig, ax = plt.subplots(figsize=(7.5, 0.45 * len(order) + 1.2))
        ax.boxplot(data, orientation="horizontal", whis=(5, 95), widths=0.6, flierprops={"ms": 3})
        ax.set_yticks(range(1, len(order) + 1), [labels[c] for c in order], fontsize=7)
        ax.set_xlabel(label)
        title = f"{label} per design, over its runs"
        ax.set_title(title, fontsize=9)
        out.append((title, _png(fig)))
    return out


def write_html(result: Any, path: str | Path) -> Path:
    """Write the report of a :class:`vyperp.sweep.SweepResult` to `path`."""
    path = Path(path)
    cells = result.cells(bootstrap=500)
    summary = result.summary()
    figs = figures(cells, result.spec.design == "grid") if len(cells) else []
    if len(cells):
        figs += frontier_figures(cells)
        figs += distribution_figures(summary, cells)
    keep = [
        "scenario",
        "paths",
        *[c for c in cells.columns if c.startswith("param.")],
        "runs",
        "failed",
        "bad_debt_mean",
        "bad_debt_mean_ci_lo",
        "bad_debt_mean_ci_hi",
        "bad_debt_p50",
        "bad_debt_var95",
        "bad_debt_var95_ci_lo",
        "bad_debt_var95_ci_hi",
        "bad_debt_var99",
        "bad_debt_cvar95",
        "bad_debt_cvar99",
        "p_bad_debt",
        "p_bad_debt_lo",
        "p_bad_debt_hi",
        "liquidated_notional_mean",
        "pool_drawdown_p95",
        "insurance_fund_drawdown_p95",
        "largest_liquidation_notional_p95",
        "adl_events_mean",
        "amplification_mean",
    ]
    table = cells[[c for c in keep if c in cells]] if len(cells) else cells
    failed = summary[summary["status"] != "ok"][["run", "cell", "seed", "error"]] if len(summary) else summary
    fit = next((t["fit"] for t in result.tasks if t.get("fit")), None)
    parts = [
        f"<h1>sweep {html.escape(result.spec.name)}</h1>",
        f"<p>{html.escape(result.spec.description)}</p>",
        f"<p>{len(result.tasks)} replays in {len({t['cell'] for t in result.tasks})} cells; "
        f"{len(summary)} finished, {len(failed)} failed{' (interrupted)' if result.interrupted else ''}. "
        f"Engine: {html.escape(json.dumps(result.info, default=str))}</p>",
        "<p>VaR<sub>q</sub> = the q quantile of bad debt over a cell's runs; CVaR<sub>q</sub> = the mean of the "
        "runs at or above it; intervals: percentile bootstrap (means, quantiles), Wilson (P(bad debt &gt; 0)), "
        "95 %.</p>",
    ]
    parts += [f'<figure><img src="data:image/png;base64,{b64}" alt="{html.escape(t)}"></figure>' for t, b64 in figs]
    parts += ["<h2>cells</h2>", table.to_html(index=False, float_format=lambda v: f"{v:,.4g}", na_rep="-")]
    if len(failed):
        parts += ["<h2>failed replays</h2>", failed.to_html(index=False)]
    if fit:
        parts += ["<h2>jump-diffusion fit (per minute)</h2>", f"<pre>{html.escape(json.dumps(fit, indent=2))}</pre>"]
    spec_text = result.spec.file.read_text() if result.spec.file and Path(result.spec.file).exists() else ""
    if spec_text:
        parts += ["<h2>spec</h2>", f"<pre>{html.escape(spec_text)}</pre>"]
    style = (
        "body{font-family:sans-serif;max-width:1200px;margin:2em auto}table{border-collapse:collapse;"
        "font-size:12px}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}figure{display:inline-block;"
        "margin:0.5em}"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"<!doctype html><html><head><meta charset='utf-8'><title>sweep {html.escape(result.spec.name)}"
        f"</title><style>{style}</style></head><body>{''.join(parts)}</body></html>\n"
    )
    return path


__all__ = [
    "cell_labels",
    "distribution_figures",
    "figures",
    "frontier_figure",
    "frontier_figures",
    "pareto_front",
    "write_html",
]
