"""The order-book depth calibration (vyperp.sim.depth) against hand-computed rows of the
raw 2025-10-10 bookDepth CSV, and invariants of the shipped calibration."""

from __future__ import annotations

import math

import pytest

from vyperp.sim import depth
from vyperp.sim.depth import Level, Snapshot, fit_depth, load_calibration, side_points

SHARED = depth.SHARED_SOURCE
needs_shared = pytest.mark.skipif(
    not SHARED.exists(), reason=f"{SHARED} absent (CI clones the repository alone; the raw file is not shipped)"
)

# 2025-10-10 00:00:07, the file's first snapshot (consistent: no ghost), USDT notional
BID_0007 = [181266014.3741, 463589665.9671, 779250634.1359, 892953256.8666, 979983314.2056]  # -1..-5 %
ASK_0007 = [239906922.6169, 435823459.6932, 524550400.1639, 650517189.0599, 766746432.071]  # 1..5 %
# 2025-10-10 21:10:06 (ghosted): -5, -4 % rows and the ghost (the -3..-1 % rows), then 1, 2 %
ROWS_2110 = {
    -5: Level(2164.682, 245599819.7888, 113457.690223691),
    -4: Level(1321.756, 150667952.0724, 113990.745699206),
    -3: Level(17.654, 2142547.0931, 121363.265724482),
    -2: Level(17.654, 2142547.0931, 121363.265724482),
    -1: Level(17.654, 2142547.0931, 121363.265724482),
    1: Level(2560.844, 296819450.0387, 115906.884620344),
    2: Level(2949.941, 343341946.594, 116389.428328906),
    3: Level(3161.469, 368909324.2697, 116689.211334889),
    4: Level(3451.266, 404266761.0875, 117135.787588525),
    5: Level(3795.076, 446651361.0441, 117692.336344279),
}


def test_fit_by_hand() -> None:
    # D = sum(x N) / sum(x^2), sum(x^2) = 55 for x = 1..5
    bid = fit_depth([(float(i + 1), n) for i, n in enumerate(BID_0007)])
    assert bid == pytest.approx(216_689_579.04, abs=0.01)
    assert fit_depth([(1.0, 5.0), (2.0, 10.0)]) == pytest.approx(5.0)
    assert fit_depth([]) is None


def test_ghost_reconstruction_by_hand() -> None:
    snap = Snapshot(0, ROWS_2110)
    assert snap.ghost == ROWS_2110[-1]
    m = 115_000.0
    pts = side_points(snap, m)
    assert pts is not None
    mid = (121363.265724482 + m) / 2  # Binance's mid with the ghost as its best bid
    # bids: only the -4 % (x = 1.34 %) and -5 % (2.37 %) edges lie >= 1 % below m, ghost removed
    assert pts["bid"] == [
        pytest.approx((100 * (1 - mid * 0.96 / m), 150667952.0724 - 2142547.0931)),
        pytest.approx((100 * (1 - mid * 0.95 / m), 245599819.7888 - 2142547.0931)),
    ]
    assert pts["bid"][1][0] == pytest.approx(2.3717, abs=1e-4)
    # asks: every edge, measured from m instead of the shifted mid (1 % -> 3.79 %)
    assert [x for x, _ in pts["ask"]] == pytest.approx([100 * (mid * (1 + p / 100) / m - 1) for p in range(1, 6)])
    assert pts["ask"][0] == pytest.approx((3.7943, 296819450.0387), abs=1e-4)
    assert side_points(snap, None) is None  # no market price: not measurable


def test_consistent_snapshot_unchanged() -> None:
    rows = {p: Level(1.0, n, 100.0 + p) for p, n in zip(range(-1, -6, -1), BID_0007)}
    rows |= {p: Level(1.0, n, 100.0 + p) for p, n in zip(range(1, 6), ASK_0007)}
    snap = Snapshot(0, rows)
    assert snap.ghost is None
    pts = side_points(snap, None)
    assert pts is not None
    assert pts["bid"] == [(float(i + 1), n) for i, n in enumerate(BID_0007)]
    assert pts["ask"] == [(float(i + 1), n) for i, n in enumerate(ASK_0007)]


@needs_shared
def test_raw_file_rows() -> None:
    snaps = depth.read_snapshots(SHARED)
    assert len(snaps) == 2879  # 28,790 rows; one timestamp carries a leading space
    first = snaps[0]
    assert [first.rows[p].notional for p in (-1, -2, -3, -4, -5)] == BID_0007
    assert [first.rows[p].notional for p in (1, 2, 3, 4, 5)] == ASK_0007
    by_time = {s.timestamp: s for s in snaps}
    s2110 = by_time[depth._time("2025-10-10 21:10:06")]
    assert s2110.rows == ROWS_2110
    assert depth._time(" 2025-10-10 21:34:32") in by_time


@needs_shared
def test_calibration_reproduces_shipped() -> None:
    shipped = load_calibration()
    assert shipped["source"]["sha256"] == depth.sha256_of(SHARED)
    assert depth.calibrate(SHARED) == shipped


def test_shipped_calibration_invariants() -> None:
    cal = load_calibration()
    assert cal["source"]["file"] == depth.SOURCE_NAME
    assert len(cal["source"]["sha256"]) == 64
    d = cal["depth_per_1pct_usd"]
    chosen = cal["impact_depth_usd"]
    assert chosen == d["window"]["bid"]["median"] == depth.attribution_depth_usd()
    for period in d.values():
        for side in period.values():
            assert side["snapshots"] > 0
            assert 0 < side["min"] <= side["p10"] <= side["median"] <= side["p90"]
    # the book is thinner in the cascade than on the consistent part of the day, both sides
    for side in ("bid", "ask"):
        assert d["window"][side]["median"] < d["consistent"][side]["median"]
    # a BTC book moves by 1 % for tens to hundreds of millions of USD, not thousands or billions
    assert 1e7 < chosen < 1e9 and math.isfinite(chosen)
    ghost = cal["ghost_bid"]
    assert ghost["reconstructed"] + ghost["skipped_no_market_price"] == ghost["snapshots"]
    assert ghost["snapshots"] + d["consistent"]["bid"]["snapshots"] == cal["source"]["snapshots"]
