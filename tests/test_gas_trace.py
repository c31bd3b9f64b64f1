"""`vyperp gas --trace`: the storage/opcode trace of one measured transaction."""

from __future__ import annotations

from vyperp.bench.gas import trace_operation
from vyperp.bench.trace import op_class
from vyperp.chain.base import BaseChain


def test_deposit_trace_names_the_balance_and_margin_slots() -> None:
    trace = trace_operation("deposit")
    trader = BaseChain.label_address("measured")  # trading_gas's measured trader
    engine = trace["contracts"]["Engine"]["address"]
    token = trace["contracts"]["TestToken"]
    written = {slot["name"]: slot for slot in token["slots"] if slot["sstores"]}
    assert set(written) == {f"erc20.balanceOf[{trader.lower()}]", f"erc20.balanceOf[{engine}]"}
    assert all(slot["cold"] and slot["write"] == "rewrite" for slot in written.values())
    [margin] = [slot for slot in trace["contracts"]["Engine"]["slots"] if slot["sstores"]]
    assert margin["name"] == f"ledger._accounts[{trader.lower()}]"  # the margin, packed with the open-market mask
    assert margin["cold"] and margin["write"] == "fresh" and margin["original"] == 0 and margin["final"] > 0
    # the classes add up to exactly what the receipt charged
    assert trace["unaccounted"] == 0
    assert trace["gas_used"] == trace["intrinsic"] + sum(trace["execution_by_class"].values()) - trace["refund"]


def test_op_classes() -> None:
    assert [op_class(o) for o in ("SLOAD", "SSTORE", "STATICCALL", "LOG3", "KECCAK256", "TSTORE", "ADD")] == [
        "SLOAD",
        "SSTORE",
        "CALL",
        "LOG",
        "KECCAK",
        "TRANSIENT",
        "other",
    ]
