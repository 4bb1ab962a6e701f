"""The server's limits on the Train page: a link beyond one is refused with its message, and nothing trains."""

from __future__ import annotations

import pytest

from lab.runs.store import RunStore
from tests import apptest_support


def _never_train(*args, **kwargs):
    raise AssertionError("a link beyond the server's limits must never reach the trainer")


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            {"epochs": "1000", "hidden": "1500,1500"},
            "1000 epochs is more than this server allows (200, the limit MLP_LAB_MAX_EPOCHS)",
        ),
        ({"hidden": "3000,1500"}, "than the budget this server allows (5,000,000, the limit MLP_LAB_PARAM_BUDGET)"),
    ],
)
def test_a_link_over_a_limit_shows_its_message_and_cannot_be_trained(store_home, monkeypatch, query, message):
    monkeypatch.setattr("lab.runs.training.train_and_save", _never_train)
    at = apptest_support.open_page("train", store_home, monkeypatch, **query)
    errors = [e.value for e in at.error]
    assert any(message in e for e in errors), errors
    assert at.button(key="train_button").disabled
    assert not RunStore(store_home).list()


def test_an_operators_lower_limit_holds_for_links_too(store_home, monkeypatch):
    monkeypatch.setenv("MLP_LAB_MAX_EPOCHS", "5")
    at = apptest_support.open_page("train", store_home, monkeypatch, epochs="6", hidden="16")
    assert any("6 epochs is more than this server allows (5" in e.value for e in at.error)
    assert at.button(key="train_button").disabled


def test_an_idx_folder_outside_the_allowed_roots_reads_the_same_whether_it_exists_or_not(store_home, monkeypatch):
    shown = []
    for folder in ("/etc", "/nonexistent"):
        at = apptest_support.open_page("train", store_home, monkeypatch, data=f"idx:{folder}")
        errors = [e.value.replace(folder, "FOLDER") for e in at.error]
        assert any("is not allowed on this server" in e for e in errors), errors
        assert not any("exist" in e or "missing" in e for e in errors), errors
        shown.append(errors)
    assert shown[0] == shown[1]


def test_a_run_stopped_by_the_time_limit_says_so_on_the_train_page(store_home, monkeypatch):
    from lab.runs.engines import get_or_train
    from lab.spec import ExperimentSpec

    spec = ExperimentSpec(hidden=(16,), epochs=5, batch_size=64)
    stored = get_or_train(spec, RunStore(store_home), time_limit=0.001)
    assert stored.stopped and stored.epochs_run == 1
    at = apptest_support.open_page("train", store_home, monkeypatch, hidden="16", epochs="5", batch_size="64")
    warnings = [w.value for w in at.warning]
    assert any("Stopped by the server's time limit after 1 of 5 epochs" in w for w in warnings), warnings
