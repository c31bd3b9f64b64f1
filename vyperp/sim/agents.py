"""The replay's agents. They read the chain (through the replay's exact account book and
per-step market reads) and act only through the contracts, with raw transactions.

Every random choice comes from a numpy ``Generator`` seeded from the scenario seed
(one child stream per agent kind), and agents act in a fixed order, so a replay is a
deterministic function of (scenario, seed, traders, parameter set).

Money defaults (:class:`AgentConfig`) are per directional trader, so ``--traders N``
scales the whole economy (basis traders, LP capital and the insurance fund) with N.

* :class:`DirectionalTraders` -- leveraged traders. Collateral is log-normal
  (median 2,500 USD, sigma 1, clipped to [250, 250,000]); leverage from the scenario's
  distribution (``share_at_max`` exactly at the maximum, the rest uniform in
  [min, max]); long with probability ``long_share``; each opens at a uniformly random
  step in the first ``open_window`` (25 %) of the horizon: deposit, then ``trade`` with a
  1 % slippage bound. Size = collateral x leverage, capped by what the market's
  brackets, risk multiplier and taker fee admit for that collateral (99 % of it), so
  "at max leverage" means the largest position the initial-margin check accepts. Half
  of them keep a take-profit (ROE uniform in [+50 %, +200 %]) and a stop-loss (ROE in
  [-80 %, -40 %]) and close when the step's exact equity crosses it; a stop is not
  executed once equity has fallen under 5 % of the deposit (the account is left to the
  keepers, as a trader whose stop was gapped through). With several markets each trader
  trades one market drawn uniformly, except a share ``population.cross_margined_share``
  (default 0: none; exactly ``round(n * share)`` traders, drawn after every other draw so
  the default consumes the random stream as before) that is *cross-margined*: one
  account, one side, one leg in every market, each leg sized as above on an equal share
  of the equity (so the legs' initial margins together fit the deposit); its stops watch
  the account's equity and close every leg; it counts as liquidated out once every leg
  is closed. After a close or a full liquidation a trader re-enters with probability 0.5 after a geometric wait (mean 30
  steps), topping its margin up once from its wallet if it fell below half the deposit.
* :class:`BasisTraders` -- sell the perp and buy spot to collect funding. Capital
  log-normal (median 25,000 USD, sigma 0.8), perp leverage uniform in [3, 10]. Each
  checks every 3-15 steps (own period): flat and the 8 h funding rate, minus the premium
  its own short would remove (notional / skew scale), is above its entry threshold
  (uniform 0.03 %-0.10 % per 8 h) -> deposit, short the perp, buy the same size spot
  (flow). Open and funding below its exit threshold (uniform -0.02 %-0 %) or the hedged
  book (perp equity change + spot leg's change at index) down more than its loss limit
  (40-80 % of margin) -> buy the perp back and sell the spot (flow); then a 30-step
  cool-down. A hedged trader does not stop out on the perp leg alone -- a squeeze hurts
  its perp margin but not its book -- which is exactly why it gets liquidated: its
  spot is not margin on this venue. If the perp leg is liquidated (fully or partly) the
  matching spot is sold at the next step (flow).
* :class:`LiquidityProviders` -- deposit into the LiquidityPool before the first step
  (100,000 USD per directional trader in total, split by uniform weights). Each has a
  drawdown threshold (uniform 2-8 % from the peak share price) and withdraws a fraction
  (uniform 25-100 %) of its assets, capped by ``maxWithdraw``, the first time the pool's
  share price falls that far from its peak.
* :class:`Keepers` -- see the class.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from .. import model
from ..protocol.units import WAD
from .book import MarketNow
from .chainio import static_tuple_array, word, word_array

if TYPE_CHECKING:  # pragma: no cover
    from .book import AccountBook
    from .chainio import TxSender
    from .metrics import Metrics
    from .spot import SpotMarket
    from .wire import Wire


class ReplayContext(Protocol):
    """All an agent may use of the replay (:class:`~vyperp.sim.runner.Replay` implements it):
    the wire format, the transaction sender, the account book, this step's markets, and a
    few facts of the run. Agents reach nothing else of the replay."""

    wire: Wire  # selectors, calldata, raw-read layouts
    tx: TxSender  # sends transactions, records reverts and touched accounts
    book: AccountBook  # every account's margin and positions (exact, synced)
    markets: list[MarketNow]  # this step's market reads
    metrics: Metrics
    spot: list[SpotMarket]
    chain: Any
    pool: Any  # the LiquidityPool contract (share price reads)
    scenario: Any
    float_rules: list[dict[str, Any]]  # per market: brackets and fees in floats (fast screens)
    decimals: int
    precision: int
    n_markets: int
    n_steps: int

    def new_agent(self, label: str, mint_tokens: int) -> tuple[str, int]: ...
    def sync(self, refresh: bool = True) -> None: ...
    def read_markets(self) -> list[MarketNow]: ...


MAX_BATCH = 64  # Engine.MAX_BATCH (liquidate_many, auto_deleverage)
HEALTH_BATCH = 256  # EngineLens.MAX_BATCH (accounts_health, liquidatable_accounts)
CANDIDATES_MIN = 4  # keepers confirm this many candidates or more with liquidatable_accounts


@dataclass(frozen=True)
class AgentConfig:
    """Behaviour and money of the agents (USD; rates per 8 h; see the module docstring)."""

    collateral_median_usd: float = 2_500.0
    collateral_sigma: float = 1.0
    collateral_min_usd: float = 250.0
    collateral_max_usd: float = 250_000.0
    open_window: float = 0.25
    slippage: float = 0.01
    margin_use: float = 0.99
    stops_share: float = 0.5
    take_profit_roe: tuple[float, float] = (0.5, 2.0)
    stop_loss_roe: tuple[float, float] = (-0.8, -0.4)
    min_close_equity_share: float = 0.05
    reentry_probability: float = 0.5
    reentry_mean_wait_steps: float = 30.0
    basis_capital_median_usd: float = 25_000.0
    basis_capital_sigma: float = 0.8
    basis_leverage: tuple[float, float] = (3.0, 10.0)
    basis_entry_rate: tuple[float, float] = (0.0003, 0.001)
    basis_exit_rate: tuple[float, float] = (-0.0002, 0.0)
    basis_loss_limit: tuple[float, float] = (0.4, 0.8)
    basis_check_every: tuple[int, int] = (3, 15)
    basis_cooldown_steps: int = 30
    lp_capital_per_trader_usd: float = 100_000.0
    lp_drawdown_threshold: tuple[float, float] = (0.02, 0.08)
    lp_withdraw_fraction: tuple[float, float] = (0.25, 1.0)
    insurance_per_trader_usd: float = 2_000.0
    keeper_base_gas: int = 150_000
    keeper_gas_per_account: int = 60_000
    adl_policy: str = "queue"  # deficit ADL: "queue" (close the ranked top) or "pro-rata" (cut every profit)

    def __post_init__(self) -> None:
        if self.adl_policy not in ADL_POLICIES:
            raise ValueError(f"adl_policy must be one of {', '.join(ADL_POLICIES)}, got {self.adl_policy!r}")


ADL_POLICIES = ("queue", "pro-rata")


def max_notional(equity_usd: float, brackets: list[tuple[float, float, float]], multiplier: float, fee: float) -> float:
    """Largest notional N with multiplier * IM(N) + fee * N <= equity (IM from brackets)."""
    if equity_usd <= 0:
        return 0.0
    floor = 0.0
    requirement_at_floor = 0.0
    for k, (ceiling, rate, _mm) in enumerate(brackets):
        top = float("inf") if k == len(brackets) - 1 else ceiling
        n = (equity_usd - multiplier * (requirement_at_floor - rate * floor)) / (multiplier * rate + fee)
        if n <= top:
            return max(n, 0.0)
        requirement_at_floor += rate * (top - floor)
        floor = top
    return 0.0


def _lognormal(rng: np.random.Generator, n: int, median: float, sigma: float, lo: float, hi: float) -> np.ndarray:
    return np.clip(median * np.exp(sigma * rng.standard_normal(n)), lo, hi)


def _usd_tokens(usd: float, decimals: int) -> int:
    """USD -> token units, whole cents (deterministic and exact)."""
    return int(round(usd * 100)) * 10 ** (decimals - 2)


# ====================================================================== directional
class DirectionalTraders:
    """Leveraged directional traders (see the module docstring)."""

    WAITING, OPEN, FLAT = 0, 1, 2

    def __init__(self, replay: ReplayContext, count: int, rng: np.random.Generator, cfg: AgentConfig):
        self.r = replay
        self.cfg = cfg
        self.rng = rng
        scenario = replay.scenario
        pop = scenario.population
        n = count
        self.n = n
        self.collateral = _lognormal(
            rng, n, cfg.collateral_median_usd, cfg.collateral_sigma, cfg.collateral_min_usd, cfg.collateral_max_usd
        )
        self.leverage = np.asarray(pop.leverage.sample(n, rng), dtype=float) if n else np.zeros(0)
        self.side = np.where(rng.random(n) < pop.long_share, 1, -1)
        self.market = rng.integers(0, replay.n_markets, n) if replay.n_markets > 1 else np.zeros(n, dtype=int)
        window = max(1, int(replay.n_steps * cfg.open_window))
        self.open_step = rng.integers(0, window, n)
        self.has_stops = rng.random(n) < cfg.stops_share
        self.take_profit = rng.uniform(*cfg.take_profit_roe, n)
        self.stop_loss = rng.uniform(*cfg.stop_loss_roe, n)
        # cross-margined traders (drawn after every other per-trader draw, and only when the
        # share is > 0, so a scenario without the option consumes the stream as before)
        share = float(getattr(pop, "cross_margined_share", 0.0))
        self.cross = np.zeros(n, dtype=bool)
        if share > 0 and replay.n_markets > 1 and n:
            self.cross[rng.choice(n, int(round(n * share)), replace=False)] = True
        self.tokens = [_usd_tokens(float(c), replay.decimals) for c in self.collateral]
        self.accounts: list[str] = []
        self.idx: list[int] = []
        self.state = [self.WAITING] * n
        self.wallet = [2 * t for t in self.tokens]  # minted at setup, deposited on demand
        self.basis_equity_f = np.ones(n)  # margin right after the entry's deposit (1e18, float)
        self.is_open = np.zeros(n, dtype=bool)
        self.owner: dict[int, int] = {}  # book index -> trader
        self.schedule: dict[int, list[int]] = {}
        for j in range(n):
            self.schedule.setdefault(int(self.open_step[j]), []).append(j)
        # plain-Python copies of the per-trader draws read in the step loop (same values)
        self._market = [int(x) for x in self.market]
        # the markets each trader trades: its drawn market, or every market when cross-margined
        self._markets = [list(range(replay.n_markets)) if self.cross[j] else [self._market[j]] for j in range(n)]
        self._leverage = self.leverage.tolist()
        self._watch_dirty = True  # is_open changed: rebuild the stop watch list
        self.stats = {
            "opens": 0,
            "open_reverted": 0,
            "open_skipped_no_margin": 0,
            "take_profits": 0,
            "stop_losses": 0,
            "stop_or_take_profit_reverted": 0,
            "stops_skipped_underwater": 0,
            "reentries_scheduled": 0,
            "liquidated_out": 0,
        }
        if share > 0:  # (absent otherwise: single-market reports keep their keys)
            self.stats["cross_margined"] = int(self.cross.sum())

    def setup(self) -> None:
        r = self.r
        for j in range(self.n):
            account, idx = r.new_agent(f"trader-{j:05d}", 2 * self.tokens[j])
            self.accounts.append(account)
            self.idx.append(idx)
            self.owner[idx] = j
        self.idx_arr = np.asarray(self.idx, dtype=np.int64)

    def act(self, step: int, changed: set[int]) -> None:
        r = self.r
        book = r.book
        owner = self.owner
        # positions closed by keepers (only accounts re-read since the last step can have changed)
        if changed:
            for j in sorted(owner[i] for i in changed if i in owner):
                if self.is_open[j] and all(book.size[m][self.idx[j]] == 0 for m in self._markets[j]):
                    self.is_open[j] = False
                    self._watch_dirty = True
                    self.state[j] = self.FLAT
                    self.stats["liquidated_out"] += 1
                    self._maybe_reenter(j, step)
        # take-profit / stop-loss, vectorised over the open traders that keep stops
        if self._watch_dirty:
            watch = np.flatnonzero(self.is_open & self.has_stops)
            self._watch = (
                watch,
                self.idx_arr[watch],
                self.basis_equity_f[watch],
                self.take_profit[watch],
                self.stop_loss[watch],
            )
            self._watch_dirty = False
        watch, watch_idx, basis, take_profit, stop_loss = self._watch
        if len(watch):
            equity = book.f.equity[watch_idx]
            roe = (equity - basis) / basis
            hit = np.flatnonzero((roe >= take_profit) | (roe <= stop_loss))
            for k in hit.tolist():
                j = int(watch[k])
                if roe[k] >= self.take_profit[j]:
                    kind = "take_profits"
                elif equity[k] < self.cfg.min_close_equity_share * basis[k]:
                    self.stats["stops_skipped_underwater"] += 1
                    continue
                else:
                    kind = "stop_losses"
                if self._close(j):
                    self.stats[kind] += 1
                    self._maybe_reenter(j, step)
        # scheduled opens
        for j in self.schedule.pop(step, ()):
            self._open(j)

    def _maybe_reenter(self, j: int, step: int) -> None:
        if self.rng.random() < self.cfg.reentry_probability:
            wait = int(self.rng.geometric(1.0 / self.cfg.reentry_mean_wait_steps))
            if step + wait < self.r.n_steps:
                self.schedule.setdefault(step + wait, []).append(j)
                self.stats["reentries_scheduled"] += 1

    def _open(self, j: int) -> None:
        """Open the trader's position: one leg in its market, or (cross-margined) one leg
        per market on the same account, each sized on an equal share of the equity."""
        r = self.r
        idx = self.idx[j]
        account = self.accounts[j]
        legs = self._markets[j]
        if self.state[j] != self.WAITING and any(r.book.size[m][idx] != 0 for m in legs):
            return
        margin = r.book.margin[idx]
        if margin * 2 < self.tokens[j] * r.precision and self.wallet[j] >= self.tokens[j]:
            if r.tx.send("deposit", account, r.wire.engine_addr, r.wire.sel_deposit + word(self.tokens[j])) is not None:
                self.wallet[j] -= self.tokens[j]
                margin += self.tokens[j] * r.precision
        if self.state[j] == self.FLAT:  # a re-entry redraws the side
            self.side[j] = 1 if self.rng.random() < r.scenario.population.long_share else -1
        equity_usd = margin / WAD * self.cfg.margin_use
        if len(legs) > 1:
            equity_usd /= len(legs)
        opened = False
        for m in legs:
            now = r.markets[m]
            rules = r.float_rules[m]
            cap = max_notional(equity_usd, rules["brackets"], now.multiplier / WAD, rules["taker_fee"])
            notional = min(equity_usd * self._leverage[j], cap)
            mark = now.mark
            size = int(notional * 1e6) * 10**12 * WAD // mark
            if size <= 0:
                self.stats["open_skipped_no_margin"] += 1
                continue
            side = int(self.side[j])
            if side > 0:
                bound = mark * int((1 + self.cfg.slippage) * 10**6) // 10**6
            else:
                bound = mark * int((1 - self.cfg.slippage) * 10**6) // 10**6
            out = r.tx.send("open", account, r.wire.engine_addr, r.wire.trade_calldata(m, side * size, bound))
            if out is None:
                self.stats["open_reverted"] += 1
                if not opened:
                    self.state[j] = self.FLAT
                continue
            self.stats["opens"] += 1
            opened = True
        if not opened:
            return
        self.state[j] = self.OPEN
        self.is_open[j] = True
        self.basis_equity_f[j] = float(margin)
        self._watch_dirty = True

    def _close(self, j: int) -> bool:
        """Close every open leg; False if there was none or a close reverted (then the
        trader stays open and the remaining legs are kept)."""
        r = self.r
        idx = self.idx[j]
        closed = False
        for m in self._markets[j]:
            size = r.book.size[m][idx]
            if size == 0:
                continue
            mark = r.markets[m].mark
            if size > 0:  # sell to close
                bound = mark * int((1 - self.cfg.slippage) * 10**6) // 10**6
            else:
                bound = mark * int((1 + self.cfg.slippage) * 10**6) // 10**6
            out = r.tx.send("close", self.accounts[j], r.wire.engine_addr, r.wire.trade_calldata(m, -size, bound))
            if out is None:
                self.stats["stop_or_take_profit_reverted"] += 1
                return False
            closed = True
        if not closed:
            return False
        self.is_open[j] = False
        self._watch_dirty = True
        self.state[j] = self.FLAT
        return True


# ============================================================================ basis
class BasisHooks(Protocol):
    """What an observer of :class:`BasisTraders` is told (trader j; sizes 1e18, signed)."""

    def on_open(self, j: int, perp_size: int, step: int) -> None: ...
    def on_exit(self, j: int, step: int) -> None: ...
    def on_perp_reduced(self, j: int, remaining_short: int, step: int) -> None: ...
    def on_spot(self, j: int, coins: int, usd_wad: int) -> None: ...
    def locked(self, j: int) -> bool: ...  # True: the funding-exit rule does not apply (carry fixed)
    def extra_pnl(self, j: int) -> float: ...  # added to the hedged book's P&L for the loss limit (1e18 USD)


class BasisTraders:
    """Short perp / long spot funding harvesters (see the module docstring)."""

    def __init__(self, replay: ReplayContext, count: int, rng: np.random.Generator, cfg: AgentConfig):
        self.r = replay
        self.cfg = cfg
        self.rng = rng
        n = count
        self.n = n
        self.capital = _lognormal(rng, n, cfg.basis_capital_median_usd, cfg.basis_capital_sigma, 1_000.0, 5_000_000.0)
        self.leverage = rng.uniform(*cfg.basis_leverage, n)
        self.entry_rate = rng.uniform(*cfg.basis_entry_rate, n)
        self.exit_rate = rng.uniform(*cfg.basis_exit_rate, n)
        self.loss_limit = rng.uniform(*cfg.basis_loss_limit, n)
        lo, hi = cfg.basis_check_every
        self.period = rng.integers(lo, hi + 1, n)
        self.phase = rng.integers(0, hi, n)
        self.market = rng.integers(0, replay.n_markets, n) if replay.n_markets > 1 else np.zeros(n, dtype=int)
        self.tokens = [_usd_tokens(float(c), replay.decimals) for c in self.capital]
        self.accounts: list[str] = []
        self.idx: list[int] = []
        self.deposited = [False] * n
        self.hedge = [0] * n  # spot held, coins (1e18)
        self.entry_margin = [0] * n
        self.entry_index = [0] * n
        self.cooldown_until = [0] * n
        self.open_set: set[int] = set()
        self.owner: dict[int, int] = {}
        # an optional observer of entries, exits, liquidations and spot trades (e.g. the
        # funding-swap hedging of [population.funding_swaps]); None = none, nothing changes
        self.hooks: BasisHooks | None = None
        self.stats = {
            "entries": 0,
            "entry_failed": 0,
            "exits_funding": 0,
            "exits_loss": 0,
            "liquidated": 0,
            "spot_bought_usd": 0.0,
            "spot_sold_usd": 0.0,
        }
        # trader j checks at the steps with (step + phase) % period == 0: by period, the traders
        # due at each residue of step % period (ascending)
        self._due: dict[int, dict[int, list[int]]] = {}
        for j in range(n):
            period = int(self.period[j])
            self._due.setdefault(period, {}).setdefault(-int(self.phase[j]) % period, []).append(j)
        # plain-Python copies of the per-trader draws read in the step loop (same values)
        self._market = [int(x) for x in self.market]
        self._leverage = self.leverage.tolist()
        self._entry_rate = self.entry_rate.tolist()
        self._exit_rate = self.exit_rate.tolist()
        self._loss_limit = self.loss_limit.tolist()

    def setup(self) -> None:
        r = self.r
        for j in range(self.n):
            account, idx = r.new_agent(f"basis-{j:04d}", self.tokens[j])
            self.accounts.append(account)
            self.idx.append(idx)
            self.owner[idx] = j

    def _spot(self, j: int, coins: int, kind: str) -> None:
        """Buy (coins > 0) or sell spot: forced flow into the spot model."""
        m = self._market[j]
        usd = coins * self.r.markets[m].index // WAD
        self.r.spot[m].add_flow(usd, kind)
        if self.hooks is not None:
            self.hooks.on_spot(j, coins, usd)
        if usd > 0:
            self.stats["spot_bought_usd"] += usd / WAD
        else:
            self.stats["spot_sold_usd"] -= usd / WAD

    def due(self, step: int) -> list[int]:
        """The traders that check at `step` (``(step + phase) % period == 0``), ascending."""
        out: list[int] = []
        for period, residues in self._due.items():
            js = residues.get(step % period)
            if js:
                out += js
        out.sort()
        return out

    def act(self, step: int, changed: set[int]) -> None:
        r = self.r
        book = r.book
        owner = self.owner
        open_set = self.open_set
        # hedge unwind after liquidations (only re-read accounts can have lost their short)
        if changed and open_set:
            for j in sorted(owner[i] for i in changed if i in owner and owner[i] in open_set):
                perp = -book.size[self._market[j]][self.idx[j]]  # short leg, as a positive size
                if perp < self.hedge[j]:
                    self._spot(j, -(self.hedge[j] - max(perp, 0)), "hedge_unwind_after_liquidation")
                    self.hedge[j] = max(perp, 0)
                    if perp <= 0:
                        open_set.discard(j)
                        self.stats["liquidated"] += 1
                        self.cooldown_until[j] = step + self.cfg.basis_cooldown_steps
                    if self.hooks is not None:
                        self.hooks.on_perp_reduced(j, max(perp, 0), step)
        markets = r.markets
        last = r.n_steps - 1
        for j in self.due(step):
            m = self._market[j]
            now = markets[m]
            rate = now.rate / WAD
            if j in open_set:
                idx = self.idx[j]
                # the hedged book: perp equity change + the spot leg's change (the spot is not margin here)
                pnl = (
                    book.equity_of(idx)
                    - self.entry_margin[j]
                    + self.hedge[j] * (now.index - self.entry_index[j]) // WAD
                )
                hooks = self.hooks
                if hooks is not None:
                    pnl += hooks.extra_pnl(j)
                loss = -pnl / self.entry_margin[j] if self.entry_margin[j] > 0 else 0.0
                funding_exit = rate < self._exit_rate[j] and (hooks is None or not hooks.locked(j))
                if funding_exit or loss > self._loss_limit[j]:
                    self._exit(j, step, "exits_loss" if loss > self._loss_limit[j] else "exits_funding")
            elif step >= self.cooldown_until[j] and step < last:
                self._maybe_enter(j, step, rate)

    def _maybe_enter(self, j: int, step: int, rate: float) -> None:
        r = self.r
        m = self._market[j]
        now = r.markets[m]
        idx = self.idx[j]
        margin = r.book.margin[idx]
        if not self.deposited[j]:
            margin_after = margin + self.tokens[j] * r.precision
        else:
            margin_after = margin
        notional = margin_after / WAD * self._leverage[j]
        rules = r.float_rules[m]
        if rate - notional / rules["skew_scale_usd"] < self._entry_rate[j]:
            return
        if not self.deposited[j]:
            if (
                r.tx.send("deposit", self.accounts[j], r.wire.engine_addr, r.wire.sel_deposit + word(self.tokens[j]))
                is None
            ):
                return
            self.deposited[j] = True
            margin = margin_after
        cap = max_notional(
            margin / WAD * self.cfg.margin_use, rules["brackets"], now.multiplier / WAD, rules["taker_fee"]
        )
        notional = min(notional, cap)
        size = int(notional * 1e6) * 10**12 * WAD // now.mark
        if size <= 0:
            return
        bound = now.mark * int((1 - self.cfg.slippage) * 10**6) // 10**6
        if (
            r.tx.send("basis_open", self.accounts[j], r.wire.engine_addr, r.wire.trade_calldata(m, -size, bound))
            is None
        ):
            self.stats["entry_failed"] += 1
            self.cooldown_until[j] = step + self.cfg.basis_cooldown_steps
            return
        self.stats["entries"] += 1
        self.open_set.add(j)
        self.entry_margin[j] = margin
        self.entry_index[j] = now.index
        self.hedge[j] = size
        self._spot(j, size, "hedge_open")
        if self.hooks is not None:
            self.hooks.on_open(j, -size, step)

    def _exit(self, j: int, step: int, reason: str) -> None:
        r = self.r
        m = self._market[j]
        size = r.book.size[m][self.idx[j]]
        if size < 0:
            bound = r.markets[m].mark * int((1 + self.cfg.slippage) * 10**6) // 10**6
            if (
                r.tx.send("basis_close", self.accounts[j], r.wire.engine_addr, r.wire.trade_calldata(m, -size, bound))
                is None
            ):
                return
        self._spot(j, -self.hedge[j], "hedge_close")
        self.hedge[j] = 0
        self.open_set.discard(j)
        self.stats[reason] += 1
        self.cooldown_until[j] = step + self.cfg.basis_cooldown_steps
        if self.hooks is not None:
            self.hooks.on_exit(j, step)


# ============================================================================== LPs
class LiquidityProviders:
    """LPs of the LiquidityPool (see the module docstring)."""

    def __init__(self, replay: ReplayContext, count: int, total_usd: float, rng: np.random.Generator, cfg: AgentConfig):
        self.r = replay
        self.n = count
        weights = rng.uniform(0.5, 1.5, count)
        self.capital = total_usd * weights / weights.sum() if count else np.zeros(0)
        self.threshold = rng.uniform(*cfg.lp_drawdown_threshold, count)
        self.fraction = rng.uniform(*cfg.lp_withdraw_fraction, count)
        self.tokens = [_usd_tokens(float(c), replay.decimals) for c in self.capital]
        self.accounts: list[str] = []
        self.idx: list[int] = []
        self.withdrawn = [False] * count
        self.peak_share_price = 0.0
        self.supply = 0
        self.net_tokens = 0  # deposited minus withdrawn (token units)
        self._lowest_threshold = float(self.threshold.min()) if count else float("inf")  # of those not withdrawn
        self.stats = {"withdrawals": 0, "withdrawn_usd": 0.0, "withdraw_capped": 0, "withdraw_blocked": 0}

    def setup(self) -> None:
        r = self.r
        for j in range(self.n):
            account, idx = r.new_agent(f"lp-{j:03d}", self.tokens[j])
            self.accounts.append(account)
            self.idx.append(idx)
            data = r.pool.deposit.calldata(self.tokens[j], account)
            if r.tx.send("setup_lp_deposit", account, r.wire.pool_addr, data) is not None:
                self.net_tokens += self.tokens[j]
        self.supply = int(r.pool.totalSupply())

    def share_price(self, pool_value: int) -> float:
        return pool_value / WAD / (self.supply / 10**self.r.decimals) if self.supply else 0.0

    def act(self, step: int, pool_value: int) -> None:
        if not self.n or not self.supply:
            return
        price = self.share_price(pool_value)
        self.peak_share_price = max(self.peak_share_price, price)
        if self.peak_share_price <= 0:
            return
        drawdown = 1 - price / self.peak_share_price
        if drawdown < self._lowest_threshold:  # nobody's threshold is reached
            return
        r = self.r
        for j in range(self.n):
            if self.withdrawn[j] or drawdown < self.threshold[j]:
                continue
            self.withdrawn[j] = True
            account = self.accounts[j]
            shares = int(r.pool.balanceOf(account))
            assets = int(r.pool.convertToAssets(shares))
            want = int(assets * float(self.fraction[j]))
            allowed = int(r.pool.maxWithdraw(account))
            amount = min(want, allowed)
            if amount < want:
                self.stats["withdraw_capped"] += 1
            if amount <= 0:
                self.stats["withdraw_blocked"] += 1
                continue
            data = r.pool.withdraw.calldata(amount, account, account)
            if r.tx.send("lp_withdraw", account, r.wire.pool_addr, data) is not None:
                self.net_tokens -= amount
                self.stats["withdrawals"] += 1
                self.stats["withdrawn_usd"] += amount / 10**r.decimals
                r.metrics.lp_withdrawals.append(
                    {"step": step, "lp": j, "usd": amount / 10**r.decimals, "drawdown": round(drawdown, 6)}
                )
        self.supply = int(r.pool.totalSupply())
        left = [float(t) for t, done in zip(self.threshold, self.withdrawn) if not done]
        self._lowest_threshold = min(left) if left else float("inf")


# ========================================================================== keepers
class Keepers:
    """Liquidation keepers.

    Each step the keepers screen the position holders with the exact account book
    (equity below maintenance) and confirm the candidates with the lens's batched
    ``accounts_health`` view; an account becomes eligible ``delay`` steps after it was
    first seen liquidatable. Eligible accounts are ordered by maintenance requirement
    (the reward, roughly; ties by account) and dealt to the keepers, each sending one
    ``liquidate_many`` batch of at most ``batch`` accounts per step, where
    ``batch = min(64, (gas_budget - 150,000) // 60,000)`` (the measured base and
    per-account gas of a liquidate_many batch, reports/gas.json). While the pool's value
    is negative, keeper 0 runs ``auto_deleverage`` per market (the engine spends the
    insurance fund on the deficit first) with the profitable positions ranked off-chain
    by unrealized PnL / equity, descending (the contract verifies the order).
    """

    def __init__(self, replay: ReplayContext, count: int, delay: int, gas_budget: int, cfg: AgentConfig):
        self.r = replay
        self.cfg = cfg
        self.n = count  # 0 keepers: nobody liquidates (an experiment, not a default)
        self.delay = delay
        self.batch = max(1, min(MAX_BATCH, (gas_budget - cfg.keeper_base_gas) // cfg.keeper_gas_per_account))
        self.accounts: list[str] = []
        self.idx: list[int] = []
        self.first_seen: dict[int, int] = {}
        self.stats = {
            "batches": 0,
            "screen_mismatches": 0,
            "liquidatable_seen": 0,
            "adl_calls": 0,
            "adl_rank_retries": 0,
            "max_backlog": 0,
            "adl_minimal_haircut": 0.0,
            "adl_trader_loss": 0.0,
        }

    def setup(self) -> None:
        for j in range(self.n):
            account, idx = self.r.new_agent(f"keeper-{j:02d}", 0)
            self.accounts.append(account)
            self.idx.append(idx)

    def confirm(self, candidates: list[int]) -> list[tuple[int, int]]:
        """(account index, maintenance) of the candidates the chain says are liquidatable.

        Batches of at least :data:`CANDIDATES_MIN` accounts go through
        ``EngineLens.liquidatable_accounts`` (each market's price, mark and funding read
        once: ~20 us per account after ~80 us per call), smaller ones through
        ``accounts_health`` (~50 us per account); both give ``account_health``'s
        equity and maintenance and list an account iff it is liquidatable."""
        r = self.r
        words = r.book.address_words
        out: list[tuple[int, int]] = []
        for start in range(0, len(candidates), HEALTH_BATCH):
            chunk = candidates[start : start + HEALTH_BATCH]
            array = word(32) + word_array([words[i] for i in chunk])
            if len(chunk) >= CANDIDATES_MIN:
                listed = static_tuple_array(r.chain.call(r.wire.lens_addr, r.wire.sel_liquidatable + array), 3)
                for k, _equity, maintenance in listed:
                    out.append((chunk[k], maintenance))
                continue
            healths = static_tuple_array(
                r.chain.call(r.wire.lens_addr, r.wire.sel_accounts_health + array), r.wire.health_words
            )
            at = r.wire.health_at
            e, mm, count = at["equity"], at["maintenance_margin"], at["position_count"]
            for idx, health in zip(chunk, healths):
                if health[count] > 0 and health[e] < health[mm]:
                    out.append((idx, health[mm]))
        return out

    def act(self, step: int, below: list[int]) -> None:
        if not self.n:
            return
        r = self.r
        confirmed = self.confirm(below) if below else []
        if len(confirmed) != len(below):
            self.stats["screen_mismatches"] += abs(len(below) - len(confirmed))
        live = {idx for idx, _ in confirmed}
        for idx in list(self.first_seen):
            if idx not in live:
                del self.first_seen[idx]
        for idx in live:
            if idx not in self.first_seen:
                self.first_seen[idx] = step
                self.stats["liquidatable_seen"] += 1
        eligible = sorted(((-mm, idx) for idx, mm in confirmed if self.first_seen[idx] + self.delay <= step))
        self.stats["max_backlog"] = max(self.stats["max_backlog"], len(eligible))
        if not eligible:
            return
        order = [idx for _, idx in eligible]
        for k in range(self.n):
            chunk = order[k * self.batch : (k + 1) * self.batch]
            if not chunk:
                break
            data = r.wire.sel_liquidate_many + word(32) + word_array([r.book.address_words[i] for i in chunk])
            r.tx.send("liquidate_many", self.accounts[k], r.wire.engine_addr, data)
            self.stats["batches"] += 1

    # ------------------------------------------------------------------------ ADL
    def deleverage(self, step: int) -> None:
        """Run auto-deleveraging while it is open on chain: the pool's value below zero
        (insurance goes first, on chain) or a side's profit past the PnL-to-pool trigger.
        A deficit is repaired by the configured policy (the ranked queue, or pro rata);
        the PnL trigger always uses the queue (the only entry point it opens).

        Per call, the minimal haircut (the deficit after insurance, or the side's profit
        above the trigger) and what the deleveraged traders lost (their haircuts plus, for
        positions the queue closes, the distance between the mark they were valued at and
        the exit price they were closed at) are added to the stats; the report's ADL
        overshoot is their difference."""
        if not self.n:
            return
        r = self.r
        for m in range(r.n_markets):
            for _attempt in range(4):
                now = r.read_markets()[m]
                rules = r.book.rules[m]
                value = r.wire.read_int(r.wire.cd_pool_value)
                if value >= 0 and not now.adl_triggered(rules):
                    break
                ranked = self.rank(m, now)
                if not ranked:
                    break
                if value < 0:
                    needed = max(-value - r.wire.read_uint(r.wire.cd_insurance), 0)
                else:
                    needed = max(now.side_profits()) - max(now.pool_balance, 0) * rules.adl_pnl_pool_ratio // WAD
                pro_rata = value < 0 and self.cfg.adl_policy == "pro-rata"
                seen = len(r.metrics.adl)
                self.stats["adl_calls"] += 1
                data = (
                    r.wire.adl_pro_rata_calldata(m, ranked[:MAX_BATCH])
                    if pro_rata
                    else r.wire.adl_calldata(m, ranked[:MAX_BATCH])
                )
                sent = r.tx.send("adl", self.accounts[0], r.wire.engine_addr, data)
                r.sync()
                if sent is None and not pro_rata:
                    # the ranking can go stale inside the call: closing one position moves the
                    # skew, hence the exit prices and every later candidate's score. Retry one by one.
                    self.stats["adl_rank_retries"] += 1
                    r.tx.send("adl", self.accounts[0], r.wire.engine_addr, r.wire.adl_calldata(m, ranked[:1]))
                    r.sync()
                done = r.metrics.adl[seen:]
                if done:
                    lost = sum(e["haircut"] for e in done)
                    lost += sum(e["coins"] * abs(now.mark / WAD - e["price"]) for e in done)
                    self.stats["adl_minimal_haircut"] += needed / WAD
                    self.stats["adl_trader_loss"] += lost

    def rank(self, market: int, now: MarketNow) -> list[str]:
        """Profitable positions in `market`, by unrealized PnL at the exit price / equity,
        descending (the order Engine.auto_deleverage verifies; chain reads)."""
        r = self.r
        book = r.book
        rules = book.rules[market]
        skew = now.long_oi - now.short_oi
        holders = sorted(i for i in book.holders if book.size[market][i] != 0)
        scored = []
        e = r.wire.health_at["equity"]
        for start in range(0, len(holders), HEALTH_BATCH):
            chunk = holders[start : start + HEALTH_BATCH]
            data = r.wire.sel_accounts_health + word(32) + word_array([book.address_words[i] for i in chunk])
            healths = static_tuple_array(r.chain.call(r.wire.lens_addr, data), r.wire.health_words)
            for idx, health in zip(chunk, healths):
                size = book.size[market][idx]
                exit_ = model.exit_price(now.index, skew, size, rules.skew_scale, rules.max_premium)
                pnl = model.pnl(size, exit_, book.entry[market][idx])
                if pnl > 0:
                    scored.append((-max(pnl * WAD // max(health[e], 1), 1), idx))
        scored.sort()
        return [book.addresses[idx] for _, idx in scored]


__all__ = ["AgentConfig", "BasisTraders", "DirectionalTraders", "Keepers", "LiquidityProviders", "max_notional"]
