#!/usr/bin/env bash
# Checks what `npm publish` would ship, on the real tarball:
#   1. the tarball holds dist/**, README.md, CHANGELOG.md, LICENSE and package.json only;
#   2. publint --strict and attw (esm-only profile) accept it;
#   3. it installs into a fresh project (peer @opentelemetry/api only, no optional
#      driver peers) and works through import(), require() and the bin.
# Expects `npm run build` to have run. Exits non-zero on the first failed step.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$PWD
started=$(date +%s)
step() { printf '\n== check-package: %s\n' "$*"; }
fail() { printf 'check-package: FAIL: %s\n' "$*" >&2; exit 1; }

[ -f dist/index.js ] || fail "dist/index.js is missing: run \`npm run build\` first"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/secure-nosql-pack.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

step "npm pack"
# --ignore-scripts: check exactly what is in dist now, do not rebuild.
npm pack --json --ignore-scripts --pack-destination "$tmp" >"$tmp/pack.json" 2>"$tmp/pack.err" \
  || { cat "$tmp/pack.err" >&2; fail "npm pack failed"; }
tarball=$(node -e 'const [p] = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); console.log(p.filename)' "$tmp/pack.json")
tarball="$tmp/$(basename "$tarball")"
[ -f "$tarball" ] || fail "npm pack produced no tarball"

step "tarball contents"
node - "$tmp/pack.json" <<'EOF' || fail "tarball contents"
const [info] = JSON.parse(require('node:fs').readFileSync(process.argv[2], 'utf8'));
const files = info.files.map((f) => f.path);
const topLevel = new Set(['package.json', 'README.md', 'CHANGELOG.md', 'LICENSE']);
const problems = [];
for (const f of files) {
  if (!topLevel.has(f) && !f.startsWith('dist/')) problems.push(`unexpected file: ${f}`);
  // Things that must never ship, wherever they sit.
  if (/(^|\/)(src|test|tests|fixtures|\.tmp|keys|coverage|node_modules)\//.test(f)) problems.push(`forbidden directory: ${f}`);
  if (/\.(pem|key|crt|p12|pfx|jks|env|tsbuildinfo|tgz)$/i.test(f) || /(^|\/)\.env/.test(f)) problems.push(`forbidden file type: ${f}`);
  if (/\.test\.[cm]?[jt]s$/.test(f)) problems.push(`test file: ${f}`);
}
const required = ['package.json', 'README.md', 'CHANGELOG.md', 'LICENSE', 'dist/index.js', 'dist/index.d.ts',
  'dist/errors/index.js', 'dist/errors/index.d.ts', 'dist/testing/index.js', 'dist/testing/index.d.ts', 'dist/cli/main.js'];
for (const r of required) if (!files.includes(r)) problems.push(`missing: ${r}`);
const cli = info.files.find((f) => f.path === 'dist/cli/main.js');
console.log(`${files.length} files, ${(info.size / 1024).toFixed(1)} KB packed, ${(info.unpackedSize / 1024).toFixed(1)} KB unpacked`);
if (problems.length > 0) {
  for (const p of problems) console.error(`  ${p}`);
  process.exit(1);
}
if (cli !== undefined) console.log('dist/cli/main.js present (npm makes bin targets executable on install)');
EOF

step "publint --strict"
node_modules/.bin/publint run "$tarball" --strict || fail "publint reported problems"

step "attw --profile esm-only"
node_modules/.bin/attw "$tarball" --profile esm-only --no-emoji --no-color || fail "attw reported problems"

step "install the tarball into a fresh project"
app="$tmp/app"
mkdir -p "$app"
printf '{ "name": "secure-nosql-pack-check", "private": true, "type": "module" }\n' >"$app/package.json"
otel_version=$(node -p 'require("./node_modules/@opentelemetry/api/package.json").version')
( cd "$app" && npm install "$tarball" "@opentelemetry/api@$otel_version" \
    --prefer-offline --no-audit --no-fund --ignore-scripts --loglevel=error ) || fail "npm install of the tarball failed"

step "import() every entry point"
cat >"$app/esm-check.mjs" <<'EOF'
const main = await import('secure-nosql');
const errors = await import('secure-nosql/errors');
const testing = await import('secure-nosql/testing');
const problems = [];
if (Object.keys(main).length === 0) problems.push("import('secure-nosql') has no exports");
if (typeof errors.SecureNosqlError !== 'function') problems.push("secure-nosql/errors lacks SecureNosqlError");
if (typeof testing.createTestPki !== 'function') problems.push("secure-nosql/testing lacks createTestPki");
// The optional driver peers are not installed here: importing must not need them.
if (problems.length > 0) { console.error(problems.join('\n')); process.exit(1); }
console.log(`import ok: secure-nosql (${Object.keys(main).length} exports), /errors (${Object.keys(errors).length}), /testing (${Object.keys(testing).length})`);
EOF
( cd "$app" && node esm-check.mjs ) || fail "import() of the installed package failed"

step "require() every entry point (Node $(node --version))"
cat >"$app/cjs-check.cjs" <<'EOF'
// Node >= 20.19 loads ES modules through require() (no top-level await in the graph).
process.removeAllListeners('warning'); // the ExperimentalWarning for require(esm) on Node 20/22 is expected
const main = require('secure-nosql');
const errors = require('secure-nosql/errors');
const testing = require('secure-nosql/testing');
const problems = [];
if (Object.keys(main).length === 0) problems.push("require('secure-nosql') has no exports");
if (typeof errors.SecureNosqlError !== 'function') problems.push('secure-nosql/errors lacks SecureNosqlError');
if (typeof testing.createTestPki !== 'function') problems.push('secure-nosql/testing lacks createTestPki');
if (problems.length > 0) { console.error(problems.join('\n')); process.exit(1); }
console.log(`require ok: secure-nosql (${Object.keys(main).length} exports), /errors, /testing`);
EOF
( cd "$app" && node cjs-check.cjs ) || fail "require() of the installed package failed"

step "bin: secure-nosql doctor --help"
help_out=$(cd "$app" && node_modules/.bin/secure-nosql doctor --help) || fail "secure-nosql doctor --help exited non-zero"
grep -q 'doctor' <<<"$help_out" || fail "secure-nosql doctor --help printed no usage"
printf '%s\n' "$help_out" | head -3

step "bin: secure-nosql doctor --json with nothing configured (loads the whole doctor, expects exit 1)"
set +e
json_out=$(cd "$app" && env -u SECURE_NOSQL_SERVICE_ID -u SECURE_NOSQL_CERT_DIR node_modules/.bin/secure-nosql doctor --json)
status=$?
set -e
[ "$status" -eq 1 ] || fail "secure-nosql doctor --json exited $status, expected 1 (a failed configuration check)"
node -e '
const r = JSON.parse(process.argv[1]);
if (r.ok !== false || r.checks[0]?.id !== "config" || r.checks[0]?.status !== "fail") { console.error("unexpected report", r); process.exit(1); }
console.log(`doctor ran: ${r.checks[0].detail}`);
' "$json_out" || fail "secure-nosql doctor --json printed an unexpected report"

printf '\ncheck-package: OK in %s s\n' "$(( $(date +%s) - started ))"
