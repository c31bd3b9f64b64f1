"""`vyperp admin` (vyperp/ops/admin.py, admin_commands.py) against a deployment on anvil, and
`ape run admin` (scripts/admin.py) on ape's local network.

The anvil tests deploy once per module on a private node (RpcChain, impersonation), write a
manifest, and revert to a snapshot after each test. Every change is checked on chain, not
only in the output; every refusal must leave the chain unchanged and print no traceback.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from vyperp.cli import main
from vyperp.ops import admin as ops
from vyperp.protocol.deploy import Protocol, deploy_embedded
from vyperp.protocol.params import MarketParams, ProtocolParams
from vyperp.protocol.units import WAD

ROOT = Path(__file__).resolve().parents[1]
OUTSIDER = "0x000000000000000000000000000000000000dEaD"
NEW_ADMIN = "0x00000000000000000000000000000000C0FFEE01"
ADMIN, GUARDIAN = 1, 2


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any, Protocol, Path]]:
    from vyperp.chain.node import AnvilNode, AnvilNotFound
    from vyperp.chain.rpc_chain import RpcChain

    try:
        node = AnvilNode().start()
    except AnvilNotFound as exc:
        pytest.skip(str(exc))
    try:
        chain = RpcChain(node.url)
        params = ProtocolParams(markets=[MarketParams(symbol="BTC"), MarketParams(symbol="ETH", initial_price=4_000.0)])
        protocol = deploy_embedded(chain, params)
        manifest = {
            "chain_id": chain.chain_id,
            "network_choice": "anvil",
            "block_number": 0,
            "deployer": protocol.admin,
            "addresses": protocol.addresses(),
            "market_ids": {"BTC": 0, "ETH": 1},
        }
        path = tmp_path_factory.mktemp("admin") / "manifest.json"
        path.write_text(json.dumps(manifest))
        yield node, chain, protocol, path
    finally:
        node.stop()


@pytest.fixture
def env(deployed: tuple[Any, Any, Protocol, Path]) -> Iterator[tuple[Any, Any, Protocol, Path]]:
    chain = deployed[1]
    snapshot = chain.snapshot()
    yield deployed
    chain.revert(snapshot)


def admin(
    env: tuple[Any, Any, Protocol, Path], *args: str, input: str | None = None, manifest: Path | None = None
) -> Result:
    node, _, _, path = env
    result = CliRunner().invoke(
        main, ["admin", *args, "--manifest", str(manifest or path), "--rpc-url", node.url], input=input
    )
    # an operator error is a message and exit code 1, never a traceback
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def failed(result: Result, message: str) -> None:
    assert result.exit_code == 1, result.output
    assert message in result.output, result.output
    assert "Traceback" not in result.output


# ----------------------------------------------------------------------------- reading
def test_status_reads_roles_markets_and_parameters(env) -> None:
    _, _, p, _ = env
    result = admin(env, "status")
    assert result.exit_code == 0, result.output
    out = result.output
    assert f"admin {p.admin}; pending admin (none)" in out
    assert p.admin in out and "ADMIN|GUARDIAN" in out
    assert "BTC (0)" in out and "ETH (1)" in out
    assert "100,000" in out and "4,000" in out  # index prices in USD
    assert "0.0005" in out  # taker fee as a fraction
    assert "reward_cap" in out and "1,000" in out


def test_units_round_trip() -> None:
    assert ops.parse_value("taker_fee", "uint256", "0.0006") == 6 * 10**14
    assert ops.human("taker_fee", 6 * 10**14) == "0.0006"
    assert ops.parse_value("window", "uint256", "600") == 600 and ops.human("window", 600) == "600"
    assert ops.parse_value("notional_ceiling", "uint256", "inf") == 2**256 - 1
    assert ops.parse_value("funding_model", "uint256", "velocity") == 2
    assert ops.parse_value("interest_rate", "int256", "-0.0001") == -(10**14)
    with pytest.raises(ops.AdminError, match="must not be negative"):
        ops.parse_value("taker_fee", "uint256", "-1")
    with pytest.raises(ops.AdminError, match="not a whole number"):
        ops.parse_value("window", "uint256", "1.5")
    with pytest.raises(ops.AdminError, match="expected true or false"):
        ops.parse_value("delayed_orders", "bool", "maybe")


# ----------------------------------------------------------------------------- set
def test_set_market_field_shows_old_and_new_and_applies(env) -> None:
    _, _, p, _ = env
    before = p.engine.market_config(0)
    result = admin(env, "set", "BTC.taker_fee", "0.0006", "--yes")
    assert result.exit_code == 0, result.output
    assert "0.0005" in result.output and "0.0006" in result.output
    assert "event MarketConfigUpdated(market=0" in result.output
    after = p.engine.market_config(0)
    assert after == before._replace(taker_fee=6 * 10**14)  # read-modify-write: nothing else moved
    assert p.engine.market_config(1).taker_fee == before.taker_fee


def test_set_rate_limit_risk_brackets_and_liquidation_by_name(env) -> None:
    _, _, p, _ = env
    for args in (
        ("BTC.rate_limit.max_notional", "1000000"),
        ("BTC.rate_limit.window", "600"),
        ("ETH.risk.max_multiplier", "2"),
        ("BTC.brackets", "250000:0.02:0.01,inf:0.05:0.025"),
        ("liquidation.reward_cap", "500"),
        ("liquidation.tiers", "1:0.25,0.75:0.5,0.5:1"),
    ):
        result = admin(env, "set", *args, "--yes")
        assert result.exit_code == 0, result.output
    assert tuple(p.engine.rate_limit(0)) == (600, 10**6 * WAD)
    assert p.engine.risk_config(1).max_multiplier == 2 * WAD
    assert [tuple(b) for b in p.engine.brackets_of(0)] == [
        (250_000 * WAD, WAD // 50, WAD // 100),
        (2**256 - 1, WAD // 20, WAD // 40),
    ]
    assert p.engine.liquidation_config().reward_cap == 500 * WAD
    assert [tuple(t) for t in p.engine.liquidation_tiers()] == [
        (WAD, WAD // 4),
        (3 * WAD // 4, WAD // 2),
        (WAD // 2, WAD),
    ]


def test_set_asks_for_confirmation(env) -> None:
    _, _, p, _ = env
    declined = admin(env, "set", "BTC.taker_fee", "0.0006", input="n\n")
    assert declined.exit_code == 1 and "Aborted" in declined.output
    assert p.engine.market_config(0).taker_fee == 5 * 10**14
    accepted = admin(env, "set", "BTC.taker_fee", "0.0006", input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert p.engine.market_config(0).taker_fee == 6 * 10**14


def test_a_value_the_configurator_refuses_reports_its_reason(env) -> None:
    _, _, p, _ = env
    before = p.engine.rate_limit(0)
    failed(admin(env, "set", "BTC.rate_limit.window", "600", "--yes"), "set_rate_limit reverted: Bad rate limit")
    assert p.engine.rate_limit(0) == before


@pytest.mark.parametrize(
    "args, message",
    [
        (("set", "DOGE.taker_fee", "1"), "unknown market 'DOGE' (markets: BTC, ETH)"),
        (("set", "BTC.taker_feee", "1"), "unknown field BTC.taker_feee"),
        (("set", "BTC.risk.nope", "1"), "unknown field BTC.risk.nope"),
        (("set", "liquidation.nope", "1"), "unknown field liquidation.nope"),
        (("set", "taker_fee", "1"), "unknown parameter 'taker_fee'"),
        (("set", "BTC.taker_fee", "abc"), "BTC.taker_fee: not a number"),
        (("set", "BTC.oracle", OUTSIDER), "the oracle of a listed market cannot change"),
        (("pause", "SOL"), "unknown market 'SOL'"),
        (("grant-role", "admin", OUTSIDER), "ADMIN moves only in two steps"),
        (("accept-admin",), "no admin transfer is pending"),
    ],
)
def test_operator_errors_are_clear_and_send_nothing(env, args, message) -> None:
    _, chain, _, _ = env
    block = chain.block_number
    failed(admin(env, *args, "--yes"), message)
    assert chain.block_number == block


def test_a_sender_without_the_role_gets_the_decoded_reason(env) -> None:
    _, _, p, _ = env
    failed(
        admin(env, "set", "BTC.taker_fee", "0.0006", "--yes", "--sender", OUTSIDER),
        f"set_market_config reverted: Not admin (sender {OUTSIDER} holds none)",
    )
    failed(admin(env, "pause", "BTC", "--yes", "--sender", OUTSIDER), "set_paused reverted: Not guardian")
    assert p.engine.market_config(0).taker_fee == 5 * 10**14
    assert p.engine.market_state(0).paused is False


# ----------------------------------------------------------------------------- guardian
def test_guardian_pauses_unpauses_and_settles(env) -> None:
    _, _, p, _ = env
    granted = admin(env, "grant-role", "guardian", OUTSIDER, "--yes")
    assert granted.exit_code == 0, granted.output
    assert "event RolesUpdated(account=" in granted.output and "roles=GUARDIAN" in granted.output
    assert p.configurator.roles_of(OUTSIDER) == GUARDIAN

    paused = admin(env, "pause", "eth", "--yes", "--sender", OUTSIDER)  # symbols are case-insensitive
    assert paused.exit_code == 0, paused.output
    assert "event MarketPaused(market=1, paused=True" in paused.output
    assert p.engine.market_state(1).paused is True
    again = admin(env, "pause", "ETH", "--yes", "--sender", OUTSIDER)
    assert again.exit_code == 0 and "nothing to change" in again.output
    assert admin(env, "unpause", "ETH", "--yes", "--sender", OUTSIDER).exit_code == 0
    assert p.engine.market_state(1).paused is False

    settled = admin(env, "settle", "BTC", "--price", "98500.5", "--yes", "--sender", OUTSIDER)
    assert settled.exit_code == 0, settled.output
    assert "event MarketSettled" in settled.output
    assert p.engine.settlement_price(0) == 98_500_500_000_000_000_000_000

    revoked = admin(env, "revoke-role", "guardian", OUTSIDER, "--yes")
    assert revoked.exit_code == 0, revoked.output
    assert p.configurator.roles_of(OUTSIDER) == 0
    failed(admin(env, "pause", "ETH", "--yes", "--sender", OUTSIDER), "Not guardian")


# ----------------------------------------------------------------------------- admin transfer
def test_two_step_admin_transfer_from_the_command_line(env) -> None:
    _, _, p, _ = env
    proposed = admin(env, "propose-admin", NEW_ADMIN, "--yes")
    assert proposed.exit_code == 0, proposed.output
    assert "event AdminTransferProposed" in proposed.output
    assert p.configurator.pending_admin() == NEW_ADMIN
    # the old admin cannot take the step of the new one
    failed(admin(env, "accept-admin", "--yes"), "accept_admin reverted: Not pending admin")
    accepted = admin(env, "accept-admin", "--yes", "--sender", NEW_ADMIN)
    assert accepted.exit_code == 0, accepted.output
    assert "event AdminTransferred" in accepted.output
    assert p.configurator.admin() == NEW_ADMIN
    assert p.configurator.roles_of(NEW_ADMIN) == ADMIN and p.configurator.roles_of(p.admin) == GUARDIAN
    status = admin(env, "status")
    assert f"admin {NEW_ADMIN}; pending admin (none)" in status.output
    # the old admin (the default sender) has lost its levers
    failed(admin(env, "set", "BTC.taker_fee", "0.0006", "--yes"), "Not admin")


def test_cancel_admin_transfer(env) -> None:
    _, _, p, _ = env
    assert admin(env, "propose-admin", NEW_ADMIN, "--yes").exit_code == 0
    cancelled = admin(env, "cancel-admin", "--yes")
    assert cancelled.exit_code == 0 and "event AdminTransferCancelled" in cancelled.output
    assert int(p.configurator.pending_admin(), 16) == 0
    failed(admin(env, "accept-admin", "--yes", "--sender", NEW_ADMIN), "no admin transfer is pending")


# ----------------------------------------------------------------------------- connection errors
def test_wrong_url_is_a_clear_error(env, tmp_path: Path) -> None:
    _, _, _, path = env
    result = CliRunner().invoke(main, ["admin", "status", "--manifest", str(path), "--rpc-url", "http://127.0.0.1:9"])
    failed(result, "cannot use the node at http://127.0.0.1:9")


def test_manifest_from_another_chain_or_without_code(env, tmp_path: Path) -> None:
    _, _, _, path = env
    manifest = json.loads(path.read_text())
    other = tmp_path / "other.json"
    other.write_text(json.dumps({**manifest, "chain_id": 11155111}))
    failed(admin(env, "status", manifest=other), "the manifest is for chain id 11155111, the node has chain id 31337")
    empty = tmp_path / "empty.json"
    moved = {**manifest["addresses"], "configurator": OUTSIDER}
    empty.write_text(json.dumps({**manifest, "addresses": moved}))
    failed(admin(env, "status", manifest=empty), "no code at the manifest's configurator")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    failed(admin(env, "status", manifest=broken), "not a readable manifest")


# ----------------------------------------------------------------------------- ape run admin
def test_ape_run_admin_on_the_local_network(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Deploy with scripts/deploy.py and administer with scripts/admin.py in one process (one
    ape local chain): ape signs with its test accounts, reverts come back decoded."""
    pytest.importorskip("ape")
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("PATH", os.environ.get("PATH", ""))
    monkeypatch.syspath_prepend(str(ROOT))
    from ape import accounts, networks, project

    from scripts.admin import cli as admin_cli
    from scripts.deploy import cli as deploy_cli

    path = tmp_path / "deployment.json"
    network = ["--network", "ethereum:local:test"]
    with networks.ethereum.local.use_provider("test"):
        deployed = CliRunner().invoke(deploy_cli, ["--manifest", str(path)])
        assert deployed.exit_code == 0, deployed.output
        manifest = json.loads(path.read_text())
        engine = project.Engine.at(manifest["addresses"]["engine"])
        configurator = project.MarketConfigurator.at(manifest["addresses"]["configurator"])

        def run(*args: str) -> Result:
            result = CliRunner().invoke(admin_cli, [*args, *network, "--manifest", str(path)])
            assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
            return result

        status = run("status")
        assert status.exit_code == 0, status.output
        assert manifest["deployer"] in status.output and "BTC (0)" in status.output

        changed = run("set", "BTC.taker_fee", "0.0006", "--yes")
        assert changed.exit_code == 0, changed.output
        assert "event MarketConfigUpdated" in changed.output
        assert engine.market_config(0).taker_fee == 6 * 10**14

        stranger = run("pause", "BTC", "--yes", "--account", "TEST::3")
        assert stranger.exit_code == 1 and "set_paused reverted: Not guardian" in stranger.output, stranger.output
        assert engine.market_state(0).paused is False

        new_admin = str(accounts.test_accounts[3].address)
        assert run("propose-admin", new_admin, "--yes").exit_code == 0
        accepted = run("accept-admin", "--yes", "--account", "TEST::3")
        assert accepted.exit_code == 0, accepted.output
        assert configurator.admin() == new_admin


def test_the_manifest_rpc_url_is_the_default_node(env, tmp_path: Path) -> None:
    node, _, p, path = env
    with_url = tmp_path / "with_url.json"
    with_url.write_text(json.dumps({**json.loads(path.read_text()), "rpc_url": node.url}))
    result = CliRunner().invoke(main, ["admin", "status", "--manifest", str(with_url)])
    assert result.exit_code == 0, result.output
    assert f"admin {p.admin}" in result.output


def test_status_shows_a_stale_oracle_instead_of_a_price(env) -> None:
    _, chain, _, _ = env
    chain.advance(2 * 3600)  # past max_oracle_age: the engine's index read reverts
    result = admin(env, "status")
    assert result.exit_code == 0, result.output
    assert "reverts: Oracle stale" in result.output
