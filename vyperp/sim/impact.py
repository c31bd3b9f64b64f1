"""Spot price impact of forced flow (liquidations, keeper hedges), with decay.

Model (per simulation step ``t``; all quantities deterministic integer/Decimal):

* signed flow notional ``F_t`` in USD (positive = net buying, negative = net
  selling), depth ``D`` = the USD notional that moves the price 1%;
* instantaneous log-price impact of the step's flow, linear in notional::

      delta_t = 0.01 * F_t / D

  (``F = D`` lifts log-price by 0.01, i.e. the price by ~1.005%);
* a share ``s = permanent_share`` (default 0) of every ``delta`` is permanent,
  the rest is temporary and decays geometrically with half-life ``h`` steps::

      r     = 0.5 ** (1 / h)                      # per-step retention
      T_t   = r * T_{t-1} + (1 - s) * delta_t     # temporary, decays
      P_t   = P_{t-1} + s * delta_t               # permanent
      I_t   = T_t + P_t                           # cumulative log impact
      price = reference_t * exp(I_t)

  so a single burst of flow leaves ``(1 - s) * delta * 0.5 ** (k / h) + s * delta``
  of log impact ``k`` steps later.  ``h = inf`` means no decay.

The order inside :meth:`SpotImpact.apply` is: decay the old impact by one step,
add this step's flow, return the impacted price (a step's own flow hits its own
price fully).

Numerics: log impacts are held as signed wads (1e18 = 1.0 log unit) and
``r`` as a wad; products/quotients round half-to-even; ``exp`` uses
``decimal`` at 50 digits (libmpdec, platform independent), so the output is a
deterministic integer for given integer inputs.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

from ..oracles.pricepath import WAD, PriceLike, _div_round_half_even, to_wad

_PREC = 50


def _mul_wad(a: int, b_wad: int) -> int:
    """``a * b_wad / 1e18`` rounded half-to-even (signed ``a``)."""
    return _div_round_half_even(a * b_wad, WAD)


def exp_wad(x_wad: int) -> Decimal:
    """``exp(x)`` for a wad exponent, as a 50-digit ``Decimal``."""
    with localcontext() as ctx:
        ctx.prec = _PREC
        return (Decimal(x_wad) / WAD).exp()


class SpotImpact:
    """Stateful price-impact filter; call :meth:`apply` once per step.

    ``depth_usd``: USD notional that moves log-price by 1% (> 0).
    ``decay_half_life_steps``: half-life of the temporary impact in steps
    (> 0, may be fractional; ``math.inf`` = never decays).
    ``enabled``: when False :meth:`apply` returns the reference price unchanged.
    ``permanent_share``: fraction in [0, 1] of each step's impact that never
    decays (default 0: fully temporary).
    """

    def __init__(
        self,
        depth_usd: PriceLike,
        decay_half_life_steps: float,
        enabled: bool = True,
        permanent_share: PriceLike = 0,
    ) -> None:
        self.depth_wad: int = to_wad(depth_usd)
        if self.depth_wad <= 0:
            raise ValueError(f"depth_usd must be positive, got {depth_usd!r}")
        if isinstance(decay_half_life_steps, bool) or not isinstance(decay_half_life_steps, (int, float, Decimal)):
            raise ValueError(f"decay_half_life_steps must be a number, got {decay_half_life_steps!r}")
        h = float(decay_half_life_steps)
        if math.isnan(h) or h <= 0:
            raise ValueError(f"decay_half_life_steps must be > 0 (or inf), got {decay_half_life_steps!r}")
        self.decay_half_life_steps: float = h
        self.enabled: bool = bool(enabled)
        self.permanent_share_wad: int = to_wad(permanent_share)
        if not 0 <= self.permanent_share_wad <= WAD:
            raise ValueError(f"permanent_share must be in [0, 1], got {permanent_share!r}")
        if math.isinf(h):
            self.retention_wad: int = WAD
        else:
            with localcontext() as ctx:
                ctx.prec = _PREC
                r = (Decimal("0.5").ln() / Decimal(repr(h))).exp()
                self.retention_wad = int((r * WAD).to_integral_value(ROUND_HALF_EVEN))
        self.temporary_log_wad: int = 0
        self.permanent_log_wad: int = 0

    # ------------------------------------------------------------------ state
    @property
    def log_impact_wad(self) -> int:
        """Current cumulative log impact ``I`` (signed wad)."""
        return self.temporary_log_wad + self.permanent_log_wad

    def reset(self) -> None:
        """Forget all accumulated impact."""
        self.temporary_log_wad = 0
        self.permanent_log_wad = 0

    def delta_log_wad(self, flow_usd_wad: int) -> int:
        """Instantaneous log impact ``0.01 * F / D`` of one step's flow (wad)."""
        return _div_round_half_even(flow_usd_wad * WAD, self.depth_wad * 100)

    def price(self, reference_price_wad: int) -> int:
        """Impacted price for the current state, without advancing a step."""
        if not self.enabled or self.log_impact_wad == 0:
            return reference_price_wad
        with localcontext() as ctx:
            ctx.prec = _PREC
            out = (Decimal(reference_price_wad) * exp_wad(self.log_impact_wad)).to_integral_value(ROUND_HALF_EVEN)
        return max(1, int(out))

    # ------------------------------------------------------------------- step
    def apply(self, reference_price_wad: int, flow_usd_wad: int) -> int:
        """Advance one step: decay, add ``flow_usd_wad``'s impact, return the price.

        ``reference_price_wad``: the un-impacted price this step (wad);
        ``flow_usd_wad``: signed net flow notional this step (wad USD,
        positive = buying).  Returns the impacted price (wad, >= 1).
        """
        if not self.enabled:
            return reference_price_wad
        if reference_price_wad <= 0:
            raise ValueError(f"reference price must be positive, got {reference_price_wad}")
        self.temporary_log_wad = _mul_wad(self.temporary_log_wad, self.retention_wad)
        delta = self.delta_log_wad(flow_usd_wad)
        perm = _mul_wad(delta, self.permanent_share_wad)
        self.permanent_log_wad += perm
        self.temporary_log_wad += delta - perm
        return self.price(reference_price_wad)

    def __repr__(self) -> str:
        return (
            f"SpotImpact(depth_usd={Decimal(self.depth_wad) / WAD}, half_life={self.decay_half_life_steps}, "
            f"enabled={self.enabled}, log_impact={Decimal(self.log_impact_wad) / WAD})"
        )
