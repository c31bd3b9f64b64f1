"""Replay speed, measured (not asserted).

* **replay tx/s**: transactions the replay sent / seconds of its step loop (deployment
  and agent setup excluded), both with the feeder's two oracle transactions per step
  (``tx_per_second``) and without them (``agent_tx_per_second``). The loop's seconds are
  split into those inside ``Chain.send``, inside the periodic on-chain full scans, inside
  the per-step chain reads, and the rest (agents' decisions, the account book, the
  invariant checks, bookkeeping).
* **ceiling**: every transaction of that replay is recorded as (timestamp, sender, to,
  calldata); a fresh, identical deployment (same parameters, same agent setup) then
  re-applies them with ``Chain.send`` and nothing else -- no reads, no agents, no
  checks -- timing only that loop. The final books of both chains are compared. A second
  fresh deployment re-applies them timing each transaction, which gives the raw seconds
  by kind and the agents' own raw ceiling (their transactions / their raw seconds).
* **active population**: the same measurements for the same trader count with every
  trader keeping stops (take-profit +20-100 % ROE, stop-loss -20-50 %) and always
  re-entering after ~10 steps (:data:`ACTIVE_TRADERS`): ~16 agent transactions per step
  instead of ~3, so per-step fixed costs weigh less. From the two runs: the loop's fixed
  cost per step and marginal cost per transaction.
* **scaling**: wall time (deployment + setup + loop) of the 1,440-step one-minute path
  for each population size.

Timings are the best of ``repeats`` runs (every run is listed); the replays are
deterministic, so every repeat sends the same transactions. The machine's load average
is recorded: other processes on the same cores slow every number down, so the replay and
its ceiling are also given in this process's CPU time (``cpu_time``), which waiting for a
core does not inflate.

The path is the shipped window ``btc-2025-10-10-coinm-day`` resampled to 60 s (the whole
UTC day 2025-10-10, 1,440 rounds).
"""

from __future__ import annotations

import os
import platform
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from vyperp.sim.scenario import Scenario, load_scenario

from ..chain import Reverted
from ..sim.agents import AgentConfig
from ..sim.report import write_json
from ..sim.runner import Replay

BENCH_SCENARIO = "btc-2025-10-10-coinm-day"
ORACLE_KINDS = ("oracle_push", "oracle_poke")
ACTIVE_TRADERS = AgentConfig(
    stops_share=1.0,
    take_profit_roe=(0.2, 1.0),
    stop_loss_roe=(-0.5, -0.2),
    reentry_probability=1.0,
    reentry_mean_wait_steps=10.0,
)
"""A denser (but plausible) population: every trader trades about ten round trips a day."""


def day_scenario() -> Scenario:
    """The coin-margined 10 October 2025 day at one-minute rounds (1,440 steps)."""
    scenario = load_scenario(BENCH_SCENARIO)
    return replace(scenario, path=replace(scenario.path, step_seconds=60))


def _books(replay: Replay) -> tuple[int, int, int, int]:
    g = replay.read_globals()
    return g.token_balance, g.pool_balance, g.pool_value, g.insurance


def _per_second(count: int, seconds: float) -> float | None:
    return round(count / seconds, 1) if seconds > 0 else None


def apply_transactions(chain: Any, txs: list[Any]) -> int:
    """Send recorded (timestamp, sender, to, calldata, kind) transactions in order, moving
    time as recorded, without the simulator; returns how many reverted (the ceiling run)."""
    send = chain.send
    reverted = 0
    for ts, sender, to, data, _kind in txs:
        if ts != chain.time:
            chain.advance(ts - chain.time)
        try:
            send(sender, to, data)
        except Reverted:
            reverted += 1
    return reverted


def _reapply(
    scenario: Scenario, traders: int, config: AgentConfig | None, txs: list[Any], by_kind: bool
) -> tuple[float, int, Replay, dict[str, float]]:
    """Re-apply `txs` on a fresh deployment: (seconds, reverted, replay, seconds by kind)."""
    fresh = Replay(scenario, traders, agent_config=config)
    fresh.build()
    chain = fresh.chain
    send = chain.send
    reverted = 0
    kinds: dict[str, float] = {}
    perf = time.perf_counter
    cpu0 = time.process_time()
    t0 = perf()
    if by_kind:
        for ts, sender, to, data, kind in txs:
            if ts != chain.time:
                chain.advance(ts - chain.time)
            t = perf()
            try:
                send(sender, to, data)
            except Reverted:
                reverted += 1
            kinds[kind] = kinds.get(kind, 0.0) + perf() - t
    else:
        reverted = apply_transactions(chain, txs)
    seconds = perf() - t0
    kinds["_cpu"] = time.process_time() - cpu0
    return seconds, reverted, fresh, kinds


def measure_ceiling(
    scenario: Scenario, traders: int, agent_config: AgentConfig | None = None, repeats: int = 3
) -> dict[str, Any]:
    """Replay and re-apply its recorded loop transactions on a fresh deployment, `repeats`
    times in alternation (so both see the same machine load; best of each reported, and
    the ratio of every pair), plus one re-application timed by kind."""
    runs = []
    recorded = None
    loop_txs: list[Any] = []
    ceilings = []
    ceilings_cpu = []
    same = True
    reverted = 0
    for k in range(max(1, repeats)):
        replay = Replay(scenario, traders, agent_config=agent_config, record=(k == 0))
        report = replay.run(progress=False)
        runs.append(report)
        if k == 0:
            recorded = replay
            assert replay.tx.record is not None
            loop_txs = replay.tx.record[replay.setup_tx :]
        seconds, reverted, fresh, timed = _reapply(scenario, traders, agent_config, loop_txs, by_kind=False)
        ceilings.append(seconds)
        ceilings_cpu.append(timed["_cpu"])
        assert recorded is not None
        same = same and _books(fresh) == _books(recorded)
    assert recorded is not None
    best = min(runs, key=lambda r: r["loop_seconds"])
    tx_count = len(loop_txs)
    agent_count = sum(1 for *_, kind in loop_txs if kind not in ORACLE_KINDS)
    _, _, fresh, kinds = _reapply(scenario, traders, agent_config, loop_txs, by_kind=True)
    kinds.pop("_cpu")
    same = same and _books(fresh) == _books(recorded)
    ceiling = min(ceilings)
    best_cpu = min(runs, key=lambda r: r["loop_cpu_seconds"])
    replay_cpu_tps = _per_second(tx_count, best_cpu["loop_cpu_seconds"])
    ceiling_cpu_tps = _per_second(tx_count, min(ceilings_cpu))
    paired = sorted(c / r["loop_seconds"] for c, r in zip(ceilings, runs))
    paired_cpu = sorted(c / r["loop_cpu_seconds"] for c, r in zip(ceilings_cpu, runs))
    agent_raw = sum(v for k, v in kinds.items() if k not in ORACLE_KINDS)
    oracle_raw = sum(v for k, v in kinds.items() if k in ORACLE_KINDS)
    loop = best["loop_seconds"]
    steps = best["steps"]
    other = loop - best["chain_seconds"] - best["scan_seconds"] - best["read_seconds"]
    replay_tps = _per_second(tx_count, loop)
    ceiling_tps = _per_second(tx_count, ceiling)
    return {
        "traders": traders,
        "agent_config": "default" if agent_config is None else "active (bench.ACTIVE_TRADERS)",
        "steps": steps,
        "transactions": tx_count,
        "agent_transactions": agent_count,
        "oracle_transactions": tx_count - agent_count,
        "replay_loop_seconds": loop,
        "replay_loop_seconds_all_runs": [r["loop_seconds"] for r in runs],
        "replay_tx_per_second": replay_tps,
        "replay_agent_tx_per_second": _per_second(agent_count, loop),
        "replay_seconds_inside_chain_send": best["chain_seconds"],
        "replay_seconds_in_full_scans": best["scan_seconds"],
        "replay_full_scans": best["full_onchain_scans"] - 1,
        "replay_seconds_in_step_reads": best["read_seconds"],
        "replay_seconds_other": round(other, 3),
        "replay_tx_per_chain_second": best["tx_per_chain_second"],
        "ceiling_seconds": round(ceiling, 3),
        "ceiling_seconds_all_runs": [round(x, 3) for x in ceilings],
        "ceiling_tx_per_second": ceiling_tps,
        "replay_share_of_ceiling": round(replay_tps / ceiling_tps, 3) if replay_tps and ceiling_tps else None,
        "replay_share_of_ceiling_paired_runs": [round(x, 3) for x in paired],
        "cpu_time": {
            "replay_loop_cpu_seconds": best_cpu["loop_cpu_seconds"],
            "ceiling_cpu_seconds": round(min(ceilings_cpu), 3),
            "replay_tx_per_cpu_second": replay_cpu_tps,
            "replay_agent_tx_per_cpu_second": _per_second(agent_count, best_cpu["loop_cpu_seconds"]),
            "ceiling_tx_per_cpu_second": ceiling_cpu_tps,
            "replay_share_of_ceiling": round(replay_cpu_tps / ceiling_cpu_tps, 3)
            if replay_cpu_tps and ceiling_cpu_tps
            else None,
            "replay_share_of_ceiling_paired_runs": [round(x, 3) for x in paired_cpu],
        },
        "ceiling_seconds_by_kind": {k: round(v, 4) for k, v in sorted(kinds.items())},
        "ceiling_agent_tx_per_second": _per_second(agent_count, agent_raw),
        "ceiling_oracle_seconds_per_step": round(oracle_raw / steps, 6),
        "ceiling_reverted": reverted,
        "replay_reverted": sum(best["reverted_tx"].values()),
        "ceiling_final_books_match": same,
        "tx_by_kind": best["tx_by_kind"],
        "invariant_violations": best["invariant_violations"],
    }


def fixed_and_marginal(sparse: dict[str, Any], dense: dict[str, Any]) -> dict[str, Any]:
    """Loop seconds = steps x fixed + transactions x marginal, solved from two populations
    of the same size (same accounts, same scans) that differ in trading activity."""
    dt = dense["transactions"] - sparse["transactions"]
    if dt <= 0:
        return {}
    marginal = (dense["replay_loop_seconds"] - sparse["replay_loop_seconds"]) / dt
    fixed = (sparse["replay_loop_seconds"] - sparse["transactions"] * marginal) / sparse["steps"]
    steps = sparse["steps"]
    return {
        "fixed_seconds_per_step": round(fixed, 6),
        "marginal_seconds_per_transaction": round(marginal, 7),
        "fixed_share_of_default_loop": round(fixed * steps / sparse["replay_loop_seconds"], 3),
        "measured_per_step": {
            "full_scans": round(sparse["replay_seconds_in_full_scans"] / steps, 6),
            "step_reads": round(sparse["replay_seconds_in_step_reads"] / steps, 6),
            "oracle_push_and_poke_raw": sparse["ceiling_oracle_seconds_per_step"],
        },
        "note": (
            "from the default and the active population of the same size; the fixed part includes the "
            "feeder's oracle transactions, the per-step chain reads, the account evaluation and checks "
            "and the periodic full scans (amortised); the marginal part is a transaction plus its "
            "agent's decision and the re-read of the accounts it touched"
        ),
    }


def measure_wall(scenario: Scenario, traders: int, repeats: int = 1) -> dict[str, Any]:
    runs = []
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        replay = Replay(scenario, traders)
        report = replay.run(progress=False)
        runs.append((time.perf_counter() - t0, replay, report))
    wall, replay, report = min(runs, key=lambda x: x[0])
    return {
        "traders": traders,
        "accounts": len(replay.book),
        "steps": report["steps"],
        "wall_seconds": round(wall, 2),
        "wall_seconds_all_runs": [round(x[0], 2) for x in runs],
        "build_seconds": report["build_seconds"],
        "loop_seconds": report["loop_seconds"],
        "loop_cpu_seconds": report["loop_cpu_seconds"],
        "tx_count": report["tx_count"],
        "agent_tx_count": report["agent_tx_count"],
        "tx_per_second": report["tx_per_second"],
        "agent_tx_per_second": report["agent_tx_per_second"],
        "chain_seconds": report["chain_seconds"],
        "scan_seconds": report["scan_seconds"],
        "read_seconds": report["read_seconds"],
        "full_scan_every": report["full_scan_every"],
        "liquidations": report["liquidations"],
        "invariant_checks": report["invariant_checks"],
        "invariant_violations": report["invariant_violations"],
    }


def _linearity(scaling: list[dict[str, Any]]) -> dict[str, Any]:
    rows = sorted(scaling, key=lambda s: s["traders"])
    out: dict[str, Any] = {"marginal_seconds_per_1000_traders": []}
    for a, b in zip(rows, rows[1:]):
        out["marginal_seconds_per_1000_traders"].append(
            {
                "from": a["traders"],
                "to": b["traders"],
                "seconds": round((b["wall_seconds"] - a["wall_seconds"]) / (b["traders"] - a["traders"]) * 1000, 3),
            }
        )
    if len(rows) >= 2:
        out["wall_ratio_largest_to_smallest"] = round(rows[-1]["wall_seconds"] / rows[0]["wall_seconds"], 2)
        out["trader_ratio_largest_to_smallest"] = round(rows[-1]["traders"] / rows[0]["traders"], 2)
    return out


def run_bench(
    traders: int = 1000,
    sizes: list[int] | None = None,
    out: str | Path | None = None,
    console: Console | None = None,
    repeats: int = 3,
    active: bool = True,
    funding_swaps: bool = True,
) -> dict[str, Any]:
    sizes = [100, 1000, 10000] if sizes is None else sizes
    scenario = day_scenario()
    say = console.print if console is not None else (lambda *a, **k: None)
    load_before = os.getloadavg()
    say(
        f"ceiling: replaying {BENCH_SCENARIO} at 60 s with {traders} traders, then re-applying its transactions "
        f"(best of {repeats}) ..."
    )
    ceiling = measure_ceiling(scenario, traders, repeats=repeats)
    dense = None
    if active:
        say(f"the same with an active population ({traders} traders, ACTIVE_TRADERS) ...")
        dense = measure_ceiling(scenario, traders, ACTIVE_TRADERS, repeats=repeats)
    scaling = []
    for n in sizes:
        say(f"wall time: {n} traders x 1,440 steps (best of {repeats}) ...")
        scaling.append(measure_wall(scenario, n, repeats))
    result: dict[str, Any] = {
        "path": f"{BENCH_SCENARIO} resampled to 60 s (1,440 one-minute rounds, 2025-10-10 UTC)",
        "chain": "embedded pyrevm, Chain(exact_gas=False)",
        "ceiling": ceiling,
    }
    if dense is not None:
        result["active_population"] = dense
        result["fixed_vs_marginal_cost"] = fixed_and_marginal(ceiling, dense)
    if funding_swaps:  # steps per second with the funding swaps of funding-flip on / bookkeeping only / off
        from ..sim.funding_flip import throughput

        say(f"funding swaps: funding-flip with swaps on / bookkeeping only / off (best of {repeats}) ...")
        result["funding_swaps"] = throughput(load_scenario("funding-flip"), repeats)
    result.update(
        {
            "scaling": scaling,
            "scaling_linearity": _linearity(scaling),
            "machine": f"{platform.machine()} {platform.system()}, python {platform.python_version()}, "
            f"{os.cpu_count()} cpus",
            "load_average_1min": {"before": round(load_before[0], 2), "after": round(os.getloadavg()[0], 2)},
            "repeats": repeats,
            "notes": (
                "tx counts include the feeder's oracle pushes and pokes (2 per step); agent_* figures exclude them. "
                "Timings are the best of `repeats` runs. The default population is sparse (about three agent "
                "transactions per step for 1,000 traders), so the per-step fixed work dominates: the periodic "
                "on-chain full scans (every full_scan_every steps, each over every account), the per-step chain "
                "reads, the oracle round and the account evaluation; see replay_seconds_* and "
                "fixed_vs_marginal_cost."
            ),
        }
    )
    if out is not None:
        write_json(Path(out), result)
    return result


def bench_table(result: dict[str, Any]) -> Table:
    table = Table(title=f"replay speed ({result['path']})")
    table.add_column("measure")
    table.add_column("value", justify="right")
    runs = [("", result["ceiling"])]
    if "active_population" in result:
        runs.append(("active population: ", result["active_population"]))
    for label, c in runs:
        table.add_row(
            f"{label}replay tx/s ({c['traders']} traders, {c['transactions']:,} tx, "
            f"{c['agent_transactions']:,} by agents)",
            f"{c['replay_tx_per_second']:,.0f} (agents {c['replay_agent_tx_per_second']:,.0f})",
        )
        table.add_row(
            "  loop: Chain.send / full scans / step reads / other",
            f"{c['replay_loop_seconds']:.2f} s: {c['replay_seconds_inside_chain_send']:.2f} / "
            f"{c['replay_seconds_in_full_scans']:.2f} / {c['replay_seconds_in_step_reads']:.2f} / "
            f"{c['replay_seconds_other']:.2f} s",
        )
        table.add_row(
            "  ceiling: same tx, raw Chain.send",
            f"{c['ceiling_tx_per_second']:,.0f} tx/s "
            f"(agents {c['ceiling_agent_tx_per_second']:,.0f}; {c['ceiling_seconds']:.2f} s; "
            f"books match: {c['ceiling_final_books_match']})",
        )
        table.add_row(
            "  replay / ceiling (wall; CPU time)",
            f"{100 * c['replay_share_of_ceiling']:.0f} %; {100 * c['cpu_time']['replay_share_of_ceiling']:.0f} %",
        )
    fm = result.get("fixed_vs_marginal_cost")
    if fm:
        table.add_row(
            "fixed cost per step / marginal cost per tx",
            f"{1e6 * fm['fixed_seconds_per_step']:,.0f} us / {1e6 * fm['marginal_seconds_per_transaction']:,.0f} us",
        )
    fs = result.get("funding_swaps")
    if fs:
        table.add_row(
            f"steps/s, {fs['scenario']}: swaps on / bookkeeping only / off",
            f"{fs['swaps_on']['steps_per_second']:,.0f} / {fs['bookkeeping_only']['steps_per_second']:,.0f} / "
            f"{fs['swaps_off']['steps_per_second']:,.0f} (x{fs['slowdown']:.2f})",
        )
    for s in result["scaling"]:
        table.add_row(
            f"wall time, {s['traders']:,} traders x {s['steps']:,} steps",
            f"{s['wall_seconds']:.1f} s ({s['tx_count']:,} tx, {s['tx_per_second']:,.0f} tx/s, "
            f"agents {s['agent_tx_per_second']:,.0f})",
        )
    return table


__all__ = [
    "ACTIVE_TRADERS",
    "bench_table",
    "day_scenario",
    "fixed_and_marginal",
    "measure_ceiling",
    "measure_wall",
    "run_bench",
]
