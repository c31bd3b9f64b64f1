"""The unit tests on anvil: a representative subset (test_trading.py, test_pool.py) run in a subprocess
with ``VYPERP_BACKEND=anvil``, so the session's `base_system` (tests/conftest.py) is
deployed on a private anvil node through RpcChain and every test is isolated by
evm_snapshot/evm_revert. Skipped only when the anvil binary is missing
(``WITH_ANVIL=1 scripts/bootstrap.sh`` installs it).

The whole set that passes on anvil (tests using `make_system`/`System.deploy` directly
stay on the embedded chain):

    VYPERP_BACKEND=anvil .venv/bin/python -m pytest tests/test_trading.py tests/test_oracle.py \\
        tests/test_access.py tests/test_pool.py tests/test_token_and_margin_account.py -p no:ape_test
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from vyperp.chain.node import AnvilNotFound, find_anvil

ROOT = Path(__file__).resolve().parents[1]
SUBSET = ["tests/test_trading.py", "tests/test_pool.py"]

try:
    find_anvil()
except AnvilNotFound as exc:  # pragma: no cover - only without the npm install
    pytest.skip(f"no anvil binary, the unit tests cannot run on anvil: {exc}", allow_module_level=True)


def test_trading_and_pool_tests_pass_on_anvil() -> None:
    env = dict(os.environ, VYPERP_BACKEND="anvil")
    env.pop("PYTEST_ADDOPTS", None)
    probe = ROOT / "tests" / "chain_fixtures" / "backend_probe.py"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            *SUBSET,
            str(probe),
            "-p",
            "no:ape_test",
            "-p",
            "no:cacheprovider",
            "-s",
            "--no-header",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]
    assert "VYPERP_PROBE_BACKEND RpcChain" in output, output[-4000:]  # really on anvil
    passed = re.search(r"(\d+) passed", output)
    assert passed and int(passed.group(1)) >= 30, output[-2000:]
    assert "failed" not in output.splitlines()[-1], output[-2000:]
