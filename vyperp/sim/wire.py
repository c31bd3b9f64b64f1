"""The replay's wire format: addresses, selectors, precomputed calldata and the byte
layouts of the raw reads, all taken from the ABIs by name once at start-up. The replay
and its agents send and read through it (:class:`Wire`), so the agents need no access
to the replay's internals for encoding."""

from __future__ import annotations

from typing import Any

from ..chain import ChainAPI
from ..chain.abi import element_words, head_offsets, output_param, static_layout
from .chainio import address_array, selector, uint_at, word

MAX_UINT = 2**256 - 1
SYNC_POSITIONS = 256  # EngineLens.MAX_SYNC (accounts x markets per step_read)
POSITION_FIELDS = ("size", "entry_price", "funding_index")
"""The order the account book keeps a position's words in (read from the ABI by these names)."""


class Wire:
    """Selectors, calldata and raw-read layouts of one deployment (built once)."""

    def __init__(self, chain: ChainAPI, engine: Any, lens: Any, token: Any, pool: Any, oracle: Any, n_markets: int):
        self.chain = chain
        e = engine
        self.engine_addr, self.pool_addr, self.lens_addr = engine.address, pool.address, lens.address
        self.token_addr = token.address
        self.n_markets = n_markets
        self.sel_trade = selector(e, "trade")
        self.sel_deposit = selector(e, "deposit")
        self.sel_poke = selector(e, "poke")
        self.sel_liquidate_many = selector(e, "liquidate_many")
        self.sel_adl = selector(e, "auto_deleverage")
        self.sel_adl_pro_rata = selector(e, "auto_deleverage_pro_rata")
        self.sel_push = selector(oracle, "push_round")
        self.sel_accounts_health = selector(lens, "accounts_health")
        self.sel_margins = selector(lens, "margins")
        self.sel_positions = selector(lens, "positions")
        self.sel_scan = selector(lens, "scan_accounts")
        self.sel_step_read = selector(lens, "step_read")
        # raw fast paths: byte offsets by field name from the ABI, computed once
        state_param = output_param(e.contract_type, "market_state")
        self.state_layout = static_layout(state_param)
        markets_param = output_param(lens.contract_type, "step_read", "markets")
        read_layout = static_layout(markets_param)
        self.read_layout = {k.removeprefix("state."): v for k, v in read_layout.items()}
        self.read_stride = element_words(markets_param) * 32
        health_param = output_param(lens.contract_type, "accounts_health")
        self.health_words = element_words(health_param)
        self.health_at = {name: at // 32 for name, at in static_layout(health_param).items()}
        self.step_head = head_offsets(output_param(lens.contract_type, "step_read"))
        self.scan_head = head_offsets(output_param(lens.contract_type, "scan_accounts"))
        position_param = output_param(lens.contract_type, "step_read", "positions")
        self.position_words = element_words(position_param)
        position_at = static_layout(position_param)
        self.position_order = [position_at[name] // 32 for name in POSITION_FIELDS]
        """Word of each of POSITION_FIELDS in an encoded Position (the book keeps that order)."""
        self.sel_liquidatable = selector(lens, "liquidatable_accounts")
        self.sync_batch = SYNC_POSITIONS // max(n_markets, 1)
        self.cd_poke = [self.sel_poke + word(m) for m in range(n_markets)]
        self.cd_market_state = [e.market_state.calldata(m) for m in range(n_markets)]
        self.cd_mark = [(self.engine_addr, e.mark_price.calldata(m)) for m in range(n_markets)]
        self.cd_index = [(self.engine_addr, e.index_price.calldata(m)) for m in range(n_markets)]
        self.cd_pool_value = (self.engine_addr, e.pool_value.calldata())
        self.cd_pool_balance = (self.engine_addr, e.pool_balance.calldata())
        self.cd_insurance = (self.engine_addr, e.insurance_fund.calldata())
        self.cd_balance = (self.token_addr, token.balanceOf.calldata(self.engine_addr))
        self.approve_engine = token.approve.calldata(self.engine_addr, MAX_UINT)
        self.approve_pool = token.approve.calldata(self.pool_addr, MAX_UINT)

    def trade_calldata(self, market: int, size: int, acceptable_price: int) -> bytes:
        return self.sel_trade + word(market) + word(size) + word(acceptable_price)

    def adl_calldata(self, market: int, accounts: list[str]) -> bytes:
        return self.sel_adl + word(market) + word(64) + address_array(accounts)

    def adl_pro_rata_calldata(self, market: int, accounts: list[str]) -> bytes:
        return self.sel_adl_pro_rata + word(market) + word(64) + address_array(accounts)

    # ------------------------------------------------------------------ raw reads
    def read_uint(self, target: tuple[str, bytes]) -> int:
        return uint_at(self.chain.call(target[0], target[1]), 0)

    def read_int(self, target: tuple[str, bytes]) -> int:
        return int.from_bytes(self.chain.call(target[0], target[1])[:32], "big", signed=True)
