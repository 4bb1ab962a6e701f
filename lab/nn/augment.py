"""Augmentation inside the model: Keras layers that change training images and never evaluation images.

``augmentation_layers`` turns a spec's ``Augmentation`` into Keras' random
rotation, shift, shear, zoom and noise layers, plus the lab's own elastic
distortion; ``Augmenter`` runs them in training only. Both custom layers are
registered with Keras (package ``mlp_lab``), so a saved model that holds them
loads again once this module is imported (``lab.nn.model`` imports it).
"""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np
from keras import layers, ops

from lab.spec import Augmentation

# Simard et al. (2003) smooth their random displacement field with a Gaussian of
# this width (pixels) and found 4 best on MNIST; the strength ``alpha`` (their 34)
# is the spec's ``augmentation.elastic``.
ELASTIC_SIGMA = 4.0


@keras.saving.register_keras_serializable(package="mlp_lab")
class ElasticDistortion(layers.Layer):
    """Elastic distortion of Simard et al. (2003), one random field per image, training only.

    Each pixel moves by ``alpha`` times a random field, uniform in [-1, 1] per
    pixel and direction, smoothed by a Gaussian of ``sigma`` pixels; the image is
    resampled bilinearly (zeros outside). Written here because Keras 3.15's
    ``RandomElasticTransform`` gives every image of a batch the first image's
    distorted copy when the batch size is unknown (inside ``fit``), moves pixels
    along the diagonal only (same seed for both directions) and clips its output
    to 0-255, which zeroes every centered pixel below 0.

    Parameters
    ----------
    alpha : float
        Strength in pixels (Simard: 34, a typical displacement of about 1.4 px).
    sigma : float
        Smoothness of the field in pixels.
    seed : int, optional
        Seed of the random fields.
    """

    def __init__(self, alpha: float, sigma: float = ELASTIC_SIGMA, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.alpha = float(alpha)
        self.sigma = float(sigma)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        radius = max(1, math.ceil(3 * self.sigma))
        taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / self.sigma) ** 2)
        taps = (taps / taps.sum()).astype("float32")
        # Separable blur of the two displacement channels (depthwise: each on its own).
        self._rows = np.tile(taps.reshape(-1, 1, 1, 1), (1, 1, 2, 1))
        self._cols = np.tile(taps.reshape(1, -1, 1, 1), (1, 1, 2, 1))

    def call(self, images: Any, training: bool | None = None) -> Any:
        if not training or self.alpha == 0:
            return images
        batch, height, width = ops.shape(images)[0], images.shape[1], images.shape[2]
        field = keras.random.uniform((batch, height, width, 2), -1.0, 1.0, seed=self.seed_generator)
        field = ops.depthwise_conv(field, ops.convert_to_tensor(self._rows), padding="same")
        field = ops.depthwise_conv(field, ops.convert_to_tensor(self._cols), padding="same")
        rows = ops.cast(ops.arange(height), "float32")[None, :, None] + self.alpha * field[..., 0]
        cols = ops.cast(ops.arange(width), "float32")[None, None, :] + self.alpha * field[..., 1]
        return ops.cast(_bilinear(images[..., 0], rows, cols)[..., None], images.dtype)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "alpha": self.alpha, "sigma": self.sigma, "seed": self.seed}


def _bilinear(images: Any, rows: Any, cols: Any) -> Any:
    """Sample each (height, width) image at fractional (rows, cols) of its own; zero outside."""
    height, width = images.shape[1], images.shape[2]
    flat = ops.reshape(images, (-1, height * width))
    top, left = ops.floor(rows), ops.floor(cols)
    out = 0.0
    for dr, dc in ((0, 0), (0, 1), (1, 0), (1, 1)):
        r, c = top + dr, left + dc
        weight = (1.0 - ops.abs(rows - r)) * (1.0 - ops.abs(cols - c))
        inside = (r >= 0) & (r <= height - 1) & (c >= 0) & (c <= width - 1)
        index = ops.cast(ops.clip(r, 0, height - 1) * width + ops.clip(c, 0, width - 1), "int32")
        values = ops.take_along_axis(flat, ops.reshape(index, (-1, height * width)), axis=1)
        values = ops.reshape(values, ops.shape(rows))
        out = out + ops.where(inside, weight * values, 0.0)
    return out


@keras.saving.register_keras_serializable(package="mlp_lab")
class Augmenter(keras.Sequential):
    """The augmentation layers, active only when training is asked for.

    Keras' preprocessing layers default to ``training=True``: a plain
    ``model(x)`` would rotate and shift test digits. Here the default is False,
    so only ``fit`` (or an explicit ``training=True``) augments.
    """

    def call(self, inputs: Any, training: bool | None = False, mask: Any = None, **kwargs: Any) -> Any:
        return super().call(inputs, training=bool(training), mask=mask, **kwargs)


def augmentation_layers(aug: Augmentation, seed: int) -> list[layers.Layer]:
    """Keras layers for ``aug``, in ImageDataGenerator's order (geometry, then noise); inactive at inference.

    Each layer gets its own seed: layers seeded alike draw the same numbers, which
    would tie the rotation angle to the shift.
    """
    fill = {"fill_mode": "constant", "fill_value": 0.0}
    out: list[layers.Layer] = []
    if aug.rotation:
        out.append(layers.RandomRotation(aug.rotation / 360.0, seed=seed, name="rotate", **fill))
    if aug.shift:
        out.append(layers.RandomTranslation(aug.shift, aug.shift, seed=seed + 1, name="shift", **fill))
    if aug.shear:
        # One axis, as ImageDataGenerator shears; (0, s) with Keras' random sign gives [-s, s], and
        # unlike a plain float it survives saving (Keras 3.15 writes a float as (-s, s), then rejects it).
        out.append(layers.RandomShear((0.0, aug.shear), (0.0, 0.0), seed=seed + 2, name="shear", **fill))
    if aug.zoom:
        out.append(layers.RandomZoom(aug.zoom, aug.zoom, seed=seed + 3, name="zoom", **fill))
    if aug.elastic:
        out.append(ElasticDistortion(aug.elastic, seed=seed + 4, name="elastic"))
    if aug.noise:
        out.append(layers.GaussianNoise(aug.noise, seed=seed + 5, name="noise"))
    return out
