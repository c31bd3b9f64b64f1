#!/usr/bin/env bash
# Create .venv (Python 3.11) and install the pinned toolchain; idempotent.
# Everything comes from the package registries (PyPI, npm): no compiler or binary is
# downloaded from anywhere else, now or at run time.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-}"
if [ -z "$PYTHON" ]; then
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      PYTHON="$candidate"; break
    fi
  done
fi
[ -n "$PYTHON" ] || { echo "bootstrap: Python 3.11 is required" >&2; exit 1; }

stamp=.venv/.installed-$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ]; then
  [ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade "pip==25.3"
  .venv/bin/python -m pip install --quiet -c constraints.txt -e ".[dev]"
  rm -f .venv/.installed-*
  touch "$stamp"
fi

if [ "${WITH_ANVIL:-0}" = "1" ] && [ ! -x node_modules/.bin/anvil ]; then
  npm ci --no-audit --no-fund --silent
fi

# Debian's Chromium, for the test that renders the sweep report headless (tests/test_report_browser.py).
if [ "${WITH_CHROMIUM:-0}" = "1" ] && ! command -v chromium >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = "0" ]; then
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } ||
      echo "bootstrap: could not install chromium (apt-get failed); the browser test will say so" >&2
  else
    echo "bootstrap: chromium not found and cannot be installed here (needs apt-get as root)" >&2
  fi
fi
