#!/usr/bin/env bash
# Build the import corpus: real exporter outputs (torch.onnx both exporters, timm, skl2onnx, tf2onnx,
# and the PaddleOCR models shipped in a PyPI wheel) written with random weights.
#
# Exporters live in side venvs OUTSIDE the clone (never in mlspec's .venv). Two cache keys:
#   ~/.cache/mlspec/corpus-venv-<hash of this script and the requirements files>/  (slow: packages)
#   ~/.cache/mlspec/corpus-<hash of those and the export scripts>/models/       (fast: the exports)
# so editing an export script re-exports without reinstalling torch and tensorflow.
# Prints the models directory on its last line. Nothing is downloaded at run time except packages.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${MLSPEC_CACHE:-$HOME/.cache/mlspec}"
PYTHON="${PYTHON:-python3}"
PIP_FLAGS=(--quiet --disable-pip-version-check)
[ -d /opt/wheels ] && PIP_FLAGS+=(--find-links /opt/wheels)

hash_of() { cat "$@" | sha256sum | cut -c1-16; }
VENV_KEY="$(hash_of "$HERE/build.sh" "$HERE"/requirements-*.txt)"
CORPUS_KEY="$(hash_of "$HERE/build.sh" "$HERE"/requirements-*.txt "$HERE"/export_*.py "$HERE/extract_wheels.py")"
VENVS="$CACHE/corpus-venv-$VENV_KEY"
OUT="$CACHE/corpus-$CORPUS_KEY"

log() { echo "corpus: $*" >&2; }

make_venvs() {
  [ -f "$VENVS/.done" ] && return
  local start=$SECONDS
  rm -rf "$VENVS.tmp" && mkdir -p "$VENVS.tmp"
  log "building side venvs in $VENVS (torch, torchvision, timm, onnxscript, skl2onnx, tensorflow, tf2onnx)"
  "$PYTHON" -m venv "$VENVS.tmp/torch"
  "$VENVS.tmp/torch/bin/pip" install "${PIP_FLAGS[@]}" -r "$HERE/requirements-torch.txt"
  "$VENVS.tmp/torch/bin/pip" install "${PIP_FLAGS[@]}" --no-deps -r "$HERE/requirements-nodeps.txt"
  "$PYTHON" -m venv "$VENVS.tmp/tf"
  "$VENVS.tmp/tf/bin/pip" install "${PIP_FLAGS[@]}" -r "$HERE/requirements-tf.txt"
  mkdir -p "$VENVS.tmp/wheels"
  "$VENVS.tmp/torch/bin/pip" download "${PIP_FLAGS[@]}" --no-deps -d "$VENVS.tmp/wheels" \
    -r "$HERE/requirements-wheels.txt"
  touch "$VENVS.tmp/.done"
  rm -rf "$VENVS" && mv "$VENVS.tmp" "$VENVS"
  log "side venvs built in $((SECONDS - start)) s"
}

export_models() {
  [ -f "$OUT/.done" ] && return
  local start=$SECONDS
  rm -rf "$OUT.tmp" && mkdir -p "$OUT.tmp/models"
  log "exporting the corpus into $OUT"
  "$VENVS/torch/bin/python" "$HERE/export_torch.py" "$OUT.tmp/models"
  "$VENVS/tf/bin/python" "$HERE/export_tf.py" "$OUT.tmp/models"
  "$VENVS/torch/bin/python" "$HERE/extract_wheels.py" "$VENVS/wheels" "$OUT.tmp/models"
  touch "$OUT.tmp/.done"
  rm -rf "$OUT" && mv "$OUT.tmp" "$OUT"
  log "corpus exported in $((SECONDS - start)) s"
}

if [ "${1:-}" = "--venvs-only" ]; then
  make_venvs
  echo "$VENVS"
  exit 0
fi
make_venvs
export_models
echo "$OUT/models"
