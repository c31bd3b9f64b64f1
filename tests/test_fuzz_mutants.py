"""The mutation list stays applicable: every mutant's snippet occurs exactly once in the
shipped contracts (so it mutates what it says, and `vyperp mutate` does not stop on a
stale pattern), the mutation differs from the original, names are unique, and the
selection by name and by file (`vyperp mutate --names / --file`) picks what it says."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from vyperp.fuzz.mutation import CONTRACTS, MUTANTS, SUITE, SWAP_SUITE, apply, locate, select, suite_for


def test_every_snippet_applies_exactly_once(tmp_path: Path) -> None:
    assert len({m.name for m in MUTANTS}) == len(MUTANTS), "duplicate mutant names"
    for mutant in MUTANTS:
        target = tmp_path / mutant.name / "contracts"
        shutil.copytree(CONTRACTS, target)
        path = locate(mutant, target)
        before = path.read_text()
        assert mutant.old != mutant.new, mutant.name
        apply(mutant, target)
        after = path.read_text()
        assert after != before and after.count(mutant.new) >= 1, mutant.name
        assert before.replace(mutant.old, mutant.new) == after
        shutil.rmtree(target.parent)


def test_the_issue_14_mutants_are_seeded() -> None:
    by_file: dict[str, int] = {}
    for m in MUTANTS:
        if m.swaps:
            by_file[m.file] = by_file.get(m.file, 0) + 1
    assert by_file.get("FundingSwaps.vy", 0) >= 8 and by_file.get("FundingCaps.vy", 0) >= 6
    assert sum(n for f, n in by_file.items() if f not in ("FundingSwaps.vy", "FundingCaps.vy")) >= 2


def test_selection_by_name_and_file() -> None:
    swaps = select(files=["FundingSwaps.vy"])
    assert swaps and all(m.file == "FundingSwaps.vy" for m in swaps)
    both = select(names=["engine-swap-flag-never-set"], files=["FundingCaps.vy"])
    assert {m.file for m in both} == {"Engine.vy", "FundingCaps.vy"}
    assert [m.name for m in select(names=["pnl-rounds-up"])] == ["pnl-rounds-up"]
    assert select() == MUTANTS
    with pytest.raises(ValueError, match="no mutant"):
        select(names=["no-such-mutant"])


def test_a_swaps_mutant_runs_the_swaps_suite_first() -> None:
    mutant = next(m for m in MUTANTS if m.swaps)
    order = suite_for(mutant)
    assert order[: len(SWAP_SUITE)] == SWAP_SUITE and sorted(order) == sorted(SUITE)
    assert suite_for(next(m for m in MUTANTS if not m.swaps)) == SUITE
