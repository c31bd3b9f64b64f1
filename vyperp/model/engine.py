"""The engine's books for a set of accounts, advanced in Python by the exact arithmetic of
:mod:`vyperp.model.exact` -- a reference implementation of Engine.vy's state transitions
(touches with the oracle guard, funding settlement, fills, trades, withdrawals, the
tiered liquidation step, the bad-debt waterfall, both ADL policies).

`EngineModel(system, accounts)` reads the chain once (every struct by field name); a
caller then applies the same operation to the model and to the chain and demands equal
books (`assert_matches`) and events (`assert_events`). A model operation that the engine
would refuse raises `ModelRevert` with the engine's reason; in that case the model's
state is meaningless (the chain reverted the whole transaction) and is discarded.

Written from the contracts' code (Engine.vy, pricing.vy, funding_models.vy,
margin_brackets.vy, fixed_math.vy), never from their outputs.
"""

from __future__ import annotations

from typing import Any

from . import exact as model
from .exact import WAD

MAX_INT = 2**255 - 1


class ModelRevert(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class EngineModel:
    """Market state is a dict per market keyed by engine_types.MarketState's field names,
    a position a dict keyed by Position's; configurations stay the chain's named tuples."""

    def __init__(self, system: Any, accounts: list[str]):
        e = system.engine
        self.now = system.chain.time
        self.n = int(e.market_count())
        self.config = [e.market_config(m) for m in range(self.n)]
        self.state = [dict(e.market_state(m)._asdict()) for m in range(self.n)]
        self.brackets = [[tuple(b) for b in e.brackets_of(m)] for m in range(self.n)]
        self.risk = [e.risk_config(m) for m in range(self.n)]
        self.rate_limit = [e.rate_limit(m) for m in range(self.n)]
        self.settlement = [int(e.settlement_price(m)) for m in range(self.n)]
        self.rate_index = [int(e.funding_rate_index(m)) for m in range(self.n)]
        self.liq = e.liquidation_config()
        self.tiers = list(e.liquidation_tiers())
        self.precision = int(e.PRECISION())
        self.oracle: list[dict[str, int]] = []
        for m in range(self.n):
            oracle = system.oracles[m]
            round_ = oracle.latestRoundData()
            decimals = int(oracle.decimals())
            self.oracle.append(
                dict(
                    round_id=int(round_[0]),
                    answer=int(round_[1]),
                    updated_at=int(round_[3]),
                    price=int(round_[1]) * model.price_scale(decimals),
                )
            )
        self.margin = {a: int(e.margin(a)) for a in accounts}
        self.pos = {a: [dict(e.position(a, m)._asdict()) for m in range(self.n)] for a in accounts}
        self.last_partial = {a: int(e.last_partial_liquidation(a)) for a in accounts}
        self.pool_balance = int(e.pool_balance())
        self.insurance = int(e.insurance_fund())
        self.events: list[tuple[str, dict[str, Any]]] = []

    # -------------------------------------------------------------- market math
    def skew(self, m: int) -> int:
        return self.state[m]["long_open_interest"] - self.state[m]["short_open_interest"]

    def open_markets(self, a: str) -> list[int]:
        return [m for m in range(self.n) if self.pos[a][m]["size"] != 0]

    def read_index(self, m: int, bounded: bool = True) -> tuple[int, int]:
        """(price, round id) through the oracle guard (Engine._read_index_price)."""
        if self.settlement[m]:
            return self.settlement[m], self.state[m]["last_round_id"]
        o, c = self.oracle[m], self.config[m]
        reason = model.oracle_reason(
            o["answer"],
            o["updated_at"],
            self.now,
            c.max_oracle_age,
            o["price"],
            self.state[m]["last_price"],
            c.max_price_jump,
            bounded and not o.get("unbounded"),
            o["round_id"] != self.state[m]["last_round_id"],
        )
        if reason:
            raise ModelRevert(reason)
        return o["price"], o["round_id"]

    def index(self, m: int) -> int:
        return self.read_index(m)[0]

    def set_index(self, m: int, price: int) -> None:
        """Pretend a new oracle round at `price` (for searching prices: not held to the jump bound)."""
        o = self.oracle[m]
        o["round_id"] += 1
        o["price"] = price
        o["unbounded"] = 1

    def mark(self, m: int, price: int) -> int:
        if self.settlement[m]:
            return price
        c = self.config[m]
        return model.mark_price(price, self.skew(m), c.skew_scale, c.max_premium)

    def exit(self, m: int, price: int, size: int) -> int:
        if self.settlement[m]:
            return price
        c = self.config[m]
        return model.exit_price(price, self.skew(m), size, c.skew_scale, c.max_premium)

    def funding_now(self, m: int, price: int) -> tuple[int, int]:
        cumulative, rate, _ = self.funding_now_with_rate_index(m, price)
        return cumulative, rate

    def funding_now_with_rate_index(self, m: int, price: int) -> tuple[int, int, int]:
        """(cumulative, rate, rate index) as of now; a settled market accrues neither index."""
        s = self.state[m]
        if self.settlement[m]:
            return s["cumulative_funding_per_unit"], 0, self.rate_index[m]
        market = model.FundingMarket.from_config(self.config[m], s["last_funding_time"])
        market.cumulative, market.rate = s["cumulative_funding_per_unit"], s["funding_rate"]
        market.rate_index = self.rate_index[m]
        return market.now_with_rate_index(self.skew(m), price, self.now)

    def requirements(self, m: int, notional: int) -> tuple[int, int]:
        return model.requirements(
            self.brackets[m], notional, self.state[m]["risk_multiplier"], self.risk[m].apply_to_maintenance
        )

    def owed(self, a: str, m: int, cumulative: int, price: int) -> tuple[int, int]:
        c, p = self.config[m], self.pos[a][m]
        multiplier = c.size_tier_multiplier if c.size_tier_notional > 0 else WAD
        return model.funding_owed(p["size"], cumulative, p["funding_index"], price, c.size_tier_notional, multiplier)

    def side_profit(self, m: int, price: int, long_side: bool) -> int:
        s = self.state[m]
        if long_side:
            return model.side_profit(s["long_open_interest"], s["long_sum_size_entry_price"], price, True)
        return model.side_profit(
            s["short_open_interest"], s["long_sum_size_entry_price"] - s["sum_size_entry_price"], price, False
        )

    def profit_counted(self, m: int, pnl: int, size: int, price: int) -> int:
        ratio = self.config[m].max_pnl_pool_ratio
        if pnl <= 0 or ratio == 0:
            return pnl
        cap = model.profit_cap(self.pool_balance, ratio)
        return model.capped_profit(pnl, self.side_profit(m, self.mark(m, price), size > 0), cap)

    def health(self, a: str, touched: int | None = None, touched_price: int = 0) -> dict[str, int]:
        """Engine._health: equity at exit prices under the PnL cap, requirements, largest market."""
        h = dict(
            equity=self.margin[a],
            initial_margin=0,
            maintenance_margin=0,
            largest_market=0,
            largest_requirement=0,
            position_count=0,
            transfer_margin=0,
        )
        for m in range(self.n):
            p = self.pos[a][m]
            size = p["size"]
            if size == 0:
                continue
            if m == touched:
                price, cumulative = touched_price, self.state[m]["cumulative_funding_per_unit"]
            else:
                price = self.index(m)
                cumulative = self.funding_now(m, price)[0]
            owed, surcharge = self.owed(a, m, cumulative, price)
            owed = max(owed, -max(self.pool_balance, 0))
            pnl = model.pnl(size, self.exit(m, price, size), p["entry_price"])
            h["equity"] += self.profit_counted(m, pnl, size, price) - owed - surcharge
            notional = model.umul_up(abs(size), self.mark(m, price))
            initial, maintenance = self.requirements(m, notional)
            h["initial_margin"] += initial
            h["maintenance_margin"] += maintenance
            h["transfer_margin"] += model.umul_up(notional, self.config[m].transfer_margin_ratio)
            h["position_count"] += 1
            if maintenance > h["largest_requirement"]:
                h["largest_requirement"], h["largest_market"] = maintenance, m
        return h

    def ratio(self, a: str) -> int:
        """Margin ratio as the tiers read it (0 for non-positive equity)."""
        h = self.health(a)
        return model.margin_ratio(h["equity"], h["maintenance_margin"])

    def payable(self, a: str, m: int, fill: int, price: int) -> int:
        """Engine._payable_profit: a loss in full, a profit under the cap and the pool's cash."""
        p = self.pos[a][m]
        profit = model.pnl(p["size"], fill, p["entry_price"])
        if profit <= 0:
            return profit
        return min(self.profit_counted(m, profit, p["size"], price), max(self.pool_balance, 0))

    # -------------------------------------------------------------- touches
    def touch(self, m: int, bounded: bool = True) -> int:
        """Engine._touch_market: the guarded round, funding accrual (and its EMA), the round's
        EWMA update and the risk multiplier."""
        price, round_id = self.read_index(m, bounded)
        s, r = self.state[m], self.risk[m]
        accrued = rolled = False
        elapsed = self.now - s["last_funding_time"]
        if elapsed > 0:
            cumulative, rate, self.rate_index[m] = self.funding_now_with_rate_index(m, price)
            s["cumulative_funding_per_unit"], s["funding_rate"], s["last_funding_time"] = cumulative, rate, self.now
            if r.funding_weight > 0:  # the EMA feeds only the funding term: kept while it is on
                s["funding_rate_ema"] = model.funding_ema(s["funding_rate_ema"], rate, elapsed, r.funding_ema_period)
            accrued = True
        if round_id != s["last_round_id"]:
            s["variance_ema"] = model.variance_ewma(s["variance_ema"], r.variance_ewma_weight, price, s["last_price"])
            s["last_price"], s["last_round_id"] = price, round_id
            rolled = True
        if (accrued or rolled) and r.max_multiplier > WAD:  # refreshed only when it can exceed 1
            s["risk_multiplier"] = model.risk_multiplier(r, s["variance_ema"], s["funding_rate"], s["funding_rate_ema"])
        return price

    def settle_funding(self, a: str, m: int, price: int) -> None:
        p = self.pos[a][m]
        size, index = p["size"], p["funding_index"]
        cumulative = self.state[m]["cumulative_funding_per_unit"]
        if size == 0 or cumulative == index:
            return
        owed, surcharge = self.owed(a, m, cumulative, price)
        if owed < 0:
            owed = max(owed, -max(self.pool_balance, 0))
        self.margin[a] -= owed + surcharge
        self.pool_balance += owed
        self.insurance += surcharge
        p["funding_index"] = cumulative
        self.state[m]["sum_size_funding_index"] += size * (cumulative - index)
        self.events.append(("FundingSettled", dict(account=a, market=m, amount=owed, to_insurance=surcharge)))

    def move_entry_aggregates(self, m: int, old: int, old_entry: int, new: int, price: int) -> None:
        s = self.state[m]
        old_value, new_value = old * old_entry, new * price
        s["sum_size_entry_price"] += new_value - old_value
        if old > 0 or new > 0:
            s["long_sum_size_entry_price"] += max(new_value, 0) - max(old_value, 0)

    def rebase(self, a: str, m: int, delta: int, price: int) -> int:
        p, s = self.pos[a][m], self.state[m]
        old, entry = p["size"], p["entry_price"]
        new = old + delta
        pnl = model.pnl(old, price, entry)
        self.move_entry_aggregates(m, old, entry, new, price)
        s["sum_size_funding_index"] += delta * s["cumulative_funding_per_unit"]
        if old > 0:
            s["long_open_interest"] -= old
        elif old < 0:
            s["short_open_interest"] += old
        if new > 0:
            s["long_open_interest"] += new
        elif new < 0:
            s["short_open_interest"] -= new
        cumulative = s["cumulative_funding_per_unit"] if new != 0 else 0
        self.pos[a][m] = dict(size=new, entry_price=price if new != 0 else 0, funding_index=cumulative)
        return pnl

    def execute(self, a: str, m: int, delta: int, price: int, charge_fee: bool) -> tuple[int, int, int]:
        """Engine._execute: (fill price, realized PnL, fee)."""
        c = self.config[m]
        skew = self.skew(m)
        fill, fee = price, 0
        if not self.settlement[m]:
            fill = model.fill_price(price, skew, delta, c.skew_scale, c.max_premium)
            if charge_fee:
                fee = model.trade_fee(skew, delta, fill, c.maker_fee, c.taker_fee)
        paid = self.payable(a, m, fill, price)
        pnl = self.rebase(a, m, delta, fill)
        if paid < pnl:
            self.events.append(("ProfitHaircut", dict(account=a, market=m, profit=pnl, paid=paid)))
            pnl = paid
        self.margin[a] += pnl - fee
        self.pool_balance -= pnl
        if fee > 0:
            to_insurance = model.insurance_fee(fee, self.liq.insurance_fee_share)
            self.pool_balance += fee - to_insurance
            self.insurance += to_insurance
        return fill, pnl, fee

    def count_rate_limit(self, m: int, notional: int, force: bool) -> bool:
        s, limit = self.state[m], self.rate_limit[m]
        ok, s["liquidation_window_start"], s["liquidation_window_notional"] = model.rate_limit_window(
            limit.window,
            limit.max_notional,
            s["liquidation_window_start"],
            s["liquidation_window_notional"],
            self.now,
            notional,
            force,
        )
        return ok

    # -------------------------------------------------------------- accounts and trading
    def deposit(self, a: str, amount: int) -> None:
        if amount == 0:
            raise ModelRevert("Zero amount")
        self.margin[a] += amount * self.precision

    def withdraw(self, a: str, amount: int) -> None:
        if amount == 0:
            raise ModelRevert("Zero amount")
        value = amount * self.precision
        if self.margin[a] < value:
            raise ModelRevert("Insufficient margin")
        self.margin[a] -= value
        if self.open_markets(a):
            h = self.health(a)
            if h["equity"] < h["initial_margin"]:
                raise ModelRevert("Below initial margin")
            if h["equity"] < h["transfer_margin"]:
                raise ModelRevert("Below transfer margin")

    def trade(self, a: str, m: int, delta: int, acceptable: int, from_order: bool = False) -> int:
        """Engine._trade: returns the fill price."""
        if m >= self.n:
            raise ModelRevert("Unknown market")
        if delta == 0:
            raise ModelRevert("Zero size")
        price = self.touch(m)
        self.settle_funding(a, m, price)
        old = self.pos[a][m]["size"]
        new = old + delta
        reduces = abs(new) < abs(old) and (new == 0 or (new > 0) == (old > 0))
        if not reduces and self.state[m]["paused"]:
            raise ModelRevert("Market paused")
        if not reduces and not from_order and self.config[m].delayed_orders:
            raise ModelRevert("Delayed orders only")
        fill, pnl, fee = self.execute(a, m, delta, price, True)
        if (delta > 0 and fill > acceptable) or (delta < 0 and fill < acceptable):
            raise ModelRevert("Slippage")
        if not reduces:
            s, c = self.state[m], self.config[m]
            oi = s["long_open_interest"] if new > 0 else s["short_open_interest"]
            notional = model.umul_up(oi, price)
            if notional > c.max_open_interest:
                raise ModelRevert("Max open interest")
            if (
                c.max_open_interest_pool_ratio > 0
                and notional > max(self.pool_balance, 0) * c.max_open_interest_pool_ratio // WAD
            ):
                raise ModelRevert("Max open interest")
            h = self.health(a, m, price)
            if h["equity"] < h["initial_margin"]:
                raise ModelRevert("Below initial margin")
        elif self.open_markets(a):
            if self.health(a, m, price)["equity"] < 0:
                raise ModelRevert("Account underwater")
        if self.open_markets(a) and self.margin[a] < 0:
            raise ModelRevert("Negative margin")
        self.events.append(
            (
                "PositionModified",
                dict(account=a, market=m, size_delta=delta, fill_price=fill, new_size=new, fee=fee, realized_pnl=pnl),
            )
        )
        if not self.open_markets(a) and self.margin[a] < 0:
            self.cover_bad_debt(a)
        return fill

    # -------------------------------------------------------------- liquidation
    def tier_for(self, h: dict[str, int]) -> tuple[int, int]:
        return model.tier_for(h["equity"], h["maintenance_margin"], self.tiers)

    def liquidate(self, a: str, keeper: str, strict: bool = True) -> dict[str, Any] | None:
        """One step (Engine._liquidate); returns the last Liquidated event plus `_escalated`.
        An ineligible account raises ModelRevert (strict) or returns None (a batch's skip,
        which keeps what the step did before it stopped)."""
        self.margin.setdefault(keeper, 0)

        def refuse(reason: str) -> None:
            if strict:
                raise ModelRevert(reason)

        h = self.health(a)
        if h["position_count"] == 0 or h["equity"] >= h["maintenance_margin"]:
            return refuse("Account not liquidatable")
        fraction, tier = self.tier_for(h)
        liq = self.liq
        if h["equity"] < 0:
            return self.liquidate_bankrupt(a, keeper, tier)
        if model.in_cooldown(fraction, self.now, self.last_partial.get(a, 0), liq.cooldown):
            return refuse("Liquidation cool-down")
        m = h["largest_market"]
        price = self.touch(m)
        self.settle_funding(a, m, price)
        p = self.pos[a][m]
        size = p["size"]
        if (
            h["position_count"] > 1
            and self.margin[a] + model.pnl(size, self.exit(m, price, size), p["entry_price"]) < 0
        ):
            return self.liquidate_bankrupt(a, keeper, tier)
        close = model.liquidation_close(size, fraction, price, liq.min_position_notional)
        if not self.count_rate_limit(m, model.umul_up(abs(close), price), False):
            return refuse("Liquidation rate limit")
        ratio_before = model.signed_ratio(h["equity"], h["maintenance_margin"])
        fill, _, _ = self.execute(a, m, -close, price, False)
        escalated = False
        if close != size:
            after = self.health(a, m, price)
            charges = model.partial_step_charges(model.umul_up(abs(close), fill), liq, self.margin[a])
            if model.signed_ratio(after["equity"] - charges, after["maintenance_margin"]) <= ratio_before:
                self.count_rate_limit(m, model.umul_up(abs(size - close), price), True)
                fill, _, _ = self.execute(a, m, close - size, price, False)
                close = size
                escalated = True
            else:
                self.last_partial[a] = self.now
        notional = model.umul_up(abs(close), fill)
        if not self.open_markets(a) and self.margin[a] < 0:
            self.cover_bad_debt(a)
        reward = self.pay_keeper(a, keeper, notional)
        penalty = model.liquidation_penalty(notional, liq.penalty_rate, self.margin[a])
        self.margin[a] -= penalty
        self.insurance += penalty
        event = dict(
            account=a,
            market=m,
            keeper=keeper,
            size_closed=close,
            price=fill,
            notional=notional,
            tier=tier,
            keeper_reward=reward,
            penalty=penalty,
            remaining_size=size - close,
        )
        self.events.append(("Liquidated", event))
        return dict(event, _escalated=escalated)

    def liquidate_many(self, accounts: list[str], keeper: str) -> int:
        """Engine.liquidate_many: one non-strict step each; the number liquidated."""
        return sum(1 for a in accounts if self.liquidate(a, keeper, strict=False))

    def pay_keeper(self, a: str, keeper: str, notional: int) -> int:
        liq = self.liq
        reward = model.keeper_reward(notional, liq.reward_rate, liq.reward_floor, liq.reward_cap)
        from_margin, from_insurance = model.keeper_payment(reward, self.margin[a], self.insurance)
        self.margin[a] -= from_margin
        self.insurance -= from_insurance
        self.margin[keeper] += from_margin + from_insurance
        return from_margin + from_insurance

    def liquidate_bankrupt(self, a: str, keeper: str, tier: int) -> dict[str, Any]:
        """Negative equity: every position closes in one step, then the waterfall, then the keeper."""
        held = self.open_markets(a)
        total = 0
        event: dict[str, Any] = {}
        for k, m in enumerate(held):
            price = self.touch(m)
            self.settle_funding(a, m, price)
            size = self.pos[a][m]["size"]
            self.count_rate_limit(m, model.umul_up(abs(size), price), True)
            fill, _, _ = self.execute(a, m, -size, price, False)
            notional = model.umul_up(abs(size), fill)
            total += notional
            reward = 0
            if k == len(held) - 1:
                if self.margin[a] < 0:
                    self.cover_bad_debt(a)
                reward = self.pay_keeper(a, keeper, total)
            event = dict(
                account=a,
                market=m,
                keeper=keeper,
                size_closed=size,
                price=fill,
                notional=notional,
                tier=tier,
                keeper_reward=reward,
                penalty=0,
                remaining_size=0,
            )
            self.events.append(("Liquidated", event))
        return dict(event, _escalated=False)

    def cover_bad_debt(self, a: str) -> None:
        bad_debt, from_insurance, from_pool = model.bad_debt_cover(self.margin[a], self.insurance)
        self.insurance -= from_insurance
        self.pool_balance -= from_pool
        self.margin[a] = 0
        self.events.append(
            ("BadDebtCovered", dict(account=a, bad_debt=bad_debt, from_insurance=from_insurance, from_pool=from_pool))
        )

    # -------------------------------------------------------------- pool and ADL
    def pool_value(self) -> int:
        value = self.pool_balance
        for m in range(self.n):
            s = self.state[m]
            if s["long_open_interest"] == 0 and s["short_open_interest"] == 0:
                continue
            price = self.index(m)
            value += model.pool_value_terms(
                self.skew(m),
                self.mark(m, price),
                self.funding_now(m, price)[0],
                s["sum_size_entry_price"],
                s["sum_size_funding_index"],
            )
        return value

    def pool_withdrawable(self) -> int:
        value = self.pool_value()
        reserve = model.pool_reserve(
            [(s["long_open_interest"] + s["short_open_interest"], s["last_price"]) for s in self.state],
            self.liq.pool_reserve_ratio,
        )
        return model.pool_withdrawable(value, self.pool_balance, reserve, self.precision)

    def adl_side(self, m: int, price: int) -> int:
        mark = self.mark(m, price)
        return model.adl_side(
            self.side_profit(m, mark, True),
            self.side_profit(m, mark, False),
            self.pool_balance,
            self.config[m].adl_pnl_pool_ratio,
        )

    def adl_scores(self, m: int, accounts: list[str]) -> list[tuple[int, str]]:
        """(score, account) of every account in profit at its exit price in `m` (the keeper's ranking)."""
        price = self.index(m)
        scored = []
        for a in accounts:
            p = self.pos[a][m]
            if p["size"] == 0:
                continue
            value = model.pnl(p["size"], self.exit(m, price, p["size"]), p["entry_price"])
            if value > 0:
                scored.append((model.adl_score(value, self.health(a)["equity"]), a))
        return scored

    def auto_deleverage(self, m: int, candidates: list[str]) -> int:
        if m >= self.n:
            raise ModelRevert("Unknown market")
        value = self.pool_value()
        price = self.touch(m)
        deficit = 0
        if value < 0:
            from_insurance, deficit = model.deficit_after_insurance(value, self.insurance)
            self.cover_deficit(from_insurance, deficit)
            if deficit == 0:
                return 0
        elif self.adl_side(m, price) == 0:
            raise ModelRevert("ADL not needed")
        previous = MAX_INT
        closed = 0
        for a in candidates:
            if value < 0 and deficit == 0:
                break
            if value >= 0 and self.adl_side(m, price) == 0:
                break
            p = self.pos[a][m]
            size, entry = p["size"], p["entry_price"]
            if size == 0:
                continue
            self.settle_funding(a, m, price)
            exit_ = self.exit(m, price, size)
            profit = model.pnl(size, exit_, entry)
            if profit <= 0:
                continue
            score = model.adl_score(profit, self.health(a, m, price)["equity"])
            if score > previous:
                raise ModelRevert("ADL candidates not ranked")
            fill, paid, _ = self.execute(a, m, -size, price, False)
            haircut, taken = model.adl_haircut(profit, paid, deficit, self.margin[a])
            self.margin[a] -= taken
            self.pool_balance += taken
            self.events.append(
                (
                    "AutoDeleveraged",
                    dict(account=a, market=m, size_closed=size, price=fill, realized_pnl=profit, haircut=haircut),
                )
            )
            if not self.open_markets(a) and self.margin[a] < 0:
                self.cover_bad_debt(a)
            deficit -= min(haircut, deficit)
            previous = score
            closed += 1
        return closed

    def cover_deficit(self, from_insurance: int, deficit: int) -> None:
        if from_insurance:
            self.insurance -= from_insurance
            self.pool_balance += from_insurance
            self.events.append(("DeficitCoveredByInsurance", dict(amount=from_insurance, remaining_deficit=deficit)))

    def auto_deleverage_pro_rata(self, m: int, candidates: list[str]) -> int:
        if m >= self.n:
            raise ModelRevert("Unknown market")
        value = self.pool_value()
        if value >= 0:
            raise ModelRevert("ADL not needed")
        price = self.touch(m)
        from_insurance, deficit = model.deficit_after_insurance(value, self.insurance)
        self.cover_deficit(from_insurance, deficit)
        mark = self.mark(m, price)
        fraction = model.pro_rata_fraction(deficit, self.side_profit(m, mark, True) + self.side_profit(m, mark, False))
        cut = 0
        for a in candidates:
            if deficit == 0:
                break
            p = self.pos[a][m]
            size, entry = p["size"], p["entry_price"]
            if size == 0:
                continue
            exit_ = self.exit(m, price, size)
            new_entry, haircut = model.pro_rata_cut(size, entry, exit_, mark, fraction)
            if haircut == 0 and model.pnl(size, exit_, entry) <= 0:
                continue
            self.move_entry_aggregates(m, size, entry, size, new_entry)
            p["entry_price"] = new_entry
            self.events.append(
                (
                    "AutoDeleveraged",
                    dict(
                        account=a,
                        market=m,
                        size_closed=0,
                        price=exit_,
                        realized_pnl=model.pnl(size, exit_, entry),
                        haircut=haircut,
                    ),
                )
            )
            if haircut > 0:
                deficit -= min(haircut, deficit)
                cut += 1
        return cut

    # -------------------------------------------------------------- comparison
    def assert_matches(self, system: Any) -> None:
        e = system.engine
        for a, expected in self.margin.items():
            assert int(e.margin(a)) == expected, ("margin", a, int(e.margin(a)), expected)
        for a, positions in self.pos.items():
            for m in range(self.n):
                assert dict(e.position(a, m)._asdict()) == positions[m], ("position", a, m)
            assert int(e.last_partial_liquidation(a)) == self.last_partial.get(a, 0), ("last partial", a)
        for m in range(self.n):
            chain = dict(e.market_state(m)._asdict())
            assert chain == self.state[m], (
                "market state",
                m,
                {k: (v, self.state[m][k]) for k, v in chain.items() if self.state[m][k] != v},
            )
            assert int(e.funding_rate_index(m)) == self.rate_index[m], ("rate index", m)
        assert int(e.pool_balance()) == self.pool_balance, ("pool balance", int(e.pool_balance()), self.pool_balance)
        assert int(e.insurance_fund()) == self.insurance, ("insurance", int(e.insurance_fund()), self.insurance)

    def assert_events(
        self,
        system: Any,
        names: tuple[str, ...] = ("Liquidated", "BadDebtCovered", "FundingSettled", "AutoDeleveraged"),
    ) -> None:
        got = [(ev.name, dict(ev.args)) for ev in system.chain.last_receipt.logs if ev.name in names]
        assert got == [ev for ev in self.events if ev[0] in names], (got, self.events)
