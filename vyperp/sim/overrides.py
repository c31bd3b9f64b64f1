"""Parameter overrides of one replay, by flat name (``run_replay(..., overrides={...})``).

A sweep varies parameters without editing a scenario's internals: every name below is
one key of the ``overrides`` dict, resolved in this order.

run
    ``traders`` (directional traders; basis traders, LP capital and insurance scale with it,
    as ``--traders``), ``mitigations`` (``"off"``/``"on"``), ``param_set``.
population (``[population]`` of the scenario)
    ``long_share``, ``basis``, ``lps``, ``keepers``, ``keeper_delay_steps``,
    ``keeper_gas_budget``, ``cross_margined_share``, ``leverage_min``, ``leverage_max``, ``leverage_share_at_max``.
impact (``[impact]``)
    ``impact_enabled``, ``impact_depth_usd``, ``impact_half_life_steps``,
    ``impact_permanent_share``.
agents (:class:`vyperp.sim.agents.AgentConfig`)
    every field: ``insurance_per_trader_usd`` (insurance-fund size), ``lp_capital_per_trader_usd``
    (pool size), ``adl_policy`` (``"queue"``/``"pro-rata"``), ``collateral_median_usd``, ...
    (lists become tuples).
protocol (the scenario's ``[markets.params]``, every market, after the parameter set)
    every key that table accepts (:mod:`vyperp.sim.scenario_params`): the schema keys
    (``max_leverage``, ``maintenance_margin_rate``, ``max_funding_rate_8h``), every
    ``MarketParams`` field (``funding_model``, ``funding_clamp``, ``interest_rate``,
    ``brackets``, ``variance_ewma_weight``, ``volatility_weight``, ``funding_weight``,
    ``max_multiplier``, ``rate_limit_notional``, ``rate_limit_window``, ...), every
    ``LiquidationParams`` field (``tiers = [[ratio, fraction], ...]``, ``penalty_rate``,
    ``cooldown``, ...), and two derived knobs: ``bracket_scale`` (every bracket's initial
    and maintenance rate times this, capped at 100 %) and ``tier_threshold_scale`` (the
    margin-ratio threshold of every tier after the first times this: the engine requires the
    first tier at ratio 1 and the others below it).

An unknown name is a :class:`ValueError` naming it (:func:`check_override_names`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

from .agents import AgentConfig
from .scenario import ImpactSpec, LeverageDist, Scenario

RUN_KEYS = ("traders", "mitigations", "param_set")
POPULATION_KEYS = {
    "long_share": "long_share",
    "basis": "basis",
    "lps": "lps",
    "keepers": "keepers",
    "keeper_delay_steps": "keeper_delay_steps",
    "keeper_gas_budget": "keeper_gas_budget",
    "cross_margined_share": "cross_margined_share",
}
LEVERAGE_KEYS = {"leverage_min": "min", "leverage_max": "max", "leverage_share_at_max": "share_at_max"}
IMPACT_KEYS = {
    "impact_enabled": "enabled",
    "impact_depth_usd": "depth_usd",
    "impact_half_life_steps": "decay_half_life_steps",
    "impact_permanent_share": "permanent_share",
}
AGENT_KEYS = tuple(f.name for f in fields(AgentConfig))


def protocol_keys() -> set[str]:
    """Every name the protocol tables accept (see :mod:`vyperp.sim.scenario_params`)."""
    from .scenario_params import DERIVED_KEYS, known_table_keys

    return set(known_table_keys()) | set(DERIVED_KEYS)


def known_override_names() -> list[str]:
    """Every accepted override name, sorted."""
    return sorted(
        set(RUN_KEYS) | set(POPULATION_KEYS) | set(LEVERAGE_KEYS) | set(IMPACT_KEYS) | set(AGENT_KEYS) | protocol_keys()
    )


def check_override_names(names: Any, where: str = "overrides") -> None:
    """ValueError naming the first unknown name."""
    import difflib

    known = set(known_override_names())
    for name in names:
        if name not in known:
            close = difflib.get_close_matches(str(name), sorted(known), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ValueError(f"{where}: unknown parameter {name!r} ({hint}known: {', '.join(sorted(known))})")


@dataclass
class Overrides:
    """An ``overrides`` dict split by where each name goes."""

    run: dict[str, Any] = field(default_factory=dict)
    population: dict[str, Any] = field(default_factory=dict)
    leverage: dict[str, Any] = field(default_factory=dict)
    impact: dict[str, Any] = field(default_factory=dict)
    agents: dict[str, Any] = field(default_factory=dict)
    protocol: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def split(cls, overrides: dict[str, Any] | None) -> Overrides:
        out = cls()
        if not overrides:
            return out
        check_override_names(overrides)
        for name, value in overrides.items():
            if name in RUN_KEYS:
                out.run[name] = value
            elif name in POPULATION_KEYS:
                out.population[POPULATION_KEYS[name]] = value
            elif name in LEVERAGE_KEYS:
                out.leverage[LEVERAGE_KEYS[name]] = value
            elif name in IMPACT_KEYS:
                out.impact[IMPACT_KEYS[name]] = value
            elif name in AGENT_KEYS:
                out.agents[name] = tuple(value) if isinstance(value, list) else value
            else:
                out.protocol[name] = value
        return out

    def scenario(self, scenario: Scenario) -> Scenario:
        """The scenario with the population and impact overrides applied."""
        if self.population or self.leverage:
            pop = scenario.population
            lev = replace(pop.leverage, **self.leverage) if self.leverage else pop.leverage
            if not 1 <= lev.min <= lev.max:
                raise ValueError(f"overrides: need 1 <= leverage_min <= leverage_max, got {lev.min!r}, {lev.max!r}")
            if not 0 <= lev.share_at_max <= 1:
                raise ValueError(f"overrides: leverage_share_at_max must be in [0, 1], got {lev.share_at_max!r}")
            for key, value in self.population.items():
                if key in ("long_share", "cross_margined_share"):
                    if not 0 <= value <= 1:
                        raise ValueError(f"overrides: {key} must be in [0, 1], got {value!r}")
                elif not isinstance(value, int) or isinstance(value, bool) or value < 0:
                    raise ValueError(f"overrides: {key} must be an integer >= 0, got {value!r}")
            scenario = replace(
                scenario,
                population=replace(pop, leverage=LeverageDist(lev.min, lev.max, lev.share_at_max), **self.population),
            )
        if self.impact:
            impact = replace(scenario.impact or ImpactSpec(), **self.impact)
            if impact.depth_usd <= 0 or impact.decay_half_life_steps <= 0:
                raise ValueError("overrides: impact_depth_usd and impact_half_life_steps must be > 0")
            scenario = replace(scenario, impact=impact)
        return scenario

    def agent_config(self, config: AgentConfig | None) -> AgentConfig | None:
        if not self.agents:
            return config
        return replace(config or AgentConfig(), **self.agents)


__all__ = [
    "AGENT_KEYS",
    "IMPACT_KEYS",
    "LEVERAGE_KEYS",
    "Overrides",
    "POPULATION_KEYS",
    "RUN_KEYS",
    "check_override_names",
    "known_override_names",
]
