"""The server's limits: no link or widget gets a training past them, a session queues only so many,
a training that runs out of time stops and is stored as stopped, and idx: folders stay within the allowed roots.

The job manager is driven by a stand-in executor (nothing trains) except where the
time limit is checked on a real, tiny training.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from lab.architecture import CheckedSpec, count_params
from lab.codec import spec_from_query
from lab.data.sources import PROJECT_DATA_DIR, check_data_allowed
from lab.nn.observer import SILENT
from lab.nn.result import TIME_LIMIT, RunResult
from lab.runs.jobs import CANCELLED_TEXT, WITHDRAWN_TEXT, JobManager
from lab.runs.limits import LimitExceeded, Limits
from lab.runs.store import RunStore
from lab.spec import ExperimentSpec


def _result(spec: ExperimentSpec) -> RunResult:
    return RunResult(
        spec=spec,
        history={"loss": [1.0]},
        test_loss=0.5,
        test_accuracy=0.9,
        confusion=np.zeros((10, 10), dtype=int),
        test_probs=np.zeros((4, 10), dtype=np.float32),
        epochs_run=1,
        best_epoch=None,
        train_seconds=0.1,
        diverged=False,
        stopped=False,
        params=1,
    )


class Recording:
    """An executor that records what reaches it and trains only once ``release`` is set."""

    engine, notice, workers = "stand-in", "", 1

    def __init__(self) -> None:
        self.trained: list[ExperimentSpec] = []
        self.checked: list[CheckedSpec] = []
        self.time_limits: list[float | None] = []
        self.release = threading.Event()

    def train_and_save(self, checked, store, observer=SILENT, *, time_limit=None):
        self.trained.append(checked.spec)
        self.checked.append(checked)
        self.time_limits.append(time_limit)
        self.release.wait(30)
        observer.on_start()
        return _result(checked.spec)


def _manager(tmp_path: Path, limits: Limits | None = None) -> tuple[JobManager, Recording]:
    executor = Recording()
    return JobManager(RunStore(tmp_path), executor, limits), executor


# ------------------------------------------------------------- over a limit: refused, never trained
@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("epochs=1000&hidden=1500,1500", ["1000 epochs", "200", "MLP_LAB_MAX_EPOCHS"]),
        ("hidden=3000,1500", ["parameters", "5,000,000", "MLP_LAB_PARAM_BUDGET"]),
        ("data=idx:/etc", ["not allowed", "MLP_LAB_DATA_ROOTS"]),
    ],
)
def test_a_link_over_a_limit_gets_its_message_and_never_reaches_the_trainer(tmp_path, query, names):
    spec = spec_from_query(dict(part.split("=") for part in query.split("&")))
    jobs, executor = _manager(tmp_path)
    with pytest.raises(LimitExceeded) as refused:
        jobs.submit(spec, "student")
    for name in names:
        assert name in str(refused.value)
    assert executor.trained == [] and jobs.active() == []


def test_the_link_the_issue_tried_is_refused_for_its_epochs_though_under_the_parameter_budget(tmp_path):
    spec = spec_from_query({"epochs": "1000", "hidden": "1500,1500"})
    with pytest.raises(LimitExceeded, match=r"1000 epochs is more than this server allows \(200"):
        Limits().check(spec)
    assert Limits().check(spec.replace(epochs=100)) is not None  # the course's longest run is allowed


def test_the_operator_sets_the_limits_in_the_environment_else_the_secrets_file_and_0_lifts_one():
    limits = Limits.from_env({"MLP_LAB_MAX_EPOCHS": "5"}, {"MLP_LAB_MAX_EPOCHS": "50", "MLP_LAB_MAX_QUEUED": "1"})
    assert (limits.max_epochs, limits.max_queued) == (5, 1)
    assert limits.max_params == 5_000_000 and limits.max_train_seconds == 600.0
    with pytest.raises(LimitExceeded, match="MLP_LAB_MAX_EPOCHS"):
        limits.check(ExperimentSpec(epochs=10))
    assert Limits.from_env({"MLP_LAB_PARAM_BUDGET": "0"}).max_params is None
    lifted = Limits.from_env({"MLP_LAB_PARAM_BUDGET": "0"}).check(ExperimentSpec(hidden=(3000, 1500)))
    assert lifted.spec.hidden == (3000, 1500) and lifted.params == count_params(lifted.spec)
    with pytest.raises(ValueError, match="MLP_LAB_MAX_TRAIN_SECONDS='ten minutes' must be a whole number"):
        Limits.from_env({"MLP_LAB_MAX_TRAIN_SECONDS": "ten minutes"})


def test_the_training_gets_the_servers_time_limit_and_a_spec_checked_once_against_its_budget(tmp_path, monkeypatch):
    import lab.architecture

    jobs, executor = _manager(tmp_path, Limits(max_train_seconds=42.0, max_params=10_000))
    with pytest.raises(LimitExceeded, match="10,000"):
        jobs.submit(ExperimentSpec(hidden=(16,)), "s")  # 12,730 weights: over this server's budget
    counted = []
    count = lab.architecture.count_params
    monkeypatch.setattr(lab.architecture, "count_params", lambda spec: counted.append(spec) or count(spec))
    executor.release.set()
    assert jobs.submit(ExperimentSpec(hidden=(8,)), "s").wait(10)
    assert executor.time_limits == [42.0]
    assert executor.checked[0].params == 8 * 784 + 8 + 90 and len(counted) == 1  # counted once, at submit


# ------------------------------------------------------------- per session
def test_a_session_cannot_queue_more_than_its_limit_and_others_are_not_held_back(tmp_path):
    jobs, executor = _manager(tmp_path)  # the default: 3 a session
    specs = [ExperimentSpec(hidden=(8,), seed=s) for s in range(5)]
    for spec in specs[:3]:
        jobs.submit(spec, "alice")
    with pytest.raises(LimitExceeded, match=r"already have 3 trainings .* \(3, the limit MLP_LAB_MAX_QUEUED\)"):
        jobs.submit(specs[3], "alice")
    assert len(jobs.active()) == 3
    jobs.submit(specs[3], "bob")  # another browser has its own three
    assert jobs.submit(specs[0], "bob") is jobs.get(specs[0].run_id)  # joining a job costs nothing: allowed
    executor.release.set()
    for job in jobs.active():
        assert job.wait(10)
    assert jobs.submit(specs[4], "alice").wait(10)  # once finished, they no longer count
    assert specs[4] in executor.trained and len(executor.trained) == 5


def test_a_queued_job_the_teacher_cancels_never_trains(tmp_path):
    jobs, executor = _manager(tmp_path)
    job = jobs.submit(ExperimentSpec(hidden=(8,)), "student")
    assert jobs.cancel(job.run_id)
    executor.release.set()
    assert job.wait(10)
    assert job.state == "failed" and job.error == CANCELLED_TEXT and job.result is None


def test_a_queued_job_its_session_withdraws_never_trains_and_does_not_blame_the_teacher(tmp_path):
    jobs, executor = _manager(tmp_path)
    job = jobs.submit(ExperimentSpec(hidden=(8,)), "student")
    job.withdraw()  # the series' "Cancel the rest of the series", for the run waiting in line
    executor.release.set()
    assert job.wait(10)
    assert job.state == "failed" and job.error == WITHDRAWN_TEXT and job.result is None
    assert "teacher" not in job.error and not job.cancelled


# ------------------------------------------------------------- allowed data folders
def test_an_idx_folder_outside_the_allowed_roots_gets_the_same_message_whether_it_exists_or_not(tmp_path):
    roots = (tmp_path / "data",)
    messages = []
    for folder in ("/etc", "/nonexistent", str(tmp_path), f"{tmp_path}/data/../secret"):
        with pytest.raises(ValueError) as refused:
            check_data_allowed(f"idx:{folder}", roots)
        messages.append(str(refused.value).replace(folder, "FOLDER"))
    assert len(set(messages)) == 1, messages
    assert "not allowed" in messages[0] and "exist" not in messages[0] and "missing" not in messages[0]
    check_data_allowed(f"idx:{tmp_path}/data/fashion", roots)  # under a root: allowed, existing or not
    check_data_allowed("idx:/etc", None)  # the command line: any folder
    check_data_allowed("mnist", roots)


def test_the_app_allows_the_projects_data_folder_and_the_folders_the_operator_adds(tmp_path):
    limits = Limits.from_env({"MLP_LAB_DATA_ROOTS": f"{tmp_path}/a:{tmp_path}/b"})
    assert limits.data_roots == (PROJECT_DATA_DIR, tmp_path / "a", tmp_path / "b")
    for folder in (PROJECT_DATA_DIR / "digits", tmp_path / "b" / "x"):
        limits.check(ExperimentSpec(data=f"idx:{folder}"))
    with pytest.raises(LimitExceeded, match="not allowed"):
        limits.check(ExperimentSpec(data=f"idx:{tmp_path}/c"))


# ------------------------------------------------------------- the time limit, on a real training
def test_a_training_that_reaches_the_time_limit_stops_and_is_stored_as_stopped(tmp_path):
    from lab.runs.in_process import InProcessExecutor

    spec = ExperimentSpec(hidden=(8,), epochs=20, batch_size=64, train_subset=500)
    jobs = JobManager(RunStore(tmp_path), InProcessExecutor(), Limits(max_train_seconds=0.001))
    job = jobs.submit(spec, "student")
    assert job.wait(180) and job.state == "done", job.error
    assert job.result.stopped and job.result.stop_reason == TIME_LIMIT
    assert job.result.epochs_run == 1  # stopped at the end of the epoch that crossed the limit
    stored = RunStore(tmp_path).get(spec)
    assert stored.stopped and stored.stop_reason == TIME_LIMIT and stored.epochs_run == 1
    assert np.isfinite(stored.test_accuracy) and stored.test_accuracy > 0.1  # what it learned is kept


def test_the_readmes_deploy_section_lists_every_limit_and_setting():
    from lab.runs.classroom import PASSPHRASE_KEY

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("## Deploy for a class", 1)[1].split("\n## ", 1)[0]
    for _, _, setting in Limits().rows():
        assert f"`{setting}`" in section, setting
    for setting in (PASSPHRASE_KEY, "MLP_LAB_RAY", "MLP_LAB_HOME", "--no-limits", "lesson="):
        assert setting in section, setting
