#!/usr/bin/env bash
# Makes tests/fixtures/long/three_minutes_44k_stereo.mp3: six committed clips back to back
# (3 minutes), as 44.1 kHz stereo MP3 at 32 kbit/s, for the windowed-classification test.
# Needs sox and lame (Debian packages); the result is committed, so tests do not need them.
# sox dithers at random when it reduces the bit depth, so each run makes another file; the
# committed one is what the tests (the MP3 decoded in parts) were written against.
set -euo pipefail
cd "$(dirname "$0")/.."
out=tests/fixtures/long
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sox audio/blues.00000.wav audio/classical.00000.wav audio/country.00000.wav \
    audio/hiphop.00000.wav audio/jazz.00000.wav audio/metal.00000.wav \
    -r 44100 -c 2 "$tmp/long.wav" trim 0 180
lame --quiet --resample 44.1 -b 32 -m j "$tmp/long.wav" "$out/three_minutes_44k_stereo.mp3"
{
    echo "made by scripts/make_long_mp3.sh from six committed clips (sox dithers at random: a new"
    echo "run gives another file of the same music; the audio::decode unit tests expect this one's"
    echo "parts to join, so keep it)"
    echo "sox $(sox --version | sed 's/.*SoX v//')"
    lame --version | head -n 1
} >"$out/VERSIONS.txt"
ls -l "$out/three_minutes_44k_stereo.mp3"
