"""The attack lab's swap class, ``skew-carry`` (issue 14's manipulation bound).

Funding here is endogenous: the skew sets the premium, the premium sets the rate. A
holder of a pay-fixed swap (it receives the funding a long of its size pays) can
inflate its own floating leg by carrying long skew from a second account. Over a hold
of T, with swap notional X, carried skew notional K, skew scale s, interest I and clamp
c (LINEAR funding: rate = p + clamp(I - p, -c, c), p = K / s), the attacker receives
X * rate from the swap, pays K * rate on its perp (both to and from the LP pool) and
the fixed leg X * q (q the quoted fixed rate, ~ I in a calm market), plus the perp's
fees on K twice. Per unit of s and of time, the best skew K = (X + c s) / 2 gives

    profit / s = (x - c)^2 / 4 - x q,      x = X / s,

so the attack pays only once x passes c + 2q + sqrt((c + 2q)^2 - c^2) (0.119 % of the
skew scale at c = 5 bp, q = 1 bp), and the swap book's open-interest cap against the
skew scale is what has to hold X below that. This script measures it on the real
contracts: a grid of swap sizes X (the ones the swap contract refuses are recorded) and
skew sizes K, each held for ``hold_hours`` with one oracle round an hour, everything
closed and withdrawn at the end; the scored profit is the grid's best.

The swap calls sit in :class:`SwapLeg` so the rest of the script does not depend on
the swap contract's API.
"""

from __future__ import annotations

from typing import Any

from ..protocol.swaps import deploy_funding_swaps
from ..protocol.units import WAD, wad

FUNDING_PERIOD = 8 * 3600


class SwapLeg:
    """The attacker's swap side, behind the few calls the script needs."""

    def __init__(self, arena: Any, maturity_days: int, fixed_rate: float):
        s = arena.system
        self.arena = arena
        self.swaps = deploy_funding_swaps(s)
        self.maturity = s.chain.time + maturity_days * 86_400
        self.swaps.list_maturity(0, self.maturity, wad(fixed_rate), sender=s.admin)
        s.token.approve(self.swaps, 2**256 - 1, sender=arena.lp)
        s.mint(arena.lp, arena.scenario.pool_usd)
        self.swaps.fund_pool(s.tokens(arena.scenario.pool_usd), sender=arena.lp)

    def fund(self, account: str, usd: float) -> None:
        s = self.arena.system
        amount = s.mint(account, usd)
        self.arena.brought[account] = self.arena.brought.get(account, 0) + amount
        s.token.approve(self.swaps, 2**256 - 1, sender=account)
        self.swaps.deposit(amount, sender=account)

    def open(self, account: str, size: int) -> bool:
        limit = 2**255 - 1 if size > 0 else -(2**255)
        return self.arena.send("swap open", self.swaps.open, 0, self.maturity, size, limit, sender=account) is not None

    def close(self, account: str) -> None:
        held = self.swaps.swaps(account, 0, self.maturity)
        if held.size or held.fixed_flow:
            limit = -(2**255) if held.size > 0 else 2**255 - 1
            self.arena.send("swap close", self.swaps.close, 0, self.maturity, limit, sender=account)

    def withdraw_all(self, account: str) -> None:
        s = self.arena.system
        amount = max(int(self.swaps.margin(account)), 0) // s.precision
        if amount:
            self.arena.send("swap withdraw", self.swaps.withdraw, amount, sender=account)

    def pool_loss(self, funded: int) -> int:
        """What the swap book's counterparty lost (1e18 USD)."""
        return max(funded - int(self.swaps.pool_balance()), 0)


def skew_carry(arena: Any) -> dict[str, Any]:
    """Hold a pay-fixed swap, carry long skew from a second account, collect, unwind."""
    s = arena.system
    knobs = arena.scenario.knobs
    m = arena.scenario.market
    hold = int(knobs.get("hold_hours", 24))
    swap_sizes = [float(x) for x in knobs.get("swap_notionals_usd", [1e4, 1e5, 1e6, 1e7])]
    skew_sizes = [float(k) for k in knobs.get("skew_notionals_usd", [1e4, 5e4, 1e5, 5e5, 1e6, 5e6])]
    leg = SwapLeg(arena, int(knobs.get("maturity_days", 30)), float(knobs.get("fixed_rate_8h", m.interest_rate)))
    swapper = arena.attacker("attacker-swap", 0.0)
    carrier = arena.attacker("attacker-skew", float(knobs.get("perp_deposit_usd", 1_000_000.0)))
    leg.fund(swapper, float(knobs.get("swap_deposit_usd", 1_000_000.0)))
    price = arena.price
    grid: list[dict[str, Any]] = []
    for notional in swap_sizes:
        for skew in skew_sizes:
            with arena.branch():
                opened = leg.open(swapper, wad(notional) * WAD // wad(price))
                if not opened:
                    grid.append({"swap_usd": notional, "skew_usd": skew, "opened": False})
                    continue
                carried = arena.trade(carrier, wad(skew) * WAD // wad(price))
                for _ in range(hold):
                    s.advance(3600, refresh=False)
                    s.set_price(0, price)
                    arena.send("poke", s.engine.poke, 0, sender=arena.keeper)
                arena.close_all()
                leg.close(swapper)
                leg.withdraw_all(swapper)
                arena.withdraw_all(carrier)
                out = arena.result({})
                grid.append(
                    {
                        "swap_usd": notional,
                        "skew_usd": skew,
                        "opened": True,
                        "skew_carried": carried,
                        "attacker_net_profit": out["attacker_net_profit"],
                        "lp_loss": out["lp_loss"],
                    }
                )
    opened = [g for g in grid if g["opened"]]
    best = max(opened, key=lambda g: g["attacker_net_profit"], default=None)
    theory = _theory(m, float(knobs.get("fixed_rate_8h", m.interest_rate)))
    return {
        "hold_hours": hold,
        "grid": grid,
        "best": best,
        "largest_swap_accepted_usd": max((g["swap_usd"] for g in opened), default=0.0),
        "breakeven_swap_usd": round(theory * m.skew_scale_usd, 2),
        "expected": {
            "attacker_net_profit": best["attacker_net_profit"] if best else 0.0,
            "lp_loss": best["lp_loss"] if best else 0.0,
            "bad_debt": 0.0,
            "insurance_loss": 0.0,
        },
        "frozen_in_any_branch": 0,
    }


def _theory(market: Any, fixed_rate: float) -> float:
    """The swap notional / skew scale below which carrying skew cannot pay (LINEAR funding)."""
    c, q = market.funding_clamp, fixed_rate
    return c + 2 * q + ((c + 2 * q) ** 2 - c**2) ** 0.5


__all__ = ["SwapLeg", "skew_carry"]
