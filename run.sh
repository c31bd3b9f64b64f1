#!/usr/bin/env bash
# The main job: set everything up (first run only), then replay the 10 Oct 2025 BTC
# liquidation cascade (real 1-minute prices) against the contracts on the embedded chain,
# with the spot-impact feedback off and on (--attribution: what the protocol's own forced flow adds).
# Extra arguments go to `vyperp replay` (see `.venv/bin/vyperp replay --help`).
set -euo pipefail
cd "$(dirname "$0")"
scripts/bootstrap.sh
exec .venv/bin/vyperp replay --scenario btc-2025-10-10 --attribution --out out/btc-2025-10-10 "$@"
