# Sourced by demo.sh and test.sh: make .venv on a fresh machine and install mlspec into it.
# An install is skipped when pyproject.toml has not changed since the last successful one.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
# install_venv NAME [EXTRAS]: install mlspec (with EXTRAS, e.g. "dev") into .venv once.
install_venv() {
  local name="$1" extras="${2:-}" stamp=".venv/.installed-$1"
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    local target="."
    [ -n "$extras" ] && target=".[$extras]"
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e "$target"
    touch "$stamp"
  fi
}
