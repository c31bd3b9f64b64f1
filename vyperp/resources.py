"""Where the package's own files are: everything a replay needs ships inside the package
(contracts, scenarios, deployment parameters, the real market data), found through
``importlib.resources`` so that ``pip install .`` works as well as a source checkout.

``VYPERP_CONTRACTS_DIR`` and ``VYPERP_DATA_DIR`` override the contracts and the data;
``VYPERP_SHARED_DATA`` names the raw third-party data set some derived files were built
from (not shipped; see :data:`SHARED_DATA`).
"""

from __future__ import annotations

import importlib.resources
import os
from pathlib import Path

PACKAGE: Path = Path(str(importlib.resources.files("vyperp")))
"""The installed (or checked-out) ``vyperp`` package directory."""
CONTRACTS: Path = PACKAGE / "contracts"
"""The Vyper sources shipped with the package (``testing/`` holds the test doubles)."""
SCENARIOS: Path = PACKAGE / "scenarios"
"""Scenario TOML files (``attacks/`` holds the attack lab's)."""
PARAMS: Path = PACKAGE / "params"
"""Deployment parameter files (``default.toml``)."""
DATA: Path = Path(os.environ.get("VYPERP_DATA_DIR") or PACKAGE / "data")
"""The shipped market data (override with ``$VYPERP_DATA_DIR``); see ``data/README.md``."""


def source_checkout() -> Path | None:
    """The git checkout the package runs from, or None for an installed wheel."""
    root = PACKAGE.parent
    return root if (root / ".git").exists() or (root / "pyproject.toml").is_file() else None


SHARED_DATA: Path = Path(os.environ.get("VYPERP_SHARED_DATA") or PACKAGE.parent.parent / "shared" / "data")
"""The raw market data set beside the checkout (``<checkout>/../shared/data``, or
``$VYPERP_SHARED_DATA``): the sources of the shipped derived files (ETH bars, the depth
calibration) and of the facts docs/fidelity.md quotes. Not shipped: absent on a fresh
machine, where the commands that rebuild from it say so and the tests that check against
it skip."""
