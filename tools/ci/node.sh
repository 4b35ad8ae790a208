#!/usr/bin/env bash
# CI's Node.js suite (issue 13): js/ trains portable artifacts with onnxruntime-node, and
# tests/js checks its parameters against the Python portable runtime on the same batches.
source "$(dirname "${BASH_SOURCE[0]}")/../_venv.sh"
source "$(dirname "${BASH_SOURCE[0]}")/_npm.sh"
install_venv dev dev
start=$SECONDS
install_npm
echo "== npm packages ready in $((SECONDS - start)) s (node $(node --version))"
start=$SECONDS
MLSPEC_JS=1 .venv/bin/python -m pytest -n 2 -q tests/js
echo "== Node.js suite ran in $((SECONDS - start)) s"
