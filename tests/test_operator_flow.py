"""The operator flow on a public-node stand-in, through the CLI, signing with keys.

anvil sits behind `vyperp.chain.public_node.PublicNode`'s proxy (anvil_*, evm_*,
eth_sendTransaction, eth_accounts refused; a real base fee; wall-clock time); every
step talks only to the proxy, and the test fails if anything asked for a refused method.
Keys are anvil's default-mnemonic accounts: deployer (0, also the traders' funder, via an
environment variable), feeder (1) and keeper (2) from keystore files in tmp_path.

deploy (a SigningChain, mocks) -> `vyperp traders` (leveraged longs on a small pool, then
two big shorts) -> `vyperp feed` the first half of crash-30pct's fall -> `vyperp keeper`
liquidates the longs -> the keeper stops -> another long opens and the fall goes on ->
the keeper restarts from its state in the default place (.vyperp/keeper/...), resumes at
its cursor (each event counted once: no re-scan, no gap), liquidates the new long and runs
ADL on the shorts whose profit outgrew the pool; at the end nothing is liquidatable and its
book equals the chain's positions.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from vyperp.chain.keys import DEFAULT_MNEMONIC, mnemonic_signer, write_keystore
from vyperp.chain.node import AnvilNotFound, find_anvil
from vyperp.chain.public_node import PublicNode
from vyperp.chain.signing_chain import SigningChain
from vyperp.cli import main
from vyperp.ops.keeper import TRACKED_EVENTS, default_state_path
from vyperp.ops.signed_deploy import deploy_with_keys
from vyperp.protocol.deploy import deploy_embedded

from .conftest import BTC, default_params

try:
    find_anvil()
    HAVE_ANVIL = True
except AnvilNotFound:  # pragma: no cover - only without the npm install
    HAVE_ANVIL = False

pytestmark = pytest.mark.skipif(not HAVE_ANVIL, reason="anvil not installed")
PASSWORD_ENV = "VYPERP_TEST_KEYSTORE_PASSWORD"
FUNDER_ENV = "VYPERP_TEST_FUNDER_KEY"


def _cli(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _deploy(node: PublicNode, tmp_path: Path) -> tuple[dict[str, Any], Path]:
    deployer, feeder = mnemonic_signer(DEFAULT_MNEMONIC, 0), mnemonic_signer(DEFAULT_MNEMONIC, 1)
    manifest, chain, _ = deploy_with_keys(node.url, default_params(), deployer, feeder)
    path = tmp_path / "deployment.json"
    path.write_text(json.dumps(manifest))
    chain.close()
    return manifest, path


def _events(chain: SigningChain, engine: Any, lo: int, hi: int) -> int:
    specs = engine.contract_type.events_by_name
    topics = ["0x" + specs[name].topic0.hex() for name in TRACKED_EVENTS]
    logs = chain.rpc(
        "eth_getLogs", {"address": engine.address, "fromBlock": hex(lo), "toBlock": hex(hi), "topics": [topics]}
    )
    return len(logs)


def test_deploy_feed_traders_keeper_restart_through_a_public_node(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the keeper's default state directory goes here
    monkeypatch.setenv(PASSWORD_ENV, "correct horse")
    monkeypatch.setenv(FUNDER_ENV, "0x" + mnemonic_signer(DEFAULT_MNEMONIC, 0).key.hex())
    feeder_ks = write_keystore(
        mnemonic_signer(DEFAULT_MNEMONIC, 1), tmp_path / "feeder.json", "correct horse", iterations=2**4
    )
    keeper_signer = mnemonic_signer(DEFAULT_MNEMONIC, 2)
    keeper_ks = write_keystore(keeper_signer, tmp_path / "keeper.json", "correct horse", iterations=2**4)

    with PublicNode() as node:
        manifest, manifest_path = _deploy(node, tmp_path)
        common = ["--manifest", str(manifest_path), "--rpc-url", node.url]
        funder = [*common, "--key-env", FUNDER_ENV, "--dev-mnemonic", "--market", "BTC"]
        feeder = [*common, "--keystore", str(feeder_ks), "--password-env", PASSWORD_ENV, "--scenario", "crash-30pct"]
        keeper = [*common, "--keystore", str(keeper_ks), "--password-env", PASSWORD_ENV, "--interval", "0"]

        # ---- the population: a 25k pool, four 8-9x longs, two big shorts
        _cli(
            "traders",
            *funder,
            "--lp-usd",
            "25000",
            "--first-index",
            "10",
            "--count",
            "4",
            "--leverage",
            "9,8",
            "--margin-usd",
            "2000",
        )
        _cli("traders", *funder, "--first-index", "20", "--count", "2", "--leverage", "-5,-2", "--margin-usd", "20000")
        again = _cli(
            "traders", *funder, "--first-index", "20", "--count", "2", "--leverage", "-5,-2", "--margin-usd", "20000"
        )
        assert again.count("already open") == 2  # a re-run opens nothing twice

        chain = SigningChain(node.url)
        engine = chain.at("Engine", manifest["addresses"]["engine"])
        lens = chain.at("EngineLens", manifest["addresses"]["lens"])
        oracle = chain.at("MockOracle", manifest["addresses"]["oracles"]["BTC"])
        longs = [mnemonic_signer(DEFAULT_MNEMONIC, i).address for i in range(10, 14)]
        shorts = [mnemonic_signer(DEFAULT_MNEMONIC, i).address for i in (20, 21)]
        traders = longs + shorts
        assert all(int(engine.position(a, BTC).size) > 0 for a in longs)
        assert all(int(engine.position(a, BTC).size) < 0 for a in shorts)

        def liquidatable(accounts: list[str]) -> set[str]:
            return {accounts[int(i)] for i, _, _ in lens.liquidatable_accounts(accounts)}

        # ---- the first half of the fall (points 60..71 of crash-30pct, rebased to 100k)
        out = _cli("feed", *feeder, "--start-round", "60", "--rounds", "12", "--interval", "0")
        assert "pushed 12 rounds (0 refused); next path point 72" in out
        assert int(oracle.latestRoundData()[0]) == 1 + 12  # every round landed
        assert liquidatable(traders) == set(longs)
        dry = _cli("keeper", *keeper, "--max-polls", "1", "--dry-run", "--state", str(tmp_path / "dry.json"))
        assert "dry run:" in dry and "Engine.liquidate_many" in dry  # reported ...
        assert liquidatable(traders) == set(longs)  # ... not sent

        # ---- the keeper liquidates, saves its state in the default place, stops
        _cli("keeper", *keeper, "--max-polls", "2", "--batch-size", "3")
        state_path = tmp_path / default_state_path(chain.chain_id, engine.address)
        state = json.loads(state_path.read_text())
        assert state["stats"]["liquidated"] >= 4 and state["stats"]["liquidate_txs"] >= 2
        assert not liquidatable(traders) & set(longs)
        first_cursor = state["cursor"]
        assert int(engine.margin(keeper_signer.address)) > 0  # the keeper's rewards

        # ---- while it is down: a new 9x long, and the rest of the fall (points 72..89)
        _cli("traders", *funder, "--first-index", "30", "--count", "1", "--leverage", "9", "--margin-usd", "2000")
        late = mnemonic_signer(DEFAULT_MNEMONIC, 30).address
        traders.append(late)
        out = _cli("feed", *feeder, "--start-round", "72", "--rounds", "18", "--interval", "0", "--log-level", "INFO")
        assert "pushed 18 rounds (0 refused)" in out
        assert re.search(r"BTC round \d+: \d{2},\d{3}\.\d{2} USD", out), out  # human prices
        assert late in liquidatable(traders)
        short_sizes = {a: int(engine.position(a, BTC).size) for a in shorts}

        # ---- restarted: resumes at its cursor, liquidates the late long, deleverages the shorts
        _cli("keeper", *keeper, "--max-polls", "3", "--batch-size", "3")
        state = json.loads(state_path.read_text())
        assert state["cursor"] > first_cursor and state["stats"]["rescans"] == 0
        start = manifest["block_number"]
        assert state["stats"]["events"] == _events(chain, engine, start, state["cursor"])  # each event once
        assert state["stats"]["adl_closed"] >= 1
        assert any(abs(int(engine.position(a, BTC).size)) < abs(short_sizes[a]) for a in shorts)
        assert not liquidatable(traders)
        on_chain = {a: int(engine.position(a, BTC).size) for a in traders}
        assert {a: int(s) for a, ms in state["positions"].items() for s in ms.values()} == {
            a: s for a, s in on_chain.items() if s
        }
        chain.close()
        assert node.refused == [], f"asked a public node for {node.refused}"


def test_cli_errors_are_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ks = write_keystore(mnemonic_signer(DEFAULT_MNEMONIC, 2), tmp_path / "k.json", "right", iterations=2**4)
    manifest = tmp_path / "m.json"
    manifest.write_text(
        json.dumps({"chain_id": 31337, "addresses": {"engine": "0x" + "11" * 20, "lens": "0x" + "22" * 20}})
    )
    monkeypatch.setenv(PASSWORD_ENV, "wrong")
    monkeypatch.delenv("VYPERP_TEST_MISSING_KEY", raising=False)
    runner = CliRunner()
    cases = {
        "wrong password for keystore": ["--keystore", str(ks), "--password-env", PASSWORD_ENV],
        "VYPERP_TEST_MISSING_KEY is not set": ["--key-env", "VYPERP_TEST_MISSING_KEY"],
        "cannot reach the JSON-RPC node at http://127.0.0.1:9": [
            "--key-env",
            FUNDER_ENV,
            "--rpc-url",
            "http://127.0.0.1:9",
        ],
    }
    monkeypatch.setenv(FUNDER_ENV, "0x" + mnemonic_signer(DEFAULT_MNEMONIC, 0).key.hex())
    for message, args in cases.items():
        for command in ("keeper", "feed"):
            result = runner.invoke(
                main,
                [command, "--manifest", str(manifest), *args, "--scenario", "crash-30pct"][
                    : None if command == "feed" else -2
                ],
            )
            assert result.exit_code == 1 and message in result.output, (command, result.output)
            assert "Traceback" not in result.output


def test_ape_run_feed_and_keeper_sign_with_an_ape_account(tmp_path: Path) -> None:
    """`ape run feed|keeper --network ethereum:local:foundry --account TEST::0`: ape connects
    (ape-foundry to the running anvil, APE_FOUNDRY_HOST) and its test account signs."""
    import os
    import subprocess
    import sys

    ape = Path(sys.executable).parent / "ape"
    if not ape.is_file():
        pytest.skip("ape executable not found")
    root = Path(__file__).resolve().parents[1]
    with PublicNode() as node:
        admin = mnemonic_signer(DEFAULT_MNEMONIC, 0)  # ape's TEST::0 (the same default mnemonic)
        chain = SigningChain(node.url, [admin])
        start = chain.block_number + 1
        protocol = deploy_embedded(chain, default_params(), admin=admin.address, feeder=admin.address)
        manifest = tmp_path / "m.json"
        manifest.write_text(
            json.dumps(
                {
                    "chain_id": chain.chain_id,
                    "block_number": start,
                    "feeder": admin.address,
                    "addresses": protocol.addresses(),
                    "market_ids": {"BTC": 0, "ETH": 1},
                }
            )  # fmt: skip
        )
        env = dict(os.environ, APE_FOUNDRY_HOST=node.anvil_url, COLUMNS="200")
        env["PATH"] = f"{ape.parent}{os.pathsep}{env.get('PATH', '')}"
        network = ["--network", "ethereum:local:foundry", "--account", "TEST::0", "--manifest", str(manifest)]
        feed = subprocess.run(
            [str(ape), "run", "feed", *network, "--scenario", "crash-30pct", "--rounds", "3", "--interval", "0"],
            cwd=root, env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert feed.returncode == 0, feed.stdout + feed.stderr
        assert "pushed 3 rounds (0 refused)" in feed.stdout and "BTC round 4: " in feed.stdout
        assert int(protocol.oracles[BTC].latestRoundData()[0]) == 4
        state = tmp_path / "keeper.json"
        keeper = subprocess.run(
            [str(ape), "run", "keeper", *network, "--max-polls", "1", "--interval", "0", "--state", str(state)],
            cwd=root, env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert keeper.returncode == 0, keeper.stdout + keeper.stderr
        assert json.loads(state.read_text())["stats"]["polls"] == 1
        chain.close()
