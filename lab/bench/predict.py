"""What the Draw page's step costs: a canvas to probabilities, the lab's way beside ``model.predict``."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import keras
import numpy as np

from lab.analysis.canvas import digit_to_canvas
from lab.analysis.predictor import STARTER_SPEC, Predictor, preprocess_canvas
from lab.data.sources import load_source
from lab.nn.model import build_model
from lab.runs.queries import load_predictor
from lab.runs.store import RunStore


@dataclass(frozen=True)
class PredictBench:
    """Median milliseconds of the Draw page's step (canvas -> probabilities), three ways.

    Attributes
    ----------
    preprocess_ms : float
        The canvas preprocessing alone.
    direct_ms : float
        Preprocessing + the lab's compiled direct model call (what the page does).
    eager_ms : float
        Preprocessing + ``model(x, training=False)``, uncompiled.
    predict_ms : float
        Preprocessing + ``model.predict(x)``.
    repeats : int
        Timed calls per way.
    """

    preprocess_ms: float
    direct_ms: float
    eager_ms: float
    predict_ms: float
    repeats: int

    @property
    def ratio(self) -> float:
        """How many times slower ``model.predict`` makes the whole step."""
        return self.predict_ms / self.direct_ms

    def __str__(self) -> str:
        return (
            f"canvas preprocessing + prediction, median of {self.repeats}: {self.direct_ms:.1f} ms (lab, compiled "
            f"direct call) vs {self.predict_ms:.1f} ms with model.predict -> {self.ratio:.1f}x faster; "
            f"uncompiled model(x) {self.eager_ms:.1f} ms; preprocessing alone {self.preprocess_ms:.1f} ms"
        )


def bench_predict(run_id: str | None = None, store: RunStore | None = None, repeats: int = 50) -> PredictBench:
    """Time the Draw page's step, a 280x280 canvas to probabilities, side by side with ``model.predict``.

    Parameters
    ----------
    run_id : str, optional
        A stored run to time; default: an untrained model of ``STARTER_SPEC``'s
        shape (same layers, so same time, and nothing to train).
    store : RunStore, optional
        Where ``run_id`` lives.
    repeats : int, default 50
        Timed calls of each way (after warm-up calls); medians are reported.
    """
    if run_id is not None:
        predictor = load_predictor(run_id, store)
    else:
        keras.utils.set_random_seed(0)
        predictor = Predictor(build_model(STARTER_SPEC), STARTER_SPEC)
    predictor.warm_up()
    digit = load_source("sample").x_train[0]
    rgba = digit_to_canvas(digit, scale=10, offset=(30, -20), thickness=4)
    model = predictor.model
    ways = {
        "preprocess": lambda: preprocess_canvas(rgba),
        "direct": lambda: predictor.predict(preprocess_canvas(rgba)),
        "eager": lambda: np.asarray(model(predictor.inputs(preprocess_canvas(rgba)), training=False)),
        "predict": lambda: model.predict(predictor.inputs(preprocess_canvas(rgba)), verbose=0),
    }
    timings = {}
    for name, step in ways.items():
        for _ in range(3):  # warm-up: tracing, first allocations
            step()
        seconds = []
        for _ in range(repeats):
            start = time.perf_counter()
            step()
            seconds.append(time.perf_counter() - start)
        timings[name] = statistics.median(seconds) * 1000
    return PredictBench(timings["preprocess"], timings["direct"], timings["eager"], timings["predict"], repeats)
