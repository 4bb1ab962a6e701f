"""Pixel pictures of what a model sees: an input enlarged, and weights in red and blue.

Plain numpy: each function returns a uint8 array for a page to show.
"""

from __future__ import annotations

import numpy as np


def enlarge(image28: np.ndarray, factor: int = 10) -> np.ndarray:
    """Each pixel as a ``factor`` x ``factor`` block (uint8): crisp pixels when shown large."""
    image = np.clip(np.asarray(image28, dtype=np.float32), 0.0, 1.0)
    return np.kron(np.round(image * 255).astype(np.uint8), np.ones((factor, factor), dtype=np.uint8))


def signed_to_rgb(weights: np.ndarray, factor: int = 1) -> np.ndarray:
    """Weights as an RGB image: positive red, negative blue, 0 white, scaled by the largest magnitude.

    Parameters
    ----------
    weights : np.ndarray
        (h, w) weights of one filter.
    factor : int, default 1
        Each weight drawn as ``factor`` x ``factor`` pixels.
    """
    w = np.asarray(weights, dtype=np.float32)
    scale = float(np.abs(w).max()) or 1.0
    v = np.clip(w / scale, -1.0, 1.0)
    pos, neg = np.clip(v, 0, 1), np.clip(-v, 0, 1)
    rgb = np.stack([1 - neg, 1 - pos - neg * 0.55, 1 - pos], axis=-1)  # white -> red (+), white -> blue (-)
    rgb = np.round(np.clip(rgb, 0, 1) * 255).astype(np.uint8)
    if factor > 1:
        rgb = np.repeat(np.repeat(rgb, factor, axis=0), factor, axis=1)
    return rgb
