"""Deploy FundingSwaps beside a deployed protocol (first slice of issue 14)."""

from __future__ import annotations

from typing import Any

from .params import MAX_UINT
from .units import wad


def deploy_funding_swaps(system: Any, initial_margin_ratio: int = wad("0.05")) -> Any:
    """FundingSwaps on `system`'s engine and collateral, the protocol admin its admin."""
    return system.chain.deploy("FundingSwaps", system.engine, system.token, initial_margin_ratio, sender=system.admin)


def swap_trader(system: Any, swaps: Any, label: str, deposit_usd: int) -> str:
    """A new account with `deposit_usd` of swap margin (and an approval for more)."""
    account = system.new_trader(label)
    system.token.approve(swaps, MAX_UINT, sender=account)
    if deposit_usd:
        swaps.deposit(system.mint(account, deposit_usd), sender=account)
    return account
