"""Basis traders who protect their funding carry with funding FLOORS (``[population.funding_caps]``).

A short perp receives the funding rate; a floor on the engine's funding-rate index pays
``N * max(K * tau - R_k, 0)`` per period when the rate falls below the strike ``K``: the
protection of a short's carry (it keeps the upside, unlike the swap, and costs a premium
up front). Every FundingCaps call goes through :class:`~vyperp.sim.cap_desk.CapDesk`.

Needs ``[population.funding_swaps]`` (its groups and bookkeeping): a share
``floor_share`` of the basis traders NOT hedged with swaps is drawn (from a child random
stream of its own, so the swaps' groups and the other agents draw as without it) into the
``floored`` group; the rest are ``unhedged``. In the counterfactual (``hedge = false`` of
the swaps section) the same groups are drawn and followed and no cap contract is
deployed.

The book: at the first step the admin lists floor strips of ``period_hours`` caplets at
``strike`` (per 8 h), one starting at each period boundary after the first step and all
ending ``horizon_hours`` after it (a purchase must precede its product's start); the
writer vault is funded by ``writer_lps`` LPs with ``vault_usd``. A floored trader, right
after opening its short, buys the next product to start on its short's notional (its
premium from a budget of ``budget_ratio`` x capital x leverage minted at setup, the
budget its slippage bound); a purchase the contract refuses ("Forward not ready" before
the first TWAP observation is old enough, "Vault capacity") is retried every step while
the short is open. A keeper observes the TWAP every ``twap_minutes``, fixes every due
boundary in the block it falls in and claims for the holders after each fix; the last
step claims everything fixed. A floor is kept when the short closes (it is not sold back).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..protocol.units import WAD, wad
from .agents import _usd_tokens
from .cap_desk import CapDesk, CapParams
from .spec_table import spec_from_table


@dataclass(frozen=True)
class FundingCapsSpec:
    """``[population.funding_caps]`` of a scenario (every key optional)."""

    floor_share: float = 0.5  # of the basis traders not hedged with swaps
    strike: float = 0.0001  # per 8 h
    period_hours: float = 1.0
    horizon_hours: float = 7.0  # after the first step
    budget_ratio: float = 0.01  # a floored trader's premium budget, of capital x leverage
    writer_lps: int = 2
    vault_usd: float = 500_000.0
    sigma: float = 0.1  # the normal volatility of the per-8h rate per sqrt(year)
    spread: float = 0.10
    min_premium_usd: float = 1.0
    twap_minutes: float = 30.0
    max_notional_usd: float = 50_000_000.0  # per product

    def __post_init__(self) -> None:
        if not 0 <= self.floor_share <= 1:
            raise ValueError(f"floor_share must be in [0, 1], got {self.floor_share!r}")
        for key in ("period_hours", "horizon_hours", "vault_usd", "twap_minutes", "max_notional_usd"):
            if not getattr(self, key) > 0:
                raise ValueError(f"{key} must be > 0, got {getattr(self, key)!r}")
        if not 0 <= self.budget_ratio <= 1:
            raise ValueError(f"budget_ratio must be in [0, 1], got {self.budget_ratio!r}")
        if not 2 * self.period_hours <= self.horizon_hours <= 33 * self.period_hours:
            raise ValueError("horizon_hours must cover 2 to 33 periods")
        if not -0.0075 < self.strike < 0.0075:
            raise ValueError(f"strike must be inside the funding cap, got {self.strike!r}")
        if not 0 < self.sigma <= 1 or not 0 <= self.spread <= 1 or self.min_premium_usd < 0:
            raise ValueError("need 0 < sigma <= 1, 0 <= spread <= 1, min_premium_usd >= 0")
        if self.writer_lps < 1:
            raise ValueError(f"writer_lps must be >= 1, got {self.writer_lps!r}")

    def params(self) -> CapParams:
        return CapParams(
            twap_window=int(round(self.twap_minutes * 60)),
            sigma=wad(repr(self.sigma)),
            spread=wad(repr(self.spread)),
            min_premium=wad(repr(self.min_premium_usd)),
        )

    @classmethod
    def from_table(cls, tbl: dict[str, Any]) -> FundingCapsSpec:
        """From a TOML table. Raises ``ValueError`` naming a wrong key."""
        return spec_from_table(cls, tbl, {"writer_lps": "integer"})  # type: ignore[no-any-return]


class FloorProtection:
    """The floored basis traders and the floor book (see the module docstring).
    ``parent`` is the :class:`~vyperp.sim.funding_swaps.FundingSwapHedging` (its groups,
    its market); ``trade`` False: the counterfactual (groups only)."""

    def __init__(self, parent: Any, spec: FundingCapsSpec, rng: np.random.Generator, trade: bool):
        self.parent = parent
        self.r = parent.r
        self.spec = spec
        self.trade = trade
        n = parent.n
        self.n = n
        free = [j for j in range(n) if not parent.hedged[j]]
        k = int(round(len(free) * spec.floor_share))
        self.floored = np.zeros(n, dtype=bool)
        if k:
            self.floored[rng.choice(free, k, replace=False)] = True
        self.desk = CapDesk(self.r, parent.m, spec.params())
        self.budget = [0] * n  # premium budget left (tokens)
        self.want: dict[int, int] = {}  # trader -> notional (1e18 USD) still to buy
        self.products_of: dict[int, list[int]] = {}  # trader -> products held
        self.last_observe = -1
        self.lp_accounts: list[str] = []
        self.vault_pnls: list[int] = []
        self.stats = {"floor_buys": 0, "floor_buy_retries": 0, "fixes": 0, "claims": 0, "observations": 0}

    # ------------------------------------------------------------------ setup
    def setup(self) -> None:
        if not self.trade:
            return
        r, p = self.r, self.r.p
        desk = self.desk
        desk.deploy()
        basis = self.parent.basis
        for j in range(self.n):
            if not self.floored[j]:
                continue
            tokens = _usd_tokens(float(basis.capital[j]) * basis._leverage[j] * self.spec.budget_ratio, r.decimals)
            self.budget[j] = tokens
            if tokens:
                r.tx.send("setup_mint", p.admin, r.wire.token_addr, r.token.mint.calldata(basis.accounts[j], tokens))
            desk.approve(basis.accounts[j])
        per_lp = _usd_tokens(self.spec.vault_usd / self.spec.writer_lps, r.decimals)
        for k in range(self.spec.writer_lps):
            account, _ = r.new_agent(f"cap-writer-{k:02d}", per_lp)
            desk.approve(account)
            desk.deposit(account, per_lp)
            self.lp_accounts.append(account)

    # ------------------------------------------------------------------ hooks
    def on_open(self, j: int, perp_size: int) -> None:
        """Trader j opened a short of `perp_size` (signed, < 0): it wants a floor on its notional."""
        if not self.trade or not self.floored[j] or perp_size >= 0:
            return
        self.want[j] = -perp_size * self.r.markets[self.parent.m].mark // WAD
        self._buy(j)

    def on_exit(self, j: int) -> None:
        self.want.pop(j, None)

    def _buy(self, j: int) -> bool:
        desk = self.desk
        pid = desk.next_product(int(self.r.chain.time))
        notional = self.want.get(j, 0)
        if pid is None or notional <= 0 or self.budget[j] <= 0:
            self.want.pop(j, None)
            return False
        if not desk.forward_ready(int(self.r.chain.time)):
            return False  # wanted still: retried next step
        account = self.parent.basis.accounts[j]
        paid = desk.buy(account, pid, notional, self.budget[j])
        if paid is None:
            return False
        self.budget[j] -= paid
        self.want.pop(j, None)
        self.products_of.setdefault(j, []).append(pid)
        self.stats["floor_buys"] += 1
        return True

    # ------------------------------------------------------------------ the step
    def act(self, step: int) -> None:
        """The keeper's step (after the swaps'): list at the first step, observe the TWAP,
        fix what is due, claim for the holders after a fix, retry wanted purchases."""
        if not self.trade:
            return
        r = self.r
        desk = self.desk
        spec = self.spec
        keeper = r.keepers.accounts[0] if r.keepers.accounts else r.p.admin
        now = int(r.chain.time)
        if step == 0:
            t0 = int(r.timestamps[0])
            period = int(round(spec.period_hours * 3600))
            total = int(round(spec.horizon_hours / spec.period_hours))
            cap = wad(repr(spec.max_notional_usd))
            for i in range(1, total):
                desk.list_floor(wad(repr(spec.strike)), t0 + i * period, period, total - i, cap)
        if self.last_observe < 0 or now >= self.last_observe + desk.params.twap_window:
            if desk.observe():
                self.last_observe = now
                self.stats["observations"] += 1
        fixed = desk.fix_due(keeper)
        self.stats["fixes"] += fixed
        if fixed:
            self._claim_all(keeper, only_pending=True)
        for j in sorted(self.want):
            self.stats["floor_buy_retries"] += 1
            self._buy(j)
        self.vault_pnls.append(desk.vault_pnl())

    def after_agents(self, step: int) -> None:
        if self.trade and step == self.r.n_steps - 1:
            keeper = self.r.keepers.accounts[0] if self.r.keepers.accounts else self.r.p.admin
            self.stats["fixes"] += self.desk.fix_due(keeper)
            self._claim_all(keeper, only_pending=True)

    def _claim_all(self, keeper: str, only_pending: bool) -> None:
        basis = self.parent.basis
        for j in sorted(self.products_of):
            account = basis.accounts[j]
            for pid in self.products_of[j]:
                if only_pending and self.desk.pending(account, pid) == 0:
                    continue
                if self.desk.claim(account, pid, keeper) is not None:
                    self.stats["claims"] += 1

    # ------------------------------------------------------------------ measures
    def floor_pnl(self, j: int) -> int:
        """Trader j's floor P&L now (1e18 USD): claimed + claimable - premiums paid."""
        if not self.trade or j not in self.products_of:
            return 0
        account = self.parent.basis.accounts[j]
        desk = self.desk
        tokens = desk.claims.get(account, 0) - desk.premiums.get(account, 0)
        tokens += sum(desk.pending(account, pid) for pid in self.products_of[j])
        return tokens * self.r.precision

    def floor_flows(self, js: list[int]) -> tuple[int, int]:
        """(premiums paid, payoffs claimed) of traders `js`, 1e18 USD."""
        desk = self.desk
        accounts = [self.parent.basis.accounts[j] for j in js]
        prec = self.r.precision
        return (
            sum(desk.premiums.get(a, 0) for a in accounts) * prec,
            sum(desk.claims.get(a, 0) for a in accounts) * prec,
        )

    def report(self) -> dict[str, Any]:
        out: dict[str, Any] = {"spec": dict(self.spec.__dict__), "floored": int(self.floored.sum())}
        if not self.trade:
            return out
        desk = self.desk
        prec = self.r.precision
        vault = desk.vault()
        premiums = sum(desk.premiums.values()) * prec
        claims = sum(desk.claims.values()) * prec
        pnl = desk.vault_pnl()
        out |= {
            "vault": {
                "deposited_usd": desk.vault_deposits * prec / WAD,
                "pnl_end_usd": pnl / WAD,
                "pnl_min_usd": min(self.vault_pnls) / WAD if self.vault_pnls else 0.0,
                "pnl_max_usd": max(self.vault_pnls) / WAD if self.vault_pnls else 0.0,
                "premiums_usd": premiums / WAD,
                "payoffs_claimed_usd": claims / WAD,
                "locked_end_usd": vault["locked"] / WAD,
                "buyer_reserve_end_usd": vault["buyer_reserve"] / WAD,
            },
            "conservation": {
                # token.balanceOf(caps) * PRECISION == vault_assets + buyer_reserve, and the
                # vault's P&L == premiums - obligations fixed (wei)
                "token_residual_wei": vault["balance_tokens"] * prec - vault["assets"] - vault["buyer_reserve"],
                "pnl_residual_wei": pnl - (premiums - sum(int(f["obligation"]) for f in desk.fixed)),
            },
            "products": [
                {
                    "start": p.start,
                    "periods": p.periods,
                    "notional_usd": sum(n for (_, pid), n in desk.holdings.items() if pid == k) / WAD,
                }
                for k, p in enumerate(desk.products)
            ],
            "fixings_paying": sum(1 for f in desk.fixed if int(f["payoff"]) > 0),
            "stats": dict(self.stats),
        }
        return out


__all__ = ["FloorProtection", "FundingCapsSpec"]
