"""Trainings on a real local Ray (2 CPUs, no dashboard) through the job manager, as a class would use it.

The fixture starts Ray in this test process and shuts down exactly what it
started. Four different trainings at once are all stored, never more of them
running than there are CPUs, each with the curves of the same spec trained
in-process on one TensorFlow thread (what a worker uses); Stop ends one early
and keeps its history; killing the worker of one fails that job in plain words
while the others finish, and Retry trains it again on a fresh worker.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from lab.architecture import check_network
from lab.runs.engine import WORKER_DIED_TEXT
from lab.runs.jobs import Job, JobManager
from lab.runs.store import RunStore
from lab.spec import ExperimentSpec

pytestmark = pytest.mark.slow

# Four different small trainings on the offline sample: a few seconds each on a warm worker.
SPECS = [
    ExperimentSpec(hidden=(16,), epochs=3, batch_size=128, seed=1),
    ExperimentSpec(hidden=(24,), epochs=3, batch_size=128, seed=2, activation="tanh"),
    ExperimentSpec(hidden=(16, 16), epochs=3, batch_size=256, seed=3, optimizer="sgd"),
    ExperimentSpec(hidden=(32,), epochs=2, batch_size=128, seed=4, dropout=0.2),
]
LONG = ExperimentSpec(hidden=(16,), epochs=60, batch_size=128, seed=7)  # stopped or killed long before its end
TIMEOUT = 900.0  # seconds for a test's trainings on a slow, shared 2-core machine


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            tree.setdefault(int(fields[1]), []).append(int(entry.name))
    return tree


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (Linux /proc)."""
    tree, found, todo = _children(), set(), [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return {p for p in found if alive(p)}


def alive(pid: int) -> bool:
    """Running, not gone and not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture(scope="module")
def ray_engine() -> Iterator[object]:
    """A real local Ray with 2 CPUs started here, and the lab's Ray executor on it; shut down at the end."""
    import ray

    from lab.runs.ray_executor import RayExecutor, init_local_ray

    if sys.platform != "linux":
        pytest.skip("the process checks read /proc")
    pythonpath = os.environ.get("PYTHONPATH")
    before = descendants(os.getpid())
    init_local_ray(num_cpus=2)
    try:
        executor = RayExecutor.start("local")  # joins the Ray just started; does not own it
        assert not executor.owns_ray and executor.workers == 2
        yield executor
    finally:
        started = descendants(os.getpid()) - before
        ray.shutdown()
        deadline = time.monotonic() + 30
        while any(alive(p) for p in started) and time.monotonic() < deadline:
            time.sleep(0.2)
        if pythonpath is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = pythonpath
    assert started, "Ray started no process"
    assert not [p for p in started if alive(p)], "Ray processes left after ray.shutdown()"
    assert all(alive(p) for p in before), "the fixture stopped a process it had not started"


def _wait_all(jobs: list[Job], watch=None) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not all(j.finished for j in jobs):
        assert time.monotonic() < deadline, [(j.spec.summary(), j.state) for j in jobs]
        if watch is not None:
            watch()
        time.sleep(0.05)


def _wait_for_report(job: Job) -> None:
    deadline = time.monotonic() + TIMEOUT
    while job.report is None and not job.finished:
        assert time.monotonic() < deadline
        time.sleep(0.05)


def _one_thread_histories(specs: list[ExperimentSpec]) -> dict[str, dict]:
    """The specs trained in-process in a fresh interpreter given one TensorFlow thread, like a worker."""
    code = (
        "import json, sys; from lab.architecture import check_network; from lab.nn.trainer import train\n"
        "from lab.spec import ExperimentSpec\n"
        "out = {}\n"
        "for line in sys.stdin.read().splitlines():\n"
        "    spec = ExperimentSpec.from_json(line); out[spec.run_id] = train(check_network(spec)).history\n"
        "print(json.dumps(out))\n"
    )
    env = {**os.environ, "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", code],
        input="\n".join(s.to_json() for s in specs),
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=TIMEOUT,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_four_trainings_at_once_are_all_stored_with_the_curves_of_one_thread(ray_engine, tmp_path):
    store = RunStore(tmp_path)
    manager = JobManager(store, ray_engine)
    jobs = [manager.submit(spec) for spec in SPECS]
    most_running = 0
    lines: list[tuple[int, int, int, int]] = []

    def watch() -> None:
        nonlocal most_running
        most_running = max(most_running, sum(j.state == "running" for j in jobs))
        lines.extend((j.place, j.running, j.waiting, j.workers) for j in jobs if j.state == "queued" and j.place)

    _wait_all(jobs, watch)
    assert [j.state for j in jobs] == ["done"] * 4, [j.error for j in jobs]
    assert most_running <= 2  # one training per CPU, never more
    assert any(place >= 1 and waiting >= 1 and workers == 2 for place, _, waiting, workers in lines)
    assert {info.run_id for info in store.list()} == {s.run_id for s in SPECS}
    for job in jobs:
        assert job.worker_pid is not None and job.worker_pid != os.getpid()
        assert job.report is not None and job.report.epoch == job.spec.epochs  # every epoch streamed back
        assert not job.result.from_store and job.result.path == store.path(job.run_id)
        assert store.get(job.spec).history == job.result.history

    # Same spec, same curves: exactly those of an in-process training on one thread ...
    references = _one_thread_histories(SPECS)
    for job in jobs:
        assert job.result.history == references[job.run_id], job.spec.summary()
    # ... and, against an in-process training using both cores, equal but for float32 rounding
    # (TensorFlow splits its sums differently over two threads).
    from lab.runs.training import train_and_save

    here = train_and_save(check_network(SPECS[0]), RunStore(tmp_path / "here"))
    for key, values in here.history.items():
        np.testing.assert_allclose(jobs[0].result.history[key], values, rtol=1e-5, atol=1e-6)


def test_stop_ends_a_ray_training_early_and_keeps_its_history(ray_engine, tmp_path):
    store = RunStore(tmp_path)
    job = JobManager(store, ray_engine).submit(LONG)
    _wait_for_report(job)
    job.request_stop()
    _wait_all([job])
    assert job.state == "done", job.error
    result = job.result
    assert result.stopped and 1 <= result.epochs_run < LONG.epochs
    assert len(result.history["loss"]) == result.epochs_run
    stored = store.get(LONG)
    assert stored.stopped and stored.history == result.history


def test_a_stop_reaches_a_ray_worker_mid_epoch_within_seconds(ray_engine, tmp_path):
    """The server relays Stop to the coordinator, the worker's link polls it, the trainer asks after every call."""
    from lab.codec import spec_from_query
    from lab.nn.result import STOP_PRESSED

    # Several seconds an epoch on one TensorFlow thread: a Stop that waited for the epoch's end would show.
    query = {"conv": "32x3s1,64x3s1p24", "hidden": "none", "epochs": "5", "val_mode": "test", "test_subset": "100"}
    job = JobManager(RunStore(tmp_path), ray_engine).submit(spec_from_query(query))
    deadline = time.monotonic() + TIMEOUT
    while job.state != "running" and not job.finished:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(4.0)  # past the first step's tracing, into the first epoch
    pressed = time.monotonic()
    job.request_stop()
    _wait_all([job])
    latency = time.monotonic() - pressed
    assert job.state == "done", job.error
    assert job.result.stopped and job.result.stop_reason == STOP_PRESSED and job.result.epochs_run <= 2
    assert latency < 3.0, latency  # polls (0.25 s each way), the call under way, validation, storing


def test_a_killed_worker_fails_its_job_clearly_while_the_others_finish_and_retry_trains_again(ray_engine, tmp_path):
    store = RunStore(tmp_path)
    manager = JobManager(store, ray_engine)
    doomed = manager.submit(LONG.replace(seed=8))
    _wait_for_report(doomed)  # training on its worker now
    others = [manager.submit(spec) for spec in SPECS[:2]]
    pid = doomed.worker_pid
    assert pid is not None and alive(pid)
    os.kill(pid, signal.SIGKILL)
    _wait_all([doomed, *others])
    assert doomed.state == "failed"
    assert doomed.error == WORKER_DIED_TEXT
    assert [j.state for j in others] == ["done", "done"], [j.error for j in others]
    assert {i.run_id for i in store.list()} == {s.run_id for s in SPECS[:2]}  # nothing half-written shows
    assert store.get(doomed.spec) is None

    again = manager.retry(doomed.run_id)
    _wait_for_report(again)
    assert again.worker_pid != pid  # a fresh worker
    again.request_stop()
    _wait_all([again])
    assert again.state == "done" and again.result.stopped
    assert store.get(doomed.spec) is not None


def _raylets() -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and b"raylet" in (entry / "cmdline").read_bytes().split(b"\0")[0]:
                found.add(int(entry.name))
        except OSError:
            continue
    return {p for p in found if alive(p)}


def test_pretrain_on_ray_trains_presets_in_parallel_and_stops_its_ray_at_the_end(tmp_path):
    before = _raylets()
    env = {**os.environ, "MLP_LAB_HOME": str(tmp_path)}
    env.pop("MLP_LAB_RAY", None)
    done = subprocess.run(
        [sys.executable, "-m", "lab", "pretrain", "--presets", "B1,B2", "--data", "sample", "--epochs", "1"]
        + ["--ray", "local"],
        cwd=Path(__file__).resolve().parents[1],
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert re.search(r"Training on Ray workers on this machine: \d+ workers\.", done.stderr), done.stderr[-3000:]
    assert "2 presets ready" in done.stderr and "(2 trained, 0 already stored)" in done.stderr
    store = RunStore(tmp_path)
    assert len(store.list()) == 2 and all(info.metrics["epochs_run"] == 1 for info in store.list())
    deadline = time.monotonic() + 30
    while _raylets() - before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _raylets() - before, "the command left its Ray running"


STARTED_FROM_A_PAGE_THREAD = """
import threading, time
import ray
from lab.runs.engines import make_executor

made = {}
page = threading.Thread(target=lambda: made.setdefault("executor", make_executor("local", num_cpus=1)))
page.start()
page.join()  # as a Streamlit script run ends
time.sleep(3)
executor = made["executor"]
print(type(executor).__name__, ray.get(ray.remote(lambda: 41 + 1).remote(), timeout=120), executor.status().workers)
executor.close()
"""


def test_an_embedded_ray_started_from_a_page_thread_outlives_that_thread(tmp_path):
    env = {**os.environ, "MLP_LAB_HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", STARTED_FROM_A_PAGE_THREAD],
        cwd=Path(__file__).resolve().parents[1],
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["RayExecutor", "42", "1"]


def test_the_time_limit_stops_a_ray_training_on_its_worker_and_it_is_stored_as_stopped(ray_engine, tmp_path):
    from lab.nn.result import TIME_LIMIT
    from lab.runs.limits import Limits

    store = RunStore(tmp_path)
    job = JobManager(store, ray_engine, Limits(max_train_seconds=0.001)).submit(LONG)
    _wait_all([job])
    assert job.state == "done", job.error
    assert job.result.stopped and job.result.epochs_run == 1
    stored = store.get(LONG)
    assert stored.stopped and stored.stop_reason == TIME_LIMIT


def test_a_queued_ray_training_the_teacher_cancels_never_trains_on_and_frees_its_place(ray_engine, tmp_path):
    from lab.runs.jobs import CANCELLED_TEXT
    from lab.runs.limits import Limits

    store = RunStore(tmp_path)
    # The first busy run must outlast the second's start, which on a loaded machine may wait
    # for a fresh worker to import TensorFlow: 60 epochs ended before it once, unstopped.
    jobs = JobManager(store, ray_engine, Limits(max_epochs=None))
    busy = [jobs.submit(LONG.replace(seed=s, epochs=2000)) for s in (31, 32)]  # both workers
    for job in busy:
        _wait_for_report(job)
    queued = jobs.submit(LONG.replace(seed=33))
    assert queued.state == "queued"
    assert jobs.cancel(queued.run_id)
    for job in busy:
        job.request_stop()
    _wait_all([*busy, queued])
    assert queued.state == "failed" and queued.error == CANCELLED_TEXT
    assert all(job.state == "done" and job.result.stopped for job in busy), [
        (job.state, job.error, job.result and job.result.epochs_run) for job in busy
    ]
    assert ray_engine.status().waiting == 0
