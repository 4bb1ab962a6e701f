"""The Train page under AppTest: controls, URL, training, stored runs, diverged and invalid setups."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from lab.architecture import count_params
from lab.catalog.presets import get_preset
from lab.codec import spec_from_query, spec_to_query
from lab.runs.engines import get_or_train
from lab.runs.store import RunStore
from lab.spec import SETTINGS, ExperimentSpec
from tests import apptest_support
from tests.spec_examples import every_setting_changed
from ui.app.url import read_link

PAGE = str(Path(__file__).resolve().parents[1] / "pages" / "train.py")
TINY = {"hidden": "16", "epochs": "2", "batch_size": "64"}  # a few seconds on the offline sample


@pytest.fixture
def open_page(store_home):
    """Open the page with URL query parameters, on an empty run store of its own."""
    st.cache_resource.clear()  # the store and the jobs are cached per process: point them at store_home

    def make(params: dict[str, str] | None = None) -> AppTest:
        at = AppTest.from_file(PAGE, default_timeout=240)
        for key, value in (params or {}).items():
            at.query_params[key] = value
        return at.run()

    yield make
    st.cache_resource.clear()


chart_titles = apptest_support.chart_titles


def metric(at: AppTest, label: str):
    found = [m for m in at.metric if m.label == label]
    return found[0] if found else None


def texts(at: AppTest) -> str:
    parts = [e.value for e in (*at.error, *at.warning, *at.info, *at.caption, *at.markdown)]
    return "\n".join(str(p) for p in parts)


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


# ------------------------------------------------------------- before training
def test_controls_show_the_network_before_any_training(open_page, store_home):
    at = open_page()
    assert_clean(at)
    spec = ExperimentSpec()
    assert metric(at, "Parameters").value == f"{count_params(spec):,}"
    assert at.button(key="train_button").label == "Train"
    assert metric(at, "Test accuracy") is None, "nothing is trained before Train is pressed"
    assert not RunStore(store_home).list()
    # Moving the sliders updates the count at once, and still trains nothing.
    at.slider(key="n_hidden").set_value(3).run()
    at.select_slider(key="width").set_value(50).run()
    assert_clean(at)
    assert metric(at, "Parameters").value == f"{count_params(ExperimentSpec(hidden=(50, 50, 50))):,}"
    assert metric(at, "Test accuracy") is None and not RunStore(store_home).list()
    # ... and the URL follows the controls.
    assert at.query_params["hidden"] == "50,50,50"


def test_every_control_has_a_stable_key_and_help_text(open_page):
    at = open_page({"optimizer": "sgd", "early_stopping": "3", "initializer": "random_normal"})
    keys = ["data_source", "train_subset", "subset_mode", "val_mode", "val_split", "center", "raw_pixels",
            "test_subset", "data_seed", "n_hidden", "width", "per_layer", "activation", "initializer", "init_stddev",
            "batchnorm", "dropout", "l2", "l2_output", "output", "optimizer", "learning_rate", "momentum",
            "nesterov", "batch_size", "epochs", "early_stopping", "es_monitor", "es_min_delta",
            "es_restore_best", "seed"]  # fmt: skip
    widgets = {w.key: w for kind in ("selectbox", "select_slider", "slider", "checkbox", "toggle", "number_input")
               for w in getattr(at, kind)}  # fmt: skip
    for key in keys:
        assert key in widgets, key
        assert widgets[key].help, f"{key} has no help text"


def test_a_link_opens_the_same_controls(open_page):
    spec = ExperimentSpec(
        hidden=(580, 325, 125),
        activation="elu",
        batchnorm="after",
        dropout=0.5,
        optimizer="sgd",
        learning_rate=0.05,
        momentum=0.9,
        nesterov=True,
        l2=1e-4,
        batch_size=128,
        epochs=20,
        early_stopping=5,
        es_monitor="val_accuracy",
        center=True,
        val_split=0.3,
        seed=7,
    )
    at = open_page(spec_to_query(spec))
    assert_clean(at)
    assert at.slider(key="n_hidden").value == 3
    assert at.toggle(key="per_layer").value is True
    assert [at.number_input(key=f"width_{i}").value for i in (1, 2, 3)] == [580, 325, 125]
    assert at.selectbox(key="activation").value == "elu"
    assert at.selectbox(key="batchnorm").value == "after"
    assert at.slider(key="dropout").value == pytest.approx(0.5)
    assert at.selectbox(key="optimizer").value == "sgd"
    assert at.select_slider(key="learning_rate").value == 0.05
    assert at.select_slider(key="momentum").value == 0.9
    assert at.checkbox(key="nesterov").value is True
    assert at.select_slider(key="l2").value == 1e-4
    assert at.select_slider(key="batch_size").value == 128
    assert at.slider(key="epochs").value == 20
    assert at.slider(key="early_stopping").value == 5
    assert at.selectbox(key="es_monitor").value == "val_accuracy"
    assert at.checkbox(key="center").value is True
    assert at.select_slider(key="val_split").value == 0.3
    assert at.number_input(key="seed").value == 7
    assert metric(at, "Parameters").value == f"{count_params(spec):,}"
    # The page writes back the same link.
    assert spec_from_query(dict(at.query_params)) == spec


def test_a_link_with_every_setting_changed_comes_back_from_the_widgets(open_page):
    # Every setting of the spec, read from the spec itself: a setting the widgets lose fails here.
    spec = every_setting_changed()
    at = open_page(spec_to_query(spec))
    assert_clean(at)
    for key, value in spec.settings().items():
        if SETTINGS[key].widget.kind != "custom" and not key.startswith("aug_"):  # conv and aug: the CNN page's
            assert at.session_state[key] == value, key
    # The spec the page rebuilds from its widgets is the link's: it writes back the same link.
    assert spec_from_query(dict(at.query_params)) == spec


def test_a_clipnorm_link_opens_with_its_control_there(open_page):
    at = open_page({"clipnorm": "1.5"})
    assert_clean(at)
    assert at.select_slider(key="clipnorm").value == 1.5
    assert at.query_params["clipnorm"] == "1.5"


def test_a_bad_link_is_reported_not_raised(open_page):
    at = open_page({"activation": "banana", "epochs": "3"})
    assert_clean(at)
    assert "banana" in texts(at)
    assert at.selectbox(key="activation").value == "relu"


def test_query_round_trip_of_every_kind_of_field():
    from lab.spec import Augmentation, ConvBlock

    spec = ExperimentSpec(
        data="idx:/tmp/some folder",
        train_subset=500,
        hidden=(),
        conv=(ConvBlock(10, 5, strides=2), ConvBlock(40, 3, padding="valid", pool=2, dropout=0.25, l2=1e-4)),
        augmentation=Augmentation(rotation=10, shift=0.2),
        learning_rate=3e-4,
        center=True,
    )
    query = spec_to_query(spec)
    assert query["hidden"] == "none" and query["conv"] == "10x5s2,40x3s1vp2d0.25l0.0001"
    assert spec_from_query(query) == spec
    assert spec_to_query(ExperimentSpec()) == {}
    with pytest.raises(ValueError, match="epochs"):
        spec_from_query({"epochs": "many"})


def test_preset_link_loads_the_course_experiment(open_page):
    preset = get_preset("B2")
    at = open_page({"preset": "B2"})
    assert_clean(at)
    assert at.slider(key="n_hidden").value == len(preset.spec.hidden)
    assert at.select_slider(key="width").value == preset.spec.hidden[0]
    assert at.selectbox(key="optimizer").value == preset.spec.optimizer
    assert at.select_slider(key="momentum").value == preset.spec.momentum
    assert at.slider(key="early_stopping").value == preset.spec.early_stopping
    assert "preset" not in at.query_params  # replaced by the explicit settings: the link still reproduces the run
    assert at.checkbox(key="raw_pixels").value is False


def test_a_series_a_preset_feeds_raw_pixels_and_the_layer_table_says_so(open_page):
    at = open_page({"preset": "A3"})
    assert_clean(at)
    assert at.checkbox(key="raw_pixels").value is True
    assert at.query_params["raw_pixels"] == "1"  # the link reproduces the run
    tables = [t.value for t in at.table if "Kind" in getattr(t.value, "columns", [])]
    assert tables and tables[0]["Kind"].iloc[0] == "rescale"
    assert tables[0]["Layer"].iloc[-1] == "Total"
    assert tables[0]["Parameters"].iloc[-1] == metric(at, "Parameters").value  # one number, one format


def test_read_link_reports_a_bad_preset_or_setting_and_keeps_what_it_can():
    default = ExperimentSpec(hidden=(7,))
    b2 = get_preset("B2").spec
    assert read_link({}, default, "the defaults").spec == default
    on_preset = read_link({"preset": "b2", "seed": "3"}, default, "the defaults")
    assert on_preset.spec == b2.replace(seed=3) and not on_preset.problems
    unknown = read_link({"preset": "Q9", "seed": "3"}, default, "the defaults")
    assert unknown.spec == default.replace(seed=3)  # the other settings still apply, on the page's default
    assert len(unknown.problems) == 1 and "Unknown preset 'Q9'" in unknown.problems[0]
    assert "on the defaults" in unknown.problems[0]
    bad = read_link({"preset": "B2", "activation": "banana"}, default, "the defaults")
    assert bad.spec == b2, "an unreadable setting drops the link's settings, not its preset"
    assert "banana" in bad.problems[0] and "preset B2 instead" in bad.problems[0]


def test_a_link_to_an_unknown_preset_is_reported_and_its_settings_still_apply(open_page):
    at = open_page({"preset": "Q9", "epochs": "3"})
    assert_clean(at)
    assert "Unknown preset 'Q9'" in texts(at)
    assert at.slider(key="epochs").value == 3


def test_too_many_parameters_is_a_clear_error(open_page, store_home):
    at = open_page({"hidden": "3000,3000"})
    assert_clean(at)
    errors = " ".join(e.value for e in at.error)
    assert "parameters" in errors and "budget" in errors
    assert at.button(key="train_button").disabled
    assert not RunStore(store_home).list()


# ------------------------------------------------------------------ training
@pytest.mark.slow
def test_train_a_tiny_network_and_see_everything(open_page, store_home):
    at = open_page(TINY)
    at.button(key="train_button").click().run()
    assert_clean(at)
    assert not at.error, [e.value for e in at.error]
    accuracy = metric(at, "Test accuracy")
    assert accuracy is not None and accuracy.value.endswith("%")
    assert float(accuracy.value.rstrip("%")) > 50, "two epochs on 3,600 digits learn something"
    assert metric(at, "Test loss") is not None
    assert metric(at, "Epochs trained").value == "2 / 2"
    titles = chart_titles(at)
    for title in (
        "Loss per epoch",
        "Accuracy per epoch",
        "Output weights for digit 5",
        "Confusion matrix, test set: counts",
    ):
        assert title in titles, titles
    captions = [c for image in at.image for c in image.captions]
    assert any("Units numbered from 0" in c for c in captions), "the first-layer filter grid"
    assert any("→" in c for c in captions), "misclassified digits with true → predicted"
    assert any("Keras" in block.value or "Sequential()" in block.value for block in at.code)
    assert at.get("download_button"), "the trained model can be downloaded"
    assert len(RunStore(store_home).list()) == 1
    assert not [b for b in at.button if b.key == "stop-train"], "the Stop button goes when training is done"

    # The output-weight chart follows the digit and the threshold.
    at.button_group(key="digit").set_value(3).run()
    at.slider(key="threshold").set_value(0.0).run()
    assert_clean(at)
    assert "Output weights for digit 3" in chart_titles(at)
    assert "16 units above 0" in texts(at) or "units above 0 (green)" in texts(at)

    # A second run shows the change from the first one.
    at.number_input(key="seed").set_value(1).run()
    assert metric(at, "Test accuracy") is None, "a new setup shows nothing until it is trained"
    at.button(key="train_button").click().run()
    assert_clean(at)
    assert metric(at, "Test accuracy").delta, "the change from the previous run"
    assert any("Setup" in t.value.columns for t in at.table)  # this session's runs, in plain words
    others = at.multiselect(key="overlay").options
    assert len(others) == 1
    at.multiselect(key="overlay").set_value([at.multiselect(key="overlay").options[0]]).run()
    assert_clean(at)
    titles = [json.loads(c.proto.spec).get("title") for c in at.get("vega_lite_chart")]
    subtitles = [title.get("subtitle") for title in titles if isinstance(title, dict)]
    assert "every run" in subtitles  # on the stage the legend says train and validation; the subtitle, every run
    assert "**earlier run 1**: MLP 16 units, ReLU, Adam, batch 64, 2 epochs, seed 0" in texts(at), "named in full"

    # The confusion matrix in percentages of each true digit.
    at.button_group(key="confusion_cells").set_value("percentages").run()
    assert "Confusion matrix, test set: percentages" in chart_titles(at)


@pytest.mark.slow
def test_a_stored_run_appears_without_training(open_page, store_home):
    spec = spec_from_query(TINY)
    stored = get_or_train(spec, RunStore(store_home))
    at = open_page(TINY)
    assert_clean(at)
    assert metric(at, "Test accuracy") is not None, "no Train click needed"
    # Beside the Train button, in view with the curves: the figure the headline under the stage gives.
    line = f"**Test accuracy {stored.test_accuracy:.2%}** · {stored.epochs_run} of {spec.epochs} epochs in "
    assert any(m.value.startswith(line) for m in at.markdown), [m.value for m in at.markdown][:5]
    assert metric(at, "Test accuracy").value == f"{stored.test_accuracy:.2%}"
    assert "Read from the run store" in texts(at)
    from ui.app.state import get_jobs

    assert get_jobs().get(spec.run_id) is None, "nothing was trained"
    assert "Confusion matrix, test set: counts" in chart_titles(at)


@pytest.mark.slow
def test_logistic_regression_shows_class_templates(open_page, store_home):
    at = open_page({"hidden": "none", "epochs": "1", "batch_size": "128"})
    at.button(key="train_button").click().run()
    assert_clean(at)
    assert "Class templates" in texts(at)
    assert any(image.captions and "Red pixels raise" in image.captions[0] for image in at.image)


@pytest.mark.slow
def test_deep_network_shows_what_last_layer_units_respond_to(open_page, store_home):
    at = open_page({"hidden": "16,8", "epochs": "1", "batch_size": "128"})
    at.button(key="train_button").click().run()
    at.slider(key="threshold").set_value(0.0).run()
    assert_clean(at)
    assert "What the highlighted last-layer units respond to" in texts(at)
    assert any(image.captions and "mean of the 20 training images" in image.captions[0] for image in at.image)


@pytest.mark.slow
def test_a_diverging_run_is_shown_as_such(open_page, store_home):
    params = {"hidden": "16", "optimizer": "sgd", "learning_rate": "100", "epochs": "2", "batch_size": "64"}
    at = open_page(params)
    at.button(key="train_button").click().run()
    assert_clean(at)
    stored = RunStore(store_home).get(spec_from_query(params))
    assert stored is not None and stored.diverged, "the lab marks the run diverged"
    assert any("exploding gradients" in e.value for e in at.error)
    assert any(m.value.startswith("**Diverged** · ") for m in at.markdown), "said beside Train too"


@pytest.mark.slow
def test_mnist_offline_offers_the_download_then_the_sample(open_page, monkeypatch, tmp_path):
    import lab.data.sources

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))  # MNIST is not cached here

    def offline(url, path, label, timeout=15.0):
        raise lab.data.sources.DataUnavailable(f"{label} is not downloaded yet and the download failed (offline?).")

    monkeypatch.setattr(lab.data.sources, "_download", offline)
    lab.data.sources.load_source.cache_clear()
    at = open_page({"data": "mnist", **TINY})
    assert_clean(at)
    assert at.button(key="train_button").disabled, "nothing to train on yet"
    at.button(key="download_data").click().run()
    assert_clean(at)
    assert any("offline" in e.value for e in at.error)
    at.button(key="use_sample").click().run()
    assert_clean(at)
    assert at.selectbox(key="data_source").value == "sample"
    assert not at.button(key="train_button").disabled
    lab.data.sources.load_source.cache_clear()


# ------------------------------------------------------------------- the stage
def filters_titles(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown if m.value.startswith("**First layer**")]


def moments(at: AppTest) -> list[str]:
    """The labels of the replay's rules on the curves (``epoch 2``, ``untrained`` ...)."""
    found = []
    for chart in at.get("vega_lite_chart"):
        spec = json.loads(chart.proto.spec)
        for layer in spec.get("layer", []):
            text = layer.get("encoding", {}).get("text", {})
            if layer.get("mark", {}).get("color") == "#7048E8" and "value" in text:
                found.append(text["value"])
    return found


@pytest.mark.slow
def test_a_trained_run_replays_every_view_from_its_snapshots(open_page, store_home):
    at = open_page(TINY)
    at.button(key="train_button").click().run()
    assert_clean(at)
    film = RunStore(store_home).get(RunStore(store_home).list()[0].run_id).film
    assert film is not None and len(film) >= 3, "untrained, early steps and each epoch"
    slider = at.select_slider(key="train_replay")
    assert list(slider.options) == [s.label for s in film.snapshots], "one position per snapshot, named in words"
    # It opens on the trained network: the last snapshot, the curves marked there.
    assert slider.value == len(film) - 1 and film.snapshots[-1].label == "epoch 2"
    assert filters_titles(at) == ["**First layer**: its filters, epoch 2"]
    assert "epoch 2" in moments(at)
    assert "Validation, epoch 2: counts" in chart_titles(at)
    # The first position: the untrained network, every view with it.
    at.select_slider(key="train_replay").set_value(0).run()
    assert_clean(at)
    assert filters_titles(at) == ["**First layer**: its filters, untrained"]
    assert "untrained" in moments(at)
    assert "Validation, untrained: counts" in chart_titles(at)
    assert "Hidden-layer map, untrained" in chart_titles(at)


@pytest.mark.slow
def test_an_earlier_run_replays_beside_this_one(open_page, store_home):
    """Two runs of the same seed, one setting changed (the initializer, series A's lesson), side by side."""
    at = open_page(TINY)
    at.button(key="train_button").click().run()
    at.selectbox(key="initializer").set_value("he_normal").run()
    at.button(key="train_button").click().run()
    assert_clean(at)
    at.multiselect(key="overlay").set_value([at.multiselect(key="overlay").options[0]]).run()
    assert_clean(at)
    assert any(m.value.startswith("**Side by side at epoch 2**") for m in at.markdown)
    titles = [m.value for m in at.markdown if "its filters" in m.value]
    assert titles[-2:] == ["**This run**: its filters, epoch 2", "**earlier run 1**: its filters, epoch 2"]
    at.select_slider(key="train_replay").set_value(0).run()
    assert_clean(at)
    titles = [m.value for m in at.markdown if "its filters" in m.value]
    assert titles[-2:] == ["**This run**: its filters, untrained", "**earlier run 1**: its filters, untrained"]


@pytest.mark.slow
def test_a_run_stored_before_the_challenge_held_digits_out_opens_without_its_mistakes(open_page, store_home):
    # Runs stored before 500 of the sample's 1,000 test digits were held out hold 1,000 test predictions.
    spec = spec_from_query(TINY)
    get_or_train(spec, RunStore(store_home))
    arrays = store_home / spec.run_id / "arrays.npz"
    with np.load(arrays) as old:
        saved = dict(old)
    saved["test_probs"] = np.concatenate([saved["test_probs"], saved["test_probs"]])
    np.savez(arrays, **saved)
    at = open_page(TINY)
    assert_clean(at)
    assert "This run was tested on 1,000 images, the test set now holds 500" in texts(at)
