"""`vyperp bench --quick --skip-anvil`: writes bench.json and gas.json with every key, and
the README `bench` table renders from it (the anvil half runs in `vyperp bench` itself)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from vyperp import readme_tables
from vyperp.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_bench_quick_without_anvil(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "bench.json"
    result = CliRunner().invoke(
        main, ["bench", "--quick", "--skip-anvil", "--workers", "1", "--steps", "30", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "anvil figures skipped: --skip-anvil" in result.output
    report = json.loads(out.read_text())
    for key in (
        "gas",
        "embedded_tx_per_second",
        "embedded_ceiling_tx_per_second",
        "anvil_tx_per_second",
        "anvil_raw_batch_tx_per_second",
        "anvil_ratio",
        "fuzz_steps_per_second",
        "machine",
    ):
        assert key in report, key
    assert report["anvil_skipped"] == "--skip-anvil" and report["anvil_tx_per_second"] is None
    assert report["gas"]["open"] == report["gas"]["open_with_1000_accounts"]
    assert json.loads((tmp_path / "gas.json").read_text()) == report["gas"]
    assert report["embedded"]["ceiling_final_books_match"] and report["embedded_ceiling_tx_per_second"] > 0
    assert report["fuzz"]["invariant_violations"] == 0 and report["fuzz_steps_per_second"] > 0
    assert {"cpu_count", "platform", "python", "load_average_before"} <= set(report["machine"])
    monkeypatch.setattr(readme_tables, "REPORTS", tmp_path)
    table = readme_tables.TABLES["bench"]()
    assert "| embedded ceiling tx/s" in table and "| anvil | skipped (--skip-anvil) |" in table


@pytest.mark.parametrize(
    "name, broken, needle",
    [
        ("fuzz.json", {"interrupted": True}, "reports/fuzz.json: interrupted"),
        ("fuzz.json", {"invariant_violations": 2}, "reports/fuzz.json: invariant violations"),
        ("mutation.json", {"interrupted": True, "checked": 3}, "reports/mutation.json: interrupted, not every mutant"),
        ("sweep_bench.json", {"runs": {"1": {"failed": 1}}}, "reports/sweep_bench.json: failed replays"),
    ],
)
def test_readme_tables_refuses_figures_from_a_failed_run(tmp_path, monkeypatch, name, broken, needle):
    """Copies of the committed reports publish; one failed run among them stops everything."""
    import shutil

    reports = tmp_path / "reports"
    shutil.copytree(ROOT / "reports", reports)
    monkeypatch.setattr(readme_tables, "REPORTS", reports)
    readme = tmp_path / "README.md"
    readme.write_text((ROOT / "README.md").read_text())
    ok = CliRunner().invoke(readme_tables.readme_tables, ["--write", str(readme)])
    assert ok.exit_code == 0, ok.output
    path = reports / name
    path.write_text(json.dumps({**json.loads(path.read_text()), **broken}))
    before = readme.read_text()
    refused = CliRunner().invoke(readme_tables.readme_tables, ["--write", str(readme)])
    assert refused.exit_code == 1 and needle in refused.output and "Traceback" not in refused.output
    assert readme.read_text() == before
