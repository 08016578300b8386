#!/usr/bin/env bash
# The full test suite: Rust unit and integration tests, then the end-to-end suite that
# drives a real `palisade serve` with the unmodified aws CLI and boto3.
# Needs the Rust toolchain and python3 with `pip install -r tests/e2e/requirements.txt`.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --bin palisade
cargo test --workspace
PALISADE_BIN="$PWD/target/debug/palisade" python3 -m pytest -q tests/e2e "$@"
