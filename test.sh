#!/usr/bin/env bash
# Set everything up (first run only), then run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")"
export WITH_ANVIL="${WITH_ANVIL:-1}"   # also install the pinned anvil (npm ci) for tests/test_anvil.py
export WITH_CHROMIUM="${WITH_CHROMIUM:-1}"   # and Debian's chromium for tests/test_report_browser.py
scripts/bootstrap.sh
.venv/bin/ruff check .            # lint (pyproject.toml [tool.ruff])
.venv/bin/ruff format --check .   # formatting
exec .venv/bin/python -m pytest "$@"
