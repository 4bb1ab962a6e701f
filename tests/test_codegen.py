"""The generated Keras script runs, and builds and trains exactly what the lab does."""

from __future__ import annotations

import ast

import numpy as np
import pytest

from lab.architecture import count_params
from lab.reports.keras_script import keras_script
from lab.spec import Augmentation, ConvBlock, ExperimentSpec

# A few hundred digits, two short epochs: enough to compare, fast on two shared cores.
RICH = ExperimentSpec(
    data="sample",
    train_subset=300,
    hidden=(24, 12),
    activation="relu",
    initializer="he_normal",
    batchnorm="before",
    dropout=0.2,
    l2=1e-4,
    optimizer="sgd",
    learning_rate=0.05,
    momentum=0.9,
    nesterov=True,
    center=True,
    batch_size=50,
    epochs=2,
    early_stopping=3,
    es_monitor="val_accuracy",
)

VARIANTS = {
    "logistic regression, every k-th image, Keras-style last validation": ExperimentSpec(
        train_subset=0.05, subset_mode="every", val_mode="last", val_split=0.3, hidden=(), optimizer="sgd", epochs=1
    ),
    "sigmoid + MSE, L2 off the output, random normal init, first images": ExperimentSpec(
        train_subset=200,
        subset_mode="first",
        hidden=(16,),
        activation="sigmoid",
        output="sigmoid_mse",
        l2=1e-3,
        l2_output=False,
        initializer="random_normal",
        init_stddev=0.1,
        epochs=1,
    ),
    "batch norm after, course init, validate on test": ExperimentSpec(
        train_subset=200, hidden=(20, 10, 8), batchnorm="after", initializer="course_normal", val_mode="test", epochs=1
    ),
    "convolutions with augmentation": ExperimentSpec(
        train_subset=200,
        conv=(ConvBlock(4, 5, strides=2, pool=2, dropout=0.25), ConvBlock(8, 3, padding="valid", l2=1e-4)),
        hidden=(10,),
        augmentation=Augmentation(rotation=10, shift=0.1, shear=0.1, zoom=0.1, noise=0.05),
        epochs=1,
    ),
}


def run_script(spec: ExperimentSpec) -> dict:
    """Execute the generated script and return its namespace."""
    namespace: dict = {"__name__": "generated_script"}
    exec(compile(keras_script(spec), "generated_script.py", "exec"), namespace)  # noqa: S102 - the code under test
    return namespace


def layer_signature(model) -> list[tuple[str, int, tuple]]:
    """(kind, parameters, output shape) of each layer; the augmentation block counts as one."""
    out = []
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "InputLayer":
            continue
        if layer.name == "augment":
            kind = "augment"
        out.append((kind, layer.count_params(), tuple(layer.output.shape[1:])))
    return out


def test_script_is_valid_python_in_the_course_style():
    source = keras_script(RICH)
    ast.parse(source)
    for expected in ("Sequential()", "model.add(Dense(24", "model.compile(", "model.fit(", "BatchNormalization()",
                     "optimizers.SGD(learning_rate=0.05, momentum=0.9, nesterov=True)", "EarlyStopping("):  # fmt: skip
        assert expected in source
    assert "lab." not in source.replace("MLP Lab", ""), "the script must run without the lab installed"


@pytest.mark.slow
def test_script_prepares_the_same_data_and_builds_the_same_model_as_the_lab(capsys):
    from lab.data.prepare import prepare
    from lab.nn.model import build_model

    namespace = run_script(RICH)
    data = prepare(RICH)
    for name, lab_array in (("X_train", data.x_train), ("X_val", data.x_val), ("X_test", data.x_test)):
        np.testing.assert_array_equal(namespace[name], lab_array, err_msg=name)
    np.testing.assert_array_equal(namespace["Y_train"].argmax(axis=1), data.labels_train)
    model = namespace["model"]
    assert model.count_params() == count_params(RICH) == build_model(RICH).count_params()
    assert layer_signature(model) == layer_signature(build_model(RICH))


@pytest.mark.slow
def test_script_reproduces_the_lab_trainers_numbers(capsys):
    """Same seed, same data, same layers: the script's run is the lab's run, epoch for epoch."""
    from lab.architecture import check_network
    from lab.nn.trainer import train

    namespace = run_script(RICH)
    result = train(check_network(RICH))
    script_history = namespace["history"].history
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        np.testing.assert_allclose(script_history[key], result.history[key], rtol=1e-5, err_msg=key)
    assert namespace["test_accuracy"] == pytest.approx(result.test_accuracy, abs=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("spec", VARIANTS.values(), ids=VARIANTS.keys())
def test_script_model_matches_the_lab_for_every_kind_of_spec(spec, capsys):
    from lab.nn.model import build_model

    namespace = run_script(spec)
    assert namespace["model"].count_params() == count_params(spec)
    assert layer_signature(namespace["model"]) == layer_signature(build_model(spec))
    assert 0.0 <= namespace["test_accuracy"] <= 1.0


@pytest.mark.slow
def test_script_reads_an_idx_folder(tmp_path, capsys):
    from lab.data.idx import write_idx
    from lab.data.prepare import prepare
    from lab.data.sources import load_source

    sample = load_source("sample")
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", sample.x_train[:400].reshape(-1, 28, 28))
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", sample.y_train[:400])
    write_idx(tmp_path / "t10k-images-idx3-ubyte", sample.x_test[:100].reshape(-1, 28, 28))
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", sample.y_test[:100])
    spec = ExperimentSpec(data=f"idx:{tmp_path}", hidden=(8,), epochs=1)
    namespace = run_script(spec)
    np.testing.assert_array_equal(namespace["X_train"], prepare(spec).x_train)
    np.testing.assert_array_equal(namespace["X_test"], prepare(spec).x_test)


RAW = ExperimentSpec(data="sample", train_subset=300, hidden=(16,), raw_pixels=True, epochs=2, batch_size=50)


@pytest.mark.slow
def test_raw_pixel_script_feeds_0_255_and_reproduces_the_lab(capsys):
    """The lab scales raw pixels inside the model; the script feeds them as the course did: same run."""
    from lab.architecture import check_network
    from lab.data.prepare import prepare
    from lab.nn.model import build_model
    from lab.nn.trainer import train

    source = keras_script(RAW)
    assert "/ np.float32(255.0)" not in source and "raw pixels 0-255" in source
    namespace = run_script(RAW)
    data = prepare(RAW)
    np.testing.assert_array_equal(namespace["X_train"], data.x_train * np.float32(255.0))
    assert namespace["X_train"].max() == 255.0
    lab_layers = [sig for sig in layer_signature(build_model(RAW)) if sig[0] != "Rescaling"]
    assert layer_signature(namespace["model"]) == lab_layers
    result = train(check_network(RAW))
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        np.testing.assert_allclose(namespace["history"].history[key], result.history[key], rtol=1e-5, err_msg=key)


@pytest.mark.parametrize(
    "folder",
    [
        'x""";__import__("os").system("id");"""',
        "x'''\nimport os\nos.system('id')\n'''",
        'x\\"""\n__import__("os").system("id")  # ',
    ],
)
def test_a_link_s_text_never_becomes_code_in_the_script(folder):
    # A shared link's data=idx:FOLDER reaches the script; whatever it holds, the script's statements are
    # exactly those generated for a plain folder name, and nothing calls what the link wrote.
    def statements(source: str) -> list[str]:
        return [type(node).__name__ for node in ast.walk(ast.parse(source)) if isinstance(node, ast.stmt)]

    script = keras_script(ExperimentSpec(data="idx:" + folder))
    assert statements(script) == statements(keras_script(ExperimentSpec(data="idx:plain")))
    names = {node.attr for node in ast.walk(ast.parse(script)) if isinstance(node, ast.Attribute)}
    assert "system" not in names
