"""The stateful protocol fuzzer (vyperp.fuzz.machine) under pytest; profile from
HYPOTHESIS_PROFILE (ci by default; `campaign` for long runs via `vyperp fuzz`).

A failure ends with a note naming its seed (VYPERP_FUZZ_SEED, random unless set; the ci
profile is derandomized and needs none) and one command that replays it.
VYPERP_FUZZ_SHRINK=0 (set by the mutation check) reports the first failing example unshrunk."""

from __future__ import annotations

import os

from hypothesis import Phase, settings

from vyperp.fuzz.profiles import MACHINE_EXAMPLES, STEPS_PER_EXAMPLE, SUPPRESSED
from vyperp.fuzz.run import fuzz_seed, run_machine


def test_protocol() -> None:
    profile = os.environ.get("HYPOTHESIS_PROFILE", "ci")
    current = settings.get_profile(profile)  # registered by tests/conftest.py
    seed = fuzz_seed()
    options = dict(
        max_examples=MACHINE_EXAMPLES.get(profile, current.max_examples),
        stateful_step_count=STEPS_PER_EXAMPLE.get(profile, 50),
        deadline=current.deadline,
        suppress_health_check=SUPPRESSED,
        derandomize=current.derandomize,
        database=None,
        phases=current.phases,
    )
    if os.environ.get("VYPERP_FUZZ_SHRINK") == "0":
        # the mutation check only asks whether the suite fails: skip shrinking the failure
        options["phases"] = [p for p in current.phases if p is not Phase.shrink]
    env = "" if current.derandomize else f"VYPERP_FUZZ_SEED={seed} "
    run_machine(options, seed, f"{env}HYPOTHESIS_PROFILE={profile} python -m pytest tests/test_fuzz_protocol.py")
