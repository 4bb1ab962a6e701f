"""The Runs page under AppTest: every stored run in one table with who trained it, filters, runs compared
(curves in distinct colours and dashes, settings side by side with the differences marked), Open in Train,
and delete only for the teacher."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import streamlit as st

from lab.nn.result import RunResult
from lab.runs.classroom import PASSPHRASE_KEY
from lab.runs.credits import credit
from lab.runs.store import RunStore
from lab.spec import ConvBlock, ExperimentSpec
from tests.apptest_support import open_page

MLP = ExperimentSpec(hidden=(32,), epochs=2, dropout=0.2)
CNN = ExperimentSpec(conv=(ConvBlock(8, 3),), hidden=(16,), epochs=2)
TEACHERS = ExperimentSpec(hidden=(64,), epochs=2, optimizer="adam")


def _stored(spec: ExperimentSpec, accuracy: float, created: float) -> RunResult:
    return RunResult(
        spec=spec,
        history={
            "accuracy": [0.5, accuracy],
            "val_accuracy": [0.4, accuracy - 0.05],
            "loss": [1.0, 0.5],
            "val_loss": [1.1, 0.6],
        },  # fmt: skip
        test_loss=0.5,
        test_accuracy=accuracy,
        confusion=np.zeros((10, 10), np.int64),
        test_probs=np.zeros((4, 10), np.float32),
        epochs_run=2,
        best_epoch=None,
        train_seconds=1.0,
        diverged=False,
        stopped=False,
        params=1234,
        created=created,
    )


@pytest.fixture
def class_store(store_home):
    store = RunStore(store_home)
    now = time.time()
    store.save(_stored(MLP, 0.91, now - 60))
    store.save(_stored(CNN, 0.95, now - 30))
    store.save(_stored(TEACHERS, 0.93, now - 10 * 86_400))  # last week, by the teacher (no nickname)
    credit(store, MLP.run_id, "owl")
    credit(store, CNN.run_id, "fox")
    return store


def _table(at) -> list[dict]:
    return at.dataframe[0].value.to_dict("records")


def test_every_run_is_listed_with_who_trained_it_and_the_filters_narrow_it(class_store, store_home, monkeypatch):
    at = open_page("runs", store_home, monkeypatch)
    rows = _table(at)
    assert [r["Run"] for r in rows] == [CNN.run_id, MLP.run_id, TEACHERS.run_id]  # newest first
    assert [r["Trained by"] for r in rows] == ["fox", "owl", "—"]
    assert [r["Network"] for r in rows] == ["CNN", "MLP", "MLP"]
    assert rows[0]["Test accuracy"] == pytest.approx(95.0)

    assert at.multiselect(key="runs_who").options == ["—", "fox", "owl"]  # what the store holds
    assert at.multiselect(key="runs_preset").options == ["own setup"]  # no course preset among them
    at.multiselect(key="runs_who").set_value(["owl"]).run()
    assert [r["Run"] for r in _table(at)] == [MLP.run_id]
    at.multiselect(key="runs_who").set_value(["owl", "—"]).run()
    assert [r["Run"] for r in _table(at)] == [MLP.run_id, TEACHERS.run_id]  # "—": nobody's runs
    at.multiselect(key="runs_who").set_value([]).run()
    at.multiselect(key="runs_network").set_value(["CNN"]).run()
    assert [r["Run"] for r in _table(at)] == [CNN.run_id]
    at.multiselect(key="runs_network").set_value([]).run()
    at.selectbox(key="runs_period").set_value("Today").run()
    assert {r["Run"] for r in _table(at)} == {CNN.run_id, MLP.run_id}  # the teacher's run is a week old
    assert not at.exception


def test_runs_compared_are_overlaid_in_distinct_colours_and_dashes_with_their_settings_side_by_side(
    class_store, store_home, monkeypatch
):
    at = open_page("runs", store_home, monkeypatch)
    assert not at.get("vega_lite_chart")  # nothing compared yet
    at.multiselect(key="runs_compare").set_value([MLP.run_id, TEACHERS.run_id]).run()
    assert not at.exception, at.exception
    spec = json.loads(at.get("vega_lite_chart")[0].proto.spec)
    line = spec["layer"][0]["encoding"]
    colors, dashes = line["color"]["scale"]["range"], line["strokeDash"]["scale"]["range"]
    assert len(set(colors)) == 2 and len(set(map(tuple, dashes))) == 2
    assert line["color"]["scale"]["domain"] == ["owl · MLP · " + MLP.run_id[:6], "— · MLP · " + TEACHERS.run_id[:6]]

    settings = at.dataframe[1].value.to_dict("records")
    by_setting = {r["Setting"]: list(r.values())[1:] for r in settings}
    assert by_setting["≠ Hidden layers"] == ["32", "64"]
    assert by_setting["≠ Dropout rate"] == ["0.2", "0"]
    assert by_setting["Epochs"] == ["2", "2"]  # shared: not marked
    links = [e for e in at.markdown if "Open in Train" in e.value] or at.get("page_link")
    assert len(links) == 2


def test_delete_is_the_teachers_only(class_store, store_home, monkeypatch):
    at = open_page("runs", store_home, monkeypatch)
    at.multiselect(key="runs_compare").set_value([MLP.run_id]).run()
    assert not [b for b in at.button if b.key == "runs_delete"]  # a student sees no delete

    st.cache_resource.clear()
    from streamlit.testing.v1 import AppTest

    from tests.apptest_support import PAGES

    at = AppTest.from_file(str(PAGES / "runs.py"), default_timeout=60)
    at.secrets[PASSPHRASE_KEY] = "correct horse battery"
    at.session_state["teacher_unlocked"] = True
    at.run()
    at.multiselect(key="runs_compare").set_value([MLP.run_id]).run()
    assert at.button(key="runs_delete").disabled
    at.checkbox(key="runs_delete_sure").check().run()
    at.button(key="runs_delete").click().run()
    assert not at.exception, at.exception
    assert RunStore(store_home).get(MLP.run_id) is None
    assert MLP.run_id not in [r["Run"] for r in _table(at)]
