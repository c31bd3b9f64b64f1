"""Tick trades -> 1-minute klines (the Binance kline layout :func:`load_kline_csv` reads).

Input: a Tardis-style trades CSV (optionally gzipped) with the columns ``exchange,
symbol, timestamp, local_timestamp, id, side, price, amount`` -- ``timestamp`` is the
exchange time in microseconds since the epoch (UTC), ``side`` the taker side
(``buy``/``sell``), ``price`` quote per base, ``amount`` base units.

Aggregation of the minute ``[t, t + 60 s)`` (by the *exchange* timestamp, never the
collector's ``local_timestamp``), trades ordered by ``(timestamp, position in the file)``:

* ``open`` / ``close`` = the price of its first / last trade; ``high`` / ``low`` = the
  largest / smallest trade price;
* ``volume`` = sum of ``amount``; ``quote_volume`` = sum of ``price * amount``;
  ``count`` = number of trades; ``taker_buy_volume`` / ``taker_buy_quote_volume`` = the
  same sums over the trades whose taker side is ``buy``; ``ignore`` = 0;
* a minute without trades carries the previous close forward: open = high = low =
  close = the last trade price before it, every volume and the count 0 (the number of
  such minutes is returned as :attr:`Bars.empty_minutes`).

All sums are exact :class:`~decimal.Decimal` arithmetic on the published decimal text
(no float), written in plain notation. ``open_time`` / ``close_time`` are milliseconds,
``close_time = open_time + 59,999`` (the Binance convention).

Failure modes: :class:`ValueError` (``"<file>:<line>: ..."``) for a missing column, a
non-numeric or non-positive price, a negative amount, an unknown side, or timestamps
going backwards; ``ValueError`` too when no trade precedes the window's first empty
minute (nothing to carry forward).
"""

from __future__ import annotations

import csv
import gzip
import io
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from .sources import KLINE_COLUMNS

MINUTE_MS = 60_000
TRADE_COLUMNS: tuple[str, ...] = ("timestamp", "side", "price", "amount")
"""Columns the aggregation reads (others are ignored)."""


@dataclass(frozen=True)
class Trade:
    """One trade: exchange time (µs), taker side, price and amount (exact decimals)."""

    timestamp_us: int
    side: str
    price: Decimal
    amount: Decimal


@dataclass(frozen=True)
class Bars:
    """The kline rows (strings, in :data:`KLINE_COLUMNS` order) and how they were made."""

    rows: list[list[str]]
    empty_minutes: list[int]  # open_time (ms) of every minute carried forward
    trades_used: int

    def csv_text(self) -> str:
        """The bars as CSV text with a header (``\\n`` line ends)."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(KLINE_COLUMNS)
        writer.writerows(self.rows)
        return out.getvalue()


def _plain(d: Decimal) -> str:
    """A decimal in plain notation without trailing zeros after the point."""
    text = format(d, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def read_trades(path: str | Path) -> list[Trade]:
    """Every trade of a (gzipped) trades CSV, in file order (validated, see the module)."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8", newline="") as fh:  # type: ignore[operator]
            reader = csv.DictReader(fh)
            missing = [c for c in TRADE_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise ValueError(f"{path}:1: missing column(s) {', '.join(missing)} (header: {reader.fieldnames})")
            out: list[Trade] = []
            prev = -1
            for row in reader:
                line = reader.line_num
                try:
                    ts = int(row["timestamp"])
                    price = Decimal(row["price"])
                    amount = Decimal(row["amount"])
                except (ValueError, InvalidOperation):
                    raise ValueError(f"{path}:{line}: bad number in {row!r}") from None
                if not price.is_finite() or price <= 0:
                    raise ValueError(f"{path}:{line}: price must be positive, got {row['price']!r}")
                if not amount.is_finite() or amount < 0:
                    raise ValueError(f"{path}:{line}: amount must be >= 0, got {row['amount']!r}")
                if row["side"] not in ("buy", "sell"):
                    raise ValueError(f"{path}:{line}: side must be buy/sell, got {row['side']!r}")
                if ts < prev:
                    raise ValueError(f"{path}:{line}: timestamps go backwards ({prev} then {ts} µs)")
                prev = ts
                out.append(Trade(ts, row["side"], price, amount))
    except FileNotFoundError:
        raise ValueError(f"{path}: file not found") from None
    return out


def minute_bars(trades: list[Trade], start_ms: int, minutes: int) -> Bars:
    """``minutes`` 1-minute bars from ``start_ms`` (a whole minute, UTC ms) of ``trades``
    (in exchange-time order, as :func:`read_trades` returns them)."""
    if start_ms % MINUTE_MS:
        raise ValueError(f"start_ms must be a whole minute, got {start_ms}")
    if minutes < 1:
        raise ValueError(f"minutes must be >= 1, got {minutes}")
    end_ms = start_ms + minutes * MINUTE_MS
    by_minute: list[list[Trade]] = [[] for _ in range(minutes)]
    last_before: Decimal | None = None
    for t in trades:
        ms = t.timestamp_us // 1000
        if ms < start_ms:
            last_before = t.price
        elif ms < end_ms:
            by_minute[(ms - start_ms) // MINUTE_MS].append(t)
    rows: list[list[str]] = []
    empty: list[int] = []
    prev_close = last_before
    used = 0
    for k, group in enumerate(by_minute):
        open_time = start_ms + k * MINUTE_MS
        if not group:
            if prev_close is None:
                raise ValueError(f"minute {open_time} has no trade and no trade precedes it (nothing to carry)")
            p = _plain(prev_close)
            rows.append([str(open_time), p, p, p, p, "0", str(open_time + MINUTE_MS - 1), "0", "0", "0", "0", "0"])
            empty.append(open_time)
            continue
        used += len(group)
        prices = [t.price for t in group]
        volume = sum((t.amount for t in group), Decimal(0))
        quote = sum((t.price * t.amount for t in group), Decimal(0))
        buys = [t for t in group if t.side == "buy"]
        buy_volume = sum((t.amount for t in buys), Decimal(0))
        buy_quote = sum((t.price * t.amount for t in buys), Decimal(0))
        rows.append(
            [
                str(open_time),
                _plain(prices[0]),
                _plain(max(prices)),
                _plain(min(prices)),
                _plain(prices[-1]),
                _plain(volume),
                str(open_time + MINUTE_MS - 1),
                _plain(quote),
                str(len(group)),
                _plain(buy_volume),
                _plain(buy_quote),
                "0",
            ]
        )
        prev_close = prices[-1]
    return Bars(rows, empty, used)


def main(argv: list[str] | None = None) -> int:
    """``python -m vyperp.oracles.ticks TRADES.csv.gz START_MS MINUTES OUT.csv``: write the
    bars, print the number of trades used and of minutes carried forward."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 4:
        print(main.__doc__, file=sys.stderr)
        return 2
    bars = minute_bars(read_trades(args[0]), int(args[1]), int(args[2]))
    Path(args[3]).write_text(bars.csv_text(), encoding="utf-8")
    print(f"{len(bars.rows)} bars, {bars.trades_used} trades, {len(bars.empty_minutes)} minutes carried forward")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())


__all__ = ["Bars", "Trade", "main", "minute_bars", "read_trades"]
