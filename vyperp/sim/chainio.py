"""The replay's hot path to the chain: raw calldata, ``Chain.send``, event bookkeeping.

Calldata of the frequent calls is assembled from precomputed selectors with
``int.to_bytes`` (no ABI encoder on the hot path); return data is sliced the same way.
Every transaction is optionally recorded as ``(timestamp, sender, to, calldata, kind)``
so :mod:`vyperp.sim.bench` can re-apply the same transactions on a fresh deployment.
"""

from __future__ import annotations

from time import perf_counter
from typing import Any, Callable

from ..chain import Chain, Reverted

TWO_256 = 2**256


def selector(contract: Any, name: str) -> bytes:
    return contract.functions[name].selector


def word(x: int) -> bytes:
    """One ABI word of a (u)int256 (two's complement for negatives)."""
    return (x % TWO_256).to_bytes(32, "big")


def address_word(address: str) -> bytes:
    return b"\x00" * 12 + bytes.fromhex(address[2:])


def address_array(addresses: list[str]) -> bytes:
    """ABI tail of a dynamic ``address[]`` (length + items)."""
    return word(len(addresses)) + b"".join(address_word(a) for a in addresses)


def word_array(words: list[bytes]) -> bytes:
    """ABI tail of a dynamic ``address[]`` from precomputed address words."""
    return word(len(words)) + b"".join(words)


def uint_at(data: bytes, i: int) -> int:
    return int.from_bytes(data[32 * i: 32 * i + 32], "big")


def int_at(data: bytes, i: int) -> int:
    return int.from_bytes(data[32 * i: 32 * i + 32], "big", signed=True)


def int_array(data: bytes) -> list[int]:
    """Decode a returned ``int256[]``."""
    n = uint_at(data, 1)
    return [int.from_bytes(data[64 + 32 * k: 96 + 32 * k], "big", signed=True) for k in range(n)]


def static_tuple_array(data: bytes, width: int) -> list[tuple[int, ...]]:
    """Decode a returned dynamic array of static tuples of `width` signed words."""
    n = uint_at(data, 1)
    out = []
    base = 64
    for k in range(n):
        off = base + 32 * width * k
        out.append(tuple(int.from_bytes(data[off + 32 * j: off + 32 * j + 32], "big", signed=True)
                         for j in range(width)))
    return out


class TxSender:
    """Sends raw transactions, counts them by kind, collects reverts, touched accounts
    (by index in `topic_index`) and the engine events the replay listens to."""

    def __init__(self, chain: Chain, engine: Any, topic_index: dict[bytes, int], index_of: dict[str, int],
                 record: bool = False):
        self.chain = chain
        self.engine_address = engine.address
        self.topic_index = topic_index
        self.index_of = index_of
        self._send = chain.send
        self.count = 0
        self.chain_seconds = 0.0
        self.by_kind: dict[str, int] = {}
        self.reverts: dict[str, int] = {}
        self.touched: set[int] = set()
        self.record: list[tuple[int, str, str, bytes, str]] | None = [] if record else None
        self.listeners: dict[bytes, tuple[Any, Callable[[dict[str, Any]], None]]] = {}

    def listen(self, contract: Any, event_name: str, handler: Callable[[dict[str, Any]], None]) -> None:
        for topic, spec in contract.contract_type.events.items():
            if spec.name == event_name:
                self.listeners[topic] = (spec, handler)
                return
        raise KeyError(f"{contract} has no event {event_name}")

    def send(self, kind: str, sender: str, to: str, data: bytes) -> bytes | None:
        """Send; returns the return data, or None if the transaction reverted."""
        chain = self.chain
        if self.record is not None:
            self.record.append((chain.time, sender, to, data, kind))
        self.count += 1
        self.by_kind[kind] = self.by_kind.get(kind, 0) + 1
        t0 = perf_counter()
        try:
            out = self._send(sender, to, data)
        except Reverted as exc:
            self.chain_seconds += perf_counter() - t0
            key = f"{kind}: {exc.reason or exc.halt or 'revert'}"
            self.reverts[key] = self.reverts.get(key, 0) + 1
            return None
        self.chain_seconds += perf_counter() - t0
        receipt = chain.last_receipt
        assert receipt is not None
        logs = receipt.raw_logs
        if logs:
            topic_index = self.topic_index
            listeners = self.listeners
            engine = self.engine_address
            touched = self.touched
            for log in logs:
                if log.address != engine:
                    continue
                topics, payload = log.data
                for topic in topics[1:]:
                    idx = topic_index.get(bytes(topic))
                    if idx is not None:
                        touched.add(idx)
                hit = listeners.get(bytes(topics[0]))
                if hit is not None:
                    spec, handler = hit
                    handler(spec.decode([bytes(t) for t in topics], bytes(payload)))
        sender_idx = self.index_of.get(sender)
        if sender_idx is not None:
            self.touched.add(sender_idx)
        return out

    def take_touched(self) -> set[int]:
        touched, self.touched = self.touched, set()
        return touched


__all__ = ["TxSender", "address_array", "address_word", "int_array", "int_at", "selector", "static_tuple_array", "word_array",
           "uint_at", "word"]
