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
# Tests that miss a precondition (tuneprint::config::skip_test) record it here; under CI=true
# they fail instead.
export TUNEPRINT_SKIP_LOG
TUNEPRINT_SKIP_LOG=$(mktemp)
trap 'rm -f "$log" "$TUNEPRINT_SKIP_LOG"' EXIT
# Chromium (for the browser test) installs while the tests compile.
bash scripts/setup.sh --browser &
browser_pid=$!
cargo test --release --workspace --all-targets --no-run --quiet
wait "$browser_pid"
cargo test --release --workspace --all-targets 2>&1 | tee "$log"
cargo fmt --all --check
cargo clippy --release --workspace --all-targets --quiet -- -D warnings
# One closing line over every test binary: a test that skipped for a missing precondition is
# counted as skipped (and named), not as passed.
missing=$(wc -l <"$TUNEPRINT_SKIP_LOG")
awk -v m="$missing" '/^test result:/ { p += $4; f += $6; i += $8 } END { printf "tests: %d passed, %d failed, %d skipped (%d ignored, %d missing a precondition)\n", p - m, f, i + m, i, m }' "$log"
sed 's/^/  skipped: /' "$TUNEPRINT_SKIP_LOG"
