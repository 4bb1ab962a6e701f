"""Read and write IDX files (the format MNIST and Fashion-MNIST ship in), with numpy.

An IDX file is a 4-byte magic number, big-endian uint32 dimensions, then the
data in C order, big-endian. The magic number is two zero bytes, a type code
and the number of dimensions::

    00 00 08 03  00 00 EA 60  00 00 00 1C  00 00 00 1C  <60000*28*28 bytes>
          |  |   n = 60,000   rows = 28    cols = 28
          |  3 dimensions
          0x08: unsigned byte

Files may be gzipped (as they are distributed); the reader looks at the gzip
magic bytes rather than trusting the file name.
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt

from lab.architecture import IMAGE_SIDE, NUM_CLASSES

# Type code -> big-endian dtype, as the IDX format defines them.
IDX_TYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_TYPE_CODES = {dtype.newbyteorder("="): code for code, dtype in IDX_TYPES.items()}
_GZIP_MAGIC = b"\x1f\x8b"
# The most data bytes one IDX file may announce: twice full MNIST's 70,000 images as bytes (110 MB).
# A header is read before its data, so a file announcing more (a gzip bomb's 10**9 images) is refused unread.
MAX_IDX_BYTES = 2 * 70_000 * 28 * 28
# How far past the announced data a gzipped file is inflated, to tell (and say) that extra bytes follow.
_EXTRA_PEEK = 1 << 20

# The four standard files, by role: (role in messages, name stem, IDX suffix).
_STANDARD_FILES = (
    ("training images", "train-images", "idx3-ubyte"),
    ("training labels", "train-labels", "idx1-ubyte"),
    ("test images", "t10k-images", "idx3-ubyte"),
    ("test labels", "t10k-labels", "idx1-ubyte"),
)


# ------------------------------------------------------------------- reading
def read_idx(path: str | os.PathLike, max_bytes: int = MAX_IDX_BYTES) -> np.ndarray:
    """Read an IDX file, plain or gzipped, checking its size before reading (or inflating) its data.

    Parameters
    ----------
    path : str or os.PathLike
        The file. Gzip is detected by its magic bytes (1f 8b), not by the
        name: a gzipped file without ``.gz`` is read, and so is a plain file
        named ``.gz``.
    max_bytes : int, default MAX_IDX_BYTES
        The most data bytes a header may announce. The header is read first
        (from a streaming gzip reader for a gzipped file), and exactly the bytes
        it announces are read after it: a small gzip file that inflates to
        gigabytes (a gzip bomb) costs no more memory than its header allows.

    Returns
    -------
    np.ndarray
        The array with the file's shape, in native byte order (``uint8`` for
        MNIST's type code 0x08).

    Raises
    ------
    ValueError
        Naming the file and the fault: a missing or unreadable file, a damaged
        gzip stream, a wrong magic number (first two bytes not zero,
        unknown type code, no dimensions), a header that announces more data
        than ``max_bytes``, a header or data shorter than the dimensions
        require, or bytes left over after the data.
    """
    path = Path(path)
    try:
        with _open_stream(path) as (stream, plain_size):
            dtype, shape = _read_header(stream, path)
            count = math.prod(shape)
            expected = count * dtype.itemsize
            if expected > max_bytes:
                raise ValueError(
                    f"IDX file '{path}' is too large: its header announces shape {shape} ({expected:,} data "
                    f"bytes), more than the {max_bytes:,} this lab reads (70,000 MNIST images are "
                    f"{70_000 * IMAGE_SIDE * IMAGE_SIDE:,}). Is the header right?"
                )
            if plain_size is not None:
                # A plain file's size says at once whether the data is all there: no read needed to refuse it.
                _check_length(path, shape, expected, plain_size - (4 + 4 * len(shape)))
            raw = stream.read(expected)
            if len(raw) < expected:
                _check_length(path, shape, expected, len(raw))
            # Inflate at most a little more than the header announced, to tell that something follows.
            extra = len(stream.read(_EXTRA_PEEK))
            if extra:
                _check_length(path, shape, expected, expected + extra, at_least=extra == _EXTRA_PEEK)
    except FileNotFoundError:
        raise ValueError(f"IDX file '{path}' does not exist.") from None
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise ValueError(f"IDX file '{path}' is a damaged or truncated gzip file ({exc}).") from exc
    except OSError as exc:
        raise ValueError(f"IDX file '{path}' cannot be read: {exc.strerror or exc}.") from exc
    data = np.frombuffer(raw, dtype=dtype, count=count)
    # astype copies into native byte order and a writable array.
    return data.astype(dtype.newbyteorder("="), copy=True).reshape(shape)


@contextmanager
def _open_stream(path: Path) -> Iterator[tuple[BinaryIO, int | None]]:
    """(a reader of the file's IDX bytes, the file's size when it is plain IDX, None when gzipped)."""
    with open(path, "rb") as file:
        if file.read(2) == _GZIP_MAGIC:
            file.seek(0)
            with gzip.GzipFile(fileobj=file, mode="rb") as stream:  # inflates only as far as it is read
                yield stream, None
            return
        # A file named .gz that is not gzip (some browsers decompress downloads but
        # keep the name) is read as plain IDX; the magic number check still applies.
        file.seek(0)
        yield file, os.fstat(file.fileno()).st_size


def _check_length(path: Path, shape: tuple[int, ...], expected: int, available: int, *, at_least: bool = False) -> None:
    """ValueError unless exactly ``expected`` data bytes follow the header (``available`` of them do)."""
    if available < expected:
        raise ValueError(
            f"IDX file '{path}' is truncated: its header announces shape {shape} "
            f"({expected:,} data bytes) but only {max(available, 0):,} data bytes follow."
        )
    if available > expected:
        # Trailing bytes mean the header and the data disagree: refuse rather
        # than silently ignore part of the file.
        more = "at least " if at_least else ""
        raise ValueError(
            f"IDX file '{path}' has {more}{available - expected:,} extra bytes after the data "
            f"its header announces (shape {shape}): the header or the file is wrong."
        )


def _read_header(stream: BinaryIO, path: Path) -> tuple[np.dtype, tuple[int, ...]]:
    """(dtype, shape) from the header at the stream's start; ValueError on a bad one."""
    magic = stream.read(4)
    if len(magic) < 4:
        raise ValueError(
            f"IDX file '{path}' is truncated: the header needs 4 bytes for the magic number, the file has {len(magic)}."
        )
    zero1, zero2, type_code, ndim = magic
    if zero1 != 0 or zero2 != 0:
        raise ValueError(
            f"IDX file '{path}' has a wrong magic number {magic.hex(' ')}: an IDX file starts "
            "with two zero bytes (is it an IDX file?)."
        )
    if type_code not in IDX_TYPES:
        known = ", ".join(f"0x{code:02X}" for code in IDX_TYPES)
        raise ValueError(
            f"IDX file '{path}' has a wrong magic number {magic.hex(' ')}: "
            f"unknown type code 0x{type_code:02X} (known: {known})."
        )
    if ndim == 0:
        raise ValueError(f"IDX file '{path}' has a wrong magic number {magic.hex(' ')}: zero dimensions.")
    dims = stream.read(4 * ndim)
    if len(dims) < 4 * ndim:
        raise ValueError(
            f"IDX file '{path}' is truncated: the header needs {4 + 4 * ndim} bytes for "
            f"{ndim} dimensions, the file has {4 + len(dims)}."
        )
    shape = tuple(int(d) for d in np.frombuffer(dims, dtype=">u4", count=ndim))
    return IDX_TYPES[type_code], shape


# ------------------------------------------------------------------- writing
def write_idx(path: str | os.PathLike, array: np.ndarray, *, dtype: npt.DTypeLike = np.uint8) -> None:
    """Write an array as an IDX file, gzipped when ``path`` ends with ``.gz``.

    Parameters
    ----------
    path : str or os.PathLike
        Where to write; parent folders must exist.
    array : np.ndarray
        The data, at least 1-D, every dimension below 2**32.
    dtype : numpy dtype, default uint8
        The IDX element type: uint8 (MNIST's), int8, int16, int32, float32 or
        float64. Integer types require integer values within their range, so
        that nothing wraps around silently (a label 256 is not written as 0).

    Raises
    ------
    ValueError
        When the array is 0-D, has a dimension too large for IDX, or holds
        values the chosen type cannot represent, or the dtype is not an IDX type.
    """
    target = np.dtype(dtype)
    if target not in _TYPE_CODES:
        names = ", ".join(str(t) for t in _TYPE_CODES)
        raise ValueError(f"Cannot write '{path}': IDX has no type for {target} (use one of {names}).")
    values = np.asarray(array)
    if values.ndim == 0 or values.ndim > 255:
        raise ValueError(f"Cannot write '{path}': IDX needs 1 to 255 dimensions, the array has {values.ndim}.")
    if any(d >= 2**32 for d in values.shape):
        raise ValueError(f"Cannot write '{path}': dimension {values.shape} too large for IDX (below 2**32).")
    _check_representable(values, target, path)
    header = bytes([0, 0, _TYPE_CODES[target], values.ndim]) + np.asarray(values.shape, dtype=">u4").tobytes()
    payload = header + np.ascontiguousarray(values, dtype=target.newbyteorder(">")).tobytes()
    if str(path).lower().endswith(".gz"):
        payload = gzip.compress(payload, mtime=0)  # mtime=0: same array, same bytes
    Path(path).write_bytes(payload)


def _check_representable(values: np.ndarray, target: np.dtype, path: str | os.PathLike) -> None:
    """ValueError when casting ``values`` to integer ``target`` would change them."""
    if target.kind not in "iu" or values.size == 0:
        return
    if values.dtype.kind not in "biuf":
        raise ValueError(f"Cannot write '{path}': values of type {values.dtype} are not numbers.")
    if values.dtype.kind == "f" and not np.array_equal(values, np.round(values)):
        raise ValueError(f"Cannot write '{path}' as {target}: the values are not whole numbers.")
    info = np.iinfo(target)
    low, high = values.min(), values.max()
    if low < info.min or high > info.max:
        raise ValueError(
            f"Cannot write '{path}' as {target}: values range from {low} to {high}, outside {info.min}..{info.max}."
        )


# -------------------------------------------------------------- MNIST folder
def load_idx_dir(directory: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Load the four standard MNIST-format IDX files from a folder.

    Each file may be plain or gzipped, under the standard name
    (``train-images-idx3-ubyte``) or the common dotted variant
    (``train-images.idx3-ubyte``), each with or without ``.gz``.

    Parameters
    ----------
    directory : str or os.PathLike
        The folder holding ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
        ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``.

    Returns
    -------
    x_train, y_train, x_test, y_test : np.ndarray
        Images as uint8 arrays of shape (n, 28, 28), labels as uint8 (n,).

    Raises
    ------
    ValueError
        Naming the file and the fault: a missing file (and which of the four),
        any fault ``read_idx`` reports, images that are not 3-D 28x28 uint8,
        labels that are not 1-D integers in 0-9, or image and label counts
        that differ.
    """
    folder = Path(directory)
    if not folder.is_dir():
        raise ValueError(f"IDX folder '{folder}' does not exist or is not a folder.")
    paths = [_find_file(folder, role, stem, suffix) for role, stem, suffix in _STANDARD_FILES]
    x_train, y_train, x_test, y_test = (read_idx(p) for p in paths)
    x_train = _check_images(x_train, paths[0])
    x_test = _check_images(x_test, paths[2])
    y_train = _check_labels(y_train, paths[1], len(x_train), paths[0])
    y_test = _check_labels(y_test, paths[3], len(x_test), paths[2])
    return x_train, y_train, x_test, y_test


def _find_file(folder: Path, role: str, stem: str, suffix: str) -> Path:
    """The first existing candidate name for one of the four files."""
    names = [f"{stem}-{suffix}", f"{stem}.{suffix}"]
    candidates = [name + ext for name in names for ext in ("", ".gz")]
    for name in candidates:
        if (folder / name).is_file():
            return folder / name
    raise ValueError(
        f"IDX folder '{folder}' is missing the {role} file: expected {candidates[0]} "
        f"or {candidates[1]} (or the dotted name {candidates[2]}[.gz])."
    )


def _check_images(images: np.ndarray, path: Path) -> np.ndarray:
    if images.ndim != 3:
        raise ValueError(
            f"IDX file '{path}' should hold images (3 dimensions: count, rows, columns) "
            f"but has {images.ndim} dimension(s), shape {images.shape}."
        )
    if images.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE):
        raise ValueError(
            f"IDX file '{path}' holds {images.shape[1]}x{images.shape[2]} images; "
            f"MNIST-format images are {IMAGE_SIDE}x{IMAGE_SIDE}."
        )
    if images.dtype != np.uint8:
        raise ValueError(
            f"IDX file '{path}' holds {images.dtype} pixels; MNIST-format images are "
            "unsigned bytes 0-255 (type code 0x08)."
        )
    if len(images) == 0:
        raise ValueError(f"IDX file '{path}' holds no images.")
    return images


def _check_labels(labels: np.ndarray, path: Path, n_images: int, images_path: Path) -> np.ndarray:
    if labels.ndim != 1:
        raise ValueError(
            f"IDX file '{path}' should hold labels (1 dimension) "
            f"but has {labels.ndim} dimensions, shape {labels.shape}."
        )
    if len(labels) != n_images:
        raise ValueError(
            f"IDX file '{path}' holds {len(labels):,} labels but '{images_path.name}' "
            f"holds {n_images:,} images: the counts must match."
        )
    if labels.dtype.kind not in "iu":
        raise ValueError(f"IDX file '{path}' holds {labels.dtype} labels; labels must be whole numbers 0-9.")
    outside = (labels < 0) | (labels >= NUM_CLASSES)
    if outside.any():
        first = int(np.argmax(outside))
        raise ValueError(
            f"IDX file '{path}' has label {int(labels[first])} at position {first} "
            f"({int(outside.sum())} label(s) outside 0-9); labels must be digits 0-9."
        )
    return labels.astype(np.uint8)
