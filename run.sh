#!/usr/bin/env bash
# The main job: set everything up (first run only), then run it on the embedded chain.
set -euo pipefail
cd "$(dirname "$0")"
scripts/bootstrap.sh
exec .venv/bin/vyperp demo "$@"
