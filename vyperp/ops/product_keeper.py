"""The funding products' part of the keeper (issue 14): swap liquidations, matured swap
settlement, cap fixings, TWAP observations and (optionally) claims.

:class:`vyperp.ops.keeper.Keeper` runs it in every poll, before the perp liquidations,
over the same block range as its engine events:

1. **Follow events.** FundingSwaps' ``SwapOpened`` / ``SwapClosed`` / ``SwapLiquidated``
   name the accounts whose swaps changed; each such account's book is re-read with
   ``FundingSwaps.held`` (the chain's truth: ``market * 2**64 + maturity`` keys), so
   the keeper holds ``{account: [(market, maturity), ...]}`` exactly. FundingCaps'
   ``Bought`` names the buyers (for claims).
2. **Liquidate swap holders.** The holders are screened in batches with
   ``EngineLens.liquidatable_accounts`` (the engine's health with the swaps; the lens
   counts swap-only accounts) and each one below maintenance goes to
   ``FundingSwaps.liquidate(account)``, which closes its swaps at the mark and, on a
   shortfall, its perps in the same transaction. The engine's own ``liquidate`` refuses
   swap holders, so the perp pass that follows skips them.
3. **Settle matured swaps.** Every held swap whose maturity has passed is settled with
   ``FundingSwaps.settle`` (its first touch at or after the maturity takes the book's
   snapshot: a keeper polling every few seconds takes it within a block or two of the
   maturity; the legs stop there whoever settles later). A settle that would leave a
   negative margin beside other holdings reverts "Negative margin": that account is for
   the liquidation of step 2 in the next poll.
4. **Fix caps.** Every product not fully fixed whose next boundary has passed
   (``start + fixings * period <= now``) gets ``FundingCaps.fix``, one call per
   boundary, in order, until it is up to date. A late fix moves funding between
   caplets, so the keeper fixes in its first poll after a boundary; a keeper that was
   down catches up boundary by boundary.
5. **Observe.** For every market with a live product, ``FundingCaps.observe`` when the
   newer TWAP observation is at least ``TWAP_WINDOW`` old (otherwise it would record
   nothing), so purchases always have a fresh forward.
6. **Claim** (``claim=True``): ``FundingCaps.claim`` for every buyer with a
   ``pending`` payout (anyone may claim; the tokens go to the buyer).

Failures of one transaction are logged and counted, and the rest of the pass goes on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from ..chain.errors import ChainError, Reverted
from .keeper import LENS_MAX_BATCH, EventSource, RpcEventSource

log = logging.getLogger("vyperp.keeper.products")

SWAP_EVENTS = ("SwapOpened", "SwapClosed", "SwapLiquidated")
CAP_EVENTS = ("Bought",)
MATURITY_BITS = 2**64  # FundingSwaps: held key = market * 2**64 + maturity
ZERO = "0x" + "00" * 20


@dataclass
class ProductPoll:
    """What one products pass did."""

    swap_holders: int = 0
    swap_liquidated: int = 0
    swaps_settled: int = 0
    caps_fixed: int = 0
    observed: int = 0
    claimed: int = 0
    errors: int = 0


class ProductKeeper:
    """Keep FundingSwaps and FundingCaps running (see the module docstring).

    Args:
        chain: the keeper's chain (sends from `sender`).
        lens: the deployment's EngineLens contract (screens the swap holders).
        sender: the keeper account (earns the swap liquidation rewards).
        swaps_address / caps_address: the contracts (None: that part is off).
        swaps_source / caps_source: :class:`EventSource` for each (default: eth_getLogs).
        settle / fix / observe / claim: which actions run.
    """

    def __init__(
        self,
        chain: Any,
        lens: Any,
        sender: str,
        swaps_address: str | None = None,
        caps_address: str | None = None,
        *,
        swaps_source: EventSource | None = None,
        caps_source: EventSource | None = None,
        log_range: int = 5_000,
        settle: bool = True,
        fix: bool = True,
        observe: bool = True,
        claim: bool = False,
    ):
        self.chain = chain
        self.lens = lens
        self.sender = sender
        self.swaps = chain.at("FundingSwaps", swaps_address) if swaps_address else None
        self.caps = chain.at("FundingCaps", caps_address) if caps_address else None
        self.swaps_source = swaps_source if self.swaps is not None else None
        self.caps_source = caps_source if self.caps is not None else None
        if self.swaps is not None and swaps_source is None:
            self.swaps_source = RpcEventSource(chain, self.swaps, log_range, SWAP_EVENTS)
        if self.caps is not None and caps_source is None:
            self.caps_source = RpcEventSource(chain, self.caps, log_range, CAP_EVENTS)
        self.do_settle, self.do_fix, self.do_observe, self.do_claim = settle, fix, observe, claim
        self.holders: dict[str, list[tuple[int, int]]] = {}
        self.buyers: dict[int, set[str]] = {}
        self.fully_fixed: set[int] = set()
        self._due: list[int] = []
        self.twap_window = int(self.caps.TWAP_WINDOW()) if self.caps is not None else 0

    @property
    def enabled(self) -> bool:
        return self.swaps is not None or self.caps is not None

    # ------------------------------------------------------------------ state
    def state(self) -> dict[str, Any]:
        return {
            "swaps": self.swaps.address if self.swaps is not None else None,
            "caps": self.caps.address if self.caps is not None else None,
            "holders": {a: [[m, t] for m, t in held] for a, held in sorted(self.holders.items())},
            "buyers": {str(p): sorted(a) for p, a in sorted(self.buyers.items())},
            "fully_fixed": sorted(self.fully_fixed),
        }

    def load(self, state: dict[str, Any]) -> None:
        """Resume from :meth:`state` (ignored if it was recorded for other contracts)."""
        mine = self.state()
        if (state.get("swaps"), state.get("caps")) != (mine["swaps"], mine["caps"]):
            log.warning(
                "the state's products (%s, %s) are not these: re-reading from events",
                state.get("swaps"),
                state.get("caps"),
            )
            raise ValueError("products changed")
        self.holders = {a: [(int(m), int(t)) for m, t in held] for a, held in state.get("holders", {}).items()}
        self.buyers = {int(p): set(a) for p, a in state.get("buyers", {}).items()}
        self.fully_fixed = {int(p) for p in state.get("fully_fixed", [])}

    def reset(self) -> None:
        self.holders, self.buyers, self.fully_fixed = {}, {}, set()

    # ------------------------------------------------------------------ events
    def _held(self, account: str) -> list[tuple[int, int]]:
        assert self.swaps is not None
        return [(int(k) // MATURITY_BITS, int(k) % MATURITY_BITS) for k in self.swaps.held(account)]

    def refresh(self, account: str) -> None:
        """Re-read `account`'s swaps from the chain."""
        held = self._held(account)
        if held:
            self.holders[account] = held
        else:
            self.holders.pop(account, None)

    def sync(self, lo: int, hi: int) -> int:
        """Apply the products' events in [lo, hi]; returns how many were read."""
        count = 0
        if self.swaps_source is not None and hi >= lo:
            touched: set[str] = set()
            for event in self.swaps_source.events(lo, hi):
                touched.add(str(event.args["account"]))
            count += len(touched)
            for account in sorted(touched):
                self.refresh(account)
        if self.caps_source is not None and hi >= lo:
            for event in self.caps_source.events(lo, hi):
                self.buyers.setdefault(int(event.args["product"]), set()).add(str(event.args["account"]))
                count += 1
        return count

    # ------------------------------------------------------------------ actions
    def _send(self, what: str, call: Any) -> bool:
        try:
            call()
        except (Reverted, ChainError) as e:
            log.error("%s failed: %s", what, e)
            return False
        log.info("%s (gas %s)", what, getattr(self.chain.last_receipt, "gas_used", "?"))
        return True

    def liquidatable_holders(self) -> list[str]:
        """The swap holders below maintenance (the lens's screen, batched)."""
        accounts = sorted(self.holders)
        found = []
        for k in range(0, len(accounts), LENS_MAX_BATCH):
            chunk = accounts[k : k + LENS_MAX_BATCH]
            found.extend(chunk[int(c.index)] for c in self.lens.liquidatable_accounts(chunk))
        return found

    def liquidate(self, poll: ProductPoll) -> None:
        assert self.swaps is not None
        for account in self.liquidatable_holders():
            if self._send(
                f"FundingSwaps.liquidate({account})", lambda: self.swaps.liquidate(account, sender=self.sender)
            ):
                poll.swap_liquidated += 1
            else:
                poll.errors += 1
            self.refresh(account)

    def settle_matured(self, poll: ProductPoll, now: int) -> None:
        assert self.swaps is not None
        for account in sorted(self.holders):
            for market, maturity in list(self.holders.get(account, [])):
                if maturity > now:
                    continue
                call = lambda: self.swaps.settle(account, market, maturity, sender=self.sender)  # noqa: E731
                if self._send(f"FundingSwaps.settle({account}, market {market}, maturity {maturity})", call):
                    poll.swaps_settled += 1
                else:
                    poll.errors += 1
            self.refresh(account)

    def fix_caps(self, poll: ProductPoll, now: int) -> set[int]:
        """Fix every due boundary; returns the markets with a live product."""
        assert self.caps is not None
        live: set[int] = set()
        for product in range(int(self.caps.product_count())):
            if product in self.fully_fixed:
                continue
            p = self.caps.products(product)
            fixings = int(p.fixings)
            while self.do_fix and fixings <= int(p.periods) and now >= int(p.start) + fixings * int(p.period):
                if not self._send(
                    f"FundingCaps.fix({product}) boundary {fixings}",
                    lambda: self.caps.fix(product, sender=self.sender),
                ):
                    poll.errors += 1
                    break
                poll.caps_fixed += 1
                fixings += 1
            if fixings > int(p.periods):
                self.fully_fixed.add(product)
            else:
                live.add(int(p.market))
                self._due.append(int(p.start) + fixings * int(p.period))
        return live

    def observe_caps(self, poll: ProductPoll, markets: set[int], now: int) -> None:
        assert self.caps is not None
        for market in sorted(markets):
            newer = self.caps.observation_new(market)
            if int(newer.time) and now < int(newer.time) + self.twap_window:
                continue
            if self._send(f"FundingCaps.observe({market})", lambda: self.caps.observe(market, sender=self.sender)):
                poll.observed += 1
            else:
                poll.errors += 1

    def claim_caps(self, poll: ProductPoll) -> None:
        assert self.caps is not None
        for product, accounts in sorted(self.buyers.items()):
            for account in sorted(accounts):
                if int(self.caps.pending(account, product)) == 0:
                    continue
                if self._send(
                    f"FundingCaps.claim({account}, {product})",
                    lambda: self.caps.claim(account, product, sender=self.sender),
                ):
                    poll.claimed += 1
                else:
                    poll.errors += 1

    def poll(self) -> ProductPoll:
        """One pass of every enabled action (after :meth:`sync`)."""
        poll = ProductPoll()
        now = int(self.chain.time)
        self._due = []
        if self.swaps is not None:
            self.liquidate(poll)
            if self.do_settle:
                self.settle_matured(poll, now)
                self._due += [t for held in self.holders.values() for _, t in held if t > now]
            poll.swap_holders = len(self.holders)
        if self.caps is not None:
            live = self.fix_caps(poll, now)
            if self.do_observe:
                self.observe_caps(poll, live, now)
            if self.do_claim:
                self.claim_caps(poll)
        return poll

    @property
    def next_due(self) -> int | None:
        """The earliest time (chain seconds) the last pass saw coming: a cap boundary to
        fix or a held swap's maturity to settle (None: nothing scheduled). The keeper's
        loop wakes for it instead of waiting out its full interval."""
        return min(self._due) if self._due else None


__all__ = ["CAP_EVENTS", "ProductKeeper", "ProductPoll", "SWAP_EVENTS"]
