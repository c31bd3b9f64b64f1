"""Operations measures on a public-node stand-in (:class:`vyperp.chain.public_node.PublicNode`:
anvil automining on the wall clock with a real base fee, behind a proxy that refuses
``anvil_*``/``evm_*``/``eth_sendTransaction``/``eth_accounts``). Every client signs with
:class:`~vyperp.chain.signing_chain.SigningChain` and talks only to the proxy.

* **keeper latency**: a :class:`~vyperp.ops.keeper.Keeper` (key #2) polls every
  ``poll_interval`` seconds in a thread, as ``vyperp keeper --interval`` does. Per trial a
  fresh trader opens a 9x long, the feeder (key #1) pushes a round 15 % lower and pokes
  the engine; the latency is wall-clock time (``time.monotonic``) from the poke's receipt
  (the round that makes the account liquidatable) to the return of the keeper's
  ``liquidate_many`` with its receipt; then the price goes back up for the next trial.
* **feeder rounds lost**: a :class:`~vyperp.ops.feed.Feeder` pushes ``rounds`` rounds
  (push + poke, no pause; the shipped day's 288 points, looped) while a second process-like client (its own SigningChain, its
  own nonce tracking) sends 0-ether self-transfers from the feeder's key as fast as it
  can; lost = rounds asked - rounds the oracle counted.
"""

from __future__ import annotations

import statistics
import threading
import time
from decimal import Decimal
from typing import Any


def _deploy(url: str) -> tuple[dict[str, Any], Any, Any]:
    from ..chain.keys import DEFAULT_MNEMONIC, mnemonic_signer
    from ..ops.signed_deploy import deploy_with_keys
    from ..protocol.params import MarketParams, ProtocolParams

    deployer, feeder = mnemonic_signer(DEFAULT_MNEMONIC, 0), mnemonic_signer(DEFAULT_MNEMONIC, 1)
    params = ProtocolParams(markets=[MarketParams(symbol="BTC", initial_price=100_000.0)], token_decimals=6)
    manifest, chain, _ = deploy_with_keys(url, params, deployer, feeder)
    return manifest, chain, feeder


def measure_keeper_latency(trials: int = 10, poll_interval: float = 1.0, timeout: float = 60.0) -> dict[str, Any]:
    """Median / max seconds from a liquidating round to the keeper's liquidation receipt."""
    from ..chain.keys import DEFAULT_MNEMONIC, mnemonic_signer
    from ..chain.public_node import PublicNode
    from ..chain.signing_chain import SigningChain
    from ..ops.keeper import Keeper
    from ..ops.traders import Population

    latencies: list[float] = []
    with PublicNode() as node:
        manifest, chain, feeder = _deploy(node.url)
        traders = [mnemonic_signer(DEFAULT_MNEMONIC, 10 + k) for k in range(trials)]
        for t in traders:
            chain.add_signer(t)
        pop = Population(chain, manifest)
        pop.seed(lp_usd=500_000, insurance_usd=0)
        addresses = manifest["addresses"]
        engine = chain.at("Engine", addresses["engine"])
        oracle = chain.at("MockOracle", addresses["oracles"]["BTC"])
        keeper_signer = mnemonic_signer(DEFAULT_MNEMONIC, 2)
        liquidated_at: list[float] = []

        class TimedKeeper(Keeper):
            def liquidate(self) -> tuple[int, int, int, int]:
                out = super().liquidate()
                if out[1]:
                    liquidated_at.append(time.monotonic())
                return out

        keeper = TimedKeeper(
            SigningChain(node.url, [keeper_signer]),
            addresses["engine"],
            addresses["lens"],
            start_block=manifest["block_number"],
            sender=keeper_signer.address,
        )
        stop = threading.Event()

        def loop() -> None:  # Keeper.run's loop, stoppable
            while not stop.is_set():
                started = time.monotonic()
                keeper.poll_once()
                stop.wait(max(0.0, poll_interval - (time.monotonic() - started)))

        thread = threading.Thread(target=loop, name="keeper", daemon=True)
        thread.start()
        try:
            base = int(oracle.latestRoundData()[1])
            for t in traders:
                pop.open(t.address, 0, Decimal(9), 2_000, 10**17)
                seen = len(liquidated_at)
                oracle.push_round(base * 85 // 100, 0, sender=feeder.address)
                engine.poke(0, sender=feeder.address)
                t_round = time.monotonic()
                deadline = t_round + timeout
                while len(liquidated_at) == seen and time.monotonic() < deadline:
                    time.sleep(0.005)
                if len(liquidated_at) == seen:
                    raise RuntimeError(f"the keeper did not liquidate {t.address} within {timeout} s")
                latencies.append(liquidated_at[seen] - t_round)
                if int(engine.position(t.address, 0).size) != 0:
                    raise RuntimeError(f"{t.address} still has a position after the keeper's liquidation")
                oracle.push_round(base, 0, sender=feeder.address)
                engine.poke(0, sender=feeder.address)
        finally:
            stop.set()
            thread.join(timeout=30)
        refused = list(node.refused)
    return {
        "trials": trials,
        "poll_interval_seconds": poll_interval,
        "median_seconds": round(statistics.median(latencies), 3),
        "max_seconds": round(max(latencies), 3),
        "min_seconds": round(min(latencies), 3),
        "all_seconds": [round(x, 3) for x in latencies],
        "keeper_stats": {k: keeper.stats[k] for k in ("polls", "liquidated", "liquidate_txs", "errors")},
        "refused_methods": refused,
    }


def measure_feeder_rounds_lost(rounds: int = 1_000) -> dict[str, Any]:
    """Rounds lost by a feeder whose key another client uses at the same time."""
    from ..chain.errors import ChainError
    from ..chain.public_node import PublicNode
    from ..chain.signing_chain import SigningChain
    from ..ops.feed import Feeder, load_path
    from .replay import BENCH_SCENARIO

    with PublicNode() as node:
        manifest, chain, feeder_signer = _deploy(node.url)
        addresses = manifest["addresses"]
        feeder_chain = SigningChain(node.url, [feeder_signer])
        oracle = feeder_chain.at("MockOracle", addresses["oracles"]["BTC"])
        path = load_path(scenario=BENCH_SCENARIO)
        feeder = Feeder(
            feeder_chain,
            addresses["engine"],
            {0: addresses["oracles"]["BTC"]},
            {0: path},
            feeder_signer.address,
            loop=True,  # the path's 288 points again and again: `rounds` rounds
        )
        rival = SigningChain(node.url, [feeder_signer])
        stop = threading.Event()
        rival_stats = {"sent": 0, "errors": 0}

        def compete() -> None:
            while not stop.is_set():
                try:
                    rival.transfer(feeder_signer.address, feeder_signer.address, 0)
                    rival_stats["sent"] += 1
                except ChainError:
                    rival_stats["errors"] += 1

        before = int(oracle.latestRoundData()[0])
        thread = threading.Thread(target=compete, name="rival-sender", daemon=True)
        started = time.monotonic()
        thread.start()
        try:
            pushed = feeder.run(interval=0.0, max_rounds=rounds)
        finally:
            stop.set()
            thread.join(timeout=30)
        seconds = time.monotonic() - started
        landed = int(oracle.latestRoundData()[0]) - before
        refused = list(node.refused)
    return {
        "rounds": rounds,
        "rounds_pushed": pushed,
        "rounds_landed": landed,
        "rounds_lost": max(0, rounds - landed),
        "rounds_duplicated": max(0, landed - pushed),  # a call sent twice (a mistaken "replaced")
        "feeder_errors": feeder.errors,
        "seconds": round(seconds, 2),
        "rounds_per_second": round(landed / seconds, 1) if seconds > 0 else None,
        "competing_transactions": rival_stats["sent"],
        "competing_errors": rival_stats["errors"],
        "refused_methods": refused,
    }


def measure_ops(trials: int = 10, poll_interval: float = 1.0, rounds: int = 1_000, say: Any = None) -> dict[str, Any]:
    """Both measures (see the module docstring), for reports/bench.json's ``ops``."""
    say = say or (lambda *a, **k: None)
    say(f"ops: keeper latency, {trials} liquidations at a {poll_interval} s poll interval ...")
    keeper = measure_keeper_latency(trials, poll_interval)
    say(f"ops: feeder, {rounds:,} rounds with a competing sender on its key ...")
    feeder = measure_feeder_rounds_lost(rounds)
    return {
        "keeper_latency": keeper,
        "feeder": feeder,
        "note": (
            "anvil (automine, wall-clock timestamps, EIP-1559 base fee) behind the public-node proxy "
            "(vyperp.chain.public_node); every client signs (SigningChain) and uses only the proxy. Keeper "
            "latency: time.monotonic() from the poke receipt of the round that makes a fresh 9x long "
            "liquidatable (-15 %) to the return of the keeper's liquidate_many with its receipt; the keeper "
            "polls every poll_interval_seconds in a thread (Keeper.poll_once, as `vyperp keeper --interval`). "
            "Feeder: Feeder.run(interval=0) for `rounds` rounds (push + poke) while another SigningChain sends "
            "0-ether self-transfers from the feeder's key without pause; lost = rounds - rounds the oracle counted."
        ),
    }


__all__ = ["measure_feeder_rounds_lost", "measure_keeper_latency", "measure_ops"]
