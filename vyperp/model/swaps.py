"""Exact integer model of FundingSwaps.vy's arithmetic, to the wei.

Conventions (see the contract's NatSpec): a swap of signed base size ``S`` (1e18) with
``S > 0`` pays fixed and receives floating: ``floor(S * (I1 - I0) / 1e18)`` on the
engine's cumulative funding per unit ``I``; each open adds the fixed flow
``ceil(S * r * P0 / 1e18)`` (1e36 USD per 8h, ``r`` per 8h, ``P0`` the index price at
open) and the swap pays ``ceil(flow * dt / (1e18 * 8h))``. Early close offsets at the
mark ``q``: ``floor(-(flow + ceil(-S * q * P / 1e18)) * (maturity - now) / (1e18 * 8h))``.
Every amount the model returns is what the contract settles into the engine through
``Engine.swap_transfer`` (``transfer`` mirrors the engine's side: what the pool pays is
bounded by its cash).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..protocol.units import WAD, ceil_div
from .exact import FUNDING_PERIOD

FLOW_UNIT = WAD * FUNDING_PERIOD
MATURITY_BITS = 2**64


def fixed_flow(size: int, rate: int, price: int) -> int:
    """Fixed flow an open adds: ceil(size * rate * price / 1e18) (1e36 USD per 8h)."""
    return ceil_div(size * rate * price, WAD)


def accrued(size: int, flow: int, last_index: int, last_time: int, index: int, time: int) -> tuple[int, int]:
    """(floating received, fixed paid) since the last touch, rounded in the protocol's favour."""
    if size == 0 and flow == 0:
        return 0, 0
    return (size * (index - last_index)) // WAD, ceil_div(flow * (time - last_time), FLOW_UNIT)


def unwind(size: int, flow: int, rate: int, price: int, remaining: int) -> int:
    """What an early close at `rate` pays the holder (negative: what it charges)."""
    return (-(flow + fixed_flow(-size, rate, price)) * remaining) // FLOW_UNIT


def umul_up(a: int, b: int) -> int:
    return ceil_div(a * b, WAD)


def requirement(
    size: int, flow: int, price: int, remaining: int, rate: int, cap_rate: int, k: int, time_floor: int, rate_floor: int
) -> int:
    """k * |S| * P * max(remaining, floor)/8h * max(|rate|, floor), bounded by the most
    the swap can still lose (funding cap on the notional plus its fixed leg)."""
    notional = umul_up(abs(size), price)
    horizon = max(remaining, time_floor)
    sensitivity = umul_up(umul_up(notional, max(abs(rate), rate_floor)), k)
    req = ceil_div(sensitivity * horizon, FUNDING_PERIOD)
    bound = ceil_div(umul_up(notional, cap_rate) * remaining, FUNDING_PERIOD) + ceil_div(
        abs(flow) * remaining, FLOW_UNIT
    )
    return min(req, bound)


def udiv_up(a: int, b: int) -> int:
    return ceil_div(a * WAD, b)


def tdiv(a: int, b: int) -> int:
    """Integer division rounded toward zero (the EVM's signed division)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def transfer(margin: int, pool: int, amount: int) -> tuple[int, int, int]:
    """The engine's side of swap_transfer: (margin, pool, moved), the pool's payment
    bounded by its cash (before any waterfall)."""
    moved = min(amount, max(pool, 0))
    return margin + moved, pool - moved, moved


@dataclass
class Swap:
    size: int = 0
    fixed_flow: int = 0
    last_index: int = 0
    last_time: int = 0

    @property
    def empty(self) -> bool:
        return self.size == 0 and self.fixed_flow == 0


@dataclass
class Sums:
    total_size: int = 0
    total_flow: int = 0
    sum_size_index: int = 0
    sum_flow_time: int = 0

    def value(self, index: int, time: int) -> int:
        """The pool side's unsettled PnL, each leg rounded against the pool."""
        floating = self.total_size * index - self.sum_size_index
        fixed = self.total_flow * time - self.sum_flow_time
        return fixed // FLOW_UNIT + (-floating) // WAD

    def plus(self, d: Sums) -> Sums:
        return Sums(
            self.total_size + d.total_size,
            self.total_flow + d.total_flow,
            self.sum_size_index + d.sum_size_index,
            self.sum_flow_time + d.sum_flow_time,
        )

    def minus(self, d: Sums) -> Sums:
        return self.plus(Sums(-d.total_size, -d.total_flow, -d.sum_size_index, -d.sum_flow_time))

    def astuple(self) -> tuple[int, int, int, int]:
        return (self.total_size, self.total_flow, self.sum_size_index, self.sum_flow_time)


@dataclass
class Book:
    maturity: int
    sums: Sums = field(default_factory=Sums)
    final_index: int = 0
    final_time: int = 0


@dataclass
class MarginParams:
    initial_k: int
    maintenance_k: int
    time_floor: int
    rate_floor: int
    cap_rate: int  # the market's max funding rate


@dataclass
class QuoteParams:
    ema_period: int
    base_spread: int
    skew_slope: int
    utilisation_slope: int
    skew_scale: int  # the market's


MAX_UINT = 2**256 - 1


@dataclass
class SwapsModel:
    """Every book of one market: holders' swaps, the market's live aggregate and the
    matured bucket. Amounts returned are what settles into the engine."""

    margin: MarginParams
    quote_params: QuoteParams
    books: dict[int, Book] = field(default_factory=dict)  # maturity -> Book
    swaps: dict[tuple[str, int], Swap] = field(default_factory=dict)  # (account, maturity)
    live: Sums = field(default_factory=Sums)
    matured_value: int = 0
    ema: int = 0
    ema_time: int = 0
    gross: int = 0

    # ------------------------------------------------------------ quotes
    def ema_at(self, rate: int, time: int) -> int:
        if self.ema_time == 0:
            return rate
        weight = min((time - self.ema_time) * WAD // self.quote_params.ema_period, WAD)
        return self.ema + tdiv((rate - self.ema) * weight, WAD)

    def touch(self, rate: int, time: int) -> None:
        """A poke by the contract: the EMA moves to `time` toward the engine's `rate`."""
        self.ema, self.ema_time = self.ema_at(rate, time), time

    def quote(self, maturity: int, size: int, gross_after: int, cap: int, mark: int, spot: int) -> int:
        q = self.quote_params
        spread = q.base_spread
        after = self.books[maturity].sums.total_size + size
        if (after > 0 and size > 0) or (after < 0 and size < 0):
            spread += umul_up(q.skew_slope, udiv_up(abs(after), q.skew_scale))
        if cap != MAX_UINT and cap > 0:
            spread += umul_up(q.utilisation_slope, udiv_up(gross_after, cap))
        return max(mark, spot) + spread if size > 0 else min(mark, spot) - spread

    def list(self, maturity: int, rate: int, time: int) -> None:
        self.touch(rate, time)
        self.books[maturity] = Book(maturity)

    def swap(self, account: str, maturity: int) -> Swap:
        return self.swaps.get((account, maturity), Swap())

    def endpoint(self, maturity: int, index: int, time: int) -> tuple[int, int]:
        book = self.books[maturity]
        if book.final_time:
            return book.final_index, book.final_time
        if time >= maturity:
            self.live = self.live.minus(book.sums)
            self.matured_value += book.sums.value(index, time)
            book.final_index, book.final_time = index, time
        return index, time

    def add(self, maturity: int, delta: Sums) -> None:
        book = self.books[maturity]
        before = book.sums
        book.sums = before.plus(delta)
        if not book.final_time:
            self.live = self.live.plus(delta)
        else:
            self.matured_value += book.sums.value(book.final_index, book.final_time) - before.value(
                book.final_index, book.final_time
            )

    def settle(self, account: str, maturity: int, index: int, time: int) -> int:
        swap = self.swap(account, maturity)
        if swap.empty or (index == swap.last_index and time == swap.last_time):
            return 0
        floating, fixed = accrued(swap.size, swap.fixed_flow, swap.last_index, swap.last_time, index, time)
        self.add(maturity, Sums(0, 0, swap.size * (index - swap.last_index), swap.fixed_flow * (time - swap.last_time)))
        swap.last_index, swap.last_time = index, time
        return floating - fixed

    def open(
        self, account: str, maturity: int, size: int, index: int, rate: int, price: int, time: int, cap: int = MAX_UINT
    ) -> tuple[int, int]:
        """(amount settled, fixed rate quoted)."""
        self.touch(rate, time)
        old = self.swap(account, maturity).size
        gross = self.gross + abs(old + size) - abs(old)
        quoted = self.quote(maturity, size, gross, cap, self.ema, rate)
        self.gross = gross
        amount = self.settle(account, maturity, index, time)
        swap = self.swaps.setdefault((account, maturity), Swap())
        flow = fixed_flow(size, quoted, price)
        if swap.empty:
            swap.last_index, swap.last_time = index, time
        swap.size += size
        swap.fixed_flow += flow
        if swap.empty:
            del self.swaps[(account, maturity)]
        self.add(maturity, Sums(size, flow, size * index, flow * time))
        return amount, quoted

    def remove(self, account: str, maturity: int, index: int, time: int) -> None:
        swap = self.swaps.pop((account, maturity))
        self.gross -= abs(swap.size)
        self.add(maturity, Sums(-swap.size, -swap.fixed_flow, -swap.size * index, -swap.fixed_flow * time))

    def close(
        self, account: str, maturity: int, index: int, rate: int, price: int, time: int, cap: int = MAX_UINT
    ) -> tuple[int, int]:
        """(total settled, of which the unwind)."""
        self.touch(rate, time)
        swap = self.swaps[(account, maturity)]
        quoted = self.quote(maturity, -swap.size, self.gross - abs(swap.size), cap, self.ema, rate)
        amount = self.settle(account, maturity, index, time)
        value = min(unwind(swap.size, swap.fixed_flow, quoted, price, maturity - time), 0)  # a gain is forfeited
        self.remove(account, maturity, index, time)
        return amount + value, value

    def settle_touch(self, account: str, maturity: int, index: int, rate: int, time: int) -> int:
        """The contract's `settle`: to the endpoint, removing a matured swap."""
        if not self.books[maturity].final_time:
            self.touch(rate, time)
        index, time = self.endpoint(maturity, index, time)
        out = self.settle(account, maturity, index, time)
        if time >= maturity:
            self.remove(account, maturity, index, time)
        return out

    def liquidate(self, account: str, index: int, rate: int, price: int, time: int) -> tuple[int, int]:
        """(value settled, closed notional) over the account's swaps in this market."""
        value, notional = 0, 0
        for acct, maturity in [k for k in self.swaps if k[0] == account]:
            if not self.books[maturity].final_time:
                self.touch(rate, time)
            i, t = self.endpoint(maturity, index, time)
            value += self.settle(acct, maturity, i, t)
            swap = self.swaps[(acct, maturity)]
            if t < maturity:
                value += min(unwind(swap.size, swap.fixed_flow, self.ema, price, maturity - t), 0)
                notional += umul_up(abs(swap.size), price)
            self.remove(acct, maturity, i, t)
        return value, notional

    def pending(self, account: str, maturity: int, index: int, time: int) -> int:
        book = self.books[maturity]
        if book.final_time:
            index, time = book.final_index, book.final_time
        swap = self.swap(account, maturity)
        floating, fixed = accrued(swap.size, swap.fixed_flow, swap.last_index, swap.last_time, index, time)
        return floating - fixed

    def swap_margin(
        self, account: str, maturity: int, index: int, rate: int, price: int, time: int
    ) -> tuple[int, int, int]:
        """(value at the mark, initial, maintenance) of one swap, as account_margin (the
        mark: the EMA moved to now toward the engine's `rate`, not written)."""
        swap = self.swap(account, maturity)
        if swap.empty:
            return 0, 0, 0
        book = self.books[maturity]
        if book.final_time:
            index, time = book.final_index, book.final_time
        value = self.pending(account, maturity, index, time)
        if time >= maturity:
            return value, 0, 0
        remaining = maturity - time
        mark = self.ema_at(rate, time)
        value += min(unwind(swap.size, swap.fixed_flow, mark, price, remaining), 0)  # gains not counted
        m = self.margin
        reqs = [
            requirement(swap.size, swap.fixed_flow, price, remaining, mark, m.cap_rate, k, m.time_floor, m.rate_floor)
            for k in (m.initial_k, m.maintenance_k)
        ]
        return value, reqs[0], reqs[1]

    def account_margin(self, account: str, index: int, rate: int, price: int, time: int) -> tuple[int, int, int]:
        out = [0, 0, 0]
        for acct, maturity in list(self.swaps):
            if acct == account:
                for i, v in enumerate(self.swap_margin(account, maturity, index, rate, price, time)):
                    out[i] += v
        return out[0], out[1], out[2]

    def pool_unrealized_total(self, index: int, time: int) -> int:
        live = self.live
        nonzero = any(live.astuple())
        return self.matured_value + (live.value(index, time) if nonzero else 0)
