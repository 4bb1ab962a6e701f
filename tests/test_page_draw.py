"""The Draw page under AppTest: a drawing injected through the canvas' session state.

The live canvas (``ui.draw.canvas``, a components v2 element) keeps its state in
session state under the canvas key as ``{"drawing": {"data": <PNG data URL>, "strokes": n}}``;
the browser sets it when a stroke ends. Setting that value and rerunning is what
lifting the pen does; the browser's own live answers are tested in tests/browser.
"""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from lab.analysis.canvas import digit_to_canvas, to_mnist
from lab.analysis.predictor import preprocess_file
from lab.data.sources import load_source
from lab.nn.snapshots import FILE_NAME as FILM_FILE
from lab.nn.snapshots import place_digit
from lab.runs.engines import get_or_train
from lab.runs.queries import digit_runs, load_predictor
from lab.runs.store import RunStore
from lab.spec import ConvBlock, ExperimentSpec
from tests import apptest_support

CANVAS_KEY = "draw_canvas"
TINY_MLP = ExperimentSpec(data="sample", hidden=(32,), epochs=2, batch_size=64)
TINY_RUNS = (
    TINY_MLP,
    TINY_MLP.replace(dropout=0.2),
    ExperimentSpec(data="sample", conv=(ConvBlock(filters=4, kernel_size=3, pool=2),), hidden=(16,), epochs=1,
                   batch_size=64),
)  # fmt: skip
BIG_DIGIT = re.compile(r"font-size:6\.5rem[^>]*>(\d)</div>")


@pytest.fixture(scope="module")
def seeded_home(tmp_path_factory) -> Path:
    """A store with two tiny MLPs (with and without dropout) and a tiny CNN."""
    home = tmp_path_factory.mktemp("draw-runs")
    store = RunStore(home)
    for spec in TINY_RUNS:
        get_or_train(spec, store)
    return home


def open_page(home: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    return apptest_support.open_page("draw", home, monkeypatch)


def data_url(rgba: np.ndarray) -> str:
    buf = io.BytesIO()
    Image.fromarray(rgba).save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def draw(at: AppTest, rgba: np.ndarray) -> AppTest:
    """What a stroke in the browser does: the canvas sends its objects and its pixels."""
    at.session_state[CANVAS_KEY] = {"drawing": {"data": data_url(rgba), "strokes": 1}}
    at.run()
    assert not at.exception, at.exception
    return at


def shown_digit(at: AppTest) -> int | None:
    for block in at.markdown:
        match = BIG_DIGIT.search(block.value)
        if match:
            return int(match.group(1))
    return None


def texts(at: AppTest) -> str:
    return " ".join(e.value for kind in ("markdown", "info", "warning", "error", "caption") for e in getattr(at, kind))


@pytest.fixture(scope="module")
def sample_digit() -> tuple[np.ndarray, int]:
    """A clear sample test digit (a 0) and its label."""
    source = load_source("sample")
    index = int(np.flatnonzero(source.y_test == 0)[0])
    return source.x_test[index], int(source.y_test[index])


# ----------------------------------------------------------------- empty store
def test_empty_store_offers_the_starter_model(tmp_path, monkeypatch):
    at = open_page(tmp_path / "empty", monkeypatch)
    assert "no trained model yet" in texts(at).lower()
    assert at.button(key="draw_train_starter").label == "Train a starter model"
    assert not at.get("bidi_component")  # no canvas without a model


@pytest.mark.slow
def test_starter_button_trains_a_model_then_the_canvas_appears(tmp_path, monkeypatch):
    home = tmp_path / "starter"
    at = open_page(home, monkeypatch)
    at.button(key="draw_train_starter").click().run()
    assert not at.exception, at.exception
    runs = digit_runs(RunStore(home))
    assert len(runs) == 1 and runs[0].test_accuracy > 0.85
    assert "draw a digit" in texts(at).lower()
    assert at.get("bidi_component")


# --------------------------------------------------------------- drawing
@pytest.mark.slow
def test_empty_canvas_prompts_to_draw(seeded_home, monkeypatch):
    at = open_page(seeded_home, monkeypatch)
    assert len(at.get("bidi_component")) == 1
    assert any("draw a digit" in info.value.lower() for info in at.info)
    assert shown_digit(at) is None and not at.table


@pytest.mark.slow
def test_drawing_shows_prediction_chart_table_and_units(seeded_home, monkeypatch, sample_digit):
    digit, label = sample_digit
    rgba = digit_to_canvas(digit, scale=8, offset=(25, -20), thickness=3, canvas_size=280)
    at = draw(open_page(seeded_home, monkeypatch), rgba)

    runs = digit_runs(RunStore(seeded_home))
    best = load_predictor(runs[0].run_id, RunStore(seeded_home)).predict(to_mnist(rgba))
    assert at.selectbox(key="draw_model").value == runs[0].run_id  # best model by default
    assert shown_digit(at) == best.digit == label
    assert f"{best.probability:.1%}" in texts(at)
    assert len(at.get("vega_lite_chart")) == 2  # the ten probabilities, the hidden-layer map
    assert any("28 x 28" in caption for img in at.get("image") for caption in img.captions)
    film = RunStore(seeded_home).film(runs[0].run_id)
    placed = place_digit(load_predictor(runs[0].run_id, RunStore(seeded_home)).model, film, to_mnist(rgba))
    assert f"your drawing lands among the **{placed.among}**s" in texts(at)

    table = at.table[0].value
    assert len(table) == len(TINY_RUNS)
    assert set(table["run"]) == {spec.run_id for spec in TINY_RUNS}
    assert set(table["kind"]) == {"MLP", "MLP + dropout", "CNN"}
    assert list(table["chosen"]).count("✓") == 1 and table.loc[table["chosen"] == "✓", "run"].item() == runs[0].run_id
    assert table["predicts"].between(0, 9).all() and table["probability"].str.endswith("%").all()
    assert set(table["model"]) == {spec.describe() for spec in TINY_RUNS}  # plain words, in full

    assert "fire" in texts(at) and re.search(r"Preprocessing \+ prediction: [\d.]+ ms", texts(at))


@pytest.mark.slow
def test_a_model_stored_before_snapshots_has_no_map_and_says_why(seeded_home, monkeypatch, sample_digit, tmp_path):
    home = tmp_path / "old"
    shutil.copytree(seeded_home, home)
    for film in home.glob(f"*/{FILM_FILE}"):
        film.unlink()  # as a run stored before the lab kept snapshots
    at = draw(open_page(home, monkeypatch), digit_to_canvas(sample_digit[0], scale=8, thickness=3))
    assert shown_digit(at) is not None
    assert "trained before the lab kept snapshots" in texts(at) and len(at.get("vega_lite_chart")) == 1


@pytest.mark.slow
def test_the_clear_button_empties_the_canvas(seeded_home, monkeypatch, sample_digit):
    at = draw(open_page(seeded_home, monkeypatch), digit_to_canvas(sample_digit[0], scale=8, thickness=3))
    assert shown_digit(at) is not None
    at.session_state[CANVAS_KEY] = {"drawing": None}  # the canvas' Clear button, in the browser
    at.run()
    assert not at.exception, at.exception
    assert shown_digit(at) is None, "no answer without a drawing"
    assert any("draw a digit" in info.value.lower() for info in at.info)
    assert len(at.get("bidi_component")) == 1  # a fresh canvas, ready for the next digit


@pytest.mark.slow
def test_centering_toggle_changes_what_the_model_sees(seeded_home, monkeypatch, sample_digit):
    small_in_corner = digit_to_canvas(sample_digit[0], scale=4, offset=(-80, -80), thickness=1, canvas_size=280)
    at = draw(open_page(seeded_home, monkeypatch), small_in_corner)
    assert shown_digit(at) is not None
    at.toggle(key="draw_center").set_value(False).run()
    assert not at.exception
    assert "Not centered" in texts(at)
    assert shown_digit(at) is not None  # still an answer, from the uncentered image


@pytest.mark.slow
def test_a_dot_is_not_a_digit(seeded_home, monkeypatch):
    canvas = np.zeros((280, 280, 4), np.uint8)
    canvas[..., 3] = 255
    canvas[140:146, 140:146, :3] = 255
    at = draw(open_page(seeded_home, monkeypatch), canvas)
    assert any("too small" in w.value for w in at.warning)
    assert shown_digit(at) is None


@pytest.mark.slow
def test_choosing_the_cnn_shows_its_filters_and_feature_maps(seeded_home, monkeypatch, sample_digit):
    at = open_page(seeded_home, monkeypatch)
    cnn = TINY_RUNS[2].run_id
    at.selectbox(key="draw_model").set_value(cnn).run()
    draw(at, digit_to_canvas(sample_digit[0], scale=10, thickness=2))
    table = at.table[0].value
    assert table.loc[table["chosen"] == "✓", "run"].item() == cnn
    assert "first-layer filters (`conv_1`)" in texts(at)
    assert shown_digit(at) is not None


# ----------------------------------------------------------------- upload
def upload(at: AppTest, name: str, content: bytes, mime: str = "image/png") -> AppTest:
    at.radio(key="draw_source").set_value("Upload a photo").run()
    at.file_uploader(key="draw_upload").set_value((name, content, mime)).run()
    assert not at.exception, at.exception
    return at


@pytest.mark.slow
def test_uploaded_photo_of_a_paper_digit_is_predicted(seeded_home, monkeypatch, sample_digit):
    digit, _ = sample_digit
    paper = Image.fromarray(255 - digit.reshape(28, 28).astype(np.uint8)).resize((300, 300), Image.BICUBIC)
    buf = io.BytesIO()
    paper.convert("RGB").save(buf, "JPEG", quality=90)
    at = upload(open_page(seeded_home, monkeypatch), "zero.jpg", buf.getvalue(), "image/jpeg")
    assert not at.error
    best = digit_runs(RunStore(seeded_home))[0].run_id
    expected = load_predictor(best, RunStore(seeded_home)).predict(preprocess_file(buf.getvalue()))
    assert shown_digit(at) == expected.digit  # the CLI's pipeline, the same answer
    assert any(caption == "zero.jpg" for img in at.get("image") for caption in img.captions)
    assert at.table and len(at.get("vega_lite_chart")) == 2  # the ten probabilities, the hidden-layer map


@pytest.mark.slow
def test_upload_that_is_not_an_image_gets_a_clear_error(seeded_home, monkeypatch):
    at = upload(open_page(seeded_home, monkeypatch), "digit.png", b"this is a text file, not a picture")
    assert len(at.error) == 1 and "not an image" in at.error[0].value
    assert shown_digit(at) is None


@pytest.mark.slow
def test_huge_image_gets_a_clear_error(seeded_home, monkeypatch):
    huge = Image.new("1", (6000, 5000))  # 30 million pixels in a small file
    buf = io.BytesIO()
    huge.save(buf, "PNG")
    at = upload(open_page(seeded_home, monkeypatch), "huge.png", buf.getvalue())
    assert len(at.error) == 1 and "too large" in at.error[0].value
    assert shown_digit(at) is None


@pytest.mark.slow
def test_a_16_bit_png_upload_is_shown_and_predicted_not_an_exception(seeded_home, monkeypatch, sample_digit):
    digit, _ = sample_digit
    paper = Image.fromarray(255 - digit.reshape(28, 28).astype(np.uint8)).resize((300, 300), Image.BICUBIC)
    wide = Image.fromarray(np.asarray(paper, dtype=np.uint16) * 257)  # the same picture in 16 bits (I;16)
    assert wide.mode == "I;16"
    buf = io.BytesIO()
    wide.save(buf, "PNG")
    at = upload(open_page(seeded_home, monkeypatch), "scan16.png", buf.getvalue())
    assert not at.error, [e.value for e in at.error]
    assert shown_digit(at) is not None
    assert any(caption == "scan16.png" for img in at.get("image") for caption in img.captions)


@pytest.mark.slow
def test_an_upload_s_name_is_a_plain_caption(seeded_home, monkeypatch, sample_digit):
    digit, _ = sample_digit
    buf = io.BytesIO()
    Image.fromarray(255 - digit.reshape(28, 28).astype(np.uint8)).resize((200, 200)).save(buf, "PNG")
    at = upload(open_page(seeded_home, monkeypatch), "[x](https:evil.example).png", buf.getvalue())
    captions = [caption for img in at.get("image") for caption in img.captions]
    assert "\\[x\\](https\u2060:evil.example).png" in captions, captions


# ------------------------------------------------------------ the live canvas
def canvas_data(at: AppTest) -> dict:
    """What the page hands the live canvas (the component's JSON data)."""
    return json.loads(at.get("bidi_component")[0].proto.json)


@pytest.mark.slow
def test_the_canvas_gets_every_listed_model_once_then_only_their_names(seeded_home, monkeypatch):
    at = open_page(seeded_home, monkeypatch)
    data = canvas_data(at)
    runs = digit_runs(RunStore(seeded_home))
    assert [m["run"] for m in data["models"]] == [info.run_id for info in runs]
    assert data["chosen"] == runs[0].run_id and data["center"] is True
    assert all(m["ops"] and m["ops"][-1]["act"] == "softmax" for m in data["models"])  # the weights, this time
    # The browser reports the models it holds: the next run sends their names only.
    held = [f"{m['run']}@{m['created']}" for m in data["models"]]
    at.session_state[CANVAS_KEY] = {"drawing": None, "cached": held}
    at.run()
    assert not at.exception, at.exception
    again = canvas_data(at)
    assert [m["run"] for m in again["models"]] == [info.run_id for info in runs]
    assert not any("ops" in m for m in again["models"]) and again["cached"] == sorted(held)
