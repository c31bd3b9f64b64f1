"""The chain API of :class:`vyperp.chain.Chain` on a real node over JSON-RPC (anvil).

    from vyperp.chain.node import AnvilNode
    from vyperp.chain.rpc_chain import RpcChain

    with AnvilNode() as node:
        chain = RpcChain(node.url, timestamp=1_700_000_000)
        alice = chain.new_account("alice", eth=10**21)      # same address as on Chain
        counter = chain.deploy("Counter", 5, sender=alice)  # compiled by vyperp.chain.compile_contract
        counter.set_count(7, sender=alice)                  # a mined transaction
        counter.count()                                     # eth_call -> 7
        chain.last_receipt.gas_used, chain.last_receipt.logs
        sid = chain.snapshot(); chain.advance(3600); chain.revert(sid)

``System`` and the cascade replay run on it unchanged:
``System(chain, deploy_embedded(chain, params))`` and
``run_replay(..., chain_factory=RpcChain.factory(node.url))``.

Contract wrappers are the embedded chain's own :class:`vyperp.chain.Contract` objects
(ABI encoding/decoding, overloads, ``calldata``/``call``/``transact``), events are
decoded by the same code (``BaseChain.decode_logs``) into :class:`vyperp.chain.Event`, and
``last_receipt`` is a :class:`vyperp.chain.Receipt` whose ``raw_logs`` are
:class:`RpcLog` objects shaped like pyrevm's logs (``.address`` checksummed,
``.data == (topics, data)``).

How it maps onto anvil (verified with anvil 1.7.1):

* Transactions are ``eth_sendTransaction`` from impersonated senders
  (``anvil_autoImpersonateAccount``), so any address -- in particular the
  label-derived ``new_account`` addresses, identical to ``Chain``'s -- can send, with
  explicit nonces (tracked here), gas price 0 and ``gas`` = the call's gas or the
  block gas limit (``Chain``'s default too). They go out as
  ``eth_sendTransactionSync`` (anvil answers with the receipt once mined: one round
  trip); on a node without it, ``eth_sendTransaction`` and the receipt is polled
  (``eth_sendTransaction`` may return before the receipt exists). Automine is switched
  on (``evm_setAutomine``); a receipt that does not come is mined with ``evm_mine``.
* Every transaction is first run as ``eth_call`` on the pending block (same sender,
  value, gas, state and block time): that gives its return value (a receipt has none)
  and, if it would revert, the revert data -- then :class:`~vyperp.chain.Reverted`
  is raised and nothing is mined (no block, no nonce), as on ``Chain``. Its
  ``gas_used`` comes from ``eth_simulateV1`` (what the failed transaction would have
  cost). anvil itself would mine a reverting ``eth_sendTransaction`` as a failed
  transaction and return only its hash.
* Time: anvil mines one block per transaction and a block's timestamp may not be lower
  than its parent's. The chain sets ``anvil_setBlockTimestampInterval(0)``, so every
  block gets its parent's timestamp, and :meth:`set_time`/:meth:`advance` mine one
  empty block at the new time (``evm_mine``). Hence, exactly as on ``Chain``, block
  time only moves through ``set_time``/``advance``; every transaction and every call
  after ``set_time(T)`` sees ``block.timestamp == T``, however many blocks the
  transactions mine. Time cannot move back except through :meth:`revert`
  (``set_time`` to an earlier time raises ``ValueError``), and the node's head must
  not be later than the chain's start ``timestamp`` (:class:`vyperp.node.AnvilNode`
  starts at genesis time 1; ``reset=True`` resets a used node).
* ``block.number`` differs: every transaction and every time move mines a block.
* Nonces: a call transaction bumps the sender's nonce (on ``Chain`` only deployments
  do), so contracts deployed by a sender after it sent other transactions get other
  addresses than on ``Chain``.
* Gas: the node runs ``cancun`` with base fee and gas price 0, so ``gas_used`` is the
  real transaction gas (equal to ``Chain(exact_gas=True)``; ``exact_gas`` is accepted
  and ignored) and gas costs no ether.
* Halts (out of gas, invalid opcode) raise ``Reverted("", halt=...)`` with anvil's
  name of the halt (``"OutOfGas"``, not revm-in-pyrevm's ``"OutOfGas(Basic)"``).
* :meth:`snapshot`/:meth:`revert` are ``evm_snapshot``/``evm_revert`` (time, block
  number and nonces go back too).
* :meth:`send_many` sends many transactions in one raw JSON-RPC batch of
  ``eth_sendTransaction`` with explicit nonces (web3.py refuses to batch those), without
  the preflight (reverting ones are mined as failed transactions), and mines them with
  automine off (see there for why).
* ``deferred=True`` (a replay at batch speed): anvil mines a block per transaction,
  and a block's cost grows with the state (its state root: ~2 ms at 200 replay traders,
  ~10 ms at 1,000, against ~0.2 ms for an ``eth_call``). Automine is then off: each
  transaction's preflight is ``eth_simulateV1`` on the pending block (the transactions
  sent since the last flush, in order, at the current time -- return data, logs and gas,
  or the revert), then ``eth_sendTransaction`` with an explicit nonce puts it in the
  pool; calls read the pending block; :meth:`flush` mines them as one block and checks
  the block's receipts (``eth_getBlockReceipts``) against the simulated outcomes. A time
  move flushes and sets the next block's time (``evm_setNextBlockTimestamp``, no empty
  block); so does every other state access (balances, nonces, snapshots, ``send_many``).
  The node's block gas limit must hold a step's transactions (``AnvilNode(gas_limit=
  vyperp.chain.node.BATCH_BLOCK_GAS_LIMIT)`` with ``gas_limit=30_000_000`` here); a
  transaction that would not fit flushes first, so a block's order is the sending order.
  Views get the block gas limit as gas (a node charges calldata gas on ``eth_call``).
* The HTTP client is ``http.client`` on one keep-alive connection (``_Transport``);
  anvil's answer (~0.3-1 ms) dominates the client side.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import time
import urllib.parse
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from .abi import checksum
from .base import DEFAULT_COINBASE, ZERO_ADDRESS, BaseChain, Receipt, _addr
from .errors import ChainError, Reverted, decode_revert_reason


class RpcError(ChainError):
    """A JSON-RPC error answer that is not a revert (``code``, ``message``, ``data``)."""

    def __init__(self, method: str, error: dict[str, Any]):
        self.method = method
        self.code = error.get("code")
        self.message = str(error.get("message", ""))
        self.data = error.get("data")
        super().__init__(f"{method}: {self.message} (code {self.code})")


class RpcLog:
    """A log shaped like pyrevm's ``Log``: ``address`` (checksummed) and
    ``data == (topics: list[bytes], data: bytes)``."""

    __slots__ = ("address", "data")

    def __init__(self, address: str, topics: list[bytes], data: bytes):
        self.address = address
        self.data = (topics, data)

    @property
    def topics(self) -> list[bytes]:
        return self.data[0]

    def __repr__(self) -> str:
        return f"RpcLog({self.address}, topics={[t.hex() for t in self.data[0]]}, data=0x{self.data[1].hex()})"


class _Connection(http.client.HTTPConnection):
    """An ``HTTPConnection`` that puts a request's head and body into one packet.

    ``http.client`` sends the head and the body with two ``send`` calls; with
    TCP_NODELAY that is two packets and two wake-ups of the node per request, which
    doubles the round trip on loopback (measured: ~100 -> ~45 us for
    ``eth_blockNumber`` on anvil). Between :meth:`hold` and :meth:`flush` the first
    ``send`` is held back and sent together with the next one."""

    _held: bytes | None = None
    _holding = False

    def hold(self) -> None:
        self._holding = True

    def send(self, data: Any) -> None:
        if self._holding:
            self._holding = False
            self._held = bytes(data)
            return
        if self._held is not None:
            data, self._held = self._held + bytes(data), None
        super().send(data)

    def flush(self) -> None:
        self._holding = False
        if self._held is not None:
            held, self._held = self._held, None
            super().send(held)


class _Transport:
    """JSON-RPC over one keep-alive HTTP/1.1 connection (``http.client``): the connection
    is opened on first use and reused; a reused connection the server closed meanwhile
    is reopened once. Connection failures and non-JSON answers raise :class:`ChainError`
    naming the URL."""

    def __init__(self, url: str, timeout: float):
        u = urllib.parse.urlsplit(url)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise ChainError(f"not a JSON-RPC URL: {url!r} (expected http://host:port)")
        self.url = url
        self.host = u.hostname
        try:
            self.port = u.port or (443 if u.scheme == "https" else 80)
        except ValueError as e:
            raise ChainError(f"not a JSON-RPC URL: {url!r} ({e})") from None
        self.path = (u.path or "/") + (f"?{u.query}" if u.query else "")
        self.timeout = timeout
        self._https = u.scheme == "https"
        self._conn: http.client.HTTPConnection | None = None
        self._id = 0

    def _connect(self) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection
        if self._https:
            conn = http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout)
        else:
            conn = _Connection(self.host, self.port, timeout=self.timeout)
        conn.connect()
        if conn.sock is not None:
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._conn = conn
        return conn

    def _write(self, body: bytes) -> Any:
        """Send one POST of `body` on the kept-alive connection (opened if needed); returns the
        connection, whose response the caller reads. Raises OSError / HTTPException."""
        conn = self._conn or self._connect()
        coalesce = isinstance(conn, _Connection)
        if coalesce:
            conn.hold()
        # putrequest/putheader: ~10 us less per request than request()'s header checks
        conn.putrequest("POST", self.path, skip_accept_encoding=True)
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        if coalesce:
            conn.flush()
        return conn

    def post(self, body: bytes) -> Any:
        for attempt in (0, 1):
            reused = self._conn is not None
            try:
                conn = self._write(body)
                resp = conn.getresponse()
                raw = resp.read()
            except (OSError, http.client.HTTPException) as e:
                self.close()
                if attempt or not reused or isinstance(e, TimeoutError):
                    raise ChainError(
                        f"cannot reach the JSON-RPC node at {self.url}: {e} (is the node running at that address?)"
                    ) from None
                continue  # the server closed the kept-alive connection: once more
            if resp.will_close:
                self.close()
            if resp.status != 200:
                raise ChainError(
                    f"JSON-RPC node at {self.url} answered HTTP {resp.status} {resp.reason}: {raw[:300]!r}"
                )
            try:
                return json.loads(raw)
            except ValueError:
                raise ChainError(f"the answer of {self.url} is not JSON: {raw[:300]!r}") from None
        raise AssertionError("unreachable")

    TRANSIENT = ("BlockOutOfRangeError",)
    """Errors a node answers for a moment and not the next (anvil, under another sender's
    steady stream of blocks, resolves a block tag to a height it has not finished: "block
    height is N but requested was N-1"); retried a few times before they count."""

    def request(self, method: str, params: list[Any]) -> Any:
        for attempt in range(4):
            self._id += 1
            body = json.dumps({"jsonrpc": "2.0", "id": self._id, "method": method, "params": params}).encode()
            out = self.post(body)
            error = out.get("error")
            if error is None:
                return out.get("result")
            if attempt < 3 and any(t in str(error.get("message", "")) for t in self.TRANSIENT):
                time.sleep(0.005 * (attempt + 1))
                continue
            raise RpcError(method, error)
        raise AssertionError("unreachable")

    def batch(self, calls: Sequence[tuple[str, list[Any]]]) -> list[dict[str, Any]]:
        """One HTTP request with a JSON-RPC batch; answers in call order (each a dict
        with ``result`` or ``error``)."""
        if not calls:
            return []
        first = self._id + 1
        self._id += len(calls)
        body = json.dumps(
            [{"jsonrpc": "2.0", "id": first + k, "method": m, "params": p} for k, (m, p) in enumerate(calls)]
        ).encode()
        out = self.post(body)
        if isinstance(out, dict):  # a whole-batch error
            raise RpcError("batch", out.get("error") or {"message": str(out)})
        by_id = {item.get("id"): item for item in out}
        return [by_id.get(first + k, {"error": {"message": "no answer in batch"}}) for k in range(len(calls))]

    def begin_batch(self, calls: Sequence[tuple[str, list[Any]]]) -> tuple[int, int]:
        """Send a JSON-RPC batch without waiting for the answer (the node works on it
        meanwhile); :meth:`end_batch` with the returned token reads it. Nothing else may use
        the connection in between. A failure to send raises :class:`ChainError`."""
        first = self._id + 1
        self._id += len(calls)
        body = json.dumps(
            [{"jsonrpc": "2.0", "id": first + k, "method": m, "params": p} for k, (m, p) in enumerate(calls)]
        ).encode()
        try:
            self._write(body)
        except (OSError, http.client.HTTPException) as e:
            self.close()
            raise ChainError(f"cannot send a batch to the JSON-RPC node at {self.url}: {e}") from None
        return first, len(calls)

    def end_batch(self, token: tuple[int, int]) -> list[dict[str, Any]]:
        """The answers of the batch :meth:`begin_batch` sent (in call order, as :meth:`batch`).
        A lost connection, an HTTP error or a non-JSON answer raises :class:`ChainError`."""
        first, n = token
        conn = self._conn
        if conn is None:
            raise ChainError(f"the connection to {self.url} was closed with a batch in flight")
        try:
            resp = conn.getresponse()
            raw = resp.read()
        except (OSError, http.client.HTTPException) as e:
            self.close()
            raise ChainError(f"lost the JSON-RPC node at {self.url} while it answered a batch: {e}") from None
        if resp.will_close:
            self.close()
        if resp.status != 200:
            raise ChainError(f"JSON-RPC node at {self.url} answered HTTP {resp.status} {resp.reason}: {raw[:300]!r}")
        try:
            out = json.loads(raw)
        except ValueError:
            raise ChainError(f"the answer of {self.url} is not JSON: {raw[:300]!r}") from None
        if isinstance(out, dict):  # a whole-batch error
            raise RpcError("batch", out.get("error") or {"message": str(out)})
        by_id = {item.get("id"): item for item in out}
        return [by_id.get(first + k, {"error": {"message": "no answer in batch"}}) for k in range(n)]

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _hex_bytes(value: str | None) -> bytes:
    if not value or value == "0x":
        return b""
    return bytes.fromhex(value[2:] if value.startswith("0x") else value)


def _logs_of(receipt: dict[str, Any]) -> list[RpcLog]:
    out = []
    for log in receipt.get("logs") or ():
        out.append(
            RpcLog(checksum(log["address"]), [bytes.fromhex(t[2:]) for t in log["topics"]], _hex_bytes(log["data"]))
        )
    return out


class RpcChain(BaseChain):
    """``vyperp.chain.Chain``'s API on an anvil node (see the module docstring).

    Args:
        url: the node's JSON-RPC URL (``AnvilNode().url``).
        timestamp: start time: ``set_time(timestamp)`` (must not be before the head).
            ``None``: the head's time.
        chain_id: checked against the node's if given.
        gas_limit: default gas of transactions and calls (default: the node's block
            gas limit, 30,000,000 on :class:`~vyperp.node.AnvilNode`, as on ``Chain``).
        reset: ``anvil_reset`` the node first (a fresh genesis; everything on it is lost).
        contracts_dir: where contract names are looked up (as on ``Chain``).
        exact_gas: accepted for ``Chain`` compatibility; a node's gas is always exact.
        coinbase: the block coinbase (``Chain``'s by default).
        timeout: seconds to wait for an HTTP answer and for a receipt.
        deferred: mine a block per :meth:`flush` (time move, state access), not per
            transaction (see the module docstring).
    """

    exact_gas = True

    def __init__(
        self,
        url: str = "http://127.0.0.1:8545",
        timestamp: int | None = None,
        chain_id: int | None = None,
        *,
        gas_limit: int | None = None,
        reset: bool = False,
        contracts_dir: str | os.PathLike[str] | None = None,
        exact_gas: bool = True,
        coinbase: str = DEFAULT_COINBASE,
        timeout: float = 120.0,
        deferred: bool = False,
    ):
        super().__init__()
        self.url = url
        self.deferred = deferred
        self._unmined: list[dict[str, Any]] = []  # deferred: sent, not mined yet (simulated outcomes)
        self._time_unmined = False  # deferred: time moved, no block at the new time yet
        self._t = _Transport(url, timeout)
        self._rpc = self._t.request
        self.timeout = timeout
        self.contracts_dir = contracts_dir
        if reset:
            self._rpc("anvil_reset", [])
        self.chain_id = int(self._rpc("eth_chainId", []), 16)
        if chain_id is not None and chain_id != self.chain_id:
            raise ChainError(f"the node at {url} has chain id {self.chain_id}, not {chain_id}")
        self._prepare_node(coinbase)
        head = self._rpc("eth_getBlockByNumber", ["latest", False])
        self._time = int(head["timestamp"], 16)
        self.block_gas_limit = int(head["gasLimit"], 16)
        self.gas_limit = self.block_gas_limit if gas_limit is None else int(gas_limit)
        self._gas_hex = hex(self.gas_limit)
        self._nonces: dict[str, int] = {}
        self._sync = True  # eth_sendTransactionSync until the node says it has none
        if timestamp is not None:
            self.set_time(timestamp)

    def _prepare_node(self, coinbase: str) -> None:
        """Switch the anvil node to impersonation, automine, a still clock and base fee 0
        (a subclass that signs its own transactions overrides this with nothing)."""
        try:
            self._rpc("anvil_autoImpersonateAccount", [True])
            self._rpc("anvil_setBlockTimestampInterval", [0])
            self._rpc("evm_setAutomine", [True])  # a transaction is mined when it arrives
            self._rpc("anvil_setCoinbase", [coinbase])
            # gas price 0 needs base fee 0 (anvil_reset forgets --base-fee 0); anvil keeps
            # a base fee of 0 at 0, however full the blocks
            self._rpc("anvil_setNextBlockBaseFeePerGas", ["0x0"])
            if self.deferred:
                self._rpc("evm_setAutomine", [False])  # blocks are mined by flush()
        except RpcError as e:
            raise ChainError(f"RpcChain needs an anvil node (anvil_* methods): {e}") from e

    @classmethod
    def factory(cls, url: str, **kwargs: Any) -> Callable[[int], RpcChain]:
        """``timestamp -> RpcChain(url, timestamp=timestamp, reset=True, **kwargs)``: a
        fresh chain on the node per call (for ``run_replay(chain_factory=...)``)."""
        kwargs.setdefault("reset", True)
        return lambda timestamp: cls(url, timestamp=timestamp, **kwargs)

    def close(self) -> None:
        """Close the HTTP connection (the chain reconnects if used again)."""
        self._t.close()

    def rpc(self, method: str, *params: Any) -> Any:
        """A raw JSON-RPC request to the node."""
        return self._rpc(method, list(params))

    def __repr__(self) -> str:
        return f"<RpcChain {self.url} time={self._time}>"

    # ------------------------------------------------------------------ time
    @property
    def time(self) -> int:
        """Current block timestamp (what the next transaction and every call see)."""
        return self._time

    @property
    def block_number(self) -> int:
        """The node's head block number (one block per transaction and time move)."""
        self.flush()
        return int(self._rpc("eth_blockNumber", []), 16)

    def _mine(self, timestamp: int, blocks: int = 1) -> None:
        self.flush()
        self._time_unmined = False
        if blocks <= 1:
            self._rpc("evm_mine", [timestamp])
        else:
            self._rpc("evm_mine", [{"timestamp": timestamp, "blocks": blocks}])
        self._time = timestamp

    def advance(self, seconds: int, blocks: int = 1) -> None:
        """Move block time forward by ``seconds`` (mines ``max(blocks, 1)`` empty blocks
        at the new time; nothing when both are 0)."""
        if seconds < 0 or blocks < 0:
            raise ValueError("advance() only moves forward; use set_time()")
        if self.deferred and seconds and blocks <= 1:
            self._move_time(self._time + int(seconds))
        elif seconds or blocks:
            self._mine(self._time + int(seconds), max(blocks, 1))

    def set_time(self, timestamp: int) -> None:
        """Set the block timestamp (mines one empty block at it). anvil cannot go back in
        time: an earlier timestamp raises ``ValueError`` (use snapshot/revert)."""
        timestamp = int(timestamp)
        if timestamp < self._time:
            raise ValueError(
                f"anvil cannot move time back ({self._time} -> {timestamp}); "
                "revert a snapshot, or use a fresh node / RpcChain(reset=True)"
            )
        if timestamp != self._time:
            if self.deferred:
                self._move_time(timestamp)
            else:
                self._mine(timestamp)

    def _move_time(self, timestamp: int) -> None:
        """Deferred mode: mine what was sent at the old time, then let the next block (and
        every call and preflight on the pending block) have ``timestamp`` -- no empty block."""
        self.flush()
        self._rpc("evm_setNextBlockTimestamp", [timestamp])
        self._time = timestamp
        self._time_unmined = True

    def flush(self) -> None:
        """Deferred mode: mine the transactions sent since the last flush as one block at
        the current time and check their receipts (one ``eth_getBlockReceipts``) against
        the preflight's simulated outcome: same transactions in the same order, all
        successful, the same gas. Nothing to do otherwise (and on a non-deferred chain)."""
        pending = self._unmined
        if not pending:
            return
        self._unmined = []
        self._rpc("evm_mine", [{"timestamp": self._time, "blocks": 1}])
        self._time_unmined = False
        mined = self._rpc("eth_getBlockReceipts", ["latest"]) or []
        got = [(r["transactionHash"], r.get("status"), int(r["gasUsed"], 16)) for r in mined]
        want = [(p["hash"], "0x1", p["gas_used"]) for p in pending]
        if got != want:
            bad = next((k for k, (g, w) in enumerate(zip(got, want)) if g != w), min(len(got), len(want)))
            raise ChainError(
                f"deferred mining diverged from the preflight: {len(got)} receipts for {len(want)} transactions; "
                f"first difference at #{bad}: mined {got[bad] if bad < len(got) else None}, "
                f"expected {want[bad] if bad < len(want) else None}"
            )

    # -------------------------------------------------------------- accounts
    def _create_account(self, label: str, eth: int) -> str:
        """The embedded chain's label-derived address, funded by ``anvil_setBalance``;
        impersonation lets it send at once."""
        addr = self.label_address(label)
        if eth:
            self.set_balance(addr, eth)
        return addr

    def get_balance(self, address: Any) -> int:
        self.flush()
        return int(self._rpc("eth_getBalance", [_addr(address), "latest"]), 16)

    def set_balance(self, address: Any, wei: int) -> None:
        self.flush()
        self._rpc("anvil_setBalance", [_addr(address), hex(int(wei))])

    def get_nonce(self, address: Any) -> int:
        self.flush()
        return int(self._rpc("eth_getTransactionCount", [_addr(address), "latest"]), 16)

    def get_code(self, address: Any) -> bytes:
        self.flush()
        return _hex_bytes(self._rpc("eth_getCode", [_addr(address), "latest"]))

    def get_storage(self, address: Any, slot: int) -> int:
        self.flush()
        return int(self._rpc("eth_getStorageAt", [_addr(address), hex(int(slot)), "latest"]), 16)

    def _next_nonce(self, sender: str) -> int:
        n = self._nonces.get(sender)
        if n is None:
            n = int(self._rpc("eth_getTransactionCount", [sender, "pending"]), 16)
        return n

    # ------------------------------------------------------------- contracts
    def _deploy_code(self, sender: str, code: bytes, value: int, gas: int | None) -> str:
        receipt = self._execute(sender, None, code, value, gas)
        addr = checksum(receipt["contractAddress"])
        self._receipt = Receipt(int(receipt["gasUsed"], 16), b"", True, _logs_of(receipt), addr, self)
        return addr

    # ---------------------------------------------------------- transactions
    def _tx(self, sender: str, to: str | None, data: bytes, value: int, gas: int | None) -> dict[str, Any]:
        tx: dict[str, Any] = {
            "from": sender,
            "data": "0x" + data.hex(),
            "gas": self._gas_hex if gas is None else hex(gas),
            "gasPrice": "0x0",
        }
        if to is not None:
            tx["to"] = to
        if value:
            tx["value"] = hex(value)
        return tx

    def _execute(
        self, sender: str, to: str | None, data: bytes, value: int, gas: int | None, out: list[bytes] | None = None
    ) -> dict[str, Any]:
        """Preflight (eth_call), send with the next nonce, wait for the receipt."""
        if self.deferred:
            return self._execute_deferred(sender, to, data, value, gas, out)
        tx = self._tx(sender, to, data, value, gas)
        try:
            ret = self._rpc("eth_call", [tx, "pending"])
        except RpcError as e:
            err = self._error(e, tx, simulate=True)
            if isinstance(err, Reverted):
                self._failed(err)
            raise err from None
        if out is not None:
            out.append(_hex_bytes(ret))
        nonce = self._next_nonce(sender)
        tx["nonce"] = hex(nonce)
        try:
            receipt = self._submit(tx)
        except RpcError as e:
            if "base fee" not in e.message:
                self._nonces.pop(sender, None)
                raise
            # the base fee is not 0 any more (anvil keeps a base fee of 0 constant, but
            # anvil_reset or anvil_setNextBlockBaseFeePerGas by someone else change it)
            self._rpc("anvil_setNextBlockBaseFeePerGas", ["0x0"])
            receipt = self._submit(tx)
        self._nonces[sender] = nonce + 1
        if receipt.get("status") != "0x1":
            raise self._mined_failure(tx, receipt)
        return receipt

    def _execute_deferred(
        self, sender: str, to: str | None, data: bytes, value: int, gas: int | None, out: list[bytes] | None
    ) -> dict[str, Any]:
        """Deferred mode: the preflight is ``eth_simulateV1`` on the pending block (the
        transactions sent since the last flush, at the current time): return data, logs
        and gas; then ``eth_sendTransaction`` with the next nonce puts it in the pool
        (automine is off) and the receipt-like answer is the simulated one. A revert is
        raised as in :meth:`_execute` and nothing is sent. A deployment is mined at once
        (its address comes from the receipt)."""
        tx = self._tx(sender, to, data, value, gas)
        if to is None:
            return self._deploy_deferred(tx)
        tx_gas = int(tx["gas"], 16)
        if self._unmined and sum(p["gas"] for p in self._unmined) + tx_gas > self.block_gas_limit:
            self.flush()  # one block per flush: the pool's order is the sending order
        try:
            sim = self._rpc("eth_simulateV1", [{"blockStateCalls": [{"calls": [tx]}]}, "pending"])
            result = sim[0]["calls"][0]
        except (RpcError, LookupError, TypeError) as e:
            raise ChainError(f"eth_simulateV1 (deferred preflight) failed: {e}") from None
        if result.get("status") != "0x1":
            try:  # the reason (or halt) exactly as the immediate mode reports it
                self._rpc("eth_call", [tx, "pending"])
                err: Reverted | ChainError = Reverted("", _hex_bytes(result.get("returnData")), 0)
            except RpcError as e:
                err = self._error(e, tx, simulate=False)
            if isinstance(err, Reverted):
                err.gas_used = int(result.get("gasUsed", "0x0"), 16)
                self._failed(err)
            raise err
        if out is not None:
            out.append(_hex_bytes(result.get("returnData")))
        nonce = self._next_nonce(sender)
        tx["nonce"] = hex(nonce)
        tx_hash = self._rpc("eth_sendTransaction", [tx])
        self._nonces[sender] = nonce + 1
        gas_used = int(result["gasUsed"], 16)
        self._unmined.append({"hash": tx_hash, "gas": tx_gas, "gas_used": gas_used})
        return {"gasUsed": result["gasUsed"], "status": "0x1", "logs": result.get("logs") or []}

    def _deploy_deferred(self, tx: dict[str, Any]) -> dict[str, Any]:
        """Deferred mode, a deployment: flushed before and mined at once (eth_call preflight,
        as in :meth:`_execute`), so its address comes from the receipt."""
        self.flush()
        try:
            self._rpc("eth_call", [tx, "pending"])
        except RpcError as e:
            err = self._error(e, tx, simulate=True)
            if isinstance(err, Reverted):
                self._failed(err)
            raise err from None
        sender = tx["from"]
        nonce = self._next_nonce(sender)
        tx["nonce"] = hex(nonce)
        tx_hash = self._rpc("eth_sendTransaction", [tx])
        self._nonces[sender] = nonce + 1
        self._rpc("evm_mine", [{"timestamp": self._time, "blocks": 1}])
        self._time_unmined = False
        receipt: dict[str, Any] = self._rpc("eth_getTransactionReceipt", [tx_hash])
        if receipt is None or receipt.get("status") != "0x1":
            raise ChainError(f"deferred deployment {tx_hash} was not mined successfully: {receipt}")
        return receipt

    def _mined_failure(self, tx: dict[str, Any], receipt: dict[str, Any]) -> Reverted:
        """The :class:`Reverted` of a mined, failed transaction (recorded as the last receipt).

        The preflight passed but the mined transaction failed (someone else moved the
        state in between): it is replayed on its parent block for the reason (without
        history, as with --prune-history, the reason is unknown)."""
        parent = hex(int(receipt["blockNumber"], 16) - 1)
        err = Reverted("", b"", 0)
        try:
            self._rpc("eth_call", [tx, parent])
        except RpcError as e:
            found = self._error(e, tx, simulate=False)
            if isinstance(found, Reverted):
                err = found
        err.gas_used = int(receipt["gasUsed"], 16)
        limit = int(tx["gas"], 16) if isinstance(tx.get("gas"), str) else tx.get("gas")
        if not err.reason and limit and err.gas_used >= limit:
            # no revert on the parent block and every unit of gas spent: the gas ran out
            err = Reverted("", b"", err.gas_used, halt=f"OutOfGas (used all {limit:,} of its gas limit)")
        self._failed(err)
        return err

    def _submit(self, tx: dict[str, Any]) -> dict[str, Any]:
        """Send and return the receipt: ``eth_sendTransactionSync`` (one round trip; anvil
        >= 1.4), else ``eth_sendTransaction`` and polling."""
        if self._sync:
            try:
                return self._rpc("eth_sendTransactionSync", [tx])
            except RpcError as e:
                if e.code != -32601:  # anything but "method not found"
                    raise
                self._sync = False
        return self._wait(self._rpc("eth_sendTransaction", [tx]))

    def _wait(self, tx_hash: str) -> dict[str, Any]:
        rpc = self._rpc
        receipt = rpc("eth_getTransactionReceipt", [tx_hash])
        if receipt is not None:
            return receipt
        delay = 0.0001
        deadline = time.monotonic() + self.timeout
        while True:
            time.sleep(delay)
            receipt = rpc("eth_getTransactionReceipt", [tx_hash])
            if receipt is not None:
                return receipt
            if time.monotonic() > deadline:
                raise ChainError(f"no receipt for {tx_hash} after {self.timeout} s (is the node mining?)")
            if delay >= 0.01:
                self._kick()
            delay = min(delay * 2, 0.01)

    def send(self, sender: str, to: str, calldata: bytes, value: int = 0, gas: int | None = None) -> bytes:
        """Raw transaction: mined, returns the raw return data (from the preflight),
        raises :class:`Reverted` (nothing mined)."""
        out: list[bytes] = []
        receipt = self._execute(sender, to, calldata, value, gas, out)
        self._receipt = Receipt(int(receipt["gasUsed"], 16), out[0], True, _logs_of(receipt), None, self)
        return out[0]

    def call(self, to: Any, calldata: bytes, sender: Any = None, value: int = 0, gas: int | None = None) -> bytes:
        """eth_call on the latest block (deferred mode: on the pending block while something
        is unmined or time has moved): nothing is committed; returns raw data. Default gas:
        the block gas limit (a node charges a view's calldata, the embedded chain does not,
        so a 1,024-account lens scan needs more than a transaction's 30,000,000)."""
        tx: dict[str, Any] = {
            "from": ZERO_ADDRESS if sender is None else _addr(sender),
            "to": _addr(to),
            "data": "0x" + calldata.hex(),
            "gas": hex(max(self.gas_limit, self.block_gas_limit)) if gas is None else hex(gas),
        }
        if value:
            tx["value"] = hex(value)
        # deferred: the pending block holds what was sent since the last flush, at the current time
        block = "pending" if self._unmined or self._time_unmined else "latest"
        try:
            return _hex_bytes(self._rpc("eth_call", [tx, block]))
        except RpcError as e:
            raise self._error(e, tx, simulate=False) from None

    def _error(self, e: RpcError, tx: dict[str, Any], simulate: bool) -> Reverted | ChainError:
        """Translate an eth_call error: a revert (code 3) or an EVM halt -> Reverted."""
        message = e.message
        if e.code == 3 or message.startswith("execution reverted"):
            raw = e.data.get("data") if isinstance(e.data, dict) else e.data
            data = _hex_bytes(raw) if isinstance(raw, str) else b""
            return Reverted(decode_revert_reason(data), data, self._failed_gas(tx) if simulate else 0)
        if message.startswith("EVM error "):  # OutOfGas, InvalidFEOpcode, ...
            return Reverted("", b"", self._failed_gas(tx) if simulate else 0, halt=message[len("EVM error ") :])
        return e

    def _failed_gas(self, tx: dict[str, Any]) -> int:
        """Gas the failed transaction would have used (eth_simulateV1), 0 if unknown."""
        try:
            blocks = self._rpc("eth_simulateV1", [{"blockStateCalls": [{"calls": [tx]}]}, "pending"])
            return int(blocks[0]["calls"][0]["gasUsed"], 16)
        except (RpcError, LookupError, TypeError, ValueError):
            return 0

    # ------------------------------------------------------------- batches
    def send_many(
        self, txs: Iterable[Sequence[Any]], *, gas: int | None = None, wait: bool = True
    ) -> list[Receipt] | list[str]:
        """Send ``(sender, to, calldata[, value])`` transactions as one raw JSON-RPC batch
        of ``eth_sendTransaction`` with explicit nonces, and mine them.

        Automine is switched off while the batch goes in, then ``evm_mine`` mines as many
        blocks as the transactions' gas needs (``gas`` per transaction, default the block
        gas limit: one per block; pass e.g. ``gas=1_000_000`` to pack 30 per block), all
        at the current block time, and automine is switched on again. (With automine on,
        anvil 1.7.1 mines while a batch arrives and can park a transaction as "queued"
        although its nonce is next: it is then never mined.) Per sender, transactions run
        in nonce order (the batch's order); across senders anvil orders them by arrival.
        There is no preflight: a reverting transaction is mined as a failed one
        (``success=False``). With ``wait`` (default) returns the receipts in batch order
        (``eth_getBlockReceipts`` per mined block; ``return_data`` is empty: a receipt has
        none), else the hashes. Raises :class:`ChainError` if the node refused any."""
        calls = []
        senders = []
        nonces = self._nonces
        gas_hex = self._gas_hex if gas is None else hex(gas)
        for item in txs:
            sender, to, data = _addr(item[0]), _addr(item[1]), item[2]
            n = nonces.get(sender)
            if n is None:
                n = self._next_nonce(sender)
            nonces[sender] = n + 1
            tx = {
                "from": sender,
                "to": to,
                "data": "0x" + data.hex(),
                "gas": gas_hex,
                "gasPrice": "0x0",
                "nonce": hex(n),
            }
            if len(item) > 3 and item[3]:
                tx["value"] = hex(item[3])
            calls.append(("eth_sendTransaction", [tx]))
            senders.append(sender)
        if not calls:
            return []
        self.flush()
        self._receipt = None
        head = int(self._rpc("eth_blockNumber", []), 16)
        if not self.deferred:
            self._rpc("evm_setAutomine", [False])
        try:
            answers = self._t.batch(calls)
            errors = [(k, a["error"]) for k, a in enumerate(answers) if "error" in a]
            per_block = max(1, self.block_gas_limit // int(gas_hex, 16))
            self._rpc("evm_mine", [{"timestamp": self._time, "blocks": -(-len(calls) // per_block)}])
            self._time_unmined = False
        finally:
            if not self.deferred:
                self._rpc("evm_setAutomine", [True])
        if errors:
            for s in senders:
                nonces.pop(s, None)  # re-read from the node next time
            k, err = errors[0]
            raise ChainError(
                f"send_many: the node refused {len(errors)} of {len(calls)} transactions; first (#{k}): {err}"
            )
        hashes = [a["result"] for a in answers]
        if not wait:
            return hashes
        return [
            Receipt(
                int(r["gasUsed"], 16),
                b"",
                r.get("status") == "0x1",
                _logs_of(r),
                checksum(r["contractAddress"]) if r.get("contractAddress") else None,
                self,
            )
            for r in self.receipts(hashes, since_block=head)
        ]

    def receipts(self, hashes: Sequence[str], since_block: int | None = None) -> list[dict[str, Any]]:
        """Raw receipts of `hashes` (in order). With `since_block`, first from
        ``eth_getBlockReceipts`` of every block after it (one batch); the rest (or all)
        by ``eth_getTransactionReceipt``, polled in batches until all exist."""
        out: list[dict[str, Any] | None] = [None] * len(hashes)
        todo = list(range(len(hashes)))
        if since_block is not None:
            head = int(self._rpc("eth_blockNumber", []), 16)
            found: dict[str, dict[str, Any]] = {}
            for answer in self._t.batch([("eth_getBlockReceipts", [hex(b)]) for b in range(since_block + 1, head + 1)]):
                for r in answer.get("result") or ():
                    found[r["transactionHash"]] = r
            for k, h in enumerate(hashes):
                out[k] = found.get(h)
            todo = [k for k in todo if out[k] is None]
        delay = 0.0005
        deadline = time.monotonic() + self.timeout
        stalled = 0
        progress_at = time.monotonic()
        while todo:
            answers = self._t.batch([("eth_getTransactionReceipt", [hashes[k]]) for k in todo])
            left = []
            for k, a in zip(todo, answers):
                r = a.get("result")
                if r is None:
                    left.append(k)
                else:
                    out[k] = r
            if len(left) == len(todo):
                stalled += 1
            else:
                stalled, progress_at = 0, time.monotonic()
            todo = left
            if todo:
                if time.monotonic() > deadline:
                    raise ChainError(f"{len(todo)} receipts missing after {self.timeout} s")
                if stalled >= 3:
                    if not self._kick() and time.monotonic() - progress_at > 2.0:
                        tx = self._rpc("eth_getTransactionByHash", [hashes[todo[0]]])
                        raise ChainError(
                            f"{len(todo)} transactions are neither mined nor pending "
                            f"(txpool {self._rpc('txpool_status', [])}); first: {tx}"
                        )
                    stalled = 0
                else:
                    time.sleep(delay)
                    delay = min(delay * 2, 0.02)
        return out  # type: ignore[return-value]

    def _kick(self) -> bool:
        """Mine the pool's ready transactions (``evm_mine`` at the current time).

        anvil's automine mines one block per wake-up with the ready transactions that
        fit its gas limit; transactions that arrive together (a batch) and do not all
        fit stay in the pool until the next transaction wakes the miner up."""
        pending = int(self._rpc("txpool_status", []).get("pending", "0x0"), 16)
        if pending:
            self._rpc("evm_mine", [{"timestamp": self._time, "blocks": pending}])  # at the current time
        return bool(pending)

    # ------------------------------------------------------------- snapshots
    def _raw_snapshot(self) -> Any:
        """``evm_snapshot``: all state, time and block number."""
        self.flush()
        return self._rpc("evm_snapshot", [])

    def _revert_to(self, tokens: list[Any], time: int) -> None:
        """``evm_revert`` (it drops every newer node snapshot too)."""
        self.flush()  # deferred: nothing left in the pool that the revert would strand
        self._time_unmined = False
        if not self._rpc("evm_revert", [tokens[-1]]):
            raise ChainError(f"the node refused evm_revert({tokens[-1]})")
        self._nonces.clear()


__all__ = ["RpcChain", "RpcError", "RpcLog"]
