"""The shift test: accuracy on test digits moved a few pixels.

An MLP learns "ink at pixel (12, 14)"; a CNN learns strokes wherever they are,
and augmentation shows the network moved digits. Moving every test digit two
to four pixels in a random direction shows the difference in one number: the
accuracy a model loses. The shifts are seeded, so every model meets the same
moved digits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from lab.architecture import IMAGE_SIDE, NUM_PIXELS
from lab.data.prepare import test_images
from lab.nn.forward import accuracy
from lab.spec import ExperimentSpec

SHIFT_MIN = 2  # pixels: smaller shifts barely trouble an MLP trained on centered digits
SHIFT_MAX = 4  # pixels: larger ones push strokes of a 20-pixel digit off a 28-pixel image
SHIFT_SEED = 0
# The eight directions a digit moves in: right, left, down, up and the diagonals.
_DIRECTIONS = np.array([(0, 1), (0, -1), (1, 0), (-1, 0), (1, 1), (1, -1), (-1, 1), (-1, -1)])


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
