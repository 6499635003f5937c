#!/usr/bin/env bash
# Benchmarks of scanning on many machines (figures for docs/performance.md):
#   scripts/cluster/bench.sh [--merge-only | --slurm-only]
# Merge: 64 shard databases holding 100 000 songs in all (synthetic rows: the song and
# prediction rows of a real scan of one committed clip, with 7 windows as a song of 3.5
# minutes has, repeated under new paths), merged by
# `tuneprint library merge`: wall time and peak RSS (/usr/bin/time -v).
# Slurm: 40 songs of 3 minutes (six committed clips back to back each) scanned by
# `library scan --jobs 2`,
# then by scripts/cluster/slurm.sh as 4 array tasks of one core each plus the merge, on the
# single-node cluster of scripts/cluster/slurm-local.sh (started and stopped here); wall times
# and their ratio.
set -euo pipefail
cd "$(dirname "$0")/../.."
MERGE=1 SLURM=1
case "${1:-}" in
    --merge-only) SLURM=0 ;;
    --slurm-only) MERGE=0 ;;
    "") ;;
    *) echo "usage: $0 [--merge-only | --slurm-only]" >&2; exit 2 ;;
esac
bash scripts/setup.sh >/dev/null
T=$PWD/target/release/tuneprint
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export TUNEPRINT_HOME=$work/home

# timed NAME CMD...: prints "NAME: S s, peak RSS M MB".
timed() {
    local name=$1; shift
    /usr/bin/time -v -o "$work/time.txt" "$@" >"$work/out.txt" 2>"$work/err.txt" || {
        cat "$work/err.txt" >&2; echo "bench: $name failed" >&2; exit 1; }
    awk -F': ' -v n="$name" '/Elapsed \(wall clock\)/ {k=split($2,a,":"); s=0; for(i=1;i<=k;i++) s=s*60+a[i]}
        /Maximum resident set size/ {m=$2} END {printf "%s: %.2f s, peak RSS %d MB\n", n, s, m/1024}' "$work/time.txt"
}

if [ "$MERGE" = 1 ]; then
    mkdir -p "$work/one"
    cp audio/jazz.00000.wav "$work/one/"
    "$T" library scan "$work/one" --db "$work/template.db" >/dev/null
    python3 - "$work" <<'PY'
import shutil, sqlite3, sys
work = sys.argv[1]
shards, total = 64, 100_000
t = sqlite3.connect(f"{work}/template.db")
song = t.execute("SELECT * FROM songs").fetchone()
cols = [d[0] for d in t.execute("SELECT * FROM songs").description]
w = t.execute("SELECT idx, start, samples, features FROM windows").fetchone()
win = [(k, k * w[2], w[2], w[3]) for k in range(7)]  # a song of 3.5 minutes: 7 windows
pred = t.execute("SELECT model_id, genre, probabilities, embedding, dim FROM predictions").fetchone()
t.execute("DELETE FROM predictions"); t.execute("DELETE FROM windows"); t.execute("DELETE FROM songs"); t.commit(); t.execute("VACUUM"); t.close()
for k in range(shards):
    path = f"{work}/shard-{k}.db"
    shutil.copy(f"{work}/template.db", path)
    c = sqlite3.connect(path)
    n = total // shards + (1 if k < total % shards else 0)
    for i in range(n):
        row = dict(zip(cols, song))
        row["path"] = f"/music/synthetic/{k:02}/{i:05}.wav".encode()
        row["name"] = f"{i:05}.wav"
        row["hash"] = f"{k:02}{i:062}"
        del row["id"]
        sid = c.execute(f"INSERT INTO songs ({','.join(row)}) VALUES ({','.join('?' * len(row))})",
                        list(row.values())).lastrowid
        c.executemany("INSERT INTO windows (song_id, idx, start, samples, features) VALUES (?,?,?,?,?)",
                      [(sid, *w) for w in win])
        c.execute("INSERT INTO predictions (song_id, model_id, genre, probabilities, embedding, dim)"
                  " VALUES (?,?,?,?,?,?)", (sid, *pred))
    c.commit(); c.close()
PY
    echo "merge of 64 shards, 100000 songs ($(du -shc "$work"/shard-*.db | tail -n 1 | cut -f1) of shards):"
    timed "  library merge" "$T" library merge "$work"/shard-*.db -o "$work/all.db"
    cat "$work/out.txt"
    rm -f "$work"/shard-*.db "$work/all.db"
fi

if [ "$SLURM" = 1 ]; then
    # 40 songs of 3 minutes: six committed clips back to back, starting at each clip in turn.
    python3 - "$work/music" audio/*.wav <<'PY'
import os, sys, wave
out, clips = sys.argv[1], sorted(sys.argv[2:])
os.makedirs(out, exist_ok=True)
frames = []
for c in clips:
    with wave.open(c) as w:
        params = w.getparams()
        frames.append(w.readframes(w.getnframes()))
for k in range(40):
    with wave.open(f"{out}/song{k:02}.wav", "wb") as w:
        w.setparams(params)
        for j in range(6):
            w.writeframes(frames[(k + j) % len(frames)])
PY
    trap 'bash scripts/cluster/slurm-local.sh stop >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
    eval "$(bash scripts/cluster/slurm-local.sh start | tail -n 1)"
    echo "40 songs of 3 minutes:"
    timed "  library scan --jobs 2" "$T" library scan "$work/music" --jobs 2 --db "$work/single.db"
    single=$(awk -F': ' '/Elapsed/ {k=split($2,a,":"); s=0; for(i=1;i<=k;i++) s=s*60+a[i]; print s}' "$work/time.txt")
    # From submission until the merged library is in place (polled every 50 ms): what a user
    # waits for (sbatch --wait itself only looks every 2 s).
    t0=$(date +%s.%N)
    MUSIC="$work/music" OUT="$work/out" SHARDS=4 CPUS=1 MEM=1G TUNEPRINT="$T" \
        bash scripts/cluster/slurm.sh >/dev/null
    until [ -e "$work/out/library.db" ]; do sleep 0.05; done
    t1=$(date +%s.%N)
    slurm=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}')
    echo "  Slurm, 4 tasks of 1 core + merge: $slurm s"
    for log in "$work"/out/logs/scan-*.out; do
        echo "    $(basename "$log"): $(tail -n 1 "$log")"
    done
    awk -v a="$slurm" -v b="$single" 'BEGIN {printf "  Slurm / single: %.2f\n", a / b}'
fi
