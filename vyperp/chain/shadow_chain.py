"""Speculative execution on the embedded chain, verified on anvil every step.

    from vyperp.chain.node import BATCH_BLOCK_GAS_LIMIT, AnvilNode
    from vyperp.chain.shadow_chain import ShadowChain

    with AnvilNode(gas_limit=BATCH_BLOCK_GAS_LIMIT) as node:
        run_replay(..., chain_factory=ShadowChain.factory(node.url))

A :class:`ShadowChain` has the chain API of :class:`~vyperp.chain.Chain` and runs every
transaction twice:

* at once on an embedded ``Chain(exact_gas=True)`` (equal to anvil to the wei and in gas):
  its outcome -- return data, revert, logs, gas -- is what the caller gets, without a
  round trip; calls and state reads (balances, code, storage) are answered by it too;
* later on anvil: the transaction is queued (impersonated sender, explicit nonce tracked
  here, the call's gas or ``gas_limit``, gas price 0, as :class:`RpcChain` sends it), and
  at the next time move (a replay's step boundary) the whole queue goes out as ONE
  JSON-RPC batch: every ``eth_sendTransaction``, then ``evm_mine`` at the queue's block
  time. The batch is not waited for: anvil mines it while the caller computes the next
  step. The next batch reads its answer first and starts with ``eth_getBlockReceipts`` of
  the blocks it mined; every transaction's receipt is then checked against the embedded
  outcome -- same hash order, status success, ``gasUsed``, logs (address, topics, data),
  the created address -- and any difference raises :class:`ChainError` naming the
  transaction. A divergence is therefore reported one to two time moves after it
  happened, or at :meth:`settle` (which mines and checks everything outstanding).

A transaction the embedded chain reverts raises :class:`Reverted` and is not sent (as on
:class:`RpcChain`, whose preflight sends nothing on a revert). Reads on anvil itself:
``with chain.node_reads(): ...`` answers ``call`` from the node's state at the current
time (everything settled first) -- a final check of the books.

Failure modes: :class:`ChainError` for a node that refuses a transaction or a batch, a
missing block, or any receipt that differs from the embedded outcome (the chain is then
unusable); ``ValueError`` for time moved back (anvil cannot; revert a snapshot).
Limits: a queue whose gas exceeds the node's block gas limit is mined as several blocks,
one request per block, all but the last waited for (``AnvilNode(gas_limit=
BATCH_BLOCK_GAS_LIMIT)`` holds 64 transactions of 30,000,000 gas); ``set_balance`` goes to anvil at once, ahead of
the queued transactions, which is exact because gas costs no ether and -- checked -- no
queued transaction moves ether (else the queue is settled first); ``block_number`` is
the embedded chain's (anvil mines a block per step with transactions, none on an empty
step); ``get_nonce`` counts every transaction as anvil does (the embedded chain bumps
nonces on deployments only: its nonce is set to the tracked one before each deployment,
so contract addresses agree).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

from .abi import checksum
from .base import DEFAULT_COINBASE, BaseChain, Receipt, _addr, _log_parts
from .chain import Chain, lazy_receipt
from .errors import ChainError, Reverted
from .rpc_chain import RpcChain


class _Tx:
    """A transaction run on the embedded chain and queued for anvil."""

    __slots__ = ("sender", "to", "data", "value", "gas", "nonce", "result", "created", "time", "hash")

    def __init__(
        self,
        sender: str,
        to: str | None,
        data: bytes,
        value: int,
        gas: int,
        nonce: int,
        result: Any,
        created: str | None,
        time: int,
    ):
        self.sender = sender
        self.to = to
        self.data = data
        self.value = value
        self.gas = gas
        self.nonce = nonce
        self.result = result  # the embedded ExecutionResult (gas_used, logs)
        self.created = created
        self.time = time
        self.hash: str | None = None

    def rpc(self) -> tuple[str, list[Any]]:
        tx: dict[str, Any] = {
            "from": self.sender,
            "data": "0x" + self.data.hex(),
            "gas": hex(self.gas),
            "gasPrice": "0x0",
            "nonce": hex(self.nonce),
        }
        if self.to is not None:
            tx["to"] = self.to
        if self.value:
            tx["value"] = hex(self.value)
        return ("eth_sendTransaction", [tx])

    def describe(self) -> str:
        target = f"to {self.to}" if self.to is not None else "deployment"
        return (
            f"{self.hash or '(unsent)'} from {self.sender} {target}, selector 0x{self.data[:4].hex()}, "
            f"nonce {self.nonce}, block time {self.time}"
        )


def _embedded_logs(result: Any) -> list[tuple[str, list[str], str]]:
    out = []
    for log in result.logs:
        address, topics, data = _log_parts(log)
        out.append((address.lower(), ["0x" + t.hex() for t in topics], "0x" + data.hex()))
    return out


def _node_logs(receipt: dict[str, Any]) -> list[tuple[str, list[str], str]]:
    return [
        (log["address"].lower(), [t.lower() for t in log["topics"]], (log["data"] or "0x").lower())
        for log in receipt.get("logs") or ()
    ]


def _check(k: int, tx: _Tx, receipt: dict[str, Any] | None) -> None:
    """Raise ChainError unless anvil's `receipt` is the embedded outcome of `tx`."""
    if receipt is None:
        raise ChainError(f"anvil mined no receipt for transaction #{k} of its block ({tx.describe()})")
    differences = []
    if receipt.get("transactionHash") != tx.hash:
        differences.append(f"mined {receipt.get('transactionHash')} in its place")
    if receipt.get("status") != "0x1":
        differences.append(f"status {receipt.get('status')} (the embedded chain succeeded)")
    gas = int(receipt["gasUsed"], 16)
    if gas != tx.result.gas_used:
        differences.append(f"gasUsed {gas} (embedded {tx.result.gas_used})")
    if tx.created is not None and checksum(receipt.get("contractAddress") or "0x" + "0" * 40) != tx.created:
        differences.append(f"created {receipt.get('contractAddress')} (embedded {tx.created})")
    if not differences:
        mine, theirs = _embedded_logs(tx.result), _node_logs(receipt)
        if mine != theirs:
            at = next((j for j, (a, b) in enumerate(zip(mine, theirs)) if a != b), min(len(mine), len(theirs)))
            differences.append(
                f"{len(theirs)} logs (embedded {len(mine)}); first difference at log #{at}: "
                f"anvil {theirs[at] if at < len(theirs) else None}, embedded {mine[at] if at < len(mine) else None}"
            )
    if differences:
        raise ChainError(
            f"anvil diverged from the embedded chain at transaction #{k} of its block ({tx.describe()}): "
            + "; ".join(differences)
        )


class ShadowChain(BaseChain):
    """The chain API on an embedded chain, every step re-executed and verified on anvil
    (see the module docstring).

    Args:
        url: the anvil node's JSON-RPC URL (its block gas limit should hold a step:
            ``AnvilNode(gas_limit=BATCH_BLOCK_GAS_LIMIT)``).
        timestamp: start time (``None``: the node's head time).
        chain_id: checked against the node's if given.
        gas_limit: default gas of transactions, on both chains (views get the node's
            block gas limit, as on :class:`RpcChain`: a lens scan of 1,000 accounts needs
            more than 30,000,000).
        reset: ``anvil_reset`` the node first (then every account's nonce starts at 0
            without asking the node).
        contracts_dir, coinbase, timeout: as on :class:`RpcChain`.
    """

    exact_gas = True

    def __init__(
        self,
        url: str = "http://127.0.0.1:8545",
        timestamp: int | None = None,
        chain_id: int | None = None,
        *,
        gas_limit: int = 30_000_000,
        reset: bool = True,
        contracts_dir: str | os.PathLike[str] | None = None,
        coinbase: str = DEFAULT_COINBASE,
        timeout: float = 120.0,
    ):
        super().__init__()
        self.node = RpcChain(
            url,
            timestamp=timestamp,
            chain_id=chain_id,
            gas_limit=gas_limit,
            reset=reset,
            contracts_dir=contracts_dir,
            coinbase=coinbase,
            timeout=timeout,
            deferred=True,
        )
        self._t = self.node._t
        self.url = url
        self.chain_id = self.node.chain_id
        self.block_gas_limit = self.node.block_gas_limit
        self.gas_limit = int(gas_limit)
        self.contracts_dir = contracts_dir
        self._time = self.node.time
        self.embedded = Chain(  # the node's block gas limit: views get it as gas, as on RpcChain
            timestamp=self._time,
            chain_id=self.chain_id,
            gas_limit=max(self.gas_limit, self.block_gas_limit),
            exact_gas=True,
            coinbase=coinbase,
            contracts_dir=contracts_dir,
        )
        self._b_transact = self.embedded._b_transact
        self._nonces: dict[str, int] = {}
        self._fresh = reset  # after anvil_reset every nonce is 0
        self._queue: list[_Tx] = []
        self._queued_value = False
        # (batch token, txs whose receipts it reads, txs it sends, their whole queue, its blocks)
        self._in_flight: tuple[tuple[int, int], list[_Tx], list[_Tx], list[_Tx], list[int]] | None = None
        self._unchecked: tuple[list[_Tx], list[int]] | None = None  # mined, receipts not read yet
        self._head = int(self.node.rpc("eth_blockNumber"), 16)
        self._mined_time: int | None = None
        self._node_reads = False
        self._last: tuple[Any, bytes, str | None] | None = None
        self.batches = 0
        self.transactions_verified = 0
        self.node_wait_seconds = 0.0  # waiting for anvil's answers (not overlapped with the caller)

    @classmethod
    def factory(cls, url: str, **kwargs: Any) -> Callable[[int], ShadowChain]:
        """``timestamp -> ShadowChain(url, timestamp=timestamp, **kwargs)`` (a fresh node
        state per call: ``reset=True`` unless given) for ``run_replay(chain_factory=...)``."""
        return lambda timestamp: cls(url, timestamp=timestamp, **kwargs)

    def __repr__(self) -> str:
        return f"<ShadowChain {self.url} time={self._time} queued={len(self._queue)}>"

    def close(self) -> None:
        """Close the HTTP connection (does not settle: call :meth:`settle` first)."""
        self._in_flight = None
        self.node.close()

    # ------------------------------------------------------------------ node I/O
    def _receive(self) -> None:
        """Read the answer of the batch in flight: check the receipts it read and that the
        node took every transaction and mined; its own transactions await their receipts."""
        flight = self._in_flight
        if flight is None:
            return
        self._in_flight = None
        token, checked, sent, queue, numbers = flight
        t0 = time.perf_counter()
        answers = self._t.end_batch(token)
        self.node_wait_seconds += time.perf_counter() - t0
        n_receipts = len(answers) - len(sent) - 1
        if checked:
            receipts = []
            for a in answers[:n_receipts]:
                if "error" in a or a.get("result") is None:
                    raise ChainError(f"eth_getBlockReceipts failed while verifying a step: {a.get('error')}")
                receipts.extend(a["result"])
            self._verify(checked, receipts)
        self._took(sent, answers[n_receipts:])
        self._unchecked = (queue, numbers)

    def _took(self, sent: list[_Tx], answers: list[dict[str, Any]]) -> None:
        """Record the hashes of `sent` from their answers (then one per ``evm_mine``)."""
        for tx, a in zip(sent, answers):
            if "error" in a:
                raise ChainError(f"anvil refused transaction {tx.describe()}: {a['error']}")
            tx.hash = a["result"]
        for a in answers[len(sent) :]:
            if "error" in a:
                raise ChainError(f"anvil refused evm_mine at block time {sent[0].time}: {a['error']}")

    def _verify(self, txs: list[_Tx], receipts: list[dict[str, Any]]) -> None:
        if len(receipts) != len(txs):
            raise ChainError(
                f"anvil mined {len(receipts)} transactions where the embedded chain ran {len(txs)} "
                f"(block time {txs[0].time}; first: {txs[0].describe()})"
            )
        for k, (tx, r) in enumerate(zip(txs, receipts)):
            _check(k, tx, r)
        self.transactions_verified += len(txs)

    def _rpc(self, method: str, params: list[Any]) -> Any:
        """A synchronous request (the batch in flight is read first)."""
        self._receive()
        return self.node.rpc(method, *params)

    def _blocks_for(self, txs: list[_Tx]) -> list[list[_Tx]]:
        """Split a queue into blocks whose gas fits the node's block gas limit."""
        blocks: list[list[_Tx]] = [[]]
        room = self.block_gas_limit
        for tx in txs:
            if blocks[-1] and tx.gas > room:
                blocks.append([])
                room = self.block_gas_limit
            blocks[-1].append(tx)
            room -= tx.gas
        return blocks

    def _flush(self) -> None:
        """Send the queue as one batch (receipts of the previous one first, then every
        transaction, then ``evm_mine`` at their block time) without waiting for it."""
        queue = self._queue
        if not queue:
            return
        self._queue = []
        self._queued_value = False
        self._receive()
        ts = queue[0].time
        mine = ("evm_mine", [{"timestamp": ts, "blocks": 1}])
        blocks = self._blocks_for(queue)
        numbers = []
        if len(blocks) > 1:  # a queue larger than a block: one request per block, in order
            self._check_unchecked()
            for block in blocks[:-1]:
                answers = self._t.batch([tx.rpc() for tx in block] + [mine])
                self._took(block, answers)
                self._head += 1
                numbers.append(self._head)
        calls: list[tuple[str, list[Any]]] = []
        checked: list[_Tx] = []
        if self._unchecked is not None:
            checked, before = self._unchecked
            self._unchecked = None
            calls.extend(("eth_getBlockReceipts", [hex(b)]) for b in before)
        calls.extend(tx.rpc() for tx in blocks[-1])
        calls.append(mine)
        self._head += 1
        numbers.append(self._head)
        self._in_flight = (self._t.begin_batch(calls), checked, blocks[-1], queue, numbers)
        self._mined_time = ts
        self.batches += len(blocks)

    def _check_unchecked(self) -> None:
        """Read and verify the receipts of what was mined and not checked yet (synchronous)."""
        self._receive()
        if self._unchecked is None:
            return
        txs, numbers = self._unchecked
        self._unchecked = None
        t0 = time.perf_counter()
        answers = self._t.batch([("eth_getBlockReceipts", [hex(b)]) for b in numbers])
        self.node_wait_seconds += time.perf_counter() - t0
        receipts: list[dict[str, Any]] = []
        for b, a in zip(numbers, answers):
            if "error" in a or a.get("result") is None:
                raise ChainError(f"eth_getBlockReceipts({b}) failed while verifying: {a.get('error') or 'no block'}")
            receipts.extend(a["result"])
        self._verify(txs, receipts)

    def settle(self) -> None:
        """Send what is queued, wait for anvil and verify every transaction not verified
        yet (raises :class:`ChainError` on any difference). Afterwards anvil holds every
        transaction sent so far."""
        self._flush()
        self._check_unchecked()

    # ------------------------------------------------------------------ time
    @property
    def block_number(self) -> int:
        """The embedded chain's block number (anvil's differs: a block per step with transactions)."""
        return self.embedded.block_number

    def advance(self, seconds: int, blocks: int = 1) -> None:
        """Move block time forward: the queue (sent at the old time) goes to anvil as one batch."""
        if seconds < 0 or blocks < 0:
            raise ValueError("advance() only moves forward; use set_time()")
        if seconds:
            self._flush()
        self.embedded.advance(seconds, blocks)
        self._time += int(seconds)

    def set_time(self, timestamp: int) -> None:
        """Set the block timestamp; anvil cannot go back (``ValueError``: revert a snapshot)."""
        timestamp = int(timestamp)
        if timestamp < self._time:
            raise ValueError(f"anvil cannot move time back ({self._time} -> {timestamp}); revert a snapshot")
        if timestamp != self._time:
            self._flush()
            self.embedded.set_time(timestamp)
            self._time = timestamp

    # ------------------------------------------------------------------ accounts and state
    def _create_account(self, label: str, eth: int) -> str:
        addr = self.label_address(label)
        if eth:
            self.set_balance(addr, eth)
        return addr

    def set_balance(self, address: Any, wei: int) -> None:
        """Set a balance on both chains (on anvil at once; the queue is settled first only
        if a queued transaction moves ether)."""
        addr = _addr(address)
        if self._queued_value:
            self.settle()
        self._rpc("anvil_setBalance", [addr, hex(int(wei))])
        self.embedded.set_balance(addr, wei)

    def get_balance(self, address: Any) -> int:
        return self.embedded.get_balance(address)

    def get_code(self, address: Any) -> bytes:
        return self.embedded.get_code(address)

    def get_storage(self, address: Any, slot: int) -> int:
        return self.embedded.get_storage(address, slot)

    def get_nonce(self, address: Any) -> int:
        """The account's nonce as anvil counts it (every transaction bumps it)."""
        return self._nonce(_addr(address))

    def _nonce(self, sender: str) -> int:
        n = self._nonces.get(sender)
        if n is None:
            n = 0 if self._fresh else int(self._rpc("eth_getTransactionCount", [sender, "pending"]), 16)
            self._nonces[sender] = n
        return n

    # ------------------------------------------------------------------ transactions
    def send(self, sender: str, to: str, calldata: bytes, value: int = 0, gas: int | None = None) -> bytes:
        """Run on the embedded chain (its return data, or :class:`Reverted` and nothing
        queued) and queue for anvil."""
        if gas is None:
            gas = self.gas_limit
        try:
            out, res = self._b_transact(sender, to, calldata, value, gas)
        except Reverted as e:
            self._last = None
            self._failed(e)
            raise
        nonces = self._nonces
        n = nonces.get(sender)
        if n is None:
            n = self._nonce(sender)
        nonces[sender] = n + 1
        self._queue.append(_Tx(sender, to, calldata, value, gas, n, res, None, self._time))
        if value:
            self._queued_value = True
        self._last = (res, out, None)
        self._receipt = None
        return out

    def _deploy_code(self, sender: str, code: bytes, value: int, gas: int | None) -> str:
        """Deploy on the embedded chain at the nonce anvil will see (so at anvil's address)
        and queue the creation; its receipt's address is verified like the rest."""
        if gas is None:
            gas = self.gas_limit
        n = self._nonce(sender)
        emb = self.embedded
        emb.set_nonce(sender, n)
        try:
            addr = emb._deploy_code(sender, code, value, gas)
        except Reverted as e:
            self._last = None
            self._failed(e)
            raise
        assert emb._last is not None
        res = emb._last[0]
        self._nonces[sender] = n + 1
        self._queue.append(_Tx(sender, None, code, value, gas, n, res, addr, self._time))
        if value:
            self._queued_value = True
        self._last = (res, b"", addr)
        self._receipt = None
        return addr

    def call(self, to: Any, calldata: bytes, sender: Any = None, value: int = 0, gas: int | None = None) -> bytes:
        """Answered by the embedded chain (inside :meth:`node_reads`: by anvil)."""
        if self._node_reads:
            return self.node.call(to, calldata, sender=sender, value=value, gas=gas)
        return self.embedded.call(to, calldata, sender, value, gas)

    def _static_call(self, to: str, data: bytes, sender: Any, gas: int | None) -> bytes:
        if self._node_reads:
            return self.node.call(to, data, sender=sender, gas=gas)
        return self.embedded._static_call(to, data, sender, gas)

    @contextlib.contextmanager
    def node_reads(self) -> Iterator[None]:
        """``with chain.node_reads(): ...``: calls inside are answered by anvil, at the
        current time (everything settled and verified first; an empty block is mined at the
        current time if the last block is older)."""
        self.settle()
        if self._mined_time != self._time:
            self._rpc("evm_mine", [{"timestamp": self._time, "blocks": 1}])
            self._head += 1
            self._mined_time = self._time
        self.node._time_unmined = False  # the node's latest block is at the current time
        self._node_reads = True
        try:
            yield
        finally:
            self._node_reads = False

    def rpc(self, method: str, *params: Any) -> Any:
        """A raw JSON-RPC request to the node (the batch in flight is read first; the queue
        is not sent: :meth:`settle` for that)."""
        return self._rpc(method, list(params))

    @property
    def last_receipt(self) -> Receipt | None:
        """Receipt of the last transaction or deployment: the embedded outcome."""
        return lazy_receipt(self)

    # ------------------------------------------------------------------ snapshots
    def _raw_snapshot(self) -> Any:
        """Settle, then ``evm_snapshot`` on anvil and a snapshot of the embedded chain."""
        self.settle()
        return self._rpc("evm_snapshot", []), self.embedded._raw_snapshot(), dict(self._nonces)

    def _revert_to(self, tokens: list[Any], time: int) -> None:
        self.settle()
        node_id, _, nonces = tokens[-1]
        if not self._rpc("evm_revert", [node_id]):
            raise ChainError(f"the node refused evm_revert({node_id})")
        self.embedded._revert_to([t[1] for t in tokens], time)
        self.embedded._time = time
        self._nonces = dict(nonces)
        self._head = int(self._rpc("eth_blockNumber", []), 16)
        self._mined_time = None


__all__ = ["ShadowChain"]
