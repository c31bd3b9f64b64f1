"""The structure the code relies on is explicit and checked (scans of the source tree).

* no struct read by position: no index or slice on the result of a struct-returning
  call (the function names come from the compiled ABIs), no "field position" constants,
  no hand-written byte offsets into returned data outside the ABI codec (vyperp/chain);
* one WAD in the Python library (vyperp.protocol.units).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from vyperp.chain.compiler import compile_contract

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted([*(ROOT / "vyperp").rglob("*.py"), *(ROOT / "tests").rglob("*.py"), *(ROOT / "scripts").glob("*.py")])
CODEC = ROOT / "vyperp" / "chain"  # the ABI codec and the transports: offsets are their job
THIS = Path(__file__).resolve()


def struct_functions() -> set[str]:
    """Every deployed contract's function that returns a struct (an array of structs is indexed
    by position legitimately: ``brackets_of(m)[0]`` is the first bracket)."""
    names = set()
    for contract in ("Engine", "EngineLens", "MarketConfigurator", "LiquidityPool", "OrderBook"):
        for item in compile_contract(contract).abi:
            if item.get("type") == "function" and any(o["type"] == "tuple" for o in item.get("outputs", [])):
                names.add(item["name"])
    return names


def _code_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, line without its comment) of a Python file, docstrings included."""
    return [(i, line.split("#", 1)[0]) for i, line in enumerate(path.read_text().splitlines(), 1)]


def positional_reads(path: Path, functions: set[str]) -> list[str]:
    """Index or slice with a literal on a struct-returning call, directly or through the
    variable it was assigned to in the same file."""
    call = "|".join(sorted(functions))
    direct = re.compile(rf"\.(?:{call})(?:\.call)?\([^()]*(?:\([^()]*\)[^()]*)*\)\s*\[\s*-?\d*\s*:?\s*-?\d*\s*\]")
    assigned = re.compile(rf"^\s*(\w+)\s*=\s*(?:\w+\.)*(?:{call})\(")
    lines = _code_lines(path)
    variables = {m.group(1) for _, line in lines if (m := assigned.match(line))}
    found = [f"{path.relative_to(ROOT)}:{i}: {line.strip()}" for i, line in lines if direct.search(line)]
    if variables:
        indexed = re.compile(rf"\b(?:{'|'.join(sorted(variables))})\[\s*-?\d*\s*:?\s*-?\d*\s*\]")
        found += [f"{path.relative_to(ROOT)}:{i}: {line.strip()}" for i, line in lines if indexed.search(line)]
    return found


def test_the_scan_finds_what_it_looks_for(tmp_path: Path) -> None:
    """The scanner itself: each forbidden form in a sample file is reported, names are not."""
    sample = ROOT / "tests" / "_scan_sample.py"
    sample.write_text(
        "a = engine.market_state(0)[8]\nstate = system.engine.market_state(BTC)\nx = state[3]\n"
        "y = state.last_price\nz = engine.position(a, m)[:2]\n"
    )
    try:
        found = positional_reads(sample, {"market_state", "position"})
    finally:
        sample.unlink()
    assert [f.split(":")[1] for f in found] == ["1", "5", "3"]


def test_no_positional_struct_reads() -> None:
    functions = struct_functions()
    assert {"market_state", "market_config", "account_health", "position"} <= functions
    found = [hit for path in SOURCES if path != THIS for hit in positional_reads(path, functions)]
    assert not found, "struct read by position (read the field by name):\n" + "\n".join(found)


def test_no_field_position_constants() -> None:
    pattern = re.compile(r"field positions?\b", re.I)
    found = [
        f"{p.relative_to(ROOT)}:{i}"
        for p in SOURCES
        if p != THIS
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert not found, found


@pytest.mark.parametrize("layer", ["sim", "ops", "bench", "protocol", "fuzz", "model"])
def test_no_hand_written_byte_offsets_outside_the_codec(layer: str) -> None:
    """Returned data is sliced only at offsets computed from the ABI (abi.head_offsets,
    static_layout) — a literal range like ``body[256:288]`` is a hand-written offset."""
    literal = re.compile(r"\[\s*\d+\s*:\s*\d+\s*\]")
    files = [p for p in SOURCES if p.is_relative_to(ROOT / "vyperp" / layer)] + (
        [ROOT / "vyperp" / "model.py"] if layer == "model" and (ROOT / "vyperp" / "model.py").exists() else []
    )
    found = [
        f"{p.relative_to(ROOT)}:{i}: {line.strip()}"
        for p in files
        for i, line in _code_lines(p)
        if literal.search(line)
    ]
    assert not found, "\n".join(found)


def test_one_wad_in_the_library() -> None:
    pattern = re.compile(r"^WAD\s*=", re.M)
    defining = sorted(
        str(p.relative_to(ROOT))
        for p in SOURCES
        if p.is_relative_to(ROOT / "vyperp") and not p.is_relative_to(CODEC) and pattern.search(p.read_text())
    )
    assert defining == ["vyperp/protocol/units.py"], defining


CONTRACTS = ROOT / "vyperp" / "contracts"


def test_engine_implements_one_interface_that_every_consumer_uses() -> None:
    engine = (CONTRACTS / "Engine.vy").read_text()
    assert re.search(r"^implements: IEngine$", engine, re.M)
    assert re.search(r"^implements: IEngineAdmin$", (CONTRACTS / "EngineAdmin.vy").read_text(), re.M)
    for consumer in ("EngineLens.vy", "LiquidityPool.vy", "MarketConfigurator.vy", "OrderBook.vy"):
        text = (CONTRACTS / consumer).read_text()
        assert re.search(r"^from interfaces import IEngine$", text, re.M), consumer
        assert not re.search(r"^interface IEngine\w*:", text, re.M), f"{consumer} declares its own engine interface"
    # every external function of the compiled engine is in the interface (implements: checks the reverse)
    # (the engine's ABI includes its facet EngineAdmin's functions, declared in IEngineAdmin)
    declared = set()
    for name in ("IEngine.vyi", "IEngineAdmin.vyi"):
        declared |= set(re.findall(r"^def (\w+)\(", (CONTRACTS / "interfaces" / name).read_text(), re.M))
    compiled = {i["name"] for i in compile_contract("Engine").abi if i.get("type") == "function"}
    assert compiled <= declared, sorted(compiled - declared)


def test_one_wad_in_the_contracts() -> None:
    defining = sorted(p.name for p in CONTRACTS.rglob("*.vy") if re.search(r"^I?WAD: constant", p.read_text(), re.M))
    assert defining == ["constants.vy"], defining


def test_hot2_reads_two_fields_of_one_word() -> None:
    """markets._hot2 loads field_a's word once and reads both fields from it: every call
    must name two fields of the same packed word (the word is the constant's low byte)."""
    markets = (CONTRACTS / "markets.vy").read_text()
    fields = {
        name: int(word)
        for name, word in re.findall(r"^([A-Z_]+): constant\(uint256\) = (\d+) \| \d+ << 8 \| \d+ << 16", markets, re.M)
    }
    assert {"SKEW_SCALE", "MAX_PREMIUM", "ORACLE", "PRICE_SCALE"} <= set(fields)
    calls = [
        (path.name, a, b)
        for path in CONTRACTS.rglob("*.vy")
        for a, b in re.findall(r"_hot2\(market, (?:markets\.)?([A-Z_]+), (?:markets\.)?([A-Z_]+)\)", path.read_text())
    ]
    assert len(calls) >= 8
    assert [c for c in calls if fields[c[1]] != fields[c[2]]] == []
