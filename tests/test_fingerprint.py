"""The committed replay fingerprints are those of this code: fixed-seed replays give the
same report, time series and exact end state (wei) as when reports/replay_fingerprint.json
was written. A behaviour change regenerates it with `vyperp fingerprint` (and says why)."""

from __future__ import annotations

import json
from pathlib import Path

from vyperp.sim.fingerprint import SCENARIOS, differences, fingerprint, fingerprints

COMMITTED = Path(__file__).resolve().parents[1] / "reports" / "replay_fingerprint.json"


def test_fixed_seed_replays_match_the_committed_fingerprints() -> None:
    expected = json.loads(COMMITTED.read_text())
    assert tuple(expected["scenarios"]) == SCENARIOS
    diff = differences(expected, fingerprints())
    assert not diff, "behaviour changed (regenerate with `vyperp fingerprint` if intended):\n" + "\n".join(diff)


def test_the_fingerprint_sees_another_seed() -> None:
    """A different seed changes every part: the hashes are not insensitive to the run."""
    expected = json.loads(COMMITTED.read_text())["scenarios"]["crash-30pct"]
    from vyperp.sim import fingerprint as module

    original = module.replay_and_report
    module.replay_and_report = lambda name, **kw: original(name, seed=expected["seed"] + 1, **kw)
    try:
        other = fingerprint("crash-30pct")
    finally:
        module.replay_and_report = original
    assert all(other[k] != expected[k] for k in ("report_sha256", "timeseries_sha256", "end_state_sha256"))
