"""Trainings as background jobs, so that no page rerun or closed tab loses work.

A page submits a spec and follows the job: its place in the queue, the latest
epoch report, and finally the stored result. Each job has a thread of its own
that hands the spec to the manager's executor (``lab.runs.engine``): by
default it trains right there, one at a time per process (``lab.nn.queue``);
with Ray, on a worker process while the thread relays its reports. The run is
stored when done, whatever happens to the browser session that asked for it.
Two sessions asking for the same spec share one job; a failed job can be retried.
Every spec is checked against the server's limits (``lab.runs.limits``) before
it is queued, once: the job holds the ``CheckedSpec`` and nothing below checks it
again. Each visitor (a client address, else a browser session) may have only so
many jobs at once, and the whole server only so many trainings and searches; the
data is prepared only when a job's turn comes, so a job waiting in line holds no
arrays. A job is the ``TrainingObserver`` of its training.

A job belongs to the sessions that asked for it: a session's Stop (or a series'
Cancel) withdraws that session's request, and the job stops only when nobody
wants it any more. Only the teacher cancels anyone's. Searches (Tune) are listed
here too (``JobManager.admit``), one per visitor, so the teacher sees and cancels them.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from lab.architecture import CheckedSpec
from lab.nn.observer import QueuePlace, TrainingObserver
from lab.nn.result import EpochReport, RunResult
from lab.nn.snapshots import Snapshot
from lab.runs.credits import credit
from lab.runs.engine import EngineStatus, Executor, job_error_text
from lab.runs.in_process import InProcessExecutor
from lab.runs.limits import LimitExceeded, Limits
from lab.runs.store import RunStore
from lab.spec import ExperimentSpec


LOG = logging.getLogger(__name__)

CANCELLED_TEXT = "Cancelled by the teacher before it started."
WITHDRAWN_TEXT = "Cancelled before it started."


class BackgroundJob(Protocol):
    """What a page follows and stops: a training (``Job``) or a search (``lab.search.job.SearchJob``).

    Attributes
    ----------
    state : str
        ``queued``, ``running``, ``done`` or ``failed``.
    finished : bool
        Done or failed.
    stop_requested : bool
        Whether ``request_stop`` was called.
    latest : Any
        The latest progress (a training's ``EpochReport``, a search's trial rows), None before any;
        a new object each time it changes, so a page redraws only what changed.
    error : str
        The message when failed.
    """

    @property
    def state(self) -> str: ...

    @property
    def finished(self) -> bool: ...

    @property
    def stop_requested(self) -> bool: ...

    @property
    def latest(self) -> Any: ...

    @property
    def error(self) -> str: ...

    def request_stop(self, by: str | None = None) -> None:
        """End within a second, keeping what was learned; ``by``: the session asking (see ``Job.request_stop``)."""

    def wanted_by(self, session: str) -> bool:
        """Whether ``session`` asked for this job (and may stop it)."""

    def wait(self, timeout: float | None = None) -> bool:
        """Block until finished (or timeout); returns whether it finished."""


class JobCancelled(ValueError):
    """A queued job cancelled (by the teacher, or withdrawn): it ends, failed with this message, before it trains."""


@dataclass
class Job(TrainingObserver):
    """One training, queued, running or finished; it observes its own training (its hooks run in the job's thread).

    Attributes
    ----------
    checked : CheckedSpec
        What is trained, checked once when submitted (``spec`` is its spec).
    state : str
        ``queued``, ``running``, ``done`` or ``failed``.
    place : int
        This one's place in the line while queued (1 = next; 0 once running).
    running_label : str
        What runs now while this one waits: a spec summary, or how many runs on how many workers.
    running, waiting, workers : int
        The line of the whole engine while this one waits: trainings running, waiting (this one
        included) and how many can run at once (1 in-process, the cluster's cores with Ray).
    worker_pid : int | None
        The process training it, on Ray (None in-process: this server's own process).
    report : EpochReport | None
        The latest report: within an epoch (every few dozen batches) or at its end.
    snapshots : list of Snapshot
        The snapshots of the network's inside taken so far (``lab.nn.snapshots``), oldest first:
        a page redraws from the last one while it trains. Appended in the job's thread; read a copy.
    result : RunResult | None
        Set when done.
    error : str
        The message when failed.
    session : str
        An opaque id of the browser session that first asked for it ("" for none: the teacher,
        the command line). Never shown.
    visitor : str
        Who the per-visitor queue limit counts it against: the client address of that session,
        else the session itself ("" for none).
    askers : set of str
        The sessions that want it now ("" stands for the server's own request: the teacher's
        pretraining, the command line). A session's Stop removes its own; the job stops when
        none is left.
    cancelled : bool
        Cancelled by the teacher: one still queued never trains; one running stops within a second.
    withdrawn : bool
        Withdrawn by everyone who asked for it (a series' Cancel): the same, in its own words.
    nickname : str
        The nickname of the session that first asked for it ("" for none): credited with the
        run when it is stored (``lab.runs.credits``).
    """

    checked: CheckedSpec
    state: str = "queued"
    place: int = 0
    running_label: str = ""
    running: int = 0
    waiting: int = 0
    workers: int = 1
    worker_pid: int | None = None
    worker_node: str = ""
    report: EpochReport | None = None
    snapshots: list[Snapshot] = field(default_factory=list, repr=False)
    result: RunResult | None = None
    error: str = ""
    session: str = field(default="", repr=False)
    visitor: str = field(default="", repr=False)
    askers: set[str] = field(default_factory=set, repr=False)
    cancelled: bool = False
    withdrawn: bool = False
    nickname: str = ""
    submitted: float = field(default_factory=time.time)
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _done: threading.Event = field(default_factory=threading.Event, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        if not self.askers:
            self.askers = {self.session}

    @property
    def spec(self) -> ExperimentSpec:
        """What is trained."""
        return self.checked.spec

    @property
    def run_id(self) -> str:
        """The spec's run id."""
        return self.spec.run_id

    @property
    def finished(self) -> bool:
        """Done or failed."""
        return self._done.is_set()

    @property
    def latest(self) -> EpochReport | None:
        """The latest report (``BackgroundJob``'s name for ``report``)."""
        return self.report

    def join(self, session: str) -> None:
        """``session`` asks for this job too: it goes on until every asker stopped it."""
        with self._lock:
            self.askers.add(session)

    def wanted_by(self, session: str) -> bool:
        """Whether ``session`` asked for this job and has not stopped it."""
        with self._lock:
            return session in self.askers

    def _let_go(self, by: str | None) -> bool:
        """Remove ``by``'s request; whether nobody wants the job any more (``by`` None: whoever holds it)."""
        with self._lock:
            if by is None:
                return True
            if by not in self.askers:
                return False  # a session that never asked for it stops nothing
            self.askers.discard(by)
            return not self.askers

    def request_stop(self, by: str | None = None) -> None:
        """Stop: training ends within a second, keeping what was learned, once nobody else wants it.

        Parameters
        ----------
        by : str, optional
            The session pressing Stop: its request is removed, and the job stops only when no
            other session wants it. None (the command line, a test): stop it whoever asked.
        """
        if self._let_go(by):
            self._stop.set()

    def cancel(self) -> None:
        """The teacher's cancel: a queued job never starts, a running one stops within a second (kept)."""
        self.cancelled = True
        self._stop.set()

    def withdraw(self, by: str | None = None) -> None:
        """The asker's own cancel (a series' Cancel): as ``request_stop``, and a queued job never starts.

        ``by`` as in ``request_stop``: only that session's request is withdrawn.
        """
        if self._let_go(by):
            self.withdrawn = True
            self._stop.set()

    @property
    def stop_requested(self) -> bool:
        """Whether a stop was asked for."""
        return self._stop.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until finished (or timeout); returns whether it finished."""
        return self._done.wait(timeout)

    # The TrainingObserver's hooks: called from the job's thread.
    def on_queue(self, place: QueuePlace) -> None:
        """Keep the line the engine reports while this job waits."""
        self.place, self.running_label = place.place, place.running_label
        self.running, self.waiting, self.workers = place.running, place.waiting, place.workers

    def on_worker(self, pid: int, node: str) -> None:
        """Keep which worker process trains it (Ray)."""
        self.worker_pid, self.worker_node = pid, node

    def on_start(self) -> None:
        """Running now, unless it was cancelled or withdrawn while it waited (then it never trains).

        Raised inside the training slot, which is released for the next in line.
        """
        if self.cancelled:
            raise JobCancelled(CANCELLED_TEXT)
        if self.withdrawn:
            raise JobCancelled(WITHDRAWN_TEXT)
        self.state, self.place = "running", 0

    def on_progress(self, report: EpochReport) -> None:
        """Keep the latest report."""
        self.state, self.place, self.report = "running", 0, report

    def on_snapshot(self, snapshot: Snapshot) -> None:
        """Keep every snapshot (a film of 10 epochs is about 2 MB)."""
        self.snapshots.append(snapshot)

    def should_stop(self) -> bool:
        """Stop, cancel or withdraw was asked for."""
        return self._stop.is_set()


@dataclass
class Listed:
    """A background job that is not one of the manager's trainings (a search), as the server counts it.

    Attributes
    ----------
    job : BackgroundJob
        The job (``lab.search.job.SearchJob``).
    kind : str
        What it is, in a word (``search``).
    label : str
        What it does, in words, for the teacher's panel (never who asked).
    visitor : str
        Who started it (the per-visitor limit of one at a time). Never shown.
    key : str
        A random id the teacher's Cancel names.
    submitted : float
        When it was started.
    """

    job: BackgroundJob
    kind: str
    label: str
    visitor: str = field(default="", repr=False)
    key: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    submitted: float = field(default_factory=time.time)


class JobManager:
    """Submits and tracks training jobs for one process (one Streamlit server).

    Parameters
    ----------
    store : RunStore
        Where finished runs are saved and looked up.
    executor : Executor, optional
        Where trainings run (default: in this process, ``InProcessExecutor``).
    limits : Limits, optional
        What one training and one session may ask for (default: ``Limits()``, the defaults).
    """

    def __init__(self, store: RunStore, executor: Executor | None = None, limits: Limits | None = None) -> None:
        self.store = store
        self.executor: Executor = executor if executor is not None else InProcessExecutor()
        self.limits = limits if limits is not None else Limits()
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}
        self._listed: list[Listed] = []

    def submit(
        self, spec: ExperimentSpec | CheckedSpec, session: str = "", visitor: str = "", nickname: str = ""
    ) -> Job:
        """Start training ``spec`` for ``session`` (or join the job already training it).

        The one seam where a training's spec is checked (``Limits.check``: its values, its
        size, its compute and memory, the server's limits; a ``CheckedSpec`` the caller got from
        ``Limits.check`` is not counted again); the job and everything below trust it.
        Joining a job another session started costs nothing and is always allowed (the session
        becomes one of its askers); a new job counts against ``visitor``'s limit of jobs queued or
        running (default: the session's) and the server's. The server's own requests (no session:
        the teacher's pretraining, the command line) count towards the server's total but are
        never refused for it. A new job's ``nickname`` (the session's) is credited with the run
        once it is stored; one joined keeps the nickname of whoever started it.

        Raises
        ------
        ValueError
            For an invalid spec, or one beyond the server's limits
            (``lab.runs.limits.LimitExceeded``), at once, before anything is queued.
        """
        checked = self.limits.check(spec)
        spec = checked.spec
        visitor = visitor or session
        with self._lock:
            job = self._jobs.get(spec.run_id)
            if job is not None and not job.finished:
                job.join(session)
                return job
            if session:
                self.limits.check_queue(sum(1 for j in self._jobs.values() if j.visitor == visitor and not j.finished))
                self.limits.check_server(self._busy())
            self.limits.check_store(self.store.usage().bytes)  # a new training only: joining one costs no disk
            job = Job(checked, session=session, visitor=visitor, nickname=nickname)
            self._jobs[spec.run_id] = job
        threading.Thread(target=self._work, args=(job,), name=f"train-{spec.run_id}", daemon=True).start()
        return job

    def _busy(self) -> int:
        """Trainings and searches queued or running (called holding the lock)."""
        trainings = sum(1 for j in self._jobs.values() if not j.finished)
        return trainings + sum(1 for item in self._listed if not item.job.finished)

    def admit(
        self, kind: str, label: str, visitor: str, start: Callable[[], BackgroundJob], *, limit_one: bool = True
    ) -> Listed:
        """Start a background job that is not a training of this manager (a search), within the server's caps.

        ``start`` is called only once the job is allowed: one of its ``kind`` per visitor at a time
        (``limit_one``), and room on the server (``Limits.check_server``). The job is then listed
        (``listed``) for the teacher, who may stop it (``stop_listed``).

        Raises
        ------
        LimitExceeded
            When the visitor already runs one, or the server is full.
        """
        with self._lock:
            if limit_one and any(i.kind == kind and i.visitor == visitor and not i.job.finished for i in self._listed):
                raise LimitExceeded(
                    f"You already have a {kind} running on this server, the most one visitor may have at once: "
                    f"wait for it to end, or stop it."
                )
            self.limits.check_server(self._busy())
            item = Listed(start(), kind, label, visitor)
            self._listed = [i for i in self._listed if not i.job.finished] + [item]
        return item

    def listed(self) -> list[Listed]:
        """The searches (and other listed jobs) still going, oldest first."""
        with self._lock:
            return [i for i in self._listed if not i.job.finished]

    def stop_listed(self, key: str) -> bool:
        """The teacher's Cancel of a listed job (a search ends every trial); returns whether one was going on."""
        with self._lock:
            item = next((i for i in self._listed if i.key == key and not i.job.finished), None)
        if item is None:
            return False
        item.job.request_stop()
        return True

    def retry(self, run_id: str) -> Job:
        """Train a failed run again (a new job); a job still going on is returned as it is.

        Raises
        ------
        KeyError
            When no job trained ``run_id`` in this process.
        """
        job = self.get(run_id)
        if job is None:
            raise KeyError(f"no training of run {run_id} to retry")
        return self.submit(job.checked, job.session, job.visitor, job.nickname)

    def status(self) -> EngineStatus:
        """The engine's workers and how many are busy (``Executor.status``)."""
        return self.executor.status()

    def get(self, run_id: str) -> Job | None:
        """The latest job for a run id, if any."""
        with self._lock:
            return self._jobs.get(run_id)

    def active(self) -> list[Job]:
        """Queued and running jobs, oldest first."""
        with self._lock:
            jobs = [j for j in self._jobs.values() if not j.finished]
        return sorted(jobs, key=lambda j: j.submitted)

    def cancel(self, run_id: str) -> bool:
        """Cancel the job training ``run_id`` (``Job.cancel``); returns whether one was going on."""
        job = self.get(run_id)
        if job is None or job.finished:
            return False
        job.cancel()
        return True

    def _work(self, job: Job) -> None:
        try:
            job.result = self.executor.train_and_save(
                job.checked, self.store, job, time_limit=self.limits.max_train_seconds
            )
            if job.nickname:
                credit(self.store, job.run_id, job.nickname)
            job.state = "done"
        except Exception as exc:  # noqa: BLE001 - the page shows the message; the server lives on
            if not isinstance(exc, JobCancelled):  # the operator's log keeps what the page words for the class
                LOG.exception("Training %s failed", job.spec.summary())
            job.error = job_error_text(exc)
            job.state = "failed"
        finally:
            job._done.set()
