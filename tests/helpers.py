"""Expectations computed off-chain with the exact model (vyperp.model) from on-chain state."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vyperp import model
from vyperp.protocol.system import System


@dataclass
class MarketView:
    index_price: int
    skew: int
    skew_scale: int
    max_premium: int
    maker_fee: int
    taker_fee: int


def market_view(system: System, market: int) -> MarketView:
    config = system.engine.market_config(market)
    state = system.engine.market_state(market)
    return MarketView(
        index_price=int(system.engine.index_price(market)),
        skew=int(state.long_open_interest) - int(state.short_open_interest),
        skew_scale=int(config.skew_scale),
        max_premium=int(config.max_premium),
        maker_fee=int(config.maker_fee),
        taker_fee=int(config.taker_fee),
    )


def expected_fill(system: System, market: int, size_delta: int) -> tuple[int, int]:
    """(fill price, fee) the engine should charge for `size_delta` now."""
    view = market_view(system, market)
    price = model.fill_price(view.index_price, view.skew, size_delta, view.skew_scale, view.max_premium)
    fee = model.trade_fee(view.skew, size_delta, price, view.maker_fee, view.taker_fee)
    return price, fee


def events(system: System, name: str) -> list[dict]:
    return [dict(e.args) for e in system.chain.last_receipt.logs if e.name == name]


def role_names(system: System) -> dict[str, str]:
    """address -> role, to compare runs whose addresses differ (another backend, or anvil,
    where a call bumps the admin's nonce and later contracts land elsewhere)."""
    names = {v: k for k, v in system.chain.accounts.items()}
    for role in ("engine", "token", "pool", "lens", "configurator", "order_book"):
        contract = getattr(system, role, None)
        if contract is not None:
            names[contract.address] = role
    for i, oracle in enumerate(system.oracles):
        names[oracle.address] = f"oracle{i}"
    return names


def plain(value: Any, names: dict[str, str]) -> Any:
    """`value` with addresses replaced by role names, structure (named structs too) kept."""
    if isinstance(value, str):
        return names.get(value, value)
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # a named struct
        return type(value)(*(plain(v, names) for v in value))
    if isinstance(value, (list, tuple)):
        return type(value)(plain(v, names) for v in value)
    if isinstance(value, dict):
        return {k: plain(v, names) for k, v in value.items()}
    return value
