#!/usr/bin/env bash
# The built-in model (src/model/builtin/, built into `tuneprint` as `builtin:default`): the
# default blend trained on the built-in reference table with seed 0, the songs of audio/ left
# out (features/demo_holdout.txt) so that the quick start classifies songs it has not seen;
# with its evaluation (10 seeds), training history, confusion matrix and the linfa baselines on
# the same splits. Deterministic: the same command trains the same weights bit for bit
# (torch/tests/builtin.rs checks it), on one CPU thread.
# Usage: bash scripts/make_builtin_model.sh   (then rebuild: cargo build --release)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
T=target/release/tuneprint
$T train --exclude features/demo_holdout.txt --seed 0 --seeds 10 --threads 1 -o "$out"
$T baselines --exclude features/demo_holdout.txt -o "$out"
dest=src/model/builtin
for f in model.json model.safetensors evaluation.json history.csv confusion.csv baselines.json; do
    cp "$out/$f" "$dest/$f.tmp" && mv "$dest/$f.tmp" "$dest/$f"
done
{
    echo "# made by scripts/make_builtin_model.sh on $(date -u +%Y-%m-%d)"
    echo "command: tuneprint train --exclude features/demo_holdout.txt --seed 0 --seeds 10 --threads 1; tuneprint baselines --exclude features/demo_holdout.txt"
    echo "tuneprint: $(git describe --always --dirty 2>/dev/null || echo unknown)"
    echo "torch (libtorch): $(.venv/bin/python -c 'import importlib.metadata as m; print(m.version("torch"))') ($(cat .venv/torch-kind) set)"
    echo "rustc: $(rustc --version)"
} > "$dest/VERSIONS.txt"
ls -l "$dest"
