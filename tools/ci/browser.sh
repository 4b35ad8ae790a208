#!/usr/bin/env bash
# CI's browser suite (issue 18): build examples/web, serve it on 127.0.0.1, train in headless
# Chromium with onnxruntime-web (tools/ci/browser_e2e.mjs), then tests/web checks the run
# against the Python portable runtime. Installs Debian's chromium when it is missing; npm
# packages are cached under ~/.cache/mlspec/npm-<hash> (tools/ci/_npm.sh).
source "$(dirname "${BASH_SOURCE[0]}")/../_venv.sh"
source "$(dirname "${BASH_SOURCE[0]}")/_npm.sh"
install_venv dev dev
if [ ! -x /usr/bin/chromium ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
install_npm
work="${MLSPEC_WEB_OUT:-$(mktemp -d)}"  # MLSPEC_WEB_OUT keeps the site and run for a look afterwards
server=""
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; [ -n "${MLSPEC_WEB_OUT:-}" ] || rm -rf "$work"; }
trap cleanup EXIT
start=$SECONDS
.venv/bin/python examples/web/build.py --out "$work/site" --node-modules js/node_modules
echo "== page built in $((SECONDS - start)) s"
port="$(.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
.venv/bin/python -m http.server --bind 127.0.0.1 --directory "$work/site" "$port" >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/index.html" >/dev/null && break; sleep 0.2; done
mkdir -p "$work/run"
start=$SECONDS
node tools/ci/browser_e2e.mjs "http://127.0.0.1:$port/" "$work/site" "$work/run"
echo "== Chromium run took $((SECONDS - start)) s"
MLSPEC_WEB_RUN="$work/run" MLSPEC_WEB_SITE="$work/site" .venv/bin/python -m pytest -q -s tests/web
