"""A liquidation keeper a protocol operator can run against a node.

    from vyperp.chain.keys import load_keystore
    from vyperp.chain.signing_chain import SigningChain
    from vyperp.ops.keeper import Keeper, default_state_path

    chain = SigningChain(url, [load_keystore("keeper.json", password)])   # or RpcChain(url) on anvil
    keeper = Keeper(chain, engine_address, lens_address, start_block=deploy_block,
                    state_path=default_state_path(chain.chain_id, engine_address), batch_size=32)
    keeper.run(poll_interval=2.0)          # or keeper.poll_once() from your own loop

Each poll:

1. **Follow events.** The engine's ``PositionModified`` (``new_size``), ``Liquidated``
   (``remaining_size``) and ``AutoDeleveraged`` (the position is closed) logs from the
   block after the cursor up to the head (minus ``confirmations``) are read in block
   ranges (``eth_getLogs`` through an :class:`EventSource`) and applied to the book of
   open positions ``{account: {market: size}}``.
2. **Screen.** The accounts holding a position are checked in batches of up to 256
   with ``EngineLens.liquidatable_accounts`` (equity < maintenance margin, exactly the
   engine's test); their margin ratios (equity / maintenance, from
   ``EngineLens.accounts_health``) are logged at debug level.
3. **Liquidate.** Liquidatable accounts, largest maintenance requirement first, go to
   ``Engine.liquidate_many`` in batches of at most ``batch_size`` (<= 64, the engine's
   MAX_BATCH); a step closes a tier's fraction, so screening and liquidating repeat (up
   to ``max_rounds``) until nothing liquidatable is left or nothing moved (cool-down,
   rate limit).
4. **Auto-deleverage.** While ``Engine.pool_value() < 0``, for each market the
   profitable positions are ranked by unrealized PnL at the mark / account equity,
   descending (the contract verifies that order) and sent to ``auto_deleverage``; if the
   ranking goes stale inside the call (closing a position moves the skew, hence the
   mark) it retries with the first candidate alone.
5. **Funding products** (issue 14; when the engine has a FundingSwaps bound, or a
   FundingCaps address is given): before step 2, swap holders below maintenance are
   liquidated through ``FundingSwaps.liquidate`` (the engine's liquidate refuses them,
   so step 3 skips them), matured swaps are settled, every due cap boundary is fixed
   (``FundingCaps.fix``, in the first poll after it) and the TWAP observed; claims for
   buyers optionally. See :mod:`vyperp.ops.product_keeper`.
6. **Persist.** The cursor (last processed block), the book and counters are written
   atomically to the JSON ``state_path``. A keeper started with an existing state file
   resumes from its cursor (``start_block`` is then ignored); the file is bound to the
   chain id and the engine address.

If the node's head is below the cursor (the node was restarted without its state, or
a deep reorg), the keeper logs a warning and re-scans from ``start_block`` with an empty
book. Transactions are sent through the chain object: a
:class:`~vyperp.chain.signing_chain.SigningChain` signs them with the keeper's key (any
node), ``RpcChain`` sends from any address by anvil impersonation (anvil only).
``vyperp keeper`` keeps the state in ``.vyperp/keeper/<chain id>-<engine>.json`` unless
told otherwise (:func:`default_state_path`).
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from .. import model
from ..chain.errors import ChainError, Reverted
from ..protocol.units import WAD

log = logging.getLogger("vyperp.keeper")

ENGINE_MAX_BATCH = 64  # Engine.MAX_BATCH (liquidate_many, auto_deleverage)
LENS_MAX_BATCH = 256  # EngineLens.MAX_BATCH (accounts_health, liquidatable_accounts)
TRACKED_EVENTS = ("PositionModified", "Liquidated", "AutoDeleveraged")
STATE_VERSION = 1
DEFAULT_STATE_DIR = Path(".vyperp") / "keeper"
"""Where ``vyperp keeper`` keeps its state by default (relative to the working directory;
git-ignored): ``.vyperp/keeper/<chain id>-<engine address>.json``."""


def default_state_path(chain_id: int, engine: str) -> Path:
    """``.vyperp/keeper/<chain id>-<engine address, lower case>.json``."""
    return DEFAULT_STATE_DIR / f"{int(chain_id)}-{engine.lower()}.json"


# ============================================================================ events
@dataclass(frozen=True)
class EngineEvent:
    """A decoded engine log with its position in the chain."""

    block: int
    log_index: int
    name: str
    args: dict[str, Any]


class EventSource(Protocol):
    """Where the keeper reads engine events from."""

    def head(self) -> int:
        """The newest block number."""

    def events(self, from_block: int, to_block: int) -> list[EngineEvent]:
        """The tracked engine events in ``[from_block, to_block]``, in chain order."""


class RpcEventSource:
    """:class:`EventSource` over JSON-RPC ``eth_getLogs`` (an :class:`~vyperp.chain.rpc_chain.RpcChain`).

    Ranges longer than ``max_range`` blocks are split; a range the node refuses (too
    many results) is halved and retried. `engine` is the contract whose logs are read
    (the engine by default; FundingSwaps / FundingCaps for the products' keeper) and
    `names` the events tracked.
    """

    def __init__(self, chain: Any, engine: Any, max_range: int = 5_000, names: tuple[str, ...] = TRACKED_EVENTS):
        self.chain = chain
        self.engine = engine
        self.max_range = max(1, int(max_range))
        specs = engine.contract_type.events_by_name
        self._specs = {specs[name].topic0: specs[name] for name in names}
        self._topics = ["0x" + t.hex() for t in self._specs]

    def head(self) -> int:
        return int(self.chain.block_number)

    def _get_logs(self, lo: int, hi: int) -> list[dict[str, Any]]:
        return self.chain.rpc(
            "eth_getLogs",
            {"address": self.engine.address, "fromBlock": hex(lo), "toBlock": hex(hi), "topics": [self._topics]},
        )

    def events(self, from_block: int, to_block: int) -> list[EngineEvent]:
        out: list[EngineEvent] = []
        lo = from_block
        step = self.max_range
        while lo <= to_block:
            hi = min(to_block, lo + step - 1)
            try:
                raw = self._get_logs(lo, hi)
            except ChainError as e:
                if hi > lo:
                    step = max(1, (hi - lo + 1) // 2)
                    log.debug("eth_getLogs %d..%d refused (%s); range -> %d blocks", lo, hi, e, step)
                    continue
                raise
            for item in raw:
                topics = [bytes.fromhex(t[2:]) for t in item["topics"]]
                spec = self._specs.get(topics[0]) if topics else None
                if spec is None or spec.n_indexed + 1 != len(topics):
                    continue
                data = bytes.fromhex(item["data"][2:]) if item.get("data") not in (None, "0x") else b""
                out.append(
                    EngineEvent(
                        int(item["blockNumber"], 16),
                        int(item["logIndex"], 16),
                        spec.name,
                        dict(spec.decode(topics, data)),
                    )
                )
            lo = hi + 1
            step = self.max_range
        out.sort(key=lambda e: (e.block, e.log_index))
        return out


# ============================================================================ keeper
@dataclass
class PollResult:
    """What one poll did."""

    from_block: int
    to_block: int
    events: int
    open_accounts: int
    liquidatable: int
    liquidated: int
    liquidate_txs: int
    adl_closed: int
    adl_txs: int
    errors: int
    swap_liquidated: int = 0
    swaps_settled: int = 0
    caps_fixed: int = 0
    caps_observed: int = 0
    caps_claimed: int = 0


class Keeper:
    """Follow the engine, liquidate what is liquidatable, auto-deleverage a pool deficit.

    Args:
        chain_or_rpc: an ``RpcChain`` (or anything with its API: ``at``, ``block_number``,
            ``chain_id``, ``rpc``), or a JSON-RPC URL (an ``RpcChain`` is created).
        engine_address / lens_address: the deployed Engine and EngineLens.
        start_block: first block to read events from when there is no state file (the
            engine's deployment block; 0 scans from genesis).
        state_path: JSON state file (cursor + book), read at start, written after each
            poll; ``None`` keeps the state in memory only.
        batch_size: accounts per ``liquidate_many``/``auto_deleverage`` (1..64).
        sender: the keeper account (earns the liquidation rewards; default: the
            label-derived ``vyperp-keeper`` account of the chain).
        event_source: an :class:`EventSource` (default: :class:`RpcEventSource`).
        confirmations: blocks behind the head to stay (reorg margin; 0 on anvil).
        log_range: blocks per ``eth_getLogs`` request.
        max_rounds: screen/liquidate rounds per poll.
        adl: run auto-deleveraging when the pool value is negative.
        swaps_address: FundingSwaps (default: the engine's bound ``swaps()``, if any);
            ``products=False`` turns the products part off.
        caps_address: FundingCaps (default: none; the engine does not know it).
        settle_swaps / fix_caps / observe_caps / claim_caps: the products actions
            (claims are off by default: buyers, or anyone, claim).
        product_sources: ``(swaps EventSource, caps EventSource)`` (default: eth_getLogs).
    """

    def __init__(
        self,
        chain_or_rpc: Any,
        engine_address: str,
        lens_address: str,
        start_block: int = 0,
        state_path: str | os.PathLike[str] | None = None,
        batch_size: int = 32,
        *,
        sender: str | None = None,
        event_source: EventSource | None = None,
        confirmations: int = 0,
        log_range: int = 5_000,
        max_rounds: int = 8,
        adl: bool = True,
        swaps_address: str | None = None,
        caps_address: str | None = None,
        products: bool = True,
        settle_swaps: bool = True,
        fix_caps: bool = True,
        observe_caps: bool = True,
        claim_caps: bool = False,
        product_sources: tuple[EventSource | None, EventSource | None] = (None, None),
    ):
        if isinstance(chain_or_rpc, str):
            from ..chain.rpc_chain import RpcChain

            chain_or_rpc = RpcChain(chain_or_rpc)
        if not 1 <= batch_size <= ENGINE_MAX_BATCH:
            raise ValueError(f"batch_size must be 1..{ENGINE_MAX_BATCH}, got {batch_size}")
        self.chain = chain_or_rpc
        self.engine = self.chain.at("Engine", engine_address)
        self.lens = self.chain.at("EngineLens", lens_address)
        self.start_block = int(start_block)
        self.state_path = Path(state_path) if state_path is not None else None
        self.batch_size = int(batch_size)
        self.confirmations = int(confirmations)
        self.max_rounds = max(1, int(max_rounds))
        self.adl = adl
        if sender is None:
            accounts = getattr(self.chain, "accounts", {})
            sender = accounts.get("vyperp-keeper") or self.chain.new_account("vyperp-keeper")
        self.sender = sender
        self.source: EventSource = event_source or RpcEventSource(self.chain, self.engine, log_range)
        self.market_count = int(self.engine.market_count())
        self.cursor = self.start_block - 1  # last processed block
        self.positions: dict[str, dict[int, int]] = {}
        self.stats = {
            "polls": 0,
            "events": 0,
            "liquidated": 0,
            "liquidate_txs": 0,
            "adl_closed": 0,
            "adl_txs": 0,
            "errors": 0,
            "rescans": 0,
            "swap_liquidated": 0,
            "swaps_settled": 0,
            "caps_fixed": 0,
            "caps_observed": 0,
            "caps_claimed": 0,
        }
        from .product_keeper import ProductKeeper

        if products and swaps_address is None:
            bound = str(self.engine.swaps())
            swaps_address = bound if int(bound, 16) else None
        self.products = ProductKeeper(
            self.chain,
            self.lens,
            self.sender,
            swaps_address if products else None,
            caps_address if products else None,
            swaps_source=product_sources[0],
            caps_source=product_sources[1],
            log_range=log_range,
            settle=settle_swaps,
            fix=fix_caps,
            observe=observe_caps,
            claim=claim_caps,
        )
        self.resumed = False
        self._load()

    # ------------------------------------------------------------------ state
    def _identity(self) -> dict[str, Any]:
        return {"chain_id": int(self.chain.chain_id), "engine": self.engine.address, "lens": self.lens.address}

    def _load(self) -> None:
        if self.state_path is None or not self.state_path.exists():
            log.info("no state file: scanning from block %d", self.start_block)
            return
        state = json.loads(self.state_path.read_text())
        for key, value in self._identity().items():
            if key == "lens":
                continue
            if state.get(key) != value:
                raise ValueError(
                    f"{self.state_path}: recorded for {key}={state.get(key)!r}, not {value!r}; use another state file"
                )
        self.start_block = int(state.get("start_block", self.start_block))
        self.cursor = int(state["cursor"])
        self.positions = {a: {int(m): int(s) for m, s in ms.items()} for a, ms in state["positions"].items()}
        self.stats.update(state.get("stats", {}))
        if self.products.enabled:
            try:
                self.products.load(state.get("products") or {})
            except ValueError:
                # recorded without these products: their book is read from start_block to
                # the cursor (the engine's events are not read again)
                self.products.reset()
                self.products.sync(self.start_block, self.cursor)
        self.resumed = True
        log.info(
            "resumed from %s: cursor block %d, %d open accounts", self.state_path, self.cursor, len(self.positions)
        )

    def save(self) -> None:
        """Write the state file atomically (no-op without ``state_path``)."""
        if self.state_path is None:
            return
        state = {
            "version": STATE_VERSION,
            **self._identity(),
            "start_block": self.start_block,
            "cursor": self.cursor,
            "saved_at": int(time.time()),
            "positions": {a: {str(m): str(s) for m, s in ms.items()} for a, ms in sorted(self.positions.items())},
            "stats": self.stats,
        }
        if self.products.enabled:
            state["products"] = self.products.state()
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_name(self.state_path.name + ".tmp")
        tmp.write_text(json.dumps(state, indent=1) + "\n")
        tmp.replace(self.state_path)

    # ------------------------------------------------------------------ book
    @property
    def open_accounts(self) -> list[str]:
        return sorted(self.positions)

    def _set_size(self, account: str, market: int, size: int) -> None:
        held = self.positions.setdefault(account, {})
        if size:
            held[market] = size
        else:
            held.pop(market, None)
            if not held:
                del self.positions[account]

    def apply(self, event: EngineEvent) -> None:
        args = event.args
        if event.name == "PositionModified":
            self._set_size(args["account"], int(args["market"]), int(args["new_size"]))
        elif event.name == "Liquidated":
            self._set_size(args["account"], int(args["market"]), int(args["remaining_size"]))
        elif event.name == "AutoDeleveraged":
            self._set_size(args["account"], int(args["market"]), 0)

    def sync(self) -> tuple[int, int, int]:
        """Apply the events up to the head (minus confirmations); returns (from, to, count)."""
        head = self.source.head() - self.confirmations
        if head < self.cursor:
            log.warning(
                "node head %d is below the keeper's cursor %d (node restarted without its state, "
                "or a reorg): re-scanning from block %d",
                head,
                self.cursor,
                self.start_block,
            )
            self.cursor = self.start_block - 1
            self.positions = {}
            self.products.reset()
            self.stats["rescans"] += 1
        lo = self.cursor + 1
        if head < lo:
            return lo, head, 0
        events = self.source.events(lo, head)
        for event in events:
            self.apply(event)
        self.products.sync(lo, head)
        self.cursor = head
        self.stats["events"] += len(events)
        if events:
            log.info("blocks %d..%d: %d position events, %d open accounts", lo, head, len(events), len(self.positions))
        return lo, head, len(events)

    # ------------------------------------------------------------------ views
    def healths(self, accounts: list[str]) -> list[tuple]:
        """``Engine.account_health`` of `accounts` (batched lens calls)."""
        out: list[tuple] = []
        for k in range(0, len(accounts), LENS_MAX_BATCH):
            out.extend(self.lens.accounts_health(accounts[k : k + LENS_MAX_BATCH]))
        return out

    def margin_ratios(self, accounts: list[str] | None = None) -> dict[str, float]:
        """equity / maintenance margin per account (inf without a requirement)."""
        accounts = self.open_accounts if accounts is None else accounts
        out = {}
        for account, h in zip(accounts, self.healths(accounts)):
            equity, maintenance = int(h.equity), int(h.maintenance_margin)
            out[account] = equity / maintenance if maintenance else float("inf")
        return out

    def liquidatable(self, accounts: list[str] | None = None) -> list[tuple[str, int, int]]:
        """(account, equity, maintenance) of the liquidatable ones, largest maintenance first."""
        accounts = self.open_accounts if accounts is None else accounts
        # swap holders go to FundingSwaps.liquidate (the products pass), never Engine.liquidate
        accounts = [a for a in accounts if a not in self.products.holders]
        found = []
        for k in range(0, len(accounts), LENS_MAX_BATCH):
            chunk = accounts[k : k + LENS_MAX_BATCH]
            for index, equity, maintenance in self.lens.liquidatable_accounts(chunk):
                found.append((chunk[int(index)], int(equity), int(maintenance)))
        found.sort(key=lambda t: (-t[2], t[0]))
        return found

    # ------------------------------------------------------------------ actions
    def _liquidated_in(self, receipt: Any) -> int:
        if receipt is None:
            return 0
        return sum(1 for e in self.engine.decode_logs(receipt) if e.name == "Liquidated")

    def liquidate(self) -> tuple[int, int, int, int]:
        """Screen and liquidate, round after round; returns (seen, liquidated steps, txs, errors)."""
        seen: set[str] = set()
        steps = txs = errors = 0
        for _round in range(self.max_rounds):
            found = self.liquidatable()
            if not found:
                break
            if log.isEnabledFor(logging.DEBUG):
                for account, equity, maintenance in found:
                    log.debug(
                        "liquidatable %s: equity %.2f, maintenance %.2f, ratio %.3f",
                        account,
                        equity / WAD,
                        maintenance / WAD,
                        equity / maintenance if maintenance else 0,
                    )
            seen.update(a for a, _, _ in found)
            moved = 0
            for k in range(0, len(found), self.batch_size):
                chunk = [a for a, _, _ in found[k : k + self.batch_size]]
                try:
                    self.engine.liquidate_many(chunk, sender=self.sender)
                except (Reverted, ChainError) as e:
                    errors += 1
                    log.error("liquidate_many(%d accounts) failed: %s", len(chunk), e)
                    continue
                txs += 1
                n = self._liquidated_in(self.chain.last_receipt)
                moved += n
                log.info(
                    "liquidate_many: %d of %d accounts liquidated (gas %s)",
                    n,
                    len(chunk),
                    getattr(self.chain.last_receipt, "gas_used", "?"),
                )
            steps += moved
            if not moved:
                log.info("%d accounts liquidatable but none could be liquidated now (cool-down/rate limit)", len(found))
                break
            self.sync()
        return len(seen), steps, txs, errors

    def rank_adl(self, market: int) -> list[str]:
        """Profitable positions in `market`, by unrealized PnL at the exit price / equity,
        descending (the order Engine.auto_deleverage verifies)."""
        holders = sorted(a for a, ms in self.positions.items() if ms.get(market))
        if not holders:
            return []
        config = self.engine.market_config(market)
        state = self.engine.market_state(market)
        settled = int(self.engine.settlement_price(market))
        index = settled or int(self.engine.index_price(market))
        skew = int(state.long_open_interest) - int(state.short_open_interest)
        scored = []
        for k in range(0, len(holders), LENS_MAX_BATCH):
            chunk = holders[k : k + LENS_MAX_BATCH]
            for account, pos, health in zip(
                chunk, self.lens.positions(chunk, market), self.lens.accounts_health(chunk)
            ):
                size, entry = int(pos.size), int(pos.entry_price)
                exit_ = (
                    index
                    if settled
                    else model.exit_price(index, skew, size, int(config.skew_scale), int(config.max_premium))
                )
                pnl = model.pnl(size, exit_, entry)
                if pnl > 0:
                    scored.append((model.adl_score(pnl, int(health.equity)), account))
        return model.adl_order(scored)  # holders are in address order: ties keep it

    def adl_needed(self, market: int) -> bool:
        """Whether auto_deleverage(market) is open: a pool deficit, or a side's profit above
        adl_pnl_pool_ratio x pool balance (the engine's own test, through a static call)."""
        if int(self.engine.pool_value()) < 0:
            return True
        ratio = int(self.engine.market_config(market).adl_pnl_pool_ratio)
        if ratio == 0:
            return False
        state = self.engine.market_state(market)
        profits = model.side_profits(
            state.long_open_interest,
            state.short_open_interest,
            state.sum_size_entry_price,
            state.long_sum_size_entry_price,
            int(self.engine.mark_price(market)),
        )
        return model.adl_side(*profits, int(self.engine.pool_balance()), ratio) != 0

    def deleverage(self) -> tuple[int, int, int]:
        """auto_deleverage while it is open (a pool deficit, or a side's profit past the
        ADL ratio); returns (positions closed, txs, errors)."""
        closed = txs = errors = 0
        for market in range(self.market_count):
            for _attempt in range(4):
                if not self.adl_needed(market):
                    break
                ranked = self.rank_adl(market)
                if not ranked:
                    break
                log.warning(
                    "pool value %.2f: auto-deleveraging market %d (%d candidates)",
                    int(self.engine.pool_value()) / WAD,
                    market,
                    len(ranked),
                )
                for candidates in (ranked[: self.batch_size], ranked[:1]):
                    try:
                        n = int(self.engine.auto_deleverage(market, candidates, sender=self.sender))
                    except (Reverted, ChainError) as e:
                        if isinstance(e, Reverted) and e.reason == "ADL candidates not ranked" and len(candidates) > 1:
                            log.info("ADL ranking went stale inside the call; retrying with one candidate")
                            continue
                        errors += 1
                        log.error("auto_deleverage(market %d) failed: %s", market, e)
                        break
                    txs += 1
                    closed += n
                    log.info("auto_deleverage(market %d): %d positions closed", market, n)
                    break
                self.sync()
        if int(self.engine.pool_value()) < 0:
            log.warning("pool value still negative after auto-deleveraging")
        return closed, txs, errors

    # ------------------------------------------------------------------ loop
    def poll_once(self) -> PollResult:
        """Sync events, run the funding products' pass, liquidate, auto-deleverage, sync
        again, save the state."""
        from .product_keeper import ProductPoll

        events_before = self.stats["events"]
        lo, hi, _ = self.sync()
        products = ProductPoll()
        if self.products.enabled:
            try:
                products = self.products.poll()
            except (Reverted, ChainError) as e:  # a view reverting (a stale oracle) skips the pass
                products.errors += 1
                log.error("funding products pass failed (the perp pass goes on): %s", e)
            if products.swap_liquidated or products.swaps_settled:
                self.sync()
        seen, liquidated, liq_txs, errors = self.liquidate()
        errors += products.errors
        adl_closed = adl_txs = 0
        if self.adl:
            try:
                adl_closed, adl_txs, adl_errors = self.deleverage()
            except ChainError as e:
                adl_errors = 1
                log.error("auto-deleveraging failed: %s", e)
            errors += adl_errors
        if liq_txs or adl_txs:
            self.sync()
        n_events = self.stats["events"] - events_before
        self.stats["polls"] += 1
        self.stats["liquidated"] += liquidated
        self.stats["liquidate_txs"] += liq_txs
        self.stats["adl_closed"] += adl_closed
        self.stats["adl_txs"] += adl_txs
        self.stats["errors"] += errors
        self.stats["swap_liquidated"] += products.swap_liquidated
        self.stats["swaps_settled"] += products.swaps_settled
        self.stats["caps_fixed"] += products.caps_fixed
        self.stats["caps_observed"] += products.observed
        self.stats["caps_claimed"] += products.claimed
        self.save()
        result = PollResult(
            lo,
            self.cursor,
            n_events,
            len(self.positions),
            seen,
            liquidated,
            liq_txs,
            adl_closed,
            adl_txs,
            errors,
            products.swap_liquidated,
            products.swaps_settled,
            products.caps_fixed,
            products.observed,
            products.claimed,
        )
        log.debug("poll: %s", result)
        return result

    def _wait(self, left: float) -> float:
        """Seconds to sleep before the next poll: what is left of the interval, or less
        when a cap boundary or a swap maturity comes first (a late fix moves funding
        between caplets; a late snapshot lengthens the legs)."""
        left = max(0.0, left)
        due = self.products.next_due
        if due is None:
            return left
        try:
            ahead = due - int(self.chain.time)
        except ChainError:
            return left
        return min(left, max(0.0, float(ahead)))

    def run(self, poll_interval: float = 2.0, max_polls: int | None = None) -> dict[str, int]:
        """Poll every `poll_interval` seconds (``max_polls`` times, or until interrupted).
        A failing poll (node unreachable, ...) is logged and retried next interval."""
        polls = 0
        log.info(
            "keeper %s on engine %s from block %d (batch %d)",
            self.sender,
            self.engine.address,
            self.cursor + 1,
            self.batch_size,
        )
        try:
            while max_polls is None or polls < max_polls:
                started = time.monotonic()
                try:
                    self.poll_once()
                except (Reverted, ChainError) as e:  # a node failure, or a view reverting (a stale oracle)
                    self.stats["errors"] += 1
                    log.error("poll failed (will retry): %s", e)
                polls += 1
                if max_polls is not None and polls >= max_polls:
                    break
                time.sleep(self._wait(poll_interval - (time.monotonic() - started)))
        except KeyboardInterrupt:
            log.info("interrupted")
        finally:
            self.save()
        return dict(self.stats)


def setup_logging(level: str | int = "INFO") -> None:
    """Rich console logging for the keeper/feeder commands (plain logging without rich)."""
    try:
        from rich.logging import RichHandler

        handler: logging.Handler = RichHandler(show_path=False, rich_tracebacks=True)
        fmt = "%(message)s"
    except ImportError:  # pragma: no cover
        handler = logging.StreamHandler()
        fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    logging.basicConfig(level=level, format=fmt, datefmt="[%X]", handlers=[handler], force=True)


def load_manifest(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A deployment manifest written by ``ape run deploy`` (scripts/deploy.py)."""
    manifest = json.loads(Path(path).read_text())
    addresses = manifest.get("addresses") or {}
    for key in ("engine", "lens"):
        if key not in addresses:
            raise ValueError(f"{path}: no {key} address in the manifest")
    return manifest


__all__ = [
    "DEFAULT_STATE_DIR",
    "default_state_path",
    "EngineEvent",
    "EventSource",
    "Keeper",
    "PollResult",
    "RpcEventSource",
    "load_manifest",
    "setup_logging",
]
