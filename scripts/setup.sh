#!/usr/bin/env bash
# Sets up a fresh machine: a project venv with everything from pyproject.toml.
#   scripts/setup.sh               runtime + dev Python packages
#   scripts/setup.sh --browser     also Debian chromium, for the Prefect UI browser tests
set -euo pipefail
cd "$(dirname "$0")/.."

python_bin=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$python_bin" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[dev]"

if [ "${1:-}" = "--browser" ] && [ ! -x /usr/bin/chromium ]; then
  # Playwright drives Debian's chromium; never `playwright install` (no downloads here).
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
fi
echo "setup done: $(.venv/bin/python --version), $(.venv/bin/pip --version | cut -d' ' -f1-2)"
