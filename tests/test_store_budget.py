"""The run store's disk budget and its broken runs: a full store refuses new trainings with a message a
student can act on, the teacher sees the store's use, and runs that cannot be read are listed to be deleted."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lab.nn.result import RunResult
from lab.runs.jobs import JobManager
from lab.runs.limits import STORE_MB_ENV, LimitExceeded, Limits
from lab.runs.store import RunStore
from lab.spec import ExperimentSpec
from tests.test_limits import Recording

SPEC = ExperimentSpec(hidden=(8,), epochs=1)


def _result(spec: ExperimentSpec) -> RunResult:
    return RunResult(spec, {"loss": [1.0]}, 0.5, 0.5, np.zeros((10, 10), dtype=int),
                     np.zeros((4, 10), dtype=np.float32), 1, None, 0.1, False, False, 1)  # fmt: skip


def _saved(home: Path, *specs: ExperimentSpec) -> RunStore:
    store = RunStore(home)
    for spec in specs:
        store.save(_result(spec))
    return store


# -------------------------------------------------------------------------------- the budget
def test_the_budget_is_a_setting_like_the_other_limits():
    assert Limits().store_mb == 2000
    assert Limits.from_env({STORE_MB_ENV: "50"}).store_mb == 50
    assert Limits.from_env({}, secrets={STORE_MB_ENV: "70"}).store_mb == 70
    assert Limits.from_env({STORE_MB_ENV: "0"}).store_mb is None  # 0 lifts it
    assert Limits.unlimited().store_mb is None
    with pytest.raises(ValueError, match=STORE_MB_ENV):
        Limits.from_env({STORE_MB_ENV: "lots"})
    assert any(setting == STORE_MB_ENV for _, _, setting in Limits().rows())


def test_check_store_refuses_at_the_budget_with_what_to_do():
    Limits(store_mb=10).check_store(9_999_999)
    with pytest.raises(LimitExceeded, match=r"run store is full \(10 of 10 MB.*MLP_LAB_STORE_MB.*ask the teacher"):
        Limits(store_mb=10).check_store(10_000_000)
    Limits(store_mb=None).check_store(10**15)


def test_usage_counts_runs_and_bytes_and_is_forgotten_when_the_store_changes(tmp_path):
    store = RunStore(tmp_path / "runs")
    assert (store.usage().runs, store.usage().bytes) == (0, 0)
    store.save(_result(SPEC))
    runs = tmp_path / "runs"
    on_disk = sum(
        f.stat().st_size for f in runs.rglob("*") if f.is_file() and ".index" not in f.relative_to(runs).parts
    )
    usage = store.usage()
    assert usage.runs == 1 and usage.bytes == on_disk > 0
    (tmp_path / "runs" / SPEC.run_id / "extra.bin").write_bytes(bytes(1000))
    assert store.usage().bytes == on_disk  # kept for a few seconds: a count is not redone on every ask
    store.delete(SPEC.run_id)
    assert store.usage() == type(usage)(0, 0)  # a delete is seen at once


def test_a_full_store_refuses_a_new_training_but_a_joined_one_is_free(tmp_path):
    store = _saved(tmp_path, SPEC)
    used = store.usage().bytes
    executor = Recording()
    jobs = JobManager(store, executor, Limits(store_mb=1))
    assert used < 1e6
    job = jobs.submit(ExperimentSpec(hidden=(9,), epochs=1), "student-a")  # under the budget
    (tmp_path / SPEC.run_id / "ballast.bin").write_bytes(bytes(1_000_000))
    store._usage = None  # as after USAGE_SECONDS
    with pytest.raises(LimitExceeded, match=r"run store is full \(1 of 1 MB"):
        jobs.submit(ExperimentSpec(hidden=(10,), epochs=1), "student-b")
    assert jobs.submit(job.spec, "student-c") is job  # joining a training already going costs no disk
    executor.release.set()
    assert job.wait(10)
    assert [s.hidden for s in executor.trained] == [(9,)]


# --------------------------------------------------------------------------- broken runs
@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda run: (run / "result.json").write_text('{"metrics": null, "history": {}}'), "metrics is NoneType"),
        (lambda run: (run / "result.json").write_text("{not json"), "not valid JSON"),
        (lambda run: (run / "result.json").unlink(), "result.json is missing"),
        (lambda run: (run / "spec.json").write_text('{"epochs": 3}'), "does not match the folder name"),
    ],
)
def test_a_run_that_cannot_be_read_is_listed_as_broken_with_why_and_can_be_deleted(tmp_path, damage, reason):
    good = ExperimentSpec(hidden=(8,), epochs=1, seed=1)
    store = _saved(tmp_path, good, SPEC)
    damage(tmp_path / SPEC.run_id)
    assert [info.run_id for info in store.list()] == [good.run_id]
    [(run_id, why)] = store.broken()
    assert run_id == SPEC.run_id and reason in why, why
    assert store.delete(run_id)
    assert store.broken() == [] and [info.run_id for info in store.list()] == [good.run_id]


def test_a_stray_folder_is_broken_and_the_stores_own_folders_are_not(tmp_path):
    store = _saved(tmp_path, SPEC)
    (tmp_path / "notes").mkdir()
    (tmp_path / ".tmp-abc-1").mkdir()
    (tmp_path / "file.txt").write_text("x")
    assert store.broken() == [("notes", "spec.json is missing (a save that never finished)")]
    assert json.loads((tmp_path / SPEC.run_id / "spec.json").read_text())  # the good run is untouched
