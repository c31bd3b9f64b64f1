#!/usr/bin/env bash
# Set everything up (first run only), then run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")"
scripts/bootstrap.sh
exec .venv/bin/python -m pytest "$@"
