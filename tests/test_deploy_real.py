"""A deployment that names a real collateral token and real price feeds deploys no test double;
with test doubles off, a missing address is a clear error (nothing half-deployed is used)."""

from __future__ import annotations

import dataclasses

import pytest

from vyperp.chain import Chain
from vyperp.protocol.deploy import DeployError, deploy_embedded, deploy_protocol, oracle_answer
from vyperp.protocol.params import MarketParams, ProtocolParams


def _existing(chain: Chain, owner: str, decimals: int = 6, feed_decimals: int = 8):
    """A token and a feed deployed beforehand, standing in for USDC and a Chainlink feed."""
    token = chain.deploy("TestToken", "USD Coin", "USDC", decimals, sender=owner)
    feed = chain.deploy("MockOracle", feed_decimals, "BTC / USD", owner, sender=owner)
    feed.push_round(oracle_answer(100_000, feed_decimals), 0, sender=owner)
    return token, feed


def test_named_token_and_feed_are_used_and_no_mock_is_deployed() -> None:
    chain = Chain()
    owner = chain.new_account("owner", eth=10**21)
    token, feed = _existing(chain, owner, decimals=6)
    params = ProtocolParams(
        markets=[MarketParams(oracle=feed.address)], token_decimals=18, collateral_token=token.address
    )
    admin = chain.new_account("admin", eth=10**21)
    names: list[str] = []

    def deploy(name: str, *args):
        names.append(name)
        return chain.deploy(name, *args, sender=admin)

    protocol = deploy_protocol(deploy, params, admin, admin, at=chain.at, mocks=False)
    assert names == ["MarketConfigurator", "EngineAdmin", "Engine", "LiquidityPool", "EngineLens", "OrderBook"]
    assert protocol.token.address == token.address and protocol.oracles[0].address == feed.address
    assert int(protocol.engine.market_config(0).oracle, 16) == int(feed.address, 16)
    assert int(protocol.pool.decimals()) == 6  # read from the token, not token_decimals
    assert protocol.engine.index_price(0) == 100_000 * 10**18
    assert protocol.record() == {
        "token_decimals": 6,
        "oracle_decimals": {"BTC": 8},
        "mocks": {"token": False, "oracles": {"BTC": False}},
    }


def test_the_record_names_the_test_doubles() -> None:
    protocol = deploy_embedded(Chain(), ProtocolParams(token_decimals=18))
    assert protocol.record() == {
        "token_decimals": 18,
        "oracle_decimals": {"BTC": 8},
        "mocks": {"token": True, "oracles": {"BTC": True}},
    }


@pytest.mark.parametrize("missing", ["token", "feed"])
def test_without_mocks_a_missing_address_is_an_error(missing: str) -> None:
    chain = Chain()
    owner = chain.new_account("owner", eth=10**21)
    token, feed = _existing(chain, owner)
    params = ProtocolParams(
        markets=[MarketParams(oracle=None if missing == "feed" else feed.address)],
        collateral_token=None if missing == "token" else token.address,
    )
    nonce = chain.get_nonce(owner)
    with pytest.raises(DeployError, match="mocks are off"):
        deploy_embedded(chain, params, mocks=False)
    assert chain.get_nonce(owner) == nonce


def test_feed_decimals_must_match_the_parameters() -> None:
    chain = Chain()
    owner = chain.new_account("owner", eth=10**21)
    token, feed = _existing(chain, owner, feed_decimals=18)
    params = ProtocolParams(
        markets=[dataclasses.replace(MarketParams(), oracle=feed.address)], collateral_token=token.address
    )
    with pytest.raises(DeployError, match="18 decimals"):
        deploy_embedded(chain, params, mocks=False)


def test_a_malformed_address_in_the_parameters_is_a_clear_error(tmp_path) -> None:
    from vyperp.protocol.params import load_params

    with pytest.raises(ValueError, match="oracle must be a 0x-prefixed 20-byte address"):
        MarketParams(oracle="0x1234")
    path = tmp_path / "p.toml"
    path.write_text('collateral_token = "usdc"\n[[markets]]\nsymbol = "BTC"\n')
    with pytest.raises(ValueError, match="collateral_token must be a 0x-prefixed 20-byte address"):
        load_params(path)
