"""`vyperp bench`: every speed and gas figure in one run, written to reports/bench.json.

* ``gas``: :func:`vyperp.gasbench.measure_all` (also written to reports/gas.json);
* ``embedded_*``: the cascade replay (``btc-2025-10-10-coinm-day`` at one-minute rounds,
  ``traders`` x ``steps``) on the embedded chain: transactions/s of the step loop
  (agents' and feeder's transactions; ``*_agent_*`` without the feeder's two oracle
  transactions per step), and the ceiling: the same recorded transactions re-applied
  with ``Chain.send`` on a fresh identical deployment, nothing else timed. Best of
  ``repeats``;
* ``embedded_active``: the same for the active population (``active_traders`` traders
  with :data:`vyperp.bench.replay.ACTIVE_TRADERS`: ~16 agent transactions per step);
* ``anvil_populations``: both populations replayed on a private anvil node (its blocks
  hold 64 transactions of 30,000,000 gas) through
  :class:`~vyperp.chain.shadow_chain.ShadowChain` (the headline: outcomes from an
  embedded ``Chain(exact_gas=True)``, each step's transactions sent as one JSON-RPC batch
  with ``evm_mine`` at the step's time and every receipt verified against the embedded
  outcome; books read on anvil at the end) and, under ``deferred``, through
  :class:`~vyperp.chain.rpc_chain.RpcChain` with deferred mining (one block per step,
  an ``eth_simulateV1`` preflight per transaction), and the replay's own recorded
  transactions re-applied on a fresh identical deployment one by one and per step as one
  ``send_many`` batch (the per-step-batch ceiling: a step's transactions in one JSON-RPC
  batch with explicit nonces, mined as one block at the step's time, receipts in one
  batch; ``share_of_per_step_batch`` = replay / that). ``anvil_block_per_transaction_replay``:
  the default population with a block per transaction (``RpcChain``'s immediate mode).
  Raw batched JSON-RPC (:func:`vyperp.node.bench_anvil`: engine ``trade`` calls in
  batches of 200 ``eth_sendTransaction``, receipts read) on a standard 30,000,000-gas
  node: ``anvil_ratio`` = default replay tx/s / raw batch tx/s. The top-level
  ``anvil_*`` figures are the default population's;
* ``ops``: keeper latency and feeder rounds lost on a public-node stand-in
  (:mod:`vyperp.bench.ops`; with the anvil figures, also alone: ``vyperp bench-ops``);
* ``fuzz_*``: :func:`vyperp.fuzz.run.run_fuzz` (profile ci, every core);
* ``machine``: cpus, platform, python, load average before and after.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

console = Console()
REPORTS = Path("reports")

FULL = {
    "traders": 200,
    "active_traders": 1_000,
    "steps": 300,
    "repeats": 3,
    "bench_trades": 2_000,
    "bench_transfers": 1_000,
    "bench_sequential": 300,
    "fuzz_examples": None,
    "ops_trials": 10,
    "ops_poll_interval": 1.0,
    "ops_rounds": 1_000,
}
QUICK = {
    "traders": 50,
    "active_traders": 200,
    "steps": 100,
    "repeats": 1,
    "bench_trades": 400,
    "bench_transfers": 200,
    "bench_sequential": 50,
    "fuzz_examples": 8,
    "ops_trials": 3,
    "ops_poll_interval": 1.0,
    "ops_rounds": 100,
}


def _rate(count: int, seconds: float) -> float | None:
    return round(count / seconds, 1) if seconds > 0 else None


def _books(replay: Any) -> list[int]:
    g = replay.read_globals()
    return [g.token_balance, g.pool_balance, g.pool_value, g.insurance]


def _loop_txs(replay: Any) -> list[tuple[int, str, str, bytes, str]]:
    assert replay.tx.record is not None
    return list(replay.tx.record[replay.setup_tx :])


def _reapply(
    scenario: Any,
    traders: int,
    steps: int,
    txs: list[Any],
    chain_factory: Any = None,
    batched: bool = False,
    config: Any = None,
) -> tuple[float, int, Any]:
    """Re-apply recorded loop transactions on a fresh identical deployment, timing only the
    sends: (seconds, reverted, replay). `batched` (RpcChain only): each step's
    transactions as one ``send_many`` batch."""
    from ..chain import Receipt
    from ..sim.runner import Replay
    from .replay import apply_transactions

    fresh = Replay(scenario, traders, steps=steps, chain_factory=chain_factory, agent_config=config)
    fresh.build()
    chain = fresh.chain
    reverted = 0
    t0 = time.perf_counter()
    if batched:
        groups: list[tuple[int, list[tuple[str, str, bytes]]]] = []
        for ts, sender, to, data, _kind in txs:
            if not groups or groups[-1][0] != ts:
                groups.append((ts, []))
            groups[-1][1].append((sender, to, data))
        from ..chain.rpc_chain import RpcChain

        if not isinstance(chain, RpcChain):
            raise TypeError(f"batched re-application needs an RpcChain, not {type(chain).__name__}")
        for ts, group in groups:
            if ts != chain.time:
                chain.advance(ts - chain.time)
            receipts = chain.send_many(group)
            reverted += sum(1 for r in receipts if isinstance(r, Receipt) and not r.success)
    else:
        reverted += apply_transactions(chain, txs)
    return time.perf_counter() - t0, reverted, fresh


def measure_embedded(
    scenario: Any, traders: int, steps: int, repeats: int, config: Any = None
) -> tuple[dict[str, Any], Any]:
    """Replay + raw re-application on the embedded chain, alternating, best of `repeats`.
    Returns the figures and the first (recording) replay."""
    from ..sim.runner import Replay

    runs, ceilings = [], []
    first = None
    txs: list[Any] = []
    same = True
    reverted = 0
    for k in range(max(1, repeats)):
        replay = Replay(scenario, traders, steps=steps, record=(k == 0), agent_config=config)
        report = replay.run(progress=False)
        runs.append(report)
        if k == 0:
            first, txs = replay, _loop_txs(replay)
        seconds, reverted, fresh = _reapply(scenario, traders, steps, txs, config=config)
        ceilings.append(seconds)
        same = same and _books(fresh) == _books(first)
    best = min(runs, key=lambda r: r["loop_seconds"])
    n = len(txs)
    agents = sum(1 for *_, kind in txs if kind not in ("oracle_push", "oracle_poke"))
    ceiling = min(ceilings)
    return {
        "transactions": n,
        "agent_transactions": agents,
        "loop_seconds": best["loop_seconds"],
        "loop_seconds_all_runs": [r["loop_seconds"] for r in runs],
        "tx_per_second": _rate(n, best["loop_seconds"]),
        "agent_tx_per_second": _rate(agents, best["loop_seconds"]),
        "ceiling_seconds": round(ceiling, 4),
        "ceiling_seconds_all_runs": [round(c, 4) for c in ceilings],
        "ceiling_tx_per_second": _rate(n, ceiling),
        "ceiling_reverted": reverted,
        "replay_reverted": sum(best["reverted_tx"].values()),
        "ceiling_final_books_match": same,
        "invariant_violations": best["invariant_violations"],
    }, first


def _close(chain: Any) -> None:
    """Close an RpcChain's HTTP connection (a replay's chain is typed as any backend)."""
    from ..chain.rpc_chain import RpcChain

    if isinstance(chain, RpcChain):
        chain.close()


def _anvil_replay(
    scenario: Any, traders: int, steps: int, config: Any, factory: Any, embedded_replay: Any
) -> tuple[dict[str, Any], Any]:
    """One replay on anvil through `factory`: its figures and the replay (chain closed)."""
    from ..sim.runner import Replay

    started = time.perf_counter()
    replay = Replay(scenario, traders, steps=steps, chain_factory=factory, record=True, agent_config=config)
    report = replay.run(progress=False)
    txs = _loop_txs(replay)
    n = len(txs)
    agents = sum(1 for *_, kind in txs if kind not in ("oracle_push", "oracle_poke"))
    out = {
        "wall_seconds": round(time.perf_counter() - started, 2),
        "transactions": n,
        "agent_transactions": agents,
        "agent_transactions_per_step": round(agents / max(1, report["steps"]), 2),
        "loop_seconds": report["loop_seconds"],
        "tx_per_second": _rate(n, report["loop_seconds"]),
        "agent_tx_per_second": _rate(agents, report["loop_seconds"]),
        "seconds_inside_chain_send": report["chain_seconds"],
        "seconds_in_full_scans": report["scan_seconds"],
        "seconds_in_step_reads": report["read_seconds"],
        "invariant_violations": report["invariant_violations"],
        "replay_reverted": sum(report["reverted_tx"].values()),
        "books_match_embedded": _books(replay) == _books(embedded_replay),
        "same_transactions_as_embedded": [t[:4] for t in txs] == [t[:4] for t in _loop_txs(embedded_replay)],
    }
    _close(replay.chain)
    return out, replay


def _shadow_replay(
    scenario: Any, traders: int, steps: int, config: Any, url: str, embedded_replay: Any
) -> dict[str, Any]:
    """One replay on a :class:`~vyperp.chain.shadow_chain.ShadowChain` (embedded outcomes,
    each step sent to anvil as one batch and verified): the setup is settled before the
    loop; the loop's seconds include the final :meth:`settle` (the last steps mined and
    verified); the books are read on anvil itself."""
    from ..chain.shadow_chain import ShadowChain
    from ..sim.runner import Replay

    started = time.perf_counter()
    replay = Replay(
        scenario, traders, steps=steps, chain_factory=ShadowChain.factory(url), record=True, agent_config=config
    )
    replay.build()
    chain = replay.chain
    assert isinstance(chain, ShadowChain)
    chain.settle()  # the deployment and the agents' setup, mined and verified (not timed, as elsewhere)
    waited, batches, verified = chain.node_wait_seconds, chain.batches, chain.transactions_verified
    report = replay.run(progress=False)
    t0 = time.perf_counter()
    chain.settle()
    settle = time.perf_counter() - t0
    loop = report["loop_seconds"] + settle
    with chain.node_reads():
        books_on_node = _books(replay)
    txs = _loop_txs(replay)
    n = len(txs)
    agents = sum(1 for *_, kind in txs if kind not in ("oracle_push", "oracle_poke"))
    out = {
        "chain": "ShadowChain (embedded Chain(exact_gas=True) + every step one batch on anvil, verified)",
        "wall_seconds": round(time.perf_counter() - started, 2),
        "loop_seconds": round(loop, 4),
        "final_settle_seconds": round(settle, 4),
        "tx_per_second": _rate(n, loop),
        "agent_tx_per_second": _rate(agents, loop),
        "seconds_inside_chain_send": report["chain_seconds"],
        "seconds_waiting_for_anvil": round(chain.node_wait_seconds - waited, 4),
        "anvil_batches": chain.batches - batches,
        "transactions_verified_on_anvil": chain.transactions_verified - verified,
        "invariant_violations": report["invariant_violations"],
        "replay_reverted": sum(report["reverted_tx"].values()),
        "books_on_anvil_match_embedded": books_on_node == _books(embedded_replay),
        "same_transactions_as_embedded": [t[:4] for t in txs] == [t[:4] for t in _loop_txs(embedded_replay)],
    }
    chain.close()
    return out


def measure_anvil_population(
    scenario: Any, traders: int, steps: int, config: Any, embedded_replay: Any, node: Any
) -> dict[str, Any]:
    """A population on a wide-block anvil node (``BATCH_BLOCK_GAS_LIMIT``): the replay on a
    :class:`~vyperp.chain.shadow_chain.ShadowChain` (the headline ``tx_per_second``), the
    replay with deferred mining (``RpcChain(deferred=True)``: one block per flush; under
    ``deferred``), and the deferred replay's recorded transactions re-applied on a fresh
    identical deployment one by one (``send``) and per step as one ``send_many`` batch
    (explicit nonces, the step's time set without a block, one ``evm_mine`` at it, the
    block's receipts in one batch): the per-step-batch ceiling."""
    from ..chain.rpc_chain import RpcChain

    factory = RpcChain.factory(node.url, gas_limit=30_000_000, deferred=True)
    deferred, replay = _anvil_replay(scenario, traders, steps, config, factory, embedded_replay)
    out: dict[str, Any] = {
        k: deferred[k] for k in ("transactions", "agent_transactions", "agent_transactions_per_step")
    }
    txs = _loop_txs(replay)
    n = len(txs)
    seconds, reverted, fresh = _reapply(scenario, traders, steps, txs, factory, config=config)
    out["reapply_sequential_tx_per_second"] = _rate(n, seconds)
    out["reapply_sequential_books_match"] = _books(fresh) == _books(replay)
    _close(fresh.chain)
    seconds, reverted, fresh = _reapply(scenario, traders, steps, txs, factory, batched=True, config=config)
    out["per_step_batch_tx_per_second"] = _rate(n, seconds)
    out["per_step_batch_reverted"] = reverted
    out["per_step_batch_books_match"] = _books(fresh) == _books(replay)
    _close(fresh.chain)
    ceiling = out["per_step_batch_tx_per_second"]
    shadow = _shadow_replay(scenario, traders, steps, config, node.url, embedded_replay)
    out.update(shadow)
    out["books_match_embedded"] = shadow["books_on_anvil_match_embedded"]
    out["share_of_per_step_batch"] = (
        round(out["tx_per_second"] / ceiling, 3) if out["tx_per_second"] and ceiling else None
    )
    deferred["share_of_per_step_batch"] = (
        round(deferred["tx_per_second"] / ceiling, 3) if deferred["tx_per_second"] and ceiling else None
    )
    deferred["chain"] = "RpcChain(deferred=True): eth_simulateV1 preflight per transaction, a block per step"
    out["deferred"] = deferred
    return out


def measure_anvil(
    scenario: Any,
    traders: int,
    steps: int,
    embedded_replay: Any,
    sizes: dict[str, Any],
    active: tuple[int, Any, Any] | None = None,
) -> dict[str, Any]:
    """Both populations on anvil (:func:`measure_anvil_population`), the default one also
    with a block per transaction (``RpcChain``'s immediate mode, a 30,000,000-gas node),
    and bench_anvil's raw batched JSON-RPC on a standard node. `active`: (traders, agent
    config, embedded replay)."""
    from ..chain.node import BATCH_BLOCK_GAS_LIMIT, AnvilNode, bench_anvil
    from ..chain.rpc_chain import RpcChain

    out: dict[str, Any] = {}
    populations: dict[str, Any] = {}
    with AnvilNode(gas_limit=BATCH_BLOCK_GAS_LIMIT) as wide:
        out["anvil_version"] = wide.version()
        populations["default"] = dict(
            traders=traders, **measure_anvil_population(scenario, traders, steps, None, embedded_replay, wide)
        )
        if active is not None:
            n, config, embedded_active = active
            populations["active"] = dict(
                traders=n, **measure_anvil_population(scenario, n, steps, config, embedded_active, wide)
            )
    with AnvilNode() as node:
        per_tx, _ = _anvil_replay(scenario, traders, steps, None, RpcChain.factory(node.url), embedded_replay)
        raw = bench_anvil(
            trades=sizes["bench_trades"],
            transfers=sizes["bench_transfers"],
            sequential=sizes["bench_sequential"],
            node=node,
            quiet=True,
        )
    d = populations["default"]
    out["anvil_populations"] = populations
    out["anvil_block_per_transaction_replay"] = per_tx
    out["anvil_transactions"] = d["transactions"]
    out["anvil_loop_seconds"] = d["loop_seconds"]
    out["anvil_tx_per_second"] = d["tx_per_second"]
    out["anvil_agent_tx_per_second"] = d["agent_tx_per_second"]
    out["anvil_invariant_violations"] = max(p["invariant_violations"] for p in populations.values())
    out["anvil_books_match_embedded"] = (
        all(
            p["books_match_embedded"]
            and p["deferred"]["books_match_embedded"]
            and p["per_step_batch_books_match"]
            and p["reapply_sequential_books_match"]
            for p in populations.values()
        )
        and per_tx["books_match_embedded"]
    )
    out["anvil_same_transactions_as_embedded"] = all(
        p["same_transactions_as_embedded"] and p["deferred"]["same_transactions_as_embedded"]
        for p in populations.values()
    ) and bool(per_tx["same_transactions_as_embedded"])
    out["anvil_reapply_per_step_batch_tx_per_second"] = d["per_step_batch_tx_per_second"]
    out["anvil_share_of_per_step_batch"] = d["share_of_per_step_batch"]
    out["anvil_deferred_tx_per_second"] = d["deferred"]["tx_per_second"]
    out["anvil_deferred_share_of_per_step_batch"] = d["deferred"]["share_of_per_step_batch"]
    out["anvil_raw_batch_tx_per_second"] = raw["batched_trade_tps"]
    out["anvil_ratio"] = (
        round(out["anvil_tx_per_second"] / raw["batched_trade_tps"], 4)
        if out["anvil_tx_per_second"] and raw["batched_trade_tps"]
        else None
    )
    for p in populations.values():
        p["share_of_raw_batch"] = (
            round(p["tx_per_second"] / raw["batched_trade_tps"], 4) if p["tx_per_second"] else None
        )
    out["anvil_raw"] = raw
    return out


def machine(load_before: tuple[float, float, float]) -> dict[str, Any]:
    return {
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "processor": platform.machine(),
        "python": platform.python_version(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }


def run_bench_all(
    quick: bool = False,
    skip_anvil: bool = False,
    traders: int | None = None,
    steps: int | None = None,
    workers: int | None = None,
    say: Any = None,
) -> dict[str, Any]:
    """Every figure of reports/bench.json (see the module docstring)."""
    from .gas import measure_all
    from .replay import ACTIVE_TRADERS, BENCH_SCENARIO, day_scenario

    say = say or (lambda *a, **k: None)
    sizes: dict[str, Any] = dict(QUICK if quick else FULL)
    traders = sizes["traders"] if traders is None else traders
    steps = sizes["steps"] if steps is None else steps
    load_before = os.getloadavg()
    started = time.perf_counter()
    result: dict[str, Any] = {"quick": quick}

    say("gas: measure_all() ...")
    t0 = time.perf_counter()
    result["gas"] = measure_all()
    result["gas_seconds"] = round(time.perf_counter() - t0, 1)

    scenario = day_scenario()
    result["workload"] = {
        "scenario": f"{BENCH_SCENARIO} resampled to 60 s",
        "traders": traders,
        "steps": steps,
        "note": (
            "the embedded and the anvil replay run this same workload (same seed, same transactions); "
            "tx counts include the feeder's 2 oracle transactions per step (agent_* exclude them)"
        ),
    }
    active_traders = sizes["active_traders"]
    result["workload"]["active_population"] = {
        "traders": active_traders,
        "steps": steps,
        "agent_config": "vyperp.bench.replay.ACTIVE_TRADERS (every trader keeps stops and re-enters ~10 steps later)",
    }
    say(f"embedded: replay {traders} traders x {steps} steps + raw re-application (best of {sizes['repeats']}) ...")
    embedded, embedded_replay = measure_embedded(scenario, traders, steps, sizes["repeats"])
    result["embedded"] = embedded
    say(f"embedded: active population, {active_traders} traders x {steps} steps ...")
    embedded_active, embedded_active_replay = measure_embedded(
        scenario, active_traders, steps, sizes["repeats"], ACTIVE_TRADERS
    )
    result["embedded_active"] = embedded_active
    result["workload"]["active_population"]["agent_transactions_per_step"] = round(
        embedded_active["agent_transactions"] / steps, 2
    )
    result["embedded_tx_per_second"] = embedded["tx_per_second"]
    result["embedded_agent_tx_per_second"] = embedded["agent_tx_per_second"]
    result["embedded_ceiling_tx_per_second"] = embedded["ceiling_tx_per_second"]
    result["embedded_share_of_ceiling"] = (
        round(embedded["tx_per_second"] / embedded["ceiling_tx_per_second"], 3)
        if embedded["tx_per_second"] and embedded["ceiling_tx_per_second"]
        else None
    )

    result["anvil_skipped"] = None
    if skip_anvil:
        result["anvil_skipped"] = "--skip-anvil"
    else:
        from ..chain.node import AnvilNotFound, find_anvil

        try:
            find_anvil()
        except AnvilNotFound as exc:
            result["anvil_skipped"] = str(exc)
    if result["anvil_skipped"] is None:
        say("anvil: both populations through RpcChain, their per-step-batch re-applications, raw batched JSON-RPC ...")
        result.update(
            measure_anvil(
                scenario,
                traders,
                steps,
                embedded_replay,
                sizes,
                (active_traders, ACTIVE_TRADERS, embedded_active_replay),
            )
        )
    else:
        for key in ("anvil_tx_per_second", "anvil_raw_batch_tx_per_second", "anvil_ratio"):
            result[key] = None

    if result["anvil_skipped"] is None:
        from .ops import measure_ops

        result["ops"] = measure_ops(sizes["ops_trials"], sizes["ops_poll_interval"], sizes["ops_rounds"], say=say)

    from ..fuzz.run import run_fuzz

    say("fuzz: profile ci on every core ...")
    backend = os.environ.pop("VYPERP_BACKEND", None)  # the fuzz figure is the embedded chain's
    try:
        fuzz = run_fuzz("ci", workers, sizes["fuzz_examples"])
    finally:
        if backend is not None:
            os.environ["VYPERP_BACKEND"] = backend
    result["fuzz"] = {k: v for k, v in fuzz.items() if k != "violations"}
    result["fuzz_steps_per_second"] = fuzz["steps_per_second"]
    result["machine"] = machine(load_before)
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def bench_table(r: dict[str, Any]) -> Table:
    w = r["workload"]
    table = Table(
        title=f"vyperp bench{' (quick)' if r.get('quick') else ''}: "
        f"{w['traders']} traders x {w['steps']} steps of {w['scenario']}"
    )
    table.add_column("measure")
    table.add_column("value", justify="right")
    gas = r["gas"]
    for key, label in (("open", "open"), ("close", "close"), ("liquidate", "liquidation")):
        table.add_row(
            f"gas: {label} (1 vs 1,000 other accounts)", f"{gas[key]:,} / {gas[key + '_with_1000_accounts']:,}"
        )
    e = r["embedded"]
    table.add_row(
        f"embedded replay tx/s ({e['transactions']:,} tx; agents only)",
        f"{e['tx_per_second']:,.0f} ({e['agent_tx_per_second']:,.0f})",
    )
    table.add_row(
        "embedded ceiling tx/s (same tx, raw Chain.send)",
        f"{e['ceiling_tx_per_second']:,.0f} ({100 * r['embedded_share_of_ceiling']:.0f} %; "
        f"books match: {e['ceiling_final_books_match']})",
    )
    if r.get("anvil_skipped"):
        table.add_row("anvil", f"[yellow]skipped: {r['anvil_skipped']}[/yellow]")
    else:
        for name, pop in r["anvil_populations"].items():
            table.add_row(
                f"anvil {name} population ({pop['traders']:,} traders, {pop['agent_transactions_per_step']} agent "
                "tx/step): ShadowChain replay / per-step batch / raw batch tx/s",
                f"{pop['tx_per_second']:,.0f} / {pop['per_step_batch_tx_per_second']:,.0f} / "
                f"{r['anvil_raw_batch_tx_per_second']:,.0f} ({100 * pop['share_of_per_step_batch']:.0f} % of the batch)",
            )
            table.add_row(
                "  the same, RpcChain deferred (tx/s, share of the per-step batch)",
                f"{pop['deferred']['tx_per_second']:,.0f} ({100 * pop['deferred']['share_of_per_step_batch']:.0f} %)",
            )
        table.add_row(
            "anvil default population, a block per transaction (tx/s)",
            f"{r['anvil_block_per_transaction_replay']['tx_per_second']:,.0f}",
        )
        table.add_row(
            "anvil: books equal to the embedded replay",
            str(r["anvil_books_match_embedded"] and r["anvil_same_transactions_as_embedded"]),
        )
    ops = r.get("ops")
    if ops:
        k, fd = ops["keeper_latency"], ops["feeder"]
        table.add_row(
            f"keeper latency, round -> liquidation receipt ({k['trials']} liquidations, poll {k['poll_interval_seconds']} s)",
            f"median {k['median_seconds']:.2f} s, max {k['max_seconds']:.2f} s",
        )
        table.add_row(
            f"feeder rounds lost of {fd['rounds']:,} (competing sender on its key)",
            f"{fd['rounds_lost']} ({fd['competing_transactions']:,} competing tx)",
        )
    f = r["fuzz"]
    table.add_row(
        f"fuzz steps/s (ci, {f['workers']} workers, {f['steps']:,} steps)", f"{r['fuzz_steps_per_second']:,.0f}"
    )
    m = r["machine"]
    table.add_row("machine", f"{m['cpu_count']} cpus, {m['platform']}, python {m['python']}")
    table.add_row(
        "load average (1 min) before / after", f"{m['load_average_before'][0]} / {m['load_average_after'][0]}"
    )
    return table


@click.command()
@click.option("--quick", is_flag=True, help="A smaller run (50 traders x 100 steps, fewer fuzz examples, 1 repeat).")
@click.option("--skip-anvil", is_flag=True, help="Leave out the anvil figures (e.g. no anvil binary).")
@click.option("--traders", type=int, default=None, help="Replay traders (default 200; quick 50).")
@click.option("--steps", type=int, default=None, help="Replay steps (default 300; quick 100).")
@click.option("--workers", type=int, default=None, help="Fuzz worker processes (default: all cores).")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=REPORTS / "bench.json",
    show_default=True,
    help="Where to write the report (gas also goes to gas.json next to it).",
)
def bench(
    quick: bool, skip_anvil: bool, traders: int | None, steps: int | None, workers: int | None, out: Path
) -> None:
    """Gas, replay tx/s (embedded, ceiling, anvil vs raw batch) and fuzz steps/s -> reports/bench.json."""
    result = run_bench_all(quick, skip_anvil, traders, steps, workers, say=console.print)
    out.parent.mkdir(parents=True, exist_ok=True)
    (out.parent / "gas.json").write_text(json.dumps(result["gas"], indent=2) + "\n")
    out.write_text(json.dumps(result, indent=2) + "\n")
    console.print(bench_table(result))
    if result.get("anvil_skipped"):
        console.print(f"[yellow]anvil figures skipped: {result['anvil_skipped']}[/yellow]")
    console.print(f"wrote {out} and {out.parent / 'gas.json'} in {result['seconds']} s")


__all__ = ["bench", "bench_table", "run_bench_all"]


@click.command()
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("reports/gas.json"),
    show_default=True,
    help="Where to write the gas report (flat JSON: operation -> gas).",
)
@click.option(
    "--trace",
    "traces",
    multiple=True,
    metavar="OPERATION",
    help="Instead of measuring everything, trace OPERATION (repeatable; 'all' = every targeted operation: "
    "deposits, open, increase, reduce, close, liquidations (a 10-account batch whole) and the warm-market "
    "variants): the storage slots it touches and its gas by opcode class, to --trace-out.",
)
@click.option(
    "--trace-out",
    type=click.Path(path_type=Path),
    default=Path("reports/gas_trace.json"),
    show_default=True,
    help="Where --trace writes its summaries.",
)
def gas(out: Path, traces: tuple[str, ...], trace_out: Path) -> None:
    """Measure the gas of every operation (exact, cold-start per transaction) and write reports/gas.json."""
    from .gas import measure_all

    started = time.time()
    if traces:
        _gas_trace(traces, trace_out)
        console.print(f"wrote {trace_out} in {time.time() - started:.1f} s")
        return
    figures = measure_all()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2) + "\n")
    table = Table(title=f"gas ({figures['compiler']})")
    table.add_column("operation")
    table.add_column("gas", justify="right")
    for key, value in figures.items():
        if isinstance(value, int):
            table.add_row(key, f"{value:,}")
    for name, size in figures["bytecode_size"].items():  # type: ignore[union-attr]
        table.add_row(f"bytecode {name}", f"{size:,} B")
    console.print(table)
    console.print(f"wrote {out} in {time.time() - started:.1f} s")


TRACE_ALL = (
    "deposit",
    "deposit_top_up",
    "open",
    "increase",
    "reduce",
    "close",
    "liquidate",
    "liquidate_first_reward",
    "liquidate_batch_10",
    "open_warm_market",
    "close_warm_market",
    "liquidate_warm_market",
)


def _gas_trace(ops: tuple[str, ...], out: Path) -> None:
    from .gas import TRACEABLE, trace_operation

    wanted = [op for name in ops for op in (TRACE_ALL if name == "all" else (name,))]
    unknown = [op for op in wanted if op not in TRACEABLE]
    if unknown:
        raise click.BadParameter(f"{', '.join(unknown)}: one of all, {', '.join(TRACEABLE)}", param_hint="--trace")
    report = {
        "method": "pyrevm 0.3.7 EIP-3155 tracer on the embedded exact-gas chain (vyperp/bench/trace.py); each "
        "operation traced in the very state `vyperp gas` measures it; gas = intrinsic + execution_by_class - refund",
        "operations": {op: trace_operation(op) for op in dict.fromkeys(wanted)},
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n")
    for op, summary in report["operations"].items():
        table = Table(title=f"{op}: {summary['gas_used']:,} gas ({summary['intrinsic']:,} intrinsic)")
        table.add_column("contract")
        table.add_column("slot")
        table.add_column("access")
        table.add_column("gas", justify="right")
        for label, use in summary["contracts"].items():
            for slot in use["slots"][:8]:
                access = ("cold" if slot["cold"] else "warm") + (f", {slot['write']} write" if slot["write"] else "")
                table.add_row(label, slot["name"], access, f"{slot['gas']:,}")
        console.print(table)
        console.print(" ".join(f"{k} {v:,}" for k, v in summary["execution_by_class"].items()))


@click.command(name="bench-replay")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("reports/replay_bench.json"),
    show_default=True,
    help="Where to write the measurements.",
)
@click.option(
    "--sizes",
    default="100,1000,10000",
    show_default=True,
    help="Comma-separated trader counts for the wall-time scaling runs on the 1,440-step path.",
)
@click.option(
    "--traders",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="Traders of the replay whose transactions are recorded and re-applied (the ceiling).",
)
@click.option(
    "--repeats",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="Runs per measurement; the best is reported (all are listed).",
)
@click.option(
    "--active/--no-active",
    default=True,
    show_default=True,
    help="Also measure an active population (bench.ACTIVE_TRADERS) of the same size.",
)
@click.option(
    "--funding-swaps/--no-funding-swaps",
    "funding_swaps",
    default=True,
    show_default=True,
    help="Also measure steps/s of funding-flip with its funding swaps on, bookkeeping only and off.",
)
def bench_replay(out: Path, sizes: str, traders: int, repeats: int, active: bool, funding_swaps: bool) -> None:
    """Measure replay speed: tx/s (all and agents') in a replay, the raw in-process ceiling
    of the same transactions (re-applied with Chain.send on a fresh identical deployment),
    the same for an active population, and the wall time of a 1,440-step one-minute day
    for several population sizes."""
    from ..bench.replay import bench_table, run_bench

    counts = [int(x) for x in sizes.split(",") if x.strip()]
    result = run_bench(
        traders=traders,
        sizes=counts,
        out=out,
        console=console,
        repeats=repeats,
        active=active,
        funding_swaps=funding_swaps,
    )
    console.print(bench_table(result))
    console.print(f"wrote {out}")


@click.command(name="bench-ops")
@click.option(
    "--trials", type=click.IntRange(min=1), default=FULL["ops_trials"], show_default=True, help="Liquidations timed."
)
@click.option(
    "--interval",
    type=float,
    default=FULL["ops_poll_interval"],
    show_default=True,
    help="The keeper's poll interval (s).",
)
@click.option(
    "--rounds", type=click.IntRange(min=1), default=FULL["ops_rounds"], show_default=True, help="Feeder rounds."
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=REPORTS / "bench.json",
    show_default=True,
    help="The bench report whose 'ops' key is (re)written; the rest is kept.",
)
def bench_ops(trials: int, interval: float, rounds: int, out: Path) -> None:
    """Keeper latency and feeder rounds lost on a public-node stand-in -> the 'ops' key of reports/bench.json
    (`vyperp bench` measures them too)."""
    from .ops import measure_ops

    ops = measure_ops(trials, interval, rounds, say=console.print)
    report = json.loads(out.read_text()) if out.exists() else {}
    report["ops"] = ops
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    k, f = ops["keeper_latency"], ops["feeder"]
    console.print(
        f"keeper latency median {k['median_seconds']} s, max {k['max_seconds']} s (poll {interval} s, {trials} "
        f"liquidations); feeder rounds lost {f['rounds_lost']} of {rounds}; wrote {out}"
    )


from .chain import bench_chain  # noqa: E402


@click.command("swap-gas")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("reports/swap_gas.json"),
    show_default=True,
    help="Where to write the figures.",
)
def swap_gas_command(out: Path) -> None:
    """Gas of FundingSwaps (open, increase, settle, settle with 1,000 other holders, close,
    liquidate, settle at maturity, perp trades and a withdrawal of a swap holder) and the
    perp open/close/withdraw/liquidate gas of an account without swaps against the figures
    before issue 14's engine change, measured as `vyperp gas` measures the engine."""
    from .swap_gas import swap_gas

    with console.status("measuring FundingSwaps gas ..."):
        figures = swap_gas()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2) + "\n")
    for name, gas in figures.items():
        if isinstance(gas, dict):
            for op, row in gas.items():
                console.print(f"{name}.{op}: {row['before']:,} -> {row['after']:,} ({row['extra_pct']:+.2f} %)")
        elif isinstance(gas, int):
            console.print(f"{name}: {gas:,}")
        else:
            console.print(f"{name}: {gas}")
    console.print(f"wrote {out}")


@click.command("caps-gas")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("reports/caps_gas.json"),
    show_default=True,
    help="Where to write the figures.",
)
@click.option("--buyers", type=int, default=1_000, show_default=True, help="Other buyers before the O(1) claim check.")
def caps_gas_command(out: Path, buyers: int) -> None:
    """Gas of FundingCaps (vault deposit/withdraw, cap purchase of 1/6/32 caplets, start and
    caplet fix, claim, claim with 1,000 other buyers, claim of 6 caplets), measured as
    `vyperp gas` measures the engine."""
    from .caps_gas import caps_gas

    with console.status("measuring FundingCaps gas ..."):
        figures = caps_gas(buyers)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2) + "\n")
    table = Table(title="FundingCaps gas")
    table.add_column("operation")
    table.add_column("gas", justify="right")
    for name, gas in figures.items():
        table.add_row(name, f"{gas:,}")
    console.print(table)
    console.print(f"wrote {out}")


COMMANDS = [bench, gas, bench_replay, bench_chain, bench_ops, swap_gas_command, caps_gas_command]
