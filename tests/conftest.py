"""Shared fixtures: one protocol deployed per session on the embedded chain, each test
isolated in a snapshot (reverted afterwards), role-named accounts."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest
from hypothesis import settings

from vyperp.fuzz.profiles import register as register_profiles
from vyperp.protocol.params import MarketParams, ProtocolParams
from vyperp.protocol.system import System

register_profiles()
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

BTC, ETH = 0, 1


def default_params(token_decimals: int = 6) -> ProtocolParams:
    """Two markets with one 10 %/5 % bracket, plain liquidation, a 6-decimal token."""
    return ProtocolParams(
        markets=[
            MarketParams(symbol="BTC", initial_price=100_000.0),
            MarketParams(symbol="ETH", initial_price=4_000.0),
        ],
        token_decimals=token_decimals,
    )


BACKEND = os.environ.get("VYPERP_BACKEND", "revm")


@pytest.fixture(scope="session")
def base_system() -> Iterator[System]:
    """The session's protocol: on the embedded chain, or with ``VYPERP_BACKEND=anvil`` on
    a private anvil node (RpcChain; per-test isolation by evm_snapshot/evm_revert)."""
    if BACKEND != "anvil":
        yield System.deploy(default_params())
        return
    from vyperp.chain.node import AnvilNode, AnvilNotFound

    try:
        node = AnvilNode().start()
    except AnvilNotFound as exc:
        pytest.skip(f"VYPERP_BACKEND=anvil: {exc}")
    try:
        yield System.deploy(default_params(), backend="anvil", node=node)
    finally:
        node.stop()


@pytest.fixture
def system(base_system: System) -> Iterator[System]:
    """The session's protocol, with every change of the test reverted afterwards."""
    snapshot = base_system.chain.snapshot()
    prices = list(base_system.prices)
    accounts = list(base_system.accounts)
    labels = dict(base_system.chain.accounts)
    yield base_system
    base_system.chain.revert(snapshot)
    base_system.prices = prices
    base_system.accounts = accounts
    base_system.chain.accounts.clear()
    base_system.chain.accounts.update(labels)


@pytest.fixture
def make_system() -> Callable[..., System]:
    """Factory: a fresh chain and protocol with custom parameters."""
    return System.deploy


@pytest.fixture
def outsider(system: System) -> str:
    return system.chain.new_account("outsider", eth=10**20)


@pytest.fixture
def alice(system: System) -> str:
    return system.new_trader("alice", 10_000)


@pytest.fixture
def bob(system: System) -> str:
    return system.new_trader("bob", 10_000)


@pytest.fixture
def keeper(system: System) -> str:
    return system.new_trader("keeper")


@pytest.fixture
def lp(system: System) -> str:
    account = system.new_trader("lp")
    system.mint(account, 1_000_000)
    system.pool.deposit(system.tokens(1_000_000), account, sender=account)
    return account
