"""Course presets: parameter counts from the course's summaries, the registry, and the CLI."""

import json

import pytest

from lab.architecture import check_network, count_params, count_trainable
from lab.catalog.presets import SERIES, course_presets, format_figure, get_preset, list_presets, resolve_presets

# model.summary() totals printed in the course material (002, 003, 004).
COURSE_PARAMS = {
    "B1": 7_850, "B2": 39_760, "B3": 159_010, "B4": 795_010, "B5": 648_010,
    "B6": 98_820, "B7": 286_940, "B8": 286_940, "B9": 286_940, "B10": 286_940, "B11": 286_940,
    "C1": 7_850, "C2": 524_922, "C3": 690_255, "C4": 1_284_547,
    "D0": 23_860, "D1": 23_860, "D2": 23_860, "D3": 23_860,
}  # fmt: skip
COURSE_TRAINABLE = {"C3": 688_195, "C4": 1_280_361}


def test_every_series_and_row_of_the_course_is_a_preset():
    names = [p.name for p in course_presets()]
    assert len(names) == len(set(names))
    for expected in ["A1", "A2", "A3", "A4", "A5", "A6", "A7", *[f"B{i}" for i in range(1, 12)],
                     "C1", "C2", "C3", "C4", "D0", "D1", "D2", "D3", "D4"]:  # fmt: skip
        assert expected in names
    assert {p.series for p in course_presets()} == set(SERIES) == {"A", "B", "C", "D"}


@pytest.mark.parametrize("preset", course_presets(), ids=lambda p: p.name)
def test_each_preset_is_complete_and_valid(preset):
    check_network(preset.spec)
    assert preset.name.startswith(preset.series)
    assert preset.title and preset.lesson
    assert preset.change and "\n" not in preset.change
    assert preset.spec.data == "mnist"  # written as the course ran it
    figure = preset.course_accuracy
    if preset.together:
        assert all(get_preset(n).series == preset.series for n in preset.together)
        assert preset.name not in preset.together
    if figure is None:
        assert preset.together  # only our own "everything together" presets lack a course figure
    else:
        values = figure if isinstance(figure, tuple) else (figure,)
        assert all(0 < v < 1 for v in values)


@pytest.mark.parametrize(("name", "params"), COURSE_PARAMS.items())
def test_parameter_counts_match_the_course(name, params):
    preset = get_preset(name, data="sample")
    assert preset.course_params == params
    assert count_params(preset.spec) == params
    if name in COURSE_TRAINABLE:
        assert count_trainable(preset.spec) == COURSE_TRAINABLE[name] == preset.course_trainable


@pytest.mark.parametrize("name", ["B1", "B6", "B7", "B10", "C3", "C4", "D1"])
def test_keras_builds_the_course_model(name):
    import numpy as np

    from lab.nn.model import build_model

    model = build_model(get_preset(name, data="sample").spec)
    assert model.count_params() == COURSE_PARAMS[name]
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trainable == COURSE_TRAINABLE.get(name, COURSE_PARAMS[name])


def test_series_settings_follow_the_course():
    a1, a3, a4 = get_preset("A1"), get_preset("A3"), get_preset("A4")
    assert (a1.spec.activation, a1.spec.optimizer, a1.spec.learning_rate, a1.spec.batch_size) == (
        "sigmoid",
        "sgd",
        0.001,
        256,
    )
    assert a3.spec.activation == "relu" and a3.spec.batch_size == 32
    assert (a4.spec.activation, a4.spec.optimizer) == ("elu", "adam")
    assert a1.spec.train_subset == 19_800 and a1.spec.val_split == 0.3 and a1.spec.val_mode == "last"
    assert get_preset("A7").ensemble == 3 and get_preset("A7").course_accuracy == 0.3045
    b2 = get_preset("B2").spec
    assert (b2.subset_mode, b2.center, b2.momentum, b2.nesterov, b2.batch_size) == ("every", True, 0.9, True, 50)
    assert (b2.early_stopping, b2.es_monitor, b2.seed, b2.data_seed) == (5, "val_accuracy", 4487, 4487)
    assert get_preset("B1").spec.learning_rate == 0.05 and get_preset("B7").spec.learning_rate == 0.02
    assert not get_preset("B7").spec.center
    assert get_preset("B11").spec.early_stopping == 0 and get_preset("B11").spec.augmentation.noise == 0.05
    c = get_preset("C2").spec
    assert (c.batch_size, c.epochs, c.val_mode, c.train_subset) == (128, 20, "test", 1.0)
    d = get_preset("D0").spec
    assert (d.train_subset, d.subset_mode, d.test_subset, d.hidden, d.batch_size, d.output) == (
        500,
        "first",
        100,
        (30,),
        5,
        "sigmoid_mse",
    )
    assert get_preset("D1").course_train_accuracy == 0.986
    assert get_preset("D3").spec.activation == "tanh" and get_preset("D3").spec.optimizer == "adam"


def test_get_preset_uses_this_machines_data(monkeypatch):
    import lab.data.sources

    monkeypatch.setattr(lab.data.sources, "default_source", lambda: "sample")
    assert get_preset("a3").spec.data == "sample"  # case-insensitive
    assert get_preset("A3", data="fashion").spec.data == "fashion"
    assert {p.spec.data for p in list_presets("D")} == {"sample"}
    with pytest.raises(ValueError, match="Unknown preset 'Z9'.*A1"):
        get_preset("Z9")
    with pytest.raises(ValueError, match="Unknown series"):
        list_presets("E")


def test_capped_shortens_only_longer_runs():
    d0 = get_preset("D0")
    assert d0.capped(20).spec.epochs == 20
    assert d0.capped(20).spec.replace(epochs=1000) == d0.spec
    assert d0.capped(0) is d0 and d0.capped(None) is d0
    assert get_preset("C1").capped(50).spec.epochs == 20


def test_resolve_presets_from_names_and_series():
    assert [p.name for p in resolve_presets("A1, a3", None)] == ["A1", "A3"]
    assert [p.name for p in resolve_presets(None, "C")] == ["C1", "C2", "C3", "C4"]
    assert [p.name for p in resolve_presets("C2", "C")] == ["C1", "C2", "C3", "C4"]  # no duplicates
    assert len(resolve_presets()) == len(course_presets())


def test_ensemble_preset_members_differ_only_by_seed():
    a7 = get_preset("A7")
    members = a7.member_specs()
    assert [m.seed for m in members] == [a7.spec.seed, a7.spec.seed + 1, a7.spec.seed + 2]
    assert get_preset("A3").member_specs() == [get_preset("A3").spec]


def test_course_figures_format():
    assert format_figure(0.9208) == "92.08%"
    assert format_figure((0.9188, 0.9208)) == "91.88%–92.08%"
    assert format_figure(None) == "–"


def test_cli_trains_a_preset_with_overrides(tmp_path, capsys):
    from lab.cli.main import main

    code = main(["train", "--preset", "A3", "--data", "sample", "--epochs", "1", "--json", "--home", str(tmp_path)])
    assert code == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["spec"]["activation"] == "relu" and payload["spec"]["hidden"] == [50, 50, 50, 50]
    assert payload["spec"]["epochs"] == 1 and payload["spec"]["learning_rate"] == 0.001
    assert payload["epochs_run"] == 1


@pytest.mark.slow
def test_cli_pretrain_trains_then_skips(tmp_path, capsys):
    from lab.cli.main import main

    args = ["pretrain", "--presets", "A1,D3", "--data", "sample", "--epochs", "1", "--home", str(tmp_path)]
    assert main(args) == 0
    first = capsys.readouterr()
    assert "2 trained, 0 already stored" in first.err
    assert "A1" in first.out and "D3" in first.out and "course 92.95%" in first.out
    assert main(args) == 0
    assert "0 trained, 2 already stored" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_pretrain_quick_trains_the_techniques_pages_quick_plan(tmp_path, capsys):
    from lab.catalog.presets import get_preset
    from lab.cli.main import main
    from lab.runs.store import RunStore

    b1 = get_preset("B1", "sample")
    assert b1.quick().spec != b1.spec  # quick mode trains a shorter plan
    assert main(["pretrain", "--presets", "B1", "--data", "sample", "--quick", "--home", str(tmp_path)]) == 0
    assert "1 trained" in capsys.readouterr().err
    assert [info.run_id for info in RunStore(tmp_path).list()] == [b1.quick().spec.run_id]


def test_pretrain_reports_each_run_then_skips_it_once_stored(tmp_path):
    from lab.runs.pretrain import pretrain
    from lab.runs.store import RunStore

    events = []
    presets = [get_preset("D3", data="sample").capped(1)]
    first = pretrain(presets, RunStore(tmp_path), on_event=lambda kind, preset, spec, payload: events.append(kind))
    assert events == ["start", "epoch", "done"] and not first["D3"][0].from_store
    events.clear()
    again = pretrain(presets, RunStore(tmp_path), on_event=lambda kind, preset, spec, payload: events.append(kind))
    assert events == ["skip"] and again["D3"][0].from_store and again["D3"][0].run_id == first["D3"][0].run_id


def test_parallel_pretraining_hands_the_longest_runs_to_the_workers_first():
    from lab.catalog.presets import list_presets
    from lab.runs.scheduler import costliest_first

    presets = list_presets("B", "sample")
    order = [presets[i].name for i in costliest_first([p.quick().spec for p in presets])]
    # The five deep CNNs (4 epochs of 4.7 million multiply-adds a digit) in course order, then the MLPs by size.
    assert order == ["B7", "B8", "B9", "B10", "B11", "B4", "B5", "B3", "B6", "B2", "B1"]


def test_cli_pretrain_explains_bad_requests(tmp_path, capsys):
    from lab.cli.main import main

    assert main(["pretrain", "--home", str(tmp_path)]) == 2
    assert "--series A" in capsys.readouterr().err
    assert main(["pretrain", "--presets", "Q1", "--home", str(tmp_path)]) == 2
    assert "Unknown preset 'Q1'" in capsys.readouterr().err
    assert main(["pretrain", "--list"]) == 0
    listing = capsys.readouterr().out
    assert "A1" in listing and "D4" in listing


@pytest.mark.slow
def test_reproduction_document_adds_rows_and_keeps_the_others(tmp_path):
    from lab.cli.main import main
    from lab.reports.reproduce import read_rows

    doc = tmp_path / "REPRODUCTION.md"
    common = ["--data", "sample", "--epochs", "1", "--output", str(doc), "--home", str(tmp_path / "runs")]
    assert main(["reproduce", "--presets", "A1", *common]) == 0
    assert main(["reproduce", "--presets", "D3", *common]) == 0
    text = doc.read_text()
    assert "## Series A" in text and "## Series D" in text and "## Series C" not in text
    assert "offline MNIST sample" in text
    a1 = next(line for line in text.splitlines() if line.startswith("| A1 "))
    # n=500: the sample's shown test digits (500 more are held out for the class challenge).
    assert "1 of 100 (capped at 1)" in a1 and "11.35%–21.44%" in a1 and "n=500" in a1
    assert "D3 at 1 (course 100)" in text  # the caps are stated
    rows = read_rows(doc)
    assert set(rows) == {"A1", "D3"}
    assert rows["D3"]["params"] == 23_860 and 0 <= rows["D3"]["accuracy"] <= 1
    assert main(["reproduce", "--presets", "Nope", *common]) == 2
    assert "`python -m lab reproduce --presets B6,B7`" in text


@pytest.mark.slow
def test_reproduction_tests_an_ensemble_preset_against_the_best_single_run(tmp_path):
    """A8 votes over three seeds; the document still gives its margin and McNemar's p on the soft vote."""
    from lab.cli.main import main
    from lab.reports.reproduce import read_rows

    doc = tmp_path / "REPRODUCTION.md"
    common = ["--data", "sample", "--epochs", "1", "--output", str(doc), "--home", str(tmp_path / "runs")]
    assert main(["reproduce", "--presets", "A4,A8", *common]) == 0
    rows = read_rows(doc)
    assert len(rows["A8"]["run_ids"]) == 3 and len(rows["A8"]["members"]) == 3
    line = next(line for line in doc.read_text().splitlines() if line.startswith("- **A8**"))
    margin = (rows["A8"]["accuracy"] - rows["A4"]["accuracy"]) * 100
    assert f"{margin:+.1f} points over the best single-technique run A4" in line
    assert "McNemar p = " in line
