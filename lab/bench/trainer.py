"""Benchmarks that compare two ways side by side in one run and print ratios.

``python -m lab bench`` times the lab's trainer against the course's own way,
``model.fit(X, y, validation_split=..., epochs=...)``, on the same arrays with
the same seed, and checks that both reach the same numbers. Ratios, not
absolute times, are what carry from one machine to another.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

import numpy as np

from lab.data.prepare import Prepared, one_hot
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


def workload_arrays(n_train: int, n_test: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Images of the right shape: real sample digits, repeated with pixel noise to reach ``n_train + n_test``."""
    source = load_source("sample")
    rng = np.random.default_rng(seed)
    n = n_train + n_test
    pick = rng.integers(0, len(source.y_train), n)
    noise = rng.integers(0, 32, (n, source.x_train.shape[1]))
    x = np.clip(source.x_train[pick].astype(np.int32) + noise, 0, 255).astype(np.float32) / 255.0
    return x, source.y_train[pick]


def compare(name: str, epochs: int = 3) -> Comparison:
    """Run one workload both ways, same data and seed."""
    import keras

    from lab.nn.model import build_model, compile_model
    from lab.nn.trainer import fit_prepared

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
    if spec.val_mode == "last":
        cut = n_train - int(round(n_train * spec.val_split))
        x_fit, y_fit, x_val, y_val = x_tr[:cut], y_tr[:cut], x_tr[cut:], y_tr[cut:]
    else:
        x_fit, y_fit, x_val, y_val = x_tr, y_tr, x_te, y_te
    tiny_test = x_val[:10], y_val[:10]
    data = Prepared.from_arrays(
        x_train=x_fit, labels_train=y_fit.argmax(1), x_val=x_val, labels_val=y_val.argmax(1),
        x_test=tiny_test[0], labels_test=tiny_test[1].argmax(1),
    )  # fmt: skip
    result = fit_prepared(spec, data)
    lab_final = {k: float(v[-1]) for k, v in result.history.items()}
    return Comparison(name, course_seconds, result.train_seconds, course_final, lab_final)


def run_all(epochs: int = 5, repeats: int = 1, only: str | None = None) -> list[Comparison]:
    """Print the trainer comparisons (and the other features' benchmarks when present)."""
    results = []
    for name in [only] if only else list(WORKLOADS):
        for _ in range(repeats):
            c = compare(name, epochs)
            results.append(c)
            print(
                f"{name}: course model.fit {c.course_seconds:.2f} s, lab trainer {c.lab_seconds:.2f} s "
                f"for {epochs} epochs -> {c.speedup:.2f}x faster; same results: {c.same_results} "
                f"(val_accuracy {c.course_final.get('val_accuracy', float('nan')):.4f} vs "
                f"{c.lab_final.get('val_accuracy', float('nan')):.4f})",
                flush=True,
            )
    if only is None:
        _extra_benchmarks()
    return results


def _extra_benchmarks() -> None:
    """Benchmarks that live beside their feature, run when that feature exists."""
    import importlib

    for module_name, func in (
        ("lab.analysis.predictor", "bench_predict"),
        ("lab.analysis.convnet", "bench_augmentation"),
        ("lab.health.recorder", "bench_health_overhead"),
    ):
        try:
            bench = getattr(importlib.import_module(module_name), func)
        except (ImportError, AttributeError):
            continue
        print(f"{module_name}.{func}: {bench()}", flush=True)


if __name__ == "__main__":  # pragma: no cover
    run_all(*(int(a) for a in sys.argv[1:2]))
