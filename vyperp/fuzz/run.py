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
import random
import time
import traceback
from typing import Any

from .profiles import MACHINE_EXAMPLES, PROFILES, STEPS_PER_EXAMPLE, SUPPRESSED


def replay_command(profile: str, examples: int, seed: int | None) -> str:
    """One command that replays a run: the same profile, examples and seed in one worker
    (a derandomized run needs no seed: it draws the same examples every time)."""
    env = f"VYPERP_FUZZ_SEED={seed} " if seed is not None else ""
    return f"{env}python -m vyperp.cli fuzz --profile {profile} --workers 1 --examples {examples}"


def run_machine(options: dict[str, Any], seed: int | None, replay: str) -> None:
    """Run the protocol state machine once under hypothesis `options` and `seed` (ignored
    when derandomized); a failure carries a note with the seed and the replay command."""
    from hypothesis import seed as hypothesis_seed
    from hypothesis import settings
    from hypothesis.stateful import get_state_machine_test

    from .machine import ProtocolMachine

    test = get_state_machine_test(ProtocolMachine, settings=settings(**options))
    if seed is not None and not options.get("derandomize"):
        test = hypothesis_seed(seed)(test)
    try:
        test()
    except Exception as exc:  # noqa: BLE001 - re-raised with the replay note
        which = "derandomized (no seed needed)" if options.get("derandomize") else f"seed {seed}"
        exc.add_note(f"fuzz failure, {which}; replay it with:\n    {replay}")
        raise


def fuzz_seed(default: int | None = None) -> int:
    """VYPERP_FUZZ_SEED if set (a replay), else `default`, else a fresh random seed."""
    value = os.environ.get("VYPERP_FUZZ_SEED")
    if value:
        return int(value)
    return default if default is not None else random.SystemRandom().randrange(2**32)


def _worker(args: tuple[str, int, int, int]) -> dict[str, Any]:
    profile, examples, index, base_seed = args
    from .machine import ProtocolMachine, shared_system

    shared_system()  # deploy outside the timed region
    derandomize = index == 0 and PROFILES[profile].get("derandomize", False) and "VYPERP_FUZZ_SEED" not in os.environ
    seed = base_seed + index
    options = dict(
        max_examples=examples,
        stateful_step_count=STEPS_PER_EXAMPLE[profile],
        deadline=None,
        suppress_health_check=SUPPRESSED,
        database=None,
        derandomize=derandomize,
    )
    replay = replay_command(profile, examples, None if derandomize else seed)
    started = time.perf_counter()
    violation = None
    interrupted = False
    try:
        run_machine(options, seed, replay)
    except KeyboardInterrupt:
        interrupted = True  # Ctrl-C: the partial run is reported, not counted as a finding
    except BaseException as exc:  # noqa: BLE001 - a failing example is the finding we report
        # the whole failure text: every sub-exception of a group, with hypothesis's notes
        # (the failing program), the seed and the replay command, and tracebacks
        violation = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    seconds = time.perf_counter() - started
    return {
        "examples": ProtocolMachine.examples_run,
        "steps": ProtocolMachine.steps_run - ProtocolMachine.examples_run,
        "liquidating_examples": len(ProtocolMachine.liquidating_examples),
        "seconds": seconds,
        "violation": violation,
        "interrupted": interrupted,
        "seed": seed,
        "derandomized": derandomize,
        "replay": replay,
    }


def run_fuzz(profile: str = "ci", workers: int | None = None, examples: int | None = None) -> dict[str, Any]:
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r} (known: {', '.join(PROFILES)})")
    workers = workers or os.cpu_count() or 1
    total = examples or MACHINE_EXAMPLES.get(profile, int(PROFILES[profile]["max_examples"]))
    shares = [total // workers + (1 if i < total % workers else 0) for i in range(workers)]
    base_seed = fuzz_seed()
    started = time.perf_counter()
    if workers == 1:
        results = [_worker((profile, shares[0], 0, base_seed))]
    else:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            results = pool.map(_worker, [(profile, n, i, base_seed) for i, n in enumerate(shares) if n > 0])
    wall = time.perf_counter() - started
    steps = sum(r["steps"] for r in results)
    violations = [r["violation"] for r in results if r["violation"]]
    return {
        "profile": profile,
        "workers": len(results),
        "examples": sum(r["examples"] for r in results),
        "steps": steps,
        "steps_per_example": STEPS_PER_EXAMPLE[profile],
        "liquidating_examples": sum(r["liquidating_examples"] for r in results),
        "seeds": [None if r["derandomized"] else r["seed"] for r in results],
        "replay": [r["replay"] for r in results if r["violation"]],
        "seconds": round(wall, 2),
        "steps_per_second": round(steps / wall, 1) if wall else 0.0,
        "steps_per_second_per_worker": round(
            sum(r["steps"] / r["seconds"] for r in results if r["seconds"]) / len(results), 1
        ),
        "invariant_violations": len(violations),
        "violations": violations,
        "interrupted": any(r.get("interrupted") for r in results),
        "backend": os.environ.get("VYPERP_BACKEND", "revm"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}",
    }
