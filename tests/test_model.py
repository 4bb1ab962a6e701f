"""The Keras builder matches the layer table, and the course's parameter counts."""

import pytest

from lab.architecture import count_params, layer_infos
from lab.nn.model import build_model
from lab.spec import ConvBlock, ExperimentSpec

COURSE = {
    "B1": (ExperimentSpec(hidden=()), 7_850, 7_850),
    "B2": (ExperimentSpec(hidden=(50,)), 39_760, 39_760),
    "B5": (ExperimentSpec(hidden=(500, 500)), 648_010, 648_010),
    "C2": (ExperimentSpec(hidden=(556, 156), initializer="random_normal", init_stddev=0.1), 524_922, 524_922),
    "C3": (
        ExperimentSpec(hidden=(580, 325, 125), batchnorm="after", dropout=0.5, initializer="course_normal"),
        690_255,
        688_195,
    ),
    "C4": (ExperimentSpec(hidden=(658, 525, 410, 350, 150), batchnorm="after", dropout=0.5), 1_284_547, None),
    "B6": (ExperimentSpec(conv=(ConvBlock(10, 5, 2),), hidden=(50,)), 98_820, 98_820),
    "B7": (
        ExperimentSpec(conv=(ConvBlock(10, 5, 2), ConvBlock(40, 5, 2), ConvBlock(80, 5, 1)), hidden=(50,)),
        286_940,
        None,
    ),
}


def _trainable(model):
    return sum(int(w.numpy().size) for w in model.trainable_weights)


@pytest.mark.parametrize("name", COURSE)
def test_keras_parameter_counts_equal_the_course(name):
    spec, total, trainable = COURSE[name]
    model = build_model(spec)
    assert model.count_params() == total == count_params(spec)
    if trainable is not None:
        assert _trainable(model) == trainable


def test_layer_names_are_readable_and_match_the_table():
    spec = ExperimentSpec(hidden=(20, 10), batchnorm="before", dropout=0.2)
    model = build_model(spec)
    names = [layer.name for layer in model.layers[1:]]  # skip the input
    assert names == [info.name for info in layer_infos(spec)]
    assert names[:4] == ["hidden_1", "bn_1", "act_1", "dropout_1"]


def test_logistic_regression_has_only_the_output_layer():
    model = build_model(ExperimentSpec(hidden=()))
    assert [layer.name for layer in model.layers[1:]] == ["output"]
    assert model.output_shape == (None, 10)


def test_initializers_and_output_choices_build():
    for init in ("glorot_normal", "he_uniform", "lecun_normal", "random_normal", "course_normal", "he_normal"):
        build_model(ExperimentSpec(hidden=(8,), initializer=init))
    model = build_model(ExperimentSpec(hidden=(8,), output="sigmoid_mse"))
    assert model.get_layer("output").activation.__name__ == "sigmoid"


def test_raw_pixels_scale_inside_the_model_and_add_no_weights():
    import numpy as np

    raw = ExperimentSpec(hidden=(8,), raw_pixels=True)
    scaled = raw.replace(raw_pixels=False)
    infos = layer_infos(raw)
    assert infos[0].kind == "rescale" and count_params(raw) == count_params(scaled)
    raw_model, scaled_model = build_model(raw), build_model(scaled)
    scaled_model.set_weights(raw_model.get_weights())
    pixels01 = np.random.default_rng(0).integers(0, 256, (5, 784)).astype("float32") / np.float32(255)
    # The raw model on [0, 1] images is the plain model on 0-255 images: callers keep feeding [0, 1].
    np.testing.assert_allclose(raw_model(pixels01), scaled_model(pixels01 * np.float32(255)), rtol=1e-5)
    assert not np.allclose(raw_model(pixels01), scaled_model(pixels01), atol=1e-3)
