"""The real-node backend: `vyperp.chain.rpc_chain.RpcChain` on anvil (`vyperp.node.AnvilNode`).

1. the node starts on a free port, answers, and is gone (process group and port) after stop;
2. the Chain API on anvil: return values, events, gas, revert reasons (nothing mined on a
   revert), block time semantics, snapshots, batched sends -- compared with the embedded
   chain where they must agree;
3. `System` on anvil: a scenario (fund, open, price move, funding over time, close,
   liquidation, bad debt) gives the same margins, positions, pool, insurance, events and
   gas as on the embedded chain at the same block times;
4. the cascade replay on anvil gives the same report and timeseries as on the embedded
   chain, to the wei (timings aside), without and with spot impact;
5. the throughput benchmark (`vyperp.node.bench_anvil`) runs.

One anvil node serves the module; every test starts from a fresh genesis (`reset=True`).
Needs the pinned anvil from npm (`WITH_ANVIL=1 scripts/bootstrap.sh`; ./test.sh does it).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import plain, role_names
from vyperp.chain import Chain, ChainError, Reverted
from vyperp.chain.node import BATCH_BLOCK_GAS_LIMIT, AnvilNode, AnvilNotFound, find_anvil
from vyperp.protocol.deploy import deploy_embedded
from vyperp.protocol.system import MAX_UINT, System
from vyperp.protocol.units import wad

from .conftest import BTC, ETH, default_params

try:
    find_anvil()
except AnvilNotFound as exc:  # pragma: no cover - only without the npm install
    pytest.skip(str(exc), allow_module_level=True)

from vyperp.chain.rpc_chain import RpcChain  # noqa: E402
from vyperp.sim.runner import TIMING_FIELDS as TIMING_KEYS

COUNTER = Path(__file__).parent / "chain_fixtures" / "Counter.vy"
T0 = 1_700_000_000
ZERO = "0x0000000000000000000000000000000000000000"


@pytest.fixture(scope="module")
def node() -> Iterator[AnvilNode]:
    with AnvilNode() as n:
        yield n


@pytest.fixture
def rpc(node: AnvilNode) -> Iterator[RpcChain]:
    chain = RpcChain(node.url, timestamp=T0, reset=True)
    yield chain
    chain.close()


@pytest.fixture(scope="module")
def wide_node() -> Iterator[AnvilNode]:
    """A node whose blocks hold many 30,000,000-gas transactions (deferred mining)."""
    with AnvilNode(gas_limit=BATCH_BLOCK_GAS_LIMIT) as n:
        yield n


@pytest.fixture(params=["per-tx", "deferred"])
def any_rpc(request: pytest.FixtureRequest, node: AnvilNode, wide_node: AnvilNode) -> Iterator[RpcChain]:
    """RpcChain mining a block per transaction, and deferred (a block per flush)."""
    if request.param == "deferred":
        chain = RpcChain(wide_node.url, timestamp=T0, reset=True, gas_limit=30_000_000, deferred=True)
    else:
        chain = RpcChain(node.url, timestamp=T0, reset=True)
    yield chain
    chain.close()


# ----------------------------------------------------------------------------- node
def test_node_starts_and_stops_completely() -> None:
    node = AnvilNode().start()
    port, pid = node.port, node.proc.pid
    assert node.rpc("eth_chainId") == hex(31337)
    assert node.rpc("web3_clientVersion").startswith("anvil/v1.7.1")
    block = node.rpc("eth_getBlockByNumber", "latest", False)
    assert int(block["timestamp"], 16) == 1 and int(block["baseFeePerGas"], 16) == 0
    node.stop()
    assert not node.running
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)  # the whole process group is gone
    with socket.socket() as s, pytest.raises(ConnectionRefusedError):
        s.connect(("127.0.0.1", port))  # nothing listens on the port any more


def test_missing_binary_says_how_to_install(tmp_path: Path) -> None:
    with pytest.raises(AnvilNotFound, match="WITH_ANVIL=1 scripts/bootstrap.sh"):
        AnvilNode(binary=tmp_path / "anvil")


# ----------------------------------------------------------------------------- Chain API
def _counter_run(chain: Any) -> dict[str, Any]:
    """The same calls on either chain; everything that must agree."""
    out: dict[str, Any] = {}
    alice = chain.new_account("alice", eth=10**21)
    counter = chain.deploy(COUNTER, 5, sender=alice)
    out["deploy_gas"] = chain.last_receipt.gas_used
    out["set"] = counter.set_count(7, sender=alice)
    out["set_gas"] = chain.last_receipt.gas_used
    out["set_logs"] = [(e.name, e.args) for e in chain.last_receipt.logs]
    out["set_logs_contract"] = counter.decode_logs(chain.last_receipt)
    out["overload"] = counter.set_count(8, "note", sender=alice)
    out["views"] = (counter.count(), counter.info(), counter.names(), counter.add(3), counter.add(3, 4))
    out["simulated"] = counter.set_count.call(9, sender=alice)
    out["count_after_simulation"] = counter.count()
    out["bump"] = counter.bump(sender=alice), chain.last_receipt.gas_used
    out["raw"] = chain.send(alice, counter.address, counter.write.calldata(1, 2)), chain.last_receipt.gas_used
    out["raw_call"] = chain.call(counter.address, counter.scratch.calldata(1))
    reverts = []
    for fn, args, kw in [
        (counter.set_count, (13,), {}),
        (counter.fail_empty, (), {}),
        (counter.set_count, (1,), {"gas": 30_000}),
    ]:
        with pytest.raises(Reverted) as exc:
            fn(*args, sender=alice, **kw)
        receipt = chain.last_receipt
        assert receipt.success is False and receipt.logs == [] and receipt.gas_used == exc.value.gas_used
        reverts.append((exc.value.reason, exc.value.data, exc.value.gas_used, exc.value.halt is not None))
    out["reverts"] = reverts
    with pytest.raises(ChainError):
        counter.set_count(1, sender=alice, gas=20_000)  # below intrinsic gas
    with pytest.raises(Reverted) as exc:
        counter.set_count.call(13)
    out["call_revert"] = exc.value.reason
    out["deposit"] = (
        counter.deposit(sender=alice, value=10**18),
        chain.get_balance(alice),
        chain.get_balance(counter.address),
    )
    out["deposit_logs"] = [(e.name, e.args) for e in chain.last_receipt.logs]
    out["storage"] = chain.get_storage(counter.address, 0), len(chain.get_code(counter.address)) > 0
    return out


def test_chain_api_matches_embedded(any_rpc: RpcChain) -> None:
    embedded = Chain(timestamp=T0)
    assert _counter_run(any_rpc) == _counter_run(embedded)


def test_reverts_mine_nothing_and_carry_reasons(any_rpc: RpcChain) -> None:
    alice = any_rpc.new_account("alice")  # no ether: gas is free
    counter = any_rpc.deploy(COUNTER, 5, sender=alice)
    block, nonce = any_rpc.block_number, any_rpc.get_nonce(alice)
    with pytest.raises(Reverted, match="unlucky number") as exc:
        counter.set_count(13, sender=alice)
    assert exc.value.reason == "unlucky number" and exc.value.halt is None
    with pytest.raises(Reverted) as exc:
        any_rpc.send(alice, counter.address, counter.fail_empty.calldata())
    assert exc.value.reason == "" and exc.value.data == b""
    with pytest.raises(Reverted) as exc:
        counter.set_count(1, sender=alice, gas=30_000)
    assert exc.value.halt == "OutOfGas" and exc.value.gas_used == 30_000
    assert (any_rpc.block_number, any_rpc.get_nonce(alice)) == (block, nonce)
    assert counter.count() == 5
    counter.set_count(6, sender=alice)  # the nonce bookkeeping still fits
    assert any_rpc.get_nonce(alice) == nonce + 1 and counter.count() == 6


def test_block_time_moves_only_with_set_time_and_advance(any_rpc: RpcChain) -> None:
    alice = any_rpc.new_account("alice")
    counter = any_rpc.deploy(COUNTER, 5, sender=alice)
    assert counter.now()[0] == T0 == any_rpc.time
    for v in range(3):  # a block per tx, one time
        counter.set_count(v, sender=alice)
    assert counter.last_ts() == T0 and counter.now()[0] == T0
    any_rpc.set_time(T0 + 3_600)
    assert counter.now()[0] == T0 + 3_600  # calls see it at once...
    counter.set_count(1, sender=alice)
    assert counter.last_ts() == T0 + 3_600  # ...and so does the next tx
    time.sleep(1.1)  # the wall clock does not matter
    any_rpc.advance(60)
    counter.set_count(2, sender=alice)
    assert counter.last_ts() == T0 + 3_660 == any_rpc.time
    any_rpc.set_time(any_rpc.time)  # same time: fine
    with pytest.raises(ValueError, match="cannot move time back"):
        any_rpc.set_time(T0)
    assert counter.now()[2] == 31337


def test_snapshots(any_rpc: RpcChain) -> None:
    alice = any_rpc.new_account("alice")
    counter = any_rpc.deploy(COUNTER, 5, sender=alice)
    outer = any_rpc.snapshot()
    counter.set_count(7, sender=alice)
    inner = any_rpc.snapshot()
    any_rpc.advance(100)
    counter.set_count(8, sender=alice)
    any_rpc.revert(inner)
    assert (counter.count(), any_rpc.time, counter.now()[0]) == (7, T0, T0)
    with pytest.raises(ValueError):
        any_rpc.revert(inner)
    nonce = any_rpc.get_nonce(alice)
    any_rpc.revert(outer)
    assert counter.count() == 5 and any_rpc.get_nonce(alice) == nonce - 1
    counter.set_count(9, sender=alice)  # nonces re-read after a revert
    with any_rpc.isolate():
        counter.set_count(10, sender=alice)
    assert counter.count() == 9


def test_send_many_batches_with_explicit_nonces(rpc: RpcChain) -> None:
    senders = [rpc.new_account(f"s{k}") for k in range(5)]
    counter = rpc.deploy(COUNTER, 5, sender=senders[0])
    txs = [(senders[k % 5], counter.address, counter.write.calldata(k, k + 1)) for k in range(50)]
    txs.append((senders[1], counter.address, counter.set_count.calldata(13)))  # reverts: mined as failed
    receipts = rpc.send_many(txs)
    assert [r.success for r in receipts] == [True] * 50 + [False]
    assert all(counter.scratch(k) == k + 1 for k in range(50))
    assert rpc.get_nonce(senders[1]) == 11
    counter.set_count(3, sender=senders[1])  # nonces continue
    assert counter.count() == 3 and rpc.time == T0


def test_deferred_mining_one_block_per_flush(wide_node: AnvilNode) -> None:
    chain = RpcChain(wide_node.url, timestamp=T0, reset=True, gas_limit=30_000_000, deferred=True)
    alice, bob = chain.new_account("alice"), chain.new_account("bob")
    counter = chain.deploy(COUNTER, 5, sender=alice)
    head = chain.block_number
    assert counter.set_count(7, sender=alice) == 5  # return data from the simulated preflight
    assert chain.last_receipt is not None and chain.last_receipt.gas_used > 21_000
    assert [e.name for e in counter.decode_logs(chain.last_receipt)] == ["CountChanged"]  # logs too
    assert counter.bump(sender=bob) == 8 and counter.count() == 8  # calls see the unmined ones
    with pytest.raises(Reverted, match="unlucky number"):
        counter.set_count(13, sender=bob)  # nothing sent
    chain.advance(60)  # mines the two at T0, no empty block at T0 + 60
    assert counter.now()[0] == T0 + 60 and counter.last_ts() == T0
    counter.set_count(9, sender=alice)
    receipts = chain.rpc("eth_getBlockReceipts", hex(head + 1))
    assert [r["status"] for r in receipts] == ["0x1", "0x1"] and chain.rpc("eth_blockNumber") == hex(head + 1)
    assert chain.get_nonce(bob) == 1  # flushes: the third is mined
    assert chain.block_number == head + 2 and counter.last_ts() == T0 + 60
    chain.close()


# ----------------------------------------------------------------------------- transport
def test_transport_errors_are_clear(tmp_path: Path) -> None:
    from vyperp.chain.node import free_port

    with pytest.raises(
        ChainError, match=r"cannot reach the JSON-RPC node at http://127\.0\.0\.1:\d+.*is the node running"
    ):
        RpcChain(f"http://127.0.0.1:{free_port()}")
    for url in ("ftp://127.0.0.1:8545", "127.0.0.1:8545", "http://127.0.0.1:notaport"):
        with pytest.raises(ChainError, match="not a JSON-RPC URL"):
            RpcChain(url)

    import http.server
    import threading

    class NotRpc(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            body = b"<html>nothing here</html>" if self.path == "/html" else b"gone"
            self.send_response(200 if self.path == "/html" else 404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), NotRpc)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        with pytest.raises(ChainError, match="answered HTTP 404"):
            RpcChain(f"http://127.0.0.1:{port}/x")
        with pytest.raises(ChainError, match="is not JSON"):
            RpcChain(f"http://127.0.0.1:{port}/html")
    finally:
        server.shutdown()
        server.server_close()


def test_transport_keeps_the_connection_alive_and_reconnects(rpc: RpcChain) -> None:
    transport = rpc._t
    conn = transport._conn
    assert conn is not None
    sock = conn.sock
    for _ in range(20):
        rpc.get_balance(ZERO)
    assert transport._conn is conn and conn.sock is sock  # one connection for all of them

    class Counting:  # the socket, counting packets sent
        def __init__(self, inner: socket.socket) -> None:
            self.inner, self.sends = inner, 0

        def sendall(self, data: bytes) -> None:
            self.sends += 1
            self.inner.sendall(data)

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

    counting = Counting(sock)
    conn.sock = counting  # type: ignore[assignment]
    for _ in range(5):
        rpc.get_balance(ZERO)
    assert counting.sends == 5  # head and body in one packet
    conn.sock = sock
    sock.shutdown(socket.SHUT_RDWR)  # the connection dies under the client
    assert rpc.get_balance(ZERO) == 0  # reopened once, transparently
    assert transport._conn is not conn
    answers = transport.batch([("eth_chainId", []), ("eth_nosuchmethod", []), ("eth_blockNumber", [])])
    assert answers[0]["result"] == hex(31337) and "error" in answers[1] and "result" in answers[2]
    rpc.close()
    assert transport._conn is None and rpc.get_balance(ZERO) == 0  # used again after close: reconnects


# ----------------------------------------------------------------------------- System


def _push(system: System, market: int, usd: str) -> None:
    system.set_price(market, Decimal(usd))


def system_scenario(system: System) -> dict[str, Any]:
    """Fund, open, move prices, let funding accrue, close, liquidate (with and without
    bad debt), withdraw -- at explicit block times. Returns everything worth comparing."""
    chain = system.chain
    t0 = chain.time
    out: dict[str, Any] = {"txs": [], "reverts": [], "fills": []}

    def tx() -> None:
        r = chain.last_receipt
        out["txs"].append((r.gas_used, [(e.name, dict(e.args)) for e in r.logs]))

    lp = system.new_trader("lp")
    system.mint(lp, 1_000_000)
    system.pool.deposit(system.tokens(200_000), lp, sender=lp)
    tx()
    system.engine.deposit(system.tokens(1_000), sender=lp)
    system.engine.fund_insurance(system.tokens(2_000), sender=lp)
    tx()
    keeper = system.new_trader("keeper")
    alice = system.new_trader("alice", 11_000)
    tx()
    bob = system.new_trader("bob", 5_000)
    carol = system.new_trader("carol", 10_300)
    accounts = [lp, keeper, alice, bob, carol]

    def books() -> tuple:
        return (
            [int(system.engine.margin(a)) for a in accounts],
            [tuple(system.engine.position(a, m)) for a in accounts for m in (BTC, ETH)],
            [system.engine.market_state(m) for m in (BTC, ETH)],
            int(system.engine.pool_balance()),
            int(system.engine.insurance_fund()),
            int(system.engine.pool_value()),
            [int(system.token.balanceOf(a)) for a in accounts + [system.engine.address, system.pool.address]],
            int(system.pool.totalSupply()),
            [system.engine.account_health(a) for a in accounts],
        )

    out["fills"].append(system.trade(alice, BTC, wad("1")))
    tx()
    out["fills"].append(system.trade(carol, BTC, wad("1")))
    tx()
    out["fills"].append(system.trade(bob, ETH, -wad("3")))
    tx()
    out["after_open"] = books()
    for action in (
        lambda: system.engine.withdraw(system.tokens(1_000_000), sender=alice),
        lambda: system.engine.trade(BTC, 0, MAX_UINT, sender=alice),
        lambda: system.engine.liquidate(alice, sender=keeper),
    ):
        before = books()
        with pytest.raises(Reverted) as exc:
            action()
        assert books() == before
        out["reverts"].append((exc.value.reason, exc.value.gas_used))

    chain.set_time(t0 + 8 * 3_600)  # funding accrues for 8 hours
    system.advance(0)  # re-publish both prices at the new time
    system.engine.poke(BTC, sender=keeper)
    tx()
    out["funding"] = books()
    chain.advance(600)
    _push(system, BTC, "96500")
    _push(system, BTC, "93000")
    _push(system, ETH, "3900")
    out["before_liquidation"] = books()
    out["liquidatable"] = [system.lens.is_liquidatable(a) for a in accounts]
    system.engine.liquidate(alice, sender=keeper)  # below maintenance, margin left
    tx()
    out["after_liquidation"] = books()
    chain.advance(600)
    _push(system, BTC, "90000")
    _push(system, BTC, "88000")
    system.advance(60)
    system.engine.liquidate_many([carol, bob, alice], sender=keeper)  # carol: bad debt
    tx()
    out["after_bad_debt"] = books()
    out["fills"].append(system.trade(bob, ETH, wad("3")))  # bob closes in profit
    tx()
    margin = int(system.engine.margin(bob))
    system.engine.withdraw(margin // system.precision, sender=bob)
    tx()
    system.pool.withdraw(system.tokens(1_000), lp, lp, sender=lp)
    tx()
    out["final"] = books()
    ledger = system.ledger(accounts)
    out["ledger"] = (ledger.token_balance, ledger.margins, ledger.pool_balance, ledger.insurance_fund)
    out["arrays"] = (
        system.lens.margins(accounts),
        system.lens.positions(accounts, BTC),
        system.lens.accounts_health(accounts),
    )
    out["time"] = chain.time
    return plain(out, role_names(system))


def test_system_on_anvil_matches_embedded(node: AnvilNode) -> None:
    params = default_params()
    started = time.perf_counter()
    chain = RpcChain(node.url, timestamp=T0, reset=True)
    on_anvil = System(chain, deploy_embedded(chain, params))
    anvil = system_scenario(on_anvil)
    anvil_seconds = time.perf_counter() - started
    embedded = system_scenario(System.deploy(params, timestamp=T0))
    assert anvil == embedded
    names = [name for _, logs in anvil["txs"] for name, _ in logs]
    assert {"Liquidated", "BadDebtCovered", "Deposited", "Withdrawn"} <= set(names), names
    token_balance, margins, pool_balance, insurance = anvil["ledger"]
    assert token_balance * on_anvil.precision == margins + pool_balance + insurance
    assert [r for r, _ in anvil["reverts"]] == ["Insufficient margin", "Zero size", "Account not liquidatable"]
    print(f"\nSystem scenario on anvil: {len(anvil['txs'])} recorded txs, {anvil_seconds:.1f}s with deployment")


# ----------------------------------------------------------------------------- replay
@pytest.mark.parametrize(
    "scenario, impact, deferred",
    [("btc-2022-11-08", False, False), ("crash-30pct", True, False), ("crash-30pct", True, True)],
)
def test_replay_on_anvil_matches_embedded(
    node: AnvilNode, wide_node: AnvilNode, tmp_path: Path, scenario: str, impact: bool, deferred: bool
) -> None:
    from vyperp.sim.report import write_timeseries
    from vyperp.sim.runner import replay_and_report

    kw: dict[str, Any] = dict(traders=20, steps=100, full_scan_every=1, progress=False)
    embedded, report = replay_and_report(scenario, **kw)
    started = time.perf_counter()
    factory = (
        RpcChain.factory(wide_node.url, gas_limit=30_000_000, deferred=True) if deferred else RpcChain.factory(node.url)
    )
    anvil, anvil_report = replay_and_report(scenario, chain_factory=factory, **kw)
    seconds = time.perf_counter() - started
    assert isinstance(anvil.chain, RpcChain) and isinstance(embedded.chain, Chain)
    assert report["impact_enabled"] is impact  # spot impact of forced flows (floats)
    assert report["liquidations"] > 0 and report["bad_debt"] > 0 and report["invariant_violations"] == 0
    assert {k: v for k, v in anvil_report.items() if k not in TIMING_KEYS} == {
        k: v for k, v in report.items() if k not in TIMING_KEYS
    }
    assert anvil.metrics.rows == embedded.metrics.rows  # the timeseries, every column
    assert (
        write_timeseries(anvil, tmp_path / "anvil.csv").read_bytes()
        == write_timeseries(embedded, tmp_path / "embedded.csv").read_bytes()
    )
    assert anvil.insurance_path == embedded.insurance_path and anvil.pool_path == embedded.pool_path
    assert anvil.chain.time == embedded.chain.time == anvil.timestamps[-1]
    tx = anvil_report["tx_count"] + anvil_report["setup_tx_count"]
    print(
        f"\nreplay on anvil: {tx} txs in {seconds:.1f}s ({anvil_report['tx_per_second']} tx/s in the loop; "
        f"embedded {report['tx_per_second']} tx/s)"
    )


def test_bench_anvil_runs(node: AnvilNode) -> None:
    from vyperp.chain.node import bench_anvil

    out = bench_anvil(trades=400, transfers=200, sequential=50, senders=10, node=node, quiet=True)
    assert out["batched_trade_failed"] == 0 and out["batched_transfer_failed"] == 0
    assert min(out[k] for k in ("batched_trade_tps", "batched_transfer_tps", "sequential_send_tps", "call_tps")) > 0


# ----------------------------------------------------------------------------- ShadowChain
def test_shadow_replay_matches_embedded(wide_node: AnvilNode) -> None:
    """The replay on a ShadowChain (embedded outcomes, every step re-executed and verified on
    anvil) gives the embedded replay's report and timeseries, and anvil's books equal them."""
    from vyperp.chain.shadow_chain import ShadowChain
    from vyperp.sim.runner import replay_and_report

    kw: dict[str, Any] = dict(traders=20, steps=100, full_scan_every=1, progress=False)
    embedded, report = replay_and_report("crash-30pct", **kw)
    shadow, shadow_report = replay_and_report("crash-30pct", chain_factory=ShadowChain.factory(wide_node.url), **kw)
    chain = shadow.chain
    assert isinstance(chain, ShadowChain)
    assert report["liquidations"] > 0 and report["bad_debt"] > 0
    assert {k: v for k, v in shadow_report.items() if k not in TIMING_KEYS} == {
        k: v for k, v in report.items() if k not in TIMING_KEYS
    }
    assert shadow.metrics.rows == embedded.metrics.rows
    chain.settle()
    sent = shadow_report["tx_count"] + shadow_report["setup_tx_count"] - sum(shadow_report["reverted_tx"].values())
    assert chain.transactions_verified >= sent > 0  # plus the deployment's own transactions
    g = embedded.read_globals()
    with chain.node_reads():  # the books read on anvil itself
        on_node = shadow.read_globals()
    assert (on_node.token_balance, on_node.pool_balance, on_node.pool_value, on_node.insurance) == (
        g.token_balance,
        g.pool_balance,
        g.pool_value,
        g.insurance,
    )
    chain.close()


def test_shadow_detects_a_diverging_node(wide_node: AnvilNode) -> None:
    """A slot changed on anvil behind the chain's back changes anvil's outcome of a later
    transaction: the next verification raises ChainError naming it."""
    from vyperp.chain.shadow_chain import ShadowChain

    chain = ShadowChain(wide_node.url, timestamp=T0)
    alice = chain.new_account("alice", eth=10**21)
    counter = chain.deploy(COUNTER, 5, sender=alice)
    assert counter.set_count(7, sender=alice) == 5
    chain.advance(60)
    assert counter.bump(sender=alice) == 8
    chain.advance(60)
    chain.settle()
    assert chain.transactions_verified == 3
    with chain.node_reads():
        assert counter.count() == 8 and counter.now()[0] == T0 + 120
    slot = next(s for s in range(8) if chain.get_storage(counter, s) == 8)  # the count's slot
    chain.rpc("anvil_setStorageAt", counter.address, hex(slot), "0x" + (99).to_bytes(32, "big").hex())
    assert counter.set_count(9, sender=alice) == 8  # the embedded outcome, at once
    chain.advance(60)  # sent to anvil, not waited for
    counter.set_count(10, sender=alice)
    with pytest.raises(ChainError, match=r"anvil diverged from the embedded chain at transaction #0 .*selector"):
        chain.advance(60)
        chain.settle()
    chain.close()


def test_shadow_chain_reverts_and_snapshots(wide_node: AnvilNode) -> None:
    """A reverting transaction is not sent; snapshots revert both chains; deployments after
    call transactions get anvil's addresses (verified)."""
    from vyperp.chain.shadow_chain import ShadowChain

    chain = ShadowChain(wide_node.url, timestamp=T0)
    alice = chain.new_account("alice", eth=10**21)
    counter = chain.deploy(COUNTER, 5, sender=alice)
    with pytest.raises(Reverted, match="unlucky number"):
        counter.set_count(13, sender=alice)
    assert chain.last_receipt is not None and not chain.last_receipt.success
    counter.set_count(7, sender=alice)
    second = chain.deploy(COUNTER, 1, sender=alice)  # alice's nonce is 2 on anvil
    assert chain.get_nonce(alice) == 3
    sid = chain.snapshot()  # settles: all three verified
    assert chain.transactions_verified == 3
    second.set_count(2, sender=alice)
    chain.advance(3600)
    chain.revert(sid)
    assert chain.time == T0 and second.count() == 1 and chain.get_nonce(alice) == 3
    second.set_count(3, sender=alice)
    chain.settle()
    with chain.node_reads():
        assert second.count() == 3 and counter.count() == 7
    chain.close()
