"""`vyperp admin` for the funding products against a deployment on anvil (deployed with
`[swaps]` / `[caps]` parameters): FundingSwaps / FundingCaps parameters by name
(read-modify-write, old -> new in human units), list-maturity and list-product, --dry-run
(preflight, nothing sent), a sender that is not the contract's admin refused before
sending, the contract's own refusals decoded. Every change is checked on chain."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from vyperp.cli import main
from vyperp.protocol.deploy import Protocol, deploy_embedded
from vyperp.protocol.product_params import align
from vyperp.protocol.units import wad

from .product_keeper_fixtures import DAY, product_params

OUTSIDER = "0x000000000000000000000000000000000000dEaD"


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
        protocol = deploy_embedded(chain, product_params())
        manifest = {
            "chain_id": chain.chain_id,
            "block_number": 0,
            "deployer": protocol.admin,
            "addresses": protocol.addresses(),
            "market_ids": {"BTC": 0, "ETH": 1},
            **protocol.record(),
        }
        path = tmp_path_factory.mktemp("admin-products") / "manifest.json"
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


def admin(env: tuple[Any, Any, Protocol, Path], *args: str, manifest: Path | None = None) -> Result:
    node, _, _, path = env
    result = CliRunner().invoke(main, ["admin", *args, "--manifest", str(manifest or path), "--rpc-url", node.url])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def ok(result: Result) -> str:
    assert result.exit_code == 0, result.output
    return result.output


def failed(result: Result, message: str) -> None:
    assert result.exit_code == 1, result.output
    assert message in result.output, result.output
    assert "Traceback" not in result.output


def test_status_shows_the_products(env) -> None:
    _, _, p, _ = env
    out = ok(admin(env, "status"))
    assert f"FundingSwaps {p.swaps.address}" in out and f"FundingCaps {p.caps.address}" in out
    assert "bound to the engine" in out and "BTC maturities (2 listed)" in out
    assert "base_spread" in out and "0.00002" in out and "BTC sigma" in out and "0.002" in out
    _, chain, _, path = env
    ok(admin(env, "list-maturity", "ETH", "--at", str(align(chain.time + 7 * DAY)), "--yes"))
    assert "ETH maturities (1 listed)" in ok(admin(env, "status"))
    from vyperp.ops import admin as ops
    from vyperp.ops.admin_products import listed_maturities

    deployment = ops.Deployment.open(json.loads(path.read_text()), lambda m, params: chain.rpc(m, *params))
    far, near = json.loads(path.read_text())["swap_maturities"]["BTC"]
    assert listed_maturities(deployment) == {0: [far, near], 1: [align(chain.time + 7 * DAY)]}  # from the events


def test_swap_parameters_by_name_read_modify_write(env) -> None:
    _, _, p, _ = env
    swaps = p.swaps
    quote = (swaps.ema_period(), swaps.base_spread(), swaps.skew_slope(), swaps.utilisation_slope())
    out = ok(admin(env, "set", "swaps.base_spread", "0.00003", "--yes"))
    assert "0.00002" in out and "0.00003" in out and "event QuoteConfigSet" in out
    assert (swaps.ema_period(), swaps.base_spread(), swaps.skew_slope(), swaps.utilisation_slope()) == (
        quote[0],
        wad("0.00003"),
        quote[2],
        quote[3],
    )
    margin = (swaps.initial_k(), swaps.maintenance_k(), swaps.rate_floor())
    ok(admin(env, "set", "swaps.time_floor", "43200", "--yes"))
    assert swaps.time_floor() == 43_200 and (swaps.initial_k(), swaps.maintenance_k(), swaps.rate_floor()) == margin
    ok(admin(env, "set", "swaps.penalty_rate", "0.001", "--yes"))
    assert (swaps.reward_rate(), swaps.penalty_rate()) == (wad("0.0005"), wad("0.001"))
    ok(admin(env, "set", "swaps.skew_scale_fraction", "0.1", "--yes"))
    assert (swaps.skew_scale_fraction(), swaps.perp_open_interest_fraction()) == (wad("0.1"), wad("0.5"))


def test_cap_pricing_and_volatility(env) -> None:
    _, _, p, _ = env
    caps = p.caps
    ok(admin(env, "set", "caps.spread", "0.15", "--yes"))
    assert (caps.spread(), caps.min_premium()) == (wad("0.15"), wad(1))
    out = ok(admin(env, "set", "caps.volatility.eth", "0.003", "--yes"))
    assert "event VolatilitySet(market=1" in out
    assert caps.volatility(1) == wad("0.003") and caps.volatility(0) == wad("0.002")


def test_list_maturity_and_product(env) -> None:
    _, chain, p, _ = env
    now = chain.time
    out = ok(admin(env, "list-maturity", "ETH", "--days", "7", "--yes"))
    maturity = align(now + 7 * DAY)
    assert "event MaturityListed(market=1" in out and str(maturity) in out
    assert p.swaps.books(1, maturity).listed and p.swaps.maturity_count(1) == 1
    failed(admin(env, "list-maturity", "ETH", "--at", str(maturity), "--yes"), "is already listed")
    count = int(p.caps.product_count())
    out = ok(
        admin(
            env,
            "list-product",
            "ETH",
            "--kind",
            "floor",
            "--strike",
            "-0.0001",
            "--days",
            "2",
            "--periods",
            "6",
            "--max-notional",
            "250000",
            "--yes",
        )  # fmt: skip
    )
    assert "event ProductListed" in out
    product = p.caps.products(count)
    assert (product.market, product.is_floor, product.strike) == (1, True, -wad("0.0001"))
    assert (product.start, product.period, product.periods) == (align(now + 2 * DAY), 28_800, 6)
    assert product.max_notional == wad(250_000)


def test_dry_run_sends_nothing_and_reports_the_outcome(env) -> None:
    _, chain, p, _ = env
    block = chain.block_number
    out = ok(admin(env, "set", "swaps.base_spread", "0.00003", "--dry-run"))
    assert "dry run: set_quote_config would succeed; nothing sent" in out
    out = ok(admin(env, "set", "swaps.base_spread", "0.05", "--dry-run"))
    assert "would revert: Bad quote config" in out
    out = ok(admin(env, "list-product", "BTC", "--strike", "0.004", "--days", "1", "--max-notional", "1", "--dry-run"))
    assert "would revert: Strike beyond funding cap" in out
    assert chain.block_number == block and p.swaps.base_spread() == wad("0.00002")


def test_refusals_are_clear_and_send_nothing(env, tmp_path: Path) -> None:
    _, chain, p, path = env
    block = chain.block_number
    failed(admin(env, "set", "swaps.base_spread", "0.00003", "--yes", "--sender", OUTSIDER), "is not the swaps admin")
    failed(admin(env, "set", "caps.spread", "0.2", "--yes", "--sender", OUTSIDER), "is not the caps admin")
    failed(admin(env, "set", "swaps.nope", "1", "--yes"), "unknown field swaps.nope")
    failed(admin(env, "set", "swaps.time_floor", "1.5", "--yes"), "expected a whole number of seconds")
    failed(admin(env, "set", "caps.volatility.SOL", "0.1", "--yes"), "unknown market 'SOL'")
    failed(admin(env, "list-maturity", "BTC", "--yes"), "give exactly one of --at (unix time) or --days")
    assert chain.block_number == block
    failed(admin(env, "set", "swaps.base_spread", "0.05", "--yes"), "set_quote_config reverted: Bad quote config")
    failed(admin(env, "set", "caps.spread", "2", "--yes"), "set_pricing reverted: Spread beyond bound")
    assert p.swaps.base_spread() == wad("0.00002") and p.caps.spread() == wad("0.1")
    manifest = json.loads(path.read_text())
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps({**manifest, "addresses": {**manifest["addresses"], "swaps": None, "caps": None}}))
    failed(admin(env, "set", "swaps.base_spread", "0.00003", "--yes", manifest=bare), "has no FundingSwaps")
    failed(
        admin(env, "list-product", "BTC", "--strike", "0", "--days", "1", "--max-notional", "1", manifest=bare),
        "has no FundingCaps",
    )
