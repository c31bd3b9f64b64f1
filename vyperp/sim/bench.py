"""Replay speed, measured (not asserted).

* **replay tx/s**: transactions the replay sent (agents, keepers and the feeder's
  oracle rounds) / seconds of its step loop (deployment and agent setup excluded); also
  the seconds spent inside ``Chain.send`` alone, so the split between the EVM and the
  simulator (reads, exact account evaluation, invariant checks, agent logic) is visible.
* **ceiling**: every transaction of that replay is recorded as (timestamp, sender, to,
  calldata); a fresh, identical deployment (same parameters, same agent setup) then
  re-applies them with ``Chain.send`` and nothing else -- no reads, no agents, no
  checks -- timing only that loop. The final books of both chains are compared.
* **scaling**: wall time (deployment + setup + loop) of the 1,440-step one-minute path
  for each population size.

The path is the shipped window ``btc-2025-10-10-coinm-day`` resampled to 60 s (the whole
UTC day 2025-10-10, 1,440 rounds).
"""

from __future__ import annotations

import platform
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from oracles.scenario import Scenario, load_scenario

from ..chain import Reverted
from .report import write_json
from .runner import Replay

BENCH_SCENARIO = "btc-2025-10-10-coinm-day"


def day_scenario() -> Scenario:
    """The coin-margined 10 October 2025 day at one-minute rounds (1,440 steps)."""
    scenario = load_scenario(BENCH_SCENARIO)
    return replace(scenario, path=replace(scenario.path, step_seconds=60))


def _books(replay: Replay) -> tuple[int, int, int, int]:
    g = replay.read_globals()
    return g.token_balance, g.pool_balance, g.pool_value, g.insurance


def measure_ceiling(scenario: Scenario, traders: int) -> dict[str, Any]:
    """Replay with recording, then re-apply the recorded loop transactions on a fresh deployment."""
    recorded = Replay(scenario, traders, record=True)
    report = recorded.run(progress=False)
    assert recorded.tx.record is not None
    loop_txs = recorded.tx.record[recorded.setup_tx:]
    fresh = Replay(scenario, traders)
    fresh.build()
    chain = fresh.chain
    send = chain.send
    reverted = 0
    t0 = time.perf_counter()
    for ts, sender, to, data, _kind in loop_txs:
        if ts != chain.time:
            chain.advance(ts - chain.time)
        try:
            send(sender, to, data)
        except Reverted:
            reverted += 1
    seconds = time.perf_counter() - t0
    same = _books(fresh) == _books(recorded)
    return {
        "traders": traders,
        "steps": report["steps"],
        "transactions": len(loop_txs),
        "replay_loop_seconds": report["loop_seconds"],
        "replay_tx_per_second": report["tx_per_second"],
        "replay_seconds_inside_chain_send": report["chain_seconds"],
        "replay_tx_per_chain_second": report["tx_per_chain_second"],
        "ceiling_seconds": round(seconds, 3),
        "ceiling_tx_per_second": round(len(loop_txs) / seconds, 1) if seconds > 0 else None,
        "ceiling_reverted": reverted,
        "replay_reverted": sum(report["reverted_tx"].values()),
        "ceiling_final_books_match": same,
        "tx_by_kind": report["tx_by_kind"],
    }


def measure_wall(scenario: Scenario, traders: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    replay = Replay(scenario, traders)
    report = replay.run(progress=False)
    wall = time.perf_counter() - t0
    return {
        "traders": traders,
        "accounts": len(replay.book),
        "steps": report["steps"],
        "wall_seconds": round(wall, 2),
        "build_seconds": report["build_seconds"],
        "loop_seconds": report["loop_seconds"],
        "tx_count": report["tx_count"],
        "tx_per_second": report["tx_per_second"],
        "chain_seconds": report["chain_seconds"],
        "liquidations": report["liquidations"],
        "invariant_checks": report["invariant_checks"],
        "invariant_violations": report["invariant_violations"],
    }


def run_bench(traders: int = 1000, sizes: list[int] | None = None, out: str | Path | None = None,
              console: Console | None = None) -> dict[str, Any]:
    sizes = [100, 1000, 10000] if sizes is None else sizes
    scenario = day_scenario()
    say = console.print if console is not None else (lambda *a, **k: None)
    say(f"ceiling: replaying {BENCH_SCENARIO} at 60 s with {traders} traders, then re-applying its transactions ...")
    ceiling = measure_ceiling(scenario, traders)
    scaling = []
    for n in sizes:
        say(f"wall time: {n} traders x 1,440 steps ...")
        scaling.append(measure_wall(scenario, n))
    result = {
        "path": f"{BENCH_SCENARIO} resampled to 60 s (1,440 one-minute rounds, 2025-10-10 UTC)",
        "chain": "embedded pyrevm, Chain(exact_gas=False)",
        "ceiling": ceiling,
        "scaling": scaling,
        "machine": f"{platform.machine()} {platform.system()}, python {platform.python_version()}",
        "notes": ("tx counts include the feeder's oracle pushes and pokes (2 per step). The replay's time per step "
                  "is dominated by the exact evaluation of every account (invariants, keeper screening) and the "
                  "periodic on-chain full scans, not by the EVM; see replay_seconds_inside_chain_send."),
    }
    if out is not None:
        write_json(Path(out), result)
    return result


def bench_table(result: dict[str, Any]) -> Table:
    c = result["ceiling"]
    table = Table(title=f"replay speed ({result['path']})")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row(f"replay tx/s ({c['traders']} traders, {c['transactions']:,} tx)", f"{c['replay_tx_per_second']:,.0f}")
    table.add_row("  of which inside Chain.send", f"{c['replay_seconds_inside_chain_send']:.2f} s "
                  f"({c['replay_tx_per_chain_second']:,.0f} tx/s)")
    table.add_row("ceiling: same tx, raw Chain.send", f"{c['ceiling_tx_per_second']:,.0f} tx/s "
                  f"({c['ceiling_seconds']:.2f} s; books match: {c['ceiling_final_books_match']})")
    for s in result["scaling"]:
        table.add_row(f"wall time, {s['traders']:,} traders x {s['steps']:,} steps",
                      f"{s['wall_seconds']:.1f} s ({s['tx_count']:,} tx, {s['tx_per_second']:,.0f} tx/s)")
    return table


__all__ = ["bench_table", "day_scenario", "measure_ceiling", "measure_wall", "run_bench"]
