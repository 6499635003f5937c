#!/usr/bin/env python3
"""Golden fixtures of the resampler (tests/resample.rs), from librosa 0.8.1 / resampy 0.4.3.

Writes tests/fixtures/resample/:
  VERSIONS.txt            versions of the stack that made the files
  table.csv               resampy's filter tables: FNV-1a 64 of all entries' float64 bytes, and
                          every 1009th entry plus the last (exact: the float64 bits in hex)
  in/<case>.wav           float32 WAV inputs (mono or stereo) at rates from 8 to 96 kHz
  out/<case>.npy          librosa.load(<case>.wav) (sr=22050: channel mean, resampy kaiser_best,
                          fix_length), float32
  fast/<case>.npy         librosa.resample(mono, sr, 22050, res_type="kaiser_fast") of the mono
                          inputs
Inputs are deterministic (numpy's PCG64 with fixed seeds); lengths are odd.

Usage: /work/.venv-librosa/bin/python scripts/make_resample_fixtures.py
"""
import os
import sys
import warnings

import numpy as np

warnings.simplefilter("ignore")
import librosa  # noqa: E402
import numba  # noqa: E402
import resampy  # noqa: E402
import scipy  # noqa: E402
import soundfile as sf  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "resample")
RATES = [8000, 11025, 16000, 32000, 44100, 48000, 88200, 96000]


def fnv1a64(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def signal(rng, n, sr):
    """A mix of tones, a chirp and noise, at about -6 dBFS."""
    t = np.arange(n) / sr
    f = min(sr * 0.45, 9000.0)
    y = 0.25 * np.sin(2 * np.pi * 440.0 * t) + 0.1 * np.sin(2 * np.pi * (100.0 + f * t / t[-1] / 2) * t)
    y += 0.1 * rng.standard_normal(n)
    return y.astype(np.float32)


def cases():
    rng = np.random.default_rng(20240612)
    out = []
    for sr in RATES:
        n = int(0.15 * sr) | 1  # odd
        out.append((f"mono_{sr}", sr, signal(rng, n, sr)))
        left, right = signal(rng, n + 2, sr), signal(rng, n + 2, sr)
        out.append((f"stereo_{sr}", sr, np.stack([left, 0.5 * right], axis=1)))
    # Shorter than the filter (50 zero crossings each side: 100 input samples at 44.1 kHz).
    out.append(("short_44100", 44100, signal(rng, 61, 44100)))
    out.append(("short_48000", 48000, signal(rng, 37, 48000)))
    out.append(("short_8000", 8000, signal(rng, 5, 8000)))
    out.append(("silence_48000", 48000, np.zeros(4801, dtype=np.float32)))
    # Full-scale square wave, 1 kHz, stereo with the channels in opposite phase on the right.
    n = 6615
    sq = np.where(np.sin(2 * np.pi * 1000.0 * (np.arange(n) + 0.5) / 44100) >= 0, 1.0, -1.0)
    out.append(("square_44100", 44100, sq.astype(np.float32)))
    out.append(("square_stereo_48000", 48000, np.stack([sq, -sq], axis=1).astype(np.float32)))
    return out


def main():
    for d in ("in", "out", "fast"):
        os.makedirs(os.path.join(OUT, d), exist_ok=True)
    for name, sr, y in cases():
        path = os.path.join(OUT, "in", name + ".wav")
        sf.write(path, y, sr, subtype="FLOAT")
        got, _ = librosa.load(path)  # sr=22050, mono, kaiser_best
        np.save(os.path.join(OUT, "out", name + ".npy"), got.astype("<f4"))
        if y.ndim == 1 and not name.startswith("short"):
            fast = librosa.resample(y, sr, 22050, res_type="kaiser_fast")
            np.save(os.path.join(OUT, "fast", name + ".npy"), fast.astype("<f4"))

    rows = ["filter,entries,fnv1a64,index,value_bits"]
    for filt in ("kaiser_best", "kaiser_fast"):
        win, precision, rolloff = resampy.filters.get_filter(filt)
        win = np.asarray(win, dtype="<f8")
        h = fnv1a64(win.tobytes())
        bits = win.view("<u8")
        idx = list(range(0, len(win), 1009)) + [len(win) - 1]
        for i in idx:
            rows.append(f"{filt},{len(win)},{h:016x},{i},{int(bits[i]):016x}")
    with open(os.path.join(OUT, "table.csv"), "w") as f:
        f.write("\n".join(rows) + "\n")

    with open(os.path.join(OUT, "VERSIONS.txt"), "w") as f:
        f.write(
            f"librosa {librosa.__version__}\nresampy {resampy.__version__}\nnumba {numba.__version__}\n"
            f"numpy {np.__version__}\nscipy {scipy.__version__}\nsoundfile {sf.__version__} "
            f"(libsndfile {sf.__libsndfile_version__})\npython {sys.version.split()[0]}\n"
            "made by scripts/make_resample_fixtures.py\n"
        )


if __name__ == "__main__":
    main()
