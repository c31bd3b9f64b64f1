"""Per-step metrics and the invariant checks of the replay.

Invariants, checked at every step right after the step's oracle round was accepted
(and once more after the last step), against chain reads:

1. **Conservation** (to the wei): ``token.balanceOf(engine) * PRECISION ==
   sum(margin of every account the replay ever used) + pool_balance + insurance_fund``.
2. **Solvency** (:mod:`vyperp.model.invariants`, the definition the fuzzer checks too;
   exact, in wei, never skipped)::

       sum(equity of every account, negative ones included) + pool_value + insurance <= held

   The screened evaluation gives an exact upper bound of the equity sum, so a check that
   passes with it passes exactly; one that does not is redone exactly (``needs_exact``).
   Measured alongside, not violations: the positive claims after the bad-debt waterfall
   the engine applies to accounts whose equity is already negative (insurance first,
   then the pool)::

       pending = sum(max(-equity, 0))                       # bad debt not yet realized
       claims  = sum(max(equity, 0)) + max(insurance - pending, 0)
                 + max(pool_value - max(pending - insurance, 0), 0)

   ``claims > held + dust`` (dust = 1 wei x accounts x markets of per-account rounding)
   while bad debt or a pool deficit is pending is the state auto-deleveraging exists for:
   the keepers run ADL in the same step, and the step is counted in
   ``adl_pending_steps``, the excess in ``uncovered_deficit_max``. The literal form
   ``sum(max(equity, 0)) + max(pool_value, 0) + insurance <= held + dust`` counts a
   not-yet-liquidated negative-equity account's loss twice (the pool's value includes it
   as a gain the pool will never collect); those steps are counted
   (``solvency_literal_breaches``) with the largest pending bad debt.
3. **Open interest**: the market's long/short open interest equals the sums of long and
   short sizes over the accounts.
4. **No lost bad debt**: no account without positions keeps a negative margin.
5. **Book drift** (every ``full_scan_every`` steps and at the end): the on-chain
   ``EngineLens.scan_accounts`` over every account gives the same margin sum, equity sums,
   number of position holders and set of liquidatable accounts as the replay's book.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..model import invariants
from ..protocol.units import WAD
from .book import Evaluation, MarketNow


def usd(x: int) -> float:
    """1e18 USD -> float USD."""
    return x / WAD


@dataclass
class Globals:
    """The engine's books at one instant (1e18 USD; balance in token units)."""

    token_balance: int
    pool_balance: int
    pool_value: int
    insurance: int


@dataclass
class InvariantChecker:
    n_accounts: int
    n_markets: int
    precision: int
    checks: int = 0
    violations: int = 0
    first_violation: dict[str, Any] | None = None
    violations_by_kind: dict[str, int] = field(default_factory=dict)
    steps_checked: int = 0
    full_scans: int = 0
    literal_breaches: int = 0
    pending_bad_debt_max: int = 0
    adl_pending_steps: int = 0
    deficit_max: int = 0

    def _expect(self, ok: bool, kind: str, step: int, details: Callable[[], dict[str, Any]]) -> None:
        """Count one check; on failure record it (`details` is only built then)."""
        self.checks += 1
        if ok:
            return
        self.violations += 1
        self.violations_by_kind[kind] = self.violations_by_kind.get(kind, 0) + 1
        if self.first_violation is None:
            self.first_violation = {"invariant": kind, "step": step, **{k: _jsonable(v) for k, v in details().items()}}

    def needs_exact(self, ev: Evaluation, g: Globals) -> bool:
        """Whether a screened evaluation (upper bound of positive equity) cannot decide the
        solvency checks: the bound fails, or bad debt / a pool deficit is pending."""
        if not ev.bound:
            return False
        if ev.negative_equity or g.pool_value < 0:
            return True
        held = g.token_balance * self.precision
        if not invariants.solvent(ev.positive_equity - ev.negative_equity, g.pool_value, g.insurance, held):
            return True
        return ev.positive_equity + max(g.pool_value, 0) + g.insurance > held + self.n_accounts * self.n_markets

    def check(self, step: int, ev: Evaluation, g: Globals, markets: list[MarketNow]) -> None:
        self.steps_checked += 1
        held = g.token_balance * self.precision
        gap = invariants.conservation_gap(held, (ev.margin_sum,), g.pool_balance, g.insurance)
        self._expect(
            gap == 0,
            "conservation",
            step,
            lambda: {
                "held": held,
                "margins": ev.margin_sum,
                "pool_balance": g.pool_balance,
                "insurance_fund": g.insurance,
                "difference": gap,
            },
        )
        pending = ev.negative_equity
        slack = invariants.solvency_slack(ev.positive_equity - pending, g.pool_value, g.insurance, held)
        self._expect(
            slack >= 0,
            "solvency",
            step,
            lambda: {
                "slack": slack,
                "held": held,
                "positive_equity": ev.positive_equity,
                "pending_bad_debt": pending,
                "pool_value": g.pool_value,
                "insurance_fund": g.insurance,
                "equity_bound": ev.bound,
            },
        )
        dust = self.n_accounts * self.n_markets
        claims = invariants.claims_after_waterfall(ev.positive_equity, pending, g.pool_value, g.insurance)
        if claims > held + dust:
            self.deficit_max = max(self.deficit_max, claims - held)
            if g.pool_value < 0 or pending > 0:  # bad debt or a deficit ADL resolves
                self.adl_pending_steps += 1
        if ev.positive_equity + max(g.pool_value, 0) + g.insurance > held + dust:
            self.literal_breaches += 1
        self.pending_bad_debt_max = max(self.pending_bad_debt_max, pending)
        for m, now in enumerate(markets):
            self._expect(
                invariants.open_interest_ok((ev.long_sizes[m], -ev.short_sizes[m]), now.long_oi, now.short_oi),
                "open_interest",
                step,
                lambda: {
                    "market": m,
                    "long_oi": now.long_oi,
                    "short_oi": now.short_oi,
                    "sum_long": ev.long_sizes[m],
                    "sum_short": ev.short_sizes[m],
                },
            )
        self._expect(not ev.flat_negative, "flat_negative_margin", step, lambda: {"accounts": ev.flat_negative[:10]})

    def check_scan(self, step: int, ev: Evaluation, scan: tuple[int, int, int, int, list[int]]) -> None:
        self.full_scans += 1
        margin_sum, positive, negative, with_positions, below = scan
        ours = (ev.margin_sum, ev.positive_equity, ev.negative_equity, ev.with_positions, ev.below_maintenance)
        self._expect(
            ours == (margin_sum, positive, negative, with_positions, below),
            "book_drift",
            step,
            lambda: {
                "chain": [margin_sum, positive, negative, with_positions, below[:20]],
                "book": [
                    ev.margin_sum,
                    ev.positive_equity,
                    ev.negative_equity,
                    ev.with_positions,
                    ev.below_maintenance[:20],
                ],
            },
        )

    def summary(self) -> dict[str, Any]:
        return {
            "invariant_checks": self.checks,
            "invariant_violations": self.violations,
            "invariant_violations_by_kind": dict(self.violations_by_kind),
            "first_violation": self.first_violation,
            "invariant_steps_checked": self.steps_checked,
            "full_onchain_scans": self.full_scans,
            "solvency_literal_breaches": self.literal_breaches,
            "pending_bad_debt_max": usd(self.pending_bad_debt_max),
            "adl_pending_steps": self.adl_pending_steps,
            "uncovered_deficit_max": usd(self.deficit_max),
        }


def _jsonable(v: Any) -> Any:
    if isinstance(v, int) and not isinstance(v, bool):
        return str(v) if abs(v) > 2**53 else v
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v


_MARKET_ROW_KEYS = (
    "index",
    "mark",
    "reference_price",
    "funding_rate_8h",
    "long_oi",
    "short_oi",
    "skew",
    "long_oi_usd",
    "short_oi_usd",
    "skew_usd",
    "spot_flow_usd",
    "log_impact",
    "risk_multiplier",
)
"""Per-market keys of a row, in their order in the row (the first market's unprefixed)."""

TIMESERIES_COLUMNS = [
    "step",
    "timestamp",
    "index",
    "mark",
    "reference_price",
    "funding_rate_8h",
    "long_oi",
    "short_oi",
    "skew",
    "long_oi_usd",
    "short_oi_usd",
    "skew_usd",
    "liquidations",
    "liquidated_notional",
    "insurance_fund",
    "pool_assets",
    "bad_debt",
    "bad_debt_step",
    "adl_events",
    "spot_flow_usd",
    "log_impact",
    "risk_multiplier",
    "positions_open",
    "pending_bad_debt",
]
"""Columns of timeseries.csv: prices in USD, OI and skew in coins (and USD), money in USD,
funding per 8 h as a fraction; ``bad_debt`` is cumulative, ``bad_debt_step`` this step's."""


class Metrics:
    """Event-driven counters and the per-step rows."""

    def __init__(self, n_markets: int, tier_fractions: list[float]):
        self.n_markets = n_markets
        self.tiered = bool(tier_fractions)
        self.tier_fractions = tier_fractions or [1.0]
        self.step = 0
        self.rows: list[dict[str, Any]] = []
        self.liquidations: list[dict[str, Any]] = []  # one per Liquidated event
        self.by_tier: dict[int, list[float]] = {}  # tier -> [count, notional USD]
        self.largest_liquidation = 0.0
        self.bad_debt = 0  # 1e18 USD, cumulative
        self.bad_debt_from_insurance = 0
        self.bad_debt_from_pool = 0
        self.bad_debt_events = 0
        self.adl_events = 0
        self.adl_haircut = 0
        self.adl_notional = 0.0
        self.keeper_rewards = 0
        self.penalties = 0
        self.lp_withdrawals: list[dict[str, Any]] = []
        self.adl: list[dict[str, Any]] = []  # one per AutoDeleveraged event
        self._step_liq = [0, 0.0]
        self._step_bad_debt = 0
        self._step_adl = 0
        self.spot: list[Any] = []
        self._row_keys: dict[int, list[tuple[str, ...]]] = {}
        self.extra_columns: list[str] = []  # agents' own row keys (e.g. the options desk's)

    # ------------------------------------------------------------------ events
    def on_liquidated(self, a: dict[str, Any]) -> None:
        notional = usd(int(a["notional"]))
        tier = int(a["tier"])
        entry = self.by_tier.setdefault(tier, [0, 0.0])
        entry[0] += 1
        entry[1] += notional
        self.largest_liquidation = max(self.largest_liquidation, notional)
        self._step_liq[0] += 1
        self._step_liq[1] += notional
        size = int(a["size_closed"])
        price = int(a["price"])
        market = int(a["market"])
        self.keeper_rewards += int(a["keeper_reward"])
        self.penalties += int(a["penalty"])
        # closing a long sells spot, closing a short buys it
        self.spot[market].add_flow(-size * price // WAD, "liquidation")
        self.liquidations.append(
            {
                "step": self.step,
                "account": a["account"],
                "market": market,
                "side": "long" if size > 0 else "short",
                "notional": notional,
                "price": usd(price),
                "tier": tier,
                "remaining": int(a["remaining_size"]) != 0,
            }
        )

    def on_bad_debt(self, a: dict[str, Any]) -> None:
        self.bad_debt += int(a["bad_debt"])
        self.bad_debt_from_insurance += int(a["from_insurance"])
        self.bad_debt_from_pool += int(a["from_pool"])
        self.bad_debt_events += 1
        self._step_bad_debt += int(a["bad_debt"])

    def on_adl(self, a: dict[str, Any]) -> None:
        self.adl_events += 1
        self._step_adl += 1
        self.adl.append(
            {
                "step": self.step,
                "market": int(a["market"]),
                "price": usd(int(a["price"])),
                "notional": abs(int(a["size_closed"])) * int(a["price"]) / WAD / WAD,
                "coins": abs(int(a["size_closed"])) / WAD,
                "haircut": usd(int(a["haircut"])),
            }
        )
        self.adl_haircut += int(a["haircut"])
        size = -int(a["size_closed"])  # the trade ADL made: the opposite of the closed position
        price = int(a["price"])
        self.adl_notional += abs(size) * price / WAD / WAD
        self.spot[int(a["market"])].add_flow(size * price // WAD, "adl")

    # -------------------------------------------------------------------- rows
    def row(
        self,
        step: int,
        timestamp: int,
        markets: list[MarketNow],
        g: Globals,
        ev: Evaluation,
        reference: list[int],
        flows: list[int],
        log_impacts: list[float],
        symbols: list[str],
    ) -> None:
        row: dict[str, Any] = {"step": step, "timestamp": timestamp}
        keys = self._row_keys.get(len(markets))
        if keys is None:
            keys = self._row_keys[len(markets)] = [
                tuple(("" if m == 0 else f"{symbols[m]}_") + name for name in _MARKET_ROW_KEYS)
                for m in range(len(markets))
            ]
        for m, now in enumerate(markets):
            (
                k_index,
                k_mark,
                k_reference,
                k_funding,
                k_long,
                k_short,
                k_skew,
                k_long_usd,
                k_short_usd,
                k_skew_usd,
                k_flow,
                k_impact,
                k_multiplier,
            ) = keys[m]
            long_oi, short_oi = now.long_oi / WAD, now.short_oi / WAD
            index = now.index / WAD
            row[k_index] = index
            row[k_mark] = now.mark / WAD
            row[k_reference] = reference[m] / WAD
            row[k_funding] = now.rate / WAD
            row[k_long] = long_oi
            row[k_short] = short_oi
            row[k_skew] = long_oi - short_oi
            row[k_long_usd] = long_oi * index
            row[k_short_usd] = short_oi * index
            row[k_skew_usd] = (long_oi - short_oi) * index
            row[k_flow] = flows[m] / WAD
            row[k_impact] = log_impacts[m]
            row[k_multiplier] = now.multiplier / WAD
        row["liquidations"] = self._step_liq[0]
        row["liquidated_notional"] = self._step_liq[1]
        row["insurance_fund"] = g.insurance / WAD
        row["pool_assets"] = g.pool_value / WAD
        row["bad_debt"] = self.bad_debt / WAD
        row["bad_debt_step"] = self._step_bad_debt / WAD
        row["adl_events"] = self._step_adl
        row["positions_open"] = ev.with_positions
        row["pending_bad_debt"] = ev.negative_equity / WAD
        self.rows.append(row)
        if self._step_liq[0]:
            self._step_liq = [0, 0.0]
        self._step_bad_debt = 0
        self._step_adl = 0

    def columns(self, symbols: list[str]) -> list[str]:
        per_market = list(_MARKET_ROW_KEYS)
        cols = list(TIMESERIES_COLUMNS)
        for sym in symbols[1:]:
            cols += [f"{sym}_{c}" for c in per_market]
        return cols + self.extra_columns

    def tier_label(self, tier: int) -> str:
        """``full_close`` without tiers; else ``tier1_close25pct`` (the engine's tier index + 1)."""
        if not self.tiered:
            return "full_close"
        fraction = self.tier_fractions[tier] if tier < len(self.tier_fractions) else 1.0
        return f"tier{tier + 1}_close{round(100 * fraction)}pct"

    def tiers(self) -> dict[str, dict[str, Any]]:
        """Liquidations by tier: every configured tier (zeros included) in order."""
        out = {}
        for tier in sorted(set(range(len(self.tier_fractions))) | set(self.by_tier)):
            count, notional = self.by_tier.get(tier, (0, 0.0))
            fraction = self.tier_fractions[tier] if tier < len(self.tier_fractions) else 1.0
            out[self.tier_label(tier)] = {
                "tier": tier,
                "count": int(count),
                "notional_usd": notional,
                "close_fraction": fraction,
            }
        return out


__all__ = ["Globals", "InvariantChecker", "Metrics", "TIMESERIES_COLUMNS", "usd"]
