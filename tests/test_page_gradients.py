"""The Gradients page under AppTest: stored runs side by side, shared scales, NaN cells, training the pair."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df
from streamlit.testing.v1 import AppTest

from lab.catalog.comparisons import COMPARISON_EPOCHS, comparison_spec
from lab.runs.store import RunStore
from lab.spec import ExperimentSpec
from tests import apptest_support

# Diverges in its first epoch on the sample: NaN weights, so NaN norms.
NAN_SPEC = ExperimentSpec(data="sample", train_subset=800, hidden=(50, 50), activation="linear", optimizer="sgd",
                          learning_rate=0.3, epochs=3)  # fmt: skip


@pytest.fixture(scope="module")
def filled_home(tmp_path_factory) -> Path:
    """A store holding the A1 / A3 comparison pair, a run whose norms became NaN and one that exploded."""
    from lab.architecture import check_network
    from lab.nn.trainer import train

    home = tmp_path_factory.mktemp("gradients") / "runs"
    store = RunStore(home)
    for spec in (comparison_spec("A1"), comparison_spec("A3"), NAN_SPEC, comparison_spec("A3-exploding")):
        store.save(train(check_network(spec)))
    return home


def open_page(home: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    return apptest_support.open_page("gradients", home, monkeypatch)


def charts(at: AppTest) -> list[dict]:
    """Each chart's Vega-Lite spec, with its data sets (which Streamlit sends apart, as Arrow) put back."""
    specs = []
    for chart in at.get("vega_lite_chart"):
        spec = json.loads(chart.proto.spec)
        spec["datasets"] = {
            named.name: convert_arrow_bytes_to_pandas_df(named.data.data).to_dict("records")
            for named in chart.proto.datasets
        }
        specs.append(spec)
    return specs


def chart_title(spec: dict) -> str:
    title = spec.get("title", "")
    return title if isinstance(title, str) else title.get("text", "")


def heatmaps(at: AppTest) -> list[dict]:
    return [c for c in charts(at) if chart_title(c).endswith(": gradient norm")]  # the lines are layered too


def color_domain(spec: dict) -> list[float]:
    return spec["layer"][0]["encoding"]["color"]["scale"]["domain"]


def chart_rows(spec: dict) -> list[dict]:
    return spec["datasets"][spec["data"]["name"]]


def pick(at: AppTest, a: str, b: str) -> AppTest:
    at.selectbox(key="grad_run_a").set_value(a)
    at.selectbox(key="grad_run_b").set_value(b)
    at.run()
    assert not at.exception, at.exception
    return at


def test_empty_store_offers_the_comparison_pair(tmp_path, monkeypatch):
    at = open_page(tmp_path / "runs", monkeypatch)
    assert "Gradient health" in at.title[0].value
    assert at.radio(key="grad_pair").options == [
        "A1 naive sigmoid vs A3 ReLU",
        "A1 naive sigmoid vs A5 batch norm",
        "A3 ReLU vs A3 with a far too large step",
        "A far too large step, without and with gradient clipping",
    ]
    assert at.button(key="grad_train_pair")
    assert any("train the comparison pair" in i.value for i in at.info)
    assert not charts(at)


@pytest.mark.slow
def test_a1_and_a3_side_by_side_on_one_color_scale(filled_home, monkeypatch):
    at = open_page(filled_home, monkeypatch)
    a1, a3 = comparison_spec("A1").run_id, comparison_spec("A3").run_id
    at = pick(at, a1, a3)
    maps = heatmaps(at)
    assert len(maps) == 2
    assert color_domain(maps[0]) == color_domain(maps[1])  # shared, so the colors compare
    assert maps[0]["layer"][0]["encoding"]["color"]["scale"]["type"] == "log"
    cells = chart_rows(maps[0])
    assert {c["epoch"] for c in cells} == set(range(COMPARISON_EPOCHS + 1))
    assert not any(c["missing"] for c in cells)
    text = " ".join(m.value for m in at.markdown)
    assert "times smaller" in text and "vanishing gradient" in text  # A1's reading
    assert "within one order of magnitude" in text  # A3's reading
    assert "saturation is not the cause here" in text
    # Each run's words agree with its numbers: A1 vanishes at chance, A3 learns; neither reading contradicts itself.
    readings = [m.value for m in at.markdown if m.value.startswith("Before training,")]
    assert len(readings) == 2
    assert readings[0].endswith("training accuracy).") and "**Vanishing gradient**" in readings[0]
    assert "**Healthy**" in readings[1] and "vanishing" not in readings[1].lower()
    assert all("exploding" not in r.lower() for r in readings)
    names = [m.value for m in at.markdown if m.value.startswith("**Run ")]
    assert "test accuracy" in names[0] and "MLP 4 × 50 units, sigmoid" in names[0]
    assert sum("Recording the health took" in c.value for c in at.caption) == 2
    # Two per-layer line charts and two histogram panels, one per run.
    titles = [chart_title(c) for c in charts(at)]
    assert titles.count("Run A") == 1 and titles.count("Run B") == 1  # the lines; the heatmaps say "gradient norm"
    assert titles.count("Run A: gradient norm") == 1 and titles.count("Run B: gradient norm") == 1
    # The activations: one chart per hidden layer (A1 and A3 have four each), each with its own width.
    assert sum(t.startswith("Run A, epoch 0: hidden") for t in titles) == 4
    assert sum(t.startswith("Run B, epoch 0: hidden") for t in titles) == 4
    assert len(at.table) == 2
    assert list(at.table[0].value["Layer"]) == ["hidden_1", "hidden_2", "hidden_3", "hidden_4", "output"]


@pytest.mark.slow
def test_changing_metric_and_epoch_redraws_without_errors(filled_home, monkeypatch):
    at = open_page(filled_home, monkeypatch)
    at = pick(at, comparison_spec("A1").run_id, comparison_spec("A3").run_id)
    for metric in ("update_ratio", "act_std", "saturated", "dead", "weight_norm"):
        at.selectbox(key="grad_metric").set_value(metric)
        at.run()
        assert not at.exception, at.exception
    at.slider(key="grad_epoch").set_value(COMPARISON_EPOCHS)
    at.run()
    assert not at.exception, at.exception
    titles = [chart_title(c) for c in charts(at)]
    assert sum(f"epoch {COMPARISON_EPOCHS}: hidden" in t for t in titles) == 8  # four hidden layers, two runs
    # One run alone works too.
    at.selectbox(key="grad_run_b").set_value("")
    at.run()
    assert not at.exception and len(heatmaps(at)) == 1


@pytest.mark.slow
def test_a_diverged_run_shows_marked_nan_cells(filled_home, monkeypatch):
    at = open_page(filled_home, monkeypatch)
    at = pick(at, NAN_SPEC.run_id, comparison_spec("A3").run_id)
    nan_map = heatmaps(at)[0]
    cells = chart_rows(nan_map)
    assert [c["text"] for c in cells if c["missing"]] and all(c["epoch"] == 1 for c in cells if c["missing"])
    marks = [layer["mark"] for layer in nan_map["layer"]]
    assert any(m.get("text") == "✕ NaN" for m in marks if isinstance(m, dict))
    assert any("diverged" in e.value for e in at.error)
    assert any("exploded" in m.value for m in at.markdown)


@pytest.mark.slow
def test_an_exploding_run_is_read_as_exploding(filled_home, monkeypatch):
    at = open_page(filled_home, monkeypatch)
    at = pick(at, comparison_spec("A3-exploding").run_id, "")
    assert any("an exploding gradient" in m.value for m in at.markdown)


@pytest.mark.slow
def test_train_pair_button_trains_and_shows_the_pair(tmp_path, monkeypatch):
    at = open_page(tmp_path / "runs", monkeypatch)
    at.radio(key="grad_pair").set_value("A1 naive sigmoid vs A3 ReLU")
    at.run()
    at.button(key="grad_train_pair").click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert at.selectbox(key="grad_run_a").value == comparison_spec("A1").run_id
    assert at.selectbox(key="grad_run_b").value == comparison_spec("A3").run_id
    assert len(heatmaps(at)) == 2
    assert RunStore(tmp_path / "runs").get(comparison_spec("A1")).health is not None
