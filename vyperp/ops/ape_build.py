"""ape's compile cache checked against every contract source, modules included.

ape decides per file whether a cached contract type is stale: it compares a source's
text with the text recorded in ``.build/__local__.json`` and recompiles only the files
that differ. Two holes follow, and each leaves an old Engine in the cache that ape then
deploys as if it were current:

* the Engine's stateful modules (markets.vy, ledger.vy, ... ``compile.exclude`` in
  ape-config.yaml) are not ape sources at all, and no importer is recompiled when a
  module it imports changes: an edit to markets.vy alone never reaches the cached Engine;
* ape writes *every* source's current text into the cache when it stores what it
  compiled, also for the files it did not compile. A compile that read Engine.vy before a
  checkout or merge rewrote it, and stored its result after, records the new Engine.vy
  against the old bytecode -- for good (the text matches from then on).

Both happened on main after the storage-packing merge: the cache held the pre-packing
Engine (``add_market(config, brackets, risk)``, 24,230 bytes) beside the current
MarketConfigurator, which calls ``add_market(config, brackets, risk, hot)``, a selector
that Engine does not have, so listing the first market reverted without a reason.

:func:`ensure_compiled` closes both: it hashes every ``.vy`` / ``.vyi`` file under the
contracts folder and recompiles the whole project (ape's ``use_cache=False``) unless the
cache was built from exactly that digest. The digest is taken *before* compiling and
written after, so a source that changes while ape compiles leaves a stale digest and the
next run compiles again.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

STAMP_SUFFIX = ".vyperp-sources"
"""The digest file beside ape's manifest (``.build/__local__.json.vyperp-sources``)."""


def sources_digest(contracts_folder: Path) -> str:
    """SHA-256 over the relative path and bytes of every .vy / .vyi file under the folder."""
    digest = hashlib.sha256()
    files = sorted(p for p in contracts_folder.rglob("*") if p.suffix in (".vy", ".vyi") and p.is_file())
    for path in files:
        digest.update(path.relative_to(contracts_folder).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def stamp_path(project: Any) -> Path:
    """Where the digest of the sources behind ape's cache is kept."""
    manifest = Path(project.manifest_path)
    return manifest.with_name(manifest.name + STAMP_SUFFIX)


def ensure_compiled(project: Any) -> bool:
    """Make ape's cached contract types those of the sources on disk; True if it recompiled.

    `project` is ape's local project (``from ape import project``). Recompiles everything
    when the cache holds no contract types or was not built from the current sources
    (see the module docstring for why ape's own per-file check is not enough)."""
    stamp = stamp_path(project)
    digest = sources_digest(Path(project.contracts_folder))
    recorded = stamp.read_text().strip() if stamp.is_file() else None
    if recorded == digest and project.manifest.contract_types:
        return False
    project.load_contracts(use_cache=False)
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text(digest + "\n")
    return True
