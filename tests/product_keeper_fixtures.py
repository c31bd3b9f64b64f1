"""Shared set-up of the funding products' keeper tests (embedded chain and anvil): the
protocol deployed through its own deploy path with `[swaps]` / `[caps]` parameters, an
LP pool, and an event source for the embedded chain (which keeps no log history)."""

from __future__ import annotations

from typing import Any

from vyperp.chain import Chain
from vyperp.ops.keeper import EngineEvent
from vyperp.protocol.params import MarketParams, ProtocolParams
from vyperp.protocol.product_params import CapProduct, CapsParams, Maturity, SwapsParams
from vyperp.protocol.system import System
from vyperp.protocol.units import wad

BTC = 0
HOUR = 3_600
PERIOD = 8 * HOUR
DAY = 86_400
T0 = 1_700_000_000


def product_params() -> ProtocolParams:
    """BTC and ETH; BTC swap books at 30 days and 2 days; a 3-period BTC cap from 12 h."""
    return ProtocolParams(
        markets=[MarketParams(symbol="BTC"), MarketParams(symbol="ETH", initial_price=4_000.0)],
        swaps=SwapsParams(maturities=(Maturity("BTC", 30), Maturity("BTC", 2))),
        caps=CapsParams(
            volatility={"BTC": 0.002},
            products=(CapProduct("BTC", kind="cap", strike=0.0002, start_days=0.5, periods=3),),
        ),
    )


def fund_pool(system: System, usd: int = 10_000_000) -> None:
    lp = system.new_trader("pool-lp")
    system.mint(lp, 2 * usd)
    system.pool.deposit(system.tokens(usd), lp, sender=lp)


def maturities(system: System) -> tuple[int, int]:
    """(the 30-day book, the 2-day book)."""
    far, near = system.p.record()["swap_maturities"]["BTC"]
    return far, near


def underwater_swap_holder(system: System, label: str = "holder") -> str:
    """A swap-only account (receive fixed 1 BTC, 4.2k margin: its initial margin at the 1/4
    skew spread, with a little room) that long skew puts below
    maintenance: the lens and FundingSwaps both call it liquidatable."""
    far, _ = maturities(system)
    longs = system.new_trader(f"{label}-longs", 3_000_000)
    system.trade(longs, BTC, wad(10))  # perp OI for the swap OI cap
    holder = system.new_trader(label, 4_200)
    system.swaps.open(BTC, far, -wad(1), -wad("0.01"), sender=holder)
    assert not system.lens.is_liquidatable(holder)
    system.trade(longs, BTC, wad(40))  # long skew: the floating leg it pays jumps
    system.advance(4 * HOUR)
    assert system.lens.is_liquidatable(holder) and system.swaps.liquidatable(holder)
    assert system.engine.account_health(holder).position_count == 0  # swap-only
    return holder


class LoggingChain(Chain):
    """The embedded chain mining one block per transaction (as anvil's automine does)
    and keeping every transaction's logs, so a keeper can follow events on it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.history: list[tuple[int, list[Any]]] = []

    def _record(self) -> None:
        receipt = self.last_receipt
        if receipt is not None:
            self.history.append((self.block_number, list(receipt.raw_logs)))
        self.advance(0)

    def send(self, *args: Any, **kwargs: Any) -> bytes:
        out = super().send(*args, **kwargs)
        self._record()
        return out

    def _transact(self, *args: Any, **kwargs: Any) -> bytes:
        out = super()._transact(*args, **kwargs)
        self._record()
        return out


class LogSource:
    """:class:`vyperp.ops.keeper.EventSource` over a LoggingChain's history for one contract."""

    def __init__(self, chain: LoggingChain, contract: Any, names: tuple[str, ...]):
        self.chain = chain
        self.address = contract.address.lower()
        self.specs = {topic: spec for topic, spec in contract.contract_type.events.items() if spec.name in names}

    def head(self) -> int:
        return self.chain.block_number

    def events(self, lo: int, hi: int) -> list[EngineEvent]:
        from vyperp.chain.base import _log_parts

        out = []
        for block, logs in self.chain.history:
            if not lo <= block <= hi:
                continue
            for i, log in enumerate(logs):
                address, topics, data = _log_parts(log)
                spec = self.specs.get(topics[0]) if topics else None
                if str(address).lower() == self.address and spec is not None:
                    out.append(EngineEvent(block, i, spec.name, dict(spec.decode(topics, data))))
        return out
