"""The executor seam: in-process by default (nothing of Ray loaded), Ray by one setting, faults in plain words.

The real Ray runs are in ``tests/test_executor_ray.py`` (slow); here the job
manager is driven by stand-in executors, so nothing trains.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from lab.nn.observer import SILENT, QueuePlace
from lab.nn.queue import TRAINING_QUEUE
from lab.nn.result import RunResult
from lab.runs.engine import WORKER_DIED_TEXT, WorkerLostError, ray_setting
from lab.runs.engines import make_executor
from lab.runs.in_process import InProcessExecutor
from lab.runs.jobs import JobManager
from lab.runs.store import RunStore
from lab.spec import ExperimentSpec

SPEC = ExperimentSpec(hidden=(8,), epochs=2, seed=3)


def _result(spec: ExperimentSpec) -> RunResult:
    return RunResult(
        spec=spec,
        history={"loss": [1.0, 0.5]},
        test_loss=0.5,
        test_accuracy=0.9,
        confusion=np.zeros((10, 10), dtype=int),
        test_probs=np.zeros((4, 10), dtype=np.float32),
        epochs_run=2,
        best_epoch=None,
        train_seconds=0.1,
        diverged=False,
        stopped=False,
        params=1,
    )


class DyingOnce:
    """An executor whose first worker dies mid-training; the second try trains."""

    engine, notice, workers = "stand-in", "", 2

    def __init__(self) -> None:
        self.calls = 0

    def train_and_save(self, checked, store, observer=SILENT, *, time_limit=None):
        self.calls += 1
        observer.on_queue(QueuePlace(place=3, running=2, waiting=4, workers=2, running_label="2 runs on 2 workers"))
        observer.on_worker(4242, "node-a")
        observer.on_start()
        if self.calls == 1:
            raise WorkerLostError(WORKER_DIED_TEXT)
        return _result(checked.spec)


def test_the_setting_comes_from_the_environment_else_from_a_secrets_file_or_flag():
    assert ray_setting({}) == ""
    assert ray_setting({"MLP_LAB_RAY": ""}, fallback="local") == "local"
    assert ray_setting({"MLP_LAB_RAY": " auto "}, fallback="local") == "auto"
    assert ray_setting({}, fallback="ray://head:10001") == "ray://head:10001"


def test_unset_means_in_process_and_imports_nothing_of_ray():
    code = (
        "import sys; from lab.runs.engine import ray_setting; from lab.runs.engines import make_executor;"
        "from lab.runs.jobs import JobManager; from lab.runs.store import RunStore;"
        "e = make_executor(ray_setting({})); JobManager(RunStore(), e);"
        "print(type(e).__name__, e.workers, 'ray' in sys.modules, 'tensorflow' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["InProcessExecutor", "1", "False", "False"]


def test_a_job_manager_without_an_executor_trains_in_process():
    assert isinstance(JobManager(RunStore()).executor, InProcessExecutor)


def test_a_cluster_that_cannot_be_reached_falls_back_to_in_process_with_a_notice():
    started = time.monotonic()
    executor = make_executor("127.0.0.1:1")  # nothing listens on port 1
    assert isinstance(executor, InProcessExecutor)
    assert "Could not start or reach the Ray cluster at 127.0.0.1:1" in executor.notice
    assert "Trainings run on this server instead" in executor.notice
    assert executor.status().notice == executor.notice
    assert time.monotonic() - started < 60  # seconds, not the minutes ray.init waits for a silent head


def test_a_lost_worker_fails_the_job_in_plain_words_and_retry_trains_again(tmp_path):
    executor = DyingOnce()
    jobs = JobManager(RunStore(tmp_path), executor)
    job = jobs.submit(SPEC)
    assert job.wait(10)
    assert job.state == "failed"
    assert job.error == WORKER_DIED_TEXT
    assert job.error == "The worker training this run stopped (killed or out of memory): press Retry."
    assert (job.place, job.running, job.waiting, job.workers) == (0, 2, 4, 2)  # the line it stood in, then started
    assert (job.worker_pid, job.worker_node) == (4242, "node-a")
    again = jobs.retry(SPEC.run_id)
    assert again is not job and again.wait(10)
    assert again.state == "done" and again.result.history == {"loss": [1.0, 0.5]}
    assert jobs.get(SPEC.run_id) is again and executor.calls == 2
    with pytest.raises(KeyError):
        jobs.retry("000000000000")


def test_in_process_the_line_is_this_server_queue(monkeypatch, tmp_path):
    """While another training holds this process's slot, a job sees place 1 of a line of 2, one worker."""
    seen: list[QueuePlace] = []

    def fake_train_and_save(checked, store, observer=SILENT, *, time_limit=None):
        with TRAINING_QUEUE.slot(checked.spec.summary(), observer, poll_seconds=0.02):
            observer.on_start()
            return _result(checked.spec)

    monkeypatch.setattr("lab.runs.training.train_and_save", fake_train_and_save)
    release = threading.Event()
    holding = threading.Event()

    def hold() -> None:
        with TRAINING_QUEUE.slot("the other run"):
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    holding.wait(5)
    jobs = JobManager(RunStore(tmp_path), InProcessExecutor())
    job = jobs.submit(SPEC)
    deadline = time.monotonic() + 5
    while job.place == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    seen.append(QueuePlace(job.place, job.running, job.waiting, job.workers, job.running_label))
    release.set()
    holder.join(5)
    assert job.wait(5) and job.state == "done"
    assert seen == [QueuePlace(1, 1, 1, 1, "the other run")]
    status = InProcessExecutor().status()
    assert (status.engine, status.workers, status.busy, status.waiting) == ("in-process", 1, 0, 0)


def _open_app(home, monkeypatch):
    """The whole app on its Home page, against the run store in ``home``, with fresh server-wide objects."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("MLP_LAB_HOME", str(home))
    st.cache_resource.clear()
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "streamlit_app.py"), default_timeout=60).run()
    assert not at.exception, at.exception
    return at


@pytest.mark.slow
def test_home_says_where_trainings_run_and_a_cluster_out_of_reach_is_a_warning_not_a_crash(tmp_path, monkeypatch):
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    monkeypatch.delenv("MLP_LAB_RAY", raising=False)
    at = _open_app(tmp_path, monkeypatch)
    assert any("Trainings run in this server's process" in c.value for c in at.caption)
    assert not at.warning
    monkeypatch.setenv("MLP_LAB_RAY", "127.0.0.1:1")  # nothing listens there
    try:
        at = _open_app(tmp_path, monkeypatch)
        assert any("Could not start or reach the Ray cluster at 127.0.0.1:1" in w.value for w in at.warning)
        assert any("Trainings run in this server's process" in c.value for c in at.caption)

        def page_with_the_queue() -> None:
            from ui.app.jobs import queue_sidebar

            queue_sidebar()

        sidebar = AppTest.from_function(page_with_the_queue, default_timeout=60).run()
        assert not sidebar.exception, sidebar.exception
        assert any("Trainings run on this server instead" in w.value for w in sidebar.sidebar.warning)
    finally:
        st.cache_resource.clear()  # no other test gets the fallback engine


def test_the_command_line_flag_beats_the_environment_and_an_unreachable_cluster_is_a_warning(monkeypatch, capsys):
    import argparse

    from lab.cli.engine import engine_from_args
    from lab.cli.main import build_parser

    monkeypatch.setenv("MLP_LAB_RAY", "local")
    with engine_from_args(argparse.Namespace(ray="127.0.0.1:1")) as executor:
        assert isinstance(executor, InProcessExecutor)
    assert "warning: Could not start or reach the Ray cluster at 127.0.0.1:1" in capsys.readouterr().err
    with engine_from_args(argparse.Namespace(ray="")) as executor:  # '' trains here, whatever the environment says
        assert isinstance(executor, InProcessExecutor) and not executor.notice
    for command in ("train", "pretrain --all", "reproduce"):
        assert build_parser().parse_args([*command.split(), "--ray", "auto"]).ray == "auto"


class TwoWorkers:
    """A parallel stand-in: records the order runs reach its queue and how many it holds at once."""

    engine, notice, workers = "stand-in", "", 2

    def __init__(self) -> None:
        self.arrived: list[str] = []
        self.held = self.most_held = 0
        self.lock = threading.Lock()

    def train_and_save(self, checked, store, observer=SILENT, *, time_limit=None):
        spec = checked.spec
        with self.lock:
            self.arrived.append(spec.run_id)
            self.held += 1
            self.most_held = max(self.most_held, self.held)
        observer.on_queue(QueuePlace(place=1, running=2, waiting=1, workers=2, running_label="2 runs on 2 workers"))
        time.sleep(0.05)  # the next run may arrive while this one "trains"
        observer.on_start()
        time.sleep(0.05)
        with self.lock:
            self.held -= 1
        return _result(spec)


def test_parallel_pretraining_queues_the_longest_runs_first_one_more_than_the_workers_at_a_time(tmp_path):
    from lab.catalog.presets import list_presets
    from lab.runs.pretrain import pretrain
    from lab.runs.scheduler import costliest_first

    presets = [p.quick() for p in list_presets("B", "sample")]
    engine = TwoWorkers()
    results = pretrain(presets, RunStore(tmp_path), executor=engine)
    expected = [presets[i].spec.run_id for i in costliest_first([p.spec for p in presets])]
    assert engine.arrived == expected  # B7-B11 first, in this order, however the threads were scheduled
    assert engine.most_held <= engine.workers + 1  # the rest of the series waits here, not in the cluster's queue
    assert list(results) == [p.name for p in presets]  # reported in the course's order
