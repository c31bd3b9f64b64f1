"""Tail statistics of a cell's runs.

* quantiles: numpy's default (linear interpolation between order statistics, Hyndman-Fan
  type 7); ``VaR_q`` of bad debt = its ``q`` quantile (Gauntlet: VaR95 = the 95th percentile
  of insolvent debt over the runs);
* ``CVaR_q`` = the mean of the runs at or above ``VaR_q`` (expected shortfall, the
  discrete tail mean);
* ``P(bad debt > 0)`` with the Wilson score interval (95 %, z = 1.959964);
* bootstrap intervals: percentile bootstrap, ``B`` resamples of the runs with replacement
  from ``numpy.random.default_rng(seed)`` (the seed is the sweep's, so the intervals are
  reproducible), 95 % = the 2.5 % and 97.5 % quantiles of the resampled statistic: of the
  mean and the p95 of every metric, and of the p50, VaR95/99 and CVaR95/99 of bad debt.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

Z95 = 1.959963984540054


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion ``k / n``."""
    if n <= 0:
        return (float("nan"), float("nan"))
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def quantile(x: np.ndarray, q: float) -> float:
    return float(np.quantile(x, q)) if len(x) else float("nan")


def cvar(x: np.ndarray, q: float) -> float:
    """Mean of the values at or above the ``q`` quantile."""
    if not len(x):
        return float("nan")
    var = np.quantile(x, q)
    return float(x[x >= var].mean())


def bootstrap_ci(
    x: np.ndarray, stat: Callable[[np.ndarray], Any], rng: np.random.Generator, b: int = 1000, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``stat``, which maps a ``(b, n)`` matrix of resamples
    to the ``b`` statistics (e.g. ``lambda m: m.mean(axis=1)``)."""
    if len(x) < 2:
        return (float("nan"), float("nan"))
    values = np.asarray(stat(x[rng.integers(0, len(x), size=(b, len(x)))]), dtype=float)
    alpha = (1 - level) / 2
    return (float(np.quantile(values, alpha)), float(np.quantile(values, 1 - alpha)))


def _mean_rows(m: np.ndarray) -> np.ndarray:
    return m.mean(axis=1)


def _quantile_rows(q: float) -> Callable[[np.ndarray], np.ndarray]:
    return lambda m: np.quantile(m, q, axis=1)


def _cvar_rows(q: float) -> Callable[[np.ndarray], np.ndarray]:
    return lambda m: np.array([cvar(row, q) for row in m])


CELL_METRICS = (
    "bad_debt",
    "liquidated_notional",
    "largest_liquidation_notional",
    "pool_drawdown",
    "mean_open_interest_usd",
    "insurance_fund_drawdown",
    "adl_events",
    "adl_notional",
    "adl_overshoot",
    "max_abs_funding_rate",
    "max_mark_index_gap",
    "liquidations",
    "amplification",
)


def cell_stats(rows: list[dict[str, Any]] | Any, seed: int = 0, b: int = 1000) -> dict[str, Any]:
    """Statistics of one cell from its runs' summary rows (dicts or a DataFrame)."""
    import pandas as pd

    df = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows)
    rng = np.random.default_rng(seed)
    out: dict[str, Any] = {"runs": int(len(df))}
    for metric in CELL_METRICS:
        if metric not in df:
            continue
        x = df[metric].astype(float).to_numpy()
        x = x[np.isfinite(x)]
        out[f"{metric}_mean"] = float(x.mean()) if len(x) else float("nan")
        for q in (50, 95, 99):
            out[f"{metric}_p{q}"] = quantile(x, q / 100)
        lo, hi = bootstrap_ci(x, _mean_rows, rng, b)
        out[f"{metric}_mean_ci_lo"], out[f"{metric}_mean_ci_hi"] = lo, hi
        lo, hi = bootstrap_ci(x, _quantile_rows(0.95), rng, b)
        out[f"{metric}_p95_ci_lo"], out[f"{metric}_p95_ci_hi"] = lo, hi
    if "bad_debt" in df:
        x = df["bad_debt"].astype(float).to_numpy()
        for q in (95, 99):
            out[f"bad_debt_var{q}"] = quantile(x, q / 100)
            out[f"bad_debt_cvar{q}"] = cvar(x, q / 100)
        for name, fn in (
            ("p50", _quantile_rows(0.5)),
            ("var95", _quantile_rows(0.95)),
            ("var99", _quantile_rows(0.99)),
            ("cvar95", _cvar_rows(0.95)),
            ("cvar99", _cvar_rows(0.99)),
        ):
            lo, hi = bootstrap_ci(x, fn, rng, b)
            out[f"bad_debt_{name}_ci_lo"], out[f"bad_debt_{name}_ci_hi"] = lo, hi
        k = int((x > 0).sum())
        out["p_bad_debt"] = k / len(x) if len(x) else float("nan")
        out["p_bad_debt_lo"], out["p_bad_debt_hi"] = wilson(k, len(x))
    return out


__all__ = ["CELL_METRICS", "bootstrap_ci", "cell_stats", "cvar", "quantile", "wilson"]
