"""Scenario files (TOML) describing one cascade-replay run.

A scenario lives in ``scenarios/<name>.toml`` (load it by name or by path with
:func:`load_scenario`).  Schema (``?`` = optional)::

    name = "btc-2020-03-12-leg2"         # str
    description = "..."                  # str
    seed = 7                             # int, drives generators and agents
    horizon_steps = 240                  # ? int >= 1, cap on len(path)

    [path]                               # the price path (one point = one step)
    source = "real" | "file" | "gbm" | "jump" | "shock"
    ...source parameters (see PATH_SOURCES)...
    step_seconds = 60                    # ? resample (sample-and-hold)
    rebase = 60000                       # ? scale so the path starts here

    [[markets]]                          # >= 1
    symbol = "BTC"
    path = { ... }                       # ? same schema as [path]
    [markets.params]                     # free-form protocol parameters
    max_leverage = 50                    # (current keys, semantics defined
    maintenance_margin_rate = 0.005      #  by the protocol side:
    skew_scale_usd = 1_000_000_000       #  max_leverage, maintenance_margin_rate,
    max_funding_rate_8h = 0.0075         #  skew_scale_usd, max_funding_rate_8h,
    taker_fee = 0.0005                   #  taker_fee, maker_fee)
    maker_fee = 0.0002

    [population]
    directional = 200                    # int, leveraged directional traders
    long_share = 0.8                     # fraction of directional traders long
    basis = 20                           # int, funding/basis traders
    lps = 5                              # int, liquidity providers
    keepers = 3                          # int
    keeper_delay_steps = 1               # int >= 0
    keeper_gas_budget = 5_000_000        # int >= 0
    cross_margined_share = 0.3           # ? fraction of directional traders with one leg
                                         #   in every market on one account (default 0;
                                         #   > 0 needs >= 2 markets)
    [population.options_desk]            # ? an options desk (vyperp.sim.options_desk.DeskSpec;
    size_btc = 10                        #   every key optional; absent = no desk)
    [population.funding_swaps]           # ? basis traders hedging funding with swaps
    hedged_share = 0.5                   #   (vyperp.sim.funding_swaps.FundingSwapsSpec;
                                         #   every key optional; absent = no swaps)
    [population.funding_caps]            # ? a share of the other basis traders buys funding
    floor_share = 0.5                    #   floors (vyperp.sim.funding_caps.FundingCapsSpec;
                                         #   needs funding_swaps; absent = no floors)
    [population.leverage]
    min = 2                              # >= 1
    max = 50                             # >= min
    share_at_max = 0.2                   # fraction of traders at exactly max

    [impact]                             # ? default: disabled
    enabled = true
    depth_usd = 20_000_000               # notional that moves price 1%
    decay_half_life_steps = 10           # > 0 (inf allowed)
    permanent_share = 0.0                # ? fraction that never decays

    [compare]                            # ? A/B run
    a = "baseline"
    b = "mitigated"
    [param_sets.baseline]                # free-form overrides of markets.params
    mitigations = "off"                  # "off" | "on"

Validation raises :class:`ScenarioError` (a ``ValueError``) naming the file,
the table and the key.  Unknown keys are rejected everywhere except inside
``params`` and ``param_sets`` tables, which are kept as plain dicts.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import numpy as np

from .. import resources
from ..oracles.pricepath import PricePath
from ..oracles.sources import REAL_WINDOWS, load_real, load_user_file, parse_timestamp
from ..oracles.synthetic import gbm, jump_diffusion, scripted_shock
from .funding_caps import FundingCapsSpec
from .funding_swaps import FundingSwapsSpec
from .impact import SpotImpact
from .options_desk import DeskSpec

SCENARIO_DIR: Path = resources.SCENARIOS

PROTOCOL_PARAM_KEYS: tuple[str, ...] = (
    "max_leverage",
    "maintenance_margin_rate",
    "skew_scale_usd",
    "max_funding_rate_8h",
    "taker_fee",
    "maker_fee",
)
"""Numeric keys currently expected in ``markets.params`` / ``param_sets``."""

MITIGATIONS: tuple[str, ...] = ("off", "on")


class ScenarioError(ValueError):
    """A scenario file is missing a key, has a wrong type or an unknown value."""


# key kinds: "int", "number", "str", "bool", "timestamp"
PATH_SOURCES: dict[str, tuple[dict[str, str], dict[str, str]]] = {
    "real": ({"window": "str"}, {"column": "str", "timestamp": "str", "start": "timestamp", "end": "timestamp"}),
    "file": ({"file": "str"}, {"timestamp_column": "str", "price_column": "str"}),
    "gbm": (
        {"start_price": "number", "mu": "number", "sigma": "number", "steps": "int", "dt_seconds": "int"},
        {"seed": "int", "start_ts": "int"},
    ),
    "jump": (
        {
            "start_price": "number",
            "mu": "number",
            "sigma": "number",
            "jump_intensity": "number",
            "jump_mean": "number",
            "jump_std": "number",
            "steps": "int",
            "dt_seconds": "int",
        },
        {"seed": "int", "start_ts": "int"},
    ),
    "shock": (
        {
            "start_price": "number",
            "pre_steps": "int",
            "shock_pct": "number",
            "shock_steps": "int",
            "post_steps": "int",
            "recovery_pct": "number",
            "dt_seconds": "int",
            "noise_sigma": "number",
        },
        {"pre_drift_pct": "number", "seed": "int", "start_ts": "int"},
    ),
}
"""source -> (required keys, optional keys) with their kinds."""

_PATH_COMMON: dict[str, str] = {"source": "str", "step_seconds": "int", "rebase": "number"}


# ------------------------------------------------------------------ dataclasses
@dataclass(frozen=True)
class PathSpec:
    """Where a price path comes from: ``source``, its ``params``, post-processing."""

    source: str
    params: dict[str, Any]
    step_seconds: int | None = None
    rebase: float | int | None = None
    base_dir: Path = Path(".")

    def build(self, default_seed: int, horizon_steps: int | None = None) -> PricePath:
        """Load/generate the path, then resample, rebase and cap to the horizon."""
        p = dict(self.params)
        if self.source == "real":
            path = load_real(p["window"], p.get("column", "close"), timestamp=p.get("timestamp", "auto"))
            if "start" in p or "end" in p:
                path = path.slice(p.get("start"), p.get("end"))
        elif self.source == "file":
            path = load_user_file(
                self._resolve(p["file"]),
                timestamp_column=p.get("timestamp_column"),
                price_column=p.get("price_column"),
            )
        else:
            p.setdefault("seed", default_seed)
            gen: Callable[..., PricePath] = {"gbm": gbm, "jump": jump_diffusion, "shock": scripted_shock}[self.source]
            path = gen(**p)
        if self.step_seconds is not None:
            path = path.resample(self.step_seconds)
        if self.rebase is not None:
            path = path.rebase(self.rebase)
        if horizon_steps is not None:
            path = path.head(horizon_steps)
        return path

    def _resolve(self, file: str) -> Path:
        f = Path(file)
        if f.is_absolute():
            return f
        for base in (self.base_dir, Path.cwd(), resources.PACKAGE):
            if (base / f).exists():
                return base / f
        return self.base_dir / f


@dataclass(frozen=True)
class MarketSpec:
    """One market: ``symbol``, optional own path, protocol ``params`` (free-form)."""

    symbol: str
    params: dict[str, Any]
    path: PathSpec | None = None


@dataclass(frozen=True)
class LeverageDist:
    """Leverage of directional traders: uniform in [min, max], ``share_at_max`` at max."""

    min: float
    max: float
    share_at_max: float

    def sample(self, n: int, rng: np.random.Generator) -> list[float]:
        """``n`` leverages: the first ``round(n * share_at_max)`` draws sit at ``max``,
        the rest are uniform in ``[min, max]``; the list is then shuffled."""
        k = int(round(n * self.share_at_max))
        vals = [float(self.max)] * k + rng.uniform(self.min, self.max, n - k).tolist()
        rng.shuffle(vals)
        return vals


@dataclass(frozen=True)
class Population:
    """Agent counts and behaviour knobs."""

    directional: int
    leverage: LeverageDist
    long_share: float
    basis: int
    lps: int
    keepers: int
    keeper_delay_steps: int
    keeper_gas_budget: int
    options_desk: DeskSpec | None = None  # [population.options_desk]; None = no desk
    funding_swaps: FundingSwapsSpec | None = None  # [population.funding_swaps]; None = no swaps
    funding_caps: FundingCapsSpec | None = None  # [population.funding_caps] (needs funding_swaps); None = no floors
    cross_margined_share: float = 0.0


@dataclass(frozen=True)
class ImpactSpec:
    """Spot-impact settings; :meth:`model` builds a fresh :class:`SpotImpact`."""

    enabled: bool = False
    depth_usd: float | int = 10_000_000
    decay_half_life_steps: float | int = 10
    permanent_share: float | int = 0

    def model(self) -> SpotImpact:
        """A new, zero-state impact model."""
        return SpotImpact(
            repr_number(self.depth_usd), self.decay_half_life_steps, self.enabled, repr_number(self.permanent_share)
        )


@dataclass(frozen=True)
class CompareSpec:
    """A/B comparison of two named parameter sets."""

    a: str
    b: str


@dataclass(frozen=True)
class Scenario:
    """A validated scenario; build prices with :meth:`price_path`."""

    name: str
    description: str
    seed: int
    path: PathSpec
    markets: list[MarketSpec]
    population: Population
    impact: ImpactSpec = field(default_factory=ImpactSpec)
    horizon_steps: int | None = None
    compare: CompareSpec | None = None
    param_sets: dict[str, dict[str, Any]] = field(default_factory=dict)
    file: Path | None = None

    @property
    def symbols(self) -> list[str]:
        """Market symbols in file order."""
        return [m.symbol for m in self.markets]

    def market(self, symbol: str) -> MarketSpec:
        """The market with this symbol."""
        for m in self.markets:
            if m.symbol == symbol:
                return m
        raise KeyError(f"scenario {self.name!r} has no market {symbol!r} (has {', '.join(self.symbols)})")

    def price_path(self, symbol: str | None = None) -> PricePath:
        """Price path of ``symbol`` (its override, else the scenario ``[path]``),
        capped at ``horizon_steps`` points.  Generators without an explicit
        ``seed`` use the scenario seed."""
        spec = self.path
        if symbol is not None and self.market(symbol).path is not None:
            spec = self.market(symbol).path  # type: ignore[assignment]
        assert spec is not None
        return spec.build(self.seed, self.horizon_steps)

    def params_for(self, symbol: str, param_set: str | None = None) -> dict[str, Any]:
        """``markets.params`` of ``symbol`` shallow-updated by ``param_sets[param_set]``."""
        out = dict(self.market(symbol).params)
        if param_set is not None:
            if param_set not in self.param_sets:
                raise KeyError(f"scenario {self.name!r} has no param set {param_set!r}")
            out.update(self.param_sets[param_set])
        return out


# ------------------------------------------------------------------- helpers
def repr_number(v: Any) -> Any:
    """Floats -> their shortest decimal string (exact for :func:`to_wad`)."""
    return repr(v) if isinstance(v, float) else v


def _kind_ok(kind: str, v: Any) -> bool:
    if kind == "int":
        return isinstance(v, int) and not isinstance(v, bool)
    if kind == "number":
        return isinstance(v, (int, float)) and not isinstance(v, bool) and not (isinstance(v, float) and math.isnan(v))
    if kind == "str":
        return isinstance(v, str)
    if kind == "bool":
        return isinstance(v, bool)
    if kind == "timestamp":
        return (isinstance(v, (int, str, datetime, date)) and not isinstance(v, bool)) and not isinstance(v, time)
    raise AssertionError(kind)


_KIND_NAMES = {
    "int": "an integer",
    "number": "a number",
    "str": "a string",
    "bool": "true/false",
    "timestamp": "a unix time or ISO date-time",
    "table": "a table",
}


class _Ctx:
    """Error helper carrying the file name."""

    def __init__(self, file: str) -> None:
        self.file = file

    def err(self, where: str, msg: str) -> ScenarioError:
        return ScenarioError(f"{self.file}: {where}: {msg}")

    def table(self, where: str, v: Any) -> dict[str, Any]:
        if not isinstance(v, dict):
            raise self.err(where, f"must be a table, got {type(v).__name__} {v!r}")
        return v

    def check(self, where: str, tbl: dict[str, Any], required: dict[str, str], optional: dict[str, str]) -> None:
        for key, kind in required.items():
            if key not in tbl:
                raise self.err(where, f"missing key {key!r} ({_KIND_NAMES[kind]})")
        for key, value in tbl.items():
            kind = required.get(key) or optional.get(key)
            if kind is None:
                allowed = sorted(set(required) | set(optional))
                raise self.err(where, f"unknown key {key!r} (allowed: {', '.join(allowed)})")
            if kind == "table":
                self.table(f"{where}.{key}", value)
            elif not _kind_ok(kind, value):
                raise self.err(where, f"key {key!r} must be {_KIND_NAMES[kind]}, got {type(value).__name__} {value!r}")

    def fraction(self, where: str, key: str, v: float) -> None:
        if not 0 <= v <= 1:
            raise self.err(where, f"key {key!r} must be in [0, 1], got {v!r}")

    def nonneg(self, where: str, tbl: dict[str, Any], keys: tuple[str, ...]) -> None:
        for k in keys:
            if k in tbl and tbl[k] < 0:
                raise self.err(where, f"key {k!r} must be >= 0, got {tbl[k]!r}")


def _to_ts(v: Any) -> int:
    if isinstance(v, datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=UTC)
        return parse_timestamp(v.isoformat())
    if isinstance(v, date):
        return parse_timestamp(v.isoformat())
    return parse_timestamp(v)


def _parse_path(ctx: _Ctx, where: str, raw: Any, base_dir: Path) -> PathSpec:
    tbl = ctx.table(where, raw)
    if "source" not in tbl:
        raise ctx.err(where, f"missing key 'source' (one of: {', '.join(PATH_SOURCES)})")
    source = tbl["source"]
    if source not in PATH_SOURCES:
        raise ctx.err(where, f"unknown source {source!r} (one of: {', '.join(PATH_SOURCES)})")
    required, optional = PATH_SOURCES[source]
    ctx.check(where, tbl, required, {**optional, **_PATH_COMMON})
    params = {k: v for k, v in tbl.items() if k not in _PATH_COMMON}
    if source == "real":
        if params["window"] not in REAL_WINDOWS:
            raise ctx.err(where, f"unknown real window {params['window']!r} (known: {', '.join(REAL_WINDOWS)})")
        if params.get("column", "close") not in ("open", "high", "low", "close"):
            raise ctx.err(where, f"key 'column' must be open/high/low/close, got {params['column']!r}")
        if params.get("timestamp", "auto") not in ("auto", "open", "close"):
            raise ctx.err(where, f"key 'timestamp' must be auto/open/close, got {params['timestamp']!r}")
        for k in ("start", "end"):
            if k in params:
                try:
                    params[k] = _to_ts(params[k])
                except ValueError as exc:
                    raise ctx.err(where, f"key {k!r}: {exc}") from None
    if "start_price" in params:
        if params["start_price"] <= 0:
            raise ctx.err(where, f"key 'start_price' must be > 0, got {params['start_price']!r}")
        params["start_price"] = repr_number(params["start_price"])
    ctx.nonneg(where, params, ("sigma", "jump_intensity", "jump_std", "noise_sigma", "seed"))
    for k in ("steps", "dt_seconds", "pre_steps", "shock_steps"):
        if k in params and params[k] < 1:
            raise ctx.err(where, f"key {k!r} must be >= 1, got {params[k]!r}")
    ctx.nonneg(where, params, ("post_steps",))
    if source == "shock":
        if not -1 < params["shock_pct"] <= 10:
            raise ctx.err(
                where, f"key 'shock_pct' must be a fraction in (-1, 10] (-0.3 = 30% crash), got {params['shock_pct']!r}"
            )
        ctx.fraction(where, "recovery_pct", params["recovery_pct"])
    step = tbl.get("step_seconds")
    if step is not None and step < 1:
        raise ctx.err(where, f"key 'step_seconds' must be >= 1, got {step!r}")
    rebase = tbl.get("rebase")
    if rebase is not None and rebase <= 0:
        raise ctx.err(where, f"key 'rebase' must be > 0, got {rebase!r}")
    return PathSpec(source, params, step, repr_number(rebase) if rebase is not None else None, base_dir)


def _check_params(ctx: _Ctx, where: str, raw: Any) -> dict[str, Any]:
    tbl = dict(ctx.table(where, raw))
    for key in PROTOCOL_PARAM_KEYS:
        if key in tbl and not _kind_ok("number", tbl[key]):
            raise ctx.err(where, f"key {key!r} must be a number, got {type(tbl[key]).__name__} {tbl[key]!r}")
        if key in tbl and tbl[key] < 0:
            raise ctx.err(where, f"key {key!r} must be >= 0, got {tbl[key]!r}")
    if "mitigations" in tbl and tbl["mitigations"] not in MITIGATIONS:
        raise ctx.err(where, f'key \'mitigations\' must be "off" or "on", got {tbl["mitigations"]!r}')
    return tbl


# ---------------------------------------------------------------------- main
def scenario_file(name_or_path: str | Path) -> Path:
    """Resolve a scenario name (``scenarios/<name>.toml``) or a path."""
    p = Path(name_or_path)
    if p.suffix == ".toml" or p.exists() or len(p.parts) > 1:
        return p
    return SCENARIO_DIR / f"{name_or_path}.toml"


def list_scenarios() -> list[str]:
    """Names of the scenarios shipped in ``scenarios/``."""
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.toml"))


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Load and validate a scenario by name (``scenarios/<name>.toml``) or path."""
    file = scenario_file(name_or_path)
    if not file.exists():
        known = ", ".join(list_scenarios())
        raise ScenarioError(f"{file}: scenario not found (shipped: {known})")
    try:
        with open(file, "rb") as fh:
            doc = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{file}: invalid TOML: {exc}") from None
    return parse_scenario(doc, file=file)


def _optional_section(ctx: _Ctx, pop: dict[str, Any], name: str, spec: Any, markets: list[Any]) -> Any:
    """`[population.<name>]` read by its spec class (None when absent); errors name the
    section, and a `market` key must name one of the scenario's markets."""
    if name not in pop:
        return None
    where = f"[population.{name}]"
    try:
        out = spec.from_table(pop[name])
    except ValueError as exc:
        raise ctx.err(where, str(exc)) from None
    market = getattr(out, "market", None)
    if market is not None and market not in [m.symbol for m in markets]:
        raise ctx.err(where, f"key 'market' names no market: {market!r}")
    return out


def parse_scenario(doc: dict[str, Any], file: Path | None = None) -> Scenario:
    """Validate an already-parsed TOML document (see the module docstring)."""
    ctx = _Ctx(str(file) if file else "<scenario>")
    base_dir = file.resolve().parent if file else Path.cwd()
    top_required = {"name": "str", "description": "str", "seed": "int", "path": "table", "population": "table"}
    top_optional = {"horizon_steps": "int", "impact": "table", "compare": "table", "param_sets": "table"}
    if "markets" not in doc:
        raise ctx.err("top level", "missing key 'markets' (a list of [[markets]] tables)")
    ctx.check("top level", {k: v for k, v in doc.items() if k != "markets"}, top_required, top_optional)
    if not doc["name"].strip():
        raise ctx.err("top level", "key 'name' must not be empty")
    if doc["seed"] < 0:
        raise ctx.err("top level", f"key 'seed' must be >= 0, got {doc['seed']}")
    horizon = doc.get("horizon_steps")
    if horizon is not None and horizon < 1:
        raise ctx.err("top level", f"key 'horizon_steps' must be >= 1, got {horizon}")

    path = _parse_path(ctx, "[path]", doc["path"], base_dir)

    raw_markets = doc["markets"]
    if not isinstance(raw_markets, list) or not raw_markets:
        raise ctx.err("[[markets]]", "must be a non-empty list of tables ([[markets]])")
    markets: list[MarketSpec] = []
    for i, raw in enumerate(raw_markets):
        where = f"[[markets]] #{i + 1}"
        tbl = ctx.table(where, raw)
        ctx.check(where, tbl, {"symbol": "str"}, {"params": "table", "path": "table"})
        sym = tbl["symbol"].strip()
        if not sym:
            raise ctx.err(where, "key 'symbol' must not be empty")
        if sym in [m.symbol for m in markets]:
            raise ctx.err(where, f"duplicate market symbol {sym!r}")
        mpath = _parse_path(ctx, f"{where} path", tbl["path"], base_dir) if "path" in tbl else None
        markets.append(MarketSpec(sym, _check_params(ctx, f"{where} params", tbl.get("params", {})), mpath))

    pop = ctx.table("[population]", doc["population"])
    ctx.check(
        "[population]",
        pop,
        {
            "directional": "int",
            "leverage": "table",
            "long_share": "number",
            "basis": "int",
            "lps": "int",
            "keepers": "int",
            "keeper_delay_steps": "int",
            "keeper_gas_budget": "int",
        },
        {"options_desk": "table", "funding_swaps": "table", "funding_caps": "table", "cross_margined_share": "number"},
    )
    ctx.nonneg(
        "[population]", pop, ("directional", "basis", "lps", "keepers", "keeper_delay_steps", "keeper_gas_budget")
    )
    ctx.fraction("[population]", "long_share", pop["long_share"])
    cross_share = pop.get("cross_margined_share", 0.0)
    ctx.fraction("[population]", "cross_margined_share", cross_share)
    if cross_share > 0 and len(markets) < 2:
        raise ctx.err("[population]", "key 'cross_margined_share' > 0 needs at least two [[markets]]")
    lev = pop["leverage"]
    ctx.check("[population.leverage]", lev, {"min": "number", "max": "number", "share_at_max": "number"}, {})
    if not 1 <= lev["min"] <= lev["max"]:
        raise ctx.err("[population.leverage]", f"need 1 <= min <= max, got min={lev['min']!r} max={lev['max']!r}")
    ctx.fraction("[population.leverage]", "share_at_max", lev["share_at_max"])
    desk = _optional_section(ctx, pop, "options_desk", DeskSpec, markets)
    swaps = _optional_section(ctx, pop, "funding_swaps", FundingSwapsSpec, markets)
    if "funding_caps" in pop and swaps is None:
        raise ctx.err("[population.funding_caps]", "needs [population.funding_swaps] (its groups and bookkeeping)")
    caps = _optional_section(ctx, pop, "funding_caps", FundingCapsSpec, markets)
    population = Population(
        pop["directional"],
        LeverageDist(lev["min"], lev["max"], lev["share_at_max"]),
        pop["long_share"],
        pop["basis"],
        pop["lps"],
        pop["keepers"],
        pop["keeper_delay_steps"],
        pop["keeper_gas_budget"],
        options_desk=desk,
        funding_swaps=swaps,
        funding_caps=caps,
        cross_margined_share=float(cross_share),
    )

    impact = ImpactSpec()
    if "impact" in doc:
        imp = doc["impact"]
        ctx.check(
            "[impact]",
            imp,
            {"enabled": "bool", "depth_usd": "number", "decay_half_life_steps": "number"},
            {"permanent_share": "number"},
        )
        if imp["depth_usd"] <= 0:
            raise ctx.err("[impact]", f"key 'depth_usd' must be > 0, got {imp['depth_usd']!r}")
        if imp["decay_half_life_steps"] <= 0:
            raise ctx.err("[impact]", f"key 'decay_half_life_steps' must be > 0, got {imp['decay_half_life_steps']!r}")
        ctx.fraction("[impact]", "permanent_share", imp.get("permanent_share", 0))
        impact = ImpactSpec(
            imp["enabled"], imp["depth_usd"], imp["decay_half_life_steps"], imp.get("permanent_share", 0)
        )

    param_sets: dict[str, dict[str, Any]] = {}
    for ps_name, raw in doc.get("param_sets", {}).items():
        param_sets[ps_name] = _check_params(ctx, f"[param_sets.{ps_name}]", raw)

    compare = None
    if "compare" in doc:
        cmp_ = doc["compare"]
        ctx.check("[compare]", cmp_, {"a": "str", "b": "str"}, {})
        for k in ("a", "b"):
            if cmp_[k] not in param_sets:
                raise ctx.err(
                    "[compare]",
                    f"key {k!r} names param set {cmp_[k]!r}, which is not defined "
                    f"(defined: {', '.join(param_sets) or 'none'}; add [param_sets.{cmp_[k]}])",
                )
        compare = CompareSpec(cmp_["a"], cmp_["b"])

    return Scenario(
        name=doc["name"],
        description=doc["description"],
        seed=doc["seed"],
        path=path,
        markets=markets,
        population=population,
        impact=impact,
        horizon_steps=horizon,
        compare=compare,
        param_sets=param_sets,
        file=file,
    )
