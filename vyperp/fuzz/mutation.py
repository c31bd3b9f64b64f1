"""Proof that the fuzz suite bites: seeded bugs, each applied to a copy of contracts/,
each run against the suite's `ci` profile; a mutant is caught when the suite fails.

A mutant names its snippet, not its file: `apply` finds the one contract file (searched
recursively under the contracts directory) that holds the snippet, so mutants survive code
moving between files (the engine being split into modules). `file` is only a hint for
readers and the report. A snippet found in no file, in more than one, or more than once in
its file, or a mutant that does not compile, is an error of this list (reported as such),
never counted as caught.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from ..chain.compiler import SHIPPED_CONTRACTS

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = SHIPPED_CONTRACTS
SUITE = [
    "tests/test_fuzz_protocol.py",
    "tests/test_safety.py",
    "tests/test_attacks.py",
    "tests/test_liquidation.py",
    "tests/test_access.py",
    "tests/test_trading.py",
    "tests/test_pool.py",
]
"""The stateful fuzzer first, then the unit tests of the areas the mutants touch (every test
honours VYPERP_CONTRACTS_DIR); the report names the file that caught each mutant."""


SWAP_SUITE = [
    "tests/test_fuzz_swaps.py",
    "tests/test_funding_swaps.py",
    "tests/test_swap_risk.py",
    "tests/test_swap_random.py",
    "tests/test_funding_caps.py",
    "tests/test_swap_edges.py",
]
"""The funding swaps' and caps' layer (issue 14): their stateful fuzzer, then their unit
tests. Part of SUITE; a mutant of that layer (`swaps=True`) runs it first, so that a catch
does not wait for the protocol fuzzer."""
SUITE += SWAP_SUITE


@dataclass(frozen=True)
class Mutant:
    name: str
    file: str  # a hint only: where the snippet was when the mutant was written
    old: str
    new: str
    change: str
    swaps: bool = False  # a mutant of the swaps/caps layer: SWAP_SUITE runs first


MUTANTS: list[Mutant] = [
    Mutant(
        "margin-check-flipped",
        "Engine.vy",
        'checks._require(health.equity >= convert(health.initial_margin, int256), "Below initial margin")\n    elif',
        'checks._require(health.equity <= convert(health.initial_margin, int256), "Below initial margin")\n    elif',
        "trade: the initial-margin check compares the wrong way",
    ),
    Mutant(
        "no-funding-settlement-on-trade",
        "Engine.vy",
        "    index_price: uint256 = funding._touch_market(market)\n    funding._settle_funding(account, market, index_price)\n    old_size",
        "    index_price: uint256 = funding._touch_market(market)\n    old_size",
        "trade (incl. close): the position's funding is never settled",
    ),
    Mutant(
        "pnl-rounds-up",
        "pricing.vy",
        "return fixed_math._mul_floor(size, convert(price, int256) - convert(entry_price, int256))",
        "return fixed_math._mul_ceil(size, convert(price, int256) - convert(entry_price, int256))",
        "realized PnL rounds in the trader's favour",
    ),
    Mutant(
        "no-staleness-check",
        "oracle_guard.vy",
        '    assert updated_at + markets._hot(market, markets.MAX_ORACLE_AGE) >= block.timestamp, "Oracle stale"\n',
        "",
        "the oracle read accepts stale rounds",
    ),
    Mutant(
        "reward-uncapped",
        "liquidation.vy",
        "return min(max(fixed_math._umul_up(notional, terms.reward_rate), terms.reward_floor), terms.reward_cap)",
        "return max(fixed_math._umul_up(notional, terms.reward_rate), terms.reward_floor)",
        "the keeper reward ignores its cap",
    ),
    Mutant(
        "flip-forgets-open-interest",
        "fills.vy",
        "    elif old_size < 0:\n        short_open_interest -= convert(-old_size, uint256)",
        "    elif old_size < 0 and new_size <= 0:\n        short_open_interest -= convert(-old_size, uint256)",
        "a short flipped to long stays in short open interest",
    ),
    Mutant(
        "bad-debt-from-nowhere",
        "ledger.vy",
        "    self._move_funds(-convert(from_pool, int256), -convert(from_insurance, int256))",
        "    self._move_funds(0, -convert(from_insurance, int256))",
        "bad debt beyond the insurance fund is written off without charging the pool",
    ),
    Mutant(
        "no-guardian-check",
        "MarketConfigurator.vy",
        '    roles._check(roles.Role.GUARDIAN, "Not guardian")\n    extcall IEngineAdmin(self._engine()).set_paused(market, paused)',
        "    extcall IEngineAdmin(self._engine()).set_paused(market, paused)",
        "anyone can pause markets",
    ),
    Mutant(
        "fee-rounds-down",
        "pricing.vy",
        "    return fee + fixed_math._umul_up(fixed_math._umul_up(increasing, price), taker_fee)",
        "    return fee + fixed_math._umul_down(fixed_math._umul_up(increasing, price), taker_fee)",
        "the taker fee rounds in the trader's favour",
    ),
    Mutant(
        "funding-paid-to-nobody",
        "funding.vy",
        "    ledger._move_funds(owed, convert(surcharge, int256))",
        "    ledger._move_funds(0, convert(surcharge, int256))",
        "funding a position pays never reaches the pool",
    ),
    Mutant(
        "funding-period-halved",
        "funding_models.vy",
        "convert(elapsed, int256) // (2 * FUNDING_PERIOD)",
        "convert(elapsed, int256) // FUNDING_PERIOD",
        "funding accrues twice as fast as the 8-hour rate says",
    ),
    Mutant(
        "premium-unbounded",
        "funding_models.vy",
        "return fixed_math._clamp(skew * constants.IWAD // convert(skew_scale, int256), -bound, bound)",
        "return skew * constants.IWAD // convert(skew_scale, int256)",
        "the mark premium ignores max_premium",
    ),
    Mutant(
        "liquidate-below-initial",
        "liquidation.vy",
        "    if health.position_count == 0 or health.equity >= convert(health.maintenance_margin, int256) or",
        "    if health.position_count == 0 or health.equity >= convert(health.initial_margin, int256) or",
        "accounts between maintenance and initial margin can be liquidated",
    ),
    Mutant(
        "withdraw-ignores-initial-margin",
        "Engine.vy",
        '        checks._require(health.equity >= convert(health.initial_margin, int256), "Below initial margin")\n        checks._require(health.equity >= convert(health.transfer_margin',
        "        checks._require(health.equity >= convert(health.transfer_margin",
        "withdrawals ignore the initial margin of open positions",
    ),
    Mutant(
        "adl-haircut-lost",
        "deleveraging.vy",
        "    ledger._add_margin(account, -convert(taken, int256))\n    ledger._move_funds(convert(taken, int256), 0)",
        "    ledger._add_margin(account, -convert(taken, int256))",
        "the ADL haircut leaves the trader but never reaches the pool",
    ),
    Mutant(
        "insurance-share-rounds-up",
        "fills.vy",
        "to_insurance = fixed_math._umul_down(fee, markets._hot(market, markets.INSURANCE_FEE_SHARE))",
        "to_insurance = fixed_math._umul_up(fee, markets._hot(market, markets.INSURANCE_FEE_SHARE))",
        "the insurance share of fees rounds up (off the documented split)",
    ),
    Mutant(
        "deposit-credits-extra-wei",
        "Engine.vy",
        "    ledger._add_margin(msg.sender, convert(amount * ledger.PRECISION, int256))",
        "    ledger._add_margin(msg.sender, convert(amount * ledger.PRECISION + 1, int256))",
        "a deposit credits one wei more than it brought",
    ),
    Mutant(
        "lp-shares-round-up",
        "LiquidityPool.vy",
        "    shares: uint256 = self._to_shares(assets, False, True)\n    self._deposit",
        "    shares: uint256 = self._to_shares(assets, True, True)\n    self._deposit",
        "LP deposits round shares up (in the depositor's favour)",
    ),
    Mutant(
        "surcharge-skipped",
        "funding.vy",
        "    ledger._add_margin(account, -(owed + convert(surcharge, int256)))",
        "    ledger._add_margin(account, -(owed))",
        "the size-tier surcharge is credited to insurance but never charged",
    ),
    Mutant(
        "underwater-close-keeps-negative-margin",
        "Engine.vy",
        "    if mask == 0 and margin < 0:\n        # an underwater",
        "    if False:\n        # an underwater",
        "closing an underwater last position leaves bad debt in the account, uncovered",
    ),
    Mutant(
        "paused-market-accepts-opens",
        "Engine.vy",
        '    assert reduces or markets._oracle_state[market] & markets.PAUSED == 0, "Market paused"\n',
        "",
        "a paused market accepts risk-increasing trades",
    ),
    # ---- the safety work (exit-price equity, pool bounds, withdrawals, orders, settlement, ADL)
    Mutant(
        "health-at-mark",
        "margin_health.vy",
        "pnl: int256 = pricing._pnl(size, exit_price, entry)",
        "pnl: int256 = pricing._pnl(size, mark, entry)",
        "health values positions at the mark: the premium a trade creates counts as equity",
    ),
    Mutant(
        "profit-beyond-pool-cash",
        "fills.vy",
        "    return min(margin_health._profit_counted(market, profit, size, index_price), max(ledger._pool(), 0))",
        "    return margin_health._profit_counted(market, profit, size, index_price)",
        "a close is paid profit beyond the pool's cash (its balance can go below zero)",
    ),
    Mutant(
        "pnl-cap-ignored",
        "margin_health.vy",
        "    if pnl <= 0 or ratio == 0:\n        return pnl",
        "    if True:\n        return pnl",
        "the PnL-to-pool cap never scales a side's profit",
    ),
    Mutant(
        "underwater-reduce-allowed",
        "Engine.vy",
        '        checks._require(margin_health._health(account, market, index_price).equity >= 0, "Account underwater")\n',
        "        pass\n",
        "an underwater account may reduce itself, booking its whole loss into the pool",
    ),
    Mutant(
        "withdraw-ignores-transfer-margin",
        "Engine.vy",
        '        checks._require(health.equity >= convert(health.transfer_margin, int256), "Below transfer margin")\n',
        "",
        "withdrawals ignore the transfer-margin floor",
    ),
    Mutant(
        "bankrupt-closed-one-market-at-a-time",
        "liquidation.vy",
        "    if health.equity < 0:\n        return self._liquidate_bankrupt(account, keeper, tier)",
        "    if False:\n        return self._liquidate_bankrupt(account, keeper, tier)",
        "a bankrupt account is liquidated market by market (loss credited before the waterfall)",
    ),
    # (not seeded: dropping the ADL haircut's margin bound is equivalent in money now that no
    # margin rests below zero -- a haircut beyond the margin comes back through the flat
    # account's waterfall from the same pool -- so no test can tell the two apart.)
    Mutant(
        "oi-cap-in-coins",
        "Engine.vy",
        "        notional: uint256 = fixed_math._umul_up(open_interest, index_price)",
        "        notional: uint256 = open_interest",
        "open-interest caps compare coins with a USD cap",
    ),
    Mutant(
        "pool-pays-funding-beyond-cash",
        "funding.vy",
        "        owed = max(owed, -max(ledger._pool(), 0))\n    ledger._add_margin(account, -(owed",
        "        pass\n    ledger._add_margin(account, -(owed",
        "funding the pool pays is not bounded by its cash",
    ),
    Mutant(
        "settled-market-reads-the-oracle",
        "oracle_guard.vy",
        "    if markets._hot(market, markets.SETTLED) != 0:\n        # settled: last_price",
        "    if False:\n        # settled: last_price",
        "a settled market keeps reading the (manipulated) oracle",
    ),
    Mutant(
        "delayed-orders-bypassed",
        "Engine.vy",
        '    assert reduces or from_order or markets._hot(market, markets.DELAYED_ORDERS) == 0, "Delayed orders only"\n',
        "",
        "a delayed-order market accepts direct risk-increasing trades",
    ),
    Mutant(
        "order-fills-at-the-commit-round",
        "OrderBook.vy",
        '    assert (staticcall ENGINE.market_state(market)).last_round_id != order.round_id, "Order waits for a new round"\n',
        "",
        "a delayed order fills at the round it was committed in (front-running reopened)",
    ),
    Mutant(
        "negative-margin-may-rest",
        "Engine.vy",
        '    checks._require(mask == 0 or margin >= 0, "Negative margin")\n',
        "",
        "a trade may leave a negative realized margin beside open positions",
    ),
    Mutant(
        "liquidation-step-leaves-negative-margin",
        "liquidation.vy",
        "    if health.position_count > 1 and ledger._margin(account) + pricing._pnl(",
        "    if False and ledger._margin(account) + pricing._pnl(",
        "a liquidation step may leave a negative margin beside open positions",
    ),
    Mutant(
        "adl-trigger-ignored",
        "deleveraging.vy",
        "    if ratio == 0:\n        return 0\n    trigger",
        "    if True:\n        return 0\n    trigger",
        "ADL never opens on the PnL-to-pool trigger",
    ),
    # ---- the model / invariant / fuzzer work: one short snippet each, caught by the fuzzer
    Mutant(
        "tier-boundary-inclusive",
        "liquidation_policy.vy",
        "if ratio < self._tiers[i].margin_ratio_below:",
        "if ratio <= self._tiers[i].margin_ratio_below:",
        "an account exactly at a tier's threshold is put in that tier",
    ),
    Mutant(
        "penalty-rounds-down",
        "liquidation.vy",
        "min(fixed_math._umul_up(notional, penalty_rate),",
        "min(fixed_math._umul_down(notional, penalty_rate),",
        "the liquidation penalty rounds in the trader's favour",
    ),
    Mutant(
        "reward-rounds-down",
        "liquidation.vy",
        "fixed_math._umul_up(notional, terms.reward_rate)",
        "fixed_math._umul_down(notional, terms.reward_rate)",
        "the keeper reward rounds down (off its formula)",
    ),
    Mutant(
        "cooldown-ends-a-second-late",
        "liquidation.vy",
        "block.timestamp < liquidation_policy.last_partial_liquidation[account] + liquidation_policy.liquidation_config.cooldown",
        "block.timestamp <= liquidation_policy.last_partial_liquidation[account] + liquidation_policy.liquidation_config.cooldown",
        "a partial step exactly at the end of the cool-down is refused",
    ),
    Mutant(
        "rate-window-restarts-a-second-late",
        "liquidation_policy.vy",
        "if block.timestamp >= start + window:",
        "if block.timestamp > start + window:",
        "the liquidation rate-limit window restarts one second after it ended",
    ),
    Mutant(
        "multiplier-skips-maintenance",
        "margin_health.vy",
        "health_math._scaled_maintenance(maintenance, multiplier, scaled != 0)",
        "health_math._scaled_maintenance(maintenance, multiplier, False)",
        "the risk multiplier never scales maintenance margin (brackets x multiplier)",
    ),
    Mutant(
        "funding-ema-gap-unbounded",
        "funding.vy",
        "min(elapsed * constants.WAD // markets.risk_config[market].funding_ema_period, constants.WAD)",
        "elapsed * constants.WAD // markets.risk_config[market].funding_ema_period",
        "a gap longer than the EMA period overshoots the funding EMA (weight above 1)",
    ),
    Mutant(
        "variance-ewma-never-decays",
        "oracle_guard.vy",
        "(variance * (constants.WAD - weight) +",
        "(variance * constants.WAD +",
        "the volatility EWMA adds each round's squared return without decaying the old value",
    ),
    Mutant(
        "stale-at-max-age",
        "oracle_guard.vy",
        "markets.MAX_ORACLE_AGE) >= block.timestamp",
        "markets.MAX_ORACLE_AGE) > block.timestamp",
        "a round exactly max_oracle_age old is refused as stale (off by one)",
    ),
    Mutant(
        "jump-at-bound-refused",
        "oracle_guard.vy",
        "move * constants.WAD <= last_price",
        "move * constants.WAD < last_price",
        "a move exactly at max_price_jump is refused (off by one)",
    ),
    Mutant(
        "lp-mint-rounds-down",
        "LiquidityPool.vy",
        "assets: uint256 = self._to_assets(shares, True, True)",
        "assets: uint256 = self._to_assets(shares, False, True)",
        "ERC-4626 mint charges the assets rounded down (in the minter's favour)",
    ),
    Mutant(
        "lp-withdraw-rounds-down",
        "LiquidityPool.vy",
        "shares: uint256 = self._to_shares(assets, True, True)",
        "shares: uint256 = self._to_shares(assets, False, True)",
        "ERC-4626 withdraw burns shares rounded down (in the withdrawer's favour)",
    ),
    Mutant(
        "reserve-counts-longs-only",
        "pool_valuation.vy",
        "open_interest: uint256 = long_open_interest + short_open_interest",
        "open_interest: uint256 = long_open_interest",
        "the LP reserve ignores short open interest",
    ),
    Mutant(
        "adl-order-unchecked",
        "deleveraging.vy",
        'checks._require(score <= previous_score, "ADL candidates not ranked")',
        'checks._require(score > 0, "ADL candidates not ranked")',
        "ADL accepts candidates in any order",
    ),
    Mutant(
        "adl-haircut-never-taken",
        "deleveraging.vy",
        "if deficit > haircut and fill.realized_pnl > 0:",
        "if deficit > haircut and fill.realized_pnl < 0:",
        "a deficit ADL closes profitable positions but never takes the rest of the deficit from their paid profit",
    ),
    Mutant(
        "pro-rata-step-rounds-down",
        "deleveraging.vy",
        "step: uint256 = fixed_math._udiv_up(cut, magnitude)",
        "step: uint256 = cut * constants.WAD // magnitude",
        "the pro-rata haircut's entry shift rounds in the trader's favour",
    ),
    Mutant(
        "insurance-credit-in-tokens",
        "Engine.vy",
        "    ledger._move_funds(0, convert(amount * ledger.PRECISION, int256))",
        "    ledger._move_funds(0, convert(amount, int256))",
        "fund_insurance credits token units, not 1e18 (a 6-decimal token's funding vanishes)",
    ),
    Mutant(
        "keeper-overpaid-from-insurance",
        "liquidation.vy",
        "from_insurance: uint256 = min(reward - from_margin, ledger._insurance())",
        "from_insurance: uint256 = min(reward, ledger._insurance())",
        "the insurance fund pays the whole keeper reward again on top of the margin's part",
    ),
    Mutant(
        "bad-debt-half-from-insurance",
        "ledger.vy",
        "from_insurance: uint256 = min(bad_debt, self._insurance())",
        "from_insurance: uint256 = min(bad_debt // 2, self._insurance())",
        "the waterfall takes only half the bad debt from insurance, the rest from the LPs",
    ),
    Mutant(
        "deficit-insurance-skipped",
        "ledger.vy",
        "from_insurance: uint256 = min(deficit, self._insurance())",
        "from_insurance: uint256 = 0",
        "ADL haircuts traders before the insurance fund covers the deficit",
    ),
    # ---- funding swaps (issue 14): FundingSwaps.vy
    Mutant(
        "swap-floating-rounds-up",
        "FundingSwaps.vy",
        "floating: int256 = fixed_math._floor_div(swap.size * (index - swap.last_index), constants.IWAD)",
        "floating: int256 = fixed_math._ceil_div(swap.size * (index - swap.last_index), constants.IWAD)",
        "a swap's floating leg rounds in the holder's favour",
        True,
    ),
    Mutant(
        "swap-fixed-leg-rounds-down",
        "FundingSwaps.vy",
        "fixed: int256 = fixed_math._ceil_div(swap.fixed_flow * convert(time - swap.last_time, int256), FLOW_UNIT)",
        "fixed: int256 = fixed_math._floor_div(swap.fixed_flow * convert(time - swap.last_time, int256), FLOW_UNIT)",
        "a swap's fixed leg rounds in the holder's favour",
        True,
    ),
    Mutant(
        "swap-fixed-leg-sign",
        "FundingSwaps.vy",
        "flow: int256 = fixed_math._ceil_div(size * rate * convert(price, int256), constants.IWAD)",
        "flow: int256 = fixed_math._ceil_div(-size * rate * convert(price, int256), constants.IWAD)",
        "an open books its fixed flow with the wrong sign (the payer of fixed receives it)",
        True,
    ),
    Mutant(
        "swap-oi-cap-exclusive",
        "FundingSwaps.vy",
        'assert gross <= cap, "Swap open interest cap"',
        'assert gross < cap, "Swap open interest cap"',
        "an open exactly to the swap open-interest cap is refused (off by one)",
        True,
    ),
    Mutant(
        "swap-oi-cap-ignored",
        "FundingSwaps.vy",
        "    if abs(swap.size + size) > abs(swap.size):\n        assert gross <= cap",
        "    if False:\n        assert gross <= cap",
        "the swap open-interest cap never binds",
        True,
    ),
    Mutant(
        "swap-liquidation-below-initial",
        "FundingSwaps.vy",
        'assert len(held) > 0 and health.equity < convert(health.maintenance_margin, int256), "Account not liquidatable"',
        'assert len(held) > 0 and health.equity < convert(health.initial_margin, int256), "Account not liquidatable"',
        "swap holders between maintenance and initial margin can be liquidated",
        True,
    ),
    Mutant(
        "swap-initial-k-is-maintenance",
        "FundingSwaps.vy",
        "self._requirement(swap, price, remaining, rate, cap_rate, self.initial_k)",
        "self._requirement(swap, price, remaining, rate, cap_rate, self.maintenance_k)",
        "a swap's initial requirement uses the maintenance multiplier",
        True,
    ),
    Mutant(
        "swap-maturity-snapshot-skipped",
        "FundingSwaps.vy",
        "    if block.timestamp >= maturity:\n        sums: Sums = self.books[market][maturity].sums",
        "    if False:\n        sums: Sums = self.books[market][maturity].sums",
        "no maturity snapshot: swaps keep accruing past their maturity",
        True,
    ),
    Mutant(
        "swap-ema-weight-unbounded",
        "FundingSwaps.vy",
        "weight: int256 = convert(min((block.timestamp - ema.time) * constants.WAD // self.ema_period, constants.WAD), int256)",
        "weight: int256 = convert((block.timestamp - ema.time) * constants.WAD // self.ema_period, int256)",
        "a gap longer than ema_period overshoots the swaps' mark-rate EMA (weight above 1)",
        True,
    ),
    Mutant(
        "swap-unwind-rounds-up",
        "FundingSwaps.vy",
        "return fixed_math._floor_div(-(swap.fixed_flow + offset_flow) * convert(remaining, int256), FLOW_UNIT)",
        "return fixed_math._ceil_div(-(swap.fixed_flow + offset_flow) * convert(remaining, int256), FLOW_UNIT)",
        "an early close's unwind rounds in the holder's favour",
        True,
    ),
    Mutant(
        "swap-value-counts-gains",
        "FundingSwaps.vy",
        "    value += min(self._unwind(swap, rate, price, remaining), 0)",
        "    value += self._unwind(swap, rate, price, remaining)",
        "a swap's early-close gain at the mark counts as equity (withdrawable before it is paid)",
        True,
    ),
    # (not seeded: dropping the pool-cash bound from _transfer's negative-margin pre-check
    # is equivalent: with margin >= 0 at rest, margin + moved < 0 needs a negative amount,
    # which the bound leaves whole; the bound that matters is the engine's, below.)
    Mutant(
        "swap-penalty-beyond-margin",
        "FundingSwaps.vy",
        "penalty: uint256 = min(fixed_math._umul_up(notional, self.penalty_rate), convert(max(left, 0), uint256))",
        "penalty: uint256 = fixed_math._umul_up(notional, self.penalty_rate)",
        "a swap liquidation's penalty is taken beyond what margin is left (into bad debt)",
        True,
    ),
    Mutant(
        "swap-reward-rounds-down",
        "FundingSwaps.vy",
        "reward: uint256 = fixed_math._umul_up(notional, self.reward_rate)",
        "reward: uint256 = fixed_math._umul_down(notional, self.reward_rate)",
        "a swap liquidation's keeper reward rounds down (off its formula)",
        True,
    ),
    # ---- funding caps and floors (issue 14): FundingCaps.vy
    Mutant(
        "caps-payoff-unclipped",
        "FundingCaps.vy",
        "    return min(convert(payoff, uint256), p.max_payoff)",
        "    return convert(payoff, uint256)",
        "a caplet's payoff is not clipped at its maximum (a late fixing pays beyond the lock)",
        True,
    ),
    Mutant(
        "caps-lock-one-period",
        "FundingCaps.vy",
        "lock: uint256 = fixed_math._umul_up(total, p.max_payoff * p.periods)",
        "lock: uint256 = fixed_math._umul_up(total, p.max_payoff)",
        "a sale locks one caplet's maximum payoff instead of the strip's",
        True,
    ),
    Mutant(
        "caps-fix-from-the-start",
        "FundingCaps.vy",
        "increment: int256 = rate_index - self.snapshots[product_id][caplet]",
        "increment: int256 = rate_index - self.snapshots[product_id][0]",
        "a caplet's rate increment runs from the strip's first boundary, not the previous one",
        True,
    ),
    Mutant(
        "caps-shares-round-up",
        "FundingCaps.vy",
        "shares: uint256 = assets * (self.total_shares + VIRTUAL_SHARES) // (self.vault_assets + 1)",
        "shares: uint256 = (assets * (self.total_shares + VIRTUAL_SHARES) + self.vault_assets) // (self.vault_assets + 1)",
        "vault deposits round shares up (in the depositor's favour)",
        True,
    ),
    Mutant(
        "caps-withdraw-at-total-assets",
        "FundingCaps.vy",
        "    free: uint256 = self.vault_assets - self.vault_locked\n",
        "    free: uint256 = self.vault_assets\n",
        "vault withdrawals are priced at all assets, locked ones included",
        True,
    ),
    Mutant(
        "caps-premium-rounds-down",
        "FundingCaps.vy",
        "tokens: uint256 = (premium + PRECISION - 1) // PRECISION",
        "tokens: uint256 = premium // PRECISION",
        "the premium in tokens rounds down (in the buyer's favour)",
        True,
    ),
    Mutant(
        "caps-strike-at-the-cap",
        "FundingCaps.vy",
        'assert headroom > 0, "Strike beyond funding cap"',
        'assert headroom >= 0, "Strike beyond funding cap"',
        "a strip struck exactly at the funding cap (worthless) can be listed",
        True,
    ),
    Mutant(
        "caps-cap-strike-rounds-down",
        "FundingCaps.vy",
        "strike_leg = fixed_math._ceil_div(p.strike * convert(p.period, int256), convert(FUNDING_PERIOD, int256))",
        "strike_leg = fixed_math._floor_div(p.strike * convert(p.period, int256), convert(FUNDING_PERIOD, int256))",
        "a cap's strike term rounds in the buyer's favour",
        True,
    ),
    # ---- the engine's swap hook (Engine.swap_transfer, the SWAP_FLAG health branch)
    Mutant(
        "engine-swap-transfer-beyond-cash",
        "Engine.vy",
        "    moved: int256 = min(amount, max(ledger._pool(), 0))\n    ledger._add_margin(account, moved)",
        "    moved: int256 = amount\n    ledger._add_margin(account, moved)",
        "swap_transfer pays a holder beyond the pool's cash (its balance can go below zero)",
        True,
    ),
    Mutant(
        "engine-swap-flag-never-set",
        "Engine.vy",
        "    if holds:\n        mask |= constants.SWAP_FLAG",
        "    if False:\n        mask |= constants.SWAP_FLAG",
        "swap_transfer never sets the account's swap flag (health ignores its swaps)",
        True,
    ),
    Mutant(
        "engine-health-ignores-swaps",
        "margin_health.vy",
        "    if mask >= constants.SWAP_FLAG:\n        swap_value: int256 = 0",
        "    if False:\n        swap_value: int256 = 0",
        "the engine's health skips the SWAP_FLAG branch: swaps' losses and requirements uncounted",
        True,
    ),
    Mutant(
        "engine-liquidates-swap-holders",
        "liquidation.vy",
        " or ledger._open_markets(account) >= constants.SWAP_FLAG:",
        ":",
        "the engine's perp liquidation proceeds on an account holding swaps (swaps-first order broken)",
        True,
    ),
]


def select(names: list[str] | None = None, files: list[str] | None = None) -> list[Mutant]:
    """The mutants named in `names` and / or whose file hint is one of `files` (all when
    neither is given); an unknown name or file is an error, not an empty selection."""
    unknown = sorted(set(names or []) - {m.name for m in MUTANTS}) + sorted(
        set(files or []) - {m.file for m in MUTANTS}
    )
    if unknown:
        raise ValueError(f"no mutant named or in: {', '.join(unknown)}")
    return [
        m
        for m in MUTANTS
        if (names is None and files is None)
        or (names is not None and m.name in names)
        or (files is not None and m.file in files)
    ]


def locate(mutant: Mutant, target: Path) -> Path:
    """The unique contract file under `target` (recursively) that holds the mutant's snippet."""
    holders = [(path, path.read_text().count(mutant.old)) for path in sorted(target.rglob("*.vy"))]
    holders = [(path, n) for path, n in holders if n]
    if len(holders) != 1 or holders[0][1] != 1:
        where = ", ".join(f"{path.relative_to(target)} x{n}" for path, n in holders) or "no file"
        raise ValueError(f"mutant {mutant.name}: snippet must occur exactly once under {target} (found: {where})")
    return holders[0][0]


def apply(mutant: Mutant, target: Path) -> Path:
    """Apply `mutant` to the contracts under `target`; returns the file it changed."""
    path = locate(mutant, target)
    path.write_text(path.read_text().replace(mutant.old, mutant.new))
    return path


def suite_for(mutant: Mutant | None) -> list[str]:
    """SUITE, the swaps layer's tests first for a mutant of that layer."""
    if mutant is None or not mutant.swaps:
        return list(SUITE)
    return SWAP_SUITE + [t for t in SUITE if t not in SWAP_SUITE]


def run_suite(contracts_dir: Path | None, profile: str = "ci", mutant: Mutant | None = None) -> tuple[int, str]:
    env = dict(os.environ, HYPOTHESIS_PROFILE=profile, VYPERP_FUZZ_SHRINK="0")  # caught or not: no shrinking needed
    if contracts_dir is not None:
        env["VYPERP_CONTRACTS_DIR"] = str(contracts_dir)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", *suite_for(mutant), "-x", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    return proc.returncode, proc.stdout + proc.stderr


def verdict(code: int, output: str) -> tuple[bool, bool, bool]:
    """(compile error, collection error, caught) of one suite run against a mutant.

    Caught means a test failed: pytest's exit code 1 with neither a compile error (the
    mutant is broken, not detected) nor a collection error (a test module did not even
    import: nothing was tested). Exit 2 (interrupted), 3 (internal error), 4 (usage) are
    no catch either."""
    compile_error = "CompileError" in output or "vyper.exceptions" in output
    collect_error = "CollectError" in output or "ERROR collecting" in output or "errors during collection" in output
    return compile_error, collect_error, code == 1 and not compile_error and not collect_error


def check_mutant(mutant: Mutant, profile: str = "ci") -> dict[str, object]:
    started = time.time()
    with tempfile.TemporaryDirectory(prefix=f"mutant-{mutant.name}-") as tmp:
        target = Path(tmp) / "contracts"
        shutil.copytree(CONTRACTS, target)
        where = apply(mutant, target).relative_to(target).as_posix()
        code, output = run_suite(target, profile, mutant)
    compile_error, collect_error, caught = verdict(code, output)
    reason = ""
    for line in output.splitlines():
        if line.startswith("E ") and ("Error" in line or "assert" in line):
            reason = line[2:].strip()[:200]
            break
    layer = ""
    for line in output.splitlines():
        if line.startswith("FAILED "):
            layer = line.split("::")[0].removeprefix("FAILED ")
            break
    return {
        "name": mutant.name,
        "file": where,
        "change": mutant.change,
        "caught": caught,
        "compile_error": compile_error,
        "collect_error": collect_error,
        "exit_code": code,
        "seconds": round(time.time() - started, 1),
        "first_failure": reason,
        "caught_by": layer if caught else "",
    }


def run_all(
    workers: int = 2,
    profile: str = "ci",
    names: list[str] | None = None,
    progress: Callable[[int, int, dict[str, object]], None] | None = None,
    files: list[str] | None = None,
) -> dict[str, object]:
    """Check every mutant (`workers` at a time), or those named in `names` and / or whose
    file hint is in `files`; `progress(done, total, result)` after each. Ctrl-C stops: the
    mutants already checked make a partial report (``interrupted``)."""
    mutants = select(names, files)
    for mutant in mutants:  # fail fast on a stale pattern before spending minutes
        with tempfile.TemporaryDirectory(prefix="mutant-check-") as tmp:
            shutil.copytree(CONTRACTS, Path(tmp) / "contracts")
            apply(mutant, Path(tmp) / "contracts")
    baseline_code, baseline_output = run_suite(None, profile)
    if baseline_code != 0:
        raise RuntimeError(f"the unmutated suite fails; fix it first:\n{baseline_output}")
    results: dict[str, dict[str, object]] = {}
    interrupted = False
    pool = ThreadPoolExecutor(max_workers=workers)
    futures = {pool.submit(check_mutant, m, profile): m for m in mutants}
    try:
        for future in as_completed(futures):
            result = future.result()
            if result["exit_code"] == 2:  # the suite itself was interrupted (Ctrl-C reached it)
                raise KeyboardInterrupt
            results[futures[future].name] = result
            if progress is not None:
                progress(len(results), len(mutants), result)
    except KeyboardInterrupt:
        interrupted = True
        for future in futures:
            future.cancel()
    finally:
        pool.shutdown(wait=not interrupted, cancel_futures=True)
    ordered = [results[m.name] for m in mutants if m.name in results]
    return {
        "total": len(mutants),
        "checked": len(ordered),
        "caught": sum(1 for r in ordered if r["caught"]),
        "profile": profile,
        "interrupted": interrupted,
        "mutants": ordered,
    }
