"""Deploy FundingCaps beside a deployed protocol (issue 14, the caps part)."""

from __future__ import annotations

from typing import Any

from .params import MAX_UINT

DEFAULT_TWAP_WINDOW = 3_600


def deploy_funding_caps(system: Any, twap_window: int = DEFAULT_TWAP_WINDOW) -> Any:
    """FundingCaps on `system`'s engine and collateral, the protocol admin its admin."""
    return system.chain.deploy("FundingCaps", system.engine, system.token, twap_window, sender=system.admin)


def caps_account(system: Any, caps: Any, label: str, mint_usd: int = 0) -> str:
    """A new account holding `mint_usd` of collateral, approved to FundingCaps."""
    account = system.new_trader(label)
    system.token.approve(caps, MAX_UINT, sender=account)
    if mint_usd:
        system.mint(account, mint_usd)
    return account
