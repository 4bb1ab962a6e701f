"""Augmentation inside the model: Keras layers that change training images and never evaluation images.

``augmentation_layers`` turns a spec's ``Augmentation`` into one ``RandomAffine``
layer (rotation, shift, shear and zoom composed into one transform per image and
resampled once), the lab's own elastic distortion and Keras' Gaussian noise;
``Augmenter`` runs them in training only. The custom layers are registered with
Keras (package ``mlp_lab``), so a saved model that holds them loads again once
this module is imported (``lab.nn.model`` imports it).

``RandomAffine`` draws its parameters as Keras' RandomRotation, RandomTranslation,
RandomShear and RandomZoom did when the lab stacked those four (each resampling
the image, four bilinear blurs): ``keras_affine_layers`` still builds that stack,
and ``transform_layer_by_layer`` runs it at fixed parameters, so tests and the
augmentation benchmark can compare the two.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
from keras import layers, ops

from lab.architecture import IMAGE_SIDE
from lab.spec import Augmentation

# Simard et al. (2003) smooth their random displacement field with a Gaussian of
# this width (pixels) and found 4 best on MNIST; the strength ``alpha`` (their 34)
# is the spec's ``augmentation.elastic``.
ELASTIC_SIGMA = 4.0

# Zeros outside the image: the lab's digits are white ink on black, so a shift brings in background.
KERAS_FILL = {"fill_mode": "constant", "fill_value": 0.0}


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


@dataclass(frozen=True)
class AffineParams:
    """One draw of the four affine augmentations, in the units Keras' own layers use.

    Every matrix here maps an output pixel (x right, y down, in pixels) to the
    input point it samples, as ``keras.ops.image.affine_transform`` reads it.

    Parameters
    ----------
    rotation : float
        Degrees about the image centre (RandomRotation's angle; positive turns the digit anticlockwise on screen).
    shift_x, shift_y : float
        Pixels the digit moves right and down (RandomTranslation).
    shear : float
        Horizontal shear about the top-left corner: row ``y`` samples ``shear * y`` pixels to the
        right (RandomShear's x factor, sign included).
    zoom_x, zoom_y : float
        Input pixels per output pixel about the centre (RandomZoom's factors, 1 + a draw):
        above 1 the digit shrinks.
    """

    rotation: float = 0.0
    shift_x: float = 0.0
    shift_y: float = 0.0
    shear: float = 0.0
    zoom_x: float = 1.0
    zoom_y: float = 1.0


def affine_transforms(
    rotation: Any, shift_x: Any, shift_y: Any, shear: Any, zoom_x: Any, zoom_y: Any, height: int, width: int
) -> Any:
    """Per-image composed transforms, (batch, 8) rows for ``keras.ops.image.affine_transform``.

    Each argument holds one value per image (shape (batch,), the units of ``AffineParams``).
    The layer-by-layer pipeline rotated, then shifted, sheared and zoomed: its output pixel
    ``p`` samples the zoom's input at ``Z p``, which is the shear's output, which samples
    the shift's output at ``S Z p`` ... so the original image is sampled at ``R T S Z p``,
    with (output pixel -> input point, about the centre c for R and Z)

        R = [[cos, -sin], [sin, cos]] about c     T = translation by (-shift_x, -shift_y)
        S = [[1, shear], [0, 1]] about (0, 0)     Z = diag(zoom_x, zoom_y) about c

    The product is written out entry by entry, a few elementwise operations: with one
    random draw, the whole layer is about 80 graph operations a batch, against about 190
    when it stacked and multiplied four matrices and 490 for Keras' four layers.
    """
    theta = ops.convert_to_tensor(rotation, "float32") * (math.pi / 180.0)
    tx, ty = ops.cast(shift_x, "float32"), ops.cast(shift_y, "float32")
    shear, zx, zy = ops.cast(shear, "float32"), ops.cast(zoom_x, "float32"), ops.cast(zoom_y, "float32")
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0  # the centre Keras rotates and zooms about
    cos, sin = ops.cos(theta), ops.sin(theta)
    # T S Z (0, 0) - c: the point the top-left output pixel samples in the rotation's output, from the centre.
    u = shear * cy * (1.0 - zy) - cx * zx - tx
    v = -cy * zy - ty
    zero = ops.zeros_like(theta)
    rows = [
        cos * zx,
        (cos * shear - sin) * zy,
        cos * u - sin * v + cx,
        sin * zx,
        (sin * shear + cos) * zy,
        sin * u + cos * v + cy,
        zero,  # the last row stays (0, 0, 1): affine_transform takes six entries and two zeros
        zero,
    ]
    return ops.stack(rows, axis=-1)


def affine_matrix(params: AffineParams, height: int = IMAGE_SIDE, width: int = IMAGE_SIDE) -> np.ndarray:
    """The 3x3 matrix (output pixel -> input point) of one draw, rotation, shift, shear and zoom composed."""
    values = [[v] for v in (params.rotation, params.shift_x, params.shift_y, params.shear)]
    row = np.asarray(affine_transforms(*values, [params.zoom_x], [params.zoom_y], height, width))[0]
    return np.append(row[:6], [0.0, 0.0, 1.0]).reshape(3, 3)


def transform_once(images: Any, params: AffineParams) -> np.ndarray:
    """``images`` (batch, height, width, channels) under one draw, resampled once as ``RandomAffine`` does."""
    images = ops.convert_to_tensor(images, "float32")
    height, width = images.shape[1], images.shape[2]
    row = affine_matrix(params, height, width).reshape(-1)[:8]
    return np.asarray(_resample(images, ops.convert_to_tensor(np.tile(row, (images.shape[0], 1)), "float32")))


def _resample(images: Any, transforms: Any) -> Any:
    """Bilinear with zeros outside, as Keras' four layers resampled (``KERAS_FILL``, their bilinear default)."""
    return ops.image.affine_transform(images, transforms, interpolation="bilinear", **KERAS_FILL)


def keras_affine_layers(aug: Augmentation, seed: int) -> list[layers.Layer]:
    """Keras' RandomRotation, RandomTranslation, RandomShear and RandomZoom for ``aug``, each resampling the image.

    The lab's augmentation before ``RandomAffine``, kept as the reference it is tested
    against and for the benchmark (``build_model(spec, compose_affine=False)``).
    """
    out: list[layers.Layer] = []
    if aug.rotation:
        out.append(layers.RandomRotation(aug.rotation / 360.0, seed=seed, name="rotate", **KERAS_FILL))
    if aug.shift:
        out.append(layers.RandomTranslation(aug.shift, aug.shift, seed=seed + 1, name="shift", **KERAS_FILL))
    if aug.shear:
        # One axis, as ImageDataGenerator shears; (0, s) with Keras' random sign gives [-s, s], and
        # unlike a plain float it survives saving (Keras 3.15 writes a float as (-s, s), then rejects it).
        out.append(layers.RandomShear((0.0, aug.shear), (0.0, 0.0), seed=seed + 2, name="shear", **KERAS_FILL))
    if aug.zoom:
        out.append(layers.RandomZoom(aug.zoom, aug.zoom, seed=seed + 3, name="zoom", **KERAS_FILL))
    return out


def transform_layer_by_layer(images: Any, params: AffineParams) -> np.ndarray:
    """``images`` under one draw through Keras' own four layers, in ``keras_affine_layers``' order: four resamplings.

    Each layer is handed its transformation explicitly (the dictionary its
    ``get_random_transformation`` would return) instead of drawing one.
    """
    images = ops.convert_to_tensor(images, "float32")
    batch = images.shape[0]

    def column(value: float) -> np.ndarray:
        return np.full((batch, 1), value, dtype="float32")

    # A rotation range of a single value draws exactly that angle.
    rotate = layers.RandomRotation((params.rotation / 360.0,) * 2, **KERAS_FILL)
    steps = (
        (rotate, rotate.get_random_transformation(images, training=True)),
        (
            layers.RandomTranslation(0.0, 0.0, **KERAS_FILL),
            {"translations": np.concatenate([column(params.shift_x), column(params.shift_y)], axis=1)},
        ),
        (
            layers.RandomShear(0.0, 0.0, **KERAS_FILL),
            {"shear_factor": np.concatenate([column(params.shear), column(0.0)], axis=1)},
        ),
        (
            layers.RandomZoom(0.0, 0.0, **KERAS_FILL),
            {"width_zoom": column(params.zoom_x), "height_zoom": column(params.zoom_y)},
        ),
    )
    for layer, transformation in steps:
        images = layer.transform_images(images, transformation, training=True)
    return np.asarray(images)


@keras.saving.register_keras_serializable(package="mlp_lab")
class RandomAffine(layers.Layer):
    """Rotation, shift, shear and zoom in one bilinear resampling per image, training only.

    Draws per image what Keras' four layers drew (``keras_affine_layers``): an angle
    uniform in [-rotation, rotation] degrees, shifts uniform in [-shift, shift] times
    the width and the height, a horizontal shear uniform in [-shear, shear] (RandomShear's
    [0, shear] with a random sign), and zooms ``1 + u`` with ``u`` uniform in [-zoom, zoom]
    for each axis on its own. The four are composed (``affine_transforms``) and the
    digit resampled once, bilinearly with zeros outside: one blur instead of four, a
    quarter of the resampling work, and ink that one step pushed out of the frame and
    a later one brought back is no longer lost on the way.

    Parameters
    ----------
    rotation : float
        Largest rotation in degrees.
    shift : float
        Largest shift as a fraction of the image side.
    shear : float
        Largest horizontal shear as a fraction.
    zoom : float
        Largest zoom in or out as a fraction.
    seed : int, optional
        Seed of the draws.
    """

    def __init__(
        self,
        rotation: float = 0.0,
        shift: float = 0.0,
        shear: float = 0.0,
        zoom: float = 0.0,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.rotation, self.shift, self.shear, self.zoom = float(rotation), float(shift), float(shear), float(zoom)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        # TensorFlow has no XLA kernel for the resampling (ImageProjectiveTransformV3): as Keras' own
        # affine layers do, say so, or compile's jit_compile="auto" would choose XLA on a GPU and fail.
        self.supports_jit = False

    def draw(self, batch: Any, height: int, width: int) -> dict[str, Any]:
        """One random ``AffineParams`` per image, as (batch,) tensors named like its fields.

        All six come from one uniform draw of shape (batch, 6), a column each: independent
        of one another, and one random operation per batch instead of six.
        """
        shift_x, shift_y = self.shift * width, self.shift * height
        low = np.array([-self.rotation, -shift_x, -shift_y, -self.shear, 1 - self.zoom, 1 - self.zoom], "float32")
        high = np.array([self.rotation, shift_x, shift_y, self.shear, 1 + self.zoom, 1 + self.zoom], "float32")
        unit = keras.random.uniform((batch, 6), seed=self.seed_generator)
        columns = ops.unstack(low + (high - low) * unit, 6, axis=-1)
        return dict(zip(("rotation", "shift_x", "shift_y", "shear", "zoom_x", "zoom_y"), columns, strict=True))

    def call(self, images: Any, training: bool | None = None) -> Any:
        if not training:
            return images
        height, width = images.shape[1], images.shape[2]
        params = self.draw(ops.shape(images)[0], height, width)
        transforms = affine_transforms(**params, height=height, width=width)
        return ops.cast(_resample(ops.cast(images, "float32"), transforms), images.dtype)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "rotation": self.rotation,
            "shift": self.shift,
            "shear": self.shear,
            "zoom": self.zoom,
            "seed": self.seed,
        }


@keras.saving.register_keras_serializable(package="mlp_lab")
class Augmenter(keras.Sequential):
    """The augmentation layers, active only when training is asked for.

    Keras' preprocessing layers default to ``training=True``: a plain
    ``model(x)`` would rotate and shift test digits. Here the default is False,
    so only ``fit`` (or an explicit ``training=True``) augments.
    """

    def call(self, inputs: Any, training: bool | None = False, mask: Any = None, **kwargs: Any) -> Any:
        return super().call(inputs, training=bool(training), mask=mask, **kwargs)


def augmentation_layers(aug: Augmentation, seed: int, compose_affine: bool = True) -> list[layers.Layer]:
    """Keras layers for ``aug``, in ImageDataGenerator's order (geometry, then noise); inactive at inference.

    Rotation, shift, shear and zoom go into one ``RandomAffine`` (``compose_affine``) or,
    as before it, into Keras' four layers (``keras_affine_layers``: for the benchmark).
    Each layer gets its own seed: layers seeded alike draw the same numbers, which
    would tie the elastic field to the noise.
    """
    out: list[layers.Layer] = []
    if compose_affine and (aug.rotation or aug.shift or aug.shear or aug.zoom):
        out.append(RandomAffine(aug.rotation, aug.shift, aug.shear, aug.zoom, seed=seed, name="affine"))
    elif not compose_affine:
        out.extend(keras_affine_layers(aug, seed))
    if aug.elastic:
        out.append(ElasticDistortion(aug.elastic, seed=seed + 4, name="elastic"))
    if aug.noise:
        out.append(layers.GaussianNoise(aug.noise, seed=seed + 5, name="noise"))
    return out
