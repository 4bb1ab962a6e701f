"""Pictures made of pixels: digits and weights as images, tiled into grids.

No Streamlit here: each function returns an RGB uint8 array that a page hands
to ``st.image``, so the pictures can be tested without a running app.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

POSITIVE_COLOR = (44, 160, 44)  # green frame: a unit that speaks for the digit (course slide B2)
NEGATIVE_COLOR = (214, 39, 40)  # red frame: a unit that speaks against it
BACKGROUND = (236, 238, 242)

# Red-blue diverging scale (ColorBrewer RdBu, reversed): blue < 0 < red, white at exactly 0.
_DIVERGING = np.array(
    [
        (5, 48, 97), (33, 102, 172), (67, 147, 195), (146, 197, 222), (209, 229, 240), (247, 247, 247),
        (253, 219, 199), (244, 165, 130), (214, 96, 77), (178, 24, 43), (103, 0, 31),
    ],
    dtype=np.float32,
)  # fmt: skip


# ------------------------------------------------------------ weight images
def diverging_rgb(values: np.ndarray, limit: float) -> np.ndarray:
    """Map values to RGB uint8 on the red-blue scale: -limit blue, 0 white, +limit red."""
    v = np.nan_to_num(np.asarray(values, dtype=np.float32))
    t = np.clip(v / limit, -1.0, 1.0) if limit > 0 else np.zeros_like(v)
    pos = (t + 1.0) / 2.0 * (len(_DIVERGING) - 1)
    lo = np.floor(pos).astype(np.int64).clip(0, len(_DIVERGING) - 2)
    frac = (pos - lo)[..., None]
    rgb = _DIVERGING[lo] * (1 - frac) + _DIVERGING[lo + 1] * frac
    return rgb.round().astype(np.uint8)


def gray_rgb(images: np.ndarray) -> np.ndarray:
    """Map images in [0, 1] to RGB uint8 with ink dark on white, as digits are drawn on paper."""
    v = np.clip(np.nan_to_num(np.asarray(images, dtype=np.float32)), 0.0, 1.0)
    gray = ((1.0 - v) * 255).round().astype(np.uint8)
    return np.repeat(gray[..., None], 3, axis=-1)


def image_grid(
    images: np.ndarray,
    *,
    columns: int = 10,
    mode: str = "diverging",
    shared_scale: bool = False,
    frames: Mapping[int, tuple[int, int, int]] | None = None,
    labels: Sequence[str] | None = None,
    scale: int = 3,
    pad: int = 3,
) -> np.ndarray:
    """Compose many 28x28 images into one RGB picture, like the course's ``show_imgs``.

    Parameters
    ----------
    images : np.ndarray
        (n, h, w) images: weights (``mode="diverging"``) or pixels in [0, 1] (``mode="gray"``).
    columns : int
        Tiles per row.
    mode : str
        ``diverging``: red-blue scale centered at zero (weights); ``gray``: digits.
    shared_scale : bool
        Diverging mode: one color scale for all tiles (compare strengths) instead
        of each tile scaled to its own largest weight (see each pattern best).
    frames : mapping, optional
        Tile index -> RGB color of a frame drawn around it.
    labels : sequence of str, optional
        A caption under each tile.
    scale : int
        Nearest-neighbour upscaling factor, so pixels stay crisp.
    pad : int
        Pixels between tiles (before upscaling); frames are drawn in this margin.

    Returns
    -------
    np.ndarray
        (H, W, 3) uint8.
    """
    tiles = np.asarray(images, dtype=np.float32)
    if tiles.ndim != 3 or len(tiles) == 0:
        raise ValueError("image_grid needs a non-empty (n, height, width) array.")
    n, h, w = tiles.shape
    columns = max(1, min(columns, n))
    rows = math.ceil(n / columns)
    if mode == "diverging":
        if shared_scale:
            rgb = diverging_rgb(tiles, float(np.nanmax(np.abs(np.nan_to_num(tiles)))) or 1.0)
        else:
            limits = np.abs(np.nan_to_num(tiles)).reshape(n, -1).max(axis=1)
            rgb = np.stack([diverging_rgb(t, float(lim) or 1.0) for t, lim in zip(tiles, limits, strict=True)])
    elif mode == "gray":
        rgb = gray_rgb(tiles)
    else:
        raise ValueError("mode must be 'diverging' or 'gray'.")
    cell_h, cell_w = h + 2 * pad, w + 2 * pad
    canvas = np.empty((rows * cell_h, columns * cell_w, 3), dtype=np.uint8)
    canvas[:] = BACKGROUND
    for i in range(n):
        top, left = (i // columns) * cell_h, (i % columns) * cell_w
        if frames and i in frames:
            edge = pad - max(1, pad - 1)  # the frame fills the margin but one pixel
            canvas[top + edge : top + cell_h - edge, left + edge : left + cell_w - edge] = frames[i]
        canvas[top + pad : top + pad + h, left + pad : left + pad + w] = rgb[i]
    big = np.repeat(np.repeat(canvas, scale, axis=0), scale, axis=1)
    if labels is not None:
        big = _add_labels(big, list(labels), rows, columns, cell_h * scale, cell_w * scale)
    return big


def _add_labels(
    picture: np.ndarray, labels: list[str], rows: int, columns: int, cell_h: int, cell_w: int
) -> np.ndarray:
    """Insert a caption band under each row of tiles, its text a fifth of a tile high (at least 18 px).

    The picture is often shown narrower than drawn (a column's width): text sized to the tile stays readable
    where a fixed 12 px shrank to about 9.
    """
    size = max(18, cell_w // 5)
    font = ImageFont.load_default(size=size)
    band = size + 6
    out = Image.new("RGB", (picture.shape[1], rows * (cell_h + band)), BACKGROUND)
    draw = ImageDraw.Draw(out)
    for r in range(rows):
        out.paste(Image.fromarray(picture[r * cell_h : (r + 1) * cell_h]), (0, r * (cell_h + band)))
        for c in range(columns):
            i = r * columns + c
            if i >= len(labels):
                break
            text = labels[i]
            width = draw.textlength(text, font=font)
            where = (c * cell_w + (cell_w - width) / 2, r * (cell_h + band) + cell_h)
            draw.text(where, text, fill=(31, 36, 48), font=font)
    return np.asarray(out)


def upscale(image: np.ndarray, factor: int = 3) -> np.ndarray:
    """Nearest-neighbour upscaling, so a 28x28 digit stays crisp when shown large."""
    return np.repeat(np.repeat(np.asarray(image), factor, axis=0), factor, axis=1)


def digit_picture(image01: np.ndarray, factor: int = 2) -> np.ndarray:
    """One image (784 pixels or 28x28, in [0, 1]) as a crisp dark-on-white RGB picture, ``factor`` times larger."""
    side = math.isqrt(np.size(image01))
    return upscale(gray_rgb(np.asarray(image01).reshape(side, side)), factor)


def grid_columns(tiles: int) -> int:
    """Tiles per row for kernels and feature maps: 10 as two rows of 5, 40 as five rows of 8, 80 as eight of 10."""
    return min(tiles, 5) if tiles <= 10 else 8 if tiles <= 40 else 10


def kernel_grid(kernels: np.ndarray) -> np.ndarray:
    """A conv layer's kernels (filters, k, k) on one red-blue scale, each about 84 pixels wide."""
    side = kernels.shape[1]
    return image_grid(
        kernels,
        columns=grid_columns(len(kernels)),
        mode="diverging",
        shared_scale=True,
        scale=max(4, 84 // side),
        pad=1,
    )


def feature_map_grid(maps: np.ndarray, shared_scale: bool) -> np.ndarray:
    """One conv layer's feature maps (height, width, filters) as tiles on a red-blue scale."""
    height, _, channels = maps.shape
    tiles = np.transpose(maps, (2, 0, 1))
    scale = max(3, 84 // height)
    return image_grid(
        tiles, columns=grid_columns(channels), mode="diverging", shared_scale=shared_scale, scale=scale, pad=1
    )


def scaled_to_peak(values: np.ndarray) -> np.ndarray:
    """Values divided by their largest, clipped to [0, 1] (all 0 when nothing is positive): a map shown as ink."""
    peak = float(np.max(values))
    return np.clip(values / peak, 0, 1) if peak > 0 else np.zeros_like(values)
