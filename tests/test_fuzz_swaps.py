"""The swaps-and-caps state machine (vyperp.fuzz.swaps_machine) under pytest; profile from
HYPOTHESIS_PROFILE (ci by default, derandomized). A failure ends with a note naming its
seed and one command that replays it (`vyperp fuzz --machine swaps`), and the failing
program written as a script. VYPERP_FUZZ_SHRINK=0 (the mutation check) skips shrinking."""

from __future__ import annotations

import os

from hypothesis import Phase, settings

from vyperp.fuzz.profiles import STEPS_PER_EXAMPLE, SUPPRESSED, SWAP_MACHINE_EXAMPLES
from vyperp.fuzz.run import fuzz_seed, run_machine
from vyperp.fuzz.swaps_machine import SwapsMachine


def test_swaps_and_caps() -> None:
    profile = os.environ.get("HYPOTHESIS_PROFILE", "ci")
    current = settings.get_profile(profile)  # registered by tests/conftest.py
    seed = fuzz_seed()
    options = dict(
        max_examples=SWAP_MACHINE_EXAMPLES.get(profile, current.max_examples),
        stateful_step_count=STEPS_PER_EXAMPLE.get(profile, 50),
        deadline=current.deadline,
        suppress_health_check=SUPPRESSED,
        derandomize=current.derandomize,
        database=None,
        phases=current.phases,
    )
    if os.environ.get("VYPERP_FUZZ_SHRINK") == "0":
        options["phases"] = [p for p in current.phases if p is not Phase.shrink]
    env = "" if current.derandomize else f"VYPERP_FUZZ_SEED={seed} "
    run_machine(
        options,
        seed,
        f"{env}HYPOTHESIS_PROFILE={profile} python -m pytest tests/test_fuzz_swaps.py",
        label=f"{profile}-swaps",
        machine=SwapsMachine,
    )
