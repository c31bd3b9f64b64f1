"""The in-process chain: accounts, deployment, transactions, time, snapshots."""

from __future__ import annotations

import os
from typing import Any

from .abi import checksum
from .base import DEFAULT_COINBASE, ZERO_ADDRESS, BaseChain, Event, Receipt, _addr, _log_parts
from .errors import Reverted
from .evm import Backend, ExactBackend, FastBackend


class Chain(BaseChain):
    """A pyrevm-backed EVM with a tiny web3-like surface.

    Args:
        timestamp: initial block timestamp.
        chain_id: ``chain.id`` seen by contracts.
        block_number: initial block number.
        gas_limit: block gas limit, also the default gas limit of every call.
        exact_gas: ``True`` (default): every transaction is finalized, so
            ``gas_used`` is exactly what a real chain charges (cold/warm
            access, SSTORE pricing, refunds) and memory stays bounded.
            ``False``: pyrevm's raw mode, 2-3x faster, but ``gas_used``
            under-reports (all state stays warm) and memory grows with the
            transaction count until a snapshot is reverted.
        contracts_dir: where contract names are looked up (default
            ``<project>/contracts``).
        code_size_limit: max deployed code size (default: EIP-170's 24,576
            bytes); raise it to deploy oversized contracts during development.

    Block time and number only change through :meth:`advance` /
    :meth:`set_time`; transactions do not mine blocks.
    """

    def __init__(
        self,
        timestamp: int = 1_700_000_000,
        chain_id: int = 31337,
        *,
        block_number: int = 1,
        gas_limit: int = 30_000_000,
        exact_gas: bool = True,
        coinbase: str = DEFAULT_COINBASE,
        contracts_dir: str | os.PathLike[str] | None = None,
        code_size_limit: int | None = None,
    ):
        super().__init__()
        cls = ExactBackend if exact_gas else FastBackend
        self._backend: Backend = cls(
            chain_id=chain_id,
            number=block_number,
            timestamp=timestamp,
            gas_limit=gas_limit,
            coinbase=coinbase,
            code_size_limit=code_size_limit,
        )
        self.chain_id = chain_id
        self.exact_gas = exact_gas
        self.contracts_dir = contracts_dir
        self._time = timestamp
        self._number = block_number
        self._last: tuple[Any, bytes, str | None] | None = None
        # hot-path bindings
        self._b_transact = self._backend.transact
        self._b_call = self._backend.call

    # ------------------------------------------------------------------ misc
    @property
    def evm(self) -> Any:
        """The underlying ``pyrevm.EVM`` (for experts; see vyperp.chain.evm)."""
        return self._backend.evm

    @property
    def block_number(self) -> int:
        return self._number

    def advance(self, seconds: int, blocks: int = 1) -> None:
        """Move block timestamp forward by ``seconds`` and number by ``blocks``."""
        if seconds < 0 or blocks < 0:
            raise ValueError("advance() only moves forward; use set_time()")
        self._time += seconds
        self._number += blocks
        self._backend.set_block(self._number, self._time)

    def set_time(self, timestamp: int) -> None:
        """Set the block timestamp (block number unchanged)."""
        self._time = int(timestamp)
        self._backend.set_block(self._number, self._time)

    # -------------------------------------------------------------- accounts
    def _create_account(self, label: str, eth: int) -> str:
        """The label-derived address (deterministic), funded with ``eth`` wei."""
        addr = self.label_address(label)
        if eth:
            self.set_balance(addr, eth)
        return addr

    def get_balance(self, address: Any) -> int:
        return self._backend.get_balance(_addr(address))

    def set_balance(self, address: Any, wei: int) -> None:
        self._backend.set_balance(_addr(address), wei)

    def get_nonce(self, address: Any) -> int:
        return self._backend.get_nonce(_addr(address))

    def set_nonce(self, address: Any, nonce: int) -> None:
        """Set an account's nonce (the next deployment's address depends on it; a call
        transaction does not bump it here). Only with ``exact_gas=True``: else ``ChainError``."""
        self._backend.set_nonce(_addr(address), nonce)

    def get_code(self, address: Any) -> bytes:
        return self._backend.get_code(_addr(address))

    def get_storage(self, address: Any, slot: int) -> int:
        return self._backend.get_storage(_addr(address), slot)

    # ------------------------------------------------------------- contracts
    def _deploy_code(self, sender: str, code: bytes, value: int, gas: int | None) -> str:
        try:
            addr, res = self._backend.deploy(sender, code, value, gas)
        except Reverted as e:
            self._failed(e)
            raise
        addr = checksum(addr)
        self._last = (res, b"", addr)
        self._receipt = None
        return addr

    # ---------------------------------------------------------- transactions
    def send(self, sender: str, to: str, calldata: bytes, value: int = 0, gas: int | None = None) -> bytes:
        """Raw transaction (fast path): commits, returns raw return data,
        raises :class:`Reverted` (state unchanged). Addresses must be str."""
        try:
            out, res = self._b_transact(sender, to, calldata, value, gas)
        except Reverted as e:
            self._failed(e)
            raise
        self._last = (res, out, None)
        self._receipt = None
        return out

    def _transact(self, sender: Any, to: str, data: bytes, value: int, gas: int | None) -> bytes:
        if sender is None:
            sender = self.default_sender
        elif sender.__class__ is not str:
            sender = sender.address
        try:
            out, res = self._b_transact(sender, to, data, value, gas)
        except Reverted as e:
            self._failed(e)
            raise
        self._last = (res, out, None)
        self._receipt = None
        return out

    def call(self, to: Any, calldata: bytes, sender: Any = None, value: int = 0, gas: int | None = None) -> bytes:
        """Raw eth_call: execute without committing anything; returns raw data."""
        s = ZERO_ADDRESS if sender is None else _addr(sender)
        return self._b_call(s, _addr(to), calldata, value, gas, False)

    def _static_call(self, to: str, data: bytes, sender: Any, gas: int | None) -> bytes:
        if sender is None:
            sender = ZERO_ADDRESS
        elif sender.__class__ is not str:
            sender = sender.address
        return self._b_call(sender, to, data, 0, gas, True)

    def _failed(self, e: Reverted) -> None:
        self._last = None
        super()._failed(e)

    @property
    def last_receipt(self) -> Receipt | None:
        """Receipt of the last transaction or deployment (built lazily)."""
        return lazy_receipt(self)

    # ------------------------------------------------------------- snapshots
    def _raw_snapshot(self) -> Any:
        return self._backend.snapshot(), self._number

    def _revert_to(self, tokens: list[Any], time: int) -> None:
        for token, _ in tokens:
            self._backend.revert(token)  # newest first keeps nesting consistent
        self._number = tokens[-1][1]
        self._backend.set_block(self._number, time)


def lazy_receipt(chain: Any) -> Receipt | None:
    """The :class:`Receipt` of ``chain._last`` (pyrevm result, return data, created address),
    built on first use and kept in ``chain._receipt`` (Chain and ShadowChain)."""
    r = chain._receipt
    if r is None and chain._last is not None:
        res, out, created = chain._last
        r = chain._receipt = Receipt(res.gas_used, out, True, res.logs, created, chain)
    return r


__all__ = ["Chain", "DEFAULT_COINBASE", "Event", "Receipt", "ZERO_ADDRESS", "_log_parts"]
