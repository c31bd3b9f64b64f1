"""Fingerprints of fixed-seed replays: the proof that a refactor preserves behaviour.

For each scenario of :data:`SCENARIOS` (its own seed), the replay's report without its
timing fields, its time series (timeseries.csv, every column) and the exact end state
on chain (every account's margin and positions, every market's state, the pool's and the
insurance fund's balances, in wei) are hashed. ``vyperp fingerprint`` writes them to
``reports/replay_fingerprint.json``; ``vyperp fingerprint --check`` replays again and
names every scenario and part that differs. A behaviour-preserving change keeps every
hash; a change of behaviour must regenerate the file (and say why in its commit).
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path
from typing import Any

from .runner import TIMING_FIELDS, replay_and_report

SCENARIOS = ("btc-2025-10-10", "canonical-squeeze", "crash-30pct", "jump-wicks")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def end_state(replay: Any) -> list[Any]:
    """The exact on-chain end state of a replay, read by field name (wei integers)."""
    engine = replay.engine
    markets = range(replay.n_markets)
    state: list[Any] = [int(engine.pool_balance()), int(engine.insurance_fund()), int(engine.pool_value())]
    state += [[int(v) for v in engine.market_state(m)._asdict().values()] for m in markets]
    for address in replay.book.addresses:
        positions = [engine.position(address, m) for m in markets]
        state.append(
            [
                address,
                int(engine.margin(address)),
                [[int(p.size), int(p.entry_price), int(p.funding_index)] for p in positions],
            ]
        )
    return state


def fingerprint(scenario: str) -> dict[str, Any]:
    """Replay `scenario` with its seed and hash the report, the time series and the end state."""
    with tempfile.TemporaryDirectory(prefix="vyperp-fingerprint-") as tmp:
        replay, report = replay_and_report(scenario, out_dir=Path(tmp), progress=False)
        timeseries = (Path(tmp) / "timeseries.csv").read_bytes()
    stable = {k: v for k, v in report.items() if k not in TIMING_FIELDS}
    return {
        "seed": report["seed"],
        "steps": report["steps"],
        "tx_count": report["tx_count"],
        "report_sha256": _sha(json.dumps(stable, sort_keys=True, default=str).encode()),
        "timeseries_sha256": _sha(timeseries),
        "end_state_sha256": _sha(json.dumps(end_state(replay)).encode()),
    }


def fingerprints(scenarios: tuple[str, ...] = SCENARIOS) -> dict[str, Any]:
    return {"scenarios": {name: fingerprint(name) for name in scenarios}}


def differences(expected: dict[str, Any], got: dict[str, Any]) -> list[str]:
    """'scenario: part' for every hash or count that differs (or is missing)."""
    out = []
    for name, want in expected["scenarios"].items():
        have = got["scenarios"].get(name)
        if have is None:
            out.append(f"{name}: not replayed")
            continue
        out += [f"{name}: {key} {want[key]} -> {have.get(key)}" for key in want if have.get(key) != want[key]]
    return out
