"""MarketConfigurator: who may pull which lever (ADMIN, GUARDIAN, nobody else), the events
that record each change, and that the change reaches the engine."""

from __future__ import annotations

from typing import Any

import ape

from .conftest import BTC

ADMIN, GUARDIAN = 1, 2  # roles.vy's flag Role


def test_deployer_holds_both_roles_and_the_wiring_is_final(
    configurator: Any, engine: Any, pool: Any, admin: Any, outsider: Any
) -> None:
    assert configurator.roles_of(admin) == ADMIN | GUARDIAN
    assert configurator.roles_of(outsider) == 0
    assert configurator.engine() == engine and engine.pool() == pool
    with ape.reverts("Engine already bound"):
        configurator.bind_engine(outsider, sender=admin)


def test_outsiders_pull_no_lever(configurator: Any, outsider: Any) -> None:
    with ape.reverts("Not admin"):
        configurator.set_roles(outsider, ADMIN, sender=outsider)
    with ape.reverts("Not admin"):
        configurator.set_pool(outsider, sender=outsider)
    with ape.reverts("Not admin"):
        configurator.set_order_book(outsider, sender=outsider)
    with ape.reverts("Not admin"):
        configurator.bind_engine(outsider, sender=outsider)
    with ape.reverts("Not guardian"):
        configurator.set_paused(BTC, True, sender=outsider)
    with ape.reverts("Not guardian"):
        configurator.reanchor_price(BTC, sender=outsider)
    with ape.reverts("Not guardian"):
        configurator.settle_market(BTC, 1, sender=outsider)


def test_a_guardian_pauses_but_cannot_administer(
    configurator: Any, engine: Any, admin: Any, outsider: Any, alice: Any, fund: Any
) -> None:
    guardian = outsider
    granted = configurator.set_roles(guardian, GUARDIAN, sender=admin)
    assert granted.events == [configurator.RolesUpdated(account=guardian, roles=GUARDIAN, updated_by=admin)]
    assert configurator.roles_of(guardian) == GUARDIAN

    paused = configurator.set_paused(BTC, True, sender=guardian)
    assert paused.events.filter(configurator.MarketPaused) == [
        configurator.MarketPaused(market=BTC, paused=True, guardian=guardian)
    ]
    assert engine.market_state(BTC).paused is True
    fund(alice, engine, 1_000)
    engine.deposit(1_000 * 10**6, sender=alice)
    with ape.reverts("Market paused"):  # risk-increasing trades stop at the engine
        engine.trade(BTC, 10**16, 2**256 - 1, sender=alice)
    with ape.reverts("Not admin"):
        configurator.set_pool(guardian, sender=guardian)
    with ape.reverts("Not admin"):
        configurator.set_roles(guardian, ADMIN | GUARDIAN, sender=guardian)

    configurator.set_paused(BTC, False, sender=guardian)
    assert engine.market_state(BTC).paused is False
    engine.trade(BTC, 10**16, 2**256 - 1, sender=alice)

    revoked = configurator.set_roles(guardian, 0, sender=admin)
    assert revoked.events == [configurator.RolesUpdated(account=guardian, roles=0, updated_by=admin)]
    with ape.reverts("Not guardian"):
        configurator.set_paused(BTC, True, sender=guardian)


def test_the_engine_takes_parameters_from_the_configurator_only(
    project: Any, configurator: Any, engine: Any, admin: Any, outsider: Any
) -> None:
    # the setters are EngineAdmin's code, run at the engine's address (Engine.__default__):
    # ape's contract type of the Engine has only its own functions, so call them through
    # EngineAdmin's ABI at the engine's address, as the configurator does
    setters = project.EngineAdmin.at(engine.address)
    with ape.reverts("Not configurator"):
        setters.set_paused(BTC, True, sender=admin)  # not even the admin directly
    with ape.reverts("Not configurator"):
        setters.set_pool(outsider, sender=outsider)
    with ape.reverts("Zero address"):
        configurator.set_pool(ape.utils.ZERO_ADDRESS, sender=admin)
    pool = engine.pool()
    with ape.reverts("Pool already set"):  # the engine's own reason passes through
        configurator.set_pool(outsider, sender=admin)
    assert engine.pool() == pool


def test_parameter_changes_are_logged_with_their_value(
    configurator: Any, engine: Any, admin: Any, outsider: Any
) -> None:
    before = dict(engine.market_config(BTC).items())
    changed = dict(before, taker_fee=7 * 10**14)
    with ape.reverts("Not admin"):
        configurator.set_market_config(BTC, changed, sender=outsider)
    receipt = configurator.set_market_config(BTC, changed, sender=admin)
    [event] = receipt.events.filter(configurator.MarketConfigUpdated)
    fields = [c.name for c in configurator.MarketConfigUpdated.abi.inputs[1].components]
    logged = dict(zip(fields, event.config))
    assert logged.pop("oracle").lower() == changed["oracle"].lower()  # ape decodes a struct's address unchecksummed
    assert event.market == BTC and logged == {k: v for k, v in changed.items() if k != "oracle"}  # the full new value
    assert dict(engine.market_config(BTC).items()) == changed != before
