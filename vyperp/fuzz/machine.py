"""Stateful fuzzing of the whole protocol: a hypothesis RuleBasedStateMachine over a
deployed system (two markets with 18- and 6-decimal feeds, four traders, an LP, a keeper,
the admin, an outsider).

Every engine call a rule makes goes through `modelled`: the reference model
(vyperp.model.EngineModel, read from the chain just before) predicts the call, and the
chain must agree -- a model revert is required to be the chain's revert with the same
reason and no state change (cool-down, rate limit, ADL order, oracle staleness and jump,
margin checks...), a model success is required to succeed with the same books and events
to the wei (each liquidation step: tier, size closed, escalation, reward, penalty, funding
settled, waterfall, cool-down stamp, window; ADL closes and haircuts; funding accrual,
EMA and EWMA over the gap since the last touch; deposits, withdrawals, trades). The LP's
ERC-4626 paths are checked against vyperp.model's share arithmetic (previews, max*,
the reserve). After every step the invariants of vyperp.model.invariants are checked
(conservation, exact solvency, open interest, margins >= 0 at rest, the pool's balance >= 0,
the mark's premium bound) and every holder's health and the pool's value and reserve are
compared with the model. Rules land on boundaries on purpose: tier thresholds at an
account's margin ratio and 1 wei over, the cool-down's and rate-limit window's last second
and first, oracle rounds at the jump bound and one feed tick over, rounds exactly
max_oracle_age old and one second older, LP amounts exactly max* and one over.

The system is deployed once per contracts directory (`VYPERP_CONTRACTS_DIR`, used by
the mutation check) and every example runs inside a snapshot.
"""

from __future__ import annotations

import hashlib
import os
from contextlib import contextmanager
from typing import Any

from hypothesis import currently_in_test_context
from hypothesis import event as _hypothesis_event
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from .. import model
from ..chain import Reverted
from ..model import EngineModel, ModelRevert, invariants
from ..protocol.params import TIERED, Bracket, LiquidationParams, MarketParams, ProtocolParams, Tier
from ..protocol.system import MAX_UINT, System
from ..protocol.units import WAD

TRACE = hashlib.sha256()
"""Every event of this process's runs, in order: a digest of what the fuzzer did (two runs
with the same seed have the same trace; `vyperp fuzz` reports it per worker)."""


def event(value: str) -> None:
    """hypothesis.event inside a test; nothing outside one, so that a failing program as
    hypothesis prints it (``state = ProtocolMachine()``, each rule and invariant call,
    ``state.teardown()``) runs as a plain script too (vyperp.fuzz.run.failure_script)."""
    TRACE.update(value.encode() + b"\n")
    if currently_in_test_context():
        _hypothesis_event(value)


TRADERS = 4
MARKETS = 2
_SYSTEMS: dict[str, System] = {}

PRIVILEGED = [
    ("configurator", "set_pool", lambda s: (s.outsider,), "Not admin"),
    ("configurator", "set_paused", lambda s: (0, True), "Not guardian"),
    ("configurator", "reanchor_price", lambda s: (0,), "Not guardian"),
    ("configurator", "set_rate_limit", lambda s: (0, (60, WAD)), "Not admin"),
    ("configurator", "set_roles", lambda s: (s.outsider, 3), "Not admin"),
    ("configurator", "propose_admin", lambda s: (s.outsider,), "Not admin"),
    ("configurator", "cancel_admin_transfer", lambda s: (), "Not admin"),
    ("configurator", "accept_admin", lambda s: (), "Not pending admin"),
    ("configurator", "set_liquidation_config", lambda s: (LiquidationParams().config_struct(), []), "Not admin"),
    ("configurator", "set_market_config", lambda s: (0, s.system.engine.market_config(0)), "Not admin"),
    ("configurator", "set_risk_config", lambda s: (0, MarketParams().risk_struct()), "Not admin"),
    ("configurator", "set_margin_brackets", lambda s: (0, MarketParams().brackets_struct()), "Not admin"),
    ("engine", "set_paused", lambda s: (0, True), "Not configurator"),
    ("engine", "set_market_config", lambda s: (0, s.system.engine.market_config(0), [0, 0, 0, 0]), "Not configurator"),
    ("engine", "set_liquidation_config", lambda s: (LiquidationParams().config_struct(), []), "Not configurator"),
    ("engine", "reanchor_price", lambda s: (0,), "Not configurator"),
    ("engine", "pool_credit", lambda s: (10**6,), "Not pool"),
    ("engine", "pool_debit", lambda s: (1, s.outsider), "Not pool"),
    ("oracle", "push_round", lambda s: (10**8, 0), "Not feeder"),
]


def fuzz_params() -> ProtocolParams:
    """A small pool and high leverage so cascades, bad debt and ADL are reachable. The two
    feeds have 18 and 6 decimals (the unit tests use 8); BTC's multiplier follows the
    volatility EWMA and scales maintenance too, ETH's follows the funding EMA and ETH has a
    liquidation rate limit, so cool-downs, windows and both averages are exercised."""
    return ProtocolParams(
        markets=[
            MarketParams(
                symbol="BTC",
                skew_scale_usd=20_000_000.0,
                oracle_decimals=18,
                brackets=(Bracket(250_000.0, 0.05, 0.025), Bracket(float("inf"), 0.1, 0.05)),
                variance_ewma_weight=0.1,
                volatility_weight=1.0,
                max_multiplier=2.0,
                apply_to_maintenance=True,
                size_tier_notional=200_000.0,
                size_tier_multiplier=1.5,
                transfer_margin_ratio=0.08,
            ),
            MarketParams(
                symbol="ETH",
                initial_price=4_000.0,
                skew_scale_usd=10_000_000.0,
                funding_model="velocity",
                oracle_decimals=6,
                funding_velocity=2.0,
                max_funding_rate=0.01,
                transfer_margin_ratio=0.12,
                max_open_interest_pool_ratio=20.0,
                funding_weight=20.0,
                funding_ema_period=3_600,
                max_multiplier=2.0,
                rate_limit_window=600,
                rate_limit_notional=400_000.0,
            ),
        ],
        liquidation=LiquidationParams(tiers=TIERED, cooldown=300, reward_floor=2.0, reward_cap=20.0),
    )


def shared_system() -> System:
    contracts_dir = os.environ.get("VYPERP_CONTRACTS_DIR", "")
    backend = os.environ.get("VYPERP_BACKEND", "revm")  # "ape": ape's local network (slower)
    key = f"{backend}:{contracts_dir}"
    if key not in _SYSTEMS:
        # gas figures are not the fuzzer's business: pyrevm's raw mode is ~4x faster
        kwargs: dict[str, Any] = {"exact_gas": False} if backend == "revm" else {}
        if contracts_dir:
            kwargs["contracts_dir"] = contracts_dir
        system = System.deploy(fuzz_params(), backend=backend, **kwargs)
        system.lp = system.new_trader("lp")
        system.mint(system.lp, 5_000_000)
        system.pool.deposit(system.tokens(60_000), system.lp, sender=system.lp)
        system.traders = [system.new_trader(f"trader{i}", 20_000) for i in range(TRADERS)]
        # a fee-paying round trip, so the LP share price starts off 1:1 (share and asset
        # conversions then round, which the ERC-4626 rules check)
        system.trade(system.traders[0], 0, WAD // 3)
        system.trade(system.traders[0], 0, -(WAD // 3))
        for trader in system.traders:
            system.mint(trader, 1_000_000)
        system.keeper = system.new_trader("keeper")
        system.outsider = system.chain.new_account("outsider", eth=10**20)
        _SYSTEMS[key] = system
    return _SYSTEMS[key]


class ProtocolMachine(RuleBasedStateMachine):
    """The protocol under random use; see the module docstring."""

    examples_run = 0  # machines constructed (one per example), for the fuzz report
    steps_run = 0  # invariant rounds after a rule (one per step)
    liquidating_examples: set[int] = set()  # examples in which a liquidation step went through
    on_example: Any = None  # called after each example (vyperp fuzz's progress), if set

    def __init__(self) -> None:
        super().__init__()
        ProtocolMachine.examples_run += 1
        self.system = shared_system()
        s = self.system
        self.snapshot = s.chain.snapshot()
        self.saved_prices = list(s.prices)
        self.traders: list[str] = s.traders
        self.keeper: str = s.keeper
        self.lp_account: str = s.lp  # not `lp`: that is a rule, and the printed repro scripts call it as state.lp(...)
        self.outsider: str = s.outsider
        self.accounts = self.traders + [self.keeper, self.lp_account, self.outsider]
        self.steps = 0
        self.funding = []
        for market in range(MARKETS):
            state = s.engine.market_state(market)
            self.funding.append(
                model.FundingMarket.from_config(s.engine.market_config(market), state.last_funding_time, state)
            )

    def teardown(self) -> None:
        self.system.chain.revert(self.snapshot)
        self.system.prices = self.saved_prices
        if ProtocolMachine.on_example is not None:
            ProtocolMachine.on_example()

    # ---------------------------------------------------------------- helpers
    def books(self) -> tuple:
        s = self.system
        return (
            [int(s.engine.margin(a)) for a in self.accounts],
            [tuple(s.engine.position(a, m)) for a in self.traders for m in range(MARKETS)],
            [tuple(s.engine.market_state(m)) for m in range(MARKETS)],
            int(s.engine.pool_balance()),
            int(s.engine.insurance_fund()),
            [int(s.token.balanceOf(a)) for a in self.accounts],
            int(s.pool.totalSupply()),
        )

    def attempt(self, action: Any, allowed: set[str]) -> bool:
        """Run `action`; a revert must carry an allowed reason and change nothing."""
        before = self.books()
        try:
            action()
            return True
        except Reverted as exc:
            event(f"revert: {exc.reason}")
            assert exc.reason in allowed, f"unexpected revert {exc.reason!r} (allowed {sorted(allowed)})"
            assert self.books() == before, f"reverted call ({exc.reason}) changed state"
            return False

    MODEL_EVENTS = (
        "Liquidated",
        "BadDebtCovered",
        "FundingSettled",
        "AutoDeleveraged",
        "PositionModified",
        "ProfitHaircut",
        "DeficitCoveredByInsurance",
    )

    def modelled(self, model_op: Any, chain_op: Any, label: str) -> tuple[bool, Any]:
        """Apply one operation to the reference model of the books (vyperp.model.EngineModel,
        read from the chain now) and to the chain. The model decides: if it reverts, the
        chain must revert with the same reason and change nothing; if it succeeds, so must
        the chain, leaving books (margins, positions, market states, pool, insurance,
        cool-down stamps) and events equal to the model's to the wei. (True, model result)
        on success, (False, reason) on a revert."""
        s = self.system
        book = EngineModel(s, self.accounts)
        try:
            expected, reason = model_op(book), None
        except ModelRevert as exc:
            expected, reason = None, exc.reason
        before = self.books()
        try:
            chain_op()
        except Reverted as exc:
            event(f"{label}: revert {exc.reason}")
            assert reason is not None, f"{label}: the chain reverted {exc.reason!r}, the model says it succeeds"
            assert exc.reason == reason, f"{label}: the chain reverted {exc.reason!r}, the model says {reason!r}"
            assert self.books() == before, f"reverted call ({exc.reason}) changed state"
            return False, reason
        assert reason is None, f"{label}: the chain accepted it, the model says it reverts {reason!r}"
        event(f"{label}: ok")
        if any(name == "Liquidated" for name, _ in book.events):
            event("reached a liquidation")
            ProtocolMachine.liquidating_examples.add(ProtocolMachine.examples_run)
        book.assert_events(s, self.MODEL_EVENTS)
        book.assert_matches(s)
        self.resync_funding()
        return True, expected

    def resync_funding(self) -> None:
        """After a model-verified call the chain's funding state is the model's: carry it on."""
        s = self.system
        for market in range(MARKETS):
            state = s.engine.market_state(market)
            self.funding[market] = model.FundingMarket.from_config(
                s.engine.market_config(market), state.last_funding_time, state
            )

    def skew(self, market: int) -> int:
        state = self.system.engine.market_state(market)
        return int(state.long_open_interest) - int(state.short_open_interest)

    def touched(self, market: int) -> None:
        """Mirror a successful touch of `market` in the funding model."""
        s = self.system
        self.funding[market].touch(self._skew_before[market], self._index_before[market], s.chain.time)

    def remember_market(self) -> None:
        """Record each market's skew and oracle price before a call that may touch it."""
        self._skew_before = [self.skew(m) for m in range(MARKETS)]
        self._index_before = [self._index_unbounded(m) for m in range(MARKETS)]

    def _index(self, market: int) -> int:
        try:
            return int(self.system.engine.index_price(market))
        except Reverted:
            return 0  # stale or jumped: rules that need a price skip

    def poked_round(self, market: int, price: float) -> bool:
        """A minute passes, a round at `price` arrives and the keeper pokes it; True if accepted."""
        s = self.system
        s.chain.advance(60)
        s.prices[market] = price
        s.set_price(market, price)
        return self.poke(market)

    def poke(self, market: int) -> bool:
        """The keeper pokes `market`, checked against the model: the oracle guard (stale,
        jump), funding accrual over the gap, the funding EMA's gap weight, the volatility
        EWMA's round update and the risk multiplier."""
        s = self.system
        ok, _ = self.modelled(
            lambda book: book.touch(market), lambda: s.engine.poke(market, sender=self.keeper), "poke"
        )
        return ok

    def events(self, name: str) -> list[dict]:
        return [dict(e.args) for e in self.system.chain.last_receipt.logs if e.name == name]

    # ---------------------------------------------------------------- rules: money in and out
    @rule(who=st.integers(0, TRADERS - 1), amount=st.one_of(st.just(0), st.integers(1, 200_000)))
    def deposit(self, who: int, amount: int) -> None:
        s = self.system
        trader = self.traders[who]
        margin = s.engine.margin(trader)
        tokens = s.tokens(amount)
        ok, _ = self.modelled(
            lambda book: book.deposit(trader, tokens), lambda: s.engine.deposit(tokens, sender=trader), "deposit"
        )
        if ok:
            assert amount > 0
            assert s.engine.margin(trader) == margin + tokens * s.precision

    @rule(who=st.integers(0, TRADERS - 1), share=st.integers(0, 120))
    def withdraw(self, who: int, share: int) -> None:
        s = self.system
        trader = self.traders[who]
        margin = int(s.engine.margin(trader))
        amount = max(margin, 0) // s.precision * share // 100
        balance = s.token.balanceOf(trader)
        ok, _ = self.modelled(
            lambda book: book.withdraw(trader, amount), lambda: s.engine.withdraw(amount, sender=trader), "withdraw"
        )
        if ok:
            assert amount * s.precision <= margin, "withdrew more than the realized margin"
            assert s.engine.margin(trader) == margin - amount * s.precision
            assert s.token.balanceOf(trader) == balance + amount
            health = s.engine.account_health(trader)
            assert health.position_count == 0 or health.equity >= health.initial_margin, (
                "withdrawal broke initial margin"
            )
            assert health.position_count == 0 or health.equity >= health.transfer_margin, (
                "withdrawal broke transfer margin"
            )
        elif amount * s.precision <= margin and amount > 0 and s.engine.open_markets(trader) == 0:
            raise AssertionError("a withdrawal of its balance by a flat account was refused (frozen)")

    @rule(market=st.integers(0, MARKETS - 1), crash_pct=st.integers(12, 20))
    def trader_closes_under_water(self, market: int, crash_pct: int) -> None:
        """A fresh, thinly margined ~9x long, a crash in poked rounds with no keeper awake,
        then the trader closes it: the shortfall must go through the waterfall."""
        s = self.system
        if not self._prices_ok():
            return
        trader = self.traders[0]
        if s.engine.open_markets(trader):
            for m in range(MARKETS):
                if s.size_of(trader, m):
                    self.trade(0, m, 1, 1, "close")
            if s.engine.open_markets(trader):
                return
        index = self._index(market)
        equity = int(s.engine.margin(trader))
        if equity <= WAD or index == 0:
            return
        self.trade(0, market, 90, 1, "open")
        if not s.size_of(trader, market):
            return
        for _ in range(4):
            self.poked_round(market, max(s.prices[market] * (100 - crash_pct) / 100, 1.0))
        if int(s.engine.account_health(trader).equity) >= 0:
            return
        event("trader closes under water")
        self.trade(0, market, 1, 1, "close")
        assert s.engine.margin(trader) >= 0, "an underwater close left negative margin (bad debt lost)"

    @rule(who=st.integers(0, TRADERS - 1), extra=st.sampled_from([0, 1, 1_000]))
    def withdraw_at_the_margin_limit(self, who: int, extra: int) -> None:
        """Withdraw exactly the free margin (must succeed) or one token unit and more
        beyond it (must revert "Below initial margin") while positions are open."""
        s = self.system
        trader = self.traders[who]
        if not s.engine.open_markets(trader) or not self._prices_ok():
            return
        health = s.engine.account_health(trader)
        free = int(health.equity) - max(int(health.initial_margin), int(health.transfer_margin))
        margin = int(s.engine.margin(trader))
        if free <= 0 or margin <= 0:
            return
        amount = min(free, margin) // s.precision + extra
        if amount == 0:
            return
        ok = self.attempt(
            lambda: s.engine.withdraw(amount, sender=trader),
            {"Below initial margin", "Below transfer margin", "Insufficient margin"},
        )
        if extra == 0:
            assert ok, "withdrawing the free margin was refused"
            event("withdrew all free margin")
        elif amount * s.precision > free:
            assert not ok, "a withdrawal beyond the free margin went through"

    @rule(who=st.integers(0, TRADERS - 1), depth=st.integers(10, 90))
    def price_into_the_margin_band(self, who: int, depth: int) -> None:
        """Move the price toward a trader's liquidation price so that equity sits between
        maintenance and initial margin: such an account must not be liquidatable."""
        s = self.system
        trader = self.traders[who]
        if not self._prices_ok():
            return
        markets = [m for m in range(MARKETS) if s.size_of(trader, m)]
        if not markets:
            return
        market = markets[0]
        target = int(s.lens.liquidation_price(trader, market))
        index = int(s.engine.index_price(market))
        if target == 0:
            return
        price = index + (target - index) * depth // 100
        for _ in range(4):  # poked rounds within the jump bound
            step = max(min(price, index * 118 // 100), index * 82 // 100)
            if not self.poked_round(market, step / WAD):
                return
            index = step
            if step == price:
                break
        health = s.engine.account_health(trader)
        if health.maintenance_margin <= health.equity < health.initial_margin:
            event("account in the margin band")
            before = self.books()
            try:
                s.engine.liquidate(trader, sender=self.keeper)
                raise AssertionError("an account above maintenance margin was liquidated")
            except Reverted as exc:
                assert exc.reason == "Account not liquidatable", exc.reason
            assert self.books() == before

    LP_SIZES = ("zero", "one", "small", "large", "max", "over")

    @rule(kind=st.sampled_from(["deposit", "mint", "withdraw", "redeem"]), size=st.sampled_from(LP_SIZES))
    def lp(self, kind: str, size: str) -> None:
        """Every ERC-4626 path against the model: the pool's value and withdrawable amount
        (the reserve against open interest), totalAssets, max*, the preview (rounded for
        the pool: deposit/redeem down, mint/withdraw up), the required revert or success,
        and the shares, tokens and pool balance that move. `max` is exactly maxWithdraw /
        maxRedeem (must succeed), `over` one unit more (must revert)."""
        s = self.system
        pool, lp = s.pool, self.lp_account
        supply, held = int(pool.totalSupply()), int(pool.balanceOf(lp))
        book = EngineModel(s, self.accounts)
        try:
            value, withdrawable = book.pool_value(), book.pool_withdrawable()
        except ModelRevert:
            return  # a feed cannot be priced: the strict paths revert with its reason (see stale_oracle)
        assert int(s.engine.pool_value()) == value, "pool value off-model"
        assert int(s.engine.pool_withdrawable()) == withdrawable, "pool withdrawable (reserve) off-model"
        total = model.total_assets(value, s.precision)
        assert int(pool.totalAssets()) == total, "totalAssets off-model"
        max_withdraw = min(model.to_assets(held, supply, total, False), withdrawable)
        max_redeem = min(held, model.to_shares(withdrawable, supply, total, False))
        assert int(pool.maxWithdraw(lp)) == max_withdraw and int(pool.maxRedeem(lp)) == max_redeem, "max* off-model"
        if kind in ("deposit", "withdraw"):  # amounts in assets
            top = max_withdraw if kind == "withdraw" else s.tokens(300_000)
        else:  # amounts in shares
            top = max_redeem if kind == "redeem" else model.to_shares(s.tokens(300_000), supply, total, False)
        amount = {"zero": 0, "one": 1, "small": max(top // 1000, 1), "large": top // 2, "max": top, "over": top + 1}[
            size
        ]
        preview = int(getattr(pool, f"preview{kind.capitalize()}")(amount))
        assert preview == model.preview(kind, amount, supply, total), f"preview{kind.capitalize()} off-model"
        reason = model.lp_reason(kind, amount, supply, total, value, withdrawable, held)
        if kind in ("deposit", "mint"):
            assets, shares = (amount, preview) if kind == "deposit" else (preview, amount)
            call = lambda: getattr(pool, kind)(amount, lp, sender=lp)  # noqa: E731
        else:
            assets, shares = (amount, preview) if kind == "withdraw" else (preview, amount)
            call = lambda: getattr(pool, kind)(amount, lp, lp, sender=lp)  # noqa: E731
        before = self.books()
        tokens, balance = int(s.token.balanceOf(lp)), int(s.engine.pool_balance())
        try:
            returned = int(call())
        except Reverted as exc:
            event(f"lp {kind} {size}: revert {exc.reason}")
            assert reason is not None, f"lp {kind}: the chain reverted {exc.reason!r}, the model says it succeeds"
            assert exc.reason == reason, f"lp {kind}: the chain reverted {exc.reason!r}, the model says {reason!r}"
            assert self.books() == before, "a reverted LP call changed state"
            return
        event(f"lp {kind} {size}: ok")
        assert reason is None, f"lp {kind}: the chain accepted it, the model says it reverts {reason!r}"
        assert returned == preview, f"{kind} returned {returned}, its preview said {preview}"
        sign = 1 if kind in ("deposit", "mint") else -1
        assert int(pool.balanceOf(lp)) == held + sign * shares, f"LP shares off the model after {kind}"
        assert int(pool.totalSupply()) == supply + sign * shares
        assert int(s.token.balanceOf(lp)) == tokens - sign * assets, f"LP tokens off the model after {kind}"
        assert int(s.engine.pool_balance()) == balance + sign * assets * s.precision, f"pool balance off after {kind}"

    # ---------------------------------------------------------------- rules: trading
    @rule(
        who=st.integers(0, TRADERS - 1),
        market=st.integers(0, MARKETS - 1),
        leverage=st.integers(1, 120),
        direction=st.sampled_from([1, -1]),
        kind=st.sampled_from(["open", "close", "flip", "reduce"]),
    )
    def trade(self, who: int, market: int, leverage: int, direction: int, kind: str) -> None:
        s = self.system
        trader = self.traders[who]
        size = s.size_of(trader, market)
        index = self._index(market)
        if index == 0:
            return
        equity = (
            int(s.engine.account_health(trader).equity)
            if s.engine.open_markets(trader)
            else int(s.engine.margin(trader))
        )
        if kind == "open" or size == 0:
            delta = (
                direction * max(equity, WAD) * leverage * WAD // index // 10
            )  # leverage 0.1x .. 12x of equity (past the limit: reverts)
        elif kind == "close":
            delta = -size
        elif kind == "flip":
            delta = -2 * size
        else:
            delta = -size // 3 or -size
        if delta == 0:
            return
        ok, _ = self.modelled(
            lambda book: book.trade(trader, market, delta, MAX_UINT if delta > 0 else 0),
            lambda: s.trade(trader, market, delta),
            f"trade {kind}",
        )
        if not ok:
            return
        covered = self.events("BadDebtCovered")
        if covered:
            event("bad debt on a voluntary close")
        assert s.engine.position(trader, market).size == size + delta
        assert s.engine.pool_balance() >= 0 or covered, "a trader's close took the pool below zero"
        health = s.engine.account_health(trader)
        if abs(size + delta) > abs(size) or (size + delta) * size < 0:
            assert health.equity >= health.initial_margin, (
                "a risk-increasing trade left the account below initial margin"
            )
        elif health.position_count:
            assert health.equity >= 0, "a reduction left an underwater account open (only liquidation may)"

    @rule(who=st.integers(0, TRADERS - 1), market=st.integers(0, MARKETS - 1), from_short=st.booleans())
    def flip_position(self, who: int, market: int, from_short: bool) -> None:
        """Flip a position through zero (short to long or long to short, to half its size):
        open interest, entry aggregates and funding index move exactly as the model says."""
        s = self.system
        trader = self.traders[who]
        index = self._index(market)
        if index == 0:
            return
        size = s.size_of(trader, market)
        if size == 0 or (size < 0) != from_short:
            if size:
                self.trade(who, market, 1, 1, "close")
            equity = int(s.engine.margin(trader))
            opening = (-1 if from_short else 1) * max(equity, WAD) * 3 * WAD // index
            self.modelled(
                lambda book: book.trade(trader, market, opening, MAX_UINT if opening > 0 else 0),
                lambda: s.trade(trader, market, opening),
                "open to flip",
            )
            size = s.size_of(trader, market)
            if size == 0 or (size < 0) != from_short:
                return
        delta = -size - size // 2
        ok, _ = self.modelled(
            lambda book: book.trade(trader, market, delta, MAX_UINT if delta > 0 else 0),
            lambda: s.trade(trader, market, delta),
            "flip through zero",
        )
        if ok:
            assert (s.size_of(trader, market) > 0) == from_short, "the flip did not cross zero"

    @rule()
    def underwater_traders_close(self) -> None:
        """Traders below zero equity close their positions themselves before any keeper
        acts: the shortfall must still go through the bad-debt waterfall."""
        s = self.system
        if not self._prices_ok():
            return
        for who, trader in enumerate(self.traders):
            if s.engine.open_markets(trader) and int(s.engine.account_health(trader).equity) < 0:
                event("underwater trader closes")
                for market in range(MARKETS):
                    if s.size_of(trader, market):
                        self.trade(who, market, 1, 1, "close")

    @rule(
        who=st.integers(0, TRADERS - 1),
        market=st.integers(0, MARKETS - 1),
        bad=st.sampled_from(["zero", "unknown", "slippage_buy", "slippage_sell"]),
    )
    def bad_trade(self, who: int, market: int, bad: str) -> None:
        s = self.system
        trader = self.traders[who]
        if bad == "zero":
            action, reason = (lambda: s.engine.trade(market, 0, MAX_UINT, sender=trader)), "Zero size"
        elif bad == "unknown":
            action, reason = (lambda: s.engine.trade(MARKETS + market, WAD, MAX_UINT, sender=trader)), "Unknown market"
        else:
            if self._index(market) == 0:
                return
            delta = WAD // 1000 if bad == "slippage_buy" else -WAD // 1000
            fill = s.lens.fill_price(market, delta)
            bound = fill - 1 if delta > 0 else fill + 1
            action, reason = (lambda: s.engine.trade(market, delta, bound, sender=trader)), "Slippage"
        before = self.books()
        try:
            action()
        except Reverted as exc:
            if exc.reason in {"Oracle stale", "Oracle price jump", "Market paused"}:
                return
            assert exc.reason == reason, (bad, exc.reason)
            assert self.books() == before
            return
        raise AssertionError(f"bad input {bad} was accepted")

    # ---------------------------------------------------------------- rules: prices and time
    @rule(market=st.integers(0, MARKETS - 1), moves_pct=st.lists(st.integers(2, 12), min_size=1, max_size=4))
    def price_against_the_largest_position(self, market: int, moves_pct: list[int]) -> None:
        """Move the price against the trader holding the largest position in `market`, in
        poked rounds within the jump bound, the keeper stepping in after each round: the
        path by which most examples reach partial tiers, penalties and cool-downs."""
        s = self.system
        sizes = [(abs(s.size_of(t, market)), s.size_of(t, market), t) for t in self.traders]
        _, size, target = max(sizes)
        if size == 0:
            return
        for move in moves_pct:
            if not self.poked_round(market, max(s.prices[market] * (100 - (move if size > 0 else -move)) / 100, 1.0)):
                return
            self.liquidate_one(target, "liquidate the largest")
            if not s.size_of(target, market):
                return

    @rule(market=st.integers(0, MARKETS - 1), moves=st.lists(st.integers(-20, 20), min_size=1, max_size=4))
    def oracle_rounds(self, market: int, moves: list[int]) -> None:
        """Small moves, crashes and squeezes in several steps; the keeper pokes each round."""
        s = self.system
        for move in moves:
            s.chain.advance(30)
            s.prices[market] = max(s.prices[market] * (100 + move) / 100, 1.0)
            s.set_price(market, s.prices[market])
            self.poke(market)

    @rule(
        market=st.integers(0, MARKETS - 1),
        steps=st.integers(1, 4),
        step_pct=st.integers(3, 20),
        keepers_react=st.booleans(),
    )
    def cascade(self, market: int, steps: int, step_pct: int, keepers_react: bool) -> None:
        """Crash (or squeeze) against the side holding the most size, in several poked
        rounds; keepers may sweep after each round (a cascade), or not (bad debt builds)."""
        s = self.system
        net = sum(s.size_of(t, market) for t in self.traders)
        direction = -1 if net >= 0 else 1
        for _ in range(steps):
            self.poked_round(market, max(s.prices[market] * (100 + direction * step_pct) / 100, 1.0))
            if keepers_react:
                self.liquidate_all()

    @rule(market=st.integers(0, MARKETS - 1), jump=st.sampled_from([-40, 45]))
    def price_gap(self, market: int, jump: int) -> None:
        """A gap beyond the jump bound is refused until the guardian re-anchors."""
        s = self.system
        s.chain.advance(30)
        s.prices[market] = s.prices[market] * (100 + jump) / 100
        s.set_price(market, s.prices[market])
        accepted = int(s.engine.market_state(market).last_price)
        index = self._index_unbounded(market)
        bound = int(s.engine.market_config(market).max_price_jump)
        self.remember_market()
        if abs(index - accepted) * WAD > accepted * bound:
            before = self.books()
            try:
                s.engine.poke(market, sender=self.keeper)
                raise AssertionError("a price jump beyond the bound was accepted")
            except Reverted as exc:
                assert exc.reason == "Oracle price jump", exc.reason
            assert self.books() == before
            self.remember_market()
            s.configurator.reanchor_price(market, sender=s.admin)
        else:
            s.engine.poke(market, sender=self.keeper)
        self.touched(market)

    def _index_unbounded(self, market: int) -> int:
        s = self.system
        answer = s.oracles[market].latestRoundData()[1]
        return int(answer) * 10 ** (18 - int(s.oracles[market].decimals()))

    @rule(seconds=st.integers(1, 2 * 86_400))
    def time_passes(self, seconds: int) -> None:
        s = self.system
        s.chain.advance(seconds)
        for market in range(MARKETS):
            s.set_price(market, s.prices[market])

    @rule(market=st.integers(0, MARKETS - 1), who=st.integers(0, TRADERS - 1))
    def stale_oracle(self, market: int, who: int) -> None:
        s = self.system
        s.chain.advance(3601)
        before = self.books()
        try:
            s.engine.trade(market, WAD // 1000, MAX_UINT, sender=self.traders[who])
            raise AssertionError("a trade on a stale oracle was accepted")
        except Reverted as exc:
            assert exc.reason == "Oracle stale", exc.reason
        assert self.books() == before
        for m in range(MARKETS):
            s.set_price(m, s.prices[m])

    @rule(
        market=st.integers(0, MARKETS - 1),
        kind=st.sampled_from(["jump", "stale"]),
        over=st.booleans(),
        up=st.booleans(),
    )
    def oracle_at_the_limits(self, market: int, kind: str, over: bool, up: bool) -> None:
        """Rounds exactly at the jump bound (the largest accepted move, in the feed's own
        decimals) or one tick over it, and a round exactly max_oracle_age old or one second
        older: the model says accept or refuse, the poke must agree."""
        s = self.system
        config, state = s.engine.market_config(market), s.engine.market_state(market)
        if s.engine.settlement_price(market):
            return
        decimals = int(s.oracles[market].decimals())
        scale = model.price_scale(decimals)
        if kind == "jump":
            s.chain.advance(30)
            last = state.last_price
            bound = last * config.max_price_jump // WAD  # the largest accepted move (1e18 USD)
            if up:
                answer = (last + bound) // scale + (1 if over else 0)
            else:
                answer = -(-(last - bound) // scale) - (1 if over else 0)
            s.oracles[market].push_round(answer, 0, sender=s.feeder)
            s.prices[market] = answer / 10**decimals
            event(f"oracle: jump {'over' if over else 'at'} the bound")
        else:
            updated = int(s.oracles[market].latestRoundData()[3])  # (round, answer, started, updated, answered)
            target = updated + config.max_oracle_age + (1 if over else 0)
            if target < s.chain.time:
                return
            s.chain.advance(target - s.chain.time)
            event(f"oracle: round {'one second past' if over else 'exactly at'} max age")
        accepted = self.poke(market)
        if kind == "jump" and not accepted:
            s.prices[market] = state.last_price / WAD
            s.set_price(market, s.prices[market])
        for m in range(MARKETS):  # fresh rounds for the next rules
            if m != market or kind == "stale":
                s.set_price(m, s.prices[m])

    # ---------------------------------------------------------------- rules: liquidation
    def liquidate_one(self, trader: str, label: str = "liquidate") -> dict | None:
        """One strict liquidation step, checked against the model: every part of the step
        (tier at its boundary, size closed, escalation, reward, penalty, funding settled,
        waterfall, cool-down stamp, rate-limit window) and the required reverts
        ("Account not liquidatable", "Liquidation cool-down", "Liquidation rate limit",
        the oracle's) or the required success."""
        s = self.system
        health = s.engine.account_health(trader) if self._prices_ok() else None
        ok, step = self.modelled(
            lambda book: book.liquidate(trader, self.keeper),
            lambda: s.engine.liquidate(trader, sender=self.keeper),
            label,
        )
        if not ok:
            return None
        liquidations = self.events("Liquidated")
        event(f"liquidation tier {step['tier']}" + (" (partial)" if step["remaining_size"] else ""))
        if step["penalty"]:
            event("liquidation with a penalty")
        if health is not None and step["remaining_size"] != 0:
            after = s.engine.account_health(trader)
            ratio_before = health.equity * WAD // health.maintenance_margin
            assert after.equity * WAD // max(after.maintenance_margin, 1) > ratio_before, (
                "a partial liquidation left the account worse"
            )
        if health is not None and health.equity < 0:
            event("bankrupt account: every position closed in one step")
            assert s.engine.open_markets(trader) == 0, "a bankrupt account kept a position"
        assert all(e["keeper_reward"] <= s.engine.liquidation_config().reward_cap for e in liquidations)
        return step

    @rule(who=st.integers(0, TRADERS - 1))
    def liquidate(self, who: int) -> None:
        self.liquidate_one(self.traders[who])

    @rule()
    def liquidate_all(self) -> None:
        """The batch: one non-strict step per account, skips (healthy, cool-down, rate limit)
        exactly where the model skips, and the same books and events."""
        s = self.system
        liquidatable = [t for t in self.traders if self._prices_ok() and s.lens.is_liquidatable(t)]
        masks = {t: int(s.engine.open_markets(t)) for t in self.traders}
        ok, count = self.modelled(
            lambda book: book.liquidate_many(self.traders, self.keeper),
            lambda: s.engine.liquidate_many(self.traders, sender=self.keeper),
            "liquidate_many",
        )
        if ok:
            # an account healthy when the batch started may be liquidated in it only as a cascade:
            # an earlier step closed a position in a market it holds, moving that market's skew and
            # so its exit prices (the model, which agrees, re-checks each account's health at its step)
            moved = 0
            for step in self.events("Liquidated"):
                account = step["account"]
                assert account in liquidatable or masks[account] & moved, "batch liquidated a healthy account"
                moved |= 1 << step["market"]

    @rule(who=st.integers(0, TRADERS - 1), offset=st.sampled_from([-1, 0]))
    def liquidate_at_cooldown_edge(self, who: int, offset: int, nudge_bp: int = 0) -> None:
        """A second partial step exactly at the end of the cool-down (allowed) or one second
        before (required to revert "Liquidation cool-down" while the tier is partial). The
        edge's round may move the price `nudge_bp` against the position (to make it
        liquidatable again without another minute passing)."""
        s = self.system
        trader = self.traders[who]
        last = int(s.engine.last_partial_liquidation(trader))
        cooldown = int(s.engine.liquidation_config().cooldown)
        if last == 0 or not s.engine.open_markets(trader) or last + cooldown + offset <= s.chain.time:
            return
        s.chain.advance(last + cooldown + offset - s.chain.time)
        self._edge_rounds(trader, nudge_bp)
        event(f"liquidation at the cool-down edge {offset:+d}")
        self.liquidate_one(trader, "liquidate at the cool-down edge")

    def _edge_rounds(self, trader: str, nudge_bp: int) -> None:
        """Fresh rounds on every feed (no time passes); with `nudge_bp`, `trader`'s markets
        move against it by that much per round, up to five rounds, until it is liquidatable."""
        s = self.system
        for m in range(MARKETS):
            s.set_price(m, s.prices[m])
        for _ in range(5 if nudge_bp else 0):
            if not self._prices_ok() or s.lens.is_liquidatable(trader):
                return
            for m in range(MARKETS):
                size = s.size_of(trader, m)
                if size:
                    s.prices[m] = max(s.prices[m] * (10_000 - (nudge_bp if size > 0 else -nudge_bp)) / 10_000, 1.0)
                    s.set_price(m, s.prices[m])

    @rule(offset=st.sampled_from([-1, 0]), who=st.integers(0, TRADERS - 1))
    def liquidate_at_window_edge(self, offset: int, who: int, nudge_bp: int = 0) -> None:
        """ETH's rate-limit window: a step one second before the window ends (counts into
        the old window, may be refused) or exactly at its end (a fresh window)."""
        s = self.system
        market = 1
        state = s.engine.market_state(market)
        limit = s.engine.rate_limit(market)
        end = state.liquidation_window_start + limit.window
        if limit.window == 0 or state.liquidation_window_notional == 0 or end + offset <= s.chain.time:
            return
        s.chain.advance(end + offset - s.chain.time)
        self._edge_rounds(self.traders[who], nudge_bp)
        event(f"liquidation at the window edge {offset:+d}")
        self.liquidate_one(self.traders[who], "liquidate at the window edge")
        self.liquidate_all()

    @contextmanager
    def all_partial_tiers(self) -> Any:
        """Tiers under which every solvent account below maintenance is in a partial tier
        (close 25 %; only equity <= 0 closes all), restored afterwards."""
        s = self.system
        config = s.engine.liquidation_config()
        saved = list(s.engine.liquidation_tiers())
        s.configurator.set_liquidation_config(config, [Tier(1.0, 0.25).to_struct(), (1, WAD)], sender=s.admin)
        try:
            yield
        finally:
            s.configurator.set_liquidation_config(config, saved, sender=s.admin)

    @rule(who=st.integers(0, TRADERS - 1), over=st.booleans())
    def liquidation_at_tier_boundary(self, who: int, over: bool) -> None:
        self.liquidate_at_tier_boundary(self.traders[who], over)

    def liquidate_at_tier_boundary(self, trader: str, over: bool) -> dict | None:
        """Put a tier threshold exactly at an account's margin ratio (the account is then
        not in that tier: the test is strict) or one wei above it (it is), liquidate, and
        restore the tiers. Nothing happens unless the account is liquidatable and solvent."""
        s = self.system
        if not self._prices_ok() or not s.engine.open_markets(trader):
            return None
        health = s.engine.account_health(trader)
        ratio = model.margin_ratio(health.equity, health.maintenance_margin)
        if not (WAD // 10 < ratio < WAD - 1):
            return None
        threshold = ratio + (1 if over else 0)
        deepest = WAD // 20  # < threshold: ratio > 0.1 here
        tiers = [Tier(1.0, 0.25).to_struct(), (threshold, WAD // 2), (deepest, WAD)]
        config = s.engine.liquidation_config()
        saved = list(s.engine.liquidation_tiers())
        s.configurator.set_liquidation_config(config, tiers, sender=s.admin)
        try:
            event("tier threshold at the margin ratio" + (" + 1 wei" if over else ""))
            step = self.liquidate_one(trader, "liquidate at a tier boundary")
            if step is not None and not step["_escalated"]:
                assert step["tier"] == (1 if over else 0), "tier off its boundary"
            return step
        finally:
            s.configurator.set_liquidation_config(config, saved, sender=s.admin)

    @rule(
        who=st.integers(0, TRADERS - 1),
        market=st.integers(0, MARKETS - 1),
        leverage_pct=st.integers(90, 100),
        step_bp=st.integers(50, 300),
        boundary=st.sampled_from([None, "at", "over"]),
        edge=st.sampled_from([-1, 0]),
    )
    def leverage_to_the_limit_then_liquidate(
        self, who: int, market: int, leverage_pct: int, step_bp: int, boundary: str | None, edge: int
    ) -> None:
        """Open at 90-100 % of the leverage the initial margin allows, walk the price against
        the position in small poked rounds until it is liquidatable, then liquidate
        (model-checked) -- optionally with a tier threshold exactly at (or 1 wei above) its
        margin ratio -- and, after a partial step, try the next one exactly at the end of
        the cool-down or a second before, and on ETH at the rate-limit window's edge. The
        path by which examples reach partial tiers, penalties, cool-downs and windows."""
        s = self.system
        trader = self.traders[who]
        if not self._prices_ok() or s.size_of(trader, market):
            return
        index = self._index(market)
        equity = int(s.engine.account_health(trader).equity)
        if equity <= 100 * WAD:
            return
        direction = 1 if (who + market) % 2 == 0 else -1
        # the first bracket's initial rate x the multiplier bounds the leverage
        rate = (
            s.engine.brackets_of(market)[0].initial_margin_rate * s.engine.market_state(market).risk_multiplier // WAD
        )
        size = direction * equity * leverage_pct * WAD // 100 * WAD // rate // index
        ok, _ = self.modelled(
            lambda book: book.trade(trader, market, size, MAX_UINT if size > 0 else 0),
            lambda: s.trade(trader, market, size),
            "open near the limit",
        )
        if not ok:
            return
        for _ in range(12):
            if not self.poked_round(market, max(s.prices[market] * (10_000 - direction * step_bp) / 10_000, 1.0)):
                return
            if s.lens.is_liquidatable(trader):
                break
        else:
            return
        event("walked into liquidation")
        step = None
        if boundary is not None:
            step = self.liquidate_at_tier_boundary(trader, boundary == "over")
        if step is None:
            step = self.liquidate_one(trader, "liquidate near the limit")
        if step is not None and step["remaining_size"]:
            if s.size_of(trader, market) and not s.lens.is_liquidatable(trader):
                # walk on until the rest is liquidatable again, then the cool-down's edge
                for _ in range(4):  # 4 poked minutes: still inside the 300 s cool-down
                    if not self.poked_round(
                        market, max(s.prices[market] * (10_000 - 3 * direction * step_bp) / 10_000, 1.0)
                    ):
                        return
                    if s.lens.is_liquidatable(trader):
                        break
            with self.all_partial_tiers():
                # the next partial step at the cool-down's edge, then (ETH) at the window's edge
                self.liquidate_at_cooldown_edge(who, edge, step_bp)
                if market == 1:
                    self.liquidate_at_window_edge(edge, who, step_bp)

    @rule(who=st.integers(0, TRADERS - 1), amount=st.sampled_from([0, 1, 500, 20_000]))
    def fund_insurance(self, who: int, amount: int) -> None:
        s = self.system
        trader = self.traders[who]
        tokens = s.tokens(amount)
        insurance = int(s.engine.insurance_fund())
        if self.attempt(lambda: s.engine.fund_insurance(tokens, sender=trader), {"Zero amount"}):
            assert amount > 0, "a zero insurance funding went through"
            assert s.engine.insurance_fund() == insurance + tokens * s.precision, "insurance credit off-model"

    @rule(market=st.integers(0, MARKETS - 1), misorder=st.booleans())
    def auto_deleverage(self, market: int = 0, misorder: bool = False) -> None:
        """The waterfall's last step (insurance first, then keeper-ranked profitable
        positions) and the PnL-to-pool trigger, which opens ADL before any bad debt: the
        model's ranking (vyperp.model.adl_order, what the keeper sends) must be accepted,
        a list out of that order must revert "ADL candidates not ranked" when the model
        reaches the misplaced candidate, and closes and haircuts match the model."""
        s = self.system
        if not self._prices_ok():
            return
        book = EngineModel(s, self.accounts)
        ordered = model.adl_order(book.adl_scores(market, self.traders)) or [self.traders[0]]
        if misorder and len(ordered) > 1:
            ordered = ordered[::-1]
        value = int(s.engine.pool_value())
        event(
            "ADL: pool deficit"
            if value < 0
            else "ADL: PnL-to-pool trigger"
            if self.adl_side(market)
            else "ADL: not needed"
        )
        ok, _ = self.modelled(
            lambda b: b.auto_deleverage(market, ordered),
            lambda: s.engine.auto_deleverage(market, ordered, sender=self.keeper),
            "ADL misordered" if misorder else "ADL",
        )
        if not ok:
            return
        for e in self.events("AutoDeleveraged"):
            event("ADL closed positions")
            assert 0 <= e["haircut"] <= e["realized_pnl"], "haircut off its bounds"
        assert s.engine.pool_balance() >= 0 or value < 0, "ADL took the pool's balance below zero"

    @rule(market=st.integers(0, MARKETS - 1), pump_pct=st.integers(4, 12), spread=st.integers(2, 6))
    def adl_ranking_scenario(self, market: int, pump_pct: int, spread: int) -> None:
        """Two flat traders go long with different leverage (so different ADL scores), the
        price is pumped in poked rounds until the longs' profit passes the ADL trigger, then
        ADL is called with the candidates reversed (the model requires "ADL candidates not
        ranked" once it reaches the misplaced one) and in the model's order (required to
        close and haircut exactly as the model says)."""
        s = self.system
        first, second = self.traders[0], self.traders[1]
        if not self._prices_ok() or any(s.size_of(t, market) for t in (first, second)):
            return
        for who, leverage in ((0, 2), (1, 2 * spread)):
            self.trade(who, market, leverage * 10, 1, "open")
        if not (s.size_of(first, market) and s.size_of(second, market)):
            return
        for _ in range(8):
            if self.adl_side(market) or not self.poked_round(market, s.prices[market] * (100 + pump_pct) / 100):
                break
        if not self.adl_side(market):
            return
        event("ADL scenario: trigger passed with two ranked longs")
        self.auto_deleverage(market, misorder=True)
        self.auto_deleverage(market, misorder=False)

    def auto_deleverage_all(self) -> None:
        for market in range(MARKETS):
            self.auto_deleverage(market)

    @rule(market=st.integers(0, MARKETS - 1))
    def auto_deleverage_pro_rata(self, market: int) -> None:
        """The pro-rata policy: while the pool's value is negative every profitable position
        keeps its size and loses one fraction of its profit (model-checked: fraction,
        cuts, new entry prices, the insurance's part)."""
        s = self.system
        if not self._prices_ok():
            return
        value = int(s.engine.pool_value())
        sizes = [s.size_of(t, market) for t in self.traders]
        ok, _ = self.modelled(
            lambda b: b.auto_deleverage_pro_rata(market, self.traders),
            lambda: s.engine.auto_deleverage_pro_rata(market, self.traders, sender=self.keeper),
            "ADL pro rata",
        )
        if not ok:
            return
        event("ADL: pro rata")
        assert [s.size_of(t, market) for t in self.traders] == sizes, "pro-rata ADL changed a position's size"
        for cut in self.events("AutoDeleveraged"):
            assert 0 <= cut["haircut"] <= cut["realized_pnl"], "a pro-rata cut beyond the position's profit"
        assert int(s.engine.pool_value()) >= value, "pro-rata ADL lowered the pool's value"

    def adl_side(self, market: int) -> int:
        """+1 / -1 if that side's profit passes adl_pnl_pool_ratio x pool balance (Engine._adl_side)."""
        s = self.system
        ratio = int(s.engine.market_config(market).adl_pnl_pool_ratio)
        if ratio == 0:
            return 0
        state = s.engine.market_state(market)
        profits = model.side_profits(
            state.long_open_interest,
            state.short_open_interest,
            state.sum_size_entry_price,
            state.long_sum_size_entry_price,
            int(s.engine.mark_price(market)),
        )
        return model.adl_side(*profits, int(s.engine.pool_balance()), ratio)

    @rule(
        market=st.integers(0, MARKETS - 1),
        leverage=st.integers(8, 15),
        crash_pct=st.integers(12, 20),
        policy=st.sampled_from([None, "queue", "pro_rata"]),
    )
    def exhaust_pool(self, market: int, leverage: int, crash_pct: int, policy: str | None = None) -> None:
        """Drive the pool into deficit: LPs leave, a highly levered long faces a profitable
        short, the price falls in poked rounds with no keeper awake, then the long is
        liquidated: bad debt beyond insurance and pool, so ADL has work -- which one policy
        then does at once (model-checked), or a later rule."""
        s = self.system
        if not self._prices_ok():
            return
        shares = int(s.pool.maxRedeem(self.lp_account))
        if shares:
            self.attempt(
                lambda: s.pool.redeem(shares, self.lp_account, self.lp_account, sender=self.lp_account),
                {"Exceeds max redeem", "Zero amount"},
            )
        long_trader, short_trader = self.traders[-2], self.traders[-1]
        for trader, direction in ((long_trader, 1), (short_trader, -1)):
            self.trade(self.traders.index(trader), market, leverage * 10, direction, "open")
        for _ in range(3):
            self.poked_round(market, max(s.prices[market] * (100 - crash_pct) / 100, 1.0))
        self.liquidate_all()
        self.liquidate_all()
        if policy == "queue":
            # a little insurance: it covers part of the deficit first and is the pool's cash
            # the closes are paid from, so the queue takes the rest from paid profit
            self.fund_insurance(0, 500)
            self.auto_deleverage(market)
        elif policy == "pro_rata":
            self.auto_deleverage_pro_rata(market)

    # ---------------------------------------------------------------- rules: adversaries
    @rule(who=st.integers(0, TRADERS - 1), market=st.integers(0, MARKETS - 1), multiple=st.sampled_from([2, 20, 500]))
    def adversary_self_skew(self, who: int, market: int, multiple: int) -> None:
        """Open far beyond what the initial margin allows (the open's own premium must not
        count as equity), then the largest size it allows and an instant close: the round
        trip never pays the trader."""
        s = self.system
        trader = self.traders[who]
        index = self._index(market)
        if index == 0 or s.engine.open_markets(trader):
            return
        margin = int(s.engine.margin(trader))
        if margin <= WAD:
            return
        # leverage `multiple` x the largest bracket-1 leverage (20x here): never accepted
        size = margin * 20 * multiple * WAD // index
        self.remember_market()
        ok = self.attempt(
            lambda: s.trade(trader, market, size),
            {"Below initial margin", "Max open interest", "Market paused", "Oracle stale", "Oracle price jump"},
        )
        assert not ok, f"a {20 * multiple}x open was accepted: its own premium counted as equity"
        for leverage in (19, 15, 10, 5):
            size = margin * leverage * WAD // index
            self.remember_market()
            if self.attempt(
                lambda: s.trade(trader, market, size),
                {"Below initial margin", "Max open interest", "Market paused", "Oracle stale", "Oracle price jump"},
            ):
                self.touched(market)
                self.remember_market()
                if self.attempt(
                    lambda: s.trade(trader, market, -size),
                    {"Oracle stale", "Oracle price jump", "Account underwater", "Negative margin"},
                ):
                    event("adversary: self-skew round trip")
                    assert int(s.engine.margin(trader)) <= margin, "an instant round trip paid the trader"
                return

    @rule(market=st.integers(0, MARKETS - 1), pump_pct=st.integers(10, 24), rounds=st.integers(2, 6))
    def adversary_pump_and_close(self, market: int, pump_pct: int, rounds: int) -> None:
        """Mango: two traders take both sides, the index is pumped in poked rounds (the keeper
        liquidates and deleverages after each), the long closes at the top. The pool's
        balance never goes below zero and, once everything is closed, the LPs have lost no
        more than the PnL cap plus the bad debt the jumps left plus the most funding the
        pool could have paid over the rounds (the documented bound)."""
        s = self.system
        if not self._prices_ok():
            return
        long_trader, short_trader = self.traders[0], self.traders[1]
        for trader in (long_trader, short_trader):
            if s.engine.open_markets(trader):
                return
        if any(s.size_of(t, market) for t in self.traders):
            return  # the bound is the pair's: others' open profit would move the pool's value too
        pool_before = int(s.engine.pool_balance())
        lp_before = self._lp_value()
        if pool_before <= 0 or lp_before is None:
            return
        self.trade(0, market, 40, 1, "open")
        self.trade(1, market, 40, -1, "open")
        if not s.size_of(long_trader, market):
            return
        bad_debt = 0
        pool_high = pool_before  # the cap is a fraction of the pool's balance when a profit is paid
        funding_bound = 0  # the most funding the pool can have paid over the rounds (cap x OI x time)
        cap = int(s.engine.market_config(market).max_funding_rate)
        for _ in range(rounds):
            self.poked_round(market, s.prices[market] * (100 + pump_pct) / 100)
            state = s.engine.market_state(market)
            notional = (state.long_open_interest + state.short_open_interest) * state.last_price // WAD
            funding_bound += notional * cap // WAD * 90 // 28_800 + WAD  # 90 s: the round's minute, rounded up
            self.remember_market()
            if self.attempt(
                lambda: s.engine.liquidate_many(self.traders, sender=self.keeper), {"Oracle stale", "Oracle price jump"}
            ):
                for step in self.events("Liquidated"):
                    self.touched(step["market"])
                bad_debt += sum(e["bad_debt"] for e in self.events("BadDebtCovered"))
            # another account's loss collected in the round (a liquidation in any market) raises
            # the balance, and with it the cap, before the pair's profit is paid (ADL, the close)
            pool_high = max(pool_high, int(s.engine.pool_balance()))
            self.auto_deleverage_all()
        if s.size_of(long_trader, market):
            self.trade(0, market, 1, 1, "close")
        event("adversary: pump and close")
        assert int(s.engine.pool_balance()) >= 0, "the pump-and-close took the pool below zero"
        if any(s.size_of(t, m) for t in self.traders for m in range(MARKETS)):
            # a position still open (a close refused, the short not yet liquidated): the pool's
            # value counts its profit uncapped and its loss as collectable, so the bound, which
            # is about what the pair could take, is judged only once everything is closed
            event("adversary: pump left positions open")
            return
        lp_after = self._lp_value()
        ratio = int(s.engine.market_config(market).max_pnl_pool_ratio)
        if lp_after is not None and ratio:
            bound = pool_high * ratio // WAD + bad_debt + funding_bound
            assert lp_before - lp_after <= bound, f"LP loss {lp_before - lp_after} beyond the bound {bound}"

    @rule(who=st.integers(0, TRADERS - 1), market=st.integers(0, MARKETS - 1), rise_pct=st.integers(1, 15))
    def adversary_withdraw_then_liquidate(self, who: int, market: int, rise_pct: int) -> None:
        """The Hyperliquid whale: open, a favourable round, withdraw the most the engine
        allows; what is left must still cover the transfer margin at exit prices."""
        s = self.system
        trader = self.traders[who]
        if not self._prices_ok():
            return
        if not s.size_of(trader, market):
            self.trade(who, market, 60, 1, "open")
        if not s.size_of(trader, market):
            return
        self.poked_round(market, s.prices[market] * (100 + rise_pct) / 100)
        if not self._prices_ok():
            return
        amount = s.max_withdrawal(trader)  # the largest withdrawal the engine accepts
        if amount == 0:
            return
        s.engine.withdraw(amount, sender=trader)
        event("adversary: withdrew after a favourable round")
        health = s.engine.account_health(trader)
        assert health.equity >= health.transfer_margin, "a withdrawal left equity below the transfer margin"
        assert health.equity >= health.initial_margin, "a withdrawal left equity below initial margin"

    @rule(
        who=st.integers(0, TRADERS - 1),
        market=st.integers(0, MARKETS - 1),
        move_pct=st.integers(-15, 15),
        leverage=st.integers(1, 8),
    )
    def adversary_front_run(self, who: int, market: int, move_pct: int, leverage: int) -> None:
        """GMX v1 AVAX: the market takes risk-increasing trades as delayed orders; a trader
        who knows the next round's move cannot open ahead of it (a direct open reverts, an
        order fills at the new round), so the round trip does not pay."""
        s = self.system
        trader = self.traders[who]
        index = self._index(market)
        if index == 0 or s.size_of(trader, market) or move_pct == 0:
            return
        margin = int(s.engine.margin(trader))
        if margin <= WAD:
            return
        config = s.engine.market_config(market)
        s.configurator.set_market_config(market, config._replace(delayed_orders=True, order_ttl=600), sender=s.admin)
        try:
            size = (1 if move_pct > 0 else -1) * margin * leverage * WAD // index
            self.remember_market()
            ok = self.attempt(
                lambda: s.trade(trader, market, size), {"Delayed orders only", "Oracle stale", "Oracle price jump"}
            )
            assert not ok, "a delayed-order market accepted a direct open"
            self.remember_market()
            bound = MAX_UINT if size > 0 else 0
            if not self.attempt(
                lambda: s.order_book.commit_order(market, size, bound, sender=trader),
                {"Oracle stale", "Oracle price jump", "Market paused"},
            ):
                return
            self.touched(market)
            self.remember_market()
            self.attempt(
                lambda: s.order_book.execute_order(trader, market, sender=self.keeper), {"Order waits for a new round"}
            )
            assert s.size_of(trader, market) == 0, "an order filled at its own commit round"
            if not self.poked_round(market, s.prices[market] * (100 + move_pct) / 100):
                return
            view = self._market_view(market)
            expected = model.fill_price(self._index(market), view["skew"], size, view["scale"], view["maxp"])
            self.remember_market()
            if not self.attempt(
                lambda: s.order_book.execute_order(trader, market, sender=self.keeper),
                {"Below initial margin", "Max open interest", "Oracle stale", "Oracle price jump", "Negative margin"},
            ):
                return
            self.touched(market)
            (cleared,) = self.events("OrderCleared")
            assert cleared["fill_price"] == expected, "an order did not fill at the round after its commit"
            event("adversary: front-run through a delayed order")
            self.trade(who, market, 1, 1, "close")
            if not s.size_of(trader, market):
                assert int(s.engine.margin(trader)) <= margin, "a round trip around a known round paid the trader"
        finally:
            s.configurator.set_market_config(
                market, s.engine.market_config(market)._replace(delayed_orders=False), sender=s.admin
            )

    def _lp_value(self) -> int | None:
        """The pool's value (1e18 USD), None while a feed cannot be read."""
        try:
            return int(self.system.engine.pool_value())
        except Reverted:
            return None

    # ---------------------------------------------------------------- rules: governance
    @rule(market=st.integers(0, MARKETS - 1), taker_bp=st.integers(0, 30), cap_bp=st.integers(1, 100))
    def admin_changes_parameters(self, market: int, taker_bp: int, cap_bp: int) -> None:
        s = self.system
        old = s.engine.market_config(market)
        taker = taker_bp * WAD // 10_000
        config = old._replace(
            taker_fee=taker, maker_fee=min(old.maker_fee, taker), max_funding_rate=cap_bp * WAD // 10_000
        )
        self.remember_market()
        if self.attempt(
            lambda: s.configurator.set_market_config(market, config, sender=s.admin),
            {"Oracle stale", "Oracle price jump"},
        ):
            self.touched(market)
            fm = self.funding[market]
            fm.max_funding_rate = config.max_funding_rate
            assert s.engine.market_config(market) == config

    @rule(market=st.integers(0, MARKETS - 1), who=st.integers(0, TRADERS - 1))
    def pause_cycle(self, market: int, who: int) -> None:
        s = self.system
        s.configurator.set_paused(market, True, sender=s.admin)
        trader = self.traders[who]
        increase = WAD // 100 if s.size_of(trader, market) >= 0 else -(WAD // 100)
        before = self.books()
        try:
            s.engine.trade(market, increase, MAX_UINT if increase > 0 else 0, sender=trader)
            raise AssertionError("a paused market accepted a risk-increasing trade")
        except Reverted as exc:
            assert exc.reason in {"Market paused", "Oracle stale", "Oracle price jump", "Below initial margin"}, (
                exc.reason
            )
        assert self.books() == before
        s.configurator.set_paused(market, False, sender=s.admin)

    @rule(index=st.integers(0, len(PRIVILEGED) - 1))
    def outsider_pulls_a_lever(self, index: int) -> None:
        s = self.system
        target, function, args, reason = PRIVILEGED[index]
        contract = {"configurator": s.configurator, "engine": s.engine, "oracle": s.oracles[0]}[target]

        def state() -> tuple:
            c = s.configurator
            return self.books(), c.admin(), c.pending_admin(), int(c.roles_of(self.outsider))

        before = state()
        try:
            getattr(contract, function)(*args(self), sender=self.outsider)
        except Reverted as exc:
            assert exc.reason == reason, (function, exc.reason)
            assert state() == before
            return
        raise AssertionError(f"outsider called {target}.{function}")

    # ---------------------------------------------------------------- invariants
    def _prices_ok(self) -> bool:
        return all(self._index(m) for m in range(MARKETS))

    @invariant()
    def conservation(self) -> None:
        ProtocolMachine.steps_run += 1
        s = self.system
        ledger = s.ledger(self.accounts)
        assert ledger.held == ledger.booked, f"held {ledger.held} != booked {ledger.booked}"

    @invariant()
    def no_flat_account_is_frozen(self) -> None:
        """Whatever happened, an account with no position can withdraw its whole balance."""
        s = self.system
        for account in self.accounts:
            if s.engine.open_markets(account):
                continue
            amount = int(s.engine.margin(account)) // s.precision
            if amount <= 0:
                continue
            with s.chain.isolate():
                try:
                    s.engine.withdraw(amount, sender=account)
                except Reverted as exc:
                    raise AssertionError(f"flat account frozen: withdraw({amount}) reverted {exc.reason!r}") from exc

    @invariant()
    def pool_balance_never_negative_and_exit_equity_at_most_mark(self) -> None:
        """The pool's cash never goes below zero (profit is paid only from it), and equity at
        exit prices never exceeds equity at the mark for any position's own side."""
        s = self.system
        assert int(s.engine.pool_balance()) >= 0, f"pool balance {int(s.engine.pool_balance())} < 0"
        if not self._prices_ok():
            return
        marks = [int(s.engine.mark_price(m)) for m in range(MARKETS)]
        for trader in self.traders:
            if not s.engine.open_markets(trader):
                continue
            at_mark = int(s.engine.margin(trader))
            for m in range(MARKETS):
                position = s.engine.position(trader, m)
                if position.size:
                    at_mark += model.pnl(position.size, marks[m], position.entry_price)
                    at_mark -= int(s.lens.pending_funding(trader, m))
            assert int(s.engine.account_health(trader).equity) <= at_mark, (
                "equity at exit prices above equity at the mark"
            )

    @invariant()
    def open_interest(self) -> None:
        s = self.system
        for market in range(MARKETS):
            sizes = [s.size_of(t, market) for t in self.traders]
            state = s.engine.market_state(market)
            assert (state.long_open_interest, state.short_open_interest) == (
                sum(x for x in sizes if x > 0),
                -sum(x for x in sizes if x < 0),
            )

    @invariant()
    def funding_follows_model(self) -> None:
        s = self.system
        for market in range(MARKETS):
            state = s.engine.market_state(market)
            fm = self.funding[market]
            assert (state.cumulative_funding_per_unit, state.funding_rate, state.last_funding_time) == (
                fm.cumulative,
                fm.rate,
                fm.last_time,
            ), f"funding off-model in {market}"

    @invariant()
    def solvency_and_bounds(self) -> None:
        """vyperp.model.invariants: exact net solvency over every account (negative equities
        included, no tolerance), margins >= 0 at rest, the mark within its premium bound."""
        s = self.system
        for account in self.accounts:
            margin = int(s.engine.margin(account))
            assert margin >= 0, (
                "a flat account kept negative margin (bad debt lost)"
                if not s.engine.open_markets(account)
                else "an account rests with positions and a negative margin"
            )
        if not self._prices_ok():
            return  # equity and pool value cannot be read while a feed is stale or jumped
        equities = [int(s.engine.account_health(a).equity) for a in self.accounts]
        pool_value = int(s.engine.pool_value())
        insurance = int(s.engine.insurance_fund())
        held = s.ledger(self.accounts).held
        slack = invariants.solvency_slack(sum(equities), pool_value, insurance, held)
        assert slack >= 0, (
            f"insolvent by {-slack} wei: equities {equities}, pool value {pool_value}, insurance {insurance}"
        )
        for market in range(MARKETS):
            config = s.engine.market_config(market)
            assert invariants.mark_within_bound(
                int(s.engine.mark_price(market)), int(s.engine.index_price(market)), config.max_premium
            ), "mark outside its premium bound"

    @invariant()
    def health_follows_model(self) -> None:
        """Every account's health (equity at exit prices under the PnL cap, initial and
        maintenance requirements = brackets x risk multiplier, transfer margin, largest
        market) and the pool's value and reserve equal the model's, to the wei."""
        s = self.system
        if not self._prices_ok():
            return
        book = EngineModel(s, self.accounts)
        for account in self.traders:
            if s.engine.open_markets(account):
                assert s.engine.account_health(account)._asdict() == book.health(account), (
                    f"health off-model ({account})"
                )
        assert int(s.engine.pool_value()) == book.pool_value(), "pool value off-model"
        assert int(s.engine.pool_withdrawable()) == book.pool_withdrawable(), "pool reserve off-model"

    def _market_view(self, market: int) -> dict[str, int]:
        s = self.system
        config = s.engine.market_config(market)
        return {
            "skew": self.skew(market),
            "scale": config.skew_scale,
            "maxp": config.max_premium,
            "taker": config.taker_fee,
            "maker": config.maker_fee,
            "tier": config.size_tier_notional,
            "mult": config.size_tier_multiplier,
            "pnl_ratio": config.max_pnl_pool_ratio,
        }


def _copy(fm: model.FundingMarket) -> model.FundingMarket:
    import copy

    return copy.copy(fm)
