"""Expectations computed off-chain with the exact model (vyperp.model) from on-chain state."""

from __future__ import annotations

from dataclasses import dataclass

from vyperp import model
from vyperp.system import System


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
        skew=int(state[0]) - int(state[1]),
        skew_scale=int(config[3]),
        max_premium=int(config[4]),
        maker_fee=int(config[6]),
        taker_fee=int(config[5]),
    )


def expected_fill(system: System, market: int, size_delta: int) -> tuple[int, int]:
    """(fill price, fee) the engine should charge for `size_delta` now."""
    view = market_view(system, market)
    price = model.fill_price(view.index_price, view.skew, size_delta, view.skew_scale, view.max_premium)
    fee = model.trade_fee(view.skew, size_delta, price, view.maker_fee, view.taker_fee)
    return price, fee


def events(system: System, name: str) -> list[dict]:
    return [dict(e.args) for e in system.chain.last_receipt.logs if e.name == name]
