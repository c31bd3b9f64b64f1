"""`vyperp fuzz`: run the protocol state machine under a profile, in parallel worker
processes (one hypothesis run each, independent randomness), and report steps/s.

Each worker deploys its own system on its own embedded chain; examples are split
between workers. An invariant violation stops that worker and is reported with
hypothesis's minimal failing sequence.
"""

from __future__ import annotations

import multiprocessing
import os
import platform
import time
import traceback
from typing import Any

from .profiles import PROFILES, STEPS_PER_EXAMPLE


def _worker(args: tuple[str, int, int]) -> dict[str, Any]:
    profile, examples, index = args
    from hypothesis import HealthCheck, settings
    from hypothesis.stateful import run_state_machine_as_test

    from .machine import ProtocolMachine, shared_system

    shared_system()  # deploy outside the timed region
    options = dict(max_examples=examples, stateful_step_count=STEPS_PER_EXAMPLE[profile], deadline=None,
                   suppress_health_check=list(HealthCheck), database=None,
                   derandomize=(index == 0 and PROFILES[profile].get("derandomize", False)))
    started = time.perf_counter()
    violation = None
    interrupted = False
    try:
        run_state_machine_as_test(ProtocolMachine, settings=settings(**options))
    except KeyboardInterrupt:
        interrupted = True        # Ctrl-C: the partial run is reported, not counted as a finding
    except BaseException as exc:  # noqa: BLE001 - a failing example is the finding we report
        # the whole failure text: every sub-exception of a group, with hypothesis's notes
        # (the failing program) and tracebacks
        violation = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    seconds = time.perf_counter() - started
    return {"examples": ProtocolMachine.examples_run, "steps": ProtocolMachine.steps_run - ProtocolMachine.examples_run,
            "seconds": seconds, "violation": violation, "interrupted": interrupted}


def run_fuzz(profile: str = "ci", workers: int | None = None, examples: int | None = None) -> dict[str, Any]:
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r} (known: {', '.join(PROFILES)})")
    workers = workers or os.cpu_count() or 1
    total = examples or int(PROFILES[profile]["max_examples"])
    shares = [total // workers + (1 if i < total % workers else 0) for i in range(workers)]
    started = time.perf_counter()
    if workers == 1:
        results = [_worker((profile, shares[0], 0))]
    else:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            results = pool.map(_worker, [(profile, n, i) for i, n in enumerate(shares) if n > 0])
    wall = time.perf_counter() - started
    steps = sum(r["steps"] for r in results)
    violations = [r["violation"] for r in results if r["violation"]]
    return {
        "profile": profile,
        "workers": len(results),
        "examples": sum(r["examples"] for r in results),
        "steps": steps,
        "steps_per_example": STEPS_PER_EXAMPLE[profile],
        "seconds": round(wall, 2),
        "steps_per_second": round(steps / wall, 1) if wall else 0.0,
        "steps_per_second_per_worker": round(sum(r["steps"] / r["seconds"] for r in results if r["seconds"]) / len(results), 1),
        "invariant_violations": len(violations),
        "violations": violations,
        "interrupted": any(r.get("interrupted") for r in results),
        "backend": os.environ.get("VYPERP_BACKEND", "revm"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}",
    }
