"""The class challenge under AppTest: the teacher opens, closes, reveals and hides from the panel; a student
with a nickname enters their runs on the Challenge page, and one over a limit is refused naming the limit."""

from __future__ import annotations

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from lab.challenge.board import ChallengeBoard
from lab.runs.classroom import PASSPHRASE_KEY
from lab.runs.jobs import JobManager
from lab.runs.store import RunStore
from lab.spec import ExperimentSpec
from tests.apptest_support import PAGES

FITS = ExperimentSpec(hidden=(16,), epochs=2, train_subset=800, optimizer="adam", activation="relu")
TOO_LONG = FITS.replace(epochs=3)


@pytest.fixture(scope="module")
def trained_home(tmp_path_factory):
    """Two small runs trained by 'owl' (a few seconds): one within the limits below, one an epoch over."""
    home = tmp_path_factory.mktemp("challenge-page")
    jobs = JobManager(RunStore(home))
    for spec in (FITS, TOO_LONG):
        job = jobs.submit(spec, session="owl-session", nickname="owl")
        assert job.wait(300) and job.state == "done", job.error
    return home


@pytest.fixture
def home(trained_home, monkeypatch):
    monkeypatch.setenv("MLP_LAB_HOME", str(trained_home))
    (trained_home / "challenges.sqlite").unlink(missing_ok=True)
    for suffix in ("-wal", "-shm"):
        (trained_home / f"challenges.sqlite{suffix}").unlink(missing_ok=True)
    st.cache_resource.clear()
    yield trained_home
    st.cache_resource.clear()


def _page(name: str, **state) -> AppTest:
    at = AppTest.from_file(str(PAGES / f"{name}.py"), default_timeout=120)
    at.secrets[PASSPHRASE_KEY] = "correct horse battery"
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, at.exception
    return at


def _text(at: AppTest) -> str:
    return "\n".join(str(e.value) for e in (*at.markdown, *at.caption, *at.info, *at.error, *at.success, *at.subheader))


def test_a_challenge_from_the_teachers_panel_to_the_leaderboard(home):
    page = _page("challenge", nickname="owl")
    assert "No challenge yet" in _text(page)

    panel = _page("teacher", teacher_unlocked=True)
    panel.text_input(key="challenge_title").input("Best small net")
    panel.number_input(key="challenge_max_epochs").set_value(2)
    panel.button(key="FormSubmitter:challenge_open-Open the challenge").click().run()
    assert not panel.exception, panel.exception
    challenge = ChallengeBoard(home).latest()
    assert challenge.title == "Best small net" and challenge.max_epochs == 2 and challenge.max_params == 100_000
    assert "open until" in _text(panel)

    page.run()
    assert "Best small net" in _text(page) and "at most 100,000 parameters and 2 epochs" in _text(page)
    page.selectbox(key="challenge_entry").set_value(TOO_LONG.run_id)
    page.button(key="challenge_submit").click().run()
    assert any("more than the challenge's limit of 2 epochs" in e.value for e in page.error)
    page.selectbox(key="challenge_entry").set_value(FITS.run_id)
    page.button(key="challenge_submit").click().run()
    assert not page.exception, page.exception
    assert any("Entered: public score" in s.value for s in page.success)
    board = page.table[0].value.to_dict("records")
    assert [(r["Rank"], r["Nickname"]) for r in board] == [(1, "owl")] and "Private score" not in board[0]
    assert page.get("vega_lite_chart"), "no parallel-coordinates view"

    # The teacher hides the entry, shows it again, and reveals the private scores.
    panel.run()
    entry = ChallengeBoard(home).entries(challenge.challenge_id)[0]
    panel.button(key=f"challenge_hide_{entry.entry_id}").click().run()
    assert ChallengeBoard(home).entries(challenge.challenge_id) == []
    page.run()
    assert not page.table and "No entries yet" in _text(page)
    panel.button(key=f"challenge_hide_{entry.entry_id}").click().run()
    panel.button(key="challenge_reveal").click().run()
    assert ChallengeBoard(home).latest().revealed
    page.run()
    board = page.table[0].value.to_dict("records")
    assert board[0]["Private score"] == f"{entry.private * 100:.1f}%" and board[0]["Public rank"] == 1
    assert not [b for b in page.button if b.key == "challenge_submit"]  # it takes no more entries


def test_a_student_without_a_nickname_is_sent_to_the_sidebar_and_markup_is_refused_there(home):
    ChallengeBoard(home).open("Any", "sample", 100_000, 20, ends=4e9)
    page = _page("challenge")
    assert "Pick a nickname in the sidebar" in _text(page)

    def sidebar():
        from ui.app.nickname import nickname_sidebar

        nickname_sidebar()

    at = AppTest.from_function(sidebar).run()
    at.sidebar.text_input(key="nickname_sidebar").input("<b>x</b>").run()
    assert any("letters, digits" in e.value for e in at.sidebar.error) and "nickname" not in at.session_state
    at.sidebar.text_input(key="nickname_sidebar").input(" owl ").run()
    assert at.session_state["nickname"] == "owl" and "Your nickname: **owl**" in at.sidebar.caption[0].value
    assert not at.sidebar.text_input  # picked once per session

    page = _page("challenge", nickname="owl")
    assert page.selectbox(key="challenge_entry").options  # owl's runs are offered
