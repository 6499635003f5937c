#!/usr/bin/env bash
# Scan a music collection on a Slurm cluster into one library: an array job with one task per
# shard (each writes $OUT/shard-I.db, committing song by song), then a merge job that runs once
# every task has succeeded and writes $OUT/library.db.
#
#   scripts/cluster/slurm.sh           submit the scan and the merge
#   scripts/cluster/slurm.sh 2 5       submit shards 2 and 5 again (a task that failed or was
#                                      killed continues where it stopped), then the merge
#
# Set the variables below (or in the environment). Add WAIT=1 to wait for the merge to finish.
MUSIC=${MUSIC:-/srv/music}          # the collection (the same path on every node)
OUT=${OUT:-/srv/tuneprint}          # shard databases, logs and library.db (shared storage)
SHARDS=${SHARDS:-16}                # array tasks, one shard each
CPUS=${CPUS:-4}                     # cores per task (the scan's --jobs)
MEM=${MEM:-2G}                      # memory per task
TUNEPRINT=${TUNEPRINT:-tuneprint}   # the tuneprint binary, on every node
SBATCH_ARGS=${SBATCH_ARGS:-}        # more sbatch options, e.g. "--partition=short --time=4:00:00"
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [[ $# -gt 0 ]]; then
    array=$(IFS=,; echo "$*")
else
    array="0-$((SHARDS - 1))"
fi
mkdir -p "$OUT/logs"
started="$OUT/logs/.submitted"
touch "$started"
export MUSIC OUT SHARDS TUNEPRINT
# TUNEPRINT_SHARDS makes the task ids the shard numbers, so one task can be submitted alone.
# shellcheck disable=SC2086
scan=$(sbatch --parsable $SBATCH_ARGS --job-name=tuneprint-scan --array="$array" \
    --cpus-per-task="$CPUS" --mem="$MEM" --output="$OUT/logs/scan-%A-%a.out" \
    --export=ALL,TUNEPRINT_SHARDS="$SHARDS" "$here/scan.sbatch")
scan=${scan%%;*}
echo "scan: job $scan, array $array"
wait_flag=()
[[ ${WAIT:-0} == 1 ]] && wait_flag=(--wait)
# shellcheck disable=SC2086
merge=$(sbatch --parsable "${wait_flag[@]}" $SBATCH_ARGS --job-name=tuneprint-merge \
    --dependency=afterok:"$scan" --kill-on-invalid-dep=yes --cpus-per-task=1 --mem=1G \
    --output="$OUT/logs/merge-%j.out" "$here/merge.sbatch")
echo "merge: job ${merge%%;*} (runs when every scan task has succeeded) → $OUT/library.db"
# sbatch --wait answers 0 for a merge cancelled because a scan task failed: look at the result.
if [[ ${WAIT:-0} == 1 && ! "$OUT/library.db" -nt "$started" ]]; then
    echo "error: no merge: a scan task failed (see $OUT/logs); submit its shards again with" \
        "$0 I ... (they continue where they stopped)" >&2
    exit 1
fi
