"""The replay's ONE adapter to the FundingCaps contract (issue 14, the caps part): every
call to the caps contract goes through :class:`CapDesk`, so an API change of the
contract touches only this file.

Written against vyperp/contracts/FundingCaps.vy: caplet / floorlet strips on the
engine's dimensionless funding-rate index, sold by a fully collateralised writer vault
(``deposit`` / ``withdraw`` shares), listed by the admin (``list_product``), priced by
the contract (Bachelier, ``set_volatility``, ``set_pricing``) at the worse of the current
rate and a TWAP (``observe``: purchases revert "Forward not ready" until an observation
is ``twap_window`` old), fixed one boundary per ``fix`` call, paid by ``claim``.

Every transaction goes through the replay's :class:`~vyperp.sim.chainio.TxSender`
(counted by kind, reverts recorded by reason); the contract's logs are decoded here and
kept (``bought``, ``fixed``, ``claimed``) for the report and the tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..model import caps as cm

MAX_UINT = 2**256 - 1


@dataclass(frozen=True)
class CapParams:
    """The caps contract's parameters (1e18 fixed point, seconds)."""

    twap_window: int = 1_800
    sigma: int = 2 * 10**15  # normal vol of the per-8h funding rate per sqrt(year)
    spread: int = 10**17  # 10 % over the model price
    min_premium: int = 10**18  # 1 USD


class CapDesk:
    """Deploy FundingCaps, fund its vault, list floors, buy, observe, fix and claim."""

    def __init__(self, replay: Any, market: int, params: CapParams):
        self.r = replay
        self.market = market
        self.params = params
        self.contract: Any = None
        self.products: list[cm.CapsProduct] = []  # as listed (read back by field name)
        self.vault_deposits = 0  # tokens the writer LPs put in
        self.bought: list[dict[str, Any]] = []  # Bought logs
        self.fixed: list[dict[str, Any]] = []  # Fixed logs
        self.claimed: list[dict[str, Any]] = []  # Claimed logs
        self.premiums: dict[str, int] = {}  # tokens each buyer paid
        self.claims: dict[str, int] = {}  # tokens each buyer was paid
        self.holdings: dict[tuple[str, int], int] = {}  # (buyer, product) -> notional (1e18 USD)
        self.log: list[tuple[str, int, dict[str, Any]]] = []  # (event, block time, fields), in order
        self._cd_assets: bytes | None = None

    # ------------------------------------------------------------------ setup
    def deploy(self) -> Any:
        r = self.r
        p = self.params
        admin = r.p.admin
        c = r.chain.deploy("FundingCaps", r.engine, r.token, p.twap_window, sender=admin)
        self.contract = c
        self.address = c.address
        r.tx.send("setup_caps_config", admin, self.address, c.set_volatility.calldata(self.market, p.sigma))
        r.tx.send("setup_caps_config", admin, self.address, c.set_pricing.calldata(p.spread, p.min_premium))
        return c

    def approve(self, account: str) -> None:
        r = self.r
        r.tx.send("setup_caps_approve", account, r.wire.token_addr, r.token.approve.calldata(self.address, MAX_UINT))

    def deposit(self, account: str, tokens: int) -> bool:
        """A writer LP's deposit into the vault."""
        if self._send("caps_vault_deposit", account, self.contract.deposit.calldata(tokens)) is None:
            return False
        self.vault_deposits += tokens
        return True

    def list_floor(self, strike: int, start: int, period: int, periods: int, max_notional: int) -> int | None:
        """List a floor strip (admin); returns its product id."""
        c = self.contract
        data = c.list_product.calldata(self.market, True, strike, start, period, periods, max_notional)
        out = self._send("caps_list", self.r.p.admin, data)
        if out is None:
            return None
        pid = int.from_bytes(out[:32], "big")
        self.products.append(cm.CapsProduct.from_chain(c.products(pid)))
        return pid

    # ------------------------------------------------------------------ trading
    def observe(self) -> bool:
        return self._send("caps_observe", self.r.p.admin, self.contract.observe.calldata(self.market)) is not None

    def buy(self, account: str, pid: int, notional: int, max_premium: int) -> int | None:
        """Buy `notional` (1e18 USD) of product `pid`; returns the premium paid (tokens)."""
        data = self.contract.buy.calldata(pid, notional, max_premium)
        if self._send("caps_buy", account, data) is None:
            return None
        paid = int(self.bought[-1]["premium"])
        self.premiums[account] = self.premiums.get(account, 0) + paid
        key = (account, pid)
        self.holdings[key] = self.holdings.get(key, 0) + notional
        return paid

    def fix_due(self, keeper: str) -> int:
        """Fix every boundary that is due (one per call, in order); returns how many."""
        now = self.r.chain.time
        done = 0
        for pid, p in enumerate(self.products):
            while p.fixings <= p.periods and now >= p.start + p.fixings * p.period:
                if self._send("caps_fix", keeper, self.contract.fix.calldata(pid)) is None:
                    break
                p.fixings += 1
                done += 1
        return done

    def claim(self, account: str, pid: int, keeper: str) -> int | None:
        """Claim `account`'s fixed, unpaid caplets of `pid` (anyone may; the keeper does)."""
        if self._send("caps_claim", keeper, self.contract.claim.calldata(account, pid)) is None:
            return None
        amount = int(self.claimed[-1]["amount"])
        self.claims[account] = self.claims.get(account, 0) + amount
        return amount

    # ------------------------------------------------------------------ reads
    def pending(self, account: str, pid: int) -> int:
        """What claim would pay `account` now (tokens)."""
        return int(self.contract.pending(account, pid))

    def vault(self) -> dict[str, int]:
        """The vault's books (1e18 USD) and the contract's token balance (tokens)."""
        c = self.contract
        return {
            "assets": int(c.vault_assets()),
            "locked": int(c.vault_locked()),
            "buyer_reserve": int(c.buyer_reserve()),
            "balance_tokens": int(self.r.token.balanceOf(self.address)),
        }

    def vault_pnl(self) -> int:
        """The writer vault's P&L (1e18 USD): its assets minus what the LPs put in."""
        if self._cd_assets is None:
            self._cd_assets = self.contract.vault_assets.calldata()
        assets = int.from_bytes(self.r.chain.call(self.address, self._cd_assets)[:32], "big")
        return assets - self.vault_deposits * self.r.precision

    def forward_ready(self, now: int) -> bool:
        """Whether a purchase now has a TWAP reference (else it reverts "Forward not ready")."""
        c = self.contract
        newer = c.observation_new(self.market)
        if int(newer.time) and now >= int(newer.time) + self.params.twap_window:
            return True
        return int(c.observation_old(self.market).time) != 0

    def next_product(self, now: int) -> int | None:
        """The first listed product that has not started (buyable), if any."""
        for pid, p in enumerate(self.products):
            if p.start > now:
                return pid
        return None

    # ------------------------------------------------------------------ internals
    def _send(self, kind: str, sender: str, data: bytes) -> bytes | None:
        r = self.r
        out = r.tx.send(kind, sender, self.address, data)
        if out is None:
            return None
        for event in self.contract.decode_logs(r.chain.last_receipt):
            args = dict(event.args)
            self.log.append((event.name, int(r.chain.time), args))
            if event.name == "Bought":
                self.bought.append(args)
            elif event.name == "Fixed":
                self.fixed.append(args)
            elif event.name == "Claimed":
                self.claimed.append(args)
        return out


__all__ = ["CapDesk", "CapParams"]
