"""The signing client (`vyperp.chain.signing_chain.SigningChain`) against a public-node
stand-in (`vyperp.chain.public_node.PublicNode`: anvil behind a proxy that refuses anvil_*, evm_*,
eth_sendTransaction, eth_accounts).

Keys come from anvil's default mnemonic (eth-account), some through keystore files in
tmp_path. Every test checks the proxy refused nothing the client asked for, i.e. the
client used only methods a public node serves. The stage directions (automine off, a
transaction dropped from the pool) go to anvil directly.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from vyperp.chain.errors import ChainError, Reverted
from vyperp.chain.fees import GWEI, FeeError, FeePolicy, Fees, quote
from vyperp.chain.keys import (
    DEFAULT_MNEMONIC,
    KeySourceError,
    from_private_key,
    key_from_env,
    load_keystore,
    mnemonic_signer,
    write_keystore,
)
from vyperp.chain.node import AnvilNotFound, find_anvil
from vyperp.chain.public_node import PublicNode
from vyperp.chain.rpc_chain import RpcChain
from vyperp.chain.signing_chain import SendPolicy, SigningChain

try:
    find_anvil()
    HAVE_ANVIL = True
except AnvilNotFound:  # pragma: no cover - only without the npm install
    HAVE_ANVIL = False

needs_anvil = pytest.mark.skipif(not HAVE_ANVIL, reason="anvil not installed (WITH_ANVIL=1 scripts/bootstrap.sh)")

# anvil's first account (m/44'/60'/0'/0/0): a well-known development key, not a secret
ANVIL_KEY_0 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


def _wait_for(condition: Callable[[], bool], timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


# ----------------------------------------------------------------------------- keys
def test_keystore_env_and_mnemonic_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = mnemonic_signer(DEFAULT_MNEMONIC, 0)
    assert first.address == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"  # anvil's first account
    assert mnemonic_signer(DEFAULT_MNEMONIC, 1).address != first.address

    path = write_keystore(first, tmp_path / "k.json", "pw", iterations=2**4)
    assert load_keystore(path, "pw").address == first.address
    with pytest.raises(KeySourceError, match="wrong password for keystore"):
        load_keystore(path, "nope")
    with pytest.raises(KeySourceError, match="does not exist"):
        load_keystore(tmp_path / "missing.json", "pw")
    (tmp_path / "bad.json").write_text('{"hello": 1}')
    with pytest.raises(KeySourceError, match="not a keystore"):
        load_keystore(tmp_path / "bad.json", "pw")

    monkeypatch.delenv("VYPERP_TEST_KEY", raising=False)
    with pytest.raises(KeySourceError, match="VYPERP_TEST_KEY is not set"):
        key_from_env("VYPERP_TEST_KEY")
    monkeypatch.setenv("VYPERP_TEST_KEY", ANVIL_KEY_0)
    assert key_from_env("VYPERP_TEST_KEY").address == first.address
    monkeypatch.setenv("VYPERP_TEST_KEY", "0x1234")
    with pytest.raises(KeySourceError, match=r"\$VYPERP_TEST_KEY: not a private key") as info:
        key_from_env("VYPERP_TEST_KEY")
    assert "1234" not in str(info.value)  # the key is never echoed
    with pytest.raises(KeySourceError, match="not a usable mnemonic"):
        mnemonic_signer("not a mnemonic at all", 0)


def test_fees_cap_tip_legacy_and_bump() -> None:
    policy = FeePolicy.from_gwei(max_fee=50, priority_fee="1.5")
    fees = quote(policy, 10 * GWEI, None, None)
    assert fees == Fees(max_fee=int(21.5 * GWEI), priority_fee=int(1.5 * GWEI))
    assert fees.fields() == {"type": 2, "maxFeePerGas": 21_500_000_000, "maxPriorityFeePerGas": 1_500_000_000}
    capped = quote(policy, 40 * GWEI, None, None)  # 2 x 40 + 1.5 > 50: the cap
    assert capped.max_fee == 50 * GWEI and capped.priority_fee == int(1.5 * GWEI)
    with pytest.raises(FeeError, match="base fee 60.000 gwei is above the cap 50.000 gwei"):
        quote(policy, 60 * GWEI, None, None)
    node_tip = quote(FeePolicy.from_gwei(max_fee=50), 10 * GWEI, 2 * GWEI, None)
    assert node_tip.priority_fee == 2 * GWEI and node_tip.max_fee == 22 * GWEI
    legacy = quote(policy, None, None, 7 * GWEI)
    assert legacy.fields() == {"gasPrice": 7 * GWEI}
    bumped = fees.bumped(policy)
    assert bumped.max_fee >= fees.max_fee * 1.1 and bumped.priority_fee >= fees.priority_fee * 1.1
    with pytest.raises(FeeError, match="replacement"):
        capped.bumped(policy)


# ----------------------------------------------------------------------------- node
@pytest.fixture(scope="module")
def node() -> Iterator[PublicNode]:
    if not HAVE_ANVIL:
        pytest.skip("anvil not installed")
    with PublicNode() as public:
        yield public


@pytest.fixture
def clean(node: PublicNode) -> Iterator[PublicNode]:
    """The node with automine on; fails the test if the client asked for a refused method."""
    node.refused.clear()
    yield node
    node.anvil_rpc("evm_setAutomine", True)
    assert node.refused == [], f"the signing client asked for methods a public node refuses: {node.refused}"


def _chain(node: PublicNode, *indices: int, **policy: Any) -> SigningChain:
    # a fixed tip: anvil suggests (eth_maxPriorityFeePerGas) the tips of recent blocks,
    # which the replacement test below raises to 100 gwei
    fees = policy.pop("fees", FeePolicy.from_gwei(max_fee=100, priority_fee=1))
    return SigningChain(
        node.url, [mnemonic_signer(DEFAULT_MNEMONIC, i) for i in indices], fees=fees, policy=SendPolicy(**policy)
    )


def _pending(node: PublicNode, address: str) -> int:
    """The pending nonce, read beside the client (its connection belongs to its thread)."""
    return int(node.anvil_rpc("eth_getTransactionCount", address, "pending"), 16)


def _token(chain: SigningChain) -> Any:
    return chain.deploy("TestToken", "t", "T", 6)


@needs_anvil
def test_sends_signed_eip1559_transactions_through_the_public_node(clean: PublicNode) -> None:
    chain = _chain(clean, 0, fees=FeePolicy.from_gwei(max_fee=100, priority_fee=2))
    me = chain.default_sender
    token = _token(chain)
    base = int(clean.anvil_rpc("eth_getBlockByNumber", "latest", False)["baseFeePerGas"], 16)
    assert base > 0  # a real EIP-1559 base fee, not RpcChain's 0
    token.mint(me, 5_000, sender=me)
    assert int(token.balanceOf(me)) == 5_000
    assert [e.name for e in token.decode_logs(chain.last_receipt)] == ["Transfer"]
    head = clean.anvil_rpc("eth_getBlockByNumber", "latest", True)
    tx = head["transactions"][0]
    assert tx["type"] == "0x2" and int(tx["maxPriorityFeePerGas"], 16) == 2 * GWEI
    assert int(tx["maxFeePerGas"], 16) == min(100 * GWEI, 2 * base + 2 * GWEI)
    with pytest.raises(Reverted):
        token.transfer(chain.default_sender, 10**9, sender=me)  # more than it holds: preflight, not sent
    assert chain.get_nonce(me) == chain._nonces[me]
    with pytest.raises(ChainError, match="no key for"):
        token.mint(me, 1, sender=mnemonic_signer(DEFAULT_MNEMONIC, 5).address)
    with pytest.raises(ChainError, match="needs anvil"):
        chain.advance(60)


@needs_anvil
def test_anvil_only_methods_are_refused_by_the_proxy(node: PublicNode) -> None:
    node.refused.clear()
    with pytest.raises(ChainError, match="needs an anvil node"):
        RpcChain(node.url)
    assert node.refused == ["anvil_autoImpersonateAccount"]
    node.refused.clear()


@needs_anvil
def test_nonce_taken_by_another_process_is_recovered(clean: PublicNode) -> None:
    chain = _chain(clean, 1)
    other = _chain(clean, 1)  # another process with the same key
    me = chain.default_sender
    token = _token(chain)
    token.mint(me, 1, sender=me)
    other.transfer(me, me, 1)  # takes the nonce `chain` has cached
    token.mint(me, 2, sender=me)
    assert int(token.balanceOf(me)) == 3 and chain.resends == 1


@needs_anvil
def test_transaction_replaced_in_the_pool_by_another_process_is_sent_again(clean: PublicNode) -> None:
    chain = _chain(clean, 2)
    me = chain.default_sender
    token = _token(chain)
    nonce = chain.pending_nonce(me)
    clean.anvil_rpc("evm_setAutomine", False)
    done: list[Any] = []
    worker = threading.Thread(target=lambda: done.append(token.mint(me, 7, sender=me) or True))
    worker.start()
    _wait_for(lambda: _pending(clean, me) == nonce + 1, what="our mint in the pool")
    # another process replaces it: same nonce, higher fees, a plain transfer
    signer = mnemonic_signer(DEFAULT_MNEMONIC, 2)
    raw = signer.sign_transaction(
        {
            "chainId": chain.chain_id,
            "nonce": nonce,
            "to": me,
            "value": 1,
            "gas": 21_000,
            "type": 2,
            "maxFeePerGas": 500 * GWEI,
            "maxPriorityFeePerGas": 100 * GWEI,
        }
    )
    clean.anvil_rpc("eth_sendRawTransaction", "0x" + raw.hex())
    clean.anvil_rpc("evm_mine")  # the replacement is mined; our mint is gone
    clean.anvil_rpc("evm_setAutomine", True)  # our re-sent mint is mined on arrival
    worker.join(30)
    assert done == [True] and int(token.balanceOf(me)) == 7  # the mint landed anyway
    assert chain.get_nonce(me) == nonce + 2 and chain.resends == 1


@needs_anvil
def test_dropped_transaction_is_rebroadcast_with_bumped_fees(clean: PublicNode) -> None:
    chain = _chain(clean, 3, receipt_timeout=0.3, poll_interval=0.02)
    me = chain.default_sender
    token = _token(chain)
    nonce = chain.pending_nonce(me)
    clean.anvil_rpc("evm_setAutomine", False)
    worker = threading.Thread(target=lambda: token.mint(me, 9, sender=me))
    worker.start()
    _wait_for(lambda: _pending(clean, me) == nonce + 1, what="the mint in the pool")
    first = clean.anvil_rpc("eth_getBlockByNumber", "pending", True)["transactions"][0]
    clean.anvil_rpc("anvil_dropTransaction", first["hash"])  # the node forgets it
    clean.anvil_rpc("evm_setAutomine", True)
    worker.join(30)
    assert int(token.balanceOf(me)) == 9 and chain.resends == 1
    mined = clean.anvil_rpc("eth_getBlockByNumber", "latest", True)["transactions"][0]
    assert int(mined["nonce"], 16) == nonce and int(mined["maxFeePerGas"], 16) > int(first["maxFeePerGas"], 16)


@needs_anvil
def test_waits_for_confirmations(clean: PublicNode) -> None:
    chain = _chain(clean, 4, confirmations=3, receipt_timeout=20)
    me = chain.default_sender
    token = _token(_chain(clean, 4))
    token = chain.at("TestToken", token.address)
    start = int(clean.anvil_rpc("eth_blockNumber"), 16)
    finished = threading.Event()
    worker = threading.Thread(target=lambda: (token.mint(me, 1, sender=me), finished.set()))
    worker.start()
    _wait_for(lambda: int(clean.anvil_rpc("eth_blockNumber"), 16) == start + 1, what="the mint mined")
    pusher = _chain(clean, 5)
    pusher.transfer(pusher.default_sender, me, 1)  # block 2 of 3
    assert not finished.wait(0.2)  # still one confirmation short
    pusher.transfer(pusher.default_sender, me, 1)  # block 3 of 3
    worker.join(30)
    assert finished.is_set() and int(token.balanceOf(me)) == 1
    short = _chain(clean, 4, confirmations=2, receipt_timeout=0.3, poll_interval=0.02)
    with pytest.raises(ChainError, match="1 of 2 confirmations"):
        short.at("TestToken", token.address).mint(me, 1, sender=me)


@needs_anvil
def test_dry_run_reports_and_sends_nothing(clean: PublicNode) -> None:
    setup = _chain(clean, 6)
    token = _token(setup)
    chain = _chain(clean, 6, dry_run=True)
    me = chain.default_sender
    dry = chain.at("TestToken", token.address)
    nonce = chain.pending_nonce(me)
    dry.mint(me, 5, sender=me)
    assert chain.pending_nonce(me) == nonce and int(dry.balanceOf(me)) == 0
    [report] = chain.dry_runs
    assert report.function == "TestToken.mint" and report.gas > 21_000 and report.to == token.address
    with pytest.raises(ChainError, match="dry run cannot deploy"):
        chain.deploy("TestToken", "t", "T", 6)


@needs_anvil
def test_clear_errors_for_no_funds_and_a_wrong_url(clean: PublicNode) -> None:
    poor = from_private_key("0x" + "11" * 32, "test")
    chain = SigningChain(clean.url, [poor])
    with pytest.raises(ChainError, match=r"insufficient funds for gas: 0x\w+ has 0.000000 ETH"):
        chain.deploy("TestToken", "t", "T", 6)
    with pytest.raises(ChainError, match="cannot reach the JSON-RPC node at http://127.0.0.1:9"):
        SigningChain("http://127.0.0.1:9", [poor], timeout=2)
    with pytest.raises(ChainError, match="not a JSON-RPC URL"):
        SigningChain("127.0.0.1:8545", [poor])


@needs_anvil
def test_feeder_loses_no_round_when_another_process_sends_from_its_key(clean: PublicNode) -> None:
    """The review's lost round: 210 rounds of crash-30pct while another process sends from
    the feeder's key between the feeder's preflight and its send, every third transaction."""
    from vyperp.ops.feed import Feeder, load_path
    from vyperp.protocol.deploy import deploy_embedded

    from .conftest import BTC, default_params

    deployer, feeder_key = mnemonic_signer(DEFAULT_MNEMONIC, 7), mnemonic_signer(DEFAULT_MNEMONIC, 8)
    setup = SigningChain(clean.url, [deployer, feeder_key])
    protocol = deploy_embedded(setup, default_params(), admin=deployer.address, feeder=feeder_key.address)
    chain = SigningChain(clean.url, [feeder_key], fees=FeePolicy.from_gwei(100, 1))
    other = SigningChain(clean.url, [feeder_key], fees=FeePolicy.from_gwei(100, 1))  # the other process
    me = feeder_key.address
    quotes = 0
    real_quote = chain._quote

    def interfering_quote() -> Fees:  # runs after the preflight, before the nonce is used
        nonlocal quotes
        quotes += 1
        if quotes % 3 == 0:
            other.transfer(me, me, 1)
        return real_quote()

    chain._quote = interfering_quote  # type: ignore[method-assign]
    oracle = chain.at("MockOracle", protocol.oracles[BTC].address)
    first_round = int(oracle.latestRoundData()[0])
    feeder = Feeder(
        chain,
        protocol.engine.address,
        {BTC: oracle.address},
        {BTC: load_path(scenario="crash-30pct")},
        me,
        symbols={BTC: "BTC"},
    )
    expected = feeder.answers[BTC]
    assert len(expected) == 210
    assert feeder.run(interval=0) == 210 and feeder.errors == 0
    assert chain.resends >= 100  # the other process really took nonces (every third send)
    assert int(oracle.latestRoundData()[0]) == first_round + 210
    assert [int(oracle.getRoundData(first_round + 1 + k)[1]) for k in range(210)] == expected


def test_a_mined_transaction_whose_receipt_lags_its_nonce_is_not_taken_for_replaced():
    """A node may count the sender's nonce before it serves the receipt (anvil does, briefly):
    the wait must not call that 'replaced' (which would send the call a second time) while
    the node still knows our transaction; only an unknown one was replaced."""
    from vyperp.chain.signing_chain import SendPolicy, SigningChain

    chain = object.__new__(SigningChain)
    chain.policy = SendPolicy(receipt_timeout=5.0, poll_interval=0.01)
    polls = {"receipt": 0}

    def rpc(method, params):
        if method == "eth_getTransactionReceipt":
            polls["receipt"] += 1
            return {"status": "0x1", "blockNumber": "0x5"} if polls["receipt"] > 4 else None
        if method == "eth_getTransactionByHash":
            return {"hash": params[0], "blockNumber": "0x5"}
        raise AssertionError(method)

    chain._rpc = rpc
    chain._mined_nonce = lambda sender: 8  # already past nonce 7
    assert chain._await("0xabc", 7, ["0xh"])[0] == "mined"
    # the same, but the node has forgotten our transaction: another one took the nonce
    polls["receipt"] = -(10**9)
    chain._rpc = lambda m, p: None if m in ("eth_getTransactionReceipt", "eth_getTransactionByHash") else rpc(m, p)
    assert chain._await("0xabc", 7, ["0xh"]) == ("replaced", None)
