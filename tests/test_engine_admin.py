"""The Engine / EngineAdmin split: EngineAdmin's code (the configurator's parameter
setters) runs on the engine's storage by DELEGATECALL from Engine.__default__.
What must hold for that to be safe and invisible to callers: both contracts declare the
same storage, slot by slot; the engine refuses an EngineAdmin deployed for another
engine; reverts, events and return values come back through the engine unchanged; an
unknown selector reverts; EngineAdmin called at its own address changes nothing of the
engine's; and the ABI callers see is the union, with no selector compiled into both
except the two immutables the constructor compares.

Run: ``.venv/bin/python -m pytest tests/test_engine_admin.py -q -p no:ape_test``
"""

from __future__ import annotations

import pytest

from vyperp.chain import Reverted
from vyperp.chain.compiler import _compile_one, compile_contract, storage_layout
from vyperp.protocol.units import wad

BTC = 0


def test_engine_and_admin_declare_the_same_storage_slot_by_slot() -> None:
    engine, admin = storage_layout("Engine"), storage_layout("EngineAdmin")
    assert engine["storage_layout"] == admin["storage_layout"]
    assert engine["transient_storage_layout"] == admin["transient_storage_layout"]  # the one reentrancy lock
    # the immutables the admin's code reads (in the engine's context: the engine's own) sit
    # at the same offsets, so ledger.COLLATERAL / PRECISION and CONFIGURATOR mean the same
    shared = {k: v for k, v in engine["code_layout"].items() if k != "ADMIN"}
    assert shared == admin["code_layout"]


def test_selectors_are_disjoint_but_for_the_immutables_the_constructor_checks() -> None:
    own = {e["name"] for e in _compile_one("Engine").abi if e["type"] == "function"}
    facet = {e["name"] for e in _compile_one("EngineAdmin").abi if e["type"] == "function"}
    assert own & facet == {"CONFIGURATOR", "COLLATERAL"}
    merged = {e["name"] for e in compile_contract("Engine").abi if e["type"] == "function"}
    assert merged == own | facet
    assert {"add_market", "settle_market", "set_liquidation_config"} <= merged - own
    assert "auto_deleverage" in own  # keeper-path gas: ADL stays compiled into the engine


def test_the_engine_refuses_an_admin_deployed_for_another_engine(system) -> None:
    chain, token, configurator = system.chain, system.token, system.configurator
    other = chain.deploy("MarketConfigurator")
    stranger = chain.deploy("EngineAdmin", token, other)
    with pytest.raises(Reverted, match="Admin of another engine"):
        chain.deploy("Engine", token, configurator, stranger)
    fake_token = chain.deploy("TestToken", "x", "X", 6)
    with pytest.raises(Reverted, match="Admin of another engine"):
        chain.deploy("Engine", token, configurator, chain.deploy("EngineAdmin", fake_token, configurator))


def test_delegated_reverts_events_and_returns_come_back_through_the_engine(system, outsider) -> None:
    engine = system.engine
    with pytest.raises(Reverted, match="Not configurator"):
        engine.set_pool(outsider, sender=outsider)
    with pytest.raises(Reverted, match="Not configurator"):
        engine.settle_market(BTC, wad(90_000), sender=outsider)
    with pytest.raises(Reverted, match="ADL not needed"):
        engine.auto_deleverage(BTC, [], sender=outsider)
    with pytest.raises(Reverted, match="Settlement price too high"):  # the packed last price holds < 2**96
        system.configurator.settle_market(BTC, 2**96, sender=system.admin)
    system.configurator.settle_market(BTC, wad(90_000), sender=system.admin)
    engine_address = str(engine.address).lower()
    [settled] = [
        ev
        for ev in system.chain.last_receipt.logs
        if ev.name == "MarketSettled" and str(ev.address).lower() == engine_address  # the engine's event
    ]
    assert dict(settled.args) == {"market": BTC, "price": wad(90_000)}
    assert engine.settlement_price(BTC) == wad(90_000)  # written to the engine's storage


def test_an_unknown_selector_reverts_without_changing_anything(system, outsider) -> None:
    before = (system.engine.market_count(), system.engine.pool_balance())
    with pytest.raises(Reverted):
        system.chain.send(outsider, system.engine.address, bytes.fromhex("deadbeef") + bytes(64))
    with pytest.raises(Reverted):
        system.chain.send(outsider, system.engine.address, b"")
    assert (system.engine.market_count(), system.engine.pool_balance()) == before


def test_the_admin_at_its_own_address_is_inert(system, outsider) -> None:
    admin = system.chain.at("EngineAdmin", system.engine.ADMIN())
    with pytest.raises(Reverted, match="Not configurator"):
        admin.set_pool(outsider, sender=outsider)
    with pytest.raises(Reverted, match="Not configurator"):
        admin.reanchor_price(BTC, sender=outsider)
    assert system.engine.market_count() == 2 and system.engine.pool() == system.pool.address
