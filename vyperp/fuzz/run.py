"""`vyperp fuzz`: run the protocol state machine under a profile, in parallel worker
processes (one hypothesis run each), and report steps/s.

Each worker deploys its own system on its own embedded chain; examples are split between
workers. Worker ``i`` runs seed ``base + i``: the base is ``VYPERP_FUZZ_SEED`` when set (a
replay), else the profile's fixed seed (ci: every worker draws the same examples every
run), else a fresh random one (dev, campaign; printed in the report). An invariant
violation stops that worker and is reported with hypothesis's failing program, its seed,
one command that replays it, and the program written as a script that runs as printed
(:func:`failure_script`). Progress (examples done, ETA) goes to a callback; Ctrl-C stops
every worker and the partial report says ``interrupted``.
"""

from __future__ import annotations

import multiprocessing
import os
import platform
import queue
import random
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .profiles import (
    DATABASE_DIR,
    FIXED_SEEDS,
    MACHINE_EXAMPLES,
    PROFILES,
    STEPS_PER_EXAMPLE,
    SUPPRESSED,
    SWAP_MACHINE_EXAMPLES,
)

FAILURES_DIR = Path(os.environ.get("VYPERP_FUZZ_FAILURES", "out/fuzz-failures"))
"""Where :func:`failure_script` writes failing programs (``VYPERP_FUZZ_FAILURES``)."""


MACHINES = {
    "protocol": ("vyperp.fuzz.machine", "ProtocolMachine"),
    "swaps": ("vyperp.fuzz.swaps_machine", "SwapsMachine"),
}
"""The state machines `vyperp fuzz --machine` runs: the engine, LP pool and order book
(ProtocolMachine) and FundingSwaps with FundingCaps beside the engine (SwapsMachine)."""


def machine_class(name: str) -> Any:
    import importlib

    module, cls = MACHINES[name]
    return getattr(importlib.import_module(module), cls)


def replay_command(profile: str, examples: int, seed: int | None, machine: str = "protocol") -> str:
    """One command that replays a worker's run: the same machine, profile, examples and seed
    in one worker (a run derandomized by hypothesis needs no seed)."""
    env = f"VYPERP_FUZZ_SEED={seed} " if seed is not None else ""
    which = "" if machine == "protocol" else f" --machine {machine}"
    return f"{env}python -m vyperp.cli fuzz --profile {profile}{which} --workers 1 --examples {examples}"


def failure_script(exc: BaseException, label: str, machine: Any = None) -> Path | None:
    """Write the failing program hypothesis printed for `exc` (``state = ProtocolMachine()``
    ... ``state.teardown()``, rule and invariant calls in order; `machine`'s class name
    when another machine ran) as a Python script that runs as printed, with the import it
    needs and the mutated contracts directory when one is in use; returns its path (None
    when `exc` carries no program)."""
    name = machine.__name__ if machine is not None else "ProtocolMachine"
    module = machine.__module__ if machine is not None else "vyperp.fuzz.machine"
    lines = [n for e in _with_subexceptions(exc) for n in getattr(e, "__notes__", []) if isinstance(n, str)]
    program = [ln for note in lines for ln in note.splitlines()]
    try:
        start = next(i for i, ln in enumerate(program) if ln.startswith(f"state = {name}()"))
        end = next(i for i in range(start, len(program)) if program[i].startswith("state.teardown()"))
    except StopIteration:
        return None
    header = [
        f"# vyperp fuzz failure ({label}): the failing program as hypothesis printed it.",
        f"# Run it with: python {FAILURES_DIR}/{_slug(label)}.py  (it raises where the fuzz run failed)",
    ]
    contracts = os.environ.get("VYPERP_CONTRACTS_DIR")
    if contracts:
        header += ["import os", "", f"os.environ.setdefault('VYPERP_CONTRACTS_DIR', {contracts!r})"]
    header += [f"from {module} import {name}", ""]
    FAILURES_DIR.mkdir(parents=True, exist_ok=True)
    path = FAILURES_DIR / f"{_slug(label)}.py"
    path.write_text("\n".join(header + program[start : end + 1]) + "\n")
    return path


def _with_subexceptions(exc: BaseException) -> list[BaseException]:
    """`exc` and, for a group (hypothesis reports several distinct failures as one), every
    exception inside it, depth first: the first failing program found is the script."""
    found = [exc]
    for sub in getattr(exc, "exceptions", ()):
        found += _with_subexceptions(sub)
    return found


def _slug(label: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in label).strip("-")


def run_machine(
    options: dict[str, Any], seed: int | None, replay: str, label: str | None = None, machine: Any = None
) -> None:
    """Run the protocol state machine once under hypothesis `options` and `seed` (ignored
    when derandomized); a failure carries a note with the seed, the replay command and the
    failing program's script."""
    from hypothesis import seed as hypothesis_seed
    from hypothesis import settings
    from hypothesis.stateful import get_state_machine_test

    from .machine import ProtocolMachine

    test = get_state_machine_test(machine or ProtocolMachine, settings=settings(**options))
    if seed is not None and not options.get("derandomize"):
        test = hypothesis_seed(seed)(test)
    try:
        test()
    except Exception as exc:  # noqa: BLE001 - re-raised with the replay note
        which = "derandomized (no seed needed)" if options.get("derandomize") else f"seed {seed}"
        script = failure_script(exc, label or f"seed-{seed}", machine)
        exc.add_note(
            f"fuzz failure, {which}; replay it with:\n    {replay}"
            + (f"\nthe failing program as a script (runs as printed):\n    python {script}" if script else "")
        )
        raise


def run_under_pytest(examples: dict[str, int], test_file: str, machine: Any = None, label: str | None = None) -> None:
    """A state machine under pytest, its profile from HYPOTHESIS_PROFILE (ci by default;
    the profiles are registered by tests/conftest.py): `examples` per profile (else the
    profile's own), the seed from :func:`fuzz_seed`, and VYPERP_FUZZ_SHRINK=0 (the mutation
    check only asks whether the suite fails) skips shrinking. A failure names its seed and
    the command that replays `test_file`."""
    from hypothesis import Phase, settings

    profile = os.environ.get("HYPOTHESIS_PROFILE", "ci")
    current = settings.get_profile(profile)
    seed = fuzz_seed()
    options = dict(
        max_examples=examples.get(profile, current.max_examples),
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
    replay = f"{env}HYPOTHESIS_PROFILE={profile} python -m pytest {test_file}"
    run_machine(options, seed, replay, label=f"{profile}-{label}" if label else None, machine=machine)


def fuzz_seed(default: int | None = None) -> int:
    """VYPERP_FUZZ_SEED if set (a replay), else `default`, else a fresh random seed."""
    value = os.environ.get("VYPERP_FUZZ_SEED")
    if value:
        return int(value)
    return default if default is not None else random.SystemRandom().randrange(2**32)


_PROGRESS: Any = None  # the worker's queue of finished examples (set by the pool initializer)


def _init_worker(progress: Any) -> None:
    global _PROGRESS
    _PROGRESS = progress


def _worker(args: tuple[str, int, int, int, str]) -> dict[str, Any]:
    profile, examples, index, base_seed, machine = args
    from hypothesis.database import DirectoryBasedExampleDatabase

    from .machine import TRACE, shared_system

    cls = machine_class(machine)
    if machine == "protocol":
        shared_system()  # deploy outside the timed region
    else:
        from .swaps_machine import swap_system

        swap_system()
    seed = base_seed + index
    database = None if profile in FIXED_SEEDS else DirectoryBasedExampleDatabase(DATABASE_DIR)
    options = dict(
        max_examples=examples,
        stateful_step_count=STEPS_PER_EXAMPLE[profile],
        deadline=None,
        suppress_health_check=SUPPRESSED,
        database=database,
        derandomize=False,
    )
    replay = replay_command(profile, examples, seed, machine)
    if _PROGRESS is not None:
        cls.on_example = lambda: _PROGRESS.put(1)
    started = time.perf_counter()
    violation = None
    interrupted = False
    try:
        run_machine(
            options,
            seed,
            replay,
            label=f"{profile}-seed-{seed}" + ("" if machine == "protocol" else f"-{machine}"),
            machine=cls,
        )
    except KeyboardInterrupt:
        interrupted = True  # Ctrl-C: the partial run is reported, not counted as a finding
    except BaseException as exc:  # noqa: BLE001 - a failing example is the finding we report
        # the whole failure text: every sub-exception of a group, with hypothesis's notes
        # (the failing program), the seed, the replay command and the script, and tracebacks
        violation = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    seconds = time.perf_counter() - started
    return {
        "examples": cls.examples_run,
        "steps": cls.steps_run - cls.examples_run,
        "liquidating_examples": len(cls.liquidating_examples),
        "seconds": seconds,
        "violation": violation,
        "interrupted": interrupted,
        "seed": seed,
        "replay": replay,
        "trace": TRACE.hexdigest()[:16],
    }


def run_fuzz(
    profile: str = "ci",
    workers: int | None = None,
    examples: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    machine: str = "protocol",
) -> dict[str, Any]:
    """The fuzz report of `machine` (see the module docstring); `progress(done, total)`
    after each example."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r} (known: {', '.join(PROFILES)})")
    if machine not in MACHINES:
        raise ValueError(f"unknown machine {machine!r} (known: {', '.join(MACHINES)})")
    workers = workers or os.cpu_count() or 1
    defaults = MACHINE_EXAMPLES if machine == "protocol" else SWAP_MACHINE_EXAMPLES
    total = examples or defaults.get(profile, int(PROFILES[profile]["max_examples"]))
    shares = [total // workers + (1 if i < total % workers else 0) for i in range(workers)]
    base_seed = fuzz_seed(FIXED_SEEDS.get(profile))
    jobs = [(profile, n, i, base_seed, machine) for i, n in enumerate(shares) if n > 0]
    started = time.perf_counter()
    ctx = multiprocessing.get_context("fork")
    done_queue = ctx.Queue()
    done = 0
    interrupted = False
    with ctx.Pool(len(jobs), initializer=_init_worker, initargs=(done_queue,)) as pool:
        pending = pool.map_async(_worker, jobs)
        try:
            while not pending.ready():
                try:
                    done += done_queue.get(timeout=0.5)
                except queue.Empty:
                    continue
                if progress is not None:
                    progress(min(done, total), total)
        except KeyboardInterrupt:
            interrupted = True  # the workers got the SIGINT too and return their partial runs
        try:
            results = pending.get(timeout=120 if interrupted else None)
        except (KeyboardInterrupt, multiprocessing.TimeoutError):
            pool.terminate()
            results = []
            interrupted = True
    wall = time.perf_counter() - started
    steps = sum(r["steps"] for r in results)
    violations = [r["violation"] for r in results if r["violation"]]
    return {
        "profile": profile,
        "state_machine": machine,
        "workers": len(jobs),
        "examples": sum(r["examples"] for r in results),
        "examples_planned": total,
        "steps": steps,
        "steps_per_example": STEPS_PER_EXAMPLE[profile],
        "liquidating_examples": sum(r["liquidating_examples"] for r in results),
        "seeds": [r["seed"] for r in results],
        "per_worker": [
            {k: r[k] for k in ("seed", "examples", "steps", "liquidating_examples", "trace", "replay")} for r in results
        ],
        "replay": [r["replay"] for r in results if r["violation"]],
        "seconds": round(wall, 2),
        "steps_per_second": round(steps / wall, 1) if wall else 0.0,
        "steps_per_second_per_worker": round(
            sum(r["steps"] / r["seconds"] for r in results if r["seconds"]) / max(len(results), 1), 1
        ),
        "invariant_violations": len(violations),
        "violations": violations,
        "interrupted": interrupted or any(r.get("interrupted") for r in results),
        "backend": os.environ.get("VYPERP_BACKEND", "revm"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}",
    }
