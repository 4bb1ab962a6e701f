"""Look inside convolutional networks, and see augmentation at work.

Everything here returns plain numpy arrays for a page (or a notebook) to draw:

- the first conv layer's kernels, one small image per filter (CS4487 shows B6's
  ten 5x5 filters: "looking for local stroke features, corners, edges, lines");
- the feature maps every conv layer computes for one digit;
- a digit under the current augmentation, drawn several times (what the network
  sees while it trains).

Why convolution and augmentation exist, in numbers, is ``lab.analysis.shift``.
Functions that take a Keras model import nothing themselves; ``feature_maps`` and
``augmentation_preview`` build Keras objects and import Keras lazily.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lab.architecture import IMAGE_SIDE, NUM_PIXELS
from lab.spec import Augmentation


# ------------------------------------------------------------- conv layers
def conv_layer_names(model: Any) -> list[str]:
    """Names of the model's conv layers in order (``conv_1``, ``conv_2`` ...)."""
    return [layer.name for layer in model.layers if type(layer).__name__ == "Conv2D"]


def conv_kernels(model: Any, layer: str = "conv_1") -> np.ndarray:
    """One conv layer's kernels as images, shape (filters, k, k).

    A first-layer kernel sees the single grey channel, so it is an image of
    the stroke it looks for; deeper layers have one kernel per input channel,
    averaged here into one picture per filter.

    Raises
    ------
    ValueError
        If the model has no such conv layer.
    """
    if layer not in conv_layer_names(model):
        raise ValueError(f"This model has no convolution layer '{layer}': add a conv block and train again.")
    kernel = np.asarray(model.get_layer(layer).get_weights()[0], dtype=np.float32)  # (k, k, in, filters)
    return np.transpose(kernel.mean(axis=2), (2, 0, 1))


def feature_maps(model: Any, x: np.ndarray) -> dict[str, np.ndarray]:
    """What each conv layer computes (after its activation) for one input.

    Parameters
    ----------
    model : keras.Model
        A model from ``lab.nn.model.build_model`` with at least one conv block.
    x : np.ndarray
        One prepared input: 784 pixels (or 28x28), already centered when the
        spec centers its data (``lab.data.prepare.center_images``).

    Returns
    -------
    dict[str, np.ndarray]
        Layer name to its output (height, width, filters), in layer order;
        the shapes are those of the model summary without the batch axis.
    """
    import keras  # lazy: reading kernels and drawing previews of stored runs needs no TensorFlow until here

    names = conv_layer_names(model)
    if not names:
        raise ValueError("This model has no convolution layers: add a conv block to see feature maps.")
    probe = keras.Model(model.inputs[0], [model.get_layer(name).output for name in names])
    outputs = probe(np.asarray(x, dtype=np.float32).reshape(1, NUM_PIXELS), training=False)
    if len(names) == 1 and not isinstance(outputs, (list, tuple)):
        outputs = [outputs]
    return {name: np.asarray(out)[0] for name, out in zip(names, outputs, strict=True)}


def symmetric_limit(values: np.ndarray) -> float:
    """The largest absolute value: a diverging color scale from -limit to +limit puts 0 in the middle."""
    limit = float(np.max(np.abs(values))) if np.size(values) else 0.0
    return limit if limit > 0 else 1.0


# ------------------------------------------------------------ augmentation
def augmentation_preview(image01: np.ndarray, aug: Augmentation, count: int = 11, seed: int = 0) -> np.ndarray:
    """``count`` random draws of one digit under ``aug``, through the model's own augmentation layers.

    Parameters
    ----------
    image01 : np.ndarray
        One digit in [0, 1], 784 pixels or 28x28.
    aug : Augmentation
        The settings to preview; with none active every draw is the digit itself.
    count : int
        How many draws.
    seed : int
        Fixes the draws (a "new random draws" button changes it).

    Returns
    -------
    np.ndarray
        (count, 28, 28) float32 images, clipped to [0, 1] for display.
    """
    from lab.nn.augment import Augmenter, augmentation_layers  # lazy: lab.nn.augment imports Keras

    batch = np.repeat(np.asarray(image01, dtype=np.float32).reshape(1, IMAGE_SIDE, IMAGE_SIDE, 1), count, axis=0)
    if aug.active:
        augmenter = Augmenter(augmentation_layers(aug, seed))
        batch = np.asarray(augmenter(batch, training=True))
    return np.clip(batch[..., 0], 0.0, 1.0)
