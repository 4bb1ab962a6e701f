"""Inspection: weights as images, output weights, units' favourite images, mistakes."""

from __future__ import annotations

import numpy as np
import pytest

from lab.analysis.inspection import (
    class_templates,
    dense_kernels,
    display_images,
    first_layer_filters,
    gallery_indices,
    hidden_activations,
    highlighted_units,
    last_hidden_layer,
    misclassified,
    output_weights,
    top_activating_means,
)
from lab.spec import ConvBlock, ExperimentSpec


def fake_kernels(hidden: tuple[int, ...]) -> dict[str, np.ndarray]:
    """Kernels whose entries encode their position, so reshapes can be checked by hand."""
    widths = (784, *hidden, 10)
    names = [f"hidden_{i}" for i in range(1, len(hidden) + 1)] + ["output"]
    return {
        name: np.arange(n_in * n_out, dtype=np.float32).reshape(n_in, n_out)
        for name, n_in, n_out in zip(names, widths[:-1], widths[1:], strict=True)
    }


def test_first_layer_filter_is_a_units_784_input_weights_in_pixel_order():
    kernels = fake_kernels((5,))
    filters = first_layer_filters(kernels, ExperimentSpec(hidden=(5,)))
    assert filters.shape == (5, 28, 28)
    # unit 3's weight from pixel (row 2, column 7) is kernel[2 * 28 + 7, 3]
    assert filters[3, 2, 7] == kernels["hidden_1"][2 * 28 + 7, 3]


def test_zero_hidden_layers_give_ten_class_templates():
    kernels = fake_kernels(())
    templates = class_templates(kernels)
    assert templates.shape == (10, 28, 28)
    assert templates[4, 27, 27] == kernels["output"][783, 4]
    np.testing.assert_array_equal(first_layer_filters(kernels, ExperimentSpec(hidden=())), templates)
    with pytest.raises(ValueError, match="without hidden layers"):
        class_templates(fake_kernels((5,)))


def test_convolutional_networks_have_no_pixel_filters():
    spec = ExperimentSpec(conv=(ConvBlock(4, 3),), hidden=(8,))
    with pytest.raises(ValueError, match="convolutions"):
        first_layer_filters(fake_kernels((8,)), spec)


def test_output_weights_and_the_green_red_units_of_the_course_slide():
    kernels = {"output": np.array([[0.9, 0.0], [-0.8, 0.1], [0.2, 0.0], [1.5, 0.0]], dtype=np.float32)}
    kernels["output"] = np.pad(kernels["output"], ((0, 0), (0, 8)))
    weights = output_weights(kernels, 0)
    np.testing.assert_allclose(weights, [0.9, -0.8, 0.2, 1.5], rtol=1e-6)
    positive, negative = highlighted_units(weights, 0.75)
    assert positive.tolist() == [0, 3] and negative.tolist() == [1]
    with pytest.raises(ValueError):
        output_weights(kernels, 10)


def test_nan_weights_of_a_diverged_run_highlight_nothing():
    positive, negative = highlighted_units(np.array([np.nan, np.inf, -np.inf, 0.1]), 0.5)
    assert positive.tolist() == [1] and negative.tolist() == [2]  # infinities are extreme, NaN is nothing


@pytest.mark.parametrize(
    ("batchnorm", "dropout", "expected"),
    [("none", 0.0, "hidden_2"), ("none", 0.5, "hidden_2"), ("before", 0.2, "act_2"), ("after", 0.0, "bn_2")],
)
def test_last_hidden_layer_is_what_the_output_weights_multiply(batchnorm, dropout, expected):
    assert last_hidden_layer(ExperimentSpec(hidden=(8, 4), batchnorm=batchnorm, dropout=dropout)) == expected
    assert last_hidden_layer(ExperimentSpec(hidden=())) is None


def test_top_activating_means_average_each_units_strongest_images():
    images = np.stack([np.full(784, v, dtype=np.float32) for v in (0.0, 0.1, 0.2, 0.3, 0.4)])
    acts = np.array([[5, 0], [4, 0], [0, 0], [0, 0], [1, 0]], dtype=np.float32)  # unit 1 never fires
    means, peaks = top_activating_means(acts, images, top_k=2)
    assert means.shape == (2, 28, 28)
    assert means[0, 0, 0] == pytest.approx(0.05)  # images 0 and 1
    assert peaks.tolist() == [5.0, 0.0]


def test_misclassified_lists_the_most_confident_mistakes_first():
    labels = np.array([0, 1, 2, 3])
    probs = np.full((4, 10), 0.01, dtype=np.float32)
    probs[0, 0] = 0.9  # right
    probs[1, 7] = 0.6  # wrong, 60%
    probs[2, 5] = 0.95  # wrong, 95%
    probs[3, 3] = 0.5  # right
    wrong = misclassified(labels, probs)
    assert [(m.index, m.true, m.predicted) for m in wrong] == [(2, 2, 5), (1, 1, 7)]
    assert wrong[0].confidence == pytest.approx(0.95)
    assert len(misclassified(labels, probs, limit=1)) == 1


def test_gallery_takes_the_first_images_of_each_class_in_order():
    labels = np.array([3, 1, 0, 1, 0, 3, 2, 2, 4, 5, 6, 7, 8, 9, 9, 8, 7, 6, 5, 4])
    idx = gallery_indices(labels, per_class=2)
    assert labels[idx].tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9]
    assert idx[:2].tolist() == [2, 4]


def test_display_images_undo_centering():
    mean = np.full(784, 0.25, dtype=np.float32)
    x = np.full((2, 784), 0.5, dtype=np.float32) - mean
    np.testing.assert_allclose(display_images(x, mean), 0.5)
    assert display_images(np.array([[1.5, -0.2]]), None).tolist() == [[1.0, 0.0]]


@pytest.mark.parametrize("batchnorm", ["none", "before", "after"])
def test_on_a_real_keras_model(batchnorm):
    """Kernels, filters and activations read from a model the lab builds."""
    from lab.nn.model import build_model

    spec = ExperimentSpec(hidden=(6, 4), batchnorm=batchnorm, dropout=0.1)
    model = build_model(spec)
    kernels = dense_kernels(model)
    assert {name: k.shape for name, k in kernels.items()} == {
        "hidden_1": (784, 6),
        "hidden_2": (6, 4),
        "output": (4, 10),
    }
    np.testing.assert_array_equal(
        first_layer_filters(kernels, spec)[2].ravel(), model.get_layer("hidden_1").get_weights()[0][:, 2]
    )
    x = np.random.default_rng(0).random((7, 784), dtype=np.float32)
    acts = hidden_activations(model, spec, x, batch=3)
    assert acts.shape == (7, 4)
    # The output layer sees exactly these activations (dropout is off when predicting).
    logits_in = acts @ kernels["output"] + model.get_layer("output").get_weights()[1]
    expected = np.exp(logits_in) / np.exp(logits_in).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(np.asarray(model(x, training=False)), expected, rtol=1e-4, atol=1e-6)


def test_favourite_images_are_each_units_top_inputs_shown_as_pixels():
    """The one call the Train page makes: activations, pixels back (mean added), top-k means."""
    from lab.analysis.inspection import favourite_images
    from lab.nn.model import build_model

    spec = ExperimentSpec(hidden=(6, 4), center=True)
    model = build_model(spec)
    rng = np.random.default_rng(1)
    mean = rng.random(784, dtype=np.float32) * 0.5
    x = rng.random((9, 784), dtype=np.float32) - mean
    means, peaks = favourite_images(model, spec, x, mean, top_k=3)
    expected = top_activating_means(hidden_activations(model, spec, x), display_images(x, mean), top_k=3)
    np.testing.assert_array_equal(means, expected[0])
    np.testing.assert_array_equal(peaks, expected[1])
    assert means.shape == (4, 28, 28) and means.min() >= 0.0 and means.max() <= 1.0
