"""The stateful protocol fuzzer (vyperp.fuzz.machine) under pytest; profile from
HYPOTHESIS_PROFILE (ci by default; `campaign` for long runs via `vyperp fuzz`)."""

from __future__ import annotations

import os

from hypothesis import settings

from vyperp.fuzz.machine import ProtocolMachine
from vyperp.fuzz.profiles import STEPS_PER_EXAMPLE

TestProtocol = ProtocolMachine.TestCase
TestProtocol.settings = settings(settings.default,
                                 stateful_step_count=STEPS_PER_EXAMPLE.get(os.environ.get("HYPOTHESIS_PROFILE", "ci"), 50))
