"""The replay's ONE adapter to the FundingSwaps contract (issue 14): every call to the
swaps contract goes through :class:`SwapDesk`, so an API change of the contract touches
only this file.

Written against the current contract (vyperp/contracts/FundingSwaps.vy, first slice):

* an isolated swap margin per holder: a hedger deposits into the engine (its perp) AND
  into FundingSwaps (:meth:`SwapDesk.fund`); the pool side is funded by swap LPs through
  ``fund_pool`` (:meth:`SwapDesk.fund_pool`);
* the quote is one admin-set fixed rate per maturity; the replay's quote rule lives here
  (:meth:`SwapDesk.requote`: the trailing mean of the engine's funding rate over
  ``window`` steps, minus ``spread`` for the receive-fixed side the hedgers take, clamped
  to the contract's +-1 % per 8 h) and is pushed with ``set_fixed_rate``. When the
  contract's EMA-plus-spread AMM lands, :meth:`requote` becomes a no-op;
* nothing liquidates a swap account yet: :meth:`liquidate` returns False.

Every transaction is sent through the replay's :class:`~vyperp.sim.chainio.TxSender`
(counted by kind, reverts recorded by reason); the contract's own logs are decoded here
and handed to ``on_event(name, fields)`` (the engine's logs are the TxSender's business).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from ..model import swaps as sm
from ..protocol.units import WAD, wad

MAX_UINT = 2**256 - 1
MAX_FIXED_RATE = 10**16  # FundingSwaps.MAX_FIXED_RATE: |r| <= 1 % per 8 h
INT_MAX = 2**255 - 1
INT_MIN = -(2**255)

EventHandler = Callable[[str, dict[str, Any]], None]


class SwapDesk:
    """Deploy, list, fund, open/close/settle hedges and read the pool side of FundingSwaps.

    ``replay`` is the :class:`~vyperp.sim.runner.Replay` (its chain, TxSender, protocol
    ``p``); ``market`` the engine market id of the book; sizes are signed 1e18 base units
    (negative = receive fixed / pay floating: the hedge of a short perp)."""

    def __init__(self, replay: Any, market: int, window: int, spread: float, on_event: EventHandler | None = None):
        self.r = replay
        self.market = market
        self.window = max(1, int(window))
        self.spread = wad(repr(float(spread)))
        self.on_event = on_event
        self.rates: deque[int] = deque(maxlen=self.window)
        self.maturity = 0
        self.quote = 0
        self.funded_pool = 0  # tokens the swap LPs put in (token units)
        self.deposits: dict[str, int] = {}  # tokens each holder put in its swap margin
        self.mirror: dict[str, sm.Swap] = {}  # each live swap as on chain (re-read after every touch of it)
        self.contract: Any = None

    # ------------------------------------------------------------------ setup
    def deploy(self, initial_margin_ratio: float) -> Any:
        """FundingSwaps on the replay's engine and collateral, the protocol admin its admin."""
        r = self.r
        self.contract = r.chain.deploy(
            "FundingSwaps", r.engine, r.token, wad(repr(float(initial_margin_ratio))), sender=r.p.admin
        )
        self.address = self.contract.address
        c = self.contract
        self._cd_pool_balance = c.pool_balance.calldata()
        return self.contract

    def approve(self, account: str) -> None:
        """Let FundingSwaps pull `account`'s collateral (setup)."""
        r = self.r
        r.tx.send("setup_swap_approve", account, r.wire.token_addr, r.token.approve.calldata(self.address, MAX_UINT))

    def fund(self, account: str, tokens: int) -> bool:
        """A holder's margin for its swaps (current API: its own deposit in FundingSwaps)."""
        if tokens <= 0:
            return True
        if self._send("swap_deposit", account, self.contract.deposit.calldata(tokens)) is None:
            return False
        self.deposits[account] = self.deposits.get(account, 0) + tokens
        return True

    def fund_pool(self, account: str, tokens: int) -> bool:
        """The pool side's capital (current API: ``fund_pool`` by an LP)."""
        if self._send("swap_fund_pool", account, self.contract.fund_pool.calldata(tokens)) is None:
            return False
        self.funded_pool += tokens
        return True

    def list(self, maturity: int, rate: int) -> bool:
        """List the book maturing at `maturity` at the fixed rate `rate` (1e18 per 8 h)."""
        r = self.r
        rate = _clamp(rate)
        data = self.contract.list_maturity.calldata(self.market, maturity, rate)
        if self._send("swap_list", r.p.admin, data) is None:
            return False
        self.maturity, self.quote = maturity, rate
        return True

    # ------------------------------------------------------------------ quote
    def observe(self, funding_rate: int) -> None:
        """Feed this step's engine funding rate (1e18 per 8 h) to the quote rule."""
        self.rates.append(int(funding_rate))

    def rule_rate(self) -> int:
        """The quote rule: trailing mean of the observed rates minus the spread, clamped."""
        if not self.rates:
            return self.quote
        mean = sum(self.rates) // len(self.rates)
        return _clamp(mean - self.spread)

    def requote(self) -> bool:
        """Push the rule's rate to the live book if it changed (admin ``set_fixed_rate``)."""
        if not self.maturity or self.r.chain.time >= self.maturity:
            return False
        rate = self.rule_rate()
        if rate == self.quote:
            return False
        data = self.contract.set_fixed_rate.calldata(self.market, self.maturity, rate)
        if self._send("swap_quote", self.r.p.admin, data) is None:
            return False
        self.quote = rate
        return True

    # ------------------------------------------------------------------ swaps
    def live(self) -> bool:
        return bool(self.maturity) and self.r.chain.time < self.maturity

    def open_hedge(self, account: str, perp_size: int) -> bool:
        """Open the swap hedging a perp of `perp_size` (signed): a short perp gets a
        receive-fixed (pay-floating) swap of the same size, at the current quote."""
        if not self.live() or perp_size == 0:
            return False
        limit = self.quote  # the quote of this block: no slippage beyond it
        data = self.contract.open.calldata(self.market, self.maturity, perp_size, limit)
        return self._send("swap_open", account, data, account) is not None

    def close(self, account: str) -> bool:
        """Close `account`'s swap before maturity at the quote (after maturity: settle)."""
        if not self.live():
            return self.settle(account)
        size = self.size(account)
        if size == 0:
            return False
        limit = INT_MAX if size < 0 else INT_MIN  # a receive-fixed close pays the quote: no bound
        data = self.contract.close.calldata(self.market, self.maturity, limit)
        return self._send("swap_close", account, data, account) is not None

    def settle(self, account: str) -> bool:
        """Settle `account`'s swap now (a matured one is removed); anyone may call it, the
        keeper does (sent from the protocol admin here)."""
        data = self.contract.settle.calldata(account, self.market, self.maturity)
        return self._send("swap_settle", self.r.p.admin, data, account) is not None

    def settle_all(self, accounts: list[str]) -> int:
        """Settle every account of `accounts` that holds a swap; returns how many settled."""
        return sum(1 for a in accounts if self.size(a) != 0 and self.settle(a))

    def liquidate(self, account: str) -> bool:
        """No swap liquidation in the current contract (the margin slice adds it)."""
        return False

    # ------------------------------------------------------------------ reads
    def size(self, account: str) -> int:
        if not self.maturity:
            return 0
        return int(self.contract.swaps(account, self.market, self.maturity).size)

    def margin(self, account: str) -> int:
        """The holder's realized swap margin (1e18 USD)."""
        return int(self.contract.margin(account))

    def pending(self, account: str) -> int:
        """What settling `account` now would move into its margin (1e18 USD)."""
        if not self.maturity:
            return 0
        return int(self.contract.pending(account, self.market, self.maturity))

    def pending_at(self, account: str, index: int, time: int) -> int:
        """:meth:`pending` without a chain call, from the mirrored swap and the exact model
        (``index``: the engine's cumulative funding per unit in this block; before the
        maturity snapshot, which the keeper takes on the swaps' last touch)."""
        swap = self.mirror.get(account)
        if swap is None:
            return 0
        floating, fixed = sm.accrued(swap.size, swap.fixed_flow, swap.last_index, swap.last_time, index, time)
        return floating - fixed

    def holder_pnl(self, account: str) -> int:
        """Realized margin + pending - deposits (1e18 USD)."""
        return self.margin(account) + self.pending(account) - self.deposits.get(account, 0) * self.r.precision

    def pool_balance(self) -> int:
        return int.from_bytes(self.r.chain.call(self.address, self._cd_pool_balance)[:32], "big", signed=True)

    def pool_pnl(self) -> int:
        """The pool side's P&L (1e18 USD): its cash minus what it was funded with, plus
        its unsettled PnL on the book."""
        unrealized = int(self.contract.pool_unrealized(self.market, self.maturity)) if self.maturity else 0
        return self.pool_balance() - self.funded_pool * self.r.precision + unrealized

    def index_price(self) -> int:
        return int(self.r.engine.index_price(self.market))

    # ------------------------------------------------------------------ internals
    def _send(self, kind: str, sender: str, data: bytes, holder: str | None = None) -> bytes | None:
        out = self.r.tx.send(kind, sender, self.address, data)
        if out is None:
            return None
        if self.on_event is not None:
            for event in self.contract.decode_logs(self.r.chain.last_receipt):
                self.on_event(event.name, dict(event.args))
        if holder is not None:  # the touched swap, re-read by field name
            s = self.contract.swaps(holder, self.market, self.maturity)
            if s.size == 0 and s.fixed_flow == 0:
                self.mirror.pop(holder, None)
            else:
                self.mirror[holder] = sm.Swap(
                    int(s.size), int(s.fixed_flow), int(s.last_index), int(s.last_time), int(s.notional)
                )
        return out


def _clamp(rate: int) -> int:
    return max(-MAX_FIXED_RATE, min(MAX_FIXED_RATE, int(rate)))


__all__ = ["MAX_FIXED_RATE", "SwapDesk", "WAD"]
