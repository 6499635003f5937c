"""tuneprint on Dask: the feature table of many files as a ``dask.dataframe.DataFrame``.

Needs the ``dask`` extra (``pip install "tuneprint[dask]"``). The files are listed and named on
the client, exactly as :func:`tuneprint.features` lists and names them, then cut into
partitions of ``partition_size`` files; each partition is one task that runs the Rust
extractor on ``jobs`` threads (default 1: one per Dask worker thread, so a worker never runs
more threads than it was given). The paths must be readable by every worker (a shared file
system, or the same mount on every node).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, List, Optional, Sequence, Tuple

import numpy as np
import pandas as pd

from . import FEATURE_COLUMNS, Paths, TuneprintError, _errors, _failures, _finish, _jobs
from . import _paths, _table, _tuneprint, _window

if TYPE_CHECKING:
    import dask.dataframe

__all__ = ["features"]


def _meta() -> pd.DataFrame:
    """An empty feature table with the dtypes of a real one."""
    columns: Tuple[List[str], np.ndarray, np.ndarray, List[str]] = (
        [],
        np.zeros(0, dtype=np.uint64),
        np.zeros((0, len(FEATURE_COLUMNS)), dtype=np.float64),
        [],
    )
    return _table(columns)


def _partition(
    part: Tuple[int, List[str], List[str]],
    window: Optional[float],
    errors: str,
    jobs: int,
) -> pd.DataFrame:
    """The rows of one partition's files; without windows, each row is indexed by its file's
    position among all the files, as in :func:`tuneprint.features`."""
    start, files, names = part
    columns, failed = _tuneprint.extract_files(files, names, jobs, window)
    df = _finish(_table(columns), _failures(failed), errors)
    if window is None and not failed:
        df.index = pd.RangeIndex(start, start + len(df))
    return df


def features(
    paths: Paths,
    *,
    partition_size: int = 64,
    window: Optional[float] = None,
    errors: str = "raise",
    jobs: Optional[int] = 1,
) -> "dask.dataframe.DataFrame":
    """:func:`tuneprint.features` as a lazy Dask DataFrame of ``partition_size`` files per
    partition (built with ``dask.dataframe.from_map``); ``.compute()`` gives the same table,
    ``.to_parquet(...)`` writes it. ``errors="raise"`` makes the computation fail on the first
    file that cannot be read; ``errors="skip"`` leaves such files out.
    """
    import dask.dataframe as dd

    if isinstance(partition_size, bool) or not isinstance(partition_size, int) or partition_size < 1:
        raise ValueError(f"partition_size must be a whole number of at least 1, not {partition_size!r}")
    errors = _errors(errors)
    window = _window(window)
    threads = _jobs(jobs)
    files, names, walk_errors = _tuneprint.collect(_paths(paths))
    if walk_errors and errors == "raise":
        raise TuneprintError(_failures(walk_errors)[0]["error"])
    files = [str(f) for f in files]
    parts: Sequence[Tuple[int, List[str], List[str]]] = [
        (i, files[i : i + partition_size], names[i : i + partition_size])
        for i in range(0, len(files), partition_size)
    ]
    meta = _meta()
    if not parts:
        empty: "dask.dataframe.DataFrame" = dd.from_pandas(meta, npartitions=1)  # type: ignore[no-untyped-call]
        return empty
    kwargs: Any = {"window": window, "errors": errors, "jobs": threads}
    ddf: "dask.dataframe.DataFrame" = dd.from_map(  # type: ignore[no-untyped-call]
        _partition, parts, meta=meta, label="tuneprint-features", **kwargs
    )
    return ddf

