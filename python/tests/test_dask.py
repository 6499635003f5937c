"""tuneprint.dask on a real dask.distributed LocalCluster of two worker processes."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd
import pytest

import tuneprint
import tuneprint.dask
from conftest import CLIPS

import distributed


@pytest.fixture(scope="module")
def client() -> Iterator["distributed.Client"]:
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster, distributed.Client(cluster) as c:
        yield c


def test_dask_equals_features_bit_for_bit(client, clips: Path, tmp_path: Path) -> None:
    sub = clips / "more"
    sub.mkdir()
    for f in sorted(clips.glob("*.wav"))[:4]:
        shutil.copy(f, sub / f.name)  # the same file names: named by relative path
    ddf = tuneprint.dask.features(clips, partition_size=3)
    assert ddf.npartitions == 4
    assert list(ddf.columns) == tuneprint.COLUMNS
    got = ddf.compute()
    want = tuneprint.features(clips, jobs=2)
    assert len(got) == 12
    assert got.index.tolist() == list(range(12))
    assert got["filename"].tolist() == want["filename"].tolist()
    assert "more/blues.00000.wav" in got["filename"].tolist()
    assert got["label"].tolist() == want["label"].tolist()
    assert got["length"].tolist() == want["length"].tolist()
    a = got[tuneprint.FEATURE_COLUMNS].to_numpy(np.float64)
    b = want[tuneprint.FEATURE_COLUMNS].to_numpy(np.float64)
    assert np.array_equal(a.view(np.uint64), b.view(np.uint64))
    # Both worker processes took part.
    assert len(client.scheduler_info()["workers"]) == 2

    out = tmp_path / "features.parquet"
    ddf.to_parquet(out)
    back = pd.read_parquet(out).sort_index()
    assert np.array_equal(back[tuneprint.FEATURE_COLUMNS].to_numpy(np.float64).view(np.uint64), b.view(np.uint64))
    assert back["filename"].tolist() == want["filename"].tolist()


def test_dask_failures_raise_or_are_skipped(client, clips: Path) -> None:
    (clips / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVE")
    with pytest.raises(tuneprint.TuneprintError, match=r"broken\.wav: "):
        tuneprint.dask.features(clips, partition_size=4).compute()
    ok = tuneprint.dask.features(clips, partition_size=4, errors="skip").compute()
    assert len(ok) == 8 and "broken.wav" not in ok["filename"].tolist()
    with pytest.raises(ValueError, match="partition_size"):
        tuneprint.dask.features(clips, partition_size=0)
