"""Vyper compilation with an on-disk artefact cache.

``compile_contract("Engine")`` compiles ``vyperp/contracts/Engine.vy`` (or any path)
with vyper 0.4.3 for the ``cancun`` EVM (what the embedded pyrevm runs) and
returns an :class:`Artifact`.

Import resolution (highest precedence last, as vyper does it):
``sys.path`` (so ``from snekmate.tokens import erc20`` works from the venv),
the contracts directory (``from interfaces import IFoo`` ->
``contracts/interfaces/IFoo.vyi``, ``import some_module`` ->
``contracts/some_module.vy``), then the source file's own directory.

Caching: artefacts are memoised in-process and stored as JSON under
``~/.cache/vyperp/chain/`` (``$VYPERP_CACHE_DIR``). A cache entry is keyed by vyper version, compiler
settings and the source path, and records the sha256 of *every* file the
compiler read (the contract and all its imports); it is reused only while all
of those hashes still match, so editing an imported module recompiles.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import resources

SHIPPED_CONTRACTS = resources.CONTRACTS
"""The contracts shipped inside the package (``vyperp/contracts/``, package data)."""
CONTRACTS_DIR = (
    Path(os.environ["VYPERP_CONTRACTS_DIR"]) if os.environ.get("VYPERP_CONTRACTS_DIR") else SHIPPED_CONTRACTS
)
"""Where contract names are looked up: the shipped contracts, or ``VYPERP_CONTRACTS_DIR`` when
set (the mutation check points every test at a mutated copy this way). Test doubles live in
its ``testing/`` folder and are found by name too."""
BUILD_DIR = (
    Path(
        os.environ.get("VYPERP_CACHE_DIR")
        or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "vyperp"
    )
    / "chain"
)
"""The compile cache: outside the source tree (``$VYPERP_CACHE_DIR`` or ``~/.cache/vyperp``), so an
installed package never writes into its own directory."""
EVM_VERSION = "cancun"

_CACHE_FORMAT = 1

FACETS: dict[str, tuple[str, ...]] = {"Engine": ("EngineAdmin",)}
"""A contract's facets: contracts whose code it runs by DELEGATECALL (from its
``__default__``) for every selector it does not implement itself. The contract's ABI is its
own plus its facets' functions and events, so callers and event decoders see one contract.
A facet whose source is missing (an older contracts tree) is skipped."""


@dataclass(eq=False)
class Artifact:
    """A compiled contract.

    Attributes:
        name: contract name (file stem).
        abi: the ABI as a list of JSON dicts.
        bytecode: init code (deploy this, constructor args appended).
        runtime_bytecode: runtime code as emitted by the compiler (without
            the immutables section appended at deploy time).
        runtime_size: ``len(runtime_bytecode)``.
        source_path: absolute path of the main source file.
    """

    name: str
    abi: list[dict[str, Any]]
    bytecode: bytes
    runtime_bytecode: bytes
    source_path: str
    _contract_type: Any = field(default=None, repr=False)

    @property
    def runtime_size(self) -> int:
        return len(self.runtime_bytecode)

    @property
    def contract_type(self) -> Any:
        """Pre-computed selectors/encoders/decoders (built once, lazily)."""
        if self._contract_type is None:
            from .abi import ContractType

            self._contract_type = ContractType(self.abi, self.name)
        return self._contract_type


class CompileError(Exception):
    """Raised when a contract cannot be found or does not compile."""


# in-process memo: source path -> (dependency stat signature, Artifact)
_MEMO: dict[str, tuple[tuple[tuple[str, int, int], ...], Artifact]] = {}


def resolve_source(name_or_path: str | os.PathLike[str], contracts_dir: Path | None = None) -> Path:
    """Map a contract name (``"Engine"``) or a path to an existing source file."""
    cdir = Path(contracts_dir) if contracts_dir is not None else CONTRACTS_DIR
    s = str(name_or_path)
    p = Path(s)
    if p.suffix in (".vy", ".vyi") or os.sep in s or "/" in s:
        for cand in (p, cdir / p):
            if cand.is_file():
                return cand.resolve()
        raise CompileError(f"contract source not found: {s}")
    direct = cdir / f"{s}.vy"
    if direct.is_file():
        return direct.resolve()
    found = sorted(cdir.rglob(f"{s}.vy")) if cdir.is_dir() else []
    if len(found) == 1:
        return found[0].resolve()
    if len(found) > 1:
        raise CompileError(f"ambiguous contract name {s!r}: {[str(f) for f in found]}")
    raise CompileError(f"contract {s!r} not found under {cdir}")


def _search_paths(source: Path, contracts_dir: Path) -> list[Path]:
    paths: list[Path] = []
    for p in reversed(sys.path):
        if p and Path(p).is_dir():
            paths.append(Path(p))
    paths.append(Path("."))
    paths.append(contracts_dir)
    paths.append(source.parent)
    return paths


def _stat_sig(paths: list[str]) -> tuple[tuple[str, int, int], ...]:
    out = []
    for p in paths:
        try:
            st = os.stat(p)
            out.append((p, st.st_mtime_ns, st.st_size))
        except OSError:
            out.append((p, -1, -1))
    return tuple(out)


def _sha(path: str) -> str | None:
    try:
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    except OSError:
        return None


def _cache_key(source: Path, contracts_dir: Path) -> str:
    import vyper

    h = hashlib.sha256()
    for part in (str(_CACHE_FORMAT), vyper.__version__, EVM_VERSION, str(source), str(contracts_dir)):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:32]


def _compile(
    source: Path, contracts_dir: Path, formats: tuple[str, ...] = ("abi", "bytecode", "bytecode_runtime")
) -> tuple[dict[str, Any], dict[str, str]]:
    """Run vyper; return (outputs, {dependency path: sha256})."""
    import vyper
    from vyper.compiler.input_bundle import FilesystemInputBundle
    from vyper.compiler.settings import Settings

    loaded: dict[str, str] = {}

    class _RecordingBundle(FilesystemInputBundle):
        def _load_from_path(self, resolved_path, original_path):  # type: ignore[no-untyped-def]
            res = super()._load_from_path(resolved_path, original_path)
            loaded[str(resolved_path)] = hashlib.sha256(res.source_code.encode()).hexdigest()
            return res

    def run(settings: Settings) -> dict[str, Any]:
        bundle = _RecordingBundle(_search_paths(source, contracts_dir))
        file_input = bundle.load_file(source)
        return vyper.compile_from_file_input(
            file_input, input_bundle=bundle, output_formats=list(formats), settings=settings
        )

    try:
        try:
            out = run(Settings(evm_version=EVM_VERSION))
        except ValueError as e:  # source pragma pins another evm version
            if "settings conflict" not in str(e):
                raise
            loaded.clear()
            out = run(Settings())
    except Exception as e:  # vyper raises many exception types
        raise CompileError(f"failed to compile {source}:\n{e}") from e
    return out, loaded


def _artifact_from(name: str, source: Path, data: dict[str, Any]) -> Artifact:
    return Artifact(
        name=name,
        abi=data["abi"],
        bytecode=bytes.fromhex(data["bytecode"].removeprefix("0x")),
        runtime_bytecode=bytes.fromhex(data["bytecode_runtime"].removeprefix("0x")),
        source_path=str(source),
    )


def compile_contract(
    name_or_path: str | os.PathLike[str],
    *,
    contracts_dir: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    use_cache: bool = True,
) -> Artifact:
    """Compile a Vyper contract (by name under ``contracts/`` or by path); a contract with
    facets (FACETS) gets their functions and events in its ABI.

    Args: as :func:`_compile_one`.
    """
    cdir = (Path(contracts_dir) if contracts_dir is not None else CONTRACTS_DIR).resolve()
    art = _compile_one(name_or_path, contracts_dir=cdir, cache_dir=cache_dir, use_cache=use_cache)
    return _with_facets(art, cdir, cache_dir, use_cache)


def _compile_one(
    name_or_path: str | os.PathLike[str],
    *,
    contracts_dir: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    use_cache: bool = True,
) -> Artifact:
    """Compile one Vyper contract (by name under ``contracts/`` or by path), its own ABI.

    Args:
        name_or_path: ``"Engine"`` (looked up as ``contracts/Engine.vy``, or
            uniquely anywhere below ``contracts/``) or a path to a ``.vy`` file.
        contracts_dir: override the contracts directory (name lookup and
            import search path).
        cache_dir: override the on-disk cache directory (default
            ``<project>/build/chain``).
        use_cache: set False to force a recompile.
    """
    cdir = (Path(contracts_dir) if contracts_dir is not None else CONTRACTS_DIR).resolve()
    source = resolve_source(name_or_path, cdir)
    key = str(source) + "\0" + str(cdir)
    name = source.stem

    if use_cache:
        memo = _MEMO.get(key)
        if memo is not None and _stat_sig([d for d, _, _ in memo[0]]) == memo[0]:
            return memo[1]

    cache_root = Path(cache_dir) if cache_dir is not None else BUILD_DIR
    cache_file = cache_root / f"{name}-{_cache_key(source, cdir)}.json"

    if use_cache and cache_file.is_file():
        try:
            entry = json.loads(cache_file.read_text())
            deps: dict[str, str] = entry["deps"]
            if all(_sha(p) == h for p, h in deps.items()):
                art = _artifact_from(name, source, entry)
                _MEMO[key] = (_stat_sig(list(deps)), art)
                return art
        except (OSError, ValueError, KeyError):
            pass

    out, deps = _compile(source, cdir)
    art = _artifact_from(name, source, out)
    entry = {
        "format": _CACHE_FORMAT,
        "name": name,
        "source": str(source),
        "abi": out["abi"],
        "bytecode": out["bytecode"],
        "bytecode_runtime": out["bytecode_runtime"],
        "deps": deps,
    }
    try:
        cache_root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache_root, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump(entry, f)
        os.replace(tmp, cache_file)
    except OSError:
        pass  # cache is best effort
    _MEMO[key] = (_stat_sig(list(deps)), art)
    return art


def storage_layout(
    name_or_path: str | os.PathLike[str], contracts_dir: str | os.PathLike[str] | None = None
) -> dict[str, Any]:
    """The compiler's layout output of a contract (storage, transient storage and code
    layouts), uncached: what the Engine and its facets must agree on."""
    cdir = (Path(contracts_dir) if contracts_dir is not None else CONTRACTS_DIR).resolve()
    out, _ = _compile(resolve_source(name_or_path, cdir), cdir, ("layout",))
    return out["layout"]


def _abi_key(entry: dict[str, Any]) -> tuple[str, str, tuple[str, ...]]:
    return (entry.get("type", ""), entry.get("name", ""), tuple(i["type"] for i in entry.get("inputs", [])))


def _with_facets(art: Artifact, cdir: Path, cache_dir: Any, use_cache: bool) -> Artifact:
    """``art`` with its facets' functions and events merged into its ABI (FACETS); a facet
    is looked up beside the contract's source and compiled with the same import path."""
    here = Path(art.source_path).parent
    facets = [
        _compile_one(here / f"{f}.vy", contracts_dir=cdir, cache_dir=cache_dir, use_cache=use_cache)
        for f in FACETS.get(art.name, ())
        if (here / f"{f}.vy").is_file()
    ]
    if not facets:
        return art
    sources = (art, *facets)
    cached = _MERGED.get(art.source_path)
    if cached is None or any(a is not b for a, b in zip(cached[0], sources)) or len(cached[0]) != len(sources):
        abi = list(art.abi)
        seen = {_abi_key(e) for e in abi}
        for facet in facets:
            for entry in facet.abi:
                if entry.get("type") in ("function", "event") and _abi_key(entry) not in seen:
                    seen.add(_abi_key(entry))
                    abi.append(entry)
        cached = (sources, Artifact(art.name, abi, art.bytecode, art.runtime_bytecode, art.source_path))
        _MERGED[art.source_path] = cached
    return cached[1]


# source path -> (the artifacts merged: the contract's own and its facets', the merged artifact);
# reused only while every one of them is still the memoised artifact (a recompile replaces it)
_MERGED: dict[str, tuple[tuple[Artifact, ...], Artifact]] = {}


def clear_memo() -> None:
    """Forget in-process artefacts (the disk cache is kept)."""
    _MEMO.clear()
    _MERGED.clear()
