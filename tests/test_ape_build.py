"""vyperp.ops.ape_build: ape's compile cache is rebuilt whenever any contract source changed,
also a module ape never compiles on its own (the stale-Engine failure after the packing merge)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vyperp.ops.ape_build import ensure_compiled, sources_digest, stamp_path


@dataclass
class _Manifest:
    contract_types: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Project:
    """The three things ensure_compiled uses of ape's local project; counts full recompiles."""

    root: Path
    manifest: _Manifest = field(default_factory=_Manifest)
    full_compiles: int = 0

    @property
    def contracts_folder(self) -> Path:
        return self.root / "contracts"

    @property
    def manifest_path(self) -> Path:
        return self.root / ".build" / "__local__.json"

    def load_contracts(self, use_cache: bool = True) -> dict[str, Any]:
        assert use_cache is False, "a stale cache must be rebuilt without ape's per-file check"
        self.full_compiles += 1
        self.manifest.contract_types = {"Engine": object()}
        return {}


def _project(tmp_path: Path) -> _Project:
    contracts = tmp_path / "contracts"
    (contracts / "interfaces").mkdir(parents=True)
    (contracts / "Engine.vy").write_text("import markets\n")
    (contracts / "markets.vy").write_text("x: uint256\n")  # excluded from ape's compile
    (contracts / "interfaces" / "IEngine.vyi").write_text("def f(): ...\n")
    (contracts / "notes.txt").write_text("not a source")
    return _Project(tmp_path)


def test_digest_covers_every_source_and_only_sources(tmp_path: Path) -> None:
    project = _project(tmp_path)
    folder = project.contracts_folder
    before = sources_digest(folder)
    (folder / "notes.txt").write_text("edited")
    assert sources_digest(folder) == before
    for name in ("markets.vy", "interfaces/IEngine.vyi", "Engine.vy"):
        path = folder / name
        text = path.read_text()
        path.write_text(text + "# edit\n")
        assert sources_digest(folder) != before, name
        path.write_text(text)
        assert sources_digest(folder) == before, name
    (folder / "markets.vy").rename(folder / "market.vy")  # same bytes, another path
    assert sources_digest(folder) != before


def test_recompiles_once_per_change_of_a_module(tmp_path: Path) -> None:
    project = _project(tmp_path)
    assert ensure_compiled(project) is True  # no stamp yet (e.g. a cache ape built alone)
    assert stamp_path(project).read_text().strip() == sources_digest(project.contracts_folder)
    assert ensure_compiled(project) is False and project.full_compiles == 1
    # an edit to a module only Engine.vy imports: ape's per-file check would keep the old Engine
    (project.contracts_folder / "markets.vy").write_text("x: uint128\n")
    assert ensure_compiled(project) is True and project.full_compiles == 2
    assert ensure_compiled(project) is False and project.full_compiles == 2


def test_recompiles_a_stamped_but_empty_cache(tmp_path: Path) -> None:
    project = _project(tmp_path)
    ensure_compiled(project)
    project.manifest.contract_types = {}  # e.g. `ape compile` cleaned .build but the stamp survived
    assert ensure_compiled(project) is True and project.full_compiles == 2
