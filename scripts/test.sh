#!/usr/bin/env bash
# The whole test suite on a fresh machine: set-up (idempotent), then every test (unit, integration,
# and the criterion benches once each in test mode) in two runs (with and without the `torch`
# feature), then rustfmt and clippy for both feature sets.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# 1. The tests that call tch (libtorch) in process, built with the `torch` feature (Cargo.toml
#    lists them with required-features = ["torch"]). FIRST: building them relinks
#    target/release/tuneprint WITH libtorch (features apply to the whole package) ...
cargo test --release --features torch --test torch --test model --test protocols --test blend 2>&1 | tee "$log"
# 2. ... and the default run relinks it without, as users get it (tests/libtorch.rs checks that it
#    loads no libtorch). Swapping these two would leave a tuneprint linked to libtorch.
cargo test --release --all-targets 2>&1 | tee -a "$log"
cargo fmt --check
cargo clippy --release --all-targets --quiet -- -D warnings
cargo clippy --release --features torch --all-targets --quiet -- -D warnings
# One closing line over every test binary of both runs.
awk '/^test result:/ { p += $4; f += $6; s += $8 } END { printf "tests: %d passed, %d failed, %d skipped\n", p, f, s }' "$log"
