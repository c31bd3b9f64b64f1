"""Storage and opcode trace of one transaction on the embedded chain (`vyperp gas --trace`).

Source of the trace: pyrevm's own EIP-3155 tracer (``EVM.tracing = True``; revm's
``TracerEip3155``), which prints one JSON line per executed opcode -- ``op``, ``gas``
(remaining before the step), ``gasCost``, ``depth``, ``stack``, ``refund`` -- to the
process's file descriptor 1 (Rust's stdout, not ``sys.stdout``). :func:`traced` turns it
on for exactly one ``ExactBackend.transact`` call (the measured transaction; the eth_calls
around it are not traced), captures fd 1 into a temporary file and parses it. Tracing does
not change the gas: the receipt is the one ``vyperp gas`` measures. No anvil needed.

What the struct log lacks is memory and storage, so: the frame's storage address is
followed through CALL/STATICCALL (``stack[-2]``; DELEGATECALL/CALLCODE keep the caller's
storage), SLOAD/SSTORE keys are ``stack[-1]``, an SLOAD's value is the next step's top of
stack, and cold/warm and fresh/rewrite come from the charged cost (EIP-2929/3529):
SLOAD 2,100 cold / 100 warm; SSTORE (+2,100 if cold) 20,000 fresh (zero -> nonzero, the
slot's first write in the transaction), 2,900 rewrite (nonzero original changed), 100
dirty or no-op. A CALL's own cost is its charged gas minus what the callee consumed.

Slot names come from the compiler's storage layout (``vyper -f layout``): static variables
by slot range, HashMap entries by matching ``keccak(slot . key)`` (nested: ``keccak(h . key)``)
over candidate keys -- what CALLER/ADDRESS/ORIGIN/CALLDATALOAD returned, the known contracts and
the integers 0-255 --
and struct fields by the word offsets of the variable's public getter (ABI order = storage
order for static structs). A hashed slot no candidate explains is labelled ``hashed:0x..``.
"""

from __future__ import annotations

import io
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from eth_utils import keccak

from ..chain.abi import static_layout
from ..chain.compiler import CONTRACTS_DIR, EVM_VERSION, _search_paths, compile_contract, resolve_source

CALL_OPS = {"CALL", "STATICCALL", "DELEGATECALL", "CALLCODE"}
CREATE_OPS = {"CREATE", "CREATE2"}
# opcodes whose result may be a mapping key (msg.sender, self, an argument)
KEY_SOURCES = {"CALLER", "ADDRESS", "ORIGIN", "CALLDATALOAD"}
SMALL_KEYS = range(256)  # market ids, round ids, array indices
CLASSES = ("SLOAD", "SSTORE", "CALL", "LOG", "KECCAK", "TRANSIENT", "other")
SLOAD_COLD, SLOAD_WARM, COLD_SURCHARGE = 2_100, 100, 2_100
SSTORE_FRESH, SSTORE_REWRITE, SSTORE_DIRTY = 20_000, 2_900, 100


def op_class(name: str) -> str:
    if name in ("SLOAD", "SSTORE"):
        return name
    if name in CALL_OPS or name in CREATE_OPS:
        return "CALL"
    if name.startswith("LOG"):
        return "LOG"
    if name in ("KECCAK256", "SHA3"):
        return "KECCAK"
    if name in ("TLOAD", "TSTORE"):
        return "TRANSIENT"
    return "other"


# ---------------------------------------------------------------- capture


@dataclass
class RawTrace:
    """The measured transaction: its struct log and what the chain reported."""

    sender: str
    to: str
    gas_limit: int
    gas_used: int
    steps: list[dict[str, Any]]


@contextmanager
def _stdout_to(file: Any) -> Iterator[None]:
    """Point both fd 1 and ``sys.stdout`` at ``file`` (pyrevm's tracer ends up in one of them:
    the fd when run as a program, the Python object under pytest's capture)."""
    sys.stdout.flush()
    saved_fd, saved_obj = os.dup(1), sys.stdout
    os.dup2(file.fileno(), 1)
    sys.stdout = io.TextIOWrapper(os.fdopen(os.dup(file.fileno()), "wb"), write_through=True)
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stdout.close()
        sys.stdout = saved_obj
        os.dup2(saved_fd, 1)
        os.close(saved_fd)


def traced(chain: Any, action: Callable[[], object]) -> RawTrace:
    """Run ``action`` (which must send exactly one transaction) with pyrevm's tracer on."""
    backend = chain._backend
    if not getattr(backend, "exact_gas", False):
        raise ValueError("tracing needs Chain(exact_gas=True): the fast backend's gas is warm-state gas")
    evm = backend.evm
    inner = chain._b_transact
    sent: list[tuple[str, str, Any]] = []

    def transact(sender: str, to: str, data: bytes, value: int, gas: int | None) -> Any:
        with tempfile.TemporaryFile() as log:
            with _stdout_to(log):
                evm.tracing = True  # revm buffers the tracer's output: switch it off before fd 1 returns
                try:
                    out, res = inner(sender, to, data, value, gas)
                finally:
                    evm.tracing = False
            log.seek(0)
            sent.append((sender, to, (res, log.read())))
        return out, res

    chain._b_transact = transact
    try:
        action()
    finally:
        chain._b_transact = inner
    if len(sent) != 1:
        raise ValueError(f"the traced action sent {len(sent)} transactions, expected 1")
    sender, to, (res, text) = sent[0]
    steps = [json.loads(line) for line in text.splitlines() if line.startswith(b'{"pc"')]
    return RawTrace(sender.lower(), to.lower(), int(backend.gas_limit), int(res.gas_used), steps)


# ---------------------------------------------------------------- storage names


@dataclass(frozen=True)
class StorageVar:
    name: str
    slot: int
    n_slots: int
    type: str

    @property
    def hashed(self) -> bool:
        return self.type.startswith("HashMap[")


def _flatten(layout: dict[str, Any], prefix: str = "") -> Iterator[StorageVar]:
    for name, entry in layout.items():
        if "slot" in entry and "type" in entry:
            yield StorageVar(prefix + name, int(entry["slot"]), int(entry["n_slots"]), str(entry["type"]))
        else:
            yield from _flatten(entry, f"{prefix}{name}.")


@cache
def storage_layout(contract: str) -> tuple[StorageVar, ...]:
    """The storage variables of a contract, from ``vyper -f layout`` (module vars prefixed)."""
    import vyper
    from vyper.compiler.input_bundle import FilesystemInputBundle
    from vyper.compiler.settings import Settings

    source = resolve_source(contract, CONTRACTS_DIR)
    bundle = FilesystemInputBundle(_search_paths(source, CONTRACTS_DIR))
    out = vyper.compile_from_file_input(
        bundle.load_file(source),
        input_bundle=bundle,
        output_formats=["layout"],
        settings=Settings(evm_version=EVM_VERSION),
    )
    return tuple(sorted(_flatten(out["layout"]["storage_layout"]), key=lambda v: v.slot))


@cache
def _getter_fields(contract: str) -> dict[str, dict[int, str]]:
    """Public getter name -> {word offset: field} of its static struct output."""
    out: dict[str, dict[int, str]] = {}
    for item in compile_contract(contract).abi:
        if item.get("type") != "function" or len(item.get("outputs", [])) != 1:
            continue
        result = item["outputs"][0]
        if result.get("type") != "tuple":
            continue
        try:
            words = static_layout(result)
        except Exception:  # dynamic members: no fixed word offsets
            continue
        out[item["name"]] = {at // 32: name for name, at in words.items()}  # byte -> word offset
    return out


class SlotNamer:
    """Names the slots of one contract: ``var``, ``var[key]``, ``var[k1][k2].field``."""

    def __init__(self, contract: str, keys: set[int]):
        self.contract = contract
        self.vars = storage_layout(contract)
        self.fields = _getter_fields(contract)
        self.keys = sorted(set(keys) | set(SMALL_KEYS))
        self._hashes: dict[int, tuple[StorageVar, str]] | None = None

    def _hash_table(self) -> dict[int, tuple[StorageVar, str]]:
        if self._hashes is None:
            table: dict[int, tuple[StorageVar, str]] = {}
            for var in self.vars:
                if not var.hashed:
                    continue
                depth = var.type.count("HashMap[")
                level = {var.slot: ""}
                for _ in range(depth):
                    nxt: dict[int, str] = {}
                    for base, label in level.items():
                        for key in self.keys:
                            h = int.from_bytes(keccak(base.to_bytes(32, "big") + key.to_bytes(32, "big")), "big")
                            nxt[h] = f"{label}[{_key_label(key)}]"
                    level = nxt
                for h, label in level.items():
                    table[h] = (var, label)
            self._hashes = table
        return self._hashes

    def name(self, slot: int) -> str:
        for var in self.vars:
            if not var.hashed and var.slot <= slot < var.slot + var.n_slots:
                off = slot - var.slot
                return var.name if var.n_slots == 1 else f"{var.name}+{off}"
        table = self._hash_table()
        for off in range(64):  # a HashMap value spans at most a few dozen words here
            hit = table.get(slot - off)
            if hit is not None:
                var, label = hit
                getter = self.fields.get(var.name.rsplit(".", 1)[-1].lstrip("_"), {})
                suffix = f".{getter[off]}" if off in getter else (f"+{off}" if off else "")
                return f"{var.name}{label}{suffix}"
        return f"hashed:{slot:#x}"


def _key_label(key: int) -> str:
    return f"{key:#042x}" if key >= 2**16 else str(key)


# ---------------------------------------------------------------- summary


@dataclass
class SlotUse:
    slot: int
    sloads: int = 0
    sstores: int = 0
    cold: bool = False
    first_write: str = ""  # the priced write: fresh | rewrite | dirty (only no-op / already-written stores)
    gas: int = 0
    original: int | None = None


@dataclass
class Frame:
    address: str  # storage address
    start_gas: int
    last_gas: int = 0
    last_cost: int = 0


@dataclass
class ContractUse:
    slots: dict[int, SlotUse] = field(default_factory=dict)


def summarize(
    raw: RawTrace, names: dict[str, tuple[str, str]], final_storage: Callable[[str, int], int]
) -> dict[str, Any]:
    """The trace summary: gas by opcode class and, per contract, every slot touched.

    ``names``: lower-case address -> (label, contract source name) of the known contracts."""
    steps = raw.steps
    by_class = dict.fromkeys(CLASSES, 0)
    count = dict.fromkeys(CLASSES, 0)
    contracts: dict[str, ContractUse] = {}
    seen_addresses: set[int] = {int(raw.sender, 16), int(raw.to, 16)} | {int(a, 16) for a in names}
    top = steps[0]["depth"]
    frames = [Frame(raw.to, int(steps[0]["gas"], 16))]
    pending: list[tuple[int, str]] = []  # (step index of the call, callee storage address)
    pending_sload: SlotUse | None = None
    for i, step in enumerate(steps):
        depth, gas, cost, op = step["depth"], int(step["gas"], 16), int(step["gasCost"], 16), step["opName"]
        stack = step["stack"]
        level = depth - top
        if pending_sload is not None:
            pending_sload.original = int(stack[-1], 16) if pending_sload.original is None else pending_sload.original
            pending_sload = None
        while level < len(frames) - 1:  # a call returned
            child = frames.pop()
            j, _ = pending.pop()
            call = steps[j]
            own = int(call["gas"], 16) - gas - (child.start_gas - (child.last_gas - child.last_cost))
            by_class["CALL"] += own
        if level == len(frames):  # a call entered code
            frames.append(Frame(pending[-1][1], gas))
        elif pending and pending[-1][0] == i - 1 and level == len(frames) - 1 and steps[i - 1]["depth"] == depth:
            j, _ = pending.pop()  # the call ran no code (EOA or precompile)
            by_class["CALL"] += int(steps[j]["gas"], 16) - gas
        frame = frames[-1]
        frame.last_gas, frame.last_cost = gas, cost
        if i and steps[i - 1]["opName"] in KEY_SOURCES and stack:
            x = int(stack[-1], 16)
            if x < 2**160:
                seen_addresses.add(x)
        cls = op_class(op)
        count[cls] += 1
        if op in CALL_OPS or op in CREATE_OPS:
            target = frame.address if op in ("DELEGATECALL", "CALLCODE") else f"{int(stack[-2], 16):#042x}"
            pending.append((i, target))
            if i == len(steps) - 1:
                by_class["CALL"] += cost
            continue
        by_class[cls] += cost
        if op in ("SLOAD", "SSTORE"):
            slot = int(stack[-1], 16)
            use = contracts.setdefault(frame.address, ContractUse()).slots.setdefault(slot, SlotUse(slot))
            first = use.sloads == 0 and use.sstores == 0
            use.gas += cost
            if op == "SLOAD":
                use.sloads += 1
                use.cold = use.cold or (first and cost == SLOAD_COLD)
                if first:
                    pending_sload = use
            else:
                base = (
                    cost - COLD_SURCHARGE
                    if first and cost - COLD_SURCHARGE in (SSTORE_FRESH, SSTORE_REWRITE, SSTORE_DIRTY)
                    else cost
                )
                use.cold = use.cold or (first and base != cost)
                kind = {SSTORE_FRESH: "fresh", SSTORE_REWRITE: "rewrite"}.get(base, "dirty")
                if use.sstores == 0 or kind != "dirty":  # a no-op first store, then a real one
                    use.first_write = kind
                    if first and base == SSTORE_FRESH:
                        use.original = 0
                use.sstores += 1
    refund = int(steps[-1]["refund"], 16)
    intrinsic = raw.gas_limit - int(steps[0]["gas"], 16)
    execution = sum(by_class.values())
    applied_refund = min(refund, (intrinsic + execution) // 5)
    out_contracts: dict[str, Any] = {}
    for address, use in contracts.items():
        label, contract = names.get(address, (address, ""))
        namer = SlotNamer(contract, seen_addresses) if contract in _LAYOUT_CONTRACTS else None
        slots = []
        for s in sorted(use.slots.values(), key=lambda u: -u.gas):
            slots.append(
                {
                    "slot": f"{s.slot:#x}",
                    "name": namer.name(s.slot) if namer else f"{s.slot:#x}",
                    "cold": s.cold,
                    "sloads": s.sloads,
                    "sstores": s.sstores,
                    "write": s.first_write or None,
                    "gas": s.gas,
                    "original": s.original,
                    "final": final_storage(address, s.slot),
                }
            )
        out_contracts[label] = {
            "address": address,
            "contract": contract or None,
            "distinct_slots_read": sum(1 for s in use.slots.values() if s.sloads),
            "distinct_slots_written": sum(1 for s in use.slots.values() if s.sstores),
            "cold_slots": sum(1 for s in use.slots.values() if s.cold),
            "fresh_writes": sum(1 for s in use.slots.values() if s.first_write == "fresh"),
            "rewrites": sum(1 for s in use.slots.values() if s.first_write == "rewrite"),
            "sload_count": sum(s.sloads for s in use.slots.values()),
            "sstore_count": sum(s.sstores for s in use.slots.values()),
            "storage_gas": sum(s.gas for s in use.slots.values()),
            "slots": slots,
        }
    return {
        "gas_used": raw.gas_used,
        "intrinsic": intrinsic,
        "execution_by_class": by_class,
        "opcode_count_by_class": count,
        "refund": applied_refund,
        "unaccounted": raw.gas_used - (intrinsic + execution - applied_refund),
        "opcodes": len(steps),
        "contracts": out_contracts,
    }


_LAYOUT_CONTRACTS = {"Engine", "LiquidityPool", "TestToken", "MockOracle", "OrderBook", "MarketConfigurator"}
