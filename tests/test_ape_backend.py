"""The second backend: `System` on ape's local network (`ethereum:local:test`, eth-tester /
py-evm) through `vyperp.chain.ape_chain.ApeChain`.

1. a short deterministic scenario on ape: deposit, open, move the price, close, withdraw;
   the books balance to the wei and reverts carry the contracts' reasons;
2. the same scenario on the pyrevm chain at the same block times gives the same numbers
   (margins, positions, market states, pool, insurance, fills, events, revert reasons);
3. the stateful fuzzer (`ProtocolMachine`) runs a few examples on ape (VYPERP_BACKEND=ape).

ape holds one provider per process. Under ape's pytest plugin (on by default, as in `ape
test`) the session's connection to ethereum:local:test is open before the first test and
this module shares it (vyperp.chain.ape_chain.connect), leaving it open afterwards; with
the plugin off (`-p no:ape_test`) the module opens the connection itself and closes it
again when its tests are done, so other ape tests start from a fresh chain. On another
network (`ape test --network ethereum:local:foundry`) the module is skipped.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import settings

from tests.helpers import plain, role_names
from vyperp.chain import Reverted
from vyperp.protocol.system import MAX_UINT, System
from vyperp.protocol.units import wad

from .conftest import BTC, ETH, default_params

pytest.importorskip("ape")


@pytest.fixture(scope="module")
def ape_backend() -> Iterator[Any]:
    from ape import networks

    from vyperp.chain import ChainError, ape_chain
    from vyperp.fuzz import machine

    ape_session = networks.active_provider  # ape's pytest plugin connects before the tests
    shared = ape_session is not None and ape_session.is_connected
    try:
        provider = ape_chain.connect()
    except ChainError as exc:  # ape's session is on another network
        pytest.skip(str(exc))
    assert (provider is ape_session) == shared
    yield ape_chain
    for key in [k for k in machine._SYSTEMS if k.startswith("ape:")]:
        del machine._SYSTEMS[key]
    ape_chain.disconnect()
    assert provider.is_connected == shared  # ape's own connection stays open, ours is closed


def _start_time() -> int:
    """A round block time both backends can use: ape's chain cannot go back before its
    newest block (the wall clock when it started), so start on the next whole day after it."""
    from ape import chain

    return (int(chain.blocks.head.timestamp) // 86_400 + 2) * 86_400


def scenario(system: System, t0: int) -> dict[str, Any]:
    """Deposit, open, move prices, close, withdraw -- at explicit block times from t0.
    Returns every number worth comparing (addresses replaced by roles)."""
    chain = system.chain
    out: dict[str, Any] = {"events": [], "reverts": [], "fills": []}

    def logs() -> None:
        out["events"].append([(e.name, dict(e.args)) for e in chain.last_receipt.logs])

    def reverts(action: Any) -> None:
        before = books()
        with pytest.raises(Reverted) as exc:
            action()
        assert chain.last_receipt.success is False
        assert books() == before, "a revert changed state"
        out["reverts"].append(exc.value.reason)

    lp = system.new_trader("lp")
    system.mint(lp, 1_000_000)
    system.pool.deposit(system.tokens(400_000), lp, sender=lp)
    logs()
    alice = system.new_trader("alice", 10_000)
    bob = system.new_trader("bob", 5_000)
    logs()
    outsider = chain.new_account("outsider", eth=10**20)
    accounts = [lp, alice, bob]

    def books() -> tuple:
        return (
            [int(system.engine.margin(a)) for a in accounts],
            [tuple(system.engine.position(a, m)) for a in accounts for m in (BTC, ETH)],
            [system.engine.market_state(m) for m in (BTC, ETH)],
            int(system.engine.pool_balance()),
            int(system.engine.insurance_fund()),
            [int(system.token.balanceOf(a)) for a in accounts + [system.engine.address, system.pool.address]],
            int(system.pool.totalSupply()),
        )

    out["fills"].append(system.trade(alice, BTC, wad("0.5")))
    logs()
    out["gas_open"] = chain.last_receipt.gas_used
    out["fills"].append(system.trade(bob, ETH, -wad("3")))
    logs()
    out["after_open"] = books()

    reverts(lambda: system.engine.withdraw(system.tokens(1_000_000), sender=alice))  # Insufficient margin
    reverts(lambda: system.engine.trade(7, wad(1), MAX_UINT, sender=alice))  # Unknown market
    reverts(lambda: system.engine.trade(BTC, 0, MAX_UINT, sender=alice))  # Zero size
    reverts(lambda: system.configurator.set_pool(outsider, sender=outsider))  # Not admin
    reverts(lambda: system.engine.deposit(system.tokens(10**9), sender=bob))  # snekmate erc20

    chain.set_time(t0 + 3_600)
    system.set_price(BTC, 104_000)
    system.set_price(ETH, 3_800)
    system.engine.poke(BTC, sender=bob)
    logs()
    out["health"] = [system.engine.account_health(a) for a in (alice, bob)]
    out["fills"].append(system.trade(alice, BTC, -wad("0.5")))  # close in profit
    logs()
    out["after_close"] = books()

    chain.set_time(t0 + 3_600 + 3_601)  # ETH's round is stale now
    reverts(lambda: system.trade(bob, ETH, wad("3")))  # Oracle stale
    chain.set_time(t0 + 9_000)
    system.set_price(ETH, 3_700)
    system.set_price(BTC, 104_000)
    out["fills"].append(system.trade(bob, ETH, wad("3")))  # close in profit
    logs()
    margin = int(system.engine.margin(alice))
    system.engine.withdraw(margin // system.precision, sender=alice)
    logs()
    out["final"] = books()
    # dynamic arrays (of structs) in and out
    out["arrays"] = (
        system.lens.margins(accounts),
        system.lens.positions(accounts, ETH),
        system.lens.accounts_health(accounts),
        system.engine.brackets_of(BTC),
        system.engine.liquidation_tiers(),
    )
    out["array_types"] = [type(a).__name__ for a in out["arrays"]]
    ledger = system.ledger(accounts)
    out["ledger"] = (ledger.token_balance, ledger.margins, ledger.pool_balance, ledger.insurance_fund)
    out["time"] = chain.time
    return plain(out, role_names(system))


def test_ape_scenario(ape_backend: Any) -> None:
    t0 = _start_time()
    started = time.perf_counter()
    system = System.deploy(default_params(), timestamp=t0, backend="ape")
    assert type(system.chain).__name__ == "ApeChain"
    assert system.chain.time == t0
    result = scenario(system, t0)
    elapsed = time.perf_counter() - started

    # the books balance to the wei: tokens held == margins + pool + insurance
    token_balance, margins, pool_balance, insurance = result["ledger"]
    assert token_balance * system.precision == margins + pool_balance + insurance
    assert margins > 0 and pool_balance > 0 and insurance > 0
    assert result["reverts"] == [
        "Insufficient margin",
        "Unknown market",
        "Zero size",
        "Not admin",
        "erc20: transfer amount exceeds balance",
        "Oracle stale",
    ]
    # plain python values in a struct named from the ABI, as on the pyrevm chain
    state = system.engine.market_state(BTC)
    assert isinstance(state, tuple) and all(type(v) in (int, bool) for v in state)
    assert state.last_funding_time == t0 + 3_600  # the close's block time
    assert system.engine.market_state(BTC) == tuple(state)
    alice = system.chain.accounts["alice"]
    assert system.engine.position(alice, BTC).size == 0
    assert type(system.token.balanceOf(alice)) is int
    withdrawn = [args for name, args in result["events"][-1] if name == "Withdrawn"]
    assert [w["account"] for w in withdrawn] == ["alice"]
    alice_margin = result["final"][0][1]
    assert 0 <= alice_margin < system.precision  # alice withdrew all but dust
    print(f"\nape scenario: deploy + {len(result['events'])} transactions and their checks in {elapsed:.1f}s")

    # snapshots restore state and time
    chain = system.chain
    sid = chain.snapshot()
    inner = chain.snapshot()  # no block in between: still distinct
    chain.advance(120)
    system.set_price(BTC, 90_000)
    assert chain.time == result["time"] + 120
    chain.revert(inner)
    assert chain.time == result["time"]
    assert system.engine.market_state(BTC) == state
    with pytest.raises(ValueError):
        chain.revert(inner)
    chain.revert(sid)
    assert system.engine.market_state(BTC) == state

    bob = chain.accounts["bob"]
    # events: decoded like the pyrevm chain's (name, args with plain values, e["key"])
    fill = system.trade(bob, BTC, wad("0.01"))
    [event] = [e for e in system.chain.last_receipt.logs if e.name == "PositionModified"]
    assert event["account"] == bob and event["fill_price"] == fill and type(event.args) is dict
    assert system.chain.last_receipt.success and system.chain.last_receipt.gas_used > 21_000


def test_same_numbers_on_both_backends(ape_backend: Any) -> None:
    t0 = _start_time()
    on_ape = scenario(System.deploy(default_params(), timestamp=t0, backend="ape"), t0)
    on_revm = scenario(System.deploy(default_params(), timestamp=t0), t0)
    gas = on_ape.pop("gas_open"), on_revm.pop("gas_open")
    for key in on_revm:
        assert on_ape[key] == on_revm[key], key
    # py-evm (Prague) and revm (Cancun) charge a small-calldata trade the same, to the unit
    assert gas[0] == gas[1] > 21_000, gas


def test_fuzz_machine_on_ape(ape_backend: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VYPERP_BACKEND", "ape")
    from vyperp.fuzz.machine import ProtocolMachine, shared_system

    started = time.perf_counter()
    system = shared_system()
    assert type(system.chain).__name__ == "ApeChain"
    deployed = time.perf_counter() - started

    class OnApe(ProtocolMachine.TestCase):  # type: ignore[name-defined, misc]
        # a subclass: ProtocolMachine.TestCase itself is shared with test_fuzz_protocol.py
        settings = settings(max_examples=3, stateful_step_count=10, deadline=None)

    steps_before = getattr(ProtocolMachine, "steps_run", None)
    started = time.perf_counter()
    OnApe("runTest").runTest()
    elapsed = time.perf_counter() - started
    steps = None if steps_before is None else ProtocolMachine.steps_run - steps_before
    rate = f", {steps / elapsed:.2f} steps/s ({steps} steps)" if steps else ""
    print(f"\nfuzz on ape: setup {deployed:.1f}s, 3 examples x 10 steps in {elapsed:.1f}s{rate}")
    # every example ran in a snapshot and was reverted: the shared system is as deployed
    ledger = system.ledger([*system.traders, system.keeper, system.lp, system.outsider])
    assert ledger.held == ledger.booked
    assert all(system.size_of(t, m) == 0 for t in system.traders for m in (BTC, ETH))


def test_structs_and_events_are_the_same_on_every_backend(ape_backend: Any) -> None:
    """A struct-returning call and an event on the embedded chain, on ape and (when the
    anvil binary is there) on anvil: the very same named tuple type, field names and
    values; events with the same names and args by name."""
    from pathlib import Path

    from vyperp.chain import Chain
    from vyperp.chain.ape_chain import ApeChain
    from vyperp.chain.node import AnvilNode, AnvilNotFound, find_anvil

    counter_source = Path(__file__).parent / "chain_fixtures" / "Counter.vy"
    t0 = _start_time()
    chains: dict[str, Any] = {"revm": Chain(timestamp=t0), "ape": ApeChain(timestamp=t0)}
    node = None
    try:
        find_anvil()
    except AnvilNotFound:
        pass
    else:
        from vyperp.chain.rpc_chain import RpcChain

        node = AnvilNode().start()
        chains["anvil"] = RpcChain(node.url, timestamp=t0, reset=True)
    try:
        seen: dict[str, Any] = {}
        for name, chain in chains.items():
            alice = chain.new_account("alice", eth=10**21)
            counter = chain.deploy(counter_source, 5, sender=alice)
            old = counter.set_count(11, "hello", sender=alice)
            events = chain.last_receipt.logs
            own = counter.decode_logs(chain.last_receipt)
            info = counter.info()
            now = counter.now()
            seen[name] = (alice, counter, old, events, own, info, now)
        info_type = type(seen["revm"][5])
        assert info_type._fields == ("count", "owner", "flag", "delta")
        for name, (alice, counter, old, events, own, info, now) in seen.items():
            assert type(info) is info_type, name  # the very same type
            assert info == info_type(count=11, owner=alice, flag=True, delta=-5), name
            assert (info.count, info.owner, info.flag, info.delta) == (11, alice, True, -5), name
            assert old == 5 and now == (t0, now[1], chains[name].chain_id), name
            assert [e.name for e in events] == ["CountChanged"] and own == events, name
            [event] = events
            assert list(event.args) == ["who", "old", "new", "note"], name
            assert event.args == {"who": alice, "old": 5, "new": 11, "note": "hello"}, name
            assert event["who"] == alice and event.address == counter.address, name
    finally:
        if node is not None:
            chains["anvil"].close()
            node.stop()


def test_equal_timestamps_only_on_our_connection(ape_backend: Any) -> None:
    """Two transactions in consecutive blocks at one block time work on ApeChain's
    connection; py-evm's own VM classes are untouched (another py-evm chain in the same
    process still rejects an equal timestamp)."""
    from pathlib import Path

    from eth.vm.base import VM
    from eth_tester import PyEVMBackend
    from eth_utils import ValidationError

    from vyperp.chain.ape_chain import ApeChain

    t0 = _start_time()
    chain = ApeChain(timestamp=t0)
    alice = chain.new_account("alice", eth=10**21)
    counter = chain.deploy(Path(__file__).parent / "chain_fixtures" / "Counter.vy", 1, sender=alice)
    block = chain.block_number
    counter.set_count(2, sender=alice)
    counter.set_count(3, sender=alice)
    assert chain.block_number == block + 2 and counter.last_ts() == t0 == counter.now()[0]
    assert VM.__dict__["validate_header"].__func__.__module__ == "eth.vm.base"
    assert all(
        vm.__module__ == "vyperp.chain.ape_chain" for _, vm in type(chain.provider.evm_backend.chain).vm_configuration
    )

    other = PyEVMBackend()  # a plain eth-tester chain
    head = other.chain.get_canonical_head()
    other.chain.header = other.chain.header.copy(timestamp=head.timestamp)
    with pytest.raises(ValidationError, match="strictly later than parent"):
        other.mine_blocks()
