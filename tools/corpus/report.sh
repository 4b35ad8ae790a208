#!/usr/bin/env bash
# Build the import corpus if needed, then regenerate docs/corpus.md from it.
source "$(dirname "${BASH_SOURCE[0]}")/../_venv.sh"
install_venv dev dev
CORPUS="$(./tools/corpus/build.sh | tail -n 1)"
.venv/bin/python tools/corpus/report.py "$CORPUS"
