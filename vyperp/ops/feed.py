"""Push prices from a price path into MockOracles, one round per interval (demos, testnets).

    from vyperp.ops.feed import Feeder, load_path

    feeder = Feeder(chain, engine_address, {0: btc_oracle}, {0: load_path(scenario="crash-30pct")},
                    sender=feeder_account)
    feeder.run(interval=1.0)             # or feeder.step() from your own loop

Each round pushes the path's next price to every fed market's ``MockOracle.push_round``
(``updated_at`` = 0: the block's time) and then calls ``Engine.poke(market)`` so the
engine accepts the round (volatility EWMA, funding). With ``rebase`` (default) a path is
scaled so its first point equals the oracle's current answer (a scenario recorded at
BTC 20k moves a market listed at 100k by the same relative amounts). With ``warp``
the chain's block time is moved forward by the path's own step spacing before each
round (an anvil ``RpcChain`` otherwise keeps block time still). A round the engine
refuses (e.g. a jump above ``max_price_jump``) is logged and skipped.

Price sources (:func:`load_path`): a scenario from ``scenarios/`` (``oracles.scenario``)
or a shipped real window (``oracles.sources.load_real``).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from vyperp.oracles.pricepath import PricePath

from ..chain.errors import ChainError, Reverted

log = logging.getLogger("vyperp.feed")


def load_path(
    scenario: str | None = None, real: str | None = None, symbol: str | None = None, column: str = "close"
) -> PricePath:
    """The price path of a scenario (``symbol``'s, else its main path) or a real window."""
    if (scenario is None) == (real is None):
        raise ValueError("give exactly one of scenario= or real=")
    if scenario is not None:
        from vyperp.sim.scenario import load_scenario

        return load_scenario(scenario).price_path(symbol)
    from vyperp.oracles.sources import load_real

    return load_real(real, column)  # type: ignore[arg-type]


def human_price(answer: int, decimals: int) -> str:
    """An oracle answer as a USD amount: ``6123450000000, 8 -> "61,234.50"``; prices
    below 1 keep six significant digits (``"0.00950000"``)."""
    from decimal import Decimal

    value = Decimal(int(answer)).scaleb(-int(decimals))
    if abs(value) >= 1:
        return f"{value:,.2f}"
    return f"{value:.{max(2, 5 - value.adjusted())}f}"


class Feeder:
    """Feed `paths` (market id -> PricePath) into the markets' MockOracles.

    Args:
        chain: an ``RpcChain`` (or the embedded ``Chain``).
        engine_address: the Engine (poked after each round; ``None``: no poke).
        oracles: market id -> MockOracle address.
        paths: market id -> PricePath (wad prices).
        sender: an account the oracles accept as feeder.
        rebase: scale each path to start at the oracle's current answer.
        warp: advance block time by the path's step spacing before each round.
        loop: restart from the first point at the end of a path (else stop).
        symbols: market id -> ticker, for the log ("BTC round 12: 61,234.50 USD").
        start: the path's first point to push (``--start-round``; rebasing anchors there,
            so a feeder restarted mid-path continues without a jump).

    Raises ValueError if oracles and paths name different markets or `start` is past a
    path's end; ChainError / Reverted from the chain's reads of the oracles.
    """

    def __init__(
        self,
        chain: Any,
        engine_address: str | None,
        oracles: dict[int, str],
        paths: dict[int, PricePath],
        sender: str,
        *,
        rebase: bool = True,
        warp: bool = False,
        loop: bool = False,
        symbols: dict[int, str] | None = None,
        start: int = 0,
    ):
        missing = set(oracles) ^ set(paths)
        if missing:
            raise ValueError(f"oracles and paths must cover the same markets (differ on {sorted(missing)})")
        self.chain = chain
        self.engine = chain.at("Engine", engine_address) if engine_address else None
        self.oracles = {m: chain.at("MockOracle", a) for m, a in oracles.items()}
        self.paths = paths
        self.sender = sender
        self.warp = warp
        self.loop = loop
        self.symbols = {m: (symbols or {}).get(m, f"market {m}") for m in paths}
        self.answers: dict[int, list[int]] = {}
        self.decimals: dict[int, int] = {}
        for market, path in paths.items():
            oracle = self.oracles[market]
            decimals = self.decimals[market] = int(oracle.decimals())
            answers = path.to_oracle_answers(decimals)
            if not 0 <= start < len(answers):
                raise ValueError(
                    f"start round {start} is outside the {self.symbols[market]} path (0..{len(answers) - 1})"
                )
            if rebase:
                current = int(oracle.latestRoundData()[1])
                first = answers[start]
                answers = [a * current // first for a in answers]
            self.answers[market] = answers
        self.index = start
        self.rounds = 0
        self.errors = 0

    def __len__(self) -> int:
        return max(len(a) for a in self.answers.values())

    def _spacing(self, market: int, k: int) -> int:
        ts = self.paths[market].timestamps
        return ts[k] - ts[k - 1] if 0 < k < len(ts) else 0

    def step(self) -> bool:
        """Push one round to every market and poke it; False once the paths are exhausted."""
        k = self.index
        if k >= len(self):
            if not self.loop:
                return False
            k = self.index = 0
        if self.warp:
            seconds = max((self._spacing(m, k) for m in self.paths), default=0)
            if seconds > 0:
                self.chain.advance(seconds)
        for market, answers in self.answers.items():
            answer = answers[min(k, len(answers) - 1)]
            price = human_price(answer, self.decimals[market])
            try:
                round_id = self.oracles[market].push_round(answer, 0, sender=self.sender)
                if self.engine is not None:
                    self.engine.poke(market, sender=self.sender)
            except (Reverted, ChainError) as e:
                self.errors += 1
                log.error("%s point %d (%s USD) refused: %s", self.symbols[market], k, price, e)
                continue
            log.info("%s round %d: %s USD (path point %d)", self.symbols[market], int(round_id), price, k)
        self.index = k + 1
        self.rounds += 1
        return True

    def run(self, interval: float = 1.0, max_rounds: int | None = None) -> int:
        """One round per `interval` seconds until the paths end (or `max_rounds`); returns rounds pushed."""
        pushed = 0
        try:
            while max_rounds is None or pushed < max_rounds:
                started = time.monotonic()
                if not self.step():
                    log.info("price paths exhausted after %d rounds", pushed)
                    break
                pushed += 1
                if max_rounds is not None and pushed >= max_rounds:
                    break
                time.sleep(max(0.0, interval - (time.monotonic() - started)))
        except KeyboardInterrupt:
            log.info("interrupted after %d rounds", pushed)
        return pushed


__all__ = ["Feeder", "human_price", "load_path"]
