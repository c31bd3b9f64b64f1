"""An options desk: a market maker short a book of BTC options, delta-hedging through the perp.

Arithmetic (pure functions, floats, deterministic):

* **Black-Scholes with r = 0** (and no dividend/borrow): crypto options are quoted on a
  forward that, over the days of these expiries, is the index to within basis points,
  so the rate term is dropped. With ``sigma * sqrt(T)`` written ``v``::

      d1 = (ln(S / K) + v^2 / 2) / v        d2 = d1 - v
      call = S N(d1) - K N(d2)              put = K N(-d2) - S N(-d1)
      delta_call = N(d1)                    delta_put = N(d1) - 1
      gamma = n(d1) / (S v)                 (the same for calls and puts)

  Put-call parity holds exactly: ``call - put = S - K`` and ``delta_call - delta_put = 1``.
  At or after expiry (``T <= 0``) or with zero volatility the value is intrinsic and the
  delta the indicator of being in the money (``1{S > K}`` for a call, ``-1{S < K}`` for a
  put; 0 at the strike), gamma 0. ``S <= 0`` or ``K <= 0`` raises ``ValueError``.
* **The book** (:func:`build_book`): for every expiry (``expiries_days``, counted from
  the first step) and every strike ``moneyness x S0`` (default 90-110 % in 5 % steps), a
  call and a put, each ``size_btc`` BTC, all sold (negative quantities). A short call has
  delta ``-N(d1) < 0``, a short put ``1 - N(d1) > 0``; the book is short gamma, so a
  rise makes its delta more negative (the hedge buys) and a fall more positive (the
  hedge sells): the hedge trades with the move, the flow that amplifies a cascade.
* **The implied-volatility rule** (:class:`ImpliedVol`): realized volatility is an EWMA
  of squared index log returns, ``var_t = lam var_{t-1} + (1 - lam) r_t^2`` with
  ``lam = 0.5 ** (1 / rv_half_life_steps)``, seeded at ``iv_base`` (per-step variance
  ``iv_base^2 x step_seconds / year``), annualized ``RV_t = sqrt(var_t x year / step_seconds)``
  (year = 365 days). Then::

      IV_t = min(iv_cap, max(iv_floor, iv_a x iv_base + iv_b x RV_t))

  With ``iv_a + iv_b = 1`` (the default 0.8 + 0.2) IV sits at ``iv_base`` while the market
  moves at that volatility; a burst of large returns spikes RV within a few half-lives and
  IV with it (the "volatility event"), and it decays back as the moves calm. The rule
  sees only the index the oracle reports (the impacted price when impact is on).
* **The rebalancing band** (:func:`hedge_trade`): with book delta ``D`` (BTC) and perp
  hedge ``H`` (BTC, signed), the net delta is ``D + H``. Inside ``|D + H| <= band_btc``
  the desk does nothing; beyond it, it trades to the band's edge,
  ``trade = -(D + H - sign(D + H) x band)``, so the traded size equals the delta change
  beyond the band (the classic band rule: no trade on noise, the whole excess on a move).

The agent (:class:`OptionsDesk`) has its own margin account on the venue: it deposits
``collateral_usd`` before the first step; its perp position is the hedge, so its margin
is exposed to the hedge's P&L and it can be liquidated by the keepers like any account
(the premium it collected and the option book are off-venue: they are not margin). Each
step, after the keepers, it reads the index, updates IV, reads its own account health
(one ``account_health`` call), notices a hedge the keepers cut (liquidation or ADL:
the position differs from what it last traded to), and trades the perp with a
``slippage`` bound through the replay's transaction path. Every hedge trade is also
forced spot flow (``options_desk_hedge``, signed USD at the index), so the impact model
moves the next step's oracle price with it, as it does with liquidations. A reverted
hedge (e.g. the initial-margin check refuses the increase) is counted and retried the
next step; the desk never tops its margin up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..protocol.units import WAD
from .agents import ReplayContext, _usd_tokens
from .chainio import word
from .spec_table import Kind, spec_from_table


class DeskContext(ReplayContext, Protocol):
    """What the desk uses of the replay: the agents' context plus the engine contract
    (its ``account_health`` calldata and event signatures)."""

    engine: Any


YEAR_SECONDS = 365 * 86_400
KINDS = ("call", "put")


# ================================================================ Black-Scholes (r = 0)
def norm_cdf(x: float) -> float:
    """Standard normal CDF."""
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def norm_pdf(x: float) -> float:
    """Standard normal density."""
    return math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


def _check(kind: str, spot: float, strike: float) -> None:
    if kind not in KINDS:
        raise ValueError(f"option kind must be 'call' or 'put', got {kind!r}")
    if not spot > 0 or not strike > 0:
        raise ValueError(f"spot and strike must be > 0, got spot={spot!r} strike={strike!r}")


def _d1(spot: float, strike: float, v: float) -> float:
    return (math.log(spot / strike) + 0.5 * v * v) / v


def bs_price(kind: str, spot: float, strike: float, t_years: float, vol: float) -> float:
    """Black-Scholes value (r = 0) of one option on one coin (USD). Intrinsic when
    ``t_years <= 0`` or ``vol <= 0``. Raises ``ValueError`` on a non-positive spot or
    strike or an unknown kind."""
    _check(kind, spot, strike)
    v = vol * math.sqrt(t_years) if t_years > 0 and vol > 0 else 0.0
    if v == 0.0:
        return max(spot - strike, 0.0) if kind == "call" else max(strike - spot, 0.0)
    d1 = _d1(spot, strike, v)
    d2 = d1 - v
    if kind == "call":
        return spot * norm_cdf(d1) - strike * norm_cdf(d2)
    return strike * norm_cdf(-d2) - spot * norm_cdf(-d1)


def bs_delta(kind: str, spot: float, strike: float, t_years: float, vol: float) -> float:
    """dV/dS of one long option (call in [0, 1], put in [-1, 0]); at expiry the indicator
    of being in the money (0 at the strike)."""
    _check(kind, spot, strike)
    v = vol * math.sqrt(t_years) if t_years > 0 and vol > 0 else 0.0
    if v == 0.0:
        if kind == "call":
            return 1.0 if spot > strike else 0.0
        return -1.0 if spot < strike else 0.0
    nd1 = norm_cdf(_d1(spot, strike, v))
    return nd1 if kind == "call" else nd1 - 1.0


def bs_gamma(kind: str, spot: float, strike: float, t_years: float, vol: float) -> float:
    """d2V/dS2 of one long option (per USD of spot; 0 at expiry)."""
    _check(kind, spot, strike)
    v = vol * math.sqrt(t_years) if t_years > 0 and vol > 0 else 0.0
    if v == 0.0:
        return 0.0
    return norm_pdf(_d1(spot, strike, v)) / (spot * v)


# =========================================================================== the book
@dataclass(frozen=True)
class OptionLeg:
    """One line of the book: ``quantity`` coins (negative = sold) of a call or put."""

    kind: str
    strike: float  # USD
    expiry_ts: int  # unix seconds
    quantity: float  # coins, signed

    def years_left(self, now_ts: int) -> float:
        return max(self.expiry_ts - now_ts, 0) / YEAR_SECONDS


@dataclass(frozen=True)
class DeskSpec:
    """``[population.options_desk]`` of a scenario (every key optional; see the module)."""

    market: str | None = None  # symbol; default the scenario's first market
    moneyness: tuple[float, ...] = (0.90, 0.95, 1.00, 1.05, 1.10)
    expiries_days: tuple[float, ...] = (1.0, 3.0, 7.0)
    size_btc: float = 10.0  # sold per (strike, expiry, kind)
    collateral_usd: float = 2_000_000.0
    band_btc: float = 2.0
    slippage: float = 0.02
    iv_base: float = 0.45
    iv_a: float = 0.8
    iv_b: float = 0.2
    iv_floor: float = 0.25
    iv_cap: float = 3.0
    rv_half_life_steps: float = 30.0

    def __post_init__(self) -> None:
        if not self.moneyness or any(not k > 0 for k in self.moneyness):
            raise ValueError(f"moneyness must be positive fractions of the first index, got {self.moneyness!r}")
        if not self.expiries_days or any(not d > 0 for d in self.expiries_days):
            raise ValueError(f"expiries_days must be positive, got {self.expiries_days!r}")
        for key in ("size_btc", "collateral_usd", "iv_base", "iv_cap", "rv_half_life_steps"):
            if not getattr(self, key) > 0:
                raise ValueError(f"{key} must be > 0, got {getattr(self, key)!r}")
        for key in ("band_btc", "iv_a", "iv_b", "iv_floor"):
            if getattr(self, key) < 0:
                raise ValueError(f"{key} must be >= 0, got {getattr(self, key)!r}")
        if not 0 < self.slippage < 1:
            raise ValueError(f"slippage must be in (0, 1), got {self.slippage!r}")
        if self.iv_floor > self.iv_cap:
            raise ValueError(f"iv_floor ({self.iv_floor}) must be <= iv_cap ({self.iv_cap})")

    @classmethod
    def from_table(cls, tbl: dict[str, Any]) -> DeskSpec:
        """From a TOML table (lists for the tuples). Raises ``ValueError`` naming a wrong key."""
        kinds: dict[str, Kind] = {"market": "string", "moneyness": "numbers", "expiries_days": "numbers"}
        return spec_from_table(cls, tbl, kinds)  # type: ignore[no-any-return]


def build_book(spec: DeskSpec, spot0: float, start_ts: int) -> list[OptionLeg]:
    """The sold book: a call and a put of ``size_btc`` at each strike x expiry."""
    legs = []
    for days in spec.expiries_days:
        expiry = start_ts + int(round(days * 86_400))
        for k in spec.moneyness:
            for kind in KINDS:
                legs.append(OptionLeg(kind, k * spot0, expiry, -spec.size_btc))
    return legs


def book_delta(legs: list[OptionLeg], spot: float, now_ts: int, vol: float) -> float:
    """The book's delta in coins (short calls negative, short puts positive)."""
    return sum(leg.quantity * bs_delta(leg.kind, spot, leg.strike, leg.years_left(now_ts), vol) for leg in legs)


def book_gamma(legs: list[OptionLeg], spot: float, now_ts: int, vol: float) -> float:
    """The book's gamma (coins per USD; negative for a short book)."""
    return sum(leg.quantity * bs_gamma(leg.kind, spot, leg.strike, leg.years_left(now_ts), vol) for leg in legs)


def book_value(legs: list[OptionLeg], spot: float, now_ts: int, vol: float) -> float:
    """The book's model value (USD; negative for a short book: what buying it back costs)."""
    return sum(leg.quantity * bs_price(leg.kind, spot, leg.strike, leg.years_left(now_ts), vol) for leg in legs)


def hedge_trade(delta: float, hedge: float, band: float) -> float:
    """The perp trade (coins, + = buy) that brings ``delta + hedge`` back to the band's
    edge, or 0 inside ``|delta + hedge| <= band``."""
    net = delta + hedge
    if abs(net) <= band:
        return 0.0
    return -(net - math.copysign(band, net))


# ==================================================================== the IV rule
class ImpliedVol:
    """IV from an EWMA of realized volatility (the rule of the module docstring)."""

    def __init__(self, spec: DeskSpec, step_seconds: float):
        if not step_seconds > 0:
            raise ValueError(f"step_seconds must be > 0, got {step_seconds!r}")
        self.spec = spec
        self.per_year = YEAR_SECONDS / step_seconds
        self.lam = 0.5 ** (1.0 / spec.rv_half_life_steps)
        self.var = spec.iv_base**2 / self.per_year  # per-step variance
        self.last: float | None = None

    @property
    def realized(self) -> float:
        """The annualized realized volatility now."""
        return math.sqrt(self.var * self.per_year)

    @property
    def iv(self) -> float:
        s = self.spec
        return min(s.iv_cap, max(s.iv_floor, s.iv_a * s.iv_base + s.iv_b * self.realized))

    def update(self, price: float) -> float:
        """Feed this step's index (> 0); returns IV after it (the first price only anchors)."""
        if not price > 0:
            raise ValueError(f"price must be > 0, got {price!r}")
        if self.last is not None:
            r = math.log(price / self.last)
            self.var = self.lam * self.var + (1.0 - self.lam) * r * r
        self.last = price
        return self.iv


# ======================================================================== the agent
@dataclass
class DeskRow:
    step: int
    index: float
    iv: float
    realized_vol: float
    book_delta: float  # coins
    hedge_before: float  # perp position before this step's trade (coins)
    trade: float  # coins traded this step (+ = bought)
    hedge_after: float
    option_value: float  # USD (negative: the short book's liability)
    equity: float  # the desk's venue equity before the trade (USD)
    maintenance: float  # its maintenance requirement (USD)


@dataclass
class DeskStats:
    hedge_trades: int = 0
    hedge_reverted: int = 0
    traded_coins: float = 0.0
    traded_usd: float = 0.0
    max_step_usd: float = 0.0
    fees_usd: float = 0.0
    cut_events: list[dict[str, Any]] = field(default_factory=list)  # hedge reduced by keepers


class OptionsDesk:
    """The options market maker (see the module docstring). ``replay`` is the
    :class:`~vyperp.sim.runner.Replay` (a :class:`DeskContext`)."""

    def __init__(self, replay: DeskContext, spec: DeskSpec, step_seconds: float):
        self.r = replay
        self.spec = spec
        symbols = list(replay.scenario.symbols)
        symbol = spec.market or symbols[0]
        if symbol not in symbols:
            raise ValueError(f"options_desk market {symbol!r} is not a market of the scenario ({', '.join(symbols)})")
        self.m = symbols.index(symbol)
        self.symbol = symbol
        self.iv = ImpliedVol(spec, step_seconds)
        self.legs: list[OptionLeg] = []
        self.rows: list[DeskRow] = []
        self.stats = DeskStats()
        self.expected = 0  # perp size (1e18 coins) after the desk's last own trade
        self.premium = 0.0
        self.deposit_tokens = _usd_tokens(spec.collateral_usd, replay.decimals)

    def setup(self) -> None:
        r = self.r
        self.account, self.idx = r.new_agent("options-desk", self.deposit_tokens)
        r.tx.send(
            "setup_desk_deposit", self.account, r.wire.engine_addr, r.wire.sel_deposit + word(self.deposit_tokens)
        )
        engine = r.engine
        self._health_cd = engine.account_health.calldata(self.account)

    def health(self) -> tuple[float, float]:
        """(equity, maintenance requirement) of the desk's account now, USD."""
        out = self.r.chain.call(self.r.wire.engine_addr, self._health_cd)
        health = self.r.engine.account_health.decode_output(out)  # read by field name
        return int(health.equity) / WAD, int(health.maintenance_margin) / WAD

    def act(self, step: int) -> None:
        r = self.r
        m = self.m
        now = r.markets[m]
        spot = now.index / WAD
        ts = int(r.chain.time)
        if not self.legs:
            self.legs = build_book(self.spec, spot, ts)
        vol = self.iv.update(spot)
        size = r.book.size[m][self.idx]
        if size != self.expected:  # the keepers cut the hedge (liquidation or ADL)
            cut = (self.expected - size) / WAD
            self.stats.cut_events.append({"step": step, "coins": cut, "notional_usd": abs(cut) * spot})
            self.expected = size
        equity, maintenance = self.health()
        delta = book_delta(self.legs, spot, ts, vol)
        value = book_value(self.legs, spot, ts, vol)
        if step == 0:
            self.premium = -value
        hedge = size / WAD
        trade = hedge_trade(delta, hedge, self.spec.band_btc)
        coins = int(round(trade * 1e6)) * 10**12
        done = 0
        if coins:
            done = self._trade(coins, now.mark, now.index)
        self.rows.append(
            DeskRow(
                step,
                spot,
                vol,
                self.iv.realized,
                delta,
                hedge,
                done / WAD,
                (size + done) / WAD,
                value,
                equity,
                maintenance,
            )
        )

    def _trade(self, coins: int, mark: int, index: int) -> int:
        r = self.r
        slip = int(self.spec.slippage * 10**6)
        bound = mark * (10**6 + slip) // 10**6 if coins > 0 else mark * (10**6 - slip) // 10**6
        out = r.tx.send("desk_hedge", self.account, r.wire.engine_addr, r.wire.trade_calldata(self.m, coins, bound))
        if out is None:
            self.stats.hedge_reverted += 1
            return 0
        for event in r.engine.decode_logs(r.chain.last_receipt):
            if event.name == "PositionModified":
                self.stats.fees_usd += int(event["fee"]) / WAD
        self.expected += coins
        usd_wad = coins * index // WAD
        r.spot[self.m].add_flow(usd_wad, "options_desk_hedge")
        st = self.stats
        st.hedge_trades += 1
        st.traded_coins += abs(coins) / WAD
        st.traded_usd += abs(usd_wad) / WAD
        st.max_step_usd = max(st.max_step_usd, abs(usd_wad) / WAD)
        return coins

    # ------------------------------------------------------------------ outputs
    COLUMNS = (
        "desk_iv",
        "desk_realized_vol",
        "desk_book_delta",
        "desk_hedge",
        "desk_trade",
        "desk_option_pnl",
        "desk_perp_pnl",
        "desk_pnl",
        "desk_equity",
        "desk_margin_ratio",
    )

    def annotate(self, row: dict[str, Any]) -> None:
        """Add this step's desk columns (:data:`COLUMNS`) to the replay's time-series row."""
        d = self.rows[-1]
        option_pnl = d.option_value + self.premium
        perp_pnl = d.equity - self.spec.collateral_usd
        row["desk_iv"] = d.iv
        row["desk_realized_vol"] = d.realized_vol
        row["desk_book_delta"] = d.book_delta
        row["desk_hedge"] = d.hedge_after
        row["desk_trade"] = d.trade
        row["desk_option_pnl"] = option_pnl
        row["desk_perp_pnl"] = perp_pnl
        row["desk_pnl"] = option_pnl + perp_pnl
        row["desk_equity"] = d.equity
        row["desk_margin_ratio"] = d.equity / d.maintenance if d.maintenance > 0 else float("inf")

    def report(self) -> dict[str, Any]:
        """The report's ``options_desk`` section (USD, coins, IV as a fraction per year)."""
        rows = self.rows
        st = self.stats
        equity_end, maintenance_end = self.health()
        last = rows[-1]
        now_spot = self.r.markets[self.m].index / WAD
        value_end = book_value(self.legs, now_spot, int(self.r.chain.time), last.iv)
        option_pnl = value_end + self.premium
        perp_pnl = equity_end - self.spec.collateral_usd
        ratios = [d.equity / d.maintenance for d in rows if d.maintenance > 0]
        ivs = [d.iv for d in rows]
        peak = max(range(len(ivs)), key=ivs.__getitem__)
        return {
            "market": self.symbol,
            "book": {
                "legs": len(self.legs),
                "sold_coins": sum(-leg.quantity for leg in self.legs),
                "strikes_usd": sorted({round(leg.strike, 2) for leg in self.legs}),
                "expiries_days": list(self.spec.expiries_days),
                "premium_usd": self.premium,
            },
            "spec": {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.spec.__dict__.items()},
            "hedge_flow": {
                "trades": st.hedge_trades,
                "reverted": st.hedge_reverted,
                "traded_coins": st.traded_coins,
                "traded_notional_usd": st.traded_usd,
                "max_step_notional_usd": st.max_step_usd,
                "max_abs_hedge_coins": max(abs(d.hedge_after) for d in rows),
                "max_abs_book_delta_coins": max(abs(d.book_delta) for d in rows),
                "hedge_end_coins": self.expected / WAD,
            },
            "pnl": {
                "option_book_usd": option_pnl,
                "perp_usd": perp_pnl,
                "fees_usd": st.fees_usd,
                "total_usd": option_pnl + perp_pnl,
                "min_total_usd": min(d.option_value + self.premium + d.equity - self.spec.collateral_usd for d in rows),
                "notes": "option book = premium received - model value now (at the IV of the rule); perp = venue "
                "equity - deposit (realized and unrealized PnL, funding, fees: fees_usd is inside it)",
            },
            "margin": {
                "deposit_usd": self.spec.collateral_usd,
                "equity_min_usd": min(d.equity for d in rows),
                "equity_end_usd": equity_end,
                "margin_ratio_min": min(ratios) if ratios else None,
                "margin_ratio_end": equity_end / maintenance_end if maintenance_end > 0 else None,
            },
            "liquidated": bool(st.cut_events),  # the keepers cut the hedge (liquidation, or ADL if it ran)
            "hedge_cuts": st.cut_events,
            "hedge_cut_notional_usd": sum(e["notional_usd"] for e in st.cut_events),
            "iv": {
                "start": ivs[0],
                "peak": ivs[peak],
                "peak_step": rows[peak].step,
                "end": ivs[-1],
                "realized_peak": max(d.realized_vol for d in rows),
                "rule": "IV = min(iv_cap, max(iv_floor, iv_a*iv_base + iv_b*RV)), RV = EWMA of squared index "
                "log returns (half-life rv_half_life_steps), annualized over 365 days",
            },
        }


__all__ = [
    "DeskSpec",
    "ImpliedVol",
    "OptionLeg",
    "OptionsDesk",
    "bs_delta",
    "bs_gamma",
    "bs_price",
    "book_delta",
    "book_gamma",
    "book_value",
    "build_book",
    "hedge_trade",
    "norm_cdf",
]
