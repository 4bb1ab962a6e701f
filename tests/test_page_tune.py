"""The Tune page under AppTest: its controls, clear messages for bad input, and a real search on a local Ray."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from lab.codec import spec_from_query
from lab.runs.store import RunStore

PAGE = str(Path(__file__).resolve().parents[1] / "pages" / "tune.py")


@pytest.fixture
def page(store_home, monkeypatch) -> Iterator[AppTest]:
    # This in-process server lets the page start a Ray of its own (a class server must allow it).
    monkeypatch.setenv("MLP_LAB_TUNE_LOCAL_RAY", "1")
    st.cache_resource.clear()  # the run store is cached per process: point it at store_home
    at = AppTest.from_file(PAGE, default_timeout=240).run()
    assert not at.exception, [e.value for e in at.exception]
    yield at
    st.cache_resource.clear()


def errors(at: AppTest) -> str:
    return " ".join(e.value for e in at.error)


def test_page_starts_from_b5_with_three_knobs_ticked_and_trains_nothing(page, store_home):
    assert page.selectbox(key="tune_base").value == "B5"
    assert [page.checkbox(key=f"tune_{k}").value for k in ("units", "lr", "dropout", "activation")] == [
        True, True, True, False,
    ]  # fmt: skip
    assert page.button(key="tune_start").label == "Start the search"
    assert not page.get("vega_lite_chart") and not RunStore(store_home).list()
    # CNN knobs only for a CNN start.
    assert "tune_filters" not in [c.key for c in page.checkbox]
    page.selectbox(key="tune_base").set_value("B7").run()
    assert "tune_filters" in [c.key for c in page.checkbox] and "tune_aug" in [c.key for c in page.checkbox]


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"tune_lr_low": 0.5}, "low end 0.5 is above the high end 0.1"),
        ({"tune_l2": True, "tune_l2_low": 0.0}, "log range cannot reach zero"),
        ({"tune_units": False, "tune_lr": False, "tune_dropout": False}, "Tick at least one setting"),
        ({"tune_units_high": 20000}, "over the limit"),
    ],
)
def test_bad_input_gets_a_message_and_starts_nothing(page, store_home, change, words):
    for key, value in change.items():
        if key in [c.key for c in page.checkbox]:
            page.checkbox(key=key).set_value(value).run()
        else:
            page.number_input(key=key).set_value(value).run()
    page.button(key="tune_start").click().run()
    assert not page.exception
    assert words in errors(page)
    assert "tune_job" not in page.session_state
    assert not RunStore(store_home).list()


@pytest.fixture
def local_ray() -> Iterator[None]:
    """A real local Ray with 2 CPUs for this test (the page joins it), shut down after."""
    import ray

    from lab.search.runner import ensure_ray

    started = ensure_ray("local", num_cpus=2)
    yield
    if started:
        ray.shutdown()


@pytest.mark.slow
def test_a_small_search_fills_the_table_stores_every_trial_and_links_the_best_to_train(
    page, store_home, local_ray, monkeypatch
):
    from ui.tune import search as tune

    at = page
    at.selectbox(key="tune_base").set_value("The current Train setup").run()
    at.number_input(key="tune_units_low").set_value(16).run()
    at.number_input(key="tune_units_high").set_value(32).run()
    at.number_input(key="tune_trials").set_value(4).run()
    at.number_input(key="tune_epochs").set_value(2).run()
    at.number_input(key="tune_concurrency").set_value(2).run()
    # The page follows the search in the script run (ui.app.jobs.follow, as a training): the run that presses
    # Start ends once the search has, so the live table is counted each time the page draws it.
    drawn: list[int] = []
    table_of = tune.live_table
    monkeypatch.setattr(tune, "live_table", lambda rows, space: (drawn.append(len(rows)), table_of(rows, space))[1])
    at.button(key="tune_start").click().run(timeout=600)
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, errors(at)
    job = at.session_state["tune_job"]
    assert job.finished
    assert max(drawn, default=0) >= 1, "the live table never showed a trial while the search ran"
    assert not job.error, job.error
    result = job.result
    store = RunStore(store_home)
    table = at.dataframe[0].value
    assert list(table["Trial"]) == [1, 2, 3, 4]
    assert set(table["Run id"]) == {t.run_id for t in result.trials}
    for trial in result.trials:
        stored = store.get(trial.run_id)
        assert stored is not None and stored.spec.data == "sample" and stored.epochs_run == trial.epoch
        assert stored.stopped == (trial.state == "stopped")
    # Every trial's row links to the Train page on its setup: the best one's opens the best run.
    best_row = table[table["Trial"] == result.best.number].iloc[0]
    path, _, query_string = best_row["Open in Train"].partition("?")
    assert path == "train"
    query = {key: values[-1] for key, values in parse_qs(query_string).items()}
    assert spec_from_query(query).run_id == result.best.run_id
    # ... and so does the link under the best trial (a page link in the app; a plain one on this page alone).
    assert any(f"Open the best trial (trial {result.best.number}) in Train" in m.value for m in at.markdown)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Its test accuracy"] == f"{store.get(result.best.run_id).test_accuracy:.2%}"
    titles = " ".join(str(c.proto.spec) for c in at.get("vega_lite_chart"))
    assert "Settings against validation accuracy" in titles and "stopped ones in grey" in titles
