"""The chain API over JSON-RPC with locally signed transactions: any node, public or not.

    from vyperp.chain.keys import load_keystore
    from vyperp.chain.signing_chain import SendPolicy, SigningChain
    from vyperp.chain.fees import FeePolicy

    chain = SigningChain("https://rpc.sepolia.example", [load_keystore("keeper.json", pw)],
                         fees=FeePolicy.from_gwei(max_fee=50), policy=SendPolicy(confirmations=2))
    engine = chain.at("Engine", manifest["addresses"]["engine"])
    engine.liquidate_many(accounts, sender=chain.default_sender)   # signed here, eth_sendRawTransaction

:class:`SigningChain` is :class:`~vyperp.chain.rpc_chain.RpcChain` (same contract
wrappers, calls, revert reasons, event decoding) with the anvil parts taken out: it never
calls an ``anvil_*``/``evm_*`` method, ``eth_sendTransaction`` or ``eth_accounts``, so it
runs against any node that serves the standard ``eth_*`` methods. A transaction:

1. **Preflight**: ``eth_call`` on the pending block; a revert raises
   :class:`~vyperp.chain.Reverted` and nothing is sent (as on ``RpcChain``).
2. **Gas**: ``eth_estimateGas`` x 3/2 + 100,000, at most the block gas limit (or the
   caller's ``gas``).
3. **Fees**: :func:`vyperp.chain.fees.quote` (EIP-1559 capped, legacy without a base fee).
4. **Nonce**: tracked here per sender, first read with
   ``eth_getTransactionCount(addr, "pending")``.
5. **Send** ``eth_sendRawTransaction``. The node's answers are handled:
   ``nonce too low`` (another process used the nonce) -> re-read the pending nonce, run
   the preflight again, re-sign; ``replacement transaction underpriced`` (a transaction
   of another process holds the nonce in the pool) -> move past it to the pending nonce,
   or bump the fees if the pool holds none of ours; ``already known`` -> it is ours, wait
   for it; a fee below the base fee -> quote again; ``insufficient funds`` -> a clear
   :class:`~vyperp.chain.ChainError` naming the balance and the most the transaction may
   cost (not retried).
6. **Receipt**: polled (``eth_getTransactionReceipt``, from 2 ms growing to
   ``poll_interval``) up to ``receipt_timeout`` seconds. While waiting, if the sender's
   mined nonce passes ours and none of our hashes has a receipt, the transaction was
   **replaced** by another one from the same key (another process): the same call is
   prepared again (preflight, pending nonce, fresh fees) and sent -- so a feeder's round
   is never lost to a replacement. If the time runs out with the nonce unused the
   transaction is **stuck or dropped**: it is re-signed with the same nonce and fees
   +12.5 % (a replacement of our own) and broadcast again. At most ``max_retries`` such
   re-sends per call, then ChainError; a nonce lost to another sender (steps 5 and 6) has its
   own budget, ``max_nonce_races``, and the nonce is read last before re-signing.
7. **Confirmations**: with ``confirmations = N`` the receipt's block must have N-1 blocks
   on top, and the receipt is read again (a reorg that drops it sends the wait back to
   step 6). A mined transaction that failed raises ``Reverted`` with the reason from a
   replay on its parent block.

``dry_run=True`` does steps 1-3 and logs what it would send (``SigningChain.dry_runs``
records it); nothing is signed or sent, and the call returns the preflight's return data
(``last_receipt`` has the estimated gas and no logs). Deployments cannot be dry-run.

Time: a public node's clock moves with its blocks, so :attr:`time` is the latest block's
timestamp and :meth:`advance`/:meth:`set_time`, snapshots, ``new_account`` (funded
accounts from nothing) and ``send_many`` raise ChainError: they need anvil and
``RpcChain``'s impersonation.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .abi import checksum
from .base import Receipt, _addr
from .errors import ChainError, Reverted
from .fees import FeeError, FeePolicy, Fees, quote
from .keys import Signer
from .rpc_chain import RpcChain, RpcError, _hex_bytes, _logs_of

log = logging.getLogger("vyperp.chain.signer")

GAS_MARGIN_NUMERATOR, GAS_MARGIN_DENOMINATOR, GAS_MARGIN_ADD = 3, 2, 100_000
"""Gas limit = estimate x 3/2 + 100,000 (at most the block's). The estimate runs at the
latest block's time; the transaction is mined a block later, and a second more can switch
on work the estimate skipped (a market's funding accrual, the oracle EWMA: several cold
storage writes). Unused gas is not charged; the margin only raises the balance a send needs."""


@dataclass(frozen=True)
class SendPolicy:
    """How transactions are confirmed and retried.

    confirmations: blocks that must include the receipt's (1: mined is enough).
    max_retries: re-sends per call after a stuck or dropped transaction or a fee refusal
        before ChainError.
    max_nonce_races: re-sends per call after another sender on the same key took the nonce
        (nonce too low, replaced, held in the pool): each is a lost race, not a fault of this
        transaction, so they have their own, larger budget (a feeder must not lose a round to a
        busy second process on its key).
    receipt_timeout: seconds to wait for a receipt (and its confirmations) per send.
    poll_interval: the longest pause between receipt polls (seconds).
    dry_run: only preflight, estimate and log; never sign or send.
    """

    confirmations: int = 1
    max_retries: int = 5
    max_nonce_races: int = 200
    receipt_timeout: float = 120.0
    poll_interval: float = 1.0
    dry_run: bool = False

    def __post_init__(self) -> None:
        if self.confirmations < 1:
            raise ValueError(f"confirmations must be >= 1, got {self.confirmations}")
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {self.max_retries}")
        if self.max_nonce_races < 0:
            raise ValueError(f"max_nonce_races must be >= 0, got {self.max_nonce_races}")


@dataclass(frozen=True)
class DryRun:
    """A transaction a dry run would have sent."""

    sender: str
    to: str | None
    function: str
    calldata: bytes
    value: int
    gas: int
    fees: Fees


def _classify(message: str) -> str:
    """A send refusal's kind: nonce, underpriced, known, funds, fee, or other."""
    m = message.lower()
    if "nonce too low" in m or "nonce is too low" in m or "nonce too high" in m or "old nonce" in m:
        return "nonce"
    if "replacement" in m and "underpriced" in m:
        return "underpriced"
    if "already known" in m or "known transaction" in m or "already imported" in m:
        return "known"
    if "insufficient funds" in m:
        return "funds"
    if "base fee" in m or "fee cap" in m or "underpriced" in m or "gas price too low" in m:
        return "fee"
    return "other"


class SigningChain(RpcChain):
    """``RpcChain``'s API with transactions signed here (see the module docstring).

    Args:
        url: the node's JSON-RPC URL (any node; nothing anvil-specific is called).
        signers: the accounts that can send (the first is the default sender).
        fees: the fee cap and tip.
        policy: confirmations, retries, timeouts, dry run.
        chain_id: checked against the node's if given (the manifest's).
        gas_limit / contracts_dir: as on ``RpcChain``.
        timeout: seconds to wait for one HTTP answer.

    Raises ChainError if the node cannot be reached or has another chain id.
    """

    def __init__(
        self,
        url: str,
        signers: Iterable[Signer] = (),
        *,
        fees: FeePolicy | None = None,
        policy: SendPolicy | None = None,
        chain_id: int | None = None,
        gas_limit: int | None = None,
        contracts_dir: Any = None,
        timeout: float = 30.0,
    ):
        super().__init__(url, None, chain_id, gas_limit=gas_limit, contracts_dir=contracts_dir, timeout=timeout)
        self.fee_policy = fees or FeePolicy()
        self.policy = policy or SendPolicy()
        self._signers: dict[str, Signer] = {}
        self.dry_runs: list[DryRun] = []
        self.resends = 0  # re-sends after a replacement / stuck / refused send (for operators and tests)
        for signer in signers:
            self.add_signer(signer)

    def _prepare_node(self, coinbase: str) -> None:
        """Nothing: a signing client leaves the node as it is."""

    def __repr__(self) -> str:
        return f"<SigningChain {self.url} signers={list(self._signers)}>"

    # -------------------------------------------------------------- accounts
    def add_signer(self, signer: Signer, label: str | None = None) -> str:
        """Let `signer` send; returns its address (the first one added is the default sender)."""
        addr = checksum(signer.address)
        self._signers[addr] = signer
        label = label or f"signer{len(self._signers) - 1}"
        self.accounts[label] = addr
        if self._default_sender is None:
            self._default_sender = addr
        return addr

    @property
    def default_sender(self) -> str:
        if self._default_sender is None:
            raise ChainError("this SigningChain has no signer: give a keystore, a key or an account")
        return self._default_sender

    def _signer(self, sender: str) -> Signer:
        signer = self._signers.get(sender)
        if signer is None:
            raise ChainError(f"no key for {sender}: this client signs only for {', '.join(self._signers) or 'nobody'}")
        return signer

    def _create_account(self, label: str, eth: int) -> str:
        raise ChainError(
            f"cannot create account {label!r} on a signing client: add a key (keystore, env var, mnemonic) "
            "with add_signer, or use RpcChain's impersonation on anvil"
        )

    def set_balance(self, address: Any, wei: int) -> None:
        raise ChainError("set_balance needs anvil (anvil_setBalance); send ether from a funded key instead")

    # ------------------------------------------------------------------ time
    @property
    def time(self) -> int:
        """The latest block's timestamp (the node's clock)."""
        self._time = int(self._rpc("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)
        return self._time

    def advance(self, seconds: int, blocks: int = 1) -> None:
        raise ChainError("a public node's time moves with its blocks: moving it needs anvil (--impersonate)")

    def set_time(self, timestamp: int) -> None:
        raise ChainError("a public node's time moves with its blocks: moving it needs anvil (--impersonate)")

    def _raw_snapshot(self) -> Any:
        raise ChainError("snapshots need anvil (evm_snapshot); a signing client has none")

    def _revert_to(self, tokens: list[Any], time: int) -> None:
        raise ChainError("snapshots need anvil (evm_revert); a signing client has none")

    def send_many(self, txs: Iterable[Sequence[Any]], *, gas: int | None = None, wait: bool = True) -> Any:
        raise ChainError("send_many needs anvil's impersonation; send transactions one by one")

    # ------------------------------------------------------------- sending
    def _quote(self) -> Fees:
        head = self._rpc("eth_getBlockByNumber", ["latest", False])
        base = head.get("baseFeePerGas")
        if base is None:
            return quote(self.fee_policy, None, None, int(self._rpc("eth_gasPrice", []), 16))
        tip = None
        if self.fee_policy.priority_fee is None:
            try:
                tip = int(self._rpc("eth_maxPriorityFeePerGas", []), 16)
            except RpcError:
                tip = 0
        return quote(self.fee_policy, int(base, 16), tip, None)

    def _preflight(self, call: dict[str, Any]) -> bytes:
        # On the pending block: under another sender's steady stream of blocks anvil refuses
        # eth_call on "latest" now and then ("BlockOutOfRangeError: block height is N but
        # requested was N-1"), which cost a feeder 71 rounds in 1,000 when tried.
        try:
            return _hex_bytes(self._rpc("eth_call", [call, "pending"]))
        except RpcError as e:
            err = self._error(e, call, simulate=True)
            if isinstance(err, Reverted):
                self._failed(err)
            raise err from None

    def _estimate(self, call: dict[str, Any]) -> int:
        try:
            est = int(self._rpc("eth_estimateGas", [call]), 16)
        except RpcError as e:
            err = self._error(e, call, simulate=False)
            if isinstance(err, Reverted):
                self._failed(err)
            raise err from None
        return min(self.gas_limit, est * GAS_MARGIN_NUMERATOR // GAS_MARGIN_DENOMINATOR + GAS_MARGIN_ADD)

    def pending_nonce(self, sender: str) -> int:
        """``eth_getTransactionCount(sender, "pending")`` (mined + in the node's pool)."""
        return int(self._rpc("eth_getTransactionCount", [sender, "pending"]), 16)

    def _mined_nonce(self, sender: str) -> int:
        return int(self._rpc("eth_getTransactionCount", [sender, "latest"]), 16)

    def describe(self, to: str | None, data: bytes) -> str:
        """``Contract.function`` of a call (from the ABIs this chain knows), else the selector."""
        if to is None:
            return "<deployment>"
        ct = self._types_by_addr.get(to)
        fn = ct.by_selector.get(data[:4]) if ct is not None else None
        if fn is None:
            return f"{to}:0x{data[:4].hex()}"
        return f"{ct.name or to}.{fn.name}" if ct is not None else fn.name

    def _execute(
        self, sender: str, to: str | None, data: bytes, value: int, gas: int | None, out: list[bytes] | None = None
    ) -> dict[str, Any]:
        signer = self._signer(sender)
        call: dict[str, Any] = {"from": sender, "data": "0x" + data.hex()}
        if to is not None:
            call["to"] = to
        if value:
            call["value"] = hex(value)
        ret = self._preflight(call)
        gas_limit = int(gas) if gas is not None else self._estimate(call)
        fees = self._quote()
        name = self.describe(to, data)
        if self.policy.dry_run:
            if to is None:
                raise ChainError("a dry run cannot deploy (no address to report); run without --dry-run")
            self.dry_runs.append(DryRun(sender, to, name, data, value, gas_limit, fees))
            log.info("dry run: %s would send %s (gas %d, %s); not sent", sender, name, gas_limit, fees.describe())
            if out is not None:
                out.append(ret)
            return {"gasUsed": hex(gas_limit), "status": "0x1", "logs": [], "dry_run": True}
        nonce = self._next_nonce(sender)
        hashes: list[str] = []  # everything sent for this nonce (the first and our replacements)
        retries = 0

        def retry(why: str) -> None:
            nonlocal retries
            retries += 1
            self.resends += 1
            if retries > self.policy.max_retries:
                raise ChainError(f"{name} from {sender}: {why}; gave up after {self.policy.max_retries} re-sends")
            log.warning("%s from %s: %s; re-sending (%d of %d)", name, sender, why, retries, self.policy.max_retries)

        races = 0

        def renew(why: str) -> None:
            """Our nonce went to another transaction: prepare the same call again. The nonce is
            read last, right before signing, so the window another sender can take it in is
            one round trip; a short random pause desynchronises from a sender in a tight loop."""
            nonlocal nonce, hashes, ret, fees, races
            races += 1
            self.resends += 1
            if races > self.policy.max_nonce_races:
                raise ChainError(
                    f"{name} from {sender}: {why}; gave up after losing the nonce {self.policy.max_nonce_races} "
                    "times (another process keeps sending from this key)"
                )
            log.warning("%s from %s: %s; re-sending (lost nonce race %d)", name, sender, why, races)
            time.sleep(random.uniform(0.0, min(0.002 * races, 0.05)))
            hashes = []
            ret = self._preflight(call)  # the state moved: it may revert now (then Reverted)
            fees = self._quote()
            nonce = self.pending_nonce(sender)

        while True:
            tx = {
                "chainId": self.chain_id,
                "nonce": nonce,
                "gas": gas_limit,
                "data": data,
                "value": int(value),
                **fees.fields(),
            }
            if to is not None:
                tx["to"] = to
            raw = signer.sign_transaction(tx)
            tx_hash = "0x" + _keccak(raw).hex()
            try:
                self._rpc("eth_sendRawTransaction", ["0x" + raw.hex()])
                hashes.append(tx_hash)
                log.debug("sent %s from %s nonce %d: %s (%s)", name, sender, nonce, tx_hash, fees.describe())
            except RpcError as e:
                kind = _classify(e.message)
                if kind == "known":
                    hashes.append(tx_hash)
                elif kind == "funds":
                    balance = self.get_balance(sender)
                    raise ChainError(
                        f"insufficient funds for gas: {sender} has {balance / 1e18:.6f} ETH, {name} may cost up to "
                        f"{gas_limit * fees.per_gas / 1e18:.6f} ETH (gas {gas_limit} x {fees.describe()}); "
                        "fund the account or lower --max-fee-gwei"
                    ) from None
                elif kind == "nonce":
                    renew(f"nonce {nonce} refused ({e.message})")
                    continue
                elif kind == "underpriced":
                    pending = self.pending_nonce(sender)
                    if pending > nonce and not hashes:
                        renew(f"nonce {nonce} is held by another transaction in the pool")
                    else:
                        retry(f"replacement underpriced at nonce {nonce}")
                        fees = fees.bumped(self.fee_policy)
                    continue
                elif kind == "fee":
                    retry(f"fees refused ({e.message})")
                    fresh = self._quote()
                    fees = fresh if fresh.per_gas > fees.per_gas else fees.bumped(self.fee_policy)
                    continue
                else:
                    raise ChainError(f"the node refused {name} from {sender}: {e.message}") from None
            outcome, receipt = self._await(sender, nonce, hashes)
            if receipt is not None:
                break
            if outcome == "replaced":
                renew(f"nonce {nonce} was mined by another transaction from the same key")
            else:
                retry(f"not mined after {self.policy.receipt_timeout:g} s (stuck or dropped)")
                try:
                    fees = fees.bumped(self.fee_policy)
                except FeeError as e:
                    raise ChainError(f"{name} from {sender} is not mined and cannot be re-priced: {e}") from None
        self._nonces[sender] = max(nonce + 1, self._nonces.get(sender, 0))
        if receipt.get("status") != "0x1":
            call["gas"] = hex(gas_limit)
            raise self._mined_failure(call, receipt)
        if out is not None:
            out.append(ret)
        return receipt

    def _await(self, sender: str, nonce: int, hashes: list[str]) -> tuple[str, dict[str, Any] | None]:
        """Wait for a receipt of any of `hashes`: ("mined", receipt), ("replaced", None) when
        the sender's nonce was used by another transaction, ("stuck", None) on timeout."""
        policy = self.policy
        deadline = time.monotonic() + policy.receipt_timeout
        delay = 0.002
        while True:
            for h in hashes:
                receipt = self._rpc("eth_getTransactionReceipt", [h])
                if receipt is not None:
                    confirmed = self._confirm(h, receipt, deadline)
                    if confirmed is not None:
                        return "mined", confirmed
            if self._mined_nonce(sender) > nonce:
                if any(self._rpc("eth_getTransactionReceipt", [h]) is not None for h in hashes):
                    continue  # mined between the two reads
                # A node may count the nonce before it serves the receipt (anvil does, for a
                # moment): while it still knows one of our transactions, ours is what was mined,
                # so wait for the receipt instead of sending the call a second time.
                if any(self._rpc("eth_getTransactionByHash", [h]) is not None for h in hashes):
                    if time.monotonic() > deadline:
                        return "stuck", None
                    time.sleep(delay)
                    continue
                return "replaced", None
            if time.monotonic() > deadline:
                return "stuck", None
            time.sleep(delay)
            delay = min(delay * 2, policy.poll_interval)

    def _confirm(self, tx_hash: str, receipt: dict[str, Any], deadline: float) -> dict[str, Any] | None:
        """`receipt` once its block has ``confirmations - 1`` blocks on top and still holds it;
        None if a reorg dropped it. Raises ChainError if the blocks do not come in time."""
        need = self.policy.confirmations
        if need <= 1:
            return receipt
        block = int(receipt["blockNumber"], 16)
        delay = 0.01
        while True:
            head = self.block_number
            if head >= block + need - 1:
                break
            if time.monotonic() > deadline:
                raise ChainError(
                    f"{tx_hash} is in block {block} but has {head - block + 1} of {need} confirmations after "
                    f"{self.policy.receipt_timeout:g} s (is the node producing blocks?)"
                )
            time.sleep(delay)
            delay = min(delay * 2, self.policy.poll_interval)
        again = self._rpc("eth_getTransactionReceipt", [tx_hash])
        if again is None or again.get("blockHash") != receipt.get("blockHash"):
            log.warning("%s left block %d (reorg); waiting for it again", tx_hash, block)
            return None
        return again

    def _deploy_code(self, sender: str, code: bytes, value: int, gas: int | None) -> str:
        receipt = self._execute(sender, None, code, value, gas)
        addr = checksum(receipt["contractAddress"])
        self._receipt = Receipt(int(receipt["gasUsed"], 16), b"", True, _logs_of(receipt), addr, self)
        return addr

    def transfer(self, sender: Any, to: Any, wei: int) -> Receipt:
        """Send `wei` of ether from a signer to `to` (a plain transfer, 21,000 gas)."""
        self.send(_addr(sender), _addr(to), b"", int(wei), 21_000)
        assert self._receipt is not None
        return self._receipt


def _keccak(raw: bytes) -> bytes:
    from eth_utils import keccak

    return bytes(keccak(raw))


__all__ = ["DryRun", "SendPolicy", "SigningChain"]
