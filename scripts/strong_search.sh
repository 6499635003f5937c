#!/usr/bin/env bash
# The validation-only search behind `--arch strong`'s defaults: trains the strong ensemble with
# each candidate setting (holdout: 10 seeds; artist-filtered: 5 seeds) and prints the mean
# validation accuracy, by which the defaults were chosen, beside the test accuracy, which took no
# part in the choice. Candidates are overrides of the defaults (`train --strong-spec`), so the
# first line, {}, is the current default and the rest are relative to it.
#   scripts/strong_search.sh [--jobs N]       (about 10 minutes on 2 cores with --jobs 2)
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=2
[ "${1:-}" = --jobs ] && JOBS=$2
bash scripts/setup.sh >&2
T=$PWD/target/release/tuneprint
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
candidates='default {}
members_10 {"members":10}
hidden_256_128_noise_0.2 {"hidden":[256,128],"input_noise":0.2}
hidden_256_128_noise_0.3 {"hidden":[256,128],"input_noise":0.3}
hidden_256_128_dropout_0.3 {"hidden":[256,128],"input_noise":0.2,"dropout":0.3}
hidden_512 {"hidden":[512]}
hidden_1024_dropout_0.6 {"hidden":[1024],"dropout":0.6}
hidden_256_256_128 {"hidden":[256,256,128]}
weight_decay_0.1 {"weight_decay":0.1}
learning_rate_3e-4 {"learning_rate":0.0003}
linear {"hidden":[]}'
one() { # name protocol json
    local seeds=10
    [ "$2" = filtered ] && seeds=5
    "$T" train --arch strong --protocol "$2" --seeds "$seeds" --exclude features/demo_holdout.txt \
        -o "$work/m_$1_$2" --json --strong-spec "$3" 2>/dev/null |
        python3 -c "import json,sys,statistics as s; d=json.load(sys.stdin); print('%-28s %-9s %.4f %.4f' % ('$1', '$2', s.mean(d['val_accuracies']), d['mean_accuracy']))"
}
export -f one
export T work
for p in holdout filtered; do
    while read -r name json; do printf '%s\0%s\0%s\0' "$name" "$p" "$json"; done <<<"$candidates"
done | xargs -0 -n 3 -P "$JOBS" bash -c 'one "$0" "$1" "$2"' >"$work/out.txt"
printf '%-28s %-9s %-10s %s\n' setting protocol validation "test (not used to choose)"
sort -b -k2,2 -k3,3gr "$work/out.txt"
