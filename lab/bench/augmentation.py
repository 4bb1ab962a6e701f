"""What augmentation costs: an epoch of course B10 with and without it, side by side.

The lab composes rotation, shift, shear and zoom into one resampling per image
(``lab.nn.augment.RandomAffine``); the benchmark also times Keras' four layers,
each resampling, as the lab augmented before, so the two can be shown together.
"""

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
    """Seconds per epoch of one model with and without its augmentation.

    ``layer_by_layer`` is the epoch with the same augmentation through Keras' four
    affine layers (four resamplings per image), None when not timed.
    """

    images: int
    with_augmentation: float
    without_augmentation: float
    layer_by_layer: float | None = None

    @property
    def overhead(self) -> float:
        """How many times longer an augmented epoch takes."""
        return self.with_augmentation / self.without_augmentation

    @property
    def layer_by_layer_overhead(self) -> float | None:
        """The same for the layer-by-layer pipeline, None when not timed."""
        return None if self.layer_by_layer is None else self.layer_by_layer / self.without_augmentation

    def __str__(self) -> str:
        text = (
            f"B10 epoch on {self.images:,} images: {self.with_augmentation:.2f} s with augmentation, "
            f"{self.without_augmentation:.2f} s without ({self.overhead:.2f}x)"
        )
        if self.layer_by_layer is not None:
            text += f"; layer by layer {self.layer_by_layer:.2f} s ({self.layer_by_layer_overhead:.2f}x)"
        return text


def bench_augmentation(images: int = 6_000, epochs: int = 3, layer_by_layer: bool = True) -> AugmentationTiming:
    """Time an epoch of B10 on ``images`` digits with and without augmentation.

    All run through the lab's trainer settings (``steps_per_execution``);
    the first epoch (graph tracing) is left out and the fastest later epoch
    kept, which is what a long training pays per epoch. ``layer_by_layer``
    also times the four-layer pipeline the lab used before ``RandomAffine``.
    """
    spec = b10_spec()
    return AugmentationTiming(
        images,
        _epoch_seconds(spec, images, epochs),
        _epoch_seconds(spec.replace(augmentation=Augmentation()), images, epochs),
        _epoch_seconds(spec, images, epochs, compose_affine=False) if layer_by_layer else None,
    )


def _epoch_seconds(spec: ExperimentSpec, images: int, epochs: int, compose_affine: bool = True) -> float:
    """The fastest epoch after the first of ``spec`` trained on ``images`` workload digits."""
    # B10 validates on a random split, so the workload trains on all its images with no validation.
    data = workload_data(spec, images, 0)
    keras.utils.set_random_seed(spec.seed)
    keras.backend.clear_session()
    model = compile_model(build_model(spec, compose_affine), spec, STEPS_PER_EXECUTION)
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
