"""The shipped ETH 1-minute bars (Gemini ETHUSD ticks aggregated by vyperp.oracles.ticks).

Two kinds of tests: invariants of the shipped CSV (no raw data needed, run everywhere),
and a recomputation from the raw tick file, which lives in the shared data set outside
the repository (``$VYPERP_SHARED_DATA`` or ``<repo>/../shared/data``): skipped with the
reason when it is absent (a CI checkout)."""

from __future__ import annotations

import csv
import gzip
import hashlib
from decimal import Decimal
from pathlib import Path

import pytest

from vyperp import resources
from vyperp.oracles.sources import REAL_WINDOWS, load_real
from vyperp.oracles.ticks import Trade, minute_bars, read_trades

ETH = REAL_WINDOWS["2025-10-10-eth"]
BTC = REAL_WINDOWS["2025-10-10"]
RAW_NAME = "2025-10-10_binance_gemini/gemini_trades_2025-10-10_ETHUSD.csv.gz"
RAW_SHA256 = "082ce7d5b679ff853219a431060c7177e53b3f325cfa2186ce96e08a3a629986"
REPO = Path(__file__).resolve().parent.parent
SHARED = resources.SHARED_DATA
RAW = SHARED / RAW_NAME


def _ms(hhmm: str) -> int:
    """2025-10-10THH:MMZ in unix milliseconds."""
    hh, mm = (int(x) for x in hhmm.split(":"))
    return 1_760_054_400_000 + (hh * 60 + mm) * 60_000


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


# ------------------------------------------------------------ shipped bars only
def test_eth_bars_cover_the_btc_window_minute_by_minute() -> None:
    eth, btc = _rows(ETH), _rows(BTC)
    assert [r["open_time"] for r in eth] == [r["open_time"] for r in btc]
    assert len(eth) == 262
    assert load_real("2025-10-10-eth").timestamps == load_real("2025-10-10").timestamps


def test_eth_bars_invariants() -> None:
    rows = _rows(ETH)
    prev_close = None
    empty = []
    for r in rows:
        o, h, lo, c = (Decimal(r[k]) for k in ("open", "high", "low", "close"))
        assert lo <= min(o, c) and max(o, c) <= h and lo > 0
        assert int(r["close_time"]) == int(r["open_time"]) + 59_999
        vol, quote = Decimal(r["volume"]), Decimal(r["quote_volume"])
        buy, buy_quote = Decimal(r["taker_buy_volume"]), Decimal(r["taker_buy_quote_volume"])
        assert 0 <= buy <= vol and 0 <= buy_quote <= quote
        if int(r["count"]) == 0:
            # carried forward: flat at the previous close, no volume
            assert o == h == lo == c == prev_close and vol == quote == 0
            empty.append(r["open_time"])
        else:
            assert vol > 0 and lo * vol <= quote <= h * vol  # VWAP inside the bar
        prev_close = c
    assert empty == [str(_ms(hhmm)) for hhmm in ("20:39", "20:49", "21:21")]
    assert sum(int(r["count"]) for r in rows) == 9518
    assert min(Decimal(r["low"]) for r in rows) == Decimal("3681")


def test_minute_bars_on_hand_built_ticks() -> None:
    t0 = 1_760_125_080_000  # 19:38
    us = 1000
    trades = [
        Trade(t0 * us - 5, "buy", Decimal("10"), Decimal("1")),  # before the window
        Trade(t0 * us + 1, "sell", Decimal("11"), Decimal("2")),
        Trade(t0 * us + 30_000 * us, "buy", Decimal("13"), Decimal("1")),
        Trade(t0 * us + 59_999 * us, "sell", Decimal("9"), Decimal("0.5")),
        # minute 2 empty, minute 3 one trade
        Trade((t0 + 120_000) * us, "buy", Decimal("12.5"), Decimal("4")),
    ]
    bars = minute_bars(trades, t0, 3)
    assert bars.rows[0][1:6] == ["11", "13", "9", "9", "3.5"]
    assert bars.rows[0][7:11] == ["39.5", "3", "1", "13"]
    assert bars.rows[1][1:6] == ["9", "9", "9", "9", "0"] and bars.empty_minutes == [t0 + 60_000]
    assert bars.rows[2][1:5] == ["12.5"] * 4 and bars.trades_used == 4
    with pytest.raises(ValueError, match="nothing to carry"):
        minute_bars(trades[4:], t0 + 60_000, 1)


def test_read_trades_rejects_backwards_time(tmp_path: Path) -> None:
    f = tmp_path / "t.csv"
    f.write_text("timestamp,side,price,amount\n2000,buy,1,1\n1000,buy,1,1\n")
    with pytest.raises(ValueError, match=r"t.csv:3: timestamps go backwards"):
        read_trades(f)


# ------------------------------------------------------------ against raw ticks
raw_needed = pytest.mark.skipif(
    not RAW.exists(), reason=f"raw Gemini ticks not present at {RAW} (shared data set; set VYPERP_SHARED_DATA)"
)


@raw_needed
def test_raw_file_is_the_documented_one() -> None:
    assert hashlib.sha256(RAW.read_bytes()).hexdigest() == RAW_SHA256


@raw_needed
def test_shipped_bars_equal_a_fresh_aggregation() -> None:
    bars = minute_bars(read_trades(RAW), 1_760_125_080_000, 262)
    assert bars.csv_text() == ETH.read_text()
    assert len(bars.empty_minutes) == 3


@raw_needed
@pytest.mark.parametrize("minute", ["21:12", "21:14", "22:07"])
def test_a_minute_recomputed_by_hand(minute: str) -> None:
    """Close = last trade by exchange time, low = min price, volume = sum of amounts,
    recomputed here with plain csv reading (independent of vyperp.oracles.ticks)."""
    start_ms = _ms(minute)
    with gzip.open(RAW, "rt", newline="") as fh:
        trades = [r for r in csv.DictReader(fh) if start_ms <= int(r["timestamp"]) // 1000 < start_ms + 60_000]
    assert trades
    last = max(range(len(trades)), key=lambda i: (int(trades[i]["timestamp"]), i))
    row = next(r for r in _rows(ETH) if int(r["open_time"]) == start_ms)
    assert Decimal(row["close"]) == Decimal(trades[last]["price"])
    assert Decimal(row["low"]) == min(Decimal(t["price"]) for t in trades)
    assert Decimal(row["volume"]) == sum(Decimal(t["amount"]) for t in trades)
    assert int(row["count"]) == len(trades)
