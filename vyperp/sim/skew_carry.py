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

from itertools import product
from typing import Any

from ..protocol.product_params import swaps_params
from ..protocol.swaps import SwapParams, deploy_funding_swaps
from ..protocol.units import WAD, wad


class SwapLeg:
    """The attacker's swap side, behind the few calls the script needs. Swaps are
    cross-margined: the collateral is the account's engine margin, the LP pool the
    counterparty, so the LP loss the arena measures includes the swap book's."""

    def __init__(self, arena: Any, maturity_days: int, params: SwapParams):
        s = arena.system
        self.arena = arena
        self.swaps = deploy_funding_swaps(s, params)
        self.maturity = s.chain.time + maturity_days * 86_400
        self.swaps.list_maturity(0, self.maturity, sender=s.admin)

    def open(self, account: str, size: int) -> bool:
        limit = 2**255 - 1 if size > 0 else -(2**255)
        return self.arena.send("swap open", self.swaps.open, 0, self.maturity, size, limit, sender=account) is not None

    def close(self, account: str) -> None:
        held = self.swaps.swaps(account, 0, self.maturity)
        if held.size and self.arena.system.chain.time >= self.maturity:
            self.arena.send("swap settle", self.swaps.settle, account, 0, self.maturity, sender=account)
        elif held.size:
            limit = -(2**255) if held.size > 0 else 2**255 - 1
            self.arena.send("swap close", self.swaps.close, 0, self.maturity, limit, sender=account)


def skew_carry(arena: Any) -> dict[str, Any]:
    """Hold a pay-fixed swap, carry long skew from a second account, collect, unwind
    (the swap closed before the skew is dropped, while the rate is still pushed, and
    after it), over a grid of swap and skew sizes; the scored profit is the best cell."""
    s = arena.system
    knobs = arena.scenario.knobs
    m = arena.scenario.market
    raw_hold = knobs.get("hold_hours", [24])
    holds = [int(h) for h in (raw_hold if isinstance(raw_hold, list) else [raw_hold])]
    swap_sizes = [float(x) for x in knobs.get("swap_notionals_usd", [1e4, 1e5, 1e6, 1e7])]
    skew_sizes = [float(k) for k in knobs.get("skew_notionals_usd", [1e4, 5e4, 1e5, 5e5, 1e6, 5e6])]
    params = swaps_params(knobs.get("swaps", {}), "[adversary.swaps]").contract_params()
    leg = SwapLeg(arena, int(knobs.get("maturity_days", 30)), params)
    swapper = arena.attacker("attacker-swap", float(knobs.get("swap_deposit_usd", 1_000_000.0)))
    carrier = arena.attacker("attacker-skew", float(knobs.get("perp_deposit_usd", 1_000_000.0)))
    background = float(knobs.get("background_open_interest_usd", 0.0))
    if background:  # honest, balanced open interest: no skew, but room under the swap cap's perp-OI bound
        for side, label in ((1, "honest-long"), (-1, "honest-short")):
            honest = s.new_trader(label, background)
            s.trade(honest, 0, side * (wad(background) * WAD // wad(arena.price)))
    grid = _grid(arena, leg, swapper, carrier, holds, swap_sizes, skew_sizes)
    ablation = None
    if "compare_skew_slope" in knobs:  # the same grid with a flatter skew spread: what the slope buys
        slope = float(knobs["compare_skew_slope"])
        with arena.branch():
            leg.swaps.set_quote_config(
                params.ema_period, params.base_spread, wad(slope), params.utilisation_slope, sender=s.admin
            )
            cells = _grid(arena, leg, swapper, carrier, holds, swap_sizes, skew_sizes)
        flat_best = max((g for g in cells if g["opened"]), key=lambda g: g["attacker_net_profit"], default=None)
        ablation = {"skew_slope": slope, "best": flat_best}
    opened = [g for g in grid if g["opened"]]
    best = max(opened, key=lambda g: g["attacker_net_profit"], default=None)
    fixed_rate = float(knobs.get("fixed_rate_8h", m.interest_rate))
    return {
        "hold_hours": holds,
        "grid": grid,
        "best": best,
        "largest_swap_accepted_usd": max((g["swap_usd"] for g in opened), default=0.0),
        "swap_cap_usd": round(min(params.skew_scale_fraction / WAD * m.skew_scale_usd, m.max_open_interest_usd), 2),
        "breakeven_swap_usd": round(_theory(m, fixed_rate) * m.skew_scale_usd, 2),
        "expected": {
            "attacker_net_profit": best["attacker_net_profit"] if best else 0.0,
            "lp_loss": best["lp_loss"] if best else 0.0,
            "bad_debt": 0.0,
            "insurance_loss": 0.0,
        },
        "frozen_in_any_branch": 0,
        "with_flatter_skew_spread": ablation,
    }


def _grid(
    arena: Any,
    leg: SwapLeg,
    swapper: str,
    carrier: str,
    holds: list[int],
    swap_sizes: list[float],
    skew_sizes: list[float],
) -> list[dict[str, Any]]:
    """Every (hold, swap size, skew size, order) cell, each in its own branch."""
    s = arena.system
    price = arena.price
    grid: list[dict[str, Any]] = []
    orders = ((True, True), (True, False), (False, True), (False, False))
    for hold, notional, skew, (swap_first, close_first) in product(holds, swap_sizes, skew_sizes, orders):
        with arena.branch():
            cell: dict[str, Any] = {
                "hold_hours": hold,
                "swap_usd": notional,
                "skew_usd": skew,
                "swap_opened_first": swap_first,
                "swap_closed_first": close_first,
            }
            size = wad(notional) * WAD // wad(price)
            if not swap_first:
                cell["skew_carried"] = arena.trade(carrier, wad(skew) * WAD // wad(price))
            cell["opened"] = leg.open(swapper, size)
            if not cell["opened"]:
                grid.append(cell)
                continue
            if swap_first:
                cell["skew_carried"] = arena.trade(carrier, wad(skew) * WAD // wad(price))
            for _ in range(hold):
                s.advance(3600, refresh=False)
                s.set_price(0, price)
                arena.send("poke", s.engine.poke, 0, sender=arena.keeper)
            if close_first:
                leg.close(swapper)
            arena.close_all()
            leg.close(swapper)
            arena.withdraw_all(swapper)
            arena.withdraw_all(carrier)
            out = arena.result({})
            cell["attacker_net_profit"] = out["attacker_net_profit"]
            cell["lp_loss"] = out["lp_loss"]
            grid.append(cell)
    return grid


def _theory(market: Any, fixed_rate: float) -> float:
    """The swap notional / skew scale below which carrying skew cannot pay (LINEAR funding)."""
    c, q = market.funding_clamp, fixed_rate
    return c + 2 * q + ((c + 2 * q) ** 2 - c**2) ** 0.5


__all__ = ["SwapLeg", "skew_carry"]
