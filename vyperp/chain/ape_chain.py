"""A second backend for :class:`vyperp.system.System`: ape's local network.

``ApeChain`` is a :class:`~vyperp.chain.base.BaseChain` (the chain interface
:class:`~vyperp.chain.base.ChainAPI`) on ape's in-process ``ethereum:local:test``
network (eth-tester / py-evm) instead of pyrevm:

    from vyperp.chain.ape_chain import ApeChain
    chain = ApeChain(timestamp=2_000_000_000)
    alice = chain.new_account("alice", eth=10**20)        # a generated ape test account
    token = chain.deploy("TestToken", "t", "T", 6, sender=alice)   # vyperp's compiler, ape signs
    token.mint(alice, 10, sender=alice)                    # signed by ape, mined by eth-tester
    token.balanceOf(alice)                                 # -> 10 (plain int)
    chain.last_receipt.logs                                # [Event('Transfer', {...})]
    sid = chain.snapshot(); chain.advance(60); chain.revert(sid)

What goes through ape's public API: the connection (``networks.parse_network_choice``,
kept open for the process), accounts and signing (``accounts.test_accounts``,
``generate_test_account``; generated test accounts funded by a transfer from test
account 0), every transaction and deployment (``ecosystem.create_transaction`` +
``account.call``: prepared, signed and sent by ape, mined by eth-tester; receipts are
ape's), balances, nonces, code and storage (``provider.get_*``), the block gas limit and
base fee (``provider.max_gas``/``base_fee``), mining (``provider.mine``), snapshots
(``chain.snapshot`` / ``chain.restore``). Contracts are compiled by vyperp's own compiler
(:func:`vyperp.chain.compile_contract`, as on the other backends), so the wrappers,
their ABI, the named struct tuples and the decoded events are exactly those of the
pyrevm chain.

Two things ape's public API cannot do; each is a small workaround on this connection's
own py-evm chain (``provider.evm_backend.chain``), nothing process-wide:

* **Equal block timestamps.** ``Chain`` runs any number of transactions at one block
  time; eth-tester mines every transaction in its own block, py-evm demands
  ``child.timestamp > parent.timestamp`` and ape's ``set_timestamp`` mines a block
  (``time_travel``). :func:`_allow_equal_timestamps` swaps the VM classes of this
  connection's chain class for subclasses whose ``validate_header`` accepts an equal
  timestamp (every other check unchanged), and :meth:`ApeChain._sync_time` gives the
  pending header the chain's time. Time never goes back before the newest block, and
  ape's chain starts at the wall-clock time of the process: an ``ApeChain`` cannot start
  at an arbitrary past timestamp.
* **Calls with exact revert data.** ape's ``send_call`` (and ``web3.eth.call`` under it)
  reports a revert as eth-tester's message only (``"execution reverted: b'...'"``, a
  halt is indistinguishable from an ``Error(string)`` with the same text, no gas used)
  and drops the call's gas limit. Calls -- views, and the simulation that precedes every
  transaction -- therefore run on the provider's py-evm state of the pending block (what
  eth-tester's ``eth_call`` on "pending" does), with the state and its caches kept, and
  results memoized, until the block changes.

Every transaction is simulated first (same sender, gas, block time and state): that
gives its return value (eth-tester has no tracing) and its exact revert data. A
transaction whose simulation reverts raises ``Reverted`` and is not sent, so, as on
the pyrevm chain, a revert changes nothing (not even a nonce). Differences from the
pyrevm chain: see :class:`ApeChain`.
"""

from __future__ import annotations

import atexit
import os
from typing import Any

from .abi import checksum
from .base import ZERO_ADDRESS, BaseChain, Receipt, _addr
from .errors import ChainError, Reverted, decode_revert_reason

NETWORK = "ethereum:local:test"
# Genesis balance of ape's test accounts while this module holds the connection:
# test account 0 funds every account ApeChain creates (ape's default is 10,000 ether;
# deploy_embedded alone hands out 20,000).
BANK_BALANCE = 10**30
# An account created with eth=0 still needs gas money on ape (gas is free on the pyrevm chain).
GAS_STIPEND = 10**18
DEFAULT_GAS = 30_000_000  # Chain's default block / call gas limit
# Ether for the zero address, the sender of calls made without one.
CALLER_FUNDS = 10**21
# Init code ``PUSH0 SELFDESTRUCT``: a creation that hands its value to the zero address
# (ape signs no plain transfer to the zero address: it takes it for a deployment).
_PAY_ZERO_ADDRESS = bytes.fromhex("5fff")


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


def _relaxed_vm(vm_class: Any) -> Any:
    """A subclass of py-evm VM class `vm_class` whose header validation accepts a block
    with its parent's timestamp: an equal-timestamp child is validated against a copy of
    the parent one second earlier, i.e. exactly that one comparison becomes ``>=``."""
    original = vm_class.validate_header.__func__

    def validate_header(cls: Any, header: Any, parent_header: Any) -> None:
        if parent_header is not None and header.timestamp == parent_header.timestamp:
            parent_header = parent_header.copy(timestamp=parent_header.timestamp - 1)
        original(cls, header, parent_header)

    return type(
        vm_class.__name__, (vm_class,), {"validate_header": classmethod(validate_header), "__module__": __name__}
    )


def _allow_equal_timestamps(provider: Any) -> None:
    """Let ape's local chain of `provider` mine blocks with their parent's timestamp.

    eth-tester builds one chain class per connection (``setup_tester_chain``); its
    ``vm_configuration`` gets the :func:`_relaxed_vm` subclasses of its VMs. Scoped to
    that class (the chain of this connection, and the copies a snapshot restore makes of
    it); py-evm's own VM classes are untouched. Idempotent."""
    chain_class = type(provider.evm_backend.chain)
    if chain_class.__dict__.get("_vyperp_equal_timestamps"):
        return
    chain_class.vm_configuration = tuple((start, _relaxed_vm(vm)) for start, vm in chain_class.vm_configuration)
    chain_class._vyperp_equal_timestamps = True


def connect(network: str = NETWORK) -> Any:
    """Connect ape to ``network`` (once per process; the context stays open until
    :func:`disconnect` or interpreter exit). Returns the provider.

    When ape is connected already (inside ``ape test``, or a caller's own provider
    context) that connection is shared as it is and :func:`disconnect` leaves it open."""
    global _SESSION
    if _SESSION is not None and _SESSION.connected:
        if _SESSION.network != network:
            raise ChainError(f"ape is connected to {_SESSION.network!r}, not {network!r}")
        return _SESSION.provider
    if network.split(":")[:3] != ["ethereum", "local", "test"]:
        raise ChainError(f"ApeChain runs on ape's eth-tester network ({NETWORK}), not {network!r}")
    from ape import config, networks

    active = networks.active_provider
    if active is not None and active.is_connected:
        # ape is connected already (`ape test`'s pytest plugin connects before the first
        # test; a script may hold its own context): share that connection, never close it.
        # Its test accounts have the genesis balance of ape's config (`test.balance`).
        if not str(active.network_choice).startswith(NETWORK):
            raise ChainError(f"ape is connected to {active.network_choice!r}; ApeChain runs on {NETWORK}")
        shared = _Session(network)
        shared.provider = active
        _allow_equal_timestamps(active)
        _SESSION = shared
        return active
    session = _Session(network)
    # Raise the test accounts' genesis balance (read when the eth-tester chain is
    # created, i.e. on connect). Restored by disconnect().
    session.saved_balance = int(config.test.balance)
    config.test.balance = max(BANK_BALANCE, session.saved_balance)
    session.context = networks.parse_network_choice(network, disconnect_after=True)
    _drop_idle_providers(network)
    try:
        session.provider = session.context.__enter__()
        _allow_equal_timestamps(session.provider)
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
    it are gone afterwards); a shared connection (ape's own) is only let go of."""
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


# ----------------------------------------------------------------------------- chain
class ApeChain(BaseChain):
    """The chain interface on ape's local network; see the module docstring.

    Args:
        timestamp: block time of the first transaction; ``None``: the newest block's
            time. Must not be earlier than the newest block (ape's chain starts at the
            wall-clock time of the process and never goes back).
        network: ape network choice; only ``ethereum:local:test`` is supported.
        contracts_dir: where contract names are looked up (as on ``Chain``).
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
    * ``set_balance`` and ``evm`` are not offered.
    """

    def __init__(
        self,
        timestamp: int | None = None,
        *,
        network: str = NETWORK,
        contracts_dir: str | os.PathLike[str] | None = None,
        gas_limit: int | None = None,
    ):
        super().__init__()
        from ape import accounts, chain

        self.provider = connect(network)
        _allow_equal_timestamps(self.provider)  # also when someone else connected ape
        self._ape_chain = chain
        self._ape_accounts = accounts
        self._ecosystem = self.provider.network.ecosystem
        self.contracts_dir = contracts_dir
        self.chain_id = int(self.provider.chain_id)
        head = self._head_timestamp()
        if timestamp is None:
            timestamp = head
        elif timestamp < head:
            raise ValueError(
                f"timestamp {timestamp} is before the newest block of ape's chain ({head}); "
                "ape's local chain starts at the wall-clock time and cannot go back"
            )
        self._time = int(timestamp)
        self.gas_limit = min(gas_limit or DEFAULT_GAS, int(self.provider.max_gas))
        self._signers: dict[str, Any] = {}
        self._bank = accounts.test_accounts[0]
        self._call_cache: tuple[Any, Any, Any, Any] | None = None
        self._call_memo: dict[tuple[Any, ...], tuple[bool, Any]] = {}
        # Calls without a sender come from the zero address, as on Chain; py-evm makes even
        # an eth_call's sender afford gas * base fee, so give the zero address ether.
        if self.get_balance(ZERO_ADDRESS) < CALLER_FUNDS // 2:
            self._send(self._bank, None, _PAY_ZERO_ADDRESS, CALLER_FUNDS, 100_000)

    # ------------------------------------------------------------------ time
    def _backend_chain(self) -> Any:
        """This connection's py-evm chain (see the module docstring: the two workarounds)."""
        return self.provider.evm_backend.chain

    def _head_timestamp(self) -> int:
        return int(self.provider.get_block("latest").timestamp)

    def _sync_time(self) -> None:
        """Make the pending block (the one the next transaction/call runs in) carry :attr:`time`."""
        backend_chain = self._backend_chain()
        if backend_chain.header.timestamp != self._time:
            backend_chain.header = backend_chain.header.copy(timestamp=self._time)

    @property
    def block_number(self) -> int:
        """Number of the pending block (eth-tester mines one block per transaction)."""
        return int(self.provider.get_block("latest").number) + 1

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
    def _create_account(self, label: str, eth: int) -> str:
        """Generate an ape test account and fund it with ``eth`` wei (``GAS_STIPEND`` for
        0) by a transfer from test account 0."""
        account = self._ape_accounts.test_accounts.generate_test_account()
        addr = checksum(str(account.address))
        amount = eth if eth else GAS_STIPEND
        spare = self.get_balance(self._bank.address) - 10**18
        if amount > spare:
            raise ChainError(
                f"cannot fund {label!r} with {amount} wei: ape's test account 0 has {spare} to spare. "
                "ApeChain raises the test accounts' balance when it opens ape's connection itself; "
                "here it shares a connection ape opened (raise `test: balance:` in ape-config.yaml, "
                "or call vyperp.chain.ape_chain.connect() before ape connects)"
            )
        self._send(self._bank, addr, b"", amount, 21_000)
        self._signers[addr] = account
        return addr

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

    def get_storage(self, address: Any, slot: int) -> int:
        return int.from_bytes(bytes(self.provider.get_storage(checksum(_addr(address)), int(slot))), "big")

    # ------------------------------------------------------------- contracts
    def _deploy_code(self, sender: str, code: bytes, value: int, gas: int | None) -> str:
        """A creation transaction signed and sent by ape (preceded by its simulation)."""
        account = self.signer(sender)
        try:
            self._simulate(account.address, None, code, value, gas)
        except Reverted as e:
            self._failed(e)
            raise
        receipt = self._send(account, None, code, value, gas)
        address = checksum(str(receipt.contract_address))
        self._receipt = Receipt(int(receipt.gas_used), b"", True, _raw_logs(receipt), address, self)
        return address

    # ---------------------------------------------------------- transactions
    def _call_state(self) -> tuple[Any, Any, Any]:
        """(vm, state, header) of the pending block, reused until the block changes (a
        mined transaction or block, a restored snapshot, a new time all replace the
        pending header): repeated calls then share py-evm's account and storage caches."""
        self._sync_time()
        backend_chain = self._backend_chain()
        header = backend_chain.header
        cached = self._call_cache
        if cached is None or cached[2] is not header or cached[3] is not backend_chain:
            vm = backend_chain.get_vm(header)
            cached = self._call_cache = (vm, vm.state, header, backend_chain)
            self._call_memo.clear()
        return cached[0], cached[1], cached[2]

    def _simulate(self, sender: str, to: str | None, data: bytes, value: int, gas: int | None) -> bytes:
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

    def _execute(
        self, vm: Any, state: Any, header: Any, sender: str, to: str | None, data: bytes, value: int, gas: int
    ) -> bytes:
        from eth.exceptions import Revert
        from eth.vm.spoof import SpoofTransaction
        from eth_utils import ValidationError

        origin = bytes.fromhex(sender[2:])
        try:
            tx = vm.create_unsigned_transaction(
                nonce=state.get_nonce(origin),
                gas_price=header.base_fee_per_gas,
                gas=gas,
                to=b"" if to is None else bytes.fromhex(to[2:]),
                value=value,
                data=data,
            )
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

    def _send(self, account: Any, to: str | None, data: bytes, value: int, gas: int | None) -> Any:
        """Sign and send through ape (``account.call``); returns ape's receipt."""
        from ape.exceptions import ApeException
        from ape.logging import LogLevel, logger

        self._sync_time()
        fields: dict[str, Any] = {"receiver": to} if to is not None else {}
        txn = self._ecosystem.create_transaction(
            chain_id=self.chain_id,
            sender=account.address,
            data=data,
            value=value,
            gas_limit=gas or self.gas_limit,
            max_fee=int(self.provider.base_fee),
            max_priority_fee=0,
            type=2,
            **fields,
        )
        try:
            with logger.at_level(LogLevel.ERROR):
                receipt = account.call(txn)
        except ApeException as exc:
            raise ChainError(f"ape refused the transaction: {exc}") from exc
        if receipt.failed:
            raise ChainError(f"transaction {receipt.txn_hash} failed on chain although its simulation succeeded")
        return receipt

    def send(self, sender: str, to: str, calldata: bytes, value: int = 0, gas: int | None = None) -> bytes:
        """A transaction from ``sender`` (an account made by :meth:`new_account`): simulated,
        then signed and sent by ape; returns the simulation's return data."""
        account = self.signer(sender)
        try:
            out = self._simulate(account.address, to, calldata, value, gas)
        except Reverted as e:
            self._failed(e)
            raise
        receipt = self._send(account, to, calldata, value, gas)
        self._receipt = Receipt(int(receipt.gas_used), out, True, _raw_logs(receipt), None, self)
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

    # ------------------------------------------------------------- snapshots
    def _raw_snapshot(self) -> Any:
        """``ape.chain.snapshot()``."""
        # ape identifies a snapshot by the head block's hash, and restoring one drops every
        # id after it in ape's list: mine an empty block (at the current time) first, so
        # that every snapshot has an id of its own, whoever else snapshots this chain.
        self._sync_time()
        self.provider.mine(1)
        return self._ape_chain.snapshot()

    def _revert_to(self, tokens: list[Any], time: int) -> None:
        """``ape.chain.restore`` (it drops every newer ape snapshot too)."""
        self._ape_chain.restore(tokens[-1])
        self._time = time
        self._sync_time()

    def __repr__(self) -> str:
        return f"<ApeChain {NETWORK} chain_id={self.chain_id} time={self._time}>"


# ----------------------------------------------------------------------------- helpers
def _to_bytes(value: Any) -> bytes:
    if isinstance(value, str):
        return bytes.fromhex(value[2:] if value.startswith("0x") else value)
    return bytes(value)


def _raw_logs(receipt: Any) -> list[tuple[str, list[Any], bytes]]:
    """ape receipt logs -> ``(address, topics, data)`` tuples (a raw log form every backend decodes)."""
    return [(log["address"], list(log["topics"]), _to_bytes(log["data"])) for log in receipt.logs]


__all__ = ["ApeChain", "BANK_BALANCE", "GAS_STIPEND", "NETWORK", "connect", "disconnect"]
