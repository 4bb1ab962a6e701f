"""The teacher's side in lab: the passphrase check, the panel's rows, a series pretrained one run at a time."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest

from lab.architecture import check_network
from lab.nn.observer import SILENT
from lab.nn.result import RunResult
from lab.runs.classroom import job_rows, passphrase_matches, passphrase_problem, pretrain_in_background
from lab.runs.jobs import JobManager
from lab.runs.store import RunStore
from lab.spec import ExperimentSpec


def test_only_the_servers_passphrase_unlocks_and_never_an_empty_or_short_one():
    assert passphrase_matches("correct horse battery", "correct horse battery")
    assert not passphrase_matches("correct horse batter", "correct horse battery")
    assert not passphrase_matches("", "") and "No passphrase is set" in passphrase_problem("")
    assert not passphrase_matches("short", "short") and "too short" in passphrase_problem("short")


class Counting:
    """Trains nothing; records how many trainings ran at once."""

    engine, notice, workers = "stand-in", "", 4

    def __init__(self) -> None:
        self.running = self.most = 0
        self.lock = threading.Lock()
        self.trained: list[ExperimentSpec] = []

    def train_and_save(self, checked, store, observer=SILENT, *, time_limit=None):
        spec = checked.spec
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        observer.on_start()
        threading.Event().wait(0.05)
        result = RunResult(spec, {"loss": [1.0]}, 0.5, 0.5, np.zeros((10, 10), dtype=int),
                           np.zeros((4, 10), dtype=np.float32), 1, None, 0.1, False, False, 1)  # fmt: skip
        store.save(result)
        with self.lock:
            self.running -= 1
            self.trained.append(spec)
        return result


def test_a_series_is_pretrained_one_run_after_another_skipping_stored_ones_and_refused_ones(tmp_path):
    store = RunStore(tmp_path)
    executor = Counting()
    jobs = JobManager(store, executor)
    specs = [ExperimentSpec(hidden=(8,), seed=s) for s in range(4)] + [ExperimentSpec(epochs=500)]
    executor.train_and_save(check_network(specs[0]), store)  # already stored
    pretrain_in_background(jobs, specs).join(30)
    assert executor.trained == specs[:4] and executor.most == 1
    assert all(spec in store for spec in specs[:4]) and specs[4] not in store


def test_the_panels_rows_name_the_setup_and_the_state_never_the_session(tmp_path):
    jobs = JobManager(RunStore(tmp_path), Counting())
    job = jobs.submit(ExperimentSpec(hidden=(8,)), "someones-session")
    job.wait(10)
    (row,) = job_rows([job], now=job.submitted + 65)
    assert row.setup == job.spec.summary() and row.waited == "1 min 05 s"
    assert "someones-session" not in repr(row)


# ------------------------------------------------------- the server-wide limit on wrong passphrases
class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_wrong_passphrases_are_limited_for_the_whole_server_and_the_limit_lifts_with_time():
    from lab.runs.classroom import PassphraseGuard

    clock = Clock()
    guard = PassphraseGuard(max_wrong=3, window=60.0, clock=clock)
    right = "correct horse battery"
    for _ in range(3):  # from any sessions: the guard is one object for the server
        attempt = guard.try_unlock("guess", right)
        assert not attempt.unlocked and attempt.wait_seconds == 0
        assert "not the passphrase" in attempt.message()
        clock.now += 1
    refused = guard.try_unlock(right, right)  # even the right one is not compared now
    assert not refused.unlocked and refused.wait_seconds == pytest.approx(57.0)
    assert "Too many wrong passphrases" in refused.message() and "wait 57 s" in refused.message()
    clock.now += 57.0  # the first wrong try is a minute old
    assert guard.wait_seconds() == 0
    assert guard.try_unlock(right, right).unlocked
    assert guard.try_unlock(right, right).unlocked  # right tries never count


def test_two_threads_cannot_both_slip_under_the_limit():
    from lab.runs.classroom import PassphraseGuard

    guard = PassphraseGuard(max_wrong=5, window=60.0)
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(guard.try_unlock("guess", "correct horse battery")))
        for _ in range(40)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(1 for r in results if r.wait_seconds == 0) == 5  # compared: exactly the limit


# ---------------------------------------------------------------- the passphrase stays in the server
def test_the_passphrase_is_taken_out_of_an_environment():
    from lab.runs.private_env import PASSPHRASE_KEY, forget_private_env

    env = {PASSPHRASE_KEY: "correct horse battery", "OTHER_SECRET": "s3cret", "PATH": "/bin"}
    assert forget_private_env(["OTHER_SECRET"], env) == [PASSPHRASE_KEY, "OTHER_SECRET"]
    assert env == {"PATH": "/bin"}


def test_ray_starts_without_the_passphrase_in_its_environment(monkeypatch):
    pytest.importorskip("ray")
    from lab.runs import ray_executor
    from lab.runs.private_env import PASSPHRASE_KEY

    seen = {}
    monkeypatch.setenv(PASSPHRASE_KEY, "correct horse battery")
    monkeypatch.setenv("PYTHONPATH", os.environ.get("PYTHONPATH", ""))  # start_ray adds the project to it
    monkeypatch.setattr(ray_executor.ray, "init", lambda *a, **k: seen.update(os.environ))
    ray_executor.start_ray("local", num_cpus=1)
    assert seen and PASSPHRASE_KEY not in seen  # what the workers inherit
