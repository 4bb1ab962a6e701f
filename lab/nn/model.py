"""Build the Keras model a spec describes.

The builder walks ``lab.architecture.layer_infos`` so that the layer table a
page shows before training is the model that trains. Models take the flat
784-pixel input (what the data and the canvas produce); convolutional and
augmenting models reshape it to 28x28x1 inside. The augmentation layers live in
``lab.nn.augment``; importing this module registers them for loading saved models.
"""

from __future__ import annotations

import math
from typing import Any

import keras
from keras import layers

from lab.architecture import IMAGE_SIDE, NUM_PIXELS, layer_infos
from lab.nn.augment import Augmenter, augmentation_layers
from lab.spec import ExperimentSpec


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
    """The optimizer named by the spec, with its learning rate (and gradient clipping, when set)."""
    clip = {"clipnorm": spec.clipnorm} if spec.clipnorm else {}
    if spec.optimizer == "sgd":
        return keras.optimizers.SGD(float(spec.learning_rate), momentum=spec.momentum, nesterov=spec.nesterov, **clip)
    classes = {"adam": keras.optimizers.Adam, "rmsprop": keras.optimizers.RMSprop, "adagrad": keras.optimizers.Adagrad}
    return classes[spec.optimizer](float(spec.learning_rate), **clip)


def _activation(name: str) -> Any:
    return keras.activations.get(name)


def build_model(spec: ExperimentSpec, compose_affine: bool = True) -> keras.Model:
    """Build (uncompiled) the Keras model for ``spec``.

    Weights are drawn from Keras' global seed; call
    ``keras.utils.set_random_seed(spec.seed)`` first for a reproducible model
    (the trainer does). ``compose_affine=False`` augments through Keras' four
    affine layers, each resampling, as the lab did before ``RandomAffine``: only
    the augmentation benchmark asks for it.
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
            aug = Augmenter(augmentation_layers(spec.augmentation, spec.seed, compose_affine), name=info.name)
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
                activation=spec.output_activation,
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
    model.compile(
        optimizer=make_optimizer(spec),
        loss=spec.loss,
        metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
        steps_per_execution=steps_per_execution,
    )
    return model


def steps_per_epoch(n_train: int, batch_size: int) -> int:
    """Number of batches in one epoch."""
    return max(1, math.ceil(n_train / batch_size))
