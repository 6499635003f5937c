#!/usr/bin/env bash
# The whole test suite on a fresh machine: set-up (idempotent), then every test (unit, integration,
# and the criterion benches once each in test mode), then rustfmt and clippy.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test --release --all-targets 2>&1 | tee "$log"
cargo fmt --check
cargo clippy --release --all-targets --quiet -- -D warnings
# One closing line over every test binary.
awk '/^test result:/ { p += $4; f += $6; s += $8 } END { printf "tests: %d passed, %d failed, %d skipped\n", p, f, s }' "$log"
