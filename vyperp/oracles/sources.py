"""Loaders for real and user-supplied price data.

* :func:`load_kline_csv` reads Binance kline CSVs (data.binance.vision layout,
  with or without header) into a :class:`~oracles.pricepath.PricePath`.
* :data:`REAL_WINDOWS` names the crash windows shipped in ``data/`` and
  :func:`load_real` loads one by name (see ``data/README.md`` for provenance).
* :func:`load_user_file` reads a user's own CSV or JSON price series.
* :func:`load_funding_events` reads the realized-funding event windows.

Prices are converted from their decimal text to 1e18 fixed point exactly
(never through ``float``).  Errors in input files raise :class:`ValueError`
whose message starts with ``"<file>:<line>:"``.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from .. import resources
from .pricepath import PricePath, to_wad

DATA_DIR: Path = resources.DATA
"""Directory holding the shipped data (override with ``$VYPERP_DATA_DIR``)."""

KLINE_COLUMNS: tuple[str, ...] = (
    "open_time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "close_time",
    "quote_volume",
    "count",
    "taker_buy_volume",
    "taker_buy_quote_volume",
    "ignore",
)
"""Standard Binance kline columns, used when a file has no header."""

_PERP = "binance_btcusdt_perp_1m_windows"
_COINM = "2025-10-10_binance_gemini"


@dataclass(frozen=True)
class RealWindowInfo:
    """What a shipped window is (see ``data/README.md`` for the full story)."""

    venue: str
    kind: str
    notes: str
    funding_event: str | None = None
    asset: str = "BTC"


REAL_WINDOWS: dict[str, Path] = {
    "2020-03-12-leg1": DATA_DIR / _PERP / "BTCUSDT_perp_1m_2020-03-12_leg1_2020-03-12T1031Z_to_2020-03-12T1517Z.csv",
    "2020-03-12-leg2": DATA_DIR / _PERP / "BTCUSDT_perp_1m_2020-03-12_leg2_2020-03-12T2203Z_to_2020-03-13T0249Z.csv",
    "2021-05-19": DATA_DIR / _PERP / "BTCUSDT_perp_1m_2021-05-19_2021-05-19T1055Z_to_2021-05-19T1523Z.csv",
    "2022-06-18": DATA_DIR / _PERP / "BTCUSDT_perp_1m_2022-06-18_2022-06-18T1945Z_to_2022-06-18T2158Z.csv",
    "2022-11-08": DATA_DIR / _PERP / "BTCUSDT_perp_1m_2022-11-08_2022-11-08T1718Z_to_2022-11-08T2144Z.csv",
    "2025-10-10": DATA_DIR / _PERP / "BTCUSDT_perp_1m_2025-10-10_2025-10-10T1938Z_to_2025-10-10T2359Z.csv",
    "2025-10-09-coinm-day": DATA_DIR / _COINM / "BTCUSD_PERP-1m-2025-10-09.csv",
    "2025-10-10-coinm-day": DATA_DIR / _COINM / "BTCUSD_PERP-1m-2025-10-10.csv",
    "2025-10-10-eth": DATA_DIR / _COINM / "ETHUSD_gemini_spot_1m_2025-10-10T1938Z_to_2025-10-10T2359Z.csv",
}
"""Short name -> shipped 1-minute kline file."""

BTC_WINDOWS: tuple[str, ...] = ()  # filled below from WINDOW_INFO
"""The BTC windows (the sweeps' return pool by default: ETH is another asset)."""

_TRADES = "Binance USDT-M BTCUSDT perpetual, 1m trade klines"
_GEMINI = "Gemini ETHUSD spot, 1m bars aggregated from tick trades (derived, see data/README.md)"
_MARK = "Binance COIN-M BTCUSD_PERP, 1m mark/index-type klines (volume 0, count 60)"

WINDOW_INFO: dict[str, RealWindowInfo] = {
    "2020-03-12-leg1": RealWindowInfo(
        "binance-usdm", _TRADES, "287 bars 10:31-15:17Z; low 5,199.17 @10:48 (wick)", "2020-03-12"
    ),
    "2020-03-12-leg2": RealWindowInfo(
        "binance-usdm", _TRADES, "287 bars 22:03-02:49Z; perp low 3,621.81 @03-13 02:16", "2020-03-12"
    ),
    "2021-05-19": RealWindowInfo("binance-usdm", _TRADES, "269 bars 10:55-15:23Z; low 28,688 @13:10", "2021-05-19"),
    "2022-06-18": RealWindowInfo(
        "binance-usdm", _TRADES, "134 bars 19:45-21:58Z; low 17,593.2 @20:34; only ~3% in-window", "2022-06-13_18"
    ),
    "2022-11-08": RealWindowInfo("binance-usdm", _TRADES, "267 bars 17:18-21:44Z; low 16,830 @19:32", "2022-11-08"),
    "2025-10-10": RealWindowInfo("binance-usdm", _TRADES, "262 bars 19:38-23:59Z; low 101,516.5 @21:20", None),
    "2025-10-09-coinm-day": RealWindowInfo("binance-coinm", _MARK, "1,440 bars, full UTC day before the crash", None),
    "2025-10-10-coinm-day": RealWindowInfo(
        "binance-coinm", _MARK, "1,440 bars, full UTC day; low 102,497.49 @21:20", None
    ),
    "2025-10-10-eth": RealWindowInfo(
        "gemini-spot",
        _GEMINI,
        "262 bars 19:38-23:59Z (the 2025-10-10 BTC window's minutes); low 3,681 @21:14; 3 minutes carried forward",
        None,
        "ETH",
    ),
}

BTC_WINDOWS = tuple(name for name in REAL_WINDOWS if WINDOW_INFO[name].asset == "BTC")

FUNDING_EVENTS_FILE: Path = DATA_DIR / "funding_histories" / "funding_event_windows_utc.csv"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NUMBER_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")

TIMESTAMP_ALIASES: tuple[str, ...] = ("timestamp", "time", "ts", "datetime", "date", "open_time", "unix")
PRICE_ALIASES: tuple[str, ...] = ("price", "close", "value", "answer", "mid")


# --------------------------------------------------------------------- helpers
def parse_timestamp(value: Any) -> int:
    """Unix seconds from seconds / ms / µs / ns numbers or an ISO-8601 string.

    Numbers are told apart by magnitude (``< 1e11`` seconds, ``< 1e14`` ms,
    ``< 1e17`` µs, else ns) and floored to whole seconds.  ISO strings without
    an offset are taken as UTC.  Raises :class:`ValueError` on anything else.
    """
    if isinstance(value, bool):
        raise ValueError(f"bad timestamp {value!r}")
    if isinstance(value, (int, Decimal)):
        num = Decimal(value)
    elif isinstance(value, float):
        num = Decimal(repr(value))
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            raise ValueError("empty timestamp")
        if _NUMBER_RE.match(text):
            num = Decimal(text)
        else:
            try:
                dt = datetime.fromisoformat(text)
            except ValueError:
                raise ValueError(f"bad timestamp {value!r} (expected unix seconds/ms or ISO-8601)") from None
            if dt.tzinfo is None:
                dt = dt.replace(tzinfo=UTC)
            return (dt - _EPOCH) // timedelta(seconds=1)
    else:
        raise ValueError(f"bad timestamp {value!r}")
    if not num.is_finite() or num < 0:
        raise ValueError(f"bad timestamp {value!r} (must be >= 0)")
    if num < Decimal(10) ** 11:
        div = 1
    elif num < Decimal(10) ** 14:
        div = 1000
    elif num < Decimal(10) ** 17:
        div = 1_000_000
    else:
        div = 1_000_000_000
    return int(num // div)


def _parse_price(text: Any) -> int:
    """Positive wad from a decimal string / JSON number; ValueError otherwise."""
    if isinstance(text, bool) or text is None:
        raise ValueError(f"bad price {text!r}")
    if isinstance(text, float):  # only reachable from callers passing floats themselves
        text = repr(text)
    if isinstance(text, str) and not _NUMBER_RE.match(text.strip()):
        raise ValueError(f"bad price {text!r} (not a decimal number)")
    try:
        wad = to_wad(text)
    except (ValueError, InvalidOperation):
        raise ValueError(f"bad price {text!r}") from None
    if wad <= 0:
        raise ValueError(f"price must be positive, got {text!r}")
    return wad


def _pick_column(header: list[str], wanted: str | None, aliases: Iterable[str]) -> int | None:
    """Index of ``wanted`` (or of the first alias present), case-insensitive."""
    norm = [h.strip().lower() for h in header]
    if wanted is not None:
        return norm.index(wanted.lower()) if wanted.lower() in norm else None
    for alias in aliases:
        if alias in norm:
            return norm.index(alias)
    return None


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ValueError(f"{path}: file not found") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def _check_increasing(path: Path, line: int, prev: int | None, ts: int) -> None:
    if prev is not None and ts <= prev:
        raise ValueError(
            f"{path}:{line}: timestamps must be strictly increasing ({prev} then {ts} in unix seconds;"
            " sub-second data collapses to whole seconds, aggregate it first)"
        )


# ---------------------------------------------------------------------- klines
def load_kline_csv(
    path: str | Path,
    column: str = "close",
    *,
    timestamp: str = "auto",
    name: str | None = None,
) -> PricePath:
    """Load one price column of a Binance kline CSV.

    ``column`` is one of ``open``, ``high``, ``low``, ``close``.  ``timestamp``
    chooses the stamp of each bar: ``"open"`` (``open_time``), ``"close"``
    (bar end, ``close_time + 1 ms``, i.e. ``open_time + 60`` for 1m bars) or
    ``"auto"`` (default: bar open for ``column="open"``, bar end otherwise,
    because a close/high/low is only known once the bar has ended — this keeps
    replays free of look-ahead).  Files without a header use
    :data:`KLINE_COLUMNS`.  Times are converted ms -> s (µs also accepted).
    """
    path = Path(path)
    if column not in ("open", "high", "low", "close"):
        raise ValueError(f"column must be open/high/low/close, got {column!r}")
    if timestamp not in ("auto", "open", "close"):
        raise ValueError(f"timestamp must be auto/open/close, got {timestamp!r}")
    stamp = ("open" if column == "open" else "close") if timestamp == "auto" else timestamp
    text = _read_text(path)
    reader = csv.reader(io.StringIO(text))
    rows = [(reader.line_num, r) for r in reader if r and any(c.strip() for c in r)]
    if not rows:
        raise ValueError(f"{path}: empty file")
    first_line, first = rows[0]
    if _NUMBER_RE.match(first[0].strip()):
        header = list(KLINE_COLUMNS)
    else:
        header = [h.strip().lower() for h in first]
        rows = rows[1:]
    if not rows:
        raise ValueError(f"{path}: no data rows after the header")
    for needed in ("open_time", column):
        if needed not in header:
            raise ValueError(f"{path}:{first_line}: missing column {needed!r} (header: {','.join(header)})")
    i_open = header.index("open_time")
    i_px = header.index(column)
    i_close = header.index("close_time") if "close_time" in header else None
    if stamp == "close" and i_close is None:
        raise ValueError(f"{path}:{first_line}: timestamp='close' needs a close_time column")
    need = max(i_open, i_px, i_close or 0) + 1
    timestamps: list[int] = []
    prices: list[int] = []
    prev: int | None = None
    for line, row in rows:
        if len(row) < need:
            raise ValueError(f"{path}:{line}: expected >= {need} fields, got {len(row)}")
        try:
            if stamp == "open":
                ts = parse_timestamp(row[i_open])
            else:
                assert i_close is not None
                raw = Decimal(row[i_close].strip())
                ts = parse_timestamp(raw + 1)  # close_time is the last ms of the bar
            px = _parse_price(row[i_px])
        except (ValueError, InvalidOperation) as exc:
            raise ValueError(f"{path}:{line}: {exc}") from None
        _check_increasing(path, line, prev, ts)
        prev = ts
        timestamps.append(ts)
        prices.append(px)
    return PricePath(
        timestamps,
        prices,
        name or path.stem,
        f"kline:{path.name}:{column}@{stamp}",
        {"file": str(path), "column": column, "timestamp": stamp},
    )


def load_real(name: str, column: str = "close", *, timestamp: str = "auto") -> PricePath:
    """Load a shipped window from :data:`REAL_WINDOWS` by its short name."""
    if name not in REAL_WINDOWS:
        raise ValueError(f"unknown real window {name!r}; known: {', '.join(REAL_WINDOWS)}")
    return load_kline_csv(REAL_WINDOWS[name], column, timestamp=timestamp, name=name)


# ------------------------------------------------------------------- user data
def load_user_file(
    path: str | Path,
    *,
    timestamp_column: str | None = None,
    price_column: str | None = None,
    name: str | None = None,
) -> PricePath:
    """Load a user's price series from CSV (or TSV/;-separated) or JSON.

    CSV: a header row naming a timestamp column (``timestamp``, ``time``,
    ``ts``, ``datetime``, ``date``, ``open_time``, ``unix``) and a price column
    (``price``, ``close``, ``value``, ``answer``, ``mid``), case-insensitive, or
    the names given explicitly; other columns are ignored.  JSON: either a
    list of objects with those keys, or ``{"timestamps": [...], "prices":
    [...]}``.  Timestamps may be unix seconds, ms (µs, ns) or ISO-8601 (UTC if
    no offset); prices are decimal numbers/strings > 0.  Timestamps must be
    strictly increasing.  Errors raise ``ValueError("<file>:<line>: ...")``.
    """
    path = Path(path)
    text = _read_text(path)
    if not text.strip():
        raise ValueError(f"{path}:1: empty file")
    if path.suffix.lower() == ".json" or (
        path.suffix.lower() not in (".csv", ".tsv", ".txt") and text.lstrip()[:1] in "[{"
    ):
        ts, px = _user_json(path, text, timestamp_column, price_column)
    else:
        ts, px = _user_csv(path, text, timestamp_column, price_column)
    return PricePath(ts, px, name or path.stem, f"file:{path}", {"file": str(path)})


def _user_csv(path: Path, text: str, ts_col: str | None, px_col: str | None) -> tuple[list[int], list[int]]:
    lines = text.splitlines()
    header_idx = next(i for i, ln in enumerate(lines) if ln.strip())
    try:
        dialect: Any = csv.Sniffer().sniff(lines[header_idx], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    header: list[str] | None = None
    header_line = 0
    i_ts = i_px = -1
    timestamps: list[int] = []
    prices: list[int] = []
    prev: int | None = None
    for row in reader:
        line = reader.line_num
        if not row or not any(c.strip() for c in row):
            continue
        if header is None:
            header, header_line = row, line
            found_ts = _pick_column(header, ts_col, TIMESTAMP_ALIASES)
            found_px = _pick_column(header, px_col, PRICE_ALIASES)
            cols = ",".join(h.strip() for h in header)
            if found_ts is None:
                want = repr(ts_col) if ts_col else "one of " + "/".join(TIMESTAMP_ALIASES)
                raise ValueError(f"{path}:{line}: missing timestamp column ({want}); header is: {cols}")
            if found_px is None:
                want = repr(px_col) if px_col else "one of " + "/".join(PRICE_ALIASES)
                raise ValueError(f"{path}:{line}: missing price column ({want}); header is: {cols}")
            i_ts, i_px = found_ts, found_px
            continue
        if len(row) <= max(i_ts, i_px):
            raise ValueError(f"{path}:{line}: expected {len(header)} fields, got {len(row)}")
        try:
            ts = parse_timestamp(row[i_ts])
            px = _parse_price(row[i_px])
        except ValueError as exc:
            raise ValueError(f"{path}:{line}: {exc}") from None
        _check_increasing(path, line, prev, ts)
        prev = ts
        timestamps.append(ts)
        prices.append(px)
    if not timestamps:
        raise ValueError(f"{path}:{header_line}: no data rows after the header")
    return timestamps, prices


def _json_item_lines(text: str, open_bracket: int) -> list[int]:
    """1-based line of each element of the JSON array starting at ``open_bracket``."""
    dec = json.JSONDecoder()
    out: list[int] = []
    pos = open_bracket + 1
    ws = " \t\r\n"
    while True:
        while pos < len(text) and text[pos] in ws + ",":
            pos += 1
        if pos >= len(text) or text[pos] == "]":
            return out
        out.append(text.count("\n", 0, pos) + 1)
        try:
            _, pos = dec.raw_decode(text, pos)
        except json.JSONDecodeError:
            return out


def _user_json(path: Path, text: str, ts_col: str | None, px_col: str | None) -> tuple[list[int], list[int]]:
    try:
        data = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg}") from None

    def lines_for(key: str | None) -> list[int]:
        if key is None:
            start = text.find("[")
        else:
            m = re.search(r'"' + re.escape(key) + r'"\s*:\s*\[', text)
            start = m.end() - 1 if m else -1
        return _json_item_lines(text, start) if start >= 0 else []

    def where(lines: list[int], i: int) -> str:
        return f"{path}:{lines[i]}" if i < len(lines) else f"{path}:1"

    pairs: list[tuple[Any, Any]]
    if isinstance(data, list):
        lines = lines_for(None)
        if not data:
            raise ValueError(f"{path}:1: empty file (empty JSON list)")
        pairs = []
        for i, item in enumerate(data):
            if not isinstance(item, dict):
                raise ValueError(f"{where(lines, i)}: item {i} is not an object with timestamp and price")
            keys = list(item)
            k_ts = _pick_column(keys, ts_col, TIMESTAMP_ALIASES)
            k_px = _pick_column(keys, px_col, PRICE_ALIASES)
            if k_ts is None:
                raise ValueError(f"{where(lines, i)}: item {i} has no timestamp key (keys: {', '.join(keys)})")
            if k_px is None:
                raise ValueError(f"{where(lines, i)}: item {i} has no price key (keys: {', '.join(keys)})")
            pairs.append((item[keys[k_ts]], item[keys[k_px]]))
    elif isinstance(data, dict):
        keys = list(data)
        k_ts = _pick_column(keys, ts_col or "timestamps", ("timestamps",))
        k_px = _pick_column(keys, px_col or "prices", ("prices",))
        if k_ts is None or k_px is None:
            missing = "timestamps" if k_ts is None else "prices"
            raise ValueError(
                f'{path}:1: missing key {missing!r} (expected {{"timestamps": [...], "prices": [...]}}; keys: {", ".join(keys)})'
            )
        ts_list, px_list = data[keys[k_ts]], data[keys[k_px]]
        if not isinstance(ts_list, list) or not isinstance(px_list, list):
            raise ValueError(f"{path}:1: 'timestamps' and 'prices' must be lists")
        if len(ts_list) != len(px_list):
            raise ValueError(f"{path}:1: {len(ts_list)} timestamps but {len(px_list)} prices")
        if not ts_list:
            raise ValueError(f"{path}:1: empty file (no timestamps/prices)")
        pairs = list(zip(ts_list, px_list))
        lines = lines_for(keys[k_px])
    else:
        raise ValueError(f"{path}:1: expected a JSON list or object, got {type(data).__name__}")

    timestamps: list[int] = []
    prices: list[int] = []
    prev: int | None = None
    for i, (raw_ts, raw_px) in enumerate(pairs):
        loc = where(lines, i)
        try:
            ts = parse_timestamp(raw_ts)
            px = _parse_price(raw_px)
        except ValueError as exc:
            raise ValueError(f"{loc}: item {i}: {exc}") from None
        if prev is not None and ts <= prev:
            raise ValueError(f"{loc}: item {i}: timestamps must be strictly increasing ({prev} then {ts})")
        prev = ts
        timestamps.append(ts)
        prices.append(px)
    return timestamps, prices


# --------------------------------------------------------------------- funding
@dataclass(frozen=True)
class FundingEvent:
    """One realized funding payment (rate per interval, signed wad: 1e14 == 0.01%)."""

    event: str
    exchange: str
    symbol: str
    timestamp: int
    rate_wad: int
    interval_hours: int
    source_file: str


def load_funding_events(
    path: str | Path | None = None,
    *,
    event: str | None = None,
    exchange: str | None = None,
    symbol: str | None = None,
) -> list[FundingEvent]:
    """Read ``funding_event_windows_utc.csv`` (optionally filtered), sorted by time.

    Rates are per funding interval (8 h, or 1 h for dYdX) converted exactly to
    signed wads; ``timestamp`` is the UTC funding time in unix seconds.
    """
    path = Path(path) if path is not None else FUNDING_EVENTS_FILE
    text = _read_text(path)
    reader = csv.DictReader(io.StringIO(text))
    need = {"event", "exchange", "symbol", "funding_time_utc", "funding_rate", "funding_interval_hours"}
    if reader.fieldnames is None or not need <= set(reader.fieldnames):
        raise ValueError(f"{path}:1: expected columns {sorted(need)}, got {reader.fieldnames}")
    out: list[FundingEvent] = []
    for row in reader:
        if event is not None and row["event"] != event:
            continue
        if exchange is not None and row["exchange"] != exchange:
            continue
        if symbol is not None and row["symbol"] != symbol:
            continue
        try:
            out.append(
                FundingEvent(
                    row["event"],
                    row["exchange"],
                    row["symbol"],
                    parse_timestamp(row["funding_time_utc"]),
                    to_wad(row["funding_rate"]),
                    int(row["funding_interval_hours"]),
                    row.get("source_file") or "",
                )
            )
        except ValueError as exc:
            raise ValueError(f"{path}:{reader.line_num}: {exc}") from None
    out.sort(key=lambda e: (e.timestamp, e.exchange, e.symbol))
    return out
