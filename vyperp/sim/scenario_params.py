"""Scenario -> protocol parameters.

A scenario's ``[markets.params]`` table (shallow-updated by ``[param_sets.NAME]`` when a
parameter set is chosen) is mapped onto :class:`vyperp.params.ProtocolParams` as follows.

Keys of the scenario schema
    ``max_leverage = L``            initial margin rate ``1 / L`` (single bracket when
                                    mitigations are off; the first bracket when on)
    ``maintenance_margin_rate = m`` maintenance margin rate ``m`` (idem)
    ``skew_scale_usd``              -> ``MarketParams.skew_scale_usd``
    ``max_funding_rate_8h``         -> ``MarketParams.max_funding_rate`` (cap and floor per 8 h)
    ``taker_fee`` / ``maker_fee``   -> the same fields
    ``mitigations = "off" | "on"``  the switch below (default ``"off"``)
    any ``MarketParams`` field      passes through unchanged (``funding_model``,
                                    ``max_premium``, ``brackets = [[ceiling, im, mm], ...]``,
                                    ``rate_limit_notional``, ...)
    any ``LiquidationParams`` field passes through to the (global) liquidation settings
                                    (``penalty_rate``, ``cooldown``, ``tiers = [[ratio, fraction], ...]``, ...)

Unknown keys are an error naming the scenario and the key.

``mitigations = "off"`` (the plain design)
    * liquidation: no tiers (every liquidation closes the whole position), no cool-down;
    * margin: one bracket ``(inf, 1/L, m)``; risk multiplier off (``max_multiplier = 1``);
    * funding: ``linear``; no liquidation rate limit.

``mitigations = "on"`` (the seeds' mitigations, all at once)
    * liquidation: :data:`vyperp.params.TIERED` (below ratio 1.0 close 25 %, below 0.75
      close 50 %, below 0.5 close all) with a cool-down of one oracle round
      (``step_seconds``) between partial steps on one account;
    * margin: :data:`vyperp.params.EXCHANGE_BRACKETS` scaled so that the first bracket
      keeps the scenario's numbers: every initial rate is multiplied by
      ``(1/L) / 0.02`` and every maintenance rate by ``m / 0.01`` (the first bracket of
      EXCHANGE_BRACKETS is 2 % / 1 %), ceilings unchanged (250 k, 1 M, 10 M USD), rates
      capped at 100 %. With L = 50, m = 0.5 %: 2/0.5 %, 5/1.25 %, 10/2.5 %, 25/6.25 %;
    * risk multiplier on initial margin (``apply_to_maintenance = False``):
      ``variance_ewma_weight = 0.06``, ``reference_volatility = 0.002 * sqrt(step/60 s)``
      (0.2 % per one-minute round, scaled by the square root of the round length so a
      5-minute path is judged on the same annualised volatility), ``volatility_weight = 1``,
      ``funding_weight = 10``, ``max_multiplier = 3``;
    * funding: ``nonlinear`` (MarketParams' threshold 0.1 %, coefficient 100);
    * liquidation rate limit: at most the scenario's impact depth (``[impact] depth_usd``,
      the notional that moves spot 1 %; 10 M USD when absent) of liquidated notional per
      market per window of one oracle round. Escalations to a full close are counted but
      never blocked by the engine.

Common to both (replay plumbing, not a design choice under study)
    * ``initial_price`` of each market = the first price of its path (the oracle's first
      round is pushed at deployment; step 0 pushes the path's first point again);
    * ``max_price_jump = 0.5``: the engine rejects a round that moves more than this
      fraction from its last accepted price. The replay pushes every round and pokes the
      market right after, so the bound only has to exceed the largest one-round move of a
      path (the worst real one-minute close-to-close move shipped here is under 10 %);
      0.5 leaves room for spot impact on top;
    * ``max_oracle_age = max(3600, 3 * step_seconds)``;
    * ``max_open_interest_usd = 1e11``: the replay does not study open-interest caps unless
      a scenario sets ``max_open_interest_usd`` itself;
    * the pool-depth safety bounds are :class:`vyperp.params.MarketParams`' defaults in both
      designs (they are the protocol's safety, not a mitigation under study): a side's
      profit counts up to ``max_pnl_pool_ratio = 0.5`` of the pool's balance, ADL of the
      side opens past ``adl_pnl_pool_ratio = 0.45``, withdrawals keep equity above
      ``transfer_margin_ratio = 0.1`` of notional, profit is paid only from the pool's
      cash. A scenario can set any of them (``0`` turns the ratios off).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Any

from vyperp.oracles.pricepath import PricePath, from_wad
from vyperp.sim.scenario import Scenario

from ..protocol.params import (
    EXCHANGE_BRACKETS,
    TIERED,
    Bracket,
    LiquidationParams,
    MarketParams,
    ProtocolParams,
    Tier,
)

MAX_PRICE_JUMP = 0.5
MAX_OPEN_INTEREST_USD = 1e11
DEFAULT_RATE_LIMIT_USD = 10_000_000.0

RISK_ON = {
    "variance_ewma_weight": 0.06,
    "reference_volatility_per_minute": 0.002,
    "volatility_weight": 1.0,
    "funding_weight": 10.0,
    "max_multiplier": 3.0,
    "apply_to_maintenance": False,
}
"""The risk-multiplier settings of ``mitigations = "on"`` (see the module docstring)."""

_SCHEMA_KEYS = {"max_leverage", "maintenance_margin_rate", "max_funding_rate_8h", "mitigations"}
_MARKET_FIELDS = {f.name for f in fields(MarketParams)} - {"symbol", "initial_price"}
_LIQUIDATION_FIELDS = {f.name for f in fields(LiquidationParams)}
DERIVED_KEYS = ("bracket_scale", "tier_threshold_scale")
"""Knobs of a sweep (``overrides``) that scale what the other keys chose: ``bracket_scale``
multiplies every bracket's initial and maintenance rate (capped at 100 %),
``tier_threshold_scale`` the margin-ratio threshold of every liquidation tier after the
first (the engine requires the first to start at ratio 1; thresholds must stay below it)."""


def known_table_keys() -> list[str]:
    """Every key a ``[markets.params]`` table (or a replay's ``overrides``) may set."""
    return sorted(_SCHEMA_KEYS | _MARKET_FIELDS | _LIQUIDATION_FIELDS)


@dataclass(frozen=True)
class ReplayParams:
    """Protocol parameters of one replay and how they were chosen."""

    protocol: ProtocolParams
    mitigations: str
    param_set: str | None
    raw: dict[str, dict[str, Any]]  # symbol -> the scenario table used

    def describe(self) -> dict[str, Any]:
        """Human-unit summary for report.json."""
        out: dict[str, Any] = {"mitigations": self.mitigations, "param_set": self.param_set, "markets": {}}
        for market in self.protocol.markets:
            out["markets"][market.symbol] = {
                "initial_price": market.initial_price,
                "brackets": [
                    [_finite(b.notional_ceiling), b.initial_margin_rate, b.maintenance_margin_rate]
                    for b in market.brackets
                ],
                "max_leverage_first_bracket": round(1 / market.brackets[0].initial_margin_rate, 6),
                "skew_scale_usd": market.skew_scale_usd,
                "max_funding_rate_8h": market.max_funding_rate,
                "funding_model": market.funding_model,
                "taker_fee": market.taker_fee,
                "maker_fee": market.maker_fee,
                "max_price_jump": market.max_price_jump,
                "risk_multiplier": {
                    "variance_ewma_weight": market.variance_ewma_weight,
                    "reference_volatility": market.reference_volatility,
                    "volatility_weight": market.volatility_weight,
                    "funding_weight": market.funding_weight,
                    "max_multiplier": market.max_multiplier,
                    "apply_to_maintenance": market.apply_to_maintenance,
                },
                "rate_limit": {
                    "window_seconds": market.rate_limit_window,
                    "max_notional_usd": market.rate_limit_notional,
                },
                "scenario_params": self.raw.get(market.symbol, {}),
            }
        liq = self.protocol.liquidation
        out["liquidation"] = {
            "tiers": [[t.margin_ratio_below, t.close_fraction] for t in liq.tiers],
            "cooldown_seconds": liq.cooldown,
            "reward_rate": liq.reward_rate,
            "reward_floor": liq.reward_floor,
            "reward_cap": liq.reward_cap,
            "penalty_rate": liq.penalty_rate,
            "insurance_fee_share": liq.insurance_fee_share,
            "pool_reserve_ratio": liq.pool_reserve_ratio,
            "min_position_notional": liq.min_position_notional,
        }
        return out


def _finite(x: float) -> float | str:
    return "inf" if math.isinf(x) else x


def step_seconds_of(path: PricePath) -> int:
    """The path's round length: the most common timestamp gap (60 for one-minute paths)."""
    if len(path) < 2:
        return 60
    gaps: dict[int, int] = {}
    for a, b in zip(path.timestamps, path.timestamps[1:]):
        gaps[b - a] = gaps.get(b - a, 0) + 1
    return max(gaps.items(), key=lambda kv: (kv[1], -kv[0]))[0]


def scaled_brackets(max_leverage: float, maintenance_rate: float) -> tuple[Bracket, ...]:
    """EXCHANGE_BRACKETS scaled so the first bracket is ``(1/L, m)`` (see module docstring)."""
    first = EXCHANGE_BRACKETS[0]
    im_scale = (1.0 / max_leverage) / first.initial_margin_rate
    mm_scale = maintenance_rate / first.maintenance_margin_rate
    out = []
    for b in EXCHANGE_BRACKETS:
        im = min(1.0, _round_rate(b.initial_margin_rate * im_scale))
        mm = min(im, _round_rate(b.maintenance_margin_rate * mm_scale))
        out.append(Bracket(b.notional_ceiling, im, mm))
    return tuple(out)


def _round_rate(x: float) -> float:
    """Rates with at most 12 significant decimals (so `wad()` converts them exactly)."""
    return float(f"{x:.12g}")


def _market_params(
    scenario: Scenario, symbol: str, table: dict[str, Any], mitigations: str, path: PricePath, rate_limit_usd: float
) -> tuple[MarketParams, dict[str, Any]]:
    where = f"scenario {scenario.name!r}, market {symbol!r}"
    step = step_seconds_of(path)
    leverage = float(table.get("max_leverage", 10.0))
    if leverage < 1:
        raise ValueError(f"{where}: max_leverage must be >= 1, got {leverage!r}")
    maintenance = float(table.get("maintenance_margin_rate", min(0.05, 0.5 / leverage)))
    if not 0 < maintenance <= 1 / leverage:
        raise ValueError(f"{where}: maintenance_margin_rate must be in (0, 1/max_leverage], got {maintenance!r}")
    liquidation_keys: dict[str, Any] = {}
    kwargs: dict[str, Any] = {
        "symbol": symbol,
        "initial_price": float(from_wad(path.prices[0])),
        "max_price_jump": MAX_PRICE_JUMP,
        "max_oracle_age": max(3600, 3 * step),
        "max_open_interest_usd": MAX_OPEN_INTEREST_USD,
    }
    if mitigations == "on":
        kwargs.update(
            brackets=scaled_brackets(leverage, maintenance),
            variance_ewma_weight=RISK_ON["variance_ewma_weight"],
            reference_volatility=_round_rate(RISK_ON["reference_volatility_per_minute"] * math.sqrt(step / 60.0)),
            volatility_weight=RISK_ON["volatility_weight"],
            funding_weight=RISK_ON["funding_weight"],
            max_multiplier=RISK_ON["max_multiplier"],
            apply_to_maintenance=RISK_ON["apply_to_maintenance"],
            funding_model="nonlinear",
            rate_limit_window=step,
            rate_limit_notional=float(rate_limit_usd),
        )
    else:
        kwargs.update(
            brackets=(Bracket(float("inf"), _round_rate(1.0 / leverage), maintenance),),
            funding_model="linear",
            max_multiplier=1.0,
        )
    bracket_scale = None
    for key, value in table.items():
        if key == "bracket_scale":
            bracket_scale = float(value)
            if not bracket_scale > 0:
                raise ValueError(f"{where}: bracket_scale must be > 0, got {value!r}")
            continue
        if key == "tier_threshold_scale":
            liquidation_keys[key] = value
            continue
        if key in _SCHEMA_KEYS:
            if key == "max_funding_rate_8h":
                kwargs["max_funding_rate"] = float(value)
            continue
        if key in _MARKET_FIELDS:
            if key == "brackets":
                value = tuple(
                    Bracket(float(b[0]), float(b[1]), float(b[2])) if isinstance(b, (list, tuple)) else Bracket(**b)
                    for b in value
                )
            kwargs[key] = value
        elif key in _LIQUIDATION_FIELDS:
            liquidation_keys[key] = value
        else:
            known = sorted(_SCHEMA_KEYS | _MARKET_FIELDS | _LIQUIDATION_FIELDS)
            raise ValueError(f"{where}: unknown parameter {key!r} (known: {', '.join(known)})")
    if bracket_scale is not None:
        scaled = []
        for b in kwargs["brackets"]:
            im = min(1.0, _round_rate(b.initial_margin_rate * bracket_scale))
            scaled.append(
                Bracket(b.notional_ceiling, im, min(im, _round_rate(b.maintenance_margin_rate * bracket_scale)))
            )
        kwargs["brackets"] = tuple(scaled)
    return replace(MarketParams(), **kwargs), liquidation_keys


def replay_params(
    scenario: Scenario,
    paths: dict[str, PricePath],
    param_set: str | None = None,
    mitigations: str | None = None,
    overrides: dict[str, Any] | None = None,
) -> ReplayParams:
    """ProtocolParams for `scenario` (see the module docstring).

    `param_set` names a ``[param_sets]`` table; `mitigations` ("off"/"on") overrides
    whatever the tables say; `overrides` (table keys, :data:`DERIVED_KEYS` included)
    update every market's table after the parameter set.
    """
    tables = {m.symbol: {**scenario.params_for(m.symbol, param_set), **(overrides or {})} for m in scenario.markets}
    chosen = {str(t.get("mitigations", "off")) for t in tables.values()}
    if mitigations is None:
        if len(chosen) > 1:
            raise ValueError(f"scenario {scenario.name!r}: markets disagree on mitigations {sorted(chosen)}")
        mitigations = chosen.pop()
    if mitigations not in ("off", "on"):
        raise ValueError(f"mitigations must be 'off' or 'on', got {mitigations!r}")
    rate_limit_usd = float(scenario.impact.depth_usd) if scenario.impact else DEFAULT_RATE_LIMIT_USD
    markets = []
    liquidation_keys: dict[str, Any] = {}
    for spec in scenario.markets:
        market, liq = _market_params(
            scenario, spec.symbol, tables[spec.symbol], mitigations, paths[spec.symbol], rate_limit_usd
        )
        markets.append(market)
        liquidation_keys.update(liq)
    step = step_seconds_of(paths[scenario.markets[0].symbol])
    liquidation = LiquidationParams(tiers=TIERED, cooldown=step) if mitigations == "on" else LiquidationParams()
    threshold_scale = liquidation_keys.pop("tier_threshold_scale", None)
    if liquidation_keys:
        if "tiers" in liquidation_keys:
            liquidation_keys["tiers"] = tuple(
                Tier(float(t[0]), float(t[1])) if isinstance(t, (list, tuple)) else Tier(**t)
                for t in liquidation_keys["tiers"]
            )
        liquidation = replace(liquidation, **liquidation_keys)
    if threshold_scale is not None:
        if not float(threshold_scale) > 0:
            raise ValueError(f"scenario {scenario.name!r}: tier_threshold_scale must be > 0, got {threshold_scale!r}")
        s = float(threshold_scale)  # the first tier starts at ratio 1 (the engine's rule): the others move
        liquidation = replace(
            liquidation,
            tiers=tuple(
                Tier(t.margin_ratio_below if k == 0 else _round_rate(t.margin_ratio_below * s), t.close_fraction)
                for k, t in enumerate(liquidation.tiers)
            ),
        )
    return ReplayParams(ProtocolParams(markets=markets, liquidation=liquidation), mitigations, param_set, tables)


__all__ = [
    "DERIVED_KEYS",
    "MAX_PRICE_JUMP",
    "RISK_ON",
    "known_table_keys",
    "ReplayParams",
    "replay_params",
    "scaled_brackets",
    "step_seconds_of",
]
