"""Live reports: the trainer reports within epochs, from the untrained network on, for curves that grow."""

import math

import pytest

from lab.architecture import check_network
from lab.nn.trainer import train
from lab.spec import ExperimentSpec
from tests.observers import Recording

# 900 training images in batches of 8: 113 batches an epoch, so several reports within each.
SMALL_BATCHES = ExperimentSpec(hidden=(32,), epochs=2, batch_size=8, train_subset=1000)


def test_reports_start_at_the_untrained_network_and_come_within_every_epoch():
    observer = Recording()
    result = train(check_network(SMALL_BATCHES), observer)
    progress, epochs = observer.progress, observer.epochs

    first = progress[0]
    assert first.progress == 0 and first.epoch == 0 and not first.at_epoch_end
    assert 1.5 < first.logs["loss"] < 4 and first.points["epoch"] == [0.0]  # about ln(10): chance
    steps = [r.progress for r in progress]
    assert steps == sorted(steps) and steps[-1] == 2
    assert sum(0 < s < 1 for s in steps) >= 3 and sum(1 < s < 2 for s in steps) >= 3

    # Epoch ends are reported to both observers, with the validation figures.
    ends = [r for r in progress if r.at_epoch_end]
    assert [r.epoch for r in ends] == [r.epoch for r in epochs] == [1, 2]
    assert all("val_accuracy" in r.logs for r in ends)
    assert [r.progress for r in epochs] == [1.0, 2.0]

    # The points at whole epochs are the epochs' own values: live and final curves agree.
    points = progress[-1].points
    for epoch, loss in enumerate(result.history["loss"], start=1):
        assert points["loss"][points["epoch"].index(float(epoch))] == pytest.approx(loss, rel=1e-6)
    assert len(points["epoch"]) == len(points["loss"]) == len(points["accuracy"])
    assert len(points["epoch"]) == len(progress) - len(ends)  # an epoch's end adds no point of its own
    # Each report is a snapshot: training went on, the first report still holds only its own point.
    assert progress[0].points["epoch"] == [0.0] and progress[0].history == {}
    assert math.isfinite(progress[1].eta) and progress[-1].eta == 0


@pytest.mark.slow
def test_reporting_within_epochs_changes_nothing_that_is_learned():
    within, per_epoch = Recording(), Recording()
    a = train(check_network(SMALL_BATCHES), within)
    b = train(check_network(SMALL_BATCHES), per_epoch, report_every=0)
    assert a.history == b.history and a.test_accuracy == b.test_accuracy
    assert [r.progress for r in per_epoch.progress] == [1.0, 2.0]  # only the epochs' ends, no starting point
    assert len(within.progress) > len(per_epoch.progress)
