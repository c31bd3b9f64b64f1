"""The replay's copy of every account's on-chain state, kept exact by re-reading from the
chain every account that one of the replay's transactions touched, and its evaluation.

Why a copy: reading the health of every account from the chain costs ~30-60 us per
account per step (one or more engine calls each), i.e. ~40 ms per step for 1,000
accounts, which alone would exceed the replay's time budget. Instead:

* every transaction the replay sends is the only way state changes (the replay is the
  only sender on its chain); after it, every account it names -- the sender and every
  account in the topics of the engine's events (``PositionModified``, ``Liquidated``,
  ``FundingSettled``, ``AutoDeleveraged``, ``BadDebtCovered``, ...) -- is marked touched;
* touched accounts are re-read from the chain in batched lens calls (within the step's
  ``EngineLens.step_read``, else ``EngineLens.margins`` and ``EngineLens.positions``),
  so the copy holds chain values, never predictions;
* every ``full_scan_every`` steps and at the end, :meth:`EngineLens.scan_accounts`
  recomputes the sums on-chain over **all** accounts and the replay compares them with
  an exact evaluation of its copy; any difference (a state change the events did not
  reveal, or a difference between the copy's arithmetic and the engine's) is an
  invariant violation ("book drift").

Evaluation at one instant (the step's mark, funding index and risk multiplier, read from
the chain) comes in two forms:

* **exact** (:meth:`AccountBook.evaluate` with ``exact=True``): every position holder's
  equity and maintenance requirement with the exact integer mirror of Engine._health
  (:mod:`vyperp.model` rounding, to the wei). O(accounts) big-integer work (~2 us per
  account).
* **screened** (the per-step default): a vectorised float64 evaluation of every holder
  (numpy) picks the accounts that can matter -- equity under 1.5 x maintenance + 1 USD,
  which includes every liquidatable and every negative-equity account -- and only
  those are evaluated exactly. Sums stay exact where the checks need them: margins and
  open interest are kept as exact running sums; the sum of negative equities is exact
  (only screened accounts can be negative); the sum of positive equities is replaced by
  an exact *upper bound*, ``floor((W * sum(margin) + sum over markets of mark * sum(size)
  - sum(size * entry) + sum(size * funding index) - cumulative * sum(size)) / W) +
  sum(negative equities)``: each account's PnL rounds down and its funding owed rounds
  up, so the exact sum can only be lower (by < 2 wei per position). A solvency check
  that passes with the bound passes exactly; one that does not is redone exactly.
  The float error (~1e-9 USD on a 1e6 USD position) is far inside the 1.5x margin.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .. import model
from ..protocol.units import WAD

FWAD = 1e18
MAX_UINT = 2**256 - 1
SCREEN_RATIO = 1.5  # exact evaluation below 1.5 x maintenance ...
SCREEN_USD = 1.0  # ... + 1 USD of equity


@dataclass
class MarketRules:
    """What a position's maintenance requirement and funding depend on, per market."""

    brackets: list[tuple[int, int, int]]  # (ceiling, im rate, mm rate), 1e18
    tier_notional: int = 0
    tier_multiplier: int = WAD
    apply_to_maintenance: bool = False
    skew_scale: int = 0  # 0: value at the mark (tests of the book alone)
    max_premium: int = 0
    max_pnl_pool_ratio: int = 0  # the PnL-to-pool cap (0 = off)
    adl_pnl_pool_ratio: int = 0  # the PnL-to-pool ADL trigger (0 = off)

    @property
    def single_rate(self) -> int | None:
        """The maintenance rate when there is one bracket (the fast path)."""
        return self.brackets[0][2] if len(self.brackets) == 1 else None


@dataclass
class MarketNow:
    """One market at this instant, read from the chain."""

    index: int
    mark: int
    cumulative: int
    rate: int
    long_oi: int
    short_oi: int
    multiplier: int
    last_price: int = 0
    sum_size_entry: int = 0  # the engine's aggregates (for the side profit)
    long_sum_size_entry: int = 0
    pool_balance: int = 0

    def cap(self, rules: MarketRules) -> int | None:
        """The side-profit cap in force (None = off)."""
        return model.profit_cap(self.pool_balance, rules.max_pnl_pool_ratio)

    def adl_triggered(self, rules: MarketRules) -> bool:
        """Whether a side's profit passes the ADL trigger (Engine._adl_side != 0)."""
        if not rules.adl_pnl_pool_ratio:  # the replay's hot path: skip the aggregates when off
            return False
        return model.adl_side(*self.side_profits(), self.pool_balance, rules.adl_pnl_pool_ratio) != 0

    def side_profits(self) -> tuple[int, int]:
        """(longs' profit, shorts' profit) at the mark, as Engine._side_profit."""
        return model.side_profits(self.long_oi, self.short_oi, self.sum_size_entry, self.long_sum_size_entry, self.mark)


@dataclass
class Evaluation:
    """Sums over all accounts at one instant (1e18 USD)."""

    margin_sum: int = 0
    positive_equity: int = 0  # exact, or an exact upper bound when `bound` is True
    negative_equity: int = 0  # sum of |equity| of accounts with equity < 0 (exact)
    with_positions: int = 0
    long_sizes: list[int] = field(default_factory=list)
    short_sizes: list[int] = field(default_factory=list)
    below_maintenance: list[int] = field(default_factory=list)
    flat_negative: list[int] = field(default_factory=list)
    bound: bool = False
    exact_evaluated: int = 0


class _Floats:
    """Growable float64 columns indexed by account."""

    def __init__(self, n_markets: int):
        self.cap = 0
        self.margin = np.zeros(0)
        self.size = [np.zeros(0) for _ in range(n_markets)]
        self.entry = [np.zeros(0) for _ in range(n_markets)]
        self.findex = [np.zeros(0) for _ in range(n_markets)]
        self.holder = np.zeros(0, dtype=bool)
        self.equity = np.zeros(0)  # wad floats (1e18 = 1 USD) of the last evaluation

    def grow(self, n: int) -> None:
        if n <= self.cap:
            return
        cap = max(n, 2 * self.cap, 64)

        def ext(a: np.ndarray) -> np.ndarray:
            out = np.zeros(cap, dtype=a.dtype)
            out[: len(a)] = a
            return out

        self.margin = ext(self.margin)
        self.size = [ext(a) for a in self.size]
        self.entry = [ext(a) for a in self.entry]
        self.findex = [ext(a) for a in self.findex]
        self.holder = ext(self.holder)
        self.equity = ext(self.equity)
        self.cap = cap


class AccountBook:
    """Per-account margin and positions (exact chain values) and their evaluation."""

    def __init__(self, n_markets: int, rules: list[MarketRules]):
        self.n_markets = n_markets
        self.rules = rules
        self.addresses: list[str] = []
        self.address_words: list[bytes] = []
        self.index_of: dict[str, int] = {}
        self.topic_index: dict[bytes, int] = {}
        self.margin: list[int] = []
        self.size: list[list[int]] = [[] for _ in range(n_markets)]
        self.entry: list[list[int]] = [[] for _ in range(n_markets)]
        self.findex: list[list[int]] = [[] for _ in range(n_markets)]
        self.holders: dict[int, None] = {}  # accounts with a position (insertion-ordered set)
        self.equity: list[int] = []  # exact equity where it was last computed exactly
        self.maintenance: list[int] = []
        self.changed: set[int] = set()  # accounts re-read since the agents last looked
        self.f = _Floats(n_markets)
        # accounts whose health the engine extends beyond their perps (funding swaps): a
        # callback giving {idx: (value, maintenance)} in 1e18 USD at the current block, read
        # at every evaluation; None (the default) changes nothing
        self.overlay: Callable[[], dict[int, tuple[int, int]]] | None = None
        self.overlay_values: dict[int, int] = {}  # the last evaluation's overlay value per account
        self.overlay_below: set[int] = set()  # overlaid accounts below maintenance at the last evaluation
        # exact running sums
        self.margin_sum = 0
        self.holder_margin_sum = 0
        self._flat_positive = 0
        self._flat_negative: dict[int, int] = {}
        self.sum_size = [0] * n_markets
        self.sum_long = [0] * n_markets
        self.sum_short = [0] * n_markets
        self.sum_size_entry = [0] * n_markets
        self.sum_size_findex = [0] * n_markets
        self._fast = (
            n_markets == 1
            and rules[0].single_rate is not None
            and not rules[0].tier_notional
            and not rules[0].skew_scale
        )

    # ---------------------------------------------------------------- accounts
    def add(self, address: str) -> int:
        idx = len(self.addresses)
        self.addresses.append(address)
        word = b"\x00" * 12 + bytes.fromhex(address[2:])
        self.address_words.append(word)
        self.index_of[address] = idx
        self.topic_index[word] = idx
        self.margin.append(0)
        self.equity.append(0)
        self.maintenance.append(0)
        for m in range(self.n_markets):
            self.size[m].append(0)
            self.entry[m].append(0)
            self.findex[m].append(0)
        self.f.grow(idx + 1)
        return idx

    def __len__(self) -> int:
        return len(self.addresses)

    def set_state(self, idx: int, margin: int, positions: list[tuple[int, int, int]]) -> None:
        """Store chain values for one account (positions: one (size, entry, index) per market)."""
        self.changed.add(idx)
        old_margin = self.margin[idx]
        if margin == old_margin:
            for m, (size, entry, findex) in enumerate(positions):
                if size != self.size[m][idx] or entry != self.entry[m][idx] or findex != self.findex[m][idx]:
                    break
            else:
                return  # nothing changed (every derived value stands)
        f = self.f
        holders = self.holders
        if idx in holders:
            self.holder_margin_sum -= old_margin
        elif old_margin > 0:
            self._flat_positive -= old_margin
        elif old_margin < 0:
            self._flat_negative.pop(idx, None)
        self.margin_sum += margin - old_margin
        self.margin[idx] = margin
        f.margin[idx] = margin / FWAD
        holds = False
        for m, (size, entry, findex) in enumerate(positions):
            sizes, entries, findexes = self.size[m], self.entry[m], self.findex[m]
            old = sizes[idx]
            if old:
                self.sum_size[m] -= old
                self.sum_size_entry[m] -= old * entries[idx]
                self.sum_size_findex[m] -= old * findexes[idx]
                if old > 0:
                    self.sum_long[m] -= old
                else:
                    self.sum_short[m] += old
            if size:
                self.sum_size[m] += size
                self.sum_size_entry[m] += size * entry
                self.sum_size_findex[m] += size * findex
                if size > 0:
                    self.sum_long[m] += size
                else:
                    self.sum_short[m] -= size
                holds = True
            sizes[idx] = size
            entries[idx] = entry
            findexes[idx] = findex
            f.size[m][idx] = size / FWAD
            f.entry[m][idx] = entry / FWAD
            f.findex[m][idx] = findex / FWAD
        f.holder[idx] = holds
        if holds:
            holders[idx] = None
            self.holder_margin_sum += margin
        else:
            holders.pop(idx, None)
            self.equity[idx] = margin
            self.maintenance[idx] = 0
            f.equity[idx] = float(margin)
            if margin > 0:
                self._flat_positive += margin
            elif margin < 0:
                self._flat_negative[idx] = margin

    def take_changed(self) -> set[int]:
        changed, self.changed = self.changed, set()
        return changed

    def position(self, idx: int, market: int) -> int:
        return self.size[market][idx]

    # -------------------------------------------------------------- evaluation
    def account_value(self, idx: int, markets: list[MarketNow]) -> tuple[int, int]:
        """(equity, maintenance requirement) exactly as Engine._health computes them (the model's arithmetic)."""
        equity = self.margin[idx]
        maintenance = 0
        for m in range(self.n_markets):
            size = self.size[m][idx]
            if size == 0:
                continue
            now = markets[m]
            rules = self.rules[m]
            equity += self._position_pnl(size, self.entry[m][idx], now, rules)
            owed, surcharge = model.funding_owed(
                size, now.cumulative, self.findex[m][idx], now.index, rules.tier_notional, rules.tier_multiplier
            )
            equity -= max(owed, -max(now.pool_balance, 0)) + surcharge
            maintenance += self._maintenance(size, now, rules)
        return equity, maintenance

    @staticmethod
    def _maintenance(size: int, now: MarketNow, rules: MarketRules) -> int:
        """The position's maintenance requirement (Engine._requirements at the mark)."""
        notional = model.umul_up(abs(size), now.mark)
        return model.requirements(rules.brackets, notional, now.multiplier, rules.apply_to_maintenance)[1]

    @staticmethod
    def _position_pnl(size: int, entry: int, now: MarketNow, rules: MarketRules) -> int:
        """PnL as Engine._health counts it: at the exit price, under the PnL cap."""
        if not rules.skew_scale:
            return model.pnl(size, now.mark, entry)
        skew = now.long_oi - now.short_oi
        return model.position_pnl(
            size,
            entry,
            now.index,
            skew,
            rules.skew_scale,
            rules.max_premium,
            now.cap(rules),
            now.long_sum_size_entry,
            now.long_sum_size_entry - now.sum_size_entry,
            now.long_oi,
            now.short_oi,
        )

    def _float_values(self, markets: list[MarketNow]) -> tuple[np.ndarray, np.ndarray]:
        """(equity, maintenance) of every account slot in USD floats (holders meaningful)."""
        f = self.f
        n = len(self.addresses)
        equity = f.margin[:n].copy()
        maintenance = None
        for m in range(self.n_markets):
            now = markets[m]
            rules = self.rules[m]
            size = f.size[m][:n]
            mark = now.mark / FWAD
            owed = size * (now.cumulative / FWAD - f.findex[m][:n])
            if rules.tier_notional:
                big = np.abs(size) * (now.index / FWAD) > rules.tier_notional / FWAD
                owed = owed + np.where((owed > 0) & big, owed * (rules.tier_multiplier / FWAD - 1.0), 0.0)
            if rules.skew_scale:
                # exit price: index x (1 + (premium(skew) + premium(skew - size)) / 2)
                index = now.index / FWAD
                scale = rules.skew_scale / FWAD
                bound = rules.max_premium / FWAD
                skew = (now.long_oi - now.short_oi) / FWAD
                before = min(max(skew / scale, -bound), bound)
                after = np.clip((skew - size) / scale, -bound, bound)
                pnl = size * (index * (1.0 + (before + after) / 2.0) - f.entry[m][:n])
                cap = now.cap(rules)
                if cap is not None:
                    long_profit, short_profit = now.side_profits()
                    factor_long = min(1.0, cap / long_profit) if long_profit > cap else 1.0
                    factor_short = min(1.0, cap / short_profit) if short_profit > cap else 1.0
                    factor = np.where(size > 0, factor_long, factor_short)
                    pnl = np.where(pnl > 0, pnl * factor, pnl)
            else:
                pnl = size * (mark - f.entry[m][:n])
            equity += pnl - owed
            notional = np.abs(size) * mark
            if len(rules.brackets) == 1:
                # one bracket: clip(notional, 0, inf) * rate, the same floats as the general form
                requirement = notional * (rules.brackets[0][2] / FWAD)
            else:
                requirement = np.zeros(n)
                floor = 0.0
                for k, (ceiling, _im, mm) in enumerate(rules.brackets):
                    top = np.inf if k == len(rules.brackets) - 1 else ceiling / FWAD
                    requirement += np.clip(notional - floor, 0.0, top - floor) * (mm / FWAD)
                    floor = top
            if rules.apply_to_maintenance:
                requirement *= now.multiplier / FWAD
            # (0 + a) + b == a + b exactly: same sums as accumulating from zeros
            maintenance = requirement if maintenance is None else maintenance + requirement
        if maintenance is None:
            maintenance = np.zeros(n)
        return equity, maintenance

    def evaluate(self, markets: list[MarketNow], exact: bool = False) -> Evaluation:
        """Equity of every holder and the sums over every account (see the module docstring)."""
        ev = Evaluation(long_sizes=list(self.sum_long), short_sizes=list(self.sum_short))
        flat_negative = self._flat_negative
        if flat_negative:
            ev.flat_negative = sorted(flat_negative)
        ev.margin_sum = self.margin_sum
        ev.with_positions = len(self.holders)
        flat_neg_sum = -sum(flat_negative.values()) if flat_negative else 0
        extra = self.overlay() if self.overlay is not None else {}
        self.overlay_values = {idx: v for idx, (v, _) in extra.items()}
        if exact:
            positive, negative, below = self._exact_all(markets)
            if extra:
                positive, negative, below = self._apply_overlay(extra, positive, negative, below)
            ev.positive_equity = positive + self._flat_positive
            ev.negative_equity = negative + flat_neg_sum
            ev.below_maintenance = below
            ev.exact_evaluated = len(self.holders)
            return ev
        equity_f, maintenance_f = self._float_values(markets)
        f = self.f
        n = len(self.addresses)
        holder = f.holder[:n]
        np.copyto(f.equity[:n], equity_f * FWAD, where=holder)
        maintenance_f *= SCREEN_RATIO
        maintenance_f += SCREEN_USD
        screened = np.flatnonzero(holder & (equity_f < maintenance_f))
        negative = 0
        below = ev.below_maintenance
        if extra:  # overlaid accounts are valued exactly every time
            screened = np.union1d(screened, np.array([i for i in extra if i in self.holders], dtype=screened.dtype))
        if len(screened):
            equity_of, maintenance_of = self.equity, self.maintenance
            fe = f.equity
            account_value = self.account_value
            for idx in screened.tolist():
                equity, requirement = account_value(idx, markets)
                equity_of[idx] = equity
                maintenance_of[idx] = requirement
                fe[idx] = float(equity)
                if equity < 0:
                    negative -= equity
                if equity < requirement:
                    below.append(idx)
        if extra:
            _, negative, below = self._apply_overlay(extra, 0, negative, below)
            ev.below_maintenance = below
        # exact upper bound of the sum of the holders' equities
        scaled = (
            self.holder_margin_sum * WAD + sum(v for idx, v in self.overlay_values.items() if idx in self.holders) * WAD
        )
        for m in range(self.n_markets):
            now = markets[m]
            scaled += (now.mark - now.cumulative) * self.sum_size[m] - self.sum_size_entry[m] + self.sum_size_findex[m]
        ev.positive_equity = scaled // WAD + negative + self._flat_positive
        ev.negative_equity = negative + flat_neg_sum
        ev.bound = True
        ev.exact_evaluated = len(screened)
        return ev

    def _apply_overlay(
        self, extra: dict[int, tuple[int, int]], positive: int, negative: int, below: list[int]
    ) -> tuple[int, int, list[int]]:
        """Add each overlaid holder's (value, maintenance) to its exact equity and
        requirement (evaluated just before), the sums and the below-maintenance list."""
        listed = set(below)
        self.overlay_below = set()
        for idx, (value, requirement) in extra.items():
            if idx not in self.holders:
                continue
            equity, mm = self.equity[idx], self.maintenance[idx]
            positive -= max(equity, 0)
            negative -= max(-equity, 0)
            equity, mm = equity + value, mm + requirement
            positive += max(equity, 0)
            negative += max(-equity, 0)
            self.equity[idx], self.maintenance[idx] = equity, mm
            self.f.equity[idx] = float(equity)
            if equity < mm:
                listed.add(idx)
                self.overlay_below.add(idx)
            else:
                listed.discard(idx)
        return positive, negative, sorted(listed)

    def _exact_all(self, markets: list[MarketNow]) -> tuple[int, int, list[int]]:
        equity_of = self.equity
        maintenance_of = self.maintenance
        fe = self.f.equity
        positive = 0
        negative = 0
        below: list[int] = []
        if self._fast:
            # one market valued at the mark, one bracket, no size tier: the model's per-position
            # arithmetic (Engine._health) inlined in a tight loop
            now, rules = markets[0], self.rules[0]
            sizes, entries, findexes, margins = self.size[0], self.entry[0], self.findex[0], self.margin
            position_value = model.position_value
            for idx in self.holders:
                size = sizes[idx]
                equity, requirement = position_value(
                    margins[idx],
                    size,
                    entries[idx],
                    findexes[idx],
                    now.mark,
                    now.cumulative,
                    now.pool_balance,
                    rules.brackets,
                    now.multiplier,
                    rules.apply_to_maintenance,
                )
                equity_of[idx] = equity
                maintenance_of[idx] = requirement
                fe[idx] = float(equity)
                if equity > 0:
                    positive += equity
                else:
                    negative -= equity
                if equity < requirement:
                    below.append(idx)
        else:
            for idx in self.holders:
                equity, requirement = self.account_value(idx, markets)
                equity_of[idx] = equity
                maintenance_of[idx] = requirement
                fe[idx] = float(equity)
                if equity > 0:
                    positive += equity
                else:
                    negative -= equity
                if equity < requirement:
                    below.append(idx)
        below.sort()
        return positive, negative, below

    def refresh(self, idx: int, markets: list[MarketNow]) -> None:
        """Recompute one account's equity after its state changed within a step."""
        if idx in self.holders:
            equity, requirement = self.account_value(idx, markets)
            self.equity[idx], self.maintenance[idx] = equity, requirement
            self.f.equity[idx] = float(equity)

    def equity_of(self, idx: int) -> float:
        """The account's equity at the last evaluation (1e18 USD, float; exact where screened)."""
        return float(self.f.equity[idx])


__all__ = ["AccountBook", "Evaluation", "MarketNow", "MarketRules", "WAD"]
