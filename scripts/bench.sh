#!/usr/bin/env bash
# Extraction speed and memory, side by side with the reference (librosa 0.8.1), on the same files.
#   scripts/bench.sh [--clips N] [--runs R] [--no-reference] [--no-scaling] [--criterion]
# Times `tuneprint extract --jobs 1`, `--jobs 2` and the reference script (one process), best of R
# runs each, over N clips (the committed clips repeated); prints seconds per clip, throughput
# ratios and peak RSS (/usr/bin/time -v). Then the scaling check: files of 30 s, 5 min and 20 min
# (concatenated clips), time per audio second and peak RSS; and a batch of 4N clips for memory.
# Sets up the reference venv (../shared/reference/setup_librosa.sh) when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
CLIPS=32 RUNS=3 REF=1 SCALING=1 CRITERION=0
while [ $# -gt 0 ]; do
    case "$1" in
        --clips) CLIPS=$2; shift 2 ;;
        --runs) RUNS=$2; shift 2 ;;
        --no-reference) REF=0; shift ;;
        --no-scaling) SCALING=0; shift ;;
        --criterion) CRITERION=1; shift ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
SHARED=${SHARED:-../shared}
bash scripts/setup.sh
T=$PWD/target/release/tuneprint
VENV=${LIBROSA_VENV:-$PWD/.venv-librosa}
if [ "$REF" = 1 ] && ! "$VENV/bin/python" -c "import librosa" 2>/dev/null; then
    echo "bench: setting up the reference venv in $VENV" >&2
    bash "$SHARED/reference/setup_librosa.sh" "$VENV" >&2
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/clips"
clips=(audio/*.wav)
for ((i = 0; i < CLIPS; i++)); do
    src=${clips[$((i % ${#clips[@]}))]}
    mkdir -p "$work/clips/r$((i / ${#clips[@]}))"
    cp "$src" "$work/clips/r$((i / ${#clips[@]}))/$(basename "$src")"
done

# best_of NAME CMD...: best wall time (s) and the peak RSS (MB) of that run.
best_of() {
    local name=$1; shift
    local best="" rss=""
    for ((r = 0; r < RUNS; r++)); do
        /usr/bin/time -v -o "$work/time.txt" "$@" >/dev/null 2>"$work/err.txt" || {
            cat "$work/err.txt" >&2; echo "bench: $name failed" >&2; exit 1; }
        local wall kb
        wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$work/time.txt")
        kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time.txt")
        if [ -z "$best" ] || awk "BEGIN{exit !($wall < $best)}"; then best=$wall; rss=$kb; fi
    done
    echo "$name $best $((rss / 1024))"
}

echo "bench: $CLIPS clips, best of $RUNS" >&2
j1=$(best_of jobs1 "$T" extract --jobs 1 "$work/clips" -o "$work/j1.csv")
j2=$(best_of jobs2 "$T" extract --jobs 2 "$work/clips" -o "$work/j2.csv")
"$T" check "$work/j2.csv" --reference features/features_30_sec.csv >/dev/null && chk=pass || chk=FAIL
if [ "$REF" = 1 ]; then
    ref=$(best_of librosa "$VENV/bin/python" "$SHARED/reference/librosa_features.py" "$work"/clips/*/*.wav -o "$work/ref.csv")
else
    ref=""
fi
printf '\n%-28s %12s %10s %12s\n' "extractor ($CLIPS clips)" "s per clip" "peak MB" "vs librosa"
for line in "$j1" "$j2" "$ref"; do
    [ -n "$line" ] || continue
    set -- $line
    per=$(awk "BEGIN{printf \"%.4f\", $2 / $CLIPS}")
    if [ -n "$ref" ]; then
        ratio=$(awk -v r="$(echo "$ref" | cut -d' ' -f2)" "BEGIN{printf \"%.1fx\", r / $2}")
    else ratio=-; fi
    case $1 in jobs1) n="tuneprint --jobs 1" ;; jobs2) n="tuneprint --jobs 2" ;; *) n="librosa 0.8.1 (1 process)" ;; esac
    printf '%-28s %12s %10s %12s\n' "$n" "$per" "$3" "$ratio"
done
echo "check of the --jobs 2 output against the reference: $chk"

if [ "$SCALING" = 1 ]; then
    "$VENV/bin/python" - "$work" audio/*.wav <<'PY'
import sys, numpy as np, soundfile as sf
work, files = sys.argv[1], sys.argv[2:]
clips = [sf.read(f, dtype="int16")[0] for f in files]
for name, seconds in (("s30", 30), ("m5", 300), ("m20", 1200)):
    need = seconds * 22050
    y = np.concatenate([clips[i % len(clips)] for i in range(need // min(map(len, clips)) + 1)])[:need]
    sf.write(f"{work}/long_{name}.wav", y, 22050, subtype="PCM_16")
PY
    printf '\n%-12s %10s %14s %10s\n' "file" "seconds" "s per audio s" "peak MB"
    for name in s30 m5 m20; do
        set -- $(RUNS=1 best_of "$name" "$T" extract --jobs 1 "$work/long_$name.wav" -o "$work/long.csv")
        dur=$(case $name in s30) echo 30 ;; m5) echo 300 ;; m20) echo 1200 ;; esac)
        printf '%-12s %10s %14s %10s\n' "$name" "$2" "$(awk "BEGIN{printf \"%.5f\", $2 / $dur}")" "$3"
    done
    mkdir -p "$work/many"
    for ((i = 0; i < 4; i++)); do cp -r "$work/clips" "$work/many/b$i"; done
    n=$(find "$work/many" -name "*.wav" | wc -l)
    set -- $(RUNS=1 best_of many "$T" extract --jobs 2 "$work/many" -o "$work/many.csv")
    printf '\nbatch of %d clips with --jobs 2: %s s, peak %s MB (vs %s MB for %d clips)\n' "$n" "$2" "$3" "$(echo "$j2" | cut -d' ' -f3)" "$CLIPS"
fi
if [ "$CRITERION" = 1 ]; then
    source scripts/env.sh
    cargo bench --bench stages
fi
