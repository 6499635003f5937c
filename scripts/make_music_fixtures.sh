#!/usr/bin/env bash
# Real-music fixtures at 44.1 and 48 kHz for tests/music_rates.rs, made with sox/flac/lame from the
# committed GTZAN clips (audio/*.wav, 22050 Hz mono), and librosa 0.8.1's features of exactly these
# files (the reference script /work/shared/reference/librosa_features.py in the reference venv).
#
# Each file is a 3 s stereo excerpt: the left channel from one clip, the right from another,
# upsampled by sox (very high quality) and written as 16-bit PCM:
#   rock_jazz.44k.wav       44100 Hz WAV          metal_pop.44k.flac      44100 Hz FLAC
#   country_blues.48k.wav   48000 Hz WAV          classical_hiphop.48k.flac 48000 Hz FLAC
#   rock_pop.44k.mp3        44100 Hz MP3 (lame CBR 192 kb/s, LAME header)
# tests/fixtures/music/librosa_features.csv holds the reference rows; VERSIONS.txt the tools.
# Usage: bash scripts/make_music_fixtures.sh   (needs sox, flac, lame and the reference venv)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$root/tests/fixtures/music"
py="${LIBROSA_PYTHON:-/work/.venv-librosa/bin/python}"
ref="${LIBROSA_FEATURES:-/work/shared/reference/librosa_features.py}"
for tool in sox flac lame; do
    command -v "$tool" >/dev/null || { echo "error: $tool is not installed" >&2; exit 1; }
done
rm -rf "$out"
mkdir -p "$out"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# stereo LEFT RIGHT RATE OUT.wav: 3 s from 12 s into both clips.
stereo() {
    sox -D -M "$root/audio/$1.00000.wav" "$root/audio/$2.00000.wav" -b 16 "$4" \
        trim 12 3 rate -v "$3"
}
stereo rock jazz 44100 "$out/rock_jazz.44k.wav"
stereo metal pop 44100 "$tmp/metal_pop.44k.wav"
flac --silent --best -f -o "$out/metal_pop.44k.flac" "$tmp/metal_pop.44k.wav"
stereo country blues 48000 "$out/country_blues.48k.wav"
stereo classical hiphop 48000 "$tmp/classical_hiphop.48k.wav"
flac --silent --best -f -o "$out/classical_hiphop.48k.flac" "$tmp/classical_hiphop.48k.wav"
stereo rock pop 44100 "$tmp/rock_pop.44k.wav"
lame --quiet --noreplaygain -b 192 "$tmp/rock_pop.44k.wav" "$out/rock_pop.44k.mp3"

(cd "$out" && "$py" "$ref" rock_jazz.44k.wav metal_pop.44k.flac country_blues.48k.wav \
    classical_hiphop.48k.flac rock_pop.44k.mp3 -o librosa_features.csv)
{
    "$py" -c 'import librosa, resampy, numpy, soundfile as sf; print("librosa", librosa.__version__); print("resampy", resampy.__version__); print("numpy", numpy.__version__); print("soundfile", sf.__version__, "libsndfile", sf.__libsndfile_version__)'
    sox --version | sed 's/^ *//'
    flac --version
    lame --version | head -1
    echo "made by scripts/make_music_fixtures.sh"
} >"$out/VERSIONS.txt"
ls -l "$out"
