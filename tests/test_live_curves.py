"""The live chart: points within epochs, and the data a reused chart spec receives (no TensorFlow here)."""

import math

import pytest

from lab.nn.result import EpochReport
from ui import charts
from ui.app.jobs import live_rows

HISTORY = {"loss": [1.0, math.nan], "accuracy": [0.5, 0.8], "val_loss": [1.1, 0.6], "val_accuracy": [0.4, 0.7]}
POINTS = {
    "epoch": [0.0, 0.5, 1.0, 1.5, 2.0],
    "loss": [2.3, 1.2, 1.0, math.inf, 0.5],
    "accuracy": [0.1, 0.4, 0.5, 0.7, 0.8],
}
REPORT = EpochReport(2, 10, {}, HISTORY, 1.0, 4.0, 2.0, POINTS)


@pytest.mark.parametrize("metric", ["loss", "accuracy"])
def test_live_rows_are_the_rows_the_altair_chart_holds(metric):
    spec = charts.curves_chart({"this run": HISTORY}, metric, epochs=10, points=POINTS).to_dict()
    (rows,) = spec["datasets"].values()
    assert live_rows(REPORT, metric) == rows  # so the spec can be reused with new rows, without Altair


def test_live_chart_starts_at_the_untrained_network_and_shows_fractions_of_epochs():
    rows = live_rows(REPORT, "loss")
    train = [r for r in rows if r["split"] == "train"]
    assert [r["epoch"] for r in train] == [0.0, 0.5, 1.0, 1.5, 2.0]
    assert train[3]["value"] is None  # an infinite loss is a gap, not a point off the chart
    assert [(r["epoch"], r["value"]) for r in rows if r["split"] == "validation"] == [(1.0, 1.1), (2.0, 0.6)]
    spec = charts.curves_chart({"this run": HISTORY}, "loss", epochs=10, points=POINTS).to_dict()
    x_scale = spec["layer"][0]["encoding"]["x"]["scale"]
    assert x_scale["domain"] == [0, 10]
