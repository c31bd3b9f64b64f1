"""`vyperp keeper` on anvil with funding products, from a manifest (impersonation): in one
poll it liquidates a swap-only underwater account through FundingSwaps.liquidate, fixes
the cap boundary that passed, and records the swap holders in its state file; after the
maturity a restarted keeper (resumed from that state, no re-scan) settles the matured
swap in its first poll. anvil is started and stopped by the test on loopback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from vyperp.chain.node import AnvilNode, AnvilNotFound, find_anvil
from vyperp.cli import main
from vyperp.protocol.deploy import deploy_embedded
from vyperp.protocol.system import System
from vyperp.protocol.units import wad

from .product_keeper_fixtures import BTC, T0, fund_pool, maturities, product_params, underwater_swap_holder

try:
    find_anvil()
    HAVE_ANVIL = True
except AnvilNotFound:  # pragma: no cover - only without the npm install
    HAVE_ANVIL = False

pytestmark = pytest.mark.skipif(not HAVE_ANVIL, reason="anvil not installed")


def keeper_cli(url: str, manifest: Path, state: Path) -> str:
    args = ["keeper", "--manifest", str(manifest), "--rpc-url", url, "--state", str(state)]
    result = CliRunner().invoke(main, [*args, "--max-polls", "1", "--interval", "0"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_vyperp_keeper_runs_the_products_on_anvil(tmp_path: Path) -> None:
    from vyperp.chain.rpc_chain import RpcChain

    with AnvilNode() as node:
        chain = RpcChain(node.url, timestamp=T0)
        start = chain.block_number
        system = System(chain, deploy_embedded(chain, product_params()))
        manifest = tmp_path / "manifest.json"
        manifest.write_text(
            json.dumps(
                {
                    "chain_id": chain.chain_id,
                    "block_number": start,
                    "deployer": system.admin,
                    "addresses": system.p.addresses(),
                    "market_ids": {"BTC": 0, "ETH": 1},
                    **system.p.record(),
                }
            )
        )
        state = tmp_path / "keeper.json"
        fund_pool(system)
        _, near = maturities(system)
        healthy = system.new_trader("healthy", 50_000)
        holder = underwater_swap_holder(system)
        system.swaps.open(BTC, near, wad("0.2"), wad("0.01"), sender=healthy)
        cap_start = int(system.caps.products(0).start)
        chain.set_time(cap_start)
        system.set_price(BTC, 100_000)
        system.set_price(1, 4_000)
        assert system.lens.is_liquidatable(holder) and int(system.caps.products(0).fixings) == 0

        out = keeper_cli(node.url, manifest, state)
        assert "'swap_liquidated': 1" in out and "'caps_fixed': 1" in out, out
        assert list(system.swaps.held(holder)) == [] and int(system.engine.open_markets(holder)) == 0
        assert int(system.caps.products(0).fixings) == 1
        assert int(system.caps.snapshots(0, 0)) == int(system.engine.funding_rate_index(BTC))
        saved = json.loads(state.read_text())
        assert saved["products"]["holders"] == {healthy: [[BTC, near]]}
        assert saved["products"]["caps"] == system.caps.address
        cursor = saved["cursor"]

        # past the maturity: a restarted keeper resumes from its state and settles the swap
        chain.set_time(near + 30)
        system.set_price(BTC, 100_000)
        system.set_price(1, 4_000)
        out = keeper_cli(node.url, manifest, state)
        assert "'swaps_settled': 1" in out, out
        book = system.swaps.books(BTC, near)
        assert int(book.final_time) == near + 30 and list(system.swaps.held(healthy)) == []
        saved = json.loads(state.read_text())
        assert saved["cursor"] > cursor and saved["stats"]["rescans"] == 0 and saved["products"]["holders"] == {}
        chain.close()
