#!/usr/bin/env bash
# Runs every runnable example against the bundled fixtures, one after another,
# each under a time limit; stops at the first failure (CI runs this).
# Usage: bash examples/run-all.sh [name ...]   (default: all)
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."

# The AWS SDK's Node-22 notice is noise here.
export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true
LIMIT="${EXAMPLE_TIMEOUT:-120}"
examples=("$@")
if [ ${#examples[@]} -eq 0 ]; then examples=(demo http dynamodb mongodb policy); fi

log="$(mktemp -t secure-nosql-examples.XXXXXX)"
trap 'rm -f "$log"' EXIT
for name in "${examples[@]}"; do
  file="examples/${name}.ts"
  [ -f "$file" ] || { echo "FAIL  ${name}: ${file} not found"; exit 1; }
  start=$(date +%s%N)
  if timeout "$LIMIT" npx tsx "$file" >"$log" 2>&1; then
    printf 'ok    %-10s %6.1f s\n' "$name" "$(( ($(date +%s%N) - start) / 1000000 ))e-3"
  else
    rc=$?
    printf 'FAIL  %-10s %6.1f s (exit %d%s)\n' "$name" "$(( ($(date +%s%N) - start) / 1000000 ))e-3" "$rc" "$([ "$rc" -eq 124 ] && echo ", timed out after ${LIMIT} s")"
    echo "---- output of ${file} ----"
    cat "$log"
    exit 1
  fi
done
echo "all ${#examples[@]} examples passed"
