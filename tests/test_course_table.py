"""The "ours beside the course's" table: rows from stored runs, checked on hand-made results."""

from __future__ import annotations

import numpy as np
import pytest

from lab.catalog.lessons import Numbers
from lab.catalog.presets import get_preset
from lab.data import prepare
from lab.nn.result import STOP_PRESSED, TIME_LIMIT, RunResult
from lab.reports.course_table import (
    NOT_RUN,
    NOT_TRAINED,
    CourseRow,
    best_single,
    best_stored_rows,
    lesson_numbers,
    shortfall_text,
    stored_rows,
    together_text,
)
from lab.runs.store import RunStore


def fake_result(
    spec, labels, right: int, epochs_run: int | None = None, seconds: float = 2.0, stop_reason: str = ""
) -> RunResult:
    """A run whose first ``right`` test answers are correct and the rest wrong."""
    predicted = np.where(np.arange(len(labels)) < right, labels, (labels + 1) % 10)
    probs = np.eye(10, dtype=np.float32)[predicted]
    return RunResult(
        spec=spec,
        history={"accuracy": [0.5, 0.9], "val_accuracy": [0.5, 0.8], "loss": [1.0, 0.5], "val_loss": [1.0, 0.6]},
        test_loss=0.5,
        test_accuracy=right / len(labels),
        confusion=np.zeros((10, 10), np.int64),
        test_probs=probs,
        epochs_run=epochs_run or spec.epochs,
        best_epoch=None,
        train_seconds=seconds,
        diverged=False,
        stopped=bool(stop_reason),
        stop_reason=stop_reason,
        params=123,
    )


def test_a_preset_without_runs_is_not_trained_and_shows_the_courses_figure():
    row = CourseRow(get_preset("B2", "sample"))
    assert row.status == NOT_TRAINED and row.accuracy_text == NOT_RUN
    assert row.accuracy is None and row.params is None and row.epochs_run is None
    assert row.course_figure == "93.73%"


def test_a_single_run_gives_its_accuracy_interval_and_a_capped_status():
    course = get_preset("D0", "sample")
    capped = course.capped(2)
    labels = prepare.test_images(capped.spec)[1]
    row = CourseRow(capped, (fake_result(capped.spec, labels, right=80, seconds=3.5),), course)
    assert row.accuracy == 0.8 and row.n_test == len(labels) == 100
    assert row.accuracy_text.startswith("80.0% (")
    assert row.status == "trained, capped at 2 epochs"
    assert row.epochs_planned == 2 and row.epochs_run == 2 and row.seconds == 3.5 and row.params == 123
    assert row.train_accuracy == 0.9  # the last epoch's: no best epoch was restored
    assert CourseRow(course, (fake_result(course.spec, labels, right=80),)).status == "trained"


def test_an_ensemble_counts_only_once_every_member_is_stored():
    preset = get_preset("A7", "sample")
    specs = preset.member_specs()
    labels = prepare.test_images(specs[0])[1]
    n = len(labels)
    first = fake_result(specs[0], labels, right=n)
    partial = CourseRow(preset, (first,))
    assert partial.accuracy is None and partial.accuracy_text == f"{NOT_RUN} · 1 of 3 members"
    assert partial.status == "1 of 3 members trained"
    members = (first, fake_result(specs[1], labels, right=n // 2), fake_result(specs[2], labels, right=n // 2))
    row = CourseRow(preset, members)
    assert row.member_accuracies == (1.0, 0.5, 0.5)
    # The soft vote: the perfect member's probability 1 against two half-right members that agree on the rest.
    assert row.accuracy == row.ensemble.soft_accuracy == 0.5
    assert row.accuracy_text.endswith("· members 100.0% / 50.0% / 50.0%")
    assert row.seconds == 6.0 and len(row.run_ids) == 3


def test_rows_from_a_store_find_exact_runs_or_a_capped_one(tmp_path):
    store = RunStore(tmp_path)
    b2 = get_preset("B2", "sample")
    labels = prepare.test_images(b2.spec)[1]
    store.save(fake_result(b2.capped(1).spec, labels, right=len(labels) // 2))
    (exact,) = stored_rows([b2], store)
    assert exact.status == NOT_TRAINED, "the course's length is not stored"
    (capped,) = stored_rows([b2.capped(1)], store, [b2])
    assert capped.status == "trained, capped at 1 epochs" and capped.accuracy == 0.5
    (best,) = best_stored_rows([b2], store)
    assert best.status == "trained, capped at 1 epochs" and best.accuracy == 0.5


def test_epochs_text_says_quick_early_stopping_or_stopped():
    course = get_preset("D0", "sample")
    labels = prepare.test_images(course.spec)[1]
    assert CourseRow(course.capped(5), (), course).epochs_text == "5 of 1000 (quick)"
    quick = CourseRow(course.capped(5), (fake_result(course.capped(5).spec, labels, 50),), course)
    assert quick.epochs_text == "5 of 1000 (quick: fewer than the course)"
    early = CourseRow(course, (fake_result(course.spec, labels, 50, epochs_run=17),))
    assert early.epochs_text == "17 of 1000 (early stopping)"
    assert CourseRow(course, (fake_result(course.spec, labels, 50),)).epochs_text == "1000"
    # A quick run stopped after its first epoch (a series cancelled) says it was stopped, not only quick.
    stopped = fake_result(course.capped(5).spec, labels, 50, epochs_run=1, stop_reason=STOP_PRESSED)
    assert CourseRow(course.capped(5), (stopped,), course).epochs_text == "1 of 1000 (stopped by you)"
    timed_out = fake_result(course.spec, labels, 50, epochs_run=40, stop_reason=TIME_LIMIT)
    assert CourseRow(course, (timed_out,)).epochs_text == "40 of 1000 (stopped: the server's time limit)"


def test_together_is_compared_with_the_best_single_technique():
    together = get_preset("D5", "sample")
    labels = prepare.test_images(together.spec)[1]
    row = CourseRow(together, (fake_result(together.spec, labels, right=90),))
    rival = together.together[0]
    assert best_single(together, {rival: 0.85}) == (rival, 0.85)
    assert together_text(row, {rival: 0.85}) == f"+5.0 points vs the best single technique ({rival}, 85.0%)"
    assert together_text(row, {}) == "run the series to compare"
    assert together_text(CourseRow(get_preset("D0", "sample")), {}) == ""


def test_lesson_numbers_are_what_the_table_shows():
    """The numbers the series' claims are read on: accuracy, training accuracy kept, an ensemble's members."""
    single = get_preset("D0", "sample")
    labels = prepare.test_images(single.spec)[1]
    ensemble = get_preset("A7", "sample")
    specs = ensemble.member_specs()
    votes = prepare.test_images(specs[0])[1]
    members = tuple(
        fake_result(spec, votes, right=right) for spec, right in zip(specs, (len(votes), 0, 0), strict=True)
    )
    rows = [
        CourseRow(single, (fake_result(single.spec, labels, right=80),)),
        CourseRow(ensemble, members),
        CourseRow(get_preset("D1", "sample")),  # not trained: its claims wait
    ]
    numbers = lesson_numbers(rows)
    assert numbers["D0"] == Numbers(0.8, 0.9)
    assert numbers["D0"].gap == pytest.approx(0.1)
    assert numbers["A7"].members == (1.0, 0.0, 0.0) and numbers["A7"].accuracy == rows[1].accuracy
    assert numbers["D1"] == Numbers(None)


def test_a_quick_run_far_below_the_course_says_why_in_its_own_numbers():
    course = get_preset("A6", "sample")
    quick = course.quick()
    labels = prepare.test_images(quick.spec)[1]
    row = CourseRow(quick, (fake_result(quick.spec, labels, right=round(0.43 * len(labels))),), course)
    text = shortfall_text(row)
    assert text.startswith("A6: 43.0% after 10 of the course's 100 epochs, against the course's 93.09%")
    assert "still rising (50% at epoch 1, 80% at the last)" in text and course.quick_gap in text
    close = CourseRow(quick, (fake_result(quick.spec, labels, right=round(0.9 * len(labels))),), course)
    assert shortfall_text(close) is None  # near the course: nothing to explain
    assert (
        shortfall_text(CourseRow(course, (fake_result(course.spec, labels, right=1),), course)) is None
    )  # full length


def test_a_training_time_is_estimated_from_this_machines_stored_runs_or_not_at_all():
    from lab.runs.queries import estimate_seconds
    from lab.runs.store import RunInfo
    from lab.spec import ExperimentSpec

    def info(spec, seconds, epochs):
        metrics = {"train_seconds": seconds, "epochs_run": epochs, "diverged": False}
        return RunInfo(spec.run_id, spec, metrics)

    mlp = ExperimentSpec(train_subset=1_000, epochs=2)  # 2,000 image-epochs in 4 s: 2 ms each
    cnn = ExperimentSpec(conv=(), epochs=1)
    assert estimate_seconds([mlp.replace(epochs=5)], [info(mlp, 4.0, 2)]) == (10.0, 1)
    assert estimate_seconds([mlp], []) is None  # nothing measured here: no number
    assert estimate_seconds([ExperimentSpec(data="idx:/x")], [info(mlp, 4.0, 2)]) is None  # size unknown
    assert cnn.subset_count() == 4_000
