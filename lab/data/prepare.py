"""Prepare a data source for a spec: the float32 arrays it trains and evaluates on.

``prepare`` takes the spec's subset of the training images, splits off the
validation images, scales pixels to [0, 1], subtracts the training mean when the
spec centers its data, and one-hot encodes the labels, once per distinct data
setting. ``center_images`` is the one place where the training mean is
subtracted: from the training data here, and from any new image (a drawing, a
shifted test digit) a model trained on centered data is shown.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from lab.architecture import NUM_CLASSES, NUM_PIXELS
from lab.data.sources import Dataset, load_source
from lab.spec import ExperimentSpec, subset_size


@dataclass(frozen=True, kw_only=True)
class Prepared:
    """The float32 arrays one spec trains and evaluates on.

    Images are (n, 784) in [0, 1], minus ``mean`` when centering; ``y_*`` are
    one-hot (n, 10) and ``labels_*`` the digits themselves. Build it by name, or
    from images and labels alone with :meth:`from_arrays`.
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
    mean: np.ndarray | None = None  # per-pixel training mean subtracted, or None

    @classmethod
    def from_arrays(
        cls,
        *,
        x_train: np.ndarray,
        labels_train: np.ndarray,
        x_val: np.ndarray,
        labels_val: np.ndarray,
        x_test: np.ndarray,
        labels_test: np.ndarray,
        mean: np.ndarray | None = None,
    ) -> Prepared:
        """Prepared data from model-ready images and their digits; the one-hot labels are computed here.

        Parameters
        ----------
        x_train, x_val, x_test : np.ndarray
            Images (n, 784) as the model takes them (already centered when ``mean`` is given).
        labels_train, labels_val, labels_test : np.ndarray
            Their digits (n,).
        mean : np.ndarray, optional
            The per-pixel training mean the images had subtracted.
        """
        train, val, test = (np.asarray(labels).astype(np.int64) for labels in (labels_train, labels_val, labels_test))
        return cls(
            x_train=x_train, y_train=one_hot(train), labels_train=train,
            x_val=x_val, y_val=one_hot(val), labels_val=val,
            x_test=x_test, y_test=one_hot(test), labels_test=test,
            mean=mean,
        )  # fmt: skip

    def transform(self, images01: np.ndarray) -> np.ndarray:
        """Apply this data's preparation to new images in [0, 1] (n, 784)."""
        return center_images(images01, self.mean)


def center_images(images01: np.ndarray, mean: np.ndarray | None) -> np.ndarray:
    """Images in [0, 1] as a model trained on centered data takes them: (n, 784) float32 minus ``mean``.

    Parameters
    ----------
    images01 : np.ndarray
        (n, 784), (n, 28, 28), (28, 28) or (784,) images in [0, 1].
    mean : np.ndarray or None
        The per-pixel training mean (784 values); None leaves the images as they are.

    Returns
    -------
    np.ndarray
        (n, 784) float32.
    """
    x = np.asarray(images01, dtype=np.float32).reshape(-1, NUM_PIXELS)
    return x if mean is None else x - np.asarray(mean, dtype=np.float32).reshape(1, NUM_PIXELS)


def scale_pixels(images: np.ndarray) -> np.ndarray:
    """uint8 pixels 0-255 as float32 in [0, 1], flattened to (n, 784)."""
    return np.asarray(images, dtype=np.float32).reshape(-1, NUM_PIXELS) / np.float32(255.0)


def one_hot(labels: np.ndarray) -> np.ndarray:
    """One-hot float32 (n, 10) labels."""
    return np.eye(NUM_CLASSES, dtype=np.float32)[np.asarray(labels, dtype=np.int64)]


def test_images(spec: ExperimentSpec) -> tuple[np.ndarray, np.ndarray]:
    """The spec's test images in [0, 1] (n, 784) float32, before any centering, and their labels (int64).

    The same images, in the same order, as ``prepare(spec).x_test`` (which may be centered).
    """
    x, y = _test_split(load_source(spec.data), spec.test_subset)
    return scale_pixels(x), np.asarray(y, dtype=np.int64)


def _test_split(source: Dataset, test_subset: int) -> tuple[np.ndarray, np.ndarray]:
    """The source's test images and labels, the first ``test_subset`` of them when it is set."""
    if test_subset:
        return source.x_test[:test_subset], source.y_test[:test_subset]
    return source.x_test, source.y_test


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
    x_test, y_test = _test_split(source, test_subset)
    if val_mode == "test":
        train_idx, val_idx = np.arange(len(y)), None
    else:
        train_idx, val_idx = validation_indices(y, val_split, val_mode, data_seed)
    x_tr = scale_pixels(x[train_idx])
    mean = x_tr.mean(axis=0).astype(np.float32) if center else None
    x_te = center_images(scale_pixels(x_test), mean)
    if val_idx is None:
        x_va, y_va = x_te, y_test
    else:
        x_va, y_va = center_images(scale_pixels(x[val_idx]), mean), y[val_idx]
    return Prepared.from_arrays(
        x_train=center_images(x_tr, mean),
        labels_train=y[train_idx],
        x_val=x_va,
        labels_val=y_va,
        x_test=x_te,
        labels_test=y_test,
        mean=mean,
    )


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
    count = subset_size(n, subset)
    if count == n:
        return np.arange(n)
    if mode == "first":
        return np.arange(count)
    if mode == "every":
        step = max(1, n // count)
        return np.arange(0, n, step)[:count]
    from sklearn.model_selection import train_test_split  # lazy: scikit-learn takes a second to import

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
    from sklearn.model_selection import train_test_split  # lazy: scikit-learn takes a second to import

    stratify = labels if n_val >= NUM_CLASSES and n - n_val >= NUM_CLASSES else None
    tr, va = train_test_split(np.arange(n), test_size=n_val, stratify=stratify, random_state=seed)
    return np.sort(tr), np.sort(va)
