"""The spot market behind the oracle: the scenario's path plus the price impact of the
forced flow the simulation produces.

Flow is signed USD notional (positive = buying spot): liquidations of longs sell, of
shorts buy; basis traders buy spot when they open their hedge and sell it when they
close or are liquidated; auto-deleveraging closes positions (closing a short buys).
The flow of step ``t`` moves the price the feeder pushes at step ``t + 1`` through
:class:`oracles.impact.SpotImpact` (linear impact ``0.01 * F / depth`` in log-price,
decaying with the scenario's half-life). With ``[impact] enabled = false`` the pushed
answers are exactly the path's oracle answers (``PricePath.to_oracle_answers``).
"""

from __future__ import annotations

from vyperp.oracles.pricepath import WAD, PricePath
from vyperp.sim.impact import SpotImpact
from vyperp.sim.scenario import ImpactSpec


class SpotMarket:
    """One market's spot price: reference path, impact state and this step's flow."""

    def __init__(self, path: PricePath, impact: ImpactSpec, decimals: int = 8):
        self.path = path
        self.impact: SpotImpact = impact.model()
        self.enabled = bool(impact.enabled)
        self.decimals = decimals
        self._div = 10 ** (18 - decimals)
        self.answers = path.to_oracle_answers(decimals)
        self.flow_wad = 0  # signed USD (1e18) accumulated during the current step
        self.flow_by_kind: dict[str, int] = {}
        self.last_price_wad = path.prices[0]

    def add_flow(self, usd_wad: int, kind: str) -> None:
        """Record forced spot flow (USD 1e18, + = buy) of `kind` during the current step."""
        if usd_wad:
            self.flow_wad += usd_wad
            self.flow_by_kind[kind] = self.flow_by_kind.get(kind, 0) + usd_wad

    def take_flow(self) -> tuple[int, dict[str, int]]:
        """The step's flow (and its split by kind), resetting the accumulators."""
        flow, kinds = self.flow_wad, self.flow_by_kind
        self.flow_wad, self.flow_by_kind = 0, {}
        return flow, kinds

    def answer(self, step: int, previous_flow_wad: int) -> int:
        """Oracle answer (``decimals``) to push at `step`, after `previous_flow_wad` hit spot."""
        if not self.enabled:
            self.last_price_wad = self.path.prices[step]
            return self.answers[step]
        price = self.impact.apply(self.path.prices[step], previous_flow_wad)
        self.last_price_wad = price
        return price // self._div

    @property
    def log_impact(self) -> float:
        """Current cumulative log impact (0 when disabled)."""
        return self.impact.log_impact_wad / WAD if self.enabled else 0.0
