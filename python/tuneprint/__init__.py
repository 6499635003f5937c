"""tuneprint: librosa 0.8.1's exact ``load`` and the 57 GTZAN features, genre predictions and a
music library with "more like this", computed in Rust.

Every call runs its work with the GIL released, on a pool of ``jobs`` threads made for that call
(``jobs=None``: one per core), and Ctrl-C stops it with ``KeyboardInterrupt``. A file that cannot
be read never stops a batch: with ``errors="skip"`` the others are returned and the failures are
listed, each with its one-line reason, in ``df.attrs["failed"]``; with ``errors="raise"`` (the
default) the first failure is raised as :class:`TuneprintError` once the batch has run.

``tuneprint.dask.features`` runs :func:`features` on a Dask cluster.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import pandas as pd

from . import _tuneprint
from ._tuneprint import SAMPLE_RATE, TuneprintError

__version__: str = _tuneprint.VERSION

#: The 57 feature columns, in the order of ``features_30_sec.csv``.
FEATURE_COLUMNS: List[str] = list(_tuneprint.feature_columns())
#: Every column of a feature table: ``filename``, ``length``, the 57 features, ``label``.
COLUMNS: List[str] = ["filename", "length", *FEATURE_COLUMNS, "label"]

PathLike = Union[str, "os.PathLike[str]"]
Paths = Union[PathLike, Sequence[PathLike]]

__all__ = [
    "COLUMNS",
    "FEATURE_COLUMNS",
    "Library",
    "SAMPLE_RATE",
    "TuneprintError",
    "classify",
    "features",
    "features_from_bytes",
    "features_of",
    "load",
]


def _paths(paths: Paths) -> List[str]:
    if isinstance(paths, (str, os.PathLike)):
        return [os.fspath(paths)]
    out = [os.fspath(p) for p in paths]
    if not out:
        raise ValueError("no paths given")
    return out


def _jobs(jobs: Optional[int]) -> int:
    if jobs is None:
        return 0
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a whole number of at least 1, or None, not {jobs!r}")
    return jobs


def _errors(errors: str) -> str:
    if errors not in ("raise", "skip"):
        raise ValueError(f'errors must be "raise" or "skip", not {errors!r}')
    return errors


def _window(window: Optional[float]) -> Optional[float]:
    if window is None:
        return None
    w = float(window)
    if not math.isfinite(w) or w < 1.0:
        raise ValueError(f"window must be at least 1 second, not {window!r}")
    return w


def _failures(failed: Sequence[Tuple[str, str]]) -> List[Dict[str, str]]:
    return [{"file": os.fspath(path), "error": message} for path, message in failed]


def _finish(df: pd.DataFrame, failed: List[Dict[str, str]], errors: str) -> pd.DataFrame:
    if failed and errors == "raise":
        more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
        raise TuneprintError(failed[0]["error"] + more)
    df.attrs["failed"] = failed
    return df


def _table(columns: Tuple[List[str], np.ndarray, np.ndarray, List[str]]) -> pd.DataFrame:
    """A feature table (the CSV's columns and values) from the native module's columns."""
    names, lengths, matrix, labels = columns
    # Strings as pandas' own string type (also when empty, as in a Dask meta).
    data: Dict[str, Any] = {
        "filename": pd.Series(names, dtype=str),
        "length": lengths.astype(np.int64),
    }
    for i, column in enumerate(FEATURE_COLUMNS):
        data[column] = matrix[:, i]
    data["label"] = pd.Series(labels, dtype=str)
    return pd.DataFrame(data, columns=COLUMNS)


def load(
    path: PathLike,
    sr: Optional[int] = 22050,
    mono: bool = True,
    offset: float = 0.0,
    duration: Optional[float] = None,
) -> Tuple[np.ndarray, int]:
    """Decode an audio file as ``librosa.load`` (0.8.1) does with the same arguments.

    Returns ``(y, sr)``: ``float32`` samples, one-dimensional for mono, ``(channels, n)`` with
    ``mono=False`` on a file of several channels, and their rate. ``sr=None`` keeps the file's
    rate; any other rate is reached with resampy's ``kaiser_best`` filter, as librosa does.
    ``offset`` and ``duration`` are seconds of the file (``int(seconds * file_rate)`` frames).
    WAV, AIFF, AU and FLAC give librosa's samples bit for bit; MP3 and Ogg Vorbis are within the
    decoder bounds stated in the README. Raises :class:`TuneprintError` naming the file and the
    reason when it cannot be decoded.
    """
    if sr is not None:
        if isinstance(sr, bool) or int(sr) != sr or sr <= 0:
            raise ValueError(f"sr must be a positive whole number of Hz or None, not {sr!r}")
        sr = int(sr)
    if not (offset >= 0.0 and math.isfinite(offset)):
        raise ValueError(f"offset must be 0 or more seconds, not {offset!r}")
    if duration is not None and not (duration >= 0.0 and math.isfinite(duration)):
        raise ValueError(f"duration must be 0 or more seconds, or None, not {duration!r}")
    channels, rate = _tuneprint.load(
        os.fspath(path),
        sr,
        bool(mono),
        float(offset),
        None if duration is None else float(duration),
    )
    y = channels[0] if len(channels) == 1 else np.stack(channels)
    return y, rate


def features(
    paths: Paths,
    *,
    jobs: Optional[int] = None,
    window: Optional[float] = None,
    errors: str = "raise",
) -> pd.DataFrame:
    """The feature table of audio files: the rows ``tuneprint extract`` writes.

    ``paths`` is a file, a folder (walked for audio files) or a list of them. The columns are
    ``filename, length``, the 57 features and ``label``, with the CLI's values, so
    ``df.to_csv(path, index=False)`` writes a table that ``tuneprint check`` accepts. A file
    name shared by several files becomes the path relative to the folder it was found in.
    ``window=30`` gives one row per 30 s window (``<stem>.<k>.<ext>``) as ``extract --window``
    does. ``errors="skip"`` returns the files that worked and lists the others in
    ``df.attrs["failed"]`` (dicts of ``file`` and ``error``).
    """
    errors = _errors(errors)
    files, names, walk_errors = _tuneprint.collect(_paths(paths))
    columns, failed = _tuneprint.extract_files(files, names, _jobs(jobs), _window(window))
    return _finish(_table(columns), _failures([*walk_errors, *failed]), errors)


def features_of(y: np.ndarray, sr: int = 22050) -> pd.Series:
    """The features of samples already in memory, as the CLI computes them for a file with
    these samples: a ``float64`` Series of ``length`` and the 57 features.

    ``y`` is one-dimensional and converted to ``float32`` (what ``load`` returns); samples at
    another rate than 22 050 Hz are first resampled to it as ``load`` would.
    """
    samples = np.ascontiguousarray(y, dtype=np.float32)
    if samples.ndim != 1:
        raise ValueError(f"y must be one-dimensional (mono samples), not of shape {samples.shape}")
    if isinstance(sr, bool) or int(sr) != sr or sr <= 0:
        raise ValueError(f"sr must be a positive whole number of Hz, not {sr!r}")
    length, values = _tuneprint.features_of(samples, int(sr))
    return pd.Series([float(length), *values], index=["length", *FEATURE_COLUMNS], dtype=np.float64)


def features_from_bytes(name: str, data: bytes) -> pd.Series:
    """The table row of a file's contents (``name`` is the file name the row carries and the
    label is read from, as for a file): a Series indexed by :data:`COLUMNS`.

    For engines that hand over file contents rather than paths. Raises
    :class:`TuneprintError` when the contents cannot be decoded.
    """
    filename, length, values, label = _tuneprint.features_from_bytes(str(name), bytes(data))
    return pd.Series([filename, int(length), *values, label], index=COLUMNS, dtype=object)


def classify(
    paths: Paths,
    *,
    model: Optional[PathLike] = None,
    jobs: Optional[int] = None,
    errors: str = "raise",
) -> pd.DataFrame:
    """The genre of each audio file, as ``tuneprint classify --json`` gives it.

    One row per file: ``file``, ``genre`` (the most probable), ``windows`` (30 s windows whose
    probabilities were averaged) and one column per genre with its probability. ``model`` is a
    folder written by ``tuneprint train`` (default: the one it saved, else the built-in model).
    ``errors`` as in :func:`features`.
    """
    errors = _errors(errors)
    files, _, walk_errors = _tuneprint.collect(_paths(paths))
    text, failed = _tuneprint.classify(
        files, _jobs(jobs), None if model is None else os.fspath(model)
    )
    rows = []
    for p in json.loads(text):
        row: Dict[str, Any] = {"file": p["file"], "genre": p["genre"], "windows": p["windows"]}
        row.update(p["probabilities"])
        rows.append(row)
    df = pd.DataFrame(rows)
    if df.empty:
        df = pd.DataFrame(columns=["file", "genre", "windows"])
    return _finish(df, _failures([*walk_errors, *failed]), errors)


_SONG_COLUMNS = [
    "id",
    "path",
    "title",
    "artist",
    "album",
    "genre",
    "year",
    "duration",
    "predicted",
    "error",
]


def _songs(items: List[Dict[str, Any]], extra: Sequence[str] = ()) -> pd.DataFrame:
    columns = [*_SONG_COLUMNS, *extra]
    return pd.DataFrame([{c: s.get(c) for c in columns} for s in items], columns=columns)


class Library:
    """A tuneprint library database (as ``tuneprint library scan --db PATH`` makes it).

    Opening creates an empty library when the file does not exist. ``song`` arguments are a
    song id or a path, file name or stem of a song of the library.
    """

    def __init__(self, path: PathLike) -> None:
        self._lib = _tuneprint.Library(os.fspath(path))

    @property
    def path(self) -> str:
        """The database file."""
        return str(self._lib.path)

    def __repr__(self) -> str:
        return f"tuneprint.Library({self.path!r})"

    def scan(
        self,
        folders: Paths,
        jobs: Optional[int] = None,
        model: Optional[PathLike] = None,
    ) -> Dict[str, Any]:
        """Analyse new and changed files of ``folders`` into the library, as
        ``tuneprint library scan`` does: each song is committed when it is done (a scan that is
        stopped keeps them and the next one goes on from there), unchanged files are not read
        again, and files that fail are recorded with their reason. Returns the scan's report
        (the dict of ``library scan --json``).
        """
        text = self._lib.scan(
            _paths(folders), _jobs(jobs), None if model is None else os.fspath(model)
        )
        report: Dict[str, Any] = json.loads(text)
        return report

    def songs(self) -> pd.DataFrame:
        """Every file of the library (failed ones with their ``error``), one row each."""
        return _songs(json.loads(self._lib.songs()))

    def features(self, windows: bool = False) -> pd.DataFrame:
        """The stored feature table: one row per song, or per 30 s window with
        ``windows=True``; the columns of :func:`features`."""
        return _table(self._lib.features(bool(windows)))

    def embeddings(self) -> Tuple[np.ndarray, np.ndarray]:
        """Song ids (``int64``) and their embeddings, one unit-length ``float32`` row each."""
        ids, matrix = self._lib.embeddings()
        return ids, matrix

    def similar(self, song: Union[int, str], k: int = 10) -> pd.DataFrame:
        """The ``k`` songs most like ``song`` (cosine similarity of embeddings), best first,
        with their ``similarity``; copies of one recording count once (``copies`` lists the
        other files)."""
        hits = json.loads(self._lib.similar(song, int(k)))
        for h in hits:
            h.setdefault("copies", [])
        return _songs(hits, extra=("similarity", "copies"))

    def playlist(self, song: Union[int, str], n: int = 20) -> pd.DataFrame:
        """A playlist of ``n`` songs from ``song``: each next song the nearest unused one to
        the song before."""
        return _songs(json.loads(self._lib.playlist(song, int(n))))
