"""Cascade replay: scenario price paths against the real contracts on the embedded chain.

Modules: ``scenario_params`` (scenario -> protocol parameters), ``spot`` (spot price
impact of forced flow), ``book`` (exact per-account state), ``chainio`` (raw
transactions and events), ``agents`` (traders, basis traders, LPs, keepers),
``metrics`` (per-step rows and invariant checks), ``runner`` (the loop:
:func:`run_replay`), ``report`` and ``chart`` (outputs), ``compare`` (A/B runs and
mitigations off vs on), ``bench`` (speed measurements).
"""

from .runner import Replay, replay_and_report, run_replay

__all__ = ["Replay", "replay_and_report", "run_replay"]
