"""Monte Carlo price paths calibrated to the shipped real windows.

Data: the one-minute close-to-close log returns of the shipped real windows
(the BTC ones, :data:`vyperp.oracles.sources.BTC_WINDOWS`; a spec's ``[paths] windows`` picks
any of :data:`~vyperp.oracles.sources.REAL_WINDOWS`).
Every shipped window has 60-second bars without gaps; returns never cross from one window
to the next. The windows are cascade days, so both generators reproduce *crash-regime*
one-minute dynamics, drift included.

``bootstrap`` (moving-block bootstrap)
    A path of ``n`` points needs ``n - 1`` returns: blocks of ``block_steps`` consecutive
    returns are drawn uniformly from every position where a whole block fits inside one
    window (probability proportional to the window's number of such positions), concatenated
    and cut to length. Blocks keep the volatility clustering and the jumps' neighbourhoods
    up to ``block_steps`` minutes.

    A scenario with several markets (BTC and ETH on one clock) is bootstrapped jointly
    instead (:func:`joint_bootstrap_paths`): the block positions are drawn once and applied
    to each market's own returns over the scenario's aligned paths, so the generated
    minutes are minutes the markets lived together (their correlation kept).

``jump-fit`` (Merton jump-diffusion fitted by maximum likelihood)
    Per minute ``r = mu + sigma Z + sum_{k <= N} J_k`` with ``Z ~ N(0, 1)``,
    ``N ~ Poisson(lam)``, ``J ~ N(m, s^2)``. The likelihood is the Poisson mixture of normals
    ``sum_k Pois(k; lam) N(r; mu + k m, sigma^2 + k s^2)`` truncated at ``k = 6`` (the
    truncated mass at the fitted ``lam`` is < 1e-6); it is maximised over ``(mu, log sigma,
    logit lam, m, log s)`` (rescaled to unit size) by scipy's L-BFGS-B, polished by
    Nelder-Mead, started from a threshold estimate (returns
    beyond 4 robust standard deviations -- 1.4826 x MAD -- are the jumps). :func:`fit_jump`
    returns the fit with its log-likelihood and the sample's moments (the fitted model's
    variance and excess kurtosis next to the data's, as a check). Paths are generated with
    :func:`vyperp.oracles.synthetic.jump_diffusion` at the fitted parameters converted to its
    annualised units (so the drift per minute equals the fitted ``mu`` exactly).

On the shipped windows (``vyperp sweep-fit`` -> ``reports/jump_fit.json``) the maximum of the
likelihood is a two-regime scale mixture rather than rare large jumps: a calm component
(sigma ~0.05 % per minute) and, in ~42 % of the minutes, a wide one (jump std ~0.8 %);
drift ~ -0.012 % per minute (the windows are crashes). The fitted model's variance
(2.7e-5) and excess kurtosis (~7) fall short of the data's (3.8e-5, ~35): the largest
one-minute moves are rarer in the model than in the data, which the bootstrap keeps.

Both start at the base path's first price and timestamp, one point per 60 s, so the
deployment (initial oracle price, clock) is the same for every path of a cell. Path ``i``
of a sweep with ``[paths] seed = s`` uses ``numpy.random.SeedSequence([s, i])``: the same
seed gives the same path on any worker.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np

from ..oracles.pricepath import PricePath
from ..oracles.sources import BTC_WINDOWS, load_real
from ..oracles.synthetic import SECONDS_PER_YEAR, _build, jump_diffusion

STEP_SECONDS = 60
MAX_JUMPS = 6


@lru_cache(maxsize=32)
def window_returns(windows: tuple[str, ...] | None = None) -> tuple[np.ndarray, ...]:
    """One-minute log returns of each window (close to close)."""
    out = []
    for name in windows or BTC_WINDOWS:
        p = load_real(name)
        prices = np.array([float(x) for x in p.prices], dtype=float)
        ts = np.array(p.timestamps)
        r = np.diff(np.log(prices))
        out.append(r[np.diff(ts) == STEP_SECONDS])
    return tuple(out)


def path_rng_seed(paths_seed: int, index: int) -> np.random.SeedSequence:
    return np.random.SeedSequence([int(paths_seed), int(index)])


def bootstrap_path(
    base: PricePath, n: int, block_steps: int, seed: np.random.SeedSequence, windows: tuple[str, ...] | None = None
) -> PricePath:
    """A moving-block bootstrap path of ``n`` points from the base path's start."""
    rets = window_returns(windows)
    blocks = [(w, s) for w, r in enumerate(rets) for s in range(len(r) - block_steps + 1)]
    if not blocks:
        raise ValueError(f"block_steps {block_steps} is longer than every calibration window")
    rng = np.random.default_rng(seed)
    need = n - 1
    picks: list[np.ndarray] = []
    while sum(len(b) for b in picks) < need:
        w, s = blocks[int(rng.integers(len(blocks)))]
        picks.append(rets[w][s : s + block_steps])
    steps = np.concatenate(picks)[:need] if need else np.zeros(0)
    offsets = [0.0] + np.cumsum(steps).tolist()
    return _build(
        base.prices[0],
        offsets,
        STEP_SECONDS,
        base.timestamps[0],
        "bootstrap",
        f"block bootstrap (block {block_steps} min) of {', '.join(windows or BTC_WINDOWS)}",
    )


def joint_bootstrap_paths(
    bases: dict[str, PricePath], n: int, block_steps: int, seed: np.random.SeedSequence
) -> dict[str, PricePath]:
    """A moving-block bootstrap of several markets at once, from their own aligned paths.

    The block positions are drawn once and applied to every market's own one-minute log
    returns, so each generated minute is a minute the markets really lived together: the
    cross-market correlation, and which market led, are kept up to ``block_steps`` minutes
    (pooling BTC windows for every market, as the single-market bootstrap does, would give
    ETH BTC's moves and two independent draws would lose the correlation). Every base path
    must have the same timestamps (one clock) and at least ``block_steps + 1`` points.
    Raises ValueError otherwise."""
    syms = list(bases)
    clock = bases[syms[0]].timestamps
    for sym in syms[1:]:
        if bases[sym].timestamps != clock:
            raise ValueError(f"joint bootstrap: {sym} has other timestamps than {syms[0]} (one clock needed)")
    rets = {sym: np.diff(np.log(np.asarray(bases[sym].prices, dtype=float))) for sym in syms}
    length = len(rets[syms[0]])
    if length < block_steps:
        raise ValueError(f"block_steps {block_steps} is longer than the scenario's {length} returns")
    rng = np.random.default_rng(seed)
    need = n - 1
    starts: list[int] = []
    while len(starts) * block_steps < need:
        starts.append(int(rng.integers(length - block_steps + 1)))
    step = clock[1] - clock[0] if len(clock) > 1 else STEP_SECONDS
    out = {}
    for sym in syms:
        steps = np.concatenate([rets[sym][s : s + block_steps] for s in starts])[:need] if need else np.zeros(0)
        offsets = [0.0] + np.cumsum(steps).tolist()
        out[sym] = _build(
            bases[sym].prices[0],
            offsets,
            step,
            clock[0],
            "bootstrap",
            f"joint block bootstrap (block {block_steps} steps) of the scenario's own {', '.join(syms)} paths",
        )
    return out


def _threshold_start(r: np.ndarray) -> tuple[float, float, float, float, float]:
    med = float(np.median(r))
    robust = 1.4826 * float(np.median(np.abs(r - med)))
    jumps = np.abs(r - med) > 4 * robust
    body = r[~jumps]
    lam = max(float(jumps.mean()), 1e-4)
    m = float(r[jumps].mean()) if jumps.any() else 0.0
    s = float(r[jumps].std()) if jumps.sum() > 1 else 4 * robust
    return float(body.mean()), max(float(body.std()), 1e-6), min(lam, 0.5), m, max(s, 1e-5)


def _neg_loglik(theta: np.ndarray, r: np.ndarray) -> float:
    mu, log_sigma, logit_lam, m, log_s = theta
    sigma2, s2 = math.exp(2 * log_sigma), math.exp(2 * log_s)
    lam = 1.0 / (1.0 + math.exp(-logit_lam))
    k = np.arange(MAX_JUMPS + 1)
    log_pk = -lam + k * math.log(lam) - np.array([math.lgamma(x + 1) for x in k])
    var = sigma2 + k * s2  # (K,)
    z = r[:, None] - (mu + k * m)[None, :]
    log_terms = log_pk[None, :] - 0.5 * np.log(2 * math.pi * var)[None, :] - 0.5 * z * z / var[None, :]
    top = log_terms.max(axis=1, keepdims=True)
    return -float(np.sum(top[:, 0] + np.log(np.exp(log_terms - top).sum(axis=1))))


@lru_cache(maxsize=32)
def fit_jump(windows: tuple[str, ...] | None = None) -> dict[str, Any]:
    """Merton jump-diffusion per minute fitted by maximum likelihood to the windows' returns
    (see the module docstring)."""
    out = fit_returns(np.concatenate(window_returns(windows)))
    out["windows"] = list(windows or BTC_WINDOWS)
    return out


def fit_returns(r: np.ndarray) -> dict[str, Any]:
    """Merton jump-diffusion (per step) fitted by maximum likelihood to the log returns `r`."""
    from scipy.optimize import minimize

    r = np.asarray(r, dtype=float)
    mu0, sigma0, lam0, m0, s0 = _threshold_start(r)
    x0 = np.array([mu0, math.log(sigma0), math.log(lam0 / (1 - lam0)), m0, math.log(s0)])
    scale = np.array([1e-4, 1.0, 1.0, 1e-2, 1.0])  # unit-sized coordinates for the optimisers
    bounds = [
        (-0.01, 0.01),
        (math.log(1e-6), math.log(0.1)),
        (-12.0, 0.0),
        (-0.2, 0.2),
        (math.log(1e-5), math.log(0.3)),
    ]
    res = minimize(
        lambda y: _neg_loglik(y * scale, r),
        x0 / scale,
        method="L-BFGS-B",
        bounds=[(lo / s, hi / s) for (lo, hi), s in zip(bounds, scale)],
    )
    polish = minimize(
        lambda y: _neg_loglik(y * scale, r),
        res.x,
        method="Nelder-Mead",
        options={"maxiter": 4000, "xatol": 1e-7, "fatol": 1e-7},
    )
    if polish.fun <= res.fun:
        res = polish
    res.x = res.x * scale
    mu, log_sigma, logit_lam, m, log_s = res.x
    sigma, s, lam = math.exp(log_sigma), math.exp(log_s), 1 / (1 + math.exp(-logit_lam))
    model_var = sigma**2 + lam * (m**2 + s**2)
    model_kurt = lam * (m**4 + 6 * m**2 * s**2 + 3 * s**4) / model_var**2
    centred = r - r.mean()
    return {
        "per_minute": {"mu": float(mu), "sigma": sigma, "jump_intensity": lam, "jump_mean": float(m), "jump_std": s},
        "log_likelihood": -float(res.fun),
        "converged": bool(res.success),
        "n_returns": int(len(r)),
        "start": {"mu": mu0, "sigma": sigma0, "jump_intensity": lam0, "jump_mean": m0, "jump_std": s0},
        "check": {
            "data_variance": float(r.var()),
            "model_variance": model_var,
            "data_excess_kurtosis": float((centred**4).mean() / r.var() ** 2 - 3),
            "model_excess_kurtosis": model_kurt,
            "data_mean": float(r.mean()),
            "model_mean": float(mu + lam * m),
        },
    }


def jump_fit_path(base: PricePath, n: int, seed: np.random.SeedSequence, fit: dict[str, Any]) -> PricePath:
    """A path of ``n`` points of the fitted jump-diffusion (through ``synthetic.jump_diffusion``)."""
    p = fit["per_minute"]
    steps_per_year = SECONDS_PER_YEAR / STEP_SECONDS
    dt = 1 / steps_per_year
    sigma_a = p["sigma"] * math.sqrt(steps_per_year)
    lam_a = p["jump_intensity"] * steps_per_year
    comp = lam_a * (math.exp(p["jump_mean"] + 0.5 * p["jump_std"] ** 2) - 1.0)
    # the generator's drift per step is (mu - sigma^2/2 - comp) dt: choose mu so it equals the fitted mu
    mu_a = p["mu"] / dt + 0.5 * sigma_a**2 + comp
    int_seed = int(seed.generate_state(1, dtype=np.uint32)[0])
    return jump_diffusion(
        float(f"{base.prices[0] / 10**18:.8f}"),
        mu_a,
        sigma_a,
        lam_a,
        p["jump_mean"],
        p["jump_std"],
        n,
        STEP_SECONDS,
        int_seed,
        start_ts=base.timestamps[0],
    )


__all__ = [
    "bootstrap_path",
    "joint_bootstrap_paths",
    "fit_jump",
    "fit_returns",
    "jump_fit_path",
    "path_rng_seed",
    "window_returns",
]
