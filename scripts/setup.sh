#!/usr/bin/env bash
# Idempotent set-up on a fresh machine (Rust toolchain and python3 present):
# creates .venv with torch 2.13.0 (what tch 0.26 links against), installs Debian's chromium for the
# browser test of `tuneprint serve` when missing, and builds tuneprint and tuneprint-torch (the
# commands that train; the only one that loads libtorch) in release mode. Two builds: tuneprint
# without the `torch` feature (so it links no libtorch), then only the tuneprint-torch executable
# with it; the second leaves target/release/tuneprint untouched.
set -euo pipefail
cd "$(dirname "$0")/.."
TORCH_VERSION=2.13.0
if ! .venv/bin/python -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '$TORCH_VERSION')" 2>/dev/null; then
    echo "setup: installing torch==$TORCH_VERSION into .venv (about 4.7 GB, once)" >&2
    python3 -m venv .venv
    .venv/bin/pip install -q --disable-pip-version-check "torch==$TORCH_VERSION"
fi
# Headless Chromium for the browser test of `tuneprint serve` (Debian's package, nothing downloaded
# from elsewhere).
if ! command -v chromium >/dev/null 2>&1; then
    echo "setup: installing chromium (apt-get) for the browser test" >&2
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium >&2
fi
source scripts/env.sh
echo "setup: building tuneprint (release)" >&2
cargo build --release --quiet
echo "setup: building tuneprint-torch (release, --features torch)" >&2
cargo build --release --quiet --features torch --bin tuneprint-torch
echo "setup: ready: target/release/tuneprint (and tuneprint-torch, which it starts for training)" >&2
