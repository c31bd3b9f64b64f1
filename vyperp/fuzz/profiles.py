"""Hypothesis profiles shared by pytest (tests/conftest.py) and `vyperp fuzz`.

- ci: bounded to fit CI comfortably; derandomized (same examples every run), no shrinking
  of passing runs is needed and failures still shrink for a readable replay.
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


SUPPRESSED: list[HealthCheck] = []
"""Health checks left on: every one (none has to be suppressed for the state machine)."""


def register() -> None:
    for name, options in PROFILES.items():
        settings.register_profile(name, deadline=None, suppress_health_check=SUPPRESSED, **options)
