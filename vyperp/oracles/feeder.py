"""Step-by-step oracle answers for whoever pushes rounds on chain.

:class:`Feeder` turns a :class:`~oracles.pricepath.PricePath` into
``(timestamp, answer)`` pairs, one per step, with Chainlink-style integer
answers (``decimals`` decimals, truncated; see
:meth:`PricePath.to_oracle_answers`).  It does no I/O: the caller submits
the rounds to the mock aggregator.
"""

from __future__ import annotations

from collections.abc import Iterator

from .pricepath import PricePath


class Feeder:
    """Iterate ``(timestamp, answer)`` for every point of ``path``.

    ``len(feeder) == len(path)``; ``feeder[i]`` gives step ``i``; iterating
    twice yields the same sequence.  ``round_id(i)`` is ``i + 1`` (Chainlink
    round ids start at 1).
    """

    def __init__(self, path: PricePath, decimals: int = 8) -> None:
        self.path = path
        self.decimals = decimals
        self.answers: list[int] = path.to_oracle_answers(decimals)
        self.timestamps: list[int] = list(path.timestamps)

    def __len__(self) -> int:
        return len(self.answers)

    def __getitem__(self, step: int) -> tuple[int, int]:
        return self.timestamps[step], self.answers[step]

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return iter(zip(self.timestamps, self.answers))

    @staticmethod
    def round_id(step: int) -> int:
        """Round id for ``step`` (1-based)."""
        return step + 1

    def __repr__(self) -> str:
        return f"Feeder({self.path.name!r}, steps={len(self)}, decimals={self.decimals})"
