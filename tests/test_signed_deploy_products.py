"""The signed real-network deploy (vyperp.ops.signed_deploy, local keys, a node that
refuses every anvil-only method) with funding products: FundingSwaps and FundingCaps are
deployed, bound and listed at the node's own time, the manifest records them, and
`vyperp keeper` signing with a keystore runs its products pass from that manifest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from vyperp.chain.keys import DEFAULT_MNEMONIC, mnemonic_signer, write_keystore
from vyperp.chain.node import AnvilNotFound, find_anvil
from vyperp.chain.public_node import PublicNode
from vyperp.chain.signing_chain import SigningChain
from vyperp.cli import main
from vyperp.ops.signed_deploy import deploy_with_keys
from vyperp.protocol.product_params import align

from .product_keeper_fixtures import DAY, product_params

try:
    find_anvil()
    HAVE_ANVIL = True
except AnvilNotFound:  # pragma: no cover - only without the npm install
    HAVE_ANVIL = False

pytestmark = pytest.mark.skipif(not HAVE_ANVIL, reason="anvil not installed")
PASSWORD_ENV = "VYPERP_TEST_KEYSTORE_PASSWORD"


def test_signed_deploy_with_products_and_a_signing_keeper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "correct horse")
    keeper_ks = write_keystore(
        mnemonic_signer(DEFAULT_MNEMONIC, 2), tmp_path / "keeper.json", "correct horse", iterations=2**4
    )
    with PublicNode() as node:
        deployer, feeder = mnemonic_signer(DEFAULT_MNEMONIC, 0), mnemonic_signer(DEFAULT_MNEMONIC, 1)
        manifest, chain, protocol = deploy_with_keys(node.url, product_params(), deployer, feeder)
        assert protocol.swaps is not None and protocol.caps is not None
        assert manifest["addresses"]["swaps"] == protocol.swaps.address
        assert manifest["addresses"]["caps"] == protocol.caps.address
        assert str(protocol.engine.swaps()) == protocol.swaps.address
        far, near = manifest["swap_maturities"]["BTC"]
        listed_at = int(protocol.swaps.rate_ema(0).time)  # the node's time when the books were listed
        assert near == align(listed_at + 2 * DAY)  # the last listing set the EMA's time
        assert far % 28_800 == 0 and listed_at + 30 * DAY - 60 <= far < listed_at + 30 * DAY + 28_800
        assert protocol.swaps.books(0, far).listed and protocol.swaps.books(0, near).listed
        assert manifest["cap_products"]["0"]["start"] == int(protocol.caps.products(0).start)
        path = tmp_path / "deployment.json"
        path.write_text(json.dumps(manifest))
        chain.close()
        args = ["keeper", "--manifest", str(path), "--rpc-url", node.url, "--keystore", str(keeper_ks)]
        args += [
            "--password-env",
            PASSWORD_ENV,
            "--interval",
            "0",
            "--max-polls",
            "1",
            "--state",
            str(tmp_path / "k.json"),
        ]
        result = CliRunner().invoke(main, args, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        state = json.loads((tmp_path / "k.json").read_text())
        assert (
            state["products"]["swaps"] == protocol.swaps.address and state["products"]["caps"] == protocol.caps.address
        )
        assert state["stats"]["errors"] == 0
        assert node.refused == [], f"asked a public node for {node.refused}"
        SigningChain(node.url).close()
