"""Parameters of the funding products (issue 14) in human units: the `[swaps]` and
`[caps]` tables of a deployment parameter file.

A table deploys its contract unless it says ``enabled = false``; a file without the
table deploys nothing (the replays build their parameters in code and never name them,
so their deployments, and fingerprints, do not change). Every key is optional and falls
back to the defaults below; an unknown key, a bad value or a market the file does not
list is a ValueError naming the key. The bounds are the contracts' own (FundingSwaps'
``_set_margin`` / ``_set_quote`` / ``set_liquidation_config`` / ``set_open_interest_cap``,
FundingCaps' ``list_product`` / ``set_volatility`` / ``set_pricing``), checked here so a
deployment fails before its first transaction.

Times to list are relative to the deployment: a maturity ``days`` after it, a cap
product starting ``start_days`` after it, both rounded up to the next 8-hour funding
boundary (00:00, 08:00, 16:00 UTC), so a listed time does not depend on the block the
deployment happened to land in.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

from .swaps import SwapParams
from .units import WAD, wad

_DEFAULT = SwapParams()

FUNDING_PERIOD = 8 * 3600
DAY = 86_400
MAX_MATURITIES = 8  # FundingSwaps.MAX_MATURITIES (per market)
MAX_PERIODS = 32  # FundingCaps.MAX_PERIODS
MAX_PERIOD_LENGTH = 30 * DAY  # FundingCaps.MAX_PERIOD_LENGTH
MAX_FIXED_RATE = 0.01  # FundingSwaps.MAX_FIXED_RATE (1 % per 8h)


def align(timestamp: int, step: int = FUNDING_PERIOD) -> int:
    """`timestamp` rounded up to a multiple of `step` (the next funding boundary)."""
    return -(-int(timestamp) // step) * step


@dataclass(frozen=True)
class Maturity:
    """A swap book to list: `market` (a symbol of the file) maturing `days` after deployment."""

    market: str
    days: float

    def timestamp(self, now: int) -> int:
        return align(now + int(round(self.days * DAY)))


@dataclass(frozen=True)
class SwapsParams:
    """FundingSwaps' configuration (the `[swaps]` table)."""

    # Defaults: FundingSwaps' own (vyperp.protocol.swaps.SwapParams), in human units, so a
    # params file and a script deploy the same contract configuration.
    enabled: bool = True
    initial_k: float = _DEFAULT.initial_k / WAD  # initial margin = k * |S| * P * horizon / 8h * max(|rate|, rate_floor)
    maintenance_k: float = _DEFAULT.maintenance_k / WAD
    time_floor: int = _DEFAULT.time_floor  # seconds: the margin assumes at least this long left
    rate_floor: float = _DEFAULT.rate_floor / WAD  # per 8h: and at least this rate
    reward_rate: float = _DEFAULT.reward_rate / WAD  # keeper reward, fraction of the closed notional
    penalty_rate: float = _DEFAULT.penalty_rate / WAD  # to the pool, fraction of the closed notional
    skew_scale_fraction: float = _DEFAULT.skew_scale_fraction / WAD  # gross swap OI <= this x skew_scale (0: off)
    perp_open_interest_fraction: float = _DEFAULT.perp_open_interest_fraction / WAD  # and <= this x perp OI (0: off)
    ema_period: int = _DEFAULT.ema_period  # seconds: the mark rate's EMA period
    base_spread: float = _DEFAULT.base_spread / WAD  # per 8h either side of the mark
    skew_slope: float = (
        _DEFAULT.skew_slope / WAD
    )  # per 8h per unit of book skew / skew_scale (1/4: carrying skew cannot pay)
    utilisation_slope: float = _DEFAULT.utilisation_slope / WAD  # per 8h at a full OI cap
    maturities: tuple[Maturity, ...] = ()

    def contract_params(self) -> SwapParams:
        """The 1e18 / seconds values FundingSwaps takes (:class:`vyperp.protocol.swaps.SwapParams`)."""
        return SwapParams(
            initial_k=wad(self.initial_k),
            maintenance_k=wad(self.maintenance_k),
            time_floor=int(self.time_floor),
            rate_floor=wad(self.rate_floor),
            reward_rate=wad(self.reward_rate),
            penalty_rate=wad(self.penalty_rate),
            skew_scale_fraction=wad(self.skew_scale_fraction),
            perp_open_interest_fraction=wad(self.perp_open_interest_fraction),
            ema_period=int(self.ema_period),
            base_spread=wad(self.base_spread),
            skew_slope=wad(self.skew_slope),
            utilisation_slope=wad(self.utilisation_slope),
        )


@dataclass(frozen=True)
class CapProduct:
    """A strip to list: `kind` "cap" or "floor" on `market`'s funding rate at `strike`
    (per 8h), `periods` caplets of `period` seconds from `start_days` after deployment,
    selling at most `max_notional` USD."""

    market: str
    kind: str = "cap"
    strike: float = 0.0003
    start_days: float = 1.0
    period: int = FUNDING_PERIOD
    periods: int = 21
    max_notional: float = 1_000_000.0

    @property
    def is_floor(self) -> bool:
        return self.kind == "floor"

    def start(self, now: int) -> int:
        return align(now + int(round(self.start_days * DAY)))


@dataclass(frozen=True)
class CapsParams:
    """FundingCaps' configuration (the `[caps]` table)."""

    enabled: bool = True
    twap_window: int = 3_600  # seconds an observation ages before it prices a purchase
    spread: float = 0.1  # fraction over the Bachelier price
    min_premium: float = 1.0  # USD
    volatility: dict[str, float] = field(default_factory=dict)  # symbol -> sigma (per-8h rate per sqrt(year))
    products: tuple[CapProduct, ...] = ()


# ----------------------------------------------------------------------------- parsing
def _coerce(cls: type, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected a table, got {data!r}")
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"{where}: unknown parameter {unknown[0]!r} (known: {', '.join(sorted(known))})")
    return data


def _maturity(item: Any, where: str) -> Maturity:
    if isinstance(item, (list, tuple)):
        if len(item) != 2:
            raise ValueError(f"{where}: expected [MARKET, DAYS], got {item!r}")
        item = {"market": item[0], "days": item[1]}
    data = _coerce(Maturity, item, where)
    if "market" not in data or "days" not in data:
        raise ValueError(f"{where}: needs market and days")
    days = data["days"]
    if isinstance(days, bool) or not isinstance(days, (int, float)):
        raise ValueError(f"{where}.days: expected a number, got {days!r}")
    return Maturity(str(data["market"]), float(days))


def swaps_params(data: dict[str, Any], where: str = "swaps") -> SwapsParams:
    """A `[swaps]` table as SwapsParams (defaults for missing keys). Raises ValueError naming the key."""
    data = dict(_coerce(SwapsParams, data, where))
    maturities = tuple(_maturity(m, f"{where}.maturities[{i}]") for i, m in enumerate(data.pop("maturities", [])))
    return replace(SwapsParams(), **data, maturities=maturities)


def caps_params(data: dict[str, Any], where: str = "caps") -> CapsParams:
    """A `[caps]` table as CapsParams. Raises ValueError naming the key."""
    data = dict(_coerce(CapsParams, data, where))
    products = []
    for i, item in enumerate(data.pop("products", [])):
        product = _coerce(CapProduct, item, f"{where}.products[{i}]")
        if "market" not in product:
            raise ValueError(f"{where}.products[{i}]: needs market")
        products.append(CapProduct(**product))
    volatility = data.pop("volatility", {})
    if not isinstance(volatility, dict):
        raise ValueError(f"{where}.volatility: expected a table SYMBOL = SIGMA, got {volatility!r}")
    return replace(
        CapsParams(), **data, volatility={str(k): float(v) for k, v in volatility.items()}, products=tuple(products)
    )


# ----------------------------------------------------------------------------- validation
def _check(ok: bool, key: str, message: str) -> None:
    if not ok:
        raise ValueError(f"{key}: {message}")


def _number(value: Any, key: str) -> None:
    _check(isinstance(value, (int, float)) and not isinstance(value, bool), key, f"expected a number, got {value!r}")
    _check(value >= 0, key, f"must not be negative, got {value!r}")


def validate_swaps(p: SwapsParams, symbols: list[str], where: str = "swaps") -> None:
    """The contract's bounds on every key of `p` (ValueError naming the key)."""
    _check(isinstance(p.enabled, bool), f"{where}.enabled", f"expected true or false, got {p.enabled!r}")
    for f in fields(SwapsParams):
        if f.name not in ("enabled", "maturities"):
            _number(getattr(p, f.name), f"{where}.{f.name}")
    _check(p.maintenance_k > 0, f"{where}.maintenance_k", "must be above 0")
    _check(p.initial_k > p.maintenance_k, f"{where}.initial_k", f"must be above maintenance_k ({p.maintenance_k})")
    _check(p.initial_k <= 100, f"{where}.initial_k", "must be at most 100")
    _check(p.time_floor <= 365 * DAY, f"{where}.time_floor", "must be at most a year (31536000 seconds)")
    _check(p.rate_floor <= MAX_FIXED_RATE, f"{where}.rate_floor", "must be at most 0.01 (1 % per 8h)")
    for key in ("reward_rate", "penalty_rate"):
        _check(getattr(p, key) <= 0.1, f"{where}.{key}", "must be at most 0.1 (10 %)")
    for key in ("skew_scale_fraction", "perp_open_interest_fraction"):
        _check(getattr(p, key) <= 1, f"{where}.{key}", "must be at most 1")
    _check(0 < p.ema_period <= 30 * DAY, f"{where}.ema_period", "must be 1 second to 30 days")
    for key in ("base_spread", "utilisation_slope"):
        _check(getattr(p, key) <= MAX_FIXED_RATE, f"{where}.{key}", "must be at most 0.01 (1 % per 8h)")
    _check(p.skew_slope <= 1, f"{where}.skew_slope", "must be at most 1 (FundingSwaps' bound)")
    for key in ("time_floor", "ema_period"):
        _check(float(getattr(p, key)).is_integer(), f"{where}.{key}", "must be a whole number of seconds")
    seen: dict[str, set[float]] = {}
    for i, m in enumerate(p.maturities):
        key = f"{where}.maturities[{i}]"
        _check(m.market in symbols, key, f"unknown market {m.market!r} (markets: {', '.join(symbols)})")
        _check(m.days > 0, key, f"days must be above 0, got {m.days}")
        _check(m.days * DAY < 2**63, key, "days too large")
        _check(m.days not in seen.setdefault(m.market, set()), key, f"{m.market} {m.days} days listed twice")
        seen[m.market].add(m.days)
        _check(len(seen[m.market]) <= MAX_MATURITIES, key, f"at most {MAX_MATURITIES} maturities per market")


def validate_caps(p: CapsParams, max_funding_rates: dict[str, float], where: str = "caps") -> None:
    """The contract's bounds on every key of `p`; `max_funding_rates` maps the file's
    market symbols to their funding caps (a strike at or beyond one is refused)."""
    symbols = list(max_funding_rates)
    _check(isinstance(p.enabled, bool), f"{where}.enabled", f"expected true or false, got {p.enabled!r}")
    for key in ("twap_window", "spread", "min_premium"):
        _number(getattr(p, key), f"{where}.{key}")
    _check(
        p.twap_window > 0 and float(p.twap_window).is_integer(),
        f"{where}.twap_window",
        "must be a whole number of seconds above 0",
    )
    _check(p.spread <= 1, f"{where}.spread", "must be at most 1 (100 %)")
    for symbol, sigma in p.volatility.items():
        key = f"{where}.volatility.{symbol}"
        _check(symbol in symbols, key, f"unknown market {symbol!r} (markets: {', '.join(symbols)})")
        _number(sigma, key)
        _check(sigma <= 1, key, "must be at most 1")
    for i, c in enumerate(p.products):
        key = f"{where}.products[{i}]"
        _check(c.market in symbols, f"{key}.market", f"unknown market {c.market!r} (markets: {', '.join(symbols)})")
        _check(c.kind in ("cap", "floor"), f"{key}.kind", f'must be "cap" or "floor", got {c.kind!r}')
        _check(
            isinstance(c.strike, (int, float)) and not isinstance(c.strike, bool),
            f"{key}.strike",
            f"expected a number, got {c.strike!r}",
        )
        for name in ("start_days", "max_notional"):
            _number(getattr(c, name), f"{key}.{name}")
        cap = max_funding_rates[c.market]
        headroom = c.strike + cap if c.is_floor else cap - c.strike
        _check(headroom > 0, f"{key}.strike", f"beyond the market's funding cap (max_funding_rate {cap})")
        _check(c.start_days > 0, f"{key}.start_days", "must be above 0 (the strip starts after the deployment)")
        _check(
            isinstance(c.period, int) and 0 < c.period <= MAX_PERIOD_LENGTH,
            f"{key}.period",
            f"must be 1 to {MAX_PERIOD_LENGTH} seconds",
        )
        _check(
            isinstance(c.periods, int) and 1 <= c.periods <= MAX_PERIODS,
            f"{key}.periods",
            f"must be 1 to {MAX_PERIODS}",
        )
        _check(c.max_notional > 0, f"{key}.max_notional", "must be above 0")


__all__ = [
    "CapProduct",
    "CapsParams",
    "FUNDING_PERIOD",
    "Maturity",
    "SwapsParams",
    "align",
    "caps_params",
    "swaps_params",
    "validate_caps",
    "validate_swaps",
]
