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
