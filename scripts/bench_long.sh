#!/usr/bin/env bash
# Long recordings in bounded memory (issue 29): peak RSS, wall time and the CSV's sha256 of
# `tuneprint extract` on a 60-minute and a 3-hour 44.1 kHz stereo WAV (scripts/make_long_wav.sh,
# the committed clips repeated), and of a library scan with --jobs 2 of 1 000 files, one of them
# the 3-hour WAV and 999 distinct 10 s cuts of the clips.
#   scripts/bench_long.sh [--before BINARY] [--no-library]
# --before runs an older build the same way first (its CSVs must hash the same).
# Files go to $LONG_DIR (default /tmp/tuneprint-long; about 2.6 GB, kept for reruns).
set -euo pipefail
cd "$(dirname "$0")/.."
before="" library=1
while [ $# -gt 0 ]; do
    case "$1" in
        --before) before=$2; shift 2 ;;
        --no-library) library=0; shift ;;
        *) echo "usage: scripts/bench_long.sh [--before BINARY] [--no-library]" >&2; exit 2 ;;
    esac
done
source scripts/env.sh
cargo build --release --quiet --bin tuneprint
T=$PWD/target/release/tuneprint
dir=${LONG_DIR:-/tmp/tuneprint-long}
mkdir -p "$dir/out"
[ -f "$dir/m60.wav" ] || bash scripts/make_long_wav.sh 3600 "$dir/m60.wav"
[ -f "$dir/h3.wav" ] || bash scripts/make_long_wav.sh 10800 "$dir/h3.wav"
# measure NAME CMD...: "NAME wall-s peak-MB" (one run, /usr/bin/time -v).
measure() {
    local name=$1; shift
    /usr/bin/time -v -o "$dir/out/time.txt" "$@" >/dev/null 2>"$dir/out/err.txt" || {
        cat "$dir/out/err.txt" >&2; echo "bench_long: $name failed" >&2; exit 1; }
    local wall kb
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$dir/out/time.txt")
    kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$dir/out/time.txt")
    printf '%-44s %8s s %8s MB\n' "$name" "$wall" "$((kb / 1024))"
}
echo "$(date -u +%F) on $(nproc) cores; sha256 of the WAVs:"
sha256sum "$dir/m60.wav" "$dir/h3.wav"
for bin in ${before:+"$before"} "$T"; do
    tag=$([ "$bin" = "$T" ] && echo now || echo before)
    for f in m60 h3; do
        measure "$tag: extract $f.wav" "$bin" extract "$dir/$f.wav" -o "$dir/out/${tag}_$f.csv"
        sha256sum "$dir/out/${tag}_$f.csv"
    done
done
if [ "$library" = 1 ]; then
    lib=$dir/library
    if [ ! -f "$lib/h3.wav" ]; then
        mkdir -p "$lib"
        python3 - "$lib" audio/*.wav <<'PY'
import sys, wave
lib, clips = sys.argv[1], sys.argv[2:]
for i in range(999):
    with wave.open(clips[i % len(clips)], "rb") as w:
        params = w.getparams()
        w.setpos((i // len(clips)) * 4000)
        frames = w.readframes(10 * w.getframerate())
    with wave.open(f"{lib}/cut{i:03d}.wav", "wb") as w:
        w.setparams(params)
        w.writeframes(frames)
PY
        ln "$dir/h3.wav" "$lib/h3.wav" 2>/dev/null || cp "$dir/h3.wav" "$lib/h3.wav"
    fi
    rm -f "$dir/out/library.db"*
    measure "library scan of 1000 files (one of 3 h), --jobs 2" \
        "$T" library scan "$lib" --jobs 2 --db "$dir/out/library.db"
fi
