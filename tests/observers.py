"""A ``TrainingObserver`` that keeps what it hears, for tests."""

from __future__ import annotations

from collections.abc import Callable

from lab.nn.observer import QueuePlace, TrainingObserver
from lab.nn.result import EpochReport


class Recording(TrainingObserver):
    """Keeps every report, place and worker it is told of; ``stop`` (a callable) answers ``should_stop``."""

    def __init__(self, stop: Callable[[], bool] = lambda: False) -> None:
        self.progress: list[EpochReport] = []
        self.epochs: list[EpochReport] = []
        self.places: list[QueuePlace] = []
        self.workers: list[tuple[int, str]] = []
        self.starts = 0
        self.stop = stop

    def on_queue(self, place: QueuePlace) -> None:
        self.places.append(place)

    def on_worker(self, pid: int, node: str) -> None:
        self.workers.append((pid, node))

    def on_start(self) -> None:
        self.starts += 1

    def on_progress(self, report: EpochReport) -> None:
        self.progress.append(report)

    def on_epoch(self, report: EpochReport) -> None:
        self.epochs.append(report)

    def should_stop(self) -> bool:
        return self.stop()
