"""The browser's model description: its NumPy forward pass equals Keras' on every layer kind the lab builds.

Models are built (not trained) with random weights and random batch-normalization
statistics, so that every folded term matters; the images are real sample digits.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from lab.analysis.export import decode, encode, export_predictor, forward, same_padding
from lab.analysis.predictor import Predictor
from lab.data.sources import load_source
from lab.spec import ConvBlock, ExperimentSpec

B7_CONV = (ConvBlock(10, 5, 2, "same"), ConvBlock(40, 5, 2, "same"), ConvBlock(80, 5, 1, "same"))
SPECS = {
    "mlp-bn-before-dropout": ExperimentSpec(data="sample", hidden=(64, 32), batchnorm="before", dropout=0.3),
    "mlp-bn-after-tanh": ExperimentSpec(data="sample", hidden=(48,), batchnorm="after", activation="tanh"),
    "logistic": ExperimentSpec(data="sample", hidden=()),
    "raw-pixels-sigmoid-mse": ExperimentSpec(
        data="sample", hidden=(20,), raw_pixels=True, output="sigmoid_mse", activation="sigmoid"
    ),
    "elu": ExperimentSpec(data="sample", hidden=(16,), activation="elu"),
    "selu": ExperimentSpec(data="sample", hidden=(16,), activation="selu"),
    "leaky": ExperimentSpec(data="sample", hidden=(16,), activation="leaky_relu"),
    "softplus": ExperimentSpec(data="sample", hidden=(16,), activation="softplus"),
    "b7-cnn": ExperimentSpec(data="sample", conv=B7_CONV, hidden=(100,)),
    "cnn-valid-pool-dropout": ExperimentSpec(
        data="sample",
        conv=(ConvBlock(6, 3, 1, "valid", pool=2, dropout=0.25), ConvBlock(8, 3, 2, "same")),
        hidden=(12,),
    ),
}


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    source = load_source("sample")
    return np.asarray(source.x_test[:20], dtype=np.float32).reshape(-1, 28, 28)


def random_predictor(spec: ExperimentSpec, centered: bool) -> Predictor:
    import keras

    from lab.nn.model import build_model

    keras.utils.set_random_seed(7)
    model = build_model(spec)
    rng = np.random.default_rng(3)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights([
                rng.uniform(0.5, 1.5, gamma.shape), rng.normal(0, 0.3, beta.shape),
                rng.normal(0, 0.5, mean.shape), rng.uniform(0.2, 2.0, var.shape),
            ])  # fmt: skip
    mean = rng.uniform(0, 0.3, 784).astype(np.float32) if centered else None
    return Predictor(model, spec, mean)


@pytest.mark.parametrize("name", list(SPECS))
def test_numpy_forward_of_the_description_equals_keras(name, digits):
    predictor = random_predictor(SPECS[name], centered=name.startswith("mlp"))
    description = json.loads(json.dumps(export_predictor(predictor)))  # what the page receives
    expected = predictor.probabilities(digits)
    got = np.stack([forward(description, image) for image in digits])
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert np.allclose(got.sum(axis=1), 1.0, atol=1e-5)


def test_batchnorm_and_dropout_leave_no_operation_of_their_own():
    description = export_predictor(random_predictor(SPECS["mlp-bn-before-dropout"], centered=True))
    assert [op["op"] for op in description["ops"]] == ["sub", "dense", "dense", "dense"]
    assert [op["act"] for op in description["ops"][1:]] == ["relu", "relu", "softmax"]


def test_encoding_round_trips_float32():
    values = np.array([[1.5, -2.25], [3e-8, 7e7]], dtype=np.float32)
    np.testing.assert_array_equal(decode(encode(values)), values.reshape(-1))


@pytest.mark.parametrize(("size", "k", "stride", "before"), [(28, 5, 2, 1), (14, 5, 1, 2), (28, 3, 1, 1), (7, 2, 2, 0)])
def test_same_padding_puts_the_smaller_half_first(size, k, stride, before):
    assert same_padding(size, k, stride) == before
