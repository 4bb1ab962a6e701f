"""One batched forward call: the same probabilities as calling the model at once, centred when asked."""

import keras
import numpy as np
import pytest

from lab.nn.forward import accuracy, outputs, predict_probs
from lab.nn.model import build_model
from lab.spec import ExperimentSpec

SPEC = ExperimentSpec(hidden=(16,), center=True)


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    return build_model(SPEC)


def test_batches_give_the_probabilities_of_one_call(model):
    x = np.random.default_rng(0).random((50, 784), dtype=np.float32)
    whole = np.asarray(model(x, training=False))
    probs = predict_probs(model, x, batch=7)
    assert probs.shape == (50, 10) and probs.dtype == np.float32
    np.testing.assert_allclose(probs, whole, atol=1e-6)
    np.testing.assert_allclose(outputs(model, x, batch=16), whole, atol=1e-6)


def test_the_training_mean_is_subtracted_first(model):
    rng = np.random.default_rng(1)
    images, mean = rng.random((5, 28, 28), dtype=np.float32), rng.random(784, dtype=np.float32)
    expected = np.asarray(model(images.reshape(5, 784) - mean, training=False))
    np.testing.assert_allclose(predict_probs(model, images, mean), expected, atol=1e-6)


def test_accuracy_counts_argmax_hits(model):
    x = np.random.default_rng(2).random((20, 784), dtype=np.float32)
    predicted = np.argmax(np.asarray(model(x, training=False)), axis=1)
    assert accuracy(model, x, predicted) == 1.0
    assert accuracy(model, x, (predicted + 1) % 10) == 0.0


def test_no_images_give_no_probabilities(model):
    assert predict_probs(model, np.zeros((0, 784), np.float32)).shape == (0, 10)
    assert np.isnan(accuracy(model, np.zeros((0, 784), np.float32), np.zeros(0)))
    with pytest.raises(ValueError, match="No inputs"):
        outputs(model, np.zeros((0, 784), np.float32))
