"""The bench's summary of repeated side-by-side runs: the figure the README quotes."""

from __future__ import annotations

from lab.bench.suite import repeat_summary
from lab.bench.trainer import Comparison


def _run(course: float, lab: float, lab_acc: float = 0.5) -> Comparison:
    return Comparison("C2", course, lab, {"val_accuracy": 0.5}, {"val_accuracy": lab_acc})


def test_repeated_runs_are_summed_up_by_their_median_ratio_and_range():
    line = repeat_summary("C2", [_run(13.0, 9.0), _run(15.6, 8.8), _run(14.0, 9.1)])
    assert line.startswith("C2 over 3 runs: median 1.54x faster (from 1.44x to 1.77x)")
    assert line.endswith("same results every time: True")


def test_one_run_that_disagrees_is_said():
    line = repeat_summary("C2", [_run(13.0, 9.0), _run(13.0, 9.0, lab_acc=0.7)])
    assert line.endswith("same results every time: False")


def test_the_snapshot_bench_prints_both_ways_side_by_side_and_the_films_size():
    from lab.bench.snapshots import snapshot_lines, snapshot_workload

    figures = {"default": {"plain_s": 2.0, "recorded_s": 2.1, "ratio": 1.05, "record_s": 0.1, "record_share": 0.052,
                           "snapshots": 16, "stored_mb": 1.55}}  # fmt: skip
    (line,) = snapshot_lines(figures)
    assert line == (
        "snapshots default: 10 epochs 2.00 s without recording, 2.10 s with -> x1.050 "
        "(0.10 s inside the recorder = 5.2% of training); 16 snapshots stored in 1.55 MB"
    )
    assert snapshot_workload("B7").conv and snapshot_workload("B7").epochs == 10
    assert snapshot_workload("B7").early_stopping == 0 and snapshot_workload("default").hidden == (128,)
