"""The one curve-chart builder: every curve over epochs (live and final, a series, trials, layers) is drawn by it."""

import math
from types import SimpleNamespace

import pytest

from lab.nn.result import EpochReport
from lab.search.rows import TrialRow
from ui import charts
from ui.app.jobs import live_rows
from ui.gradients import health_charts
from ui.tune import search as tune

HISTORY = {
    "loss": [1.0, 0.6, 0.5],
    "accuracy": [0.5, 0.7, 0.8],
    "val_loss": [1.1, 0.7, 0.6],
    "val_accuracy": [0.4, 0.6, 0.7],
}
POINTS = {"epoch": [0.0, 0.5, 1.0], "loss": [2.3, 1.4, 1.0], "accuracy": [0.1, 0.4, 0.5]}
PARTIAL = {key: values[:1] for key, values in HISTORY.items()}  # the live report after epoch 1 of 3


def encoding(spec: dict) -> dict:
    """The lines' encoding (the first layer; the dots repeat it)."""
    return spec["layer"][0]["encoding"]


def rows(spec: dict) -> list[dict]:
    """The lines' data (at the top when no other layer has data of its own)."""
    return spec["datasets"][(spec["layer"][0].get("data") or spec["data"])["name"]]


def is_curve_chart(spec: dict) -> bool:
    """Whether ``charts.curve_chart`` drew it: lines then dots over ``epoch`` from 0, ``value``, its explicit size."""
    marks = [layer["mark"]["type"] for layer in spec["layer"][:2]]
    x, y = encoding(spec)["x"], encoding(spec)["y"]
    return (
        marks == ["line", "point"]
        and (x["field"], y["field"]) == ("epoch", "value")
        and x["scale"]["domain"][0] == 0
        and spec["width"] == "container"
        and spec["height"] >= charts.current_look().plot_height
    )


# ------------------------------------------------------------ the axes' rules
def test_loss_starts_at_zero_so_a_stall_looks_flat_and_accuracy_spans_0_to_100_percent():
    loss = encoding(charts.curves_chart({"this run": HISTORY}, "loss").to_dict())["y"]
    assert loss["scale"] == {"zero": True} and loss["title"] == "Loss"
    accuracy = encoding(charts.curves_chart({"this run": HISTORY}, "accuracy").to_dict())["y"]
    assert accuracy["scale"]["domain"] == [0, 1] and accuracy["axis"]["format"] == ".0%"
    log = encoding(charts.curves_chart({"this run": HISTORY}, "loss", log_scale=True).to_dict())["y"]
    assert log["scale"]["type"] == "log" and log["title"] == "Loss (log scale)"


def test_a_log_scale_leaves_out_values_it_cannot_draw_and_keeps_gaps():
    points = [
        charts.curve_row("r", "s", 1, 0.0),
        charts.curve_row("r", "s", 2, math.nan),
        charts.curve_row("r", "s", 3, 2),
    ]
    spec = charts.curve_chart(points, title="t", y_title="y", y_scale="log").to_dict()
    assert [(r["epoch"], r["value"]) for r in rows(spec)] == [(2.0, None), (3.0, 2.0)]


def test_a_fixed_y_domain_is_kept_for_every_scale():
    for y_scale in ("linear", "log", "percent"):
        spec = charts.curve_chart([], title="t", y_title="y", y_scale=y_scale, y_domain=(0.001, 0.5)).to_dict()
        assert encoding(spec)["y"]["scale"]["domain"] == [0.001, 0.5]


# ----------------------------------------------------------- live and final
@pytest.mark.parametrize("metric", ["loss", "accuracy"])
def test_the_live_and_the_final_chart_are_one_builder_with_the_same_axes_from_the_untrained_network(metric):
    live = charts.curves_chart({"this run": PARTIAL}, metric, epochs=3, points=POINTS).to_dict()
    final = charts.curves_chart({"this run": HISTORY}, metric).to_dict()
    assert is_curve_chart(live) and is_curve_chart(final)
    for channel in ("x", "y", "color", "strokeDash"):
        assert encoding(live)[channel] == encoding(final)[channel], channel
    assert encoding(final)["x"]["scale"]["domain"] == [0, 3]  # the frame the live curve grew into
    untrained = [r for r in rows(live) if r["epoch"] == 0]
    assert [r["value"] for r in untrained] == [POINTS[metric][0]]  # epoch 0 is on the live chart
    assert live_rows(EpochReport(1, 3, {}, PARTIAL, 1.0, 2.0, 1.0, POINTS), metric) == rows(live)


def test_a_live_chart_built_before_its_first_point_already_tells_train_from_validation():
    empty = charts.curves_chart({"this run": {}}, "loss", epochs=3, points={"epoch": [], "loss": []}).to_dict()
    assert encoding(empty)["color"]["scale"]["domain"] == ["train", "validation"]  # its spec is reused with rows


# ------------------------------------------------------------- many runs
def test_a_dozen_runs_each_get_their_own_colour_and_line_style_in_one_legend():
    histories = {f"B{i}": HISTORY for i in range(1, 13)}
    spec = charts.overlay_chart(charts.overlay_frame(histories, "val_accuracy"), "Validation accuracy", True).to_dict()
    assert is_curve_chart(spec)
    color, dash = encoding(spec)["color"], encoding(spec)["strokeDash"]
    assert color["field"] == dash["field"] == "run" and color["scale"]["domain"] == dash["scale"]["domain"]
    assert len(color["scale"]["domain"]) == 12
    pairs = {(c, str(d)) for c, d in zip(color["scale"]["range"], dash["scale"]["range"], strict=True)}
    assert len(pairs) == 12 and len(set(color["scale"]["range"])) == 12
    assert color["legend"] == dash["legend"] and color["legend"]["title"] == "Preset"  # Vega-Lite merges the two
    assert encoding(spec)["y"]["scale"]["domain"] == [0, 1]


def test_a_legend_under_a_chart_gets_fewer_columns_for_longer_labels_so_none_is_cut_off():
    def columns(label: str) -> int:
        runs = [f"{label} {i}" for i in range(1, 13)]
        spec = charts.curve_chart([], title="t", y_title="y", runs=runs, splits=["validation"]).to_dict()
        return encoding(spec)["color"]["legend"]["columns"]

    assert columns("B") == 4 and columns("hidden") == 3 and columns("trial 3 (stopped), seed") < 3


def test_compared_runs_keep_train_and_validation_colours_and_differ_in_line_style():
    spec = charts.curves_chart({"this run": HISTORY, "earlier run 1": HISTORY}, "loss").to_dict()
    assert encoding(spec)["color"]["field"] == "split" and encoding(spec)["strokeDash"]["field"] == "run"
    assert encoding(spec)["strokeDash"]["scale"]["range"] == [[1, 0], [8, 4]]  # as RUN_STYLE_WORDS says
    assert spec["title"]["subtitle"] == "training vs validation images, every run"


def test_best_epochs_are_rules_on_the_same_chart():
    spec = charts.curves_chart({"this run": HISTORY}, "loss", best_epochs={"this run": 2}).to_dict()
    # Then the rule and label of where a value broke (NaN or infinite): always there, drawn only where one did.
    assert [layer["mark"]["type"] for layer in spec["layer"]][:4] == ["line", "point", "rule", "text"]


# ------------------------------------------------ every page's curves, one builder
def test_tune_trials_are_drawn_by_the_builder_with_stopped_ones_grey():
    trials = [
        TrialRow(1, "a", "r1", {}, "done", 3, 3, [0.5, 0.7, 0.8]),
        TrialRow(2, "b", "r2", {}, "stopped", 1, 3, [0.2]),
    ]
    spec = tune.curves_chart(trials, 3).to_dict()
    assert is_curve_chart(spec)
    color = encoding(spec)["color"]
    assert color["scale"]["domain"] == ["trial 1", "trial 2 (stopped)"]
    assert color["scale"]["range"][1] == charts.MUTED_COLOR
    many = [TrialRow(i, str(i), f"r{i}", {}, "done", 1, 3, [0.5]) for i in range(1, 10)] + trials[1:]
    colors = encoding(tune.curves_chart(many, 3).to_dict())["color"]["scale"]["range"]
    assert colors.count(charts.MUTED_COLOR) == 1 and charts.TABLEAU_GREY not in colors  # no live trial looks stopped
    assert encoding(spec)["x"]["scale"]["domain"] == [0, 3] and encoding(spec)["y"]["scale"]["domain"] == [0, 1]
    assert "stopped ones in grey" in spec["title"]


def test_gradient_health_lines_are_drawn_by_the_builder_one_line_per_layer():
    record = {
        "epochs": [0, 1],
        "layers": [
            {"name": "hidden_1", "grad_norm": [1e-4, 2e-4], "saturated": [0.0, 0.02]},
            {"name": "output", "grad_norm": [1.0, 0.0]},
        ],
    }
    result = SimpleNamespace(health=record)
    norms = health_charts.lines(result, "grad_norm", None, "Run A").to_dict()
    assert is_curve_chart(norms) and norms["title"]["text"] == "Run A"
    assert encoding(norms)["y"]["scale"]["type"] == "log"
    assert encoding(norms)["color"]["scale"]["domain"] == ["hidden_1", "output"]
    plotted = [(r["run"], r["epoch"]) for r in rows(norms)]
    assert plotted == [("hidden_1", 0.0), ("hidden_1", 1.0), ("output", 0.0)]  # a norm of 0 is off a log scale
    shares = health_charts.lines(result, "saturated", (0.0, 0.02), "Run A").to_dict()
    assert encoding(shares)["y"]["axis"]["format"] == ".0%" and encoding(shares)["y"]["scale"]["domain"] == [0, 0.02]


# ------------------------------------------------- pictures that cannot lie
def test_the_final_chart_draws_the_stored_curve_from_epoch_0_in_the_frame_of_every_epoch_planned():
    final = charts.curves_chart({"this run": HISTORY}, "loss", epochs=3, points=POINTS, output="softmax_ce").to_dict()
    live = charts.curves_chart(
        {"this run": PARTIAL}, "loss", epochs=3, points=POINTS, output="softmax_ce", live=True
    ).to_dict()
    assert [r["epoch"] for r in rows(final) if r["split"] == "train"] == [0.0, 0.5, 1.0]
    assert encoding(final)["x"]["scale"]["domain"] == [0, 3]
    for channel in ("x", "y", "color", "strokeDash"):
        assert encoding(live)[channel] == encoding(final)[channel], channel
    assert [layer.get("mark") for layer in live["layer"]] == [layer.get("mark") for layer in final["layer"]]
    assert final["title"]["text"] == live["title"]["text"] == "Loss per epoch"
    assert len(live["datasets"]) == 1  # one table of rows: the live chart swaps new ones into its spec


def test_a_run_stored_without_its_curve_is_drawn_from_its_history():
    spec = charts.curves_chart({"this run": HISTORY}, "loss", points={}).to_dict()
    assert [r["epoch"] for r in rows(spec) if r["split"] == "train"] == [1.0, 2.0, 3.0]


@pytest.mark.parametrize(("metric", "output", "value", "name"), [
    ("loss", "softmax_ce", math.log(10), "chance: ln 10 = 2.303"),
    ("loss", "sigmoid_mse", 0.09, "chance: 0.09"),
    ("accuracy", "softmax_ce", 0.1, "chance: 10%"),
])  # fmt: skip
def test_the_chance_level_is_a_named_line_so_a_stall_reads_as_one(metric, output, value, name):
    spec = charts.curves_chart({"this run": HISTORY}, metric, output=output).to_dict()
    ys = [layer["encoding"].get("y", {}) for layer in spec["layer"]]
    datums = [y["datum"] for y in ys if "datum" in y]
    assert datums and all(abs(d - value) < 1e-9 for d in datums)
    texts = [layer["encoding"]["text"].get("value") for layer in spec["layer"] if "text" in layer["encoding"]]
    assert name in texts


def test_a_diverged_curve_keeps_its_climb_and_marks_where_it_broke_with_readable_numbers():
    points = {"epoch": [0.0, 0.25, 0.5, 0.6], "loss": [2.3, 40.0, 400.0, math.inf], "accuracy": [0.1] * 4}
    spec = charts.curves_chart({"this run": {"loss": [math.nan]}}, "loss", points=points, epochs=5).to_dict()
    train = [(r["value"], r["broke"]) for r in rows(spec) if r["split"] == "train"]
    assert train == [(2.3, ""), (40.0, ""), (400.0, ""), (None, "∞")]
    layers = spec["layer"]
    broke = [layer for layer in layers if {"filter": "datum.broke != ''"} in layer.get("transform", [])]
    assert [layer["mark"]["type"] for layer in broke] == ["rule", "text"]
    assert encoding(spec)["y"]["axis"]["format"] == charts.VALUE_FORMAT  # 400, not 4e+2
    assert encoding(spec)["y"]["scale"] == {"zero": True}


@pytest.mark.parametrize("metric, log_scale", [("loss", False), ("loss", True), ("accuracy", False)])
def test_a_replay_moves_the_moment_of_a_built_chart_as_the_builder_draws_it(metric, log_scale):
    """A replay builds each curve chart once and moves its moment frame by frame (``charts.moved_moment``)."""
    import numpy as np

    from ui.app import stage

    # Two runs (their order is their styles'), numpy numbers as a stored run's history may hold, 10 epochs.
    histories = {
        "this run": {key: list(np.float32(values * 3 + [values[-1]] * 1)) for key, values in HISTORY.items()},
        "earlier run 1": {key: values * 3 + [values[-1]] for key, values in HISTORY.items()},
    }
    frame = {"best_epochs": {"this run": None, "earlier run 1": 4}, "epochs": 10, "output": "softmax_ce"}
    for moment in (0, 0.0625, 0.5, 1, 6, 7, 10):  # untrained, early steps, each side of the label's turn
        want = charts.curves_chart(histories, metric, log_scale=log_scale, stage=True, moment=moment, **frame)
        got = charts.moved_moment(stage.replay_curve_spec(histories, metric, log_scale, frame), moment)
        assert got == want.to_dict(validate=False), moment
