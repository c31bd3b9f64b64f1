"""Exact integer model of FundingSwaps.vy's settlement arithmetic, to the wei.

Conventions (see the contract's NatSpec): a swap of signed base size ``S`` (1e18) with
``S > 0`` pays fixed and receives floating: ``floor(S * (I1 - I0) / 1e18)`` on the
engine's cumulative funding per unit ``I``; each open adds the fixed flow
``ceil(S * r * P0 / 1e18)`` (1e36 USD per 8h, ``r`` per 8h, ``P0`` the index price at
open) and the swap pays ``ceil(flow * dt / (1e18 * 8h))``. Early close offsets at the
quote ``q``: ``floor(-(flow + ceil(-S * q * P / 1e18)) * (maturity - now) / (1e18 * 8h))``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..protocol.units import WAD, ceil_div
from .exact import FUNDING_PERIOD

FLOW_UNIT = WAD * FUNDING_PERIOD


def fixed_flow(size: int, rate: int, price: int) -> int:
    """Fixed flow an open adds: ceil(size * rate * price / 1e18) (1e36 USD per 8h)."""
    return ceil_div(size * rate * price, WAD)


def accrued(size: int, flow: int, last_index: int, last_time: int, index: int, time: int) -> tuple[int, int]:
    """(floating received, fixed paid) since the last touch, rounded in the protocol's favour."""
    if size == 0 and flow == 0:
        return 0, 0
    return (size * (index - last_index)) // WAD, ceil_div(flow * (time - last_time), FLOW_UNIT)


def unwind(size: int, flow: int, rate: int, price: int, remaining: int) -> int:
    """What an early close pays the holder (negative: what it charges)."""
    return (-(flow + fixed_flow(-size, rate, price)) * remaining) // FLOW_UNIT


@dataclass
class Swap:
    size: int = 0
    fixed_flow: int = 0
    last_index: int = 0
    last_time: int = 0
    notional: int = 0


@dataclass
class Book:
    fixed_rate: int
    total_size: int = 0
    total_flow: int = 0
    sum_size_index: int = 0
    sum_flow_time: int = 0
    final_index: int = 0
    final_time: int = 0

    def pool_unrealized(self, index: int, time: int) -> int:
        """The pool side's unsettled PnL, each leg rounded against the pool."""
        if self.final_time:
            index, time = self.final_index, self.final_time
        floating = self.total_size * index - self.sum_size_index
        fixed = self.total_flow * time - self.sum_flow_time
        return fixed // FLOW_UNIT + (-floating) // WAD


@dataclass
class SwapsModel:
    """One book (a market and a maturity): holders' swaps, margins and the pool side."""

    maturity: int
    book: Book
    swaps: dict[str, Swap] = field(default_factory=dict)
    margin: dict[str, int] = field(default_factory=dict)
    pool_balance: int = 0

    def endpoint(self, index: int, time: int) -> tuple[int, int]:
        if self.book.final_time:
            return self.book.final_index, self.book.final_time
        if time >= self.maturity:
            self.book.final_index, self.book.final_time = index, time
        return index, time

    def settle(self, account: str, index: int, time: int) -> tuple[int, int]:
        swap = self.swaps.setdefault(account, Swap())
        if (swap.size == 0 and swap.fixed_flow == 0) or (index == swap.last_index and time == swap.last_time):
            return 0, 0
        floating, fixed = accrued(swap.size, swap.fixed_flow, swap.last_index, swap.last_time, index, time)
        self.margin[account] = self.margin.get(account, 0) + floating - fixed
        self.pool_balance -= floating - fixed
        self.book.sum_size_index += swap.size * (index - swap.last_index)
        self.book.sum_flow_time += swap.fixed_flow * (time - swap.last_time)
        swap.last_index, swap.last_time = index, time
        return floating, fixed

    def open(self, account: str, size: int, index: int, price: int, time: int) -> int:
        self.settle(account, index, time)
        swap = self.swaps.setdefault(account, Swap())
        flow = fixed_flow(size, self.book.fixed_rate, price)
        if swap.size == 0 and swap.fixed_flow == 0:
            swap.last_index, swap.last_time = index, time
        swap.size += size
        swap.fixed_flow += flow
        swap.notional += -((-abs(size) * price) // WAD)
        self.book.total_size += size
        self.book.total_flow += flow
        self.book.sum_size_index += size * index
        self.book.sum_flow_time += flow * time
        return flow

    def remove(self, account: str, index: int, time: int) -> None:
        swap = self.swaps.pop(account)
        self.book.total_size -= swap.size
        self.book.total_flow -= swap.fixed_flow
        self.book.sum_size_index -= swap.size * index
        self.book.sum_flow_time -= swap.fixed_flow * time

    def close(self, account: str, index: int, price: int, time: int) -> int:
        self.settle(account, index, time)
        swap = self.swaps[account]
        value = unwind(swap.size, swap.fixed_flow, self.book.fixed_rate, price, self.maturity - time)
        self.remove(account, index, time)
        self.margin[account] = self.margin.get(account, 0) + value
        self.pool_balance -= value
        return value

    def settle_touch(self, account: str, index: int, time: int) -> tuple[int, int]:
        """The contract's `settle`: to the endpoint, removing a matured swap."""
        index, time = self.endpoint(index, time)
        out = self.settle(account, index, time)
        if time >= self.maturity:
            self.remove(account, index, time)
        return out

    def pending(self, account: str, index: int, time: int) -> int:
        if self.book.final_time:
            index, time = self.book.final_index, self.book.final_time
        swap = self.swaps.get(account, Swap())
        floating, fixed = accrued(swap.size, swap.fixed_flow, swap.last_index, swap.last_time, index, time)
        return floating - fixed
