"""The lab's trainer against the course's own way, side by side in one run.

``compare`` times ``model.fit(X, y, validation_split=..., epochs=...)``, as the
course writes it, and the lab's trainer on the same arrays with the same seed,
and checks that both reach the same numbers. Ratios, not absolute times, are
what carry from one machine to another.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import keras

from lab.bench.workloads import WORKLOADS, workload_arrays, workload_data
from lab.data.prepare import one_hot
from lab.nn.model import build_model, compile_model
from lab.nn.trainer import fit_prepared


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


def compare(name: str, epochs: int = 3) -> Comparison:
    """Run one workload of ``WORKLOADS`` both ways, same data and seed."""
    spec, n_train, n_test = WORKLOADS[name]
    spec = spec.replace(epochs=epochs)
    x, labels = workload_arrays(n_train, n_test)
    y = one_hot(labels)
    x_tr, y_tr, x_te, y_te = x[:n_train], y[:n_train], x[n_train:], y[n_train:]

    # The course's way: plain fit on the arrays.
    keras.utils.set_random_seed(spec.seed)
    keras.backend.clear_session()
    model = compile_model(build_model(spec), spec)
    start = time.perf_counter()
    if spec.val_mode == "last":
        fit = model.fit(
            x_tr, y_tr, validation_split=spec.val_split, epochs=epochs, batch_size=spec.batch_size, verbose=0
        )
    else:
        fit = model.fit(x_tr, y_tr, validation_data=(x_te, y_te), epochs=epochs, batch_size=spec.batch_size, verbose=0)
    course_seconds = time.perf_counter() - start
    course_final = {k: float(v[-1]) for k, v in fit.history.items()}

    # The lab's trainer on the same split.
    result = fit_prepared(spec, workload_data(spec, n_train, n_test))
    lab_final = {k: float(v[-1]) for k, v in result.history.items()}
    return Comparison(name, course_seconds, result.train_seconds, course_final, lab_final)
