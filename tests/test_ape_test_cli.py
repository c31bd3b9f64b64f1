"""`ape test` itself, as ape users run it: the ape-way unit tests (tests/ape) through ape's
CLI on ape's local network with a gas table (`--gas`), and on anvil
(`--network ethereum:local:foundry`: ape-foundry starts the npm-installed anvil found on
PATH, on a free loopback port given by APE_FOUNDRY_HOST, and stops it afterwards).

The same tests also run in this session (ape's pytest plugin is on for the suite, on
ethereum:local:test); these two runs cover the command line, the gas report and the node.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
APE_TESTS = "tests/ape"
MIN_TESTS = 16  # the tests in tests/ape today


def _ape() -> Path:
    for candidate in (ROOT / ".venv" / "bin" / "ape", Path(sys.executable).parent / "ape"):
        if candidate.is_file():
            return candidate
    pytest.skip("ape executable not found (.venv/bin/ape)")


def _run_ape_test(*args: str, extra_path: Path | None = None, env: dict[str, str] | None = None) -> str:
    ape = _ape()
    run_env = dict(os.environ, COLUMNS="160", **(env or {}))
    for var in ("PYTEST_ADDOPTS", "ANVIL_IP_ADDR"):  # no outer options; anvil on its default 127.0.0.1
        run_env.pop(var, None)
    # ape-vyper compiles with the `vyper` on PATH: the venv's 0.4.3 (and anvil, when given)
    path = [str(p) for p in (extra_path, ape.parent) if p is not None]
    run_env["PATH"] = os.pathsep.join([*path, run_env.get("PATH", "")])
    proc = subprocess.run(
        [str(ape), "test", APE_TESTS, "-p", "no:cacheprovider", *args],
        cwd=ROOT,
        env=run_env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]
    passed = re.search(r"(\d+) passed", output)
    assert passed and int(passed.group(1)) >= MIN_TESTS, output[-2000:]
    assert not re.search(r"\d+ (failed|error)", output), output[-2000:]
    return output


def test_ape_test_on_the_local_network_prints_a_gas_table() -> None:
    output = _run_ape_test("--gas")
    assert "ape network: ethereum:local:test, chain id 1337" in output, output[-2000:]
    assert "Gas Profile" in output
    for contract in ("Engine", "LiquidityPool", "MarketConfigurator", "MockOracle", "TestToken"):
        assert f"{contract} Gas" in output, contract
    # a row per method: name, times called, min, max, mean, median
    row = re.search(r"trade\(uint256,int256,uint256\)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)", output)
    assert row, output[-3000:]
    calls, low, high = (int(row.group(i)) for i in (1, 2, 3))
    assert calls >= 4 and 21_000 < low <= high


def test_ape_test_on_anvil() -> None:
    anvil_bin = ROOT / "node_modules" / ".bin"
    if not (anvil_bin / "anvil").exists():
        pytest.skip("anvil is not installed: run WITH_ANVIL=1 scripts/bootstrap.sh")
    with socket.socket() as probe:  # a free loopback port, not a node someone left on 8545
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    output = _run_ape_test(
        "--network",
        "ethereum:local:foundry",
        extra_path=anvil_bin,
        env={"APE_FOUNDRY_HOST": f"http://127.0.0.1:{port}"},
    )
    assert "ape network: ethereum:local:foundry, chain id 31337" in output, output[-2000:]
    with socket.socket() as client, pytest.raises(ConnectionRefusedError):  # ape stopped its anvil
        client.connect(("127.0.0.1", port))
