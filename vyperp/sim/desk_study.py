"""The options desk's contribution to a cascade: the same scenario, path and seed replayed
with the desk and without it (``[population.options_desk]`` removed, nothing else
changed; the desk's account is created last, so every other agent draws and acts the
same until the desk's flow moves the price).

:func:`amplification` compares the two reports; :func:`run_desk_study` runs both,
writes the desk run's outputs to ``OUT`` (report.json with
``options_desk.amplification``, timeseries.csv with the ``desk_*`` columns, cascade.png,
desk.png) and the baseline's to ``OUT/desk-off``. Raises ``ValueError`` for a scenario
without a desk.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from .scenario import Scenario


def without_desk(scenario: Scenario) -> Scenario:
    """The scenario with its options desk removed (everything else identical)."""
    return replace(scenario, population=replace(scenario.population, options_desk=None))


def amplification(on: dict[str, Any], off: dict[str, Any]) -> dict[str, Any]:
    """Desk on vs off: liquidations, bad debt and the price's excursion (USD; ratio = on / off).
    ``desk_own_liquidated_usd`` is the part of the on run's liquidated notional that was
    the desk's own hedge (cut by the keepers), ``..._others`` the rest."""
    own = on["options_desk"]["hedge_cut_notional_usd"]
    liq_on, liq_off = on["liquidated_notional"], off["liquidated_notional"]
    sym = on["options_desk"]["market"]
    spot_on, spot_off = on["spot"][sym], off["spot"][sym]
    return {
        "liquidated_notional_desk_on": liq_on,
        "liquidated_notional_desk_off": liq_off,
        "liquidated_notional_difference": liq_on - liq_off,
        "liquidated_notional_ratio": liq_on / liq_off if liq_off else None,
        "liquidated_notional_desk_on_others": liq_on - own,
        "desk_own_liquidated_usd": own,
        "liquidations_desk_on": on["liquidations"],
        "liquidations_desk_off": off["liquidations"],
        "bad_debt_desk_on": on["bad_debt"],
        "bad_debt_desk_off": off["bad_debt"],
        "pool_drawdown_desk_on": on["pool_drawdown"],
        "pool_drawdown_desk_off": off["pool_drawdown"],
        "max_price_desk_on": spot_on["max_price"],
        "max_price_desk_off": spot_off["max_price"],
        "min_price_desk_on": spot_on["min_price"],
        "min_price_desk_off": spot_off["min_price"],
        "impact_enabled": on["impact_enabled"],
    }


def run_desk_study(
    scenario: Scenario,
    traders: int | None = None,
    param_set: str | None = None,
    out_dir: Path | None = None,
    progress: bool = False,
    **kwargs: Any,
) -> dict[str, Any]:
    """Replay `scenario` with its desk and without; returns the desk run's report with
    ``options_desk.amplification`` (and writes the outputs when `out_dir` is given)."""
    if scenario.population.options_desk is None:
        raise ValueError(f"scenario {scenario.name!r} has no [population.options_desk]")
    from .report import write_json, write_outputs
    from .runner import replay_and_report

    replay_on, on = replay_and_report(scenario, traders, param_set, None, progress, **kwargs)
    replay_off, off = replay_and_report(without_desk(scenario), traders, param_set, None, progress, **kwargs)
    on["options_desk"]["amplification"] = amplification(on, off)
    if out_dir is not None:
        from .desk_chart import plot_desk

        write_outputs(replay_on, on, out_dir)
        plot_desk(replay_on, on, out_dir / "desk.png")
        write_outputs(replay_off, off, out_dir / "desk-off")
        write_json(out_dir / "report.json", on)
    return on


__all__ = ["amplification", "run_desk_study", "without_desk"]
