"""The stateful protocol fuzzer (vyperp.fuzz.machine) under pytest; profile from
HYPOTHESIS_PROFILE (ci by default; `campaign` for long runs via `vyperp fuzz`)."""

from __future__ import annotations

from hypothesis import settings

from vyperp.fuzz.machine import ProtocolMachine

TestProtocol = ProtocolMachine.TestCase
TestProtocol.settings = settings(settings.default, stateful_step_count=50)
