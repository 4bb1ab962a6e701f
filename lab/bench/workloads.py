"""The benchmarks' workloads: the course's models at the course's data sizes, on arrays made here.

The sizes matter more than the digits for timing, so the images are real sample
digits repeated with pixel noise up to 19,800 or 60,000: no download needed,
and every benchmark times the same arrays.
"""

from __future__ import annotations

import numpy as np

from lab.data.prepare import Prepared
from lab.data.sources import load_source
from lab.spec import ExperimentSpec

# The course's workloads: A1 (000/001: 19,800 images, 4 x Dense(50) sigmoid, SGD,
# Keras' default batch of 32, validation_split=0.3) and C2 (003: 60,000 images,
# 784-556-156-10 ReLU, Adam, batch 128, validated on the 10,000 test images).
WORKLOADS = {
    "A1": (
        ExperimentSpec(hidden=(50, 50, 50, 50), activation="sigmoid", optimizer="sgd", learning_rate=0.001,
                       batch_size=32, val_split=0.3, val_mode="last"),
        19_800,
        0,
    ),
    "C2": (
        ExperimentSpec(hidden=(556, 156), activation="relu", optimizer="adam", initializer="random_normal",
                       init_stddev=0.1, batch_size=128, val_mode="test"),
        60_000,
        10_000,
    ),
}  # fmt: skip
TEST_STAND_IN = 10  # validation images that stand in for the test set: the benchmarks time training


def workload_arrays(n_train: int, n_test: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Images of the right shape: real sample digits, repeated with pixel noise to reach ``n_train + n_test``.

    Returns
    -------
    (np.ndarray, np.ndarray)
        float32 images (n, 784) in [0, 1] and their uint8 labels (n,).
    """
    source = load_source("sample")
    rng = np.random.default_rng(seed)
    n = n_train + n_test
    pick = rng.integers(0, len(source.y_train), n)
    noise = rng.integers(0, 32, (n, source.x_train.shape[1]))
    x = np.clip(source.x_train[pick].astype(np.int32) + noise, 0, 255).astype(np.float32) / 255.0
    return x, source.y_train[pick]


def workload_data(spec: ExperimentSpec, n_train: int, n_test: int) -> Prepared:
    """The workload's arrays as the lab's trainer takes them, split the way the course splits them.

    With ``val_mode="last"`` the last ``val_split`` of the ``n_train`` images
    validate, as Keras' ``validation_split`` does; otherwise the ``n_test`` images
    after them do (none when ``n_test`` is 0: everything trains). The first
    ``TEST_STAND_IN`` validation images are the test set.
    """
    x, labels = workload_arrays(n_train, n_test)
    if spec.val_mode == "last":
        cut = n_train - int(round(n_train * spec.val_split))
        train, val = slice(0, cut), slice(cut, n_train)
    else:
        train, val = slice(0, n_train), slice(n_train, n_train + n_test)
    x_val, labels_val = x[val], labels[val]
    return Prepared.from_arrays(
        x_train=x[train],
        labels_train=labels[train],
        x_val=x_val,
        labels_val=labels_val,
        x_test=x_val[:TEST_STAND_IN],
        labels_test=labels_val[:TEST_STAND_IN],
    )
