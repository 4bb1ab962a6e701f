"""The teacher's panel under AppTest: locked without the passphrase (a link cannot open it), and with it,
every session's trainings listed and a running one of another session cancelled."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from lab.nn.observer import SILENT
from lab.nn.result import STOP_PRESSED, EpochReport, RunResult
from lab.runs.classroom import PASSPHRASE_KEY
from lab.spec import ExperimentSpec

PAGE = str(Path(__file__).resolve().parents[1] / "pages" / "teacher.py")
PASSPHRASE = "correct horse battery"
STUDENT_SPEC = ExperimentSpec(hidden=(77,), epochs=9, seed=4)


class TrainsUntilStopped:
    """A stand-in engine: the training starts at once and runs until a Stop (or the teacher's Cancel)."""

    engine, notice, workers = "stand-in", "", 1

    def __init__(self) -> None:
        self.stopped = threading.Event()

    def train_and_save(self, checked, store, observer=SILENT, *, time_limit=None):
        spec = checked.spec
        observer.on_start()
        observer.on_progress(EpochReport(2, spec.epochs, {}, {}, 1.0, 3.0, 2.0, {}))
        while not observer.should_stop():
            threading.Event().wait(0.02)
        self.stopped.set()
        return RunResult(spec, {"loss": [1.0]}, 0.5, 0.5, np.zeros((10, 10), dtype=int),
                         np.zeros((4, 10), dtype=np.float32), 3, None, 0.1, False, True, 1,
                         stop_reason=STOP_PRESSED)  # fmt: skip

    def status(self):
        raise NotImplementedError


@pytest.fixture
def server(store_home, monkeypatch):
    """The server's shared jobs, on a stand-in engine, with a student's training running."""
    st.cache_resource.clear()
    from ui.app.state import get_jobs

    jobs = get_jobs()
    jobs.executor = TrainsUntilStopped()
    job = jobs.submit(STUDENT_SPEC, "another-students-session")
    yield jobs, job
    job.request_stop()
    st.cache_resource.clear()


def open_panel(secret: str | None = PASSPHRASE, **query: str) -> AppTest:
    """The panel, on a server whose secrets hold ``secret`` (None: no passphrase), opened with URL ``query``."""
    at = AppTest.from_file(PAGE, default_timeout=60)
    if secret is not None:
        at.secrets[PASSPHRASE_KEY] = secret
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, at.exception
    return at


def shown(at: AppTest) -> str:
    parts = [e.value for e in (*at.markdown, *at.subheader, *at.caption, *at.error, *at.warning)]
    return "\n".join(str(p) for p in parts)


def assert_locked(at: AppTest) -> None:
    text = shown(at)
    assert "Trainings on this server" not in text and STUDENT_SPEC.summary() not in text
    assert not [b for b in at.button if b.label in ("Cancel", "Delete", "Pretrain")]


@pytest.mark.parametrize(
    "query", [{}, {"teacher_unlocked": "true"}, {"unlocked": "1", PASSPHRASE_KEY: PASSPHRASE}, {"passphrase": "x"}]
)
def test_the_panel_is_unreachable_without_the_passphrase_also_by_url(server, query):
    at = open_panel(**query)
    assert_locked(at)
    assert at.text_input(key="teacher_passphrase").value == ""


def test_a_server_without_a_passphrase_keeps_the_panel_locked_and_says_how_to_set_one(server):
    at = open_panel(secret=None)
    assert_locked(at)
    assert any("No passphrase is set" in w.value and "secrets.toml" in w.value for w in at.warning)


def test_a_wrong_passphrase_unlocks_nothing(server):
    at = open_panel()
    at.text_input(key="teacher_passphrase").input("correct horse battery!")
    at.button[0].click().run()
    assert any("not the passphrase" in e.value for e in at.error)
    assert_locked(at)


@pytest.mark.slow
def test_with_the_passphrase_the_teacher_sees_and_cancels_another_sessions_running_training(server):
    jobs, job = server
    assert job.state == "running"
    at = open_panel()
    at.text_input(key="teacher_passphrase").input(PASSPHRASE)
    at.button[0].click().run()
    assert not at.exception, at.exception
    text = shown(at)
    assert "Trainings on this server" in text and STUDENT_SPEC.summary() in text
    assert "running: epoch 3/9" in text
    assert "another-students-session" not in text  # listed by what it trains, never by who asked
    assert PASSPHRASE not in text and PASSPHRASE not in str(dict(at.query_params))
    assert any("MLP_LAB_MAX_EPOCHS" in str(t.value) for t in at.table)  # the limits as they stand
    at.button(key=f"cancel-{job.run_id}").click().run()
    assert job.wait(10) and jobs.executor.stopped.is_set()
    assert job.cancelled and job.result.stopped
    assert STUDENT_SPEC.summary() not in shown(at.run())


def unlock(at: AppTest) -> AppTest:
    at.text_input(key="teacher_passphrase").input(PASSPHRASE)
    at.button[0].click().run()
    assert not at.exception, at.exception
    return at


@pytest.mark.slow
def test_the_teacher_deletes_a_run_only_after_confirming(server, store_home):
    from lab.runs.store import RunStore

    spec = ExperimentSpec(hidden=(5,), epochs=1)
    RunStore(store_home).save(
        RunResult(
            spec,
            {"loss": [1.0]},
            0.5,
            0.5,
            np.zeros((10, 10), dtype=int),
            np.zeros((4, 10), dtype=np.float32),
            1,
            None,
            0.1,
            False,
            False,
            1,
        )  # fmt: skip
    )
    at = unlock(open_panel())
    at.multiselect(key="teacher_delete_runs").set_value([spec.run_id]).run()
    assert at.button(key="teacher_delete").disabled  # not before the confirmation
    at.checkbox(key="teacher_delete_sure").check().run()
    at.button(key="teacher_delete").click().run()
    assert not at.exception, at.exception
    assert RunStore(store_home).get(spec) is None


# ------------------------------------------------------ wrong passphrases, from any session
def test_wrong_tries_from_other_sessions_count_too_and_the_panel_says_how_long_to_wait(server):
    from lab.runs.classroom import MAX_WRONG_TRIES
    from ui.app.teacher_access import passphrase_guard

    guard = passphrase_guard()  # the server's one guard, as every session's page gets it
    for _ in range(MAX_WRONG_TRIES):  # other sessions (other tabs, a script) guessing
        assert not guard.try_unlock("guess", PASSPHRASE).unlocked
    at = open_panel()
    at.text_input(key="teacher_passphrase").input(PASSPHRASE)  # even the right one waits now
    at.button[0].click().run()
    errors = [e.value for e in at.error]
    assert any("Too many wrong passphrases" in e and re.search(r"wait \d+ s", e) for e in errors), errors
    assert_locked(at)


# ------------------------------------------------------ broken runs, the store's use of the disk
def _result(spec: ExperimentSpec) -> RunResult:
    return RunResult(spec, {"loss": [1.0]}, 0.5, 0.5, np.zeros((10, 10), dtype=int),
                     np.zeros((4, 10), dtype=np.float32), 1, None, 0.1, False, False, 1)  # fmt: skip


def _stored(home: Path, spec: ExperimentSpec) -> None:
    from lab.runs.store import RunStore

    RunStore(home).save(_result(spec))


@pytest.mark.slow
def test_the_teacher_sees_a_broken_run_and_deletes_it_after_confirming(server, store_home):
    from lab.runs.store import RunStore

    good, broken = ExperimentSpec(hidden=(5,), epochs=1), ExperimentSpec(hidden=(6,), epochs=1)
    _stored(store_home, good)
    _stored(store_home, broken)
    result = store_home / broken.run_id / "result.json"
    result.write_text(json.dumps(json.loads(result.read_text()) | {"metrics": None}))  # as tests/test_store_poison.py
    at = unlock(open_panel())
    warnings = " ".join(w.value for w in at.warning)
    assert "1 run folder(s) cannot be read" in warnings and broken.run_id in warnings, warnings
    runs = at.multiselect(key="teacher_delete_runs")
    assert any(broken.run_id in option and "cannot be read" in option for option in runs.options), runs.options
    runs.set_value([broken.run_id]).run()
    assert at.button(key="teacher_delete").disabled  # the same confirmation as any run
    at.checkbox(key="teacher_delete_sure").check().run()
    at.button(key="teacher_delete").click().run()
    assert not at.exception, at.exception
    assert RunStore(store_home).broken() == [] and [i.run_id for i in RunStore(store_home).list()] == [good.run_id]


@pytest.mark.slow
def test_the_panel_shows_the_stores_use_against_its_budget(server, store_home):
    jobs, _ = server
    jobs.store.save(_result(ExperimentSpec(hidden=(5,), epochs=1)))  # the server's store: its count is renewed
    at = unlock(open_panel())
    bars = [bar.proto.text for bar in at.get("progress")]
    assert any(re.search(r"1 runs, [\d.]+ MB of the 2,000 MB budget", text) for text in bars), bars
    assert any("MLP_LAB_STORE_MB" in str(t.value) for t in at.table)


def test_the_teacher_sees_a_students_tune_search_and_cancels_it(server):
    from tests.test_class_server import _Search

    jobs, _ = server
    search = jobs.admit("search", "Tune search: 8 trials of up to 5 epochs", "address:10.0.0.7", _Search)
    at = unlock(open_panel())
    assert "Tune search: 8 trials of up to 5 epochs" in shown(at) and "10.0.0.7" not in shown(at)
    at.button(key=f"cancel-search-{search.key}").click().run()
    assert not at.exception, at.exception
    assert search.job.stop_requested and jobs.listed() == []
    assert "Tune search" not in shown(at.run())


def test_a_valid_token_from_this_browser_unlocks_and_a_forged_or_stale_one_does_not(server, monkeypatch):
    from lab.runs.teacher_token import make_token
    from ui.app import teacher_access

    for token, opens in [
        (make_token(PASSPHRASE), True),
        (make_token("another passphrase"), False),
        (make_token(PASSPHRASE, now=0.0), False),  # expired long ago
        (None, False),
    ]:
        monkeypatch.setattr(teacher_access, "browser_token", lambda token=token: token)
        at = open_panel()
        assert ("Trainings on this server" in shown(at)) is opens, token


@pytest.mark.slow
def test_unlocking_asks_the_browser_to_keep_a_token_never_the_passphrase(server):
    at = unlock(open_panel())
    cookies = [c for c in at.get("bidi_component")]
    assert cookies, "the cookie writer was not mounted after the unlock"
    text = str(cookies[0].proto)
    assert "mlp_lab_teacher" in text and PASSPHRASE not in text
