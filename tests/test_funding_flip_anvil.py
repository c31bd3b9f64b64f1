"""The funding-flip replay on anvil (issue 14): a short replay with swaps and floors on a
private anvil node on loopback (started and stopped here, as tests/test_anvil.py does)
settles swaps and caplets, and gives the embedded replay's report, time series and swap /
floor books to the wei. Also `vyperp replay --chain anvil` runs it end to end."""

from __future__ import annotations

import copy
import json
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from vyperp.chain.node import BATCH_BLOCK_GAS_LIMIT, AnvilNode, AnvilNotFound, find_anvil

try:
    find_anvil()
except AnvilNotFound as exc:  # pragma: no cover - only without the npm install
    pytest.skip(str(exc), allow_module_level=True)

from vyperp.chain.rpc_chain import RpcChain  # noqa: E402
from vyperp.sim.runner import TIMING_FIELDS, replay_and_report  # noqa: E402
from vyperp.sim.scenario import SCENARIO_DIR, parse_scenario  # noqa: E402

KW = {"traders": 60, "steps": 60, "progress": False}


def _short_scenario() -> object:
    """funding-flip with quarter-hour floorlets struck high (every one pays) and a 10 min
    TWAP, so a 60-step replay buys, fixes and claims floors and settles swaps."""
    doc = tomllib.loads((SCENARIO_DIR / "funding-flip.toml").read_text())
    doc = copy.deepcopy(doc)
    doc["population"]["funding_caps"] |= {"strike": 0.005, "period_hours": 0.25, "horizon_hours": 2, "twap_minutes": 10}
    return parse_scenario(doc)


@pytest.fixture(scope="module")
def node() -> Iterator[AnvilNode]:
    with AnvilNode(gas_limit=BATCH_BLOCK_GAS_LIMIT) as n:
        yield n


def test_funding_flip_on_anvil_settles_swaps_and_caplets(node: AnvilNode) -> None:
    sc = _short_scenario()
    embedded, report = replay_and_report(sc, **KW)
    factory = RpcChain.factory(node.url, gas_limit=30_000_000, deferred=True)
    anvil, anvil_report = replay_and_report(sc, chain_factory=factory, **KW)
    assert isinstance(anvil.chain, RpcChain)
    fs = anvil_report["funding_swaps"]
    # swaps settled into the holders' engine margins, zero-sum with the LP pool
    assert fs["stats"]["swap_opens"] > 0 and anvil.swaps.desk.moved and fs["zero_sum"] == {"residual_wei": 0}
    assert all(anvil.swaps.desk.pending(a) == 0 for a in anvil.swaps.desk.moved)
    # caplets fixed, paid and claimed; the vault's tokens conserved
    caps = fs["caps"]
    assert caps["stats"]["floor_buys"] > 0 and caps["fixings_paying"] > 0 and anvil.swaps.caps.desk.claimed
    assert caps["conservation"] == {"token_residual_wei": 0, "pnl_residual_wei": 0}
    assert anvil_report["invariant_violations"] == 0 and anvil_report["reverted_tx"] == {}
    # the same replay as on the embedded chain, to the wei
    assert {k: v for k, v in anvil_report.items() if k not in TIMING_FIELDS} == {
        k: v for k, v in report.items() if k not in TIMING_FIELDS
    }
    assert anvil.metrics.rows == embedded.metrics.rows
    assert anvil.swaps.caps.desk.log == embedded.swaps.caps.desk.log


def test_replay_command_runs_funding_flip_on_anvil(tmp_path: Path) -> None:
    from vyperp.sim.commands import replay

    out = tmp_path / "ff"
    args = ["--scenario", "funding-flip", "--chain", "anvil", "--traders", "20", "--steps", "5", "--out", str(out)]
    result = CliRunner().invoke(replay, [*args, "--no-progress"])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    assert report["steps"] == 5 and "funding_swaps" in report and (out / "counterfactual" / "report.json").exists()
