#!/usr/bin/env python3
"""The Python package's rows of scripts/bench.sh (run with the project's .venv).

  bench_python.py features RUNS DIR...   best wall seconds of tuneprint.features(DIRS, jobs=2),
                                         timed in this process (imports and start-up left out)
  bench_python.py dask RUNS DIR...       tuneprint.dask.features over DIRS on a LocalCluster of 2
                                         worker processes of 1 thread (partitions of 8 files)
                                         against tuneprint.features(jobs=2) on the same files,
                                         best of RUNS each (the cluster's start not counted); the
                                         two tables must be equal bit for bit
"""
import sys
import time

import numpy as np

import tuneprint


def best(runs, f):
    times, out = [], None
    for _ in range(runs):
        t = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t)
    return min(times), out


def main():
    what, runs, paths = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    if what == "features":
        t, df = best(runs, lambda: tuneprint.features(paths, jobs=2))
        print(f"{t:.3f} {len(df)}")
    else:
        dask(runs, paths)


def dask(runs, paths):
    import distributed
    import tuneprint.dask

    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster, distributed.Client(cluster):
        # One computation first: the workers import tuneprint once.
        tuneprint.dask.features(paths[:1], partition_size=8).compute()
        t_dask, d = best(runs, lambda: tuneprint.dask.features(paths, partition_size=8).compute())
    t_one, p = best(runs, lambda: tuneprint.features(paths, jobs=2))
    cols = tuneprint.FEATURE_COLUMNS
    same = d["filename"].tolist() == p["filename"].tolist() and np.array_equal(
        d[cols].to_numpy().view(np.uint64), p[cols].to_numpy().view(np.uint64)
    )
    print(f"\n{'Dask (' + str(len(p)) + ' clips)':<30} {'wall s':>10} {'vs features':>12}")
    print(f"{'tuneprint.features(jobs=2)':<30} {t_one:>10.3f} {'1.00x':>12}")
    print(f"{'dask LocalCluster 2x1':<30} {t_dask:>10.3f} {t_dask / t_one:>11.2f}x  same values: {same}")
    if not same:
        sys.exit("bench: the Dask table differs from tuneprint.features")


if __name__ == "__main__":
    main()
