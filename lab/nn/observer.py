"""Training observed through one object, as Keras observes it through a ``Callback``.

A page, a job, the command line or a benchmark hands the trainer (and every executor)
one ``TrainingObserver``; the trainer calls its hooks. Every hook does nothing by
default, so an observer overrides only what it needs, and adding a hook here changes
no caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from lab.nn.result import EpochReport

if TYPE_CHECKING:  # for the hook's annotation only
    from lab.nn.snapshots import Snapshot


@dataclass(frozen=True)
class QueuePlace:
    """Where a waiting training stands in the line of the engine it runs on.

    Attributes
    ----------
    place : int
        1 = next to start, 2 = one waiting ahead ...
    running : int
        Trainings running now (on every worker of the engine).
    waiting : int
        Trainings waiting, this one included.
    workers : int
        Trainings that can run at once.
    running_label : str
        What runs now, in words (a spec summary, or how many runs on how many workers).
    """

    place: int
    running: int
    waiting: int
    workers: int
    running_label: str = ""


class TrainingObserver:
    """What whoever asked for a training hears of it, and how it asks the training to stop.

    Hooks are called in the order a training lives: ``on_queue`` while it waits for a
    worker or for this process's training slot, ``on_worker`` once a worker process takes
    it (Ray only), ``on_start`` when it begins, ``on_progress`` several times an epoch
    (live curves; the untrained network's point first), ``on_epoch`` after each epoch.
    ``should_stop`` is asked while it trains: True ends training, keeping what was learned.
    """

    def on_queue(self, place: QueuePlace) -> None:
        """The training waits: ``place`` says where it stands in line."""

    def on_worker(self, pid: int, node: str) -> None:
        """Worker process ``pid`` on host ``node`` trains it (Ray executors only)."""

    def on_start(self) -> None:
        """The training holds its slot and begins: its data is prepared now (not while waiting), its model built."""

    def on_progress(self, report: EpochReport) -> None:
        """A point of the live curve: within an epoch, and at each epoch's end."""

    def on_epoch(self, report: EpochReport) -> None:
        """An epoch ended."""

    def on_snapshot(self, snapshot: Snapshot) -> None:
        """A snapshot of the network's inside was taken (``lab.nn.snapshots.Snapshot``): redraw from it."""

    def should_stop(self) -> bool:
        """Whether training should end now, keeping what it learned."""
        return False


SILENT = TrainingObserver()
"""An observer that hears nothing and never stops a training."""
