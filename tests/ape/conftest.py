"""Per-contract unit tests the ape way: ape's pytest plugin and its fixtures (`accounts`,
`project`, `chain`, `networks`), contracts compiled by ape-vyper from `vyperp/contracts`
(ape-config.yaml) and deployed with `project.<Name>.deploy(...)`, `ape.reverts` for revert
reasons, ape's event assertions, ape's per-test isolation (every test starts from the
session's deployment: ape snapshots after the session fixtures and restores after each test).

    ape test tests/ape                                    # ethereum:local:test (eth-tester)
    ape test tests/ape --network ethereum:local:foundry   # anvil (node_modules/.bin on PATH)
    ape test tests/ape --gas                              # and a gas table at the end

The protocol is deployed by the same sequence as everywhere else
(`vyperp.protocol.deploy.deploy_protocol`, here with ape's deploy function), on one BTC
market without a skew premium and without an interest rate, so that fills are at the
oracle's price, funding is zero and every balance below is a number worked out by hand.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from vyperp.ops.ape_build import ensure_compiled
from vyperp.protocol.deploy import Protocol, deploy_protocol
from vyperp.protocol.params import MarketParams, ProtocolParams

# ape-vyper compiles with the `vyper` on PATH when it is the installed package's version
# (else it would fetch one through vvm): put this interpreter's bin directory (the venv's
# vyper 0.4.3) first, also when `.venv/bin/python -m pytest` runs without an activated venv.
_BIN = str(Path(sys.executable).parent)
if _BIN not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = _BIN + os.pathsep + os.environ.get("PATH", "")

DECIMALS = 6
UNIT = 10**DECIMALS  # one token
PRECISION = 10**12  # the engine's 1e18 internal unit per token unit
WAD = 10**18
BTC = 0


def usd(amount: float | int) -> int:
    """USD -> the engine's 1e18 fixed point (exact for the decimal literals used here)."""
    from decimal import Decimal

    return int(Decimal(str(amount)) * WAD)


def params() -> ProtocolParams:
    return ProtocolParams(
        markets=[
            MarketParams(
                symbol="BTC",
                initial_price=100_000.0,
                max_premium=0.0,  # mark = index: fills at the oracle price
                interest_rate=0.0,  # with no premium either: funding rate 0
                taker_fee=0.0005,
                maker_fee=0.0002,
            )
        ],
        token_decimals=DECIMALS,
    )


@pytest.fixture(scope="session")
def admin(accounts: Any) -> Any:
    return accounts[0]


@pytest.fixture(scope="session")
def feeder(accounts: Any) -> Any:
    return accounts[1]


@pytest.fixture(scope="session")
def alice(accounts: Any) -> Any:
    return accounts[2]


@pytest.fixture(scope="session")
def keeper(accounts: Any) -> Any:
    return accounts[3]


@pytest.fixture(scope="session")
def lp(accounts: Any) -> Any:
    return accounts[4]


@pytest.fixture(scope="session")
def outsider(accounts: Any) -> Any:
    return accounts[5]


@pytest.fixture(scope="session")
def protocol(project: Any, admin: Any, feeder: Any) -> Protocol:
    """The whole protocol, deployed once per session through ape's contract containers
    (compiled afresh first unless ape's cache is of the current sources: ape's own check
    misses edits to the Engine's modules, see vyperp.ops.ape_build)."""
    ensure_compiled(project)

    def deploy(name: str, *args: Any) -> Any:
        return getattr(project, name).deploy(*args, sender=admin)

    return deploy_protocol(deploy, params(), admin, feeder, at=lambda name, address: getattr(project, name).at(address))


@pytest.fixture(scope="session")
def token(protocol: Protocol) -> Any:
    return protocol.token


@pytest.fixture(scope="session")
def engine(protocol: Protocol) -> Any:
    return protocol.engine


@pytest.fixture(scope="session")
def pool(protocol: Protocol) -> Any:
    return protocol.pool


@pytest.fixture(scope="session")
def configurator(protocol: Protocol) -> Any:
    return protocol.configurator


@pytest.fixture(scope="session")
def btc_oracle(protocol: Protocol) -> Any:
    return protocol.oracles[BTC]


@pytest.fixture(scope="session")
def fund(token: Any, admin: Any) -> Callable[[Any, Any, int], None]:
    """fund(account, spender, tokens): mint `tokens` whole tokens to `account` and let `spender` pull them."""

    def fund_(account: Any, spender: Any, tokens: int) -> None:
        token.mint(account, tokens * UNIT, sender=admin)
        token.approve(spender, tokens * UNIT, sender=account)

    return fund_


@pytest.fixture(scope="session")
def set_price(btc_oracle: Any, feeder: Any) -> Callable[[int], Any]:
    """set_price(usd): the feeder pushes a BTC round at the current block time."""

    def set_price_(price: int) -> Any:
        return btc_oracle.push_round(price * 10**8, 0, sender=feeder)

    return set_price_


def books_balance(token: Any, engine: Any, accounts: list[Any]) -> bool:
    """The engine's identity: tokens held == margins + pool balance + insurance (to the wei)."""
    margins = sum(int(engine.margin(a)) for a in accounts)
    held = int(token.balanceOf(engine)) * PRECISION
    return held == margins + int(engine.pool_balance()) + int(engine.insurance_fund())


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Name the network the tests ran on (tests/test_ape_test_cli.py checks it)."""
    from ape import networks

    provider = networks.active_provider
    if provider is not None and provider.is_connected:
        terminalreporter.write_line(f"ape network: {provider.network_choice}, chain id {provider.chain_id}")
