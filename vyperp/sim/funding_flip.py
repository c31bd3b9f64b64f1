"""The funding-flip study: hedged vs unhedged basis traders through a squeeze that flips
funding, and what the swaps cost the replay.

:func:`run_funding_flip` replays a scenario with ``[population.funding_swaps]`` twice on
the same path and seed: as written (the hedged traders trade their swaps) and as the
counterfactual ``hedge = false`` (the same groups drawn and followed, no swap contract,
no swap transaction: the engine side is then the replay without the section, to the
wei). The report is the hedged run's, with ``funding_swaps.counterfactual`` (the groups
without swaps) and ``funding_swaps.comparison`` (per group: swaps on / off).
:func:`throughput` measures steps per second of the step loop with swaps on and with the
section removed (best of ``repeats`` alternating runs, and the ratio).
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from .scenario import Scenario

COMPARED = (
    ("liquidated_traders", "liquidated traders"),
    ("liquidations", "liquidations"),
    ("liquidated_notional_usd", "liquidated notional"),
    ("survival_rate", "survival rate"),
)


def without_swaps(scenario: Scenario) -> Scenario:
    """The scenario with ``[population.funding_swaps]`` (and ``[population.funding_caps]``,
    which needs it) removed (everything else identical)."""
    return replace(scenario, population=replace(scenario.population, funding_swaps=None, funding_caps=None))


def counterfactual(scenario: Scenario) -> Scenario:
    """The scenario with the same groups drawn and followed but nobody trading a swap."""
    spec = scenario.population.funding_swaps
    if spec is None:
        raise ValueError(f"scenario {scenario.name!r} has no [population.funding_swaps]")
    return replace(scenario, population=replace(scenario.population, funding_swaps=replace(spec, hedge=False)))


def comparison(on: dict[str, Any], off: dict[str, Any]) -> dict[str, Any]:
    """Per group, swaps on vs the counterfactual: the liquidation figures and the P&L."""
    out: dict[str, Any] = {}
    for group in on["funding_swaps"]["groups"]:
        a, b = on["funding_swaps"]["groups"][group], off["funding_swaps"]["groups"][group]
        row = {key: {"swaps_on": a[key], "swaps_off": b[key]} for key, _ in COMPARED}
        row["pnl_total_usd"] = {"swaps_on": a["pnl_usd"]["total"], "swaps_off": b["pnl_usd"]["total"]}
        row["funding_net_usd"] = {"swaps_on": a["funding_usd"]["net"], "swaps_off": b["funding_usd"]["net"]}
        out[group] = row
    out["liquidated_notional_all"] = {"swaps_on": on["liquidated_notional"], "swaps_off": off["liquidated_notional"]}
    out["bad_debt_all"] = {"swaps_on": on["bad_debt"], "swaps_off": off["bad_debt"]}
    return out


def run_funding_flip(
    scenario: Scenario,
    traders: int | None = None,
    param_set: str | None = None,
    out_dir: Path | None = None,
    progress: bool = False,
    **kwargs: Any,
) -> dict[str, Any]:
    """Replay `scenario` with its swaps and as the counterfactual; returns the hedged run's
    report with ``funding_swaps.counterfactual`` and ``.comparison``. With `out_dir`:
    report.json, timeseries.csv, cascade.png and funding_flip.png there, the
    counterfactual's outputs in ``out_dir/counterfactual``."""
    from .report import write_json, write_outputs
    from .runner import replay_and_report

    replay_on, on = replay_and_report(scenario, traders, param_set, None, progress, **kwargs)
    replay_off, off = replay_and_report(counterfactual(scenario), traders, param_set, None, progress, **kwargs)
    on["funding_swaps"]["counterfactual"] = off["funding_swaps"]["groups"]
    on["funding_swaps"]["comparison"] = comparison(on, off)
    if out_dir is not None:
        from .funding_flip_chart import plot_funding_flip

        write_outputs(replay_on, on, out_dir)
        write_outputs(replay_off, off, out_dir / "counterfactual")
        plot_funding_flip(replay_on, on, out_dir / "funding_flip.png", replay_off)
        write_json(out_dir / "report.json", on)
    return on


def without_caps(scenario: Scenario) -> Scenario:
    """The scenario with ``[population.funding_caps]`` removed (swaps kept)."""
    return replace(scenario, population=replace(scenario.population, funding_caps=None))


def throughput(scenario: Scenario, repeats: int = 3, **kwargs: Any) -> dict[str, Any]:
    """Steps per second of the step loop (``steps / loop_seconds``) with swaps (and caps,
    if the scenario has them) on, with swaps on and caps removed, with the groups followed
    but nothing traded (the counterfactual: the bookkeeping's share) and with both sections
    removed; best of `repeats` alternating runs each; also the transactions."""
    from .runner import run_replay

    variants = [("swaps_on", scenario)]
    if scenario.population.funding_caps is not None:
        variants.append(("caps_off", without_caps(scenario)))
    variants += [("bookkeeping_only", counterfactual(scenario)), ("swaps_off", without_swaps(scenario))]
    best: dict[str, dict[str, Any]] = {}
    for _ in range(max(1, repeats)):
        for name, sc in variants:
            rep = run_replay(sc, progress=False, **kwargs)
            rate = rep["steps"] / rep["loop_seconds"]
            if name not in best or rate > best[name]["steps_per_second"]:
                best[name] = {
                    "steps_per_second": round(rate, 1),
                    "loop_seconds": rep["loop_seconds"],
                    "loop_cpu_seconds": rep["loop_cpu_seconds"],
                    "tx_count": rep["tx_count"],
                    "tx_per_second": rep["tx_per_second"],
                    "swap_tx": sum(v for k, v in rep["tx_by_kind"].items() if k.startswith("swap_")),
                    "caps_tx": sum(v for k, v in rep["tx_by_kind"].items() if k.startswith("caps_")),
                }
    on, off = best["swaps_on"], best["swaps_off"]
    return {
        "scenario": scenario.name,
        "repeats": repeats,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        **best,
        "slowdown": round(off["steps_per_second"] / on["steps_per_second"], 3),
        "slowdown_bookkeeping_only": round(off["steps_per_second"] / best["bookkeeping_only"]["steps_per_second"], 3),
        **(
            {"slowdown_caps": round(best["caps_off"]["steps_per_second"] / on["steps_per_second"], 3)}
            if "caps_off" in best
            else {}
        ),
        "notes": "steps_per_second = steps / loop_seconds (best of the repeats); swaps_on: the scenario as written "
        "(swaps and, if any, floors); caps_off: swaps on, [population.funding_caps] removed; bookkeeping_only: the "
        "groups measured, nothing traded; swaps_off: both sections removed. The cost: the swap and caps "
        "transactions (opens, settles, liquidation checks, TWAP observations, purchases, fixings, claims), the "
        "per-step reads (swap health overlay, pending legs, pool, vault) and the groups' bookkeeping; slowdown = "
        "swaps_off / swaps_on, slowdown_caps = caps_off / swaps_on",
    }


__all__ = ["comparison", "counterfactual", "run_funding_flip", "throughput", "without_caps", "without_swaps"]
