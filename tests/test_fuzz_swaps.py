"""The swaps-and-caps state machine (vyperp.fuzz.swaps_machine) under pytest; profile from
HYPOTHESIS_PROFILE (ci by default, derandomized). A failure ends with a note naming its
seed and one command that replays it (`vyperp fuzz --machine swaps`), and the failing
program written as a script. VYPERP_FUZZ_SHRINK=0 (the mutation check) skips shrinking."""

from __future__ import annotations

from vyperp.fuzz.profiles import SWAP_MACHINE_EXAMPLES
from vyperp.fuzz.run import run_under_pytest
from vyperp.fuzz.swaps_machine import SwapsMachine


def test_swaps_and_caps() -> None:
    run_under_pytest(SWAP_MACHINE_EXAMPLES, "tests/test_fuzz_swaps.py", machine=SwapsMachine, label="swaps")
