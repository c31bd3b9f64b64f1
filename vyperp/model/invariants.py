"""The protocol's invariants, one definition each, shared by the stateful fuzzer
(vyperp.fuzz.machine) and the replay's metrics (vyperp.sim.metrics).

Notation (all 1e18 USD integers, read at one instant): ``H`` = token.balanceOf(engine) x
PRECISION, ``M_a`` = margin of account a, ``P`` = pool_balance, ``I`` = insurance_fund,
``E_a`` = account_health(a).equity (exit prices, PnL cap, funding at what the pool can pay,
size-tier surcharge; negative values included), ``V`` = pool_value.

1. **Conservation** (to the wei, absent donations): ``H == sum_a M_a + P + I``.
2. **Solvency** (exact, in wei, never skipped): ``sum_a E_a + V + I <= H`` over every
   account. Why it holds: by (1) it is ``sum_a (E_a - M_a) + (V - P) <= 0``, and
   position by position the account side is at most minus the pool side:
   * PnL: E counts ``floor(size x (exit - entry))``, capped when positive; V subtracts
     ``ceil(sum size x (mark - entry))``; the exit price of a long is at most the mark and
     of a short at least the mark (closing moves the skew against the closer), and a sum of
     floors is at most the ceiling of the sum;
   * funding: E subtracts ``ceil(size x (cum - index))`` (bounded below by -P, which only
     lowers E) plus the surcharge; V adds ``floor(sum size x (cum - index))``; the engine's
     aggregates are exact (sum_size_entry_price, sum_size_funding_index), and both sides use
     the same cumulative (the touched value, or _funding_now for the others).
   So the slack ``H - (sum E + V + I)`` is the exit-vs-mark spread, the capped profit, the
   surcharges and the rounding -- all >= 0. It is the net statement: after the waterfall
   takes pending bad debt (accounts with E < 0) from insurance and the pool, what is left
   covers every positive claim; when the pool's part goes negative (a deficit) the
   positive claims exceed H by that deficit, which ADL exists to remove -- that is
   :func:`uncovered_deficit`, a measure, not a violation.
3. **Open interest**: a market's long / short open interest is the sum of the long /
   short sizes.
4. **No negative margin at rest**: every account's margin is >= 0 between transactions
   (Engine: trades require margin >= 0 while positions remain, a liquidation step that
   would leave less closes everything, and a flat account's shortfall goes through the
   waterfall in the same transaction); so in particular no flat account keeps bad debt.
5. **Pool balance >= 0**: profit and funding are paid only from the pool's cash, and the
   waterfall never takes it below zero (Engine._cover_bad_debt's proof).
6. **Mark within its premium bound**: ``|mark - index| x 1e18 <= index x max_premium + 1e18``.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..protocol.units import WAD


def conservation_gap(held: int, margins: Iterable[int], pool_balance: int, insurance: int) -> int:
    """held - booked; 0 when conservation holds."""
    return held - (sum(margins) + pool_balance + insurance)


def solvency_slack(equity_sum: int, pool_value: int, insurance: int, held: int) -> int:
    """H - (sum of every account's equity + pool value + insurance); the invariant is slack >= 0.
    `equity_sum` is the exact sum (negative equities included) or an exact upper bound of it
    (then a slack >= 0 proves the invariant)."""
    return held - (equity_sum + pool_value + insurance)


def solvent(equity_sum: int, pool_value: int, insurance: int, held: int) -> bool:
    return solvency_slack(equity_sum, pool_value, insurance, held) >= 0


def claims_after_waterfall(positive_equity: int, pending: int, pool_value: int, insurance: int) -> int:
    """Every positive claim once pending bad debt (`pending` = sum of |negative equities|)
    has gone through the waterfall: insurance first, then the pool's value."""
    return positive_equity + max(insurance - pending, 0) + max(pool_value - max(pending - insurance, 0), 0)


def uncovered_deficit(positive_equity: int, pending: int, pool_value: int, insurance: int, held: int) -> int:
    """How far the positive claims after the waterfall exceed what is held (0 when covered):
    the deficit ADL removes."""
    return max(claims_after_waterfall(positive_equity, pending, pool_value, insurance) - held, 0)


def open_interest_ok(sizes: Iterable[int], long_oi: int, short_oi: int) -> bool:
    sizes = list(sizes)
    return (sum(x for x in sizes if x > 0), -sum(x for x in sizes if x < 0)) == (long_oi, short_oi)


def negative_margins(margins: dict[str, int]) -> list[str]:
    """Accounts resting with a negative margin (invariant 4: none)."""
    return [a for a, m in margins.items() if m < 0]


def mark_within_bound(mark: int, index: int, max_premium: int) -> bool:
    return abs(mark - index) * WAD <= index * max_premium + WAD
