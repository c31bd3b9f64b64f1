"""Deploy FundingSwaps beside a deployed protocol and bind it to the engine (issue 14).

The swaps hold no collateral: holders trade from their engine margin, the LP pool is
the counterparty, and the engine adds the swaps to every account's health once the
configurator binds the contract (`MarketConfigurator.set_swaps`, admin, once)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .units import wad


@dataclass(frozen=True)
class SwapParams:
    """FundingSwaps' parameters (1e18 fixed point, seconds)."""

    initial_k: int = wad(4)  # initial margin = k * |S| * P * horizon/8h * max(|rate|, rate_floor)
    maintenance_k: int = wad(2)
    time_floor: int = 86_400  # the margin assumes at least a day left
    rate_floor: int = wad("0.0001")  # and at least 0.01 % per 8h
    reward_rate: int = wad("0.0005")  # keeper: 5 bp of the closed notional
    penalty_rate: int = wad("0.0005")  # to the pool: 5 bp of the closed notional
    skew_scale_fraction: int = wad("0.05")  # gross swap OI <= 5 % of skew_scale
    perp_open_interest_fraction: int = wad("0.5")  # and <= 50 % of the perp open interest
    ema_period: int = 8 * 3600  # the mark rate: EMA of the engine's funding rate
    base_spread: int = wad("0.00002")  # 0.2 bp per 8h either side of the mark
    # + 1/4 x book skew / skew_scale per 8h: carrying skew cannot pay (FundingSwaps NatSpec)
    skew_slope: int = wad("0.25")
    utilisation_slope: int = wad("0.0001")  # + 1 bp per 8h at a full OI cap


def deploy_funding_swaps(system: Any, params: SwapParams | None = None, bind: bool = True) -> Any:
    """FundingSwaps on `system`'s engine, the protocol admin its admin; bound to the
    engine through the configurator unless `bind` is False."""
    p = params or SwapParams()
    admin = system.admin
    swaps = system.chain.deploy(
        "FundingSwaps", system.engine, p.initial_k, p.maintenance_k, p.time_floor, p.rate_floor, sender=admin
    )
    swaps.set_liquidation_config(p.reward_rate, p.penalty_rate, sender=admin)
    swaps.set_open_interest_cap(p.skew_scale_fraction, p.perp_open_interest_fraction, sender=admin)
    swaps.set_quote_config(p.ema_period, p.base_spread, p.skew_slope, p.utilisation_slope, sender=admin)
    if bind:
        system.configurator.set_swaps(swaps, sender=admin)
    return swaps


def swap_trader(system: Any, label: str, deposit_usd: int) -> str:
    """A new account with `deposit_usd` of engine margin (swaps trade from it)."""
    return system.new_trader(label, deposit_usd)
