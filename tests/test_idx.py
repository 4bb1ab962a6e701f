"""IDX reading and writing, checked against hand-built bytes and real Fashion-MNIST files."""

from __future__ import annotations

import gzip
import os
import re
import struct
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest

from lab.data.idx import load_idx_dir, read_idx, write_idx
from tests.ci_support import needs

FASHION_DIR = "/usr/share/datasets/fashion-mnist"
STANDARD_NAMES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


def idx_bytes(type_code: int, shape: tuple[int, ...], data: bytes) -> bytes:
    """An IDX file built with struct, independently of lab.data.idx."""
    return struct.pack(">BBBB", 0, 0, type_code, len(shape)) + struct.pack(f">{len(shape)}I", *shape) + data


def digits(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = (np.arange(n) % 10).astype(np.uint8)
    return images, labels


def write_folder(folder: Path, n_train: int = 12, n_test: int = 5, suffix: str = "") -> tuple[np.ndarray, ...]:
    x_train, y_train = digits(n_train, 1)
    x_test, y_test = digits(n_test, 2)
    for name, array in zip(STANDARD_NAMES, (x_train, y_train, x_test, y_test), strict=True):
        write_idx(folder / (name + suffix), array)
    return x_train, y_train, x_test, y_test


# ------------------------------------------------------------------ read_idx
def test_reads_hand_built_uint8_file(tmp_path: Path) -> None:
    images, _ = digits(3)
    path = tmp_path / "images-idx3-ubyte"
    path.write_bytes(idx_bytes(0x08, (3, 28, 28), images.tobytes()))
    result = read_idx(path)
    assert result.dtype == np.uint8
    assert result.shape == (3, 28, 28)
    np.testing.assert_array_equal(result, images)


def test_reads_hand_built_gzip_without_gz_name(tmp_path: Path) -> None:
    """Gzip is recognised by its magic bytes, not only by the name."""
    labels = np.array([7, 2, 1, 0, 4], dtype=np.uint8)
    path = tmp_path / "labels-idx1-ubyte"
    path.write_bytes(gzip.compress(idx_bytes(0x08, (5,), labels.tobytes())))
    np.testing.assert_array_equal(read_idx(path), labels)


@pytest.mark.parametrize(
    ("type_code", "fmt", "dtype"),
    [
        (0x09, "b", np.int8),
        (0x0B, "h", np.int16),
        (0x0C, "i", np.int32),
        (0x0D, "f", np.float32),
        (0x0E, "d", np.float64),
    ],
)
def test_reads_big_endian_types(tmp_path: Path, type_code: int, fmt: str, dtype: type) -> None:
    values = [-3, 0, 1, 100, -100, 42]
    path = tmp_path / "values.idx"
    path.write_bytes(idx_bytes(type_code, (2, 3), struct.pack(f">{len(values)}{fmt}", *values)))
    result = read_idx(path)
    assert result.dtype == np.dtype(dtype)
    assert result.dtype.byteorder in ("=", "|")  # native order, ready for arithmetic
    np.testing.assert_array_equal(result, np.array(values, dtype=dtype).reshape(2, 3))


@pytest.mark.parametrize("name", ["round.idx", "round.idx.gz"])
def test_write_read_round_trip(tmp_path: Path, name: str) -> None:
    images, _ = digits(4)
    path = tmp_path / name
    write_idx(path, images)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == name.endswith(".gz")
    np.testing.assert_array_equal(read_idx(path), images)


def test_write_idx_matches_hand_built_bytes(tmp_path: Path) -> None:
    images, _ = digits(2)
    write_idx(tmp_path / "a", images)
    assert (tmp_path / "a").read_bytes() == idx_bytes(0x08, (2, 28, 28), images.tobytes())


def test_write_idx_other_type_round_trip(tmp_path: Path) -> None:
    values = np.array([[-1.5, 2.25], [3.0, 1e6]])
    write_idx(tmp_path / "f.idx", values, dtype=np.float32)
    np.testing.assert_array_equal(read_idx(tmp_path / "f.idx"), values.astype(np.float32))


def test_write_idx_refuses_values_that_would_wrap(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"w\.idx.*uint8.*256"):
        write_idx(tmp_path / "w.idx", np.array([1, 256]))


@pytest.mark.parametrize(
    ("content", "fault"),
    [
        (b"\x01\x00\x08\x01\x00\x00\x00\x01\x07", "wrong magic number"),
        (b"PK\x03\x04" + bytes(20), "wrong magic number"),
        (b"\x00\x00\x07\x01\x00\x00\x00\x01\x07", r"wrong magic number.*unknown type code 0x07"),
        (b"\x00\x00\x08\x00", r"wrong magic number.*zero dimensions"),
    ],
)
def test_wrong_magic(tmp_path: Path, content: bytes, fault: str) -> None:
    path = tmp_path / "bad-idx1-ubyte"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=rf"bad-idx1-ubyte.*{fault}"):
        read_idx(path)


@pytest.mark.parametrize("content", [b"\x00\x00", b"\x00\x00\x08\x03\x00\x00\x00\x02\x00\x00"])
def test_truncated_header(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "short-header"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=r"short-header.*truncated.*header"):
        read_idx(path)


@pytest.mark.parametrize("gz", [False, True])
def test_truncated_data(tmp_path: Path, gz: bool) -> None:
    images, _ = digits(3)
    content = idx_bytes(0x08, (3, 28, 28), images.tobytes()[:-100])
    path = tmp_path / ("cut-idx3-ubyte" + (".gz" if gz else ""))
    path.write_bytes(gzip.compress(content) if gz else content)
    with pytest.raises(ValueError, match=r"cut-idx3-ubyte.*truncated.*2,352 data bytes.*only 2,252"):
        read_idx(path)


def test_truncated_gzip_stream(tmp_path: Path) -> None:
    images, _ = digits(3)
    path = tmp_path / "cut.gz"
    path.write_bytes(gzip.compress(idx_bytes(0x08, (3, 28, 28), images.tobytes()))[:-30])
    with pytest.raises(ValueError, match=r"cut\.gz.*damaged or truncated gzip"):
        read_idx(path)


def test_extra_trailing_bytes_rejected(tmp_path: Path) -> None:
    path = tmp_path / "long"
    path.write_bytes(idx_bytes(0x08, (2,), b"\x01\x02\x03"))
    with pytest.raises(ValueError, match=r"long.*1 extra bytes after the data"):
        read_idx(path)


def test_missing_file_read(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"nothing-here.*does not exist"):
        read_idx(tmp_path / "nothing-here")


# -------------------------------------------------------------- load_idx_dir
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_load_dir_round_trip(tmp_path: Path, suffix: str) -> None:
    expected = write_folder(tmp_path, suffix=suffix)
    loaded = load_idx_dir(tmp_path)
    for got, want in zip(loaded, expected, strict=True):
        assert got.dtype == np.uint8
        np.testing.assert_array_equal(got, want)
    assert loaded[0].shape == (12, 28, 28) and loaded[1].shape == (12,)


def test_load_dir_dotted_names_and_mixed_compression(tmp_path: Path) -> None:
    x_train, y_train = digits(10, 3)
    x_test, y_test = digits(4, 4)
    write_idx(tmp_path / "train-images.idx3-ubyte", x_train)
    write_idx(tmp_path / "train-labels.idx1-ubyte.gz", y_train)
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(idx_bytes(0x08, (4, 28, 28), x_test.tobytes()))
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(0x08, (4,), y_test.tobytes())))
    got = load_idx_dir(str(tmp_path))
    for a, b in zip(got, (x_train, y_train, x_test, y_test), strict=True):
        np.testing.assert_array_equal(a, b)


def test_missing_file_named_with_folder(tmp_path: Path) -> None:
    write_folder(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    folder = re.escape(str(tmp_path))
    with pytest.raises(ValueError, match=rf"'{folder}'.*missing the test labels file.*t10k-labels-idx1-ubyte"):
        load_idx_dir(tmp_path)


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"no-such-folder.*does not exist"):
        load_idx_dir(tmp_path / "no-such-folder")


def test_count_mismatch(tmp_path: Path) -> None:
    write_folder(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.arange(11) % 10)
    with pytest.raises(
        ValueError, match=r"train-labels-idx1-ubyte.*11 labels.*train-images-idx3-ubyte.*12 images.*must match"
    ):
        load_idx_dir(tmp_path)


def test_label_ten(tmp_path: Path) -> None:
    write_folder(tmp_path)
    labels = np.arange(5) % 10
    labels[3] = 10
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", labels)
    with pytest.raises(ValueError, match=r"t10k-labels-idx1-ubyte.*label 10 at position 3.*outside 0-9"):
        load_idx_dir(tmp_path)


def test_wrong_image_size(tmp_path: Path) -> None:
    write_folder(tmp_path)
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((12, 32, 32), dtype=np.uint8))
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte.*32x32 images.*28x28"):
        load_idx_dir(tmp_path)


def test_images_not_3d(tmp_path: Path) -> None:
    write_folder(tmp_path)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", np.zeros((5, 784), dtype=np.uint8))
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte.*3 dimensions.*has 2"):
        load_idx_dir(tmp_path)


def test_labels_not_1d(tmp_path: Path) -> None:
    write_folder(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros((12, 1), dtype=np.uint8))
    with pytest.raises(ValueError, match=r"train-labels-idx1-ubyte.*1 dimension.*has 2"):
        load_idx_dir(tmp_path)


def test_bad_file_inside_folder_is_named(tmp_path: Path) -> None:
    write_folder(tmp_path)
    (tmp_path / "train-images-idx3-ubyte").write_bytes(b"<html>not found</html>")
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte.*wrong magic number"):
        load_idx_dir(tmp_path)


# ------------------------------------------------------ real Fashion-MNIST
@needs(os.path.isdir(FASHION_DIR), "Debian package dataset-fashion-mnist not installed (scripts/test.sh installs it)")
def test_debian_fashion_mnist() -> None:
    x_train, y_train, x_test, y_test = load_idx_dir(FASHION_DIR)
    assert x_train.shape == (60_000, 28, 28) and x_test.shape == (10_000, 28, 28)
    assert y_train.shape == (60_000,) and y_test.shape == (10_000,)
    assert x_train.dtype == y_train.dtype == np.uint8
    assert set(np.unique(y_train)) == set(range(10)) and y_test.max() <= 9
    assert np.bincount(y_train).tolist() == [6_000] * 10  # Fashion-MNIST is balanced
    assert x_train.max() == 255 and x_train.min() == 0


# ----------------------------------------------------------- size before data
def _gzip_of(header: bytes, zeros: int) -> bytes:
    """``header`` and ``zeros`` zero bytes, gzipped a megabyte at a time (a gzip bomb when ``zeros`` is large)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: a gzip stream
    chunk = bytes(1 << 20)
    parts = [packer.compress(header)]
    for start in range(0, zeros, len(chunk)):
        parts.append(packer.compress(chunk[: min(len(chunk), zeros - start)]))
    return b"".join([*parts, packer.flush()])


def test_a_header_announcing_a_billion_images_is_refused_before_anything_is_inflated(tmp_path: Path) -> None:
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(_gzip_of(struct.pack(">BBBBIII", 0, 0, 8, 3, 10**9, 28, 28), 100 * 2**20))
    assert path.stat().st_size < 200_000  # 100 MB of zeros, gzipped
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"train-images-idx3-ubyte\.gz.*too large.*784,000,000,000 data bytes"):
            read_idx(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2 * 2**20, peak  # the header, and a buffer: not the 100 MB behind it


def test_a_gzip_bomb_behind_an_honest_small_header_is_refused_reading_only_what_the_header_allows(
    tmp_path: Path,
) -> None:
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(_gzip_of(struct.pack(">BBBBIII", 0, 0, 8, 3, 3, 28, 28), 100 * 2**20))
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte\.gz.*at least 1,048,576 extra bytes"):
            read_idx(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * 2**20, peak  # 2,352 announced bytes and a megabyte's peek, never the 100 MB


def test_a_plain_file_announcing_more_than_it_holds_is_refused_from_its_size(tmp_path: Path) -> None:
    path = tmp_path / "labels-idx1-ubyte"
    path.write_bytes(struct.pack(">BBBBI", 0, 0, 8, 1, 5_000_000) + bytes(10))
    with pytest.raises(ValueError, match=r"labels-idx1-ubyte.*truncated.*5,000,000 data bytes.*only 10"):
        read_idx(path)


def test_the_size_limit_is_a_parameter_and_the_default_takes_full_mnist(tmp_path: Path) -> None:
    from lab.data.idx import MAX_IDX_BYTES

    assert MAX_IDX_BYTES >= 70_000 * 28 * 28
    path = tmp_path / "x-idx1-ubyte.gz"
    write_idx(path, np.arange(100, dtype=np.uint8))
    assert read_idx(path).shape == (100,)
    with pytest.raises(ValueError, match=r"x-idx1-ubyte\.gz.*too large.*100 data bytes.*more than the 99"):
        read_idx(path, max_bytes=99)


def test_a_bad_file_in_a_folder_is_named_when_it_is_too_large(tmp_path: Path) -> None:
    write_folder(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte").unlink()
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(_gzip_of(struct.pack(">BBBBI", 0, 0, 8, 1, 2**31), 1000))
    with pytest.raises(ValueError, match=r"train-labels-idx1-ubyte\.gz.*too large"):
        load_idx_dir(tmp_path)
