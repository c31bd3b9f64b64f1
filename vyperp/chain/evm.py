"""pyrevm 0.3.7 backends.

Facts about pyrevm 0.3.7 (revm 8) this module is built on, all verified:

* ``EVM.message_call``/``EVM.deploy`` run a transaction but never *finalize*
  revm's journal: state changes stay in the in-memory journal (they are
  visible to later calls, i.e. effectively committed) and are never flushed
  to the database. Consequences: (1) every account/slot ever touched stays
  *warm* forever and SSTORE "original values" are those from when a slot
  was first loaded, so later transactions are charged too little gas
  (e.g. an ERC-20 transfer reports ~24k instead of ~34k); (2) the journal
  (and every log ever emitted) grows without bound; (3) transient storage is
  not cleared between transactions.
* ``result.gas_used`` *does* include the 21,000 intrinsic gas and the
  calldata cost (4/16 per zero/non-zero byte); refunds are applied (capped
  at 1/5). No nonce bump, gas price 0.
* ``snapshot()``/``revert()`` map to revm journal checkpoints; a revert
  un-loads accounts loaded after the checkpoint (they become cold again).
* A revert/halt surfaces as ``RuntimeError("Revert { gas_used: N, output:
  0x.. }")`` / ``RuntimeError("Halt { reason: .., gas_used: N }")``.
* Logs: ``evm.result.logs`` -> ``Log`` objects (``.address`` checksummed,
  ``.data`` -> ``(topics: list[bytes], data: bytes)``).

:class:`ExactBackend` (default) makes every transaction behave like a real
one: it runs the transaction inside a checkpoint, reads the changes from the
journal, reverts the checkpoint and writes the changes into pyrevm's database
(``insert_account_info``/``insert_account_storage`` on cold accounts). Each
transaction therefore starts with a cold, finalized state: ``gas_used`` is
what a real chain charges (verified against py-evm) and memory stays bounded.
Snapshots are an undo log of those database writes.

Its cost is ``EVM.journal_str`` (pyrevm prints the touched accounts
including their bytecode; ~1.5 ns per code byte) plus one jump-table analysis
of each called contract per call (code comes back from the DB unanalysed).
Not modelled: SELFDESTRUCT storage wiping; the coinbase account (loaded
outside the journal by revm) keeps its state in the journal.

:class:`FastBackend` uses pyrevm as-is (1.5-3x faster): state lives in the
journal, snapshots are revm checkpoints, ``gas_used`` under-reports
(warm-everything accounting) and memory grows by ~1.2 KB per transaction
until a snapshot older than those transactions is reverted. ``set_balance``
is not journaled by pyrevm; it is undone on revert by restoring the old
value, which is only exact if no ETH moved to/from that account after it.

Note: pyrevm maps an unknown ``spec_id`` string silently to LATEST; we pass
``"CANCUN"`` and compile with ``evm_version="cancun"`` (TLOAD/TSTORE/MCOPY).
"""

from __future__ import annotations

import re
from typing import Any

import pyrevm
from eth_utils import keccak

from .errors import ChainError, error_from_pyrevm

KECCAK_EMPTY = keccak(b"")
_EMPTY_ACCT = (0, 0, KECCAK_EMPTY)
_PAD = b"\x00" * 33

# Journal entries of revm 8, as printed by ``EVM.journal_str`` (Debug format).
# Storage writes are found with str.split (regex is ~10x slower here); the
# rare account-level changes are gated by substring tests first.
_SOME = "had_value: Some("  # only StorageChange prints ``Some(``
_ACCT_RE = re.compile(r"(?:NonceChange|CodeChange|AccountCreated) \{ address: (0x[0-9a-f]{40})")
_XFER_RE = re.compile(r"BalanceTransfer \{ from: (0x[0-9a-f]{40}), to: (0x[0-9a-f]{40}), balance: [1-9]")
_DESTROY_RE = re.compile(r"AccountDestroyed \{ address: (0x[0-9a-f]{40}), target: (0x[0-9a-f]{40})")
_JOURNAL_MARK = ", journal: ["


def _block_env(number: int, timestamp: int, coinbase: str, gas_limit: int) -> pyrevm.BlockEnv:
    return pyrevm.BlockEnv(
        number=number,
        timestamp=timestamp,
        coinbase=coinbase,
        gas_limit=gas_limit,
        basefee=0,
        prevrandao=b"\x00" * 32,
        excess_blob_gas=0,
    )


class Backend:
    """Common part: construction, block environment, error translation."""

    exact_gas = False

    def __init__(
        self,
        *,
        chain_id: int,
        number: int,
        timestamp: int,
        gas_limit: int,
        coinbase: str,
        code_size_limit: int | None = None,
    ):
        self.coinbase = coinbase
        self.gas_limit = gas_limit
        env = pyrevm.Env(
            cfg=pyrevm.CfgEnv(chain_id=chain_id, limit_contract_code_size=code_size_limit),
            block=_block_env(number, timestamp, coinbase, gas_limit),
        )
        # gas_limit is both the default tx gas and the block gas limit
        self.evm = pyrevm.EVM(env=env, spec_id="CANCUN", gas_limit=gas_limit)

    def set_block(self, number: int, timestamp: int) -> None:
        self.evm.set_block_env(_block_env(number, timestamp, self.coinbase, self.gas_limit))

    # interface ---------------------------------------------------------
    def transact(self, sender: str, to: str, data: bytes, value: int, gas: int | None) -> tuple[bytes, Any]:
        raise NotImplementedError

    def deploy(self, sender: str, code: bytes, value: int, gas: int | None) -> tuple[str, Any]:
        raise NotImplementedError

    def call(self, sender: str, to: str, data: bytes, value: int, gas: int | None, static: bool) -> bytes:
        raise NotImplementedError

    def get_balance(self, address: str) -> int:
        raise NotImplementedError

    def set_balance(self, address: str, wei: int) -> None:
        raise NotImplementedError

    def set_nonce(self, address: str, nonce: int) -> None:
        """Set an account's nonce (``ExactBackend`` only; ``FastBackend`` raises ``ChainError``)."""
        raise ChainError(f"{type(self).__name__} cannot set a nonce (use exact_gas=True)")

    def get_nonce(self, address: str) -> int:
        raise NotImplementedError

    def get_code(self, address: str) -> bytes:
        raise NotImplementedError

    def get_storage(self, address: str, slot: int) -> int:
        raise NotImplementedError

    def snapshot(self) -> Any:
        raise NotImplementedError

    def revert(self, token: Any) -> None:
        raise NotImplementedError


def _true_code(code: bytes, code_hash: bytes) -> bytes:
    """pyrevm returns analysed bytecode padded with 33 zero bytes: strip it."""
    if len(code) >= 33 and code[-33:] == _PAD and keccak(code[:-33]) == code_hash:
        return code[:-33]
    if keccak(code) == code_hash:
        return code
    raise ChainError("cannot recover deployed bytecode from pyrevm (hash mismatch)")


class ExactBackend(Backend):
    """Finalize every transaction into the database: exact gas, bounded memory."""

    exact_gas = True

    def __init__(self, **kw: Any):
        super().__init__(**kw)
        # python mirror of every account written to the DB: lower addr -> (balance, nonce, code_hash)
        self._accounts: dict[str, tuple[int, int, bytes]] = {}
        self._known_code: set[bytes] = {KECCAK_EMPTY}
        # undo log of DB writes, kept only while a snapshot is open
        self._undo: list[tuple[Any, ...]] = []
        self._open_snapshots = 0

    # --- DB writes (the account must not be in the journal state) -----------
    def _put_account(self, a: str, new: tuple[int, int, bytes], code: bytes | None) -> None:
        bal, nonce, ch = new
        if ch == KECCAK_EMPTY:
            info = pyrevm.AccountInfo(balance=bal, nonce=nonce)
        elif code is not None:
            info = pyrevm.AccountInfo(balance=bal, nonce=nonce, code_hash=ch, code=code)
            self._known_code.add(ch)
        else:
            info = pyrevm.AccountInfo(balance=bal, nonce=nonce, code_hash=ch)
        self.evm.insert_account_info(a, info)
        self._accounts[a] = new

    def _put_slot(self, a: str, key: int, value: int) -> None:
        evm = self.evm
        cp = evm.snapshot()
        evm.insert_account_storage(a, key, value)  # cold account: goes to the DB, then loads it
        evm.revert(cp)  # ... and un-load it again

    def _read_changes(self, evm: Any) -> tuple[list[Any], list[Any]]:
        """Parse the open checkpoint's journal: (account changes, slot writes)."""
        js = evm.journal_str
        tail = js[js.rfind(_JOURNAL_MARK) :]
        slots: dict[tuple[str, int], int] = {}
        parts = tail.split(_SOME)
        for i in range(len(parts) - 1):
            left = parts[i]  # "... StorageChange { address: 0x.., key: N, "
            k0 = left.rfind("key: ")
            a0 = left.rfind("address: ", 0, k0) + 9
            k = (left[a0 : a0 + 42], int(left[k0 + 5 : -2]))
            if k not in slots:
                right = parts[i + 1]
                slots[k] = int(right[: right.index(")")])  # value before this tx
        accts: set[str] = set()
        if "NonceChange" in tail or "CodeChange" in tail or "AccountCreated" in tail:
            accts.update(_ACCT_RE.findall(tail))
        if tail.count("BalanceTransfer") != tail.count(", balance: 0 }"):
            for pair in _XFER_RE.findall(tail):
                accts.update(pair)
        if "AccountDestroyed" in tail:
            for pair in _DESTROY_RE.findall(tail):
                accts.update(pair)
        infos = []
        for a in accts:
            info = evm.basic(a)
            new = (info.balance, info.nonce, info.code_hash)
            old = self._accounts.get(a, _EMPTY_ACCT)
            if new != old:
                code = None
                if new[2] not in self._known_code:
                    code = _true_code(evm.get_code(a) or b"", new[2])
                infos.append((a, old, new, code))
        writes = []
        for (a, k), old_v in slots.items():
            new_v = evm.storage(a, k)
            if new_v != old_v:
                writes.append((a, k, old_v, new_v))
        return infos, writes

    def _flush(self, cp: Any) -> None:
        """Move the changes made since checkpoint ``cp`` into the DB."""
        evm = self.evm
        try:
            infos, writes = self._read_changes(evm)
        finally:
            evm.revert(cp)
        record = self._open_snapshots > 0
        undo = self._undo
        for a, old, new, code in infos:
            self._put_account(a, new, code)
            if record:
                undo.append((a, old))
        for a, k, old_v, new_v in writes:
            self._put_slot(a, k, new_v)
            if record:
                undo.append((a, k, old_v))

    # --- execution -----------------------------------------------------------
    def transact(self, sender: str, to: str, data: bytes, value: int, gas: int | None) -> tuple[bytes, Any]:
        evm = self.evm
        cp = evm.snapshot()
        try:
            out = evm.message_call(sender, to, data, value, gas)
        except RuntimeError as e:
            evm.revert(cp)
            raise error_from_pyrevm(e) from None
        res = evm.result
        self._flush(cp)
        return out, res

    def deploy(self, sender: str, code: bytes, value: int, gas: int | None) -> tuple[str, Any]:
        evm = self.evm
        cp = evm.snapshot()
        try:
            addr = evm.deploy(sender, code, value, gas)
        except RuntimeError as e:
            evm.revert(cp)
            raise error_from_pyrevm(e) from None
        res = evm.result
        self._flush(cp)
        return addr, res

    def call(self, sender: str, to: str, data: bytes, value: int, gas: int | None, static: bool) -> bytes:
        evm = self.evm
        cp = evm.snapshot()
        try:
            return evm.message_call(sender, to, data, value, gas, None, static)
        except RuntimeError as e:
            raise error_from_pyrevm(e) from None
        finally:
            evm.revert(cp)

    # --- state access --------------------------------------------------------
    def get_balance(self, address: str) -> int:
        return self._accounts.get(address.lower(), _EMPTY_ACCT)[0]

    def get_nonce(self, address: str) -> int:
        return self._accounts.get(address.lower(), _EMPTY_ACCT)[1]

    def set_balance(self, address: str, wei: int) -> None:
        a = address.lower()
        old = self._accounts.get(a, _EMPTY_ACCT)
        self._put_account(a, (wei, old[1], old[2]), None)
        if self._open_snapshots:
            self._undo.append((a, old))

    def set_nonce(self, address: str, nonce: int) -> None:
        a = address.lower()
        old = self._accounts.get(a, _EMPTY_ACCT)
        self._put_account(a, (old[0], int(nonce), old[2]), None)
        if self._open_snapshots:
            self._undo.append((a, old))

    def get_code(self, address: str) -> bytes:
        a = address.lower()
        ch = self._accounts.get(a, _EMPTY_ACCT)[2]
        if ch == KECCAK_EMPTY:
            return b""
        evm = self.evm
        cp = evm.snapshot()
        try:
            return _true_code(evm.get_code(a) or b"", ch)
        finally:
            evm.revert(cp)

    def get_storage(self, address: str, slot: int) -> int:
        evm = self.evm
        cp = evm.snapshot()
        try:
            return evm.storage(address, slot)
        finally:
            evm.revert(cp)

    # --- snapshots -----------------------------------------------------------
    def snapshot(self) -> int:
        self._open_snapshots += 1
        return len(self._undo)

    def revert(self, token: int) -> None:
        undo = self._undo
        while len(undo) > token:
            entry = undo.pop()
            if len(entry) == 2:
                a, old = entry
                self._put_account(a, old, None)
            else:
                a, k, old_v = entry
                self._put_slot(a, k, old_v)
        self._open_snapshots -= 1


class FastBackend(Backend):
    """pyrevm as-is: fastest, but gas_used is warm-state gas (too low) and the
    journal grows with every transaction (released by reverting snapshots)."""

    def __init__(self, **kw: Any):
        super().__init__(**kw)
        self._balance_log: list[tuple[str, int]] = []

    def transact(self, sender: str, to: str, data: bytes, value: int, gas: int | None) -> tuple[bytes, Any]:
        evm = self.evm
        try:
            out = evm.message_call(sender, to, data, value, gas)
        except RuntimeError as e:
            evm.reset_transient_storage()
            raise error_from_pyrevm(e) from None
        res = evm.result
        evm.reset_transient_storage()
        return out, res

    def deploy(self, sender: str, code: bytes, value: int, gas: int | None) -> tuple[str, Any]:
        evm = self.evm
        try:
            addr = evm.deploy(sender, code, value, gas)
        except RuntimeError as e:
            raise error_from_pyrevm(e) from None
        res = evm.result
        evm.reset_transient_storage()
        return addr, res

    def call(self, sender: str, to: str, data: bytes, value: int, gas: int | None, static: bool) -> bytes:
        evm = self.evm
        if static:
            try:
                return evm.message_call(sender, to, data, value, gas, None, True)
            except RuntimeError as e:
                raise error_from_pyrevm(e) from None
        cp = evm.snapshot()
        try:
            return evm.message_call(sender, to, data, value, gas)
        except RuntimeError as e:
            raise error_from_pyrevm(e) from None
        finally:
            evm.revert(cp)

    def get_balance(self, address: str) -> int:
        return self.evm.get_balance(address)

    def get_nonce(self, address: str) -> int:
        return self.evm.basic(address).nonce

    def set_balance(self, address: str, wei: int) -> None:
        # pyrevm's set_balance is not journaled: remember the old value so
        # that reverting a snapshot restores it.
        self._balance_log.append((address, self.evm.get_balance(address)))
        self.evm.set_balance(address, wei)

    def get_code(self, address: str) -> bytes:
        info = self.evm.basic(address)
        if info.code_hash == KECCAK_EMPTY:
            return b""
        return _true_code(self.evm.get_code(address) or b"", info.code_hash)

    def get_storage(self, address: str, slot: int) -> int:
        return self.evm.storage(address, slot)

    def snapshot(self) -> tuple[Any, int]:
        return self.evm.snapshot(), len(self._balance_log)

    def revert(self, token: tuple[Any, int]) -> None:
        cp, n = token
        self.evm.revert(cp)
        log = self._balance_log
        # restore explicitly-set balances (balance changes by transactions in
        # between are undone by the journal revert above)
        while len(log) > n:
            a, old = log.pop()
            self.evm.set_balance(a, old)
        self.evm.reset_transient_storage()
