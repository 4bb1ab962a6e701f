"""Build the Keras model a spec describes.

The builder walks ``lab.architecture.layer_infos`` so that the layer table a
page shows before training is the model that trains. Models take the flat
784-pixel input (what the data and the canvas produce); convolutional and
augmenting models reshape it to 28x28x1 inside.
"""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np
from keras import layers, ops

from lab.architecture import IMAGE_SIDE, NUM_PIXELS, layer_infos
from lab.spec import Augmentation, ExperimentSpec


def make_initializer(spec: ExperimentSpec, seed: int | None = None) -> keras.initializers.Initializer:
    """The kernel initializer named by the spec (seeded by Keras' global seed when ``seed`` is None)."""
    if spec.initializer == "random_normal":
        return keras.initializers.RandomNormal(mean=0.0, stddev=spec.init_stddev, seed=seed)
    if spec.initializer == "course_normal":
        # N(0, sqrt(2/fan_in)) untruncated, as course 003 writes it by hand;
        # Keras' he_normal is the truncated version of the same variance.
        return keras.initializers.VarianceScaling(2.0, "fan_in", "untruncated_normal", seed=seed)
    return keras.initializers.get(spec.initializer)  # a fresh instance: each layer draws its own weights


def make_optimizer(spec: ExperimentSpec) -> keras.optimizers.Optimizer:
    """The optimizer named by the spec, with its learning rate."""
    if spec.optimizer == "sgd":
        return keras.optimizers.SGD(float(spec.learning_rate), momentum=spec.momentum, nesterov=spec.nesterov)
    classes = {"adam": keras.optimizers.Adam, "rmsprop": keras.optimizers.RMSprop, "adagrad": keras.optimizers.Adagrad}
    return classes[spec.optimizer](float(spec.learning_rate))


def _activation(name: str) -> Any:
    return keras.activations.get(name)


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


def build_model(spec: ExperimentSpec) -> keras.Model:
    """Build (uncompiled) the Keras model for ``spec``.

    Weights are drawn from Keras' global seed; call
    ``keras.utils.set_random_seed(spec.seed)`` first for a reproducible model
    (the trainer does).
    """
    inputs = keras.Input(shape=(NUM_PIXELS,), name="pixels")
    x = inputs
    regularizer = keras.regularizers.L2(spec.l2) if spec.l2 else None
    conv_blocks = iter(spec.conv)
    for info in layer_infos(spec):
        if info.kind == "rescale":
            x = layers.Rescaling(255.0, name=info.name)(x)
        elif info.kind == "reshape":
            x = layers.Reshape((IMAGE_SIDE, IMAGE_SIDE, 1), name=info.name)(x)
        elif info.kind == "augment":
            aug = Augmenter(augmentation_layers(spec.augmentation, spec.seed), name=info.name)
            x = aug(x)
        elif info.kind == "conv":
            block = next(conv_blocks)
            x = layers.Conv2D(
                block.filters,
                block.kernel_size,
                strides=block.strides,
                padding=block.padding,
                activation=_activation(spec.activation),
                kernel_initializer=make_initializer(spec),
                kernel_regularizer=keras.regularizers.L2(block.l2) if block.l2 else None,
                name=info.name,
            )(x)
        elif info.kind == "pool":
            side = int(info.name.split("_")[1])
            x = layers.MaxPooling2D(spec.conv[side - 1].pool, name=info.name)(x)
        elif info.kind == "flatten":
            x = layers.Flatten(name=info.name)(x)
        elif info.kind == "dense":
            act = None if spec.batchnorm == "before" else _activation(spec.activation)
            x = layers.Dense(
                info.output_shape[0],
                activation=act,
                kernel_initializer=make_initializer(spec),
                kernel_regularizer=regularizer,
                name=info.name,
            )(x)
        elif info.kind == "batchnorm":
            x = layers.BatchNormalization(name=info.name)(x)
        elif info.kind == "activation":
            x = layers.Activation(_activation(spec.activation), name=info.name)(x)
        elif info.kind == "dropout":
            rate = spec.dropout
            if info.name.startswith("conv_dropout_"):
                rate = spec.conv[int(info.name.rsplit("_", 1)[1]) - 1].dropout
            x = layers.Dropout(rate, seed=spec.seed, name=info.name)(x)
        elif info.kind == "output":
            x = layers.Dense(
                info.output_shape[0],
                activation="softmax" if spec.output == "softmax_ce" else "sigmoid",
                kernel_initializer=make_initializer(spec),
                kernel_regularizer=regularizer if spec.l2_output else None,
                name=info.name,
            )(x)
        else:  # pragma: no cover - layer_infos and this builder are kept in step
            raise ValueError(f"No Keras layer for kind '{info.kind}'.")
    return keras.Model(inputs, x, name="mlp_lab_" + spec.run_id)


def compile_model(model: keras.Model, spec: ExperimentSpec, steps_per_execution: int = 1) -> keras.Model:
    """Compile with the spec's optimizer and loss, reporting accuracy.

    ``steps_per_execution`` > 1 runs several batches per call into TensorFlow;
    the course's small MLPs spend most of their time in per-batch overhead.
    """
    loss = "categorical_crossentropy" if spec.output == "softmax_ce" else "mean_squared_error"
    model.compile(
        optimizer=make_optimizer(spec),
        loss=loss,
        metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
        steps_per_execution=steps_per_execution,
    )
    return model


def steps_per_epoch(n_train: int, batch_size: int) -> int:
    """Number of batches in one epoch."""
    return max(1, math.ceil(n_train / batch_size))
