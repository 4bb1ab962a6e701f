"""After a training ends, each page shows its final state and says what really happened (AppTest).

Following a job ends in a rerun of the page (``ui.app.jobs.follow``): no Stop button,
progress heading or "not trained yet" of the time before or during training may
survive it, and the results say they were trained just now, not read from the store.
"""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from lab.runs.store import RunStore
from tests import apptest_support

TINY_TRAIN = {"hidden": "16", "epochs": "2", "batch_size": "64"}  # a few seconds on the offline sample
TINY_CNN = {"conv": "4x3s2", "hidden": "16", "epochs": "1", "batch_size": "64", "train_subset": "1000"}
# What the job areas say before or during a training (a table may well say "not trained yet" of other runs).
STALE = (
    "not trained yet: press train",
    "there is no trained model yet",
    "stop training",
    "cancel the rest of the series",
    "training now:",
)


def everything(at: AppTest) -> str:
    """Every text and button label on the page, lower case."""
    parts = [e.value for e in (*at.error, *at.warning, *at.info, *at.success, *at.caption, *at.markdown)]
    parts += [b.label for b in at.button]
    return "\n".join(str(p) for p in parts).lower()


def assert_final(at: AppTest) -> None:
    """No exception, and nothing left of the time before or during training."""
    assert not at.exception, at.exception
    text = everything(at)
    assert not [s for s in STALE if s in text], [s for s in STALE if s in text]
    assert not [b for b in at.button if b.key and b.key.startswith("stop-")]


@pytest.mark.slow
def test_train_page_says_trained_just_now_then_read_from_the_store_in_a_new_session(tmp_path, monkeypatch):
    home = tmp_path / "runs"
    at = apptest_support.open_page("train", home, monkeypatch, **TINY_TRAIN)
    assert "not trained yet: press train" in everything(at)
    at.button(key="train_button").click().run()
    assert_final(at)
    text = everything(at)
    assert "trained just now in" in text and "read from the run store" not in text
    at.toggle(key="log_loss").set_value(True).run()  # any click reruns the page: still the same story
    assert "trained just now in" in everything(at)

    again = apptest_support.open_page("train", home, monkeypatch, **TINY_TRAIN)  # a new session, same server
    assert_final(again)
    assert "read from the run store" in everything(again) and "trained just now" not in everything(again)


@pytest.mark.slow
def test_draw_page_opens_on_the_canvas_once_the_starter_model_is_trained(tmp_path, monkeypatch):
    at = apptest_support.open_page("draw", tmp_path / "runs", monkeypatch)
    at.button(key="draw_train_starter").click().run()
    assert_final(at)
    assert not [b for b in at.button if b.key == "draw_train_starter"]
    assert any("starter model trained just now" in s.value.lower() for s in at.success)
    assert at.get("bidi_component")  # the canvas


@pytest.mark.slow
def test_cnn_page_shows_the_trained_run_beside_its_button(tmp_path, monkeypatch):
    at = apptest_support.open_page("cnn", tmp_path / "runs", monkeypatch, **TINY_CNN)
    assert "not trained yet: press train" in everything(at)
    at.button(key="cnn_train").click().run()
    assert_final(at)
    assert "trained just now in" in everything(at)
    assert any(m.label == "Test accuracy" for m in at.metric)


@pytest.mark.slow
def test_a_techniques_series_ends_with_its_table_filled_and_no_progress_left(tmp_path, monkeypatch):
    home = tmp_path / "runs"
    at = apptest_support.open_page("techniques", home, monkeypatch)
    at.selectbox(key="tech_data_source").set_value("sample")
    at.selectbox(key="tech_series").set_value("D")
    at.toggle(key="tech_quick").set_value(True)
    at.run()
    at.number_input(key="tech_cap").set_value(1).run()
    at.button(key="tech_run_series").click().run()
    assert_final(at)
    assert not at.button(key="tech_run_series").disabled
    assert any("series d done: 6 runs trained just now" in m.value.lower() for m in at.success)
    assert len(RunStore(home).list()) == 6
    table = at.table[0].value if at.table else at.dataframe[0].value
    assert not table.isin(["not run yet", "not trained yet"]).any().any(), table
