"""Run a trained model on many images: one batched forward call that also centres them.

A Keras model called directly (``model(x, training=False)``) skips the dataset
and prediction loop ``model.predict`` builds on every call; batches of
``EVAL_BATCH`` images keep the memory small whatever the test set. Images go in
as pixels in [0, 1] with the run's training mean (``RunResult.mean``), or as
inputs already prepared (``Prepared.x_test``) with no mean.

Nothing here imports TensorFlow: it calls the model it is given.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from lab.architecture import NUM_CLASSES
from lab.data.prepare import center_images

EVAL_BATCH = 2048  # evaluation has no gradients: big batches, same numbers


def forward(model: Callable[..., Any], x: np.ndarray, batch: int = EVAL_BATCH) -> list[np.ndarray]:
    """``model(x, training=False)`` in batches of ``batch`` rows, each output as a numpy array.

    Parameters
    ----------
    model : keras.Model or callable
        Called as ``model(x_batch, training=False)``: a model, a sub-model, or a compiled call.
    x : np.ndarray
        Inputs as the model takes them, (n, ...).
    batch : int
        Rows per call.
    """
    return [np.asarray(model(x[i : i + batch], training=False)) for i in range(0, len(x), batch)]


def outputs(model: Callable[..., Any], x: np.ndarray, batch: int = EVAL_BATCH) -> np.ndarray:
    """What a (sub-)model outputs for all of ``x``, concatenated, float32: activations of a layer, probabilities ...

    Raises
    ------
    ValueError
        For no inputs at all (nothing to concatenate: the output's width is unknown).
    """
    parts = forward(model, x, batch)
    if not parts:
        raise ValueError("No inputs to run the model on.")
    return np.concatenate(parts).astype(np.float32)


def predict_probs(
    model: Callable[..., Any], images: np.ndarray, mean: np.ndarray | None = None, batch: int = EVAL_BATCH
) -> np.ndarray:
    """Class probabilities (n, 10) float32 of the model for ``images``, centred first when ``mean`` is given.

    Parameters
    ----------
    model : keras.Model or callable
        The trained model (or a compiled call of it taking ``training=False``).
    images : np.ndarray
        (n, 784), (n, 28, 28) or one (28, 28) image: pixels in [0, 1] when ``mean`` is
        given, else inputs as the model takes them (already prepared).
    mean : np.ndarray, optional
        The per-pixel training mean of a run trained on centered data (``RunResult.mean``).
    batch : int
        Images per model call.
    """
    parts = forward(model, center_images(images, mean), batch)
    return np.concatenate(parts).astype(np.float32) if parts else np.zeros((0, NUM_CLASSES), np.float32)


def accuracy(
    model: Callable[..., Any],
    images: np.ndarray,
    labels: np.ndarray,
    mean: np.ndarray | None = None,
    batch: int = EVAL_BATCH,
) -> float:
    """Fraction of ``images`` the model classifies as ``labels`` (NaN for no images); see :func:`predict_probs`."""
    probs = predict_probs(model, images, mean, batch)
    return float(np.mean(np.argmax(probs, axis=1) == np.asarray(labels))) if len(probs) else float("nan")
