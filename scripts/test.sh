#!/usr/bin/env bash
# The whole test suite on a fresh machine: set-up (idempotent), then every test of the workspace
# (unit, integration, and the criterion benches once each in test mode) in one run — the library's
# and `tuneprint`'s, and those of `tuneprint-torch` (torch/, the only crate that links libtorch;
# its tests call tch in process) — then rustfmt and clippy over the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# Chromium (for the browser test) installs while the tests compile.
bash scripts/setup.sh --browser &
browser_pid=$!
cargo test --release --workspace --all-targets --no-run --quiet
wait "$browser_pid"
cargo test --release --workspace --all-targets 2>&1 | tee "$log"
cargo fmt --all --check
cargo clippy --release --workspace --all-targets --quiet -- -D warnings
# One closing line over every test binary.
awk '/^test result:/ { p += $4; f += $6; s += $8 } END { printf "tests: %d passed, %d failed, %d skipped\n", p, f, s }' "$log"
