"""What every training engine shares: the ``Executor`` protocol, its status, its errors, and the setting.

An *executor* trains a checked spec somewhere and stores the run; the job manager,
``pretrain`` and the command line call one and get the stored run back. Two
implementations, which never import each other (an import-linter contract):

- ``lab.runs.in_process.InProcessExecutor`` (the default): in a thread of this
  process, one training at a time (``lab.nn.queue``). Nothing of Ray is imported.
- ``lab.runs.ray_executor.RayExecutor``: each training is a Ray task on a worker
  process of its own, so several trainings run at once on every core of a machine
  or a cluster. Chosen by one setting, ``MLP_LAB_RAY`` (see :func:`ray_setting`).

``lab.runs.engines`` picks one (``make_executor``). Both store the run the same way
(``lab.runs.training.train_and_save``) and call the same ``TrainingObserver``, so a
page follows either one alike. This module imports neither.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from lab.architecture import CheckedSpec
from lab.nn.observer import SILENT, TrainingObserver
from lab.nn.result import RunResult
from lab.runs.store import RunStore

RAY_ENV = "MLP_LAB_RAY"
"""The one setting: unset or empty = in-process; ``local``; ``auto``; or a cluster address."""

WORKER_DIED_TEXT = "The worker training this run stopped (killed or out of memory): press Retry."


class WorkerLostError(RuntimeError):
    """The process training a run went away before it finished (killed, out of memory, node lost)."""


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
    """Trains a checked spec somewhere and stores the run; what the job manager and ``pretrain`` call."""

    engine: str
    notice: str

    @property
    def workers(self) -> int:
        """How many trainings can run at once."""
        ...

    def train_and_save(
        self,
        checked: CheckedSpec,
        store: RunStore,
        observer: TrainingObserver = SILENT,
        *,
        time_limit: float | None = None,
    ) -> RunResult:
        """Train ``checked``, store it in ``store`` and return the run (blocks until done).

        ``observer`` hears the training in the caller's thread, wherever it runs: its place
        in line (``on_queue``), the worker process that took it (``on_worker``, Ray only),
        its start, its reports; ``should_stop`` stops it. ``time_limit`` is that of
        ``lab.nn.trainer.train`` (the server's limit, ``lab.runs.limits``), applied where
        the training runs. The spec is trusted as checked: nothing is checked again.

        Raises
        ------
        ValueError
            For data that cannot be loaded.
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


def job_error_text(exc: BaseException) -> str:
    """What a failed job says: a bad request or a lost worker in plain words, anything else with its type."""
    if isinstance(exc, ValueError | WorkerLostError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
