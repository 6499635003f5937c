#!/usr/bin/env bash
# MP3 fixtures of tests/mp3.rs that reach what real-world MP3s do and lame's own clean encodes of
# quiet music do not. Each is a 1.5 s stereo excerpt of two committed clips (left, right), upsampled
# by sox; "loud" ones are amplified by 9 dB first, so that the 16-bit source is clipped and the
# decoded MP3 overshoots full scale (samples beyond ±1.0 after decoding):
#   loud_lame_44100.mp3      lame -b 192, joint stereo, ID3v2 tag, LAME/Info header frame
#   loud_shine_48000.mp3     ffmpeg's libshine encoder (not lame), ID3v2 tag and Info header frame
#   loud_lame_32000.mp3      ffmpeg's libmp3lame, 32 kHz, no header frame, no tag
#   cut_44100.mp3            lame -b 128 -t, cut at the first frame after 0.5 s whose bit reservoir
#                            points before it (main_data_begin > 0), as cut or streamed MP3s start
#   cut_vbr_48000.mp3        the same for lame -V 4 (VBR), its LAME/Xing frame cut away too
#   vbri_32000.mp3           lame -t -b 96 with a VBRI header frame (as Fraunhofer encoders write)
#   ms_48000.mp3             lame -m f: every frame mid-side stereo
#   stereo_32000.mp3         lame -m s: plain left/right stereo
#   intensity_44100.mp3      lame -m j -t -b 128 with the intensity-stereo bit set in every joint-stereo
#                            frame (no Debian encoder writes intensity stereo; the bit makes the
#                            right channel's zero bands intensity-coded, which both decoders must
#                            then reconstruct alike)
# and the references:
#   <name>.sf.npy            soundfile.read(dtype=float32) averaged as librosa.to_mono (libsndfile
#                            with mpg123, as librosa 0.8.1 reads MP3)
#   soundfile.csv            name, rate, frames, peak (largest |sample| of either channel),
#                            main_data_begin of the first audio frame
#   librosa_features.csv     librosa 0.8.1's 57 features of each file (the reference script)
#   VERSIONS.txt             the tools
# Usage: bash scripts/make_mp3_wild_fixtures.sh  (needs sox, lame, ffmpeg and the reference venv)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$root/tests/fixtures/mp3-wild"
py="${LIBROSA_PYTHON:-/work/.venv-librosa/bin/python}"
ref="${LIBROSA_FEATURES:-/work/shared/reference/librosa_features.py}"
surgery="$root/scripts/mp3_surgery.py"
for tool in sox lame ffmpeg; do
    command -v "$tool" >/dev/null || { echo "error: $tool is not installed" >&2; exit 1; }
done
rm -rf "$out"
mkdir -p "$out"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# stereo LEFT RIGHT RATE SECONDS GAIN_DB OUT.wav: from 10 s into both clips.
stereo() {
    sox -D -M "$root/audio/$1.00000.wav" "$root/audio/$2.00000.wav" -b 16 "$6" \
        trim 10 "$4" rate -v "$3" gain "$5" 2>/dev/null
}
lame_q() { lame --quiet --noreplaygain "$@"; }
ffmpeg_q() { ffmpeg -nostdin -hide_banner -loglevel error -y -bitexact "$@"; }

stereo metal rock 44100 1.5 9 "$tmp/a.wav"
lame_q -b 192 --add-id3v2 --tt "Loud" --ta "tuneprint fixtures" "$tmp/a.wav" "$out/loud_lame_44100.mp3"
stereo pop hiphop 48000 1.5 9 "$tmp/b.wav"
ffmpeg_q -i "$tmp/b.wav" -c:a libshine -b:a 192k -metadata title=Loud "$out/loud_shine_48000.mp3"
stereo rock metal 32000 1.5 9 "$tmp/c.wav"
ffmpeg_q -i "$tmp/c.wav" -c:a libmp3lame -b:a 160k -write_xing 0 -id3v2_version 0 \
    "$out/loud_lame_32000.mp3"

stereo jazz country 44100 2 0 "$tmp/d.wav"
lame_q -t -b 128 "$tmp/d.wav" "$tmp/d.mp3"
python3 "$surgery" cut "$tmp/d.mp3" "$out/cut_44100.mp3" 0.5
stereo blues pop 48000 2 0 "$tmp/e.wav"
lame_q -V 4 "$tmp/e.wav" "$tmp/e.mp3"
python3 "$surgery" cut "$tmp/e.mp3" "$out/cut_vbr_48000.mp3" 0.5

stereo classical jazz 32000 1.5 0 "$tmp/f.wav"
lame_q -t -b 96 "$tmp/f.wav" "$tmp/f.mp3"
python3 "$surgery" vbri "$tmp/f.mp3" "$out/vbri_32000.mp3"
stereo hiphop rock 48000 1.5 0 "$tmp/g.wav"
lame_q -m f -b 160 "$tmp/g.wav" "$out/ms_48000.mp3"
stereo country metal 32000 1.5 0 "$tmp/h.wav"
lame_q -m s -b 128 "$tmp/h.wav" "$out/stereo_32000.mp3"
stereo pop blues 44100 1.5 0 "$tmp/i.wav"
lame_q -m j -t -b 128 --resample 44.1 "$tmp/i.wav" "$tmp/i.mp3"
python3 "$surgery" intensity "$tmp/i.mp3" "$out/intensity_44100.mp3"

"$py" - "$out" "$surgery" <<'PY'
import os, subprocess, sys, warnings
import numpy as np
warnings.simplefilter("ignore")
import librosa, soundfile as sf
out, surgery = sys.argv[1], sys.argv[2]
rows = ["name,rate,frames,peak,main_data_begin"]
for name in sorted(os.listdir(out)):
    if not name.endswith(".mp3"):
        continue
    path = os.path.join(out, name)
    y, sr = sf.read(path, dtype="float32", always_2d=True)
    np.save(path + ".sf.npy", librosa.to_mono(y.T).astype("<f4"))
    mdb = subprocess.run([sys.executable, surgery, "mdb", path], capture_output=True,
                         text=True, check=True).stdout.strip()
    rows.append(f"{name},{sr},{len(y)},{float(np.abs(y).max()):.6f},{mdb}")
with open(os.path.join(out, "soundfile.csv"), "w") as f:
    f.write("\n".join(rows) + "\n")
PY
(cd "$out" && "$py" "$ref" ./*.mp3 -o librosa_features.csv)
{
    "$py" -c 'import librosa, resampy, numpy, soundfile as sf; print("librosa", librosa.__version__); print("resampy", resampy.__version__); print("numpy", numpy.__version__); print("soundfile", sf.__version__, "libsndfile", sf.__libsndfile_version__)'
    sox --version | sed 's/^ *//'
    lame --version | head -1
    ffmpeg -version | head -1
    echo "made by scripts/make_mp3_wild_fixtures.sh"
} >"$out/VERSIONS.txt"
cat "$out/soundfile.csv"
du -sh "$out"
