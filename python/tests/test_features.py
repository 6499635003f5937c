"""tuneprint.features, features_of and features_from_bytes against the CLI's own CSV, the
reference table (`tuneprint check`), failures, the GIL and Ctrl-C."""

from __future__ import annotations

import _thread
import csv
import importlib.metadata
import os
import shutil
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import tuneprint
from conftest import CLIPS, ROOT, cli, cli_json


def read_cli_csv(path: Path) -> pd.DataFrame:
    """The CLI's CSV, its shortest round-trip digits read back exactly (Python's float())."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    data = {c: [r[k] for r in body] for k, c in enumerate(header)}
    for c in tuneprint.FEATURE_COLUMNS:
        data[c] = [float(v) for v in data[c]]
    data["length"] = [int(v) for v in data["length"]]
    return pd.DataFrame(data, columns=header)


def assert_same_table(got: pd.DataFrame, want: pd.DataFrame) -> None:
    assert list(got.columns) == tuneprint.COLUMNS == list(want.columns)
    assert got["filename"].tolist() == want["filename"].tolist()
    assert got["label"].tolist() == want["label"].tolist()
    assert got["length"].dtype == np.int64
    assert got["length"].tolist() == want["length"].tolist()
    a = got[tuneprint.FEATURE_COLUMNS].to_numpy(np.float64)
    b = want[tuneprint.FEATURE_COLUMNS].to_numpy(np.float64)
    assert np.array_equal(a.view(np.uint64), b.view(np.uint64))


def test_features_equal_the_cli_csv_bit_for_bit(tmp_path: Path) -> None:
    out = tmp_path / "cli.csv"
    cli("extract", CLIPS, "-o", out, "--jobs", "2")
    df = tuneprint.features(CLIPS, jobs=2)
    assert len(df) == 9 and df.attrs["failed"] == []
    assert df["filename"].tolist()[:2] == ["blues.00000.au", "blues.00000.wav"]
    assert_same_table(df, read_cli_csv(out))
    # jobs=1 and a list of paths give the same rows.
    one = tuneprint.features([str(p) for p in sorted(CLIPS.iterdir())], jobs=1)
    assert_same_table(one, df)


def test_to_csv_passes_check_against_the_reference_table(tmp_path: Path) -> None:
    out = tmp_path / "py.csv"
    tuneprint.features(CLIPS).to_csv(out, index=False)
    report = cli_json("check", out)
    assert report["rows_matched"] == 9
    assert (report["passed"], report["total"]) == (58, 58), report


def test_windows_equal_extract_window(tmp_path: Path) -> None:
    out = tmp_path / "w.csv"
    cli("extract", CLIPS / "rock.00000.wav", CLIPS / "jazz.00000.wav", "--window", "10", "-o", out)
    df = tuneprint.features([CLIPS / "rock.00000.wav", CLIPS / "jazz.00000.wav"], window=10)
    assert df["filename"].tolist() == [
        "jazz.00000.0.wav", "jazz.00000.1.wav", "jazz.00000.2.wav",
        "rock.00000.0.wav", "rock.00000.1.wav", "rock.00000.2.wav",
    ]
    assert_same_table(df, read_cli_csv(out))
    with pytest.raises(ValueError, match="window must be at least 1 second"):
        tuneprint.features(CLIPS, window=0.5)


def test_a_bad_file_among_good_ones_is_skipped_or_raised(clips: Path) -> None:
    (clips / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    (clips / "empty.mp3").write_bytes(b"")
    good = tuneprint.features(clips, errors="skip")
    assert len(good) == 8
    assert "broken.wav" not in good["filename"].tolist()
    failed = good.attrs["failed"]
    assert [Path(f["file"]).name for f in failed] == ["broken.wav", "empty.mp3"]
    assert failed[1]["error"] == f"{clips / 'empty.mp3'}: no audio: the file is empty"
    assert failed[0]["error"].startswith(f"{clips / 'broken.wav'}: ")
    with pytest.raises(tuneprint.TuneprintError, match=r"broken\.wav: .*\(and 1 more\)$"):
        tuneprint.features(clips)
    with pytest.raises(ValueError, match='errors must be "raise" or "skip"'):
        tuneprint.features(clips, errors="ignore")
    missing = tuneprint.features(clips / "nope", errors="skip")
    assert len(missing) == 0 and list(missing.columns) == tuneprint.COLUMNS
    assert missing.attrs["failed"] == [
        {"file": str(clips / "nope"), "error": f"{clips / 'nope'}: cannot open: no such file"}
    ]


def test_features_of_samples_equal_the_files_row() -> None:
    row = tuneprint.features(CLIPS / "pop.00000.wav").iloc[0]
    y, sr = tuneprint.load(CLIPS / "pop.00000.wav")
    s = tuneprint.features_of(y, sr)
    assert list(s.index) == ["length", *tuneprint.FEATURE_COLUMNS]
    assert s["length"] == row["length"] == len(y)
    assert np.array_equal(s[tuneprint.FEATURE_COLUMNS].to_numpy(np.float64),
                          row[tuneprint.FEATURE_COLUMNS].to_numpy(np.float64))
    # At the file's own rate: resampled as load resamples.
    music = ROOT / "tests/fixtures/music/rock_jazz.44k.wav"
    y44, sr44 = tuneprint.load(music, sr=None)
    s44 = tuneprint.features_of(y44, sr44)
    file_row = tuneprint.features(music).iloc[0]
    assert np.array_equal(s44[tuneprint.FEATURE_COLUMNS].to_numpy(np.float64),
                          file_row[tuneprint.FEATURE_COLUMNS].to_numpy(np.float64))
    with pytest.raises(ValueError, match="one-dimensional"):
        tuneprint.features_of(np.zeros((2, 100), dtype=np.float32))


def test_features_from_bytes_equal_the_files_row() -> None:
    path = CLIPS / "metal.00000.wav"
    row = tuneprint.features(path).iloc[0]
    s = tuneprint.features_from_bytes("metal.00000.wav", path.read_bytes())
    assert list(s.index) == tuneprint.COLUMNS
    assert s["filename"] == "metal.00000.wav" and s["label"] == "metal"
    assert s["length"] == row["length"]
    assert [float(v) for v in s[tuneprint.FEATURE_COLUMNS]] == row[tuneprint.FEATURE_COLUMNS].tolist()
    with pytest.raises(tuneprint.TuneprintError, match="^x.ogg: unsupported or unrecognised format"):
        tuneprint.features_from_bytes("x.ogg", b"\x00" * 64)


def test_the_gil_is_released_while_features_work(clips: Path) -> None:
    for k in range(3):
        for f in list(clips.glob("*.0000*.wav"))[:8]:
            shutil.copy(f, clips / f"copy{k}.{f.name}")
    ticks = 0
    stop = threading.Event()

    def count() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1

    t = threading.Thread(target=count)
    t.start()
    try:
        before = ticks
        df = tuneprint.features(clips, jobs=1)
        during = ticks - before
    finally:
        stop.set()
        t.join()
    assert len(df) == 32
    # The Python thread kept running the whole time (a held GIL would leave it a few ticks per
    # 100 ms wait at most).
    assert during > 100_000


def test_ctrl_c_interrupts_a_batch_with_keyboard_interrupt(clips: Path) -> None:
    for k in range(6):
        for f in list(clips.glob("*.wav"))[:8]:
            shutil.copy(f, clips / f"copy{k}.{f.name}")
    # 56 files on one thread take seconds; Ctrl-C comes after 0.3 s.
    timer = threading.Timer(0.3, _thread.interrupt_main)
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        tuneprint.features(clips, jobs=1)
    timer.join()
    # The package is still usable afterwards.
    assert len(tuneprint.features(CLIPS / "rock.00000.wav")) == 1


def test_the_wheel_is_abi3() -> None:
    # The file setup.sh built and installed (scripts/test.sh names it), and its metadata.
    built = os.environ.get("TUNEPRINT_WHEEL")
    if built:
        name = Path(built).name
        assert name.startswith("tuneprint-0.1.0-cp39-abi3-") and name.endswith(".whl"), name
    wheel = importlib.metadata.distribution("tuneprint").read_text("WHEEL") or ""
    tags = [line.split(": ", 1)[1] for line in wheel.splitlines() if line.startswith("Tag: ")]
    assert tags and all("-abi3-" in t for t in tags), tags
    assert tuneprint.__version__ == importlib.metadata.version("tuneprint")


def test_jobs_must_be_positive() -> None:
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="jobs must be"):
            tuneprint.features(CLIPS, jobs=bad)
