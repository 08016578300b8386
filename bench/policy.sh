#!/usr/bin/env bash
# Policy engine speed, side by side in one run: palisade-policy (criterion, policies
# compiled once) and @cloud-copilot/iam-simulate (node), on the same policy sets
# (crates/policy/tests/crosscheck/bench/*.json: typical = 5 policies / 20 statements,
# large = 1,000 statements).
#   usage: bench/policy.sh        (needs node + npm; installs iam-simulate locally)
set -euo pipefail
cd "$(dirname "$0")/.."
X=crates/policy/tests/crosscheck
[ -d "$X/node_modules/@cloud-copilot/iam-simulate" ] || (cd "$X" && npm install --silent --no-audit --no-fund)
cargo bench -q -p palisade-policy --bench eval -- --noplot 'compiled/' 2>/dev/null | tee "${TMPDIR:-/tmp}/policy-bench.txt" | grep -E "^compiled/|time:" || true
echo "---- iam-simulate (node $(node --version)) ----"
(cd "$X" && node bench.mjs --samples 31)
