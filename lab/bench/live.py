"""Live curves: how soon the first point comes after Train, and how often the curve grows.

The default setup (784-128-10, 10 epochs on the offline sample) is trained with
per-epoch reports (the observer's ``on_epoch``: what the pages had before) and with
reports within epochs (``on_progress``: what they follow now), alternating in one process
after one untrained-for warm-up training, as on a server that has trained
before. For each way: seconds from the ``train()`` call to the first report, to
the first report of a trained batch, the intervals between reports (median and
max) and the whole training. A fresh interpreter measures what the server's
background warm-up (``lab.runs.warm``) takes off the first press of Train.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass

from lab.architecture import check_network
from lab.data.prepare import prepare
from lab.nn.observer import TrainingObserver
from lab.nn.result import EpochReport
from lab.nn.trainer import REPORT_EVERY, train
from lab.spec import ExperimentSpec

MODES = ("per-epoch", "within-epoch")
# A fresh interpreter: what the first training of a server that did not warm up waits for.
FRESH_FIRST_POINT = """
import json, time
start = time.perf_counter()
from lab.architecture import check_network
from lab.nn.observer import TrainingObserver
from lab.nn.trainer import train
from lab.spec import ExperimentSpec
stamps = []
class Stamps(TrainingObserver):
    def on_progress(self, report):
        stamps.append(time.perf_counter() - start)
train(check_network(ExperimentSpec(epochs=1)), Stamps())
print(json.dumps({"first_point": stamps[0]}))
"""
FRESH_WARM_UP = """
import json
from lab.runs.warm import warm_up
w = warm_up()
print(json.dumps({"import": w.import_seconds, "data": w.data_seconds}))
"""


@dataclass(frozen=True)
class LiveTiming:
    """How one way of reporting fed a live curve.

    Attributes
    ----------
    mode : str
        ``per-epoch`` or ``within-epoch``.
    first_report : float
        Seconds from the ``train()`` call to the first report (a point on the curve).
    first_trained : float
        Seconds to the first report after a trained batch (the untrained network's point excluded).
    median_interval, max_interval : float
        Seconds between consecutive reports from the first trained batch on (while training).
    reports : int
        Reports during the training.
    seconds : float
        The whole ``train()`` call.
    """

    mode: str
    first_report: float
    first_trained: float
    median_interval: float
    max_interval: float
    reports: int
    seconds: float


@dataclass(frozen=True)
class LiveComparison:
    """Both ways side by side (the fastest of each over the repeats), and a fresh server's figures.

    Attributes
    ----------
    per_epoch, within_epoch : LiveTiming
        The old way and the new one.
    fresh_import, fresh_data : float
        A fresh interpreter's warm-up: importing the trainer (TensorFlow), preparing the default data.
    fresh_first_point : float
        A fresh interpreter without warm-up: seconds from the start to the first point.
    """

    per_epoch: LiveTiming
    within_epoch: LiveTiming
    fresh_import: float
    fresh_data: float
    fresh_first_point: float

    def __str__(self) -> str:
        old, new = self.per_epoch, self.within_epoch
        return (
            f"first point after train(): {old.first_report:.2f} s per epoch -> {new.first_report:.2f} s within "
            f"epochs ({old.first_report / new.first_report:.1f}x sooner; first trained batch "
            f"{new.first_trained:.2f} s); "
            f"between points: median {old.median_interval:.2f} -> {new.median_interval:.2f} s, max "
            f"{old.max_interval:.2f} -> {new.max_interval:.2f} s; points {old.reports} -> {new.reports}; "
            f"training {old.seconds:.2f} -> {new.seconds:.2f} s. Fresh server: warm-up {self.fresh_import:.1f} s "
            f"import + {self.fresh_data:.2f} s data in the background; without it the first point came after "
            f"{self.fresh_first_point:.1f} s"
        )


def time_reports(spec: ExperimentSpec, mode: str) -> LiveTiming:
    """Train ``spec`` once, reporting ``per-epoch`` or ``within-epoch``, and time the reports."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}.")
    stamps: list[tuple[float, float]] = []
    checked = check_network(spec)

    class Stamps(TrainingObserver):
        def on_epoch(self, report: EpochReport) -> None:
            if mode == "per-epoch":
                stamps.append((time.perf_counter(), report.progress))

        def on_progress(self, report: EpochReport) -> None:
            if mode == "within-epoch":
                stamps.append((time.perf_counter(), report.progress))

    start = time.perf_counter()
    train(checked, Stamps(), report_every=0 if mode == "per-epoch" else REPORT_EVERY)
    seconds = time.perf_counter() - start
    times = [t - start for t, _ in stamps]
    training = [t - start for t, progress in stamps if progress > 0]
    intervals = [b - a for a, b in zip(training, training[1:], strict=False)] or [seconds]
    trained = training[0]
    return LiveTiming(mode, times[0], trained, statistics.median(intervals), max(intervals), len(stamps), seconds)


def _fresh(script: str) -> dict[str, float]:
    """Run ``script`` in a fresh interpreter; the JSON it printed last."""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def bench_live(repeats: int = 2, spec: ExperimentSpec | None = None) -> LiveComparison:
    """Time the first point and the intervals of a live curve, per-epoch vs within-epoch reports.

    Parameters
    ----------
    repeats : int
        Trainings per way (alternating order); the fastest first point of each way counts.
    spec : ExperimentSpec, optional
        Default: the default setup (784-128-10, 10 epochs, offline sample).
    """
    spec = spec or ExperimentSpec()
    prepare(spec)
    train(check_network(spec.replace(epochs=1)))  # a server that has trained before: TensorFlow's runtime is up
    runs: dict[str, list[LiveTiming]] = {mode: [] for mode in MODES}
    for repeat in range(repeats):
        for mode in MODES if repeat % 2 == 0 else MODES[::-1]:
            runs[mode].append(time_reports(spec, mode))
    best = {mode: min(timings, key=lambda t: t.first_report) for mode, timings in runs.items()}
    warm, fresh = _fresh(FRESH_WARM_UP), _fresh(FRESH_FIRST_POINT)
    return LiveComparison(best["per-epoch"], best["within-epoch"], warm["import"], warm["data"], fresh["first_point"])
