#!/usr/bin/env bash
# Idempotent set-up on a fresh machine (Rust toolchain and python3 present):
# creates .venv with torch 2.13.0 (what tch 0.26 links against) and builds tuneprint and
# tuneprint-torch (the commands that train; the only one that loads libtorch) in release mode.
set -euo pipefail
cd "$(dirname "$0")/.."
TORCH_VERSION=2.13.0
if ! .venv/bin/python -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '$TORCH_VERSION')" 2>/dev/null; then
    echo "setup: installing torch==$TORCH_VERSION into .venv (about 4.7 GB, once)" >&2
    python3 -m venv .venv
    .venv/bin/pip install -q --disable-pip-version-check "torch==$TORCH_VERSION"
fi
source scripts/env.sh
echo "setup: building tuneprint (release)" >&2
cargo build --release --quiet
echo "setup: ready: target/release/tuneprint (and tuneprint-torch, which it starts for training)" >&2
