"""Reuse of a deployed protocol across replays: deploy once per parameter set, revert after.

A sweep replays the same protocol parameters on many paths and seeds. What a replay's
deployment depends on is exactly (the protocol parameters, the chain's start time): the
deployer, the contracts, the markets' first oracle rounds all follow from those two. So a
worker keeps, per such key, one embedded chain with the protocol deployed and a snapshot
taken right after the deployment; the next replay with the same key reverts to it (the
state, the block time and number, and the chain's Python-side account labels) instead of
deploying again. A reverted chain is the deployed chain: a replay on it gives the same
report and time series to the wei as one on a fresh deployment (``tests/test_sweep_run.py``
checks it).

Only the embedded chain (:class:`vyperp.chain.Chain`) is cached; a replay given a
``chain_factory`` (a node) always deploys.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


def deployment_key(protocol: Any, start: int) -> str:
    """SHA-256 of (the protocol parameters, the start time): what a deployment depends on."""
    payload = json.dumps({"protocol": dataclasses.asdict(protocol), "start": int(start)}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


@dataclass
class _Entry:
    chain: Any
    deployed: Any
    snapshot: int
    accounts: dict[str, str]
    default_sender: str | None


class DeploymentCache:
    """At most ``size`` deployed chains, least recently used dropped first.

    ``checkout(key, build)`` returns ``(chain, deployed, reused)``: a fresh ``build()``
    (``-> (chain, deployed)``) the first time a key is seen, else the cached chain reverted
    to right after its deployment. The caller owns the chain until its next ``checkout``
    of the same key (one replay at a time per worker, as a Dask worker process runs them).
    """

    def __init__(self, size: int = 4):
        if size < 1:
            raise ValueError(f"size must be >= 1, got {size}")
        self.size = size
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def checkout(self, key: str, build: Callable[[], tuple[Any, Any]]) -> tuple[Any, Any, bool]:
        entry = self._entries.get(key)
        if entry is None:
            self.misses += 1
            chain, deployed = build()
            entry = _Entry(chain, deployed, chain.snapshot(), dict(chain.accounts), chain._default_sender)
            self._entries[key] = entry
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
            return chain, deployed, False
        self.hits += 1
        self._entries.move_to_end(key)
        chain = entry.chain
        chain.revert(entry.snapshot)  # consumes the snapshot: take the next one at once
        chain.accounts = dict(entry.accounts)  # labels made by the last replay's agents go too
        chain._default_sender = entry.default_sender
        entry.snapshot = chain.snapshot()
        return chain, entry.deployed, True


#: The worker-process cache :func:`vyperp.sweep.engine.run_task` uses.
WORKER_CACHE = DeploymentCache()

__all__ = ["WORKER_CACHE", "DeploymentCache", "deployment_key"]
