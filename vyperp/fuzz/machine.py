"""Stateful fuzzing of the whole protocol: a hypothesis RuleBasedStateMachine over a
deployed system (two markets, four traders, an LP, a keeper, the admin, an outsider).

Rules draw inputs valid for the live state plus a share of deliberately invalid ones;
after every step the six invariants of DESIGN.md are checked against the chain:
conservation to the wei, solvency, funding against the exact model, open interest,
liquidation safety (in the liquidation rules), access control (in the outsider rule);
also: a reverted call changes nothing, withdrawals never exceed realized margin,
the mark stays within its premium bound, money moves exactly as the model predicts.

The system is deployed once per contracts directory (`VYPERP_CONTRACTS_DIR`, used by
the mutation check) and every example runs inside a snapshot.
"""

from __future__ import annotations

import os
from typing import Any

from hypothesis import event, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from .. import model
from ..chain import Reverted
from ..protocol.params import Bracket, LiquidationParams, MarketParams, ProtocolParams, TIERED
from ..protocol.system import MAX_UINT, System
from ..protocol.units import WAD

TRADERS = 4
MARKETS = 2
_SYSTEMS: dict[str, System] = {}

PRIVILEGED = [
    ("configurator", "set_pool", lambda s: (s.outsider,), "Not admin"),
    ("configurator", "set_paused", lambda s: (0, True), "Not guardian"),
    ("configurator", "reanchor_price", lambda s: (0,), "Not guardian"),
    ("configurator", "set_rate_limit", lambda s: (0, (60, WAD)), "Not admin"),
    ("configurator", "set_roles", lambda s: (s.outsider, 3), "Not admin"),
    ("configurator", "set_liquidation_config", lambda s: (LiquidationParams().config_struct(), []), "Not admin"),
    ("configurator", "set_market_config", lambda s: (0, s.system.engine.market_config(0)), "Not admin"),
    ("configurator", "set_risk_config", lambda s: (0, MarketParams().risk_struct()), "Not admin"),
    ("configurator", "set_margin_brackets", lambda s: (0, MarketParams().brackets_struct()), "Not admin"),
    ("engine", "set_paused", lambda s: (0, True), "Not configurator"),
    ("engine", "set_market_config", lambda s: (0, s.system.engine.market_config(0)), "Not configurator"),
    ("engine", "set_liquidation_config", lambda s: (LiquidationParams().config_struct(), []), "Not configurator"),
    ("engine", "reanchor_price", lambda s: (0,), "Not configurator"),
    ("engine", "pool_credit", lambda s: (10**6,), "Not pool"),
    ("engine", "pool_debit", lambda s: (1, s.outsider), "Not pool"),
    ("oracle", "push_round", lambda s: (10**8, 0), "Not feeder"),
]


def fuzz_params() -> ProtocolParams:
    """A small pool and high leverage so cascades, bad debt and ADL are reachable."""
    return ProtocolParams(
        markets=[
            MarketParams(symbol="BTC", skew_scale_usd=20_000_000.0,
                         brackets=(Bracket(250_000.0, 0.05, 0.025), Bracket(float("inf"), 0.1, 0.05)),
                         variance_ewma_weight=0.1, volatility_weight=1.0, max_multiplier=2.0,
                         size_tier_notional=200_000.0, size_tier_multiplier=1.5, transfer_margin_ratio=0.08),
            MarketParams(symbol="ETH", initial_price=4_000.0, skew_scale_usd=10_000_000.0, funding_model="velocity",
                         funding_velocity=2.0, max_funding_rate=0.01, transfer_margin_ratio=0.12,
                         max_open_interest_pool_ratio=20.0),
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
        for trader in system.traders:
            system.mint(trader, 1_000_000)
        system.keeper = system.new_trader("keeper")
        system.outsider = system.chain.new_account("outsider", eth=10**20)
        _SYSTEMS[key] = system
    return _SYSTEMS[key]


class ProtocolMachine(RuleBasedStateMachine):
    """The protocol under random use; see the module docstring."""

    examples_run = 0   # machines constructed (one per example), for the fuzz report
    steps_run = 0      # invariant rounds after a rule (one per step)

    def __init__(self) -> None:
        super().__init__()
        ProtocolMachine.examples_run += 1
        self.system = shared_system()
        s = self.system
        self.snapshot = s.chain.snapshot()
        self.saved_prices = list(s.prices)
        self.traders: list[str] = s.traders
        self.keeper: str = s.keeper
        self.lp: str = s.lp
        self.outsider: str = s.outsider
        self.accounts = self.traders + [self.keeper, self.lp, self.outsider]
        self.steps = 0
        self.funding = []
        for market in range(MARKETS):
            state = s.engine.market_state(market)
            fm = model.FundingMarket.from_config(s.engine.market_config(market), last_time=state[5])
            fm.cumulative, fm.rate = state[2], state[3]
            self.funding.append(fm)

    def teardown(self) -> None:
        self.system.chain.revert(self.snapshot)
        self.system.prices = self.saved_prices

    # ---------------------------------------------------------------- helpers
    def books(self) -> tuple:
        s = self.system
        return (
            [int(s.engine.margin(a)) for a in self.accounts],
            [tuple(s.engine.position(a, m)) for a in self.traders for m in range(MARKETS)],
            [tuple(s.engine.market_state(m)) for m in range(MARKETS)],
            int(s.engine.pool_balance()), int(s.engine.insurance_fund()),
            [int(s.token.balanceOf(a)) for a in self.accounts], int(s.pool.totalSupply()),
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

    def skew(self, market: int) -> int:
        state = self.system.engine.market_state(market)
        return int(state[0]) - int(state[1])

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
        self.remember_market()
        if self.attempt(lambda: s.engine.poke(market, sender=self.keeper), {"Oracle stale", "Oracle price jump"}):
            self.touched(market)
            return True
        return False

    def events(self, name: str) -> list[dict]:
        return [dict(e.args) for e in self.system.chain.last_receipt.logs if e.name == name]

    # ---------------------------------------------------------------- rules: money in and out
    @rule(who=st.integers(0, TRADERS - 1), amount=st.one_of(st.just(0), st.integers(1, 200_000)))
    def deposit(self, who: int, amount: int) -> None:
        s = self.system
        trader = self.traders[who]
        margin = s.engine.margin(trader)
        tokens = s.tokens(amount)
        if self.attempt(lambda: s.engine.deposit(tokens, sender=trader), {"Zero amount", "erc20: insufficient balance"}):
            assert amount > 0
            assert s.engine.margin(trader) == margin + tokens * s.precision

    @rule(who=st.integers(0, TRADERS - 1), share=st.integers(0, 120))
    def withdraw(self, who: int, share: int) -> None:
        s = self.system
        trader = self.traders[who]
        margin = int(s.engine.margin(trader))
        amount = max(margin, 0) // s.precision * share // 100
        balance = s.token.balanceOf(trader)
        ok = self.attempt(lambda: s.engine.withdraw(amount, sender=trader),
                          {"Zero amount", "Insufficient margin", "Below initial margin", "Below transfer margin",
                           "Oracle stale", "Oracle price jump"})
        if ok:
            assert amount * s.precision <= margin, "withdrew more than the realized margin"
            assert s.engine.margin(trader) == margin - amount * s.precision
            assert s.token.balanceOf(trader) == balance + amount
            health = s.engine.account_health(trader)
            assert health.position_count == 0 or health.equity >= health.initial_margin, "withdrawal broke initial margin"
            assert health.position_count == 0 or health.equity >= health.transfer_margin, "withdrawal broke transfer margin"
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
        if int(s.engine.account_health(trader)[0]) >= 0:
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
        ok = self.attempt(lambda: s.engine.withdraw(amount, sender=trader),
                          {"Below initial margin", "Below transfer margin", "Insufficient margin"})
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
        if health[2] <= health[0] < health[1]:
            event("account in the margin band")
            before = self.books()
            try:
                s.engine.liquidate(trader, sender=self.keeper)
                raise AssertionError("an account above maintenance margin was liquidated")
            except Reverted as exc:
                assert exc.reason == "Account not liquidatable", exc.reason
            assert self.books() == before

    @rule(amount=st.integers(1, 300_000), redeem_share=st.integers(0, 100), deposit=st.booleans())
    def liquidity(self, amount: int, redeem_share: int, deposit: bool) -> None:
        s = self.system
        if deposit:
            assets = s.tokens(amount)
            supply = int(s.pool.totalSupply())
            shares = int(s.pool.balanceOf(self.lp))
            try:
                total = int(s.engine.pool_value()) // s.precision
            except Reverted:
                total = None
            if self.attempt(lambda: s.pool.deposit(assets, self.lp, sender=self.lp),
                            {"Pool in deficit", "Zero shares", "Oracle stale", "Oracle price jump"}):
                expected = assets * (supply + 1) // (max(total, 0) + 1)
                assert s.pool.balanceOf(self.lp) == shares + expected, "LP shares off the ERC-4626 formula"
        else:
            shares = s.pool.balanceOf(self.lp) * redeem_share // 100
            value_before = s.pool.previewRedeem(shares)
            balance = s.token.balanceOf(self.lp)
            if self.attempt(lambda: s.pool.redeem(shares, self.lp, self.lp, sender=self.lp),
                            {"Exceeds max redeem", "Zero amount", "Pool reserve", "Oracle stale", "Oracle price jump"}):
                assert s.token.balanceOf(self.lp) == balance + value_before

    # ---------------------------------------------------------------- rules: trading
    @rule(who=st.integers(0, TRADERS - 1), market=st.integers(0, MARKETS - 1),
          leverage=st.integers(1, 120), direction=st.sampled_from([1, -1]), kind=st.sampled_from(["open", "close", "flip", "reduce"]))
    def trade(self, who: int, market: int, leverage: int, direction: int, kind: str) -> None:
        s = self.system
        trader = self.traders[who]
        size = s.size_of(trader, market)
        index = self._index(market)
        if index == 0:
            return
        equity = int(s.engine.account_health(trader)[0]) if s.engine.open_markets(trader) else int(s.engine.margin(trader))
        if kind == "open" or size == 0:
            delta = direction * max(equity, WAD) * leverage * WAD // index // 10  # leverage 0.1x .. 12x of equity (past the limit: reverts)
        elif kind == "close":
            delta = -size
        elif kind == "flip":
            delta = -2 * size
        else:
            delta = -size // 3 or -size
        if delta == 0:
            return
        self.remember_market()
        margin = int(s.engine.margin(trader))
        view = self._market_view(market)
        trial = _copy(self.funding[market])
        trial.touch(self._skew_before[market], index, s.chain.time)
        position = s.engine.position(trader, market)
        owed, surcharge = model.funding_owed(position[0], trial.cumulative, position[2], index, view["tier"], view["mult"])
        if position[0] == 0:
            owed, surcharge = 0, 0
        fill = model.fill_price(index, view["skew"], delta, view["scale"], view["maxp"])
        fee = model.trade_fee(view["skew"], delta, fill, view["maker"], view["taker"])
        pool_balance = int(s.engine.pool_balance())
        if owed < 0:
            owed = max(owed, -max(pool_balance, 0))   # the pool pays funding only from its cash
        state = s.engine.market_state(market)
        mark = model.mark_price(index, view["skew"], view["scale"], view["maxp"])
        pnl = model.payable_profit(position[0], position[1], fill, mark, pool_balance + owed, view["pnl_ratio"],
                                   state.long_open_interest, state.short_open_interest, state.long_sum_size_entry_price,
                                   state.long_sum_size_entry_price - state.sum_size_entry_price)
        insurance = int(s.engine.insurance_fund())
        ok = self.attempt(lambda: s.trade(trader, market, delta),
                          {"Below initial margin", "Max open interest", "Market paused", "Oracle stale", "Oracle price jump",
                           "Account underwater", "Negative margin"})
        event(f"trade {kind}: {'ok' if ok else 'reverted'}")
        if not ok:
            return
        self.funding[market] = trial
        covered = self.events("BadDebtCovered")
        if covered:
            event("bad debt on a voluntary close")
        shortfall = covered[0]["bad_debt"] if covered else 0
        from_insurance = covered[0]["from_insurance"] if covered else 0
        assert s.engine.margin(trader) == margin - owed - surcharge + pnl - fee + shortfall, "trade moved money off-model"
        to_insurance = fee * int(s.engine.liquidation_config()[6]) // WAD
        assert s.engine.insurance_fund() == insurance + surcharge + to_insurance - from_insurance, "insurance off-model"
        assert s.engine.pool_balance() == pool_balance + owed - pnl + fee - to_insurance - (shortfall - from_insurance), \
            "pool balance off-model"
        assert s.engine.position(trader, market)[0] == size + delta
        assert s.engine.pool_balance() >= 0 or covered, "a trader's close took the pool below zero"
        health = s.engine.account_health(trader)
        if abs(size + delta) > abs(size) or (size + delta) * size < 0:
            assert health.equity >= health.initial_margin, "a risk-increasing trade left the account below initial margin"
        elif health.position_count:
            assert health.equity >= 0, "a reduction left an underwater account open (only liquidation may)"

    @rule()
    def underwater_traders_close(self) -> None:
        """Traders below zero equity close their positions themselves before any keeper
        acts: the shortfall must still go through the bad-debt waterfall."""
        s = self.system
        if not self._prices_ok():
            return
        for who, trader in enumerate(self.traders):
            if s.engine.open_markets(trader) and int(s.engine.account_health(trader)[0]) < 0:
                event("underwater trader closes")
                for market in range(MARKETS):
                    if s.size_of(trader, market):
                        self.trade(who, market, 1, 1, "close")

    @rule(who=st.integers(0, TRADERS - 1), market=st.integers(0, MARKETS - 1),
          bad=st.sampled_from(["zero", "unknown", "slippage_buy", "slippage_sell"]))
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
    @rule(market=st.integers(0, MARKETS - 1), moves=st.lists(st.integers(-20, 20), min_size=1, max_size=4))
    def oracle_rounds(self, market: int, moves: list[int]) -> None:
        """Small moves, crashes and squeezes in several steps; the keeper pokes each round."""
        s = self.system
        for move in moves:
            s.chain.advance(30)
            s.prices[market] = max(s.prices[market] * (100 + move) / 100, 1.0)
            s.set_price(market, s.prices[market])
            self.remember_market()
            if self.attempt(lambda: s.engine.poke(market, sender=self.keeper), {"Oracle price jump", "Oracle stale"}):
                self.touched(market)

    @rule(market=st.integers(0, MARKETS - 1), steps=st.integers(1, 4), step_pct=st.integers(3, 20),
          keepers_react=st.booleans())
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
        accepted = int(s.engine.market_state(market)[8])
        index = self._index_unbounded(market)
        bound = int(s.engine.market_config(market)[2])
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

    # ---------------------------------------------------------------- rules: liquidation
    @rule(who=st.integers(0, TRADERS - 1))
    def liquidate(self, who: int) -> None:
        s = self.system
        trader = self.traders[who]
        if not self._prices_ok():
            return
        health = s.engine.account_health(trader)
        liquidatable = health[5] > 0 and health[0] < health[2]
        keeper_margin = int(s.engine.margin(self.keeper))
        self.remember_market()
        ok = self.attempt(lambda: s.engine.liquidate(trader, sender=self.keeper),
                          {"Account not liquidatable", "Liquidation cool-down", "Oracle stale", "Oracle price jump"})
        if not liquidatable:
            assert not ok, "a healthy account was liquidated"
            return
        if not ok:
            return
        liquidations = self.events("Liquidated")
        liquidation = liquidations[-1]
        event(f"liquidation tier {liquidation['tier']}")
        for step in liquidations:
            self.touched(step["market"])
        if health.equity < 0:
            event("bankrupt account: every position closed in one step")
            assert s.engine.open_markets(trader) == 0, "a bankrupt account kept a position"
            assert s.engine.margin(trader) >= 0, "a bankrupt account kept negative margin"
        else:
            assert len(liquidations) == 1
        config = s.engine.liquidation_config()
        reward = sum(step["keeper_reward"] for step in liquidations)
        formula = min(max(model.umul_up(sum(step["notional"] for step in liquidations), config.reward_rate),
                          config.reward_floor), config.reward_cap)
        assert reward <= formula, "keeper reward above its formula / cap"
        assert reward == formula or health.equity < 0 or s.engine.margin(trader) == 0, \
            "keeper reward short although the account could pay it"
        assert s.engine.margin(self.keeper) == keeper_margin + reward
        after = s.engine.account_health(trader)
        if liquidation["remaining_size"] != 0:
            ratio_before = health.equity * WAD // health.maintenance_margin
            ratio_after = after.equity * WAD // max(after.maintenance_margin, 1)
            assert ratio_after > ratio_before, "a partial liquidation left the account worse"

    @rule()
    def liquidate_all(self) -> None:
        s = self.system
        if not self._prices_ok():
            return
        liquidatable = [t for t in self.traders if s.lens.is_liquidatable(t)]
        keeper_margin = int(s.engine.margin(self.keeper))
        self.remember_market()
        if self.attempt(lambda: s.engine.liquidate_many(self.traders, sender=self.keeper), {"Oracle stale", "Oracle price jump"}):
            liquidations = self.events("Liquidated")
            assert {e["account"] for e in liquidations} <= set(liquidatable), "batch liquidated a healthy account"
            config = s.engine.liquidation_config()
            for liquidation in liquidations:
                self.touched(liquidation["market"])
                reward = liquidation["keeper_reward"]
                assert reward <= config.reward_cap, "keeper reward above its cap"
                if liquidation["remaining_size"] != 0:  # a partial step on a solvent account pays in full
                    assert reward == min(max(model.umul_up(liquidation["notional"], config.reward_rate),
                                             config.reward_floor), config.reward_cap), "keeper reward off its formula"
            assert s.engine.margin(self.keeper) == keeper_margin + sum(e["keeper_reward"] for e in liquidations)

    @rule()
    def auto_deleverage(self) -> None:
        """The waterfall's last step (insurance first, then keeper-ranked profitable
        positions) and the PnL-to-pool trigger, which opens ADL before any bad debt."""
        s = self.system
        if not self._prices_ok():
            return
        for market in range(MARKETS):
            value = int(s.engine.pool_value())
            needed = value < 0 or self.adl_side(market) != 0
            candidates = []
            for trader in self.traders:
                pnl = int(s.lens.unrealized_pnl(trader, market)) if s.size_of(trader, market) else 0
                if pnl > 0:
                    equity = max(int(s.engine.account_health(trader).equity), 1)
                    candidates.append((max(pnl * WAD // equity, 1), trader))
            ordered = [t for _, t in sorted(candidates, key=lambda c: -c[0])] or [self.traders[0]]
            if not needed:
                before = self.books()
                try:
                    s.engine.auto_deleverage(market, ordered, sender=self.keeper)
                    raise AssertionError("ADL ran while the pool was solvent and no side past its PnL trigger")
                except Reverted as exc:
                    assert exc.reason in {"ADL not needed", "Oracle stale", "Oracle price jump"}, exc.reason
                assert self.books() == before
                continue
            event("ADL: pool deficit" if value < 0 else "ADL: PnL-to-pool trigger")
            insurance = int(s.engine.insurance_fund())
            self.remember_market()
            if not self.attempt(lambda: s.engine.auto_deleverage(market, ordered, sender=self.keeper),
                                {"ADL candidates not ranked", "Oracle stale", "Oracle price jump"}):
                continue
            self.touched(market)
            covered = self.events("DeficitCoveredByInsurance")
            from_insurance = min(insurance, -value) if value < 0 else 0
            assert covered == ([{"amount": from_insurance, "remaining_deficit": -value - from_insurance}]
                               if from_insurance else []), "insurance did not stand first"
            for e in self.events("AutoDeleveraged"):
                event("ADL closed positions")
                assert 0 <= e["haircut"] <= e["realized_pnl"], "haircut off its bounds"
                assert s.size_of(e["account"], market) == 0
                if s.engine.open_markets(e["account"]) == 0:
                    assert s.engine.margin(e["account"]) >= 0, "ADL left a flat account below zero"
            assert s.engine.pool_balance() >= 0 or value < 0, "ADL took the pool's balance below zero"

    @rule(market=st.integers(0, MARKETS - 1))
    def auto_deleverage_pro_rata(self, market: int) -> None:
        """The pro-rata policy: while the pool's value is negative every profitable position
        keeps its size and loses one fraction of its profit; the pool's value rises by the
        haircuts and no cash moves."""
        s = self.system
        if not self._prices_ok():
            return
        value = int(s.engine.pool_value())
        if value >= 0:
            before = self.books()
            try:
                s.engine.auto_deleverage_pro_rata(market, self.traders, sender=self.keeper)
                raise AssertionError("pro-rata ADL ran while the pool was solvent")
            except Reverted as exc:
                assert exc.reason == "ADL not needed", exc.reason
            assert self.books() == before
            return
        sizes = [s.size_of(t, market) for t in self.traders]
        margins = [int(s.engine.margin(t)) for t in self.traders]
        self.remember_market()
        if not self.attempt(lambda: s.engine.auto_deleverage_pro_rata(market, self.traders, sender=self.keeper),
                            {"Oracle stale", "Oracle price jump"}):
            return
        self.touched(market)
        event("ADL: pro rata")
        assert [s.size_of(t, market) for t in self.traders] == sizes, "pro-rata ADL changed a position's size"
        assert [int(s.engine.margin(t)) for t in self.traders] == margins, "pro-rata ADL moved cash"
        cuts = self.events("AutoDeleveraged")
        for cut in cuts:
            assert 0 < cut["haircut"] <= cut["realized_pnl"], "a pro-rata cut beyond the position's profit"
        after = int(s.engine.pool_value())
        assert after >= value, "pro-rata ADL lowered the pool's value"

    def adl_side(self, market: int) -> int:
        """+1 / -1 if that side's profit passes adl_pnl_pool_ratio x pool balance (Engine._adl_side)."""
        s = self.system
        ratio = int(s.engine.market_config(market).adl_pnl_pool_ratio)
        if ratio == 0:
            return 0
        state = s.engine.market_state(market)
        profits = model.side_profits(state.long_open_interest, state.short_open_interest, state.sum_size_entry_price,
                                     state.long_sum_size_entry_price, int(s.engine.mark_price(market)))
        return model.adl_side(*profits, int(s.engine.pool_balance()), ratio)

    @rule(market=st.integers(0, MARKETS - 1), leverage=st.integers(8, 15), crash_pct=st.integers(12, 20))
    def exhaust_pool(self, market: int, leverage: int, crash_pct: int) -> None:
        """Drive the pool into deficit: LPs leave, a highly levered long faces a profitable
        short, the price falls in poked rounds with no keeper awake, then the long is
        liquidated: bad debt beyond insurance and pool, so ADL has work."""
        s = self.system
        if not self._prices_ok():
            return
        shares = int(s.pool.maxRedeem(self.lp))
        if shares:
            self.attempt(lambda: s.pool.redeem(shares, self.lp, self.lp, sender=self.lp), {"Exceeds max redeem", "Zero amount"})
        long_trader, short_trader = self.traders[-2], self.traders[-1]
        for trader, direction in ((long_trader, 1), (short_trader, -1)):
            self.trade(self.traders.index(trader), market, leverage * 10, direction, "open")
        for _ in range(3):
            self.poked_round(market, max(s.prices[market] * (100 - crash_pct) / 100, 1.0))
        self.liquidate_all()
        self.liquidate_all()

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
        ok = self.attempt(lambda: s.trade(trader, market, size),
                          {"Below initial margin", "Max open interest", "Market paused", "Oracle stale", "Oracle price jump"})
        assert not ok, f"a {20 * multiple}x open was accepted: its own premium counted as equity"
        for leverage in (19, 15, 10, 5):
            size = margin * leverage * WAD // index
            self.remember_market()
            if self.attempt(lambda: s.trade(trader, market, size),
                            {"Below initial margin", "Max open interest", "Market paused", "Oracle stale",
                             "Oracle price jump"}):
                self.touched(market)
                self.remember_market()
                if self.attempt(lambda: s.trade(trader, market, -size),
                                {"Oracle stale", "Oracle price jump", "Account underwater", "Negative margin"}):
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
            return   # the bound is the pair's: others' open profit would move the pool's value too
        pool_before = int(s.engine.pool_balance())
        lp_before = self._lp_value()
        if pool_before <= 0 or lp_before is None:
            return
        self.trade(0, market, 40, 1, "open")
        self.trade(1, market, 40, -1, "open")
        if not s.size_of(long_trader, market):
            return
        bad_debt = 0
        funding_bound = 0     # the most funding the pool can have paid over the rounds (cap x OI x time)
        cap = int(s.engine.market_config(market).max_funding_rate)
        for _ in range(rounds):
            self.poked_round(market, s.prices[market] * (100 + pump_pct) / 100)
            state = s.engine.market_state(market)
            notional = (state.long_open_interest + state.short_open_interest) * state.last_price // WAD
            funding_bound += notional * cap // WAD * 90 // 28_800 + WAD   # 90 s: the round's minute, rounded up
            self.remember_market()
            if self.attempt(lambda: s.engine.liquidate_many(self.traders, sender=self.keeper),
                            {"Oracle stale", "Oracle price jump"}):
                for step in self.events("Liquidated"):
                    self.touched(step["market"])
                bad_debt += sum(e["bad_debt"] for e in self.events("BadDebtCovered"))
            self.auto_deleverage()
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
            bound = pool_before * ratio // WAD + bad_debt + funding_bound
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
        amount = s.max_withdrawal(trader)        # the largest withdrawal the engine accepts
        if amount == 0:
            return
        s.engine.withdraw(amount, sender=trader)
        event("adversary: withdrew after a favourable round")
        health = s.engine.account_health(trader)
        assert health.equity >= health.transfer_margin, "a withdrawal left equity below the transfer margin"
        assert health.equity >= health.initial_margin, "a withdrawal left equity below initial margin"

    @rule(who=st.integers(0, TRADERS - 1), market=st.integers(0, MARKETS - 1), move_pct=st.integers(-15, 15),
          leverage=st.integers(1, 8))
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
            ok = self.attempt(lambda: s.trade(trader, market, size),
                              {"Delayed orders only", "Oracle stale", "Oracle price jump"})
            assert not ok, "a delayed-order market accepted a direct open"
            self.remember_market()
            bound = MAX_UINT if size > 0 else 0
            if not self.attempt(lambda: s.order_book.commit_order(market, size, bound, sender=trader),
                                {"Oracle stale", "Oracle price jump", "Market paused"}):
                return
            self.touched(market)
            self.remember_market()
            self.attempt(lambda: s.order_book.execute_order(trader, market, sender=self.keeper),
                         {"Order waits for a new round"})
            assert s.size_of(trader, market) == 0, "an order filled at its own commit round"
            if not self.poked_round(market, s.prices[market] * (100 + move_pct) / 100):
                return
            view = self._market_view(market)
            expected = model.fill_price(self._index(market), view["skew"], size, view["scale"], view["maxp"])
            self.remember_market()
            if not self.attempt(lambda: s.order_book.execute_order(trader, market, sender=self.keeper),
                                {"Below initial margin", "Max open interest", "Oracle stale", "Oracle price jump",
                                 "Negative margin"}):
                return
            self.touched(market)
            (cleared,) = self.events("OrderCleared")
            assert cleared["fill_price"] == expected, "an order did not fill at the round after its commit"
            event("adversary: front-run through a delayed order")
            self.trade(who, market, 1, 1, "close")
            if not s.size_of(trader, market):
                assert int(s.engine.margin(trader)) <= margin, "a round trip around a known round paid the trader"
        finally:
            s.configurator.set_market_config(market, s.engine.market_config(market)._replace(
                delayed_orders=False), sender=s.admin)

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
        config = list(s.engine.market_config(market))
        config[5] = taker_bp * WAD // 10_000
        config[6] = min(config[6], config[5])
        config[10] = cap_bp * WAD // 10_000
        self.remember_market()
        if self.attempt(lambda: s.configurator.set_market_config(market, tuple(config), sender=s.admin),
                        {"Oracle stale", "Oracle price jump"}):
            self.touched(market)
            fm = self.funding[market]
            fm.max_funding_rate = config[10]
            assert tuple(s.engine.market_config(market)) == tuple(config)

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
            assert exc.reason in {"Market paused", "Oracle stale", "Oracle price jump", "Below initial margin"}, exc.reason
        assert self.books() == before
        s.configurator.set_paused(market, False, sender=s.admin)

    @rule(index=st.integers(0, len(PRIVILEGED) - 1))
    def outsider_pulls_a_lever(self, index: int) -> None:
        s = self.system
        target, function, args, reason = PRIVILEGED[index]
        contract = {"configurator": s.configurator, "engine": s.engine, "oracle": s.oracles[0]}[target]
        before = self.books()
        try:
            getattr(contract, function)(*args(self), sender=self.outsider)
        except Reverted as exc:
            assert exc.reason == reason, (function, exc.reason)
            assert self.books() == before
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
            assert int(s.engine.account_health(trader).equity) <= at_mark, \
                "equity at exit prices above equity at the mark"

    @invariant()
    def open_interest(self) -> None:
        s = self.system
        for market in range(MARKETS):
            sizes = [s.size_of(t, market) for t in self.traders]
            state = s.engine.market_state(market)
            assert (state[0], state[1]) == (sum(x for x in sizes if x > 0), -sum(x for x in sizes if x < 0))

    @invariant()
    def funding_follows_model(self) -> None:
        s = self.system
        for market in range(MARKETS):
            state = s.engine.market_state(market)
            fm = self.funding[market]
            assert (state[2], state[3], state[5]) == (fm.cumulative, fm.rate, fm.last_time), f"funding off-model in {market}"

    @invariant()
    def solvency_and_bounds(self) -> None:
        s = self.system
        if not self._prices_ok():
            return
        equities = [int(s.engine.account_health(a)[0]) for a in self.traders]
        pool_value = int(s.engine.pool_value())
        insurance = int(s.engine.insurance_fund())
        held = s.ledger(self.accounts).held
        claims = sum(e for e in equities if e > 0) + max(pool_value, 0) + insurance
        dust = 4 * len(self.accounts) * MARKETS
        deficit_pending = any(e < 0 for e in equities) or pool_value < 0
        assert claims <= held + dust or deficit_pending, f"insolvent: claims {claims} > held {held}"
        for market in range(MARKETS):
            config = s.engine.market_config(market)
            index = int(s.engine.index_price(market))
            mark = int(s.engine.mark_price(market))
            assert abs(mark - index) * WAD <= index * config[4] + WAD, "mark outside its premium bound"
        for account in self.accounts:
            if s.engine.open_markets(account) == 0:
                assert s.engine.margin(account) >= 0, "a flat account kept negative margin (bad debt lost)"
            else:
                assert s.engine.margin(account) >= 0, "an account rests with positions and a negative margin"

    def _market_view(self, market: int) -> dict[str, int]:
        s = self.system
        config = s.engine.market_config(market)
        return {"skew": self.skew(market), "scale": config.skew_scale, "maxp": config.max_premium,
                "taker": config.taker_fee, "maker": config.maker_fee, "tier": config.size_tier_notional,
                "mult": config.size_tier_multiplier, "pnl_ratio": config.max_pnl_pool_ratio}


def _copy(fm: model.FundingMarket) -> model.FundingMarket:
    import copy

    return copy.copy(fm)
