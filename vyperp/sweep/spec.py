"""Sweep specs (TOML): which scenarios, which parameters vary and how, which paths, which seeds.

Schema (``?`` = optional)::

    name = "leverage-x-keeper-delay"      # str
    description = "..."                   # ? str
    scenarios = ["crash-30pct"]           # names (vyperp/scenarios) or paths (relative to the spec)
    traders = 60                          # ? directional traders of every run (default: the scenario's)
    steps = 120                           # ? cap on the horizon
    full_scan_every = 20                  # ? as `vyperp replay --full-scan-every`
    timeseries = ["index", "pool_assets"] # ? per-step columns kept in the long-form table ([] = none)
    amplification = false                 # ? also replay with the spot impact flipped (cascade amplification)

    [fixed]                               # ? overrides of every run (names: vyperp.sim.overrides)
    mitigations = "on"

    [vary]                                # parameter -> a list of values, or a range table
    max_leverage = [20, 50]               #   list: grid axis (random/lhs/sobol draw from it uniformly)
    bracket_scale = { min = 0.5, max = 2.0 }            # range: random/lhs/sobol only
    impact_depth_usd = { min = 1e6, max = 1e8, log = true }
    keeper_delay_steps = { min = 0, max = 5, int = true }

    [variants]                            # ? named designs, each a table of overrides; crossed
    baseline = {}                         #   with [vary]: a cell's point holds `variant` = its
    funding_cap = { max_funding_rate_8h = 0.001 }   # name and the variant's overrides
    tiered = { tiers = [[1.0, 0.25], [0.75, 0.5], [0.5, 1.0]] }

    [design]                              # ? default: grid
    kind = "grid"                         # grid | random | lhs | sobol
    samples = 16                          # random/lhs/sobol: number of points (sobol: a power of 2)
    seed = 0                              # random/lhs/sobol: seed of the design

    [paths]                               # ? default: the scenario's own path, once
    source = "scenario"                   # scenario | bootstrap | jump-fit
    count = 1                             # paths per cell
    seed = 0                              # path i's seed derives from (seed, i): reproducible
    block_steps = 30                      # bootstrap: block length (one-minute returns)
    windows = ["2025-10-10", ...]         # calibration windows (default: all shipped real windows)
                                          # [[paths]] instead: several path sets (e.g. the real window
                                          # and bootstrap paths), each its own cells; a set may
                                          # carry its own seeds = { count = 20 } (default: [seeds])

    [seeds]                               # ? agents' seeds; default: the scenario's seed
    values = [1, 2, 3]                    # or count = 3 (seeds start .. start + count - 1), start = 0

A *cell* is one scenario x one point of the design (x one path set, when ``[[paths]]``
names several); its runs are the paths x the seeds.
``source = "scenario"`` with ``count = 1`` replays the scenario's own path exactly as
``vyperp replay --seed N`` does (a generated path without its own ``seed`` follows the
agents' seed); with ``count > 1`` (generated paths only) path ``i`` gets its own generator
seed from ``(seed, i)``. The spec checks names and types; parameter *values* are checked
by the replay (``vyperp sweep --dry-run`` sets up one replay per cell to catch them early;
during a sweep a bad value fails that cell's replays, recorded with the error).
Errors are :class:`SpecError` naming the file and the key.
"""

from __future__ import annotations

import itertools
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import resources

SWEEP_DIR: Path = resources.PACKAGE / "sweeps"
DESIGNS = ("grid", "random", "lhs", "sobol")
PATH_SOURCES = ("scenario", "bootstrap", "jump-fit")
DEFAULT_TIMESERIES = (
    "index",
    "mark",
    "funding_rate_8h",
    "liquidated_notional",
    "insurance_fund",
    "pool_assets",
    "bad_debt",
    "adl_events",
)


class SpecError(ValueError):
    """A sweep spec is missing a key, has a wrong type or an unknown value."""


@dataclass(frozen=True)
class Axis:
    """One varied parameter: a list of values, or a range [min, max] (log / int)."""

    name: str
    values: tuple[Any, ...] | None = None
    min: float | None = None
    max: float | None = None
    log: bool = False
    integer: bool = False

    def at(self, u: float) -> Any:
        """The value at the unit coordinate ``u`` in [0, 1)."""
        if self.values is not None:
            return self.values[min(int(u * len(self.values)), len(self.values) - 1)]
        lo, hi = float(self.min), float(self.max)  # type: ignore[arg-type]
        if self.integer:
            return int(min(math.floor(lo + u * (hi - lo + 1)), hi))
        if self.log:
            return float(f"{math.exp(math.log(lo) + u * (math.log(hi) - math.log(lo))):.12g}")
        return float(f"{lo + u * (hi - lo):.12g}")


@dataclass(frozen=True)
class PathsSpec:
    source: str = "scenario"
    count: int = 1
    seed: int = 0
    block_steps: int = 30
    windows: tuple[str, ...] | None = None
    seeds: tuple[int, ...] | None = None  # this path set's agent seeds (None: the spec's [seeds])


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep spec (:func:`load_spec`, :func:`parse_spec`)."""

    name: str
    scenarios: tuple[str, ...]
    axes: tuple[Axis, ...] = ()
    fixed: dict[str, Any] = field(default_factory=dict)
    design: str = "grid"
    samples: int = 0
    design_seed: int = 0
    paths: tuple[PathsSpec, ...] = (PathsSpec(),)
    seeds: tuple[int, ...] | None = None
    traders: int | None = None
    steps: int | None = None
    full_scan_every: int | None = None
    timeseries: tuple[str, ...] = DEFAULT_TIMESERIES
    amplification: bool = False
    description: str = ""
    file: Path | None = None
    variants: tuple[tuple[str, dict[str, Any]], ...] = ()

    def points(self) -> list[dict[str, Any]]:
        """The design's parameter points (each a dict name -> value), in a fixed order: the
        [vary] design, crossed with the [variants] when there are any (variant first)."""
        base = self._axis_points()
        if not self.variants:
            return base
        return [{VARIANT: name, **overrides, **point} for name, overrides in self.variants for point in base]

    def _axis_points(self) -> list[dict[str, Any]]:
        if not self.axes:
            return [{}]
        names = [a.name for a in self.axes]
        if self.design == "grid":
            return [dict(zip(names, combo)) for combo in itertools.product(*(a.values for a in self.axes))]
        d = len(self.axes)
        if self.design == "random":
            units = np.random.default_rng(self.design_seed).random((self.samples, d))
        else:
            from scipy.stats import qmc

            engine = (
                qmc.LatinHypercube(d, seed=self.design_seed)
                if self.design == "lhs"
                else qmc.Sobol(d, scramble=True, seed=self.design_seed)
            )
            units = engine.random(self.samples)
        return [{a.name: a.at(float(u)) for a, u in zip(self.axes, row)} for row in units]


VARIANT = "variant"
"""The key of a design point that names its variant (a label, not an override)."""


def point_overrides(fixed: dict[str, Any], point: dict[str, Any]) -> dict[str, Any]:
    """The replay overrides of a design point: [fixed], then the point, without its variant label."""
    return {k: v for k, v in {**fixed, **point}.items() if k != VARIANT}


def _err(file: str, where: str, msg: str) -> SpecError:
    return SpecError(f"{file}: {where}: {msg}")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and not (isinstance(v, float) and math.isnan(v))


def _check_keys(file: str, where: str, tbl: Any, allowed: dict[str, str]) -> dict[str, Any]:
    if not isinstance(tbl, dict):
        raise _err(file, where, f"must be a table, got {type(tbl).__name__} {tbl!r}")
    kinds = {
        "int": (_is_int, "an integer"),
        "num": (_is_num, "a number"),
        "str": (lambda v: isinstance(v, str), "a string"),
        "bool": (lambda v: isinstance(v, bool), "true/false"),
        "list": (lambda v: isinstance(v, list), "a list"),
        "table": (lambda v: isinstance(v, dict), "a table"),
        "tables": (
            lambda v: isinstance(v, dict) or (isinstance(v, list) and all(isinstance(t, dict) for t in v)),
            "a table or an array of tables",
        ),
        "any": (lambda v: True, ""),
    }
    for key, value in tbl.items():
        if key not in allowed:
            raise _err(file, where, f"unknown key {key!r} (allowed: {', '.join(sorted(allowed))})")
        ok, name = kinds[allowed[key]]
        if not ok(value):
            raise _err(file, where, f"key {key!r} must be {name}, got {type(value).__name__} {value!r}")
    return tbl


def load_spec(path: str | Path) -> SweepSpec:
    """Load and validate a spec by path, or by name from ``vyperp/sweeps/``."""
    p = Path(path)
    if not p.exists() and p.suffix != ".toml" and len(p.parts) == 1:
        p = SWEEP_DIR / f"{path}.toml"
    if not p.exists():
        shipped = ", ".join(sorted(x.stem for x in SWEEP_DIR.glob("*.toml")))
        raise SpecError(f"{p}: sweep spec not found (shipped: {shipped or 'none'})")
    try:
        doc = tomllib.loads(p.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{p}: invalid TOML: {exc}") from None
    return parse_spec(doc, p)


def _seeds_of(f: str, where: str, raw: Any) -> tuple[int, ...] | None:
    """A ``[seeds]`` table (or a path set's ``seeds``): values, or count with a start."""
    seeds_tbl = _check_keys(f, where, raw, {"values": "list", "count": "int", "start": "int"})
    if "values" in seeds_tbl:
        if "count" in seeds_tbl or "start" in seeds_tbl:
            raise _err(f, where, "give either 'values' or 'count' (with an optional 'start'), not both")
        if not seeds_tbl["values"] or not all(_is_int(s) and s >= 0 for s in seeds_tbl["values"]):
            raise _err(f, where, "key 'values' must be a non-empty list of integers >= 0")
        return tuple(seeds_tbl["values"])
    if "count" in seeds_tbl:
        if seeds_tbl["count"] < 1 or seeds_tbl.get("start", 0) < 0:
            raise _err(f, where, "key 'count' must be >= 1 and 'start' >= 0")
        start = seeds_tbl.get("start", 0)
        return tuple(range(start, start + seeds_tbl["count"]))
    if "start" in seeds_tbl:
        raise _err(f, where, "key 'start' needs 'count'")
    return None


def _paths_spec(f: str, where: str, tbl: Any, scenarios: list[str], load_scenario: Any) -> PathsSpec:
    """One path set of the spec (a ``[paths]`` table or one ``[[paths]]`` entry)."""
    if not isinstance(tbl, dict):
        raise _err(f, where, f"must be a table, got {type(tbl).__name__}")
    paths_tbl = _check_keys(
        f,
        where,
        tbl,
        {"source": "str", "count": "int", "seed": "int", "block_steps": "int", "windows": "list", "seeds": "table"},
    )
    source = paths_tbl.get("source", "scenario")
    if source not in PATH_SOURCES:
        raise _err(f, where, f"key 'source' must be one of {', '.join(PATH_SOURCES)}, got {source!r}")
    for key in ("count", "block_steps"):
        if key in paths_tbl and paths_tbl[key] < 1:
            raise _err(f, where, f"key {key!r} must be >= 1, got {paths_tbl[key]!r}")
    windows = paths_tbl.get("windows")
    if windows is not None:
        from ..oracles.sources import REAL_WINDOWS

        for w in windows:
            if w not in REAL_WINDOWS:
                raise _err(f, where, f"key 'windows': unknown real window {w!r} (known: {', '.join(REAL_WINDOWS)})")
        if source == "scenario":
            raise _err(f, where, "key 'windows' is for the bootstrap and jump-fit sources")
        if source == "bootstrap":
            for ref in scenarios:
                if len(load_scenario(ref).symbols) > 1:
                    raise _err(
                        f,
                        where,
                        f"key 'windows': scenario {Path(ref).stem!r} has several markets; its bootstrap "
                        "draws blocks from its own aligned paths (a joint bootstrap), not from windows",
                    )
    paths = PathsSpec(
        source,
        paths_tbl.get("count", 1),
        paths_tbl.get("seed", 0),
        paths_tbl.get("block_steps", 30),
        tuple(windows) if windows is not None else None,
        _seeds_of(f, f"{where} seeds", paths_tbl["seeds"]) if "seeds" in paths_tbl else None,
    )
    if source == "scenario" and paths.count > 1:
        for ref in scenarios:
            if load_scenario(ref).path.source in ("real", "file"):
                raise _err(
                    f,
                    where,
                    f"key 'count' = {paths.count}: scenario {Path(ref).stem!r} replays a fixed "
                    'price path (source real/file); use source = "bootstrap" or "jump-fit" '
                    "for Monte Carlo paths",
                )
    return paths


def parse_spec(doc: dict[str, Any], file: Path | None = None) -> SweepSpec:
    """Validate a parsed spec document (see the module docstring)."""
    from ..sim.overrides import check_override_names
    from ..sim.scenario import ScenarioError, load_scenario, scenario_file

    f = str(file) if file else "<sweep>"
    _check_keys(
        f,
        "top level",
        doc,
        {
            "name": "str",
            "description": "str",
            "scenarios": "list",
            "traders": "int",
            "steps": "int",
            "full_scan_every": "int",
            "timeseries": "list",
            "amplification": "bool",
            "fixed": "table",
            "vary": "table",
            "variants": "table",
            "design": "table",
            "paths": "tables",
            "seeds": "table",
        },
    )
    for key in ("name", "scenarios"):
        if key not in doc:
            raise _err(f, "top level", f"missing key {key!r}")
    if not doc["name"].strip():
        raise _err(f, "top level", "key 'name' must not be empty")
    if not doc["scenarios"] or not all(isinstance(s, str) for s in doc["scenarios"]):
        raise _err(f, "top level", "key 'scenarios' must be a non-empty list of scenario names or files")
    base = file.resolve().parent if file else Path.cwd()
    scenarios = []
    for s in doc["scenarios"]:
        ref = scenario_file(s)
        if not ref.exists() and not ref.is_absolute() and (base / s).exists():
            ref = base / s
        try:
            load_scenario(ref)
        except ScenarioError as exc:
            raise _err(f, "scenarios", f"{s!r}: {exc}") from None
        scenarios.append(str(ref.resolve()))
    for key, minimum in (("traders", 0), ("steps", 1), ("full_scan_every", 0)):
        if key in doc and doc[key] < minimum:
            raise _err(f, "top level", f"key {key!r} must be >= {minimum}, got {doc[key]!r}")
    timeseries = tuple(doc.get("timeseries", DEFAULT_TIMESERIES))
    if not all(isinstance(x, str) for x in timeseries):
        raise _err(f, "top level", "key 'timeseries' must be a list of column names")

    fixed = dict(_check_keys(f, "[fixed]", doc.get("fixed", {}), {k: "any" for k in doc.get("fixed", {})}))
    try:
        check_override_names(fixed, f"{f}: [fixed]")
    except ValueError as exc:
        raise SpecError(str(exc)) from None

    design_tbl = _check_keys(f, "[design]", doc.get("design", {}), {"kind": "str", "samples": "int", "seed": "int"})
    design = design_tbl.get("kind", "grid")
    if design not in DESIGNS:
        raise _err(f, "[design]", f"key 'kind' must be one of {', '.join(DESIGNS)}, got {design!r}")
    samples = design_tbl.get("samples", 0)
    if design == "grid" and "samples" in design_tbl:
        raise _err(f, "[design]", "key 'samples' is for random/lhs/sobol designs (a grid is every combination)")
    if design != "grid":
        if samples < 1:
            raise _err(f, "[design]", f"key 'samples' (>= 1) is required for a {design} design")
        if design == "sobol" and samples & (samples - 1):
            raise _err(f, "[design]", f"key 'samples' must be a power of 2 for a sobol design, got {samples}")

    vary = doc.get("vary", {})
    if not isinstance(vary, dict):
        raise _err(f, "[vary]", "must be a table of parameter = [values] or {min, max}")
    try:
        check_override_names(vary, f"{f}: [vary]")
    except ValueError as exc:
        raise SpecError(str(exc)) from None
    axes = []
    for name, raw in vary.items():
        where = f"[vary] {name}"
        if name in fixed:
            raise _err(f, where, "is also in [fixed]; a parameter is either fixed or varied")
        if isinstance(raw, list):
            if not raw:
                raise _err(f, where, "must list at least one value")
            axes.append(Axis(name, values=tuple(raw)))
        elif isinstance(raw, dict):
            tbl = _check_keys(f, where, raw, {"min": "num", "max": "num", "log": "bool", "int": "bool"})
            for k in ("min", "max"):
                if k not in tbl:
                    raise _err(f, where, f"missing key {k!r} of the range")
            if tbl["min"] > tbl["max"]:
                raise _err(f, where, f"min {tbl['min']!r} > max {tbl['max']!r}")
            if tbl.get("log") and tbl["min"] <= 0:
                raise _err(f, where, "a log range needs min > 0")
            if design == "grid":
                raise _err(f, where, "a range {min, max} needs a random, lhs or sobol [design]; a grid needs a list")
            axes.append(
                Axis(name, min=tbl["min"], max=tbl["max"], log=tbl.get("log", False), integer=tbl.get("int", False))
            )
        else:
            raise _err(f, where, f"must be a list of values or a range table {{min, max}}, got {raw!r}")

    variants_tbl = doc.get("variants", {})
    variants = []
    for vname, overrides in variants_tbl.items():
        where = f"[variants] {vname}"
        if not isinstance(overrides, dict):
            raise _err(
                f, where, f"must be a table of overrides (e.g. {{ max_funding_rate_8h = 0.001 }}), got {overrides!r}"
            )
        try:
            check_override_names(overrides, f"{f}: {where}")
        except ValueError as exc:
            raise SpecError(str(exc)) from None
        clash = sorted(set(overrides) & ({a.name for a in axes} | set(fixed)))
        if clash:
            raise _err(f, where, f"sets {clash}, which [vary] or [fixed] also set; a parameter has one source")
        variants.append((vname, dict(overrides)))
    if VARIANT in fixed or any(a.name == VARIANT for a in axes):
        raise _err(f, "[fixed]/[vary]", f"{VARIANT!r} is the name of a [variants] entry, not a parameter")

    raw_paths = doc.get("paths", {})
    if isinstance(raw_paths, list):  # [[paths]]: several path sets (e.g. the real window and Monte Carlo)
        if not raw_paths:
            raise _err(f, "[[paths]]", "needs at least one path set")
        paths = tuple(
            _paths_spec(f, f"[[paths]] #{i + 1}", tbl, scenarios, load_scenario) for i, tbl in enumerate(raw_paths)
        )
        if len(set(paths)) != len(paths):
            raise _err(f, "[[paths]]", "two path sets are the same; each set must differ (source, count, seed, ...)")
    else:
        paths = (_paths_spec(f, "[paths]", raw_paths, scenarios, load_scenario),)

    seeds = _seeds_of(f, "[seeds]", doc.get("seeds", {}))

    return SweepSpec(
        name=doc["name"],
        scenarios=tuple(scenarios),
        axes=tuple(axes),
        fixed=fixed,
        design=design,
        samples=samples,
        design_seed=design_tbl.get("seed", 0),
        paths=paths,
        seeds=seeds,
        traders=doc.get("traders"),
        steps=doc.get("steps"),
        full_scan_every=doc.get("full_scan_every"),
        timeseries=timeseries,
        amplification=doc.get("amplification", False),
        description=doc.get("description", ""),
        file=file,
        variants=tuple(variants),
    )


__all__ = [
    "VARIANT",
    "point_overrides",
    "Axis",
    "DESIGNS",
    "PATH_SOURCES",
    "PathsSpec",
    "SpecError",
    "SweepSpec",
    "load_spec",
    "parse_spec",
]
