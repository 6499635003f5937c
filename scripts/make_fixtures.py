#!/usr/bin/env python3
"""Golden fixtures for tuneprint's tests, from the reference librosa 0.8.1 recipe.

Run with the reference stack (../shared/reference/setup_librosa.sh):
  .venv-librosa/bin/python scripts/make_fixtures.py [--shared ../shared] [--out tests/fixtures/librosa-0.8.1]

Writes, under OUT:
  synthetic/<name>.wav       float32 mono 22050 Hz inputs made here (chirp, clicks at 120 BPM, chord,
                             white noise, silence, DC, a clip shorter than one frame)
  synthetic/<name>/<array>.npy every intermediate of the reference recipe for that input (--dump)
  real/<stem>/<array>.npy    the small intermediates of one real GTZAN clip; the large ones
                             (stft_mag, harmonic, percussive) as slices, see SLICES below
  real/checksums.csv         for every shared clip (.wav and .au): sample count and a checksum of the
                             exact float32 bits of librosa.load's output (see bits_checksum)
  literals.json              single values the tests compare with: the mel bank's checksum,
                             chroma's tuning of each signal, tempos of short onset envelopes, one
                             correlation of the reference table (--literals-only remakes just it)
  VERSIONS.txt               the versions of librosa, numpy and scipy that made them
  tiny/<name>.npy, tiny/features.csv
                             signals far shorter than one frame (1, 2, 100 and 500 samples) and
                             their 57 features (--tiny-only remakes just these)
"""
import argparse, csv, importlib.util, json, os, sys
import numpy as np
import soundfile as sf
import librosa, scipy

SR = 22050
# Slices kept from the large arrays of the real clip: frames 400..464 of stft_mag, samples
# 300000..304096 of harmonic and percussive.
STFT_FRAMES = (400, 464)
WAVE_SAMPLES = (300000, 304096)


def synthetic():
    rng = np.random.default_rng(20261124)
    t3 = np.arange(3 * SR) / SR
    sig = {}
    # Linear chirp 100 Hz -> 8 kHz over 3 s.
    sig["chirp"] = 0.5 * np.sin(2 * np.pi * (100 * t3 + (8000 - 100) / (2 * 3) * t3 ** 2))
    # Click track at 120 BPM for 8 s: 10 ms decaying noise bursts every 0.5 s.
    t8 = np.arange(8 * SR)
    clicks = np.zeros(len(t8))
    burst = rng.standard_normal(int(0.01 * SR)) * np.exp(-np.arange(int(0.01 * SR)) / 40.0)
    for k in range(0, len(t8), SR // 2):
        clicks[k:k + len(burst)] += burst[: len(t8) - k]
    sig["clicks120"] = 0.8 * clicks / np.max(np.abs(clicks))
    # C major chord (C4, E4, G4) with slight detuning, 3 s.
    sig["chord"] = sum(0.2 * np.sin(2 * np.pi * f * t3) for f in (261.63, 329.63, 392.0))
    sig["noise"] = 0.1 * rng.standard_normal(3 * SR)
    sig["silence"] = np.zeros(3 * SR)
    sig["dc"] = np.full(2 * SR, 0.25)
    sig["short"] = 0.3 * np.sin(2 * np.pi * 440 * np.arange(1500) / SR)  # shorter than one frame
    return {k: v.astype(np.float32) for k, v in sig.items()}


def tiny():
    """Signals much shorter than n_fft/2: librosa still frames them (repeated reflect padding)."""
    out = {}
    for n in (1, 2, 100, 500):
        y = 0.3 * np.sin(2 * np.pi * 440 * np.arange(n) / SR) + 0.05
        out[f"tiny{n}"] = y.astype(np.float32)
    return out


def make_tiny(ref, out):
    import tempfile
    d = os.path.join(out, "tiny")
    os.makedirs(d, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, y in tiny().items():
            wav = os.path.join(tmp, name + ".wav")
            sf.write(wav, y, SR, subtype="FLOAT")
            row = ref.features(wav)
            y_loaded, _ = librosa.load(wav)
            np.save(os.path.join(d, name + ".npy"), y_loaded)
            rows.append(row)
    with open(os.path.join(d, "features.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=ref.COLUMNS)
        w.writeheader()
        w.writerows(rows)


def bits_checksum(y):
    """64-bit FNV-1a over the little-endian bytes of the float32 samples."""
    h = 0xCBF29CE484222325
    for b in np.asarray(y, dtype="<f4").tobytes():
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def literals(a):
    """The single values the golden tests compare with, into literals.json (read by the tests)."""
    out = {}
    # librosa.filters.mel(22050, 2048) (128 bands) as float32, C order.
    out["mel_filter_bank_fnv1a64"] = f"{bits_checksum(librosa.filters.mel(SR, 2048)):016x}"
    # The tuning chroma_stft estimates from the power spectrogram it is given, for the committed
    # synthetic signals and the real clip.
    signals = {}
    syn = os.path.join(a.out, "synthetic")
    for name in sorted(os.listdir(syn)):
        p = os.path.join(syn, name, "y.npy")
        if os.path.exists(p):
            signals[name] = np.load(p)
    signals[a.real], _ = librosa.load(os.path.join(a.shared, "data", "gtzan", "clips", a.real + ".wav"))
    out["chroma_tuning"] = {
        name: float(librosa.estimate_tuning(S=np.abs(librosa.stft(y)) ** 2, sr=SR, bins_per_octave=12))
        for name, y in signals.items()
    }
    # librosa.beat.tempo of short and sparse onset envelopes (float32, as tuneprint's).
    impulse = np.zeros(31, dtype=np.float32)
    impulse[10] = 2.0
    train = np.zeros(630, dtype=np.float32)
    train[::21] = 1.0
    envelopes = {"one": [1.0], "late": [0.0, 0.0, 0.0, 5.0], "two": [3.0, 1.0],
                 "impulse": impulse, "train": train}
    out["tempo_of_envelopes"] = {
        k: float(librosa.beat.tempo(onset_envelope=np.asarray(e, dtype=np.float32), sr=SR)[0])
        for k, e in envelopes.items()
    }
    # numpy's correlation of two columns of the reference table (the report's strongest pair).
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "..", "features", "features_30_sec.csv")) as f:
        rows = list(csv.DictReader(f))
    col = lambda c: np.array([float(r[c]) for r in rows])
    out["correlation_spectral_centroid_rolloff"] = float(
        np.corrcoef(col("spectral_centroid_mean"), col("rolloff_mean"))[0, 1])
    with open(os.path.join(a.out, "literals.json"), "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
        f.write("\n")


def main():
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--shared", default=os.path.join(here, "..", "..", "shared"))
    ap.add_argument("--out", default=os.path.join(here, "..", "tests", "fixtures", "librosa-0.8.1"))
    ap.add_argument("--real", default="blues.00000")
    ap.add_argument("--tiny-only", action="store_true", help="only (re)make tiny/")
    ap.add_argument("--literals-only", action="store_true", help="only (re)make literals.json")
    a = ap.parse_args()
    if a.literals_only:
        literals(a)
        return
    spec = importlib.util.spec_from_file_location(
        "librosa_features", os.path.join(a.shared, "reference", "librosa_features.py"))
    ref = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ref)
    make_tiny(ref, a.out)
    if a.tiny_only:
        return

    syn = os.path.join(a.out, "synthetic")
    os.makedirs(syn, exist_ok=True)
    rows = []
    for name, y in synthetic().items():
        wav = os.path.join(syn, name + ".wav")
        sf.write(wav, y, SR, subtype="FLOAT")
        rows.append(ref.features(wav, dump=syn))
    with open(os.path.join(syn, "features.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=ref.COLUMNS)
        w.writeheader()
        w.writerows(rows)

    clips = os.path.join(a.shared, "data", "gtzan", "clips")
    real = os.path.join(a.out, "real")
    tmp = os.path.join(a.out, "_tmp")
    ref.features(os.path.join(clips, a.real + ".wav"), dump=tmp)
    d = os.path.join(real, a.real)
    os.makedirs(d, exist_ok=True)
    for fn in os.listdir(os.path.join(tmp, a.real)):
        arr = np.load(os.path.join(tmp, a.real, fn))
        name = fn[:-4]
        if name == "y":
            continue  # the committed clip is the input; its checksum is in checksums.csv
        if name == "stft_mag":
            arr = arr[:, STFT_FRAMES[0]:STFT_FRAMES[1]]
            name = f"stft_mag_frames_{STFT_FRAMES[0]}_{STFT_FRAMES[1]}"
        elif name in ("harmonic", "percussive"):
            full = arr
            arr = arr[WAVE_SAMPLES[0]:WAVE_SAMPLES[1]]
            np.save(os.path.join(d, name + "_stats.npy"),
                    np.array([len(full), full.mean(), full.var()], dtype=np.float64))
            name = f"{name}_samples_{WAVE_SAMPLES[0]}_{WAVE_SAMPLES[1]}"
        np.save(os.path.join(d, name + ".npy"), arr)
    import shutil
    shutil.rmtree(tmp)

    with open(os.path.join(real, "checksums.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file", "samples", "fnv1a64_f32le"])
        for fn in sorted(os.listdir(clips)):
            y, _ = librosa.load(os.path.join(clips, fn))
            w.writerow([fn, len(y), f"{bits_checksum(y):016x}"])

    literals(a)
    with open(os.path.join(a.out, "VERSIONS.txt"), "w") as f:
        f.write(f"librosa {librosa.__version__}\nnumpy {np.__version__}\nscipy {scipy.__version__}\n"
                f"python {sys.version.split()[0]}\nmade by scripts/make_fixtures.py\n"
                "literals.json: scripts/make_fixtures.py --literals-only (librosa, numpy and python "
                "as above)\n")


if __name__ == "__main__":
    main()
