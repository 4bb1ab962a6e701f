"""Trainings here, in a thread of this process, one at a time: the default engine.

Nothing of Ray is imported or started. Keras' seeds are process-wide, so one
process trains one model at a time (``lab.nn.queue``), exactly as the lab always trained.
"""

from __future__ import annotations

from lab.architecture import CheckedSpec
from lab.nn.observer import SILENT, TrainingObserver
from lab.nn.queue import TRAINING_QUEUE
from lab.nn.result import RunResult
from lab.runs import training
from lab.runs.engine import EngineStatus
from lab.runs.store import RunStore


class InProcessExecutor:
    """Trains in the calling thread of this process, one training at a time (``lab.nn.queue``).

    Parameters
    ----------
    notice : str
        Why this engine is used instead of the configured one (shown on pages), if so.
    """

    engine = "in-process"

    def __init__(self, notice: str = "") -> None:
        self.notice = notice

    @property
    def workers(self) -> int:
        """One: Keras' seeds are process-wide, so one process trains one model at a time."""
        return 1

    def train_and_save(
        self,
        checked: CheckedSpec,
        store: RunStore,
        observer: TrainingObserver = SILENT,
        *,
        time_limit: float | None = None,
    ) -> RunResult:
        """Train here and now (after those ahead in this process's queue); see ``lab.runs.engine.Executor``.

        The queue tells ``observer`` its place itself (``on_queue``).
        """
        # Looked up on the module when called, so that a test can replace the one train-and-save path.
        return training.train_and_save(checked, store, observer, time_limit=time_limit)

    def status(self) -> EngineStatus:
        """One training at a time in this server's process."""
        in_line = len(TRAINING_QUEUE.snapshot())
        return EngineStatus(
            self.engine,
            "in this server's process, one training at a time",
            workers=1,
            busy=min(in_line, 1),
            waiting=max(in_line - 1, 0),
            notice=self.notice,
        )

    def close(self) -> None:
        """Nothing was started."""
