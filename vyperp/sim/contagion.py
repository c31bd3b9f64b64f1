"""Cross-market contagion of a multi-market replay: which liquidations the *other* market caused.

Fed by the engine's ``Liquidated`` events (through :meth:`Contagion.on_liquidated`, which
the replay calls beside :meth:`Metrics.on_liquidated`) and the replay's exact account book.

Definition (one liquidation of account ``a`` in market ``m`` at step ``s``). The account
is valued on the state the keepers judged: the book of the step's chain read, before any
of the step's liquidations (the replay re-reads accounts only after the keepers are done,
so every event of the step sees that state). Per market ``k``, with the arithmetic of
``Engine._health`` (:meth:`AccountBook.account_value`, split by market):
``value_k = pnl_k (at the exit price, under the PnL cap) - funding owed_k`` and
``maintenance_k``. Cross margin: ``equity = margin + sum_k value_k``.

* ``own_equity = margin + value_m + realized_other`` -- the account as if its other
  legs had never moved: their unrealized value removed, and the losses earlier
  liquidations in the other markets realized into the margin since the account was last
  seen flat (``realized_other``, from the events' fill prices and the legs' entry prices;
  the penalties and keeper rewards those liquidations charged are not added back) put back;
* ``other_loss = -(sum over k != m of value_k) + realized_other`` (> 0: a loss);
* the liquidation is **cross-market** when ``own_equity >= maintenance_m`` (market ``m``'s
  leg alone would be above its maintenance) and ``other_loss > 0``: the other market's
  loss pushed it under; **own-market** when ``own_equity < maintenance_m``; **stacked**
  when the leg alone is healthy and the other legs did not lose (``other_loss <= 0``): the
  other legs' *maintenance requirement*, not their loss, put the account under.
  A single-leg account is own-market by construction.
* ``own_leg_not_losing`` (per direction): cross-market liquidations whose own leg was at
  or above water (``value_m >= 0``) -- pure contagion; the rest lost in both markets,
  neither leg alone enough to liquidate the account.
* ``other_step_move`` = the other legs' mark-to-mark change since the previous step
  (``size_k x (mark_k,s - mark_k,s-1)``): how much of ``other_loss`` came in the last step.

Summary (:meth:`Contagion.summary`): counts and notional per class and per direction
(``"BTC->ETH"`` = a loss in BTC liquidated an ETH leg); the Pearson correlation of the
two markets' per-step liquidated notional and of their per-step forced spot flow (the
flow moves the price only when impact is enabled; ``None`` when a series is constant);
and the chain: the first cross-market liquidation with the liquidations and price moves
that preceded it.

Failure modes: an event for an account the book does not know raises ``KeyError`` (the
replay's accounts are all in the book); the summary of a replay without liquidations has
zero counts and ``None`` correlations and chain.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .. import model
from ..protocol.units import WAD
from .book import AccountBook, MarketNow
from .clock import iso_utc

CLASSES: tuple[str, ...] = ("own_market", "cross_market", "stacked")
CHAIN_BEFORE = 5
"""Liquidations listed before the first cross-market one in the chain."""


@dataclass(frozen=True)
class Leg:
    """One market's part of an account (1e18 USD): value = PnL at exit - funding owed."""

    market: int
    size: int
    entry: int
    value: int
    maintenance: int


def legs_of(book: AccountBook, idx: int, markets: list[MarketNow]) -> list[Leg]:
    """The account's legs, exactly as :meth:`AccountBook.account_value` sums them
    (``margin + sum(value) == equity``, ``sum(maintenance) == requirement``)."""
    out = []
    for m in range(book.n_markets):
        size = book.size[m][idx]
        if size == 0:
            continue
        now, rules = markets[m], book.rules[m]
        value = book._position_pnl(size, book.entry[m][idx], now, rules)
        owed, surcharge = model.funding_owed(
            size, now.cumulative, book.findex[m][idx], now.index, rules.tier_notional, rules.tier_multiplier
        )
        value -= max(owed, -max(now.pool_balance, 0)) + surcharge
        out.append(Leg(m, size, book.entry[m][idx], value, book._maintenance(size, now, rules)))
    return out


def classify(margin: int, legs: list[Leg], market: int, realized_other: int = 0) -> tuple[str, int, int]:
    """(class, own_equity, other_loss) of a liquidation in `market` (see the module).
    `realized_other` is the (negative for a loss) PnL earlier liquidations realized in the
    other markets. Raises ``ValueError`` if the account has no leg in `market`."""
    own = next((leg for leg in legs if leg.market == market), None)
    if own is None:
        raise ValueError(f"account has no position in market {market}")
    own_equity = margin + own.value - realized_other
    other_loss = -sum(leg.value for leg in legs if leg.market != market) - realized_other
    if own_equity < own.maintenance:
        return "own_market", own_equity, other_loss
    if other_loss > 0:
        return "cross_market", own_equity, other_loss
    return "stacked", own_equity, other_loss


def correlation(a: list[float], b: list[float]) -> float | None:
    """Pearson correlation; None when either series is constant (or shorter than 2)."""
    n = len(a)
    if n != len(b):
        raise ValueError(f"series of different lengths {n} and {len(b)}")
    if n < 2:
        return None
    ma, mb = sum(a) / n, sum(b) / n
    va = sum((x - ma) ** 2 for x in a)
    vb = sum((y - mb) ** 2 for y in b)
    if va == 0 or vb == 0:
        return None
    return sum((x - ma) * (y - mb) for x, y in zip(a, b)) / math.sqrt(va * vb)


class Contagion:
    """Classifies every liquidation of a multi-market replay (see the module docstring)."""

    def __init__(self, book: AccountBook, symbols: list[str]):
        self.book = book
        self.symbols = symbols
        self.step = 0
        self.markets: list[MarketNow] = []
        self.previous: list[MarketNow] | None = None
        self.records: list[dict[str, Any]] = []
        self._realized: dict[int, dict[int, int]] = {}  # account -> market -> realized PnL (1e18)
        self._seen: dict[int, tuple[int, list[Leg], dict[int, int]]] = {}  # this step's pre-state

    def on_step(self, step: int, markets: list[MarketNow]) -> None:
        """The step's markets (call after the step's read, before the keepers act).
        Accounts seen flat in every market start afresh (their realized losses are dropped)."""
        self.previous = self.markets or None
        self.markets = markets
        self.step = step
        self._seen = {}
        book = self.book
        for idx in [i for i in self._realized if i not in book.holders]:
            del self._realized[idx]

    def on_liquidated(self, a: dict[str, Any]) -> None:
        """One ``Liquidated`` event (decoded: account address, market, size_closed, price, ...)."""
        book = self.book
        account = a["account"]
        idx = account if isinstance(account, int) else book.index_of[account]
        market = int(a["market"])
        if idx not in self._seen:  # the state the keepers judged (book not yet re-read this step)
            realized = dict(self._realized.get(idx, {}))
            self._seen[idx] = (book.margin[idx], legs_of(book, idx, self.markets), realized)
        margin, legs, realized = self._seen[idx]
        realized_other = sum(v for k, v in realized.items() if k != market)
        kind, own_equity, other_loss = classify(margin, legs, market, realized_other)
        equity = margin + sum(leg.value for leg in legs)
        step_move = 0.0
        if self.previous is not None:
            step_move = sum(
                leg.size / WAD * (self.markets[leg.market].mark - self.previous[leg.market].mark) / WAD
                for leg in legs
                if leg.market != market
            )
        own_leg = next(leg for leg in legs if leg.market == market)
        size_closed, price = int(a["size_closed"]), int(a["price"])
        self._realized.setdefault(idx, {})
        self._realized[idx][market] = self._realized[idx].get(market, 0) + size_closed * (price - own_leg.entry) // WAD
        self.records.append(
            {
                "step": self.step,
                "account": idx,
                "market": self.symbols[market],
                "class": kind,
                "legs": len(legs),
                "notional": int(a["notional"]) / WAD,
                "equity": equity / WAD,
                "maintenance": sum(leg.maintenance for leg in legs) / WAD,
                "own_equity": own_equity / WAD,
                "own_maintenance": own_leg.maintenance / WAD,
                "other_loss": other_loss / WAD,
                "other_step_move": step_move,
                "own_leg_value": own_leg.value / WAD,
            }
        )

    # ------------------------------------------------------------------ summary
    def summary(self, rows: list[dict[str, Any]], timestamps: list[int], impact_enabled: bool) -> dict[str, Any]:
        """The report's ``contagion`` section (rows: the replay's per-step rows)."""
        syms = self.symbols
        by_class = {c: {"count": 0, "notional_usd": 0.0} for c in CLASSES}
        directions = {
            f"{src}->{dst}": {"count": 0, "notional_usd": 0.0, "own_leg_not_losing": 0}
            for dst in syms
            for src in syms
            if src != dst
        }
        multi_leg = 0
        for r in self.records:
            by_class[r["class"]]["count"] += 1
            by_class[r["class"]]["notional_usd"] += r["notional"]
            multi_leg += r["legs"] > 1
            if r["class"] == "cross_market":
                others = [s for s in syms if s != r["market"]]
                key = f"{others[0]}->{r['market']}" if len(others) == 1 else f"other->{r['market']}"
                entry = directions.setdefault(key, {"count": 0, "notional_usd": 0.0, "own_leg_not_losing": 0})
                entry["count"] += 1
                entry["notional_usd"] += r["notional"]
                entry["own_leg_not_losing"] += r["own_leg_value"] >= 0
        n = len(rows)
        liq = {s: [0.0] * n for s in syms}
        for r in self.records:
            liq[r["market"]][r["step"]] += r["notional"]
        flows = {
            s: [row["spot_flow_usd" if k == 0 else f"{s}_spot_flow_usd"] for row in rows] for k, s in enumerate(syms)
        }
        pair = syms[:2]
        out: dict[str, Any] = {
            "definition": (
                "cross_market: the liquidated leg alone (margin + its PnL at exit - its funding, "
                "plus losses realized in the other markets since the account was last flat) is at or "
                "above its own maintenance and the other markets' legs lost; own_market: the leg alone "
                "is below its maintenance; stacked: the leg alone is healthy and the other legs did not "
                "lose (their maintenance requirement put the account under). Valued on the state the "
                "keepers judged (the step's read)."
            ),
            "liquidations": len(self.records),
            "liquidations_of_multi_leg_accounts": multi_leg,
            "by_class": by_class,
            "cross_market_by_direction": directions,
            "liquidated_notional_by_market": {s: sum(liq[s]) for s in syms},
            "liquidated_notional_correlation": correlation(liq[pair[0]], liq[pair[1]]) if len(pair) == 2 else None,
            "spot_flow_correlation": correlation(flows[pair[0]], flows[pair[1]]) if len(pair) == 2 else None,
            "impact_enabled": impact_enabled,
            "first_cross_market": self._chain(rows, timestamps, impact_enabled),
        }
        return out

    def _chain(self, rows: list[dict[str, Any]], timestamps: list[int], impact_enabled: bool) -> dict[str, Any] | None:
        first = next((k for k, r in enumerate(self.records) if r["class"] == "cross_market"), None)
        if first is None:
            return None
        r = self.records[first]
        step = r["step"]
        prices = {}
        for k, s in enumerate(self.symbols):
            key = "index" if k == 0 else f"{s}_index"
            start = rows[0][key]
            prices[s] = {
                "index_start": start,
                "index_at": rows[step][key],
                "change_since_start": rows[step][key] / start - 1,
                "log_impact_at": rows[step]["log_impact" if k == 0 else f"{s}_log_impact"],
            }
        before = self.records[max(0, first - CHAIN_BEFORE) : first]
        liq_before = {s: sum(x["notional"] for x in self.records[:first] if x["market"] == s) for s in self.symbols}
        return {
            "step": step,
            "timestamp": iso_utc(timestamps[step]),
            "liquidation": r,
            "markets": prices,
            "liquidated_notional_before": liq_before,
            "liquidations_before": len(self.records[:first]),
            "preceding": before,
            "impact_enabled": impact_enabled,
        }


__all__ = ["CLASSES", "Contagion", "Leg", "classify", "correlation", "legs_of"]
