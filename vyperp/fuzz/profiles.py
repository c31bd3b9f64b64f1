"""Hypothesis profiles shared by pytest (tests/conftest.py) and `vyperp fuzz`.

- ci: bounded to fit CI comfortably; derandomized (same examples every run): under pytest by
  hypothesis's derandomize, in `vyperp fuzz` by a fixed seed per worker (FIXED_SEEDS; worker i
  runs seed + i), so every worker, not only the first, draws the same examples every run.
- campaign: long runs, many thousands of examples (`vyperp fuzz --profile campaign`).
- dev: quick local iteration.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

PROFILES = {
    "ci": dict(max_examples=60, derandomize=True),
    "dev": dict(max_examples=15),
    "campaign": dict(max_examples=5_000),
}
STEPS_PER_EXAMPLE = {"ci": 50, "dev": 30, "campaign": 80}
MACHINE_EXAMPLES = {"ci": 150}
SWAP_MACHINE_EXAMPLES = {"ci": 150}
"""Examples of the swaps-and-caps machine (vyperp.fuzz.swaps_machine) where they differ
from the profile's: its steps are heavier (every step checks two exact models)."""
FIXED_SEEDS = {"ci": 20_251_010}
"""Base seed of the profiles whose `vyperp fuzz` runs are reproducible by design."""
DATABASE_DIR = ".hypothesis/vyperp-fuzz"
"""Hypothesis example database of `vyperp fuzz` runs of the random profiles (dev, campaign):
an example that failed once is tried first the next time. The ci profile keeps none, so
that its runs stay the same whatever failed before."""
"""Examples of the protocol state machine where they differ from the profile's (which the
unit property tests use too): ci runs 150 (~25 s), enough to reach every boundary rule."""


SUPPRESSED: list[HealthCheck] = []
"""Health checks suppressed for the protocol state machine: none."""

UNIT_SUPPRESSED = [HealthCheck.function_scoped_fixture]
"""Suppressed in the profiles pytest uses for every test: only function_scoped_fixture.
Property tests such as tests/test_oracle.py's draw inputs over a deployed `system`
fixture on purpose (one deployment per test, each example isolated in a chain snapshot
by the test itself), which is what that check warns about. The state machine uses no
fixture and runs with SUPPRESSED."""


def register() -> None:
    for name, options in PROFILES.items():
        settings.register_profile(name, deadline=None, suppress_health_check=UNIT_SUPPRESSED, **options)
