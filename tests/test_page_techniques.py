"""The Techniques page under AppTest: run a series in quick mode, table and curves, ensembles, McNemar."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from lab.catalog.presets import get_preset, list_presets
from lab.data.sources import is_cached, load_source
from lab.runs.store import RunStore
from tests import apptest_support

ACCURACY = "Our test accuracy (95% interval)"


def open_page(home: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    return apptest_support.open_page("techniques", home, monkeypatch)


chart_titles = apptest_support.chart_titles


def results(at: AppTest):
    """The series results table (the first table on the page: every row shown, text wrapped)."""
    return at.table[0].value


def run_series(at: AppTest, series: str, cap: int) -> AppTest:
    at.selectbox(key="tech_data_source").set_value("sample")  # small and offline, even where MNIST is cached
    at.selectbox(key="tech_series").set_value(series)
    at.toggle(key="tech_quick").set_value(True)
    at.run()
    at.number_input(key="tech_cap").set_value(cap)
    at.run()
    at.button(key="tech_run_series").click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    return at


def test_page_opens_with_the_series_and_the_courses_figures(tmp_path, monkeypatch):
    at = open_page(tmp_path / "runs", monkeypatch)
    assert "Techniques, side by side" in at.title[0].value
    assert at.selectbox(key="tech_series").options == [
        "A · The Advanced-MLP ablation: one technique at a time",
        "B · CS4487: wider, deeper, convolutional, regularized",
        "C · Keras MLPs on full MNIST",
        "D · Over-fitting on 500 images, then the improved network",
    ]
    table = results(at)
    assert list(table["Preset"]) == [p.label for p in list_presets("A", "sample")]
    assert set(table[ACCURACY]) == {"not run yet"}
    course = next(c for c in table.columns if c.startswith("Course (full MNIST"))
    assert table.loc[table["Preset"].str.startswith("A3"), course].item() == "91.88%–92.08%"
    assert not is_cached("mnist")  # tests/conftest.py empties the Keras cache; the cached case is tested below
    assert course == "Course (full MNIST; ours: sample)"  # said next to the course's figures
    assert at.selectbox(key="tech_data_source").value == "sample"
    assert "MNIST (70,000 digits) (download needed)" in at.selectbox(key="tech_data_source").options
    assert any("full MNIST" in c.value for c in at.caption)
    lessons = " ".join(m.value for m in at.markdown)
    assert "vanishing gradient" in lessons


def test_with_mnist_in_the_keras_cache_the_page_starts_on_full_mnist(tmp_path, monkeypatch):
    folder = tmp_path / "keras" / "datasets"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    np.savez(
        folder / "mnist.npz",
        x_train=rng.integers(0, 256, (50, 28, 28), dtype=np.uint8),
        y_train=np.arange(50, dtype=np.uint8) % 10,
        x_test=rng.integers(0, 256, (20, 28, 28), dtype=np.uint8),
        y_test=np.arange(20, dtype=np.uint8) % 10,
    )
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    load_source.cache_clear()
    try:
        at = open_page(tmp_path / "runs", monkeypatch)
        assert is_cached("mnist")
        assert at.selectbox(key="tech_data_source").value == "mnist"
        assert "MNIST (70,000 digits)" in at.selectbox(key="tech_data_source").options  # no download needed
        table = results(at)
        assert "Course (full MNIST)" in table.columns  # our figures are on the course's data too
        assert list(table["Preset"]) == [p.label for p in list_presets("A", "mnist")]
    finally:
        load_source.cache_clear()


@pytest.mark.slow
def test_running_a_series_in_quick_mode_fills_the_table_and_the_chart(tmp_path, monkeypatch):
    home = tmp_path / "runs"
    at = run_series(open_page(home, monkeypatch), "D", cap=1)
    table = results(at)
    assert len(table) == 6
    assert "not run yet" not in set(table[ACCURACY])
    assert all("%" in text and "(" in text for text in table[ACCURACY])  # accuracy and its interval
    d0 = table[table["Preset"].str.startswith("D0")].iloc[0]
    assert d0["Epochs"] == "1 of 1000 (quick: fewer than the course)"
    assert d0["Course (full MNIST; ours: sample)"] == "62.00%" and d0["Parameters"] == "23,860"
    together = table[table["Preset"].str.startswith("D5")].iloc[0]
    assert "points vs the best single technique" in together["Together vs single"]
    assert any("Quick mode" in c.value for c in at.caption)
    assert "Validation accuracy, every run of the series" in chart_titles(at)
    assert len(RunStore(home).list()) == 6

    # Another visit: the stored runs appear at once, without training.
    again = open_page(home, monkeypatch)
    again.selectbox(key="tech_data_source").set_value("sample")
    again.selectbox(key="tech_series").set_value("D").run()
    again.number_input(key="tech_cap").set_value(1).run()
    assert list(results(again)[ACCURACY]) == list(table[ACCURACY])
    assert "Validation accuracy, every run of the series" in chart_titles(again)


@pytest.mark.slow
def test_seed_ensemble_and_mcnemar_on_stored_runs(tmp_path, monkeypatch):
    at = open_page(tmp_path / "runs", monkeypatch)
    at.selectbox(key="tech_data_source").set_value("sample")
    at.selectbox(key="tech_series").set_value("D").run()
    at.number_input(key="tech_cap").set_value(1).run()
    at.selectbox(key="tech_ens_preset").set_value(get_preset("D3", "sample")).run()
    at.number_input(key="tech_ens_members").set_value(2).run()
    at.button(key="tech_ens_run").click().run()
    assert not at.exception, at.exception
    ensemble = next(t.value for t in at.table if "Model" in t.value.columns)
    models = list(ensemble["Model"])
    assert models[:2] == ["D3 seed 0", "D3 seed 1"]
    assert models[2:] == ["Average member", "Soft voting (mean probabilities)", "Hard voting (majority)"]
    assert any("over the average member" in c.value for c in at.caption)

    # The two members are stored: McNemar compares them in plain words.
    at.run()
    verdicts = [m.value for m in at.success] + [m.value for m in at.info]
    assert any("McNemar p =" in v for v in verdicts), verdicts


def counting_engine(monkeypatch, workers: int) -> tuple[list, list[int]]:
    """The in-process engine, saying it has ``workers`` workers, counting the trainings asked of it at once.

    It trains one whole training and save at a time, as a Ray worker process does;
    returns the specs in the order they arrived and (in a list) the most asked at once.
    """
    from lab.runs.in_process import InProcessExecutor

    train = InProcessExecutor.train_and_save
    lock, worker = threading.Lock(), threading.Lock()
    in_flight, most, arrived = [0], [0], []

    def counting(self, checked, store, *args, **kwargs):
        with lock:
            arrived.append(checked.spec)
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
        try:
            with worker:
                return train(self, checked, store, *args, **kwargs)
        finally:
            with lock:
                in_flight[0] -= 1

    monkeypatch.setattr(InProcessExecutor, "workers", property(lambda self: workers))
    monkeypatch.setattr(InProcessExecutor, "train_and_save", counting)
    return arrived, most


@pytest.mark.slow
def test_in_process_a_series_trains_one_run_at_a_time_in_its_order(tmp_path, monkeypatch):
    arrived, most = counting_engine(monkeypatch, workers=1)
    specs = [p.capped(1).spec for p in list_presets("D", "sample")]
    home = tmp_path / "runs"
    at = run_series(open_page(home, monkeypatch), "D", cap=1)
    assert len(RunStore(home).list()) == 6, [e.value for e in at.error]  # the whole series, none failed
    assert most[0] == 1  # one training in this process at a time, none asked for beside it
    assert [spec.run_id for spec in arrived] == [spec.run_id for spec in specs]  # in the series' order


@pytest.mark.slow
def test_on_two_workers_a_series_keeps_both_busy_and_one_run_in_line(tmp_path, monkeypatch):
    arrived, most = counting_engine(monkeypatch, workers=2)
    specs = [p.capped(1).spec for p in list_presets("D", "sample")]
    ranked = [spec.run_id for spec in reversed(specs)]
    monkeypatch.setattr("lab.runs.scheduler.training_cost", lambda spec: ranked[::-1].index(spec.run_id))
    home = tmp_path / "runs"
    at = run_series(open_page(home, monkeypatch), "D", cap=1)
    assert len(RunStore(home).list()) == 6, [e.value for e in at.error]  # the whole series, none failed
    assert most[0] == 3  # one run per worker and one in line, never more
    # Runs that ended beside the one followed were trained just now too, not "read from the run store".
    assert any(m.value.startswith("Series D done: 6 runs trained just now and stored") for m in at.success), [
        m.value for m in at.success
    ]
    # The costliest first, so that none is left training alone at the end. Capped at one epoch the
    # series' runs cost the same, so the test ranks them itself: D5 costliest, then D4 ...
    assert arrived[0].run_id == ranked[0]  # the run the page follows is asked for first
    assert {spec.run_id for spec in arrived[:3]} == set(ranked[:3])
    assert [spec.run_id for spec in arrived[3:]] == ranked[3:]
