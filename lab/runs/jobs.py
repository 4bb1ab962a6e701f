"""Trainings as background jobs, so that no page rerun or closed tab loses work.

A page submits a spec and follows the job: its place in the queue, the latest
epoch report, and finally the stored result. The job trains in a thread of its
own (one at a time per process, through ``lab.nn.queue``) and stores the
run when done, whatever happens to the browser session that asked for it. Two
sessions asking for the same spec share one job.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from lab.architecture import validate_network
from lab.nn.result import EpochReport, RunResult
from lab.runs.store import RunStore
from lab.runs.training import train_and_save
from lab.spec import ExperimentSpec


@dataclass
class Job:
    """One training, queued, running or finished.

    Attributes
    ----------
    spec : ExperimentSpec
        What is trained.
    state : str
        ``queued``, ``running``, ``done`` or ``failed``.
    place : int
        Trainings ahead of this one while queued (0 once running).
    running_label : str
        The spec summary of the training this one waits for.
    report : EpochReport | None
        The latest epoch report.
    result : RunResult | None
        Set when done.
    error : str
        The message when failed.
    """

    spec: ExperimentSpec
    state: str = "queued"
    place: int = 0
    running_label: str = ""
    report: EpochReport | None = None
    result: RunResult | None = None
    error: str = ""
    submitted: float = field(default_factory=time.time)
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _done: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def run_id(self) -> str:
        """The spec's run id."""
        return self.spec.run_id

    @property
    def finished(self) -> bool:
        """Done or failed."""
        return self._done.is_set()

    def request_stop(self) -> None:
        """End training after the current epoch, keeping what was learned."""
        self._stop.set()

    @property
    def stop_requested(self) -> bool:
        """Whether a stop was asked for."""
        return self._stop.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until finished (or timeout); returns whether it finished."""
        return self._done.wait(timeout)

    # called from the worker thread
    def _on_wait(self, place: int, running: str) -> None:
        self.place, self.running_label = place, running

    def _on_start(self) -> None:
        self.state, self.place = "running", 0

    def _on_epoch(self, report: EpochReport) -> None:
        self.state, self.place, self.report = "running", 0, report


class JobManager:
    """Submits and tracks training jobs for one process (one Streamlit server).

    Parameters
    ----------
    store : RunStore
        Where finished runs are saved and looked up.
    """

    def __init__(self, store: RunStore) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}

    def submit(self, spec: ExperimentSpec) -> Job:
        """Start training ``spec`` (or join the job already training it).

        Raises
        ------
        ValueError
            For an invalid spec, at once, before anything is queued.
        """
        validate_network(spec)
        with self._lock:
            job = self._jobs.get(spec.run_id)
            if job is not None and not job.finished:
                return job
            job = Job(spec)
            self._jobs[spec.run_id] = job
        threading.Thread(target=self._work, args=(job,), name=f"train-{spec.run_id}", daemon=True).start()
        return job

    def get(self, run_id: str) -> Job | None:
        """The latest job for a run id, if any."""
        with self._lock:
            return self._jobs.get(run_id)

    def active(self) -> list[Job]:
        """Queued and running jobs, oldest first."""
        with self._lock:
            jobs = [j for j in self._jobs.values() if not j.finished]
        return sorted(jobs, key=lambda j: j.submitted)

    def _work(self, job: Job) -> None:
        try:
            job.result = train_and_save(
                job.spec,
                self.store,
                on_epoch=job._on_epoch,
                should_stop=job._stop.is_set,
                on_wait=job._on_wait,
                start=job._on_start,
            )
            job.state = "done"
        except Exception as exc:  # noqa: BLE001 - the page shows the message; the server lives on
            job.error = f"{type(exc).__name__}: {exc}" if not isinstance(exc, ValueError) else str(exc)
            job.state = "failed"
        finally:
            job._done.set()
