"""Exact fixed-point price paths.

A :class:`PricePath` is the unit every other module of :mod:`oracles` produces or
consumes: a strictly increasing list of unix-second timestamps and, for each, a
price stored as a **1e18 fixed-point integer** ("wad"), so ``1 USD == 10**18``.

Conversion from text never goes through ``float``: :func:`to_wad` reads the
decimal digits of a string/``Decimal`` and scales them by 10**18 with integer
arithmetic.  Inputs with more than 18 decimals are rounded half-to-even (the
only rounding on the text -> wad route); real kline files have at most 8
decimals and convert exactly.

Conventions used throughout the package:

* a path of ``N`` points has ``N`` oracle rounds; "steps" in generators and
  scenarios count points (``len(path) == steps``);
* human-unit prices (``float``, ``int``, ``str`` or ``Decimal`` such as
  ``60000`` or ``"3621.81"``) are accepted by public functions taking a
  *price*; attributes and arguments whose name ends in ``_wad`` are wads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal

WAD: int = 10**18
"""1.0 in 1e18 fixed point."""

PriceLike = int | float | str | Decimal
"""A price in human units (USD per unit of the asset), not a wad."""


def _div_round_half_even(num: int, den: int) -> int:
    """Integer ``num / den`` rounded half-to-even (``den > 0``)."""
    if den <= 0:
        raise ValueError("denominator must be positive")
    q, r = divmod(num, den)  # floor division, 0 <= r < den
    twice = 2 * r
    if twice > den or (twice == den and q % 2 == 1):
        q += 1
    return q


def to_wad(value: PriceLike) -> int:
    """Convert a human-unit number to a 1e18 fixed-point integer.

    ``str`` and ``Decimal`` are converted exactly from their decimal digits
    (rounded half-to-even only beyond 18 decimals).  ``int`` is taken as whole
    units (``to_wad(3) == 3 * WAD``).  ``float`` goes through ``repr`` (the
    shortest decimal that round-trips), so ``to_wad(0.1) == WAD // 10``; use
    strings when the exact digits matter.  ``bool``, NaN and infinities are
    rejected with :class:`ValueError`.
    """
    if isinstance(value, bool):
        raise ValueError(f"not a number: {value!r}")
    if isinstance(value, int):
        return value * WAD
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"not a finite number: {value!r}")
        value = repr(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            dec = Decimal(text)
        except Exception:  # decimal.InvalidOperation and friends
            raise ValueError(f"not a decimal number: {value!r}") from None
    elif isinstance(value, Decimal):
        dec = value
    else:
        raise ValueError(f"not a number: {value!r}")
    if not dec.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    sign, digits, exponent = dec.as_tuple()
    assert isinstance(exponent, int)
    mantissa = int("".join(map(str, digits))) if digits else 0
    shift = exponent + 18
    if shift >= 0:
        out = mantissa * 10**shift
    else:
        out = _div_round_half_even(mantissa, 10 ** (-shift))
    return -out if sign else out


def from_wad(value_wad: int) -> Decimal:
    """Exact ``Decimal`` (human units) of a wad, e.g. ``from_wad(3 * WAD // 2) == Decimal("1.5")``.

    Built from the digits (no context rounding); trailing fractional zeros
    are dropped.
    """
    if value_wad == 0:
        return Decimal(0)
    sign = 1 if value_wad < 0 else 0
    digits = str(abs(value_wad))
    exponent = -18
    while exponent < 0 and len(digits) > 1 and digits.endswith("0"):
        digits = digits[:-1]
        exponent += 1
    return Decimal((sign, tuple(int(c) for c in digits), exponent))


@dataclass
class PricePath:
    """Timestamps (unix seconds, strictly increasing) and wad prices (> 0).

    ``name`` is a short label ("2020-03-12-leg1", "gbm", ...); ``source``
    records where the data came from (file path or generator call).
    """

    timestamps: list[int]
    prices: list[int]
    name: str = ""
    source: str = ""
    meta: dict[str, object] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if len(self.timestamps) != len(self.prices):
            raise ValueError(
                f"PricePath {self.name!r}: {len(self.timestamps)} timestamps but {len(self.prices)} prices"
            )
        if not self.timestamps:
            raise ValueError(f"PricePath {self.name!r}: empty path")
        prev: int | None = None
        for i, (ts, px) in enumerate(zip(self.timestamps, self.prices)):
            if not isinstance(ts, int) or isinstance(ts, bool):
                raise ValueError(f"PricePath {self.name!r}: timestamp #{i} is not an int: {ts!r}")
            if not isinstance(px, int) or isinstance(px, bool):
                raise ValueError(f"PricePath {self.name!r}: price #{i} is not an int wad: {px!r}")
            if px <= 0:
                raise ValueError(f"PricePath {self.name!r}: price #{i} is not positive: {px}")
            if prev is not None and ts <= prev:
                raise ValueError(
                    f"PricePath {self.name!r}: timestamps not strictly increasing at #{i} ({prev} -> {ts})"
                )
            prev = ts

    # ------------------------------------------------------------------ basics
    def __len__(self) -> int:
        return len(self.prices)

    @property
    def start_ts(self) -> int:
        """First timestamp."""
        return self.timestamps[0]

    @property
    def end_ts(self) -> int:
        """Last timestamp."""
        return self.timestamps[-1]

    def _derive(self, timestamps: list[int], prices: list[int], what: str) -> PricePath:
        src = f"{self.source} | {what}" if self.source else what
        return PricePath(list(timestamps), list(prices), self.name, src, dict(self.meta))

    # --------------------------------------------------------------- transforms
    def resample(self, step_seconds: int) -> PricePath:
        """Sample-and-hold onto a regular grid ``start_ts + k * step_seconds``.

        Each grid point takes the last observed price at or before it (causal,
        no look-ahead), so down-sampling keeps closes and up-sampling repeats
        them.  The grid stops at the last grid point ``<= end_ts``.
        """
        if not isinstance(step_seconds, int) or isinstance(step_seconds, bool) or step_seconds <= 0:
            raise ValueError(f"step_seconds must be a positive int, got {step_seconds!r}")
        out_ts: list[int] = []
        out_px: list[int] = []
        j = 0
        n = len(self.timestamps)
        for t in range(self.start_ts, self.end_ts + 1, step_seconds):
            while j + 1 < n and self.timestamps[j + 1] <= t:
                j += 1
            out_ts.append(t)
            out_px.append(self.prices[j])
        return self._derive(out_ts, out_px, f"resample({step_seconds})")

    def slice(self, start_ts: int | None = None, end_ts: int | None = None) -> PricePath:
        """Points with ``start_ts <= ts < end_ts`` (half-open; ``None`` = open end)."""
        lo = self.start_ts if start_ts is None else start_ts
        pairs = [(t, p) for t, p in zip(self.timestamps, self.prices) if t >= lo and (end_ts is None or t < end_ts)]
        if not pairs:
            raise ValueError(f"PricePath {self.name!r}: slice [{start_ts}, {end_ts}) is empty")
        ts, px = zip(*pairs)
        return self._derive(list(ts), list(px), f"slice({start_ts},{end_ts})")

    def head(self, n: int) -> PricePath:
        """The first ``n`` points (``n >= 1``)."""
        if n < 1:
            raise ValueError(f"head(n) needs n >= 1, got {n}")
        if n >= len(self):
            return self
        return self._derive(self.timestamps[:n], self.prices[:n], f"head({n})")

    def rebase(self, first_price: PriceLike) -> PricePath:
        """Scale every price by ``first_price / prices[0]`` (human units).

        Returns are kept up to wad rounding (each price is rounded half-to-even
        to the nearest wei); the first price becomes exactly ``to_wad(first_price)``.
        """
        target = to_wad(first_price)
        if target <= 0:
            raise ValueError(f"rebase price must be positive, got {first_price!r}")
        p0 = self.prices[0]
        prices = [_div_round_half_even(p * target, p0) for p in self.prices]
        if min(prices) <= 0:
            raise ValueError(f"rebase to {first_price!r} underflows to a zero price")
        return self._derive(self.timestamps, prices, f"rebase({first_price})")

    def shift_time(self, start_ts: int) -> PricePath:
        """Same prices and spacing, first timestamp moved to ``start_ts``."""
        d = start_ts - self.start_ts
        return self._derive([t + d for t in self.timestamps], self.prices, f"shift_time({start_ts})")

    def concat(self, other: PricePath) -> PricePath:
        """This path followed by ``other`` (which must start strictly later)."""
        if other.start_ts <= self.end_ts:
            raise ValueError(
                f"cannot concat {other.name!r} starting at {other.start_ts} after {self.name!r} ending at {self.end_ts}"
            )
        return PricePath(
            self.timestamps + other.timestamps,
            self.prices + other.prices,
            f"{self.name}+{other.name}",
            f"concat({self.source!s}; {other.source!s})",
        )

    # ---------------------------------------------------------------- analytics
    def returns(self) -> list[float]:
        """Simple returns ``p[i] / p[i-1] - 1`` (``len(self) - 1`` floats)."""
        return [b / a - 1.0 for a, b in zip(self.prices, self.prices[1:])]

    def log_returns(self) -> list[float]:
        """Log returns ``ln(p[i] / p[i-1])``."""
        return [math.log(b / a) for a, b in zip(self.prices, self.prices[1:])]

    def max_drawdown(self) -> float:
        """Largest peak-to-later-trough fall as a fraction (0.3 == -30%)."""
        peak = self.prices[0]
        worst = 0.0
        for p in self.prices:
            if p > peak:
                peak = p
            else:
                worst = max(worst, (peak - p) / peak)
        return worst

    def max_runup(self) -> float:
        """Largest trough-to-later-peak rise as a fraction (0.25 == +25%)."""
        trough = self.prices[0]
        best = 0.0
        for p in self.prices:
            if p < trough:
                trough = p
            else:
                best = max(best, (p - trough) / trough)
        return best

    def min_price(self) -> int:
        """Lowest wad price."""
        return min(self.prices)

    def max_price(self) -> int:
        """Highest wad price."""
        return max(self.prices)

    # ----------------------------------------------------------------- oracle
    def to_oracle_answers(self, decimals: int = 8) -> list[int]:
        """Prices as Chainlink-style integer answers with ``decimals`` decimals.

        For ``decimals <= 18`` the wad is **truncated** (floor, prices are
        positive): ``answer = price_wad // 10**(18 - decimals)``; e.g. a price of
        3621.8199999999 with 8 decimals gives ``362181999999``.  Real kline
        prices have <= 8 decimals, so for them the answers are exact.  For
        ``decimals > 18`` the wad is multiplied (exact).
        """
        if not isinstance(decimals, int) or isinstance(decimals, bool) or decimals < 0:
            raise ValueError(f"decimals must be a non-negative int, got {decimals!r}")
        if decimals <= 18:
            div = 10 ** (18 - decimals)
            return [p // div for p in self.prices]
        mul = 10 ** (decimals - 18)
        return [p * mul for p in self.prices]

    def prices_decimal(self) -> list[Decimal]:
        """Prices in human units as exact ``Decimal``."""
        return [from_wad(p) for p in self.prices]

    def __repr__(self) -> str:
        return (
            f"PricePath(name={self.name!r}, n={len(self)}, ts={self.start_ts}..{self.end_ts}, "
            f"first={from_wad(self.prices[0])}, last={from_wad(self.prices[-1])})"
        )
