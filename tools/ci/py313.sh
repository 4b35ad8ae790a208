#!/usr/bin/env bash
# CI's Python 3.13 suite: mlspec on stock onnxruntime and current onnx, with no
# onnxruntime-training anywhere (it has no 3.13 wheel). The venv lives outside the clone under
# ~/.cache/mlspec/, keyed by the hash of pyproject.toml and this script, and holds the
# dependencies only; mlspec itself is installed from this clone (editable) on every run.
# Then: the README's command-line walkthrough verbatim, the digits MLP to >= 95% test accuracy,
# and every test that does not need onnxruntime-training (those skip, naming why).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
PYTHON313="${PYTHON313:-$(ls -d /root/.pyenv/versions/3.13.0*/bin/python 2>/dev/null | head -n 1 || true)}"
if [ -z "$PYTHON313" ] || [ ! -x "$PYTHON313" ]; then
  echo "== py313: no Python 3.13 interpreter (set PYTHON313 or install pyenv's 3.13.0): not run"
  exit 0
fi
start=$SECONDS
KEY="$(cat pyproject.toml tools/ci/py313.sh | sha256sum | cut -c1-16)"
VENV="$HOME/.cache/mlspec/py313-venv-$KEY"
if [ ! -f "$VENV/.complete" ]; then
  rm -rf "$HOME"/.cache/mlspec/py313-venv-*  # venvs of older pyproject/script versions
  mkdir -p "$(dirname "$VENV")"
  "$PYTHON313" -m venv "$VENV.partial"
  "$VENV.partial/bin/python" -m pip install --quiet --disable-pip-version-check ".[dev]"
  "$VENV.partial/bin/python" -m pip uninstall --quiet --yes mlspec
  mv "$VENV.partial" "$VENV"
  touch "$VENV/.complete"
fi
PY="$VENV/bin/python"
"$PY" -m pip install --quiet --disable-pip-version-check --no-deps -e .
echo "== py313: $("$PY" --version) in $VENV, ready in $((SECONDS - start)) s"
"$PY" -m pip list --disable-pip-version-check 2>/dev/null | grep -iE '^(onnx|onnxruntime)[^a-z]' || true
if "$PY" -m pip list --disable-pip-version-check 2>/dev/null | grep -iq '^onnxruntime-training'; then
  echo "py313: onnxruntime-training is installed in $VENV; the 3.13 suite must run without it" >&2
  exit 1
fi
"$PY" - <<'PYEOF'
from mlspec.backends import default_backend, ort_training_installed
assert not ort_training_installed(), "onnxruntime.training found"
assert default_backend() == "auto", default_backend()
PYEOF
export PATH="$VENV/bin:$PATH"
echo "== py313: README command-line walkthrough, digits MLP, tests without onnxruntime-training"
start=$SECONDS
# The README walkthrough and the digits MLP first: they are what the 3.13 promise is about.
"$PY" -m pytest -n 2 -q tests/test_readme_cli.py tests/test_readme.py tests/examples/test_mnist_mlp.py
"$PY" -m pytest -n 2 -q tests/backends tests/spec tests/builder tests/reference "$@"
echo "== py313 suite ran in $((SECONDS - start)) s"
