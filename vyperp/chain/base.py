"""The chain interface and the part every backend shares.

:class:`ChainAPI` (a :class:`typing.Protocol`) is what consumers -- ``System``, the
deployment, the replay, the fuzzer, the ops tools -- may call on a chain.
:class:`BaseChain` implements it once for every backend: accounts (label -> address,
the default sender), contract wrapping (``at``, ``deploy``, the event index), log
decoding, receipts of failed transactions and the snapshot bookkeeping
(``snapshot``/``revert``/``isolate``). A backend (``Chain``, ``RpcChain``, ``ApeChain``)
only implements its transport: the abstract methods below (send a transaction, a static
call, deploy code, time and blocks, balances/nonces/code/storage, a raw snapshot).
"""

from __future__ import annotations

import abc
import contextlib
import functools
import os
from collections.abc import Iterable, Iterator
from typing import Any, Protocol, runtime_checkable

from eth_utils import keccak

from .abi import ContractType, EventSpec, checksum
from .compiler import Artifact, compile_contract
from .contract import Contract
from .errors import Reverted

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
DEFAULT_COINBASE = "0x000000000000000000000000000000000000C0FE"

ContractSource = str | os.PathLike[str] | Artifact
"""What ``deploy``/``at`` accept: a contract name, a path to a ``.vy`` file, an Artifact."""


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
        return isinstance(other, Event) and (self.name, self.args, self.address) == (
            other.name,
            other.args,
            other.address,
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
        raw_logs: the backend's raw logs (pyrevm ``Log`` objects, ``RpcLog`` objects or
            ``(address, topics, data)`` tuples).
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
        chain: BaseChain,
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
    """(address, topics as bytes, data) from a pyrevm-shaped log (``.address``,
    ``.data == (topics, data)``) or an ``(address, topics, data)`` tuple."""
    if isinstance(log, tuple):
        addr, topics, data = log
        topics = [bytes.fromhex(t[2:]) if isinstance(t, str) else bytes(t) for t in topics]
        return checksum(addr), topics, bytes(data)
    topics, data = log.data
    return log.address, topics, data


def _addr(x: Any) -> str:
    return x if x.__class__ is str else str(x.address)


@runtime_checkable
class ChainAPI(Protocol):
    """What a consumer may call on any chain backend (``Chain``, ``RpcChain``,
    ``ApeChain``). Addresses may be given as strings or as anything with ``.address``
    (a :class:`Contract`); they are returned as checksummed strings."""

    chain_id: int
    accounts: dict[str, str]
    """label -> address of the accounts made by :meth:`new_account`."""

    @property
    def time(self) -> int:
        """Block timestamp every transaction and call sees until the next time move."""
        ...

    @property
    def block_number(self) -> int: ...

    def advance(self, seconds: int, blocks: int = 1) -> None:
        """Move block time forward by ``seconds`` (and the block number)."""
        ...

    def set_time(self, timestamp: int) -> None: ...

    def new_account(self, label: str | None = None, eth: int = 0) -> str:
        """A new account funded with ``eth`` wei; returns its address."""
        ...

    @property
    def default_sender(self) -> str: ...

    def get_balance(self, address: Any) -> int: ...

    def get_nonce(self, address: Any) -> int: ...

    def get_code(self, address: Any) -> bytes: ...

    def get_storage(self, address: Any, slot: int) -> int: ...

    def deploy(
        self, contract: ContractSource, *args: Any, sender: Any = None, value: int = 0, gas: int | None = None
    ) -> Contract:
        """Compile (cached) and deploy; returns the wrapper."""
        ...

    def at(self, contract: ContractSource | list[dict[str, Any]], address: Any) -> Contract:
        """Wrap a deployed contract (name/path/Artifact or a raw ABI list)."""
        ...

    def send(self, sender: str, to: str, calldata: bytes, value: int = 0, gas: int | None = None) -> bytes:
        """Raw transaction: committed, returns the raw return data, raises ``Reverted``
        (nothing committed)."""
        ...

    def call(self, to: Any, calldata: bytes, sender: Any = None, value: int = 0, gas: int | None = None) -> bytes:
        """Raw eth_call: nothing is committed; returns the raw return data."""
        ...

    @property
    def last_receipt(self) -> Receipt | None: ...

    def decode_logs(self, logs: Iterable[Any]) -> list[Event]: ...

    def snapshot(self) -> int: ...

    def revert(self, snapshot_id: int) -> None: ...

    def isolate(self) -> contextlib.AbstractContextManager[None]: ...


class BaseChain(abc.ABC):
    """Everything a backend shares (see the module docstring).

    Subclasses set ``self._time`` (the block time calls and transactions see), call
    ``super().__init__()`` and implement the abstract transport methods.
    """

    chain_id: int
    exact_gas: bool = True
    contracts_dir: str | os.PathLike[str] | None = None

    def __init__(self) -> None:
        self._time = 0
        self.accounts: dict[str, str] = {}
        self._default_sender: str | None = None
        self._snaps: list[tuple[int, Any, int]] = []
        self._next_snap = 1
        self._receipt: Receipt | None = None
        self._types_by_addr: dict[str, ContractType] = {}
        self._events: dict[bytes, list[EventSpec]] = {}

    # ============================================================ transport (per backend)
    @property
    @abc.abstractmethod
    def block_number(self) -> int: ...

    @abc.abstractmethod
    def advance(self, seconds: int, blocks: int = 1) -> None: ...

    @abc.abstractmethod
    def set_time(self, timestamp: int) -> None: ...

    @abc.abstractmethod
    def get_balance(self, address: Any) -> int: ...

    @abc.abstractmethod
    def get_nonce(self, address: Any) -> int: ...

    @abc.abstractmethod
    def get_code(self, address: Any) -> bytes: ...

    @abc.abstractmethod
    def get_storage(self, address: Any, slot: int) -> int: ...

    @abc.abstractmethod
    def send(self, sender: str, to: str, calldata: bytes, value: int = 0, gas: int | None = None) -> bytes:
        """Raw transaction from ``sender`` (a str); sets ``last_receipt``."""

    @abc.abstractmethod
    def call(self, to: Any, calldata: bytes, sender: Any = None, value: int = 0, gas: int | None = None) -> bytes:
        """Static call (nothing committed)."""

    @abc.abstractmethod
    def _deploy_code(self, sender: str, code: bytes, value: int, gas: int | None) -> str:
        """Send a contract creation (init code + constructor args); returns the new
        address, sets ``last_receipt``; raises ``Reverted`` (after :meth:`_failed`)."""

    @abc.abstractmethod
    def _create_account(self, label: str, eth: int) -> str:
        """Make (and fund with ``eth`` wei) the account for ``label``; returns its address."""

    @abc.abstractmethod
    def _raw_snapshot(self) -> Any:
        """Snapshot the backend's state; returns its token."""

    @abc.abstractmethod
    def _revert_to(self, tokens: list[Any], time: int) -> None:
        """Restore the state of ``tokens[-1]``; ``tokens`` are the consumed snapshots'
        tokens, newest first (a backend with nested checkpoints reverts each); ``time`` is
        the block time to go back to."""

    # ============================================================ shared
    @property
    def time(self) -> int:
        """Current block timestamp (seen by the next transaction and by calls)."""
        return self._time

    # -------------------------------------------------------------- accounts
    def new_account(self, label: str | None = None, eth: int = 0) -> str:
        """Create a labelled account funded with ``eth`` wei; returns its checksummed
        address. The first account is the default sender."""
        if label is None:
            label = f"account{len(self.accounts)}"
        if label in self.accounts:
            raise ValueError(f"account label {label!r} already exists")
        addr = self._create_account(label, eth)
        self.accounts[label] = addr
        if self._default_sender is None:
            self._default_sender = addr
        return addr

    @staticmethod
    @functools.lru_cache(maxsize=1 << 16)
    def label_address(label: str) -> str:
        """The deterministic address of ``label`` (``Chain`` and ``RpcChain``; a pure function,
        cached: a sweep worker derives the same few hundred agent addresses every replay)."""
        return checksum("0x" + keccak(text=f"vyperp.chain:{label}")[-20:].hex())

    @property
    def default_sender(self) -> str:
        """Sender used when none is given: the first account created (a
        ``"deployer"`` account with 10**24 wei is created if there is none)."""
        if self._default_sender is None:
            self.new_account("deployer", eth=10**24)
        assert self._default_sender is not None
        return self._default_sender

    # ------------------------------------------------------------- contracts
    def _artifact(self, contract: ContractSource) -> Artifact:
        if isinstance(contract, Artifact):
            return contract
        return compile_contract(contract, contracts_dir=self.contracts_dir)

    def deploy(
        self, contract: ContractSource, *args: Any, sender: Any = None, value: int = 0, gas: int | None = None
    ) -> Contract:
        """Compile (cached) and deploy; constructor ``args`` are ABI-encoded (Contracts
        stand for their addresses)."""
        art = self._artifact(contract)
        ct = art.contract_type
        code = art.bytecode + ct.constructor_args(args)
        sender = self.default_sender if sender is None else _addr(sender)
        addr = self._deploy_code(sender, code, value, gas)
        return self._wrap(checksum(addr), ct, art)

    def at(self, contract: ContractSource | list[dict[str, Any]], address: Any) -> Contract:
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
    def _transact(self, sender: Any, to: str, data: bytes, value: int, gas: int | None) -> bytes:
        """A wrapper's transaction: ``sender`` may be None (the default sender) or a Contract."""
        if sender is None:
            sender = self.default_sender
        elif sender.__class__ is not str:
            sender = sender.address
        return self.send(sender, to, data, value, gas)

    def _static_call(self, to: str, data: bytes, sender: Any, gas: int | None) -> bytes:
        """A wrapper's view call (``to`` is a checksummed str)."""
        return self.call(to, data, sender=sender, gas=gas)

    def _failed(self, e: Reverted) -> None:
        """Record the receipt of a failed transaction."""
        self._receipt = Receipt(e.gas_used, e.data, False, [], None, self)

    @property
    def last_receipt(self) -> Receipt | None:
        """Receipt of the last transaction or deployment."""
        return self._receipt

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
        """Snapshot all state (storage, balances, code, nonces, time, block number)."""
        token = self._raw_snapshot()
        sid = self._next_snap
        self._next_snap += 1
        self._snaps.append((sid, token, self._time))
        return sid

    def revert(self, snapshot_id: int) -> None:
        """Restore the state of ``snapshot_id``. The snapshot is consumed and every newer
        snapshot is invalidated (take a new one to reuse)."""
        snaps = self._snaps
        for idx in range(len(snaps) - 1, -1, -1):
            if snaps[idx][0] == snapshot_id:
                break
        else:
            raise ValueError(f"unknown or already invalidated snapshot {snapshot_id!r}")
        dropped = snaps[idx:]
        del snaps[idx:]
        self._revert_to([token for _, token, _ in reversed(dropped)], dropped[0][2])
        self._time = dropped[0][2]

    @contextlib.contextmanager
    def isolate(self) -> Iterator[None]:
        """``with chain.isolate(): ...`` -- everything inside is reverted on exit."""
        sid = self.snapshot()
        try:
            yield
        finally:
            self.revert(sid)


__all__ = ["BaseChain", "ChainAPI", "ContractSource", "DEFAULT_COINBASE", "Event", "Receipt", "ZERO_ADDRESS"]
