"""Order-book depth calibration of the spot-impact model (:mod:`vyperp.sim.impact`).

Source: Binance USD-M BTCUSDT ``bookDepth`` snapshots of 2025-10-10 (``$VYPERP_SHARED_DATA`` or ``<checkout>/../shared/data/
2025-10-10_binance_gemini/BTCUSDT-bookDepth-2025-10-10.csv``, ~every 30 s): per snapshot
ten cumulative rows, ``percentage`` -5..-1 (bids within x % below the mid) and 1..5 (asks
within x % above), ``depth`` (BTC), ``notional`` (USDT), ``weighted_avg_price``.

The model is linear: a step's flow ``F`` moves log-price by ``0.01 * F / D``, so the
notional resting within ``x`` % of the mid is ``N(x) = D * x``. Per snapshot and side,
``D`` is fitted to the points ``(x, N(x))`` by least squares through the origin,
``D = sum(x N) / sum(x^2)`` (x in %); ``N(1)`` (the notional within 1 %) is kept beside it.

**The ghost bid.** From 15:30:42 on, every snapshot's bid rows hold a level of 17.65 BTC at
121,363.27 (2.14 M USDT) that sits above every ask (its weighted price exceeds the +1 %
row's): a stale, crossed level. Binance's mid for the bands is then ``(ghost + best ask)
/ 2``, several % above the market, so the raw bid rows say "2.1 M USDT within 1 %" and the
ask rows' percentages are measured from the wrong mid. Such a snapshot is *reconstructed*:
the ghost is taken out of the bid rows, the band edges ``M' (1 +/- x %)`` with ``M' = (ghost
+ m) / 2`` are re-expressed relative to the market price ``m`` (the shipped 1-minute
BTCUSDT perp close of the last completed bar, ``load_real("2025-10-10")``, so only
snapshots inside that window, 19:38-23:59, can be), and only points at least
:data:`MIN_POINT_PCT` % from ``m`` are kept (the bar close can be a few tenths of a percent
off the mid of a snapshot taken seconds later). Ghosted snapshots outside the window are
counted and skipped.

:func:`calibrate` returns the calibration dict shipped as ``vyperp/data/depth/
btcusdt_depth_2025-10-10.json`` (``vyperp calibrate-depth`` rewrites it);
:func:`load_calibration` reads the shipped file; :func:`attribution_depth_usd` is the depth
the attribution uses for the real BTC windows.

Failure modes: :class:`DepthError` for a missing or malformed file, a snapshot without its
ten rows, a row that is not numbers, or a calibration with no usable snapshot.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import resources
from .clock import iso_utc

SOURCE_NAME = "BTCUSDT-bookDepth-2025-10-10.csv"
SHARED_SOURCE = resources.SHARED_DATA / "2025-10-10_binance_gemini" / SOURCE_NAME
CALIBRATION_FILE = "btcusdt_depth_2025-10-10.json"
PERCENTAGES = (-5, -4, -3, -2, -1, 1, 2, 3, 4, 5)
MIN_POINT_PCT = 1.0
"""Reconstructed points closer than this (%) to the market price are dropped."""
WORST_MINUTES = 10
"""The cascade's worst minutes: the recorded path's largest fall over this many 1-minute bars."""
CHOSEN = "window"
"""Which measurement the attribution uses as ``impact_depth_usd``: the median bid-side
depth (long liquidations sell into the bids) over the replayed window, 19:38-23:59 (460
snapshots). The worst minutes' bid median is not used: the bid side is measurable there
only while the price was still high (12 of 22 snapshots: later the shifted band edges
fall within 1 % of the market), so that sample is biased to the thicker book."""


class DepthError(ValueError):
    """The depth file or its calibration is unusable (the message says why)."""


@dataclass(frozen=True)
class Level:
    """One cumulative row: BTC, USDT notional, weighted average price."""

    depth: float
    notional: float
    price: float


@dataclass(frozen=True)
class Snapshot:
    """One bookDepth snapshot: unix time and its ten rows by percentage."""

    timestamp: int
    rows: dict[int, Level]

    @property
    def ghost(self) -> Level | None:
        """The crossed bid level (the -1 % row's weighted price at or above the +1 %
        row's), or None when the snapshot is consistent."""
        return self.rows[-1] if self.rows[-1].price >= self.rows[1].price else None


def sha256_of(path: Path) -> str:
    """SHA-256 of a file (hex)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _time(text: str) -> int:
    return int(dt.datetime.strptime(text.strip(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=dt.UTC).timestamp())


def read_snapshots(path: Path) -> list[Snapshot]:
    """The file's snapshots in time order (timestamps may carry stray spaces: one row of
    the 2025-10-10 file starts with one). Raises :class:`DepthError` when the file is
    missing, a row is malformed or a snapshot lacks one of the ten percentages."""
    try:
        fh = open(path, newline="")
    except OSError as exc:
        raise DepthError(f"{path}: {exc}") from exc
    by_time: dict[int, dict[int, Level]] = {}
    with fh:
        reader = csv.DictReader(fh)
        for line, row in enumerate(reader, start=2):
            try:
                ts = _time(row["timestamp"])
                pct = int(row["percentage"])
                level = Level(float(row["depth"]), float(row["notional"]), float(row["weighted_avg_price"]))
            except (KeyError, TypeError, ValueError) as exc:
                raise DepthError(f"{path}:{line}: malformed row {row!r}: {exc}") from exc
            by_time.setdefault(ts, {})[pct] = level
    out = []
    for ts in sorted(by_time):
        rows = by_time[ts]
        if sorted(rows) != list(PERCENTAGES):
            raise DepthError(f"{path}: snapshot {ts} has percentages {sorted(rows)}, expected {list(PERCENTAGES)}")
        out.append(Snapshot(ts, rows))
    if not out:
        raise DepthError(f"{path}: no snapshots")
    return out


def side_points(snap: Snapshot, market_price: float | None) -> dict[str, list[tuple[float, float]]] | None:
    """``{"bid": [(x %, USDT within x %)], "ask": [...]}`` of one snapshot, x ascending.

    A consistent snapshot gives its rows as they are. A ghosted one is reconstructed
    against `market_price` (see the module docstring); without a market price it gives
    None (not measurable)."""
    ghost = snap.ghost
    if ghost is None:
        return {
            "bid": [(float(-p), snap.rows[p].notional) for p in (-1, -2, -3, -4, -5)],
            "ask": [(float(p), snap.rows[p].notional) for p in PERCENTAGES if p > 0],
        }
    if market_price is None or market_price <= 0:
        return None
    m = market_price
    mid = (ghost.price + m) / 2  # Binance's mid with the ghost as the best bid
    bid, ask = [], []
    for p in (-1, -2, -3, -4, -5, 1, 2, 3, 4, 5):  # x ascending on each side
        edge = mid * (1 + p / 100)
        if p < 0:
            x = 100 * (1 - edge / m)
            notional = max(0.0, snap.rows[p].notional - ghost.notional)
            if x >= MIN_POINT_PCT:
                bid.append((x, notional))
        else:
            x = 100 * (edge / m - 1)
            if x >= MIN_POINT_PCT:
                ask.append((x, snap.rows[p].notional))
    return {"bid": bid, "ask": ask}


def fit_depth(points: list[tuple[float, float]]) -> float | None:
    """Least-squares ``D`` of ``N(x) = D x`` through the origin (USD per 1 %), or None
    without points."""
    sxx = sum(x * x for x, _ in points)
    if not points or sxx <= 0:
        return None
    return sum(x * n for x, n in points) / sxx


def _within_one_pct(points: list[tuple[float, float]], consistent: bool) -> float | None:
    if consistent:
        return next(n for x, n in points if x == 1.0)
    return None  # a reconstructed snapshot has no point exactly at 1 %


def _summary(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"snapshots": 0}
    q = statistics.quantiles(values, n=10) if len(values) >= 2 else [values[0]] * 9
    return {
        "snapshots": len(values),
        "median": round(statistics.median(values)),
        "p10": round(q[0]),
        "p90": round(q[-1]),
        "min": round(min(values)),
    }


def _worst_window(timestamps: list[int], prices: list[float], minutes: int) -> tuple[int, int, float]:
    """(start, end, fall) of the largest fall of the recorded path over `minutes` bars."""
    best = (timestamps[0], timestamps[min(minutes, len(prices) - 1)], 0.0)
    for i in range(len(prices)):
        j = min(i + minutes, len(prices) - 1)
        fall = 1 - min(prices[i : j + 1]) / prices[i]
        if fall > best[2]:
            best = (timestamps[i], timestamps[j], fall)
    return best


def calibrate(path: Path = SHARED_SOURCE) -> dict[str, Any]:
    """The calibration dict of the depth file at `path` (see the module docstring).

    Raises :class:`DepthError` for an unusable file, or when the :data:`CHOSEN` period has
    no measurable bid-side snapshot."""
    from vyperp.oracles.pricepath import WAD
    from vyperp.oracles.sources import load_real

    snaps = read_snapshots(path)
    ref = load_real("2025-10-10")
    ref_ts = list(ref.timestamps)
    ref_px = [p / WAD for p in ref.prices]

    def market_price(ts: int) -> float | None:
        # close of the last completed bar (stamped at its end), within the window only
        if ts < ref_ts[0] or ts > ref_ts[-1] + 60:
            return None
        lo, hi = 0, len(ref_ts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if ref_ts[mid] <= ts:
                lo = mid
            else:
                hi = mid - 1
        return ref_px[lo]

    w_start, w_end, w_fall = _worst_window(ref_ts, ref_px, WORST_MINUTES)
    fits: dict[str, dict[str, list[float]]] = {
        period: {"bid": [], "ask": [], "bid_1pct": [], "ask_1pct": []}
        for period in ("consistent", "window", "worst_minutes")
    }
    ghosted = [s for s in snaps if s.ghost is not None]
    skipped = 0
    linearity: list[float] = []
    for s in snaps:
        pts = side_points(s, market_price(s.timestamp))
        if pts is None:
            skipped += 1
            continue
        periods = []
        if s.ghost is None:
            periods.append("consistent")
        if ref_ts[0] - 60 <= s.timestamp <= ref_ts[-1]:
            periods.append("window")
        if w_start - 60 <= s.timestamp <= w_end:
            periods.append("worst_minutes")
        for side in ("bid", "ask"):
            d = fit_depth(pts[side])
            if d is None:
                continue
            one = _within_one_pct(pts[side], s.ghost is None)
            for period in periods:
                fits[period][side].append(d)
                if one is not None:
                    fits[period][f"{side}_1pct"].append(one)
            if s.ghost is None:
                n5 = pts[side][-1]
                n1 = _within_one_pct(pts[side], True)
                if n1:
                    linearity.append(n5[1] / (5 * n1))
    chosen = _summary(fits[CHOSEN]["bid"])
    if not chosen.get("snapshots"):
        raise DepthError(f"{path}: no measurable bid-side snapshot in the {CHOSEN} period")
    first_ghost = ghosted[0].timestamp if ghosted else None
    out: dict[str, Any] = {
        "source": {
            "file": path.name,
            "sha256": sha256_of(path),
            "snapshots": len(snaps),
            "first": iso_utc(snaps[0].timestamp),
            "last": iso_utc(snaps[-1].timestamp),
            "what": "Binance USD-M BTCUSDT bookDepth (data.binance.vision), cumulative notional within x % of mid",
        },
        "model": "N(x) = D * x (x in %, N in USDT): the linear impact of vyperp.sim.impact; D fitted per snapshot "
        "and side by least squares through the origin on x = 1..5 %",
        "ghost_bid": None
        if first_ghost is None
        else {
            "price": round(ghosted[0].ghost.price, 2),  # type: ignore[union-attr]
            "btc": ghosted[0].ghost.depth,  # type: ignore[union-attr]
            "usdt": round(ghosted[0].ghost.notional),  # type: ignore[union-attr]
            "first_seen": iso_utc(first_ghost),
            "snapshots": len(ghosted),
            "reconstructed": len(ghosted) - skipped,
            "skipped_no_market_price": skipped,
        },
        "reference_price": "vyperp load_real('2025-10-10') 1-minute BTCUSDT perp closes, "
        f"{iso_utc(ref_ts[0])} to {iso_utc(ref_ts[-1])}",
        "min_point_pct": MIN_POINT_PCT,
        "worst_minutes": {"start": iso_utc(w_start), "end": iso_utc(w_end), "fall": round(w_fall, 6)},
        "depth_per_1pct_usd": {
            period: {side: _summary(v[side]) for side in ("bid", "ask")} for period, v in fits.items()
        },
        "notional_within_1pct_usd": {
            "consistent": {side: _summary(fits["consistent"][f"{side}_1pct"]) for side in ("bid", "ask")}
        },
        "linearity_n5_over_5n1_median": round(statistics.median(linearity), 4) if linearity else None,
        "chosen": f"{CHOSEN} bid median",
        "impact_depth_usd": chosen["median"],
    }
    return out


def calibration_path() -> Path:
    """Where the shipped calibration lives (inside the package)."""
    return resources.DATA / "depth" / CALIBRATION_FILE


def load_calibration() -> dict[str, Any]:
    """The shipped calibration. Raises :class:`DepthError` if it is missing or has no
    positive ``impact_depth_usd``."""
    path = calibration_path()
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DepthError(f"{path}: cannot read the depth calibration: {exc}") from exc
    depth = data.get("impact_depth_usd")
    if not isinstance(depth, (int, float)) or depth <= 0:
        raise DepthError(f"{path}: impact_depth_usd must be a positive number, got {depth!r}")
    return data


def attribution_depth_usd() -> float:
    """The impact depth (USD per 1 %) the attribution uses for the real BTC windows."""
    return float(load_calibration()["impact_depth_usd"])


def write_calibration(data: dict[str, Any], path: Path | None = None) -> Path:
    """Write `data` as the shipped calibration (or to `path`)."""
    path = path or calibration_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


__all__ = [
    "DepthError",
    "Level",
    "Snapshot",
    "attribution_depth_usd",
    "calibrate",
    "fit_depth",
    "load_calibration",
    "read_snapshots",
    "side_points",
]
