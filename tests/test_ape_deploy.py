"""`ape run deploy` (scripts/deploy.py) on ape's in-process network, ethereum:local:test.

The first test drives the real CLI in subprocesses: deploy, refuse to overwrite the
manifest, and --resume on a fresh chain (each process starts an empty eth-tester chain,
so the recorded contracts have no code and resuming must fail clearly). The second runs
the command in this process, where deploy and --resume share one chain, to cover the
successful resume.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONTRACT_KEYS = ("token", "configurator", "engine", "pool", "lens", "order_book")
SYMBOLS = ("BTC", "ETH")


def _ape() -> Path:
    for candidate in (ROOT / ".venv" / "bin" / "ape", Path(sys.executable).parent / "ape"):
        if candidate.is_file():
            return candidate
    pytest.skip("ape executable not found (.venv/bin/ape)")


def _run_deploy(*args: str, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    ape = _ape()
    env = {**os.environ, **(extra_env or {})}
    # ape-vyper compiles with the `vyper` found on PATH: make it the venv's 0.4.3.
    env["PATH"] = f"{ape.parent}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("COLUMNS", "160")
    return subprocess.run(
        [str(ape), "run", "deploy", "--network", "ethereum:local:test", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,  # nobody at the terminal: a prompt fails instead of waiting
    )


def _is_address(value: object) -> bool:
    return isinstance(value, str) and value.startswith("0x") and len(value) == 42 and int(value, 16) != 0


def _check_manifest(manifest: dict) -> None:
    addresses = manifest["addresses"]
    for key in CONTRACT_KEYS:
        assert _is_address(addresses[key]), key
    assert set(addresses["oracles"]) == set(SYMBOLS)
    assert all(_is_address(a) for a in addresses["oracles"].values())
    every = [addresses[k] for k in CONTRACT_KEYS] + list(addresses["oracles"].values())
    assert len(set(every)) == len(every)

    assert manifest["ecosystem"] == "ethereum" and manifest["network"] == "local"
    assert isinstance(manifest["chain_id"], int) and manifest["chain_id"] > 0
    assert manifest["block_number"] >= 1 and manifest["last_block"] >= manifest["block_number"]
    assert _is_address(manifest["deployer"]) and manifest["feeder"] == manifest["deployer"]
    assert manifest["vyper_version"].startswith("0.4.3")
    assert manifest["deployed_at"]
    # 9 deployments (EngineAdmin included), 2 first oracle rounds, bind_engine, set_pool,
    # set_liquidation_config, set_order_book, 2 add_market
    assert manifest["transactions"] == 17

    params = manifest["params"]
    assert params["token_decimals"] == 6
    markets = {m["symbol"]: m for m in params["markets"]}
    assert [m["symbol"] for m in params["markets"]] == list(SYMBOLS)
    assert markets["BTC"]["initial_price"] == 100_000.0 and markets["ETH"]["initial_price"] == 4_000.0
    assert markets["BTC"]["brackets"][0] == {
        "notional_ceiling": 250_000.0,
        "initial_margin_rate": 0.02,
        "maintenance_margin_rate": 0.01,
    }
    assert markets["BTC"]["brackets"][-1]["notional_ceiling"] == "inf"
    tiers = [[t["margin_ratio_below"], t["close_fraction"]] for t in params["liquidation"]["tiers"]]
    assert tiers == [[1.0, 0.25], [0.75, 0.5], [0.5, 1.0]]
    assert manifest["market_ids"] == {"BTC": 0, "ETH": 1}

    # what the keeper, the feeder and `vyperp admin` read
    assert manifest["manifest_version"] == 2
    assert manifest["token_decimals"] == 6
    assert manifest["oracle_decimals"] == {"BTC": 8, "ETH": 8}
    assert manifest["mocks"] == {"token": True, "oracles": {"BTC": True, "ETH": True}}
    assert manifest["roles"] == {
        "admin": manifest["deployer"],
        "guardians": [manifest["deployer"]],
        "feeder": manifest["feeder"],
    }
    params_file = Path(manifest["params_file"])
    assert manifest["params_sha256"] == hashlib.sha256(params_file.read_bytes()).hexdigest()


def test_ape_run_deploy_cli(tmp_path: Path) -> None:
    manifest_path = tmp_path / "deployment.json"

    first = _run_deploy("--manifest", str(manifest_path))
    assert first.returncode == 0, first.stdout + first.stderr
    manifest = json.loads(manifest_path.read_text())
    _check_manifest(manifest)
    assert manifest["network_choice"] == "ethereum:local:test"
    assert manifest["addresses"]["engine"] in first.stdout  # the rich table

    again = _run_deploy("--manifest", str(manifest_path))
    assert again.returncode != 0
    assert "already exists" in again.stderr and "--resume" in again.stderr, again.stderr
    assert json.loads(manifest_path.read_text()) == manifest  # untouched

    # A new process has a fresh in-process chain: nothing is at the recorded addresses.
    resumed = _run_deploy("--manifest", str(manifest_path), "--resume")
    assert resumed.returncode != 0
    assert "no code at recorded address" in resumed.stderr, resumed.stderr
    assert manifest["addresses"]["engine"] in resumed.stderr
    assert "Deploying" not in resumed.stdout
    assert json.loads(manifest_path.read_text()) == manifest


def test_deploy_then_resume_on_one_chain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In one process deploy and --resume see the same chain: resume reports, sends nothing."""
    pytest.importorskip("ape")
    from click.testing import CliRunner

    monkeypatch.chdir(ROOT)  # ape's local project is the working directory
    monkeypatch.setenv("PATH", os.environ.get("PATH", ""))  # restored after scripts.deploy edits it
    monkeypatch.syspath_prepend(str(ROOT))
    from ape import chain, networks, project

    from scripts.deploy import cli

    manifest_path = tmp_path / "deployment.json"
    with networks.ethereum.local.use_provider("test"):
        deployed = CliRunner().invoke(cli, ["--manifest", str(manifest_path)])
        assert deployed.exit_code == 0, deployed.output
        manifest = json.loads(manifest_path.read_text())
        _check_manifest(manifest)
        engine = project.Engine.at(manifest["addresses"]["engine"])
        assert engine.market_count() == 2
        height = chain.blocks.height

        resumed = CliRunner().invoke(cli, ["--manifest", str(manifest_path), "--resume"])
        assert resumed.exit_code == 0, resumed.output
        assert "nothing deployed" in resumed.output
        assert chain.blocks.height == height  # no transaction sent
        assert json.loads(manifest_path.read_text()) == manifest
        assert manifest["rpc_url"] is None  # the in-process network has no URL

        both = CliRunner().invoke(cli, ["--manifest", str(manifest_path), "--resume", "--force"])
        assert both.exit_code != 0 and "exclude each other" in both.output
        # --force on a local network deploys again and replaces the manifest
        forced = CliRunner().invoke(cli, ["--manifest", str(manifest_path), "--force"])
        assert forced.exit_code == 0, forced.output
        assert "--force: deploying again" in forced.output
        replaced = json.loads(manifest_path.read_text())
        _check_manifest(replaced)
        assert replaced["addresses"]["engine"] != manifest["addresses"]["engine"]
        assert replaced["block_number"] > manifest["last_block"]


def test_force_is_refused_over_a_live_or_foreign_deployment() -> None:
    """Off local networks --force overwrites only a record of nothing: same chain, no code."""
    pytest.importorskip("ape")
    from scripts.deploy import force_refusal

    manifest = {"chain_id": 11155111, "addresses": {"engine": "0x" + "11" * 20, "oracles": {"BTC": "0x" + "22" * 20}}}
    live = force_refusal(manifest, 11155111, False, lambda address: 100 if address.endswith("11") else 0)
    assert live is not None and "still have code" in live and "engine at 0x1111" in live
    oracle_live = force_refusal(manifest, 11155111, False, lambda address: 100 if address.endswith("22") else 0)
    assert oracle_live is not None and "oracle:BTC" in oracle_live
    foreign = force_refusal(manifest, 1, False, lambda address: 0)
    assert foreign == "it records chain id 11155111, the connected chain is 1"
    assert force_refusal(manifest, 11155111, False, lambda address: 0) is None  # nothing left: a stale record
    assert force_refusal(manifest, 31337, True, lambda address: 100) is None  # local: ephemeral


def test_ape_run_deploy_on_anvil(tmp_path: Path) -> None:
    """`ape run deploy` unchanged on a real node: ape-foundry starts the npm-installed
    anvil (node_modules/.bin on PATH) on its own port and stops it afterwards."""
    anvil_bin = ROOT / "node_modules" / ".bin"
    if not (anvil_bin / "anvil").exists():
        pytest.skip("anvil is not installed: run WITH_ANVIL=1 scripts/bootstrap.sh")
    ape = _ape()
    manifest = tmp_path / "anvil.json"
    import socket

    with socket.socket() as probe:  # a free loopback port, not a node someone left on 8545
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = dict(os.environ, COLUMNS="160", APE_FOUNDRY_HOST=f"http://127.0.0.1:{port}")
    env["PATH"] = f"{anvil_bin}{os.pathsep}{ape.parent}{os.pathsep}{env.get('PATH', '')}"
    proc = subprocess.run(
        [str(ape), "run", "deploy", "--network", "ethereum:local:foundry", "--manifest", str(manifest)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    data = json.loads(manifest.read_text())
    _check_manifest(data)
    assert data["chain_id"] == 31337
    assert data["rpc_url"] == f"http://127.0.0.1:{port}"  # a loopback node: the keeper and admin connect here


# ape's (and anvil's) test mnemonic, account 0: funded on ethereum:local:test
TEST_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


def test_yes_signs_unattended_with_a_keyfile_account(tmp_path: Path) -> None:
    """A keyfile account prompts before every transaction; --yes unlocks it once with the
    passphrase from APE_ACCOUNTS_<alias>_PASSPHRASE and deploys with no terminal at all."""
    from eth_account import Account

    accounts_dir = tmp_path / "ape-data" / "accounts"
    accounts_dir.mkdir(parents=True)
    (accounts_dir / "deployer.json").write_text(json.dumps(Account.encrypt(TEST_KEY, "correct horse")))
    env = {"APE_DATA_FOLDER": str(tmp_path / "ape-data"), "APE_ACCOUNTS_deployer_PASSPHRASE": "correct horse"}

    prompted = tmp_path / "prompted.json"
    without = _run_deploy("--account", "deployer", "--manifest", str(prompted), extra_env=env)
    assert without.returncode != 0 and not prompted.exists(), without.stdout[-1000:] + without.stderr[-1000:]
    assert "Sign" in without.stdout + without.stderr  # ape's per-transaction prompt, unanswered

    unattended = tmp_path / "unattended.json"
    run = _run_deploy("--account", "deployer", "--yes", "--manifest", str(unattended), extra_env=env)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    manifest = json.loads(unattended.read_text())
    _check_manifest(manifest)
    assert manifest["deployer"] == Account.from_key(TEST_KEY).address


def test_ape_deploy_with_funding_products(tmp_path: Path) -> None:
    """default.toml with `[swaps]` and `[caps]` enabled: ape deploys, binds and lists them,
    and the manifest records their addresses and listings."""
    text = (ROOT / "vyperp" / "params" / "default.toml").read_text()
    params = tmp_path / "products.toml"
    params.write_text(text.replace("enabled = false", "enabled = true"))
    manifest_path = tmp_path / "m.json"
    result = _run_deploy("--params", str(params), "--manifest", str(manifest_path))
    assert result.returncode == 0, result.stdout + result.stderr
    manifest = json.loads(manifest_path.read_text())
    addresses = manifest["addresses"]
    assert _is_address(addresses["swaps"]) and _is_address(addresses["caps"])
    assert set(manifest["swap_maturities"]) == {"BTC", "ETH"} and len(manifest["swap_maturities"]["BTC"]) == 2
    assert all(t % 28_800 == 0 and t > manifest["block_timestamp"] for t in manifest["swap_maturities"]["BTC"])
    assert [p["kind"] for p in manifest["cap_products"].values()] == ["cap", "floor"]
    assert manifest["params"]["swaps"]["enabled"] is True and manifest["params"]["caps"]["volatility"]["BTC"] == 0.002
    assert "swaps" in result.stdout and "caps" in result.stdout  # the printed table names them
