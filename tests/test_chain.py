"""Tests for vyperp.chain (embedded pyrevm chain driver)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from vyperp.chain import (
    ABIError,
    Chain,
    ChainError,
    Contract,
    Reverted,
    compile_contract,
)
from vyperp.chain import compiler as compiler_mod

FIX = Path(__file__).parent / "chain_fixtures"
COUNTER = FIX / "Counter.vy"
CALLER = FIX / "Caller.vy"
TOKEN = FIX / "Token.vy"
START = 1_700_000_000


@pytest.fixture(params=[True, False], ids=["exact", "fast"])
def chain(request: pytest.FixtureRequest) -> Chain:
    return Chain(timestamp=START, chain_id=31337, exact_gas=request.param)


@pytest.fixture
def xchain() -> Chain:
    """Exact-gas chain only."""
    return Chain(timestamp=START, chain_id=31337)


@pytest.fixture
def alice(chain: Chain) -> str:
    return chain.new_account(label="alice", eth=10**21)


@pytest.fixture
def counter(chain: Chain, alice: str) -> Contract:
    return chain.deploy(COUNTER, 5, sender=alice)


# --------------------------------------------------------------- compiling


def test_compile_artifact() -> None:
    art = compile_contract(COUNTER)
    assert art.name == "Counter"
    assert isinstance(art.abi, list) and any(i.get("name") == "set_count" for i in art.abi)
    assert isinstance(art.bytecode, bytes) and len(art.bytecode) > art.runtime_size > 0
    assert compile_contract(str(COUNTER)) is art  # in-process memo


def test_compile_search_paths_and_disk_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cdir = tmp_path / "contracts"
    (cdir / "interfaces").mkdir(parents=True)
    (cdir / "interfaces" / "IFoo.vyi").write_text(
        "# pragma version ~=0.4.3\n@view\n@external\ndef foo() -> uint256:\n    ...\n"
    )
    (cdir / "some_module.vy").write_text(
        "# pragma version ~=0.4.3\n@internal\n@pure\ndef seven() -> uint256:\n    return 7\n"
    )
    (cdir / "Foo.vy").write_text(
        "# pragma version ~=0.4.3\n"
        "from interfaces import IFoo\n"
        "import some_module\n"
        "implements: IFoo\n"
        "@view\n@external\ndef foo() -> uint256:\n    return some_module.seven()\n"
    )
    cache = tmp_path / "build"
    art = compile_contract("Foo", contracts_dir=cdir, cache_dir=cache)
    assert art.name == "Foo" and len(list(cache.glob("Foo-*.json"))) == 1

    # a fresh process (empty memo) must not invoke vyper again
    compiler_mod.clear_memo()

    def boom(*a: object, **k: object) -> None:
        raise AssertionError("recompiled although cached")

    monkeypatch.setattr(compiler_mod, "_compile", boom)
    again = compile_contract("Foo", contracts_dir=cdir, cache_dir=cache)
    assert again.bytecode == art.bytecode
    monkeypatch.undo()

    # editing an imported module invalidates the cache entry
    compiler_mod.clear_memo()
    (cdir / "some_module.vy").write_text(
        "# pragma version ~=0.4.3\n@internal\n@pure\ndef seven() -> uint256:\n    return 8\n"
    )
    changed = compile_contract("Foo", contracts_dir=cdir, cache_dir=cache)
    assert changed.bytecode != art.bytecode

    chain = Chain(contracts_dir=cdir)
    foo = chain.deploy(changed)
    assert foo.foo() == 8


def test_compile_missing() -> None:
    with pytest.raises(compiler_mod.CompileError):
        compile_contract("DefinitelyNotAContract")


# ----------------------------------------------------- deploy, call, commit


def test_accounts(chain: Chain) -> None:
    a = chain.new_account(label="alice", eth=10**21)
    assert chain.accounts == {"alice": a}
    assert a.startswith("0x") and len(a) == 42 and a != a.lower()
    assert chain.get_balance(a) == 10**21
    with pytest.raises(ValueError):
        chain.new_account(label="alice")


def test_deploy_and_views(chain: Chain, alice: str, counter: Contract) -> None:
    assert counter.count() == 5
    assert counter.owner() == alice
    assert counter.info() == (5, alice, False, -5)  # struct -> tuple
    assert counter.names() == ("counter", (1, 2, 3))  # dynamic outputs
    assert counter.now() == (START, 1, 31337)
    assert chain.last_receipt is not None and chain.last_receipt.contract_address == counter.address
    assert len(chain.get_code(counter)) >= compile_contract(COUNTER).runtime_size
    again = chain.at(COUNTER, counter.address)
    assert again.count() == 5


def test_transaction_commits(chain: Chain, alice: str, counter: Contract) -> None:
    old = counter.set_count(7, sender=alice)
    assert old == 5
    assert counter.count() == 7
    r = chain.last_receipt
    assert r is not None and r.success
    assert int.from_bytes(r.return_data, "big") == 5
    assert counter.last_ts() == START
    # nonreentrant (transient storage lock) works repeatedly
    assert counter.bump(sender=alice) == 8
    assert counter.bump(sender=alice) == 9


def test_raw_send_and_call(chain: Chain, alice: str, counter: Contract) -> None:
    data = counter.set_count.calldata(11)
    out = chain.send(alice, counter.address, data)
    assert counter.decode_output("set_count", out) == 5
    assert counter.count() == 11
    # eth_call of a state-changing function does not commit
    out = chain.call(counter.address, counter.set_count.calldata(12), sender=alice)
    assert counter.decode_output("set_count(uint256)", out) == 11
    assert counter.count() == 11
    assert counter.set_count.call(44, sender=alice) == 11
    assert counter.count() == 11
    assert chain.call(counter.address, counter.count.calldata()) == (11).to_bytes(32, "big")


def test_payable_and_balances(chain: Chain, alice: str, counter: Contract) -> None:
    counter.deposit(sender=alice, value=10**18)
    assert chain.get_balance(counter) == 10**18
    assert chain.get_balance(alice) == 10**21 - 10**18
    ev = chain.last_receipt.logs[0]
    assert ev.name == "Deposited" and ev["amount"] == 10**18 and ev["who"] == alice
    with pytest.raises(ChainError):  # not enough ETH: invalid tx, not a revert
        counter.deposit(sender=alice, value=10**30)


# ---------------------------------------------------------------- reverts


def test_revert_reason_and_state_unchanged(chain: Chain, alice: str, counter: Contract) -> None:
    counter.set_count(7, sender=alice)
    with pytest.raises(Reverted) as ei:
        counter.set_count(13, "x", sender=alice)
    assert ei.value.reason == "unlucky number"
    assert "unlucky number" in str(ei.value)
    assert ei.value.gas_used > 21_000
    assert counter.count() == 7 and counter.last_ts() == START
    r = chain.last_receipt
    assert r is not None and not r.success and r.gas_used == ei.value.gas_used and r.logs == []

    with pytest.raises(Reverted) as ei:
        chain.send(alice, counter.address, counter.fail_empty.calldata())
    assert ei.value.reason == "" and ei.value.data == b""

    # a revert inside a nested call unwinds the whole tx
    caller = chain.deploy(CALLER, counter, sender=alice)
    with pytest.raises(Reverted, match="unlucky"):
        caller.forward(13, sender=alice)
    assert counter.count() == 7

    # view reverts too
    with pytest.raises(Reverted):
        chain.call(counter.address, b"\xde\xad\xbe\xef")


def test_out_of_gas_and_gas_limits(chain: Chain, alice: str, counter: Contract) -> None:
    with pytest.raises(Reverted) as ei:
        counter.set_count(8, sender=alice, gas=30_000)
    assert ei.value.halt is not None and "OutOfGas" in ei.value.halt
    assert counter.count() == 5
    with pytest.raises(ChainError):
        counter.set_count(8, sender=alice, gas=21_100)  # below intrinsic gas
    with pytest.raises(ChainError):
        counter.set_count(8, sender=alice, gas=10**9)  # above block gas limit
    counter.set_count(8, sender=alice, gas=100_000)
    assert counter.count() == 8


# ----------------------------------------------------------------- events


def test_events(chain: Chain, alice: str, counter: Contract) -> None:
    bob = chain.new_account("bob")
    counter.set_count(8, "hello", sender=bob)
    r = chain.last_receipt
    assert len(r.logs) == 1
    ev = r.logs[0]
    assert ev.name == "CountChanged"
    assert ev.address == counter.address
    assert ev.args == {"who": bob, "old": 5, "new": 8, "note": "hello"}
    assert list(ev.args) == ["who", "old", "new", "note"]  # ABI order
    assert counter.decode_logs(r) == [ev]
    assert counter.decode_logs(r.raw_logs) == [ev]

    # log emitted in a nested call, decoded through the chain registry
    caller = chain.deploy(CALLER, counter, sender=alice)
    assert caller.forward(9, sender=alice) == 8
    (ev,) = chain.last_receipt.logs
    assert (ev.name, ev.address, ev["who"], ev["new"]) == ("CountChanged", counter.address, caller.address, 9)
    assert caller.decode_logs(chain.last_receipt) == []  # not emitted by caller

    # unknown ABI -> '<unknown>'
    fresh = Chain()
    (unk,) = fresh.decode_logs(r.raw_logs)
    assert (
        unk.name == "<unknown>" and unk.args["topics"][0] == counter.contract_type.events_by_name["CountChanged"].topic0
    )


def test_snekmate_token(chain: Chain, alice: str) -> None:
    bob = chain.new_account("bob")
    tok = chain.deploy(TOKEN, 10**24, sender=alice)
    assert tok.symbol() == "TT" and tok.decimals() == 18 and tok.owner() == alice
    assert tok.transfer(bob, 10, sender=alice) is True
    assert tok.balanceOf(bob) == 10
    (ev,) = chain.last_receipt.logs
    assert ev.name == "Transfer" and ev.args == {"sender": alice, "receiver": bob, "value": 10}
    with pytest.raises(Reverted, match="exceeds balance"):
        tok.transfer(alice, 11, sender=bob)


def test_contract_creates_contract(chain: Chain, alice: str, counter: Contract) -> None:
    caller = chain.deploy(CALLER, counter, sender=alice)
    proxy_addr = caller.clone(sender=alice)
    assert len(chain.get_code(proxy_addr)) == 45  # EIP-1167 runtime
    proxy = chain.at(COUNTER, proxy_addr)
    assert proxy.count() == 0  # own storage
    proxy.set_count(3, sender=alice)
    assert proxy.count() == 3 and counter.count() == 5


# ------------------------------------------------------------------- time


def test_time(chain: Chain, counter: Contract, alice: str) -> None:
    assert (chain.time, chain.block_number) == (START, 1)
    chain.advance(3600)
    assert counter.now() == (START + 3600, 2, 31337)
    chain.advance(10, blocks=5)
    assert (chain.time, chain.block_number) == (START + 3610, 7)
    counter.set_count(1, sender=alice)
    assert counter.last_ts() == START + 3610
    chain.set_time(START + 10**6)
    assert counter.now()[0] == START + 10**6 and chain.time == START + 10**6


# -------------------------------------------------------------- snapshots


def test_snapshot_revert_nesting(chain: Chain, alice: str, counter: Contract) -> None:
    bob = chain.new_account("bob")
    s1 = chain.snapshot()
    counter.set_count(1, sender=alice)
    counter.write(7, 70, sender=alice)
    counter.deposit(sender=alice, value=5)
    chain.advance(100)
    s2 = chain.snapshot()
    counter.set_count(2, sender=alice)
    counter.write(7, 71, sender=alice)
    chain.set_balance(bob, 123)
    chain.advance(50, blocks=3)
    s3 = chain.snapshot()
    counter.set_count(3, sender=alice)

    chain.revert(s2)  # also invalidates s3
    assert counter.count() == 1 and counter.scratch(7) == 70
    assert chain.get_balance(bob) == 0 and chain.get_balance(counter) == 5
    assert (chain.time, chain.block_number) == (START + 100, 2)
    assert counter.now()[:2] == (START + 100, 2)
    with pytest.raises(ValueError):
        chain.revert(s3)
    with pytest.raises(ValueError):
        chain.revert(s2)  # consumed

    counter.set_count(4, sender=alice)  # state after a revert keeps working
    chain.revert(s1)
    assert counter.count() == 5 and counter.scratch(7) == 0
    assert chain.get_balance(counter) == 0 and chain.get_balance(alice) == 10**21
    assert (chain.time, chain.block_number) == (START, 1)

    with chain.isolate():
        counter.set_count(9, sender=alice)
        with chain.isolate():
            counter.set_count(10, sender=alice)
        assert counter.count() == 9
    assert counter.count() == 5


def test_snapshot_covers_deployments(chain: Chain, alice: str) -> None:
    s = chain.snapshot()
    c = chain.deploy(COUNTER, 1, sender=alice)
    assert chain.get_code(c) != b""
    chain.revert(s)
    assert chain.get_code(c.address) == b""
    c2 = chain.deploy(COUNTER, 2, sender=alice)
    assert c2.address == c.address and c2.count() == 2  # deployer nonce restored


# -------------------------------------------------------------------- gas


def test_gas_used_is_real_tx_gas(xchain: Chain) -> None:
    chain = xchain
    alice = chain.new_account("alice", eth=10**21)
    bob = chain.new_account("bob")
    chain.send(alice, bob, b"", value=1)
    assert chain.last_receipt.gas_used == 21_000  # plain ETH transfer

    tok = chain.deploy(TOKEN, 10**24, sender=alice)
    tok.transfer(bob, 10, sender=alice)
    first = chain.last_receipt.gas_used
    tok.transfer(bob, 10, sender=alice)
    second = chain.last_receipt.gas_used
    # cold slots + zero->nonzero SSTORE vs nonzero->nonzero: what mainnet charges
    assert first == 51_191 and second == 34_091
    assert 34_000 <= second < first <= 52_000

    # calldata is charged 4 per zero byte and 16 per non-zero byte
    counter = chain.deploy(COUNTER, 5, sender=alice)
    data = counter.count.calldata()
    gas = []
    for extra in (b"", b"\x00" * 32, b"\xff" * 32):
        chain.send(alice, counter.address, data + extra)
        gas.append(chain.last_receipt.gas_used)
    assert gas[1] - gas[0] == 32 * 4 and gas[2] - gas[0] == 32 * 16


def test_gas_matches_py_evm(xchain: Chain) -> None:
    """Exact-mode gas equals py-evm's (an independent EVM, Cancun rules)."""
    eth_tester = pytest.importorskip("eth_tester")
    from eth.vm.forks import CancunVM

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tester = eth_tester.EthereumTester(eth_tester.PyEVMBackend(vm_configuration=((0, CancunVM),)))
    acct = tester.get_accounts()[0]

    def ref(to: str | None, data: bytes) -> tuple[str | None, int]:
        tx = {"from": acct, "data": "0x" + data.hex(), "gas": 5_000_000}
        if to:
            tx["to"] = to
        receipt = tester.get_transaction_receipt(tester.send_transaction(tx))
        return receipt["contract_address"], receipt["gas_used"]

    chain = xchain
    alice = chain.new_account("alice", eth=10**21)
    tok_art, ctr_art = compile_contract(TOKEN), compile_contract(COUNTER)
    tok = chain.deploy(tok_art, 10**24, sender=alice)
    ref_tok, g = ref(None, tok_art.bytecode + tok_art.contract_type.constructor_args([10**24]))
    assert chain.last_receipt.gas_used == g
    ctr = chain.deploy(ctr_art, 5, sender=alice)
    ref_ctr, g = ref(None, ctr_art.bytecode + ctr_art.contract_type.constructor_args([5]))
    assert chain.last_receipt.gas_used == g

    bob, carol = "0x" + "ab" * 20, "0x00000000000000000000000000000000000000c4"
    steps = [
        (tok, ref_tok, tok.transfer.calldata(bob, 10)),
        (tok, ref_tok, tok.transfer.calldata(bob, 10)),
        (tok, ref_tok, tok.transfer.calldata(carol, 10**20)),
        (tok, ref_tok, tok.approve.calldata(bob, 5)),
        (tok, ref_tok, tok.approve.calldata(bob, 0)),  # refund
        (ctr, ref_ctr, ctr.set_count.calldata(7)),
        (ctr, ref_ctr, ctr.set_count.calldata(0)),
        (ctr, ref_ctr, ctr.set_count.calldata(9, "hello world")),
        (ctr, ref_ctr, ctr.bump.calldata()),
        (ctr, ref_ctr, ctr.write.calldata(1, 5)),
        (ctr, ref_ctr, ctr.write.calldata(1, 0)),
    ]
    for ours, theirs, data in steps:
        chain.advance(12)  # py-evm mines a block (new timestamp) per tx
        chain.send(alice, ours.address, data)
        assert chain.last_receipt.gas_used == ref(theirs, data)[1], data.hex()


# -------------------------------------------------------------- overloads


def test_overloads(chain: Chain, alice: str, counter: Contract) -> None:
    assert counter.set_count.calldata(1) != counter.set_count.calldata(1, "set")
    assert counter.set_count.calldata(1)[:4] == counter.functions["set_count(uint256)"].selector
    assert counter.set_count(20, sender=alice) == 5
    assert chain.last_receipt.logs[0]["note"] == "set"
    assert counter.set_count(21, "two", sender=alice) == 20
    assert chain.last_receipt.logs[0]["note"] == "two"
    assert counter.add(2) == 3 and counter.add(2, 5) == 7 and counter.add(-10, 3) == -7
    with pytest.raises(ABIError):
        counter.set_count(1, "a", "b", sender=alice)
    with pytest.raises(ABIError):
        counter.count(1)


def test_encoding_errors_and_contract_args(chain: Chain, alice: str, counter: Contract) -> None:
    with pytest.raises(ABIError):
        counter.write(-1, 0, sender=alice)
    with pytest.raises(ABIError):
        counter.write("x", 0, sender=alice)
    caller = chain.deploy(CALLER, counter, sender=alice)  # Contract as address arg
    assert caller.target() == counter.address
    assert caller.read() == 5


# --------------------------------------------------------------- the interface and ABI layouts
def test_every_backend_implements_the_interface() -> None:
    from vyperp.chain import BaseChain, ChainAPI
    from vyperp.chain.ape_chain import ApeChain
    from vyperp.chain.rpc_chain import RpcChain

    for cls in (Chain, RpcChain, ApeChain):
        assert issubclass(cls, BaseChain) and not cls.__abstractmethods__, cls
        # no method borrowed from another backend: everything shared lives on BaseChain
        for name, value in vars(cls).items():
            fn = value.fget if isinstance(value, property) else getattr(value, "__func__", value)
            if callable(fn) and hasattr(fn, "__qualname__"):
                assert fn.__qualname__.split(".")[0] == cls.__name__, (cls.__name__, name, fn.__qualname__)
    assert isinstance(Chain(), ChainAPI)
    with pytest.raises(TypeError, match="abstract"):
        BaseChain()  # type: ignore[abstract]


def test_struct_outputs_and_layout(chain: Chain, alice: str, counter: Contract) -> None:
    from vyperp.chain.abi import layout, output_param, static_layout

    ct = counter.contract_type
    info = counter.info()
    assert info._fields == ("count", "owner", "flag", "delta")
    assert (info.count, info.owner, info.flag, info.delta) == (5, alice, False, -5)
    # one named tuple type per struct, shared by every contract type with that struct
    assert type(info) is type(chain.at(ct.abi, counter.address).info())

    raw = chain.call(counter.address, counter.info.calldata())
    ranges = {f: layout(ct, "info", f) for f in info._fields}
    assert ranges == {"count": (0, 32), "owner": (32, 64), "flag": (64, 96), "delta": (96, 128)}
    assert int.from_bytes(raw[slice(*ranges["count"])], "big") == 5
    assert raw[slice(*ranges["owner"])][12:].hex() == alice[2:].lower()
    assert int.from_bytes(raw[slice(*ranges["delta"])], "big", signed=True) == -5
    assert layout(ct.abi, "info", "flag") == (64, 96)  # a raw ABI list works too
    assert {k: v[0] for k, v in ct.layouts["info"].items()} == static_layout(output_param(ct, "info"))
    cached = ct.layouts["info"]
    layout(ct, "info", "count")
    assert ct.layouts["info"] is cached  # computed once
    # several outputs: by index when unnamed
    now = chain.call(counter.address, counter.now.calldata())
    assert int.from_bytes(now[slice(*layout(ct, "now", "2"))], "big") == 31337
    with pytest.raises(ABIError, match="no field 'nope'.*count, owner"):
        layout(ct, "info", "nope")
    with pytest.raises(ABIError, match="needs static outputs"):
        layout(ct, "names", "0")  # String, DynArray
    with pytest.raises(ABIError, match="no function"):
        layout(ct, "missing", "x")


def test_layout_of_protocol_structs() -> None:
    from vyperp.chain.abi import layout, output_param, static_layout

    engine = compile_contract("Engine").contract_type
    state = static_layout(output_param(engine, "market_state"))
    for field, start in state.items():
        assert layout(engine, "market_state", field) == (start, start + 32), field
