"""What augmentation costs: an epoch of course B10 with and without it, side by side."""

from __future__ import annotations

import time
from dataclasses import dataclass

import keras

from lab.bench.workloads import workload_data
from lab.catalog.presets import get_preset
from lab.nn.model import build_model, compile_model
from lab.nn.trainer import STEPS_PER_EXECUTION
from lab.spec import Augmentation, ExperimentSpec


def b10_spec() -> ExperimentSpec:
    """Course B10 (CS4487): three conv layers, dropout, ImageDataGenerator-style augmentation: the preset itself."""
    return get_preset("B10").spec


@dataclass(frozen=True)
class AugmentationTiming:
    """Seconds per epoch of one model with and without its augmentation."""

    images: int
    with_augmentation: float
    without_augmentation: float

    @property
    def overhead(self) -> float:
        """How many times longer an augmented epoch takes."""
        return self.with_augmentation / self.without_augmentation

    def __str__(self) -> str:
        return (
            f"B10 epoch on {self.images:,} images: {self.with_augmentation:.2f} s with augmentation, "
            f"{self.without_augmentation:.2f} s without ({self.overhead:.2f}x)"
        )


def bench_augmentation(images: int = 6_000, epochs: int = 3) -> AugmentationTiming:
    """Time an epoch of B10 on ``images`` digits with and without augmentation.

    Both run through the lab's trainer settings (``steps_per_execution``);
    the first epoch (graph tracing) is left out and the fastest later epoch
    kept, which is what a long training pays per epoch.
    """
    spec = b10_spec()
    return AugmentationTiming(
        images,
        _epoch_seconds(spec, images, epochs),
        _epoch_seconds(spec.replace(augmentation=Augmentation()), images, epochs),
    )


def _epoch_seconds(spec: ExperimentSpec, images: int, epochs: int) -> float:
    """The fastest epoch after the first of ``spec`` trained on ``images`` workload digits."""
    # B10 validates on a random split, so the workload trains on all its images with no validation.
    data = workload_data(spec, images, 0)
    keras.utils.set_random_seed(spec.seed)
    keras.backend.clear_session()
    model = compile_model(build_model(spec), spec, STEPS_PER_EXECUTION)
    stamps: list[float] = []  # begin, end, begin, end ...
    timer = keras.callbacks.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: stamps.append(time.perf_counter()),
        on_epoch_end=lambda epoch, logs: stamps.append(time.perf_counter()),
    )
    model.fit(
        data.x_train, data.y_train, batch_size=spec.batch_size, epochs=max(2, epochs), callbacks=[timer], verbose=0
    )
    seconds = [end - begin for begin, end in zip(stamps[::2], stamps[1::2], strict=True)]
    return min(seconds[1:])
