"""Where trainings run: here in this process (the default) or on Ray workers.

The job manager, ``pretrain`` and the command line hand a spec to an
*executor* and get the stored run back; the executor decides where the
training runs. Two implementations:

- :class:`InProcessExecutor` (the default): in a thread of this process, one
  training at a time (``lab.nn.queue``), exactly as the lab always trained.
  Nothing of Ray is imported or started.
- ``RayExecutor`` (``lab.runs.ray_executor``): each training is a Ray task on a
  worker process of its own that imports TensorFlow once and trains one model
  after another, so several trainings run at once on every core of a machine
  or a cluster. Chosen by one setting, ``MLP_LAB_RAY`` (see :func:`ray_setting`).

Both store the run the same way (``lab.runs.training.train_and_save``) and
call the same observers, so a page follows either one alike.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from lab.architecture import DEFAULT_PARAM_BUDGET
from lab.nn.queue import TRAINING_QUEUE
from lab.nn.result import EpochReport, RunResult
from lab.runs.store import RunStore
from lab.runs.training import train_and_save
from lab.spec import ExperimentSpec

RAY_ENV = "MLP_LAB_RAY"
"""The one setting: unset or empty = in-process; ``local``; ``auto``; or a cluster address."""

WORKER_DIED_TEXT = "The worker training this run stopped (killed or out of memory): press Retry."


class WorkerLostError(RuntimeError):
    """The process training a run went away before it finished (killed, out of memory, node lost)."""


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


@dataclass(frozen=True)
class EngineStatus:
    """What the Home page says about the training engine.

    Attributes
    ----------
    engine : str
        ``in-process``, ``ray-local`` or ``ray-cluster``.
    description : str
        One line for people: where trainings run.
    workers : int
        Trainings that can run at once.
    busy : int
        Trainings running now.
    waiting : int
        Trainings waiting for a worker.
    notice : str
        Why the engine is not the one configured (a cluster that could not be reached), else empty.
    """

    engine: str
    description: str
    workers: int
    busy: int
    waiting: int
    notice: str = ""


class Executor(Protocol):
    """Trains a spec somewhere and stores the run; what the job manager and ``pretrain`` call."""

    engine: str
    notice: str

    @property
    def workers(self) -> int:
        """How many trainings can run at once."""
        ...

    def train_and_save(
        self,
        spec: ExperimentSpec,
        store: RunStore,
        *,
        on_epoch: Callable[[EpochReport], None] | None = None,
        on_progress: Callable[[EpochReport], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        on_wait: Callable[[int, str], None] | None = None,
        on_queue: Callable[[QueuePlace], None] | None = None,
        start: Callable[[], None] | None = None,
        on_worker: Callable[[int, str], None] | None = None,
        time_limit: float | None = None,
        param_budget: int = DEFAULT_PARAM_BUDGET,
    ) -> RunResult:
        """Train ``spec``, store it in ``store`` and return the run (blocks until done).

        ``on_epoch``, ``on_progress`` (reports within epochs too, for live curves),
        ``should_stop``, ``on_wait`` and ``start`` are those of
        ``lab.nn.trainer.train``, called in the caller's thread; ``on_queue``
        receives a :class:`QueuePlace` while the training waits for a worker;
        ``on_worker(pid, host)`` is told which worker process trains it (Ray only);
        ``time_limit`` and ``param_budget`` are those of ``lab.nn.trainer.train`` (the
        server's limits, ``lab.runs.limits``), applied where the training runs.

        Raises
        ------
        ValueError
            For an invalid spec or data that cannot be loaded.
        WorkerLostError
            When the process training it went away.
        """
        ...

    def status(self) -> EngineStatus:
        """Where trainings run, how many workers there are and how many are busy."""
        ...

    def close(self) -> None:
        """Stop what this executor started (an embedded Ray), nothing else."""
        ...


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
        spec: ExperimentSpec,
        store: RunStore,
        *,
        on_epoch: Callable[[EpochReport], None] | None = None,
        on_progress: Callable[[EpochReport], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        on_wait: Callable[[int, str], None] | None = None,
        on_queue: Callable[[QueuePlace], None] | None = None,
        start: Callable[[], None] | None = None,
        on_worker: Callable[[int, str], None] | None = None,
        time_limit: float | None = None,
        param_budget: int = DEFAULT_PARAM_BUDGET,
    ) -> RunResult:
        """Train here and now (after those ahead in this process's queue); see :class:`Executor`."""

        def waiting(place: int, running_label: str) -> None:
            if on_wait is not None:
                on_wait(place, running_label)
            if on_queue is not None:
                in_line = len(TRAINING_QUEUE.snapshot())
                on_queue(QueuePlace(place, 1, max(in_line - 1, 1), 1, running_label))

        return train_and_save(
            spec,
            store,
            on_epoch=on_epoch,
            on_progress=on_progress,
            should_stop=should_stop,
            on_wait=waiting,
            start=start,
            time_limit=time_limit,
            param_budget=param_budget,
        )

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


def ray_setting(env: Mapping[str, str] | None = None, fallback: str | None = None) -> str:
    """The ``MLP_LAB_RAY`` setting: from the environment, else ``fallback`` (a secrets file, a flag).

    Returns
    -------
    str
        ``""`` (in-process), ``"local"``, ``"auto"`` or an address such as ``ray://HOST:10001``.
    """
    env = os.environ if env is None else env
    value = env.get(RAY_ENV, "") or (fallback or "")
    return value.strip()


def make_executor(setting: str = "", *, num_cpus: int | None = None) -> Executor:
    """The executor a setting names; an unreachable cluster falls back to in-process with a notice.

    Parameters
    ----------
    setting : str
        ``""`` = in-process (nothing of Ray is imported); ``"local"`` = start an
        embedded Ray on this machine, one worker per core; ``"auto"`` or an
        address (``HOST:6379``, ``ray://HOST:10001``) = join a running cluster.
    num_cpus : int, optional
        Workers of an embedded Ray (default: this machine's cores).

    Returns
    -------
    Executor
        A ``RayExecutor``, or an :class:`InProcessExecutor` whose ``notice`` says
        why Ray could not be used.
    """
    setting = setting.strip()
    if not setting:
        return InProcessExecutor()
    try:
        # Imported here: Ray (about 1 s to import, more to start) is only for servers configured to use it.
        from lab.runs.ray_executor import RayExecutor

        return RayExecutor.start(setting, num_cpus=num_cpus)
    except Exception as exc:  # noqa: BLE001 - any failure to start or reach Ray: train here, and say so
        where = "on this machine" if setting == "local" else f"at {setting}"
        return InProcessExecutor(
            notice=f"Could not start or reach the Ray cluster {where} ({type(exc).__name__}: {exc}). "
            "Trainings run on this server instead, one at a time."
        )


def job_error_text(exc: BaseException) -> str:
    """What a failed job says: a bad request or a lost worker in plain words, anything else with its type."""
    if isinstance(exc, ValueError | WorkerLostError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
