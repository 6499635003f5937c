#!/usr/bin/env bash
# The main job on the committed data: set-up, extract audio/ and check it against the reference,
# train the default classifier (blend) without the committed songs, classify them from raw audio,
# recommend; scan audio/ into a SQLite library and show its status, classify, recommend and a
# playlist from it (nothing decoded again); report.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
T=target/release/tuneprint
# The checkout's own model folders (a plain `train` saves to $TUNEPRINT_HOME/models/default).
M=models/default
step() { printf '\n== %s\n' "$*" >&2; }

step "decode: the committed clips as librosa.load reads them"
$T decode audio/*
step "extract: the 57 features of audio/ (native, parallel)"
$T extract audio/ -o features/extracted.csv
step "check: against the reference table (features/features_30_sec.csv, built into tuneprint)"
$T check features/extracted.csv
# Training uses one core; the baselines run on the other meanwhile, and print after it.
mkdir -p $M
baselines_out=$(mktemp)
trap 'rm -f "$baselines_out"' EXIT
$T baselines --exclude features/demo_holdout.txt -o $M >"$baselines_out" 2>&1 &
baselines_pid=$!
step "train: the default blend (holdout and artist-filtered figures, 10 seeds), the committed songs held out"
$T train --exclude features/demo_holdout.txt -o $M
step "baselines: linfa models on the same splits (run beside the training)"
wait "$baselines_pid" || { cat "$baselines_out"; exit 1; }
cat "$baselines_out"
step "embed: the default model's embedding of every song of the reference table"
$T embed --model $M
step "classify: the held-out songs from raw audio"
$T classify audio/ --model $M
step "recommend: songs like jazz.00098, and like a file"
$T recommend jazz.00098 --model $M
$T recommend audio/rock.00000.wav --model $M
# The library: one database file in the ignored models/ folder, made afresh.
DB=models/demo.db
rm -f "$DB" "$DB-wal" "$DB-shm"
step "library scan: audio/ into the SQLite library $DB (features, windows, tags, the default model's genres and embeddings)"
$T library scan audio/ --db "$DB" --model $M
step "library scan again: unchanged files are only stat'ed"
$T library scan audio/ --db "$DB" --model $M
step "library status"
$T library status --db "$DB"
step "classify from the library: stored window features, nothing decoded"
$T classify --db "$DB" --model $M
step "recommend from the library: stored embeddings (a song of it, by stem and by path)"
$T recommend jazz.00000 --db "$DB" -k 5
$T recommend audio/rock.00000.wav --db "$DB" -k 3
step "playlist from the library: each song the nearest unused one to the song before"
$T playlist country.00000 -n 6 --db "$DB" -o models/demo.m3u8
cat models/demo.m3u8

step "report: figures and report/report.md"
$T report --model $M --strict
