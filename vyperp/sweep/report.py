"""Static HTML report of a sweep: heatmaps of the cells' tail statistics over the two varied
parameters (or scatter plots for sampled designs), the cells table, the failures, the
engine, the spec and the jump-diffusion fit. Self-contained: the figures are inlined PNGs."""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Any

HEATMAP_STATS = (
    ("bad_debt_var95", "bad debt VaR95 (USD)"),
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


def _varied(cells: Any) -> list[str]:
    return [c for c in cells.columns if c.startswith("param.") and cells[c].astype(str).nunique() > 1]


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
            groups = ok.groupby(ok[x].astype(str), sort=False)[stat].mean()
            ax.bar(list(groups.index), groups.to_numpy(), color="#4477aa")
            ax.set_xlabel(x.removeprefix("param."))
            ax.set_ylabel(label)
            title = label
        elif grid:
            x, y = varied[0], varied[1]
            table = ok.pivot_table(index=y, columns=x, values=stat, aggfunc="mean")
            im = ax.imshow(table.to_numpy(dtype=float), origin="lower", aspect="auto", cmap="magma_r")
            ax.set_xticks(range(len(table.columns)), [str(v) for v in table.columns])
            ax.set_yticks(range(len(table.index)), [str(v) for v in table.index])
            for (i, j), v in np.ndenumerate(table.to_numpy(dtype=float)):
                ax.text(j, i, f"{v:,.3g}", ha="center", va="center", fontsize=8, color="#1f77b4")
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
        ax.set_title(title, fontsize=9)
        out.append((title, _png(fig)))
    return out


def write_html(result: Any, path: str | Path) -> Path:
    """Write the report of a :class:`vyperp.sweep.SweepResult` to `path`."""
    path = Path(path)
    cells = result.cells(bootstrap=500)
    summary = result.summary()
    figs = figures(cells, result.spec.design == "grid") if len(cells) else []
    keep = [
        "scenario",
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


__all__ = ["figures", "write_html"]
