#!/usr/bin/env python3
"""Golden arrays of librosa.load (librosa 0.8.1) for the Python package's tests.

Run with the reference stack (../shared/reference/setup_librosa.sh):
  .venv-librosa/bin/python scripts/make_python_fixtures.py [--out python/tests/fixtures/load]

Writes, under OUT, for each case of CASES: <name>.npy, the float32 array that
librosa.load(path, sr=..., mono=..., offset=..., duration=...) returns, and cases.json (each
case's file, arguments and returned rate), plus VERSIONS.txt (librosa, resampy, soundfile,
libsndfile, numpy). The inputs are committed files: the GTZAN clip audio/blues.00000.wav
(22 050 Hz), the 44.1 and 48 kHz stereo excerpts of tests/fixtures/music (WAV, FLAC, MP3 made by
scripts/make_music_fixtures.sh) and the 22 050 Hz AIFF and mu-law AU excerpts of
tests/fixtures/audio. Short durations keep the arrays small.
"""
import argparse, json, os, sys
import numpy as np
import librosa, resampy, soundfile

# (name, file relative to the repository, keyword arguments of librosa.load)
CASES = [
    ("wav22_offset", "audio/blues.00000.wav", dict(offset=10.0, duration=1.0)),
    ("wav44_to22", "tests/fixtures/music/rock_jazz.44k.wav", dict(duration=1.5)),
    ("wav44_native_stereo", "tests/fixtures/music/rock_jazz.44k.wav", dict(sr=None, mono=False, offset=1.0, duration=0.25)),
    ("flac48_to22", "tests/fixtures/music/classical_hiphop.48k.flac", dict(offset=0.5, duration=1.0)),
    ("wav48_to16k_stereo", "tests/fixtures/music/country_blues.48k.wav", dict(sr=16000, mono=False, offset=2.0, duration=0.5)),
    ("flac44_to48", "tests/fixtures/music/metal_pop.44k.flac", dict(sr=48000, duration=0.5)),
    ("aiff22_to44", "tests/fixtures/audio/excerpt.aiff", dict(sr=44100, duration=0.5)),
    ("au_ulaw", "tests/fixtures/audio/excerpt_ulaw.au", dict(sr=None)),
    ("mp3_44_to22", "tests/fixtures/music/rock_pop.44k.mp3", dict(duration=1.5)),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="python/tests/fixtures/load")
    args = ap.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    os.makedirs(args.out, exist_ok=True)
    cases = []
    for name, rel, kwargs in CASES:
        y, sr = librosa.load(os.path.join(root, rel), **kwargs)
        assert y.dtype == np.float32
        np.save(os.path.join(args.out, name + ".npy"), y)
        cases.append({"name": name, "file": rel, "kwargs": kwargs, "sr": sr, "shape": list(y.shape)})
        print(f"{name}: {rel} {kwargs} -> {y.shape} at {sr} Hz", file=sys.stderr)
    with open(os.path.join(args.out, "cases.json"), "w") as f:
        json.dump(cases, f, indent=1)
        f.write("\n")
    with open(os.path.join(args.out, "VERSIONS.txt"), "w") as f:
        f.write("made by scripts/make_python_fixtures.py with\n")
        f.write(f"librosa {librosa.__version__}\nresampy {resampy.__version__}\n")
        f.write(f"soundfile {soundfile.__version__} ({soundfile.__libsndfile_version__})\n")
        f.write(f"numpy {np.__version__}\n")


if __name__ == "__main__":
    main()
