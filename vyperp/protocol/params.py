"""Protocol parameters in human units, converted to the contracts' structs.

A market's parameters come from a TOML file (`params/*.toml`) or a scenario's
`params` table; every key is optional and falls back to the defaults below.
Rates are fractions (0.0005 = 5 bp), money is USD, sizes are coins.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from .product_params import CapsParams, SwapsParams, caps_params, swaps_params, validate_caps, validate_swaps
from .structs import struct
from .units import WAD, wad

FUNDING_MODELS = {"linear": 0, "nonlinear": 1, "velocity": 2}
MAX_UINT = 2**256 - 1
MAX_BRACKETS = 10  # contracts/margin_brackets.vy


@dataclass(frozen=True)
class Bracket:
    """A notional bracket: up to `notional_ceiling` USD, marginal IM and MM rates."""

    notional_ceiling: float
    initial_margin_rate: float
    maintenance_margin_rate: float

    def fields(self) -> dict[str, int]:
        """The MarginBracket struct by field name."""
        ceiling = MAX_UINT if self.notional_ceiling == float("inf") else wad(self.notional_ceiling)
        return {
            "notional_ceiling": ceiling,
            "initial_margin_rate": wad(self.initial_margin_rate),
            "maintenance_margin_rate": wad(self.maintenance_margin_rate),
        }

    def to_struct(self) -> tuple[int, int, int]:
        return struct("MarginBracket", self.fields())  # type: ignore[no-any-return]


@dataclass(frozen=True)
class MarketParams:
    """Everything the engine needs to list one market (see contracts/engine_types.vy)."""

    symbol: str = "BTC"
    initial_price: float = 100_000.0
    oracle_decimals: int = 8
    max_oracle_age: int = 3600
    max_price_jump: float = 0.25
    skew_scale_usd: float = 2_000_000_000.0  # skew notional at which the premium is 100 %
    max_premium: float = 0.05
    taker_fee: float = 0.0005
    maker_fee: float = 0.0002
    max_open_interest_usd: float = 1_000_000_000.0
    interest_rate: float = 0.0001
    funding_clamp: float = 0.0005
    max_funding_rate: float = 0.003
    funding_model: str = "linear"
    nonlinear_threshold: float = 0.001
    nonlinear_coefficient: float = 100.0
    funding_velocity: float = 0.03
    size_tier_notional: float = 0.0
    size_tier_multiplier: float = 1.0
    brackets: tuple[Bracket, ...] = (Bracket(float("inf"), 0.1, 0.05),)
    variance_ewma_weight: float = 0.0
    reference_volatility: float = 0.002
    volatility_weight: float = 0.0
    funding_weight: float = 0.0
    funding_ema_period: int = 8 * 3600
    max_multiplier: float = 1.0
    apply_to_maintenance: bool = False
    rate_limit_window: int = 0
    rate_limit_notional: float = 0.0
    # pool-depth bounds (the safety issue): 0 turns each off
    max_open_interest_pool_ratio: float = 0.0  # per side, OI notional <= this x pool balance
    max_pnl_pool_ratio: float = 0.5  # a side's profit counts up to this x pool balance
    adl_pnl_pool_ratio: float = 0.45  # ADL of the side opens above this x pool balance
    transfer_margin_ratio: float = 0.1  # withdrawals keep equity >= this x notional
    delayed_orders: bool = False  # risk-increasing trades only as delayed orders
    order_ttl: int = 300  # seconds a delayed order stays executable
    oracle: str | None = None  # a Chainlink AggregatorV3 feed (None: deploy a MockOracle)

    def __post_init__(self) -> None:
        if not self.initial_price > 0:
            raise ValueError(f"{self.symbol}: initial_price must be positive, got {self.initial_price}")
        if self.oracle is not None and not is_address(self.oracle):
            raise ValueError(f"{self.symbol}: oracle must be a 0x-prefixed 20-byte address, got {self.oracle!r}")
        if not 1 <= len(self.brackets) <= MAX_BRACKETS:
            raise ValueError(f"{self.symbol}: 1 to {MAX_BRACKETS} margin brackets, got {len(self.brackets)}")

    def skew_scale(self) -> int:
        """skew_scale_usd in coins at initial_price (1e18 base units), exact for any price."""
        return wad(self.skew_scale_usd) * WAD // wad(self.initial_price)

    def config_fields(self, oracle: str) -> dict[str, Any]:
        """The MarketConfig struct by field name (see contracts/engine_types.vy)."""
        return {
            "oracle": oracle,
            "max_oracle_age": self.max_oracle_age,
            "max_price_jump": wad(self.max_price_jump),
            "skew_scale": self.skew_scale(),
            "max_premium": wad(self.max_premium),
            "taker_fee": wad(self.taker_fee),
            "maker_fee": wad(self.maker_fee),
            "max_open_interest": wad(self.max_open_interest_usd),
            "interest_rate": wad(self.interest_rate),
            "funding_clamp": wad(self.funding_clamp),
            "max_funding_rate": wad(self.max_funding_rate),
            "funding_model": FUNDING_MODELS[self.funding_model],
            "nonlinear_threshold": wad(self.nonlinear_threshold),
            "nonlinear_coefficient": wad(self.nonlinear_coefficient),
            "funding_velocity": wad(self.funding_velocity),
            "size_tier_notional": wad(self.size_tier_notional),
            "size_tier_multiplier": wad(self.size_tier_multiplier),
            "max_open_interest_pool_ratio": wad(self.max_open_interest_pool_ratio),
            "max_pnl_pool_ratio": wad(self.max_pnl_pool_ratio),
            "adl_pnl_pool_ratio": wad(self.adl_pnl_pool_ratio),
            "transfer_margin_ratio": wad(self.transfer_margin_ratio),
            "delayed_orders": self.delayed_orders,
            "order_ttl": self.order_ttl,
        }

    def config_struct(self, oracle: str) -> tuple:
        """The MarketConfig tuple, ordered by the ABI's field names."""
        return struct("MarketConfig", self.config_fields(oracle))  # type: ignore[no-any-return]

    def brackets_struct(self) -> list[tuple[int, int, int]]:
        return [b.to_struct() for b in self.brackets]

    def risk_fields(self) -> dict[str, Any]:
        """The RiskConfig struct by field name."""
        return {
            "variance_ewma_weight": wad(self.variance_ewma_weight),
            "reference_volatility": wad(self.reference_volatility),
            "volatility_weight": wad(self.volatility_weight),
            "funding_weight": wad(self.funding_weight),
            "funding_ema_period": self.funding_ema_period,
            "max_multiplier": wad(self.max_multiplier),
            "apply_to_maintenance": self.apply_to_maintenance,
        }

    def risk_struct(self) -> tuple:
        return struct("RiskConfig", self.risk_fields())  # type: ignore[no-any-return]

    def rate_limit_fields(self) -> dict[str, int]:
        """The RateLimit struct by field name."""
        return {"window": self.rate_limit_window, "max_notional": wad(self.rate_limit_notional)}

    def rate_limit_struct(self) -> tuple[int, int]:
        return struct("RateLimit", self.rate_limit_fields())  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Tier:
    margin_ratio_below: float
    close_fraction: float

    def fields(self) -> dict[str, int]:
        """The LiquidationTier struct by field name."""
        return {"margin_ratio_below": wad(self.margin_ratio_below), "close_fraction": wad(self.close_fraction)}

    def to_struct(self) -> tuple[int, int]:
        return struct("LiquidationTier", self.fields())  # type: ignore[no-any-return]


@dataclass(frozen=True)
class LiquidationParams:
    """Keeper reward, penalty, tiers, cool-down and fee routing (global)."""

    reward_rate: float = 0.002
    reward_floor: float = 5.0
    reward_cap: float = 1_000.0
    penalty_rate: float = 0.01
    cooldown: int = 0
    min_position_notional: float = 100.0
    insurance_fee_share: float = 0.1
    pool_reserve_ratio: float = 0.2
    tiers: tuple[Tier, ...] = ()

    def config_fields(self) -> dict[str, int]:
        """The LiquidationConfig struct by field name."""
        return {
            "reward_rate": wad(self.reward_rate),
            "reward_floor": wad(self.reward_floor),
            "reward_cap": wad(self.reward_cap),
            "penalty_rate": wad(self.penalty_rate),
            "cooldown": self.cooldown,
            "min_position_notional": wad(self.min_position_notional),
            "insurance_fee_share": wad(self.insurance_fee_share),
            "pool_reserve_ratio": wad(self.pool_reserve_ratio),
        }

    def config_struct(self) -> tuple:
        return struct("LiquidationConfig", self.config_fields())  # type: ignore[no-any-return]

    def tiers_struct(self) -> list[tuple[int, int]]:
        return [t.to_struct() for t in self.tiers]


TIERED = (Tier(1.0, 0.25), Tier(0.75, 0.5), Tier(0.5, 1.0))
"""The tiers the risk issue names: below 1.0 close 25 %, below 0.75 half, below 0.5 all."""

EXCHANGE_BRACKETS = (
    Bracket(250_000.0, 0.02, 0.01),
    Bracket(1_000_000.0, 0.05, 0.025),
    Bracket(10_000_000.0, 0.1, 0.05),
    Bracket(float("inf"), 0.25, 0.125),
)
"""Brackets in the shape exchanges publish (larger notional, less leverage)."""


def binance_brackets(path: str | Path, symbol: str = "BTCUSDT") -> tuple[Bracket, ...]:
    """A Binance `GET /fapi/v1/leverageBracket` response as marginal brackets: maintenance
    rate `maintMarginRatio`, initial rate 1 / `initialLeverage`, ceiling `notionalCap`
    (the last open-ended). Marginal rates reproduce Binance's `notional x rate - cum`
    maintenance exactly (its `cum` is the marginal form's offset)."""
    rows = json.loads(Path(path).read_text())
    entry = next((r for r in rows if r.get("symbol") == symbol), None)
    if entry is None:
        raise ValueError(f"{path}: no {symbol} entry")
    out = []
    table = sorted(entry["brackets"], key=lambda b: float(b["notionalFloor"]))
    for i, b in enumerate(table):
        ceiling = float("inf") if i == len(table) - 1 else float(b["notionalCap"])
        out.append(Bracket(ceiling, float(Decimal(1) / Decimal(b["initialLeverage"])), float(b["maintMarginRatio"])))
    return tuple(out)


def _coerce(cls: type, data: dict[str, Any], where: str) -> Any:
    known = {f.name: f for f in fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in known:
            raise ValueError(f"{where}: unknown parameter {key!r} (known: {', '.join(sorted(known))})")
        if key == "brackets":
            value = tuple(
                Bracket(float(b[0]), float(b[1]), float(b[2])) if isinstance(b, (list, tuple)) else Bracket(**b)
                for b in value
            )
        elif key == "tiers":
            value = tuple(Tier(float(t[0]), float(t[1])) if isinstance(t, (list, tuple)) else Tier(**t) for t in value)
        kwargs[key] = value
    return replace(cls(), **kwargs)


def market_params(data: dict[str, Any], where: str = "params") -> MarketParams:
    """Build MarketParams from a dict, rejecting unknown keys with a clear message."""
    return _coerce(MarketParams, data, where)


def liquidation_params(data: dict[str, Any], where: str = "liquidation") -> LiquidationParams:
    return _coerce(LiquidationParams, data, where)


@dataclass
class ProtocolParams:
    """All parameters of a deployment: markets plus the global liquidation settings."""

    markets: list[MarketParams] = field(default_factory=lambda: [MarketParams()])
    liquidation: LiquidationParams = field(default_factory=LiquidationParams)
    token_decimals: int = 6
    collateral_token: str | None = None  # an ERC-20 address (None: deploy a TestToken)
    swaps: SwapsParams | None = None  # FundingSwaps to deploy and bind (None: none)
    caps: CapsParams | None = None  # FundingCaps to deploy (None: none)

    def validate(self, where: str = "params") -> None:
        """The funding products' keys against the contracts' bounds and the listed markets
        (ValueError naming the key)."""
        if self.swaps is not None:
            validate_swaps(self.swaps, [m.symbol for m in self.markets], f"{where}: swaps")
        if self.caps is not None:
            validate_caps(self.caps, {m.symbol: m.max_funding_rate for m in self.markets}, f"{where}: caps")

    def deploys_swaps(self) -> bool:
        return self.swaps is not None and self.swaps.enabled

    def deploys_caps(self) -> bool:
        return self.caps is not None and self.caps.enabled


def is_address(value: Any) -> bool:
    """A 0x-prefixed 20-byte hex address (any case)."""
    return isinstance(value, str) and re.fullmatch(r"0x[0-9a-fA-F]{40}", value) is not None


def read_toml(path: str | Path, what: str = "parameters") -> dict[str, Any]:
    """A TOML file as a dict; a missing or malformed file is a ValueError naming it."""
    try:
        return tomllib.loads(Path(path).read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{path}: cannot read {what}: {exc}") from exc


def load_params(path: str | Path) -> ProtocolParams:
    """Read a deployment parameter file: `[liquidation]`, `[[markets]]` tables, `token_decimals`,
    and the funding products' `[swaps]` / `[caps]` tables (see vyperp.protocol.product_params)."""
    path = Path(path)
    data = read_toml(path)
    markets = [market_params(m, f"{path}: markets[{i}]") for i, m in enumerate(data.get("markets", []))]
    if not markets:
        raise ValueError(f"{path}: no [[markets]] table")
    liquidation = liquidation_params(data.get("liquidation", {}), f"{path}: liquidation")
    unknown = set(data) - {"markets", "liquidation", "token_decimals", "collateral_token", "swaps", "caps"}
    if unknown:
        raise ValueError(f"{path}: unknown top-level keys {sorted(unknown)}")
    token = data.get("collateral_token") or None
    if token is not None and not is_address(token):
        raise ValueError(f"{path}: collateral_token must be a 0x-prefixed 20-byte address, got {token!r}")
    params = ProtocolParams(
        markets=markets,
        liquidation=liquidation,
        token_decimals=int(data.get("token_decimals", 6)),
        collateral_token=token,
        swaps=swaps_params(data["swaps"], f"{path}: swaps") if "swaps" in data else None,
        caps=caps_params(data["caps"], f"{path}: caps") if "caps" in data else None,
    )
    params.validate(str(path))
    return params


__all__ = [
    "Bracket",
    "CapsParams",
    "SwapsParams",
    "EXCHANGE_BRACKETS",
    "MAX_BRACKETS",
    "binance_brackets",
    "FUNDING_MODELS",
    "LiquidationParams",
    "MarketParams",
    "ProtocolParams",
    "TIERED",
    "Tier",
    "WAD",
    "liquidation_params",
    "load_params",
    "market_params",
]
