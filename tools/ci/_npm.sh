# Sourced by node.sh and browser.sh: the npm packages of js/package.json, installed once per
# package.json/package-lock.json content under ~/.cache/mlspec/npm-<hash> (outside the clone),
# and linked as js/node_modules. onnxruntime-node's install script would fetch CUDA binaries
# from NuGet; ONNXRUNTIME_NODE_INSTALL=skip keeps the CPU binaries the npm package ships.
install_npm() {
  command -v node >/dev/null || { echo "Node.js is not installed (these suites need Node.js 20)"; exit 1; }
  local key dir
  key="$(cat js/package.json js/package-lock.json | sha256sum | cut -c1-16)"
  dir="$HOME/.cache/mlspec/npm-$key"
  if [ ! -f "$dir/.installed" ]; then
    rm -rf "$dir" && mkdir -p "$dir"
    cp js/package.json js/package-lock.json "$dir/"
    (cd "$dir" && ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund --loglevel=error)
    touch "$dir/.installed"
  fi
  ln -sfn "$dir/node_modules" js/node_modules
}
