"""`vyperp fuzz` runs are reproducible, and a failure replays as printed.

* The ci profile seeds every worker (base + i): two runs give the same trace (the digest of
  everything the fuzzer did) per worker, and the printed replay command of worker 1 (one
  worker, its seed) gives worker 1's trace again; another seed gives another trace.
* A seeded bug (a mutant from vyperp.fuzz.mutation, in a copy of the contracts) makes the
  fuzzer fail; the failure names its seed and replay command, and the failing program,
  written as a script, fails the same way when run as printed.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from vyperp.fuzz import run as fuzz_run
from vyperp.fuzz.mutation import CONTRACTS, MUTANTS, apply

ROOT = Path(__file__).resolve().parents[1]


def test_ci_workers_are_all_derandomized_and_a_worker_replays_alone(monkeypatch):
    monkeypatch.delenv("VYPERP_FUZZ_SEED", raising=False)
    a, b = fuzz_run.run_fuzz("ci", 2, 4), fuzz_run.run_fuzz("ci", 2, 4)
    assert [w["trace"] for w in a["per_worker"]] == [w["trace"] for w in b["per_worker"]]
    assert len({w["trace"] for w in a["per_worker"]}) == 2  # the workers draw different examples
    worker = a["per_worker"][1]
    assert (
        worker["replay"]
        == f"VYPERP_FUZZ_SEED={worker['seed']} python -m vyperp.cli fuzz --profile ci --workers 1 --examples 2"
    )
    monkeypatch.setenv("VYPERP_FUZZ_SEED", str(worker["seed"]))
    assert fuzz_run.run_fuzz("ci", 1, 2)["per_worker"][0]["trace"] == worker["trace"]
    monkeypatch.setenv("VYPERP_FUZZ_SEED", "7")
    assert fuzz_run.run_fuzz("ci", 1, 2)["per_worker"][0]["trace"] != worker["trace"]


def test_a_failure_prints_seed_and_replay_and_its_program_runs_as_printed(tmp_path, monkeypatch):
    mutant = next(m for m in MUTANTS if m.name == "insurance-share-rounds-up")
    contracts = tmp_path / "contracts"
    shutil.copytree(CONTRACTS, contracts)
    apply(mutant, contracts)
    monkeypatch.setenv("VYPERP_CONTRACTS_DIR", str(contracts))
    monkeypatch.setenv("VYPERP_FUZZ_SEED", "3")
    monkeypatch.setattr(fuzz_run, "FAILURES_DIR", tmp_path / "failures")
    report = fuzz_run.run_fuzz("dev", 1, 40)
    assert report["invariant_violations"] == 1, "the fuzzer missed the seeded bug"
    text = report["violations"][0]
    assert "fuzz failure, seed 3; replay it with:" in text
    assert "VYPERP_FUZZ_SEED=3 python -m vyperp.cli fuzz --profile dev --workers 1 --examples 40" in text
    scripts = list((tmp_path / "failures").glob("*.py"))
    assert len(scripts) == 1 and f"python {scripts[0]}" in text
    program = scripts[0].read_text()
    assert "from vyperp.fuzz.machine import ProtocolMachine" in program and "state.teardown()" in program
    proc = subprocess.run(
        [sys.executable, str(scripts[0])],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={**__import__("os").environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode != 0, proc.stdout[-2000:]
    # the script fails with the fuzz run's own assertion
    reason = next(line for line in text.splitlines() if line.startswith("AssertionError"))
    assert reason in proc.stderr, (reason, proc.stderr[-2000:])


@pytest.fixture(autouse=True)
def _no_shared_system_leak():
    """The fuzzer's deployed systems are per contracts directory; a mutant's must not leak."""
    from vyperp.fuzz import machine

    saved = dict(machine._SYSTEMS)
    yield
    machine._SYSTEMS.clear()
    machine._SYSTEMS.update(saved)


@pytest.mark.parametrize(
    "code, output, caught",
    [
        (1, "FAILED tests/test_fuzz_protocol.py::test_protocol - AssertionError: pool balance", True),
        (0, "1 passed", False),
        (2, "!!!!!!! KeyboardInterrupt !!!!!!!", False),
        (1, "E   vyper.exceptions.SyntaxException: invalid syntax", False),
        (1, "_pytest.nodes.Collector.CollectError: ... in importtestmodule", False),
        (2, "ERROR collecting tests/test_safety.py\nInterrupted: 1 error during collection", False),
    ],
)
def test_a_mutant_counts_as_caught_only_when_a_test_failed(code, output, caught):
    from vyperp.fuzz.mutation import verdict

    assert verdict(code, output)[2] is caught
