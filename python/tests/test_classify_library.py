"""tuneprint.classify and tuneprint.Library against the CLI on the same files and database."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

import tuneprint
from conftest import CLIPS, cli, cli_json


def test_classify_equals_the_cli_json(clips: Path) -> None:
    want = cli_json("classify", clips)
    df = tuneprint.classify(clips, jobs=2)
    assert df["file"].tolist() == [p["file"] for p in want]
    assert df["genre"].tolist() == [p["genre"] for p in want]
    assert df["windows"].tolist() == [1] * 8
    genres = sorted(want[0]["probabilities"])
    assert len(genres) == 10
    for row, p in zip(df.to_dict("records"), want):
        assert [row[g] for g in genres] == [p["probabilities"][g] for g in genres]
    assert df.attrs["failed"] == []


def test_classify_lists_or_raises_failures(clips: Path) -> None:
    (clips / "bad.flac").write_bytes(b"fLaC" + b"\x00" * 40)
    df = tuneprint.classify(clips, errors="skip")
    assert len(df) == 8
    assert [Path(f["file"]).name for f in df.attrs["failed"]] == ["bad.flac"]
    with pytest.raises(tuneprint.TuneprintError, match=r"bad\.flac: "):
        tuneprint.classify(clips)
    with pytest.raises(tuneprint.TuneprintError, match="^no model at .*nomodel: run `tuneprint train -o"):
        tuneprint.classify(clips, model=clips / "nomodel")


def test_library_scan_and_queries_agree_with_the_cli(clips: Path, tmp_path: Path) -> None:
    db = tmp_path / "lib.db"
    lib = tuneprint.Library(db)
    (clips / "notes.txt").write_text("not audio")
    (clips / "broken.wav").write_bytes(b"RIFF")
    report = lib.scan(clips, jobs=2)
    assert (report["files"], report["analysed"], report["failed"]) == (9, 8, 1)
    # Scanned again: nothing is read (the CLI's guarantees: per-song commits, resumable).
    again = lib.scan(clips)
    assert (again["unchanged"], again["analysed"]) == (8, 0)

    songs = lib.songs()
    assert len(songs) == 9
    assert songs.loc[songs["path"].str.endswith("broken.wav"), "error"].notna().all()
    assert set(songs.dropna(subset=["predicted"])["predicted"]) <= set(cli_json("classify", CLIPS / "rock.00000.wav")[0]["probabilities"])

    # The stored features are those of tuneprint.features on the same files.
    stored = lib.features().sort_values("filename").reset_index(drop=True)
    fresh = tuneprint.features(sorted(clips.glob("*.0000*.wav")))
    assert stored["filename"].tolist() == fresh["filename"].tolist()
    assert np.array_equal(stored[tuneprint.FEATURE_COLUMNS].to_numpy(), fresh[tuneprint.FEATURE_COLUMNS].to_numpy())
    assert len(lib.features(windows=True)) == 8  # 30 s clips: one window each

    ids, matrix = lib.embeddings()
    assert ids.dtype == np.int64 and matrix.dtype == np.float32
    assert matrix.shape[0] == 8 == len(set(ids.tolist()))
    assert np.allclose(np.linalg.norm(matrix, axis=1), 1.0, atol=1e-5)

    similar = lib.similar("jazz.00000", k=3)
    want = cli_json("recommend", "--db", db, "jazz.00000", "-k", "3")["results"]
    assert similar["id"].tolist() == [r["id"] for r in want]
    assert similar["similarity"].tolist() == pytest.approx([r["similarity"] for r in want], abs=1e-7)
    # Cosine similarity of the stored embeddings, best first, never the song itself.
    jazz = int(songs.loc[songs["path"].str.endswith("jazz.00000.wav"), "id"].iloc[0])
    assert jazz not in similar["id"].tolist()
    row = {int(i): k for k, i in enumerate(ids)}
    cos = [float(matrix[row[jazz]] @ matrix[row[i]]) for i in similar["id"]]
    assert similar["similarity"].tolist() == pytest.approx(cos, abs=1e-5)
    assert cos == sorted(cos, reverse=True)
    assert similar.equals(lib.similar(jazz, k=3))

    playlist = lib.playlist("jazz.00000", n=5)
    want = cli_json("playlist", "--db", db, "jazz.00000", "-n", "5")
    assert playlist["id"].tolist() == [s["id"] for s in want]
    assert playlist["id"].iloc[0] == jazz and playlist["id"].is_unique

    with pytest.raises(tuneprint.TuneprintError, match="nosuchsong"):
        lib.similar("nosuchsong")


def test_library_errors_name_the_file(tmp_path: Path) -> None:
    foreign = tmp_path / "foreign.db"
    foreign.write_bytes(b"this is not an SQLite database, just text" * 100)
    with pytest.raises(tuneprint.TuneprintError, match=f"^{foreign}: "):
        tuneprint.Library(foreign)
