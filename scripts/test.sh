#!/usr/bin/env bash
# The whole test suite on a fresh machine: set-up (idempotent), then every test, then lints.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
cargo test --release --all-targets 2>&1
cargo fmt --check
cargo clippy --release --all-targets --quiet -- -D warnings
