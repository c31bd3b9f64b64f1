"""Stateful fuzzing of FundingSwaps and FundingCaps beside the engine (issue 14): a
sibling of vyperp.fuzz.machine's ProtocolMachine, run by the same `vyperp fuzz` profiles
(`vyperp fuzz --machine swaps`) and by tests/test_fuzz_swaps.py.

The system is the fuzzer's (vyperp.fuzz.machine.fuzz_params: two markets, 18- and
6-decimal feeds) with FundingSwaps bound to the engine (two BTC maturities, one within a
couple of days so examples cross it), FundingCaps (a cap and a floor strip on BTC's
funding-rate index, a writer vault) and a whale whose perp trades push funding both ways.
Rules: swap opens and increases (both directions, sizes up to and one wei over the
open-interest cap, sizes the margin must refuse), reductions by an opposite open, closes,
settles by anyone (holder, keeper, outsider), time across a maturity (exactly at it and
after), swap liquidation when liquidatable and attempts when not (must revert), perp
trades by swap holders, withdrawals of swap holders at and beyond the free margin; cap and
floor purchases (up to the product limit, one over), fixes on time, late and early (must
revert), claims, vault deposits and withdrawals. Every successful swap or cap operation
is mirrored in the exact models (vyperp.model.swaps, vyperp.model.caps) and the chain
must agree to the wei; a revert must carry an allowed reason and change nothing.

Invariants after every step: the engine's conservation to the wei with the swaps in it
(token.balanceOf(engine) * PRECISION == margins + pool_balance + insurance), no account
rests with positions or swaps and a negative margin, the swap model's swaps, book sums,
market aggregates, matured bucket, EMA, gross size, pending and account margin equal the
chain's, each book is zero-sum up to the protocol's rounding (holders' pending + the
pool's side in [-(2n + 2), 0] wei) and what settled is zero-sum to the wei (every
Transferred moved exactly what the pool lost), the swap flag is set exactly when an
account holds swaps; the caps vault's locked <= assets, token balance * PRECISION ==
vault_assets + buyer_reserve, the model agrees and every caplet payoff is within its
maximum.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from ..chain import Reverted
from ..model import caps as cm
from ..model import swaps as sm
from ..protocol.caps import caps_account, deploy_funding_caps
from ..protocol.swaps import SwapParams, deploy_funding_swaps
from ..protocol.system import MAX_UINT, System
from ..protocol.units import WAD, wad
from .machine import event, fuzz_params

BTC = 0
HOLDERS = 4
HOUR = 3_600
DAY = 86_400
TWAP_WINDOW = HOUR
ORACLE = {"Oracle stale", "Oracle price jump"}
ANY_RATE = 10**18  # a slippage bound no quote reaches
_SYSTEMS: dict[str, SwapSystem] = {}


@dataclass
class SwapSystem:
    """The deployed system and the models as they stand at the examples' snapshot."""

    system: System
    swaps: Any
    caps: Any
    holders: list[str]
    whale: str
    keeper: str
    outsider: str
    lp: str
    maturities: list[int]
    swaps_model: sm.SwapsModel
    caps_model: cm.CapsModel
    caps_paid_in: int = 0
    accounts: list[str] = field(default_factory=list)


def swap_params() -> SwapParams:
    """Both open-interest bounds on: 20 % of the skew scale (40 BTC) and 50 % of the perp
    open interest (35 BTC at the start; perp trades move it)."""
    return SwapParams(skew_scale_fraction=wad("0.2"))


def swap_system() -> SwapSystem:
    contracts_dir = os.environ.get("VYPERP_CONTRACTS_DIR", "")
    if contracts_dir in _SYSTEMS:
        return _SYSTEMS[contracts_dir]
    kwargs: dict[str, Any] = {"exact_gas": False}
    if contracts_dir:
        kwargs["contracts_dir"] = contracts_dir
    s = System.deploy(fuzz_params(), backend="revm", **kwargs)
    lp = s.new_trader("lp")
    s.mint(lp, 5_000_000)
    s.pool.deposit(s.tokens(1_000_000), lp, sender=lp)
    holders = [s.new_trader(f"holder{i}", 15_000) for i in range(HOLDERS)]
    whale = s.new_trader("whale", 3_000_000)
    other = s.new_trader("whale2", 3_000_000)
    keeper = s.new_trader("keeper")
    outsider = s.chain.new_account("outsider", eth=10**20)
    # perp open interest so the swaps' perp-OI bound leaves room: 35 BTC long and short
    # (funding starts at the interest rate; 1 BTC of skew is 0.5 % of the skew scale, past
    # the funding cap: the whale's rule pushes it either way in hundredths of a coin)
    s.trade(whale, BTC, wad(35))
    s.trade(other, BTC, -wad(35))
    # an index price with odd digits, so notional-based amounts (reward, penalty, fixed
    # flow) round (a round 100,000 makes |S| * P / 1e18 * rate exact)
    s.advance(60)
    s.set_price(BTC, "100000.123456789")
    s.engine.poke(BTC, sender=keeper)
    params = swap_params()
    swaps = deploy_funding_swaps(s, params)
    now = s.chain.time
    maturities = [now + 3 * DAY, now + 10 * DAY]
    config = s.engine.market_config(BTC)
    model = sm.SwapsModel(
        sm.MarginParams(
            params.initial_k, params.maintenance_k, params.time_floor, params.rate_floor, int(config.max_funding_rate)
        ),
        sm.QuoteParams(
            params.ema_period, params.base_spread, params.skew_slope, params.utilisation_slope, int(config.skew_scale)
        ),
    )
    for maturity in maturities:
        swaps.list_maturity(BTC, maturity, sender=s.admin)
        model.list(maturity, int(s.engine.funding_now(BTC)[1]), s.chain.time)
    caps = deploy_funding_caps(s, TWAP_WINDOW)
    caps_model = cm.CapsModel(precision=s.precision, twap_window=TWAP_WINDOW)
    sigma, spread, min_premium = wad("0.01"), wad("0.1"), wad(1)
    caps.set_volatility(BTC, sigma, sender=s.admin)
    caps.set_pricing(spread, min_premium, sender=s.admin)
    caps_model.volatility[BTC], caps_model.spread, caps_model.min_premium = sigma, spread, min_premium
    cap_rate = int(config.max_funding_rate)
    start = s.chain.time + DAY
    # odd strikes on 5-hour periods: the strike term K * tau rounds (against the buyer)
    for is_floor, strike in ((False, 123_456_789_012_345), (True, -98_765_432_109_877)):
        period, periods, limit = 5 * HOUR, 3, wad(2_000_000)
        caps.list_product(BTC, is_floor, strike, start, period, periods, limit, sender=s.admin)
        payoff = cm.max_payoff(is_floor, strike, cap_rate, period)
        assert payoff is not None
        caps_model.products.append(cm.CapsProduct(BTC, is_floor, strike, start, period, periods, payoff, limit))
        caps_model.observe(BTC, int(s.engine.funding_rate_index(BTC)), s.chain.time)
    for holder in holders:
        s.token.approve(caps, MAX_UINT, sender=holder)
        s.mint(holder, 1_000_000)
    vault_lp = caps_account(s, caps, "vault-lp", 1_000_000)
    caps.deposit(s.tokens(300_000), sender=vault_lp)
    caps_model.deposit(vault_lp, s.tokens(300_000))
    s.advance(TWAP_WINDOW + 60)
    caps.observe(BTC, sender=keeper)
    caps_model.observe(BTC, int(s.engine.funding_rate_index(BTC)), s.chain.time)
    record = SwapSystem(
        s, swaps, caps, holders, whale, keeper, outsider, lp, maturities, model, caps_model, s.tokens(300_000)
    )
    record.accounts = holders + [whale, other, keeper, lp, vault_lp, outsider]
    _SYSTEMS[contracts_dir] = record
    return record


class SwapsMachine(RuleBasedStateMachine):
    """FundingSwaps and FundingCaps under random use; see the module docstring."""

    examples_run = 0
    steps_run = 0
    liquidating_examples: set[int] = set()  # examples in which a swap liquidation went through
    on_example: Any = None

    def __init__(self) -> None:
        super().__init__()
        SwapsMachine.examples_run += 1
        self.r = swap_system()
        s = self.r.system
        self.system = s
        self.snapshot = s.chain.snapshot()
        self.saved_prices = list(s.prices)
        self.model = copy.deepcopy(self.r.swaps_model)
        self.caps_model = copy.deepcopy(self.r.caps_model)
        self.caps_in = self.r.caps_paid_in  # tokens into the caps contract (deposits, premiums)
        self.caps_out = 0  # tokens out (withdrawals, claims)
        self.owed_to_holders = 0  # sum of the model's settlement amounts (holders' swap P&L as owed)
        self.settled_to_holders = 0  # sum of every Transferred's `moved` (holders' settled swap P&L)
        self.unpaid = 0  # what the pool's cash bound held back (amount - moved)
        self.pool_swap_flow = 0  # the pool balance's change over swap transactions
        self.vault_accounts = self.r.holders + [self.r.accounts[-2]]

    def teardown(self) -> None:
        self.system.chain.revert(self.snapshot)
        self.system.prices = self.saved_prices
        if SwapsMachine.on_example is not None:
            SwapsMachine.on_example()

    # ---------------------------------------------------------------- reads
    def index(self) -> int:
        return int(self.system.engine.funding_now(BTC)[0])

    def rate(self) -> int:
        return int(self.system.engine.funding_now(BTC)[1])

    def price(self) -> int:
        return int(self.system.engine.index_price(BTC))

    def now(self) -> int:
        return int(self.system.chain.time)

    def prices_ok(self) -> bool:
        try:
            for market in range(len(self.system.prices)):
                self.system.engine.index_price(market)
            return True
        except Reverted:
            return False

    def oi_cap(self) -> int:
        """FundingSwaps._open_interest_cap, from its parameters and the engine's OI."""
        sw, cap = self.r.swaps, MAX_UINT
        if int(sw.skew_scale_fraction()):
            cap = int(sw.market_params(BTC).skew_scale) * int(sw.skew_scale_fraction()) // WAD
        if int(sw.perp_open_interest_fraction()):
            state = self.system.engine.market_state(BTC)
            oi = int(state.long_open_interest) + int(state.short_open_interest)
            cap = min(cap, oi * int(sw.perp_open_interest_fraction()) // WAD)
        return cap

    def books(self) -> tuple:
        """Everything a reverted call must leave as it was."""
        s, sw, c = self.system, self.r.swaps, self.r.caps
        return (
            [int(s.engine.margin(a)) for a in self.r.accounts],
            [int(s.engine.open_markets(a)) for a in self.r.accounts],
            [tuple(s.engine.position(a, BTC)) for a in self.r.accounts],
            int(s.engine.pool_balance()),
            int(s.engine.insurance_fund()),
            [int(s.token.balanceOf(a)) for a in self.r.accounts],
            [tuple(sw.swaps(a, BTC, m)) for a in self.r.holders for m in self.r.maturities],
            [tuple(sw.books(BTC, m)) for m in self.r.maturities],
            tuple(sw.live_sums(BTC)),
            int(sw.matured_value()),
            tuple(sw.rate_ema(BTC)),
            (int(c.vault_assets()), int(c.vault_locked()), int(c.total_shares()), int(c.buyer_reserve())),
            [tuple(c.products(i)) for i in range(len(self.caps_model.products))],
            int(s.token.balanceOf(c)),
        )

    def attempt(self, label: str, action: Any, allowed: set[str]) -> str | None:
        """Run `action`: None on success; a revert must carry an allowed reason and change
        nothing (its reason is returned)."""
        before = self.books()
        pool = int(self.system.engine.pool_balance())
        try:
            action()
        except Reverted as exc:
            event(f"{label}: revert {exc.reason}")
            assert exc.reason in allowed, f"{label}: unexpected revert {exc.reason!r} (allowed {sorted(allowed)})"
            assert self.books() == before, f"{label}: a reverted call ({exc.reason}) changed state"
            return exc.reason
        event(f"{label}: ok")
        self._pool_before = pool
        return None

    def events(self, name: str) -> list[dict]:
        return [dict(e.args) for e in self.system.chain.last_receipt.logs if e.name == name]

    def transferred(self, label: str, expected: list[tuple[str, int]], pool_before: int) -> None:
        """The swap transaction's Transferred events are the model's amounts; each moved
        min(amount, pool cash); the pool lost exactly what the holders received."""
        got = self.events("Transferred")
        assert [(t["account"], t["amount"]) for t in got] == expected, f"{label}: settled off-model"
        cash = pool_before
        for t in got:
            moved = min(t["amount"], max(cash, 0))
            assert t["moved"] == moved, f"{label}: moved {t['moved']}, the pool's cash bounds it at {moved}"
            cash -= moved
            self.owed_to_holders += t["amount"]
            self.settled_to_holders += t["moved"]
            self.unpaid += t["amount"] - t["moved"]
        if self.events("BadDebtCovered") or self.events("Liquidated"):
            # the waterfall / a bankrupt perp close also moved the pool (conservation checks
            # that money); the swaps' own part is what the transfers moved
            self.pool_swap_flow += cash - pool_before
            event(f"{label}: through the waterfall")
        else:
            assert int(self.system.engine.pool_balance()) == cash, f"{label}: the pool moved off the transfers"
            self.pool_swap_flow += int(self.system.engine.pool_balance()) - pool_before

    # ---------------------------------------------------------------- rules: swaps
    @rule(
        who=st.integers(0, HOLDERS - 1),
        which=st.integers(0, 1),
        direction=st.sampled_from([1, -1]),
        centi=st.integers(1, 1_200),
    )
    def open_swap(self, who: int, which: int, direction: int, centi: int) -> None:
        """Open, increase or reduce (an opposite open) a swap of centi/100 BTC; the large
        ones are for the margin and the OI cap to refuse."""
        self._open(who, which, direction * centi * WAD // 100, "open")

    @rule(
        who=st.integers(0, HOLDERS - 1), which=st.integers(0, 1), direction=st.sampled_from([1, -1]), over=st.booleans()
    )
    def open_to_the_cap(self, who: int, which: int, direction: int, over: bool) -> None:
        """Increase to exactly the open-interest cap (allowed: margin permitting) or one
        wei over it (must revert "Swap open interest cap")."""
        sw = self.r.swaps
        holder, maturity = self.r.holders[who], self.r.maturities[which]
        old = int(sw.swaps(holder, BTC, maturity).size)
        if old * direction < 0:
            return
        room = self.oi_cap() - int(sw.market_params(BTC).gross_size)
        if room < 0 or (room == 0 and not over):
            return  # the cap fell under the gross OI (perp OI shrank): only reductions fit
        size = direction * (room + (1 if over else 0))
        if size == 0:
            return
        reason = self._open(who, which, size, "open to the cap" + (" +1" if over else ""))
        if over and self.now() < maturity:
            assert reason in ORACLE | {"Swap open interest cap", "Expired"}, f"an open past the OI cap: {reason!r}"

    @rule(
        who=st.integers(0, HOLDERS - 1),
        which=st.integers(0, 1),
        direction=st.sampled_from([1, -1]),
        pct=st.integers(50, 99),
    )
    def open_near_the_margin_limit(self, who: int, which: int, direction: int, pct: int) -> None:
        """Open a swap using pct % of the free margin (the initial requirement at the mark):
        the account then sits close enough to maintenance for funding moves to make it
        liquidatable."""
        s, sw = self.system, self.r.swaps
        holder, maturity = self.r.holders[who], self.r.maturities[which]
        if not self.prices_ok() or self.now() >= maturity:
            return
        health = s.engine.account_health(holder)
        free = int(health.equity) - int(health.initial_margin)
        if free <= 0:
            return
        horizon = max(maturity - self.now(), int(sw.time_floor()))
        rate = max(abs(int(sw.mark_rate(BTC))), int(sw.rate_floor()))
        per_coin = int(sw.initial_k()) * self.price() // WAD * horizon // (8 * HOUR) * rate // WAD
        size = direction * free * pct // 100 * WAD // max(per_coin, 1)
        if size:
            self._open(who, which, size, "open near the margin limit")

    def _open(self, who: int, which: int, size: int, label: str) -> str | None:
        s, sw = self.system, self.r.swaps
        holder, maturity = self.r.holders[who], self.r.maturities[which]
        old = int(sw.swaps(holder, BTC, maturity).size)
        gross = int(sw.market_params(BTC).gross_size) + abs(old + size) - abs(old)
        limit = ANY_RATE if size > 0 else -ANY_RATE
        reason = self.attempt(
            label,
            lambda: sw.open(BTC, maturity, size, limit, sender=holder),
            ORACLE | {"Expired", "Swap open interest cap", "Below initial margin", "Negative margin", "Too many swaps"},
        )
        cap = self.oi_cap()
        increases = abs(old + size) > abs(old)
        if reason == "Expired":
            assert self.now() >= maturity, "a live book refused an open as expired"
        if reason == "Swap open interest cap":
            assert increases and gross > cap, "an open within the OI cap was refused"
        if reason is not None:
            return reason
        assert self.now() < maturity, "an expired book accepted an open"
        assert not increases or gross <= cap, f"an open took gross swap OI {gross} past the cap {cap}"
        amount, quoted = self.model.open(
            holder, maturity, size, self.index(), self.rate(), self.price(), self.now(), cap
        )
        [opened] = self.events("SwapOpened")
        assert opened["fixed_rate"] == quoted, "quote off-model"
        self.transferred(label, [(holder, amount)], self._pool_before)
        health = s.engine.account_health(holder)
        assert health.equity >= health.initial_margin, "an open left the account below initial margin"
        return None

    @rule(who=st.integers(0, HOLDERS - 1), which=st.integers(0, 1))
    def close_swap(self, who: int, which: int) -> None:
        sw = self.r.swaps
        holder, maturity = self.r.holders[who], self.r.maturities[which]
        swap = sw.swaps(holder, BTC, maturity)
        empty = swap.size == 0 and swap.fixed_flow == 0
        limit = ANY_RATE if swap.size < 0 else -ANY_RATE  # (size 0, a residual fixed flow: receives)
        reason = self.attempt(
            "close",
            lambda: sw.close(BTC, maturity, limit, sender=holder),
            ORACLE | {"No swap", "Expired", "Negative margin"},
        )
        if reason == "No swap":
            assert empty, "close refused a held swap as missing"
        if reason == "Expired":
            assert self.now() >= maturity
        if reason is not None:
            return
        assert not empty and self.now() < maturity
        amount, unwind = self.model.close(
            holder, maturity, self.index(), self.rate(), self.price(), self.now(), self.oi_cap()
        )
        [closed] = self.events("SwapClosed")
        assert closed["unwind"] == unwind, "unwind off-model"
        self.transferred("close", [(holder, amount)], self._pool_before)

    @rule(
        who=st.integers(0, HOLDERS - 1),
        which=st.integers(0, 1),
        caller=st.sampled_from(["holder", "keeper", "outsider"]),
    )
    def settle_swap(self, who: int, which: int, caller: str) -> None:
        sw = self.r.swaps
        holder, maturity = self.r.holders[who], self.r.maturities[which]
        sender = {"holder": holder, "keeper": self.r.keeper, "outsider": self.r.outsider}[caller]
        swap = sw.swaps(holder, BTC, maturity)
        empty = swap.size == 0 and swap.fixed_flow == 0
        reason = self.attempt(
            f"settle by {caller}",
            lambda: sw.settle(holder, BTC, maturity, sender=sender),
            ORACLE | {"No swap", "Negative margin"},
        )
        if reason == "No swap":
            assert empty, "settle refused a held swap as missing"
        if reason is not None:
            return
        assert not empty, "settle accepted a missing swap"
        matured = self.now() >= maturity
        amount = self.model.settle_touch(holder, maturity, self.index(), self.rate(), self.now())
        self.transferred("settle", [(holder, amount)], self._pool_before)
        if matured:
            event("settled a matured swap")
            assert tuple(sw.swaps(holder, BTC, maturity)) == (0, 0, 0, 0), "a matured swap stayed after its settle"

    @rule(who=st.integers(0, HOLDERS - 1))
    def liquidate_swaps(self, who: int) -> None:
        """Liquidatable: it must go through (model value, reward, penalty); not: it must
        revert "Account not liquidatable". The engine's own liquidation refuses an account
        holding swaps."""
        s, sw = self.system, self.r.swaps
        holder, keeper = self.r.holders[who], self.r.keeper
        if not self.prices_ok():
            return
        held = len(sw.held(holder)) > 0
        health = s.engine.account_health(holder)
        liquidatable = held and int(health.equity) < int(health.maintenance_margin)
        assert bool(sw.liquidatable(holder)) == liquidatable, "liquidatable() disagrees with the health"
        if held:
            before = self.books()
            try:
                s.engine.liquidate(holder, sender=keeper)
                raise AssertionError("the engine liquidated an account holding swaps")
            except Reverted as exc:
                assert exc.reason == "Account not liquidatable", exc.reason
            assert self.books() == before
        margin = int(s.engine.margin(holder))
        # the index and rate its pokes see: read before, as a bankrupt perp close in the same
        # transaction moves the skew (and so the engine's rate) after the swaps' poke
        index, rate, price, now = self.index(), self.rate(), self.price(), self.now()
        reason = self.attempt(
            "swap liquidation", lambda: sw.liquidate(holder, sender=keeper), ORACLE | {"Account not liquidatable"}
        )
        if reason is not None:
            assert reason in ORACLE or not liquidatable, "a liquidatable account was refused"
            return
        assert liquidatable, "an account above maintenance was liquidated"
        event("reached a swap liquidation")
        SwapsMachine.liquidating_examples.add(SwapsMachine.examples_run)
        assert self.now() == now
        value, notional = self.model.liquidate(holder, index, rate, price, now)
        reward = -((-notional * int(sw.reward_rate())) // WAD)
        left = margin + value - reward
        penalty = min(-((-notional * int(sw.penalty_rate())) // WAD), max(left, 0))
        [liq] = self.events("SwapLiquidated")
        assert (liq["value"], liq["notional"], liq["keeper_reward"], liq["penalty"]) == (
            value,
            notional,
            reward,
            penalty,
        )
        expected = [(holder, value - reward - penalty)] + ([(keeper, reward)] if reward else [])
        self.transferred("swap liquidation", expected, self._pool_before)
        assert len(sw.held(holder)) == 0 and int(s.engine.open_markets(holder)) < 2**16

    @rule(who=st.integers(0, HOLDERS - 1), days=st.sampled_from([1, 2, 4]))
    def funding_turns_against_a_holder(self, who: int, days: int) -> None:
        """The whale takes the skew to the funding cap against the holder's net swap
        direction (a pay-fixed book loses when funding falls, a receive-fixed one when it
        rises), days pass, then the liquidation rule runs on the holder: an account opened
        near its margin limit becomes liquidatable this way, so the liquidation path is
        reached (it was seldom, by random moves alone)."""
        s, sw = self.system, self.r.swaps
        holder = self.r.holders[who]
        net = sum(int(sw.swaps(holder, BTC, m).size) for m in self.r.maturities)
        if net == 0 or not self.prices_ok():
            return
        target = (-2 if net > 0 else 2) * WAD  # 0.6 BTC of skew is the funding cap
        delta = target - s.size_of(self.r.whale, BTC)
        if delta:
            self.attempt("whale", lambda: s.trade(self.r.whale, BTC, delta), ORACLE | {"Max open interest"})
        self.system.advance(days * DAY)
        self.liquidate_swaps(who)

    @rule(factor_pct=st.sampled_from([120, 150, 200, 300]))
    def admin_raises_initial_k(self, factor_pct: int) -> None:
        """The admin raises initial_k (maintenance unchanged): holders close to their limit
        fall between maintenance and initial margin, where a swap liquidation must be
        refused; every holder is tried, then the old parameters come back."""
        s, sw = self.system, self.r.swaps
        old = self.model.margin.initial_k
        new = min(old * factor_pct // 100, 100 * WAD)
        m = self.model.margin
        sw.set_margin_config(new, m.maintenance_k, m.time_floor, m.rate_floor, sender=s.admin)
        m.initial_k = new
        try:
            for who, holder in enumerate(self.r.holders):
                if not self.prices_ok() or not len(sw.held(holder)):
                    continue
                health = s.engine.account_health(holder)
                if int(health.maintenance_margin) <= int(health.equity) < int(health.initial_margin):
                    event("swap holder in the margin band")
                    self.liquidate_swaps(who)
                    assert len(sw.held(holder)), "a holder in the margin band lost its swaps"
        finally:
            sw.set_margin_config(old, m.maintenance_k, m.time_floor, m.rate_floor, sender=s.admin)
            m.initial_k = old

    # ---------------------------------------------------------------- rules: perps and margin
    @rule(
        who=st.integers(0, HOLDERS - 1),
        leverage=st.integers(1, 80),
        direction=st.sampled_from([1, -1]),
        kind=st.sampled_from(["open", "close", "reduce"]),
    )
    def holder_trades_perps(self, who: int, leverage: int, direction: int, kind: str) -> None:
        s = self.system
        holder = self.r.holders[who]
        if not self.prices_ok():
            return
        size = s.size_of(holder, BTC)
        equity = max(int(s.engine.account_health(holder).equity), WAD)
        if kind == "open" or size == 0:
            delta = direction * equity * leverage * WAD // self.price() // 10
        elif kind == "close":
            delta = -size
        else:
            delta = -size // 3 or -size
        if delta == 0:
            return
        reason = self.attempt(
            f"perp {kind}",
            lambda: s.trade(holder, BTC, delta),
            ORACLE | {"Below initial margin", "Negative margin", "Max open interest", "Account underwater"},
        )
        if reason is not None:
            return
        health = s.engine.account_health(holder)
        if abs(size + delta) > abs(size):
            assert health.equity >= health.initial_margin, (
                "a risk-increasing perp trade broke initial margin (swaps in)"
            )

    @rule(who=st.integers(0, HOLDERS - 1), extra=st.sampled_from([0, 1, 1_000]))
    def holder_withdraws(self, who: int, extra: int) -> None:
        """Withdraw exactly the free margin (equity with swaps, their unsettled losses
        included, less the larger of initial and transfer margin): must succeed; one token
        unit or more beyond it: must revert."""
        s = self.system
        holder = self.r.holders[who]
        if not int(s.engine.open_markets(holder)) or not self.prices_ok():
            return
        health = s.engine.account_health(holder)
        free = int(health.equity) - max(int(health.initial_margin), int(health.transfer_margin))
        margin = int(s.engine.margin(holder))
        if free <= 0 or margin <= 0:
            return
        amount = min(free, margin) // s.precision + extra
        if amount == 0:
            return
        reason = self.attempt(
            "withdraw",
            lambda: s.engine.withdraw(amount, sender=holder),
            {"Below initial margin", "Below transfer margin", "Insufficient margin"},
        )
        if extra == 0:
            assert reason is None, f"withdrawing the free margin was refused ({reason})"
            event("swap holder withdrew its free margin")
        elif amount * s.precision > free:
            assert reason is not None, "a withdrawal beyond the free margin (swaps in) went through"

    @rule(direction=st.sampled_from([1, -1]), centi=st.integers(1, 150))
    def whale_pushes_funding(self, direction: int, centi: int) -> None:
        """The whale moves the skew (funding and the swaps' floating leg: 0.6 BTC of skew
        is the funding cap), within +-80 BTC."""
        s = self.system
        size = s.size_of(self.r.whale, BTC)
        delta = direction * centi * WAD // 100
        if abs(size + delta) > 80 * WAD or size + delta == 0:
            return
        self.attempt("whale", lambda: s.trade(self.r.whale, BTC, delta), ORACLE | {"Max open interest"})

    @rule(move_bp=st.integers(-600, 600), wei=st.integers(0, 10**6))
    def price_moves(self, move_bp: int, wei: int) -> None:
        """BTC moves by move_bp basis points and some odd digits; ETH's round repeats."""
        s = self.system
        s.chain.advance(60)
        for market in range(len(s.prices)):
            if market == BTC:
                answer = int(s.oracles[BTC].latestRoundData()[1]) * (10_000 + move_bp) // 10_000 + wei
                s.set_price(market, str(Decimal(answer) / 10 ** int(s.oracles[BTC].decimals())))
            else:
                s.set_price(market, s.prices[market])
        # the keeper pokes the round (refused beyond the jump bound: then the guardian re-anchors)
        try:
            s.engine.poke(BTC, sender=self.r.keeper)
        except Reverted as exc:
            assert exc.reason == "Oracle price jump", exc.reason
            s.configurator.reanchor_price(BTC, sender=s.admin)

    @rule(seconds=st.integers(1, DAY // 2))
    def time_passes(self, seconds: int) -> None:
        self.system.advance(seconds)

    @rule(offset=st.sampled_from([0, 0, 1, 600]), settle_all=st.booleans())
    def time_to_maturity(self, offset: int, settle_all: bool) -> None:
        """Time to exactly the short book's maturity (or just after); keepers may settle
        every holder in that block (the snapshot at the maturity itself). The long book
        matures by time passing (rarely within an example)."""
        which = 0
        maturity = self.r.maturities[which]
        if self.now() > maturity + offset:
            return
        self.system.advance(maturity + offset - self.now())
        if settle_all:
            for who in range(HOLDERS):
                self.settle_swap(who, which, "keeper")

    # ---------------------------------------------------------------- rules: caps and floors
    @rule(who=st.integers(0, HOLDERS), amount=st.sampled_from([0, 1, 1_000, 250_000]))
    def vault_deposit(self, who: int, amount: int) -> None:
        s, c = self.system, self.r.caps
        lp = self.vault_accounts[who]
        tokens = s.tokens(amount) if amount else 0
        short = tokens > int(s.token.balanceOf(lp))
        reason = self.attempt(
            "vault deposit",
            lambda: c.deposit(tokens, sender=lp),
            {"Zero amount", "Zero shares"} | ({"erc20: transfer amount exceeds balance"} if short else set()),
        )
        if reason is not None:
            assert tokens == 0 or reason == "Zero shares" or short
            return
        shares = self.caps_model.deposit(lp, tokens)
        assert self.events("VaultDeposit") == [{"account": lp, "amount": tokens, "shares": shares}]
        self.caps_in += tokens

    @rule(who=st.integers(0, HOLDERS), pct=st.sampled_from([1, 50, 100, 101]))
    def vault_withdraw(self, who: int, pct: int) -> None:
        c = self.r.caps
        lp = self.vault_accounts[who]
        held = int(c.vault_shares(lp))
        shares = held * pct // 100 + (1 if pct > 100 else 0)
        expected = self.caps_model.withdraw_amount(shares) if shares else 0
        reason = self.attempt(
            "vault withdraw",
            lambda: c.withdraw(shares, sender=lp),
            {"Zero shares", "Insufficient shares", "Zero amount"},
        )
        if reason is not None:
            assert shares == 0 or shares > held or expected == 0, f"vault withdraw refused ({reason})"
            return
        assert 0 < shares <= held
        amount = self.caps_model.withdraw(lp, shares)
        assert amount == expected and self.events("VaultWithdraw") == [
            {"account": lp, "amount": amount, "shares": shares}
        ]
        self.caps_out += amount

    @rule(
        who=st.integers(0, HOLDERS - 1),
        product=st.integers(0, 1),
        size=st.sampled_from(["zero", "small", "large", "limit", "over"]),
    )
    def buy_cap(self, who: int, product: int, size: str) -> None:
        s, c = self.system, self.r.caps
        buyer = self.r.holders[who]
        p = self.caps_model.products[product]
        room = p.max_notional - p.notional
        notional = {"zero": 0, "small": wad(1_000), "large": wad(400_000), "limit": room, "over": room + 1}[size]
        reason = self.attempt(
            f"buy {size}",
            lambda: c.buy(product, notional, MAX_UINT, sender=buyer),
            ORACLE | {"Product started", "Zero notional", "Notional above product limit", "Vault capacity"},
        )
        if reason == "Product started":
            assert self.now() >= p.start
        elif reason == "Notional above product limit":
            assert notional > room
        elif reason == "Zero notional":
            assert notional == 0
        if reason is not None:
            if reason == "Vault capacity":  # the model must agree the vault is short
                trial = copy.deepcopy(self.caps_model)
                index, current, now = int(s.engine.funding_rate_index(BTC)), self.rate(), self.now()
                forward = trial.forward(BTC, p.is_floor, index, current, now)
                assert forward is not None
                trial.observe(BTC, index, now)
                try:
                    trial.buy(buyer, product, notional, forward, now)
                    raise AssertionError("Vault capacity refused a sale the model's vault can lock")
                except AssertionError as exc:
                    assert str(exc) == "Vault capacity", exc
            return
        assert self.now() < p.start and 0 < notional <= room
        index, current, now = int(s.engine.funding_rate_index(BTC)), self.rate(), self.now()
        forward = self.caps_model.forward(BTC, p.is_floor, index, current, now)
        assert forward is not None
        self.caps_model.observe(BTC, index, now)
        tokens, added = self.caps_model.buy(buyer, product, notional, forward, now)
        [bought] = self.events("Bought")
        assert (bought["premium"], bought["forward"], bought["locked"]) == (tokens, forward, added), "sale off-model"
        self.caps_in += tokens
        event("bought a cap" if not p.is_floor else "bought a floor")

    @rule(product=st.integers(0, 1), timing=st.sampled_from(["early", "on time", "late", "very late"]))
    def fix_caps(self, product: int, timing: str) -> None:
        """Fix the next boundary: before it (must revert "Not due"), in its block, a minute
        late or a period late; past the last boundary it must revert "Fully fixed"."""
        s, c = self.system, self.r.caps
        p = self.caps_model.products[product]
        due = p.start + p.fixings * p.period
        if p.fixings <= p.periods and timing != "early":
            late = {"on time": 0, "late": 60, "very late": p.period + 60}[timing]
            if self.now() < due + late:
                s.advance(due + late - self.now())
        reason = self.attempt(
            f"fix {timing}", lambda: c.fix(product, sender=self.r.keeper), ORACLE | {"Not due", "Fully fixed"}
        )
        if reason == "Not due":
            assert self.now() < due
        elif reason == "Fully fixed":
            assert p.fixings > p.periods
        if reason is not None:
            return
        assert self.now() >= due and p.fixings <= p.periods
        index = int(s.engine.funding_rate_index(BTC))
        self.caps_model.observe(BTC, index, self.now())
        payoff, obligation, released = self.caps_model.fix(product, index)
        [fixed] = self.events("Fixed")
        assert (fixed["rate_index"], fixed["payoff"], fixed["obligation"], fixed["released"]) == (
            index,
            payoff,
            obligation,
            released,
        ), "fixing off-model"
        event(f"fixed a caplet {timing}")

    @rule(who=st.integers(0, HOLDERS - 1), product=st.integers(0, 1))
    def claim_caps(self, who: int, product: int) -> None:
        c = self.r.caps
        buyer = self.r.holders[who]
        p = self.caps_model.products[product]
        key = (buyer, product)
        reason = self.attempt(
            "claim", lambda: c.claim(buyer, product, sender=self.r.outsider), {"No position", "Nothing to claim"}
        )
        if reason == "No position":
            assert self.caps_model.holdings.get(key, 0) == 0
        elif reason == "Nothing to claim":
            assert max(p.fixings - 1, 0) <= self.caps_model.claimed.get(key, 0)
        if reason is not None:
            return
        amount = self.caps_model.claim(buyer, product)
        [claimed] = self.events("Claimed")
        assert claimed["amount"] == amount, "claim off-model"
        self.caps_out += amount
        if amount:
            event("a caplet paid")

    # ---------------------------------------------------------------- invariants
    @invariant()
    def conservation_with_swaps(self) -> None:
        SwapsMachine.steps_run += 1
        ledger = self.system.ledger(self.r.accounts)
        assert ledger.held == ledger.booked, f"held {ledger.held} != booked {ledger.booked}"

    @invariant()
    def no_negative_margin_at_rest(self) -> None:
        s = self.system
        for account in self.r.accounts:
            margin = int(s.engine.margin(account))
            assert margin >= 0, (
                "an account rests with positions or swaps and a negative margin"
                if int(s.engine.open_markets(account))
                else "a flat account kept negative margin (bad debt lost)"
            )

    @invariant()
    def swaps_follow_model(self) -> None:
        s, sw, m = self.system, self.r.swaps, self.model
        for h in self.r.holders:
            for maturity in self.r.maturities:
                x = m.swap(h, maturity)
                assert tuple(sw.swaps(h, BTC, maturity)) == (x.size, x.fixed_flow, x.last_index, x.last_time), (
                    "swap off-model"
                )
            keys = sorted(int(k) for k in sw.held(h))
            assert keys == sorted(BTC * sm.MATURITY_BITS + mat for (a, mat) in m.swaps if a == h), "held list off-model"
            holds = int(s.engine.open_markets(h)) >= 2**16
            assert holds == bool(keys), "the engine's swap flag disagrees with the swaps held"
        for maturity, book in m.books.items():
            on_chain = sw.books(BTC, maturity)
            assert tuple(on_chain.sums) == book.sums.astuple(), "book sums off-model"
            assert (on_chain.final_index, on_chain.final_time) == (book.final_index, book.final_time), "snapshot"
            assert book.final_time == 0 or book.final_time >= maturity
        assert tuple(sw.live_sums(BTC)) == m.live.astuple(), "market aggregate off-model"
        assert int(sw.matured_value()) == m.matured_value, "matured bucket off-model"
        assert tuple(sw.rate_ema(BTC)) == (m.ema, m.ema_time), "rate EMA off-model"
        gross = int(sw.market_params(BTC).gross_size)
        assert gross == m.gross == sum(abs(x.size) for x in m.swaps.values()), "gross swap OI off-model"
        if not self.prices_ok():
            return  # the index cannot be read while a feed is stale or jumped
        index, rate, now = self.index(), self.rate(), self.now()
        assert int(sw.pool_unrealized_total()) == m.pool_unrealized_total(index, now), "pool side off-model"
        assert int(sw.mark_rate(BTC)) == m.ema_at(rate, now), "mark rate off-model"
        for maturity in m.books:
            pending = [int(sw.pending(h, BTC, maturity)) for h in self.r.holders]
            assert pending == [m.pending(h, maturity, index, now) for h in self.r.holders], "pending off-model"
            residue = sum(pending) + int(sw.pool_unrealized(BTC, maturity))
            assert -(2 * HOLDERS + 2) <= residue <= 0, f"book {maturity} not zero-sum: residue {residue}"
        if self.prices_ok():
            price = self.price()
            for h in self.r.holders:
                assert tuple(sw.account_margin(h)) == m.account_margin(h, index, rate, price, now), (
                    "account margin off-model"
                )

    @invariant()
    def engine_health_counts_the_swaps(self) -> None:
        """The engine adds account_margin to a holder's health: equity and requirements of
        a swaps-only account are margin + the swaps' value and the swaps' requirements to
        the wei; beside perps the requirements are at least the swaps'."""
        s, sw = self.system, self.r.swaps
        if not self.prices_ok():
            return
        for h in self.r.holders:
            if int(s.engine.open_markets(h)) < 2**16:
                continue
            value, initial, maintenance = (int(x) for x in sw.account_margin(h))
            health = s.engine.account_health(h)
            if s.size_of(h, BTC) == 0:
                assert (int(health.equity), int(health.initial_margin), int(health.maintenance_margin)) == (
                    int(s.engine.margin(h)) + value,
                    initial,
                    maintenance,
                ), "the engine's health does not carry the swaps"
            else:
                assert health.initial_margin >= initial and health.maintenance_margin >= maintenance

    @invariant()
    def settled_swaps_are_zero_sum(self) -> None:
        """What the holders were settled is what the pool paid, to the wei, and what they
        were owed (the model's amounts) less only what the pool's cash held back."""
        assert self.settled_to_holders == -self.pool_swap_flow, (
            f"holders settled {self.settled_to_holders}, the pool's side {-self.pool_swap_flow}"
        )
        assert self.owed_to_holders == self.settled_to_holders + self.unpaid
        assert self.unpaid >= 0, "a transfer moved more than it was owed"

    @invariant()
    def caps_vault_solvent_and_on_model(self) -> None:
        s, c, m = self.system, self.r.caps, self.caps_model
        assets, locked = int(c.vault_assets()), int(c.vault_locked())
        reserve = int(c.buyer_reserve())
        assert (assets, locked, int(c.total_shares()), reserve) == (
            m.vault_assets,
            m.vault_locked,
            m.total_shares,
            m.buyer_reserve,
        ), "vault off-model"
        assert locked <= assets, "the vault locked more than its assets"
        balance = int(s.token.balanceOf(c))
        assert balance * s.precision == assets + reserve, "caps token balance != vault assets + buyers' reserve"
        assert balance == self.caps_in - self.caps_out, "caps tokens moved off the model's flows"
        for i, p in enumerate(m.products):
            assert cm.CapsProduct.from_chain(c.products(i)) == cm.CapsProduct.from_chain(p), f"product {i} off-model"
            for k, payoff in enumerate(p.payoffs):
                assert int(c.caplet_payoff(i, k)) == payoff <= p.max_payoff, "caplet payoff off-model or unbounded"
            for a in self.r.holders:
                assert int(c.holdings(a, i)) == m.holdings.get((a, i), 0), "holding off-model"
                assert int(c.claimed(a, i)) == m.claimed.get((a, i), 0), "claimed off-model"
        for a in self.vault_accounts:
            assert int(c.vault_shares(a)) == m.shares.get(a, 0), "vault shares off-model"
