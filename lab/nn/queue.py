"""One training at a time per process, first come first served, with visible places.

Keras seeds are process-wide: two trainings in two threads (two browser
sessions) would no longer be reproducible. Whoever waits is told their place
(``TrainingObserver.on_queue``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from lab.nn.observer import SILENT, QueuePlace, TrainingObserver


class TrainingQueue:
    """A FIFO lock whose waiters can see their place in line."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._line: list[tuple[object, str]] = []  # (ticket, label); the first one holds the slot

    @contextmanager
    def slot(self, label: str = "", observer: TrainingObserver = SILENT, poll_seconds: float = 0.5) -> Iterator[None]:
        """Hold the training slot for the ``with`` body.

        Parameters
        ----------
        label : str
            What this training is, shown to those waiting behind it.
        observer : TrainingObserver
            Its ``on_queue`` hears a ``QueuePlace`` while this training waits (``place`` 1 for
            "next"; one training runs at a time), again whenever the place may have changed.
        poll_seconds : float
            How often ``on_queue`` is refreshed.
        """
        ticket = object()
        with self._cond:
            self._line.append((ticket, label))
        # The ticket leaves the line however this ends, waiting included: an ``on_queue`` that
        # raises (or a KeyboardInterrupt) must not leave a ticket that would block everyone behind it.
        try:
            with self._cond:
                while self._line[0][0] is not ticket:
                    observer.on_queue(self._place(ticket))
                    self._cond.wait(poll_seconds)
            yield
        finally:
            with self._cond:
                self._line = [entry for entry in self._line if entry[0] is not ticket]
                self._cond.notify_all()

    def _place(self, ticket: object) -> QueuePlace:
        """Where ``ticket`` stands (called holding the lock): one running, the rest waiting."""
        place = [t for t, _ in self._line].index(ticket)
        return QueuePlace(
            place, running=1, waiting=max(len(self._line) - 1, 1), workers=1, running_label=self._line[0][1]
        )

    def snapshot(self) -> list[str]:
        """Labels in line, the running one first."""
        with self._cond:
            return [label for _, label in self._line]


TRAINING_QUEUE = TrainingQueue()
