"""The cell statistics against known values and distributions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vyperp.sweep.stats import bootstrap_ci, cell_stats, cvar, quantile, wilson


def test_wilson_known_values():
    # textbook values (Newcombe 1998, Table I): 81/263 -> 0.2553-0.3662; 0/10 -> 0-0.2775; 10/10 -> 0.7225-1
    lo, hi = wilson(81, 263)
    assert lo == pytest.approx(0.2553, abs=1e-4) and hi == pytest.approx(0.3662, abs=1e-4)
    lo, hi = wilson(0, 10)
    assert lo == 0.0 and hi == pytest.approx(0.2775, abs=1e-4)
    lo, hi = wilson(10, 10)
    assert lo == pytest.approx(0.7225, abs=1e-4) and hi == pytest.approx(1.0)
    assert all(math.isnan(v) for v in wilson(0, 0))


def test_wilson_coverage_is_close_to_95_percent():
    rng = np.random.default_rng(0)
    p, n = 0.1, 50
    ks = rng.binomial(n, p, 4000)
    covered = np.mean([lo <= p <= hi for lo, hi in (wilson(int(k), n) for k in ks)])
    assert 0.92 <= covered <= 0.98  # (discrete: the actual coverage oscillates around 95 %)


def test_quantiles_and_cvar_of_a_known_sample():
    x = np.arange(1, 101, dtype=float)  # 1..100
    assert quantile(x, 0.5) == 50.5
    assert quantile(x, 0.95) == pytest.approx(95.05)
    assert quantile(x, 0.99) == pytest.approx(99.01)
    assert cvar(x, 0.95) == pytest.approx(np.mean([96, 97, 98, 99, 100]))
    assert cvar(np.zeros(10), 0.95) == 0.0


def test_quantiles_of_an_exponential_sample_match_the_distribution():
    x = np.random.default_rng(1).exponential(2.0, 200_000)
    assert quantile(x, 0.95) == pytest.approx(-2.0 * math.log(0.05), rel=0.02)
    # CVaR of an exponential: VaR + the mean (memorylessness)
    assert cvar(x, 0.95) == pytest.approx(-2.0 * math.log(0.05) + 2.0, rel=0.02)


def test_bootstrap_interval_covers_the_true_mean_about_95_percent():
    rng = np.random.default_rng(2)
    hits = 0
    trials = 200
    for _ in range(trials):
        x = rng.normal(10.0, 3.0, 60)
        lo, hi = bootstrap_ci(x, lambda m: m.mean(axis=1), rng, b=400)
        hits += lo <= 10.0 <= hi
    assert 0.88 <= hits / trials <= 0.99


def test_bootstrap_interval_of_a_quantile_covers_the_true_quantile():
    rng = np.random.default_rng(4)
    true = -math.log(0.1)  # p90 of Exp(1)
    hits = sum(
        lo <= true <= hi
        for lo, hi in (
            bootstrap_ci(rng.exponential(1.0, 200), lambda m: np.quantile(m, 0.9, axis=1), rng, b=400)
            for _ in range(150)
        )
    )
    assert 0.85 <= hits / 150 <= 0.99


def test_cell_stats_reproducible_from_seed_and_consistent():
    rng = np.random.default_rng(3)
    rows = [
        {"bad_debt": float(v), "liquidated_notional": float(w)}
        for v, w in zip(np.where(rng.random(100) < 0.3, rng.exponential(1000, 100), 0.0), rng.random(100))
    ]
    a, b, c = cell_stats(rows, seed=5, b=300), cell_stats(rows, seed=5, b=300), cell_stats(rows, seed=6, b=300)
    assert a == b and a != c
    x = np.array([r["bad_debt"] for r in rows])
    assert a["runs"] == 100
    assert a["p_bad_debt"] == (x > 0).mean()
    assert a["bad_debt_var95"] == pytest.approx(np.quantile(x, 0.95))
    assert a["bad_debt_cvar95"] >= a["bad_debt_var95"] >= a["bad_debt_p50"]
    assert a["bad_debt_mean_ci_lo"] <= a["bad_debt_mean"] <= a["bad_debt_mean_ci_hi"]
    assert a["bad_debt_var95_ci_lo"] <= a["bad_debt_var95_ci_hi"]
    assert a["bad_debt_cvar99_ci_lo"] <= a["bad_debt_cvar99_ci_hi"]
    assert a["liquidated_notional_p95_ci_lo"] <= a["liquidated_notional_p95"] <= a["liquidated_notional_p95_ci_hi"]
    assert (a["p_bad_debt_lo"], a["p_bad_debt_hi"]) == wilson(int((x > 0).sum()), 100)
