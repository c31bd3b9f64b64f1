"""The stateful protocol fuzzer (vyperp.fuzz.machine) under pytest; profile from
HYPOTHESIS_PROFILE (ci by default; `campaign` for long runs via `vyperp fuzz`).

A failure ends with a note naming its seed (VYPERP_FUZZ_SEED, random unless set; the ci
profile is derandomized and needs none) and one command that replays it.
VYPERP_FUZZ_SHRINK=0 (set by the mutation check) reports the first failing example unshrunk."""

from __future__ import annotations

from vyperp.fuzz.profiles import MACHINE_EXAMPLES
from vyperp.fuzz.run import run_under_pytest


def test_protocol() -> None:
    run_under_pytest(MACHINE_EXAMPLES, "tests/test_fuzz_protocol.py")
