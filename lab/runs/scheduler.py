"""One scheduler for many runs: what is stored, what trains next, how many at once and in what order.

Whoever trains many specs comes through here: the Techniques page (a series, an
ensemble's seeds) and the Gradients page's pair through ``ui.app.jobs``, the teacher's
panel (``lab.runs.classroom``), ``pretrain`` (the command line, the reproduction
document) and the series benchmark (``lab.bench.series``). Every run is a job of a
``JobManager``, so it is trained and stored the one way, listed, and stoppable.

The policy:

- a spec whose stored run stands for it (``lab.runs.training.stored_run``) is done,
  and so is one whose job ended in this round (failed, or stopped by the teacher):
  a round does not try a run twice;
- one run per worker and one more in line (within the visitor's queue limit), so a
  worker that finishes finds the next run waiting; in-process one at a time;
- with more than one run at once, the costliest first, so that no long run is left
  training alone at the end while the other workers idle.

A ``Scheduler`` keeps nothing but what it is built from (specs, the job manager, who
asked and since when): a page that reruns every poll builds one again and asks it
what is done, in flight and next.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from lab.architecture import multiply_adds
from lab.runs.jobs import Job, JobManager
from lab.runs.training import stored_run
from lab.spec import ExperimentSpec

MAX_IN_FLIGHT = 64  # at most this many runs of one scheduler queued or training at once, however large the cluster
QUEUEING_SECONDS = 10.0  # the longest ``fill`` waits for one run to reach its engine's queue before the next
POLL_SECONDS = 0.1  # how often ``run`` looks at the jobs in flight


def training_cost(spec: ExperimentSpec) -> int:
    """A rough cost of training ``spec``, to order runs by: multiply-adds per image times epochs.

    Enough to put series B's deep CNNs (4.7 million multiply-adds a digit,
    ``lab.architecture.multiply_adds``) before its MLPs (8,000-800,000).
    """
    return multiply_adds(spec) * spec.epochs


def costliest_first(specs: Sequence[ExperimentSpec]) -> list[int]:
    """Indices of ``specs`` in the order to hand them to parallel workers: the costliest training first.

    Scheduling the longest jobs first keeps the workers busy until the end (no long run left
    training alone); equal costs keep the given order.
    """
    return sorted(range(len(specs)), key=lambda i: -training_cost(specs[i]))


def in_flight_limit(workers: int, max_queued: int | None) -> int:
    """How many runs of one scheduler are asked for at once, within a visitor's queue limit.

    On several workers (Ray) one per worker and one in line: the one in line starts the
    moment a worker is free, not after the page's next rerun (35.7 s to 31-32 s for series B
    on two workers). In-process one at a time: a run in line there saved 2 s of 51.
    """
    wanted = min(workers + 1, MAX_IN_FLIGHT) if workers > 1 else 1
    return max(1, min(wanted, max_queued if max_queued is not None else wanted))


@dataclass(frozen=True)
class Step:
    """What ``Scheduler.fill`` left going.

    Attributes
    ----------
    in_flight : tuple of int
        Indices of the specs queued or training now, in the order they go (the first is the one to follow).
    refused : dict
        Index -> the job manager's message, for specs the server's limits refuse (they never train).
    """

    in_flight: tuple[int, ...] = ()
    refused: dict[int, str] = field(default_factory=dict)


class Scheduler:
    """Trains many specs as jobs of one job manager; see the module's policy.

    Parameters
    ----------
    specs : sequence of ExperimentSpec
        What to train; a spec listed twice trains once.
    jobs : JobManager
        Where the runs are trained, stored and looked up (its ``store``, ``executor`` and ``limits``).
    session : str
        The browser session asking ("" for none: the teacher, the command line): its requests are the ones
        ``withdraw`` withdraws.
    visitor : str
        Whose queue limit applies (a client address; default: the session's).
    nickname : str
        The session's nickname ("" for none): credited with each run it trains (``JobManager.submit``).
    since : float
        When this round was asked for (``time.time()``): jobs that ended before it do not count as tried.
    at_once : int, optional
        Runs in flight at once (default: ``in_flight_limit`` of the engine's workers and the queue limit).
    """

    def __init__(
        self,
        specs: Sequence[ExperimentSpec],
        jobs: JobManager,
        *,
        session: str = "",
        visitor: str = "",
        nickname: str = "",
        since: float = 0.0,
        at_once: int | None = None,
    ) -> None:
        self.specs = list(specs)
        self.jobs = jobs
        self.session = session
        self.visitor = visitor or session
        self.nickname = nickname
        self.since = since
        self.at_once = (
            at_once if at_once is not None else in_flight_limit(jobs.executor.workers, jobs.limits.max_queued)
        )

    # ------------------------------------------------------------- questions
    def job(self, i: int) -> Job | None:
        """The latest job for spec ``i``, if any."""
        return self.jobs.get(self.specs[i].run_id)

    def stored(self, i: int) -> bool:
        """Whether a stored run stands for spec ``i`` (a stopped one does not: it trains again)."""
        return stored_run(self.specs[i], self.jobs.store) is not None

    def tried(self, i: int) -> bool:
        """Whether spec ``i``'s job ended in this round (trained, stopped or failed): not tried again."""
        job = self.job(i)
        return job is not None and job.finished and job.submitted >= self.since

    def distinct(self) -> list[int]:
        """Indices of the specs, each run id once (its first place)."""
        first: dict[str, int] = {}
        for i, spec in enumerate(self.specs):
            first.setdefault(spec.run_id, i)
        return list(first.values())

    def failed(self) -> list[int]:
        """Indices of the specs whose training failed in this round (nothing stored for them)."""
        return [i for i in self.distinct() if self.tried(i) and self.job(i).state == "failed"]

    def todo(self) -> list[int]:
        """Indices of the specs still to train, in the order they go; the runs in flight among them.

        Each run id once (its first place); costliest first when several train at once.
        """
        # A job still going counts even once its run is stored: the store is written inside the training
        # slot, moments before the job itself ends, and a follower must see it end (and what it trained).
        todo = [i for i in self.distinct() if self._going(i) or not (self.stored(i) or self.tried(i))]
        if self.at_once > 1:
            todo = [todo[j] for j in costliest_first([self.specs[i] for i in todo])]
        return todo

    def in_flight(self) -> list[int]:
        """Indices of the specs queued or training now, in the order they go."""
        return [i for i in self.todo() if self._going(i)]

    def _going(self, i: int) -> bool:
        job = self.job(i)
        return job is not None and not job.finished

    # ------------------------------------------------------------- actions
    def fill(self, reach_timeout: float = 0.0) -> Step:
        """Submit the next runs, in order, until ``at_once`` are in flight; return what is going.

        A spec the server's limits refuse is skipped (in ``Step.refused``); when the session's
        queue is full, the rest wait for a later call. With ``reach_timeout``, each run is given
        that long to reach its engine's queue before the next is submitted, so that they queue
        in this order (each job's thread reaches the engine in its own time).
        """
        todo = self.todo()
        going = [i for i in todo if self._going(i)]
        for i in going:  # a run someone else started is this session's request too: it waits for it
            self.job(i).join(self.session)
        refused: dict[int, str] = {}
        for i in todo:
            if len(going) >= self.at_once:
                break
            if i in going or self.tried(i):  # tried: it ended since todo() looked, and is not trained twice
                continue
            try:
                self.jobs.limits.check(self.specs[i])
            except ValueError as exc:
                refused[i] = str(exc)
                continue
            try:
                job = self.jobs.submit(self.specs[i], self.session, self.visitor, self.nickname)
            except ValueError:
                break  # the visitor's or the server's queue limit: the rest start later, in turn
            going.append(i)
            if reach_timeout > 0 and len(going) < self.at_once:
                reached(job, reach_timeout)
        return Step(tuple(i for i in todo if i in going), refused)

    def withdraw(self) -> None:
        """Stop the rest of this session's requests: queued runs never start, those training stop (kept).

        Only this scheduler's session's requests are withdrawn: a run another session (or the
        teacher) asked for too goes on for them.
        """
        for i in range(len(self.specs)):
            job = self.job(i)
            if job is not None and not job.finished:
                job.withdraw(self.session)

    def run(self, on_poll: Callable[[Step], None] | None = None) -> None:
        """Train everything still to train, here and now (blocks); ``on_poll(step)`` after each look.

        Ends when nothing is left in flight: every spec stored, tried in this round or refused.
        Whatever ``on_poll`` raises ends it too, after withdrawing the rest.
        """
        try:
            while True:
                step = self.fill(QUEUEING_SECONDS)
                if on_poll is not None:
                    on_poll(step)
                if not step.in_flight:
                    return
                self.job(step.in_flight[0]).wait(POLL_SECONDS)
        except BaseException:
            self.withdraw()
            raise


def reached(job: Job, timeout: float) -> bool:
    """Wait until ``job`` reached its engine (waiting in line, training or over), at most ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not (job.finished or job.state == "running" or job.place > 0 or job.waiting > 0):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.005)
    return True
