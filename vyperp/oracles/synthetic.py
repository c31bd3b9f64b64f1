"""Deterministic synthetic price paths.

All generators return a :class:`~oracles.pricepath.PricePath` with ``steps``
points (``len(path) == steps``; the first point is exactly ``start_price``)
spaced ``dt_seconds`` apart from ``start_ts``.  Randomness comes only from
``numpy.random.default_rng(seed)`` (PCG64), so the same arguments give the same
path; prices are accumulated in log space with ``math.exp`` and rounded to
1e-8 of a unit (multiples of 1e10 wei), which keeps them identical across
machines in practice and exact as 8-decimal oracle answers.

Units: ``mu`` and ``sigma`` are annualized (365-day year) drift and
volatility of log-price; ``jump_intensity`` is expected jumps per year.
``scripted_shock`` uses plain fractions (``-0.30`` = 30% crash).
"""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np

from .pricepath import PriceLike, PricePath, to_wad

SECONDS_PER_YEAR: int = 365 * 24 * 3600
DEFAULT_START_TS: int = 1_700_000_000
"""2023-11-14T22:13:20Z; generators start here unless told otherwise."""

_QUANTUM = 10**10  # 1e-8 in wad


def _check_int(name: str, value: int, minimum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")


def _check_real(name: str, value: float, minimum: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    v = float(value)
    if not math.isfinite(v) or (minimum is not None and v < minimum):
        raise ValueError(f"{name} must be a finite number >= {minimum}, got {value!r}")
    return v


def _start_wad(start_price: PriceLike) -> int:
    wad = to_wad(start_price)
    if wad < _QUANTUM:
        raise ValueError(f"start_price must be >= 1e-8, got {start_price!r}")
    return wad


def _build(
    start_wad: int, log_offsets: list[float], dt_seconds: int, start_ts: int, name: str, source: str
) -> PricePath:
    """Prices ``start * exp(offset)`` quantized to 1e-8; offset[0] must be 0."""
    prices = [start_wad]
    for off in log_offsets[1:]:
        raw = start_wad * math.exp(off)
        q = max(1, round(raw / _QUANTUM))
        prices.append(q * _QUANTUM)
    timestamps = [start_ts + i * dt_seconds for i in range(len(log_offsets))]
    return PricePath(timestamps, prices, name, source)


def gbm(
    start_price: PriceLike,
    mu: float,
    sigma: float,
    steps: int,
    dt_seconds: int,
    seed: int,
    *,
    start_ts: int = DEFAULT_START_TS,
) -> PricePath:
    """Geometric Brownian motion.

    ``ln S[i+1] = ln S[i] + (mu - sigma**2 / 2) * dt + sigma * sqrt(dt) * Z``
    with ``dt = dt_seconds / SECONDS_PER_YEAR`` and ``Z ~ N(0, 1)``.
    """
    _check_int("steps", steps, 1)
    _check_int("dt_seconds", dt_seconds, 1)
    _check_int("seed", seed, 0)
    mu_f = _check_real("mu", mu)
    sig = _check_real("sigma", sigma, 0.0)
    start = _start_wad(start_price)
    rng = np.random.default_rng(seed)
    dt = dt_seconds / SECONDS_PER_YEAR
    z = rng.standard_normal(steps - 1)
    drift = (mu_f - 0.5 * sig * sig) * dt
    vol = sig * math.sqrt(dt)
    offs = [0.0]
    for zi in z.tolist():
        offs.append(offs[-1] + drift + vol * zi)
    src = f"gbm(start={start_price}, mu={mu}, sigma={sigma}, steps={steps}, dt={dt_seconds}, seed={seed})"
    return _build(start, offs, dt_seconds, start_ts, "gbm", src)


def jump_diffusion(
    start_price: PriceLike,
    mu: float,
    sigma: float,
    jump_intensity: float,
    jump_mean: float,
    jump_std: float,
    steps: int,
    dt_seconds: int,
    seed: int,
    *,
    start_ts: int = DEFAULT_START_TS,
) -> PricePath:
    """Merton jump diffusion.

    Per step: GBM increment plus ``N ~ Poisson(jump_intensity * dt)`` jumps,
    each adding ``J ~ Normal(jump_mean, jump_std)`` to log-price (so
    ``jump_mean = -0.1`` is a ~-9.5% jump).  The drift is compensated by
    ``jump_intensity * (exp(jump_mean + jump_std**2 / 2) - 1)`` so ``mu`` stays
    the expected growth rate.
    """
    _check_int("steps", steps, 1)
    _check_int("dt_seconds", dt_seconds, 1)
    _check_int("seed", seed, 0)
    mu_f = _check_real("mu", mu)
    sig = _check_real("sigma", sigma, 0.0)
    lam = _check_real("jump_intensity", jump_intensity, 0.0)
    jm = _check_real("jump_mean", jump_mean)
    js = _check_real("jump_std", jump_std, 0.0)
    start = _start_wad(start_price)
    rng = np.random.default_rng(seed)
    dt = dt_seconds / SECONDS_PER_YEAR
    n = steps - 1
    z = rng.standard_normal(n).tolist()
    counts = rng.poisson(lam * dt, n).tolist()
    comp = lam * (math.exp(jm + 0.5 * js * js) - 1.0)
    drift = (mu_f - 0.5 * sig * sig - comp) * dt
    vol = sig * math.sqrt(dt)
    offs = [0.0]
    for zi, k in zip(z, counts):
        jump = float(rng.normal(jm * k, js * math.sqrt(k))) if k else 0.0
        offs.append(offs[-1] + drift + vol * zi + jump)
    src = (
        f"jump_diffusion(start={start_price}, mu={mu}, sigma={sigma}, lambda={jump_intensity}, "
        f"jump_mean={jump_mean}, jump_std={jump_std}, steps={steps}, dt={dt_seconds}, seed={seed})"
    )
    path = _build(start, offs, dt_seconds, start_ts, "jump", src)
    path.meta["jumps"] = int(sum(counts))
    return path


def scripted_shock(
    start_price: PriceLike,
    pre_steps: int,
    shock_pct: float,
    shock_steps: int,
    post_steps: int,
    recovery_pct: float,
    dt_seconds: int,
    noise_sigma: float,
    seed: int,
    *,
    pre_drift_pct: float = 0.0,
    start_ts: int = DEFAULT_START_TS,
) -> PricePath:
    """A scripted crash (``shock_pct < 0``) or squeeze (``shock_pct > 0``).

    Backbone, ``pre_steps + shock_steps + post_steps`` points:

    1. pre: ``pre_steps`` points from ``start_price`` drifting log-linearly by
       ``pre_drift_pct`` in total (default 0: flat; ignored if ``pre_steps == 1``)
       to ``P0``;
    2. shock: ``shock_steps`` points moving log-linearly to
       ``P1 = P0 * (1 + shock_pct)`` (reached on the last shock point);
    3. post: ``post_steps`` points moving log-linearly to
       ``P1 + recovery_pct * (P0 - P1)`` (0 = stays at P1, 1 = full recovery,
       for a squeeze "recovery" is the retracement back down).

    Noise: each point after the first is multiplied by ``exp(noise_sigma *
    Z)`` independently (not cumulative), so the shape and the move size are
    kept: ``max_drawdown()`` of a crash is ``-shock_pct`` up to the noise.
    ``shock_pct`` is a fraction (``-0.30`` == 30% crash) and must be > -1.
    """
    _check_int("pre_steps", pre_steps, 1)
    _check_int("shock_steps", shock_steps, 1)
    _check_int("post_steps", post_steps, 0)
    _check_int("dt_seconds", dt_seconds, 1)
    _check_int("seed", seed, 0)
    shock = _check_real("shock_pct", shock_pct)
    if not -1.0 < shock <= 10.0:
        raise ValueError(f"shock_pct must be a fraction in (-1, 10], e.g. -0.30 for a 30% crash; got {shock_pct!r}")
    rec = _check_real("recovery_pct", recovery_pct, 0.0)
    if rec > 1.0:
        raise ValueError(f"recovery_pct must be in [0, 1] (fraction of the move recovered), got {recovery_pct!r}")
    drift = _check_real("pre_drift_pct", pre_drift_pct)
    if drift <= -1.0:
        raise ValueError(f"pre_drift_pct must be > -1, got {pre_drift_pct!r}")
    noise = _check_real("noise_sigma", noise_sigma, 0.0)
    start = _start_wad(start_price)

    pre_end = math.log1p(drift) if pre_steps > 1 else 0.0  # one pre point: no room to drift
    offs: list[float] = [pre_end * i / (pre_steps - 1) if pre_steps > 1 else 0.0 for i in range(pre_steps)]
    trough = pre_end + math.log1p(shock)
    offs += [pre_end + (trough - pre_end) * j / shock_steps for j in range(1, shock_steps + 1)]
    p0 = math.exp(pre_end)
    p1 = math.exp(trough)
    target = math.log(p1 + rec * (p0 - p1))
    if post_steps:
        offs += [trough + (target - trough) * j / post_steps for j in range(1, post_steps + 1)]
    backbone = list(offs)
    if noise > 0:
        rng = np.random.default_rng(seed)
        z = rng.standard_normal(len(offs) - 1).tolist()
        offs = [offs[0]] + [o + noise * zi for o, zi in zip(offs[1:], z)]
    src = (
        f"scripted_shock(start={start_price}, pre={pre_steps}, shock={shock_pct}, shock_steps={shock_steps}, "
        f"post={post_steps}, recovery={recovery_pct}, dt={dt_seconds}, noise={noise_sigma}, seed={seed}, "
        f"pre_drift={pre_drift_pct})"
    )
    path = _build(start, offs, dt_seconds, start_ts, "shock", src)
    path.meta.update(
        {
            "shock_start_index": pre_steps - 1,
            "shock_end_index": pre_steps + shock_steps - 1,
            "backbone": _build(start, backbone, dt_seconds, start_ts, "shock-backbone", src).prices,
        }
    )
    return path
