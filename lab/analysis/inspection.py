"""Look inside a trained network: weights as images, output weights, what units respond to, mistakes.

Everything here returns plain numpy arrays for a page (or a notebook) to draw.
Only the two functions that take a Keras model touch Keras; the rest work on
the kernels ``dense_kernels`` extracts, so they are cheap to cache and to test.

The course (CS4487, slides B1-B2) reads a network this way:

- a first-layer unit's 784 input weights, reshaped to 28x28, are the
  "pattern prototype" it matches;
- with no hidden layer those units are the output units: one template per class;
- the output weights into digit ``d`` say which hidden patterns speak for ``d``
  (large positive weight) and which speak against it (large negative weight).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from lab.architecture import IMAGE_SIDE, NUM_CLASSES, NUM_PIXELS, layer_infos
from lab.nn.forward import EVAL_BATCH, outputs
from lab.spec import ExperimentSpec

DEFAULT_TOP_K = 20  # images averaged per unit: enough to smooth out one odd digit, few enough to stay sharp


@dataclass(frozen=True)
class Mistake:
    """One misclassified test image.

    Attributes
    ----------
    index : int
        Position in the test set.
    true : int
        The correct digit.
    predicted : int
        The digit the model chose.
    confidence : float
        The model's probability for ``predicted`` (0-1).
    """

    index: int
    true: int
    predicted: int
    confidence: float


# ------------------------------------------------------------------ kernels
def dense_kernels(model: Any) -> dict[str, np.ndarray]:
    """The kernel (inputs x units) of every Dense layer, by layer name.

    Parameters
    ----------
    model : keras.Model
        A model built by ``lab.nn.model.build_model`` (layers ``hidden_i`` and ``output``).
    """
    kernels = {}
    for layer in model.layers:
        if type(layer).__name__ == "Dense":
            kernels[layer.name] = np.asarray(layer.get_weights()[0], dtype=np.float32)
    return kernels


def has_pixel_filters(spec: ExperimentSpec) -> bool:
    """Whether the first Dense layer reads the 784 pixels directly (no convolution before it)."""
    return not spec.conv


def first_layer_filters(kernels: dict[str, np.ndarray], spec: ExperimentSpec) -> np.ndarray:
    """Each first-layer unit's input weights as a 28x28 image.

    For 0 hidden layers the first layer is the output layer, so these are the
    ten class templates.

    Returns
    -------
    np.ndarray
        (units, 28, 28) float32.

    Raises
    ------
    ValueError
        For a convolutional network, whose first Dense layer does not see pixels.
    """
    if not has_pixel_filters(spec):
        raise ValueError("This network starts with convolutions: its Dense weights are not 28x28 pixel filters.")
    name = "hidden_1" if spec.hidden else "output"
    kernel = _kernel(kernels, name)
    if kernel.shape[0] != NUM_PIXELS:
        raise ValueError(f"Layer {name} has {kernel.shape[0]} inputs, not the {NUM_PIXELS} pixels.")
    return kernel.T.reshape(-1, IMAGE_SIDE, IMAGE_SIDE)


def class_templates(kernels: dict[str, np.ndarray]) -> np.ndarray:
    """The ten output units' pixel weights of a 0-hidden-layer network, (10, 28, 28).

    Raises
    ------
    ValueError
        When the output layer does not read pixels (there are hidden layers).
    """
    kernel = _kernel(kernels, "output")
    if kernel.shape[0] != NUM_PIXELS:
        raise ValueError("Class templates exist only for a network without hidden layers.")
    return kernel.T.reshape(NUM_CLASSES, IMAGE_SIDE, IMAGE_SIDE)


def output_weights(kernels: dict[str, np.ndarray], digit: int) -> np.ndarray:
    """The weights from the last hidden layer's units into ``digit``'s output unit, (units,)."""
    if not 0 <= digit < NUM_CLASSES:
        raise ValueError(f"digit must be 0-9, not {digit}.")
    return _kernel(kernels, "output")[:, digit].copy()


def highlighted_units(weights: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Units whose weight is above ``threshold`` (for the digit) and below ``-threshold`` (against it).

    Returns
    -------
    (np.ndarray, np.ndarray)
        Indices of the positive and of the negative units, each in unit order.
    """
    w = np.nan_to_num(np.asarray(weights, dtype=np.float64))
    return np.flatnonzero(w > threshold), np.flatnonzero(w < -threshold)


def _kernel(kernels: dict[str, np.ndarray], name: str) -> np.ndarray:
    if name not in kernels:
        raise ValueError(f"The model has no Dense layer named '{name}'.")
    return kernels[name]


# ------------------------------------------------------ what units respond to
def last_hidden_layer(spec: ExperimentSpec) -> str | None:
    """Name of the layer whose outputs feed the output layer's weights (dropout skipped), or None.

    ``hidden_N`` without batch norm, ``act_N`` with batch norm before the
    activation, ``bn_N`` with batch norm after it; None without hidden layers.
    """
    if not spec.hidden:
        return None
    names = [info.name for info in layer_infos(spec) if info.kind not in ("dropout", "output")]
    return names[-1]


def hidden_activations(model: Any, spec: ExperimentSpec, x: np.ndarray, batch: int = EVAL_BATCH) -> np.ndarray:
    """The last hidden layer's outputs for inputs ``x`` (n, 784) as the model sees them, (n, units).

    Raises
    ------
    ValueError
        For a network without hidden layers.
    """
    import keras  # only here: the rest of this module needs no TensorFlow

    name = last_hidden_layer(spec)
    if name is None:
        raise ValueError("A network without hidden layers has no hidden units.")
    probe = keras.Model(model.input, model.get_layer(name).output)  # one input: no list, no structure warning
    return outputs(probe, np.asarray(x, dtype=np.float32), batch)


def top_activating_means(
    activations: np.ndarray, images: np.ndarray, top_k: int = DEFAULT_TOP_K
) -> tuple[np.ndarray, np.ndarray]:
    """For each unit, the mean of the ``top_k`` images that activate it most.

    A deep unit has no 28x28 filter, but the images that excite it most show
    what it has learned to detect.

    Parameters
    ----------
    activations : np.ndarray
        (n, units) unit outputs for the n images.
    images : np.ndarray
        (n, 784) or (n, 28, 28) images to average, in display form (pixels in [0, 1]).
    top_k : int
        How many images to average per unit.

    Returns
    -------
    means : np.ndarray
        (units, 28, 28) float32 mean images.
    peaks : np.ndarray
        (units,) the largest activation of each unit; a ReLU unit whose peak is 0
        never fires (a "dead" unit) and its mean image means nothing.
    """
    acts = np.nan_to_num(np.asarray(activations, dtype=np.float32), nan=-np.inf)
    flat = np.asarray(images, dtype=np.float32).reshape(len(acts), NUM_PIXELS)
    if len(acts) == 0:
        raise ValueError("No images to average.")
    k = int(min(max(1, top_k), len(acts)))
    # argpartition per column: the k largest activations of each unit, in no particular order.
    top = np.argpartition(-acts, k - 1, axis=0)[:k]  # (k, units)
    means = flat[top].mean(axis=0)  # (units, 784)
    peaks = np.max(acts, axis=0)
    return means.reshape(-1, IMAGE_SIDE, IMAGE_SIDE).astype(np.float32), peaks.astype(np.float32)


def favourite_images(
    model: Any, spec: ExperimentSpec, x: np.ndarray, mean: np.ndarray | None = None, top_k: int = DEFAULT_TOP_K
) -> tuple[np.ndarray, np.ndarray]:
    """What each last-hidden unit responds to: the mean of the ``top_k`` inputs that activate it most.

    Runs ``x`` through the model (``hidden_activations``), turns the inputs back
    into viewable pixels (``display_images``) and averages each unit's top
    images (``top_activating_means``).

    Parameters
    ----------
    model : keras.Model
        The trained model.
    spec : ExperimentSpec
        Its spec (names the last hidden layer).
    x : np.ndarray
        (n, 784) inputs as the model takes them (``Prepared.x_train``: centered when the spec centers).
    mean : np.ndarray, optional
        The training mean subtracted from ``x`` (``Prepared.mean``), added back for display.
    top_k : int
        How many images to average per unit.

    Returns
    -------
    means, peaks : np.ndarray
        As ``top_activating_means``: (units, 28, 28) mean images in [0, 1] and each unit's largest activation.
    """
    activations = hidden_activations(model, spec, x)
    return top_activating_means(activations, display_images(x, mean), top_k)


# --------------------------------------------------------------- predictions
def misclassified(labels: np.ndarray, probs: np.ndarray, limit: int | None = None) -> list[Mistake]:
    """Test images the model got wrong, the most confident mistakes first.

    Parameters
    ----------
    labels : np.ndarray
        (n,) true digits.
    probs : np.ndarray
        (n, 10) class probabilities.
    limit : int, optional
        Return at most this many.
    """
    probs = np.nan_to_num(np.asarray(probs, dtype=np.float32))
    labels = np.asarray(labels).astype(np.int64)
    if len(labels) != len(probs):
        raise ValueError(f"{len(labels)} labels but {len(probs)} predictions.")
    predicted = np.argmax(probs, axis=1)
    wrong = np.flatnonzero(predicted != labels)
    confidence = probs[wrong, predicted[wrong]]
    order = wrong[np.argsort(-confidence, kind="stable")]
    if limit is not None:
        order = order[:limit]
    return [Mistake(int(i), int(labels[i]), int(predicted[i]), float(probs[i, predicted[i]])) for i in order]


def gallery_indices(labels: np.ndarray, per_class: int = 2) -> np.ndarray:
    """Indices of the first ``per_class`` images of each digit, ordered 0, 0, 1, 1, ... 9, 9."""
    labels = np.asarray(labels)
    picks = [np.flatnonzero(labels == d)[:per_class] for d in range(NUM_CLASSES)]
    return np.concatenate(picks).astype(np.int64) if picks else np.zeros(0, np.int64)


def display_images(x: np.ndarray, mean: np.ndarray | None) -> np.ndarray:
    """Prepared inputs back to viewable pixels in [0, 1] (adds the training mean back when centered)."""
    images = np.asarray(x, dtype=np.float32)
    if mean is not None:
        images = images + np.asarray(mean, dtype=np.float32)
    return np.clip(images, 0.0, 1.0)
