"""A failing program becomes a script for either machine, and from inside a group of
failures (hypothesis reports distinct failures as an ExceptionGroup, the programs on the
sub-exceptions); the replay command names the machine."""

from __future__ import annotations

from vyperp.fuzz import run as fuzz_run
from vyperp.fuzz.swaps_machine import SwapsMachine


def test_a_failure_group_writes_the_swaps_program(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(fuzz_run, "FAILURES_DIR", tmp_path)
    monkeypatch.delenv("VYPERP_CONTRACTS_DIR", raising=False)
    inner = AssertionError("swap off-model")
    inner.add_note("Falsifying example:\nstate = SwapsMachine()\nstate.time_passes(seconds=5)\nstate.teardown()")
    group = ExceptionGroup("Hypothesis found 2 distinct failures.", [inner, ValueError("other")])
    path = fuzz_run.failure_script(group, "ci-swaps", SwapsMachine)
    assert path is not None
    text = path.read_text()
    assert "from vyperp.fuzz.swaps_machine import SwapsMachine" in text
    assert text.rstrip().endswith("state.teardown()") and "state.time_passes(seconds=5)" in text


def test_the_replay_command_names_the_machine() -> None:
    assert fuzz_run.replay_command("ci", 20, 7, "swaps") == (
        "VYPERP_FUZZ_SEED=7 python -m vyperp.cli fuzz --profile ci --machine swaps --workers 1 --examples 20"
    )
    assert "--machine" not in fuzz_run.replay_command("ci", 20, 7)
