#!/usr/bin/env bash
# scripts/make_long_wav.sh SECONDS OUT.wav [ROTATE]: a 16-bit stereo 44.1 kHz WAV (up to a DJ set
# or a radio show) from the committed clips: the eight WAV clips back to back on the left (the
# list rotated by ROTATE, default 0), the list rotated by one more on the right, repeated and cut
# to SECONDS. Deterministic (sox without dither):
# the same bytes on every run with the same sox, so the CSV hashes of issue 29 can be checked.
# Needs sox: installed from Debian's packages when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v sox >/dev/null 2>&1; then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends sox >/dev/null
fi
secs=${1:?seconds}
out=${2:?output.wav}
rot=${3:-0}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
clips=(audio/*.wav)
n=${#clips[@]}
left=() right=()
for ((i = 0; i < n; i++)); do
    left+=("${clips[$(((i + rot) % n))]}")
    right+=("${clips[$(((i + rot + 1) % n))]}")
done
sox "${left[@]}" "$tmp/left.wav"
sox "${right[@]}" "$tmp/right.wav"
sox -D -M "$tmp/left.wav" "$tmp/right.wav" -b 16 "$tmp/song.wav" rate -v 44100
# Each repeat adds the song's length once more (about 240 s).
song=$(soxi -D "$tmp/song.wav")
reps=$(awk "BEGIN{r = int($secs / $song); print (r < 1 ? 0 : r)}")
sox -D "$tmp/song.wav" "$out" repeat "$reps" trim 0 "$secs"
