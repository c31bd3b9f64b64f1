"""The replay's ONE adapter to the FundingSwaps contract (issue 14): every call to the
swaps contract goes through :class:`SwapDesk`, so an API change of the contract touches
only this file.

Written against the cross-margined contract (vyperp/contracts/FundingSwaps.vy):

* no own deposit: a swap's collateral is its holder's ENGINE margin (one account: the
  short perp and the receive-fixed swap side by side); a hedger tops its engine margin
  up with ``engine.deposit`` (:meth:`SwapDesk.top_up`);
* the counterparty is the engine's LP pool: every settlement moves money between the
  holder's engine margin and ``pool_balance`` through ``Engine.swap_transfer`` (the
  contract's ``Transferred`` log says what moved); the pool's swap P&L is minus what
  moved to the holders (and the liquidating keepers) plus ``pool_unrealized_total``;
* the quote is the contract's AMM (an EMA of the engine's funding rate + spread, set once
  with ``set_quote_config``): no requote;
* the engine's ``liquidate_many`` skips swap holders: :meth:`SwapDesk.liquidate_due`
  (the keepers' step) calls ``FundingSwaps.liquidate`` on every live holder the contract
  says is ``liquidatable``.

Every transaction is sent through the replay's :class:`~vyperp.sim.chainio.TxSender`
(counted by kind, reverts recorded by reason); the contract's own logs are decoded here
and handed to ``on_event(name, fields)``; the touched holder is marked for the replay's
re-read of the engine's accounts (a swap settlement moves its engine margin).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..chain.abi import make_decoder
from ..model import swaps as sm
from ..protocol.swaps import SwapParams
from ..protocol.units import WAD

MAX_UINT = 2**256 - 1
MAX_FIXED_RATE = 10**16  # FundingSwaps.MAX_FIXED_RATE: |r| <= 1 % per 8 h
INT_MAX = 2**255 - 1
INT_MIN = -(2**255)

EventHandler = Callable[[str, dict[str, Any]], None]


_ACCOUNT_MARGIN = make_decoder(["int256", "uint256", "uint256"])  # FundingSwaps.account_margin


class SwapDesk:
    """Deploy, list, open/close/settle/liquidate hedges and read the pool side of FundingSwaps.

    ``replay`` is the :class:`~vyperp.sim.runner.Replay` (its chain, TxSender, protocol
    ``p``); ``market`` the engine market id of the book; sizes are signed 1e18 base units
    (negative = receive fixed / pay floating: the hedge of a short perp)."""

    def __init__(self, replay: Any, market: int, params: SwapParams, on_event: EventHandler | None = None):
        self.r = replay
        self.market = market
        self.params = params
        self.on_event = on_event
        self.maturity = 0
        self.quote = 0  # the last quote a hedge opened at (or the mark at listing), 1e18 per 8 h
        self.moved: dict[str, int] = {}  # what swap_transfer moved into each account (1e18 USD)
        self.moved_total = 0  # into every account (holders and keepers): minus the pool's realized swap P&L
        self.top_ups: dict[str, int] = {}  # tokens each holder deposited in the engine for its swap
        self.mirror: dict[str, sm.Swap] = {}  # each live swap as on chain (re-read after every touch of it)
        self.liquidations: list[dict[str, Any]] = []  # SwapLiquidated logs
        self.contract: Any = None

    # ------------------------------------------------------------------ setup
    def deploy(self) -> Any:
        """FundingSwaps on the replay's engine, the protocol admin its admin, bound to the
        engine through the configurator (as :func:`vyperp.protocol.swaps.deploy_funding_swaps`,
        sent through the replay's chain)."""
        r = self.r
        p = self.params
        admin = r.p.admin
        c = r.chain.deploy(
            "FundingSwaps", r.engine, p.initial_k, p.maintenance_k, p.time_floor, p.rate_floor, sender=admin
        )
        self.contract = c
        self.address = c.address
        self._calldata: dict[tuple[str, str], bytes] = {}  # (view, account) -> calldata, built once
        for kind, data in (
            ("setup_swap_config", c.set_liquidation_config.calldata(p.reward_rate, p.penalty_rate)),
            (
                "setup_swap_config",
                c.set_open_interest_cap.calldata(p.skew_scale_fraction, p.perp_open_interest_fraction),
            ),
            (
                "setup_swap_config",
                c.set_quote_config.calldata(p.ema_period, p.base_spread, p.skew_slope, p.utilisation_slope),
            ),
        ):
            r.tx.send(kind, admin, self.address, data)
        r.tx.send("setup_swap_bind", admin, r.p.configurator.address, r.p.configurator.set_swaps.calldata(self.address))
        return c

    def top_up(self, account: str, tokens: int) -> bool:
        """Deposit `tokens` into `account`'s engine margin (its swap's collateral)."""
        if tokens <= 0:
            return True
        r = self.r
        if r.tx.send("swap_top_up", account, r.wire.engine_addr, r.engine.deposit.calldata(tokens)) is None:
            return False
        self.top_ups[account] = self.top_ups.get(account, 0) + tokens
        return True

    def list(self, maturity: int) -> bool:
        """List the book maturing at `maturity` (the contract quotes it)."""
        r = self.r
        data = self.contract.list_maturity.calldata(self.market, maturity)
        if self._send("swap_list", r.p.admin, data) is None:
            return False
        self.maturity = maturity
        self.quote = self.mark_rate()
        return True

    # ------------------------------------------------------------------ swaps
    def live(self) -> bool:
        return bool(self.maturity) and self.r.chain.time < self.maturity

    def open_hedge(self, account: str, perp_size: int) -> bool:
        """Open the swap hedging a perp of `perp_size` (signed): a short perp gets a
        receive-fixed (pay-floating) swap of the same size, at the contract's quote of this
        block (its ``quote`` view: the rate limit, so no slippage beyond it)."""
        if not self.live() or perp_size == 0:
            return False
        limit = int(self.contract.quote(account, self.market, self.maturity, perp_size))
        data = self.contract.open.calldata(self.market, self.maturity, perp_size, limit)
        if self._send("swap_open", account, data, account) is None:
            return False
        self.quote = limit
        return True

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

    def liquidatable(self, account: str) -> bool:
        return int.from_bytes(self.r.chain.call(self.address, self._view_calldata("liquidatable", account)), "big") != 0

    def _view_int(self, view: str, *args: Any) -> int:
        """A signed one-word view, its calldata built once."""
        key = (view, repr(args))
        data = self._calldata.get(key)
        if data is None:
            data = self._calldata[key] = getattr(self.contract, view).calldata(*args)
        return int.from_bytes(self.r.chain.call(self.address, data)[:32], "big", signed=True)

    def _view_calldata(self, view: str, account: str) -> bytes:
        key = (view, account)
        data = self._calldata.get(key)
        if data is None:
            data = self._calldata[key] = getattr(self.contract, view).calldata(account)
        return data

    def liquidate(self, account: str, keeper: str) -> bool:
        """``FundingSwaps.liquidate(account)`` from `keeper`: every swap closes at the mark;
        on a shortfall the engine closes the perps in the same transaction."""
        data = self.contract.liquidate.calldata(account)
        return self._send("swap_liquidate", keeper, data, account) is not None

    def liquidate_due(self, holders: list[str], keeper: str) -> list[str]:
        """The keepers' step for swap holders (the engine's liquidate_many skips them):
        liquidate every holder of `holders` with a live swap that the contract says is
        liquidatable now (the caller screens: the replay's book, swaps overlaid, lists the
        holders below maintenance)."""
        done = []
        for account in holders:
            if account in self.mirror and self.liquidatable(account) and self.liquidate(account, keeper):
                done.append(account)
        return done

    # ------------------------------------------------------------------ reads
    def size(self, account: str) -> int:
        if not self.maturity:
            return 0
        return int(self.contract.swaps(account, self.market, self.maturity).size)

    def account_margin(self, account: str) -> tuple[int, int]:
        """(value, maintenance requirement) the engine adds to `account`'s health for its
        swaps (1e18 USD; FundingSwaps.account_margin)."""
        out = self.r.chain.call(self.address, self._view_calldata("account_margin", account))
        value, _initial, maintenance = _ACCOUNT_MARGIN(out)
        return int(value), int(maintenance)

    def mark_rate(self) -> int:
        return self._view_int("mark_rate", self.market)

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

    def pool_unrealized(self) -> int:
        """The pool side's unsettled PnL over every book (1e18 USD, + = holders owe it)."""
        if not self.maturity:
            return 0
        return self._view_int("pool_unrealized_total")

    def pool_pnl(self) -> int:
        """The LP pool's P&L on swaps (1e18 USD): minus what the settlements moved into
        accounts (holders' legs and unwinds, keepers' rewards; penalties count for the pool),
        plus its unsettled PnL on the books."""
        return -self.moved_total + self.pool_unrealized()

    def index_price(self) -> int:
        return int(self.r.engine.index_price(self.market))

    # ------------------------------------------------------------------ internals
    def _send(self, kind: str, sender: str, data: bytes, holder: str | None = None) -> bytes | None:
        r = self.r
        out = r.tx.send(kind, sender, self.address, data)
        if out is None:
            return None
        for event in self.contract.decode_logs(r.chain.last_receipt):
            args = dict(event.args)
            if event.name == "Transferred":
                account, moved = str(args["account"]), int(args["moved"])
                self.moved[account] = self.moved.get(account, 0) + moved
                self.moved_total += moved
                idx = r.tx.index_of.get(account)
                if idx is not None:  # its engine margin moved: the replay re-reads it
                    r.tx.touched.add(idx)
            elif event.name == "SwapLiquidated":
                self.liquidations.append(args)
            if self.on_event is not None:
                self.on_event(event.name, args)
        if holder is not None:  # the touched swap, re-read by field name
            s = self.contract.swaps(holder, self.market, self.maturity)
            if s.size == 0 and s.fixed_flow == 0:
                self.mirror.pop(holder, None)
            else:
                self.mirror[holder] = sm.Swap(int(s.size), int(s.fixed_flow), int(s.last_index), int(s.last_time))
        return out


__all__ = ["MAX_FIXED_RATE", "SwapDesk", "WAD"]
