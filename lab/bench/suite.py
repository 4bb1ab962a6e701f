"""``python -m lab bench``: every benchmark of the lab, one after another, printed as it goes."""

from __future__ import annotations

import statistics
import sys

from lab.bench.augmentation import bench_augmentation
from lab.bench.health import bench_health_overhead
from lab.bench.live import bench_live
from lab.bench.predict import bench_predict
from lab.bench.series import bench_series, bench_series_on_ray
from lab.bench.snapshots import WORKLOADS as SNAPSHOT_WORKLOADS
from lab.bench.snapshots import bench_snapshots, snapshot_lines
from lab.bench.store_index import RUNS, bench_index
from lab.bench.trainer import Comparison, compare
from lab.bench.workloads import WORKLOADS

# What ``--only`` may name: a trainer workload, or the run index's benchmark alone.
ONLY = (*WORKLOADS, "index")


def run_all(epochs: int = 5, repeats: int = 1, only: str | None = None, index_runs: int = RUNS) -> list[Comparison]:
    """Print the trainer comparisons, then (for all workloads) the other features' benchmarks.

    ``bench_series`` and ``bench_series_on_ray`` train series B's quick plan from an empty
    store as the Techniques page does, in-process and on one Ray worker per core: the wait a
    class has before the series' lesson shows. The last, ``bench_index``, times the run index
    on a store of 100,000 runs against one of ten.

    Parameters
    ----------
    epochs : int
        Epochs per trainer comparison.
    repeats : int
        Comparisons per workload.
    only : str, optional
        One workload of ``WORKLOADS`` (``A1`` or ``C2``) and nothing else, or ``index``: the run
        index's benchmark alone (``lab.bench.store_index``).
    index_runs : int
        Runs in the index benchmark's big store.
    """
    if only == "index":
        print(f"{bench_index.__module__}.{bench_index.__name__}: {bench_index(index_runs)}", flush=True)
        return []
    results = []
    for name in [only] if only else list(WORKLOADS):
        for _ in range(repeats):
            c = compare(name, epochs)
            results.append(c)
            print(
                f"{name}: course model.fit {c.course_seconds:.2f} s, lab trainer {c.lab_seconds:.2f} s "
                f"for {epochs} epochs -> {c.speedup:.2f}x faster; same results: {c.same_results} "
                f"(val_accuracy {c.course_final.get('val_accuracy', float('nan')):.4f} vs "
                f"{c.lab_final.get('val_accuracy', float('nan')):.4f})",
                flush=True,
            )
        if repeats > 1:
            print(repeat_summary(name, results[-repeats:]), flush=True)
    if only is None:
        for name in SNAPSHOT_WORKLOADS:
            for line in snapshot_lines(bench_snapshots(only=name)):
                print(line, flush=True)
        benches = (bench_predict, bench_augmentation, bench_health_overhead, bench_live)
        for bench in (*benches, bench_series, bench_series_on_ray):
            print(f"{bench.__module__}.{bench.__name__}: {bench()}", flush=True)
        print(f"{bench_index.__module__}.{bench_index.__name__}: {bench_index(index_runs)}", flush=True)
    return results


def repeat_summary(name: str, comparisons: list[Comparison]) -> str:
    """One line for a workload timed several times: the median ratio and the range.

    A virtual machine's speed drifts from one minute to the next; the median of a few
    side-by-side runs is the figure to quote, the range says how far to trust it.
    """
    ratios = sorted(c.speedup for c in comparisons)
    return (
        f"{name} over {len(ratios)} runs: median {statistics.median(ratios):.2f}x faster "
        f"(from {ratios[0]:.2f}x to {ratios[-1]:.2f}x); same results every time: "
        f"{all(c.same_results for c in comparisons)}"
    )


if __name__ == "__main__":  # pragma: no cover
    run_all(*(int(a) for a in sys.argv[1:2]))
