"""Augmentation: Keras layers inside the model that change training inputs and never evaluation inputs."""

import zipfile

import keras
import numpy as np
import pytest
import tensorflow as tf

from lab.analysis.convnet import augmentation_preview
from lab.data.prepare import one_hot
from lab.data.sources import load_source
from lab.nn.augment import Augmenter, ElasticDistortion, augmentation_layers
from lab.nn.model import build_model, compile_model
from lab.runs.store import load_model
from lab.spec import Augmentation, ConvBlock, ExperimentSpec

EVERYTHING = Augmentation(rotation=10, shift=0.2, shear=0.1, zoom=0.1, noise=0.05, elastic=34)
ONE_AT_A_TIME = {
    "rotation": Augmentation(rotation=20),
    "shift": Augmentation(shift=0.2),
    "shear": Augmentation(shear=0.3),
    "zoom": Augmentation(zoom=0.2),
    "noise": Augmentation(noise=0.1),
    "elastic": Augmentation(elastic=34),
}


def _digits(n=8):
    """Real digits from the offline sample, (n, 784) in [0, 1]."""
    return load_source("sample").x_train[:n].astype(np.float32) / 255.0


def _images(n=8):
    return _digits(n).reshape(n, 28, 28, 1)


def _tiny(aug, **kw):
    return ExperimentSpec(conv=(ConvBlock(2, 3, 2),), hidden=(8,), augmentation=aug, **kw)


def test_augment_sub_model_changes_training_inputs_but_never_evaluation_inputs():
    model = build_model(_tiny(EVERYTHING))
    augment = model.get_layer("augment")
    batch = _images()
    trained_on = np.asarray(augment(batch, training=True))
    assert trained_on.shape == batch.shape
    assert np.abs(trained_on - batch).mean() > 0.01  # every image changed noticeably
    assert all(np.abs(trained_on[i] - batch[i]).max() > 0.1 for i in range(len(batch)))
    np.testing.assert_array_equal(np.asarray(augment(batch, training=False)), batch)


def test_a_plain_model_call_does_not_augment():
    # Keras' preprocessing layers default to training=True; predict-style calls must see the digit as it is.
    model = build_model(_tiny(EVERYTHING))
    x = _digits()
    first, second = np.asarray(model(x)), np.asarray(model(x))
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(first, np.asarray(model(x, training=False)))
    np.testing.assert_allclose(first, model.predict(x, verbose=0), atol=1e-6)


@pytest.mark.parametrize("name", ONE_AT_A_TIME)
def test_each_augmentation_draws_a_different_change_per_image_in_graph_mode(name):
    # Inside fit the batch size is unknown: Keras 3.15's RandomElasticTransform then copied the
    # first image's distortion over the whole batch. Identical inputs must come out different.
    augmenter = Augmenter(augmentation_layers(ONE_AT_A_TIME[name], seed=1))
    same = np.repeat(_images(1), 4, axis=0)

    @tf.function(input_signature=[tf.TensorSpec((None, 28, 28, 1), tf.float32)])
    def run(images):
        return augmenter(images, training=True)

    out = run(same).numpy()
    assert np.abs(out - same).max() > 0.05, f"{name} did not change the digit"
    assert min(np.abs(out[i] - out[0]).max() for i in range(1, 4)) > 1e-3, f"{name} drew the same change twice"
    np.testing.assert_array_equal(np.asarray(augmenter(same, training=False)), same)


def test_layers_get_different_seeds_so_their_draws_are_independent():
    # Rotation, shift, shear and zoom are one layer (lab.nn.augment.RandomAffine, tests/test_affine.py).
    layers = augmentation_layers(EVERYTHING, seed=7)
    assert [layer.name for layer in layers] == ["affine", "elastic", "noise"]
    assert len({layer.seed for layer in layers}) == len(layers)
    before = augmentation_layers(EVERYTHING, seed=7, compose_affine=False)
    assert [layer.name for layer in before] == ["rotate", "shift", "shear", "zoom", "elastic", "noise"]
    assert len({layer.seed for layer in before}) == len(before)


def test_elastic_distortion_moves_pixels_a_little_and_keeps_the_ink():
    digits = _images(16)
    out = np.asarray(ElasticDistortion(34.0, seed=0)(digits, training=True))
    # Simard's alpha 34 with sigma 4 moves pixels by about a pixel: the digit stays recognizable.
    assert 0.9 < out.sum() / digits.sum() < 1.1
    assert 0.02 < np.abs(out - digits).mean() < 0.2
    assert out.min() >= 0 and out.max() <= 1.0 + 1e-6  # bilinear resampling never leaves the input's range


@pytest.mark.slow
def test_fit_trains_on_augmented_inputs_and_evaluates_on_plain_ones():
    # With a learning rate too small to move the weights, the training loss Keras reports
    # (on augmented batches) differs from the loss on the same images evaluated: unless nothing augments.
    x = _digits(256)
    y = one_hot(load_source("sample").y_train[:256])
    losses = {}
    for name, aug in (("plain", Augmentation()), ("augmented", Augmentation(noise=1.0, rotation=30))):
        # Large initial weights make confident outputs, so a changed input changes the loss clearly.
        spec = _tiny(
            aug, optimizer="sgd", learning_rate=1e-12, batch_size=16, initializer="random_normal", init_stddev=0.5
        )
        keras.utils.set_random_seed(0)
        model = compile_model(build_model(spec), spec, steps_per_execution=32)
        history = model.fit(x, y, batch_size=16, epochs=1, verbose=0, shuffle=False)
        evaluated = model.evaluate(x, y, batch_size=256, verbose=0)[0]
        losses[name] = (history.history["loss"][0], evaluated)
    assert losses["plain"][0] == pytest.approx(losses["plain"][1], rel=1e-3)
    assert abs(losses["augmented"][0] - losses["augmented"][1]) > 0.1 * losses["augmented"][1]


def test_an_augmented_model_survives_saving_and_loading(tmp_path):
    model = build_model(_tiny(EVERYTHING))
    model.save(tmp_path / "model.keras")
    loaded = load_model(tmp_path / "model.keras")
    x = _digits(4)
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), atol=1e-6)
    batch = _images(4)
    assert np.abs(np.asarray(loaded.get_layer("augment")(batch, training=True)) - batch).mean() > 0.01


def test_a_model_saved_when_the_layers_lived_in_lab_nn_model_still_loads(tmp_path):
    """Runs stored before lab.nn.augment existed name lab.nn.model as the layers' module: they load by their
    registered names."""
    model = build_model(_tiny(EVERYTHING))
    model.save(tmp_path / "new.keras")
    with zipfile.ZipFile(tmp_path / "new.keras") as new, zipfile.ZipFile(tmp_path / "old.keras", "w") as old:
        for item in new.infolist():
            data = new.read(item.filename)
            if item.filename == "config.json":
                data = data.replace(b'"module": "lab.nn.augment"', b'"module": "lab.nn.model"')
                assert b'"module": "lab.nn.model"' in data
            old.writestr(item, data)
    loaded = load_model(tmp_path / "old.keras")
    assert isinstance(loaded.get_layer("augment"), Augmenter)
    x = _digits(4)
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), atol=1e-6)


def test_preview_shows_the_digit_itself_without_augmentation_and_seeded_draws_with_it():
    digit = _digits(1)[0]
    same = augmentation_preview(digit, Augmentation(), count=3)
    assert same.shape == (3, 28, 28)
    np.testing.assert_allclose(same, np.repeat(digit.reshape(1, 28, 28), 3, axis=0))
    aug = Augmentation(rotation=20, shift=0.1)
    draws = augmentation_preview(digit, aug, count=5, seed=3)
    assert draws.min() >= 0 and draws.max() <= 1
    assert min(np.abs(draws[i] - draws[0]).max() for i in range(1, 5)) > 1e-3  # five different draws
    np.testing.assert_allclose(draws, augmentation_preview(digit, aug, count=5, seed=3))  # same seed, same draws
    assert np.abs(augmentation_preview(digit, aug, count=5, seed=4) - draws).max() > 1e-3  # "New random draws"


@pytest.mark.slow
def test_an_augmented_training_is_reproducible(store_home):
    from lab.architecture import check_network
    from lab.nn.trainer import train

    spec = _tiny(EVERYTHING, epochs=1, train_subset=300, batch_size=32)
    first, second = train(check_network(spec)), train(check_network(spec))
    assert first.history == second.history
    np.testing.assert_array_equal(first.test_probs, second.test_probs)
