"""The replay's hot path to the chain: raw calldata, ``Chain.send``, event bookkeeping.

Calldata of the frequent calls is assembled from precomputed selectors with
``int.to_bytes`` (no ABI encoder on the hot path); return data is sliced the same way.
Every transaction is optionally recorded as ``(timestamp, sender, to, calldata, kind)``
so :mod:`vyperp.sim.bench` can re-apply the same transactions on a fresh deployment.
"""

from __future__ import annotations

from collections.abc import Callable
from time import perf_counter
from typing import Any

from ..chain import ChainAPI, Reverted

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
    return int.from_bytes(data[32 * i : 32 * i + 32], "big")


def int_at(data: bytes, i: int) -> int:
    return int.from_bytes(data[32 * i : 32 * i + 32], "big", signed=True)


def int_array(data: bytes) -> list[int]:
    """Decode a returned ``int256[]``."""
    n = uint_at(data, 1)
    fb = int.from_bytes
    return [fb(data[o : o + 32], "big", signed=True) for o in range(64, 64 + 32 * n, 32)]


def static_tuple_array(data: bytes, width: int) -> list[tuple[int, ...]]:
    """Decode a returned dynamic array of static tuples of `width` signed words."""
    n = uint_at(data, 1)
    fb = int.from_bytes
    words = [fb(data[o : o + 32], "big", signed=True) for o in range(64, 64 + 32 * width * n, 32)]
    return list(zip(*[iter(words)] * width))


def _event_decoder(
    spec: Any, topic_index: dict[bytes, int], addresses: list[str]
) -> Callable[[list[bytes], bytes], dict[str, Any]]:
    """A decoder of `spec`'s logs with the same output as ``spec.decode``, without the
    generic ABI decoder when every field is a 256-bit integer or an address (indexed
    addresses of the replay's accounts come from its checksummed address list; any other
    log falls back to ``spec.decode``)."""
    fields = []
    data_word = 0
    topic = 1
    for item in spec.abi.get("inputs", []):
        kind = item["type"]
        if kind not in ("uint256", "int256", "address"):
            return lambda topics, data: spec.decode([bytes(t) for t in topics], bytes(data))
        if item.get("indexed"):
            fields.append((item["name"], True, topic, kind))
            topic += 1
        else:
            fields.append((item["name"], False, 32 * data_word, kind))
            data_word += 1

    def decode(topics: list[bytes], data: bytes) -> dict[str, Any]:
        if len(topics) != topic or len(data) != 32 * data_word:
            return spec.decode([bytes(t) for t in topics], bytes(data))
        out: dict[str, Any] = {}
        for name, indexed, at, kind in fields:
            raw = topics[at] if indexed else data[at : at + 32]
            if kind == "uint256":
                out[name] = int.from_bytes(raw, "big")
            elif kind == "int256":
                out[name] = int.from_bytes(raw, "big", signed=True)
            else:
                idx = topic_index.get(bytes(raw))
                if idx is None:
                    return spec.decode([bytes(t) for t in topics], bytes(data))
                out[name] = addresses[idx]
        return out

    return decode


class TxSender:
    """Sends raw transactions, counts them by kind, collects reverts, touched accounts
    (by index in `topic_index`) and the engine events the replay listens to."""

    def __init__(
        self,
        chain: ChainAPI,
        engine: Any,
        topic_index: dict[bytes, int],
        index_of: dict[str, int],
        record: bool = False,
        addresses: list[str] | None = None,
    ):
        self.chain = chain
        self.addresses = addresses if addresses is not None else []
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
        self.listeners: dict[
            bytes, tuple[Callable[[list[bytes], bytes], dict[str, Any]], Callable[[dict[str, Any]], None]]
        ] = {}
        self.engine_topics: set[bytes] = set()  # see only_engine_emits

    def only_engine_emits(self, topics: set[bytes], others: list[Any]) -> None:
        """Recognise the engine's logs by their event signature (`topics`, the engine's
        topic0s) instead of by the emitting address (a ~1 us checksum per log in pyrevm):
        exact as long as no other contract on the chain (`others`) has an event with one
        of those signatures -- those keep the address test."""
        shared = set()
        for contract in others:
            shared |= set(contract.contract_type.events) & topics
        self.engine_topics = topics - shared

    def listen(self, contract: Any, event_name: str, handler: Callable[[dict[str, Any]], None]) -> None:
        for topic, spec in contract.contract_type.events.items():
            if spec.name == event_name:
                self.listeners[topic] = (_event_decoder(spec, self.topic_index, self.addresses), handler)
                return
        raise KeyError(f"{contract} has no event {event_name}")

    def send(self, kind: str, sender: str, to: str, data: bytes) -> bytes | None:
        """Send; returns the return data, or None if the transaction reverted."""
        chain = self.chain
        if self.record is not None:
            self.record.append((chain.time, sender, to, data, kind))
        self.count += 1
        by_kind = self.by_kind
        by_kind[kind] = by_kind.get(kind, 0) + 1
        t0 = perf_counter()
        try:
            out = self._send(sender, to, data)
        except Reverted as exc:
            self.chain_seconds += perf_counter() - t0
            key = f"{kind}: {exc.reason or exc.halt or 'revert'}"
            self.reverts[key] = self.reverts.get(key, 0) + 1
            return None
        self.chain_seconds += perf_counter() - t0
        touched = self.touched
        logs = chain.last_receipt.raw_logs
        if logs:
            topic_index = self.topic_index
            listeners = self.listeners
            engine = self.engine_address
            engine_topics = self.engine_topics
            for log in logs:
                topics, payload = log.data
                if not topics or (topics[0] not in engine_topics and log.address != engine):
                    continue
                for k in range(1, len(topics)):
                    idx = topic_index.get(topics[k])
                    if idx is not None:
                        touched.add(idx)
                hit = listeners.get(topics[0])
                if hit is not None:
                    decode, handler = hit
                    handler(decode(topics, payload))
        sender_idx = self.index_of.get(sender)
        if sender_idx is not None:
            touched.add(sender_idx)
        return out

    def take_touched(self) -> set[int]:
        touched, self.touched = self.touched, set()
        return touched


__all__ = [
    "TxSender",
    "address_array",
    "address_word",
    "int_array",
    "int_at",
    "selector",
    "static_tuple_array",
    "word_array",
    "uint_at",
    "word",
]
