#!/usr/bin/env bash
# Extraction speed and memory, side by side with the reference (librosa 0.8.1), on the same files.
#   scripts/bench.sh [--clips N] [--runs R] [--no-reference] [--no-scaling] [--no-song] [--no-bliss]
#                    [--criterion]
# Times `tuneprint extract --jobs 1`, `--jobs 2`, the Python package's
# `tuneprint.features(jobs=2)` and the reference script (one process), best of R runs each, over N clips (the committed clips repeated, N >= 32 by default); prints seconds per
# clip, throughput ratios and peak RSS (/usr/bin/time -v), and checks the --jobs 2 table against
# the reference table. Then the Python package on Dask (a LocalCluster of 2 worker processes over
# 2N clips) against `tuneprint.features(jobs=2)`. Then the scaling check: files of 30 s, 5 min and 20 min (concatenated
# clips), seconds per audio second and peak RSS; and a batch of 4N clips, whose peak RSS should
# match the N-clip batch. The RSS of `tuneprint --help` is printed too: it is what loading the
# binary costs before any extraction (no libtorch: only `tuneprint-torch`, which trains, loads it),
# and so is the wall time of `tuneprint extract` on a 1 s file, start-up included (best of 20).
# Full song: a 4-minute 44.1 kHz stereo song (the committed clips back to back, upsampled by sox;
# WAV and a lame MP3), `tuneprint extract --jobs 1` (and `--jobs 2`: one song, its resampling and
# features on both threads) against the reference script on the same file,
# the check of our row against the reference row, and where the time goes on each side (decode vs
# resample: `cargo bench --bench resample` for ours, librosa.load(sr=None) and librosa.resample
# timed in the reference venv for theirs).
# bliss-rs: 16 songs of 78 s (44.1 kHz stereo MP3s made the same way) analysed by bliss-audio 0.13
# (symphonia decoder, all cores; built in $BLISS_DIR, default /tmp/blissbench, outside the repo)
# against `tuneprint extract --jobs 2` on the same files.
# Sets up the reference venv ($LIBROSA_VENV, default ./.venv-librosa) when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
CLIPS=32 RUNS=3 REF=1 SCALING=1 CRITERION=0 SONG=1 BLISS=1
while [ $# -gt 0 ]; do
    case "$1" in
        --clips) CLIPS=$2; shift 2 ;;
        --runs) RUNS=$2; shift 2 ;;
        --no-reference) REF=0; shift ;;
        --no-scaling) SCALING=0; shift ;;
        --no-song) SONG=0; shift ;;
        --no-bliss) BLISS=0; shift ;;
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

# best_of NAME CMD...: "NAME best-wall-seconds peak-RSS-MB-of-that-run" over RUNS runs.
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
base=$(best_of help "$T" --help)
j1=$(best_of jobs1 "$T" extract --jobs 1 "$work/clips" -o "$work/j1.csv")
j2=$(best_of jobs2 "$T" extract --jobs 2 "$work/clips" -o "$work/j2.csv")
# The Python package (the wheel setup.sh installed into .venv): tuneprint.features(jobs=2), the
# call timed in the process (scripts/bench_python.py); its peak RSS is the whole process's.
py2="python2 $(.venv/bin/python scripts/bench_python.py features "$RUNS" "$work/clips" | cut -d' ' -f1) -"
if "$T" check "$work/j2.csv" --reference features/features_30_sec.csv >"$work/check.txt"; then
    chk="pass ($(tail -n 1 "$work/check.txt" | cut -d' ' -f1-3) columns)"
else
    chk=FAIL; cat "$work/check.txt"
fi
ref=""
if [ "$REF" = 1 ]; then
    ref=$(best_of librosa "$VENV/bin/python" "$SHARED/reference/librosa_features.py" "$work"/clips/*/*.wav -o "$work/ref.csv")
fi
field() { echo "$1" | cut -d' ' -f"$2"; }
printf '\n%-30s %10s %12s %10s %12s\n' "extractor ($CLIPS clips)" "wall s" "s per clip" "peak MB" "vs librosa"
for line in "$j1" "$j2" "$py2" "$ref"; do
    [ -n "$line" ] || continue
    set -- $line
    per=$(awk "BEGIN{printf \"%.4f\", $2 / $CLIPS}")
    ratio=-
    [ -n "$ref" ] && ratio=$(awk "BEGIN{printf \"%.1fx\", $(field "$ref" 2) / $2}")
    case $1 in
        jobs1) n="tuneprint --jobs 1" ;;
        jobs2) n="tuneprint --jobs 2" ;;
        python2) n="tuneprint.features(jobs=2)" ;;
        *) n="librosa 0.8.1 (1 process)" ;;
    esac
    printf '%-30s %10s %12s %10s %12s\n' "$n" "$2" "$per" "$3" "$ratio"
done
printf '%-30s %10s %12s %10s\n' "tuneprint --help (no work)" "$(field "$base" 2)" "-" "$(field "$base" 3)"
# Dask: tuneprint.dask.features over twice the clips (64 by default) on a LocalCluster of 2
# worker processes of 1 thread, partitions of 8 files, against tuneprint.features(jobs=2) on the
# same files in the same process (best of RUNS each; the cluster's start not counted); the two
# tables must be equal bit for bit.
cp -r "$work/clips" "$work/clips2"
.venv/bin/python scripts/bench_python.py dask "$RUNS" "$work/clips" "$work/clips2"
# Start-up included: `tuneprint extract` of a 1 s file (the first second of a committed clip),
# best of 20 wall times measured by bash itself (/usr/bin/time rounds to 10 ms).
python3 - "$work/one_second.wav" "${clips[0]}" <<'PY'
import sys, wave
out, src = sys.argv[1:]
with wave.open(src, "rb") as w:
    params, frames = w.getparams(), w.readframes(w.getframerate())
with wave.open(out, "wb") as w:
    w.setparams(params)
    w.writeframes(frames)
PY
best_ms() {
    local best="" t0 t1 ms
    for ((r = 0; r < 20; r++)); do
        t0=$EPOCHREALTIME
        "$@" >/dev/null 2>"$work/err.txt" || { cat "$work/err.txt" >&2; echo "bench: $* failed" >&2; exit 1; }
        t1=$EPOCHREALTIME
        ms=$(awk "BEGIN{printf \"%.1f\", ($t1 - $t0) * 1000}")
        if [ -z "$best" ] || awk "BEGIN{exit !($ms < $best)}"; then best=$ms; fi
    done
    echo "$best"
}
one=$(best_ms "$T" extract "$work/one_second.wav" -o "$work/one.csv")
echo "tuneprint extract of a 1 s file, start-up included: $one ms (best of 20; target <= 20 ms)"
echo "--jobs 2 vs --jobs 1: $(awk "BEGIN{printf \"%.2fx\", $(field "$j1" 2) / $(field "$j2" 2)}") the throughput"
echo "check of the --jobs 2 output against features/features_30_sec.csv: $chk"

if [ "$SCALING" = 1 ]; then
    # Long files: the committed clips concatenated (16-bit PCM mono 22050 Hz, standard library only).
    python3 - "$work" audio/*.wav <<'PY'
import sys, wave
work, files = sys.argv[1], sys.argv[2:]
clips = []
for f in files:
    with wave.open(f, "rb") as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 22050), f
        clips.append(w.readframes(w.getnframes()))
for name, seconds in (("s30", 30), ("m5", 300), ("m20", 1200)):
    need = seconds * 22050 * 2
    data, i = bytearray(), 0
    while len(data) < need:
        data += clips[i % len(clips)]
        i += 1
    with wave.open(f"{work}/long_{name}.wav", "wb") as w:
        w.setnchannels(1); w.setsampwidth(2); w.setframerate(22050)
        w.writeframes(bytes(data[:need]))
PY
    # Net of start-up: the wall time minus that of `tuneprint --help`.
    printf '\n%-18s %8s %8s %16s %10s %9s\n' "one file, --jobs 1" "wall s" "net s" "net s per min" "vs 5 min" "peak MB"
    rows=()
    for name in s30 m5 m20; do
        set -- $(best_of "$name" "$T" extract --jobs 1 "$work/long_$name.wav" -o "$work/long.csv")
        dur=$(case $name in s30) echo 30 ;; m5) echo 300 ;; m20) echo 1200 ;; esac)
        net=$(awk "BEGIN{printf \"%.3f\", $2 - $(field "$base" 2)}")
        rows+=("$name $dur $2 $net $(awk "BEGIN{printf \"%.4f\", 60 * $net / $dur}") $3")
    done
    # Ratios to the 5-minute file (a 30 s file's net time is within the start-up's jitter).
    per5=$(echo "${rows[1]}" | cut -d' ' -f5)
    for row in "${rows[@]}"; do
        set -- $row
        printf '%-18s %8s %8s %16s %10s %9s\n' "$1 ($2 s)" "$3" "$4" "$5" "$(awk "BEGIN{printf \"%.2fx\", $5 / $per5}")" "$6"
    done
    mkdir -p "$work/many"
    for ((i = 0; i < 4; i++)); do cp -r "$work/clips" "$work/many/b$i"; done
    n=$(find "$work/many" -name "*.wav" | wc -l)
    set -- $(RUNS=1 best_of many "$T" extract --jobs 2 "$work/many" -o "$work/many.csv")
    printf '\nbatch of %d clips with --jobs 2: %s s, peak %s MB (vs %s MB for %d clips, %s MB for --help)\n' \
        "$n" "$2" "$3" "$(field "$j2" 3)" "$CLIPS" "$(field "$base" 3)"
fi

# song SECONDS ROTATE OUT.wav: the committed clips back to back (left), the same list rotated by
# ROTATE+1 (right), cut to SECONDS, as 16-bit stereo 44.1 kHz (scripts/make_long_wav.sh).
song() {
    bash scripts/make_long_wav.sh "$1" "$3" "$2"
}

if [ "$SONG" = 1 ]; then
    command -v sox >/dev/null && command -v lame >/dev/null || { echo "bench: the full-song row needs sox and lame" >&2; exit 1; }
    song 240 0 "$work/song.wav"
    lame --quiet --noreplaygain -V 2 "$work/song.wav" "$work/song.mp3"
    printf '\nfull song: 4 min, 44.1 kHz stereo (best of %s for tuneprint, 1 run for librosa)\n' "$RUNS"
    printf '%-34s %8s %9s %12s %10s\n' "extractor" "wall s" "peak MB" "vs librosa" "check"
    for f in song.wav song.mp3; do
        set -- $(best_of ours "$T" extract --jobs 1 "$work/$f" -o "$work/song_ours.csv")
        ours_s=$2 ours_mb=$3
        if [ "$REF" = 1 ]; then
            set -- $(RUNS=1 best_of ref "$VENV/bin/python" "$SHARED/reference/librosa_features.py" "$work/$f" -o "$work/song_ref.csv")
            ref_s=$2 ref_mb=$3
            "$T" check "$work/song_ours.csv" --reference "$work/song_ref.csv" >"$work/song_check.txt" || true
            chk="$(tail -n 1 "$work/song_check.txt" | cut -d' ' -f1-3)"
            printf '%-34s %8s %9s %12s %10s\n' "tuneprint --jobs 1 ($f)" "$ours_s" "$ours_mb" \
                "$(awk "BEGIN{printf \"%.1fx\", $ref_s / $ours_s}")" "$chk"
            set -- $(best_of ours2 "$T" extract --jobs 2 "$work/$f" -o "$work/song_ours2.csv")
            printf '%-34s %8s %9s %12s %10s\n' "tuneprint --jobs 2 ($f)" "$2" "$3" \
                "$(awk "BEGIN{printf \"%.1fx\", $ref_s / $2}")" "-"
            printf '%-34s %8s %9s %12s %10s\n' "librosa 0.8.1 ($f)" "$ref_s" "$ref_mb" "1.0x" "-"
        else
            printf '%-34s %8s %9s %12s %10s\n' "tuneprint --jobs 1 ($f)" "$ours_s" "$ours_mb" "-" "-"
        fi
    done
    echo "where the time goes (ours: one thread, after the filter table is built):"
    (source scripts/env.sh && cargo bench --quiet --bench resample -- "$work/song.wav" "$work/song.mp3") 2>/dev/null | sed 's/^/  /'
    if [ "$REF" = 1 ]; then
        echo "where the time goes (librosa; the first resample of a process includes numba's compilation):"
        "$VENV/bin/python" - "$work/song.wav" "$work/song.mp3" <<'PY' 2>/dev/null | sed 's/^/  /'
import sys, time, warnings
warnings.simplefilter("ignore")
import librosa
for f in sys.argv[1:]:
    t0 = time.time(); y, sr = librosa.load(f, sr=None); t1 = time.time()
    librosa.resample(y, sr, 22050); t2 = time.time()
    librosa.resample(y, sr, 22050); t3 = time.time()
    print(f"{f}: decode + channel mean {t1 - t0:.3f} s, resample {t2 - t1:.3f} s (again: {t3 - t2:.3f} s)")
PY
    fi
fi

if [ "$BLISS" = 1 ]; then
    BLISS_DIR=${BLISS_DIR:-/tmp/blissbench}
    if [ ! -x "$BLISS_DIR/target/release/blissbench" ]; then
        echo "bench: building bliss-audio 0.13 (symphonia decoder) in $BLISS_DIR" >&2
        mkdir -p "$BLISS_DIR/src"
        cat >"$BLISS_DIR/Cargo.toml" <<'TOML'
[package]
name = "blissbench"
version = "0.1.0"
edition = "2021"

[dependencies]
bliss-audio = { version = "0.13", default-features = false, features = ["symphonia-all"] }
TOML
        cat >"$BLISS_DIR/src/main.rs" <<'RS'
//! Analyses the given files with bliss-rs on all cores; prints the count and the wall time.
use bliss_audio::decoder::symphonia::SymphoniaDecoder as Decoder;
use bliss_audio::decoder::Decoder as _;
fn main() {
    let files: Vec<String> = std::env::args().skip(1).collect();
    let t = std::time::Instant::now();
    let mut ok = 0;
    for (path, song) in Decoder::analyze_paths(&files) {
        match song {
            Ok(_) => ok += 1,
            Err(e) => eprintln!("{}: {e}", path.display()),
        }
    }
    println!("bliss-rs: {ok}/{} songs in {:.3} s", files.len(), t.elapsed().as_secs_f64());
}
RS
        (cd "$BLISS_DIR" && CARGO_TARGET_DIR="$BLISS_DIR/target" cargo build --release --quiet) >&2
    fi
    mkdir -p "$work/bliss"
    for ((k = 0; k < 16; k++)); do
        song 78 "$k" "$work/bliss_tmp.wav"
        lame --quiet --noreplaygain -V 2 "$work/bliss_tmp.wav" "$work/bliss/song$k.mp3"
    done
    b=$(best_of bliss "$BLISS_DIR/target/release/blissbench" "$work"/bliss/*.mp3)
    j=$(best_of ours2 "$T" extract --jobs 2 "$work/bliss" -o "$work/bliss.csv")
    printf '\n16 songs of 78 s (44.1 kHz stereo MP3), best of %s\n' "$RUNS"
    printf '%-40s %8s %9s\n' "analyser" "wall s" "peak MB"
    printf '%-40s %8s %9s\n' "bliss-rs 0.13 (symphonia, all cores)" "$(field "$b" 2)" "$(field "$b" 3)"
    printf '%-40s %8s %9s\n' "tuneprint extract --jobs 2 (exact 57)" "$(field "$j" 2)" "$(field "$j" 3)"
fi

if [ "$CRITERION" = 1 ]; then
    source scripts/env.sh
    cargo bench --bench stages
fi
