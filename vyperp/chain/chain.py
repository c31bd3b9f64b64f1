"""The in-process chain: accounts, deployment, transactions, time, snapshots."""

from __future__ import annotations

import contextlib
import os
from typing import Any, Iterable, Iterator

from eth_utils import keccak

from .abi import ContractType, EventSpec, checksum
from .compiler import Artifact, compile_contract
from .contract import Contract
from .errors import Reverted
from .evm import Backend, ExactBackend, FastBackend

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
DEFAULT_COINBASE = "0x000000000000000000000000000000000000C0FE"


class Event:
    """A decoded log: ``name``, ``args`` (ordered dict, indexed args included;
    indexed dynamic types are their 32-byte hash) and emitting ``address``.
    Undecodable logs have name ``"<unknown>"`` and args ``{"topics", "data"}``."""

    __slots__ = ("name", "args", "address")

    def __init__(self, name: str, args: dict[str, Any], address: str):
        self.name = name
        self.args = args
        self.address = address

    def __getitem__(self, key: str) -> Any:
        return self.args[key]

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Event)
            and (self.name, self.args, self.address) == (other.name, other.args, other.address)
        )

    def __repr__(self) -> str:
        return f"Event({self.name!r}, {self.args!r}, address={self.address!r})"


class Receipt:
    """Result of the last transaction.

    Attributes:
        gas_used: total transaction gas (21,000 intrinsic + calldata +
            execution - refund), as a real chain would charge -- with the
            default ``exact_gas=True`` chain.
        return_data: raw return data (revert data for a failed tx).
        success: False for a reverted/halted transaction.
        raw_logs: pyrevm ``Log`` objects.
        logs: decoded :class:`Event` list (decoded lazily, on first access).
        contract_address: address created by a deployment, else ``None``.
    """

    __slots__ = ("gas_used", "return_data", "success", "raw_logs", "contract_address", "_chain", "_logs")

    def __init__(
        self,
        gas_used: int,
        return_data: bytes,
        success: bool,
        raw_logs: list[Any],
        contract_address: str | None,
        chain: Chain,
    ):
        self.gas_used = gas_used
        self.return_data = return_data
        self.success = success
        self.raw_logs = raw_logs
        self.contract_address = contract_address
        self._chain = chain
        self._logs: list[Event] | None = None

    @property
    def logs(self) -> list[Event]:
        if self._logs is None:
            self._logs = self._chain.decode_logs(self.raw_logs)
        return self._logs

    def __repr__(self) -> str:
        return (
            f"Receipt(success={self.success}, gas_used={self.gas_used}, "
            f"logs={len(self.raw_logs)}, return_data=0x{self.return_data.hex()})"
        )


def _log_parts(log: Any) -> tuple[str, list[bytes], bytes]:
    """(address, topics as bytes, data) from a pyrevm Log or a tuple."""
    if isinstance(log, tuple):
        addr, topics, data = log
        topics = [bytes.fromhex(t[2:]) if isinstance(t, str) else bytes(t) for t in topics]
        return checksum(addr), topics, bytes(data)
    topics, data = log.data
    return log.address, topics, data


class Chain:
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
        self.accounts: dict[str, str] = {}
        self._default_sender: str | None = None
        self._snaps: list[tuple[int, Any, int, int]] = []
        self._next_snap = 1
        self._last: tuple[Any, bytes, str | None] | None = None
        self._receipt: Receipt | None = None
        self._types_by_addr: dict[str, ContractType] = {}
        self._events: dict[bytes, list[EventSpec]] = {}
        # hot-path bindings
        self._b_transact = self._backend.transact
        self._b_call = self._backend.call

    # ------------------------------------------------------------------ misc
    @property
    def evm(self) -> Any:
        """The underlying ``pyrevm.EVM`` (for experts; see vyperp.chain.evm)."""
        return self._backend.evm

    @property
    def time(self) -> int:
        """Current block timestamp."""
        return self._time

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
    def new_account(self, label: str | None = None, eth: int = 0) -> str:
        """Create a labelled account funded with ``eth`` wei; returns its
        checksummed address (deterministic: derived from the label)."""
        if label is None:
            label = f"account{len(self.accounts)}"
        if label in self.accounts:
            raise ValueError(f"account label {label!r} already exists")
        addr = checksum("0x" + keccak(text=f"vyperp.chain:{label}")[-20:].hex())
        if eth:
            self.set_balance(addr, eth)
        self.accounts[label] = addr
        if self._default_sender is None:
            self._default_sender = addr
        return addr

    @property
    def default_sender(self) -> str:
        """Sender used when none is given: the first account created (a
        ``"deployer"`` account with 10**24 wei is created if there is none)."""
        if self._default_sender is None:
            self.new_account("deployer", eth=10**24)
        assert self._default_sender is not None
        return self._default_sender

    def get_balance(self, address: Any) -> int:
        return self._backend.get_balance(_addr(address))

    def set_balance(self, address: Any, wei: int) -> None:
        self._backend.set_balance(_addr(address), wei)

    def get_nonce(self, address: Any) -> int:
        return self._backend.get_nonce(_addr(address))

    def get_code(self, address: Any) -> bytes:
        return self._backend.get_code(_addr(address))

    def get_storage(self, address: Any, slot: int) -> int:
        return self._backend.get_storage(_addr(address), slot)

    # ------------------------------------------------------------- contracts
    def _artifact(self, contract: str | os.PathLike[str] | Artifact) -> Artifact:
        if isinstance(contract, Artifact):
            return contract
        return compile_contract(contract, contracts_dir=self.contracts_dir)

    def deploy(
        self,
        contract: str | os.PathLike[str] | Artifact,
        *args: Any,
        sender: Any = None,
        value: int = 0,
        gas: int | None = None,
    ) -> Contract:
        """Compile (cached) and deploy; constructor ``args`` are ABI-encoded."""
        art = self._artifact(contract)
        ct = art.contract_type
        code = art.bytecode + ct.constructor_args(args)
        sender = self.default_sender if sender is None else _addr(sender)
        try:
            addr, res = self._backend.deploy(sender, code, value, gas)
        except Reverted as e:
            self._failed(e)
            raise
        addr = checksum(addr)
        self._last = (res, b"", addr)
        self._receipt = None
        return self._wrap(addr, ct, art)

    def at(self, contract: str | os.PathLike[str] | Artifact | list[dict[str, Any]], address: Any) -> Contract:
        """Wrap an already deployed contract (name/path/Artifact or raw ABI list)."""
        if isinstance(contract, list):
            return self._wrap(checksum(_addr(address)), ContractType(contract), None)
        art = self._artifact(contract)
        return self._wrap(checksum(_addr(address)), art.contract_type, art)

    def _wrap(self, address: str, ct: ContractType, art: Artifact | None) -> Contract:
        self._types_by_addr[address] = ct
        for topic, ev in ct.events.items():
            lst = self._events.setdefault(topic, [])
            if all(e.abi != ev.abi for e in lst):
                lst.append(ev)
        return Contract(self, address, ct, art)

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
        self._receipt = Receipt(e.gas_used, e.data, False, [], None, self)

    @property
    def last_receipt(self) -> Receipt | None:
        """Receipt of the last transaction or deployment (built lazily)."""
        r = self._receipt
        if r is None and self._last is not None:
            res, out, created = self._last
            r = self._receipt = Receipt(res.gas_used, out, True, res.logs, created, self)
        return r

    # ---------------------------------------------------------------- events
    def decode_logs(self, logs: Iterable[Any]) -> list[Event]:
        """Decode raw logs with the ABIs of all contracts known to this chain
        (one Event per log; unknown ones get name ``"<unknown>"``)."""
        out = []
        by_addr = self._types_by_addr
        for log in logs:
            addr, topics, data = _log_parts(log)
            ev = None
            if topics:
                ct = by_addr.get(addr)
                if ct is not None:
                    ev = ct.events.get(topics[0])
                    if ev is not None and ev.n_indexed + 1 != len(topics):
                        ev = None
                if ev is None:
                    for cand in self._events.get(topics[0], ()):
                        if cand.n_indexed + 1 == len(topics):
                            ev = cand
                            break
            if ev is None:
                out.append(Event("<unknown>", {"topics": topics, "data": data}, addr))
            else:
                out.append(Event(ev.name, ev.decode(topics, data), addr))
        return out

    # ------------------------------------------------------------- snapshots
    def snapshot(self) -> int:
        """Snapshot all state (storage, balances, code, time, block number)."""
        token = self._backend.snapshot()
        sid = self._next_snap
        self._next_snap += 1
        self._snaps.append((sid, token, self._time, self._number))
        return sid

    def revert(self, snapshot_id: int) -> None:
        """Restore the state of ``snapshot_id``. The snapshot is consumed and
        every newer snapshot is invalidated (take a new one to reuse)."""
        snaps = self._snaps
        for idx in range(len(snaps) - 1, -1, -1):
            if snaps[idx][0] == snapshot_id:
                break
        else:
            raise ValueError(f"unknown or already invalidated snapshot {snapshot_id!r}")
        while len(snaps) > idx:
            _, token, t, n = snaps.pop()
            self._backend.revert(token)  # newest first keeps nesting consistent
        self._time, self._number = t, n
        self._backend.set_block(n, t)

    @contextlib.contextmanager
    def isolate(self) -> Iterator[None]:
        """``with chain.isolate(): ...`` -- everything inside is reverted on exit."""
        sid = self.snapshot()
        try:
            yield
        finally:
            self.revert(sid)


def _addr(x: Any) -> str:
    return x if x.__class__ is str else x.address
