#!/usr/bin/env bash
# Mutation check with cargo-mutants (from crates.io; installed here when missing): each mutant of
# the files that split work or store songs is built and run against the tests that cover that
# file; a mutant no test catches is "missed". Not in CI: it is slow (each mutant rebuilds the
# release library and its test binaries: about 2.5 minutes on 2 cores, and these files hold
# about 1 600 mutants, so the whole run is for a large machine or a night of a small one).
#   scripts/mutants.sh [--sample N] [FILE...]
# --sample N runs one mutant in N of each file, spread over it (--shard 0/N --sharding
# round-robin). Results: mutants.out/<file>/ (outcomes.json, caught.txt, missed.txt,
# timeout.txt, unviable.txt), and one count per outcome and file on stdout.
# Builds in place (the checkout's target/): leave the sources alone while it runs.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
sample=""
files=()
while [ $# -gt 0 ]; do
    case "$1" in
        --sample) sample=$2; shift 2 ;;
        *) files+=("$1"); shift ;;
    esac
done
[ ${#files[@]} -gt 0 ] || files=(src/audio/resample.rs src/audio/decode.rs src/library/scan.rs
                                 src/features/engine.rs)
command -v cargo-mutants >/dev/null || cargo install cargo-mutants --locked
# The library tests train a model with tuneprint-torch (built once here, unmutated: the mutated
# files run in `tuneprint` itself).
cargo build --release --quiet -p tuneprint-torch
# The tests that cover each file (the library's unit tests are in --lib).
tests_for() {
    case "$1" in
        src/audio/resample.rs) echo "--test resample --test stream --lib" ;;
        src/audio/decode.rs) echo "--test decode --test mp3 --test decoder_torture --test stream --lib" ;;
        src/library/scan.rs) echo "--test library --lib" ;;
        src/features/engine.rs) echo "--test golden_spectral --test golden_hpss_tempo --lib" ;;
        *) echo "--lib --tests" ;;
    esac
}
for f in "${files[@]}"; do
    name=$(basename "$f" .rs)
    mkdir -p "mutants.out/$name"
    shard=()
    [ -n "$sample" ] && shard=(--shard "0/$sample" --sharding round-robin)
    # shellcheck disable=SC2046
    cargo mutants --in-place --profile release --package tuneprint -f "$f" "${shard[@]}" \
        --timeout 600 -o "mutants.out/$name" -- $(tests_for "$f") || true
    for kind in caught missed timeout unviable; do
        list="mutants.out/$name/mutants.out/$kind.txt"
        printf '%s: %s %s\n' "$f" "$(cat "$list" 2>/dev/null | wc -l)" "$kind"
    done
done
