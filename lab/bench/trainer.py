"""The lab's trainer against the course's own way, side by side in one run.

``compare`` times ``model.fit(X, y, validation_split=..., epochs=...)``, as the
course writes it, and the lab's trainer on the same arrays with the same seed,
and checks that both reach the same numbers. Ratios, not absolute times, are
what carry from one machine to another.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from lab.architecture import check_network
from lab.bench.workloads import WORKLOADS, workload_arrays, workload_data
from lab.data.prepare import one_hot
from lab.nn.model import build_model, compile_model
from lab.nn.trainer import fit_prepared
from lab.spec import ExperimentSpec


@dataclass(frozen=True)
class Comparison:
    """Seconds of both ways on one workload, and whether they agree."""

    name: str
    course_seconds: float
    lab_seconds: float
    course_final: dict[str, float]
    lab_final: dict[str, float]

    @property
    def speedup(self) -> float:
        """How many times faster the lab's trainer is."""
        return self.course_seconds / self.lab_seconds

    @property
    def same_results(self) -> bool:
        """Final losses and accuracies agree to float32 round-off."""
        return all(abs(self.course_final[k] - self.lab_final[k]) < 1e-3 for k in self.course_final)


WARM_UP_IMAGES = 640


def course_fit(spec: ExperimentSpec, x: np.ndarray, y: np.ndarray, x_te: np.ndarray, y_te: np.ndarray) -> Any:
    """The course's way: a plain ``model.fit`` on the arrays; returns its History."""
    keras.utils.set_random_seed(spec.seed)
    keras.backend.clear_session()
    model = compile_model(build_model(spec), spec)
    if spec.val_mode == "last":
        return model.fit(
            x, y, validation_split=spec.val_split, epochs=spec.epochs, batch_size=spec.batch_size, verbose=0
        )
    return model.fit(x, y, validation_data=(x_te, y_te), epochs=spec.epochs, batch_size=spec.batch_size, verbose=0)


def warm_up(spec: ExperimentSpec) -> None:
    """One short training both ways on a network of another shape, before anything is timed.

    The first training in a process pays once for TensorFlow's runtime (thread
    pools, kernels, the optimizer's first graph); whichever way ran first would
    carry that cost. Another shape, so that neither way reuses a traced step of the
    timed network: each still pays its own tracing, as a fresh training does.
    """
    small = spec.replace(hidden=(7,) * len(spec.hidden), conv=(), epochs=1)
    x, labels = workload_arrays(WARM_UP_IMAGES, WARM_UP_IMAGES // 4)
    y = one_hot(labels)
    n = WARM_UP_IMAGES
    course_fit(small, x[:n], y[:n], x[n:], y[n:])
    fit_prepared(check_network(small), workload_data(small, n, WARM_UP_IMAGES // 4))


def compare(name: str, epochs: int = 3) -> Comparison:
    """Run one workload of ``WORKLOADS`` both ways, same data and seed, after a warm-up of both."""
    spec, n_train, n_test = WORKLOADS[name]
    spec = spec.replace(epochs=epochs)
    warm_up(spec)
    x, labels = workload_arrays(n_train, n_test)
    y = one_hot(labels)
    x_tr, y_tr, x_te, y_te = x[:n_train], y[:n_train], x[n_train:], y[n_train:]

    start = time.perf_counter()
    fit = course_fit(spec, x_tr, y_tr, x_te, y_te)
    course_seconds = time.perf_counter() - start
    course_final = {k: float(v[-1]) for k, v in fit.history.items()}

    # The lab's trainer on the same split.
    result = fit_prepared(check_network(spec), workload_data(spec, n_train, n_test))
    lab_final = {k: float(v[-1]) for k, v in result.history.items()}
    return Comparison(name, course_seconds, result.train_seconds, course_final, lab_final)
