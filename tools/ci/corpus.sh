#!/usr/bin/env bash
# CI's corpus suite: build the import corpus (side venvs and exports, cached outside the clone
# under ~/.cache/mlspec/ keyed by the hash of tools/corpus/), then run tests/corpus over it.
source "$(dirname "${BASH_SOURCE[0]}")/../_venv.sh"
install_venv dev dev
start=$SECONDS
CORPUS="$(./tools/corpus/build.sh | tail -n 1)"
echo "== corpus ready in $((SECONDS - start)) s: $CORPUS"
start=$SECONDS
MLSPEC_CORPUS="$CORPUS" .venv/bin/python -m pytest -n 2 -q tests/corpus
echo "== corpus suite ran in $((SECONDS - start)) s"
