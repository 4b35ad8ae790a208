#!/usr/bin/env bash
# Install the dev extras into .venv (created if missing) and run every check CI runs.
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
install_venv dev dev
echo "== generated protobuf code is current"
.venv/bin/python tools/gen_proto.py --check
echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== mypy"
.venv/bin/mypy
echo "== pytest"
.venv/bin/python -m pytest -n 2 -q "$@"
