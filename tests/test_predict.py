"""The prediction pipeline shared by the Draw page and `python -m lab predict`.

The model-based check of the canvas preprocessing lives here: real MNIST digits
drawn 10x larger on a 280x280 canvas, off-center and with thicker strokes, must
come back as 28x28 images a trained model reads about as well as the originals.
Measured with the 3-epoch model below on the first 500 sample test digits:
originals 89.8%, canvas round trip 90.2% (keras 3.15 / TF 2.21 CPU).
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lab.analysis.canvas import digit_to_canvas, to_mnist
from lab.analysis.images import enlarge, signed_to_rgb
from lab.analysis.predictor import STARTER_SPEC, Prediction, Predictor, has_ink, model_kind, preprocess_file
from lab.architecture import check_network
from lab.bench.predict import PredictBench, bench_predict
from lab.cli.main import main
from lab.data.prepare import prepare
from lab.runs.queries import compare_runs, digit_runs, load_predictor
from lab.runs.store import RunStore
from lab.spec import Augmentation, ConvBlock, ExperimentSpec

ROOT = Path(__file__).resolve().parents[1]
SMALL = ExperimentSpec(data="sample", hidden=(64,), epochs=3, batch_size=64)
ROUND_TRIP_DIGITS = 500
# A round trip through the canvas may cost a little accuracy (strokes thickened,
# whole-pixel centering), not more than this.
MAX_ACCURACY_LOSS = 0.04


@pytest.fixture(scope="module")
def trained():
    """A small MLP trained for 3 epochs on the offline sample (a few seconds)."""
    from lab.nn.trainer import train

    return train(check_network(SMALL))


@pytest.fixture(scope="module")
def predictor(trained) -> Predictor:
    return Predictor.from_result(trained)


@pytest.fixture(scope="module")
def sample_test():
    """The sample's test digits as uint8 (n, 784) and their labels."""
    from lab.data.sources import load_source

    source = load_source("sample")
    return source.x_test, source.y_test


@pytest.fixture(scope="module")
def store_with_run(trained, tmp_path_factory) -> RunStore:
    store = RunStore(tmp_path_factory.mktemp("predict-runs"))
    store.save(trained)
    return store


def paper_png(digit784: np.ndarray, side: int = 200) -> bytes:
    """A sample digit as a photo would show it: dark ink on light paper, PNG."""
    big = Image.fromarray(255 - digit784.reshape(28, 28).astype(np.uint8)).resize((side, side), Image.BICUBIC)
    buf = io.BytesIO()
    big.save(buf, "PNG")
    return buf.getvalue()


# ------------------------------------------------- preprocessing with a model
@pytest.mark.slow
def test_real_digits_drawn_on_a_canvas_are_read_as_well_as_the_originals(predictor, sample_test):
    images, labels = sample_test[0][:ROUND_TRIP_DIGITS], sample_test[1][:ROUND_TRIP_DIGITS]
    rng = np.random.default_rng(0)
    round_trip = []
    for digit in images:
        offset = tuple(int(v) for v in rng.integers(-35, 36, size=2))  # off-center, inside the 280 canvas
        rgba = digit_to_canvas(digit, scale=10, offset=offset, thickness=int(rng.integers(2, 6)))
        image = to_mnist(rgba)
        assert image is not None and image.shape == (28, 28)
        round_trip.append(image)
    original_acc = float(np.mean(predictor.probabilities(images / 255.0).argmax(1) == labels))
    canvas_acc = float(np.mean(predictor.probabilities(np.stack(round_trip)).argmax(1) == labels))
    print(f"\noriginals {original_acc:.1%}, drawn on the canvas and preprocessed {canvas_acc:.1%}")
    assert original_acc > 0.85
    assert canvas_acc >= original_acc - MAX_ACCURACY_LOSS


def test_skipping_the_centering_hurts_a_small_corner_digit(predictor, sample_test):
    """Why the page's centering toggle exists: an off-center small digit is misread without it."""
    images, labels = sample_test[0][:100], sample_test[1][:100]
    centered, uncentered = [], []
    for digit in images:
        rgba = digit_to_canvas(digit, scale=5, offset=(-60, -60), thickness=2, canvas_size=280)
        centered.append(to_mnist(rgba, center=True))
        uncentered.append(to_mnist(rgba, center=False))
    acc_centered = np.mean(predictor.probabilities(np.stack(centered)).argmax(1) == labels)
    acc_uncentered = np.mean(predictor.probabilities(np.stack(uncentered)).argmax(1) == labels)
    assert acc_centered > 0.8
    assert acc_uncentered < acc_centered - 0.3


# ------------------------------------------------------------- the predictor
def test_probabilities_match_keras_predict(trained, predictor, sample_test):
    images = sample_test[0][:64] / 255.0
    ours = predictor.probabilities(images)
    keras_probs = trained.model.predict(images.astype(np.float32), verbose=0)
    np.testing.assert_allclose(ours, keras_probs, atol=1e-5)
    assert ours.shape == (64, 10)
    np.testing.assert_allclose(ours.sum(axis=1), 1.0, atol=1e-5)


def test_one_image_and_its_batch_agree(predictor, sample_test):
    image = sample_test[0][3].reshape(28, 28) / 255.0
    single = predictor.predict(image)
    assert isinstance(single, Prediction)
    batch = predictor.probabilities(np.stack([image, image]))
    np.testing.assert_allclose(batch[0], single.probs, atol=1e-6)
    assert single.digit == int(np.argmax(single.probs))
    assert single.probability == pytest.approx(float(single.probs.max()))


def test_training_mean_is_subtracted_for_centered_runs(trained):
    mean = np.linspace(0, 0.5, 784, dtype=np.float32)
    centered = Predictor(trained.model, trained.spec.replace(center=True), mean)
    image = np.random.default_rng(1).random((28, 28), dtype=np.float32)
    np.testing.assert_allclose(centered.inputs(image), image.reshape(1, 784) - mean, atol=1e-7)
    np.testing.assert_allclose(centered.inputs(np.stack([image] * 3)), np.tile(image.reshape(1, 784) - mean, (3, 1)))
    raw = np.asarray(trained.model(image.reshape(1, 784) - mean, training=False))
    np.testing.assert_allclose(centered.predict(image).probs, raw[0], atol=1e-5)


def test_the_units_that_fire_are_the_first_layers_strongest(trained, predictor, sample_test):
    image = sample_test[0][0].reshape(28, 28) / 255.0
    prediction, view = predictor.predict_with_units(image, top=8)
    kernel, bias = trained.model.get_layer("hidden_1").get_weights()
    expected = np.maximum(image.reshape(1, 784) @ kernel + bias, 0)[0]  # relu(xW + b)
    assert view.layer == "hidden_1" and view.kind == "dense" and view.total == 64
    np.testing.assert_array_equal(view.units, np.argsort(-expected, kind="stable")[:8])
    np.testing.assert_allclose(view.activations, expected[view.units], rtol=1e-4, atol=1e-5)
    assert list(view.activations) == sorted(view.activations, reverse=True)
    assert view.filters.shape == (8, 28, 28)
    np.testing.assert_allclose(view.filters[0], kernel[:, view.units[0]].reshape(28, 28))
    assert view.active == int((expected > 0).sum())
    assert prediction.digit == predictor.predict(image).digit


def test_cnn_units_are_conv_filters_with_feature_maps():
    import keras

    from lab.nn.model import build_model

    spec = ExperimentSpec(conv=(ConvBlock(filters=6, kernel_size=3, pool=2),), hidden=(8,))
    keras.utils.set_random_seed(0)
    prediction, view = Predictor(build_model(spec), spec).predict_with_units(np.ones((28, 28)) * 0.5, top=4)
    assert view.layer == "conv_1" and view.kind == "conv" and view.total == 6
    assert view.filters.shape == (4, 3, 3) and view.maps.shape == (4, 28, 28)
    assert list(view.activations) == sorted(view.activations, reverse=True)
    assert prediction.probs.shape == (10,)


@pytest.mark.parametrize(
    ("spec", "layer", "total"),
    [
        (ExperimentSpec(hidden=()), "output", 10),  # logistic regression: the ten class templates
        (ExperimentSpec(hidden=(12,), batchnorm="before"), "hidden_1", 12),  # activation read after BN
        (ExperimentSpec(hidden=(12,), augmentation=Augmentation(rotation=10)), "hidden_1", 12),
    ],
)
def test_units_for_other_architectures(spec, layer, total):
    import keras

    from lab.nn.model import build_model

    keras.utils.set_random_seed(0)
    _, view = Predictor(build_model(spec), spec).predict_with_units(np.full((28, 28), 0.3, np.float32), top=5)
    assert view.layer == layer and view.total == total
    assert view.filters.shape == (5, 28, 28)
    if spec.batchnorm == "before":
        assert (view.activations >= 0).all()  # post-ReLU, not the Dense output before BN


def test_sigmoid_outputs_are_shown_as_shares():
    import keras

    from lab.nn.model import build_model

    spec = ExperimentSpec(hidden=(8,), output="sigmoid_mse", activation="sigmoid")
    keras.utils.set_random_seed(0)
    probs = Predictor(build_model(spec), spec).probabilities(np.full((2, 784), 0.2, np.float32))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)


# ------------------------------------------------------------------ the store
def test_digit_runs_best_first_without_unusable_runs(trained, tmp_path):
    store = RunStore(tmp_path)

    def save(spec, accuracy, *, model=True, diverged=False):
        loader = trained.model_loader if model else None
        result = dataclasses.replace(trained, spec=spec, test_accuracy=accuracy, diverged=diverged, model_loader=loader)
        store.save(result)
        return spec.run_id

    worse = save(SMALL.replace(seed=1), 0.80)
    best = save(SMALL.replace(seed=2), 0.95)
    save(SMALL.replace(seed=3), 0.99, diverged=True)
    save(SMALL.replace(seed=4, data="fashion"), 0.99)
    save(SMALL.replace(seed=5), 0.99, model=False)
    assert [info.run_id for info in digit_runs(store)] == [best, worse]


def test_compare_runs_rows(predictor, store_with_run, sample_test):
    infos = digit_runs(store_with_run)
    rows = compare_runs([(infos[0], predictor)], sample_test[0][0].reshape(28, 28) / 255.0)
    assert rows[0]["run"] == infos[0].run_id and rows[0]["kind"] == "MLP"
    assert 0 <= rows[0]["predicts"] <= 9 and 0 < rows[0]["probability"] <= 1


def test_model_kind_names_the_techniques():
    assert model_kind(ExperimentSpec()) == "MLP"
    assert model_kind(ExperimentSpec(dropout=0.2)) == "MLP + dropout"
    assert model_kind(ExperimentSpec(conv=(ConvBlock(),), l2=1e-4)) == "CNN + L2"
    assert model_kind(ExperimentSpec(batchnorm="after", augmentation=Augmentation(noise=0.1))) == (
        "MLP + batch norm, augmentation"
    )


def test_load_unknown_run_says_what_to_do(tmp_path):
    with pytest.raises(ValueError, match="python -m lab runs"):
        load_predictor("000000000000", RunStore(tmp_path))


# ----------------------------------------------------------------- helpers
def test_has_ink():
    canvas = np.zeros((280, 280, 4), np.uint8)
    canvas[..., 3] = 255
    assert not has_ink(canvas) and not has_ink(None)
    canvas[100:104, 100:104, :3] = 255
    assert has_ink(canvas)
    transparent = np.zeros((280, 280, 4), np.uint8)
    transparent[..., :3] = 255  # white but fully transparent: nothing drawn
    assert not has_ink(transparent)


def test_enlarge_and_signed_colors():
    image = np.zeros((28, 28), np.float32)
    image[3, 4] = 1.0
    big = enlarge(image, 10)
    assert big.shape == (280, 280) and big.dtype == np.uint8
    assert big[30:40, 40:50].min() == 255 and big.sum() == 255 * 100
    rgb = signed_to_rgb(np.array([[1.0, -1.0], [0.0, 0.5]]), factor=3)
    assert rgb.shape == (6, 6, 3)
    assert tuple(rgb[0, 0]) == (255, 0, 0)  # most positive: red
    assert rgb[0, 3, 2] == 255 and rgb[0, 3, 0] == 0  # most negative: blue
    assert tuple(rgb[3, 0]) == (255, 255, 255)  # zero: white


def test_preprocess_file_reads_a_paper_photo_and_refuses_other_files(sample_test):
    image = preprocess_file(paper_png(sample_test[0][0]))
    assert image.shape == (28, 28) and image.max() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="not an image"):
        preprocess_file(b"%PDF-1.4 this is no picture")


# ----------------------------------------------------------------- the CLI
def write_files(folder: Path, sample_test, count: int) -> tuple[list[str], np.ndarray]:
    paths = []
    for i in range(count):
        path = folder / f"digit_{i:03d}.png"
        path.write_bytes(paper_png(sample_test[0][i], side=120))
        paths.append(str(path))
    return paths, sample_test[1][:count]


@pytest.mark.slow
def test_cli_predicts_hundreds_of_files_in_one_model_call(predictor, store_with_run, sample_test, tmp_path, capsys):
    paths, labels = write_files(tmp_path, sample_test, 200)
    calls = []
    original = Predictor.probabilities

    def counting(self, images):
        calls.append(len(images))
        return original(self, images)

    run_id = digit_runs(store_with_run)[0].run_id
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Predictor, "probabilities", counting)
        code = main(["predict", "--run", run_id, "--home", str(store_with_run.home), "--json", *paths])
    assert code == 0
    assert calls == [200]  # preprocess all, then one batch
    answers = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [a["file"] for a in answers] == paths
    assert all(len(a["probs"]) == 10 and abs(sum(a["probs"]) - 1) < 1e-3 for a in answers)
    accuracy = np.mean([a["digit"] == label for a, label in zip(answers, labels, strict=True)])
    assert accuracy > 0.8  # the same model reads photos of paper digits


def test_cli_plain_output_defaults_to_best_run_and_reports_bad_files(store_with_run, sample_test, tmp_path, capsys):
    paths, labels = write_files(tmp_path, sample_test, 2)
    bad = tmp_path / "notes.txt"
    bad.write_text("not an image")
    blank = tmp_path / "blank.png"
    Image.new("L", (100, 100), 240).save(blank)
    code = main(["predict", "--home", str(store_with_run.home), paths[0], str(bad), str(blank), paths[1]])
    captured = capsys.readouterr()
    assert code == 1
    lines = captured.out.splitlines()
    assert len(lines) == 2 and lines[0].startswith(f"{paths[0]}: ") and "%" in lines[0]
    assert f"{bad}: error: This file is not an image" in captured.err
    assert f"{blank}: error: no digit found" in captured.err


def test_cli_without_runs_is_a_message_not_a_traceback(tmp_path, capsys):
    assert main(["predict", "--home", str(tmp_path), "x.png"]) == 2
    assert "train one first" in capsys.readouterr().err


@pytest.mark.slow
def test_python_m_lab_predict_json(store_with_run, sample_test, tmp_path):
    paths, labels = write_files(tmp_path, sample_test, 3)
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    run_id = digit_runs(store_with_run)[0].run_id
    env = {**os.environ, "MLP_LAB_HOME": str(store_with_run.home)}
    proc = subprocess.run(
        [sys.executable, "-m", "lab", "predict", "--run", run_id, "--json", *paths, str(bad)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    objects = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [o["file"] for o in objects] == [*paths, str(bad)]
    assert {"digit", "probability", "probs"} <= set(objects[0])
    assert "error" in objects[-1] and "digit" not in objects[-1]


# --------------------------------------------------------------- benchmark
@pytest.mark.slow
def test_bench_predict_compares_with_model_predict():
    result = bench_predict(repeats=5)
    assert isinstance(result, PredictBench)
    assert result.direct_ms > 0 and result.predict_ms > 0 and result.preprocess_ms > 0
    assert result.ratio > 1.5  # model.predict's per-call set-up dwarfs a small MLP's forward pass
    assert "model.predict" in str(result)


def test_starter_spec_is_small_and_valid():
    check_network(STARTER_SPEC)
    assert STARTER_SPEC.data == "sample" and STARTER_SPEC.hidden == (128,) and STARTER_SPEC.epochs <= 10
    assert prepare(STARTER_SPEC).x_train.shape[1] == 784
