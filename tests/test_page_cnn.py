"""The CNN page under AppTest: controls, augmentation preview, a tiny CNN trained and looked inside, MLP vs CNN."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from lab.architecture import check_network
from lab.catalog.presets import get_preset
from lab.data.sources import load_source
from lab.nn.trainer import train
from lab.runs.store import RunStore
from tests import apptest_support

SHIFTED = "Shifted 2-4 px"


def open_page(home: Path, monkeypatch: pytest.MonkeyPatch, **query: str) -> AppTest:
    return apptest_support.open_page("cnn", home, monkeypatch, **query)


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def bold_lines(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown if m.value.startswith("**")]


def make_tiny_cnn(at: AppTest) -> None:
    """Two small conv blocks, one small dense layer, one epoch, a little rotation."""
    at.slider(key="cnn_n_conv").set_value(2).run()
    at.select_slider(key="cnn_conv1_filters").set_value(4)
    at.select_slider(key="cnn_conv2_filters").set_value(2)
    at.select_slider(key="cnn_conv2_kernel").set_value(3)
    at.select_slider(key="cnn_conv2_stride").set_value(1)
    at.selectbox(key="cnn_conv2_pool").set_value(2)
    at.slider(key="cnn_aug_rotation").set_value(15.0)
    at.select_slider(key="cnn_width").set_value(10)
    at.slider(key="cnn_epochs").set_value(1)
    at.slider(key="cnn_early_stopping").set_value(0)
    at.run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]


def test_page_opens_on_the_course_b6_with_every_control(tmp_path, monkeypatch):
    at = open_page(tmp_path, monkeypatch)
    assert at.title[0].value == "Convolutions and data augmentation"
    assert metrics(at)["Parameters"] == "98,820"  # the course's B6
    assert at.slider(key="cnn_n_conv").value == 1
    assert at.select_slider(key="cnn_conv1_filters").value == 10
    assert at.select_slider(key="cnn_conv1_kernel").value == 5
    assert at.select_slider(key="cnn_conv1_stride").value == 2
    assert at.selectbox(key="cnn_conv1_padding").value == "same"
    for name in ("rotation", "shift", "shear", "zoom", "noise", "elastic"):
        assert at.slider(key=f"cnn_aug_{name}").value == 0.0
    # Train on the stage under the title, the augmentation preview's button in its tab below.
    assert [b.label for b in at.button if b.label in ("New random draws", "Train")] == ["Train", "New random draws"]
    table = at.table[-1].value
    assert list(table["Preset"]) == [f"B{i}" for i in range(1, 12)]  # all eleven, B11 included
    assert set(table["Status"]) == {"not trained yet"}
    assert set(table["Our accuracy"]) == {"not trained yet"}  # an empty cell says what is missing
    assert "None" not in table.to_string()
    assert table.loc[table["Preset"] == "B7", "Parameters"].item() == "286,940"
    assert at.button(key="cnn_train_missing").label == "Train it"


@pytest.mark.slow
def test_loading_a_preset_sets_blocks_and_augmentation(tmp_path, monkeypatch):
    at = open_page(tmp_path, monkeypatch)
    at.selectbox(key="cnn_preset").set_value("B10").run()
    at.button(key="cnn_load_preset").click().run()
    assert not at.exception, at.exception
    assert at.slider(key="cnn_n_conv").value == 3
    assert [at.select_slider(key=f"cnn_conv{i}_filters").value for i in (1, 2, 3)] == [10, 40, 80]
    assert at.slider(key="cnn_conv3_dropout").value == 0.5
    assert at.slider(key="cnn_aug_rotation").value == 10.0
    assert at.slider(key="cnn_aug_shift").value == 0.2
    assert metrics(at)["Parameters"] == "286,940"


def test_a_link_opens_a_preset(tmp_path, monkeypatch):
    at = open_page(tmp_path, monkeypatch, preset="B11")
    assert at.slider(key="cnn_n_conv").value == 3
    assert at.slider(key="cnn_aug_noise").value == 0.05
    assert metrics(at)["Parameters"] == "286,940"


@pytest.mark.slow
def test_new_random_draws_redraws_the_preview(tmp_path, monkeypatch):
    at = open_page(tmp_path, monkeypatch)
    at.slider(key="cnn_aug_rotation").set_value(20.0).run()
    assert at.session_state["cnn_preview_seed"] == 0
    at.button(key="cnn_redraw").click().run()
    assert not at.exception, at.exception
    assert at.session_state["cnn_preview_seed"] == 1


def test_a_network_that_shrinks_the_image_to_nothing_is_an_error_not_a_crash(tmp_path, monkeypatch):
    at = open_page(tmp_path, monkeypatch)
    at.slider(key="cnn_n_conv").set_value(3).run()
    for i in (1, 2, 3):
        at.select_slider(key=f"cnn_conv{i}_kernel").set_value(9)
        at.select_slider(key=f"cnn_conv{i}_stride").set_value(4)
        at.selectbox(key=f"cnn_conv{i}_padding").set_value("valid")
    at.run()
    assert not at.exception, at.exception
    assert any("shrinks the image to nothing" in e.value for e in at.error)
    assert at.button(key="cnn_train").disabled


@pytest.mark.slow
def test_train_a_tiny_cnn_and_look_inside(tmp_path, monkeypatch):
    at = open_page(tmp_path, monkeypatch)
    make_tiny_cnn(at)
    at.button(key="cnn_train").click().run()
    assert not at.exception, at.exception
    shown = metrics(at)
    assert shown["Epochs trained"] == "1 / 1"
    assert shown["Test accuracy"].endswith("%")
    assert "Moved 2-4 pixels" in shown
    lines = bold_lines(at)
    assert "**First conv layer: 4 kernels of 5x5**" in lines
    # The feature maps have the shapes of the layer table: 14x14x4, then 14x14x2 before pooling.
    assert "**conv_1**: 4 feature maps of 14x14" in lines
    assert "**conv_2**: 2 feature maps of 14x14" in lines
    assert len(RunStore(tmp_path).list()) == 1
    # The stage replays the training: the kernels, the feature maps of the film's digit, every snapshot.
    film = RunStore(tmp_path).get(RunStore(tmp_path).list()[0].run_id).film
    assert at.select_slider(key="cnn_replay").value == len(film) - 1
    assert "**First convolution**: its kernels, epoch 1" in lines
    assert any(caption.startswith("conv_2: feature maps of the digit") for i in at.image for caption in i.captions)
    at.select_slider(key="cnn_replay").set_value(0).run()
    assert not at.exception, at.exception
    assert "**First convolution**: its kernels, untrained" in bold_lines(at)

    # The digit drawn on the Draw page is offered too, and looked inside.
    digit = load_source("sample").x_test[3].reshape(28, 28) / 255.0
    at.session_state["drawn_digit"] = digit.astype(np.float32)
    at.run()
    at.radio(key="cnn_digit_source").set_value("drawn").run()
    assert not at.exception, at.exception
    assert "**conv_1**: 4 feature maps of 14x14" in bold_lines(at)
    assert any("reads it as a" in m.value for m in at.markdown)


@pytest.mark.slow
def test_the_b_series_table_shows_stored_presets_and_trains_missing_ones(tmp_path, monkeypatch):
    store = RunStore(tmp_path)
    store.save(train(check_network(get_preset("B2").capped(1).spec)))
    at = open_page(tmp_path, monkeypatch)
    table = at.table[-1].value.set_index("Preset")
    assert table.loc["B2", "Status"] == "trained, capped at 1 epochs"
    assert table.loc["B2", "Our accuracy"].endswith("%")
    assert table.loc["B2", SHIFTED].endswith("%")
    assert table.loc["B2", "Course accuracy"] == "93.73%"
    assert table.loc["B6", "Status"] == "not trained yet"

    at.selectbox(key="cnn_missing").set_value("B6")
    at.selectbox(key="cnn_cap").set_value(1)
    at.button(key="cnn_train_missing").click().run()
    assert not at.exception, at.exception
    table = at.table[-1].value.set_index("Preset")
    assert table.loc["B6", "Status"] == "trained, capped at 1 epochs"
    assert table.loc["B6", SHIFTED].endswith("%")


def test_a_link_to_an_unknown_preset_is_reported_and_opens_on_b6(tmp_path, monkeypatch):
    at = open_page(tmp_path, monkeypatch, preset="Q9", seed="4")
    assert any("Unknown preset 'Q9'" in w.value for w in at.warning)
    assert metrics(at)["Parameters"] == "98,820"  # the course's B6
    assert at.number_input(key="cnn_seed").value == 4, "the link's other settings still apply"


def test_a_link_with_every_setting_changed_comes_back_from_the_widgets(tmp_path, monkeypatch):
    # The CNN page draws the conv blocks and augmentation too: every setting, read from the spec itself.
    from lab.codec import spec_from_query, spec_to_query
    from lab.spec import SETTINGS
    from tests.spec_examples import every_setting_changed

    spec = every_setting_changed()
    at = open_page(tmp_path, monkeypatch, **spec_to_query(spec))
    assert not at.exception, [e.value for e in at.exception]
    for key, value in spec.settings().items():
        if SETTINGS[key].widget.kind != "custom":
            assert at.session_state["cnn_" + key] == value, key
    assert spec_from_query(dict(at.query_params)) == spec
