#!/usr/bin/env bash
# MP3 fixtures of tests/mp3.rs: a 0.4 s stereo excerpt of the committed clips (rock left, pop
# right, from 12 s) upsampled by sox to 44.1 and 48 kHz and encoded by lame four ways:
#   cbr_<rate>.mp3        -b 128 (CBR, LAME/Info header: encoder delay and padding known)
#   vbr_<rate>.mp3        -V 2   (VBR, LAME/Xing header)
#   cbr_nohdr_<rate>.mp3  -t -b 128 (no header frame)
#   vbr_nohdr_<rate>.mp3  -t -V 2   (no header frame: libsndfile guesses the length)
# and soundfile's view of each (libsndfile 1.2.2 with mpg123, as librosa 0.8.1 reads MP3):
#   <name>.sf.npy         soundfile.read(dtype=float32), channels averaged as librosa.to_mono
#   <name>.librosa.npy    librosa.load(<name>) (22050 Hz) for the two files with headers
#   soundfile.csv         name, rate, frames soundfile returns
# Usage: bash scripts/make_mp3_fixtures.sh   (needs sox, lame and the reference venv)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$root/tests/fixtures/mp3"
py="${LIBROSA_PYTHON:-/work/.venv-librosa/bin/python}"
rm -rf "$out"
mkdir -p "$out"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
for rate in 44100 48000; do
    sox -D -M "$root/audio/rock.00000.wav" "$root/audio/pop.00000.wav" -b 16 "$tmp/s.wav" \
        trim 12 0.4 rate -v "$rate"
    lame --quiet --noreplaygain -b 128 "$tmp/s.wav" "$out/cbr_$rate.mp3"
    lame --quiet --noreplaygain -V 2 "$tmp/s.wav" "$out/vbr_$rate.mp3"
    lame --quiet --noreplaygain -t -b 128 "$tmp/s.wav" "$out/cbr_nohdr_$rate.mp3"
    lame --quiet --noreplaygain -t -V 2 "$tmp/s.wav" "$out/vbr_nohdr_$rate.mp3"
done
"$py" - "$out" <<'PY'
import os, sys, warnings
import numpy as np
warnings.simplefilter("ignore")
import librosa, soundfile as sf
out = sys.argv[1]
rows = ["name,rate,frames"]
for name in sorted(os.listdir(out)):
    if not name.endswith(".mp3"):
        continue
    y, sr = sf.read(os.path.join(out, name), dtype="float32", always_2d=True)
    np.save(os.path.join(out, name + ".sf.npy"), librosa.to_mono(y.T).astype("<f4"))
    rows.append(f"{name},{sr},{len(y)}")
    if name in ("cbr_44100.mp3", "vbr_48000.mp3"):
        z, _ = librosa.load(os.path.join(out, name))
        np.save(os.path.join(out, name + ".librosa.npy"), z.astype("<f4"))
with open(os.path.join(out, "soundfile.csv"), "w") as f:
    f.write("\n".join(rows) + "\n")
with open(os.path.join(out, "VERSIONS.txt"), "w") as f:
    f.write(f"librosa {librosa.__version__}\nsoundfile {sf.__version__} (libsndfile "
            f"{sf.__libsndfile_version__})\nmade by scripts/make_mp3_fixtures.sh\n")
PY
lame --version | head -1 >>"$out/VERSIONS.txt"
sox --version | sed 's/^ *//' >>"$out/VERSIONS.txt"
ls -l "$out"
