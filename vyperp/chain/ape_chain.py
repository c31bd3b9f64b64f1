"""A second backend for :class:`vyperp.system.System`: ape's local network.

``ApeChain`` offers the part of :class:`vyperp.chain.Chain` that ``System``,
``vyperp.deploy`` and the fuzzer use, on ape's in-process ``ethereum:local:test``
network (eth-tester / py-evm) instead of pyrevm:

    from vyperp.chain.ape_chain import ApeChain
    chain = ApeChain(timestamp=2_000_000_000)
    alice = chain.new_account("alice", eth=10**20)        # a generated ape test account
    token = chain.deploy("TestToken", "t", "T", 6, sender=alice)   # ape's project.TestToken
    token.mint(alice, 10, sender=alice)                    # signed by ape, mined by eth-tester
    token.balanceOf(alice)                                 # -> 10 (plain int)
    chain.last_receipt.logs                                # [Event('Transfer', {...})]
    sid = chain.snapshot(); chain.advance(60); chain.revert(sid)

What goes through ape: the connection (``networks.parse_network_choice``, kept open
for the process), compilation and deployment (``project.<Name>.deploy``), accounts and
signing (``accounts.test_accounts``; generated test accounts funded by a transfer from
test account 0), every transaction (``account.call``: prepared, signed and sent by
ape, mined by eth-tester), snapshots (``chain.snapshot`` / ``chain.restore``) and
mining. Calls -- views, and the simulation that precedes every transaction -- run on
the provider's py-evm state of the pending block (what eth-tester's ``eth_call`` on
"pending" does, with the state and its caches kept, and results memoized, until the
block changes).

Contract wrappers are :class:`vyperp.chain.Contract` objects, so arguments are
encoded and results decoded by exactly the code the pyrevm chain uses: ints, bools,
checksummed address strings, tuples for structs and several outputs, lists for
dynamic arrays, ``Event`` objects in ``last_receipt.logs``,
:class:`~vyperp.chain.Reverted` with the revert string as ``.reason``.

Time follows ``Chain``: block time only moves with :meth:`ApeChain.advance` /
:meth:`ApeChain.set_time`, and every transaction and call until then executes at
:attr:`ApeChain.time`. eth-tester mines one block per transaction and py-evm demands
strictly increasing block timestamps, so :func:`connect` relaxes that one header
check to "not earlier than the parent" (:func:`_allow_equal_timestamps`). Time never
goes back before the newest block, and ape's chain starts at the wall-clock time of
the process: an ``ApeChain`` cannot start at an arbitrary past timestamp.

Every transaction is simulated first (same sender, gas, block time and state): that
gives its return value (eth-tester has no tracing) and its exact revert data. A
transaction whose simulation reverts raises ``Reverted`` and is not sent, so, as on
the pyrevm chain, a revert changes nothing (not even a nonce). Differences from the
pyrevm chain: see :class:`ApeChain`.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
from pathlib import Path
from typing import Any, Iterator

from .abi import ContractType, checksum
from .chain import Chain, Receipt
from .contract import Contract
from .errors import ChainError, Reverted, decode_revert_reason

ROOT = Path(__file__).resolve().parents[2]
NETWORK = "ethereum:local:test"
ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
# Genesis balance of ape's test accounts while this module holds the connection:
# test account 0 funds every account ApeChain creates (ape's default is 10,000 ether;
# deploy_embedded alone hands out 20,000).
BANK_BALANCE = 10**30
# An account created with eth=0 still needs gas money on ape (gas is free on the pyrevm chain).
GAS_STIPEND = 10**18
DEFAULT_GAS = 30_000_000  # Chain's default block / call gas limit
# Ether for the zero address, the sender of calls made without one.
CALLER_FUNDS = 10**21


# ----------------------------------------------------------------------------- connection
class _Session:
    """The process-wide ape connection (ape has one active provider per process)."""

    def __init__(self, network: str):
        self.network = network
        self.context: Any = None
        self.provider: Any = None
        self.saved_balance: int | None = None

    @property
    def connected(self) -> bool:
        return self.provider is not None and self.provider.is_connected


_SESSION: _Session | None = None


def _ensure_vyper_on_path() -> None:
    """ape-vyper compiles with the ``vyper`` on PATH when it is the installed version:
    make that the interpreter's own (the venv's vyper 0.4.3)."""
    bin_dir = str(Path(sys.executable).parent)
    path = os.environ.get("PATH", "")
    if bin_dir not in path.split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + path


def _allow_equal_timestamps() -> None:
    """Let py-evm accept a block whose timestamp equals its parent's.

    ``Chain`` runs any number of transactions at one block time; eth-tester mines
    every transaction in its own block and py-evm's ``VM.validate_header`` requires
    ``child.timestamp > parent.timestamp``. The patch validates an equal-timestamp
    child against a copy of the parent one second earlier, i.e. it relaxes exactly
    that comparison to ``>=`` (every other header check is unchanged). Idempotent;
    process-wide (py-evm is only used by eth-tester here).
    """
    from eth.vm.base import VM

    if getattr(VM, "_vyperp_equal_timestamps", False):
        return
    original = VM.__dict__["validate_header"].__func__

    def validate_header(cls: Any, header: Any, parent_header: Any) -> None:
        if parent_header is not None and header.timestamp == parent_header.timestamp:
            parent_header = parent_header.copy(timestamp=parent_header.timestamp - 1)
        original(cls, header, parent_header)

    VM.validate_header = classmethod(validate_header)  # type: ignore[method-assign]
    VM._vyperp_equal_timestamps = True  # type: ignore[attr-defined]


def connect(network: str = NETWORK) -> Any:
    """Connect ape to ``network`` (once per process; the context stays open until
    :func:`disconnect` or interpreter exit). Returns the provider."""
    global _SESSION
    if _SESSION is not None and _SESSION.connected:
        if _SESSION.network != network:
            raise ChainError(f"ape is connected to {_SESSION.network!r}, not {network!r}")
        return _SESSION.provider
    if network.split(":")[:3] != ["ethereum", "local", "test"]:
        raise ChainError(f"ApeChain runs on ape's eth-tester network ({NETWORK}), not {network!r}")
    _ensure_vyper_on_path()
    _allow_equal_timestamps()
    from ape import config, networks

    session = _Session(network)
    # Raise the test accounts' genesis balance (read when the eth-tester chain is
    # created, i.e. on connect). Restored by disconnect().
    session.saved_balance = int(config.test.balance)
    config.test.balance = max(BANK_BALANCE, session.saved_balance)
    session.context = networks.parse_network_choice(network, disconnect_after=True)
    _drop_idle_providers(network)
    try:
        session.provider = session.context.__enter__()
    except BaseException:
        config.test.balance = session.saved_balance
        raise
    _SESSION = session
    return session.provider


def _drop_idle_providers(network: str) -> None:
    """ape keeps a provider connected after its context closed (``disconnect_after`` is
    False by default), and a new context on the same network reuses it: a chain left so
    has ape's default test balances. Disconnect such providers of ``network`` that no
    context is using any more, so that ours starts a fresh chain with ``BANK_BALANCE``.
    A provider someone is still using is shared as it is."""
    from ape.api.networks import ProviderContextManager as Contexts

    for connection_id, provider in list(Contexts.connected_providers.items()):
        if connection_id in Contexts.provider_stack or not connection_id.startswith(network):
            continue
        if provider.is_connected:
            provider.disconnect()
        Contexts.connected_providers.pop(connection_id, None)
        Contexts.disconnect_map.pop(connection_id, None)


def disconnect() -> None:
    """Close the connection opened by :func:`connect` (the chain and every ApeChain on
    it are gone afterwards)."""
    global _SESSION
    session, _SESSION = _SESSION, None
    if session is None:
        return
    from ape import config

    try:
        if session.context is not None:
            session.context.__exit__(None, None, None)  # disconnect_after=True: ape disconnects
    finally:
        if session.saved_balance is not None:
            config.test.balance = session.saved_balance


@atexit.register
def _disconnect_at_exit() -> None:
    try:
        disconnect()
    except Exception:  # noqa: BLE001 - ape may already be torn down at interpreter exit
        pass


def _project(contracts_dir: str | os.PathLike[str] | None) -> Any:
    """ape's project for ``contracts/`` of this repository (or another contracts folder,
    compiled with this repository's ape configuration, its build cache next to it)."""
    import ape

    if contracts_dir is None:
        try:
            if Path(ape.project.path).resolve() == ROOT:
                return ape.project
        except Exception:  # noqa: BLE001 - no local project in the working directory
            pass
        return ape.Project(ROOT)
    import yaml

    folder = Path(contracts_dir).resolve()
    config = yaml.safe_load((ROOT / "ape-config.yaml").read_text()) or {}
    config["contracts_folder"] = folder.name
    return ape.Project(folder.parent, config_override=config)


# ----------------------------------------------------------------------------- chain
class ApeChain:
    """``Chain``'s API on ape's local network; see the module docstring.

    Args:
        timestamp: block time of the first transaction; ``None``: the newest block's
            time. Must not be earlier than the newest block (ape's chain starts at the
            wall-clock time of the process and never goes back).
        network: ape network choice; only ``ethereum:local:test`` is supported.
        contracts_dir: contracts folder (default: this repository's ``contracts/``).
        gas_limit: gas of every call and transaction without ``gas=``; default 30M
            (as on ``Chain``), capped by the block gas limit.

    Every ``ApeChain`` in a process shares ape's single local chain: reverting to a
    snapshot taken before another ``ApeChain`` deployed also removes that deployment.

    Differences from ``Chain`` (pyrevm):

    * accounts are ape test accounts with keys (``new_account`` returns a generated
      test account, funded by a transfer; addresses are not label-derived, and an
      account asked for 0 wei gets ``GAS_STIPEND`` for gas);
    * gas is paid (base fee) from the sender's balance, so ether balances drift;
      ``gas_used`` of successful transactions is py-evm's (the EVM is Prague here,
      Cancun on pyrevm, so calldata-heavy transactions can differ slightly);
    * a reverted transaction is never sent (no nonce used, no fee paid); its receipt's
      ``gas_used`` is what the simulation consumed;
    * ``block_number`` is the real block number (one block per transaction);
    * ``deploy`` takes contract names only (ape's project), no paths or artifacts;
      ``set_balance``, ``get_storage``, raw ``send`` and ``evm`` are not offered.
    """

    def __init__(
        self,
        timestamp: int | None = None,
        *,
        network: str = NETWORK,
        contracts_dir: str | os.PathLike[str] | None = None,
        gas_limit: int | None = None,
    ):
        from ape import accounts, chain

        self.provider = connect(network)
        self._ape_chain = chain
        self._ape_accounts = accounts
        self._tester = self.provider.tester.ethereum_tester
        self._ecosystem = self.provider.network.ecosystem
        self.project = _project(contracts_dir)
        self.contracts_dir = contracts_dir
        self.chain_id = int(self.provider.chain_id)
        self.exact_gas = True
        head = self._head_timestamp()
        if timestamp is None:
            timestamp = head
        elif timestamp < head:
            raise ValueError(
                f"timestamp {timestamp} is before the newest block of ape's chain ({head}); "
                "ape's local chain starts at the wall-clock time and cannot go back")
        self._time = int(timestamp)
        header_gas = int(self._pending_header().gas_limit)
        self.gas_limit = min(gas_limit or DEFAULT_GAS, header_gas)
        self.accounts: dict[str, str] = {}
        self._signers: dict[str, Any] = {}
        self._bank = accounts.test_accounts[0]
        self._default_sender: str | None = None
        self._snaps: list[tuple[int, Any, int]] = []
        self._next_snap = 1
        self._receipt: Receipt | None = None
        self._types_by_addr: dict[str, ContractType] = {}
        self._events: dict[bytes, list[Any]] = {}
        self._containers: dict[str, Any] = {}
        self._call_cache: tuple[Any, Any, Any, Any] | None = None
        self._call_memo: dict[tuple[Any, ...], tuple[bool, Any]] = {}
        # Calls without a sender come from the zero address, as on Chain; py-evm makes even
        # an eth_call's sender afford gas * base fee, so give the zero address ether.
        # (ape cannot sign a transfer to the zero address, so eth-tester sends this one.)
        if self.get_balance(ZERO_ADDRESS) < CALLER_FUNDS // 2:
            self._sync_time()
            self._tester.send_transaction({
                "from": str(self._bank.address), "to": ZERO_ADDRESS, "value": CALLER_FUNDS, "gas": 21_000,
                "max_fee_per_gas": int(self._pending_header().base_fee_per_gas), "max_priority_fee_per_gas": 0,
            })

    # ------------------------------------------------------------------ time
    def _pending_header(self) -> Any:
        return self.provider.evm_backend.chain.header

    def _head_timestamp(self) -> int:
        return int(self._tester.get_block_by_number("latest")["timestamp"])

    def _sync_time(self) -> None:
        """Make the pending block (the one the next transaction/call runs in) carry :attr:`time`."""
        backend_chain = self.provider.evm_backend.chain
        if backend_chain.header.timestamp != self._time:
            backend_chain.header = backend_chain.header.copy(timestamp=self._time)

    @property
    def time(self) -> int:
        """Current block timestamp (seen by the next transaction and by calls)."""
        return self._time

    @property
    def block_number(self) -> int:
        """Number of the pending block (eth-tester mines one block per transaction)."""
        return int(self._pending_header().block_number)

    def advance(self, seconds: int, blocks: int = 1) -> None:
        """Move time forward by ``seconds`` and mine ``blocks`` empty blocks at the new time."""
        if seconds < 0 or blocks < 0:
            raise ValueError("advance() only moves forward; use set_time()")
        self._time += seconds
        for _ in range(blocks):
            self._sync_time()
            self.provider.mine(1)
        self._sync_time()

    def set_time(self, timestamp: int) -> None:
        """Set the block timestamp (not before the newest block)."""
        head = self._head_timestamp()
        if timestamp < head:
            raise ValueError(f"cannot set time {timestamp}: the newest block is at {head}")
        self._time = int(timestamp)
        self._sync_time()

    # -------------------------------------------------------------- accounts
    def new_account(self, label: str | None = None, eth: int = 0) -> str:
        """Generate an ape test account, fund it with ``eth`` wei (by a transfer from test
        account 0) and return its checksummed address."""
        if label is None:
            label = f"account{len(self.accounts)}"
        if label in self.accounts:
            raise ValueError(f"account label {label!r} already exists")
        account = self._ape_accounts.test_accounts.generate_test_account()
        addr = checksum(str(account.address))
        self._signers[addr] = account
        amount = eth if eth else GAS_STIPEND
        spare = self.get_balance(self._bank.address) - 10**18
        if amount > spare:
            raise ChainError(
                f"cannot fund {label!r} with {amount} wei: ape's test account 0 has {spare} to spare. "
                "ApeChain raises the test accounts' balance when it opens ape's connection itself; "
                "here ape was already connected by someone else (call vyperp.chain.ape_chain.connect() first)")
        self._send(self._bank, addr, b"", amount, 21_000)
        self.accounts[label] = addr
        if self._default_sender is None:
            self._default_sender = addr
        return addr

    @property
    def default_sender(self) -> str:
        if self._default_sender is None:
            self.new_account("deployer", eth=10**24)
        assert self._default_sender is not None
        return self._default_sender

    def signer(self, address: Any) -> Any:
        """The ape account object that signs for ``address``."""
        addr = checksum(_addr(address))
        try:
            return self._signers[addr]
        except KeyError:
            raise ChainError(f"no ape signer for {addr} (create accounts with new_account)") from None

    def get_balance(self, address: Any) -> int:
        return int(self.provider.get_balance(checksum(_addr(address))))

    def get_nonce(self, address: Any) -> int:
        return int(self.provider.get_nonce(checksum(_addr(address))))

    def get_code(self, address: Any) -> bytes:
        return bytes(self.provider.get_code(checksum(_addr(address))))

    # ------------------------------------------------------------- contracts
    def deploy(self, contract: str, *args: Any, sender: Any = None, value: int = 0, gas: int | None = None) -> Contract:
        """Deploy ``project.<contract>`` through ape; constructor args may be Contracts."""
        if not isinstance(contract, str) or "/" in contract or contract.endswith(".vy"):
            raise TypeError(f"ApeChain deploys contracts of ape's project by name, not {contract!r}")
        container = self._containers.get(contract)
        if container is None:
            container = self._containers[contract] = getattr(self.project, contract)
        sender = self.default_sender if sender is None else _addr(sender)
        account = self.signer(sender)
        ape_args = [_plain_arg(a) for a in args]
        kwargs: dict[str, Any] = {"sender": account, "value": value}
        if gas is not None:
            kwargs["gas_limit"] = gas
        from ape.exceptions import ContractLogicError
        from ape.logging import LogLevel, logger

        self._sync_time()
        try:
            with logger.at_level(LogLevel.WARNING):
                instance = container.deploy(*ape_args, **kwargs)
        except ContractLogicError as exc:
            message = exc.revert_message if isinstance(exc.revert_message, str) else ""
            err = Reverted(message)
            self._failed(err)
            raise err from exc
        address = checksum(str(instance.address))
        raw = self._tester.get_transaction_receipt(instance.txn_hash)
        self._receipt = Receipt(int(raw["gas_used"]), b"", True, _raw_logs(raw), address, self)
        abi = container.contract_type.model_dump(mode="json", by_alias=True)["abi"]
        return self._wrap(address, ContractType(abi, contract))

    def at(self, contract: str | list[dict[str, Any]], address: Any) -> Contract:
        """Wrap an already deployed contract (project contract name or raw ABI list)."""
        if isinstance(contract, list):
            return self._wrap(checksum(_addr(address)), ContractType(contract))
        abi = getattr(self.project, contract).contract_type.model_dump(mode="json", by_alias=True)["abi"]
        return self._wrap(checksum(_addr(address)), ContractType(abi, contract))

    def _wrap(self, address: str, ct: ContractType) -> Contract:
        self._types_by_addr[address] = ct
        for topic, ev in ct.events.items():
            lst = self._events.setdefault(topic, [])
            if all(e.abi != ev.abi for e in lst):
                lst.append(ev)
        return Contract(self, address, ct, None)  # type: ignore[arg-type]

    # ---------------------------------------------------------- transactions
    def _call_state(self) -> tuple[Any, Any, Any]:
        """(vm, state, header) of the pending block, reused until the block changes (a
        mined transaction or block, a restored snapshot, a new time all replace the
        pending header): repeated calls then share py-evm's account and storage caches."""
        self._sync_time()
        backend_chain = self.provider.evm_backend.chain
        header = backend_chain.header
        cached = self._call_cache
        if cached is None or cached[2] is not header or cached[3] is not backend_chain:
            vm = backend_chain.get_vm(header)
            cached = self._call_cache = (vm, vm.state, header, backend_chain)
            self._call_memo.clear()
        return cached[0], cached[1], cached[2]

    def _simulate(self, sender: str, to: str, data: bytes, value: int, gas: int | None) -> bytes:
        """Run a call on the pending block -- what eth-tester's ``eth_call`` on "pending"
        does, with the py-evm state kept between calls -- and return its output; a revert
        raises :class:`Reverted` with the exact revert data (a halt: ``reason == ""``)."""
        vm, state, header = self._call_state()
        gas = gas or self.gas_limit
        # A call is a pure function of (pending block, call): memoize until the block changes
        # (the fuzzer reads the same books many times between two transactions).
        key = (sender, to, data, value, gas)
        hit = self._call_memo.get(key)
        if hit is not None:
            if hit[0]:
                return hit[1]
            raise Reverted(*hit[1])
        try:
            out = self._execute(vm, state, header, sender, to, data, value, gas)
        except Reverted as e:
            self._call_memo[key] = (False, (e.reason, e.data, e.gas_used, e.halt))
            raise
        self._call_memo[key] = (True, out)
        return out

    def _execute(self, vm: Any, state: Any, header: Any, sender: str, to: str, data: bytes, value: int,
                 gas: int) -> bytes:
        from eth.exceptions import Revert
        from eth.vm.spoof import SpoofTransaction
        from eth_utils import ValidationError

        origin = bytes.fromhex(sender[2:])
        try:
            tx = vm.create_unsigned_transaction(
                nonce=state.get_nonce(origin), gas_price=header.base_fee_per_gas, gas=gas,
                to=bytes.fromhex(to[2:]), value=value, data=data)
            snapshot = state.snapshot()
            try:
                computation = state.apply_transaction(SpoofTransaction(tx, from_=origin))
            finally:
                state.revert(snapshot)
        except ValidationError as exc:
            raise ChainError(f"call rejected by py-evm: {exc}") from exc
        if computation.is_error:
            error = computation.error
            used = gas - computation.get_gas_remaining()
            if isinstance(error, Revert):
                out = bytes(computation.output)
                raise Reverted(decode_revert_reason(out), out, used)
            raise Reverted("", b"", used, halt=f"{type(error).__name__}: {error}")
        return bytes(computation.output)

    def _send(self, account: Any, to: str, data: bytes, value: int, gas: int | None) -> Any:
        """Sign and send through ape (``account.call``); returns eth-tester's receipt dict."""
        from ape.exceptions import ApeException
        from ape.logging import LogLevel, logger

        self._sync_time()
        txn = self._ecosystem.create_transaction(
            chain_id=self.chain_id,
            receiver=to,
            sender=account.address,
            data=data,
            value=value,
            gas_limit=gas or self.gas_limit,
            max_fee=int(self._pending_header().base_fee_per_gas),
            max_priority_fee=0,
            type=2,
        )
        try:
            with logger.at_level(LogLevel.ERROR):
                receipt = account.call(txn)
        except ApeException as exc:
            raise ChainError(f"ape refused the transaction: {exc}") from exc
        raw = self._tester.get_transaction_receipt(receipt.txn_hash)
        if raw["status"] != 1:
            raise ChainError(f"transaction {receipt.txn_hash} failed on chain although its simulation succeeded")
        return raw

    def _transact(self, sender: Any, to: str, data: bytes, value: int, gas: int | None) -> bytes:
        if sender is None:
            sender = self.default_sender
        elif sender.__class__ is not str:
            sender = sender.address
        account = self.signer(sender)
        try:
            out = self._simulate(account.address, to, data, value, gas)
        except Reverted as e:
            self._failed(e)
            raise
        raw = self._send(account, to, data, value, gas)
        self._receipt = Receipt(int(raw["gas_used"]), out, True, _raw_logs(raw), None, self)
        return out

    def call(self, to: Any, calldata: bytes, sender: Any = None, value: int = 0, gas: int | None = None) -> bytes:
        """eth_call on the pending block: run without committing; returns raw data."""
        s = ZERO_ADDRESS if sender is None else checksum(_addr(sender))
        return self._simulate(s, checksum(_addr(to)), calldata, value, gas)

    def _static_call(self, to: str, data: bytes, sender: Any, gas: int | None) -> bytes:
        if sender is None:
            sender = ZERO_ADDRESS
        elif sender.__class__ is not str:
            sender = sender.address
        return self._simulate(sender, to, data, 0, gas)

    def _failed(self, e: Reverted) -> None:
        self._receipt = Receipt(e.gas_used, e.data, False, [], None, self)

    @property
    def last_receipt(self) -> Receipt | None:
        """Receipt of the last transaction or deployment (logs decoded like ``Chain``'s)."""
        return self._receipt

    decode_logs = Chain.decode_logs

    # ------------------------------------------------------------- snapshots
    def snapshot(self) -> int:
        """Snapshot all state (``ape.chain.snapshot()``) and the time."""
        # ape identifies a snapshot by the head block's hash, and restoring one drops every
        # id after it in ape's list: mine an empty block (at the current time) first, so
        # that every snapshot has an id of its own, whoever else snapshots this chain.
        self._sync_time()
        self.provider.mine(1)
        ape_id = self._ape_chain.snapshot()
        sid = self._next_snap
        self._next_snap += 1
        self._snaps.append((sid, ape_id, self._time))
        return sid

    def revert(self, snapshot_id: int) -> None:
        """Restore ``snapshot_id`` (``ape.chain.restore``); it and every newer snapshot
        are consumed."""
        snaps = self._snaps
        for idx in range(len(snaps) - 1, -1, -1):
            if snaps[idx][0] == snapshot_id:
                break
        else:
            raise ValueError(f"unknown or already invalidated snapshot {snapshot_id!r}")
        _, ape_id, t = snaps[idx]
        del snaps[idx:]
        self._ape_chain.restore(ape_id)
        self._time = t
        self._sync_time()

    @contextlib.contextmanager
    def isolate(self) -> Iterator[None]:
        sid = self.snapshot()
        try:
            yield
        finally:
            self.revert(sid)

    def __repr__(self) -> str:
        return f"<ApeChain {NETWORK} chain_id={self.chain_id} time={self._time}>"


# ----------------------------------------------------------------------------- helpers
def _addr(x: Any) -> str:
    return x if x.__class__ is str else str(x.address)


def _plain_arg(value: Any) -> Any:
    """Constructor args for ape: Contract wrappers / accounts -> address strings."""
    if isinstance(value, (list, tuple)):
        return type(value)(_plain_arg(v) for v in value)
    if hasattr(value, "address") and not isinstance(value, (str, bytes, int)):
        return str(value.address)
    return value


def _to_bytes(value: Any) -> bytes:
    if isinstance(value, str):
        return bytes.fromhex(value[2:] if value.startswith("0x") else value)
    return bytes(value)


def _raw_logs(receipt: dict[str, Any]) -> list[tuple[str, list[Any], bytes]]:
    """eth-tester receipt logs -> ``(address, topics, data)`` tuples (Chain's raw form)."""
    return [(log["address"], list(log["topics"]), _to_bytes(log["data"])) for log in receipt["logs"]]


__all__ = ["ApeChain", "BANK_BALANCE", "GAS_STIPEND", "NETWORK", "connect", "disconnect"]
