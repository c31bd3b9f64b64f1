"""Basis traders who hedge their funding with funding-rate swaps (``[population.funding_swaps]``).

A basis trader shorts the perp against spot to collect funding; a *hedged* one also
opens a pay-floating / receive-fixed swap of the same size (``S = perp size < 0``) in
the same block, so its perp funding plus the swap's floating leg cancel (to the
rounding: the perp rounds what it owes up, the swap what it receives down, at most
1 wei per settlement each) and it is left with the fixed leg: a fixed carry. Every swap
call goes through :class:`~vyperp.sim.swap_desk.SwapDesk` (the one adapter).

Population (drawn from a child random stream of its own, so the other agents draw as
without it): exactly ``round(basis * hedged_share)`` of the basis traders are hedged.
A hedged trader

* opens its swap right after its perp short (same block) at the book's quote; a
  failed open (e.g. its swap margin below the initial margin) leaves it unhedged;
* closes the swap when it closes the perp, and when the keepers cut its perp
  (liquidation or ADL): a full cut closes the swap, a partial one closes it and reopens
  one of the remaining size (the current contract has no partial close);
* tops its ENGINE margin up once, at its first hedge, by ``swap_margin_ratio`` x its
  capital x its leverage (minted at setup, deposited in the same block as the swap
  open): the swaps are cross-margined, the swap's collateral is the account's engine
  margin beside its short (the top-up does not count as a gain of the basis trade);
* ignores the funding-exit rule while its swap is live (its carry is fixed), keeps the
  loss limit, with the swap's pending legs added to its book.

The book: one maturity, ``maturity_hours`` after the first step, listed at step 0;
after it a keeper settles every live swap (the maturity snapshot) and the hedged
traders are plain basis traders again (no roll). ``settle_every_steps`` (0 = never)
also settles every live swap periodically; the last step settles all, so the report's
zero-sum check is exact to the wei. The counterparty is the engine's LP pool; the
contract quotes (an EMA of the engine's funding rate, ``quote_*`` keys ->
``set_quote_config``). Liquidation: the engine's ``liquidate_many`` skips swap holders,
so after the keepers this layer calls ``FundingSwaps.liquidate`` for every live holder
the replay's book (the swaps' value and maintenance overlaid, :meth:`_overlay`) lists
below maintenance and the contract confirms; the episode ends "liquidated".
``[population.funding_caps]`` (vyperp/sim/funding_caps.py) adds a third group, the
floored traders, drawn from the traders not hedged.

Bookkeeping per trader (exact integers, 1e18 USD): perp funding from the engine's
``FundingSettled`` logs, the swap legs from FundingSwaps's ``SwapSettled`` and
``SwapClosed``, what each settlement moved into the engine margin from its
``Transferred``, liquidations from ``Liquidated``, the spot leg's cash and coins. The
report section ``funding_swaps`` compares the groups (hedged / [floored /] unhedged):
liquidations, survival, P&L (perp = engine equity - deposits - what the swap moved in;
spot leg at the index; swap = what it moved in + pending; floor), funding, the LP pool's
swap P&L and the cap vault's; the time series gets the ``swaps_*`` columns
(:attr:`FundingSwapHedging.columns`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..protocol.swaps import SwapParams
from ..protocol.units import WAD, ceil_div, wad
from .agents import _usd_tokens
from .funding_caps import FloorProtection, FundingCapsSpec
from .spec_table import Kind, spec_from_table
from .swap_desk import SwapDesk

REMOVED_KEYS = frozenset(
    {"initial_margin_ratio", "swap_lps", "pool_usd", "quote", "quote_window_steps", "quote_spread", "quote_every_steps"}
)
GROUPS = ("hedged", "unhedged")
CAPS_COLUMNS = (
    "swaps_floored_pnl",
    "swaps_floored_open",
    "swaps_floored_survivors",
    "swaps_floored_funding",
    "swaps_vault_pnl",
)


_DEFAULT = SwapParams()


@dataclass(frozen=True)
class FundingSwapsSpec:
    """``[population.funding_swaps]`` of a scenario (every key optional)."""

    market: str | None = None  # symbol; default the scenario's first market
    hedge: bool = True  # False: the groups are drawn and followed, nobody trades a swap (the counterfactual)
    hedged_share: float = 0.5  # of the basis traders
    maturity_hours: float = 7.0  # after the first step
    swap_margin_ratio: float = 0.10  # a hedger's engine top-up for its swap, of capital x leverage
    # the contract's margin and quote (defaults: SwapParams', the deployed contract's own)
    initial_k: float = _DEFAULT.initial_k / WAD  # rate-sensitivity margin multipliers
    maintenance_k: float = _DEFAULT.maintenance_k / WAD
    quote_ema_hours: float = _DEFAULT.ema_period / 3600  # EMA period of the mark rate
    quote_base_spread: float = _DEFAULT.base_spread / WAD  # per 8 h either side of the mark
    quote_skew_slope: float = _DEFAULT.skew_slope / WAD  # per 8 h per unit of book skew / skew_scale
    quote_utilisation_slope: float = _DEFAULT.utilisation_slope / WAD  # per 8 h at a full open-interest cap
    settle_every_steps: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.hedged_share <= 1:
            raise ValueError(f"hedged_share must be in [0, 1], got {self.hedged_share!r}")
        for key in ("maturity_hours", "quote_ema_hours"):
            if not getattr(self, key) > 0:
                raise ValueError(f"{key} must be > 0, got {getattr(self, key)!r}")
        if not 0 <= self.swap_margin_ratio <= 1:
            raise ValueError(f"swap_margin_ratio must be in [0, 1], got {self.swap_margin_ratio!r}")
        if not 0 < self.maintenance_k < self.initial_k <= 100:
            raise ValueError(
                f"need 0 < maintenance_k < initial_k <= 100, got {self.maintenance_k!r}, {self.initial_k!r}"
            )
        for key in ("quote_base_spread", "quote_utilisation_slope"):
            if not 0 <= getattr(self, key) <= 0.01:
                raise ValueError(f"{key} must be in [0, 1 % per 8 h], got {getattr(self, key)!r}")
        if not 0 <= self.quote_skew_slope <= 1:  # the contract's bound (FundingSwaps._set_quote)
            raise ValueError(f"quote_skew_slope must be in [0, 1], got {self.quote_skew_slope!r}")
        if self.settle_every_steps < 0:
            raise ValueError(f"settle_every_steps must be >= 0, got {self.settle_every_steps!r}")

    def params(self) -> SwapParams:
        """The contract's parameters: SwapParams' defaults but for the keys above."""
        return replace(
            SwapParams(),
            initial_k=wad(repr(self.initial_k)),
            maintenance_k=wad(repr(self.maintenance_k)),
            ema_period=int(round(self.quote_ema_hours * 3600)),
            base_spread=wad(repr(self.quote_base_spread)),
            skew_slope=wad(repr(self.quote_skew_slope)),
            utilisation_slope=wad(repr(self.quote_utilisation_slope)),
        )

    @classmethod
    def from_table(cls, tbl: dict[str, Any]) -> FundingSwapsSpec:
        """From a TOML table. Raises ``ValueError`` naming a wrong key."""
        removed = sorted(set(tbl) & REMOVED_KEYS)
        if removed:
            raise ValueError(
                f"key(s) {', '.join(removed)} removed with the cross-margined FundingSwaps (issue 14): the swap's "
                "collateral is the engine margin (swap_margin_ratio tops it up), the LP pool is the counterparty "
                "(no swap LPs), the contract quotes an EMA of the funding rate plus a spread (quote_ema_hours, "
                "quote_base_spread, quote_skew_slope, quote_utilisation_slope)"
            )
        kinds: dict[str, Kind] = {"hedge": "bool", "market": "string", "settle_every_steps": "integer"}
        return spec_from_table(cls, tbl, kinds)  # type: ignore[no-any-return]


@dataclass
class Segment:
    """One hedge episode of a trader: from a swap open to its close / maturity settle.
    Money in wei (1e18 USD); ``perp_funding_paid`` is what the perp paid (FundingSettled
    amounts, negative = received) while the swap was live."""

    j: int
    open_step: int
    open_time: int
    size: int = 0
    fixed_flow: int = 0
    fixed_rate: int = 0
    index_price: int = 0
    perp_funding_paid: int = 0
    perp_settlements: int = 0
    settlements: list[tuple[int, int, int]] | None = None  # (time, floating, fixed)
    unwind: int = 0
    end_step: int | None = None
    end: str = ""  # "exit", "cut", "resize", "matured", "liquidated"
    perp_pending_end: int = 0  # at a maturity settle: the funding the perp owes unsettled then (wei)

    @property
    def floating(self) -> int:
        return sum(s[1] for s in self.settlements or ())

    @property
    def fixed(self) -> int:
        return sum(s[2] for s in self.settlements or ())


class FundingSwapHedging:
    """The hedged basis traders and the swap book (see the module docstring).
    ``replay`` is the :class:`~vyperp.sim.runner.Replay`, built up to its basis traders."""

    COLUMNS = (
        "swaps_quote",
        "swaps_pool_pnl",
        "swaps_hedged_pnl",
        "swaps_unhedged_pnl",
        "swaps_hedged_open",
        "swaps_unhedged_open",
        "swaps_hedged_survivors",
        "swaps_unhedged_survivors",
        "swaps_hedged_funding",
        "swaps_unhedged_funding",
        "swaps_open_size",
    )

    def __init__(
        self,
        replay: Any,
        spec: FundingSwapsSpec,
        rng: np.random.Generator,
        caps: FundingCapsSpec | None = None,
        caps_rng: np.random.Generator | None = None,
    ):
        self.r = replay
        self.spec = spec
        symbols = list(replay.scenario.symbols)
        symbol = spec.market or symbols[0]
        if symbol not in symbols:
            raise ValueError(f"funding_swaps market {symbol!r} is not a market of the scenario ({', '.join(symbols)})")
        self.symbol = symbol
        self.m = symbols.index(symbol)
        self.basis = replay.basis
        n = self.basis.n
        self.n = n
        k = int(round(n * spec.hedged_share))
        self.hedged = np.zeros(n, dtype=bool)
        if k:
            self.hedged[rng.choice(n, k, replace=False)] = True
        self.desk = SwapDesk(replay, self.m, spec.params(), self._on_swap_event)
        # the floors of [population.funding_caps]: a third group drawn from the traders not hedged
        self.caps: FloorProtection | None = None
        self.groups: tuple[str, ...] = GROUPS
        self.columns: tuple[str, ...] = self.COLUMNS
        if caps is not None:
            assert caps_rng is not None
            self.caps = FloorProtection(self, caps, caps_rng, trade=spec.hedge)
            self.groups = ("hedged", "floored", "unhedged")
            self.columns = self.COLUMNS + CAPS_COLUMNS
        z = [0] * n
        self.swap_size = list(z)  # live swap size per trader (1e18, signed)
        self.perp_funding_paid = list(z)  # wei, FundingSettled amounts (negative = received)
        self.floating = list(z)
        self.fixed = list(z)
        self.unwind = list(z)
        self.swap_liquidations = list(z)  # FundingSwaps.liquidate of the trader's swap
        self.spot_cash = list(z)  # wei USD
        self.spot_coins = list(z)
        self.liquidations = list(z)
        self.liquidated_notional = [0.0] * n
        self.entered = [False] * n
        self.cut = [False] * n  # ever liquidated (or deleveraged) on the perp
        self.swap_tokens = [0] * n
        self.segments: list[Segment] = []
        self.live: dict[int, Segment] = {}
        self.matured = False
        self.stats = {
            "swap_opens": 0,
            "swap_open_failed": 0,
            "swap_closes": 0,
            "swap_close_failed": 0,
            "swap_resizes": 0,
            "matured_settled": 0,
            "periodic_settles": 0,
            "swap_liquidations": 0,
            "swap_top_ups": 0,
            "hedged_entries_unhedged": 0,  # entries of hedged traders with no live book
        }
        self.quotes: list[float] = []
        self._row: dict[str, Any] = {}
        self.pool_pnls: list[int] = []

    # ------------------------------------------------------------------ setup
    def setup(self) -> None:
        r = self.r
        p = r.p
        desk = self.desk
        self.j_of = {a.lower(): j for j, a in enumerate(self.basis.accounts)}
        r.tx.listen(r.engine, "FundingSettled", self._on_funding)
        for topic, spec in r.engine.contract_type.events.items():
            if spec.name == "Liquidated":
                decode, handler = r.tx.listeners[topic]

                def both(a: dict[str, Any], handler: Any = handler) -> None:
                    handler(a)
                    self._on_liquidated(a)

                r.tx.listeners[topic] = (decode, both)
        basis = self.basis
        basis.hooks = self
        if not self.spec.hedge:  # the counterfactual: the same groups, no swap contract, no swap transaction
            return
        contract = desk.deploy()
        r.book.overlay = self._overlay  # the engine counts the swaps in the holders' health
        others = [p.pool, p.lens, p.token, p.configurator, *p.oracles, contract]
        if self.caps is not None:
            self.caps.setup()
            others.append(self.caps.desk.contract)
        # FundingSwaps / FundingCaps share no event signature with the engine today; keep the
        # address test for any they might share
        r.tx.only_engine_emits(set(p.engine.contract_type.events), others)
        for j in range(self.n):
            if not self.hedged[j]:
                continue
            tokens = _usd_tokens(float(basis.capital[j]) * basis._leverage[j] * self.spec.swap_margin_ratio, r.decimals)
            self.swap_tokens[j] = tokens
            if tokens:
                r.tx.send("setup_mint", p.admin, r.wire.token_addr, r.token.mint.calldata(basis.accounts[j], tokens))

    def _overlay(self) -> dict[int, tuple[int, int]]:
        """{book index: (swap value, swap maintenance)} of every live swap holder now."""
        book = self.r.book
        return {book.index_of[a]: self.desk.account_margin(a) for a in self.desk.mirror}

    # ------------------------------------------------------------------ events
    def _j(self, account: str) -> int | None:
        return self.j_of.get(str(account).lower())

    def _on_funding(self, a: dict[str, Any]) -> None:
        j = self._j(a["account"])
        if j is None or int(a["market"]) != self.m:
            return
        amount = int(a["amount"]) + int(a["to_insurance"])
        self.perp_funding_paid[j] += amount
        seg = self.live.get(j)
        if seg is not None:
            seg.perp_funding_paid += amount
            seg.perp_settlements += 1

    def _on_liquidated(self, a: dict[str, Any]) -> None:
        j = self._j(a["account"])
        if j is None or int(a["market"]) != self.m:
            return
        self.liquidations[j] += 1
        self.liquidated_notional[j] += int(a["notional"]) / WAD
        self.cut[j] = True

    def _on_swap_event(self, name: str, a: dict[str, Any]) -> None:
        if "account" not in a:
            return
        j = self._j(a["account"])
        if j is None:
            return
        seg = self.live.get(j)
        if name == "SwapOpened" and seg is not None:
            seg.size += int(a["size"])
            seg.fixed_flow += int(a["fixed_flow"])
            seg.fixed_rate = int(a["fixed_rate"])
            seg.index_price = int(a["index_price"])
        elif name == "SwapSettled":
            floating, fixed = int(a["floating"]), int(a["fixed"])
            self.floating[j] += floating
            self.fixed[j] += fixed
            if seg is not None:
                assert seg.settlements is not None
                seg.settlements.append((int(self.r.chain.time), floating, fixed))
        elif name == "SwapClosed":
            self.unwind[j] += int(a["unwind"])
            if seg is not None:
                seg.unwind += int(a["unwind"])

    # ------------------------------------------------------------------ hooks (BasisTraders)
    def on_open(self, j: int, perp_size: int, step: int) -> None:
        self.entered[j] = True
        if self.caps is not None:
            self.caps.on_open(j, perp_size)
        if not self.hedged[j] or not self.spec.hedge:
            return
        if not self.desk.live():
            self.stats["hedged_entries_unhedged"] += 1
            return
        self._open(j, perp_size, step)

    def on_exit(self, j: int, step: int) -> None:
        if self.caps is not None:
            self.caps.on_exit(j)
        if self.swap_size[j]:
            self._close(j, step, "exit")

    def on_perp_reduced(self, j: int, remaining_short: int, step: int) -> None:
        self.cut[j] = True
        if not self.swap_size[j]:
            return
        if self._close(j, step, "cut" if remaining_short <= 0 else "resize") and remaining_short > 0:
            self.stats["swap_resizes"] += 1
            self._open(j, -remaining_short, step)

    def on_spot(self, j: int, coins: int, usd_wad: int) -> None:
        self.spot_coins[j] += coins
        self.spot_cash[j] -= usd_wad

    def locked(self, j: int) -> bool:
        return self.swap_size[j] != 0 and self.desk.live()

    def extra_pnl(self, j: int) -> float:
        seg = self.live.get(j)
        if seg is None:
            return 0.0
        account = self.basis.accounts[j]
        # the settled legs are in the engine margin (the book's equity); add what is pending
        pending = self.desk.pending_at(account, self.r.markets[self.m].cumulative, int(self.r.chain.time))
        return float(pending - self.r.book.overlay_values.get(self.basis.idx[j], 0))

    def _open(self, j: int, size: int, step: int) -> bool:
        account = self.basis.accounts[j]
        tokens = self.swap_tokens[j]
        if tokens and account not in self.desk.top_ups:  # the swap's collateral: a top-up of the engine margin, once
            if not self.desk.top_up(account, tokens):
                self.stats["swap_open_failed"] += 1
                return False
            self.stats["swap_top_ups"] += 1
            self.basis.entry_margin[j] += tokens * self.r.precision  # not a gain of the basis trade
        seg = Segment(j, step, int(self.r.chain.time), settlements=[])
        self.live[j] = seg
        if not self.desk.open_hedge(account, size):
            del self.live[j]
            self.stats["swap_open_failed"] += 1
            return False
        self.swap_size[j] = size
        self.stats["swap_opens"] += 1
        return True

    def _close(self, j: int, step: int, why: str) -> bool:
        matured = not self.desk.live()
        if not self.desk.close(self.basis.accounts[j]):
            self.stats["swap_close_failed"] += 1
            return False
        self.stats["swap_closes"] += 1
        self._end(j, step, "matured" if matured else why)
        return True

    def _end(self, j: int, step: int, why: str) -> None:
        self.swap_size[j] = 0
        seg = self.live.pop(j, None)
        if seg is not None:
            seg.end_step, seg.end = step, why
            self.segments.append(seg)

    # ------------------------------------------------------------------ the step
    def act(self, step: int) -> None:
        """After the keepers, before the basis traders act: measure the groups (the book is
        fresh: read at the step's start, the keepers' accounts re-read), then observe
        funding, list / requote, and settle as the keeper."""
        r = self.r
        desk = self.desk
        self._row = self.measure()
        if not self.spec.hedge:
            return
        if step == 0:
            desk.list(int(r.timestamps[0] + round(self.spec.maturity_hours * 3600)))
        elif self.live:  # the keepers' step for swap holders (the engine's liquidate_many skips them)
            # screened with the book's last evaluation (exact for swap holders: their swap value
            # and maintenance overlaid), confirmed by the contract's liquidatable view
            below = r.book.overlay_below
            holders = [self.basis.accounts[j] for j in sorted(self.live) if self.basis.idx[j] in below]
            done = desk.liquidate_due(holders, r.keepers.accounts[0]) if r.keepers.accounts else []
            for account in done:
                j = self.j_of[account.lower()]
                self.swap_liquidations[j] += 1
                self.stats["swap_liquidations"] += 1
                self._end(j, step, "liquidated")
            if done:
                r.sync()
        if not self.matured and desk.maturity and r.chain.time >= desk.maturity:
            self.matured = True
            for j in sorted(self.live):
                pending = self.perp_pending_paid(j)
                if desk.settle(self.basis.accounts[j]):
                    self.stats["matured_settled"] += 1
                    self.live[j].perp_pending_end = pending
                    self._end(j, step, "matured")
        elif self.spec.settle_every_steps and step and step % self.spec.settle_every_steps == 0 and desk.live():
            for j in sorted(self.live):
                if desk.settle(self.basis.accounts[j]):
                    self.stats["periodic_settles"] += 1
        self.quotes.append(desk.mark_rate() / WAD if desk.maturity else 0.0)
        if self.caps is not None:
            self.caps.act(step)

    def after_agents(self, step: int) -> None:
        """After every agent: the last step settles every live swap (exact zero-sum)."""
        if self.spec.hedge and step == self.r.n_steps - 1:
            for j in sorted(self.live):
                self.desk.settle(self.basis.accounts[j])
        if self.caps is not None:
            self.caps.after_agents(step)

    # ------------------------------------------------------------------ measures
    def _deposits(self, j: int) -> int:
        """What trader j put in its engine margin (1e18 USD): the basis deposit and the swap top-up."""
        basis = self.basis
        account = basis.accounts[j]
        tokens = (basis.tokens[j] if basis.deposited[j] else 0) + self.desk.top_ups.get(account, 0)
        return tokens * self.r.precision

    def _moved(self, j: int) -> int:
        """What the swap settlements moved into trader j's engine margin (1e18 USD)."""
        return self.desk.moved.get(self.basis.accounts[j], 0)

    def _trader_pnl(self, j: int, index: int) -> tuple[int, int, int]:
        """(perp, spot, swap) P&L of trader j now (1e18 USD; one engine account: perp =
        equity - deposits - what the swap moved into the margin, swap = that + pending)."""
        basis = self.basis
        r = self.r
        idx = basis.idx[j]
        moved = self._moved(j)
        # the book's equity counts the swap's value (accrual, early-close loss) for holders
        perp = int(r.book.equity_of(idx)) - r.book.overlay_values.get(idx, 0) - self._deposits(j) - moved
        spot = self.spot_cash[j] + self.spot_coins[j] * index // WAD
        swap = moved
        if self.swap_size[j]:
            swap += self.desk.pending_at(basis.accounts[j], r.markets[self.m].cumulative, int(r.chain.time))
        return perp, spot, swap

    def perp_pending_paid(self, j: int) -> int:
        """The funding trader j's open perp owes now and has not settled (wei, negative =
        to receive), as the engine rounds it (up; no size tier for these sizes)."""
        r = self.r
        idx = self.basis.idx[j]
        size = r.book.size[self.m][idx]
        if not size:
            return 0
        return ceil_div(size * (r.markets[self.m].cumulative - r.book.findex[self.m][idx]), WAD)

    def _perp_realized(self, j: int) -> int:
        """Trader j's engine margin minus its deposit (1e18 USD): realized PnL, settled
        funding and fees, without the open position's unrealized PnL."""
        return int(self.r.book.margin[self.basis.idx[j]]) - self._deposits(j) - self._moved(j)

    def _members(self, group: str) -> list[int]:
        if group == "hedged":
            return [j for j in range(self.n) if self.hedged[j]]
        floored = self.caps.floored if self.caps is not None else np.zeros(self.n, dtype=bool)
        if group == "floored":
            return [j for j in range(self.n) if floored[j]]
        return [j for j in range(self.n) if not self.hedged[j] and not floored[j]]

    def _floor_pnl(self, j: int) -> int:
        return self.caps.floor_pnl(j) if self.caps is not None else 0

    def annotate(self, row: dict[str, Any]) -> None:
        """This step's ``swaps_*`` columns (USD; the quote per 8 h as a fraction): the state
        measured after the keepers and before the agents (:meth:`measure`), and the quote
        the step's agents traded at."""
        row.update(self._row)
        row["swaps_quote"] = self.quotes[-1] if self.quotes else 0.0

    def measure(self) -> dict[str, Any]:
        """The groups' and the pool's figures now (see :data:`COLUMNS`)."""
        index = self.r.markets[self.m].index
        open_set = self.basis.open_set
        pool = self.desk.pool_pnl() if self.spec.hedge else 0
        self.pool_pnls.append(pool)
        row: dict[str, Any] = {"swaps_pool_pnl": pool / WAD}
        for group in self.groups:
            js = self._members(group)
            pnl = funding = 0
            for j in js:
                perp, spot, swap = self._trader_pnl(j, index)
                floor = self._floor_pnl(j)
                pnl += perp + spot + swap + floor
                funding += swap + floor - self.perp_funding_paid[j] - self.perp_pending_paid(j)
            row[f"swaps_{group}_pnl"] = pnl / WAD
            row[f"swaps_{group}_open"] = sum(1 for j in js if j in open_set)
            row[f"swaps_{group}_survivors"] = sum(1 for j in js if self.entered[j] and not self.cut[j])
            row[f"swaps_{group}_funding"] = funding / WAD  # perp funding (settled + owed) + the swap's legs and pending
        row["swaps_open_size"] = -sum(self.swap_size) / WAD
        if self.caps is not None:
            row["swaps_vault_pnl"] = (self.caps.vault_pnls[-1] if self.caps.vault_pnls else 0) / WAD
        return row

    def hedge_residuals(self) -> list[int]:
        """Per closed hedge episode that began on a perp open and ended on a perp touch
        (exit, cut, resize) or at the maturity settle: swap floating received - perp
        funding paid (settled, plus at the maturity what the perp owes unsettled then;
        wei; 0 or a few wei negative: the rounding, in the protocol's favour)."""
        return [
            s.floating - s.perp_funding_paid - s.perp_pending_end
            for s in self.segments
            if s.end in ("exit", "cut", "resize", "matured")
        ]

    def report(self) -> dict[str, Any]:
        """The report's ``funding_swaps`` section (USD; rates per 8 h as fractions)."""
        r = self.r
        desk = self.desk
        index = r.markets[self.m].index
        groups: dict[str, Any] = {}
        for group in self.groups:
            js = self._members(group)
            entered = [j for j in js if self.entered[j]]
            cut = [j for j in entered if self.cut[j]]
            pnl = [self._trader_pnl(j, index) for j in js]
            perp, spot, swap = (sum(p[k] for p in pnl) / WAD for k in range(3))
            perp_realized = sum(self._perp_realized(j) for j in js) / WAD
            perp_received = -sum(self.perp_funding_paid[j] + self.perp_pending_paid(j) for j in js) / WAD
            floating = sum(self.floating[j] for j in js) / WAD
            fixed = sum(self.fixed[j] for j in js) / WAD
            unwind = sum(self.unwind[j] for j in js) / WAD
            floor = sum(self._floor_pnl(j) for j in js) / WAD
            premiums, payoffs = self.caps.floor_flows(js) if self.caps is not None else (0, 0)
            groups[group] = {
                "traders": len(js),
                "entered": len(entered),
                "liquidated_traders": len(cut),
                "liquidations": sum(self.liquidations[j] for j in js),
                "liquidated_notional_usd": sum(self.liquidated_notional[j] for j in js),
                "survival_rate": (len(entered) - len(cut)) / len(entered) if entered else None,
                "open_at_end": sum(1 for j in js if j in self.basis.open_set),
                "capital_usd": sum(float(self.basis.capital[j]) for j in js),
                "swap_top_up_usd": sum(self.desk.top_ups.get(self.basis.accounts[j], 0) for j in js) / 10**r.decimals,
                "swap_liquidations": sum(self.swap_liquidations[j] for j in js),
                "pnl_usd": {
                    "perp": perp,
                    "spot": spot,
                    "swap": swap,
                    "total": perp + spot + swap,
                    "perp_realized": perp_realized,
                    "realized_perp_and_swap": perp_realized + swap,
                },
                "funding_usd": {
                    "perp_received": perp_received,
                    "swap_floating_received": floating,
                    "swap_fixed_paid": fixed,
                    "swap_unwind_received": unwind,
                    "net": perp_received + floating - fixed + unwind,
                },
            }
            if self.caps is not None:  # the floors: their P&L (payoffs claimed + claimable - premiums)
                g = groups[group]
                g["floored_traders"] = len(self.caps.products_of.keys() & set(js))
                g["pnl_usd"]["floor"] = floor
                g["pnl_usd"]["total"] += floor
                g["pnl_usd"]["realized_perp_and_swap"] += floor
                g["funding_usd"]["floor_premium_paid"] = premiums / WAD
                g["funding_usd"]["floor_payoff_received"] = payoffs / WAD
                g["funding_usd"]["net"] += floor
        out: dict[str, Any] = {"market": self.symbol, "spec": dict(self.spec.__dict__), "groups": groups}
        if self.caps is not None:
            out["caps"] = self.caps.report()
        if not self.spec.hedge:
            return out
        holders = [self.basis.accounts[j] for j in range(self.n) if self.swap_tokens[j]]
        holders_moved = sum(desk.moved.get(a, 0) for a in holders)
        pending = sum(desk.pending(a) for a in holders)
        pool_now = desk.pool_pnl()
        residuals = self.hedge_residuals()
        keepers = desk.moved_total - holders_moved  # the liquidating keepers' rewards
        out |= {
            "pool": {
                "pnl_end_usd": pool_now / WAD,
                "pnl_min_usd": min(self.pool_pnls) / WAD if self.pool_pnls else 0.0,
                "pnl_max_usd": max(self.pool_pnls) / WAD if self.pool_pnls else 0.0,
                "unrealized_end_usd": desk.pool_unrealized() / WAD,
                "keeper_rewards_usd": keepers / WAD,
            },
            "zero_sum": {
                # the LP pool's swap P&L + the holders' (moved into their engine margins + pending)
                # + the keepers' rewards, wei: 0 after the last step's settle of every swap
                "residual_wei": pool_now + holders_moved + pending + keepers,
            },
            "book": {
                "maturity": desk.maturity,
                "maturity_step": next((k for k, t in enumerate(r.timestamps) if t >= desk.maturity), None),
                "quote_start": self.quotes[0] if self.quotes else None,
                "quote_min": min(self.quotes) if self.quotes else None,
                "quote_max": max(self.quotes) if self.quotes else None,
                "quote_end": self.quotes[-1] if self.quotes else None,
                "live_swaps_end": sum(1 for s in self.swap_size if s),
            },
            "hedge_episodes": {
                "count": len(self.segments) + len(self.live),
                "by_end": {
                    e: sum(1 for s in self.segments if s.end == e) for e in sorted({s.end for s in self.segments})
                },
                "tied_out": len(residuals),
                "residual_wei_min": min(residuals) if residuals else 0,
                "residual_wei_max": max(residuals) if residuals else 0,
            },
            "stats": dict(self.stats),
            "notes": (
                "pnl: perp = engine equity - deposit (perp_realized: engine margin - deposit); realized_perp_and_swap "
                "= perp_realized + swap (every swap is settled at the last step); spot = the spot leg at the index (cash + coins); swap = swap "
                "margin change (floating - fixed + unwind) + pending. funding: perp_received = -sum(FundingSettled "
                "amount + surcharge) + what the open perps owe unsettled, the swap legs as settled. survival_rate = entered traders never "
                "liquidated (nor deleveraged) / entered. hedge episodes tied out: swap floating - perp funding paid "
                "over an episode opened and closed on a perp touch, wei (0 or -1 per settlement: the rounding)"
            ),
        }
        return out


__all__ = ["FundingSwapHedging", "FundingSwapsSpec", "Segment"]
