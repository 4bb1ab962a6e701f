"""Trainings on Ray workers: one process per core, each training one model after another.

Imported only when ``MLP_LAB_RAY`` asks for Ray (``lab.runs.engines.make_executor``).

- Each training is a Ray task needing one CPU (:func:`train_on_worker`). Ray
  reuses worker processes, so a worker imports TensorFlow once; Ray's scheduler
  is the cluster-wide queue. Tasks are never retried: a worker that dies fails
  its job, which the page offers to retry.
- One named actor per cluster, the :class:`Coordinator` (no CPU of its own),
  holds the line (waiting, running) and, for each training, the epoch reports
  not yet collected and the stop flag. The worker sends reports to it; the
  server that submitted the training polls it from the job's thread and relays
  what it hears to the caller's ``TrainingObserver``; so are the snapshots of the
  network's inside (``on_snapshot``, ``lab.nn.snapshots``), which the worker also
  stores with the run.
- A worker trains with one TensorFlow thread (``WORKER_ENV``): several workers
  share a machine, one per core. Keras' seed is process-wide, and each worker
  trains one model at a time, so the same spec and seed give the same curves on
  any worker. (They equal an in-process training that uses one thread too; an
  in-process training with two threads sums in another order and differs in the
  last float32 digit, about 1e-7: see ``tests/test_executor_ray.py``.)
- The worker writes the run into the store itself (atomically, as everywhere),
  so the store must be a folder every worker and every app server can see: the
  same machine, or a shared filesystem mounted at the same path on every node.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ray
import ray.exceptions

import lab
from lab.architecture import CheckedSpec
from lab.nn.observer import SILENT, QueuePlace, TrainingObserver
from lab.nn.result import EpochReport, RunResult
from lab.nn.snapshots import Snapshot
from lab.runs.engine import WORKER_DIED_TEXT, EngineStatus, WorkerLostError
from lab.runs.private_env import forget_private_env
from lab.runs.store import RunStore
from lab.runs.training import train_and_save

NAMESPACE = "mlp-lab"
COORDINATOR_NAME = "mlp-lab-coordinator"
POLL_SECONDS = 0.25
# A coordinator that has not answered for this long means the cluster is gone: fail the job, never wait forever.
ANSWER_TIMEOUT = 60.0
# A training whose server has not asked about it for this long is dropped from the line
# (that server stopped or lost its connection); servers poll every POLL_SECONDS.
FORGET_AFTER = 120.0
# One TensorFlow thread per worker: one worker per core, and the same sums in the same order on every worker.
WORKER_ENV = {"TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1"}
CPUS_PER_TRAINING = 1
PROJECT_ROOT = Path(lab.__file__).resolve().parents[1]  # the folder that holds this copy of the lab


@dataclass
class _Entry:
    label: str
    submitted: float = field(default_factory=time.time)
    polled: float = field(default_factory=time.time)
    state: str = "waiting"  # waiting | running | saved
    reports: list[EpochReport] = field(default_factory=list)
    snapshots: list[Snapshot] = field(default_factory=list)
    stop: bool = False
    pid: int | None = None
    node: str = ""


@ray.remote(num_cpus=0)
class Coordinator:
    """The cluster-wide line of trainings, their uncollected epoch reports and their stop flags.

    Every method is called by ticket (one per submitted training). Calls from
    one caller run in the order they were made, so a worker's reports arrive in
    epoch order and before its final ``saved``.
    """

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}  # in submission order

    def submit(self, ticket: str, label: str) -> None:
        """A server queued a training."""
        self._entries[ticket] = _Entry(label)

    def started(self, ticket: str, pid: int, node: str) -> None:
        """A worker began it."""
        entry = self._entries.get(ticket)
        if entry is not None:
            entry.state, entry.pid, entry.node = "running", pid, node

    def report(self, ticket: str, report: EpochReport) -> None:
        """The worker finished an epoch."""
        entry = self._entries.get(ticket)
        if entry is not None:
            entry.reports.append(report)

    def snapshot(self, ticket: str, snapshot: Snapshot) -> None:
        """The worker took a snapshot of the network's inside."""
        entry = self._entries.get(ticket)
        if entry is not None:
            entry.snapshots.append(snapshot)

    def saved(self, ticket: str) -> None:
        """The worker stored the run (every report sent before this call has arrived)."""
        entry = self._entries.get(ticket)
        if entry is not None:
            entry.state = "saved"

    def stop(self, ticket: str) -> None:
        """Someone pressed Stop: the worker ends within a second (its trainer asks after every call)."""
        entry = self._entries.get(ticket)
        if entry is not None:
            entry.stop = True

    def stopping(self, ticket: str) -> bool:
        """Whether the worker should stop now."""
        entry = self._entries.get(ticket)
        return entry is not None and entry.stop

    def poll(self, ticket: str) -> dict[str, Any]:
        """The training's state, its place in the line and the reports since the last poll."""
        now = time.time()
        self._forget(now)
        entry = self._entries.get(ticket)
        if entry is None:
            return {"state": "unknown", "reports": [], "snapshots": []}
        entry.polled = now
        reports, entry.reports = entry.reports, []
        snapshots, entry.snapshots = entry.snapshots, []
        running = [e for e in self._entries.values() if e.state == "running"]
        waiting = [t for t, e in self._entries.items() if e.state == "waiting"]
        return {
            "state": entry.state,
            "reports": reports,
            "snapshots": snapshots,
            "place": waiting.index(ticket) + 1 if ticket in waiting else 0,
            "running": len(running),
            "waiting": len(waiting),
            "running_label": running[0].label if len(running) == 1 else "",
            "pid": entry.pid,
            "node": entry.node,
        }

    def finish(self, ticket: str) -> None:
        """The server collected the result (or gave up): the training leaves the line."""
        self._entries.pop(ticket, None)

    def line(self) -> tuple[int, int]:
        """(running, waiting) over the whole cluster."""
        self._forget(time.time())
        states = [e.state for e in self._entries.values()]
        return states.count("running"), states.count("waiting")

    def _forget(self, now: float) -> None:
        for ticket in [t for t, e in self._entries.items() if now - e.polled > FORGET_AFTER]:
            del self._entries[ticket]


class _WorkerLink(TrainingObserver):
    """A worker's side of the coordinator, observing the training there: epoch reports sent without waiting,
    the stop flag read in a thread. The server's side relays both to the observer of whoever asked.

    Why a thread: a ``ray.get`` in a task's main thread lends the task's CPU to
    the next task in line while it waits (Ray's way to avoid deadlocks), and the
    task takes it back without the other one giving it up: a ``ray.get`` after
    each epoch would soon train more models at once than there are cores. Calls
    from another thread of the task lend nothing (checked in
    ``tests/test_executor_ray.py``: never more trainings running than CPUs).
    """

    def __init__(self, coordinator: Any, ticket: str) -> None:
        self.coordinator, self.ticket = coordinator, ticket
        self._stop = threading.Event()
        self._done = threading.Event()
        threading.Thread(target=self._watch, name=f"stop-{ticket}", daemon=True).start()

    def _watch(self) -> None:
        while not self._done.wait(POLL_SECONDS):
            try:
                if ray.get(self.coordinator.stopping.remote(self.ticket), timeout=ANSWER_TIMEOUT):
                    self._stop.set()
                    return
            except ray.exceptions.RayError:
                return  # no coordinator: nobody can press Stop; the training goes on and is stored

    def on_epoch(self, report: EpochReport) -> None:
        """Send an epoch report (never waits); the server hands it to ``on_progress`` and ``on_epoch``."""
        self.coordinator.report.remote(self.ticket, report)

    def on_snapshot(self, snapshot: Snapshot) -> None:
        """Send a snapshot (never waits); the server hands it to ``on_snapshot``. The worker stores the film too."""
        self.coordinator.snapshot.remote(self.ticket, snapshot)

    def should_stop(self) -> bool:
        """Whether Stop was pressed (read from the flag the thread keeps)."""
        return self._stop.is_set()

    def close(self) -> None:
        """Stop watching."""
        self._done.set()


@ray.remote(num_cpus=CPUS_PER_TRAINING, max_retries=0)
def train_on_worker(
    checked: CheckedSpec, home: str, ticket: str, coordinator: Any, time_limit: float | None = None
) -> str:
    """Train one checked spec on this worker and store it in ``home``; returns the run's folder.

    Runs in a Ray worker process: reports each epoch to ``coordinator`` and
    stops once it says so (the link's thread polls it every ``POLL_SECONDS``, the trainer
    asks the link after every call into TensorFlow, mid-epoch too), or once ``time_limit``
    seconds have gone (the server's limit, enforced on the worker itself). The spec was checked where
    it was submitted and travels checked. Never retried (``max_retries=0``): a
    worker that dies fails its job instead of training again unseen.
    """
    configure_worker()
    coordinator.started.remote(ticket, os.getpid(), socket.gethostname())
    link = _WorkerLink(coordinator, ticket)
    try:
        result = train_and_save(checked, RunStore(home), link, time_limit=time_limit)
    finally:
        link.close()
    coordinator.saved.remote(ticket)  # after every report: calls from one caller arrive in order
    return str(result.path)


@ray.remote(num_cpus=CPUS_PER_TRAINING, max_retries=0)
def warm_up() -> int:
    """Import TensorFlow and the trainer on a worker and read the default data, as a server warms up.

    Its first training then starts at once: no 3-8 s of imports, no reading the sample.
    """
    configure_worker()
    # Imported here, in the worker: warming up this process is what the task is for.
    from lab.runs import warm

    warm.warm_up()
    return os.getpid()


def configure_worker() -> None:
    """One TensorFlow thread in this worker process (``WORKER_ENV``), before TensorFlow starts.

    TensorFlow reads these variables when it first runs an op, so they hold for
    every training this worker does. Set here rather than in a Ray
    ``runtime_env``: workers with an environment of their own would be started
    apart from the ones Ray starts with the cluster, taking seconds more each.
    """
    os.environ.update(WORKER_ENV)


def start_ray(setting: str, num_cpus: int | None = None) -> None:
    """Start an embedded Ray (``local`` or "") or join the cluster at ``setting`` (``auto``, an address).

    Raises
    ------
    ConnectionError, TimeoutError, RuntimeError
        When no cluster answers at the address.
    """
    # Workers of an embedded Ray inherit this process's environment: the teacher's passphrase is no business of
    # theirs (Streamlit copies its secrets into os.environ); a cluster's workers never see it either way.
    forget_private_env()
    if setting in ("", "local"):
        init_local_ray(num_cpus)
        return
    check_reachable(setting)
    # The cluster's workers get this server's own copy of the lab, so both run the same code
    # (the nodes need the lab's requirements installed, not the lab itself).
    ray.init(
        address=setting,
        log_to_driver=False,
        namespace=NAMESPACE,
        runtime_env={"py_modules": [str(PROJECT_ROOT / "lab")]},
    )


def init_local_ray(num_cpus: int | None = None) -> None:
    """Start an embedded Ray on this machine: ``num_cpus`` workers (default: every core), no dashboard.

    Its workers import the lab from this very folder (``PYTHONPATH``, which they
    inherit), not whatever copy of the lab the Python installation holds. Stopped
    by ``ray.shutdown()`` (or at exit).

    Ray ties the processes it starts to the *thread* that starts them (Linux
    ``PR_SET_PDEATHSIG``): they are killed when that thread ends. A Streamlit
    page runs in a thread that ends with each run of the script, so from any
    thread but the main one Ray is started from a thread of its own that lives
    as long as the process.
    """
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if str(PROJECT_ROOT) not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([str(PROJECT_ROOT), *paths])

    def start() -> None:
        ray.init(
            num_cpus=num_cpus or os.cpu_count() or 1,
            include_dashboard=False,
            log_to_driver=False,
            namespace=NAMESPACE,
        )

    if threading.current_thread() is threading.main_thread():
        start()
        return
    started = threading.Event()
    failed: list[BaseException] = []

    def keep() -> None:
        try:
            start()
        except BaseException as exc:  # noqa: BLE001 - raised again in the caller's thread
            failed.append(exc)
        started.set()
        if not failed:
            threading.Event().wait()  # forever: a daemon thread, it ends with the process

    threading.Thread(target=keep, name="mlp-lab-ray", daemon=True).start()
    started.wait()
    if failed:
        raise failed[0]


def check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail at once when nothing listens at a cluster address (``HOST:PORT`` or ``ray://HOST:PORT``).

    ``ray.init`` waits minutes for a head that does not answer; a server
    starting for a class should fall back to in-process within seconds.
    ``auto`` (the address a ``ray start`` on this machine wrote) is left to Ray.

    Raises
    ------
    ConnectionError
        When no connection can be made.
    """
    if address == "auto":
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise ConnectionError(f"{address!r} is not a cluster address: use local, auto, HOST:PORT or ray://HOST:PORT")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        raise ConnectionError(f"nothing answers at {host}:{port} ({exc})") from exc


class RayExecutor:
    """Trains on Ray workers; see the module docstring.

    Parameters
    ----------
    engine : str
        ``ray-local`` (an embedded Ray this executor started) or ``ray-cluster``.
    description : str
        Where trainings run, in words, for the Home page.
    coordinator : ray.actor.ActorHandle
        The cluster's :class:`Coordinator`.
    owns_ray : bool
        Whether this executor called ``ray.init`` (and ``close`` shuts it down).
    """

    notice = ""

    def __init__(self, engine: str, description: str, coordinator: Any, owns_ray: bool) -> None:
        self.engine = engine
        self.description = description
        self.coordinator = coordinator
        self.owns_ray = owns_ray
        self._workers = (0, 0.0)  # (count, when read)

    @classmethod
    def start(cls, setting: str, *, num_cpus: int | None = None, warm: bool = True) -> RayExecutor:
        """Start an embedded Ray (``local``) or join a cluster (``auto``, an address); see ``make_executor``.

        A Ray already started in this process (``ray.init`` by a test or a notebook) is used as it is.

        Raises
        ------
        ConnectionError, TimeoutError, RuntimeError
            When no cluster answers at the address.
        """
        owns = False
        if not ray.is_initialized():
            start_ray(setting, num_cpus)
            owns = True
        local = setting == "local"
        options: dict[str, Any] = {"name": COORDINATOR_NAME, "namespace": NAMESPACE, "get_if_exists": True}
        if not local:
            # Outlives this server, so that every app server of a cluster shares one line.
            options["lifetime"] = "detached"
        coordinator = Coordinator.options(**options).remote()
        try:
            ray.get(coordinator.line.remote(), timeout=ANSWER_TIMEOUT)
        except Exception:
            if owns:
                ray.shutdown()
            raise
        description = "on Ray workers on this machine" if local else f"on the Ray cluster at {setting}"
        executor = cls("ray-local" if local else "ray-cluster", description, coordinator, owns)
        if warm:
            executor.warm_up()
        return executor

    @property
    def workers(self) -> int:
        """Trainings that can run at once: the cluster's CPUs (read at most every 10 s)."""
        count, read = self._workers
        if time.monotonic() - read > 10.0:
            count = max(int(ray.cluster_resources().get("CPU", 0)) // CPUS_PER_TRAINING, 1)
            self._workers = (count, time.monotonic())
        return count

    def warm_up(self, wait: bool = False) -> list[Any]:
        """Have every worker import TensorFlow and read the default data now; returns the tasks' refs.

        In the background, unless ``wait``: then once every worker is warm.
        """
        refs = [warm_up.remote() for _ in range(self.workers)]
        if wait:
            ray.get(refs)
        return refs

    def train_and_save(
        self,
        checked: CheckedSpec,
        store: RunStore,
        observer: TrainingObserver = SILENT,
        *,
        time_limit: float | None = None,
    ) -> RunResult:
        """Train on a worker and return the stored run; see ``lab.runs.engine.Executor``.

        ``observer.on_worker(pid, node)`` is told which process trains it, once it started.
        """
        spec = checked.spec
        ticket = f"{spec.run_id}-{uuid.uuid4().hex[:12]}"
        coordinator = self.coordinator
        self._answer(coordinator.submit.remote(ticket, spec.summary()))
        ref = train_on_worker.remote(checked, str(store.home.resolve()), ticket, coordinator, time_limit)
        started = stop_sent = False

        def apply(update: dict[str, Any]) -> None:
            nonlocal started
            if update["state"] == "waiting":
                label = update["running_label"] or f"{update['running']} runs on {self.workers} workers"
                observer.on_queue(QueuePlace(update["place"], update["running"], update["waiting"], self.workers, label))
            elif update["state"] in ("running", "saved") and not started:
                started = True
                if update["pid"] is not None:
                    observer.on_worker(update["pid"], update["node"])
                observer.on_start()
            for report in update["reports"]:
                observer.on_progress(report)
                if report.at_epoch_end:
                    observer.on_epoch(report)
            for snapshot in update.get("snapshots", ()):
                observer.on_snapshot(snapshot)

        try:
            while True:
                done, _ = ray.wait([ref], timeout=POLL_SECONDS)
                apply(self._answer(coordinator.poll.remote(ticket)))
                if not stop_sent and observer.should_stop():
                    coordinator.stop.remote(ticket)
                    stop_sent = True
                if done:
                    break
            path = ray.get(ref)
            # The worker's last reports and ``saved`` may arrive at the coordinator just after its result.
            deadline = time.monotonic() + ANSWER_TIMEOUT
            while True:
                update = self._answer(coordinator.poll.remote(ticket))
                apply(update)
                if update["state"] in ("saved", "unknown") or time.monotonic() > deadline:
                    break
                time.sleep(0.02)
        except ray.exceptions.RayTaskError as exc:
            # The training itself raised (a spec the data cannot serve ...): the same error as in-process.
            cause = exc.cause
            raise (cause if isinstance(cause, Exception) else exc) from None
        except ray.exceptions.RayError as exc:
            # The worker process died (killed, out of memory, its node lost): say so, never retry unseen.
            ray.cancel(ref, force=True)
            raise WorkerLostError(WORKER_DIED_TEXT) from exc
        except Exception:
            # An observer of this server raised (a job cancelled before it started): nobody waits for this run.
            ray.cancel(ref)
            raise
        finally:
            coordinator.finish.remote(ticket)
        result = store.get(spec)
        if result is None:
            raise RuntimeError(
                f"The worker stored run {spec.run_id} at {path}, which this server cannot read: "
                "the run store must be a folder that every machine shares (README: Deploy for a class)."
            )
        result.from_store = False
        return result

    def _answer(self, ref: Any) -> Any:
        try:
            return ray.get(ref, timeout=ANSWER_TIMEOUT)
        except (ray.exceptions.GetTimeoutError, ray.exceptions.RayActorError) as exc:
            raise WorkerLostError(
                f"The Ray cluster stopped answering ({type(exc).__name__}): press Retry, "
                "or restart the app to train on this server."
            ) from exc

    def status(self) -> EngineStatus:
        """The cluster's workers and how many are busy, over every app server that uses it."""
        try:
            running, waiting = ray.get(self.coordinator.line.remote(), timeout=5.0)
            workers = self.workers
        except ray.exceptions.RayError as exc:
            return EngineStatus(self.engine, self.description, 0, 0, 0, f"The Ray cluster does not answer: {exc}")
        return EngineStatus(self.engine, self.description, workers, min(running, workers), waiting)

    def close(self) -> None:
        """Shut down the Ray this executor started (or disconnect from the cluster it joined)."""
        if self.owns_ray and ray.is_initialized():
            ray.shutdown()
