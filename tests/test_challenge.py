"""The class challenge: held-out digits, scores, limits, the board in SQLite, nicknames and credits."""

from __future__ import annotations

import numpy as np
import pytest

from lab.architecture import check_network
from lab.challenge.board import ChallengeBoard, EntryRefused
from lab.challenge.rules import Challenge, check_entry
from lab.challenge.scoring import score_probs, score_run
from lab.data.held_out import has_held_out, load_held_out
from lab.data.prepare import prepare
from lab.data.sources import load_complete_source, load_source
from lab.runs.credits import check_nickname, credit
from lab.runs.jobs import JobManager
from lab.runs.store import RunStore
from lab.runs.training import train_and_save
from lab.spec import ExperimentSpec

SMALL = ExperimentSpec(hidden=(16,), epochs=2, train_subset=1000, activation="relu", optimizer="adam")
NOW = 1_000_000.0


def _challenge(**changes) -> Challenge:
    values = dict(challenge_id=1, title="Best small net", data="sample", max_params=100_000, max_epochs=20,
                  ends=NOW + 3600, opened=NOW)  # fmt: skip
    return Challenge(**{**values, **changes})


# ------------------------------------------------------------- held-out digits
def _rows(x: np.ndarray) -> set[bytes]:
    return {row.tobytes() for row in x}


def test_held_out_digits_are_the_test_digits_no_page_sees_split_into_disjoint_halves():
    held, shown, complete = load_held_out("sample"), load_source("sample"), load_complete_source("sample")
    assert held.sizes == (250, 250) and shown.sizes == (4000, 500)
    # Every held-out digit is one of the complete test set's, and none is shown, trained on, or validated on.
    held_rows = _rows(held.x)
    assert len(held_rows) == 500 and held_rows <= _rows(complete.x_test)
    assert not held_rows & _rows(shown.x_test) and not held_rows & _rows(shown.x_train)
    assert not held_rows & _rows(np.round(prepare(ExperimentSpec(val_split=0.2)).x_val * 255).astype(np.uint8))
    # The two halves: disjoint, together all of it, stratified (25 of each digit in each).
    assert not _rows(held.x[held.public]) & _rows(held.x[~held.public])
    assert np.bincount(held.y[held.public]).tolist() == [25] * 10
    assert np.bincount(held.y[~held.public]).tolist() == [25] * 10
    # Read-only: nothing that scores can change them.
    with pytest.raises(ValueError):
        held.x[0, 0] = 1


def test_held_out_split_is_deterministic():
    first = load_held_out("sample")
    load_held_out.cache_clear()
    again = load_held_out("sample")
    assert first is not again
    assert np.array_equal(first.x, again.x) and np.array_equal(first.public, again.public)


def test_only_the_sample_and_mnist_hold_digits_out():
    assert has_held_out("sample") and has_held_out("mnist") and not has_held_out("fashion")
    with pytest.raises(ValueError, match="holds no digits out"):
        load_held_out("fashion")


def test_scores_count_each_half_apart():
    labels = np.array([0, 1, 2, 3])
    public = np.array([True, True, False, False])
    probs = np.eye(10)[[0, 9, 2, 3]]  # wrong on one public digit
    scores = score_probs(probs, labels, public)
    assert scores.public == 0.5 and scores.private == 1.0


# ------------------------------------------------------------- rules
@pytest.mark.parametrize(
    "changes, params, match",
    [
        ({"epochs": 30}, 1_000, "more than the challenge's limit of 20 epochs"),
        ({}, 150_000, "150,000 parameters, more than the challenge's limit of 100,000 parameters"),
        ({"data": "fashion"}, 1_000, "trained on 'fashion'; the challenge is on 'sample'"),
    ],
)
def test_a_run_over_a_limit_is_refused_naming_the_limit(changes, params, match):
    with pytest.raises(EntryRefused, match=match):
        check_entry(_challenge(), SMALL.replace(**changes), params, diverged=False, nickname="owl", trained_by="owl",
                    now=NOW)  # fmt: skip


def test_entries_need_a_nickname_ones_own_run_and_an_open_challenge():
    def entry(challenge=_challenge(), nickname="owl", trained="owl", now=NOW):
        check_entry(challenge, SMALL, 1_000, diverged=False, nickname=nickname, trained_by=trained, now=now)

    entry()  # fits: no error
    with pytest.raises(EntryRefused, match="nickname"):
        entry(nickname="")
    with pytest.raises(EntryRefused, match="trained by 'fox'"):
        entry(trained="fox")
    with pytest.raises(EntryRefused, match="has ended"):
        entry(now=NOW + 7200)
    with pytest.raises(EntryRefused, match="is closed"):
        entry(challenge=_challenge(closed=True))


# ------------------------------------------------------------- nicknames and credits
@pytest.mark.parametrize("given, expected", [("  owl  7 ", "owl 7"), ("Zoë_x.1-b", "Zoë_x.1-b")])
def test_a_nickname_is_short_and_plain(given, expected):
    assert check_nickname(given) == expected


@pytest.mark.parametrize("bad", ["", "   ", "<b>me</b>", "a" * 21, "me\x07", "[x](http://e.x)"])
def test_markup_and_long_nicknames_are_refused(bad):
    with pytest.raises(ValueError):
        check_nickname(bad)


def test_the_first_nickname_to_train_a_run_keeps_it(trained):
    # ``trained``'s run is owl's (its job credited it): fox cannot take it, and owl's credit survives reopening.
    assert not credit(trained, SMALL.run_id, "fox")
    assert credit(trained, SMALL.run_id, "owl")
    assert RunStore(trained.home).info(SMALL.run_id).trained_by == "owl"
    with pytest.raises(ValueError, match="letters, digits"):
        credit(trained, SMALL.run_id, "<i>owl</i>")


# ------------------------------------------------------------- the board, with a real run
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One small run trained and stored (about 5 s), credited to 'owl' through a job, as the pages train."""
    home = tmp_path_factory.mktemp("challenge-runs")
    store = RunStore(home)
    jobs = JobManager(store)
    job = jobs.submit(SMALL, session="s1", nickname="owl")
    assert job.wait(300) and job.state == "done", job.error
    return store


def test_a_job_credits_its_sessions_nickname(trained):
    assert [(info.run_id, info.trained_by) for info in trained.list()] == [(SMALL.run_id, "owl")]


def test_scores_are_the_runs_accuracy_on_each_half_and_deterministic(trained):
    result = trained.get(SMALL)
    held = load_held_out("sample")
    scores = score_run(result)
    again = score_run(trained.get(SMALL))
    assert scores == again
    # Digits like the shown test set's: scores near the run's test accuracy (250 digits each: within 10 points).
    assert abs(scores.public - result.test_accuracy) < 0.1 and abs(scores.private - result.test_accuracy) < 0.1
    # By hand, from the model's own answers on the held-out digits.
    probs = np.asarray(result.model(held.x.astype(np.float32) / 255, training=False))
    right = probs.argmax(axis=1) == held.y
    assert scores.public == pytest.approx(right[held.public].mean())
    assert scores.private == pytest.approx(right[~held.public].mean())


def test_entries_are_scored_kept_across_reopening_hidden_and_closed(trained, tmp_path):
    board = ChallengeBoard(tmp_path)
    assert board.latest() is None and not (tmp_path / "challenges.sqlite").exists()  # reading writes nothing
    challenge = board.open("Best small net", "sample", 100_000, 20, ends=NOW + 3600, now=NOW)
    entry = board.submit(challenge, trained.get(SMALL), "owl", trained.info(SMALL.run_id).trained_by, now=NOW + 1)
    assert entry.nickname == "owl" and entry.spec == SMALL and entry.params == trained.get(SMALL).params
    with pytest.raises(EntryRefused, match="already entered"):
        board.submit(challenge, trained.get(SMALL), "owl", "owl", now=NOW + 2)

    reopened = ChallengeBoard(tmp_path)  # a server restart
    assert reopened.latest() == challenge
    assert reopened.entries(challenge.challenge_id) == [entry]

    reopened.hide(entry.entry_id)
    assert board.entries(challenge.challenge_id) == []
    assert [e.hidden for e in board.entries(challenge.challenge_id, include_hidden=True)] == [True]
    reopened.hide(entry.entry_id, hidden=False)

    board.close(challenge.challenge_id)
    assert ChallengeBoard(tmp_path).latest().closed
    with pytest.raises(EntryRefused, match="is closed"):
        board.submit(challenge, trained.get(SMALL), "owl", "owl", now=NOW + 3)  # the board's state, not the caller's
    board.reveal(challenge.challenge_id)
    assert ChallengeBoard(tmp_path).latest().revealed


def test_opening_a_challenge_closes_the_one_before_and_checks_its_settings(tmp_path):
    board = ChallengeBoard(tmp_path)
    first = board.open("One", "sample", 100_000, 20, ends=NOW + 60, now=NOW)
    second = board.open("Two", "sample", 50_000, 10, ends=NOW + 60, now=NOW)
    assert board.get(first.challenge_id).closed and not second.closed and board.latest() == second
    with pytest.raises(ValueError, match="already passed"):
        board.open("Late", "sample", 1, 1, ends=NOW - 1, now=NOW)
    with pytest.raises(ValueError, match="title"):
        board.open("  ", "sample", 1, 1, ends=NOW + 60, now=NOW)


def test_an_unchecked_training_path_still_credits_nobody(tmp_path):
    # Trained without a job (the command line, the teacher's pretraining): no nickname, no credit.
    store = RunStore(tmp_path)
    train_and_save(check_network(SMALL.replace(seed=1)), store)
    assert [info.trained_by for info in store.list()] == [""]


def test_the_runs_of_a_series_a_student_asked_for_are_credited_to_their_nickname(tmp_path):
    # The Techniques and Gradients pages train through the scheduler: its runs are the student's too.
    from lab.runs.scheduler import Scheduler

    store = RunStore(tmp_path)
    specs = [SMALL.replace(seed=11), SMALL.replace(seed=12)]
    Scheduler(specs, JobManager(store), session="s2", nickname="jay").run()
    assert {info.run_id: info.trained_by for info in store.list()} == {s.run_id: "jay" for s in specs}
