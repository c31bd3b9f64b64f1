"""The attack lab: scripted adversaries against the real contracts on the embedded chain.

Each scenario under ``scenarios/attacks/`` names an incident class, a market a real
listing would use (thin or deep), the pool and insurance sizes and the adversary's
knobs. The same script runs against the current contracts ("after") and, given a git
ref, against the contracts as they were before the safety work ("before"), so every
defence is measured, not asserted:

* ``self-skew``: a small account opens the largest size the initial-margin check
  accepts (the open's own premium used to count as equity), then a +/- gap round;
* ``pump-and-close`` (Mango, Oct 2022): two accounts take both sides, the index is
  pumped in rounds within the jump bound, the short is liquidated into the pool and the
  long closes at the top;
* ``squeeze-into-pool`` (Hyperliquid JELLY, Mar 2025): as above on a thin market, the
  guardian optionally settling the market at its pre-pump price;
* ``withdraw-then-liquidate`` (Hyperliquid ETH whale, Mar 2025): a whale withdraws
  everything the checks allow, then the price drifts and a keeper liquidates it;
* ``oracle-front-run`` (GMX v1 AVAX): round trips around oracle rounds the attacker
  knows in advance (delayed orders where the market sets them);
* ``skew-carry`` (issue 14, funding swaps): a pay-fixed swap whose floating leg the
  attacker inflates by carrying perp skew from a second account (``sim/skew_carry.py``;
  no "before" column: the old contracts had no swaps).

Per run: the attacker's net profit (what its accounts hold and withdrew, minus what they
brought), the LPs' loss (their deposit minus the pool's value after every position is
closed), the insurance fund's loss, bad debt, and how many flat accounts could not
withdraw their balance at the end (frozen). ``lp_loss_bound`` is the bound the design
claims for the class (``null`` where the claim is instead attacker profit <= 0):
``max_pnl_pool_ratio x pool + OI cap x max_price_jump``, the most the PnL cap lets a
side take plus one gap of the jump bound on the open interest the caps admit.
All money is USD.
"""

from __future__ import annotations

import random
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .. import resources
from ..chain import Chain, Reverted
from ..protocol.deploy import deploy_embedded
from ..protocol.params import (
    LiquidationParams,
    MarketParams,
    ProtocolParams,
    liquidation_params,
    market_params,
    read_toml,
)
from ..protocol.product_params import swaps_params
from ..protocol.system import MAX_UINT, START_TIME, System
from ..protocol.units import WAD, wad
from .skew_carry import skew_carry

ATTACK_DIR = resources.SCENARIOS / "attacks"
CLASSES = (
    "self-skew",
    "pump-and-close",
    "squeeze-into-pool",
    "withdraw-then-liquidate",
    "oracle-front-run",
    "skew-carry",
)
NEW_CLASSES = ("skew-carry",)  # no "before" run: the contracts before the safety work had no such instrument
BEFORE_REF = "f5b5e8f"  # the last commit before the safety work (the "before" column)


class AttackError(ValueError):
    """A bad attack scenario (unknown class or key): the message names the file and key."""


@dataclass
class AttackScenario:
    """One scripted attack: the class, the market, the pool and the adversary's knobs."""

    name: str
    attack: str
    market: MarketParams
    liquidation: LiquidationParams
    pool_usd: float
    insurance_usd: float
    knobs: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    path: Path | None = None


def load_attack(path: str | Path) -> AttackScenario:
    """Read one ``scenarios/attacks/*.toml`` file (clear errors naming the key)."""
    path = Path(path)
    try:
        doc = read_toml(path, "the attack")
    except ValueError as exc:
        raise AttackError(str(exc)) from exc
    head = doc.get("attack", {})
    kind = head.get("class")
    if kind not in CLASSES:
        raise AttackError(f"{path}: [attack] class must be one of {', '.join(CLASSES)}, got {kind!r}")
    unknown = set(doc) - {"attack", "market", "liquidation", "adversary"}
    if unknown:
        raise AttackError(f"{path}: unknown tables {sorted(unknown)}")
    extra = set(head) - {"class", "name", "description", "pool_usd", "insurance_usd"}
    if extra:
        raise AttackError(f"{path}: unknown [attack] keys {sorted(extra)}")
    try:
        market = market_params(doc.get("market", {}), f"{path}: [market]")
        liquidation = liquidation_params(doc.get("liquidation", {}), f"{path}: [liquidation]")
        swaps_params(doc.get("adversary", {}).get("swaps", {}), f"{path}: [adversary.swaps]")  # skew-carry's overrides
    except ValueError as exc:
        raise AttackError(str(exc)) from exc
    return AttackScenario(
        name=head.get("name", path.stem),
        attack=kind,
        market=market,
        liquidation=liquidation,
        pool_usd=float(head.get("pool_usd", 10_000_000.0)),
        insurance_usd=float(head.get("insurance_usd", 0.0)),
        knobs=dict(doc.get("adversary", {})),
        description=head.get("description", ""),
        path=path,
    )


def shipped_attacks(only: str | None = None) -> list[AttackScenario]:
    """Every shipped attack scenario (optionally one class), in file order."""
    out = [load_attack(p) for p in sorted(ATTACK_DIR.glob("*.toml"))]
    if only is not None:
        if only not in CLASSES:
            raise AttackError(f"unknown attack class {only!r} (classes: {', '.join(CLASSES)})")
        out = [a for a in out if a.attack == only]
    return out


# ---------------------------------------------------------------------------- the arena


class Arena:
    """One deployment with an LP, insurance, a keeper and a flat bystander; the
    bookkeeping every class shares (events, money, frozen accounts)."""

    def __init__(self, scenario: AttackScenario, contracts_dir: Path | None, legacy: bool):
        self.scenario = scenario
        self.legacy = legacy
        market = scenario.market
        chain = Chain(timestamp=START_TIME, exact_gas=False, contracts_dir=contracts_dir)
        params = ProtocolParams(markets=[market], liquidation=scenario.liquidation)
        self.system = System(chain, deploy_embedded(chain, params, legacy=legacy))
        s = self.system
        self.price = market.initial_price
        self.lp = s.new_trader("lp")
        s.mint(self.lp, scenario.pool_usd)
        s.pool.deposit(s.tokens(scenario.pool_usd), self.lp, sender=self.lp)
        if scenario.insurance_usd:
            funder = s.new_trader("insurance-funder")
            s.mint(funder, scenario.insurance_usd)
            s.engine.fund_insurance(s.tokens(scenario.insurance_usd), sender=funder)
        self.keeper = s.new_trader("keeper")
        self.bystander = s.new_trader("bystander", 10_000)  # flat: must always be able to leave
        self.attackers: list[str] = []
        self.brought: dict[str, int] = {}
        self.bad_debt = 0
        self.reverts: dict[str, int] = {}
        self.insurance_start = int(s.engine.insurance_fund())
        self.pool_start = int(s.engine.pool_value())

    # ------------------------------------------------------------------ verbs
    def attacker(self, label: str, deposit_usd: float) -> str:
        s = self.system
        account = s.new_trader(label)
        self.brought[account] = s.mint(account, deposit_usd) if deposit_usd else 0
        if self.brought[account]:
            s.engine.deposit(self.brought[account], sender=account)
        self.attackers.append(account)
        return account

    def send(self, label: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call `fn`; a revert is counted under `label: reason` and returns None."""
        try:
            out = fn(*args, **kwargs)
        except Reverted as exc:
            key = f"{label}: {exc.reason or 'no reason'}"
            self.reverts[key] = self.reverts.get(key, 0) + 1
            return None
        receipt = self.system.chain.last_receipt
        for log in getattr(receipt, "logs", []) or []:
            if log.name == "BadDebtCovered":
                self.bad_debt += int(log.args["bad_debt"])
        return True if out is None else out

    def trade(self, account: str, size: int) -> bool:
        s = self.system
        return self.send("trade", s.engine.trade, 0, size, MAX_UINT if size > 0 else 0, sender=account) is not None

    def round(self, price: float, keeper: bool = True) -> None:
        """A minute passes, a new oracle round at `price` is accepted, the keeper acts."""
        s = self.system
        s.advance(60, refresh=False)
        self.price = price
        s.set_price(0, price)
        self.send("poke", s.engine.poke, 0, sender=self.keeper)
        if keeper:
            self.keep()

    def keep(self) -> None:
        """The keeper: liquidate whatever is liquidatable, then ADL while it is open."""
        s = self.system
        holders = [a for a in s.accounts if s.size_of(a, 0)]
        if holders:
            self.send("liquidate_many", s.engine.liquidate_many, holders, sender=self.keeper)
        for _ in range(4):
            ranked = self.ranked()
            if (
                not ranked
                or self.send("auto_deleverage", s.engine.auto_deleverage, 0, ranked, sender=self.keeper) is None
            ):
                break

    def ranked(self) -> list[str]:
        """Profitable positions by the engine's own ADL score, descending."""
        s = self.system
        scored = []
        for a in s.accounts:
            if not s.size_of(a, 0):
                continue
            pnl = int(s.lens.unrealized_pnl(a, 0))
            if pnl > 0:
                equity = max(int(s.engine.account_health(a).equity), 1)
                scored.append((max(pnl * WAD // equity, 1), a))
        return [a for _, a in sorted(scored, key=lambda t: -t[0])]

    def close_all(self) -> None:
        """Every position closes (the attacker's first, then whoever else holds one)."""
        s = self.system
        for account in self.attackers + [a for a in s.accounts if a not in self.attackers]:
            size = s.size_of(account, 0)
            if size and not self.trade(account, -size):
                self.send("liquidate", s.engine.liquidate, account, sender=self.keeper)
                if s.size_of(account, 0):
                    self.keep()

    def withdraw_all(self, account: str) -> int:
        """Withdraw the most the engine lets `account` take (a binary search over amounts)."""
        s = self.system
        amount = s.max_withdrawal(account)
        if amount:
            s.engine.withdraw(amount, sender=account)
        return amount

    @contextmanager
    def branch(self) -> Iterator[None]:
        """Run a what-if: chain state and the arena's counters are restored afterwards."""
        saved = (self.bad_debt, dict(self.reverts), self.price, list(self.system.prices))
        with self.system.chain.isolate():
            try:
                yield
            finally:
                self.bad_debt, self.reverts, self.price, self.system.prices = saved

    # ------------------------------------------------------------------ results
    def frozen(self) -> int:
        """Flat accounts with a positive balance that cannot withdraw it."""
        s = self.system
        count = 0
        for account in s.accounts:
            if int(s.engine.open_markets(account)) or int(s.engine.margin(account)) <= 0:
                continue
            amount = int(s.engine.margin(account)) // s.precision
            if amount == 0:
                continue
            with s.chain.isolate():
                try:
                    s.engine.withdraw(amount, sender=account)
                except Reverted:
                    count += 1
        return count

    def result(self, details: dict[str, Any]) -> dict[str, Any]:
        s = self.system
        held = sum(int(s.token.balanceOf(a)) * s.precision + int(s.engine.margin(a)) for a in self.attackers)
        brought = sum(self.brought.values()) * s.precision
        pool_value = int(s.engine.pool_value())
        insurance = int(s.engine.insurance_fund())
        return {
            "attacker_net_profit": usd(held - brought),
            "lp_loss": usd(max(self.pool_start - max(pool_value, 0), 0)),
            "lp_loss_bound": None,
            "insurance_loss": usd(max(self.insurance_start - insurance, 0)),
            "bad_debt": usd(self.bad_debt),
            "flat_accounts_frozen": self.frozen(),
            "pool_balance_end": usd(int(s.engine.pool_balance())),
            "reverts": dict(sorted(self.reverts.items())),
            "details": details,
        }


def usd(x: int) -> float:
    return round(x / WAD, 2)


# ---------------------------------------------------------------------------- classes


def _coins(arena: Arena, notional_usd: float) -> int:
    return wad(notional_usd) * WAD // wad(arena.price)


def self_skew(arena: Arena) -> dict[str, Any]:
    """Open the largest notional the IM check accepts, then a gap round a coin flip decides
    (up: the attacker is paid; down: its loss stops at its deposit). The scored result is
    the expectation over the flip; an instant close is reported beside it."""
    knobs = arena.scenario.knobs
    deposit = float(knobs.get("deposit_usd", 100_000.0))
    gap = float(knobs.get("gap", 0.15))
    attacker = arena.attacker("attacker", deposit)
    tried = sorted(float(n) for n in knobs.get("notionals_usd", [1e6, 2e6, 4e6, 5e6, 1e7, 5e7, 1e8, 1e9, 5e9, 9e9]))
    accepted = []
    for notional in tried:
        with arena.branch():
            if arena.trade(attacker, _coins(arena, notional)):
                accepted.append(notional)
    largest = max(accepted, default=0.0)
    details: dict[str, Any] = {"accepted_notionals_usd": accepted, "largest_open_usd": largest}
    outcomes: dict[str, dict[str, Any]] = {}
    size = _coins(arena, largest) if largest else 0
    for label, move in (("instant_close", 0.0), ("gap_up", gap), ("gap_down", -gap)):
        with arena.branch():
            if size:
                arena.trade(attacker, size)
            if move:
                arena.round(arena.price * (1 + move))
            arena.close_all()
            arena.withdraw_all(attacker)
            outcomes[label] = arena.result({})
    details["outcomes"] = {
        k: {m: v[m] for m in ("attacker_net_profit", "lp_loss", "bad_debt", "insurance_loss")}
        for k, v in outcomes.items()
    }
    details["expected"] = {
        m: round((outcomes["gap_up"][m] + outcomes["gap_down"][m]) / 2, 2)
        for m in ("attacker_net_profit", "lp_loss", "bad_debt", "insurance_loss")
    }
    details["frozen_in_any_branch"] = max(v["flat_accounts_frozen"] for v in outcomes.values())
    return details


def pump_and_close(arena: Arena) -> dict[str, Any]:
    """Both sides from two accounts, the index pumped in rounds, the long closes at the top."""
    s = arena.system
    knobs = arena.scenario.knobs
    long = arena.attacker("attacker-long", float(knobs.get("deposit_usd", 125_000.0)))
    short = arena.attacker("attacker-short", float(knobs.get("deposit_usd", 125_000.0)))
    notional = float(knobs.get("notional_usd", 500_000.0))
    opened = {"long": arena.trade(long, _coins(arena, notional)), "short": arena.trade(short, -_coins(arena, notional))}
    if not opened["long"]:
        # the caps refused the full size: take the largest the engine accepts
        notional = _largest_open(arena, long, notional)
        opened["long"] = notional > 0
    factor = float(knobs.get("pump_factor", 24.0))
    rounds = int(knobs.get("rounds", 20))
    step = factor ** (1 / rounds)
    top = arena.price
    settle_after = int(knobs.get("guardian_settles_after", 0))  # rounds before the guardian acts (0 = never)
    settled = False
    for k in range(rounds):
        top *= step
        arena.round(top)
        if settle_after and k + 1 == settle_after:
            if arena.legacy:  # the old contracts had no settlement mode: the guardian could only pause
                arena.send("set_paused", s.configurator.set_paused, 0, True, sender=s.admin)
            else:
                settled = (
                    arena.send(
                        "settle_market",
                        s.configurator.settle_market,
                        0,
                        wad(arena.scenario.market.initial_price),
                        sender=s.admin,
                    )
                    is not None
                )
    arena.close_all()
    for account in arena.attackers:
        arena.withdraw_all(account)
    factor_reached = round(top / arena.scenario.market.initial_price, 3)
    return {
        "opened": opened,
        "long_notional_usd": notional,
        "index_factor": factor_reached,
        "guardian_settled": settled,
    }


def _largest_open(arena: Arena, account: str, notional: float) -> float:
    lo, hi = 0.0, notional
    for _ in range(20):
        mid = (lo + hi) / 2
        with arena.system.chain.isolate():
            ok = arena.trade(account, _coins(arena, mid))
        lo, hi = (mid, hi) if ok else (lo, mid)
    if lo > 0:
        arena.trade(account, _coins(arena, lo))
    return round(lo, 2)


def withdraw_then_liquidate(arena: Arena) -> dict[str, Any]:
    """Open big, withdraw everything the checks allow, drift the price, be liquidated."""
    s = arena.system
    knobs = arena.scenario.knobs
    whale = arena.attacker("whale", float(knobs.get("deposit_usd", 15_230_000.0)))
    notional = float(knobs.get("notional_usd", 304_000_000.0))
    opened = arena.trade(whale, _coins(arena, notional))
    if not opened:
        notional = _largest_open(arena, whale, notional)
    withdrawn_at_open = arena.withdraw_all(whale) / 10**s.decimals
    rise = float(knobs.get("rise", 0.0))  # a favourable round first: the gain is what it withdraws
    if rise:
        arena.round(arena.price * (1 + rise))
    withdrawn = withdrawn_at_open + arena.withdraw_all(whale) / 10**s.decimals
    drift = float(knobs.get("drift", -0.01))
    for _ in range(int(knobs.get("rounds", 6))):
        arena.round(arena.price * (1 + drift))
    arena.close_all()
    arena.withdraw_all(whale)
    return {
        "opened_usd": notional,
        "withdrawn_right_after_open_usd": round(withdrawn_at_open, 2),
        "withdrawn_in_all_usd": round(withdrawn, 2),
    }


def oracle_front_run(arena: Arena) -> dict[str, Any]:
    """Round trips around rounds whose move the attacker knows (seeded moves)."""
    s = arena.system
    knobs = arena.scenario.knobs
    attacker = arena.attacker("attacker", float(knobs.get("deposit_usd", 200_000.0)))
    notional = float(knobs.get("notional_usd", 1_000_000.0))
    rng = random.Random(int(knobs.get("seed", 7)))
    moves = [
        rng.choice([-1, 1]) * rng.uniform(0.02, float(knobs.get("max_move", 0.15)))
        for _ in range(int(knobs.get("rounds", 20)))
    ]
    delayed = not arena.legacy and arena.scenario.market.delayed_orders
    direct_refused = 0
    for move in moves:
        size = _coins(arena, notional) * (1 if move > 0 else -1)
        if delayed:
            if not arena.trade(attacker, size):
                direct_refused += 1
            arena.send("commit_order", s.order_book.commit_order, 0, size, MAX_UINT if size > 0 else 0, sender=attacker)
            arena.round(arena.price * (1 + move), keeper=False)
            arena.send("execute_order", s.order_book.execute_order, attacker, 0, sender=arena.keeper)
        else:
            arena.trade(attacker, size)
            arena.round(arena.price * (1 + move), keeper=False)
        if s.size_of(attacker, 0):
            arena.trade(attacker, -s.size_of(attacker, 0))
        arena.round(arena.price * (1 - move / (1 + move)), keeper=False)  # the price comes back
    arena.close_all()
    arena.withdraw_all(attacker)
    return {
        "rounds": len(moves),
        "sum_abs_move": round(sum(abs(m) for m in moves), 4),
        "delayed_orders": delayed,
        "direct_opens_refused": direct_refused,
        "naive_take_usd": round(notional * sum(abs(m) for m in moves), 2),
    }


SCRIPTS: dict[str, Callable[[Arena], dict[str, Any]]] = {
    "self-skew": self_skew,
    "pump-and-close": pump_and_close,
    "squeeze-into-pool": pump_and_close,
    "withdraw-then-liquidate": withdraw_then_liquidate,
    "oracle-front-run": oracle_front_run,
    "skew-carry": skew_carry,
}


def lp_loss_bound(scenario: AttackScenario) -> float | None:
    """The LP loss the design bounds for this class (None where the claim is profit <= 0)."""
    if scenario.attack in ("oracle-front-run", "skew-carry"):
        return None
    m = scenario.market
    cap = m.max_open_interest_usd
    if m.max_open_interest_pool_ratio:
        cap = min(cap, m.max_open_interest_pool_ratio * scenario.pool_usd)
    pnl = m.max_pnl_pool_ratio * scenario.pool_usd if m.max_pnl_pool_ratio else scenario.pool_usd
    return round(pnl + cap * m.max_price_jump, 2)


def run_attack(scenario: AttackScenario, contracts_dir: Path | None = None, legacy: bool = False) -> dict[str, Any]:
    """One scripted attack; the result dict (see the module docstring)."""
    arena = Arena(scenario, contracts_dir, legacy)
    details = SCRIPTS[scenario.attack](arena)
    result = arena.result(details)
    if "expected" in details:  # a coin-flip class: the expectation is the scored outcome
        result.update(details["expected"])
        result["flat_accounts_frozen"] = max(result["flat_accounts_frozen"], details["frozen_in_any_branch"])
    if not legacy:
        result["lp_loss_bound"] = lp_loss_bound(scenario)
    return result


@dataclass
class Before:
    """The contracts at a git ref, extracted into a temporary directory."""

    ref: str
    directory: Path


def contracts_at(ref: str, repo: Path | None = None) -> Iterator[Before]:
    """Yield the `contracts/` tree at git `ref` (raises AttackError when git cannot)."""
    repo = repo or resources.source_checkout()
    if repo is None:
        raise AttackError("the before column needs a git checkout of vyperp (an installed wheel has no history)")
    with tempfile.TemporaryDirectory(prefix="vyperp-before-") as tmp:
        try:
            archive = subprocess.run(
                ["git", "-C", str(repo), "archive", ref, "contracts"], check=True, capture_output=True
            ).stdout
            subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True, capture_output=True)
        except (OSError, subprocess.CalledProcessError) as exc:
            raise AttackError(f"cannot extract contracts/ at {ref!r}: {exc}") from exc
        yield Before(ref, Path(tmp) / "contracts")


def run_lab(
    only: str | None = None, before_ref: str | None = BEFORE_REF, progress: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """Every shipped attack, after (current contracts) and before (`before_ref`)."""
    scenarios = shipped_attacks(only)
    rows = []
    before_dir = None
    generator = contracts_at(before_ref) if before_ref else None
    try:
        if generator is not None:
            before_dir = next(generator).directory
        for scenario in scenarios:
            if progress:
                progress(scenario.name)
            before = (
                run_attack(_legacy_scenario(scenario), before_dir, legacy=True)
                if before_dir and scenario.attack not in NEW_CLASSES
                else None
            )
            after = run_attack(scenario)
            rows.append(
                {
                    "name": scenario.name,
                    "class": scenario.attack,
                    "market": _market_label(scenario),
                    "description": scenario.description,
                    "before": before,
                    "after": after,
                    "holds": holds(after),
                }
            )
    finally:
        if generator is not None:
            generator.close()
    return {"before_ref": before_ref, "classes": rows, "all_hold": all(r["holds"] for r in rows)}


def _legacy_scenario(scenario: AttackScenario) -> AttackScenario:
    """The same market for the old contracts (they know none of the new parameters)."""
    return replace(scenario, market=replace(scenario.market, delayed_orders=False))


def _market_label(scenario: AttackScenario) -> str:
    m = scenario.market
    return (
        f"{m.symbol} at {m.initial_price:g}, skew scale {m.skew_scale_usd:,.0f} USD, pool {scenario.pool_usd:,.0f} USD"
    )


def holds(after: dict[str, Any]) -> bool:
    """The class's claim: no frozen flat account, and attacker profit <= 0 or LP loss within the bound."""
    if after["flat_accounts_frozen"]:
        return False
    if after["attacker_net_profit"] <= 0:
        return True
    bound = after["lp_loss_bound"]
    return bound is not None and after["lp_loss"] <= bound


__all__ = [
    "ATTACK_DIR",
    "AttackError",
    "AttackScenario",
    "BEFORE_REF",
    "CLASSES",
    "holds",
    "load_attack",
    "lp_loss_bound",
    "run_attack",
    "run_lab",
    "shipped_attacks",
]
