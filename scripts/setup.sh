#!/usr/bin/env bash
# Set up everything sa2sr needs in ./.venv (idempotent): Python venv, pinned torch/torchaudio, the package.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
# constraints.txt: the versions the committed outputs were made with (byte for byte on a fresh clone)
.venv/bin/python -m pip install -q -c constraints.txt -e '.[dev]'
# The page test (tests/inference/test_page.py) drives Debian's chromium headless; install it where this machine allows
# (root and apt, as in CI); elsewhere that one test skips.
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) \
    || echo "note: chromium could not be installed; tests/inference/test_page.py will skip"
fi
# dvc repro needs a git repository; a tarball download has none.
if [ ! -d .git ]; then git init -q && git add -A && git commit -qm "initial import"; fi
.venv/bin/sa2sr --help >/dev/null
echo "sa2sr set up in $(pwd)/.venv"
