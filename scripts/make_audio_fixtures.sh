#!/usr/bin/env bash
# Makes the small compressed/other-container fixtures of tests/decode.rs, all from one 2 s
# excerpt (samples 220500..264600, i.e. 10 s to 12 s) of audio/blues.00000.wav:
#   excerpt.flac              FLAC, 16-bit mono 22050 Hz (lossless: decodes to the excerpt exactly)
#   excerpt.aiff              AIFF, 16-bit mono 22050 Hz (lossless)
#   excerpt_ulaw.au           Sun .au, 8-bit mu-law mono 22050 Hz
#   excerpt.ogg               Ogg/Vorbis q4, mono 22050 Hz
#   excerpt_44k_stereo.mp3    MP3 128 kb/s, stereo 44100 Hz (the excerpt upsampled, both channels equal)
# The outputs are committed (CI machines lack the tools). Needs Debian's sox, lame, flac and
# vorbis-tools:  apt-get update && apt-get install -y sox lame flac vorbis-tools
# Usage: bash scripts/make_audio_fixtures.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$root/tests/fixtures/audio"
src="$root/audio/blues.00000.wav"
for tool in sox lame flac oggenc; do
    command -v "$tool" >/dev/null || { echo "error: $tool is not installed" >&2; exit 1; }
done
mkdir -p "$out"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

sox -D "$src" "$tmp/excerpt.wav" trim 220500s 44100s
flac --silent --best --no-padding --no-seektable -f -o "$out/excerpt.flac" "$tmp/excerpt.wav"
sox -D "$tmp/excerpt.wav" --comment "" "$out/excerpt.aiff"
sox -D "$tmp/excerpt.wav" --comment "" -e u-law "$out/excerpt_ulaw.au"
oggenc --quiet -q 4 --serial 1 -o "$out/excerpt.ogg" "$tmp/excerpt.wav"
sox -D "$tmp/excerpt.wav" -b 16 "$tmp/excerpt_44k_stereo.wav" rate -v 44100 channels 2
lame --quiet --noreplaygain --resample 44.1 -b 128 "$tmp/excerpt_44k_stereo.wav" "$out/excerpt_44k_stereo.mp3"
{
    echo "made by scripts/make_audio_fixtures.sh from audio/blues.00000.wav"
    echo "sox $(sox --version | sed 's/.*SoX v//')"
    lame --version | head -n 1
    flac --version
    oggenc --version
} >"$out/VERSIONS.txt"
ls -l "$out"

# librosa 0.8.1's view of each fixture (when the reference stack is installed): samples, FNV-1a 64
# of the float32 bytes (as scripts/make_fixtures.py's bits_checksum) in librosa.csv, and samples
# 20000..24096 of the lossy ones as <name>.y_20000.npy.
py="${LIBROSA_PYTHON:-/work/.venv-librosa/bin/python}"
if [ -x "$py" ]; then
    "$py" - "$out" <<'PY'
import csv, os, sys, warnings
import numpy as np
warnings.simplefilter("ignore")
import librosa

out = sys.argv[1]

def bits_checksum(y):
    h = 0xCBF29CE484222325
    for b in np.asarray(y, dtype="<f4").tobytes():
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h

rows = []
for name in sorted(os.listdir(out)):
    if name.endswith((".csv", ".npy", ".txt")):
        continue
    y, _ = librosa.load(os.path.join(out, name), sr=22050)
    rows.append([name, len(y), f"{bits_checksum(y):016x}"])
    if name.endswith((".mp3", ".ogg")):
        np.save(os.path.join(out, name + ".y_20000.npy"), y[20000:24096].astype("<f4"))
with open(os.path.join(out, "librosa.csv"), "w", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(["file", "samples", "fnv1a64_f32le"])
    w.writerows(rows)
print("librosa", librosa.__version__, "checksums written")
with open(os.path.join(out, "VERSIONS.txt"), "a") as f:
    f.write(f"librosa.csv and *.y_20000.npy: librosa {librosa.__version__}, numpy {np.__version__}\n")
PY
else
    echo "note: $py not found; librosa.csv and the .npy slices were not remade" >&2
fi
