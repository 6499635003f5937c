"""tuneprint.load against librosa 0.8.1's own arrays (fixtures/load, made by
scripts/make_python_fixtures.py with the reference stack)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import tuneprint
from conftest import FIXTURES, ROOT

CASES = json.loads((FIXTURES / "load" / "cases.json").read_text())
# MP3: libsndfile decodes with mpg123, tuneprint with symphonia carrying the changes of
# patches/symphonia-bundle-mp3; the README's bound is 2e-6 per sample (measured here: 5.4e-7
# after resampling to 22 050 Hz).
MP3_BOUND = 2e-6


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_load_equals_librosa_0_8_1(case: dict) -> None:
    want = np.load(FIXTURES / "load" / f"{case['name']}.npy")
    y, sr = tuneprint.load(ROOT / case["file"], **case["kwargs"])
    assert sr == case["sr"]
    assert y.dtype == np.float32
    assert y.shape == want.shape
    if case["file"].endswith(".mp3"):
        assert np.max(np.abs(y - want)) <= MP3_BOUND
        assert not np.array_equal(y, np.zeros_like(y))
    else:
        # Bit for bit, signed zeros included.
        assert np.array_equal(y.view(np.uint32), want.view(np.uint32))


def test_mono_is_the_mean_of_the_channels_and_native_rate_is_kept() -> None:
    path = ROOT / "tests/fixtures/music/rock_jazz.44k.wav"
    both, sr = tuneprint.load(path, sr=None, mono=False)
    mono, sr_mono = tuneprint.load(path, sr=None)
    assert (sr, sr_mono) == (44100, 44100)
    assert both.shape == (2, 132300) and mono.shape == (132300,)
    # numpy.mean over the channels in float32: (0 + l + r) / 2.
    assert np.array_equal(mono, ((np.float32(0) + both[0]) + both[1]) / np.float32(2))


def test_default_is_22050_hz_mono_of_the_whole_file() -> None:
    y, sr = tuneprint.load(ROOT / "audio/blues.00000.wav")
    assert sr == 22050 and y.shape == (661794,)
    # The AU original holds the same samples.
    y_au, _ = tuneprint.load(str(ROOT / "audio/blues.00000.au"))
    assert np.array_equal(y, y_au)


def test_offset_and_duration_cut_whole_frames_of_the_file() -> None:
    whole, _ = tuneprint.load(ROOT / "audio/blues.00000.wav", sr=None)
    part, _ = tuneprint.load(ROOT / "audio/blues.00000.wav", sr=None, offset=0.5, duration=0.25)
    # int(0.5 * 22050) = 11025, int(0.25 * 22050) = 5512 frames.
    assert np.array_equal(part, whole[11025 : 11025 + 5512])
    tail, _ = tuneprint.load(ROOT / "audio/blues.00000.wav", sr=None, offset=29.0, duration=10.0)
    assert np.array_equal(tail, whole[29 * 22050 :])


def test_errors_name_the_file_and_the_reason(tmp_path) -> None:
    missing = tmp_path / "missing.wav"
    with pytest.raises(tuneprint.TuneprintError, match=f"^{missing}: cannot open: no such file$"):
        tuneprint.load(missing)
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"not audio at all" * 10)
    with pytest.raises(tuneprint.TuneprintError, match="junk.wav: unsupported or unrecognised format"):
        tuneprint.load(junk)
    with pytest.raises(tuneprint.TuneprintError, match=r"the offset 40 s is past the end \(30.0"):
        tuneprint.load(ROOT / "audio/blues.00000.wav", offset=40.0)
    with pytest.raises(ValueError, match="sr must be"):
        tuneprint.load(ROOT / "audio/blues.00000.wav", sr=0)
    with pytest.raises(ValueError, match="offset must be"):
        tuneprint.load(ROOT / "audio/blues.00000.wav", offset=-1.0)
    with pytest.raises(ValueError, match="duration must be"):
        tuneprint.load(ROOT / "audio/blues.00000.wav", duration=float("nan"))
