"""Look inside convolutional networks, and see augmentation at work.

Everything here returns plain numpy arrays for a page (or a notebook) to draw:

- the first conv layer's kernels, one small image per filter (CS4487 shows B6's
  ten 5x5 filters: "looking for local stroke features, corners, edges, lines");
- the feature maps every conv layer computes for one digit;
- a digit under the current augmentation, drawn several times (what the network
  sees while it trains);
- accuracy on the test set shifted by a few pixels, which is why convolution and
  augmentation exist: an MLP learns "ink at pixel (12, 14)", a CNN learns strokes
  wherever they are, and augmentation shows the network moved digits.

Functions that take a Keras model import nothing themselves; ``augmentation_preview``
and ``bench_augmentation`` build Keras layers and import ``lab.nn.model`` lazily.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lab.architecture import IMAGE_SIDE, NUM_PIXELS
from lab.data.prepare import one_hot, test_images
from lab.nn.forward import accuracy
from lab.spec import Augmentation, ConvBlock, ExperimentSpec

SHIFT_MIN = 2  # pixels: smaller shifts barely trouble an MLP trained on centered digits
SHIFT_MAX = 4  # pixels: larger ones push strokes of a 20-pixel digit off a 28-pixel image
SHIFT_SEED = 0
# The eight directions a digit moves in: right, left, down, up and the diagonals.
_DIRECTIONS = np.array([(0, 1), (0, -1), (1, 0), (-1, 0), (1, 1), (1, -1), (-1, 1), (-1, -1)])


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
        spec centers its data (``Prepared.transform``).

    Returns
    -------
    dict[str, np.ndarray]
        Layer name to its output (height, width, filters), in layer order;
        the shapes are those of the model summary without the batch axis.
    """
    import keras

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


# ---------------------------------------------------------------- shifting
def shift_images(
    images01: np.ndarray, min_shift: int = SHIFT_MIN, max_shift: int = SHIFT_MAX, seed: int = SHIFT_SEED
) -> np.ndarray:
    """Move each digit by ``min_shift``-``max_shift`` whole pixels in one of eight random directions.

    Each image gets its own distance (uniform over the whole pixels in the
    range) and direction (right, left, up, down or diagonal, where it moves that
    distance along both axes); pixels moved in from outside are blank.

    Parameters
    ----------
    images01 : np.ndarray
        Images in [0, 1], (n, 784) or (n, 28, 28).
    min_shift, max_shift : int
        Smallest and largest distance in pixels.
    seed : int
        Fixes the distances and directions.

    Returns
    -------
    np.ndarray
        The shifted images, float32 (n, 784).
    """
    if not 0 <= min_shift <= max_shift < IMAGE_SIDE:
        raise ValueError(f"Shifts must satisfy 0 <= min <= max < {IMAGE_SIDE} pixels.")
    images = np.asarray(images01, dtype=np.float32).reshape(-1, IMAGE_SIDE, IMAGE_SIDE)
    rng = np.random.default_rng(seed)
    distance = rng.integers(min_shift, max_shift + 1, len(images))
    moves = _DIRECTIONS[rng.integers(0, len(_DIRECTIONS), len(images))] * distance[:, None]
    out = np.zeros_like(images)
    for i, (dy, dx) in enumerate(moves):
        out[i] = _shift_one(images[i], int(dy), int(dx))
    return out.reshape(-1, NUM_PIXELS)


def _shift_one(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
    out = np.zeros_like(image)
    side = image.shape[0]
    src_rows = slice(max(0, -dy), side - max(0, dy))
    dst_rows = slice(max(0, dy), side - max(0, -dy))
    src_cols = slice(max(0, -dx), side - max(0, dx))
    dst_cols = slice(max(0, dx), side - max(0, -dx))
    out[dst_rows, dst_cols] = image[src_rows, src_cols]
    return out


@dataclass(frozen=True)
class ShiftResult:
    """Test accuracy on the test set as it is, and with every digit moved a few pixels."""

    plain: float
    shifted: float

    @property
    def drop(self) -> float:
        """Accuracy lost to the shift (plain minus shifted)."""
        return self.plain - self.shifted


def shifted_accuracy(
    model: Any,
    spec: ExperimentSpec,
    mean: np.ndarray | None = None,
    min_shift: int = SHIFT_MIN,
    max_shift: int = SHIFT_MAX,
    seed: int = SHIFT_SEED,
) -> ShiftResult:
    """Accuracy of a trained model on its test set, plain and shifted (seeded, same shifts for every model).

    Parameters
    ----------
    model : keras.Model
        The trained model.
    spec : ExperimentSpec
        Its spec (names the data source and the test subset).
    mean : np.ndarray, optional
        The per-pixel training mean the model's inputs had subtracted (``RunResult.mean``).
    """
    images, labels = test_images(spec)
    shifted = shift_images(images, min_shift, max_shift, seed)
    return ShiftResult(accuracy(model, images, labels, mean), accuracy(model, shifted, labels, mean))


# ----------------------------------------------------------- stored runs
def same_but_epochs(a: ExperimentSpec, b: ExperimentSpec) -> bool:
    """Whether two specs differ at most in their number of epochs (a preset and its capped run)."""
    return a.replace(epochs=b.epochs) == b


def find_preset_run(infos: Sequence[Any], spec: ExperimentSpec) -> Any | None:
    """The stored run of ``spec``: itself if stored, else its longest capped version (``RunStore.list()`` items).

    A class that trains presets with an epochs cap (``pretrain --epochs``,
    the reproduction document) stores them under another run id; their
    results still answer "how does this preset do".
    """
    matches = [info for info in infos if same_but_epochs(info.spec, spec) and not info.metrics.get("stopped")]
    exact = [info for info in matches if info.spec == spec]
    if exact:
        return exact[0]
    return max(matches, key=lambda info: (info.spec.epochs, info.metrics.get("created") or 0), default=None)


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
    from lab.nn.model import Augmenter, augmentation_layers

    batch = np.repeat(np.asarray(image01, dtype=np.float32).reshape(1, IMAGE_SIDE, IMAGE_SIDE, 1), count, axis=0)
    if aug.active:
        augmenter = Augmenter(augmentation_layers(aug, seed))
        batch = np.asarray(augmenter(batch, training=True))
    return np.clip(batch[..., 0], 0.0, 1.0)


# --------------------------------------------------------------- benchmark
def b10_spec() -> ExperimentSpec:
    """Course B10 (CS4487): three conv layers, dropout, ImageDataGenerator-style augmentation.

    Taken from ``lab.catalog.presets`` when it is there, so the benchmark times the preset itself.
    """
    try:
        from lab.catalog.presets import get_preset

        return get_preset("B10").spec
    except (ImportError, KeyError, ValueError):
        return ExperimentSpec(
            conv=(ConvBlock(10, 5, 2), ConvBlock(40, 5, 2), ConvBlock(80, 5, 1, dropout=0.5)),
            hidden=(50,),
            dropout=0.5,
            optimizer="sgd",
            learning_rate=0.02,
            momentum=0.9,
            nesterov=True,
            batch_size=50,
            center=True,
            augmentation=Augmentation(rotation=10, shift=0.2, shear=0.1, zoom=0.1),
        )


@dataclass(frozen=True)
class AugmentationTiming:
    """Seconds per epoch of one model with and without its augmentation."""

    images: int
    with_augmentation: float
    without_augmentation: float

    @property
    def overhead(self) -> float:
        """How many times longer an augmented epoch takes."""
        return self.with_augmentation / self.without_augmentation

    def __str__(self) -> str:
        return (
            f"B10 epoch on {self.images:,} images: {self.with_augmentation:.2f} s with augmentation, "
            f"{self.without_augmentation:.2f} s without ({self.overhead:.2f}x)"
        )


def bench_augmentation(images: int = 6_000, epochs: int = 3) -> AugmentationTiming:
    """Time an epoch of B10 on ``images`` digits with and without augmentation.

    Both run through the lab's trainer settings (``steps_per_execution``);
    the first epoch (graph tracing) is left out and the fastest later epoch
    kept, which is what a long training pays per epoch.
    """
    spec = b10_spec()
    return AugmentationTiming(
        images,
        _epoch_seconds(spec, images, epochs),
        _epoch_seconds(spec.replace(augmentation=Augmentation()), images, epochs),
    )


def _epoch_seconds(spec: ExperimentSpec, images: int, epochs: int) -> float:
    import keras

    from lab.bench.trainer import workload_arrays
    from lab.nn.model import build_model, compile_model
    from lab.nn.trainer import STEPS_PER_EXECUTION

    x, labels = workload_arrays(images, 0)
    keras.utils.set_random_seed(spec.seed)
    keras.backend.clear_session()
    model = compile_model(build_model(spec), spec, STEPS_PER_EXECUTION)
    stamps: list[float] = []  # begin, end, begin, end ...
    timer = keras.callbacks.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: stamps.append(time.perf_counter()),
        on_epoch_end=lambda epoch, logs: stamps.append(time.perf_counter()),
    )
    model.fit(x, one_hot(labels), batch_size=spec.batch_size, epochs=max(2, epochs), callbacks=[timer], verbose=0)
    seconds = [end - begin for begin, end in zip(stamps[::2], stamps[1::2], strict=True)]
    return min(seconds[1:])
